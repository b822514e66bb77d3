/*
 * postscreen_dnsbl - postscreen's DNSBL/DNSWL queries through dnsblog.
 *
 * A request holds one query per distinct domain of the site list.  A
 * query is a non-blocking connection to private/$dnsblog_service_name
 * carrying one request frame out and one reply frame back; its states
 * are: connecting (retried every PSC_DNSBL_RETRY_MS while the listen
 * queue is full), sending (the frame, usually in one write), waiting
 * (for the reply) and over (closed, scored or counted 0).  A request
 * ends when no query is left pending or when its timer
 * (postscreen_dnsbl_timeout) fires; either way done() runs from a
 * zero-delay timer, so it is never called from inside
 * psc_dnsbl_request() and always from the event loop itself.
 *
 * Reply names (postscreen_dnsbl_reply_map) are looked up once per domain
 * when the module is created; the table stays open for names outside the
 * site list.
 *
 * Errors and ownership: see postscreen_dnsbl.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "postscreen/postscreen_dnsbl.h"
#include "util/attr.h"
#include "util/cfg.h"
#include "util/dict.h"
#include "util/dnsbl.h"
#include "util/events.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

#define PSC_DNSBL_RETRY_MS  10	 /* wait when dnsblog's queue is full */
#define PSC_DNSBL_REPLY_MAX 4096 /* bytes of one reply frame */

enum psc_dnsbl_qstate {
	PSC_DNSBL_Q_CONNECTING,
	PSC_DNSBL_Q_SENDING,
	PSC_DNSBL_Q_WAITING,
	PSC_DNSBL_Q_OVER,
};

struct psc_dnsbl_query {
	struct psc_dnsbl_req *req;
	size_t		      domain; /* index into the site list */
	enum psc_dnsbl_qstate state;
	int		      fd;  /* -1 unless connected */
	IPC_STREAM	     *st;  /* owns fd once reading */
	VSTR		     *out; /* the encoded request frame */
	size_t		      sent;
};

struct psc_dnsbl_req {
	PSC_DNSBL	       *d;
	char		       *addr;
	char		       *id;
	PSC_DNSBL_DONE		done;
	void		       *ctx;
	DNSBL_SCORE		score;
	size_t			pending;
	struct psc_dnsbl_query *q; /* one per domain */
	size_t			nq;
	struct psc_dnsbl_req   *prev;
	struct psc_dnsbl_req   *next;
};

struct PSC_DNSBL {
	EVENTS		     *ev;
	DNSBL		     *sites;
	char		    **reply_names; /* per domain */
	DICT		     *reply_map;   /* NULL when not configured */
	int		      timeout_ms;
	int		      timeout_s;
	char		     *path; /* private/$dnsblog_service_name */
	VSTR		     *name; /* psc_dnsbl_reply_name's result */
	VSTR		     *why;
	ATTR		     *in;
	unsigned long long    next_id;
	struct psc_dnsbl_req *head;
};

static void psc_dnsbl_event(EVENTS *ev, int fd, int what, void *ctx);
static void psc_dnsbl_finish_cb(EVENTS *ev, void *ctx);
static void psc_dnsbl_timeout_cb(EVENTS *ev, void *ctx);
static void psc_dnsbl_retry_cb(EVENTS *ev, void *ctx);

static const char *
psc_dnsbl_qdomain(const struct psc_dnsbl_query *q)
{
	return dnsbl_domain_at(q->req->d->sites, q->domain);
}

/* Close what the query holds; nothing else. */
static void
psc_dnsbl_query_close(struct psc_dnsbl_query *q)
{
	EVENTS *ev = q->req->d->ev;

	events_timer_cancel(ev, psc_dnsbl_retry_cb, q);
	if (q->fd >= 0) {
		events_unwatch(ev, q->fd);
		if (q->st != NULL)
			q->st = ipc_stream_close(q->st);
		else
			close(q->fd);
		q->fd = -1;
	}
}

/* The query is over (answered or failed): one fewer pending. */
static void
psc_dnsbl_query_end(struct psc_dnsbl_query *q)
{
	struct psc_dnsbl_req *r = q->req;

	if (q->state == PSC_DNSBL_Q_OVER)
		return;
	psc_dnsbl_query_close(q);
	q->state = PSC_DNSBL_Q_OVER;
	if (--r->pending == 0)
		events_timer(r->d->ev, psc_dnsbl_finish_cb, r, 0);
}

static void
psc_dnsbl_send(struct psc_dnsbl_query *q)
{
	PSC_DNSBL *d = q->req->d;
	ssize_t	   n;

	while (q->sent < VSTR_LEN(q->out)) {
		n = send(q->fd, VSTR_STR(q->out) + q->sent,
			 VSTR_LEN(q->out) - q->sent,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			q->state = PSC_DNSBL_Q_SENDING;
			if (events_watch(d->ev, q->fd, EVENTS_WRITE,
					 psc_dnsbl_event, q)
			    < 0) {
				msg_warn("dnsblog query for %s: watch: %m",
					 psc_dnsbl_qdomain(q));
				psc_dnsbl_query_end(q);
			}
			return;
		}
		if (n <= 0) {
			msg_warn("send to %s for %s: %m", d->path,
				 psc_dnsbl_qdomain(q));
			psc_dnsbl_query_end(q);
			return;
		}
		q->sent += (size_t)n;
	}
	q->state = PSC_DNSBL_Q_WAITING;
	q->st = ipc_stream_open(q->fd);
	ipc_stream_set_max(q->st, PSC_DNSBL_REPLY_MAX);
	if (events_watch(d->ev, q->fd, EVENTS_READ, psc_dnsbl_event, q) < 0) {
		msg_warn("dnsblog query for %s: watch: %m",
			 psc_dnsbl_qdomain(q));
		psc_dnsbl_query_end(q);
	}
}

static void
psc_dnsbl_connect(struct psc_dnsbl_query *q)
{
	PSC_DNSBL *d = q->req->d;

	q->state = PSC_DNSBL_Q_CONNECTING;
	/* Unix sockets connect at once or not at all: timeout 0. */
	if ((q->fd = ipc_connect_unix(d->path, 0)) < 0) {
		if (errno == ETIMEDOUT || errno == EAGAIN) {
			/* The listen queue is full: dnsblog is busy. */
			events_timer(d->ev, psc_dnsbl_retry_cb, q,
				     PSC_DNSBL_RETRY_MS);
			return;
		}
		msg_warn("connect to %s service: %m", d->path);
		psc_dnsbl_query_end(q);
		return;
	}
	if (fd_set_nonblock(q->fd, true) < 0) {
		msg_warn("connect to %s service: non-blocking mode: %m",
			 d->path);
		psc_dnsbl_query_end(q);
		return;
	}
	psc_dnsbl_send(q);
}

static void
psc_dnsbl_retry_cb(EVENTS *ev, void *ctx)
{
	(void)ev;
	psc_dnsbl_connect(ctx);
}

/* One reply frame is in d->in: check that it answers q, and score it. */
static void
psc_dnsbl_reply(struct psc_dnsbl_query *q)
{
	struct psc_dnsbl_req *r = q->req;
	PSC_DNSBL	     *d = r->d;
	const char	     *domain = attr_get_str(d->in, "domain");
	const char	     *addr = attr_get_str(d->in, "addr");
	const char	     *id = attr_get_str(d->in, "id");
	const char	     *result = attr_get_str(d->in, "result");

	if (domain == NULL || addr == NULL || id == NULL || result == NULL) {
		msg_warn("malformed reply from %s for %s: missing attributes",
			 d->path, psc_dnsbl_qdomain(q));
		return;
	}
	if (strcasecmp(domain, psc_dnsbl_qdomain(q)) != 0
	    || strcmp(addr, r->addr) != 0 || strcmp(id, r->id) != 0) {
		msg_warn("reply from %s for domain %s addr %s id %s does not "
			 "match the request for domain %s addr %s id %s",
			 d->path, domain, addr, id, psc_dnsbl_qdomain(q),
			 r->addr, r->id);
		return;
	}
	(void)dnsbl_score_reply(d->sites, &r->score, psc_dnsbl_qdomain(q),
				result);
}

static void
psc_dnsbl_read(struct psc_dnsbl_query *q)
{
	PSC_DNSBL *d = q->req->d;
	ssize_t	   n;
	int	   got;

	n = ipc_stream_fill(q->st);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n < 0) {
		msg_warn("read from %s for %s: %m", d->path,
			 psc_dnsbl_qdomain(q));
		psc_dnsbl_query_end(q);
		return;
	}
	got = ipc_stream_next(q->st, d->in, d->why);
	if (got == 1) {
		psc_dnsbl_reply(q);
	} else if (got < 0) {
		msg_warn("malformed reply from %s for %s: %s", d->path,
			 psc_dnsbl_qdomain(q), VSTR_STR(d->why));
	} else if (n > 0) {
		return; /* part of a frame: wait for the rest */
	} else {
		msg_warn("%s closed the connection without a reply for %s",
			 d->path, psc_dnsbl_qdomain(q));
	}
	psc_dnsbl_query_end(q);
}

static void
psc_dnsbl_event(EVENTS *ev, int fd, int what, void *ctx)
{
	struct psc_dnsbl_query *q = ctx;

	(void)ev;
	(void)fd;
	if (q->state == PSC_DNSBL_Q_SENDING) {
		if (what & (EVENTS_WRITE | EVENTS_ERROR))
			psc_dnsbl_send(q);
		return;
	}
	if (q->state == PSC_DNSBL_Q_WAITING
	    && (what & (EVENTS_READ | EVENTS_ERROR)))
		psc_dnsbl_read(q);
}

/* Release everything of r but call nobody; r is gone after this. */
static void
psc_dnsbl_req_free(struct psc_dnsbl_req *r)
{
	PSC_DNSBL *d = r->d;

	if (r->prev)
		r->prev->next = r->next;
	else if (d->head == r)
		d->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	events_timer_cancel(d->ev, psc_dnsbl_timeout_cb, r);
	events_timer_cancel(d->ev, psc_dnsbl_finish_cb, r);
	for (size_t i = 0; i < r->nq; i++) {
		psc_dnsbl_query_close(&r->q[i]);
		vstr_free(r->q[i].out);
	}
	myfree(r->q);
	myfree(r->addr);
	myfree(r->id);
	myfree(r);
}

static void
psc_dnsbl_finish_cb(EVENTS *ev, void *ctx)
{
	struct psc_dnsbl_req *r = ctx;
	PSC_DNSBL_DONE	      done = r->done;
	void		     *done_ctx = r->ctx;
	int		      total = r->score.total;
	const char	     *site = r->score.site;

	(void)ev;
	/*
	 * Gone before the call: done() may cancel other requests, start new
	 * ones or free the whole PSC_DNSBL.  site points into the site
	 * list, which lives as long as the PSC_DNSBL.
	 */
	psc_dnsbl_req_free(r);
	done(done_ctx, total, site);
}

static void
psc_dnsbl_timeout_cb(EVENTS *ev, void *ctx)
{
	struct psc_dnsbl_req *r = ctx;

	(void)ev;
	for (size_t i = 0; i < r->nq; i++) {
		if (r->q[i].state == PSC_DNSBL_Q_OVER)
			continue;
		msg_warn("dnsblog reply timeout %ds for %s (client %s)",
			 r->d->timeout_s, psc_dnsbl_qdomain(&r->q[i]), r->addr);
		psc_dnsbl_query_close(&r->q[i]);
		r->q[i].state = PSC_DNSBL_Q_OVER;
	}
	r->pending = 0;
	events_timer(r->d->ev, psc_dnsbl_finish_cb, r, 0);
}

struct psc_dnsbl_req *
psc_dnsbl_request(PSC_DNSBL *d, const char *addr, PSC_DNSBL_DONE done,
		  void *ctx)
{
	struct psc_dnsbl_req *r = mycalloc(1, sizeof(*r));
	ATTR		     *req = attr_alloc();
	VSTR		     *id = vstr_alloc(24);

	r->d = d;
	r->addr = mystrdup(addr);
	vstr_sprintf(id, "%llu", ++d->next_id);
	r->id = vstr_export(id);
	r->done = done;
	r->ctx = ctx;
	dnsbl_score_init(&r->score);
	r->nq = dnsbl_domain_count(d->sites);
	r->q = mycalloc(r->nq ? r->nq : 1, sizeof(*r->q));
	r->pending = r->nq;
	r->next = d->head;
	if (d->head)
		d->head->prev = r;
	d->head = r;
	for (size_t i = 0; i < r->nq; i++) {
		r->q[i].req = r;
		r->q[i].domain = i;
		r->q[i].fd = -1;
		r->q[i].out = vstr_alloc(128);
		attr_reset(req);
		attr_put_str(req, "domain", dnsbl_domain_at(d->sites, i));
		attr_put_str(req, "addr", addr);
		attr_put_str(req, "id", r->id);
		attr_encode(req, r->q[i].out);
	}
	attr_free(req);
	events_timer(d->ev, psc_dnsbl_timeout_cb, r, d->timeout_ms);
	/* Queries may end at once (dnsblog down); done() comes later. */
	for (size_t i = 0; i < r->nq; i++)
		psc_dnsbl_connect(&r->q[i]);
	if (r->nq == 0)
		events_timer(d->ev, psc_dnsbl_finish_cb, r, 0);
	return r;
}

void
psc_dnsbl_cancel(PSC_DNSBL *d, struct psc_dnsbl_req *r)
{
	if (r == NULL)
		return;
	if (r->d != d)
		msg_panic("psc_dnsbl_cancel: request of another PSC_DNSBL");
	psc_dnsbl_req_free(r);
}

/*
 * A configuration error: release what create() holds so far, then die.
 * The message is copied first because why goes with the rest (a test's
 * fatal hook leaves msg_fatal by longjmp, so nothing may be left behind);
 * a reason longer than the buffer is cut, which only shortens the log.
 */
static _Noreturn void
psc_dnsbl_config_fatal(const char *param, VSTR *why, DNSBL *sites)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", VSTR_STR(why));
	vstr_free(why);
	dnsbl_free(sites);
	msg_fatal("%s: %s", param, msg);
}

PSC_DNSBL *
psc_dnsbl_create(const CFG *cfg, EVENTS *ev)
{
	const char *map = cfg_get_str(cfg, "postscreen_dnsbl_reply_map");
	long long   secs = cfg_get_time(cfg, "postscreen_dnsbl_timeout");
	VSTR	   *why = vstr_alloc(64);
	DNSBL	   *sites;
	DICT	   *reply_map = NULL;
	PSC_DNSBL  *d;
	size_t	    n;

	/* Everything that can fail comes before d exists. */
	sites = dnsbl_parse(cfg_get_str(cfg, "postscreen_dnsbl_sites"), why);
	if (sites == NULL)
		psc_dnsbl_config_fatal("postscreen_dnsbl_sites", why, NULL);
	if (map != NULL && *map != 0
	    && (reply_map = dict_open(map, DICT_FLAG_FOLD, why)) == NULL)
		psc_dnsbl_config_fatal("postscreen_dnsbl_reply_map", why,
				       sites);
	d = mycalloc(1, sizeof(*d));
	d->ev = ev;
	d->why = why;
	d->sites = sites;
	d->reply_map = reply_map;
	d->name = vstr_alloc(64);
	d->in = attr_alloc();
	d->timeout_s = (int)(secs > 0 && secs <= 3600 ? secs : 10);
	d->timeout_ms = d->timeout_s * 1000;
	vstr_sprintf(d->name, "private/%s",
		     cfg_get_str(cfg, "dnsblog_service_name"));
	d->path = mystrdup(VSTR_STR(d->name));
	n = dnsbl_domain_count(d->sites);
	d->reply_names = mycalloc(n ? n : 1, sizeof(*d->reply_names));
	for (size_t i = 0; i < n; i++) {
		const char *domain = dnsbl_domain_at(d->sites, i);
		const char *value = NULL;

		if (d->reply_map != NULL
		    && dict_lookup(d->reply_map, domain, &value) != 1)
			value = NULL;
		d->reply_names[i] = mystrdup(value ? value : domain);
	}
	return d;
}

bool
psc_dnsbl_enabled(const PSC_DNSBL *d)
{
	return d != NULL && dnsbl_domain_count(d->sites) > 0;
}

const char *
psc_dnsbl_reply_name(PSC_DNSBL *d, const char *site)
{
	const char *value;

	for (size_t i = 0; i < dnsbl_domain_count(d->sites); i++)
		if (strcasecmp(dnsbl_domain_at(d->sites, i), site) == 0)
			return d->reply_names[i];
	if (d->reply_map != NULL
	    && dict_lookup(d->reply_map, site, &value) == 1)
		vstr_strcpy(d->name, value);
	else
		vstr_strcpy(d->name, site);
	return VSTR_STR(d->name);
}

void
psc_dnsbl_free(PSC_DNSBL *d)
{
	if (d == NULL)
		return;
	while (d->head != NULL)
		psc_dnsbl_req_free(d->head);
	for (size_t i = 0; i < dnsbl_domain_count(d->sites); i++)
		myfree(d->reply_names[i]);
	myfree(d->reply_names);
	dict_close(d->reply_map);
	dnsbl_free(d->sites);
	myfree(d->path);
	vstr_free(d->name);
	vstr_free(d->why);
	attr_free(d->in);
	myfree(d);
}
