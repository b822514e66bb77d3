/*
 * qmgr_deliver - hand one entry to its transport and apply the results.
 *
 * A delivery is one request frame (util/deliver_proto) on a connection to
 * private/<transport> and one reply frame read through the event loop.
 * The request is written at once (the transport reads it as soon as
 * master gives it a process); only the wait for the reply is
 * asynchronous, bounded by DELIVER_TIMEOUT_MS.  When more entries wait
 * for the same queue the connection is kept in the queue's idle pool for
 * QMGR_CONN_IDLE_MS and carries the next request, so the transport can
 * reuse its SMTP session; a pooled connection the transport closed is
 * dropped, and a request whose pooled connection ends before any reply
 * is sent again on a fresh connection.
 *
 * Results, per recipient: sent -> marked done (after a trace log entry
 * when NOTIFY=SUCCESS); bounced -> logged by the bounce service, then
 * marked done (a bounce service failure leaves it deferred); deferred ->
 * logged by the defer service, tried again later.  With soft_bounce a
 * bounce becomes a deferral.  Marks are not fsync'ed here: the message
 * is fdatasync'ed once when its attempt ends (qmgr_defer.c).
 *
 * Errors: a transport that cannot be reached, breaks the protocol or
 * times out defers the whole entry (and an unreachable transport is
 * suspended for transport_retry_time).  Ownership: the entry is freed by
 * qmgr_defer_entry_done().
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "qmgr/qmgr.h"
#include "util/metrics.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/rec.h"

#define QMGR_CONNECT_TIMEOUT_MS 2000
#define QMGR_SEND_TIMEOUT_MS	(60 * 1000)
#define QMGR_TRANSPORT_NAME_MAX 64
#define QMGR_CONN_IDLE_MS	1000 /* unused pooled connection lifetime */

static double
qmgr_deliver_clock(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* A delay as Postfix prints it: two significant digits, whole seconds
 * from 10 s on. */
static void
qmgr_deliver_delay(char *buf, size_t len, double v)
{
	if (v < 0)
		v = 0;
	snprintf(buf, len, v >= 10 ? "%.0f" : "%.2g", v);
}

/* Postfix-format line for a result qmgr decided itself. */
void
qmgr_deliver_log(const QMGR_MESSAGE *m, const struct qmgr_rcpt *r,
		 const struct deliver_status *st, const char *transport)
{
	double now = qmgr_deliver_clock();
	double arrival = (double)m->arrival_sec + (double)m->arrival_usec / 1e6;
	double a = (double)m->qmgr_time - arrival;
	double b = now - (double)m->qmgr_time;
	char   total[32], da[32], db[32];
	bool   orig = r->orig && strcmp(r->orig, r->addr) != 0;

	qmgr_deliver_delay(total, sizeof(total), (a > 0 ? a : 0) + b);
	qmgr_deliver_delay(da, sizeof(da), a);
	qmgr_deliver_delay(db, sizeof(db), b);
	msg_info("%s: to=<%s>%s%s%s, relay=%s, delay=%s, delays=%s/%s/0/0,"
		 " dsn=%s, status=%s (%s)",
		 m->queue_id, r->addr, orig ? ", orig_to=<" : "",
		 orig ? r->orig : "", orig ? ">" : "",
		 st->relay ? st->relay : "none", total, da, db, st->dsn,
		 deliver_action_name(st->action), st->reply);
	metrics_delivery(transport, st->action, now - arrival);
}

/* Letters, digits, '-', '_' and '.', not starting with '.'. */
static bool
qmgr_deliver_name_ok(const char *name)
{
	const char *cp;

	if (*name == 0 || *name == '.'
	    || strlen(name) > QMGR_TRANSPORT_NAME_MAX)
		return false;
	for (cp = name; *cp; cp++)
		if (!isalnum((unsigned char)*cp) && *cp != '-' && *cp != '_'
		    && *cp != '.')
			return false;
	return true;
}

/* Apply one recipient's result. */
static void
qmgr_deliver_one(QMGR_MESSAGE *m, struct qmgr_rcpt *r,
		 const struct deliver_status *in)
{
	struct deliver_status st = *in;

	if (st.action == DELIVER_BOUNCED && m->qmgr->soft_bounce) {
		st.action = DELIVER_DEFERRED;
		st.dsn[0] = '4';
	}
	switch (st.action) {
	case DELIVER_SENT:
		if (r->notify & REC_NOTIFY_SUCCESS)
			(void)qmgr_bounce_log(m, "trace", r, &st);
		if (rec_mark_done(m->fd, r->offset) < 0)
			msg_warn("%s: mark %s done: %m", m->queue_id, r->addr);
		r->state = QMGR_RCPT_DONE;
		m->nsent++;
		return;
	case DELIVER_BOUNCED:
		if (qmgr_bounce_log(m, "bounce", r, &st) == 0) {
			if (rec_mark_done(m->fd, r->offset) < 0)
				msg_warn("%s: mark %s done: %m", m->queue_id,
					 r->addr);
			r->state = QMGR_RCPT_DONE;
			m->nbounced++;
			return;
		}
		/* Not logged: keep it and bounce on a later attempt. */
		memcpy(st.dsn, "4.3.0", sizeof("4.3.0"));
		st.action = DELIVER_DEFERRED;
		break;
	case DELIVER_DEFERRED:
		(void)qmgr_bounce_log(m, "defer", r, &st);
		break;
	}
	r->state = QMGR_RCPT_DEFERRED;
	memcpy(r->dsn, st.dsn, sizeof(r->dsn));
	myfree(r->reason);
	r->reason = mystrdup(st.reply ? st.reply : "");
}

void
qmgr_deliver_results(QMGR_ENTRY *e, const struct deliver_status *st)
{
	QMGR_MESSAGE *m = e->msg;
	bool	      site_failure = true;
	const char   *reason = NULL;
	size_t	      i;

	for (i = 0; i < e->n; i++) {
		if (st[i].action != DELIVER_DEFERRED
		    || (st[i].relay && strcmp(st[i].relay, "none") != 0))
			site_failure = false;
		else if (reason == NULL)
			reason = st[i].reply;
	}
	/* Feedback before the entry (and maybe the message) goes away. */
	qmgr_sched_feedback(e->queue, !site_failure, e->window_at_start,
			    reason);
	for (i = 0; i < e->n; i++)
		qmgr_deliver_one(m, m->rcpts + e->idx[i], st + i);
	qmgr_defer_entry_done(e);
}

void
qmgr_deliver_defer_entry(QMGR_ENTRY *e, const char *dsn, const char *reason)
{
	QMGR_MESSAGE	     *m = e->msg;
	struct deliver_status st;
	size_t		      i;

	deliver_status_set(&st, DELIVER_DEFERRED, dsn, reason, "none");
	for (i = 0; i < e->n; i++) {
		qmgr_deliver_log(m, m->rcpts + e->idx[i], &st,
				 e->queue->transport->name);
		qmgr_deliver_one(m, m->rcpts + e->idx[i], &st);
	}
	qmgr_defer_entry_done(e);
}

static void qmgr_deliver_timeout(EVENTS *ev, void *ctx);
static void qmgr_deliver_event(EVENTS *ev, int fd, int what, void *ctx);

static void
qmgr_deliver_stop(QMGR_ENTRY *e)
{
	QMGR *q = e->msg->qmgr;

	if (e->stream) {
		events_unwatch(q->events, ipc_stream_fd(e->stream));
		e->stream = ipc_stream_close(e->stream);
	}
	events_timer_cancel(q->events, qmgr_deliver_timeout, e);
}

static void qmgr_conn_expire(EVENTS *ev, void *ctx);

/* Idle pool: a connection closes after QMGR_CONN_IDLE_MS unused. */
static void
qmgr_conn_free(QMGR_CONN *c)
{
	QMGR	   *q = c->queue->transport->qmgr;
	QMGR_CONN **pp;

	for (pp = &c->queue->idle; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	events_unwatch(q->events, ipc_stream_fd(c->stream));
	events_timer_cancel(q->events, qmgr_conn_expire, c);
	ipc_stream_close(c->stream);
	myfree(c);
}

static void
qmgr_conn_expire(EVENTS *ev, void *ctx)
{
	(void)ev;
	qmgr_conn_free(ctx);
}

/* An idle connection is readable only when the transport went away. */
static void
qmgr_conn_event(EVENTS *ev, int fd, int what, void *ctx)
{
	(void)ev;
	(void)fd;
	(void)what;
	qmgr_conn_free(ctx);
}

static void
qmgr_conn_keep(QMGR_QUEUE *queue, IPC_STREAM *stream)
{
	QMGR	  *q = queue->transport->qmgr;
	QMGR_CONN *c = mycalloc(1, sizeof(*c));

	c->queue = queue;
	c->stream = stream;
	if (events_watch(q->events, ipc_stream_fd(stream), EVENTS_READ,
			 qmgr_conn_event, c)
	    < 0) {
		ipc_stream_close(stream);
		myfree(c);
		return;
	}
	c->next = queue->idle;
	queue->idle = c;
	events_timer(q->events, qmgr_conn_expire, c, QMGR_CONN_IDLE_MS);
}

void
qmgr_deliver_close_idle(QMGR_QUEUE *queue)
{
	QMGR	  *q = queue->transport->qmgr;
	QMGR_CONN *c;

	while ((c = queue->idle) != NULL) {
		queue->idle = c->next;
		events_unwatch(q->events, ipc_stream_fd(c->stream));
		events_timer_cancel(q->events, qmgr_conn_expire, c);
		ipc_stream_close(c->stream);
		myfree(c);
	}
}

/*
 * Send e->frame on a pooled connection or a new one and wait for the
 * reply.  0, or -1 with the reason in why (the caller defers the entry;
 * *transport_down says the transport's socket could not be reached).
 */
static int
qmgr_deliver_send(QMGR *q, QMGR_ENTRY *e, VSTR *why, bool *transport_down)
{
	QMGR_TRANSPORT *t = e->queue->transport;
	QMGR_CONN      *c;
	char		path[QMGR_PATH_MAX + QMGR_TRANSPORT_NAME_MAX];
	int		fd;

	*transport_down = false;
	while ((c = e->queue->idle) != NULL) {
		e->queue->idle = c->next;
		events_unwatch(q->events, ipc_stream_fd(c->stream));
		events_timer_cancel(q->events, qmgr_conn_expire, c);
		e->stream = c->stream;
		myfree(c);
		if (ipc_stream_send(e->stream, e->frame, QMGR_SEND_TIMEOUT_MS)
		    == 0) {
			e->reused = true;
			goto wait;
		}
		/* The transport process went away meanwhile: try another. */
		e->stream = ipc_stream_close(e->stream);
	}
	e->reused = false;
	snprintf(path, sizeof(path), "private/%s", t->name);
	if ((fd = ipc_connect_unix(path, QMGR_CONNECT_TIMEOUT_MS)) < 0) {
		vstr_sprintf(why,
			     "mail transport %s unavailable: connect to "
			     "%s: %m",
			     t->name, path);
		*transport_down = true;
		return -1;
	}
	e->stream = ipc_stream_open(fd);
	if (ipc_stream_send(e->stream, e->frame, QMGR_SEND_TIMEOUT_MS) < 0) {
		vstr_sprintf(why, "mail transport %s: send request: %m",
			     t->name);
		e->stream = ipc_stream_close(e->stream);
		return -1;
	}
wait:
	if (fd_set_nonblock(ipc_stream_fd(e->stream), true) < 0
	    || events_watch(q->events, ipc_stream_fd(e->stream), EVENTS_READ,
			    qmgr_deliver_event, e)
		   < 0) {
		vstr_sprintf(why, "mail transport %s: %m", t->name);
		e->stream = ipc_stream_close(e->stream);
		return -1;
	}
	events_timer(q->events, qmgr_deliver_timeout, e, DELIVER_TIMEOUT_MS);
	return 0;
}

static void
qmgr_deliver_timeout(EVENTS *ev, void *ctx)
{
	QMGR_ENTRY *e = ctx;
	VSTR	   *why = vstr_alloc(100);

	(void)ev;
	qmgr_deliver_stop(e);
	vstr_sprintf(why, "delivery via %s timed out",
		     e->queue->transport->name);
	msg_warn("%s: %s", e->msg->queue_id, VSTR_STR(why));
	qmgr_deliver_defer_entry(e, "4.4.2", VSTR_STR(why));
	vstr_free(why);
}

/* The reply (or the end of the connection) arrived. */
static void
qmgr_deliver_event(EVENTS *ev, int fd, int what, void *ctx)
{
	QMGR_ENTRY	      *e = ctx;
	QMGR		      *q = e->msg->qmgr;
	VSTR		      *why = vstr_alloc(100);
	struct deliver_status *st;
	IPC_STREAM	      *stream;
	bool		       down;
	ssize_t		       n;
	int		       rc;

	(void)fd;
	(void)what;
	n = ipc_stream_fill(e->stream);
	if (n < 0 && errno == EAGAIN) {
		vstr_free(why);
		return;
	}
	rc = ipc_stream_next(e->stream, e->frame, why);
	if (rc == 0 && n > 0) {
		vstr_free(why);
		return;
	}
	events_timer_cancel(ev, qmgr_deliver_timeout, e);
	events_unwatch(ev, ipc_stream_fd(e->stream));
	stream = e->stream;
	e->stream = NULL;
	/* A pooled connection closed before answering: the process left. */
	if (rc == 0 && e->reused && ipc_stream_buffered(stream) == 0) {
		ipc_stream_close(stream);
		if (qmgr_deliver_send(q, e, why, &down) < 0) {
			if (down)
				qmgr_sched_transport_fail(e->queue->transport,
							  VSTR_STR(why));
			qmgr_deliver_defer_entry(e, "4.3.0", VSTR_STR(why));
		}
		vstr_free(why);
		return;
	}
	if (rc == 1) {
		st = mycalloc(e->n, sizeof(*st));
		if (deliver_reply_decode(e->frame, st, e->n, why) == 0) {
			/* Keep the connection when more waits for this queue. */
			if (e->queue->head != NULL
			    && ipc_stream_buffered(stream) == 0)
				qmgr_conn_keep(e->queue, stream);
			else
				ipc_stream_close(stream);
			stream = NULL;
			qmgr_deliver_results(e, st);
		} else {
			msg_warn("%s: transport %s: bad reply: %s",
				 e->msg->queue_id, e->queue->transport->name,
				 VSTR_STR(why));
			vstr_sprintf(why, "transport %s failed",
				     e->queue->transport->name);
			qmgr_deliver_defer_entry(e, "4.3.0", VSTR_STR(why));
		}
		myfree(st);
	} else {
		if (rc == 0)
			vstr_strcpy(why, "connection closed");
		msg_warn("%s: transport %s: %s", e->msg->queue_id,
			 e->queue->transport->name, VSTR_STR(why));
		vstr_sprintf(why, "unknown mail transport error (%s)",
			     e->queue->transport->name);
		qmgr_deliver_defer_entry(e, "4.3.0", VSTR_STR(why));
	}
	if (stream)
		ipc_stream_close(stream);
	vstr_free(why);
}

void
qmgr_deliver_start(QMGR *q, QMGR_ENTRY *e)
{
	QMGR_MESSAGE	      *m = e->msg;
	QMGR_TRANSPORT	      *t = e->queue->transport;
	struct deliver_request req;
	struct deliver_rcpt   *rcpts;
	VSTR		      *why = vstr_alloc(100);
	bool		       down;
	size_t		       i;
	int		       rc;

	if (!qmgr_deliver_name_ok(t->name)) {
		vstr_sprintf(why, "bad mail transport name \"%.64s\"", t->name);
		qmgr_deliver_defer_entry(e, "4.3.5", VSTR_STR(why));
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.queue_name = "active";
	req.queue_id = m->queue_id;
	req.transport = t->name;
	req.nexthop = e->queue->nexthop;
	req.sender = m->sender;
	req.envid = m->envid;
	req.ret = m->ret;
	req.smtputf8 = m->smtputf8;
	req.requiretls = m->requiretls;
	req.body_type = m->body_type;
	req.arrival_sec = m->arrival_sec;
	req.arrival_usec = m->arrival_usec;
	req.message_size = m->size;
	req.content_offset = m->content_offset;
	req.qmgr_time = m->qmgr_time;
	req.client_name = m->client_name;
	req.client_addr = m->client_addr;
	rcpts = mycalloc(e->n, sizeof(*rcpts));
	for (i = 0; i < e->n; i++) {
		const struct qmgr_rcpt *r = m->rcpts + e->idx[i];

		rcpts[i].addr = r->addr;
		rcpts[i].orig = r->orig;
		rcpts[i].orcpt = r->orcpt;
		rcpts[i].notify = r->notify;
		rcpts[i].offset = (long long)r->offset;
	}
	req.rcpts = rcpts;
	req.nrcpt = e->n;
	e->frame = attr_alloc();
	rc = deliver_request_encode(&req, e->frame);
	myfree(rcpts);
	if (rc < 0) {
		qmgr_deliver_defer_entry(e, "4.3.5", "bad delivery request");
		goto out;
	}
	if (qmgr_deliver_send(q, e, why, &down) < 0) {
		/* Defer this entry first: the transport fail flushes queues. */
		qmgr_deliver_defer_entry(e, "4.3.0", VSTR_STR(why));
		if (down)
			qmgr_sched_transport_fail(t, VSTR_STR(why));
	}
out:
	vstr_free(why);
}
