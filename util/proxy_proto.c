/*
 * proxy_proto - proxymap request and reply frames.  See proxy_proto.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "util/msg.h"
#include "util/proxy_proto.h"

static int
proxy_fail(VSTR *why, const char *text)
{
	if (why)
		vstr_strcpy(why, text);
	return -1;
}

/* The table part of a request: "type:name", not nested, bounded. */
static bool
proxy_table_ok(const char *table)
{
	const char *colon;
	size_t	    len;

	if (table == NULL || (len = strlen(table)) == 0
	    || len > PROXY_TABLE_MAX)
		return false;
	colon = strchr(table, ':');
	if (colon == NULL || colon == table || colon[1] == 0)
		return false;
	return !(colon - table == 5 && strncmp(table, "proxy", 5) == 0);
}

/* What a request carries beside request, table and flags. */
struct proxy_shape {
	const char *request;
	bool	    key;
	bool	    value;
};

static const struct proxy_shape proxy_shapes[] = {
	{ PROXY_REQ_OPEN, false, false },
	{ PROXY_REQ_LOOKUP, true, false },
	{ PROXY_REQ_UPDATE, true, true },
	{ PROXY_REQ_DELETE, true, false },
};

static const struct proxy_shape *
proxy_shape(const char *request)
{
	for (size_t i = 0; i < sizeof(proxy_shapes) / sizeof(proxy_shapes[0]);
	     i++)
		if (strcmp(request, proxy_shapes[i].request) == 0)
			return &proxy_shapes[i];
	return NULL;
}

void
proxy_request_encode(const struct proxy_request *req, ATTR *out)
{
	const struct proxy_shape *shape;

	if (req->request == NULL || !proxy_table_ok(req->table)
	    || (req->flags & ~PROXY_FLAGS_ALLOWED) != 0)
		msg_panic("proxy_request_encode: bad request");
	if ((shape = proxy_shape(req->request)) == NULL)
		msg_panic("proxy_request_encode: unknown request %s",
			  req->request);
	if (shape->key != (req->key != NULL)
	    || (req->key && strlen(req->key) > DICT_KEY_MAX))
		msg_panic("proxy_request_encode: bad key");
	if (shape->value != (req->value != NULL)
	    || (req->value && strlen(req->value) > PROXY_VALUE_MAX))
		msg_panic("proxy_request_encode: bad value");
	attr_reset(out);
	attr_put_str(out, "request", req->request);
	attr_put_str(out, "table", req->table);
	attr_put_int(out, "flags", req->flags);
	if (req->key)
		attr_put_str(out, "key", req->key);
	if (req->value)
		attr_put_str(out, "value", req->value);
}

int
proxy_request_decode(const ATTR *in, struct proxy_request *req, VSTR *why)
{
	const struct proxy_shape *shape;
	long long		  flags;
	size_t			  expect = 3;

	memset(req, 0, sizeof(*req));
	if ((req->request = attr_get_str(in, "request")) == NULL)
		return proxy_fail(why, "missing request");
	if ((shape = proxy_shape(req->request)) == NULL)
		return proxy_fail(why, "unknown request");
	req->table = attr_get_str(in, "table");
	if (!proxy_table_ok(req->table))
		return proxy_fail(why, "missing or malformed table name");
	if (attr_get_int(in, "flags", &flags) < 0 || flags < 0
	    || (flags & ~(long long)PROXY_FLAGS_ALLOWED) != 0)
		return proxy_fail(why, "missing or disallowed flags");
	req->flags = (int)flags;
	if (shape->key) {
		if ((req->key = attr_get_str(in, "key")) == NULL)
			return proxy_fail(why, "request without a key");
		if (strlen(req->key) > DICT_KEY_MAX)
			return proxy_fail(why, "lookup key too long");
		expect++;
	}
	if (shape->value) {
		if ((req->value = attr_get_str(in, "value")) == NULL)
			return proxy_fail(why, "update without a value");
		if (strlen(req->value) > PROXY_VALUE_MAX)
			return proxy_fail(why, "value too long");
		expect++;
	}
	if (attr_count(in) != expect)
		return proxy_fail(why, "unexpected attributes");
	return 0;
}

void
proxy_reply_encode(const struct proxy_reply *rep, ATTR *out)
{
	if (rep->status < PROXY_STAT_OK || rep->status > PROXY_STAT_DENY
	    || (rep->value != NULL && rep->status != PROXY_STAT_OK))
		msg_panic("proxy_reply_encode: bad reply");
	attr_reset(out);
	attr_put_int(out, "status", rep->status);
	if (rep->value)
		attr_put_str(out, "value", rep->value);
	if (rep->reason)
		attr_put_str(out, "reason", rep->reason);
}

int
proxy_reply_decode(const ATTR *in, struct proxy_reply *rep, VSTR *why)
{
	long long status;
	size_t	  expect = 1;

	memset(rep, 0, sizeof(*rep));
	if (attr_get_int(in, "status", &status) < 0 || status < PROXY_STAT_OK
	    || status > PROXY_STAT_DENY)
		return proxy_fail(why, "missing or unknown status");
	rep->status = (int)status;
	if (attr_has(in, "value")) {
		if ((rep->value = attr_get_str(in, "value")) == NULL
		    || rep->status != PROXY_STAT_OK)
			return proxy_fail(why, "unexpected or malformed value");
		expect++;
	}
	if (attr_has(in, "reason")) {
		if ((rep->reason = attr_get_str(in, "reason")) == NULL)
			return proxy_fail(why, "malformed reason");
		expect++;
	}
	if (attr_count(in) != expect)
		return proxy_fail(why, "unexpected attributes");
	return 0;
}
