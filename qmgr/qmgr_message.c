/*
 * qmgr_message - read a queue file's envelope into memory and hand its
 * pending recipients to the destination queues.
 *
 * Only the envelope is read (records up to M); the content stays on disk
 * for the transports.  Done ('D') recipients are skipped, so a crash
 * never repeats them.  Every payload read is bounded by
 * QMGR_MESSAGE_REC_MAX; a file that breaks the record layout is reported
 * as corrupt (the caller moves it to corrupt/).
 *
 * Errors: qmgr_message_load returns NULL (with *corrupt telling whether
 * the file itself is bad) and logs why.  Ownership: a loaded message is
 * linked into q->messages and freed by qmgr_message_free().
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "util/addr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/rec.h"
#include "util/strutil.h"

#define QMGR_MESSAGE_REC_MAX (64 * 1024) /* envelope payload bound */

static void
qmgr_message_link(QMGR *q, QMGR_MESSAGE *m)
{
	m->next = q->messages;
	if (q->messages)
		q->messages->prev = m;
	q->messages = m;
	q->nmessages++;
	q->nrcpt_mem += (long long)m->nrcpt;
}

/* Parse "sec usec" of the T record. */
static int
qmgr_message_time(QMGR_MESSAGE *m, char *text)
{
	char *cp = text;
	char *sec = str_token(&cp, " ");
	char *usec = str_token(&cp, " ");

	if (sec == NULL || usec == NULL || str_to_ll(sec, &m->arrival_sec) < 0
	    || str_to_ll(usec, &m->arrival_usec) < 0 || m->arrival_usec < 0
	    || m->arrival_usec > 999999)
		return -1;
	return 0;
}

static void
qmgr_message_attr(QMGR_MESSAGE *m, const char *text)
{
	const char *eq = strchr(text, '=');
	const char *val;

	if (eq == NULL)
		return;
	val = eq + 1;
	if (strncmp(text, "client_name=", 12) == 0) {
		myfree(m->client_name);
		m->client_name = mystrdup(val);
	} else if (strncmp(text, "client_address=", 15) == 0) {
		myfree(m->client_addr);
		m->client_addr = mystrdup(val);
	} else if (strncmp(text, "filter=", 7) == 0) {
		/* The last one wins: cleanup writes at most one. */
		myfree(m->filter);
		m->filter = *val && strchr(val, ':') && *val != ':'
				? mystrdup(val)
				: NULL;
	} else if (strncmp(text, "body_type=", 10) == 0) {
		m->body_type = strcasecmp(val, "8BITMIME") == 0
				   ? ADDR_BODY_8BITMIME
				   : ADDR_BODY_7BIT;
	} else if (strncmp(text, "smtputf8=", 9) == 0) {
		m->smtputf8 = strcasecmp(val, "yes") == 0;
	} else if (strncmp(text, "requiretls=", 11) == 0) {
		m->requiretls = strcasecmp(val, "yes") == 0;
	}
}

/*
 * The extracted section's attributes: cleanup writes the content filter
 * route there (a body_checks FILTER is known only after the envelope).
 * Only A records matter here.
 */
static int
qmgr_message_extracted(QMGR_MESSAGE *m, REC_READER *r,
		       const struct rec_size *size, VSTR *buf)
{
	int type, rc;

	if (rec_reader_seek(r, size->extract_offset, REC_TYPE_XTRA) < 0)
		return -1;
	/*
	 * cleanup writes the route first, right after X: stop at the first
	 * record that is not an attribute, so the header fields prepended
	 * after it are not read here for every message.  A bad record
	 * further on is the content reader's to report: the transport
	 * defers the message with the reason (docs/QUEUE.md).
	 */
	while ((rc = rec_get(r, &type, buf, QMGR_MESSAGE_REC_MAX)) > 0) {
		if (type == REC_TYPE_ATTR)
			qmgr_message_attr(m, VSTR_STR(buf));
		else if (type != REC_TYPE_XTRA)
			break;
	}
	if (rc < 0 && msg_verbose)
		msg_info("%s: extracted section: %s", m->queue_id,
			 errno == EBADMSG ? rec_reader_why(r)
					  : strerror(errno));
	return 0;
}

/* Read the envelope; 0, or -1 (corrupt: EBADMSG, else an I/O errno). */
static int
qmgr_message_read(QMGR_MESSAGE *m)
{
	REC_READER     *r = rec_reader_create(m->fd, 0);
	VSTR	       *buf = vstr_alloc(256);
	struct rec_size size;
	char	       *orig = NULL, *orcpt = NULL;
	int		notify = 0;
	size_t		alloc = 0;
	int		type;
	int		ret = -1;
	int		rc;
	long long	v;

	for (;;) {
		if ((rc = rec_get(r, &type, buf, QMGR_MESSAGE_REC_MAX)) <= 0) {
			if (rc == 0) /* E before M: out of layout */
				errno = EBADMSG;
			if (errno == EBADMSG)
				msg_warn("%s: %s", m->queue_id,
					 rec_reader_why(r));
			else
				msg_warn("%s: read: %m", m->queue_id);
			break;
		}
		switch (type) {
		case REC_TYPE_SIZE:
			if (rec_size_parse(VSTR_STR(buf), VSTR_LEN(buf), &size)
			    < 0) {
				errno = EBADMSG;
				goto out;
			}
			m->content_offset = size.content_offset;
			m->size = size.message_size;
			m->total_rcpt = size.rcpt_count;
			continue;
		case REC_TYPE_TIME:
			if (qmgr_message_time(m, VSTR_STR(buf)) < 0) {
				msg_warn("%s: bad arrival time", m->queue_id);
				errno = EBADMSG;
				goto out;
			}
			continue;
		case REC_TYPE_FROM:
			m->sender = mystrdup(VSTR_STR(buf));
			continue;
		case REC_TYPE_ENVID:
			m->envid = mystrdup(VSTR_STR(buf));
			continue;
		case REC_TYPE_RET:
			m->ret = strcmp(VSTR_STR(buf), "HDRS") == 0
				     ? ADDR_RET_HDRS
				     : ADDR_RET_FULL;
			continue;
		case REC_TYPE_ATTR:
			qmgr_message_attr(m, VSTR_STR(buf));
			continue;
		case REC_TYPE_ORIG:
			myfree(orig);
			orig = mystrdup(VSTR_STR(buf));
			continue;
		case REC_TYPE_ORCPT:
			myfree(orcpt);
			orcpt = mystrdup(VSTR_STR(buf));
			continue;
		case REC_TYPE_NOTIFY:
			if (str_to_ll(VSTR_STR(buf), &v) == 0 && v >= 0
			    && v <= 15)
				notify = (int)v;
			continue;
		case REC_TYPE_DONE:
			orig = myfree(orig);
			orcpt = myfree(orcpt);
			notify = 0;
			continue;
		case REC_TYPE_RCPT:
			if (m->nrcpt == alloc) {
				alloc = alloc ? 2 * alloc : 8;
				m->rcpts = myrealloc(m->rcpts,
						     alloc * sizeof(*m->rcpts));
			}
			memset(m->rcpts + m->nrcpt, 0, sizeof(*m->rcpts));
			m->rcpts[m->nrcpt].addr = mystrdup(VSTR_STR(buf));
			m->rcpts[m->nrcpt].orig = orig;
			m->rcpts[m->nrcpt].orcpt = orcpt;
			m->rcpts[m->nrcpt].notify = notify;
			m->rcpts[m->nrcpt].offset = rec_reader_offset(r);
			m->nrcpt++;
			orig = orcpt = NULL;
			notify = 0;
			continue;
		case REC_TYPE_MESG:
			ret = m->sender ? 0 : -1;
			if (ret < 0) {
				msg_warn("%s: no sender record", m->queue_id);
				errno = EBADMSG;
			} else {
				ret = qmgr_message_extracted(m, r, &size, buf);
			}
			goto out;
		default:
			continue;
		}
	}
out:
	myfree(orig);
	myfree(orcpt);
	vstr_free(buf);
	rec_reader_free(r);
	return ret;
}

QMGR_MESSAGE *
qmgr_message_load(QMGR *q, const char *queue_id, bool *corrupt)
{
	QMGR_MESSAGE *m;
	char	      path[QMGR_PATH_MAX];
	struct stat   st;

	*corrupt = false;
	snprintf(path, sizeof(path), "active/%s", queue_id);
	m = mycalloc(1, sizeof(*m));
	m->qmgr = q;
	m->queue_id = mystrdup(queue_id);
	m->qmgr_time = qmgr_now();
	if ((m->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		msg_warn("%s: open %s: %m", queue_id, path);
		qmgr_message_free(m);
		return NULL;
	}
	if (qmgr_message_read(m) < 0) {
		*corrupt = errno == EBADMSG;
		qmgr_message_free(m);
		return NULL;
	}
	/* postelsuper -e marks a message with the owner execute bit. */
	if (fstat(m->fd, &st) == 0 && (st.st_mode & S_IXUSR))
		m->force_expire = true;
	msg_info("%s: from=<%s>, size=%lld, nrcpt=%lld (queue active)",
		 queue_id, m->sender, m->size, m->total_rcpt);
	qmgr_message_link(q, m);
	return m;
}

void
qmgr_message_free(QMGR_MESSAGE *m)
{
	QMGR  *q = m->qmgr;
	size_t i;

	if (m->prev || m->next || q->messages == m) {
		if (m->prev)
			m->prev->next = m->next;
		else
			q->messages = m->next;
		if (m->next)
			m->next->prev = m->prev;
		q->nmessages--;
		q->nrcpt_mem -= (long long)m->nrcpt;
	}
	if (m->fd >= 0)
		close(m->fd);
	for (i = 0; i < m->nrcpt; i++) {
		myfree(m->rcpts[i].addr);
		myfree(m->rcpts[i].orig);
		myfree(m->rcpts[i].orcpt);
		myfree(m->rcpts[i].reason);
	}
	myfree(m->rcpts);
	myfree(m->queue_id);
	myfree(m->sender);
	myfree(m->envid);
	myfree(m->client_name);
	myfree(m->client_addr);
	myfree(m->filter);
	vstr_free(m->flush_sites);
	myfree(m);
}

/*
 * The after-queue content filter takes every recipient: its transport
 * and next hop, or the recipient's domain when the next hop is empty
 * (as Postfix).  The filter re-injects the message, which is then routed
 * the usual way.
 */
static void
qmgr_message_filter_route(const char *filter, const char *addr,
			  struct qmgr_resolved *res)
{
	const char *at;

	(void)qmgr_resolve_split(filter, res->transport, res->nexthop);
	if (VSTR_LEN(res->nexthop) == 0 && (at = strrchr(addr, '@')) != NULL)
		vstr_strcpy(res->nexthop, at + 1);
}

/*
 * postelsuper -e: no delivery; every pending recipient is deferred with
 * "message is administratively expired", which qmgr_defer_message_done
 * turns into a bounce to the sender (qmgr_bounce_expired is true).
 */
static void
qmgr_message_force_expire(QMGR_MESSAGE *m)
{
	for (size_t i = 0; i < m->nrcpt; i++) {
		struct qmgr_rcpt *r = m->rcpts + i;

		if (r->state != QMGR_RCPT_TODO)
			continue;
		r->state = QMGR_RCPT_DEFERRED;
		memcpy(r->dsn, "4.7.0", sizeof("4.7.0"));
		myfree(r->reason);
		r->reason = mystrdup("message is administratively expired");
	}
	qmgr_defer_message_done(m);
}

/*
 * Resolve every pending recipient and put them into entries, grouped by
 * (transport, next hop), at most the transport's recipient limit each.
 * A resolver failure (a table could not be read) defers the recipient.
 */
void
qmgr_message_schedule(QMGR_MESSAGE *m)
{
	QMGR		     *q = m->qmgr;
	struct qmgr_resolved  res;
	QMGR_TRANSPORT	     *t;
	QMGR_QUEUE	     *queue;
	QMGR_ENTRY	    **open_entries;
	size_t		      nopen = 0;
	size_t		      i, j;
	QMGR_ENTRY	     *e;
	struct deliver_status st;

	if (m->force_expire) {
		qmgr_message_force_expire(m);
		return;
	}
	res.transport = vstr_alloc(32);
	res.nexthop = vstr_alloc(64);
	open_entries = mycalloc(m->nrcpt ? m->nrcpt : 1, sizeof(*open_entries));
	for (i = 0; i < m->nrcpt; i++) {
		struct qmgr_rcpt *r = m->rcpts + i;

		if (r->state != QMGR_RCPT_TODO)
			continue;
		if (m->filter) {
			qmgr_message_filter_route(m->filter, r->addr, &res);
		} else if (qmgr_resolve_from(q, m->sender, r->addr, &res) < 0) {
			deliver_status_set(&st, DELIVER_DEFERRED, "4.3.0",
					   "address resolver failure", "none");
			r->state = QMGR_RCPT_DEFERRED;
			qmgr_deliver_log(m, r, &st, "none");
			(void)qmgr_bounce_log(m, "defer", r, &st);
			continue;
		}
		t = qmgr_transport_find(q, VSTR_STR(res.transport));
		queue = qmgr_queue_find(t, VSTR_STR(res.nexthop));
		/* Same queue as an entry still filling up? */
		e = NULL;
		for (j = 0; j < nopen; j++) {
			if (open_entries[j]->queue == queue
			    && open_entries[j]->n < (size_t)t->rcpt_limit) {
				e = open_entries[j];
				break;
			}
		}
		if (e == NULL) {
			e = mycalloc(1, sizeof(*e));
			e->msg = m;
			e->queue = queue;
			e->idx = mycalloc((size_t)t->rcpt_limit,
					  sizeof(*e->idx));
			open_entries[nopen++] = e;
			m->busy++;
		}
		e->idx[e->n++] = i;
		r->state = QMGR_RCPT_BUSY;
	}
	/* Hold a reference: a dead queue may finish entries at once. */
	m->busy++;
	for (j = 0; j < nopen; j++)
		qmgr_entry_add(open_entries[j]->queue, open_entries[j]);
	myfree(open_entries);
	vstr_free(res.transport);
	vstr_free(res.nexthop);
	if (--m->busy == 0)
		qmgr_defer_message_done(m);
	else
		qmgr_sched_kick(q);
}
