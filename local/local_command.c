/*
 * local_command - "|command" deliveries and mailbox_command.
 *
 * Runs inside a local_priv child that already is the recipient (or
 * default_privs): that child forks /bin/sh -c command in its own process group
 * with a sanitized environment, as Postfix's local: PATH=/usr/bin:/bin, the
 * variables export_environment names (with local's values), and HOME, LOGNAME,
 * USER, SHELL, SENDER, RECIPIENT, LOCAL, EXTENSION, DOMAIN, ORIGINAL_RECIPIENT
 * and, when qmgr knows them, CLIENT_ADDRESS and CLIENT_HOSTNAME, each value
 * censored by command_expansion_filter (other characters become '_').  It runs
 * in the home folder, gets the message ("From " line, Return-Path,
 * Delivered-To, no quoting) on its standard input, and the first bytes of its
 * output are kept for the bounce text.  command_time_limit bounds the whole run
 * (util/cmd_run.h): then the process group is killed and the delivery bounces
 * (5.3.0, as Postfix).  Exit status 0 is success; other statuses map through
 * sysexits.h: EX_TEMPFAIL (75) and EX_OSERR defer (4.3.0), EX_NOUSER (67)
 * bounces 5.1.1, and so on; unknown non-zero statuses and signals bounce with
 * 5.3.0.
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
	LOCAL_STATE		*st;
	struct local_msg	*m;
	struct local_rcpt	*rc;
	const struct local_user *u;
	const char		*command;
};

/*
 * Export one value, censored as Postfix does: every character outside
 * command_expansion_filter becomes '_', so a shell that interpolates
 * "$EXTENSION" unquoted meets no metacharacter from the network.
 */
static void
local_cmd_env(const struct local_cmd_job *j, const char *name,
	      const char *value)
{
	VSTR *v = vstr_alloc(64);

	local_filter_append(v, value ? value : "", j->st->cmd_filter);
	if (setenv(name, VSTR_STR(v), 1) < 0)
		_exit(EX_OSERR);
	vstr_free(v);
}

static void __attribute__((noreturn)) local_cmd_exec(void *ctx)
{
	struct local_cmd_job	     *j = ctx;
	const struct deliver_request *req = j->m->req;

	if (cmd_run_environ(j->st->export_env) < 0)
		_exit(EX_OSERR);
	local_cmd_env(j, "HOME", j->u->home);
	local_cmd_env(j, "LOGNAME", j->u->name);
	local_cmd_env(j, "USER", j->u->name);
	local_cmd_env(j, "SHELL", j->u->shell);
	local_cmd_env(j, "SENDER", j->m->sender);
	local_cmd_env(j, "RECIPIENT", j->rc->addr);
	local_cmd_env(j, "LOCAL", VSTR_STR(j->rc->local));
	local_cmd_env(j, "EXTENSION", VSTR_STR(j->rc->ext));
	local_cmd_env(j, "DOMAIN", VSTR_STR(j->rc->domain));
	local_cmd_env(j, "ORIGINAL_RECIPIENT",
		      j->rc->orig ? j->rc->orig : j->rc->addr);
	if (req && req->client_addr && *req->client_addr)
		local_cmd_env(j, "CLIENT_ADDRESS", req->client_addr);
	if (req && req->client_name && *req->client_name)
		local_cmd_env(j, "CLIENT_HOSTNAME", req->client_name);
	if (chdir(j->u->home) < 0 && chdir("/") < 0)
		_exit(EX_OSERR);
	execl("/bin/sh", "sh", "-c", j->command, (char *)NULL);
	_exit(EX_OSERR);
}

static void
local_cmd_job(void *ctx, struct local_result *r)
{
	struct local_cmd_job *j = ctx;
	VSTR		     *msg = vstr_alloc(VSTR_LEN(j->m->content) + 256);
	struct cmd_run_result res;
	enum deliver_action   action;
	const char	     *dsn, *text;
	int		      code;

	local_copy_format(msg, j->m, j->rc->addr, LOCAL_COPY_FROM);
	if (cmd_run(VSTR_STR(msg), VSTR_LEN(msg), j->st->time_limit,
		    local_cmd_exec, j, &res)
	    < 0) {
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
							 : 0,
				 j->command);
	} else if ((code = WEXITSTATUS(res.status)) == 0) {
		local_result_set(r, DELIVER_SENT, "2.0.0",
				 "delivered to command: %s", j->command);
	} else if (cmd_run_sysexit(code, &action, &dsn, &text)) {
		local_result_set(r, action, dsn,
				 "Command died with status %d: "
				 "\"%s\" (%s). Command output: %s",
				 code, j->command, text,
				 res.out_len ? res.output : "none");
	} else {
		local_result_set(r, DELIVER_BOUNCED, "5.3.0",
				 "Command died with status %d: \"%s\". "
				 "Command output: %s",
				 code, j->command,
				 res.out_len ? res.output : "none");
	}
	vstr_free(msg);
}

void
local_command(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
	      const struct local_user *u, const char *command,
	      struct local_result *r)
{
	struct local_cmd_job j = {
		.st = st, .m = m, .rc = rc, .u = u, .command = command
	};

	local_priv_run(u, st->time_limit, local_cmd_job, &j, r);
}
