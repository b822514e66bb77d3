/*
 * deliver_serve - decode, load, per-recipient, log, reply.  See
 * deliver_serve.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include "util/attr.h"
#include "util/cfg.h"
#include "util/deliver_serve.h"
#include "util/dsn_log.h"
#include "util/mbox.h"
#include "util/metrics.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* Content larger than this is not worth pre-sizing the buffer for. */
#define DELIVER_SERVE_PRESIZE_MAX (64 * 1024 * 1024)

void
deliver_serve_rcpts(struct skel_ctx *ctx, const struct deliver_serve_ops *ops,
		    const ATTR *in, ATTR *out)
{
	struct deliver_request req = { 0 };
	struct deliver_status *sts;
	struct dsn_log_times   t;
	const char	      *relay = ops->relay ? ops->relay : ctx->service;
	VSTR		      *why = vstr_alloc(64);
	VSTR		      *content = NULL;
	VSTR		     **texts;
	bool		       content_ok = true;

	t.start = dsn_log_now();
	if (deliver_request_decode(in, &req, why) < 0) {
		msg_warn("%s: bad delivery request: %s", ctx->service,
			 VSTR_STR(why));
		deliver_reply_encode_error(VSTR_STR(why), out);
		vstr_free(why);
		return;
	}
	if (ops->content) {
		content = vstr_alloc(req.message_size > 0
					     && req.message_size
						    < DELIVER_SERVE_PRESIZE_MAX
					 ? (size_t)req.message_size + 64
					 : 1024);
		if (mbox_load_queue_file(cfg_get_str(ctx->cfg,
						     "queue_directory"),
					 req.queue_name, req.queue_id,
					 ctx->queue_owner, req.content_offset,
					 content, why)
		    < 0) {
			msg_warn("%s: %s", req.queue_id, VSTR_STR(why));
			content_ok = false;
		}
	}
	sts = mycalloc(req.nrcpt ? req.nrcpt : 1, sizeof(*sts));
	texts = mycalloc(req.nrcpt ? req.nrcpt : 1, sizeof(*texts));
	t.arrival = (double)req.arrival_sec + (double)req.arrival_usec / 1e6;
	t.qmgr = req.qmgr_time > 0 ? (double)req.qmgr_time : t.arrival;
	t.conn = t.start;
	for (size_t i = 0; i < req.nrcpt; i++) {
		texts[i] = vstr_alloc(64);
		if (!content_ok)
			deliver_status_set(&sts[i], DELIVER_DEFERRED, "4.3.0",
					   VSTR_STR(why), relay);
		else
			ops->rcpt(ctx, &req, i, content, &sts[i], texts[i]);
		sts[i].relay = relay;
		t.done = dsn_log_now();
		dsn_log_delivery(req.queue_id, &req.rcpts[i], &sts[i], &t);
		metrics_delivery(req.transport, sts[i].action,
				 t.done - t.arrival);
	}
	deliver_reply_encode(sts, req.nrcpt, out);
	for (size_t i = 0; i < req.nrcpt; i++)
		vstr_free(texts[i]);
	myfree(texts);
	myfree(sts);
	if (content)
		vstr_free(content);
	deliver_request_release(&req);
	vstr_free(why);
}

static void
deliver_serve_frame(struct skel_ctx *ctx, const void *arg, const ATTR *in,
		    ATTR *out)
{
	deliver_serve_rcpts(ctx, arg, in, out);
}

void
deliver_serve(struct skel_ctx *ctx, int fd, const struct deliver_serve_ops *ops)
{
	skel_serve_frames(ctx, fd, deliver_serve_frame, ops);
}
