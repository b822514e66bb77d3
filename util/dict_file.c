/*
 * dict_file - locking and publishing table files.  See dict_file.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/dict_file.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define DICT_FILE_LOCK_TRIES 10

int
dict_file_lock(const char *path, int how)
{
	struct stat fst;
	struct stat pst;
	int	    fd;
	int	    tries;

	for (tries = 0; tries < DICT_FILE_LOCK_TRIES; tries++) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return -1;
		if (flock(fd, how) < 0) {
			close(fd);
			return -1;
		}
		if (fstat(fd, &fst) == 0 && stat(path, &pst) == 0
		    && fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino)
			return fd;
		close(fd);
	}
	errno = EAGAIN;
	return -1;
}

static int
dict_file_fsync(const char *path, int flags)
{
	int fd;
	int ret;

	if ((fd = open(path, flags | O_CLOEXEC)) < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

int
dict_file_publish(const char *spec, const char *tmp, const char *path,
		  int old_fd)
{
	struct stat st;
	char	   *dir;

	if (old_fd >= 0 && fstat(old_fd, &st) == 0) {
		if (chmod(tmp, st.st_mode & 07777) < 0
		    || (geteuid() == 0 && chown(tmp, st.st_uid, st.st_gid) < 0))
			msg_warn("%s: keep mode and owner of %s: %m", spec,
				 path);
	}
	if (dict_file_fsync(tmp, O_RDONLY) < 0) {
		msg_warn("%s: fsync %s: %m", spec, tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		msg_warn("%s: rename %s to %s: %m", spec, tmp, path);
		return -1;
	}
	dir = mystrdup(path);
	if (dict_file_fsync(dirname(dir), O_RDONLY | O_DIRECTORY) < 0)
		msg_warn("%s: fsync folder of %s: %m", spec, path);
	myfree(dir);
	return 0;
}
