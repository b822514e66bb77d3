/*
 * pipe - the pipe delivery agent (pipe(8)): hand each recipient's copy
 * of a message to an external command named in master.cf, as Postfix's
 * pipe does:
 *
 *   maildrop unix - n n - - pipe
 *     flags=DRhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
 *
 * Attributes: user=name[:group] (required, never root), argv=command
 * and arguments (the rest of the line), flags= (F: "From " line, R:
 * Return-Path, D: Delivered-To, O: X-Original-To, >: ">From " quoting,
 * B: blank line at the end, u: lower-case the recipient's local part,
 * h: lower-case its domain and ${nexthop}), size=N (larger messages bounce with 5.3.4).
 * In each argument ${sender}, ${recipient}, ${original_recipient},
 * ${nexthop}, ${user}, ${extension}, ${domain}, ${mailbox}, ${queue_id}
 * and ${size} are replaced; the command is executed directly (no shell)
 * once per recipient, as that user, with only PATH, HOME, LOGNAME, USER,
 * SHELL and the variables export_environment names in its environment,
 * the message on standard input.  Exit
 * status 0 is success, others follow sysexits.h as in local(8) (75 and
 * 71 defer); a command past command_time_limit is killed and the
 * recipient bounces.
 *
 * Errors: per recipient as above; a bad master.cf entry is fatal at
 * start.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "util/cmd_run.h"
#include "util/deliver_proto.h"
#include "util/deliver_serve.h"
#include "util/mbox.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"
#include "util/user.h"

typedef struct PIPE_STATE {
	char	  **argv; /* borrowed from ctx->argv */
	int	    argc;
	const char *flags;
	uid_t	    uid;
	gid_t	    gid;
	char	   *user, *home, *shell;
	long long   size_limit, time_limit;
	const char *delims;
	const char *export_env; /* export_environment */
} PIPE_STATE;

static void
pipe_post_jail(struct skel_ctx *ctx)
{
	PIPE_STATE    *st = mycalloc(1, sizeof(*st));
	const char    *user = NULL;
	struct passwd *pw;
	int	       i;

	st->flags = "";
	for (i = 0; i < ctx->argc; i++) {
		const char *a = ctx->argv[i];

		if (strncmp(a, "flags=", 6) == 0)
			st->flags = a + 6;
		else if (strncmp(a, "user=", 5) == 0)
			user = a + 5;
		else if (strncmp(a, "size=", 5) == 0)
			st->size_limit = strtoll(a + 5, NULL, 10);
		else if (strncmp(a, "argv=", 5) == 0)
			break;
		else
			msg_fatal("%s: unknown attribute \"%s\"", ctx->service,
				  a);
	}
	if (i >= ctx->argc || ctx->argv[i][5] == 0)
		msg_fatal("%s: missing argv= in master.cf", ctx->service);
	st->argv = ctx->argv + i;
	st->argc = ctx->argc - i;
	if (user == NULL)
		msg_fatal("%s: missing user= in master.cf", ctx->service);
	{
		char *name = mystrdup(user), *colon = strchr(name, ':');

		if (colon)
			*colon++ = 0;
		if ((pw = getpwnam(name)) == NULL)
			msg_fatal("%s: user=%s: unknown user", ctx->service,
				  name);
		st->uid = pw->pw_uid;
		st->gid = pw->pw_gid;
		st->user = mystrdup(pw->pw_name);
		st->home = mystrdup(pw->pw_dir);
		st->shell = mystrdup(pw->pw_shell);
		if (colon && user_group_lookup(colon, &st->gid) < 0)
			msg_fatal("%s: user=%s: unknown group", ctx->service,
				  user);
		myfree(name);
	}
	if (st->uid == 0 || st->gid == 0)
		msg_fatal("%s: user=%s: refusing to run commands as root",
			  ctx->service, user);
	st->time_limit = cfg_get_time(ctx->cfg, "command_time_limit");
	st->export_env = cfg_get_str(ctx->cfg, "export_environment");
	if (st->time_limit <= 0)
		st->time_limit = 1000;
	st->delims = cfg_get_str(ctx->cfg, "recipient_delimiter");
	ctx->app = st;
}

struct pipe_vars {
	const char *sender, *rcpt, *orig, *nexthop, *queue_id;
	VSTR	   *user, *ext, *domain, *mailbox, *size;
};

/* Replace ${name} in one argument. */
static void
pipe_expand(const char *in, const struct pipe_vars *v, VSTR *out)
{
	static const char *names[] = {
		"sender", "recipient", "nexthop",  "user", "extension",
		"domain", "mailbox",   "queue_id", "size", "original_recipient",
		NULL
	};

	vstr_reset(out);
	while (*in) {
		const char *close;
		size_t	    i, len;
		const char *val = NULL;

		if (in[0] != '$' || in[1] != '{'
		    || (close = strchr(in + 2, '}')) == NULL) {
			vstr_addch(out, *in++);
			continue;
		}
		len = (size_t)(close - in - 2);
		for (i = 0; names[i]; i++)
			if (strlen(names[i]) == len
			    && strncmp(in + 2, names[i], len) == 0)
				break;
		switch (i) {
		case 0:
			val = v->sender;
			break;
		case 1:
			val = v->rcpt;
			break;
		case 2:
			val = v->nexthop;
			break;
		case 3:
			val = VSTR_STR(v->user);
			break;
		case 4:
			val = VSTR_STR(v->ext);
			break;
		case 5:
			val = VSTR_STR(v->domain);
			break;
		case 6:
			val = VSTR_STR(v->mailbox);
			break;
		case 7:
			val = v->queue_id;
			break;
		case 8:
			val = VSTR_STR(v->size);
			break;
		case 9:
			val = v->orig;
			break;
		default:
			break;
		}
		if (val == NULL) {
			vstr_addch(out, *in++);
			continue;
		}
		vstr_strcat(out, val);
		in = close + 1;
	}
}

struct pipe_exec {
	PIPE_STATE *st;
	char	  **args;
};

/* In the child: become the pipe user, clean environment, exec argv. */
static void
pipe_exec(void *ctx)
{
	struct pipe_exec *x = ctx;
	PIPE_STATE	 *st = x->st;

	if (setgroups(1, &st->gid) < 0 || setgid(st->gid) < 0
	    || setuid(st->uid) < 0 || setuid(0) == 0)
		_exit(EX_OSERR);
	if (cmd_run_environ(st->export_env) < 0
	    || setenv("HOME", st->home, 1) < 0
	    || setenv("LOGNAME", st->user, 1) < 0
	    || setenv("USER", st->user, 1) < 0
	    || setenv("SHELL", st->shell, 1) < 0)
		_exit(EX_OSERR);
	if (chdir(st->home) < 0 && chdir("/") < 0)
		_exit(EX_OSERR);
	execvp(x->args[0], x->args);
	_exit(EX_OSERR);
}

/* Run the command for one recipient; result into s/text. */
static void
pipe_run(PIPE_STATE *st, char **args, const VSTR *msg, struct deliver_status *s,
	 VSTR *text)
{
	struct pipe_exec      x = { .st = st, .args = args };
	struct cmd_run_result res;
	enum deliver_action   action = DELIVER_BOUNCED;
	const char	     *dsn = "5.3.0", *why;

	if (cmd_run(VSTR_STR(msg), VSTR_LEN(msg), st->time_limit, pipe_exec, &x,
		    &res)
	    < 0) {
		vstr_sprintf(text, "cannot run command: %s", strerror(errno));
		deliver_status_set(s, DELIVER_DEFERRED, "4.3.0", VSTR_STR(text),
				   NULL);
	} else if (res.timed_out) {
		vstr_sprintf(text, "Command time limit exceeded: \"%s\"",
			     args[0]);
		deliver_status_set(s, DELIVER_BOUNCED, "5.3.0", VSTR_STR(text),
				   NULL);
	} else if (WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0) {
		vstr_sprintf(text, "delivered via %s service", "pipe");
		deliver_status_set(s, DELIVER_SENT, "2.0.0", VSTR_STR(text),
				   NULL);
	} else if (WIFEXITED(res.status)) {
		int code = WEXITSTATUS(res.status);

		(void)cmd_run_sysexit(code, &action, &dsn, &why);
		vstr_sprintf(text,
			     "Command died with status %d: \"%s\". "
			     "Command output: %s",
			     code, args[0], res.out_len ? res.output : "none");
		deliver_status_set(s, action, dsn, VSTR_STR(text), NULL);
	} else {
		vstr_sprintf(text, "Command killed by signal %d: \"%s\"",
			     WTERMSIG(res.status), args[0]);
		deliver_status_set(s, DELIVER_BOUNCED, "5.3.0", VSTR_STR(text),
				   NULL);
	}
}

static void
pipe_rcpt(PIPE_STATE *st, const struct deliver_request *req,
	  const struct deliver_rcpt *r, const VSTR *content,
	  struct deliver_status *s, VSTR *text)
{
	struct pipe_vars v = { .sender = req->sender,
			       .orig = r->orig ? r->orig : r->addr,
			       .nexthop = req->nexthop,
			       .queue_id = req->queue_id };
	VSTR		*addr = vstr_alloc(64);
	const char	*at;
	size_t		 llen;
	VSTR		*msg = vstr_alloc(VSTR_LEN(content) + 256);
	VSTR		*hdr = vstr_alloc(256), *nexthop = vstr_alloc(64);
	char	       **args = mycalloc((size_t)st->argc + 1, sizeof(*args));
	int		 fmt = 0;

	/* u folds the recipient's local part, h its domain (and nexthop). */
	vstr_strcpy(addr, r->addr);
	at = strrchr(VSTR_STR(addr), '@');
	llen = at ? (size_t)(at - VSTR_STR(addr)) : VSTR_LEN(addr);
	for (size_t i = 0; i < VSTR_LEN(addr); i++) {
		char *c = VSTR_STR(addr) + i;

		if ((i < llen && strchr(st->flags, 'u'))
		    || (i > llen && strchr(st->flags, 'h')))
			*c = (char)tolower((unsigned char)*c);
	}
	v.rcpt = VSTR_STR(addr);
	at = at ? VSTR_STR(addr) + llen : NULL;

	v.user = vstr_alloc(32);
	v.ext = vstr_alloc(16);
	v.domain = vstr_alloc(32);
	v.mailbox = vstr_alloc(32);
	v.size = vstr_alloc(16);
	vstr_memcpy(v.mailbox, v.rcpt, llen);
	vstr_strcpy(v.user, VSTR_STR(v.mailbox));
	for (size_t i = 1; *st->delims && i < llen; i++)
		if (strchr(st->delims, v.rcpt[i])) {
			vstr_truncate(v.user, i);
			vstr_strcpy(v.ext, VSTR_STR(v.mailbox) + i + 1);
			break;
		}
	vstr_strcpy(v.domain, at ? at + 1 : "");
	vstr_strcpy(nexthop, req->nexthop);
	vstr_sprintf(v.size, "%lld", req->message_size);
	if (strchr(st->flags, 'h'))
		vstr_lower(nexthop);
	v.nexthop = VSTR_STR(nexthop);
	if (st->size_limit > 0 && req->message_size > st->size_limit) {
		vstr_sprintf(text, "message too large for the pipe service");
		deliver_status_set(s, DELIVER_BOUNCED, "5.3.4", VSTR_STR(text),
				   NULL);
		goto out;
	}
	if (strchr(st->flags, 'F'))
		fmt |= MBOX_FMT_FROM;
	if (strchr(st->flags, '>'))
		fmt |= MBOX_FMT_QUOTE;
	if (strchr(st->flags, 'B'))
		fmt |= MBOX_FMT_BLANK;
	mbox_format(msg, req->sender, strchr(st->flags, 'D') ? r->addr : NULL,
		    VSTR_STR(content), VSTR_LEN(content), fmt);
	/* mbox_format always writes Return-Path; R decides if it stays. */
	{
		const char *rp = strstr(VSTR_STR(msg), "Return-Path: <");
		size_t	    off = (size_t)(rp - VSTR_STR(msg));
		const char *eol = strchr(rp, '\n');

		vstr_memcpy(hdr, VSTR_STR(msg), off);
		if (strchr(st->flags, 'R'))
			vstr_memcat(hdr, rp, (size_t)(eol - rp) + 1);
		if (strchr(st->flags, 'O'))
			vstr_sprintf_append(hdr, "X-Original-To: %s\n", v.orig);
		vstr_strcat(hdr, eol + 1);
	}
	for (int i = 0; i < st->argc; i++) {
		VSTR *a = vstr_alloc(64);

		pipe_expand(i == 0 ? st->argv[0] + 5 : st->argv[i], &v, a);
		args[i] = vstr_export(a);
	}
	pipe_run(st, args, hdr, s, text);
out:
	for (int i = 0; i < st->argc; i++)
		myfree(args[i]);
	myfree(args);
	vstr_free(msg);
	vstr_free(hdr);
	vstr_free(nexthop);
	vstr_free(addr);
	vstr_free(v.user);
	vstr_free(v.ext);
	vstr_free(v.domain);
	vstr_free(v.mailbox);
	vstr_free(v.size);
}

static void
pipe_deliver_rcpt(struct skel_ctx *ctx, const struct deliver_request *req,
		  size_t i, VSTR *content, struct deliver_status *sts,
		  VSTR *text)
{
	pipe_rcpt(ctx->app, req, &req->rcpts[i], content, sts, text);
}

static void
pipe_service(struct skel_ctx *ctx, int fd)
{
	signal(SIGPIPE, SIG_IGN);
	/* relay=SERVICE, the master.cf name, as Postfix's pipe logs it. */
	deliver_serve(ctx, fd,
		      &(const struct deliver_serve_ops){
			  .relay = NULL,
			  .content = true,
			  .rcpt = pipe_deliver_rcpt,
		      });
}

static void
pipe_pre_exit(struct skel_ctx *ctx)
{
	PIPE_STATE *st = ctx->app;

	if (st) {
		myfree(st->user);
		myfree(st->home);
		myfree(st->shell);
		myfree(st);
		ctx->app = NULL;
	}
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .post_jail = pipe_post_jail,
				    .service = pipe_service,
				    .pre_exit = pipe_pre_exit,
				});
}
