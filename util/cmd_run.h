/*
 * cmd_run - run one delivery command: feed it the message on standard
 * input, keep the start of its output, stop it at a time limit, and map
 * its exit status to a delivery result the way sendmail-style commands
 * expect (sysexits.h).  Used by local (|command, mailbox_command) and
 * pipe.
 *
 * cmd_run forks; the child calls setsid(), puts the input pipe on fd 0 and
 * the output pipe on fds 1 and 2, then calls exec_fn, which sets the
 * identity, environment and folder and execs the command (it must never
 * return).  The parent writes the input without blocking the output side,
 * and reaps the child.  time_limit bounds the whole run: writing the
 * input, reading the output, and waiting for the exit of a command that
 * closed its output early.  At the deadline the whole process group
 * (the command and every child it left in the group) gets SIGKILL and
 * res->timed_out is set.
 *
 * Errors: cmd_run returns -1 with errno when the pipes or the fork fail
 * (nothing ran); otherwise 0 and the result in *res.  res->output is a C
 * string of at most CMD_RUN_OUTPUT_MAX bytes, non-printable bytes turned
 * into spaces (it goes into log lines and DSNs).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_CMD_RUN_H
#define UTIL_CMD_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/deliver_proto.h"
#include "util/sys_defs.h"

#define CMD_RUN_OUTPUT_MAX 1024

struct cmd_run_result {
	int    status; /* from waitpid() */
	bool   timed_out;
	size_t out_len;
	char   output[CMD_RUN_OUTPUT_MAX + 1];
};

typedef void (*cmd_run_exec_fn)(void *ctx);

int cmd_run(const char *input, size_t len, long time_limit,
	    cmd_run_exec_fn exec_fn, void *ctx, struct cmd_run_result *res);

/* The search path every delivery command gets. */
#define CMD_RUN_PATH "/usr/bin:/bin"

/*
 * For exec_fn, in the child: replace the whole environment by
 * PATH=CMD_RUN_PATH and the variables that export_list (export_environment:
 * names separated by space, tab or comma) names, with their current
 * values; names not set are skipped.  The caller then adds what the
 * command should know about the message.  0 / -1.
 */
int cmd_run_environ(const char *export_list);

/* sysexits code -> action, DSN and text; false for other codes. */
bool cmd_run_sysexit(int code, enum deliver_action *action, const char **dsn,
		     const char **text);

#endif
