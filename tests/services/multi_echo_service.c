/*
 * multi_echo_service - a test daemon on the multiplexing skeleton.
 *
 * Serves every client from one process: greets with "pid <n>\n" and echoes
 * what each client sends until it closes.  Tests use it to see that one
 * process holds several clients at once.
 *
 * Errors: an I/O error ends that client only.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <unistd.h>

#include "util/events.h"
#include "util/msg.h"
#include "util/skel.h"

static void
multi_echo_read(EVENTS *ev, int fd, int what, void *context)
{
	struct skel_ctx *ctx = context;
	char		 buf[4096];
	ssize_t		 n;

	(void)ev;
	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0 || write(fd, buf, (size_t)n) != n)
		skel_multi_disconnect(ctx, fd);
}

static void
multi_echo_accept(struct skel_ctx *ctx, int fd)
{
	char greet[32];
	int  len;

	len = snprintf(greet, sizeof(greet), "pid %ld\n", (long)getpid());
	if (write(fd, greet, (size_t)len) != len
	    || events_watch(ctx->events, fd, EVENTS_READ, multi_echo_read, ctx)
		   < 0)
		skel_multi_disconnect(ctx, fd);
}

int
main(int argc, char **argv)
{
	return skel_multi_main(argc, argv,
			       &(const struct skel_ops){
				   .accept = multi_echo_accept,
			       });
}
