/*
 * skel_single - the "one client at a time" skeleton.  See skel.h.
 *
 * The process waits in poll() on its listeners and on the status channel.
 * Every child of a service polls the same listeners, which master made
 * non-blocking, so a child that loses the race for a connection just goes
 * back to waiting.  Master learns "busy" before and "idle" after each
 * client, which is how it decides to spawn another process.
 *
 * A `pass` service's listener carries hand-offs, not clients: each
 * accepted connection brings one client descriptor and an info frame
 * (util/pass_proto.h).  The skeleton takes both, closes the hand-off
 * connection and serves the descriptor with ctx->pass_info set.  A
 * broken hand-off is logged and dropped; the process goes on and it does
 * not count towards max_use.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/master_proto.h"
#include "util/msg.h"
#include "util/pass_proto.h"
#include "util/skel_priv.h"
#include "util/vstr.h"

/*
 * How long a hand-off may take once accepted.  The sender wrote it all
 * before the connection was accepted, so this only bounds a broken one.
 */
#define SKEL_PASS_TIMEOUT_MS 5000

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

/*
 * Take the client out of an accepted hand-off connection (closed here).
 * The client's descriptor with info filled, or -1 (logged).
 */
static int
skel_single_pass(struct skel_ctx *ctx, int conn, ATTR *info)
{
	VSTR *why = vstr_alloc(100);
	int   fd;

	if (pass_recv(conn, &fd, info, SKEL_PASS_TIMEOUT_MS, why) < 0)
		msg_warn("service %s: bad hand-off on the pass socket: %s",
			 ctx->service, VSTR_STR(why));
	close(conn);
	vstr_free(why);
	return fd;
}

int
skel_single_main(int argc, char **argv, const struct skel_ops *ops)
{
	struct skel_ctx	 ctx;
	struct skel_priv priv;
	ATTR		*info = NULL;
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
	if (ctx.type == MASTERCF_PASS)
		info = attr_alloc();
	while ((fd = skel_single_accept(&ctx)) >= 0) {
		skel_report(&ctx, MASTER_STAT_TAKEN);
		if (info != NULL
		    && (fd = skel_single_pass(&ctx, fd, info)) < 0) {
			if (skel_master_gone(&ctx))
				break;
			skel_report(&ctx, MASTER_STAT_AVAIL);
			continue;
		}
		ctx.pass_info = info;
		skel_watchdog_start();
		ops->service(&ctx, fd);
		skel_watchdog_stop();
		close(fd);
		ctx.pass_info = NULL;
		ctx.use_count++;
		if (priv.max_use > 0 && ctx.use_count >= priv.max_use)
			break;
		if (skel_master_gone(&ctx))
			break;
		skel_report(&ctx, MASTER_STAT_AVAIL);
	}
	attr_free(info);
	skel_exit(&ctx, 0);
}
