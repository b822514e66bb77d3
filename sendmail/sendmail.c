/*
 * sendmail - the Unix mail submission entry point (also mailq, newaliases).
 *
 * Usage: sendmail [options] [recipient ...]   (sendmail(1) lists them)
 *
 * -bm (default) reads a message on standard input and hands it, with its
 * envelope, to postdrop (command_directory/postdrop, setgid) over a pipe
 * (sendmail/postdrop_proto.h).  -bs speaks SMTP on standard input and
 * output; each message goes through postdrop the same way.  -bp (mailq)
 * runs postelqueue -p, -bi (newaliases) runs newaliases, -q runs
 * postel flush.
 *
 * Content: input lines end at LF; a CR before the LF is dropped and a bare
 * CR also ends a line (never passed on as one, DESIGN.md section 5); every
 * line leaves as CRLF (the queue's wire form).  Without -i/-oi a line
 * holding only "." ends the input.  Memory is bounded: content is streamed
 * in POSTDROP_DATA_CHUNK frames whatever the line or message length.
 *
 * Errors: messages name the cause; exit codes follow sysexits.h: EX_USAGE
 * for bad options or no recipients, EX_NOUSER for a malformed address or
 * an unknown user, EX_TEMPFAIL / postdrop's own status when the message
 * could not be queued, EX_UNAVAILABLE / EX_OSERR when a helper command
 * cannot run.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "sendmail/postdrop_proto.h"
#include "util/sendmail_conf.h"
#include "sendmail/sendmail_conv.h"
#include "util/addr.h"
#include "util/attr.h"
#include "util/cfg.h"
#include "util/ipc.h"
#include "util/maildrop.h"
#include "util/maillog.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

#define SENDMAIL_INBUF	  (64 * 1024)
#define SENDMAIL_LINE_MAX 2048 /* -bs command line bound */

enum sendmail_mode {
	SM_MODE_ENQUEUE,    /* -bm */
	SM_MODE_SMTP,	    /* -bs */
	SM_MODE_MAILQ,	    /* -bp */
	SM_MODE_NEWALIASES, /* -bi */
	SM_MODE_FLUSH,	    /* -q */
};

struct sendmail {
	CFG		  *cfg;
	const char	  *confdir;
	char		  *cmd_dir; /* where postdrop & co. are run from */
	enum sendmail_mode mode;
	bool		   extract;  /* -t */
	bool		   dot_ends; /* no -i / -oi */
	const char	  *sender;   /* -f / -r, NULL: login name */
	const char	  *fullname; /* -F, else $NAME */
	int		   notify;   /* -N */
	int		   ret;	     /* -R */
	const char	  *envid;    /* -V */
	int		   verbose;
	bool		   allow_min_user; /* addresses may begin with "-" */
};

/* Buffered standard input shared by the SMTP reader and the content
 * converter, so the bytes after DATA's "." stay for the next command. */
struct sendmail_in {
	int    fd;
	size_t pos;
	size_t len;
	bool   eof;
	char   buf[SENDMAIL_INBUF];
};

/* One message on its way to postdrop. */
struct sendmail_drop {
	pid_t	    pid;
	IPC_STREAM *st;
	ATTR	   *frame;
	VSTR	   *buf;    /* content not yet sent */
	bool	    failed; /* postdrop went away */
};

static int
sendmail_getc(struct sendmail_in *in)
{
	ssize_t n;

	if (in->pos == in->len) {
		if (in->eof)
			return -1;
		while ((n = read(in->fd, in->buf, sizeof(in->buf))) < 0
		       && errno == EINTR)
			;
		if (n < 0)
			msg_fatal_status(EX_IOERR, "read standard input: %m");
		if (n == 0) {
			in->eof = true;
			return -1;
		}
		in->pos = 0;
		in->len = (size_t)n;
	}
	return (unsigned char)in->buf[in->pos++];
}

/* Postdrop client. */

static void
sendmail_drop_send(struct sendmail_drop *d)
{
	if (d->failed)
		return;
	if (ipc_stream_send(d->st, d->frame, IPC_WAIT_FOREVER) < 0)
		d->failed = true;
}

static struct sendmail_drop *
sendmail_drop_begin(struct sendmail *sm, const char *sender,
		    const MAILDROP_ENV *rcpts, int ret, const char *envid)
{
	struct sendmail_drop *d = mycalloc(1, sizeof(*d));
	VSTR		     *prog = vstr_alloc(100);
	ATTR		     *a;
	int		      pfd[2];

	vstr_sprintf(prog, "%s/postdrop", sm->cmd_dir);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		msg_fatal_status(EX_OSERR, "pipe: %m");
	if ((d->pid = fork()) < 0)
		msg_fatal_status(EX_OSERR, "fork: %m");
	if (d->pid == 0) {
		char *argv[] = { "postdrop", "-c", (char *)sm->confdir,
				 sm->verbose ? "-v" : NULL, NULL };
		char *envp[] = { NULL };

		/* With -bs standard output is the SMTP client's. */
		if (dup2(pfd[0], 0) < 0 || dup2(2, 1) < 0)
			_exit(EX_OSERR);
		execve(VSTR_STR(prog), argv, envp);
		msg_error("exec %s: %m", VSTR_STR(prog));
		_exit(EX_UNAVAILABLE);
	}
	close(pfd[0]);
	vstr_free(prog);
	d->st = ipc_stream_open(pfd[1]);
	d->frame = a = attr_alloc();
	d->buf = vstr_alloc(POSTDROP_DATA_CHUNK + 1024);
	attr_put_str(a, "request", POSTDROP_REQ_ENVELOPE);
	attr_put_str(a, "sender", sender);
	if (sm->fullname)
		attr_put_str(a, "fullname", sm->fullname);
	attr_put_int(a, "extract", sm->extract && sm->mode == SM_MODE_ENQUEUE);
	if (envid)
		attr_put_str(a, "envid", envid);
	attr_put_int(a, "ret", ret);
	sendmail_drop_send(d);
	for (size_t i = 0; i < rcpts->nrcpt; i++) {
		attr_reset(a);
		attr_put_str(a, "request", POSTDROP_REQ_RCPT);
		attr_put_str(a, "addr", rcpts->rcpt[i]);
		attr_put_int(a, "notify", rcpts->notify[i]);
		sendmail_drop_send(d);
	}
	return d;
}

static void
sendmail_drop_flush(struct sendmail_drop *d)
{
	attr_reset(d->frame);
	attr_put_str(d->frame, "request", POSTDROP_REQ_DATA);
	attr_put_data(d->frame, "data", VSTR_STR(d->buf), VSTR_LEN(d->buf));
	vstr_reset(d->buf);
	sendmail_drop_send(d);
}

/* Frames never exceed POSTDROP_DATA_CHUNK, however long a line is. */
static void
sendmail_drop_write(struct sendmail_drop *d, const char *data, size_t len)
{
	size_t room;

	while (len > 0) {
		room = POSTDROP_DATA_CHUNK - VSTR_LEN(d->buf);
		if (room > len)
			room = len;
		vstr_memcat(d->buf, data, room);
		data += room;
		len -= room;
		if (VSTR_LEN(d->buf) >= POSTDROP_DATA_CHUNK)
			sendmail_drop_flush(d);
	}
}

/*
 * End the message (commit, or abandon it by closing early); postdrop's
 * exit status: 0 when the maildrop file exists.
 */
static int
sendmail_drop_finish(struct sendmail_drop *d, bool commit)
{
	int status;
	int ret;

	if (commit) {
		if (VSTR_LEN(d->buf))
			sendmail_drop_flush(d);
		attr_reset(d->frame);
		attr_put_str(d->frame, "request", POSTDROP_REQ_END);
		sendmail_drop_send(d);
	}
	ipc_stream_close(d->st);
	while (waitpid(d->pid, &status, 0) < 0)
		if (errno != EINTR)
			msg_fatal_status(EX_OSERR, "waitpid: %m");
	if (WIFEXITED(status))
		ret = WEXITSTATUS(status);
	else
		ret = EX_SOFTWARE;
	if (commit && ret == 0 && d->failed)
		ret = EX_SOFTWARE;
	attr_free(d->frame);
	vstr_free(d->buf);
	myfree(d);
	return ret;
}

/* Content conversion (sendmail/sendmail_conv.h). */

static void
sendmail_conv_to_drop(void *ctx, const char *data, size_t len)
{
	sendmail_drop_write(ctx, data, len);
}

/* Copy input until the end-of-data line (true) or end of input. */
static bool
sendmail_copy(struct sendmail_in *in, struct sendmail_drop *d, bool dot_ends,
	      bool unstuff)
{
	struct sendmail_conv cv;

	sendmail_conv_init(&cv, dot_ends, unstuff, sendmail_conv_to_drop, d);
	while (!cv.done) {
		if (in->pos == in->len && sendmail_getc(in) >= 0)
			in->pos--; /* refilled: unread that byte */
		if (in->pos == in->len)
			return sendmail_conv_eof(&cv);
		in->pos += sendmail_conv_feed(&cv, in->buf + in->pos,
					      in->len - in->pos);
	}
	return true;
}

/* Addresses. */

/* Parse an address list argument into rcpts; -1 when anything is bad. */
static int
sendmail_parse_rcpts(const char *arg, MAILDROP_ENV *rcpts, int notify,
		     bool allow_min_user)
{
	ADDR_LIST *list = addr_list_alloc();
	int	   ret = 0;

	addr_parse_header(list, arg, strlen(arg));
	if (list->count == 0 || list->bad > 0)
		ret = -1;
	for (size_t i = 0; ret == 0 && i < list->count; i++) {
		const VSTR *a = list->addrs[i]->addr;

		if (!maildrop_text_ok(VSTR_STR(a), VSTR_LEN(a)) || !VSTR_LEN(a)
		    || (!allow_min_user && addr_min_user(list->addrs[i])))
			ret = -1;
		else
			maildrop_env_add_rcpt(rcpts, VSTR_STR(a), notify);
	}
	addr_list_free(list);
	return ret;
}

/* The envelope sender in external form into out; -1 when malformed. */
static int
sendmail_parse_sender(const char *arg, VSTR *out, bool allow_min_user)
{
	ADDR_LIST *list;
	int	   ret = -1;

	if (*arg == 0 || strcmp(arg, "<>") == 0) {
		vstr_reset(out);
		return 0;
	}
	list = addr_list_alloc();
	addr_parse_header(list, arg, strlen(arg));
	if (list->count == 1 && list->bad == 0
	    && (allow_min_user || !addr_min_user(list->addrs[0]))
	    && maildrop_text_ok(VSTR_STR(list->addrs[0]->addr),
				VSTR_LEN(list->addrs[0]->addr))) {
		vstr_strcpy(out, VSTR_STR(list->addrs[0]->addr));
		ret = 0;
	}
	addr_list_free(list);
	return ret;
}

static int
sendmail_parse_notify(const char *arg)
{
	static const struct {
		const char *name;
		int	    bit;
	} words[] = {
		{ "never", ADDR_NOTIFY_NEVER },
		{ "success", ADDR_NOTIFY_SUCCESS },
		{ "failure", ADDR_NOTIFY_FAILURE },
		{ "delay", ADDR_NOTIFY_DELAY },
	};
	char  *copy = mystrdup(arg);
	char  *bp = copy;
	char  *word;
	int    bits = 0;
	size_t i;

	while ((word = str_token(&bp, ", \t")) != NULL) {
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strcasecmp(word, words[i].name) == 0)
				break;
		if (i == sizeof(words) / sizeof(words[0]))
			msg_fatal_status(EX_USAGE,
					 "-N: bad DSN notification "
					 "\"%s\": use never, or success, "
					 "failure, delay",
					 word);
		bits |= words[i].bit;
	}
	myfree(copy);
	if (bits == 0
	    || ((bits & ADDR_NOTIFY_NEVER) && bits != ADDR_NOTIFY_NEVER))
		msg_fatal_status(EX_USAGE, "-N: bad DSN notification \"%s\"",
				 arg);
	return bits;
}

/* -bm: one message from standard input. */
static int
sendmail_enqueue(struct sendmail *sm, char **rcpt_args, int nargs)
{
	MAILDROP_ENV	     *rcpts = maildrop_env_alloc();
	VSTR		     *sender = vstr_alloc(100);
	struct sendmail_in   *in = mycalloc(1, sizeof(*in));
	struct sendmail_drop *d;
	struct passwd	     *pw;
	int		      status;

	for (int i = 0; i < nargs; i++)
		if (sendmail_parse_rcpts(rcpt_args[i], rcpts, sm->notify,
					 sm->allow_min_user)
		    < 0)
			msg_fatal_status(EX_NOUSER,
					 "bad recipient address "
					 "syntax: %s",
					 rcpt_args[i]);
	if (rcpts->nrcpt == 0 && !sm->extract)
		msg_fatal_status(EX_USAGE, "no recipients specified (give "
					   "addresses or -t)");
	if (sm->sender) {
		if (sendmail_parse_sender(sm->sender, sender,
					  sm->allow_min_user)
		    < 0)
			msg_fatal_status(EX_NOUSER,
					 "bad sender address "
					 "syntax: %s",
					 sm->sender);
	} else {
		if ((pw = getpwuid(getuid())) == NULL)
			msg_fatal_status(EX_NOUSER,
					 "no login name for user "
					 "ID %ld",
					 (long)getuid());
		vstr_strcpy(sender, pw->pw_name);
	}
	d = sendmail_drop_begin(sm, VSTR_STR(sender), rcpts, sm->ret,
				sm->envid);
	in->fd = 0;
	(void)sendmail_copy(in, d, sm->dot_ends, false);
	if ((status = sendmail_drop_finish(d, true)) != 0)
		msg_fatal_status(status,
				 "message not queued: postdrop "
				 "failed with status %d",
				 status);
	myfree(in);
	vstr_free(sender);
	maildrop_env_free(rcpts);
	return 0;
}

/* -bs: a compact SMTP server on standard input and output. */

enum sendmail_smtp_state {
	SMTP_IDLE, /* no transaction */
	SMTP_MAIL, /* MAIL given */
	SMTP_RCPT, /* at least one RCPT */
};

struct sendmail_smtp {
	struct sendmail		*sm;
	struct sendmail_in	 in;
	enum sendmail_smtp_state state;
	VSTR			*line;
	VSTR			*out;
	VSTR			*sender;
	VSTR			*envid;
	bool			 envid_given;
	int			 ret;
	MAILDROP_ENV		*rcpts;
	ADDR_SMTP		*parsed;
	int			 errors;
	bool			 quit;
};

static void sendmail_smtp_reply(struct sendmail_smtp *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sendmail_smtp_reply(struct sendmail_smtp *s, const char *fmt, ...)
{
	va_list ap;

	vstr_reset(s->out);
	va_start(ap, fmt);
	(void)vstr_vsprintf_append(s->out, fmt, ap);
	va_end(ap);
	vstr_memcat(s->out, "\r\n", 2);
	if (write_full(1, VSTR_STR(s->out), VSTR_LEN(s->out), IPC_WAIT_FOREVER)
	    < 0)
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	if (VSTR_STR(s->out)[0] == '4' || VSTR_STR(s->out)[0] == '5')
		s->errors++;
}

static void
sendmail_smtp_set_state(struct sendmail_smtp *s, enum sendmail_smtp_state st)
{
	if (msg_verbose)
		msg_info("smtp state %d -> %d", (int)s->state, (int)st);
	s->state = st;
}

static void
sendmail_smtp_reset(struct sendmail_smtp *s)
{
	maildrop_env_reset(s->rcpts);
	vstr_reset(s->sender);
	s->envid_given = false;
	s->ret = ADDR_RET_NONE;
	sendmail_smtp_set_state(s, SMTP_IDLE);
}

/* Read a command line (without CR LF); false at end of input. */
static bool
sendmail_smtp_getline(struct sendmail_smtp *s, bool *too_long)
{
	int c;

	vstr_reset(s->line);
	*too_long = false;
	while ((c = sendmail_getc(&s->in)) >= 0 && c != '\n') {
		if (VSTR_LEN(s->line) < SENDMAIL_LINE_MAX)
			vstr_addch(s->line, c);
		else
			*too_long = true;
	}
	if (c < 0 && VSTR_LEN(s->line) == 0)
		return false;
	if (VSTR_LEN(s->line)
	    && VSTR_STR(s->line)[VSTR_LEN(s->line) - 1] == '\r')
		vstr_truncate(s->line, VSTR_LEN(s->line) - 1);
	return true;
}

static void
sendmail_smtp_helo(struct sendmail_smtp *s, const char *arg)
{
	if (*arg == 0) {
		sendmail_smtp_reply(s, "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	sendmail_smtp_reset(s);
	sendmail_smtp_reply(s, "250 %s", cfg_get_str(s->sm->cfg, "myhostname"));
}

static void
sendmail_smtp_ehlo(struct sendmail_smtp *s, const char *arg)
{
	if (*arg == 0) {
		sendmail_smtp_reply(s, "501 5.5.4 Syntax: EHLO hostname");
		return;
	}
	sendmail_smtp_reset(s);
	sendmail_smtp_reply(s,
			    "250-%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
			    "250-DSN\r\n250 ENHANCEDSTATUSCODES",
			    cfg_get_str(s->sm->cfg, "myhostname"));
}

/* "FROM:" / "TO:" prefix, case-insensitive; the rest or NULL. */
static const char *
sendmail_smtp_prefix(const char *arg, const char *prefix)
{
	size_t len = strlen(prefix);

	if (strncasecmp(arg, prefix, len) != 0)
		return NULL;
	arg += len;
	while (*arg == ' ')
		arg++;
	return arg;
}

static void
sendmail_smtp_mail(struct sendmail_smtp *s, const char *arg)
{
	const char *path = sendmail_smtp_prefix(arg, "FROM:");
	ADDR_SMTP  *p = s->parsed;

	if (s->state != SMTP_IDLE) {
		sendmail_smtp_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (path == NULL) {
		sendmail_smtp_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (addr_parse_smtp(p, ADDR_CMD_MAIL, path, strlen(path),
			    ADDR_OPT_8BITMIME | ADDR_OPT_DSN)
	    < 0) {
		sendmail_smtp_reply(s, "%d %s %s", p->code, p->dsn,
				    VSTR_STR(p->reply));
		return;
	}
	if (!maildrop_text_ok(VSTR_STR(p->addr->addr), VSTR_LEN(p->addr->addr))
	    || (!s->sm->allow_min_user && addr_min_user(p->addr))) {
		sendmail_smtp_reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	vstr_strcpy(s->sender, VSTR_STR(p->addr->addr));
	s->ret = p->ret;
	s->envid_given = p->envid_given;
	if (p->envid_given)
		vstr_strcpy(s->envid, VSTR_STR(p->envid));
	sendmail_smtp_set_state(s, SMTP_MAIL);
	sendmail_smtp_reply(s, "250 2.1.0 Ok");
}

static void
sendmail_smtp_rcpt(struct sendmail_smtp *s, const char *arg)
{
	const char *path = sendmail_smtp_prefix(arg, "TO:");
	ADDR_SMTP  *p = s->parsed;
	long long   limit = cfg_get_int(s->sm->cfg, "smtpd_recipient_limit");

	if (s->state == SMTP_IDLE) {
		sendmail_smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (path == NULL) {
		sendmail_smtp_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (limit > 0 && (long long)s->rcpts->nrcpt >= limit) {
		sendmail_smtp_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (addr_parse_smtp(p, ADDR_CMD_RCPT, path, strlen(path), ADDR_OPT_DSN)
	    < 0) {
		sendmail_smtp_reply(s, "%d %s %s", p->code, p->dsn,
				    VSTR_STR(p->reply));
		return;
	}
	if (VSTR_LEN(p->addr->addr) == 0
	    || !maildrop_text_ok(VSTR_STR(p->addr->addr),
				 VSTR_LEN(p->addr->addr))
	    || (!s->sm->allow_min_user && addr_min_user(p->addr))) {
		sendmail_smtp_reply(s, "501 5.1.3 Bad recipient address "
				       "syntax");
		return;
	}
	maildrop_env_add_rcpt(s->rcpts, VSTR_STR(p->addr->addr), p->notify);
	sendmail_smtp_set_state(s, SMTP_RCPT);
	sendmail_smtp_reply(s, "250 2.1.5 Ok");
}

static void
sendmail_smtp_data(struct sendmail_smtp *s, const char *arg)
{
	struct sendmail_drop *d;
	int		      status;
	bool		      complete;

	if (*arg) {
		sendmail_smtp_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->state != SMTP_RCPT) {
		sendmail_smtp_reply(s,
				    s->state == SMTP_IDLE
					? "503 5.5.1 Error: need MAIL command"
					: "503 5.5.1 Error: need RCPT command");
		return;
	}
	sendmail_smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	d = sendmail_drop_begin(s->sm, VSTR_STR(s->sender), s->rcpts, s->ret,
				s->envid_given ? VSTR_STR(s->envid) : NULL);
	complete = sendmail_copy(&s->in, d, true, true);
	status = sendmail_drop_finish(d, complete);
	if (!complete) {
		s->quit = true;
		return;
	}
	if (status == 0)
		sendmail_smtp_reply(s, "250 2.0.0 Ok: queued");
	else
		sendmail_smtp_reply(s, "451 4.3.0 Error: queue file write "
				       "error");
	sendmail_smtp_reset(s);
}

static void
sendmail_smtp_rset(struct sendmail_smtp *s, const char *arg)
{
	(void)arg;
	sendmail_smtp_reset(s);
	sendmail_smtp_reply(s, "250 2.0.0 Ok");
}

static void
sendmail_smtp_noop(struct sendmail_smtp *s, const char *arg)
{
	(void)arg;
	sendmail_smtp_reply(s, "250 2.0.0 Ok");
}

static void
sendmail_smtp_quit(struct sendmail_smtp *s, const char *arg)
{
	(void)arg;
	sendmail_smtp_reply(s, "221 2.0.0 Bye");
	s->quit = true;
}

static const struct sendmail_smtp_verb {
	const char *name;
	void (*action)(struct sendmail_smtp *, const char *);
} sendmail_smtp_verbs[] = {
	{ "HELO", sendmail_smtp_helo }, { "EHLO", sendmail_smtp_ehlo },
	{ "MAIL", sendmail_smtp_mail }, { "RCPT", sendmail_smtp_rcpt },
	{ "DATA", sendmail_smtp_data }, { "RSET", sendmail_smtp_rset },
	{ "NOOP", sendmail_smtp_noop }, { "QUIT", sendmail_smtp_quit },
};

static int
sendmail_smtp(struct sendmail *sm)
{
	struct sendmail_smtp s = { .sm = sm };
	long long hard = cfg_get_int(sm->cfg, "smtpd_hard_error_limit");
	const struct sendmail_smtp_verb *verb;
	char				*cmd;
	char				*arg;
	bool				 too_long;
	size_t				 i;

	s.in.fd = 0;
	s.line = vstr_alloc(SENDMAIL_LINE_MAX + 1);
	s.out = vstr_alloc(256);
	s.sender = vstr_alloc(100);
	s.envid = vstr_alloc(100);
	s.rcpts = maildrop_env_alloc();
	s.parsed = addr_smtp_alloc();
	sendmail_smtp_reply(&s, "220 %s", cfg_get_str(sm->cfg, "smtpd_banner"));
	while (!s.quit && sendmail_smtp_getline(&s, &too_long)) {
		if (too_long) {
			sendmail_smtp_reply(&s, "500 5.5.2 Error: line too "
						"long");
		} else if (memchr(VSTR_STR(s.line), 0, VSTR_LEN(s.line))) {
			sendmail_smtp_reply(&s, "500 5.5.2 Error: bad syntax");
		} else {
			cmd = VSTR_STR(s.line);
			arg = cmd + strcspn(cmd, " ");
			if (*arg)
				*arg++ = 0;
			for (i = 0; i < sizeof(sendmail_smtp_verbs)
					    / sizeof(sendmail_smtp_verbs[0]);
			     i++)
				if (strcasecmp(cmd, sendmail_smtp_verbs[i].name)
				    == 0)
					break;
			if (i
			    == sizeof(sendmail_smtp_verbs)
				   / sizeof(sendmail_smtp_verbs[0])) {
				sendmail_smtp_reply(&s,
						    "502 5.5.2 Error: "
						    "command not recognized");
			} else {
				verb = &sendmail_smtp_verbs[i];
				verb->action(&s, arg);
			}
		}
		if (hard > 0 && s.errors >= hard) {
			sendmail_smtp_reply(&s,
					    "421 4.7.0 %s Error: too many "
					    "errors",
					    cfg_get_str(sm->cfg, "myhostname"));
			break;
		}
	}
	addr_smtp_free(s.parsed);
	maildrop_env_free(s.rcpts);
	vstr_free(s.envid);
	vstr_free(s.sender);
	vstr_free(s.out);
	vstr_free(s.line);
	return 0;
}

/* -bp, -bi, -q: another command does the work. */
static _Noreturn void
sendmail_run(struct sendmail *sm, const char *name, const char *arg)
{
	VSTR *prog = vstr_alloc(100);
	char *argv[] = { (char *)name, "-c", (char *)sm->confdir, (char *)arg,
			 NULL };

	vstr_sprintf(prog, "%s/%s", sm->cmd_dir, name);
	execv(VSTR_STR(prog), argv);
	msg_fatal_status(EX_UNAVAILABLE, "cannot run %s: %m", VSTR_STR(prog));
}

/*
 * The folder of the programs sendmail runs (postdrop, postelqueue,
 * newaliases, postel).  A configuration folder names its own
 * command_directory only when sendmail_conf_trusted() says it may; for
 * any other folder given by a user other than root (-C, MAIL_CONFIG) the
 * programs next to this sendmail are run: whoever can slip "-C DIR" onto
 * someone's command line must not choose what that user executes.
 */
static char *
sendmail_cmd_dir(const struct sendmail *sm)
{
	char	self[4096];
	ssize_t n;
	char   *slash;

	if (sendmail_conf_trusted(sm->confdir))
		return mystrdup(cfg_get_str(sm->cfg, "command_directory"));
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		msg_fatal_status(EX_OSERR, "readlink /proc/self/exe: %m");
	if ((size_t)n >= sizeof(self) - 1)
		msg_fatal_status(EX_OSERR, "readlink /proc/self/exe: name "
					   "too long");
	self[n] = 0;
	if ((slash = strrchr(self, '/')) == NULL || slash == self)
		msg_fatal_status(EX_OSERR, "unexpected program path %s", self);
	*slash = 0;
	if (msg_verbose)
		msg_info("%s is not listed in alternate_config_directories: "
			 "running helper programs from %s, not from its "
			 "command_directory",
			 sm->confdir, self);
	return mystrdup(self);
}

static _Noreturn void
sendmail_usage(void)
{
	msg_fatal_status(EX_USAGE,
			 "usage: sendmail [-bm|-bs|-bp|-bi] [-t] "
			 "[-i] [-f sender] [-F name] [-N dsn] [-R ret] "
			 "[-V envid] [-C dir] [-q] [-v] [recipient ...]");
}

int
main(int argc, char **argv)
{
	struct sendmail sm = { .dot_ends = true, .mode = SM_MODE_ENQUEUE };
	const char     *base = strrchr(argv[0], '/');
	const char     *opt_c = NULL;
	VSTR	       *why;
	int		ch;
	int		ret;

	base = base ? base + 1 : argv[0];
	msg_set_progname("sendmail");
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(base, "mailq") == 0)
		sm.mode = SM_MODE_MAILQ;
	else if (strcmp(base, "newaliases") == 0)
		sm.mode = SM_MODE_NEWALIASES;
	/*
	 * "+": options end at the first recipient, as in Postfix on Linux, so
	 * an address taken from untrusted input cannot be followed by options
	 * (sendmail user -C /tmp/x): "-C" is then a recipient, and refused.
	 */
	while ((ch = getopt(argc, argv,
			    "+B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:q::r:tvx"))
	       != -1) {
		switch (ch) {
		case 'b':
			if (strcmp(optarg, "m") == 0)
				sm.mode = SM_MODE_ENQUEUE;
			else if (strcmp(optarg, "s") == 0)
				sm.mode = SM_MODE_SMTP;
			else if (strcmp(optarg, "p") == 0)
				sm.mode = SM_MODE_MAILQ;
			else if (strcmp(optarg, "i") == 0)
				sm.mode = SM_MODE_NEWALIASES;
			else
				msg_fatal_status(EX_USAGE,
						 "-b%s: unsupported "
						 "mode",
						 optarg);
			break;
		case 'C':
			opt_c = optarg;
			break;
		case 'F':
			if (!maildrop_text_ok(optarg, strlen(optarg)))
				msg_fatal_status(EX_USAGE, "-F: bad full name");
			sm.fullname = optarg;
			break;
		case 'I':
			sm.mode = SM_MODE_NEWALIASES;
			break;
		case 'N':
			sm.notify = sendmail_parse_notify(optarg);
			break;
		case 'R':
			if (strcasecmp(optarg, "full") == 0)
				sm.ret = ADDR_RET_FULL;
			else if (strcasecmp(optarg, "hdrs") == 0)
				sm.ret = ADDR_RET_HDRS;
			else
				msg_fatal_status(EX_USAGE,
						 "-R: use full or "
						 "hdrs, not \"%s\"",
						 optarg);
			break;
		case 'V':
			if (*optarg == 0 || strlen(optarg) > ADDR_ENVID_MAX
			    || !maildrop_text_ok(optarg, strlen(optarg)))
				msg_fatal_status(EX_USAGE, "-V: bad envelope "
							   "ID");
			sm.envid = optarg;
			break;
		case 'f':
		case 'r':
			sm.sender = optarg;
			break;
		case 'i':
			sm.dot_ends = false;
			break;
		case 'o':
			/* -oi is -i; every other -o option is ignored. */
			if (strcmp(optarg, "i") == 0)
				sm.dot_ends = false;
			break;
		case 'q':
			if (optarg == NULL)
				sm.mode = SM_MODE_FLUSH;
			else if (*optarg == 'R' || *optarg == 'S'
				 || *optarg == 'I')
				msg_fatal_status(EX_UNAVAILABLE,
						 "-q%c: "
						 "per-site flush is not "
						 "supported yet",
						 *optarg);
			/* -qINTERVAL is ignored, as in Postfix. */
			break;
		case 't':
			sm.extract = true;
			break;
		case 'v':
			msg_verbose++;
			sm.verbose++;
			break;
		case 'B':
		case 'G':
		case 'L':
		case 'O':
		case 'U':
		case 'X':
		case 'c':
		case 'e':
		case 'h':
		case 'm':
		case 'n':
		case 'p':
		case 'x':
			/* Sendmail options with no meaning here. */
			break;
		default:
			sendmail_usage();
		}
	}
	sm.confdir = cfg_confdir_from_env(opt_c);
	why = vstr_alloc(100);
	if ((sm.cfg = cfg_open(sm.confdir, why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	maillog_init(sm.cfg, "sendmail", MAILLOG_STDERR);
	sm.allow_min_user = cfg_get_bool(sm.cfg, "allow_min_user");
	sm.cmd_dir = sendmail_cmd_dir(&sm);
	if (sm.fullname == NULL && getenv("NAME") != NULL
	    && *getenv("NAME") != 0
	    && maildrop_text_ok(getenv("NAME"), strlen(getenv("NAME"))))
		sm.fullname = getenv("NAME");

	switch (sm.mode) {
	case SM_MODE_MAILQ:
		sendmail_run(&sm, "postelqueue", "-p");
	case SM_MODE_NEWALIASES:
		sendmail_run(&sm, "newaliases", NULL);
	case SM_MODE_FLUSH:
		sendmail_run(&sm, "postel", "flush");
	case SM_MODE_SMTP:
		ret = sendmail_smtp(&sm);
		break;
	case SM_MODE_ENQUEUE:
	default:
		ret = sendmail_enqueue(&sm, argv + optind, argc - optind);
		break;
	}
	myfree(sm.cmd_dir);
	cfg_free(sm.cfg);
	vstr_free(why);
	return ret;
}
