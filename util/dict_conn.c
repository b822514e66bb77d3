/*
 * dict_conn - a table's kept connection to its server.  See dict_conn.h.
 *
 * The socket is non-blocking and every wait is a poll() against the
 * request's deadline, so no server can hold a daemon longer than
 * timeout_ms.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/dict_conn.h"
#include "util/ipc.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

struct DICT_CONN {
	char		       *name; /* endpoint as given, for messages */
	char		       *path; /* unix: */
	char		       *host; /* inet: */
	char		       *port;
	struct dict_conn_limits lim;
	int			fd; /* -1: not connected */
	time_t			connected;
	time_t			used;
	long			connections;
};

static long long
dict_conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline, at least 1 while any remain. */
static int
dict_conn_left(long long deadline)
{
	long long left = deadline - dict_conn_now_ms();

	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

DICT_CONN *
dict_conn_create(const char *endpoint, const struct dict_conn_limits *lim,
		 VSTR *why)
{
	DICT_CONN  *c;
	const char *rest;
	const char *colon;

	if (strncmp(endpoint, "unix:", 5) == 0) {
		rest = endpoint + 5;
		if (*rest == 0) {
			vstr_sprintf(why, "\"%s\": missing socket path",
				     endpoint);
			return NULL;
		}
		c = mycalloc(1, sizeof(*c));
		c->path = mystrdup(rest);
	} else if (strncmp(endpoint, "inet:", 5) == 0) {
		rest = endpoint + 5;
		colon = strrchr(rest, ':');
		if (colon == NULL || colon == rest || colon[1] == 0) {
			vstr_sprintf(why, "\"%s\": expected inet:host:port",
				     endpoint);
			return NULL;
		}
		c = mycalloc(1, sizeof(*c));
		if (rest[0] == '[' && colon[-1] == ']' && colon - rest > 2)
			c->host = mystrndup(rest + 1,
					    (size_t)(colon - rest - 2));
		else
			c->host = mystrndup(rest, (size_t)(colon - rest));
		c->port = mystrdup(colon + 1);
	} else {
		vstr_sprintf(why,
			     "\"%s\": expected inet:host:port or unix:/path",
			     endpoint);
		return NULL;
	}
	c->name = mystrdup(endpoint);
	c->lim = *lim;
	c->fd = -1;
	return c;
}

static void
dict_conn_close(DICT_CONN *c)
{
	if (c->fd >= 0)
		(void)close(c->fd);
	c->fd = -1;
}

DICT_CONN *
dict_conn_free(DICT_CONN *c)
{
	if (c) {
		dict_conn_close(c);
		myfree(c->name);
		myfree(c->path);
		myfree(c->host);
		myfree(c->port);
		myfree(c);
	}
	return NULL;
}

const char *
dict_conn_name(const DICT_CONN *c)
{
	return c->name;
}

long
dict_conn_count(const DICT_CONN *c)
{
	return c->connections;
}

static int
dict_conn_wait(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int	      n;

	for (;;) {
		int left = dict_conn_left(deadline);

		if (left == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if ((n = poll(&pfd, 1, left)) > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int
dict_conn_inet(DICT_CONN *c, long long deadline, VSTR *why)
{
	int gai = 0;
	int fd;

	fd = ipc_connect_inet(c->host, c->port, dict_conn_left(deadline), &gai);
	if (fd < 0 && gai != 0) {
		vstr_sprintf(why, "%s: cannot resolve: %s", c->name,
			     gai_strerror(gai));
		errno = EHOSTUNREACH;
	} else if (fd < 0) {
		vstr_sprintf(why, "connect to %s: %m", c->name);
	}
	return fd;
}

static int
dict_conn_connect(DICT_CONN *c, long long deadline, VSTR *why)
{
	int fd;

	if (c->path != NULL) {
		int left = dict_conn_left(deadline);

		if ((fd = ipc_connect_unix(c->path, left > 0 ? left : 1)) < 0) {
			vstr_sprintf(why, "connect to %s: %m", c->name);
			return -1;
		}
		if (fd_set_nonblock(fd, true) < 0) {
			vstr_sprintf(why, "%s: %m", c->name);
			(void)close(fd);
			return -1;
		}
	} else if ((fd = dict_conn_inet(c, deadline, why)) < 0)
		return -1;
	c->fd = fd;
	c->connected = time(NULL);
	c->connections++;
	return 0;
}

/*
 * Append what a refused reply began with, non-printable bytes as \xNN,
 * so a warning shows what the server (or whatever answered) sent.
 */
static void
dict_conn_excerpt(VSTR *out, const char *data, size_t len)
{
	size_t i, show = len < 32 ? len : 32;

	vstr_sprintf_append(out, " (%zu bytes read, beginning \"", len);
	for (i = 0; i < show; i++) {
		unsigned char ch = (unsigned char)data[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			vstr_addch(out, ch);
		else
			vstr_sprintf_append(out, "\\x%02x", ch);
	}
	vstr_strcat(out, show < len ? "\"...)" : "\")");
}

/*
 * Read one reply.  -1 with *nothing set when the server closed or reset
 * the connection before sending a byte (a dead kept connection).
 */
static int
dict_conn_read(DICT_CONN *c, DICT_CONN_FRAMING framing, VSTR *reply,
	       long long deadline, int *nothing, VSTR *why)
{
	char   buf[4096];
	size_t used;
	int    ret;

	*nothing = 0;
	vstr_reset(reply);
	for (;;) {
		ssize_t n;

		if (dict_conn_wait(c->fd, POLLIN, deadline) < 0) {
			vstr_sprintf(why, "%s: %s waiting for the reply",
				     c->name,
				     errno == ETIMEDOUT ? "timeout"
							: strerror(errno));
			return -1;
		}
		n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = VSTR_LEN(reply) ? EPROTO : ECONNRESET;
			*nothing = VSTR_LEN(reply) == 0;
			vstr_sprintf(why, "%s: %s", c->name,
				     n == 0 && VSTR_LEN(reply)
					 ? "connection closed in the middle "
					   "of the reply"
				     : n == 0 ? "server closed the connection"
					      : strerror(errno));
			return -1;
		}
		vstr_memcat(reply, buf, (size_t)n);
		ret = framing(VSTR_STR(reply), VSTR_LEN(reply),
			      c->lim.max_reply, &used, why);
		if (ret < 0) {
			VSTR *tmp = vstr_alloc(64);

			vstr_sprintf(tmp, "%s: malformed reply: %s", c->name,
				     VSTR_STR(why));
			dict_conn_excerpt(tmp, VSTR_STR(reply),
					  VSTR_LEN(reply));
			vstr_strcpy(why, VSTR_STR(tmp));
			vstr_free(tmp);
			errno = EPROTO;
			return -1;
		}
		if (ret > 0) {
			if (used != VSTR_LEN(reply)) {
				vstr_sprintf(why,
					     "%s: malformed reply: %zu bytes "
					     "after the reply",
					     c->name, VSTR_LEN(reply) - used);
				errno = EPROTO;
				return -1;
			}
			return 0;
		}
	}
}

int
dict_conn_call(DICT_CONN *c, const char *req, size_t len,
	       DICT_CONN_FRAMING framing, VSTR *reply, VSTR *why)
{
	long long deadline = dict_conn_now_ms() + c->lim.timeout_ms;
	time_t	  now = time(NULL);
	int	  attempt, reused, nothing;

	if (c->fd >= 0
	    && (now - c->used > c->lim.max_idle
		|| now - c->connected > c->lim.max_ttl))
		dict_conn_close(c);
	for (attempt = 0; attempt < 2; attempt++) {
		reused = c->fd >= 0;
		if (!reused && dict_conn_connect(c, deadline, why) < 0)
			return -1;
		if (write_full(c->fd, req, len, dict_conn_left(deadline))
		    != (ssize_t)len) {
			if (errno == 0)
				errno = EPIPE;
			vstr_sprintf(why, "%s: write the request: %s", c->name,
				     errno == ETIMEDOUT ? "timeout"
							: strerror(errno));
			dict_conn_close(c);
			if (reused && errno != ETIMEDOUT)
				continue;
			return -1;
		}
		if (dict_conn_read(c, framing, reply, deadline, &nothing, why)
		    == 0) {
			c->used = time(NULL);
			return 0;
		}
		{
			int saved = errno;

			dict_conn_close(c);
			errno = saved;
		}
		if (!(reused && nothing))
			return -1;
	}
	return -1;
}
