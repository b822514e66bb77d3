/*
 * skel_single - the "one client at a time" skeleton.  See skel.h.
 *
 * The process waits in poll() on its listeners and on the status channel.
 * Every child of a service polls the same listeners, which master made
 * non-blocking, so a child that loses the race for a connection just goes
 * back to waiting.  Master learns "busy" before and "idle" after each
 * client, which is how it decides to spawn another process.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/master_proto.h"
#include "util/msg.h"
#include "util/skel_priv.h"

/* A client's descriptor, or -1 when the process must exit. */
static int
skel_single_accept(struct skel_ctx *ctx)
{
	int lfd;
	int fd;

	while ((lfd = skel_wait_ready(ctx)) >= 0) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
			return fd;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
		    && errno != ECONNABORTED) {
			msg_warn("accept: %m");
			/* e.g. EMFILE: do not spin on it. */
			poll(NULL, 0, 100);
		}
	}
	return -1;
}

int
skel_single_main(int argc, char **argv, const struct skel_ops *ops)
{
	struct skel_ctx	 ctx;
	struct skel_priv priv;
	int		 fd;

	if (ops->service == NULL)
		msg_panic("skel_single_main: no service callback");
	skel_setup(&ctx, &priv, argc, argv, ops);
	if (ctx.standalone) {
		fd = skel_standalone_fd(&ctx);
		ops->service(&ctx, fd);
		if (fd != 0)
			close(fd);
		skel_exit(&ctx, 0);
	}
	if (ctx.type != MASTERCF_INET && ctx.type != MASTERCF_UNIX
	    && ctx.type != MASTERCF_PASS)
		msg_fatal("service %s: type %s is not supported by this "
			  "daemon",
			  ctx.service, mastercf_type_name(ctx.type));
	while ((fd = skel_single_accept(&ctx)) >= 0) {
		skel_report(&ctx, MASTER_STAT_TAKEN);
		skel_watchdog_start();
		ops->service(&ctx, fd);
		skel_watchdog_stop();
		close(fd);
		ctx.use_count++;
		if (priv.max_use > 0 && ctx.use_count >= priv.max_use)
			break;
		if (skel_master_gone(&ctx))
			break;
		skel_report(&ctx, MASTER_STAT_AVAIL);
	}
	skel_exit(&ctx, 0);
}
