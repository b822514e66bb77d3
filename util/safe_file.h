/*
 * safe_file - opening, creating and committing files without surprises.
 *
 * Everything under the queue and every mailbox or log is opened through
 * these functions (DESIGN.md sections 3 and 5): they never follow a
 * symbolic link in the last path component, refuse what is not a regular
 * file, set close-on-exec, and make commits durable (fsync of the file and
 * of the folder that names it).
 *
 * Errors: 0 / fd on success, -1 with errno otherwise.  Refusals use:
 * ELOOP (a symlink), EINVAL (not a regular file), ENOTDIR (not a
 * folder), EMLINK (hard-linked file), EPERM (wrong owner), EFBIG (file
 * above the bound).  Nothing here logs or exits except allocation failures.
 *
 * Ownership: returned descriptors are the caller's.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_SAFE_FILE_H
#define UTIL_SAFE_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

/* O_RDONLY|O_NOFOLLOW|O_CLOEXEC; refuses non-regular files.  fd or -1. */
int safe_open_read(const char *path);
/* O_CREAT|O_EXCL|O_WRONLY|O_NOFOLLOW|O_CLOEXEC with exactly `mode`. */
int safe_create_excl(const char *path, int mode);
/*
 * For logs and mailboxes: O_WRONLY|O_APPEND|O_NOFOLLOW|O_CLOEXEC, created
 * with exactly `mode` when missing (and then, as root, given to owner).
 * Refuses a non-regular file, a file with more than one link, and (owner
 * != (uid_t)-1) a file not owned by owner.  The checks are made on the
 * opened descriptor, and the name must still lead to it (EAGAIN if not).
 */
int safe_open_append(const char *path, int mode, uid_t owner);

/* Open dir with O_DIRECTORY and fsync it.  0 / -1. */
int fsync_dir(const char *dir);
/* fsync the folder that holds path ("." for a bare name). */
int fsync_parent(const char *path);
/* rename(), then fsync the parent folder of `to` and, if different, of
 * `from`.  0 / -1 (when an fsync fails the rename has still happened). */
int rename_durable(const char *from, const char *to);
/*
 * Write data to a new temporary file in path's folder, fsync it, rename
 * it over path and fsync the folder.  On failure the temporary is removed
 * and path is untouched.  0 / -1.
 */
int write_file_atomic(const char *path, const void *data, size_t len, int mode);
/*
 * Create folder path with mode if missing.  When it exists (or after
 * creating it) fix its mode, and when running as root its owner and group
 * (uid/gid (uid_t)-1 / (gid_t)-1 = leave as is).  Refuses a symlink or a
 * non-folder at path.  0 / -1.
 */
int mkdir_owned(const char *path, int mode, uid_t uid, gid_t gid);
/*
 * Replace out's content with the whole regular file at path (opened as
 * safe_open_read does).  -1 with EFBIG when the file is longer than max
 * (out is then empty).  0 / -1.
 */
int read_file(const char *path, VSTR *out, size_t max);

#endif
