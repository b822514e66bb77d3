/*
 * bounce_notify - turn a per-message log into a delivery status
 * notification and inject it through cleanup.
 *
 * Who gets what (Postfix semantics):
 *
 *	failed, sender S	DSN to S; a copy of the headers to
 *				bounce_notice_recipient when notify_classes
 *				has "bounce"
 *	failed, sender <>	a double bounce to 2bounce_notice_recipient
 *				when notify_classes has "2bounce", else the
 *				notice is logged and dropped
 *	failed, sender is	dropped (a bounce of a double bounce)
 *	double_bounce_sender
 *	delayed, sender S	delay warning to S
 *	delayed, sender <>	to delay_notice_recipient when notify_classes
 *				has "delay", else dropped
 *	success, sender S	success report to S; never to <>
 *
 * Every notification is sent with the null sender, except copies for
 * the postmaster, which use double_bounce_sender so that a failure of
 * one is dropped instead of looping.  Recipients whose NOTIFY excludes
 * the kind of notification are left out.  The bounce and trace logs are
 * removed once the notification is committed; the defer log stays (it
 * holds the delay reasons that postelqueue shows).  A message received
 * with REQUIRETLS (A requiretls=yes) gets notifications that return only
 * its header section and are themselves queued with REQUIRETLS (RFC 8689
 * 4.3).
 *
 * Errors: 0, or -1 with why (the queue file cannot be read, cleanup
 * failed): the log is kept, and qmgr asks again later.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bounce/bounce.h"
#include "util/addr.h"
#include "util/bounce_client.h"
#include "util/cleanup_client.h"
#include "util/dsn.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/qid.h"
#include "util/rec.h"
#include "util/safe_file.h"
#include "util/strutil.h"

#define BOUNCE_REC_MAX (4 * 1024 * 1024) /* largest record read */

/* What the queue file tells about the original message. */
struct bounce_msg {
	VSTR	 *sender;
	VSTR	 *envid;
	bool	  has_envid;
	int	  ret;
	bool	  requiretls; /* A requiretls=yes: RFC 8689 4.3 */
	long long arrival;
	VSTR	 *content; /* at most size_limit + 1 bytes */
	VSTR	 *done;	   /* "\n"-separated done recipients */
};

/* The log, reduced to the latest entry per recipient, in order. */
struct bounce_list {
	struct dsn_rcpt *rcpts;
	char	       **strings; /* everything the rcpts point to */
	int		*notify;
	size_t		 count, cap, nstrings, strcap;
};

static const char *
bounce_keep(struct bounce_list *l, const char *s)
{
	if (s == NULL)
		return NULL;
	if (l->nstrings == l->strcap) {
		l->strcap = l->strcap ? 2 * l->strcap : 32;
		l->strings = myrealloc(l->strings,
				       l->strcap * sizeof(*l->strings));
	}
	return l->strings[l->nstrings++] = mystrdup(s);
}

static void
bounce_list_add(void *ctx, const struct bounce_log_entry *e)
{
	struct bounce_list *l = ctx;
	struct dsn_rcpt	   *r = NULL;
	size_t		    i;

	/* The latest entry for a recipient replaces earlier ones. */
	for (i = 0; i < l->count; i++)
		if (strcmp(l->rcpts[i].addr, e->rcpt) == 0) {
			r = &l->rcpts[i];
			break;
		}
	if (r == NULL) {
		if (l->count == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 8;
			l->rcpts = myrealloc(l->rcpts,
					     l->cap * sizeof(*l->rcpts));
			l->notify = myrealloc(l->notify,
					      l->cap * sizeof(*l->notify));
		}
		i = l->count++;
		r = &l->rcpts[i];
	}
	memset(r, 0, sizeof(*r));
	l->notify[i] = e->notify;
	r->addr = bounce_keep(l, e->rcpt);
	r->orig = bounce_keep(l, e->orig);
	r->orcpt = bounce_keep(l, e->orcpt);
	r->action = bounce_keep(l, e->action);
	r->status = bounce_keep(l, e->dsn);
	r->remote_mta = bounce_keep(l, e->remote_mta);
	r->diag_type = bounce_keep(l, e->diag_type);
	r->reply = bounce_keep(l, e->reply);
	r->last_attempt = e->time;
}

static void
bounce_list_free(struct bounce_list *l)
{
	size_t i;

	for (i = 0; i < l->nstrings; i++)
		myfree(l->strings[i]);
	myfree(l->strings);
	myfree(l->rcpts);
	myfree(l->notify);
}

/* Drop recipients whose NOTIFY excludes this kind of notice. */
static void
bounce_list_filter(struct bounce_list *l, int kind)
{
	int    want = kind == BOUNCE_FLUSH_DELAY   ? REC_NOTIFY_DELAY
		      : kind == BOUNCE_FLUSH_TRACE ? REC_NOTIFY_SUCCESS
						   : REC_NOTIFY_FAILURE;
	size_t i, j = 0;

	for (i = 0; i < l->count; i++) {
		/* Unset NOTIFY means failures (and delays) are reported. */
		if (l->notify[i] == 0 ? kind != BOUNCE_FLUSH_TRACE
				      : (l->notify[i] & want) != 0) {
			l->rcpts[j] = l->rcpts[i];
			l->notify[j] = l->notify[i];
			j++;
		}
	}
	l->count = j;
}

/*
 * A delay warning leaves out recipients that were delivered (or
 * bounced) after they were deferred: their defer entries stay in the
 * log, but their queue file record is 'D' now.
 */
static void
bounce_list_drop_done(struct bounce_list *l, const VSTR *done)
{
	const char *p, *nl, *end = VSTR_STR(done) + VSTR_LEN(done);
	size_t	    i, j = 0, len;
	bool	    is_done;

	for (i = 0; i < l->count; i++) {
		is_done = false;
		len = strlen(l->rcpts[i].addr);
		for (p = VSTR_STR(done); !is_done && p < end; p = nl + 1) {
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				nl = end;
			is_done = (size_t)(nl - p) == len
				  && memcmp(p, l->rcpts[i].addr, len) == 0;
		}
		if (!is_done) {
			l->rcpts[j] = l->rcpts[i];
			l->notify[j] = l->notify[i];
			j++;
		}
	}
	l->count = j;
}

/* queue_name/queue_id, or deferred/X/queue_id. */
static int
bounce_queue_path(VSTR *path, const char *queue_name, const char *qid)
{
	char hash[QID_HASH_LEN + 1];

	if (!qid_valid(qid) || *queue_name == 0
	    || strchr(queue_name, '/') != NULL || *queue_name == '.')
		return -1;
	if (strcmp(queue_name, "deferred") == 0)
		vstr_sprintf(path, "%s/%s/%s", queue_name,
			     qid_hash_dir(qid, hash), qid);
	else
		vstr_sprintf(path, "%s/%s", queue_name, qid);
	return 0;
}

static int
bounce_read_message(const char *path, size_t limit, struct bounce_msg *m,
		    VSTR *why)
{
	REC_READER  *r;
	REC_CONTENT *c;
	VSTR	    *data = vstr_alloc(1024);
	long long    sec;
	int	     fd, type, got;
	size_t	     room;

	if ((fd = safe_open_read(path)) < 0) {
		vstr_sprintf(why, "open %s: %s", path, strerror(errno));
		vstr_free(data);
		return -1;
	}
	r = rec_reader_create(fd, 0);
	while ((got = rec_get(r, &type, data, BOUNCE_REC_MAX)) > 0) {
		switch (type) {
		case REC_TYPE_TIME:
			if (sscanf(VSTR_STR(data), "%lld", &sec) == 1)
				m->arrival = sec;
			break;
		case REC_TYPE_FROM:
			vstr_strcpy(m->sender, VSTR_STR(data));
			break;
		case REC_TYPE_ENVID:
			vstr_strcpy(m->envid, VSTR_STR(data));
			m->has_envid = true;
			break;
		case REC_TYPE_RET:
			m->ret = strcmp(VSTR_STR(data), "HDRS") == 0
				     ? ADDR_RET_HDRS
				     : ADDR_RET_FULL;
			break;
		case REC_TYPE_ATTR:
			if (strcmp(VSTR_STR(data), "requiretls=yes") == 0)
				m->requiretls = true;
			break;
		case REC_TYPE_DONE:
			vstr_memcat(m->done, VSTR_STR(data), VSTR_LEN(data));
			vstr_addch(m->done, '\n');
			break;
		}
		/* The content is read below, prepended fields first. */
		if (type == REC_TYPE_MESG)
			break;
	}
	if (got < 0)
		vstr_sprintf(why, "read %s: %s", path,
			     errno == EBADMSG ? rec_reader_why(r)
					      : strerror(errno));
	rec_reader_free(r);
	if (got > 0) {
		c = rec_content_create(fd, -1);
		while ((got = rec_content_get(c, &type, data, BOUNCE_REC_MAX))
		       > 0) {
			room = limit + 1 - VSTR_LEN(m->content);
			if (room > 0)
				vstr_memcat(m->content, VSTR_STR(data),
					    VSTR_LEN(data) < room
						? VSTR_LEN(data)
						: room);
		}
		if (got < 0)
			vstr_sprintf(why, "read %s: %s", path,
				     errno == EBADMSG ? rec_content_why(c)
						      : strerror(errno));
		rec_content_free(c);
	}
	close(fd);
	vstr_free(data);
	return got < 0 ? -1 : 0;
}

static bool
bounce_class(const BOUNCE_CONF *conf, const char *name)
{
	char *copy = mystrdup(conf->notify_classes), *cp = copy, *tok;
	bool  found = false;

	while (!found && (tok = str_token(&cp, STR_SEP_LIST)) != NULL)
		found = strcasecmp(tok, name) == 0;
	myfree(copy);
	return found;
}

static bool
bounce_is_double_bounce_sender(const BOUNCE_CONF *conf, const char *sender)
{
	const char *at = strchr(conf->double_bounce_sender, '@');
	size_t	    len = at ? (size_t)(at - conf->double_bounce_sender)
			     : strlen(conf->double_bounce_sender);

	/* The qualified address, or the bare local part (unqualified). */
	return strcasecmp(sender, conf->double_bounce_sender) == 0
	       || (strncasecmp(sender, conf->double_bounce_sender, len) == 0
		   && sender[len] == 0);
}

/* Inject one notification; 0 and the new queue ID, or -1 + why. */
static int
bounce_inject(const BOUNCE_CONF *conf, const char *env_sender, const char *to,
	      bool requiretls, const VSTR *text, char *new_qid, size_t qidlen,
	      VSTR *why)
{
	struct cleanup_rcpt rcpt = { .addr = to };
	struct cleanup_req  req = {
		 .flags = CLEANUP_FLAG_SIGN, /* our own DSNs are signed */
		 .origin = "bounce",
		 .sender = env_sender,
		 .ret = ADDR_RET_NONE,
		 .body_type = ADDR_BODY_8BITMIME,
		 .requiretls = requiretls,
		 .rcpts = &rcpt,
		 .nrcpt = 1,
	};
	struct cleanup_result res;
	CLEANUP_CLIENT	     *cc;

	if ((cc = cleanup_begin(conf->cfg, &req, why)) == NULL)
		return -1;
	cleanup_write(cc, VSTR_STR(text), VSTR_LEN(text));
	if (cleanup_finish(cc, &res) < 0
	    || (res.status != CLEANUP_OK && res.status != CLEANUP_DISCARDED)) {
		vstr_sprintf(why, "cleanup: %s", res.reply);
		return -1;
	}
	snprintf(new_qid, qidlen, "%s", res.queue_id);
	return 0;
}

static int
bounce_send(const BOUNCE_CONF *conf, struct dsn_request *dr,
	    const char *env_sender, const char *who, const char *qid, VSTR *why)
{
	VSTR *text = vstr_alloc(4096);
	VSTR *boundary = vstr_alloc(128);
	char  new_qid[64];
	int   ret;

	vstr_sprintf(boundary, "%s.%lld/%s", qid, dr->now, conf->myhostname);
	dr->boundary = VSTR_STR(boundary);
	dsn_build(text, dr);
	ret = bounce_inject(conf, env_sender, dr->to, dr->requiretls, text,
			    new_qid, sizeof(new_qid), why);
	if (ret == 0)
		msg_info("%s: %s %s notification: %s", qid, who,
			 dr->kind == DSN_KIND_FAILED	? "non-delivery"
			 : dr->kind == DSN_KIND_DELAYED ? "delay"
							: "delivery status",
			 new_qid);
	vstr_free(text);
	vstr_free(boundary);
	return ret;
}

/* Decide who gets the notice and send it (and the postmaster copy). */
static int
bounce_notify(const BOUNCE_CONF *conf, int kind, const char *qid,
	      struct bounce_msg *m, const struct bounce_list *l, VSTR *why)
{
	const char	  *sender = VSTR_STR(m->sender);
	bool		   null_sender = *sender == 0;
	struct dsn_request dr = {
		.kind = kind == BOUNCE_FLUSH_DELAY   ? DSN_KIND_DELAYED
			: kind == BOUNCE_FLUSH_TRACE ? DSN_KIND_SUCCESS
						     : DSN_KIND_FAILED,
		.myhostname = conf->myhostname,
		.mail_name = conf->mail_name,
		.queue_id = qid,
		.sender = sender,
		.envid = m->has_envid ? VSTR_STR(m->envid) : NULL,
		.arrival = m->arrival,
		.now = (long long)time(NULL),
		/*
		 * RFC 8689 4.3: a REQUIRETLS message comes back as if RET=HDRS
		 * (never its body), and the notice itself requires TLS.
		 */
		.ret = m->requiretls ? ADDR_RET_HDRS : m->ret,
		.requiretls = m->requiretls,
		.content = VSTR_STR(m->content),
		.content_len = VSTR_LEN(m->content),
		.size_limit = conf->size_limit,
		.rcpts = l->rcpts,
		.nrcpt = l->count,
	};

	if (kind == BOUNCE_FLUSH_DELAY && conf->max_lifetime > 0)
		dr.will_retry_until = m->arrival + conf->max_lifetime;
	if (l->count == 0)
		return 0;
	if (bounce_is_double_bounce_sender(conf, sender)) {
		msg_info("%s: sender is %s: notification discarded", qid,
			 sender);
		return 0;
	}
	if (!null_sender) {
		dr.to = sender;
		if (bounce_send(conf, &dr, "", "sender", qid, why) < 0)
			return -1;
		if (kind == BOUNCE_FLUSH_BOUNCE
		    && bounce_class(conf, "bounce")) {
			dr.to = conf->bounce_notice_recipient;
			dr.postmaster_copy = true;
			if (bounce_send(conf, &dr, conf->double_bounce_sender,
					"postmaster", qid, why)
			    < 0)
				msg_warn("%s: postmaster copy: %s", qid,
					 VSTR_STR(why));
		}
		return 0;
	}
	if (kind == BOUNCE_FLUSH_BOUNCE && bounce_class(conf, "2bounce")) {
		dr.to = conf->twobounce_notice_recipient;
		dr.postmaster_copy = true;
		return bounce_send(conf, &dr, conf->double_bounce_sender,
				   "postmaster", qid, why);
	}
	if (kind == BOUNCE_FLUSH_DELAY && bounce_class(conf, "delay")) {
		dr.to = conf->delay_notice_recipient;
		dr.postmaster_copy = true;
		return bounce_send(conf, &dr, conf->double_bounce_sender,
				   "postmaster", qid, why);
	}
	msg_info("%s: sender is the null sender: %s notification discarded",
		 qid,
		 kind == BOUNCE_FLUSH_BOUNCE  ? "non-delivery"
		 : kind == BOUNCE_FLUSH_DELAY ? "delay"
					      : "delivery status");
	return 0;
}

int
bounce_do_flush(const BOUNCE_CONF *conf, const ATTR *req, VSTR *why)
{
	const char	  *qname = attr_get_str(req, "queue_name");
	const char	  *qid = attr_get_str(req, "queue_id");
	struct bounce_list list = { 0 };
	struct bounce_msg  msg = { 0 };
	VSTR		  *log = vstr_alloc(64), *qpath = vstr_alloc(64);
	const char	  *service;
	long long	   kind;
	int		   ret = -1;

	if (attr_get_int(req, "kind", &kind) < 0 || kind < BOUNCE_FLUSH_BOUNCE
	    || kind > BOUNCE_FLUSH_TRACE || qname == NULL || qid == NULL
	    || bounce_queue_path(qpath, qname, qid) < 0) {
		vstr_strcpy(why, "malformed flush request");
		goto out;
	}
	service = kind == BOUNCE_FLUSH_DELAY   ? BOUNCE_SERVICE_DEFER
		  : kind == BOUNCE_FLUSH_TRACE ? BOUNCE_SERVICE_TRACE
					       : BOUNCE_SERVICE_BOUNCE;
	bounce_log_path(log, service, qid);
	if (bounce_log_walk(VSTR_STR(log), bounce_list_add, &list, why) < 0)
		goto out;
	if (list.count == 0) {
		ret = 0; /* nothing was logged */
		goto out;
	}
	bounce_list_filter(&list, (int)kind);
	msg.sender = vstr_alloc(64);
	msg.envid = vstr_alloc(16);
	msg.content = vstr_alloc(4096);
	msg.done = vstr_alloc(64);
	if (bounce_read_message(VSTR_STR(qpath), conf->size_limit, &msg, why)
	    < 0)
		goto out;
	if (kind == BOUNCE_FLUSH_DELAY)
		bounce_list_drop_done(&list, msg.done);
	if (bounce_notify(conf, (int)kind, qid, &msg, &list, why) < 0)
		goto out;
	if (kind != BOUNCE_FLUSH_DELAY && unlink(VSTR_STR(log)) < 0
	    && errno != ENOENT)
		msg_warn("%s: remove %s: %m", qid, VSTR_STR(log));
	ret = 0;
out:
	bounce_list_free(&list);
	if (msg.sender) {
		vstr_free(msg.sender);
		vstr_free(msg.envid);
		vstr_free(msg.content);
		vstr_free(msg.done);
	}
	vstr_free(log);
	vstr_free(qpath);
	return ret;
}
