/*
 * postlogd - the single writer of maillog_file (DESIGN.md §9).
 *
 * Every Postel process that logs while maillog_file is set sends each line
 * as one datagram to the postlog service (util/maillog.c).  This daemon
 * appends each datagram to the file as one line with one write(), so lines
 * from chrooted daemons never interleave and no daemon needs access to the
 * file.  It opens the file before dropping privileges (pre_jail), refusing
 * symlinks, hard links and anything but a regular file.
 *
 * Its own diagnostics go to syslog, never to itself, so a failing write
 * cannot feed back into a loop of warnings.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cfg.h"
#include "util/msg.h"
#include "util/safe_file.h"
#include "util/skel.h"

#define POSTLOGD_LINE_MAX (SKEL_TRIGGER_MAX + 1)

static int	   postlogd_fd = -1;
static const char *postlogd_path;

static void
postlogd_pre_jail(struct skel_ctx *ctx)
{
	postlogd_path = cfg_get_str(ctx->cfg, "maillog_file");
	msg_output_reset();
	msg_syslog_enable(cfg_get_str(ctx->cfg, "syslog_facility"));
	if (*postlogd_path == 0)
		msg_fatal("maillog_file is empty: the postlog service has "
			  "nothing to write");
	if (*postlogd_path != '/')
		msg_fatal("maillog_file = %s: must be an absolute path",
			  postlogd_path);
	postlogd_fd = safe_open_append(postlogd_path, 0600, (uid_t)-1);
	if (postlogd_fd < 0)
		msg_fatal("open maillog_file %s: %m", postlogd_path);
}

/* One datagram is one line: make it printable and end it with a newline. */
static void
postlogd_trigger(struct skel_ctx *ctx, const char *buf, size_t len)
{
	static char line[POSTLOGD_LINE_MAX];
	size_t	    i;

	(void)ctx;
	if (len == 0)
		return;
	if (len > sizeof(line) - 1)
		len = sizeof(line) - 1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		line[i] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	line[len] = '\n';
	if (write(postlogd_fd, line, len + 1) != (ssize_t)(len + 1))
		msg_warn("write maillog_file %s: %m", postlogd_path);
}

int
main(int argc, char **argv)
{
	return skel_trigger_main(argc, argv,
				 &(const struct skel_ops){
				     .pre_jail = postlogd_pre_jail,
				     .trigger = postlogd_trigger,
				     .unlimited = true,
				 });
}
