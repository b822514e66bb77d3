/*
 * dict_file - what the tables kept in files of their own (hash:, btree:,
 * lmdb:) share: locking the file a name refers to now, and publishing a
 * builder's temporary file over the published one.
 *
 * Errors: dict_file_lock returns -1 with errno (ENOENT: no such file,
 * EAGAIN: the name kept being replaced); dict_file_publish returns -1
 * with errno and a msg_warn naming spec, and leaves the temporary file
 * for the caller to remove.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DICT_FILE_H
#define UTIL_DICT_FILE_H

/*
 * Open and flock (LOCK_SH or LOCK_EX) the file at path such that the lock
 * is held on the file the name refers to when the call returns.  The
 * locked descriptor (the caller's), or -1.
 */
int dict_file_lock(const char *path, int how);

/*
 * Give tmp the mode and owner of the file open on old_fd (when old_fd >=
 * 0), fsync it, rename it over path and fsync the folder.  0 or -1.
 */
int dict_file_publish(const char *spec, const char *tmp, const char *path,
		      int old_fd);

#endif
