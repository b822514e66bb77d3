/*
 * fuzz_anvil - libFuzzer target for util/anvil_proto, the frames between
 * smtpd and anvil(8): arbitrary bytes as one attr frame, decoded as a
 * request (what anvil reads from any process that can reach
 * private/anvil) and as the reply to each kind of request (what smtpd
 * reads back).
 *
 * Invariants: no crash; a request that decodes has a known kind and an
 * ident that anvil_ident_ok accepts, and encodes to a frame that decodes
 * to the same request; a reply that decodes has a known status, counts
 * within 0..ANVIL_COUNT_MAX, and round-trips the same way.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/anvil_proto.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/vstr.h"

static void
check_request(const ATTR *in, VSTR *why)
{
	struct anvil_request rq;
	struct anvil_request back;
	ATTR		    *out;

	if (anvil_request_decode(in, &rq, why) < 0)
		return;
	if (anvil_req_name(rq.req) == NULL || !anvil_ident_ok(rq.ident))
		abort();
	out = attr_alloc();
	anvil_request_encode(&rq, out);
	if (anvil_request_decode(out, &back, why) < 0 || back.req != rq.req
	    || strcmp(back.ident, rq.ident) != 0)
		abort();
	attr_free(out);
}

static bool
in_range(long long v)
{
	return v >= 0 && v <= ANVIL_COUNT_MAX;
}

static void
check_reply(enum anvil_req req, const ATTR *in, VSTR *why)
{
	struct anvil_reply rp;
	struct anvil_reply back;
	ATTR		  *out;

	if (anvil_reply_decode(req, in, &rp, why) < 0)
		return;
	if ((rp.status != ANVIL_STAT_OK && rp.status != ANVIL_STAT_FAIL)
	    || !in_range(rp.count) || !in_range(rp.rate)
	    || !in_range(rp.message) || !in_range(rp.recipient)
	    || !in_range(rp.newtls) || !in_range(rp.auth))
		abort();
	out = attr_alloc();
	anvil_reply_encode(req, &rp, out);
	if (anvil_reply_decode(req, out, &back, why) < 0
	    || memcmp(&rp, &back, sizeof(rp)) != 0)
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
		for (int i = 0; i < ANVIL_REQ_COUNT; i++)
			check_reply((enum anvil_req)i, in, why);
	}
	attr_free(in);
	vstr_free(why);
	return 0;
}
