/*
 * fuzz_proxy_proto - libFuzzer target for util/proxy_proto, the frames
 * between a chrooted daemon's "proxy:" table and proxymap(8): arbitrary
 * bytes as one attr frame, decoded as a request (what proxymap
 * reads from a possibly compromised daemon) and as a reply (what the
 * client reads).
 *
 * Invariants: no crash; a request that decodes names a table within
 * PROXY_TABLE_MAX that is not itself proxy:, flags within
 * PROXY_FLAGS_ALLOWED, a key exactly when it is not an open, a value
 * exactly when it is an update, and encodes
 * back to a frame that decodes to the same request; a reply that decodes
 * has a known status and round-trips the same way.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/attr.h"
#include "util/msg.h"
#include "util/proxy_proto.h"
#include "util/vstr.h"

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL)
	       || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
check_request(const ATTR *in, VSTR *why)
{
	struct proxy_request req;
	struct proxy_request back;
	ATTR		    *out;

	if (proxy_request_decode(in, &req, why) < 0)
		return;
	if (req.table == NULL || strlen(req.table) > PROXY_TABLE_MAX
	    || strncmp(req.table, "proxy:", 6) == 0
	    || (req.flags & ~PROXY_FLAGS_ALLOWED) != 0
	    || (strcmp(req.request, PROXY_REQ_OPEN) != 0) != (req.key != NULL)
	    || (strcmp(req.request, PROXY_REQ_UPDATE) == 0)
		   != (req.value != NULL))
		abort();
	out = attr_alloc();
	proxy_request_encode(&req, out);
	if (proxy_request_decode(out, &back, why) < 0
	    || !same(req.request, back.request) || !same(req.table, back.table)
	    || req.flags != back.flags || !same(req.key, back.key)
	    || !same(req.value, back.value))
		abort();
	attr_free(out);
}

static void
check_reply(const ATTR *in, VSTR *why)
{
	struct proxy_reply rep;
	struct proxy_reply back;
	ATTR		  *out;

	if (proxy_reply_decode(in, &rep, why) < 0)
		return;
	if (rep.status < PROXY_STAT_OK || rep.status > PROXY_STAT_DENY)
		abort();
	out = attr_alloc();
	proxy_reply_encode(&rep, out);
	if (proxy_reply_decode(out, &back, why) < 0 || rep.status != back.status
	    || !same(rep.value, back.value) || !same(rep.reason, back.reason))
		abort();
	attr_free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static bool quiet;
	ATTR	   *in = attr_alloc();
	VSTR	   *why = vstr_alloc(0);

	if (!quiet) {
		msg_stderr_enable(false);
		quiet = true;
	}
	if (attr_decode((const char *)buf, len, in, why) == 0) {
		check_request(in, why);
		check_reply(in, why);
	}
	attr_free(in);
	vstr_free(why);
	return 0;
}
