/*
 * maildir - Maildir delivery (see maildir.h).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/maildir.h"

static int
maildir_mkdir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int
maildir_deliver(const char *dir, const char *data, size_t len, long long limit,
		VSTR *why)
{
	VSTR *base = vstr_alloc(64), *tmp = vstr_alloc(64);
	VSTR *new = vstr_alloc(64), *name = vstr_alloc(64);
	struct timeval tv;
	char	       host[256];
	int	       fd = -1, dfd = -1, err = 0;
	const char    *p = data;
	size_t	       left = len;

	vstr_strcpy(base, dir);
	while (VSTR_LEN(base) > 1 && VSTR_STR(base)[VSTR_LEN(base) - 1] == '/')
		vstr_truncate(base, VSTR_LEN(base) - 1);
	vstr_sprintf(tmp, "%s/tmp", VSTR_STR(base));
	vstr_sprintf(new, "%s/new", VSTR_STR(base));
	vstr_sprintf(name, "%s/cur", VSTR_STR(base));
	if (maildir_mkdir(VSTR_STR(base)) < 0
	    || maildir_mkdir(VSTR_STR(tmp)) < 0
	    || maildir_mkdir(VSTR_STR(new)) < 0
	    || maildir_mkdir(VSTR_STR(name)) < 0) {
		err = errno;
		vstr_sprintf(why, "create maildir %s: %s", VSTR_STR(base),
			     strerror(err));
		goto out;
	}
	if (limit > 0 && (long long)len > limit) {
		err = EFBIG;
		vstr_sprintf(why,
			     "cannot deliver to maildir %s: message "
			     "exceeds mailbox size limit (%lld bytes)",
			     VSTR_STR(base), limit);
		goto out;
	}
	/*
	 * Open new/ before writing anything: a new/ that cannot be opened
	 * (or is not a folder) cannot be made durable, so nothing is
	 * delivered and the caller defers.
	 */
	if ((dfd = open(VSTR_STR(new),
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))
	    < 0) {
		err = errno;
		vstr_sprintf(why, "cannot open maildir folder %s: %s",
			     VSTR_STR(new), strerror(err));
		goto out;
	}
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = 0;
	for (char *h = host; *h; h++)
		if (*h == '/' || *h == ':')
			*h = '_';
	gettimeofday(&tv, NULL);
	vstr_sprintf(name, "%lld.M%ldP%ld.%s", (long long)tv.tv_sec,
		     (long)tv.tv_usec, (long)getpid(), host);
	vstr_sprintf_append(tmp, "/%s", VSTR_STR(name));
	fd = open(VSTR_STR(tmp),
		  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno;
		vstr_sprintf(why, "create maildir file %s: %s", VSTR_STR(tmp),
			     strerror(err));
		goto out;
	}
	while (left > 0) {
		ssize_t n = write(fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	if (err == 0 && fsync(fd) < 0)
		err = errno;
	if (close(fd) < 0 && err == 0)
		err = errno;
	fd = -1;
	if (err == 0
	    && renameat(AT_FDCWD, VSTR_STR(tmp), dfd, VSTR_STR(name)) < 0)
		err = errno;
	if (err) {
		vstr_sprintf(why, "cannot write maildir file %s: %s",
			     VSTR_STR(tmp), strerror(err));
		(void)unlink(VSTR_STR(tmp));
		goto out;
	}
	/* Success means durable: an fsync failure takes the file back. */
	if (fsync(dfd) < 0) {
		err = errno;
		vstr_sprintf(why, "cannot fsync maildir folder %s: %s",
			     VSTR_STR(new), strerror(err));
		(void)unlinkat(dfd, VSTR_STR(name), 0);
	}
out:
	if (dfd >= 0)
		close(dfd);
	vstr_free(base);
	vstr_free(tmp);
	vstr_free(new);
	vstr_free(name);
	errno = err;
	return err ? -1 : 0;
}
