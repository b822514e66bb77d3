/*
 * discard - the discard transport: every recipient is "sent" and the
 * message goes nowhere.
 *
 * The next-hop text (transport_maps "discard:some reason") is logged:
 * status=sent (discarded: some reason), or (discarded) without one.
 * qmgr sends any number of requests on one connection; each gets one
 * reply.
 *
 * Errors: a request that does not parse is answered with a
 * whole-request failure (qmgr then defers it) and logged.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/deliver_proto.h"
#include "util/dsn_log.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"

static void
discard_deliver(struct skel_ctx *ctx, const ATTR *in, ATTR *out)
{
	struct deliver_request req = {0};
	struct deliver_status *st;
	struct dsn_log_times t;
	VSTR   *why = vstr_alloc(64), *reason = vstr_alloc(64);
	size_t	i;

	t.start = dsn_log_now();
	if (deliver_request_decode(in, &req, why) < 0) {
		msg_warn("%s: bad delivery request: %s", ctx->service,
			 VSTR_STR(why));
		deliver_reply_encode_error(VSTR_STR(why), out);
		goto out;
	}
	vstr_strcpy(reason, "discarded");
	if (req.nexthop && *req.nexthop)
		vstr_sprintf_append(reason, ": %s", req.nexthop);
	st = mycalloc(req.nrcpt ? req.nrcpt : 1, sizeof(*st));
	t.arrival = (double)req.arrival_sec + (double)req.arrival_usec / 1e6;
	t.qmgr = req.qmgr_time > 0 ? (double)req.qmgr_time : t.arrival;
	t.conn = t.start;
	t.done = dsn_log_now();
	for (i = 0; i < req.nrcpt; i++) {
		deliver_status_set(&st[i], DELIVER_SENT, "2.0.0",
				   VSTR_STR(reason), "none");
		dsn_log_delivery(req.queue_id, &req.rcpts[i], &st[i], &t);
	}
	deliver_reply_encode(st, req.nrcpt, out);
	myfree(st);
	deliver_request_release(&req);
out:
	vstr_free(why);
	vstr_free(reason);
}

static void
discard_service(struct skel_ctx *ctx, int fd)
{
	skel_serve_frames(ctx, fd, discard_deliver);
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv, &(const struct skel_ops){
		.service = discard_service,
	});
}
