/*
 * deliver_proto - delivery request/reply frames.  See deliver_proto.h for
 * the frame layout, error reporting and ownership.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "util/addr.h"
#include "util/deliver_proto.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/rec.h"

#define DELIVER_NAME_LEN 48 /* "rcpt.<i>.remote_mta" with room */

/* All REC_NOTIFY_* bits; anything else in a request is refused. */
#define DELIVER_NOTIFY_MASK \
	(REC_NOTIFY_NEVER | REC_NOTIFY_SUCCESS | REC_NOTIFY_FAILURE \
	 | REC_NOTIFY_DELAY)

static const char *const deliver_action_names[] = {
	[DELIVER_SENT] = "sent",
	[DELIVER_DEFERRED] = "deferred",
	[DELIVER_BOUNCED] = "bounced",
};

/* Format "<prefix>.<i>.<field>" into buf (always fits). */
static const char *
deliver_name(char *buf, size_t len, const char *prefix, size_t i,
	     const char *field)
{
	int n = snprintf(buf, len, "%s.%zu.%s", prefix, i, field);

	if (n < 0 || (size_t)n >= len)
		msg_panic("deliver_name: name too long: %s.%zu.%s", prefix, i,
			  field);
	return buf;
}

static void
deliver_why(VSTR *why, const char *fmt, const char *arg)
{
	if (why)
		vstr_sprintf(why, fmt, arg);
}

const char *
deliver_action_name(enum deliver_action action)
{
	if ((unsigned)action
	    >= sizeof(deliver_action_names) / sizeof(deliver_action_names[0]))
		return NULL;
	return deliver_action_names[action];
}

int
deliver_action_parse(const char *name, enum deliver_action *action)
{
	size_t i;

	for (i = 0;
	     i < sizeof(deliver_action_names) / sizeof(deliver_action_names[0]);
	     i++) {
		if (strcmp(name, deliver_action_names[i]) == 0) {
			*action = (enum deliver_action)i;
			return 0;
		}
	}
	return -1;
}

/* Count 1..3 digits at *cp and advance; -1 when there are none or more. */
static int
deliver_dsn_digits(const char **cp)
{
	int n = 0;

	while (isdigit((unsigned char)**cp)) {
		(*cp)++;
		if (++n > 3)
			return -1;
	}
	return n ? 0 : -1;
}

bool
deliver_dsn_valid(const char *dsn)
{
	const char *cp = dsn;

	if (dsn == NULL || (cp[0] != '2' && cp[0] != '4' && cp[0] != '5')
	    || cp[1] != '.')
		return false;
	cp += 2;
	if (deliver_dsn_digits(&cp) < 0 || *cp++ != '.')
		return false;
	if (deliver_dsn_digits(&cp) < 0 || *cp != 0)
		return false;
	return true;
}

int
deliver_dsn_class(const char *dsn)
{
	return deliver_dsn_valid(dsn) ? dsn[0] - '0' : -1;
}

/* Does the dsn class agree with the action (2 sent, 4 deferred, 5 bounced)? */
static bool
deliver_dsn_matches(enum deliver_action action, const char *dsn)
{
	switch (deliver_dsn_class(dsn)) {
	case 2:
		return action == DELIVER_SENT;
	case 4:
		return action == DELIVER_DEFERRED;
	case 5:
		return action == DELIVER_BOUNCED;
	default:
		return false;
	}
}

void
deliver_status_set(struct deliver_status *st, enum deliver_action action,
		   const char *dsn, const char *reply, const char *relay)
{
	size_t len = strlen(dsn);

	if (!deliver_dsn_valid(dsn) || len >= sizeof(st->dsn))
		msg_panic("deliver_status_set: bad dsn \"%s\"", dsn);
	memset(st, 0, sizeof(*st));
	st->action = action;
	memcpy(st->dsn, dsn, len + 1);
	st->reply = reply ? reply : "";
	st->relay = relay ? relay : "none";
}

int
deliver_request_encode(const struct deliver_request *req, ATTR *out)
{
	char			   name[DELIVER_NAME_LEN];
	const struct deliver_rcpt *r;
	size_t			   i;

	if (req->nrcpt == 0 || req->nrcpt > DELIVER_RCPT_MAX) {
		msg_warn("%s: delivery request with %zu recipients",
			 req->queue_id, req->nrcpt);
		return -1;
	}
	attr_reset(out);
	attr_put_str(out, "request", "deliver");
	attr_put_str(out, "queue_name", req->queue_name);
	attr_put_str(out, "queue_id", req->queue_id);
	attr_put_str(out, "transport", req->transport);
	attr_put_str(out, "nexthop", req->nexthop);
	attr_put_str(out, "sender", req->sender);
	if (req->envid)
		attr_put_str(out, "envid", req->envid);
	attr_put_int(out, "ret", req->ret);
	attr_put_int(out, "smtputf8", req->smtputf8 ? 1 : 0);
	if (req->requiretls)
		attr_put_int(out, "requiretls", 1);
	attr_put_int(out, "body_type", req->body_type);
	attr_put_int(out, "arrival_sec", req->arrival_sec);
	attr_put_int(out, "arrival_usec", req->arrival_usec);
	attr_put_int(out, "message_size", req->message_size);
	attr_put_int(out, "content_offset", req->content_offset);
	attr_put_int(out, "qmgr_time", req->qmgr_time);
	if (req->client_name)
		attr_put_str(out, "client_name", req->client_name);
	if (req->client_addr)
		attr_put_str(out, "client_addr", req->client_addr);
	attr_put_int(out, "nrcpt", (long long)req->nrcpt);
	for (i = 0; i < req->nrcpt; i++) {
		r = req->rcpts + i;
		attr_put_str(out,
			     deliver_name(name, sizeof(name), "rcpt", i,
					  "addr"),
			     r->addr);
		if (r->orig)
			attr_put_str(out,
				     deliver_name(name, sizeof(name), "rcpt", i,
						  "orig"),
				     r->orig);
		if (r->orcpt)
			attr_put_str(out,
				     deliver_name(name, sizeof(name), "rcpt", i,
						  "orcpt"),
				     r->orcpt);
		attr_put_int(out,
			     deliver_name(name, sizeof(name), "rcpt", i,
					  "notify"),
			     r->notify);
		attr_put_int(out,
			     deliver_name(name, sizeof(name), "rcpt", i,
					  "offset"),
			     r->offset);
	}
	return 0;
}

/* A required string; -1 + why when missing or not a C string. */
static int
deliver_get_str(const ATTR *in, const char *name, const char **val, VSTR *why)
{
	if ((*val = attr_get_str(in, name)) == NULL) {
		deliver_why(why, "missing or bad attribute \"%s\"", name);
		return -1;
	}
	return 0;
}

/* An optional string: NULL when absent, -1 when present but not text. */
static int
deliver_get_opt(const ATTR *in, const char *name, const char **val, VSTR *why)
{
	*val = NULL;
	if (!attr_has(in, name))
		return 0;
	return deliver_get_str(in, name, val, why);
}

/* A required integer within [lo, hi]. */
static int
deliver_get_int(const ATTR *in, const char *name, long long lo, long long hi,
		long long *val, VSTR *why)
{
	if (attr_get_int(in, name, val) < 0 || *val < lo || *val > hi) {
		deliver_why(why, "missing or bad integer \"%s\"", name);
		return -1;
	}
	return 0;
}

#define DELIVER_LL_MAX 0x7fffffffffffffffLL

int
deliver_request_decode(const ATTR *in, struct deliver_request *req, VSTR *why)
{
	char		     name[DELIVER_NAME_LEN];
	const char	    *req_name;
	struct deliver_rcpt *r;
	long long	     v;
	size_t		     i;

	memset(req, 0, sizeof(*req));
	if (deliver_get_str(in, "request", &req_name, why) < 0)
		return -1;
	if (strcmp(req_name, "deliver") != 0) {
		deliver_why(why, "unknown request \"%s\"", req_name);
		return -1;
	}
	if (deliver_get_str(in, "queue_name", &req->queue_name, why) < 0
	    || deliver_get_str(in, "queue_id", &req->queue_id, why) < 0
	    || deliver_get_str(in, "transport", &req->transport, why) < 0
	    || deliver_get_str(in, "nexthop", &req->nexthop, why) < 0
	    || deliver_get_str(in, "sender", &req->sender, why) < 0
	    || deliver_get_opt(in, "envid", &req->envid, why) < 0
	    || deliver_get_opt(in, "client_name", &req->client_name, why) < 0
	    || deliver_get_opt(in, "client_addr", &req->client_addr, why) < 0)
		return -1;
	if (deliver_get_int(in, "ret", ADDR_RET_NONE, ADDR_RET_HDRS, &v, why)
	    < 0)
		return -1;
	req->ret = (int)v;
	if (deliver_get_int(in, "smtputf8", 0, 1, &v, why) < 0)
		return -1;
	req->smtputf8 = v != 0;
	/* Optional (RFC 8689 REQUIRETLS): absent means 0. */
	if (attr_get_str(in, "requiretls") != NULL
	    && deliver_get_int(in, "requiretls", 0, 1, &v, why) < 0)
		return -1;
	req->requiretls = attr_get_str(in, "requiretls") != NULL && v != 0;
	if (deliver_get_int(in, "body_type", ADDR_BODY_NONE, ADDR_BODY_8BITMIME,
			    &v, why)
	    < 0)
		return -1;
	req->body_type = (int)v;
	if (deliver_get_int(in, "arrival_sec", 0, DELIVER_LL_MAX,
			    &req->arrival_sec, why)
		< 0
	    || deliver_get_int(in, "arrival_usec", 0, 999999,
			       &req->arrival_usec, why)
		   < 0
	    || deliver_get_int(in, "message_size", 0, DELIVER_LL_MAX,
			       &req->message_size, why)
		   < 0
	    || deliver_get_int(in, "content_offset", 0, DELIVER_LL_MAX,
			       &req->content_offset, why)
		   < 0
	    || deliver_get_int(in, "qmgr_time", 0, DELIVER_LL_MAX,
			       &req->qmgr_time, why)
		   < 0
	    || deliver_get_int(in, "nrcpt", 1, DELIVER_RCPT_MAX, &v, why) < 0)
		return -1;
	req->nrcpt = (size_t)v;
	req->rcpts = mycalloc(req->nrcpt, sizeof(*req->rcpts));
	for (i = 0; i < req->nrcpt; i++) {
		r = req->rcpts + i;
		if (deliver_get_str(in,
				    deliver_name(name, sizeof(name), "rcpt", i,
						 "addr"),
				    &r->addr, why)
			< 0
		    || deliver_get_opt(in,
				       deliver_name(name, sizeof(name), "rcpt",
						    i, "orig"),
				       &r->orig, why)
			   < 0
		    || deliver_get_opt(in,
				       deliver_name(name, sizeof(name), "rcpt",
						    i, "orcpt"),
				       &r->orcpt, why)
			   < 0
		    || deliver_get_int(in,
				       deliver_name(name, sizeof(name), "rcpt",
						    i, "notify"),
				       0, DELIVER_NOTIFY_MASK, &v, why)
			   < 0)
			goto fail;
		r->notify = (int)v;
		if (deliver_get_int(in,
				    deliver_name(name, sizeof(name), "rcpt", i,
						 "offset"),
				    0, DELIVER_LL_MAX, &r->offset, why)
		    < 0)
			goto fail;
	}
	return 0;

fail:
	deliver_request_release(req);
	return -1;
}

void
deliver_request_release(struct deliver_request *req)
{
	req->rcpts = myfree(req->rcpts);
	req->nrcpt = 0;
}

int
deliver_reply_encode(const struct deliver_status *st, size_t n, ATTR *out)
{
	char	    name[DELIVER_NAME_LEN];
	const char *action;
	size_t	    i;

	if (n == 0 || n > DELIVER_RCPT_MAX) {
		msg_warn("deliver_reply_encode: %zu statuses", n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((action = deliver_action_name(st[i].action)) == NULL
		    || !deliver_dsn_matches(st[i].action, st[i].dsn)) {
			msg_warn("deliver_reply_encode: status %zu: action %d "
				 "with dsn \"%.*s\"",
				 i, (int)st[i].action, (int)sizeof(st[i].dsn),
				 st[i].dsn);
			return -1;
		}
	}
	attr_reset(out);
	attr_put_int(out, "status", 0);
	attr_put_int(out, "nrcpt", (long long)n);
	for (i = 0; i < n; i++) {
		attr_put_str(out,
			     deliver_name(name, sizeof(name), "st", i,
					  "action"),
			     deliver_action_name(st[i].action));
		attr_put_str(out,
			     deliver_name(name, sizeof(name), "st", i, "dsn"),
			     st[i].dsn);
		attr_put_str(out,
			     deliver_name(name, sizeof(name), "st", i, "reply"),
			     st[i].reply ? st[i].reply : "");
		attr_put_str(out,
			     deliver_name(name, sizeof(name), "st", i, "relay"),
			     st[i].relay ? st[i].relay : "none");
		if (st[i].diag_type)
			attr_put_str(out,
				     deliver_name(name, sizeof(name), "st", i,
						  "diag_type"),
				     st[i].diag_type);
		if (st[i].remote_mta)
			attr_put_str(out,
				     deliver_name(name, sizeof(name), "st", i,
						  "remote_mta"),
				     st[i].remote_mta);
	}
	return 0;
}

void
deliver_reply_encode_error(const char *reason, ATTR *out)
{
	attr_reset(out);
	attr_put_int(out, "status", -1);
	attr_put_str(out, "reason", reason);
}

int
deliver_reply_decode(const ATTR *in, struct deliver_status *st, size_t n,
		     VSTR *why)
{
	char	    name[DELIVER_NAME_LEN];
	const char *action;
	const char *dsn;
	const char *reason;
	long long   v;
	size_t	    i;

	if (attr_get_int(in, "status", &v) < 0) {
		deliver_why(why, "missing or bad integer \"%s\"", "status");
		return -1;
	}
	if (v != 0) {
		reason = attr_get_str(in, "reason");
		deliver_why(why, "%s", reason ? reason : "transport failure");
		return -1;
	}
	if (deliver_get_int(in, "nrcpt", 0, DELIVER_RCPT_MAX, &v, why) < 0)
		return -1;
	if ((size_t)v != n) {
		if (why)
			vstr_sprintf(why,
				     "reply has %lld statuses, expected %zu", v,
				     n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		memset(st + i, 0, sizeof(st[i]));
		if (deliver_get_str(in,
				    deliver_name(name, sizeof(name), "st", i,
						 "action"),
				    &action, why)
		    < 0)
			return -1;
		if (deliver_action_parse(action, &st[i].action) < 0) {
			deliver_why(why, "bad action \"%s\"", action);
			return -1;
		}
		if (deliver_get_str(in,
				    deliver_name(name, sizeof(name), "st", i,
						 "dsn"),
				    &dsn, why)
		    < 0)
			return -1;
		if (strlen(dsn) >= sizeof(st[i].dsn)
		    || !deliver_dsn_matches(st[i].action, dsn)) {
			deliver_why(why, "bad dsn \"%s\" for the action", dsn);
			return -1;
		}
		memcpy(st[i].dsn, dsn, strlen(dsn) + 1);
		if (deliver_get_str(in,
				    deliver_name(name, sizeof(name), "st", i,
						 "reply"),
				    &st[i].reply, why)
			< 0
		    || deliver_get_str(in,
				       deliver_name(name, sizeof(name), "st", i,
						    "relay"),
				       &st[i].relay, why)
			   < 0
		    || deliver_get_opt(in,
				       deliver_name(name, sizeof(name), "st", i,
						    "diag_type"),
				       &st[i].diag_type, why)
			   < 0
		    || deliver_get_opt(in,
				       deliver_name(name, sizeof(name), "st", i,
						    "remote_mta"),
				       &st[i].remote_mta, why)
			   < 0)
			return -1;
	}
	return 0;
}
