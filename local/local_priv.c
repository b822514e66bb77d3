/*
 * local_priv - run one delivery step in a child process that has become
 * the recipient (or default_privs) for good, and collect its result.
 *
 * The parent stays root so that it can serve the next recipient; the
 * child sets the supplementary groups, gid and uid, checks that uid 0
 * cannot be regained, runs the step and writes its result to a pipe:
 * "<action digit> <dsn> <text>".  uid 0 is refused except for the
 * delivery into root's own mailbox (struct local_user.mailbox, set only
 * by local_mailbox.c): files and commands on root's behalf run as
 * default_privs (callers map root to it first).  When
 * local itself is not root (a developer's `make run`), nothing can be
 * switched and every delivery runs as that one account.
 *
 * Errors: a child that dies or says nothing defers the step (4.3.0);
 * fork and pipe failures defer too.  Ownership: struct local_user and
 * its strings are the caller's (local_user_free).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "local/local.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/*
 * A result travels back whole: a .forward or :include: file's text can be
 * as long as forward_file_size_limit allows (at most 16 MiB, and its
 * parsed form at most twice that), so the channel's ceiling sits above it.
 */
#define LOCAL_PRIV_TEXT_MAX (40 * 1024 * 1024)

int
local_user_lookup(const char *name, struct local_user *u)
{
	struct passwd pw, *res = NULL;
	char	      buf[16384];

	memset(u, 0, sizeof(*u));
	errno = 0;
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || res == NULL) {
		if (errno == 0)
			errno = ENOENT;
		return -1;
	}
	u->name = mystrdup(pw.pw_name);
	u->uid = u->owner_uid = pw.pw_uid;
	u->gid = u->owner_gid = pw.pw_gid;
	u->home = mystrdup(pw.pw_dir && *pw.pw_dir ? pw.pw_dir : "/");
	u->shell = mystrdup(pw.pw_shell && *pw.pw_shell ? pw.pw_shell
							: "/bin/sh");
	return 0;
}

void
local_user_free(struct local_user *u)
{
	u->name = myfree(u->name);
	u->home = myfree(u->home);
	u->shell = myfree(u->shell);
}

/* Become u for good in the child; 0 or -1. */
static int
local_priv_become(const struct local_user *u)
{
	/* Not root (make run): everything runs as the one account we are. */
	if (geteuid() != 0)
		return 0;
	/* root's own mailbox is written as root, nothing else ever is. */
	if (u->uid == 0)
		return u->mailbox ? 0 : -1;
	if (setgroups(1, &u->gid) < 0 || setgid(u->gid) < 0
	    || setuid(u->uid) < 0)
		return -1;
	if (getuid() != u->uid || geteuid() != u->uid || setuid(0) == 0)
		return -1;
	return 0;
}

void
local_priv_run(const struct local_user *u, long long time_limit,
	       LOCAL_PRIV_FN fn, void *ctx, struct local_result *r)
{
	int	pfd[2];
	pid_t	pid;
	int	status;
	char	chunk[8192];
	VSTR   *buf;
	ssize_t n;
	time_t	deadline;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		local_result_set(r, DELIVER_DEFERRED, "4.3.0", "pipe: %m");
		return;
	}
	if ((pid = fork()) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		local_result_set(r, DELIVER_DEFERRED, "4.3.0", "fork: %m");
		return;
	}
	if (pid == 0) {
		struct local_result cr;
		VSTR		   *out = vstr_alloc(256);

		close(pfd[0]);
		signal(SIGPIPE, SIG_DFL);
		local_result_init(&cr);
		if (local_priv_become(u) < 0)
			local_result_set(&cr, DELIVER_DEFERRED, "4.3.0",
					 "cannot switch to user %s (uid %ld)",
					 u->name, (long)u->uid);
		else
			fn(ctx, &cr);
		vstr_sprintf(out, "%d %s ", (int)cr.action, cr.dsn);
		vstr_memcat(out, VSTR_STR(cr.text), VSTR_LEN(cr.text));
		(void)write_full(pfd[1], VSTR_STR(out), VSTR_LEN(out), 10000);
		_exit(0);
	}
	close(pfd[1]);
	buf = vstr_alloc(256);
	deadline = time(NULL) + (time_t)time_limit + 30;
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		long	      left = (long)(deadline - time(NULL));

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, (int)(left > 60 ? 60000 : left * 1000)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p.revents == 0)
			continue;
		n = read(pfd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		vstr_memcat(buf, chunk, (size_t)n);
		if (VSTR_LEN(buf) > LOCAL_PRIV_TEXT_MAX) {
			kill(pid, SIGKILL);
			vstr_reset(buf); /* no half result */
			break;
		}
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	{
		int	    action;
		char	    dsn[16];
		int	    off = 0;
		const char *text = VSTR_STR(buf);

		if (sscanf(text, "%d %15s %n", &action, dsn, &off) >= 2
		    && off > 0 && action >= DELIVER_SENT
		    && action <= DELIVER_BOUNCED && deliver_dsn_valid(dsn))
			local_result_set(r, (enum deliver_action)action, dsn,
					 "%s", text + off);
		else
			local_result_set(r, DELIVER_DEFERRED, "4.3.0",
					 "delivery process for %s failed",
					 u->name);
	}
	vstr_free(buf);
}
