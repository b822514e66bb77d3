/*
 * msg - diagnostics for daemons and commands.  See msg.h.
 *
 * Formatting uses a fixed buffer on the stack: a diagnostic longer than
 * MSG_LINE_MAX is cut and marked with "...", never overflowed.  Control
 * characters are replaced by '?' so that a peer's bytes quoted in a log line
 * cannot forge extra lines.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "util/msg.h"

#define MSG_LINE_MAX	4096
#define MSG_OUTPUTS_MAX 4

int msg_verbose;

static char		 msg_name[64] = "postel";
static bool		 msg_to_stderr;
static bool		 msg_to_syslog;
static msg_output_fn	 msg_outputs[MSG_OUTPUTS_MAX];
static int		 msg_output_count;
static msg_fatal_hook_fn msg_hook;

void
msg_set_progname(const char *name)
{
	snprintf(msg_name, sizeof(msg_name), "%s", name);
	if (msg_to_syslog) {
		closelog();
		msg_to_syslog = false;
	}
}

const char *
msg_progname(void)
{
	return msg_name;
}

void
msg_stderr_enable(bool on)
{
	msg_to_stderr = on;
}

static const struct {
	const char *name;
	int	    value;
} msg_facilities[] = {
	{ "mail", LOG_MAIL },	  { "daemon", LOG_DAEMON },
	{ "user", LOG_USER },	  { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

void
msg_syslog_enable(const char *facility)
{
	int    fac = LOG_MAIL;
	size_t i;

	for (i = 0;
	     facility && i < sizeof(msg_facilities) / sizeof(msg_facilities[0]);
	     i++)
		if (strcasecmp(facility, msg_facilities[i].name) == 0)
			fac = msg_facilities[i].value;
	openlog(msg_name, LOG_PID | LOG_NDELAY, fac);
	msg_to_syslog = true;
}

void
msg_output_add(msg_output_fn fn)
{
	if (msg_output_count >= MSG_OUTPUTS_MAX)
		msg_panic("msg_output_add: too many outputs");
	msg_outputs[msg_output_count++] = fn;
}

void
msg_output_reset(void)
{
	msg_output_count = 0;
	msg_to_stderr = false;
	if (msg_to_syslog) {
		closelog();
		msg_to_syslog = false;
	}
}

msg_fatal_hook_fn
msg_fatal_hook_set(msg_fatal_hook_fn hook)
{
	msg_fatal_hook_fn old = msg_hook;

	msg_hook = hook;
	return old;
}

const char *
msg_level_prefix(enum msg_level level)
{
	switch (level) {
	case MSG_INFO:
		return "";
	case MSG_WARN:
		return "warning: ";
	case MSG_ERROR:
		return "error: ";
	case MSG_FATAL:
		return "fatal: ";
	case MSG_PANIC:
		return "panic: ";
	}
	return "";
}

static void
msg_emit(enum msg_level level, const char *text)
{
	static const int prio[] = { LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT,
				    LOG_CRIT };
	int		 i;

	if (msg_to_syslog)
		syslog(prio[level], "%s%s", msg_level_prefix(level), text);
	for (i = 0; i < msg_output_count; i++)
		msg_outputs[i](level, text);
	if (msg_to_stderr || (!msg_to_syslog && msg_output_count == 0)) {
		char line[MSG_LINE_MAX + 128];
		int  n;

		n = snprintf(line, sizeof(line), "%s: %s%s\n", msg_name,
			     msg_level_prefix(level), text);
		if (n > (int)sizeof(line) - 1)
			n = sizeof(line) - 1;
		if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0) {
			/* Nowhere left to complain. */
		}
	}
}

void
msg_vprintf(enum msg_level level, const char *fmt, va_list ap)
{
	char  text[MSG_LINE_MAX];
	int   n;
	char *cp;

	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n >= (int)sizeof(text))
		memcpy(text + sizeof(text) - 4, "...", 4);
	for (cp = text; *cp; cp++)
		if ((unsigned char)*cp < 0x20 || *cp == 0x7f)
			*cp = '?';
	msg_emit(level, text);
	if (level >= MSG_FATAL && msg_hook != NULL) {
		msg_fatal_hook_fn hook = msg_hook;

		msg_hook = NULL; /* no recursion if the hook fails */
		hook(level, text);
		msg_hook = hook;
	}
}

#define MSG_BODY(level) \
	do { \
		int	saved_errno = errno; \
		va_list ap; \
		va_start(ap, fmt); \
		errno = saved_errno; \
		msg_vprintf((level), fmt, ap); \
		va_end(ap); \
		errno = saved_errno; \
	} while (0)

void
msg_info(const char *fmt, ...)
{
	MSG_BODY(MSG_INFO);
}

void
msg_warn(const char *fmt, ...)
{
	MSG_BODY(MSG_WARN);
}

void
msg_error(const char *fmt, ...)
{
	MSG_BODY(MSG_ERROR);
}

void
msg_fatal(const char *fmt, ...)
{
	MSG_BODY(MSG_FATAL);
	exit(1);
}

void
msg_fatal_status(int status, const char *fmt, ...)
{
	MSG_BODY(MSG_FATAL);
	exit(status);
}

void
msg_panic(const char *fmt, ...)
{
	MSG_BODY(MSG_PANIC);
	abort();
}
