/*
 * ipc - sockets, timed I/O and attribute frames.  See ipc.h.
 *
 * Timeouts on blocking descriptors: sockets are read and written with
 * MSG_DONTWAIT after poll() said ready, so a blocking socket never blocks
 * past the deadline.  Other descriptors (pipes, fifos) fall back to
 * read()/write() after poll(); a blocking pipe write larger than the free
 * pipe space may then wait longer than the timeout, which is why callers
 * that need hard timeouts on pipes make them non-blocking.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

/* Longest netstring length prefix we ever need to look at ("16777216:"). */
#define IPC_PREFIX_MAX 12

struct IPC_STREAM {
	int    fd;
	VSTR  *in;   /* received bytes, from pos on */
	size_t pos;  /* first undecoded byte of in */
	size_t want; /* bytes still missing for a frame */
	size_t max;  /* frame payload cap */
	VSTR  *out;  /* encoding buffer for sends */
	int    sock; /* fd is a socket: recv() flags work */
};

static long long
ipc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
ipc_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : ipc_now_ms() + timeout_ms;
}

/* The timeout left until deadline, for calls that take one. */
int
ipc_left_ms(long long deadline)
{
	long long left;

	if (deadline < 0)
		return IPC_WAIT_FOREVER;
	left = deadline - ipc_now_ms();
	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * Wait until fd is ready for `events` or the deadline (-1: none) passed.
 * 0, or -1 with ETIMEDOUT or poll's errno.  POLLHUP/POLLERR count as
 * ready: the following read or write reports what happened.
 */
static int
ipc_wait(int fd, short events, long long deadline)
{
	struct pollfd pfd;
	int	      wait_ms;
	int	      n;

	for (;;) {
		if (deadline < 0) {
			wait_ms = -1;
		} else {
			long long left = deadline - ipc_now_ms();

			if (left > 1 << 30)
				left = 1 << 30;
			wait_ms = left <= 0 ? 0 : (int)left;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, wait_ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
		if (n == 0 && wait_ms == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

/*
 * One non-blocking write attempt; *sock tracks whether fd is a socket
 * (1), not one (0) or unknown yet (-1).
 */
static ssize_t
ipc_write_some(int fd, const void *buf, size_t len, int *sock)
{
	ssize_t n;

	if (*sock != 0) {
		n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0 || errno != ENOTSOCK) {
			*sock = 1;
			return n;
		}
		*sock = 0;
	}
	return write(fd, buf, len);
}

static ssize_t
ipc_read_some(int fd, void *buf, size_t len, int *sock)
{
	ssize_t n;

	if (*sock != 0) {
		n = recv(fd, buf, len, MSG_DONTWAIT);
		if (n >= 0 || errno != ENOTSOCK) {
			*sock = 1;
			return n;
		}
		*sock = 0;
	}
	return read(fd, buf, len);
}

static ssize_t
ipc_write_deadline(int fd, const void *buf, size_t len, long long deadline)
{
	const char *cp = buf;
	size_t	    done = 0;
	int	    sock = -1;
	ssize_t	    n;

	while (done < len) {
		n = ipc_write_some(fd, cp + done, len - done, &sock);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (ipc_wait(fd, POLLOUT, deadline) < 0)
			return -1;
	}
	return (ssize_t)done;
}

/* Read up to len bytes; fewer only at end of file.  -1 on error. */
static ssize_t
ipc_read_deadline(int fd, void *buf, size_t len, long long deadline)
{
	char   *cp = buf;
	size_t	done = 0;
	int	sock = -1;
	ssize_t n;

	while (done < len) {
		n = ipc_read_some(fd, cp + done, len - done, &sock);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (ipc_wait(fd, POLLIN, deadline) < 0)
			return -1;
	}
	return (ssize_t)done;
}

ssize_t
write_full(int fd, const void *buf, size_t len, int timeout_ms)
{
	return ipc_write_deadline(fd, buf, len, ipc_deadline(timeout_ms));
}

ssize_t
read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	return ipc_read_deadline(fd, buf, len, ipc_deadline(timeout_ms));
}

int
fd_set_nonblock(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags) < 0 ? -1 : 0;
}

int
fd_set_cloexec(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0)
		return -1;
	flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, flags) < 0 ? -1 : 0;
}

static int
ipc_sockaddr_un(struct sockaddr_un *sun, const char *path)
{
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(sun->sun_path)) {
		errno = len ? ENAMETOOLONG : EINVAL;
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len + 1);
	return 0;
}

static void
ipc_close_keep_errno(int fd)
{
	int saved = errno;

	(void)close(fd);
	errno = saved;
}

int
ipc_listen_unix(const char *path, int mode, int backlog)
{
	struct sockaddr_un sun;
	struct stat	   st;
	mode_t		   old_mask;
	int		   fd;
	int		   ret;

	if (ipc_sockaddr_un(&sun, path) < 0)
		return -1;
	if (lstat(path, &st) == 0) {
		/* A stale socket or a symlink goes; a symlink is not followed. */
		if (!S_ISSOCK(st.st_mode) && !S_ISLNK(st.st_mode)) {
			errno = EEXIST;
			return -1;
		}
		if (unlink(path) < 0 && errno != ENOENT)
			return -1;
	} else if (errno != ENOENT) {
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/*
	 * The umask decides the mode bind() creates, so there is no chmod by
	 * path afterwards (a name swapped in meanwhile could redirect it).
	 */
	old_mask = umask((mode_t)~mode & 0777);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (ret < 0 || listen(fd, backlog) < 0) {
		ipc_close_keep_errno(fd);
		return -1;
	}
	return fd;
}

/* Wait for a connect in progress to end: 0, or -1 with its error. */
static int
ipc_connect_finish(int fd, long long deadline)
{
	int	  err = 0;
	socklen_t elen = sizeof(err);

	if (ipc_wait(fd, POLLOUT, deadline) < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* Connect; the socket stays non-blocking when `nonblock` says so. */
static int
ipc_connect_unix_mode(const char *path, long long deadline, bool nonblock)
{
	struct sockaddr_un sun;
	int		   fd;

	if (ipc_sockaddr_un(&sun, path) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EINPROGRESS) {
			if (ipc_connect_finish(fd, deadline) < 0)
				goto fail;
			break;
		}
		if (errno != EAGAIN)
			goto fail;
		/* A Unix socket's listen queue is full: retry a while. */
		if (deadline >= 0 && ipc_now_ms() >= deadline) {
			errno = ETIMEDOUT;
			goto fail;
		}
		(void)poll(NULL, 0, 5);
	}
	if (!nonblock && fd_set_nonblock(fd, false) < 0)
		goto fail;
	return fd;

fail:
	ipc_close_keep_errno(fd);
	return -1;
}

int
ipc_connect_unix(const char *path, int timeout_ms)
{
	return ipc_connect_unix_mode(path, ipc_deadline(timeout_ms), false);
}

/* One non-blocking connect to ai, waiting until deadline: fd or -1. */
static int
ipc_connect_addr(const struct addrinfo *ai, long long deadline)
{
	int fd;

	fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	/* An interrupted connect goes on in the background, as EINPROGRESS. */
	if ((errno == EINPROGRESS || errno == EINTR)
	    && ipc_connect_finish(fd, deadline) == 0)
		return fd;
	ipc_close_keep_errno(fd);
	return -1;
}

int
ipc_connect_inet(const char *host, const char *port, int timeout_ms,
		 int *gai_error)
{
	struct addrinfo	 hints;
	struct addrinfo *res;
	struct addrinfo *ai;
	long long	 deadline = ipc_deadline(timeout_ms);
	int		 fd = -1;
	int		 err;
	int		 saved = ECONNREFUSED;

	if (gai_error != NULL)
		*gai_error = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = AF_UNSPEC;
	if ((err = getaddrinfo(host, port, &hints, &res)) != 0) {
		if (gai_error != NULL)
			*gai_error = err;
		/* EAI_SYSTEM: errno says what went wrong; keep it. */
		if (err != EAI_SYSTEM || errno == 0)
			errno = EHOSTUNREACH;
		return -1;
	}
	/* Each address in turn, all within the one deadline. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = ipc_connect_addr(ai, deadline)) >= 0)
			break;
		saved = errno;
		if (deadline >= 0 && ipc_now_ms() >= deadline)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		errno = saved;
	return fd;
}

static int
ipc_bind_inet(const struct addrinfo *ai, int backlog, int v6only)
{
	int on = 1;
	int fd;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0
	    || (ai->ai_family == AF_INET6 && v6only >= 0
		&& setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			      sizeof(v6only))
		       < 0)
	    || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0
	    || listen(fd, backlog) < 0) {
		ipc_close_keep_errno(fd);
		return -1;
	}
	return fd;
}

int
ipc_listen_inet(const char *host, const char *port, int backlog)
{
	struct addrinfo	 hints;
	struct addrinfo *res;
	struct addrinfo *ai;
	char		 buf[256];
	const char	*node = host;
	int		 fd = -1;
	int		 err;
	int		 saved = EADDRNOTAVAIL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	hints.ai_family = AF_UNSPEC;
	if (node == NULL || *node == 0 || strcmp(node, "all") == 0) {
		/* Every address: dual-stack "::" if IPv6 works, else IPv4. */
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
		if (getaddrinfo("::", port, &hints, &res) == 0) {
			fd = ipc_bind_inet(res, backlog, 0);
			saved = errno;
			freeaddrinfo(res);
			if (fd >= 0)
				return fd;
		}
		hints.ai_family = AF_INET;
		node = "0.0.0.0";
	} else if (node[0] == '[') {
		size_t len = strlen(node);

		if (len < 3 || node[len - 1] != ']' || len - 2 >= sizeof(buf)) {
			errno = EINVAL;
			return -1;
		}
		memcpy(buf, node + 1, len - 2);
		buf[len - 2] = 0;
		node = buf;
	}
	if ((err = getaddrinfo(node, port, &hints, &res)) != 0) {
		errno = err == EAI_SYSTEM ? errno : EADDRNOTAVAIL;
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = ipc_bind_inet(ai, backlog, 1)) >= 0)
			break;
		saved = errno;
	}
	freeaddrinfo(res);
	if (fd < 0)
		errno = saved;
	return fd;
}

int
ipc_accept(int listen_fd)
{
	int fd;

	for (;;) {
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != EINTR && errno != ECONNABORTED)
			return -1;
	}
}

static void
ipc_why(VSTR *why, const char *text)
{
	if (why)
		vstr_strcpy(why, text);
}

/* why = "timeout" or the text of errno; errno is kept. */
static void
ipc_why_errno(VSTR *why)
{
	int saved = errno;

	if (why)
		vstr_strcpy(why,
			    saved == ETIMEDOUT ? "timeout" : strerror(saved));
	errno = saved;
}

/* Report a length-prefix parse result r (< 0) as errno and why. */
static int
ipc_bad_prefix(int r, size_t max, VSTR *why)
{
	if (r == ATTR_LEN_TOO_BIG) {
		if (why)
			vstr_sprintf(why, "frame above limit of %zu bytes",
				     max);
		errno = EMSGSIZE;
	} else {
		ipc_why(why, "bad frame length");
		errno = EPROTO;
	}
	return -1;
}

int
ipc_send(int fd, const ATTR *a, int timeout_ms)
{
	VSTR   *buf = vstr_alloc(attr_encoded_len(a));
	ssize_t n;
	int	saved;

	attr_encode(a, buf);
	n = write_full(fd, VSTR_STR(buf), VSTR_LEN(buf), timeout_ms);
	saved = errno;
	vstr_free(buf);
	errno = saved;
	return n < 0 ? -1 : 0;
}

/*
 * Read exactly the length prefix of one frame.  Sockets are peeked so a
 * short prefix costs two system calls; other descriptors are read a byte
 * at a time.  0 with *plen set, or -1 (errno 0 at a clean end of file).
 */
static int
ipc_recv_prefix(int fd, size_t max, long long deadline, size_t *plen, VSTR *why)
{
	char	pbuf[IPC_PREFIX_MAX];
	size_t	have = 0;
	bool	peek = true;
	ssize_t n;
	int	r;

	for (;;) {
		if (peek) {
			n = recv(fd, pbuf + have, sizeof(pbuf) - have,
				 MSG_PEEK | MSG_DONTWAIT);
			if (n < 0 && errno == ENOTSOCK) {
				peek = false;
				continue;
			}
		} else {
			n = read(fd, pbuf + have, 1);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if ((errno != EAGAIN && errno != EWOULDBLOCK)
			    || ipc_wait(fd, POLLIN, deadline) < 0) {
				ipc_why_errno(why);
				return -1;
			}
			continue;
		}
		if (n == 0) {
			if (have == 0) {
				ipc_why(why, "connection closed");
				errno = 0;
			} else {
				ipc_why(why, "truncated frame");
				errno = EPROTO;
			}
			return -1;
		}
		r = attr_parse_len(pbuf, have + (size_t)n, max, plen);
		if (r < 0)
			return ipc_bad_prefix(r, max, why);
		if (!peek) {
			have += (size_t)n;
			if (r > 0)
				return 0;
		} else {
			/* Consume what the peek showed: the prefix, or all. */
			size_t take = r > 0 ? (size_t)r - have : (size_t)n;

			if (read_full(fd, pbuf + have, take, 0)
			    != (ssize_t)take) {
				ipc_why(why, "socket read failed after peek");
				errno = EPROTO;
				return -1;
			}
			have += take;
			if (r > 0)
				return 0;
		}
		if (have >= sizeof(pbuf))
			return ipc_bad_prefix(ATTR_LEN_TOO_BIG, max, why);
	}
}

int
ipc_recv(int fd, ATTR *a, size_t max, int timeout_ms, VSTR *why)
{
	long long deadline = ipc_deadline(timeout_ms);
	size_t	  plen;
	VSTR	 *buf;
	ssize_t	  n;
	int	  ret = -1;
	int	  saved;

	attr_reset(a);
	if (max == 0 || max > ATTR_FRAME_MAX)
		max = ATTR_FRAME_MAX;
	if (ipc_recv_prefix(fd, max, deadline, &plen, why) < 0)
		return -1;
	buf = vstr_alloc(plen + 1);
	n = ipc_read_deadline(fd, VSTR_STR(buf), plen + 1, deadline);
	if (n < 0) {
		ipc_why_errno(why);
	} else if ((size_t)n < plen + 1) {
		ipc_why(why, "truncated frame");
		errno = EPROTO;
	} else if (VSTR_STR(buf)[plen] != ',') {
		ipc_why(why, "missing ',' after frame");
		errno = EPROTO;
	} else {
		ret = attr_decode_payload(VSTR_STR(buf), plen, a, why);
	}
	saved = errno;
	vstr_free(buf);
	errno = saved;
	return ret;
}

int
ipc_call(const char *path, const ATTR *req, ATTR *reply, int timeout_ms,
	 VSTR *why)
{
	long long   deadline = ipc_deadline(timeout_ms);
	IPC_STREAM *st;
	int	    fd;
	int	    ret;
	int	    saved;

	/*
	 * The connection carries one frame each way and is closed after:
	 * a stream's large reads and a non-blocking socket save the peek and
	 * mode-switch system calls of ipc_connect_unix() + ipc_recv().
	 */
	attr_reset(reply);
	if ((fd = ipc_connect_unix_mode(path, deadline, true)) < 0) {
		if (why)
			vstr_sprintf(why, "connect %s: %s", path,
				     strerror(errno));
		return -1;
	}
	st = ipc_stream_open(fd);
	if (ipc_stream_send(st, req, ipc_left_ms(deadline)) < 0) {
		saved = errno;
		if (why)
			vstr_sprintf(why, "send to %s: %s", path,
				     strerror(saved));
		ipc_stream_close(st);
		errno = saved;
		return -1;
	}
	ret = ipc_stream_recv(st, reply, ipc_left_ms(deadline), why);
	saved = errno;
	if (ret < 0 && why) {
		VSTR *tmp = vstr_alloc(VSTR_LEN(why) + 64);

		vstr_sprintf(tmp, "receive from %s: %s", path, VSTR_STR(why));
		vstr_strcpy(why, VSTR_STR(tmp));
		vstr_free(tmp);
	}
	ipc_stream_close(st);
	errno = saved;
	return ret;
}

int
ipc_trigger(const char *path, int byte, int timeout_ms)
{
	struct stat st;
	char	    c = (char)byte;
	int	    fd;
	ssize_t	    n;

	if (stat(path, &st) < 0)
		return -1;
	if (S_ISFIFO(st.st_mode)) {
		/* Non-blocking: no reader fails (ENXIO), never hangs. */
		fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	} else if (S_ISSOCK(st.st_mode)) {
		fd = ipc_connect_unix_mode(path, ipc_deadline(timeout_ms),
					   true);
	} else {
		errno = EINVAL;
		return -1;
	}
	if (fd < 0)
		return -1;
	n = write_full(fd, &c, 1, timeout_ms);
	if (n < 0) {
		ipc_close_keep_errno(fd);
		return -1;
	}
	return close(fd) < 0 && errno != EINTR ? -1 : 0;
}

IPC_STREAM *
ipc_stream_open(int fd)
{
	IPC_STREAM *st = mycalloc(1, sizeof(*st));
	struct stat sb;

	st->fd = fd;
	st->sock = fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode) ? 1 : 0;
	st->in = vstr_alloc(IPC_STREAM_BUFSIZE);
	st->out = vstr_alloc(IPC_STREAM_BUFSIZE);
	st->max = ATTR_FRAME_MAX;
	return st;
}

IPC_STREAM *
ipc_stream_close(IPC_STREAM *st)
{
	if (st) {
		if (st->fd >= 0)
			(void)close(st->fd);
		vstr_free(st->in);
		vstr_free(st->out);
		myfree(st);
	}
	return NULL;
}

int
ipc_stream_fd(const IPC_STREAM *st)
{
	return st->fd;
}

void
ipc_stream_set_max(IPC_STREAM *st, size_t max)
{
	st->max = max == 0 || max > ATTR_FRAME_MAX ? ATTR_FRAME_MAX : max;
}

size_t
ipc_stream_buffered(const IPC_STREAM *st)
{
	return VSTR_LEN(st->in) - st->pos;
}

int
ipc_stream_send(IPC_STREAM *st, const ATTR *a, int timeout_ms)
{
	ssize_t n;

	vstr_reset(st->out);
	attr_encode(a, st->out);
	n = write_full(st->fd, VSTR_STR(st->out), VSTR_LEN(st->out),
		       timeout_ms);
	/* Do not keep a multi-megabyte buffer around after a big frame. */
	if (st->out->cap > 4 * IPC_STREAM_BUFSIZE) {
		int saved = errno;

		vstr_free(st->out);
		st->out = vstr_alloc(IPC_STREAM_BUFSIZE);
		errno = saved;
	}
	return n < 0 ? -1 : 0;
}

/*
 * One read into the buffer: the rest of a large frame at once, but at
 * least a buffer's worth.  may_block lets a blocking socket sleep in the
 * kernel (one system call instead of recv, poll, recv).
 */
static ssize_t
ipc_stream_read(IPC_STREAM *st, bool may_block)
{
	size_t	room;
	ssize_t n;

	/* Move the undecoded tail to the front before reading more. */
	if (st->pos > 0) {
		vstr_erase_front(st->in, st->pos);
		st->pos = 0;
	}
	if (VSTR_LEN(st->in) == 0 && st->in->cap > 4 * IPC_STREAM_BUFSIZE) {
		vstr_free(st->in);
		st->in = vstr_alloc(IPC_STREAM_BUFSIZE);
	}
	room = st->want > IPC_STREAM_BUFSIZE ? st->want : IPC_STREAM_BUFSIZE;
	vstr_space(st->in, room);
	for (;;) {
		if (st->sock)
			n = recv(st->fd, VSTR_END(st->in), room,
				 may_block ? 0 : MSG_DONTWAIT);
		else
			n = read(st->fd, VSTR_END(st->in), room);
		if (n >= 0 || errno != EINTR)
			break;
	}
	if (n > 0)
		vstr_set_len(st->in, VSTR_LEN(st->in) + (size_t)n);
	return n;
}

ssize_t
ipc_stream_fill(IPC_STREAM *st)
{
	return ipc_stream_read(st, false);
}

int
ipc_stream_next(IPC_STREAM *st, ATTR *a, VSTR *why)
{
	const char *buf = VSTR_STR(st->in) + st->pos;
	size_t	    avail = VSTR_LEN(st->in) - st->pos;
	size_t	    plen;
	size_t	    total;
	int	    r;

	if (avail == 0) {
		st->want = 0;
		return 0;
	}
	r = attr_parse_len(buf, avail, st->max, &plen);
	if (r < 0)
		return ipc_bad_prefix(r, st->max, why);
	if (r == 0) {
		st->want = 1;
		return 0;
	}
	total = (size_t)r + plen + 1;
	if (avail < total) {
		st->want = total - avail;
		return 0;
	}
	st->want = 0;
	if (buf[total - 1] != ',') {
		ipc_why(why, "missing ',' after frame");
		errno = EPROTO;
		return -1;
	}
	if (attr_decode_payload(buf + r, plen, a, why) < 0)
		return -1;
	st->pos += total;
	return 1;
}

int
ipc_stream_recv(IPC_STREAM *st, ATTR *a, int timeout_ms, VSTR *why)
{
	long long deadline = ipc_deadline(timeout_ms);
	ssize_t	  n;
	int	  r;

	for (;;) {
		if ((r = ipc_stream_next(st, a, why)) != 0)
			return r > 0 ? 0 : -1;
		/*
		 * Without a deadline a blocking read may sleep in the kernel;
		 * with one, wait first so that no read can block past it.
		 */
		if (deadline >= 0 && ipc_wait(st->fd, POLLIN, deadline) < 0) {
			ipc_why_errno(why);
			return -1;
		}
		n = ipc_stream_read(st, deadline < 0);
		if (n > 0)
			continue;
		if (n == 0) {
			if (ipc_stream_buffered(st) == 0) {
				ipc_why(why, "connection closed");
				errno = 0;
			} else {
				ipc_why(why, "truncated frame");
				errno = EPROTO;
			}
			return -1;
		}
		if ((errno != EAGAIN && errno != EWOULDBLOCK)
		    || ipc_wait(st->fd, POLLIN, deadline) < 0) {
			ipc_why_errno(why);
			return -1;
		}
	}
}

/*
 * Descriptor passing: one byte ('M') carries the descriptors, so the
 * receiver reads exactly that byte with its control data and nothing of
 * what follows on the stream.
 */
int
ipc_send_fds(int fd, const int *fds, size_t n, int timeout_ms)
{
	long long	deadline = ipc_deadline(timeout_ms);
	char		byte = 'M';
	struct iovec	iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr	mh;
	struct cmsghdr *cm;
	union {
		char	       buf[CMSG_SPACE(sizeof(int) * IPC_FDS_MAX)];
		struct cmsghdr align;
	} ctl;

	if (n == 0 || n > IPC_FDS_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	memset(&ctl, 0, sizeof(ctl));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	for (;;) {
		ssize_t w = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w == 1)
			return 0;
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (ipc_wait(fd, POLLOUT, deadline) < 0)
			return -1;
	}
}

int
ipc_recv_fds(int fd, int *fds, size_t max, size_t *n, int timeout_ms)
{
	long long	deadline = ipc_deadline(timeout_ms);
	char		byte;
	struct iovec	iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr	mh;
	struct cmsghdr *cm;
	union {
		char	       buf[CMSG_SPACE(sizeof(int) * IPC_FDS_MAX)];
		struct cmsghdr align;
	} ctl;
	ssize_t r;

	*n = 0;
	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		r = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r >= 0)
			break;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (ipc_wait(fd, POLLIN, deadline) < 0)
			return -1;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t got;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		got = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < got; i++) {
			int one;

			memcpy(&one, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(int));
			if (*n < max)
				fds[(*n)++] = one;
			else
				(void)close(one); /* more than asked for */
		}
	}
	if (r != 1 || byte != 'M' || (mh.msg_flags & MSG_CTRUNC)) {
		for (size_t i = 0; i < *n; i++)
			(void)close(fds[i]);
		*n = 0;
		errno = r == 0 ? ECONNRESET : EPROTO;
		return -1;
	}
	return 0;
}
