/*
 * qmgr_sched - per-transport, per-destination queues and the scheduler.
 *
 * Each transport has one queue per next hop.  A queue may have at most
 * `window` deliveries in flight: the window starts at
 * initial_destination_concurrency, grows by 1/window per successful
 * delivery up to <transport>_destination_concurrency_limit (default
 * default_destination_concurrency_limit) and shrinks by 1/window per
 * failed one (never below 1).  A delivery "fails" when the transport
 * could not reach the destination at all: every recipient deferred and
 * no relay reached.  When failures add up to
 * default_destination_concurrency_failed_cohort_limit whole windows
 * without a success in between, the destination is dead: what waits for
 * it is deferred at once ("delivery temporarily suspended") and nothing
 * new is tried before minimal_backoff_time has passed (or an 'F'
 * trigger); then it starts afresh with the initial window and no failed
 * cohorts, as Postfix's unthrottled queue does.  A transport whose socket cannot be reached is suspended
 * the same way for transport_retry_time.
 *
 * Fairness: the scheduler walks transports and, within a transport, its
 * queues round-robin, starting at most one delivery per queue per pass,
 * so one busy or slow destination never keeps the others waiting.  A
 * transport has at most default_process_limit deliveries in flight.
 *
 * Errors: none returned; deliveries report through qmgr_deliver.c.
 * Ownership: transports and queues live until qmgr_sched_free().
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <strings.h>

#include "qmgr/qmgr.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* <transport>_<suffix>, else default_<suffix>; never below 1. */
static long long
qmgr_transport_int(QMGR *q, const char *transport, const char *suffix)
{
	long long v = cfg_get_transport_int(q->cfg, transport, suffix);

	return v < 1 ? 1 : v;
}

QMGR_TRANSPORT *
qmgr_transport_find(QMGR *q, const char *name)
{
	QMGR_TRANSPORT *t;
	long long	conc;
	long long	rcpt;

	for (t = q->transports; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	/* Read first: a bad value is fatal, with nothing allocated. */
	conc = qmgr_transport_int(q, name, "destination_concurrency_limit");
	rcpt = qmgr_transport_int(q, name, "destination_recipient_limit");
	t = mycalloc(1, sizeof(*t));
	t->qmgr = q;
	t->name = mystrdup(name);
	t->conc_limit = (int)conc;
	t->rcpt_limit = rcpt > DELIVER_RCPT_MAX ? DELIVER_RCPT_MAX : (int)rcpt;
	t->next = q->transports;
	q->transports = t;
	return t;
}

static double
qmgr_queue_initial_window(const QMGR_TRANSPORT *t)
{
	return t->qmgr->initial_conc < t->conc_limit ? t->qmgr->initial_conc
						     : t->conc_limit;
}

QMGR_QUEUE *
qmgr_queue_find(QMGR_TRANSPORT *t, const char *nexthop)
{
	QMGR_QUEUE *queue;

	for (queue = t->queues; queue; queue = queue->next)
		if (strcasecmp(queue->nexthop, nexthop) == 0)
			return queue;
	queue = mycalloc(1, sizeof(*queue));
	queue->transport = t;
	queue->nexthop = mystrdup(nexthop);
	queue->window = qmgr_queue_initial_window(t);
	queue->next = t->queues;
	t->queues = queue;
	return queue;
}

void
qmgr_entry_free(QMGR_ENTRY *e)
{
	if (e->stream)
		e->stream = ipc_stream_close(e->stream);
	if (e->frame)
		e->frame = attr_free(e->frame);
	myfree(e->idx);
	myfree(e);
}

/* Take the first waiting entry off a queue. */
static QMGR_ENTRY *
qmgr_queue_pop(QMGR_QUEUE *queue)
{
	QMGR_ENTRY *e = queue->head;

	if (e == NULL)
		return NULL;
	queue->head = e->next;
	if (queue->head == NULL)
		queue->tail = NULL;
	e->next = NULL;
	queue->todo--;
	return e;
}

/* Defer everything waiting in a queue (dead destination or transport). */
static void
qmgr_queue_flush_dead(QMGR_QUEUE *queue, const char *reason)
{
	QMGR_ENTRY *e;

	while ((e = qmgr_queue_pop(queue)) != NULL)
		qmgr_deliver_defer_entry(e, "4.4.1", reason);
}

static bool
qmgr_dead(long long *until)
{
	if (*until == 0)
		return false;
	if (qmgr_now() >= *until) {
		*until = 0;
		return false;
	}
	return true;
}

/*
 * A destination whose cool-off is over starts afresh, as with Postfix:
 * no failed cohorts (else one more failure would kill it again at once)
 * and the initial window (the best concurrency is anyone's guess).
 */
static bool
qmgr_queue_dead(QMGR_QUEUE *queue)
{
	bool was_dead = queue->dead_until != 0;

	if (qmgr_dead(&queue->dead_until))
		return true;
	if (was_dead) {
		queue->fail_cohorts = 0;
		queue->window = qmgr_queue_initial_window(queue->transport);
	}
	return false;
}

void
qmgr_entry_add(QMGR_QUEUE *queue, QMGR_ENTRY *e)
{
	VSTR *reason;

	e->next = NULL;
	if (queue->tail)
		queue->tail->next = e;
	else
		queue->head = e;
	queue->tail = e;
	queue->todo++;
	/* Dead: defer at once instead of holding the message in memory. */
	if (qmgr_dead(&queue->transport->dead_until)
	    || qmgr_queue_dead(queue)) {
		reason = vstr_alloc(100);
		vstr_sprintf(reason, "delivery temporarily suspended: %s",
			     queue->transport->dead_until
				 ? queue->transport->dead_reason
				 : queue->dead_reason);
		qmgr_queue_flush_dead(queue, VSTR_STR(reason));
		vstr_free(reason);
	}
}

/* One pass over a transport; true when a delivery was started. */
static bool
qmgr_sched_transport(QMGR *q, QMGR_TRANSPORT *t)
{
	QMGR_QUEUE *queue;
	QMGR_QUEUE *start;
	QMGR_ENTRY *e;
	bool	    started = false;

	if (t->queues == NULL || qmgr_dead(&t->dead_until))
		return false;
	if (t->rr == NULL)
		t->rr = t->queues;
	start = queue = t->rr;
	do {
		if (t->busy >= q->transport_proc_limit)
			break;
		if (queue->head && !qmgr_queue_dead(queue)
		    && queue->busy < (int)queue->window
		    && queue->busy < t->conc_limit) {
			e = qmgr_queue_pop(queue);
			queue->busy++;
			t->busy++;
			e->window_at_start = (int)queue->window;
			e->in_flight = true;
			started = true;
			t->rr = queue->next ? queue->next : t->queues;
			qmgr_deliver_start(q, e);
			/* The start may have killed the transport. */
			if (t->dead_until)
				break;
		}
		queue = queue->next ? queue->next : t->queues;
	} while (queue != start);
	return started;
}

void
qmgr_sched_run(QMGR *q)
{
	QMGR_TRANSPORT *t;
	bool		progress;

	do {
		progress = false;
		for (t = q->transports; t; t = t->next)
			if (qmgr_sched_transport(q, t))
				progress = true;
	} while (progress);
}

static void
qmgr_sched_timer(EVENTS *ev, void *ctx)
{
	(void)ev;
	qmgr_sched_run(ctx);
}

void
qmgr_sched_kick(QMGR *q)
{
	events_timer(q->events, qmgr_sched_timer, q, 0);
}

void
qmgr_sched_feedback(QMGR_QUEUE *queue, bool ok, int window, const char *reason)
{
	QMGR *q = queue->transport->qmgr;
	VSTR *why;

	if (ok) {
		queue->fail_cohorts = 0;
		queue->window += 1.0 / queue->window;
		if (queue->window > queue->transport->conc_limit)
			queue->window = queue->transport->conc_limit;
		return;
	}
	queue->window -= 1.0 / queue->window;
	if (queue->window < 1)
		queue->window = 1;
	queue->fail_cohorts += 1.0 / (window > 0 ? window : 1);
	if (queue->fail_cohorts < q->failed_cohort_limit || queue->dead_until)
		return;
	/* Dead: cool off, defer whatever waits. */
	queue->dead_until = qmgr_now() + q->min_backoff;
	myfree(queue->dead_reason);
	queue->dead_reason = mystrdup(reason ? reason : "destination failed");
	msg_info("destination %s/%s is dead for %llds: %s",
		 queue->transport->name, queue->nexthop, q->min_backoff,
		 queue->dead_reason);
	why = vstr_alloc(100);
	vstr_sprintf(why, "delivery temporarily suspended: %s",
		     queue->dead_reason);
	qmgr_queue_flush_dead(queue, VSTR_STR(why));
	vstr_free(why);
}

void
qmgr_sched_transport_fail(QMGR_TRANSPORT *t, const char *reason)
{
	QMGR_QUEUE *queue;
	VSTR	   *why;

	if (t->dead_until)
		return;
	t->dead_until = qmgr_now() + t->qmgr->transport_retry_time;
	myfree(t->dead_reason);
	t->dead_reason = mystrdup(reason);
	msg_warn("transport %s unavailable for %llds: %s", t->name,
		 t->qmgr->transport_retry_time, reason);
	why = vstr_alloc(100);
	vstr_sprintf(why, "delivery temporarily suspended: %s", reason);
	for (queue = t->queues; queue; queue = queue->next)
		qmgr_queue_flush_dead(queue, VSTR_STR(why));
	vstr_free(why);
}

void
qmgr_sched_forget_dead(QMGR *q)
{
	QMGR_TRANSPORT *t;
	QMGR_QUEUE     *queue;

	for (t = q->transports; t; t = t->next) {
		t->dead_until = 0;
		for (queue = t->queues; queue; queue = queue->next) {
			queue->dead_until = 0;
			queue->fail_cohorts = 0;
		}
	}
}

void
qmgr_sched_free(QMGR *q)
{
	QMGR_TRANSPORT *t;
	QMGR_QUEUE     *queue;
	QMGR_ENTRY     *e;

	while ((t = q->transports) != NULL) {
		q->transports = t->next;
		while ((queue = t->queues) != NULL) {
			t->queues = queue->next;
			while ((e = qmgr_queue_pop(queue)) != NULL)
				qmgr_entry_free(e);
			qmgr_deliver_close_idle(queue);
			myfree(queue->nexthop);
			myfree(queue->dead_reason);
			myfree(queue);
		}
		myfree(t->name);
		myfree(t->dead_reason);
		myfree(t);
	}
}
