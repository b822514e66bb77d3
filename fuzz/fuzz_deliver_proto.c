/*
 * libFuzzer target for util/deliver_proto: arbitrary bytes as an attr
 * frame payload, decoded as a delivery request and as a reply of 1 to 3
 * statuses.  Whatever decodes must re-encode and decode to the same
 * values; nothing may crash or leak.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/attr.h"
#include "util/deliver_proto.h"
#include "util/msg.h"

static void
fuzz_request(const ATTR *in)
{
	struct deliver_request req, again;
	ATTR		      *out;
	size_t		       i;

	if (deliver_request_decode(in, &req, NULL) < 0) {
		if (req.rcpts != NULL)
			abort();
		return;
	}
	out = attr_alloc();
	if (deliver_request_encode(&req, out) < 0)
		abort();
	if (deliver_request_decode(out, &again, NULL) < 0)
		abort();
	if (again.nrcpt != req.nrcpt || strcmp(again.sender, req.sender)
	    || strcmp(again.nexthop, req.nexthop)
	    || again.content_offset != req.content_offset)
		abort();
	for (i = 0; i < req.nrcpt; i++)
		if (strcmp(again.rcpts[i].addr, req.rcpts[i].addr)
		    || again.rcpts[i].offset != req.rcpts[i].offset
		    || (again.rcpts[i].orig == NULL)
			   != (req.rcpts[i].orig == NULL))
			abort();
	deliver_request_release(&again);
	deliver_request_release(&req);
	attr_free(out);
}

static void
fuzz_reply(const ATTR *in, size_t n)
{
	struct deliver_status st[3], again[3];
	ATTR		     *out;
	size_t		      i;

	if (deliver_reply_decode(in, st, n, NULL) < 0)
		return;
	out = attr_alloc();
	if (deliver_reply_encode(st, n, out) < 0)
		abort();
	if (deliver_reply_decode(out, again, n, NULL) < 0)
		abort();
	for (i = 0; i < n; i++)
		if (again[i].action != st[i].action
		    || strcmp(again[i].dsn, st[i].dsn)
		    || strcmp(again[i].reply, st[i].reply))
			abort();
	attr_free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ATTR  *in = attr_alloc();
	size_t n;

	msg_stderr_enable(false);
	if (attr_decode_payload((const char *)data, size, in, NULL) == 0) {
		fuzz_request(in);
		for (n = 1; n <= 3; n++)
			fuzz_reply(in, n);
	}
	attr_free(in);
	return 0;
}
