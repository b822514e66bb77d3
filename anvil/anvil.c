/*
 * anvil - the client connection and rate counter: main() and the client
 * connections.
 *
 * One process (master.cf maxproc 1) under the multiplexing skeleton with
 * .unlimited: the counts live in its memory (anvil/anvil_table.c), so it
 * must not exit while clients are counted.  Each smtpd keeps one
 * connection to private/anvil and sends request frames on it
 * (util/anvil_proto.h); every request is answered at once.  When that
 * connection closes, the connections its smtpd still held are given
 * back, so a killed smtpd does not leave its client counted forever.
 *
 * Every anvil_status_update_time, and at exit, the peaks since the last
 * report are logged as Postfix's anvil logs them:
 *
 *	statistics: max connection rate 3/60s for (smtp:192.0.2.1) at Dec  7 16:02:03
 *	statistics: max cache size 12 at Dec  7 16:02:03
 *
 * Timers run in the skeleton's event loop, which exists from the first
 * client on (as in qmgr); before that there is nothing to count.
 *
 * Errors: a client that sends a malformed frame is logged and
 * disconnected; an unknown request or a bad ident gets status FAIL.
 * Nothing here is fatal after start-up.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "anvil/anvil_table.h"
#include "util/anvil_proto.h"
#include "util/attr.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"
#include "util/vstr.h"

/* Longest wait for a client to take a reply (they are a few bytes). */
#define ANVIL_REPLY_TIMEOUT_MS 10000
/* Requests are a verb and an ident. */
#define ANVIL_FRAME_MAX 4096

struct anvil_app {
	ANVIL_TABLE *table;
	long long    unit;	  /* anvil_rate_time_unit, seconds */
	long long    status_time; /* anvil_status_update_time, seconds */
	bool	     started;	  /* timers are set */
	ATTR	    *rep;
	VSTR	    *why;
};

struct anvil_conn {
	struct skel_ctx *ctx;
	int		 fd;	 /* the skeleton's */
	IPC_STREAM	*stream; /* on a dup of fd */
	ANVIL_OWNER	*owner;
	ATTR		*req;
};

static void
anvil_log_line(void *ctx, const char *line)
{
	(void)ctx;
	msg_info("%s", line);
}

static void
anvil_status_update(EVENTS *ev, void *context)
{
	struct anvil_app *app = context;

	anvil_table_stats(app->table, anvil_log_line, NULL);
	events_timer(ev, anvil_status_update, app, app->status_time * 1000);
}

static void
anvil_expire(EVENTS *ev, void *context)
{
	struct anvil_app *app = context;

	anvil_table_expire(app->table, time(NULL));
	events_timer(ev, anvil_expire, app, app->unit * 1000);
}

static void
anvil_conn_close(struct anvil_conn *c)
{
	struct anvil_app *app = c->ctx->app;

	anvil_owner_free(app->table, c->owner, time(NULL));
	c->stream = ipc_stream_close(c->stream);
	skel_multi_disconnect(c->ctx, c->fd);
	attr_free(c->req);
	myfree(c);
}

/* One request frame in c->req: answer it.  0, or -1 to disconnect. */
static int
anvil_serve(struct anvil_conn *c)
{
	struct anvil_app    *app = c->ctx->app;
	struct anvil_request rq;
	struct anvil_reply   rp = { .status = ANVIL_STAT_FAIL };
	time_t		     now = time(NULL);

	if (anvil_request_decode(c->req, &rq, app->why) < 0) {
		msg_warn("bad request: %s; ignored", VSTR_STR(app->why));
		anvil_reply_encode(ANVIL_REQ_DISCONNECT, &rp, app->rep);
	} else {
		anvil_table_expire(app->table, now);
		anvil_table_request(app->table, c->owner, &rq, now, &rp);
		if (msg_verbose)
			msg_info("%s %s: count=%lld rate=%lld",
				 anvil_req_name(rq.req), rq.ident, rp.count,
				 rp.rate);
		anvil_reply_encode(rq.req, &rp, app->rep);
	}
	if (ipc_stream_send(c->stream, app->rep, ANVIL_REPLY_TIMEOUT_MS) < 0) {
		msg_warn("write reply: %m");
		return -1;
	}
	return 0;
}

static void
anvil_conn_event(EVENTS *ev, int fd, int what, void *context)
{
	struct anvil_conn *c = context;
	struct anvil_app  *app = c->ctx->app;
	ssize_t		   n;
	int		   got;

	(void)ev;
	(void)fd;
	(void)what;
	n = ipc_stream_fill(c->stream);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		msg_warn("read request: %m");
	if (n <= 0) {
		anvil_conn_close(c);
		return;
	}
	while ((got = ipc_stream_next(c->stream, c->req, app->why)) == 1)
		if (anvil_serve(c) < 0) {
			anvil_conn_close(c);
			return;
		}
	if (got < 0) {
		msg_warn("malformed request frame: %s; disconnecting",
			 VSTR_STR(app->why));
		anvil_conn_close(c);
	}
}

static void
anvil_accept(struct skel_ctx *ctx, int fd)
{
	struct anvil_app  *app = ctx->app;
	struct anvil_conn *c;
	int		   dfd;

	if (!app->started) {
		app->started = true;
		events_timer(ctx->events, anvil_status_update, app,
			     app->status_time * 1000);
		events_timer(ctx->events, anvil_expire, app, app->unit * 1000);
	}
	/* The skeleton closes fd; the stream closes its own copy. */
	if (fd_set_nonblock(fd, true) < 0 || (dfd = dup(fd)) < 0) {
		msg_warn("client: %m");
		skel_multi_disconnect(ctx, fd);
		return;
	}
	(void)fd_set_cloexec(dfd, true);
	c = mycalloc(1, sizeof(*c));
	c->ctx = ctx;
	c->fd = fd;
	c->stream = ipc_stream_open(dfd);
	ipc_stream_set_max(c->stream, ANVIL_FRAME_MAX);
	c->owner = anvil_owner_create(app->table);
	c->req = attr_alloc();
	if (events_watch(ctx->events, fd, EVENTS_READ, anvil_conn_event, c)
	    < 0) {
		msg_warn("client: %m");
		anvil_conn_close(c);
	}
}

static void
anvil_post_jail(struct skel_ctx *ctx)
{
	struct anvil_app *app = mycalloc(1, sizeof(*app));

	if (ctx->argc > 0)
		msg_fatal("unexpected command-line argument: %s", ctx->argv[0]);
	app->unit = cfg_get_time(ctx->cfg, "anvil_rate_time_unit");
	app->status_time = cfg_get_time(ctx->cfg, "anvil_status_update_time");
	app->table = anvil_table_create(app->unit);
	app->rep = attr_alloc();
	app->why = vstr_alloc(64);
	/* The statistics name the time in the local zone. */
	tzset();
	ctx->app = app;
}

static void
anvil_pre_exit(struct skel_ctx *ctx)
{
	struct anvil_app *app = ctx->app;

	if (app == NULL)
		return;
	anvil_table_stats(app->table, anvil_log_line, NULL);
}

int
main(int argc, char **argv)
{
	return skel_multi_main(argc, argv,
			       &(const struct skel_ops){
				   .post_jail = anvil_post_jail,
				   .accept = anvil_accept,
				   .pre_exit = anvil_pre_exit,
				   .unlimited = true,
			       });
}
