/*
 * skel_multi - the multiplexing skeleton.  See skel.h.
 *
 * One event loop serves every client.  Master hears "busy" when the first
 * client arrives and "idle" when the last one leaves, as it would from a
 * single-client process; the process still accepts more clients while
 * busy.  After max_use clients, or when master closes the status channel,
 * the process stops accepting and exits once its last client is gone.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/events.h"
#include "util/master_proto.h"
#include "util/msg.h"
#include "util/skel_priv.h"

static void skel_multi_idle(EVENTS *ev, void *ctx);

static void
skel_multi_drain(struct skel_ctx *ctx)
{
	struct skel_priv *priv = ctx->priv;

	if (!priv->draining) {
		priv->draining = true;
		for (int i = 0; i < priv->nlisten; i++)
			events_unwatch(ctx->events, priv->listen_fds[i]);
	}
	if (priv->clients == 0)
		events_stop(ctx->events);
}

static void
skel_multi_accept(EVENTS *ev, int lfd, int what, void *context)
{
	struct skel_ctx	 *ctx = context;
	struct skel_priv *priv = ctx->priv;
	int		  fd;

	(void)what;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
		    && errno != ECONNABORTED) {
			msg_warn("accept: %m");
			poll(NULL, 0, 100);
		}
		return;
	}
	if (priv->clients++ == 0) {
		events_timer_cancel(ev, skel_multi_idle, ctx);
		skel_report(ctx, MASTER_STAT_TAKEN);
	}
	ctx->use_count++;
	priv->ops->accept(ctx, fd);
	if (priv->max_use > 0 && ctx->use_count >= priv->max_use)
		skel_multi_drain(ctx);
}

void
skel_multi_disconnect(struct skel_ctx *ctx, int fd)
{
	events_unwatch(ctx->events, fd);
	close(fd);
	skel_multi_release(ctx);
}

void
skel_multi_release(struct skel_ctx *ctx)
{
	struct skel_priv *priv = ctx->priv;

	if (priv->clients <= 0)
		msg_panic("skel_multi_release: no client is connected");
	if (--priv->clients > 0)
		return;
	if (priv->draining) {
		events_stop(ctx->events);
		return;
	}
	skel_report(ctx, MASTER_STAT_AVAIL);
	if (priv->max_idle > 0)
		events_timer(ctx->events, skel_multi_idle, ctx,
			     (long)(priv->max_idle * 1000));
}

static void
skel_multi_idle(EVENTS *ev, void *context)
{
	struct skel_ctx *ctx = context;

	(void)ev;
	if (ctx->priv->clients == 0) {
		if (msg_verbose)
			msg_info("idle for %llds: exiting",
				 ctx->priv->max_idle);
		skel_multi_drain(ctx);
	}
}

static void
skel_multi_gone(EVENTS *ev, int fd, int what, void *context)
{
	struct skel_ctx *ctx = context;

	(void)what;
	events_unwatch(ev, fd);
	if (msg_verbose)
		msg_info("master closed the status channel: exiting when idle");
	skel_multi_drain(ctx);
}

static void
skel_multi_sigterm(EVENTS *ev, int signo, void *context)
{
	(void)ev;
	(void)signo;
	skel_exit(context, 0);
}

int
skel_multi_main(int argc, char **argv, const struct skel_ops *ops)
{
	struct skel_ctx	 ctx;
	struct skel_priv priv;

	if (ops->accept == NULL)
		msg_panic("skel_multi_main: no accept callback");
	skel_setup(&ctx, &priv, argc, argv, ops);
	ctx.events = events_alloc();
	if (events_signal(ctx.events, SIGTERM, skel_multi_sigterm, &ctx) < 0)
		msg_fatal("events_signal: %m");
	if (ctx.standalone) {
		priv.clients = 1;
		priv.draining = true;
		ops->accept(&ctx, skel_standalone_fd(&ctx));
	} else {
		if (ctx.type != MASTERCF_INET && ctx.type != MASTERCF_UNIX
		    && ctx.type != MASTERCF_PASS)
			msg_fatal("service %s: type %s is not supported by "
				  "this daemon",
				  ctx.service, mastercf_type_name(ctx.type));
		for (int i = 0; i < priv.nlisten; i++)
			if (events_watch(ctx.events, priv.listen_fds[i],
					 EVENTS_READ, skel_multi_accept, &ctx)
			    < 0)
				msg_fatal("events_watch: %m");
		if (events_watch(ctx.events, priv.status_fd, EVENTS_READ,
				 skel_multi_gone, &ctx)
		    < 0)
			msg_fatal("events_watch: %m");
		if (priv.max_idle > 0)
			events_timer(ctx.events, skel_multi_idle, &ctx,
				     (long)(priv.max_idle * 1000));
	}
	events_run(ctx.events);
	skel_exit(&ctx, 0); /* pre_exit runs while the events still exist */
}
