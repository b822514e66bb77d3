/*
 * deliver_serve - the request loop of the delivery agents that have no
 * session of their own (local, virtual, pipe, error, discard).
 *
 *   static void
 *   discard_service(struct skel_ctx *ctx, int fd)
 *   {
 *	deliver_serve(ctx, fd, &(const struct deliver_serve_ops){
 *		.relay = "none", .rcpt = discard_rcpt });
 *   }
 *
 * For each request frame on fd (skel_serve_frames): decode it, read the
 * message content from the queue file when ops->content asks for it
 * (mbox_load_queue_file, checked against ctx->queue_owner), call
 * ops->rcpt once per recipient, log the Postfix delivery line, and send
 * one reply with a status per recipient.
 *
 * ops->rcpt fills *st with deliver_status_set(); `text` is an empty
 * string of the helper's that lives until the reply is sent, for
 * st->reply.  ops->relay replaces st->relay afterwards (NULL: the
 * master.cf service name), as these agents have no remote relay.
 *
 * Errors: a request that does not parse gets a whole-request failure
 * reply (qmgr defers it) and a warning; content that cannot be read
 * defers every recipient with dsn 4.3.0 and the reason, without calling
 * ops->rcpt.
 *
 * Ownership: the request, content and texts belong to the helper and are
 * valid only during the ops->rcpt call.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DELIVER_SERVE_H
#define UTIL_DELIVER_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/deliver_proto.h"
#include "util/skel.h"
#include "util/vstr.h"

struct deliver_serve_ops {
	const char *relay;   /* relay= in logs; NULL: service name */
	bool	    content; /* load the queue file first */
	void (*rcpt)(struct skel_ctx *ctx, const struct deliver_request *req,
		     size_t i, VSTR *content, struct deliver_status *st,
		     VSTR *text);
};

void deliver_serve(struct skel_ctx *ctx, int fd,
		   const struct deliver_serve_ops *ops);

/* One request (what deliver_serve does per frame), for tests. */
void
deliver_serve_rcpts(struct skel_ctx *ctx, const struct deliver_serve_ops *ops,
		    const ATTR *in, ATTR *out);

#endif
