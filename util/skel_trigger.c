/*
 * skel_trigger - the wake-up request skeleton.  See skel.h.
 *
 * A request is what one read of a fifo returns, one datagram, or all the
 * bytes a stream client writes before it closes (bounded by
 * SKEL_TRIGGER_MAX and by a few seconds, so a client that never closes
 * cannot hold the service).  Triggers are hints, so a lost or truncated
 * one costs nothing but a delay until the next wakeup.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/events.h"
#include "util/master_proto.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel_priv.h"

#define SKEL_TRIGGER_WAIT_MS 5000

/* Bytes a stream client sends before closing; -1 when nothing came. */
static ssize_t
skel_trigger_stream(int lfd, char *buf)
{
	long long deadline = events_now_ms() + SKEL_TRIGGER_WAIT_MS;
	size_t	  len = 0;
	int	  fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
		    && errno != ECONNABORTED) {
			msg_warn("accept: %m");
			poll(NULL, 0, 100);
		}
		return -1;
	}
	while (len < SKEL_TRIGGER_MAX) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long     left = deadline - events_now_ms();
		ssize_t	      n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = read(fd, buf + len, SKEL_TRIGGER_MAX - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	return len > 0 ? (ssize_t)len : -1;
}

static ssize_t
skel_trigger_read(struct skel_ctx *ctx, int lfd, char *buf)
{
	ssize_t n;

	switch (ctx->type) {
	case MASTERCF_FIFO:
		n = read(lfd, buf, SKEL_TRIGGER_MAX);
		break;
	case MASTERCF_UNIX_DGRAM:
		n = recv(lfd, buf, SKEL_TRIGGER_MAX, MSG_DONTWAIT);
		break;
	default:
		return skel_trigger_stream(lfd, buf);
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		msg_warn("read trigger: %m");
	return n > 0 ? n : -1;
}

int
skel_trigger_main(int argc, char **argv, const struct skel_ops *ops)
{
	struct skel_ctx	 ctx;
	struct skel_priv priv;
	char		*buf;
	ssize_t		 n;
	int		 lfd;

	if (ops->trigger == NULL)
		msg_panic("skel_trigger_main: no trigger callback");
	skel_setup(&ctx, &priv, argc, argv, ops);
	buf = mymalloc(SKEL_TRIGGER_MAX);
	if (ctx.standalone) {
		while ((n = read(0, buf, SKEL_TRIGGER_MAX)) > 0)
			ops->trigger(&ctx, buf, (size_t)n);
		myfree(buf);
		skel_exit(&ctx, 0);
	}
	while ((lfd = skel_wait_ready(&ctx)) >= 0) {
		if ((n = skel_trigger_read(&ctx, lfd, buf)) < 0)
			continue;
		skel_report(&ctx, MASTER_STAT_TAKEN);
		skel_watchdog_start();
		ops->trigger(&ctx, buf, (size_t)n);
		skel_watchdog_stop();
		ctx.use_count++;
		if (priv.max_use > 0 && ctx.use_count >= priv.max_use)
			break;
		if (skel_master_gone(&ctx))
			break;
		skel_report(&ctx, MASTER_STAT_AVAIL);
	}
	myfree(buf);
	skel_exit(&ctx, 0);
}
