/*
 * pass_proto - the descriptor hand-off to a `pass` service.  See
 * pass_proto.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/ipc.h"
#include "util/pass_proto.h"

/* -1 with errno err and why "step: detail" (detail NULL: strerror). */
static int
pass_fail(VSTR *why, int err, const char *step, const char *detail)
{
	if (why)
		vstr_sprintf(why, "%s: %s", step,
			     detail ? detail : strerror(err));
	errno = err;
	return -1;
}

/*
 * Connect without waiting for room in the listen queue: a service that
 * is that far behind cannot take the client now, and the caller (an
 * event loop) must not stall on it.  A non-blocking descriptor or -1.
 */
static int
pass_connect(const char *path, long long deadline, VSTR *why)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t		   len = strlen(path);
	int		   fd;
	int		   err;
	socklen_t	   elen = sizeof(err);

	if (len == 0 || len >= sizeof(sun.sun_path))
		return pass_fail(why, len ? ENAMETOOLONG : EINVAL, "connect",
				 "bad socket path");
	memcpy(sun.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return pass_fail(why, errno, "socket", NULL);
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = errno;
		if (err == EINTR)
			continue;
		if (err == EINPROGRESS) {
			/* Not seen with Unix sockets on Linux; portable. */
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int	      n;

			do
				n = poll(&pfd, 1, ipc_left_ms(deadline));
			while (n < 0 && errno == EINTR);
			if (n == 0)
				err = ETIMEDOUT;
			else if (n < 0)
				err = errno;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
					    &elen)
				 < 0)
				err = errno;
			if (err == 0)
				return fd;
		}
		close(fd);
		if (why && err == EAGAIN) {
			vstr_sprintf(why, "connect %s: listen queue full",
				     path);
			errno = EAGAIN;
			return -1;
		}
		if (why)
			vstr_sprintf(why, "connect %s: %s", path,
				     strerror(err));
		errno = err;
		return -1;
	}
	return fd;
}

int
pass_send(const char *path, int client_fd, const ATTR *info, int timeout_ms,
	  VSTR *why)
{
	long long deadline = ipc_deadline(timeout_ms);
	ATTR	 *empty = NULL;
	int	  fd;
	int	  ret = -1;
	int	  err;

	if ((fd = pass_connect(path, deadline, why)) < 0)
		return -1;
	if (ipc_send_fds(fd, &client_fd, 1, ipc_left_ms(deadline)) < 0) {
		err = errno;
		if (why)
			vstr_sprintf(why, "send descriptor to %s: %s", path,
				     strerror(err));
		goto out;
	}
	if (info == NULL)
		info = empty = attr_alloc();
	if (ipc_send(fd, info, ipc_left_ms(deadline)) < 0) {
		err = errno;
		if (why)
			vstr_sprintf(why, "send info to %s: %s", path,
				     strerror(err));
		goto out;
	}
	err = 0;
	ret = 0;
out:
	attr_free(empty);
	close(fd);
	errno = err;
	return ret;
}

/* Is fd a connected stream socket (what a pass service can serve)? */
static bool
pass_fd_ok(int fd)
{
	int	  type;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0
	       && type == SOCK_STREAM;
}

int
pass_recv(int conn, int *client_fd, ATTR *info, int timeout_ms, VSTR *why)
{
	long long deadline = ipc_deadline(timeout_ms);
	int	  fd = -1;
	size_t	  n = 0;
	int	  err;

	*client_fd = -1;
	attr_reset(info);
	if (ipc_recv_fds(conn, &fd, 1, &n, ipc_left_ms(deadline)) < 0) {
		err = errno;
		return pass_fail(why, err, "no descriptor received",
				 err == ECONNRESET ? "connection closed"
				 : err == EPROTO   ? "data without a descriptor"
						   : NULL);
	}
	if (n != 1)
		return pass_fail(why, EPROTO, "no descriptor received",
				 "hand-off byte without a descriptor");
	if (!pass_fd_ok(fd)) {
		close(fd);
		return pass_fail(why, EPROTO, "descriptor received",
				 "not a stream socket");
	}
	/*
	 * An event-driven sender had it non-blocking; the service gets it
	 * as accept() would have given it.  (The flag is shared with the
	 * sender's copy, which the sender no longer uses.)
	 */
	if (fd_set_nonblock(fd, false) < 0) {
		err = errno;
		close(fd);
		return pass_fail(why, err, "descriptor received", NULL);
	}
	if (ipc_recv(conn, info, PASS_INFO_MAX, ipc_left_ms(deadline), why)
	    < 0) {
		VSTR *tmp;

		err = errno;
		close(fd);
		attr_reset(info);
		if (why) {
			tmp = vstr_alloc(VSTR_LEN(why) + 16);
			vstr_sprintf(tmp, "info frame: %s", VSTR_STR(why));
			vstr_strcpy(why, VSTR_STR(tmp));
			vstr_free(tmp);
		}
		/* A clean close before the frame is still a broken hand-off. */
		errno = err ? err : EPROTO;
		return -1;
	}
	*client_fd = fd;
	return 0;
}
