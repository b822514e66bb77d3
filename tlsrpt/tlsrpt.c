/*
 * tlsrpt - the TLS-RPT (RFC 8460) service: counts the outcome of every
 * TLS session attempt the smtp client makes, per policy domain and UTC
 * day, and sends the daily aggregate reports.
 *
 * master.cf: `tlsrpt unix - n n - 1 tlsrpt` (socket private/tlsrpt; one
 * process; not chrooted and privileged, as it reads the CA store for
 * https: reports and writes under $data_directory).  Under the
 * multiplexing skeleton with .unlimited, since it holds the counts.
 *
 * Requests (util/attr frames, util/tlsrpt_client.h):
 *   note	from smtp, one per session attempt, no answer: counted.
 *   show	`postel tls-report show`: answered {status=0, text=JSON
 *		array of the pending reports, the current day included}.
 *   send	`postel tls-report send`: every pending report, the current
 *		day included, is sent now; answered {status, text=one line
 *		per report and destination}.
 * With smtp_tls_report_enable = no notes are ignored and show/send are
 * answered status 1 "TLS reporting is disabled".
 *
 * Durability: the counts live in $data_directory/tlsrpt/state
 * (tlsrpt_store.c), rewritten atomically at most once a second while
 * notes arrive (so a crash loses at most the last second of counts),
 * after every send, and at exit (stop, reload, master gone).
 *
 * Once a day, TLSRPT_DAILY_DELAY seconds after 00:00 UTC, the reports of
 * the finished days go out (tlsrpt_send.c).  The timers start with the
 * first client, as in anvil: master starts the service on demand, that
 * is when smtp sends the first note or `postel tls-report` asks.
 *
 * Errors: set-up failures are fatal; a malformed request is logged and
 * its connection closed; a state file that cannot be read is moved
 * aside (state.corrupt) with a warning.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrpt/tlsrpt.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_file.h"
#include "util/skel.h"
#include "util/skel_conn.h"
#include "util/tlsrpt.h"
#include "util/tlsrpt_client.h"
#include "util/vstr.h"

#define TLSRPT_REPLY_TIMEOUT_MS 30000
#define TLSRPT_FLUSH_MS		1000
#define TLSRPT_DAILY_DELAY	300 /* seconds after 00:00 UTC */

struct tlsrpt_app {
	bool		   enable;
	const CFG	  *cfg;
	struct tlsrpt_conf conf;
	TLSRPT_STORE	  *store;
	DNS		  *dns;
	bool		   started;
	ATTR		  *rep;
	VSTR		  *why;
};

static void
tlsrpt_save(struct tlsrpt_app *app)
{
	if (tlsrpt_store_dirty(app->store)
	    && tlsrpt_store_save(app->store, app->why) < 0)
		msg_warn("TLS-RPT: %s", VSTR_STR(app->why));
}

static void
tlsrpt_flush(EVENTS *ev, void *context)
{
	struct tlsrpt_app *app = context;

	tlsrpt_save(app);
	events_timer(ev, tlsrpt_flush, app, TLSRPT_FLUSH_MS);
}

/* Milliseconds until the next daily run. */
static long
tlsrpt_daily_wait(void)
{
	long long now = (long long)time(NULL);
	long long next = now - now % 86400 + 86400 + TLSRPT_DAILY_DELAY;

	if (now % 86400 < TLSRPT_DAILY_DELAY)
		next -= 86400;
	return (long)(next - now) * 1000;
}

static void
tlsrpt_daily(EVENTS *ev, void *context)
{
	struct tlsrpt_app *app = context;
	VSTR		  *log = vstr_alloc(256);
	char		   yesterday[11];

	tlsrpt_day((long long)time(NULL) - 86400, yesterday);
	tlsrpt_send_all(app->store, app->cfg, app->dns, &app->conf, yesterday,
			log);
	tlsrpt_save(app);
	vstr_free(log);
	events_timer(ev, tlsrpt_daily, app, tlsrpt_daily_wait());
}

/* JSON array of every pending report, as they would go out now. */
static void
tlsrpt_show(struct tlsrpt_app *app, VSTR *out)
{
	struct tlsrpt_group *g;
	size_t		     n = tlsrpt_store_groups(app->store, NULL, &g);
	VSTR		    *json = vstr_alloc(1024);
	long long	     now = (long long)time(NULL);

	vstr_strcpy(out, "[");
	for (size_t i = 0; i < n; i++) {
		struct tm tm;
		long long start;

		memset(&tm, 0, sizeof(tm));
		if (sscanf(g[i].day, "%d-%d-%d", &tm.tm_year, &tm.tm_mon,
			   &tm.tm_mday)
		    != 3)
			continue;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		start = (long long)timegm(&tm);
		tlsrpt_store_report(app->store, g + i, &app->conf, "pending",
				    start,
				    start + 86399 < now ? start + 86399 : now,
				    json);
		if (i)
			vstr_strcat(out, ",\n");
		while (VSTR_LEN(json)
		       && VSTR_STR(json)[VSTR_LEN(json) - 1] == '\n')
			vstr_truncate(json, VSTR_LEN(json) - 1);
		vstr_memcat(out, VSTR_STR(json), VSTR_LEN(json));
	}
	vstr_strcat(out, "]\n");
	vstr_free(json);
	myfree(g);
}

/* One request frame.  0, or -1 to disconnect. */
static int
tlsrpt_serve(SKEL_CONN *conn, const ATTR *rq)
{
	struct tlsrpt_app *app = skel_conn_ctx(conn)->app;
	const char	  *req = attr_get_str(rq, "request");
	struct tlsrpt_note n;
	VSTR		  *text;
	char		   day[11];

	if (req != NULL && strcmp(req, "note") == 0) {
		if (!app->enable)
			return 0;
		if (tlsrpt_note_decode(rq, &n, app->why) < 0) {
			msg_warn("TLS-RPT: bad note: %s", VSTR_STR(app->why));
			return -1;
		}
		tlsrpt_day((long long)time(NULL), day);
		tlsrpt_store_add(app->store, day, &n);
		return 0;
	}
	if (req == NULL
	    || (strcmp(req, "show") != 0 && strcmp(req, "send") != 0)) {
		msg_warn("TLS-RPT: unknown request \"%s\"", req ? req : "");
		return -1;
	}
	text = vstr_alloc(1024);
	attr_reset(app->rep);
	if (!app->enable) {
		attr_put_int(app->rep, "status", 1);
		attr_put_str(app->rep, "text",
			     "TLS reporting is disabled "
			     "(smtp_tls_report_enable = no)\n");
	} else if (strcmp(req, "show") == 0) {
		tlsrpt_show(app, text);
		attr_put_int(app->rep, "status", 0);
		attr_put_str(app->rep, "text", VSTR_STR(text));
	} else {
		tlsrpt_send_all(app->store, app->cfg, app->dns, &app->conf,
				NULL, text);
		tlsrpt_save(app);
		attr_put_int(app->rep, "status", 0);
		attr_put_str(app->rep, "text", VSTR_STR(text));
	}
	vstr_free(text);
	return skel_conn_reply(conn, app->rep);
}

static const struct skel_conn_ops tlsrpt_conn_ops = {
	.serve = tlsrpt_serve,
	.frame_max = TLSRPT_NOTE_MAX,
	.reply_timeout_ms = TLSRPT_REPLY_TIMEOUT_MS,
	.prefix = "TLS-RPT: ",
	.terse = true,
};

static void
tlsrpt_accept(struct skel_ctx *ctx, int fd)
{
	struct tlsrpt_app *app = ctx->app;

	if (!app->started) {
		app->started = true;
		events_timer(ctx->events, tlsrpt_flush, app, TLSRPT_FLUSH_MS);
		events_timer(ctx->events, tlsrpt_daily, app,
			     tlsrpt_daily_wait());
	}
	(void)skel_conn_open(ctx, fd, &tlsrpt_conn_ops, NULL);
}

static void
tlsrpt_post_jail(struct skel_ctx *ctx)
{
	struct tlsrpt_app *app = mycalloc(1, sizeof(*app));
	VSTR		  *path = vstr_alloc(100);
	VSTR		  *aside = vstr_alloc(100);

	if (ctx->argc > 0)
		msg_fatal("unexpected command-line argument: %s", ctx->argv[0]);
	app->cfg = ctx->cfg;
	app->enable = cfg_get_bool(ctx->cfg, "smtp_tls_report_enable");
	app->conf.organization = cfg_get_str(ctx->cfg,
					     "smtp_tls_report_organization");
	app->conf.contact = cfg_get_str(ctx->cfg, "smtp_tls_report_contact");
	app->conf.submitter = cfg_get_str(ctx->cfg,
					  "smtp_tls_report_submitter");
	app->conf.sender = cfg_get_str(ctx->cfg, "smtp_tls_report_sender");
	app->conf.cafile = cfg_get_str(ctx->cfg, "smtp_tls_report_CAfile");
	app->conf.myhostname = cfg_get_str(ctx->cfg, "myhostname");
	app->rep = attr_alloc();
	app->why = vstr_alloc(100);
	vstr_sprintf(path, "%s/tlsrpt",
		     cfg_get_str(ctx->cfg, "data_directory"));
	if (app->enable) {
		if ((app->dns = dns_open(ctx->cfg)) == NULL)
			msg_fatal("cannot set up the resolver (see the "
				  "warning above)");
		/* data_directory as it is (postscreen's cache lives there). */
		if ((mkdir(cfg_get_str(ctx->cfg, "data_directory"), 0755) < 0
		     && errno != EEXIST)
		    || mkdir_owned(VSTR_STR(path), 0700, geteuid(), getegid())
			   < 0)
			msg_fatal("create %s: %m", VSTR_STR(path));
	}
	vstr_strcat(path, "/state");
	app->store = tlsrpt_store_create(VSTR_STR(path));
	if (app->enable && tlsrpt_store_load(app->store, app->why) < 0) {
		vstr_sprintf(aside, "%s.corrupt", VSTR_STR(path));
		msg_warn("TLS-RPT: %s: moved to %s", VSTR_STR(app->why),
			 VSTR_STR(aside));
		if (rename(VSTR_STR(path), VSTR_STR(aside)) < 0)
			msg_fatal("rename %s: %m", VSTR_STR(path));
	}
	tlsrpt_send_init();
	vstr_free(path);
	vstr_free(aside);
	ctx->app = app;
}

static void
tlsrpt_pre_exit(struct skel_ctx *ctx)
{
	struct tlsrpt_app *app = ctx->app;

	if (app == NULL)
		return;
	if (app->enable)
		tlsrpt_save(app);
	app->store = tlsrpt_store_free(app->store);
	app->dns = dns_close(app->dns);
	tlsrpt_send_done();
	attr_free(app->rep);
	vstr_free(app->why);
	myfree(app);
	ctx->app = NULL;
}

int
main(int argc, char **argv)
{
	return skel_multi_main(argc, argv,
			       &(const struct skel_ops){
				   .post_jail = tlsrpt_post_jail,
				   .accept = tlsrpt_accept,
				   .pre_exit = tlsrpt_pre_exit,
				   .unlimited = true,
			       });
}
