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
#include <time.h>

#include "anvil/anvil_table.h"
#include "util/anvil_proto.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"
#include "util/skel_conn.h"
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

/* The connection is closing: give back what its smtpd still held. */
static void
anvil_conn_close(SKEL_CONN *conn)
{
	struct anvil_app *app = skel_conn_ctx(conn)->app;

	anvil_owner_free(app->table, skel_conn_user(conn), time(NULL));
}

/* One request frame: answer it.  0, or -1 to disconnect. */
static int
anvil_serve(SKEL_CONN *conn, const ATTR *req)
{
	struct anvil_app    *app = skel_conn_ctx(conn)->app;
	struct anvil_request rq;
	struct anvil_reply   rp = { .status = ANVIL_STAT_FAIL };
	time_t		     now = time(NULL);

	if (anvil_request_decode(req, &rq, app->why) < 0) {
		msg_warn("bad request: %s; ignored", VSTR_STR(app->why));
		anvil_reply_encode(ANVIL_REQ_DISCONNECT, &rp, app->rep);
	} else {
		anvil_table_expire(app->table, now);
		anvil_table_request(app->table, skel_conn_user(conn), &rq, now,
				    &rp);
		if (msg_verbose)
			msg_info("%s %s: count=%lld rate=%lld",
				 anvil_req_name(rq.req), rq.ident, rp.count,
				 rp.rate);
		anvil_reply_encode(rq.req, &rp, app->rep);
	}
	return skel_conn_reply(conn, app->rep);
}

static const struct skel_conn_ops anvil_conn_ops = {
	.serve = anvil_serve,
	.close = anvil_conn_close,
	.frame_max = ANVIL_FRAME_MAX,
	.reply_timeout_ms = ANVIL_REPLY_TIMEOUT_MS,
};

static void
anvil_accept(struct skel_ctx *ctx, int fd)
{
	struct anvil_app *app = ctx->app;

	if (!app->started) {
		app->started = true;
		events_timer(ctx->events, anvil_status_update, app,
			     app->status_time * 1000);
		events_timer(ctx->events, anvil_expire, app, app->unit * 1000);
	}
	(void)skel_conn_open(ctx, fd, &anvil_conn_ops,
			     anvil_owner_create(app->table));
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
