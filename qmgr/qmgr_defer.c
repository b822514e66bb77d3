/*
 * qmgr_defer - the end of one delivery attempt of a message.
 *
 * When the last entry of a message is finished:
 *  - recipients still deferred and the message too old: expire them
 *    (qmgr_bounce.c) so that nothing is left pending;
 *  - nothing pending: send the bounce and trace notices from their logs
 *    (a flush that fails keeps the file and tries again after a backoff),
 *    remove the defer log, unlink the queue file and log "removed";
 *  - otherwise fdatasync the recipient marks once, maybe send a delay
 *    warning, then move the file to deferred/X/<id> with its mtime set
 *    to the next attempt time.
 *
 * Backoff: the next attempt comes after the message's age (time since
 * arrival), bounded by minimal_backoff_time and maximal_backoff_time, so
 * the interval roughly doubles with each attempt, as with Postfix, which
 * also keeps the next attempt time in the deferred file's mtime.
 *
 * Errors: logged with the queue ID; a file that cannot be moved stays in
 * active/ and is taken up again when qmgr restarts.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "util/bounce_client.h"
#include "util/msg.h"
#include "util/mymalloc.h"

long long
qmgr_defer_backoff(const QMGR *q, long long age)
{
	if (age < q->min_backoff)
		return q->min_backoff;
	if (age > q->max_backoff)
		return q->max_backoff;
	return age;
}

void
qmgr_defer_entry_done(QMGR_ENTRY *e)
{
	QMGR_MESSAGE *m = e->msg;
	QMGR_QUEUE   *queue = e->queue;

	if (e->in_flight) {
		queue->busy--;
		queue->transport->busy--;
	}
	qmgr_entry_free(e);
	qmgr_sched_kick(m->qmgr);
	if (--m->busy == 0)
		qmgr_defer_message_done(m);
}

/* Remove a finished message; 0, or -1 when a notice could not be sent. */
static int
qmgr_defer_remove(QMGR_MESSAGE *m)
{
	char  path[QMGR_PATH_MAX];
	VSTR *log_path;

	if (qmgr_bounce_flush(m, BOUNCE_FLUSH_BOUNCE, "bounce") < 0
	    || qmgr_bounce_flush(m, BOUNCE_FLUSH_TRACE, "trace") < 0)
		return -1;
	log_path = vstr_alloc(64);
	if (bounce_log_path(log_path, "defer", m->queue_id) == 0
	    && unlink(VSTR_STR(log_path)) < 0 && errno != ENOENT)
		msg_warn("%s: remove %s: %m", m->queue_id, VSTR_STR(log_path));
	vstr_free(log_path);
	snprintf(path, sizeof(path), "active/%s", m->queue_id);
	if (unlink(path) < 0) {
		msg_warn("%s: remove %s: %m", m->queue_id, path);
		return 0;
	}
	msg_info("%s: removed", m->queue_id);
	return 0;
}

void
qmgr_defer_message_done(QMGR_MESSAGE *m)
{
	QMGR	 *q = m->qmgr;
	long long now = qmgr_now();
	size_t	  pending = 0;
	size_t	  i;

	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpts[i].state != QMGR_RCPT_DONE)
			pending++;
	if (pending && qmgr_bounce_expired(m, now)
	    && qmgr_bounce_expire(m) == 0)
		pending = 0;
	/*
	 * A file that is about to be unlinked needs no durable marks: if the
	 * unlink is lost, the worst case is a repeated delivery, which the
	 * queue contract allows.  A file that stays must keep its marks.
	 */
	if (pending == 0 && qmgr_defer_remove(m) == 0)
		goto done;
	if (fdatasync(m->fd) < 0)
		msg_warn("%s: fdatasync: %m", m->queue_id);
	if (pending)
		qmgr_bounce_warn(m, now);
	(void)qmgr_queue_move_deferred(
	    q, m->queue_id, m->fd,
	    now + qmgr_defer_backoff(q, now - m->arrival_sec));
done:
	qmgr_message_free(m);
	qmgr_queue_request_scan(q);
}
