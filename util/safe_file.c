/*
 * safe_file - opening, creating and committing files without surprises.
 * See safe_file.h.
 *
 * Every check is made on the opened descriptor (fstat), never on the path
 * alone, so swapping the file between check and use gains nothing.  Opens
 * use O_NONBLOCK so that a fifo planted where a file was expected cannot
 * hang us; the flag is cleared again once the file is known to be regular.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_file.h"
#include "util/vstr.h"

static void
safe_close_keep_errno(int fd)
{
	int saved = errno;

	(void)close(fd);
	errno = saved;
}

/* Open with O_NONBLOCK, require a regular file, then clear O_NONBLOCK. */
static int
safe_open_regular(const char *path, int flags, int mode, struct stat *st)
{
	int fd;
	int fl;

	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0)
		goto fail;
	if (!S_ISREG(st->st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0
	    || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		goto fail;
	return fd;

fail:
	safe_close_keep_errno(fd);
	return -1;
}

int
safe_open_read(const char *path)
{
	struct stat st;

	return safe_open_regular(path, O_RDONLY, 0, &st);
}

int
safe_create_excl(const char *path, int mode)
{
	struct stat st;
	int	    fd;

	fd = safe_open_regular(path, O_WRONLY | O_CREAT | O_EXCL, mode, &st);
	if (fd < 0)
		return -1;
	/* The umask must not decide a queue file's mode. */
	if ((st.st_mode & 07777) != ((mode_t)mode & 07777)
	    && fchmod(fd, (mode_t)mode) < 0) {
		safe_close_keep_errno(fd);
		(void)unlink(path);
		return -1;
	}
	return fd;
}

int
safe_open_append(const char *path, int mode, uid_t owner)
{
	struct stat st;
	struct stat lst;
	int	    fd;
	int	    tries;

	/* Create-or-open without a window: O_EXCL, else a plain open. */
	for (tries = 0; tries < 10; tries++) {
		fd = safe_open_regular(path, O_WRONLY | O_APPEND, 0, &st);
		if (fd >= 0)
			break;
		if (errno != ENOENT)
			return -1;
		fd = safe_open_regular(path,
				       O_WRONLY | O_APPEND | O_CREAT | O_EXCL,
				       mode, &st);
		if (fd >= 0) {
			if (((st.st_mode & 07777) != ((mode_t)mode & 07777)
			     && fchmod(fd, (mode_t)mode) < 0)
			    || (owner != (uid_t)-1 && st.st_uid != owner
				&& fchown(fd, owner, (gid_t)-1) < 0)) {
				safe_close_keep_errno(fd);
				(void)unlink(path);
				return -1;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -1;
	}
	if (fd < 0)
		return -1;
	if (st.st_nlink != 1) {
		errno = EMLINK;
		goto fail;
	}
	if (owner != (uid_t)-1 && st.st_uid != owner) {
		errno = EPERM;
		goto fail;
	}
	/* The name must still be this file (not renamed or replaced). */
	if (lstat(path, &lst) < 0)
		goto fail;
	if (lst.st_dev != st.st_dev || lst.st_ino != st.st_ino) {
		errno = EAGAIN;
		goto fail;
	}
	return fd;

fail:
	safe_close_keep_errno(fd);
	return -1;
}

int
fsync_dir(const char *dir)
{
	int fd;
	int ret;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	ret = fsync(fd);
	if (ret < 0)
		safe_close_keep_errno(fd);
	else
		ret = close(fd);
	return ret;
}

/* The folder part of path: "." for a bare name, "/" for "/x". */
static char *
safe_parent(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return mystrdup(".");
	while (slash > path && slash[-1] == '/')
		slash--;
	if (slash == path)
		return mystrdup("/");
	return mystrndup(path, (size_t)(slash - path));
}

int
fsync_parent(const char *path)
{
	char *dir = safe_parent(path);
	int   ret = fsync_dir(dir);
	int   saved = errno;

	myfree(dir);
	errno = saved;
	return ret;
}

int
rename_durable(const char *from, const char *to)
{
	char *from_dir;
	char *to_dir;
	int   ret;
	int   saved;

	if (rename(from, to) < 0)
		return -1;
	from_dir = safe_parent(from);
	to_dir = safe_parent(to);
	ret = fsync_dir(to_dir);
	if (ret == 0 && strcmp(from_dir, to_dir) != 0)
		ret = fsync_dir(from_dir);
	saved = errno;
	myfree(from_dir);
	myfree(to_dir);
	errno = saved;
	return ret;
}

int
write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
	static unsigned counter;
	char	       *dir = safe_parent(path);
	const char     *base = strrchr(path, '/');
	VSTR	       *tmp = vstr_alloc(strlen(path) + 32);
	int		fd = -1;
	int		tries;
	int		saved;

	base = base ? base + 1 : path;
	for (tries = 0; tries < 100; tries++) {
		vstr_sprintf(tmp, "%s/.%s.tmp.%ld.%u", dir, base,
			     (long)getpid(), counter++);
		if ((fd = safe_create_excl(VSTR_STR(tmp), mode)) >= 0
		    || errno != EEXIST)
			break;
	}
	if (fd < 0)
		goto fail;
	if (write_full(fd, data, len, -1) < 0 || fsync(fd) < 0) {
		safe_close_keep_errno(fd);
		goto fail_unlink;
	}
	if (close(fd) < 0)
		goto fail_unlink;
	if (rename(VSTR_STR(tmp), path) < 0)
		goto fail_unlink;
	if (fsync_dir(dir) < 0)
		goto fail;
	myfree(dir);
	vstr_free(tmp);
	return 0;

fail_unlink:
	saved = errno;
	(void)unlink(VSTR_STR(tmp));
	errno = saved;
fail:
	saved = errno;
	myfree(dir);
	vstr_free(tmp);
	errno = saved;
	return -1;
}

int
mkdir_owned(const char *path, int mode, uid_t uid, gid_t gid)
{
	struct stat st;
	int	    fd;

	if (mkdir(path, (mode_t)mode) < 0 && errno != EEXIST)
		return -1;
	if (lstat(path, &st) < 0)
		return -1;
	if (S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	/* Fix through a descriptor: a swap after lstat cannot redirect us. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if ((st.st_mode & 07777) != ((mode_t)mode & 07777)
	    && fchmod(fd, (mode_t)mode) < 0)
		goto fail;
	if (geteuid() == 0
	    && ((uid != (uid_t)-1 && st.st_uid != uid)
		|| (gid != (gid_t)-1 && st.st_gid != gid))) {
		if (fchown(fd, uid, gid) < 0)
			goto fail;
		/* chown clears set-id bits on some systems: set them again. */
		if ((mode & 07000) && fchmod(fd, (mode_t)mode) < 0)
			goto fail;
	}
	return close(fd);

fail:
	safe_close_keep_errno(fd);
	return -1;
}

int
read_file(const char *path, VSTR *out, size_t max)
{
	struct stat st;
	int	    fd;
	ssize_t	    n;
	size_t	    chunk;

	vstr_reset(out);
	if ((fd = safe_open_read(path)) < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if ((unsigned long long)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	for (;;) {
		/* Ask for one byte past max so a growing file is caught. */
		chunk = max - VSTR_LEN(out) >= 65536 ? 65536
						     : max - VSTR_LEN(out) + 1;
		if (vstr_space(out, chunk) < 0)
			goto fail;
		n = read(fd, VSTR_END(out), chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		vstr_set_len(out, VSTR_LEN(out) + (size_t)n);
		if (VSTR_LEN(out) > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	return close(fd);

fail:
	vstr_reset(out);
	safe_close_keep_errno(fd);
	return -1;
}
