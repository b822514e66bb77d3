/*
 * qmgr - the queue manager daemon: main(), triggers and timers.
 *
 * qmgr runs under the multiplexing skeleton with .unlimited (its state is
 * in memory) as the only process of its service (master.cf maxproc 1).
 * Clients of public/qmgr are trigger senders: every byte they write is
 * one request (util/ipc.h IPC_TRIGGER_*):
 *
 *	I, W	scan incoming/ (cleanup after each commit, master's wakeup)
 *	D	scan deferred/ for files whose retry time has come
 *	A	scan incoming/ and all of deferred/ ignoring retry times (flush)
 *	F	forget dead destinations and transports
 *
 * Requests are coalesced into one run on the next loop turn.  Every
 * queue_run_delay seconds the deferred queue is scanned as with D.
 * Master starts qmgr on its first trigger, so the crash recovery and
 * the first scans run when the first client is accepted (the event loop
 * exists only then).
 *
 * Errors: configuration errors are fatal at start; everything else is
 * logged with the queue ID and qmgr carries on.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"

/* What the pending trigger run must do. */
#define QMGR_RUN_INCOMING (1 << 0)
#define QMGR_RUN_DEFERRED (1 << 1)
#define QMGR_RUN_ALL	  (1 << 2)
#define QMGR_RUN_FORGET	  (1 << 3)

struct qmgr_app {
	QMGR qmgr;
	bool started;
	int  run; /* QMGR_RUN_* bits */
};

long long
qmgr_now(void)
{
	return (long long)time(NULL);
}

static void
qmgr_read_params(QMGR *q)
{
	CFG *cfg = q->cfg;

	q->active_limit = cfg_get_int(cfg, "qmgr_message_active_limit");
	q->rcpt_limit = cfg_get_int(cfg, "qmgr_message_recipient_limit");
	q->initial_conc = (int)cfg_get_int(cfg,
					   "initial_destination_concurrency");
	q->failed_cohort_limit = (double)
	    cfg_get_int(cfg,
			"default_destination_concurrency_failed_cohort_limit");
	q->transport_proc_limit = (int)cfg_get_int(cfg,
						   "default_process_limit");
	if (q->transport_proc_limit <= 0)
		q->transport_proc_limit = 100;
	q->transport_retry_time = cfg_get_time(cfg, "transport_retry_time");
	q->queue_run_delay = cfg_get_time(cfg, "queue_run_delay");
	q->min_backoff = cfg_get_time(cfg, "minimal_backoff_time");
	q->max_backoff = cfg_get_time(cfg, "maximal_backoff_time");
	if (q->max_backoff < q->min_backoff)
		q->max_backoff = q->min_backoff;
	q->max_lifetime = cfg_get_time(cfg, "maximal_queue_lifetime");
	q->bounce_lifetime = cfg_get_time(cfg, "bounce_queue_lifetime");
	if (q->bounce_lifetime > q->max_lifetime)
		q->bounce_lifetime = q->max_lifetime;
	q->delay_warning_time = cfg_get_time(cfg, "delay_warning_time");
	q->soft_bounce = cfg_get_bool(cfg, "soft_bounce");
}

static void
qmgr_pre_jail(struct skel_ctx *ctx)
{
	struct qmgr_app *app = mycalloc(1, sizeof(*app));
	QMGR		*q = &app->qmgr;

	ctx->app = app;
	q->cfg = ctx->cfg;
	q->why = vstr_alloc(100);
	qmgr_read_params(q);
	/* Tables are opened before the chroot, as Postfix does. */
	if (qmgr_resolve_init(q, q->why) < 0)
		msg_fatal("%s", VSTR_STR(q->why));
	if (qmgr_flush_init(q, q->why) < 0)
		msg_fatal("fast_flush_domains: %s", VSTR_STR(q->why));
}

static void
qmgr_deferred_timer(EVENTS *ev, void *ctx)
{
	QMGR *q = ctx;

	qmgr_queue_scan_deferred(q, false);
	events_timer(ev, qmgr_deferred_timer, q, q->queue_run_delay * 1000);
}

static void
qmgr_run(EVENTS *ev, void *ctx)
{
	struct qmgr_app *app = ctx;
	QMGR		*q = &app->qmgr;
	int		 run = app->run;

	(void)ev;
	app->run = 0;
	if (run & QMGR_RUN_FORGET)
		qmgr_sched_forget_dead(q);
	if (run & (QMGR_RUN_INCOMING | QMGR_RUN_ALL))
		qmgr_queue_scan_incoming(q);
	if (run & (QMGR_RUN_DEFERRED | QMGR_RUN_ALL))
		qmgr_queue_scan_deferred(q, (run & QMGR_RUN_ALL) != 0);
	qmgr_sched_run(q);
}

static void
qmgr_request(struct qmgr_app *app, int bits)
{
	app->run |= bits;
	events_timer(app->qmgr.events, qmgr_run, app, 0);
}

static void
qmgr_trigger_byte(struct qmgr_app *app, int ch)
{
	switch (ch) {
	case IPC_TRIGGER_SCAN_INCOMING:
	case IPC_TRIGGER_WAKEUP:
		qmgr_request(app, QMGR_RUN_INCOMING);
		break;
	case IPC_TRIGGER_SCAN_DEFERRED:
		qmgr_request(app, QMGR_RUN_DEFERRED);
		break;
	case IPC_TRIGGER_SCAN_ALL:
		qmgr_request(app, QMGR_RUN_ALL);
		break;
	case IPC_TRIGGER_FLUSH_DEAD:
		qmgr_request(app, QMGR_RUN_FORGET);
		break;
	case '\n':
	case '\r':
		break;
	default:
		msg_warn("unknown trigger request 0x%02x", ch & 0xff);
		break;
	}
}

struct qmgr_client {
	struct skel_ctx *ctx;
	int		 fd;
};

static void
qmgr_client_event(EVENTS *ev, int fd, int what, void *context)
{
	struct qmgr_client *c = context;
	struct qmgr_app	   *app = c->ctx->app;
	char		    buf[256];
	ssize_t		    n;
	ssize_t		    i;

	(void)ev;
	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		skel_multi_disconnect(c->ctx, fd);
		myfree(c);
		return;
	}
	for (i = 0; i < n; i++)
		qmgr_trigger_byte(app, (unsigned char)buf[i]);
}

/* The first client: the event loop exists now. */
static void
qmgr_start(struct skel_ctx *ctx)
{
	struct qmgr_app *app = ctx->app;
	QMGR		*q = &app->qmgr;

	app->started = true;
	q->events = ctx->events;
	qmgr_queue_recover(q);
	qmgr_request(app, QMGR_RUN_INCOMING | QMGR_RUN_DEFERRED);
	events_timer(q->events, qmgr_deferred_timer, q,
		     q->queue_run_delay * 1000);
}

static void
qmgr_accept(struct skel_ctx *ctx, int fd)
{
	struct qmgr_app	   *app = ctx->app;
	struct qmgr_client *c;

	if (!app->started)
		qmgr_start(ctx);
	c = mycalloc(1, sizeof(*c));
	c->ctx = ctx;
	c->fd = fd;
	if (fd_set_nonblock(fd, true) < 0
	    || events_watch(ctx->events, fd, EVENTS_READ, qmgr_client_event, c)
		   < 0) {
		msg_warn("trigger client: %m");
		skel_multi_disconnect(ctx, fd);
		myfree(c);
	}
}

static void
qmgr_pre_exit(struct skel_ctx *ctx)
{
	struct qmgr_app *app = ctx->app;
	QMGR		*q;

	if (app == NULL)
		return;
	q = &app->qmgr;
	while (q->messages) {
		/* Entries keep pointers into messages: drop queues first. */
		qmgr_sched_free(q);
		qmgr_message_free(q->messages);
	}
	qmgr_sched_free(q);
	qmgr_resolve_free(q);
	qmgr_flush_free(q);
	vstr_free(q->why);
	myfree(app);
	ctx->app = NULL;
}

int
main(int argc, char **argv)
{
	return skel_multi_main(argc, argv,
			       &(const struct skel_ops){
				   .pre_jail = qmgr_pre_jail,
				   .accept = qmgr_accept,
				   .pre_exit = qmgr_pre_exit,
				   .unlimited = true,
			       });
}
