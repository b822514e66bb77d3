/*
 * skel_frames - the request/reply loop of frame-speaking services.
 *
 * Delivery agents (util/deliver_serve: local, virtual, pipe, error,
 * discard) and bounce serve a client the same way: read one util/attr
 * frame, let the daemon fill the reply, send it, and go on until the
 * client closes or ipc_timeout passes.  proxymap, whose clients keep
 * their connection between lookups, lets a client go after its own idle
 * time instead (skel_serve_frames_idle).  The skeleton closes the client
 * descriptor itself, so the stream works on a copy.
 *
 * Errors: logged with the service name (a client that closes between
 * frames is not an error, nor, for skel_serve_frames_idle, one that stays
 * silent); the loop ends on any I/O error.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/cfg.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/skel.h"
#include "util/vstr.h"

static void
skel_frames_loop(struct skel_ctx *ctx, int fd, skel_frame_fn handle,
		 const void *arg, int timeout_ms, bool idle_ok)
{
	ATTR	   *in = attr_alloc(), *out = attr_alloc();
	VSTR	   *why = vstr_alloc(64);
	IPC_STREAM *ipc;

	if ((fd = dup(fd)) < 0) {
		msg_warn("%s: dup: %m", ctx->service);
		goto out;
	}
	ipc = ipc_stream_open(fd);
	while (ipc_stream_recv(ipc, in, timeout_ms, why) == 0) {
		attr_reset(out);
		handle(ctx, arg, in, out);
		if (ipc_stream_send(ipc, out, timeout_ms) < 0) {
			msg_warn("%s: send reply: %m", ctx->service);
			break;
		}
	}
	/*
	 * errno 0: the client closed between frames, as it should;
	 * ETIMEDOUT with nothing read, where idling is allowed: the client
	 * was idle for timeout_ms and is let go.
	 */
	if (errno != 0 && VSTR_LEN(why) > 0
	    && !(idle_ok && errno == ETIMEDOUT
		 && ipc_stream_buffered(ipc) == 0))
		msg_warn("%s: read request: %s", ctx->service, VSTR_STR(why));
	ipc_stream_close(ipc);
out:
	attr_free(in);
	attr_free(out);
	vstr_free(why);
}

void
skel_serve_frames(struct skel_ctx *ctx, int fd, skel_frame_fn handle,
		  const void *arg)
{
	long long secs = cfg_get_time(ctx->cfg, "ipc_timeout");

	skel_frames_loop(ctx, fd, handle, arg,
			 secs > 0 && secs < 86400 ? (int)secs * 1000 : 3600000,
			 false);
}

void
skel_serve_frames_idle(struct skel_ctx *ctx, int fd, skel_frame_fn handle,
		       const void *arg, int timeout_ms)
{
	skel_frames_loop(ctx, fd, handle, arg, timeout_ms, true);
}
