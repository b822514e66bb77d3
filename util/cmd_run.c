/*
 * cmd_run - run one delivery command with a time limit.  See cmd_run.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "util/cmd_run.h"
#include "util/mymalloc.h"

static const struct {
	int		    status;
	enum deliver_action action;
	const char	   *dsn;
	const char	   *text;
} cmd_run_sysexits[] = {
	{ EX_USAGE, DELIVER_BOUNCED, "5.3.0", "command line usage error" },
	{ EX_DATAERR, DELIVER_BOUNCED, "5.6.0", "data format error" },
	{ EX_NOINPUT, DELIVER_BOUNCED, "5.3.0", "cannot open input" },
	{ EX_NOUSER, DELIVER_BOUNCED, "5.1.1", "user unknown" },
	{ EX_NOHOST, DELIVER_BOUNCED, "5.1.2", "host name unknown" },
	{ EX_UNAVAILABLE, DELIVER_BOUNCED, "5.3.0", "service unavailable" },
	{ EX_SOFTWARE, DELIVER_BOUNCED, "5.3.0", "internal software error" },
	{ EX_OSERR, DELIVER_DEFERRED, "4.3.0", "system resource problem" },
	{ EX_OSFILE, DELIVER_BOUNCED, "5.3.0", "critical OS file missing" },
	{ EX_CANTCREAT, DELIVER_BOUNCED, "5.2.0", "cannot create output file" },
	{ EX_IOERR, DELIVER_BOUNCED, "5.3.0", "input/output error" },
	{ EX_TEMPFAIL, DELIVER_DEFERRED, "4.3.0", "temporary failure" },
	{ EX_PROTOCOL, DELIVER_BOUNCED, "5.5.0", "remote protocol error" },
	{ EX_NOPERM, DELIVER_BOUNCED, "5.7.0", "permission denied" },
	{ EX_CONFIG, DELIVER_BOUNCED, "5.3.5", "local configuration error" },
};

bool
cmd_run_sysexit(int code, enum deliver_action *action, const char **dsn,
		const char **text)
{
	for (size_t i = 0;
	     i < sizeof(cmd_run_sysexits) / sizeof(cmd_run_sysexits[0]); i++) {
		if (cmd_run_sysexits[i].status == code) {
			*action = cmd_run_sysexits[i].action;
			*dsn = cmd_run_sysexits[i].dsn;
			*text = cmd_run_sysexits[i].text;
			return true;
		}
	}
	return false;
}

int
cmd_run_environ(const char *export_list)
{
	char  *list = mystrdup(export_list);
	char **names = mycalloc(strlen(export_list) / 2 + 2, sizeof(*names));
	char **values = mycalloc(strlen(export_list) / 2 + 2, sizeof(*values));
	char  *save, *name;
	size_t n = 0;
	int    ret = 0;

	/* Copies first: clearenv() takes the strings getenv() returned. */
	for (name = strtok_r(list, " \t,", &save); name;
	     name = strtok_r(NULL, " \t,", &save)) {
		const char *v = getenv(name);

		if (v != NULL && strcmp(name, "PATH") != 0) {
			names[n] = name;
			values[n++] = mystrdup(v);
		}
	}
	if (clearenv() != 0 || setenv("PATH", CMD_RUN_PATH, 1) < 0)
		ret = -1;
	for (size_t i = 0; i < n; i++) {
		if (ret == 0 && setenv(names[i], values[i], 1) < 0)
			ret = -1;
		myfree(values[i]);
	}
	myfree(values);
	myfree(names);
	myfree(list);
	return ret;
}

/* Keep what fits of the command's output. */
static void
cmd_run_keep(struct cmd_run_result *res, const char *buf, size_t len)
{
	size_t take = CMD_RUN_OUTPUT_MAX - res->out_len;

	if (take > len)
		take = len;
	memcpy(res->output + res->out_len, buf, take);
	res->out_len += take;
}

/*
 * The command closed its output but may still run (it redirected its
 * output elsewhere, or left a child behind): wait for it until the
 * deadline, never longer.  0 reaped (status set), -1 time is up.
 */
static int
cmd_run_reap(pid_t pid, time_t deadline, int *status)
{
	int nap_ms = 10;

	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return 0; /* ECHILD: nothing left to wait for */
		if (time(NULL) >= deadline)
			return -1;
		(void)poll(NULL, 0, nap_ms);
		if (nap_ms < 200)
			nap_ms *= 2;
	}
}

int
cmd_run(const char *input, size_t len, long time_limit, cmd_run_exec_fn exec_fn,
	void *ctx, struct cmd_run_result *res)
{
	time_t deadline = time(NULL) + (time_t)time_limit;
	size_t done = 0;
	int    in[2], out[2];
	pid_t  pid;

	memset(res, 0, sizeof(*res));
	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		int saved = errno;

		close(in[0]);
		close(in[1]);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		setsid();
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0
		    || dup2(out[1], 2) < 0)
			_exit(EX_OSERR);
		signal(SIGPIPE, SIG_DFL);
		exec_fn(ctx);
		_exit(EX_OSERR);
	}
	close(in[0]);
	close(out[1]);
	(void)fcntl(in[1], F_SETFL, O_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct pollfd p[2] = { { .fd = out[0], .events = POLLIN },
				       { .fd = in[1], .events = POLLOUT } };
		long	      left = (long)(deadline - time(NULL));
		int	      n = in[1] >= 0 ? 2 : 1;
		char	      sink[4096];
		ssize_t	      got;

		if (left <= 0) {
			res->timed_out = true;
			break;
		}
		if (poll(p, (nfds_t)n, (int)(left > 5 ? 5000 : left * 1000))
		    < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 2 && p[1].revents) {
			got = write(in[1], input + done, len - done);
			if (got > 0)
				done += (size_t)got;
			if (got < 0 && errno != EAGAIN && errno != EINTR)
				done = len; /* the command stopped reading */
			if (done >= len) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (p[0].revents) {
			got = read(out[0], sink, sizeof(sink));
			if (got == 0 || (got < 0 && errno != EINTR))
				break;
			if (got > 0)
				cmd_run_keep(res, sink, (size_t)got);
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	close(out[0]);
	if (!res->timed_out && cmd_run_reap(pid, deadline, &res->status) < 0)
		res->timed_out = true;
	if (res->timed_out) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR)
			;
	}
	res->output[res->out_len] = 0;
	for (char *c = res->output; *c; c++)
		if (!isprint((unsigned char)*c))
			*c = ' ';
	return 0;
}
