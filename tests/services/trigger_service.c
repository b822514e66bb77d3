/*
 * trigger_service - a test daemon on the trigger skeleton.
 *
 * Appends one line per trigger byte to the file named by its first extra
 * master.cf argument: "<byte> <unix time in ms> <pid>\n".  The file is
 * opened before the privilege drop (pre_jail), as a real daemon opens its
 * tables, so the test needs no folder writable by mail_owner.
 *
 * Errors: a missing argument or an unopenable file is fatal at start.
 *
 * SPDX-License-Identifier: ISC
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/msg.h"
#include "util/skel.h"

static int trigger_fd = -1;

static void
trigger_pre_jail(struct skel_ctx *ctx)
{
	if (ctx->argc < 1)
		msg_fatal("usage: trigger_service [options] -- output-file");
	trigger_fd = open(ctx->argv[0],
			  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC
			      | O_NOFOLLOW,
			  0644);
	if (trigger_fd < 0)
		msg_fatal("open %s: %m", ctx->argv[0]);
}

static void
trigger_request(struct skel_ctx *ctx, const char *buf, size_t len)
{
	struct timeval tv;
	char	       line[100];
	int	       n;

	(void)ctx;
	gettimeofday(&tv, NULL);
	for (size_t i = 0; i < len; i++) {
		n = snprintf(line, sizeof(line), "%c %lld %ld\n",
			     buf[i] >= 0x21 && buf[i] < 0x7f ? buf[i] : '?',
			     (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000,
			     (long)getpid());
		if (write(trigger_fd, line, (size_t)n) != n)
			msg_warn("write: %m");
	}
}

int
main(int argc, char **argv)
{
	return skel_trigger_main(argc, argv,
				 &(const struct skel_ops){
				     .pre_jail = trigger_pre_jail,
				     .trigger = trigger_request,
				 });
}
