/*
 * qmgr_bounce - what qmgr asks of the bounce, defer and trace services
 * (util/bounce_client), and message expiry.
 *
 * Each delivery result that the sender may hear about is appended to the
 * message's log of that service before the recipient is marked done; the
 * notification is sent (flushed) when the message is finished.  A
 * message whose recipients are still deferred after maximal_queue_lifetime
 * (bounce_queue_lifetime for a bounce, sender <>) is expired: every
 * deferred recipient is logged as failed (its last 4.X.Y reason turned
 * into 5.X.Y), marked done and returned to the sender; so is a message
 * postelsuper -e marked (qmgr_message_force_expire).  A delay warning
 * (delay_warning_time, 0 = never) is sent once, at the first deferral at
 * or after that age: a message "was warned" when its previous deferral
 * (the deferred file's atime, set by qmgr_queue_move_deferred) already
 * came after that age.  A lost atime (crash while active) can at worst
 * repeat one warning.
 *
 * Errors: 0 / -1, with a warning logged naming the queue ID.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "util/bounce_client.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/rec.h"

int
qmgr_bounce_log(QMGR_MESSAGE *m, const char *service, const struct qmgr_rcpt *r,
		const struct deliver_status *st)
{
	struct deliver_rcpt dr;
	VSTR		   *why = vstr_alloc(100);
	int		    ret;

	dr.addr = r->addr;
	dr.orig = r->orig;
	dr.orcpt = r->orcpt;
	dr.notify = r->notify;
	dr.offset = (long long)r->offset;
	if ((ret = bounce_append(m->qmgr->cfg, service, m->queue_id, &dr, st,
				 why))
	    < 0)
		msg_warn("%s: %s service: append %s: %s", m->queue_id, service,
			 r->addr, VSTR_STR(why));
	else if (strcmp(service, "defer") == 0)
		qmgr_flush_add(m, r->addr);
	vstr_free(why);
	return ret;
}

/* Does the log of `service` exist for this message? */
static bool
qmgr_bounce_log_exists(const QMGR_MESSAGE *m, const char *service)
{
	VSTR *path = vstr_alloc(64);
	bool  exists;

	exists = bounce_log_path(path, service, m->queue_id) == 0
		 && access(VSTR_STR(path), F_OK) == 0;
	vstr_free(path);
	return exists;
}

int
qmgr_bounce_flush(QMGR_MESSAGE *m, int kind, const char *service)
{
	VSTR *why;
	int   ret;

	if (!qmgr_bounce_log_exists(m, service))
		return 0;
	why = vstr_alloc(100);
	if ((ret = bounce_flush(m->qmgr->cfg, kind, "active", m->queue_id, why))
	    < 0)
		msg_warn("%s: %s service: flush: %s", m->queue_id, service,
			 VSTR_STR(why));
	vstr_free(why);
	return ret;
}

bool
qmgr_bounce_expired(const QMGR_MESSAGE *m, long long now)
{
	const QMGR *q = m->qmgr;
	long long lifetime = *m->sender ? q->max_lifetime : q->bounce_lifetime;

	return m->force_expire || now - m->arrival_sec >= lifetime;
}

int
qmgr_bounce_expire(QMGR_MESSAGE *m)
{
	struct deliver_status st;
	char		      dsn[DELIVER_DSN_MAX];
	size_t		      i;
	int		      ret = 0;

	for (i = 0; i < m->nrcpt; i++) {
		struct qmgr_rcpt *r = m->rcpts + i;

		if (r->state != QMGR_RCPT_DEFERRED)
			continue;
		if (deliver_dsn_class(r->dsn) == 4) {
			memcpy(dsn, r->dsn, sizeof(dsn));
			dsn[0] = '5';
		} else {
			memcpy(dsn, "5.4.7", sizeof("5.4.7"));
		}
		deliver_status_set(&st, DELIVER_BOUNCED, dsn,
				   r->reason && *r->reason
				       ? r->reason
				       : "delivery time expired",
				   "none");
		if (qmgr_bounce_log(m, "bounce", r, &st) < 0) {
			ret = -1;
			continue;
		}
		if (rec_mark_done(m->fd, r->offset) < 0)
			msg_warn("%s: mark %s done: %m", m->queue_id, r->addr);
		r->state = QMGR_RCPT_DONE;
		m->nbounced++;
	}
	if (fdatasync(m->fd) < 0)
		msg_warn("%s: fdatasync: %m", m->queue_id);
	if (ret == 0)
		msg_info("%s: from=<%s>, status=expired, returned to sender",
			 m->queue_id, m->sender);
	return ret;
}

void
qmgr_bounce_warn(QMGR_MESSAGE *m, long long now)
{
	long long dwt = m->qmgr->delay_warning_time;
	bool	  wanted = false;
	size_t	  i;

	if (dwt <= 0 || now - m->arrival_sec < dwt
	    || m->prev_attempt >= m->arrival_sec + dwt)
		return;
	/* NOTIFY not given: Postfix's default warns; NEVER or no DELAY: not. */
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpts[i].state == QMGR_RCPT_DEFERRED
		    && (m->rcpts[i].notify == 0
			|| (m->rcpts[i].notify & REC_NOTIFY_DELAY)))
			wanted = true;
	if (wanted)
		(void)qmgr_bounce_flush(m, BOUNCE_FLUSH_DELAY, "defer");
}
