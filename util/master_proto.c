/*
 * master_proto - status channel and pid file shared by master, the service
 * skeletons and the postel command.  See master_proto.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/master_proto.h"

int
master_status_pair(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
		return -1;
	/* Master's end only: children block briefly rather than lose one. */
	if (fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK) < 0) {
		int saved = errno;

		close(fds[0]);
		close(fds[1]);
		errno = saved;
		return -1;
	}
	return 0;
}

int
master_status_send(int fd, int status)
{
	struct master_status rec = { .pid = (int32_t)getpid(),
				     .status = status };
	ssize_t		     n;

	do {
		n = send(fd, &rec, sizeof(rec), MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof(rec)) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

int
master_status_recv(int fd, struct master_status *rec)
{
	ssize_t n;

	do {
		n = recv(fd, rec, sizeof(*rec), MSG_DONTWAIT | MSG_TRUNC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	if ((size_t)n != sizeof(*rec)) {
		errno = EPROTO;
		return -1;
	}
	return 1;
}

bool
master_status_gone(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	/* Master never writes here: readable means end-of-file. */
	return poll(&pfd, 1, 0) > 0 && pfd.revents != 0;
}

void
master_pid_path(const char *queue_dir, const char *pid_dir, VSTR *path)
{
	if (*pid_dir == '/')
		vstr_sprintf(path, "%s/master.pid", pid_dir);
	else
		vstr_sprintf(path, "%s/%s/master.pid", queue_dir, pid_dir);
}

static pid_t
master_pid_holder(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_GETLK, &fl) < 0)
		return -1;
	return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

int
master_pid_lock(const char *path, pid_t *holder)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char	     buf[32];
	int	     fd;
	int	     len;

	*holder = 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int saved = errno;

		*holder = master_pid_holder(fd);
		close(fd);
		errno = (saved == EACCES) ? EAGAIN : saved;
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%10ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

pid_t
master_pid_check(const char *path)
{
	pid_t pid;
	int   fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	/* F_GETLK for a write lock works on a read-only descriptor. */
	pid = master_pid_holder(fd);
	close(fd);
	return pid;
}
