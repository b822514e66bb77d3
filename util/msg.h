/*
 * msg - diagnostics for daemons and commands.
 *
 * Levels: msg_info (normal events), msg_warn (carry on), msg_error (carry on,
 * but the operation failed), msg_fatal (the environment failed: exit 1, or
 * the sysexits code given to msg_fatal_status), msg_panic (a bug: abort).
 * "%m" expands to strerror(errno) of the moment of the call.
 *
 * Lines go to every registered output: standard error, syslog, and whatever
 * msg_output_add() registered (the maillog client).  With no output
 * registered, lines go to standard error.  The program name used as the
 * syslog ident and stderr prefix is set with msg_set_progname(), e.g.
 * "postel/smtpd".
 *
 * Tests catch fatal errors with msg_fatal_hook_set(): the hook sees the
 * formatted text and may longjmp out; if it returns, the process exits.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MSG_H
#define UTIL_MSG_H

#include <stdarg.h>
#include <stdbool.h>

#include "util/sys_defs.h"

enum msg_level {
	MSG_INFO,
	MSG_WARN,
	MSG_ERROR,
	MSG_FATAL,
	MSG_PANIC,
};

/* Output callback: level and the formatted text, without level prefix. */
typedef void (*msg_output_fn)(enum msg_level level, const char *text);
/* Fatal/panic hook for tests: may longjmp; if it returns, we exit. */
typedef void (*msg_fatal_hook_fn)(enum msg_level level, const char *text);

extern int msg_verbose;

void		  msg_set_progname(const char *name);
const char	 *msg_progname(void);
void		  msg_stderr_enable(bool on);
void		  msg_syslog_enable(const char *facility);
void		  msg_output_add(msg_output_fn fn);
void		  msg_output_reset(void);
msg_fatal_hook_fn msg_fatal_hook_set(msg_fatal_hook_fn hook);
const char	 *msg_level_prefix(enum msg_level level);

void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void
msg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void msg_fatal_status(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
_Noreturn void
     msg_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_vprintf(enum msg_level level, const char *fmt, va_list ap);

#endif
