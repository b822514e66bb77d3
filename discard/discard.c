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

#include "util/deliver_serve.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"

static void
discard_rcpt(struct skel_ctx *ctx, const struct deliver_request *req, size_t i,
	     VSTR *content, struct deliver_status *st, VSTR *text)
{
	(void)ctx;
	(void)i;
	(void)content;
	vstr_strcpy(text, "discarded");
	if (req->nexthop && *req->nexthop)
		vstr_sprintf_append(text, ": %s", req->nexthop);
	deliver_status_set(st, DELIVER_SENT, "2.0.0", VSTR_STR(text), "none");
}

static void
discard_service(struct skel_ctx *ctx, int fd)
{
	deliver_serve(ctx, fd,
		      &(const struct deliver_serve_ops){
			  .relay = "none",
			  .rcpt = discard_rcpt,
		      });
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .service = discard_service,
				});
}
