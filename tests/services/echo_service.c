/*
 * echo_service - a test daemon on the single-client skeleton.
 *
 * Greets each client with "pid <n>\n" (so a test sees which process serves
 * it) and echoes every byte back until the client closes or stays silent
 * for 60 seconds.  Extra master.cf arguments: "crash" makes every process
 * abort right after start-up (to exercise master's crash throttle);
 * "log" logs each line received (to exercise logging from a chroot).
 *
 * Errors: I/O errors end the client's session; nothing else can fail.
 *
 * SPDX-License-Identifier: ISC
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/msg.h"
#include "util/skel.h"

#define ECHO_IDLE_MS 60000

static bool echo_log;

static void
echo_post_jail(struct skel_ctx *ctx)
{
	for (int i = 0; i < ctx->argc; i++) {
		if (strcmp(ctx->argv[i], "crash") == 0)
			abort();
		if (strcmp(ctx->argv[i], "log") == 0)
			echo_log = true;
	}
}

static int
echo_write(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
echo_service(struct skel_ctx *ctx, int fd)
{
	char buf[4096];
	int  len;

	(void)ctx;
	len = snprintf(buf, sizeof(buf), "pid %ld\n", (long)getpid());
	if (echo_write(fd, buf, (size_t)len) < 0)
		return;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t	      n;

		if (poll(&pfd, 1, ECHO_IDLE_MS) <= 0)
			return;
		if ((n = read(fd, buf, sizeof(buf) - 1)) <= 0)
			return;
		if (echo_log) {
			buf[n] = 0;
			msg_info("echo: %.*s", (int)strcspn(buf, "\r\n"), buf);
		}
		if (echo_write(fd, buf, (size_t)n) < 0)
			return;
	}
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .post_jail = echo_post_jail,
				    .service = echo_service,
				});
}
