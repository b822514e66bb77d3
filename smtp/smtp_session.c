/*
 * smtp_session - one connection to an SMTP/LMTP server: buffered reads of
 * reply lines and batched writes of commands, each bounded by a timeout
 * in seconds; and the process's one-entry connection cache.
 *
 * The cache keeps the last healthy session after a delivery; the next
 * request for the same next hop on the same qmgr connection reuses it
 * (after RSET, in smtp.c).  An idle session is closed after
 * smtp_connection_cache_time_limit (smtp.c watches the clock while
 * waiting for qmgr) and a session older than
 * smtp_connection_reuse_time_limit is not reused.
 *
 * Errors: -1 with errno (ETIMEDOUT, ECONNRESET for end of file, EPROTO
 * for a malformed reply, or a write error such as EPIPE).
 *
 * Ownership: SMTP_SESSION is the caller's; smtp_session_free closes the
 * socket and returns NULL.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtp/smtp.h"
#include "util/ipc.h"
#include "util/debug_peer.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define SMTP_READ_CHUNK 4096
/* A reply line longer than this is cut (the rest is read and dropped). */
#define SMTP_LINE_LIMIT (SMTP_REPLY_LINE_MAX + 16)

SMTP_SESSION *
smtp_session_alloc(int fd, const char *host, const char *addr, int port,
		   const char *nexthop)
{
	SMTP_SESSION *s = mycalloc(1, sizeof(*s));

	s->fd = fd;
	s->host = vstr_alloc(64);
	vstr_strcpy(s->host, host);
	s->addr = vstr_alloc(48);
	vstr_strcpy(s->addr, addr);
	s->port = port;
	s->nexthop = vstr_alloc(64);
	vstr_strcpy(s->nexthop, nexthop);
	s->namaddr = vstr_alloc(100);
	vstr_sprintf(s->namaddr, "%s[%s]", host, addr);
	s->relay = vstr_alloc(100);
	if (strcmp(addr, "unix") == 0) /* LMTP over a unix socket */
		vstr_sprintf(s->relay, "%s[unix]", host);
	else
		vstr_sprintf(s->relay, "%s[%s]:%d", host, addr, port);
	s->rbuf = vstr_alloc(SMTP_READ_CHUNK);
	s->wbuf = vstr_alloc(1024);
	s->line = vstr_alloc(256);
	s->reply = smtp_reply_alloc();
	s->created = time(NULL);
	s->debug_peer = debug_peer_check(host, addr);
	return s;
}

SMTP_SESSION *
smtp_session_free(SMTP_SESSION *s)
{
	if (s == NULL)
		return NULL;
	if (s->debug_peer)
		debug_peer_restore();
	s->tlss = tls_sess_free(s->tlss);
	if (s->fd >= 0)
		close(s->fd);
	vstr_free(s->host);
	vstr_free(s->addr);
	vstr_free(s->nexthop);
	vstr_free(s->namaddr);
	vstr_free(s->relay);
	vstr_free(s->rbuf);
	vstr_free(s->wbuf);
	vstr_free(s->line);
	smtp_reply_free(s->reply);
	myfree(s);
	return NULL;
}

void
smtp_session_queue(SMTP_SESSION *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vstr_vsprintf_append(s->wbuf, fmt, ap);
	va_end(ap);
	(void)vstr_memcat(s->wbuf, "\r\n", 2);
	if (msg_verbose)
		msg_info("> %s: %.*s", VSTR_STR(s->namaddr),
			 (int)strcspn(VSTR_STR(s->wbuf), "\r"),
			 VSTR_STR(s->wbuf));
}

int
smtp_session_write(SMTP_SESSION *s, const void *buf, size_t len, int timeout)
{
	if (s->tlss)
		return tls_write(s->tlss, buf, len, timeout * 1000);
	if (write_full(s->fd, buf, len, timeout * 1000) < 0)
		return -1;
	return 0;
}

int
smtp_session_flush(SMTP_SESSION *s, int timeout)
{
	int ret = 0;

	if (VSTR_LEN(s->wbuf) > 0)
		ret = smtp_session_write(s, VSTR_STR(s->wbuf),
					 VSTR_LEN(s->wbuf), timeout);
	vstr_reset(s->wbuf);
	return ret;
}

/* One line without its CR LF into s->line; 0 / -1 errno. */
static int
smtp_session_line(SMTP_SESSION *s, struct timespec *deadline)
{
	vstr_reset(s->line);
	for (;;) {
		const char     *start = VSTR_STR(s->rbuf) + s->rpos;
		size_t		avail = VSTR_LEN(s->rbuf) - s->rpos;
		const char     *nl = memchr(start, '\n', avail);
		size_t		take = nl ? (size_t)(nl - start) : avail;
		size_t		keep = take;
		struct timespec now;
		struct pollfd	pfd = { .fd = s->fd, .events = POLLIN };
		long long	ms;
		ssize_t		n;

		if (VSTR_LEN(s->line) + keep > SMTP_LINE_LIMIT)
			keep = SMTP_LINE_LIMIT > VSTR_LEN(s->line)
				   ? SMTP_LINE_LIMIT - VSTR_LEN(s->line)
				   : 0;
		(void)vstr_memcat(s->line, start, keep);
		s->rpos += nl ? take + 1 : take;
		if (nl) {
			if (VSTR_LEN(s->line) > 0
			    && VSTR_STR(s->line)[VSTR_LEN(s->line) - 1] == '\r')
				vstr_truncate(s->line, VSTR_LEN(s->line) - 1);
			if (msg_verbose)
				msg_info("< %s: %s", VSTR_STR(s->namaddr),
					 VSTR_STR(s->line));
			return 0;
		}
		vstr_reset(s->rbuf);
		s->rpos = 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (deadline->tv_sec - now.tv_sec) * 1000LL
		     + (deadline->tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (s->tlss) {
			if (vstr_space(s->rbuf, SMTP_READ_CHUNK) < 0) {
				errno = ENOMEM;
				return -1;
			}
			n = tls_read(s->tlss, VSTR_STR(s->rbuf),
				     SMTP_READ_CHUNK,
				     ms > 86400000 ? 86400000 : (int)ms);
			if (n < 0)
				return -1;
			if (n == 0) {
				errno = ECONNRESET;
				return -1;
			}
			vstr_set_len(s->rbuf, (size_t)n);
			continue;
		}
		n = poll(&pfd, 1, ms > 86400000 ? 86400000 : (int)ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			continue;
		if (vstr_space(s->rbuf, SMTP_READ_CHUNK) < 0) {
			errno = ENOMEM;
			return -1;
		}
		n = read(s->fd, VSTR_STR(s->rbuf), SMTP_READ_CHUNK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		vstr_set_len(s->rbuf, (size_t)n);
	}
}

int
smtp_session_read(SMTP_SESSION *s, int timeout)
{
	struct timespec deadline;
	int		ret;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout;
	smtp_reply_reset(s->reply);
	do {
		if (smtp_session_line(s, &deadline) < 0)
			return -1;
		ret = smtp_reply_line(s->reply, VSTR_STR(s->line),
				      VSTR_LEN(s->line));
		if (ret < 0) {
			errno = EPROTO;
			return -1;
		}
	} while (ret == 0);
	return 0;
}

SMTP_SESSION *
smtp_session_cache_take(SMTP_STATE *st, const char *nexthop)
{
	SMTP_SESSION *s = st->cached;

	if (s == NULL)
		return NULL;
	st->cached = NULL;
	if (strcmp(VSTR_STR(s->nexthop), nexthop) != 0
	    || time(NULL) - s->created >= st->conf.reuse_time_limit) {
		smtp_proto_quit(st, s);
		return NULL;
	}
	return s;
}

void
smtp_session_cache_put(SMTP_STATE *st, SMTP_SESSION *s)
{
	if (st->cached)
		st->cached = smtp_proto_quit(st, st->cached);
	st->cached = s;
	st->cached_since = time(NULL);
}

void
smtp_session_cache_flush(SMTP_STATE *st)
{
	if (st->cached)
		st->cached = smtp_proto_quit(st, st->cached);
}
