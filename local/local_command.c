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
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "local/local.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define LOCAL_CMD_OUTPUT_MAX	1024

struct local_cmd_job {
	LOCAL_STATE *st;
	struct local_msg *m;
	struct local_rcpt *rc;
	const struct local_user *u;
	const char *command;
};

static const struct {
	int	status;
	enum deliver_action action;
	const char *dsn;
	const char *text;
} local_sysexits[] = {
	{EX_USAGE, DELIVER_BOUNCED, "5.3.0", "command line usage error"},
	{EX_DATAERR, DELIVER_BOUNCED, "5.6.0", "data format error"},
	{EX_NOINPUT, DELIVER_BOUNCED, "5.3.0", "cannot open input"},
	{EX_NOUSER, DELIVER_BOUNCED, "5.1.1", "user unknown"},
	{EX_NOHOST, DELIVER_BOUNCED, "5.1.2", "host name unknown"},
	{EX_UNAVAILABLE, DELIVER_BOUNCED, "5.3.0", "service unavailable"},
	{EX_SOFTWARE, DELIVER_BOUNCED, "5.3.0", "internal software error"},
	{EX_OSERR, DELIVER_DEFERRED, "4.3.0", "system resource problem"},
	{EX_OSFILE, DELIVER_BOUNCED, "5.3.0", "critical OS file missing"},
	{EX_CANTCREAT, DELIVER_BOUNCED, "5.2.0", "cannot create output file"},
	{EX_IOERR, DELIVER_BOUNCED, "5.3.0", "input/output error"},
	{EX_TEMPFAIL, DELIVER_DEFERRED, "4.3.0", "temporary failure"},
	{EX_PROTOCOL, DELIVER_BOUNCED, "5.5.0", "remote protocol error"},
	{EX_NOPERM, DELIVER_BOUNCED, "5.7.0", "permission denied"},
	{EX_CONFIG, DELIVER_BOUNCED, "5.3.5", "local configuration error"},
};

static void
local_cmd_env(const char *name, const char *value)
{
	if (setenv(name, value ? value : "", 1) < 0)
		_exit(EX_OSERR);
}

static void __attribute__((noreturn))
local_cmd_exec(struct local_cmd_job *j, int in_fd, int out_fd)
{
	setsid();
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(EX_OSERR);
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
	signal(SIGPIPE, SIG_DFL);
	execl("/bin/sh", "sh", "-c", j->command, (char *)NULL);
	_exit(EX_OSERR);
}

static void
local_cmd_job(void *ctx, struct local_result *r)
{
	struct local_cmd_job *j = ctx;
	VSTR   *msg = vstr_alloc(VSTR_LEN(j->m->content) + 256);
	char	output[LOCAL_CMD_OUTPUT_MAX + 1];
	size_t	out_len = 0, done = 0;
	int	in[2], out[2], status = 0;
	pid_t	pid;
	time_t	deadline = time(NULL) + (time_t)j->st->time_limit;
	bool	timed_out = false;

	local_copy_format(msg, j->m, j->rc->addr, LOCAL_COPY_FROM);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		local_result_set(r, DELIVER_DEFERRED, "4.3.0", "pipe: %m");
		goto out;
	}
	if ((pid = fork()) < 0) {
		local_result_set(r, DELIVER_DEFERRED, "4.3.0", "fork: %m");
		goto out;
	}
	if (pid == 0)
		local_cmd_exec(j, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	(void)fcntl(in[1], F_SETFL, O_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct pollfd p[2] = {{.fd = out[0], .events = POLLIN},
		{.fd = in[1], .events = POLLOUT}};
		long	left = (long)(deadline - time(NULL));
		int	n = in[1] >= 0 ? 2 : 1;
		char	sink[4096];
		ssize_t	got;

		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (poll(p, (nfds_t)n, (int)(left > 5 ? 5000 : left * 1000)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 2 && p[1].revents) {
			got = write(in[1], VSTR_STR(msg) + done,
				    VSTR_LEN(msg) - done);
			if (got > 0)
				done += (size_t)got;
			if (got < 0 && errno != EAGAIN && errno != EINTR)
				done = VSTR_LEN(msg);	/* command quit reading */
			if (done >= VSTR_LEN(msg)) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (p[0].revents) {
			got = read(out[0], sink, sizeof(sink));
			if (got == 0 || (got < 0 && errno != EINTR))
				break;
			if (got > 0 && out_len < LOCAL_CMD_OUTPUT_MAX) {
				size_t	take = (size_t)got;

				if (take > LOCAL_CMD_OUTPUT_MAX - out_len)
					take = LOCAL_CMD_OUTPUT_MAX - out_len;
				memcpy(output + out_len, sink, take);
				out_len += take;
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	close(out[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	output[out_len] = 0;
	for (char *c = output; *c; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	if (timed_out) {
		local_result_set(r, DELIVER_BOUNCED, "5.3.0",
				 "Command time limit exceeded: \"%s\"",
				 j->command);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		local_result_set(r, DELIVER_SENT, "2.0.0",
				 "delivered to command: %s", j->command);
	} else if (WIFEXITED(status)) {
		int	code = WEXITSTATUS(status);
		size_t	i;

		for (i = 0; i < sizeof(local_sysexits) / sizeof(local_sysexits[0]); i++)
			if (local_sysexits[i].status == code)
				break;
		if (i < sizeof(local_sysexits) / sizeof(local_sysexits[0]))
			local_result_set(r, local_sysexits[i].action,
					 local_sysexits[i].dsn,
					 "Command died with status %d: \"%s\" "
					 "(%s). Command output: %s", code,
					 j->command, local_sysexits[i].text,
					 out_len ? output : "none");
		else
			local_result_set(r, DELIVER_BOUNCED, "5.3.0",
					 "Command died with status %d: \"%s\". "
					 "Command output: %s", code,
					 j->command, out_len ? output : "none");
	} else {
		local_result_set(r, DELIVER_BOUNCED, "5.3.0",
				 "Command killed by signal %d: \"%s\"",
				 WIFSIGNALED(status) ? WTERMSIG(status) : 0,
				 j->command);
	}
out:
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
