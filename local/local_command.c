/*
 * local_command - "|command" deliveries and mailbox_command.
 *
 * Runs inside a local_priv child that already is the recipient (or
 * default_privs): that child forks /bin/sh -c command in its own process
 * group with a sanitized environment (HOME, LOGNAME, USER, SHELL,
 * SENDER, RECIPIENT, LOCAL, EXTENSION, DOMAIN, ORIGINAL_RECIPIENT,
 * PATH=/usr/bin:/bin), in the home folder, writes the message ("From "
 * line, Return-Path, Delivered-To, no quoting) to its standard input and
 * keeps the first bytes of its output for the bounce text.  After
 * command_time_limit seconds the group is killed and the delivery
 * bounces (5.3.0, as Postfix).  Exit status 0 is success; other
 * statuses map through sysexits.h: EX_TEMPFAIL (75) and EX_OSERR defer
 * (4.3.0), EX_NOUSER (67) bounces 5.1.1, and so on; unknown non-zero
 * statuses and signals bounce with 5.3.0.
 *
 * Errors: recorded in the struct local_result.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "local/local.h"
#include "util/cmd_run.h"
#include "util/msg.h"
#include "util/mymalloc.h"


struct local_cmd_job {
	LOCAL_STATE *st;
	struct local_msg *m;
	struct local_rcpt *rc;
	const struct local_user *u;
	const char *command;
};

static void
local_cmd_env(const char *name, const char *value)
{
	if (setenv(name, value ? value : "", 1) < 0)
		_exit(EX_OSERR);
}

static void __attribute__((noreturn))
local_cmd_exec(void *ctx)
{
	struct local_cmd_job *j = ctx;

	clearenv();
	local_cmd_env("HOME", j->u->home);
	local_cmd_env("LOGNAME", j->u->name);
	local_cmd_env("USER", j->u->name);
	local_cmd_env("SHELL", j->u->shell);
	local_cmd_env("PATH", "/usr/bin:/bin");
	local_cmd_env("SENDER", j->m->sender);
	local_cmd_env("RECIPIENT", j->rc->addr);
	local_cmd_env("LOCAL", VSTR_STR(j->rc->local));
	local_cmd_env("EXTENSION", VSTR_STR(j->rc->ext));
	local_cmd_env("DOMAIN", VSTR_STR(j->rc->domain));
	local_cmd_env("ORIGINAL_RECIPIENT",
		      j->rc->orig ? j->rc->orig : j->rc->addr);
	if (chdir(j->u->home) < 0 && chdir("/") < 0)
		_exit(EX_OSERR);
	execl("/bin/sh", "sh", "-c", j->command, (char *)NULL);
	_exit(EX_OSERR);
}

static void
local_cmd_job(void *ctx, struct local_result *r)
{
	struct local_cmd_job *j = ctx;
	VSTR   *msg = vstr_alloc(VSTR_LEN(j->m->content) + 256);
	struct cmd_run_result res;
	enum deliver_action action;
	const char *dsn, *text;
	int	code;

	local_copy_format(msg, j->m, j->rc->addr, LOCAL_COPY_FROM);
	if (cmd_run(VSTR_STR(msg), VSTR_LEN(msg), j->st->time_limit,
		    local_cmd_exec, j, &res) < 0) {
		local_result_set(r, DELIVER_DEFERRED, "4.3.0",
				 "cannot run command: %m");
	} else if (res.timed_out) {
		local_result_set(r, DELIVER_BOUNCED, "5.3.0",
				 "Command time limit exceeded: \"%s\"",
				 j->command);
	} else if (!WIFEXITED(res.status)) {
		local_result_set(r, DELIVER_BOUNCED, "5.3.0",
				 "Command killed by signal %d: \"%s\"",
				 WIFSIGNALED(res.status) ? WTERMSIG(res.status)
				 : 0, j->command);
	} else if ((code = WEXITSTATUS(res.status)) == 0) {
		local_result_set(r, DELIVER_SENT, "2.0.0",
				 "delivered to command: %s", j->command);
	} else if (cmd_run_sysexit(code, &action, &dsn, &text)) {
		local_result_set(r, action, dsn, "Command died with status %d: "
				 "\"%s\" (%s). Command output: %s", code,
				 j->command, text, res.out_len ? res.output
				 : "none");
	} else {
		local_result_set(r, DELIVER_BOUNCED, "5.3.0",
				 "Command died with status %d: \"%s\". "
				 "Command output: %s", code, j->command,
				 res.out_len ? res.output : "none");
	}
	vstr_free(msg);
}

void
local_command(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
	      const struct local_user *u, const char *command,
	      struct local_result *r)
{
	struct local_cmd_job j = {.st = st, .m = m, .rc = rc, .u = u,
	.command = command};

	local_priv_run(u, st->time_limit, local_cmd_job, &j, r);
}
