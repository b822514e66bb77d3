/*
 * skel_conn - one frame-speaking client of a multiplexing daemon.  See
 * skel_conn.h.
 *
 * The skeleton's descriptor stays the skeleton's (it unwatches and
 * closes it in skel_multi_disconnect); the stream reads and writes a
 * dup of it and closes that.  Frames that arrived while a reply was
 * pending are served from a zero-delay timer once it is sent, since
 * the descriptor need not become readable again.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <unistd.h>

#include "util/events.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel_conn.h"
#include "util/vstr.h"

struct SKEL_CONN {
	struct skel_ctx		   *ctx;
	const struct skel_conn_ops *ops;
	void			   *user;
	int			    fd;	    /* the skeleton's */
	IPC_STREAM		   *stream; /* on a dup of fd */
	ATTR			   *req;
	VSTR			   *why;
	bool			    in_serve; /* ops->serve is running */
	bool			    later;    /* a reply is pending */
	bool			    broken;   /* a reply failed in serve */
};

static const char *
skel_conn_prefix(const SKEL_CONN *c)
{
	return c->ops->prefix ? c->ops->prefix : "";
}

static void skel_conn_resume(EVENTS *ev, void *context);

static void
skel_conn_free(SKEL_CONN *c)
{
	if (c->ops->close)
		c->ops->close(c);
	events_timer_cancel(c->ctx->events, skel_conn_resume, c);
	if (c->stream)
		c->stream = ipc_stream_close(c->stream);
	skel_multi_disconnect(c->ctx, c->fd);
	attr_free(c->req);
	vstr_free(c->why);
	myfree(c);
}

/* Serve the whole frames buffered, one at a time. */
static void
skel_conn_frames(SKEL_CONN *c)
{
	int got = 0;
	int ret;

	while (!c->later
	       && (got = ipc_stream_next(c->stream, c->req, c->why)) == 1) {
		c->in_serve = true;
		ret = c->ops->serve(c, c->req);
		c->in_serve = false;
		if (ret < 0 || c->broken) {
			skel_conn_free(c);
			return;
		}
	}
	if (!c->later && got < 0) {
		msg_warn("%smalformed request frame: %s%s", skel_conn_prefix(c),
			 VSTR_STR(c->why),
			 c->ops->terse ? "" : "; disconnecting");
		skel_conn_free(c);
	}
}

static void
skel_conn_resume(EVENTS *ev, void *context)
{
	(void)ev;
	skel_conn_frames(context);
}

static void
skel_conn_event(EVENTS *ev, int fd, int what, void *context)
{
	SKEL_CONN *c = context;
	ssize_t	   n;

	(void)ev;
	(void)fd;
	(void)what;
	n = ipc_stream_fill(c->stream);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		msg_warn("%sread request: %m", skel_conn_prefix(c));
	if (n <= 0) {
		skel_conn_free(c);
		return;
	}
	skel_conn_frames(c);
}

SKEL_CONN *
skel_conn_open(struct skel_ctx *ctx, int fd, const struct skel_conn_ops *ops,
	       void *user)
{
	SKEL_CONN *c = mycalloc(1, sizeof(*c));
	int	   dfd;

	c->ctx = ctx;
	c->ops = ops;
	c->user = user;
	c->fd = fd;
	c->req = attr_alloc();
	c->why = vstr_alloc(64);
	if (fd_set_nonblock(fd, true) < 0 || (dfd = dup(fd)) < 0) {
		msg_warn("%sclient: %m", skel_conn_prefix(c));
		skel_conn_free(c);
		return NULL;
	}
	(void)fd_set_cloexec(dfd, true);
	c->stream = ipc_stream_open(dfd);
	if (ops->frame_max)
		ipc_stream_set_max(c->stream, ops->frame_max);
	if (events_watch(ctx->events, fd, EVENTS_READ, skel_conn_event, c)
	    < 0) {
		msg_warn("%sclient: %m", skel_conn_prefix(c));
		skel_conn_free(c);
		return NULL;
	}
	return c;
}

struct skel_ctx *
skel_conn_ctx(const SKEL_CONN *conn)
{
	return conn->ctx;
}

void *
skel_conn_user(const SKEL_CONN *conn)
{
	return conn->user;
}

void
skel_conn_later(SKEL_CONN *conn)
{
	if (!conn->in_serve)
		msg_panic("skel_conn_later: not called from serve");
	conn->later = true;
}

bool
skel_conn_waiting(const SKEL_CONN *conn)
{
	return conn->later;
}

int
skel_conn_reply(SKEL_CONN *conn, const ATTR *rep)
{
	bool pending = conn->later && !conn->in_serve;

	conn->later = false;
	if (ipc_stream_send(conn->stream, rep, conn->ops->reply_timeout_ms)
	    < 0) {
		msg_warn("%swrite reply: %m", skel_conn_prefix(conn));
		if (conn->in_serve)
			conn->broken = true;
		else
			skel_conn_free(conn);
		return -1;
	}
	if (pending && ipc_stream_buffered(conn->stream) > 0)
		events_timer(conn->ctx->events, skel_conn_resume, conn, 0);
	return 0;
}

void
skel_conn_close(SKEL_CONN *conn)
{
	if (conn->in_serve)
		msg_panic("skel_conn_close: called from serve");
	skel_conn_free(conn);
}
