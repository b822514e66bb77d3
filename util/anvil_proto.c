/*
 * anvil_proto - anvil(8) request and reply frames.  See anvil_proto.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "util/anvil_proto.h"
#include "util/inet_prefix.h"
#include "util/msg.h"

/* Reply fields beyond status, as bits. */
#define F_COUNT	    (1 << 0)
#define F_RATE	    (1 << 1)
#define F_MESSAGE   (1 << 2)
#define F_RECIPIENT (1 << 3)
#define F_NEWTLS    (1 << 4)
#define F_AUTH	    (1 << 5)

static const struct anvil_shape {
	const char *name;
	int	    fields;
} anvil_shapes[ANVIL_REQ_COUNT] = {
	[ANVIL_REQ_CONNECT] = { "connect", F_COUNT | F_RATE },
	[ANVIL_REQ_DISCONNECT] = { "disconnect", 0 },
	[ANVIL_REQ_MESSAGE] = { "message", F_RATE },
	[ANVIL_REQ_RECIPIENT] = { "recipient", F_RATE },
	[ANVIL_REQ_NEWTLS] = { "newtls", F_RATE },
	[ANVIL_REQ_NEWTLS_REPORT] = { "newtls_report", F_RATE },
	[ANVIL_REQ_AUTH] = { "auth", F_RATE },
	[ANVIL_REQ_LOOKUP] = { "lookup", F_COUNT | F_RATE | F_MESSAGE
					     | F_RECIPIENT | F_NEWTLS
					     | F_AUTH },
};

static const struct anvil_field {
	int	    bit;
	const char *name;
} anvil_fields[] = {
	{ F_COUNT, "count" },	  { F_RATE, "rate" },
	{ F_MESSAGE, "message" }, { F_RECIPIENT, "recipient" },
	{ F_NEWTLS, "newtls" },	  { F_AUTH, "auth" },
};

#define NFIELDS (sizeof(anvil_fields) / sizeof(anvil_fields[0]))

static long long *
anvil_field(struct anvil_reply *rp, int bit)
{
	switch (bit) {
	case F_COUNT:
		return &rp->count;
	case F_RATE:
		return &rp->rate;
	case F_MESSAGE:
		return &rp->message;
	case F_RECIPIENT:
		return &rp->recipient;
	case F_NEWTLS:
		return &rp->newtls;
	case F_AUTH:
		return &rp->auth;
	}
	msg_panic("anvil_field: bad field %d", bit);
}

static int
anvil_fail(VSTR *why, const char *text)
{
	if (why)
		vstr_strcpy(why, text);
	return -1;
}

const char *
anvil_req_name(enum anvil_req req)
{
	if ((unsigned)req >= ANVIL_REQ_COUNT)
		return NULL;
	return anvil_shapes[req].name;
}

bool
anvil_ident_ok(const char *ident)
{
	const char *colon;
	size_t	    len;

	if (ident == NULL || (len = strlen(ident)) < 3 || len > ANVIL_IDENT_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (ident[i] <= ' ' || ident[i] > '~')
			return false;
	colon = strchr(ident, ':');
	return colon != NULL && colon != ident && ident[len - 1] != ':';
}

int
anvil_ident(const char *service, const char *addr, int v6_len, VSTR *out,
	    VSTR *why)
{
	VSTR *key = vstr_alloc(64);
	int   ret = 0;

	if (inet_prefix_key(addr, v6_len, key) < 0) {
		if (why)
			vstr_sprintf(why, "client address %s: %s", addr,
				     VSTR_STR(key));
		ret = -1;
	} else {
		vstr_sprintf(out, "%s:%s", service, VSTR_STR(key));
		if (!anvil_ident_ok(VSTR_STR(out)))
			ret = anvil_fail(why, "malformed service name");
	}
	vstr_free(key);
	return ret;
}

void
anvil_request_encode(const struct anvil_request *rq, ATTR *out)
{
	if (anvil_req_name(rq->req) == NULL || !anvil_ident_ok(rq->ident))
		msg_panic("anvil_request_encode: bad request");
	attr_reset(out);
	attr_put_str(out, "request", anvil_shapes[rq->req].name);
	attr_put_str(out, "ident", rq->ident);
}

int
anvil_request_decode(const ATTR *in, struct anvil_request *rq, VSTR *why)
{
	const char *name;
	int	    i;

	memset(rq, 0, sizeof(*rq));
	if ((name = attr_get_str(in, "request")) == NULL)
		return anvil_fail(why, "missing request");
	for (i = 0; i < ANVIL_REQ_COUNT; i++)
		if (strcmp(name, anvil_shapes[i].name) == 0)
			break;
	if (i == ANVIL_REQ_COUNT)
		return anvil_fail(why, "unknown request");
	rq->req = (enum anvil_req)i;
	rq->ident = attr_get_str(in, "ident");
	if (!anvil_ident_ok(rq->ident))
		return anvil_fail(why, "missing or malformed ident");
	if (attr_count(in) != 2)
		return anvil_fail(why, "unexpected attributes");
	return 0;
}

void
anvil_reply_encode(enum anvil_req req, const struct anvil_reply *rp, ATTR *out)
{
	int fields;

	if (anvil_req_name(req) == NULL
	    || (rp->status != ANVIL_STAT_OK && rp->status != ANVIL_STAT_FAIL))
		msg_panic("anvil_reply_encode: bad reply");
	attr_reset(out);
	attr_put_int(out, "status", rp->status);
	if (rp->status != ANVIL_STAT_OK)
		return;
	fields = anvil_shapes[req].fields;
	for (size_t i = 0; i < NFIELDS; i++) {
		long long v = *anvil_field((struct anvil_reply *)rp,
					   anvil_fields[i].bit);

		if ((fields & anvil_fields[i].bit) == 0)
			continue;
		if (v < 0 || v > ANVIL_COUNT_MAX)
			msg_panic("anvil_reply_encode: %s out of range",
				  anvil_fields[i].name);
		attr_put_int(out, anvil_fields[i].name, v);
	}
}

int
anvil_reply_decode(enum anvil_req req, const ATTR *in, struct anvil_reply *rp,
		   VSTR *why)
{
	long long status;
	size_t	  expect = 1;
	int	  fields;

	memset(rp, 0, sizeof(*rp));
	if (anvil_req_name(req) == NULL)
		msg_panic("anvil_reply_decode: bad request %d", (int)req);
	if (attr_get_int(in, "status", &status) < 0
	    || (status != ANVIL_STAT_OK && status != ANVIL_STAT_FAIL))
		return anvil_fail(why, "missing or unknown status");
	rp->status = (int)status;
	fields = status == ANVIL_STAT_OK ? anvil_shapes[req].fields : 0;
	for (size_t i = 0; i < NFIELDS; i++) {
		long long *v = anvil_field(rp, anvil_fields[i].bit);

		if ((fields & anvil_fields[i].bit) == 0)
			continue;
		if (attr_get_int(in, anvil_fields[i].name, v) < 0 || *v < 0
		    || *v > ANVIL_COUNT_MAX) {
			if (why)
				vstr_sprintf(why, "missing or bad %s",
					     anvil_fields[i].name);
			return -1;
		}
		expect++;
	}
	if (attr_count(in) != expect)
		return anvil_fail(why, "unexpected attributes");
	return 0;
}
