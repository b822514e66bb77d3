/*
 * postelcat - show what a queue file holds, like postcat(1).
 *
 * Usage: postelcat [-c confdir] [-e] [-h] [-b] [-r] [-v] [-q] file ...
 *
 * Each file (with -q: each queue ID, looked up in incoming, active,
 * deferred (hashed), hold, corrupt and maildrop) is checked whole with
 * rec_check_file first, so nothing is printed from a malformed file, then
 * shown in sections:
 *
 *	*** ENVELOPE RECORDS NAME ***		-e
 *	*** MESSAGE CONTENTS NAME ***		-h and -b (or neither)
 *	*** PRIMARY MESSAGE HEADER NAME ***	-h alone
 *	*** MESSAGE BODY NAME ***		-b alone
 *	*** HEADER EXTRACTED NAME ***		with the envelope
 *	*** MESSAGE FILE END NAME ***
 *
 * With no section option everything is shown.  Content lines are printed
 * with LF line ends (the file stores CRLF), as postcat does; -r prints the
 * selected content byte for byte as stored, CRLF included, without banners
 * or envelope (for scripts and tests).  The header ends at the first empty
 * line, which is shown only with the whole content (-h and -b).
 *
 * A file that starts with a header field instead of a queue file's size
 * record is a delivered message, as the capture agent (capture(8)) or
 * local delivery wrote it into a Maildir: its leading Return-Path and
 * X-Original-To fields are the envelope ("sender:" and one "recipient:"
 * each, in the ENVELOPE RECORDS section), and the whole file is the
 * content, split into header and body at the first empty line, with the
 * same sections and options.  -q is for queue IDs only.
 *
 * Errors: a file that cannot be opened or is malformed is reported with
 * the reason (rec_reader_why) and the exit status is 1; the other files
 * are still shown.  Bad options: EX_USAGE.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "util/cfg.h"
#include "util/maillog.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/qid.h"
#include "util/rec.h"
#include "util/safe_file.h"
#include "util/vstr.h"

#define PC_ENV	  (1 << 0)
#define PC_HEADER (1 << 1)
#define PC_BODY	  (1 << 2)

struct postelcat {
	int  sections; /* PC_* */
	bool raw;
};

/* Where content printing is: in the header, the body, between them. */
struct postelcat_content {
	bool in_body;
	bool bol;
	bool pend_cr; /* a CR not yet printed */
	bool raw;
	bool show_header;
	bool show_body;
};

static void
postelcat_put(struct postelcat_content *pc, int c)
{
	if ((pc->in_body && pc->show_body) || (!pc->in_body && pc->show_header))
		putchar(c);
}

/* The empty line between header and body: shown only with both. */
static void
postelcat_separator(struct postelcat_content *pc)
{
	pc->in_body = true;
	if (pc->show_header && pc->show_body) {
		if (pc->raw)
			putchar('\r');
		putchar('\n');
	}
}

/* One content byte: splits header from body, CRLF -> LF unless raw. */
static void
postelcat_byte(struct postelcat_content *pc, int c)
{
	if (pc->pend_cr) {
		pc->pend_cr = false;
		if (c == '\n') {
			if (!pc->in_body && pc->bol) {
				postelcat_separator(pc);
				return;
			}
			if (pc->raw)
				postelcat_put(pc, '\r');
			postelcat_put(pc, '\n');
			pc->bol = true;
			return;
		}
		postelcat_put(pc, '\r');
		pc->bol = false;
	}
	if (c == '\r') {
		pc->pend_cr = true;
		return;
	}
	if (c == '\n' && !pc->in_body && pc->bol) {
		postelcat_separator(pc);
		return;
	}
	postelcat_put(pc, c);
	pc->bol = c == '\n';
}

static void
postelcat_envelope(int type, const VSTR *data)
{
	const char *str = VSTR_STR(data);
	const char *eq;
	time_t	    t;
	char	    tbuf[64];

	switch (type) {
	case REC_TYPE_SIZE:
		printf("message_size: %s\n", str);
		break;
	case REC_TYPE_TIME:
		t = (time_t)strtoll(str, NULL, 10);
		if (ctime_r(&t, tbuf) != NULL)
			printf("message_arrival_time: %s", tbuf);
		break;
	case REC_TYPE_FROM:
		printf("sender: %s\n", str);
		break;
	case REC_TYPE_ENVID:
		printf("dsn_envid: %s\n", str);
		break;
	case REC_TYPE_RET:
		printf("dsn_ret: %s\n", str);
		break;
	case REC_TYPE_ATTR:
		eq = strchr(str, '=');
		printf("%.*s: %s\n", (int)(eq - str), str, eq + 1);
		break;
	case REC_TYPE_ORIG:
		printf("original_recipient: %s\n", str);
		break;
	case REC_TYPE_ORCPT:
		printf("dsn_orig_rcpt: %s\n", str);
		break;
	case REC_TYPE_NOTIFY:
		printf("dsn_notify_flags: %s\n", str);
		break;
	case REC_TYPE_RCPT:
		printf("recipient: %s\n", str);
		break;
	case REC_TYPE_DONE:
		printf("done_recipient: %s\n", str);
		break;
	case REC_TYPE_MSGID:
		printf("message_id: %s\n", str);
		break;
	default:
		break;
	}
}

/*
 * The content view: the whole message as it is delivered (util/rec.h
 * rec_content_get), prepended header fields on top; 0, or -1 with why.
 */
static int
postelcat_content(struct postelcat_content *pc, int fd, VSTR *data, VSTR *why)
{
	REC_CONTENT *c = rec_content_create(fd, -1);
	int	     type;
	int	     ret;

	while ((ret = rec_content_get(c, &type, data, REC_LEN_MAX)) > 0)
		for (size_t i = 0; i < VSTR_LEN(data); i++)
			postelcat_byte(pc, (unsigned char)VSTR_STR(data)[i]);
	if (ret < 0)
		vstr_strcpy(why, rec_content_why(c));
	if (pc->pend_cr)
		postelcat_put(pc, '\r');
	pc->pend_cr = false;
	rec_content_free(c);
	return ret;
}

/*
 * The record view of an H record: the field as it will be delivered, with
 * LF line ends like the content view; folded lines keep their indent.
 */
static void
postelcat_prepend(const VSTR *data)
{
	const char *str = VSTR_STR(data);
	size_t	    len = VSTR_LEN(data);

	/* rec_get checked the payload: it ends in CRLF, CR only before LF. */
	fputs("prepended_header: ", stdout);
	for (size_t i = 0; i + 2 < len; i++)
		if (str[i] != '\r')
			putchar(str[i]);
	putchar('\n');
}

/* Show one open queue file; 0, or -1 with the reason logged. */
static int
postelcat_show(const struct postelcat *p, int fd, const char *name)
{
	REC_READER		*r;
	VSTR			*data = vstr_alloc(REC_CONT_CHUNK);
	VSTR			*why = vstr_alloc(100);
	struct postelcat_content pc = { .bol = true, .raw = p->raw };
	bool			 show_env = (p->sections & PC_ENV) && !p->raw;
	int			 type;
	int			 ret;

	if (rec_check_file(fd, why) < 0) {
		msg_error("%s: %s: %s", name,
			  errno == EBADMSG ? "malformed queue file"
					   : "read error",
			  VSTR_STR(why));
		vstr_free(data);
		vstr_free(why);
		return -1;
	}
	pc.show_header = (p->sections & PC_HEADER) != 0;
	pc.show_body = (p->sections & PC_BODY) != 0;
	if (show_env)
		printf("*** ENVELOPE RECORDS %s ***\n", name);
	r = rec_reader_create(fd, 0);
	while ((ret = rec_get(r, &type, data, REC_LEN_MAX)) > 0) {
		if (type == REC_TYPE_MESG) {
			if (!(pc.show_header || pc.show_body))
				continue;
			if (!p->raw)
				printf("*** %s %s ***\n",
				       pc.show_header && pc.show_body
					   ? "MESSAGE CONTENTS"
				       : pc.show_header
					   ? "PRIMARY MESSAGE HEADER"
					   : "MESSAGE BODY",
				       name);
			/* As delivered: prepended fields, then the content. */
			if ((ret = postelcat_content(&pc, fd, data, why)) < 0) {
				msg_error("%s: %s", name, VSTR_STR(why));
				break;
			}
		} else if (type == REC_TYPE_CONT) {
			continue;
		} else if (type == REC_TYPE_XTRA) {
			if (show_env)
				printf("*** HEADER EXTRACTED %s ***\n", name);
		} else if (type == REC_TYPE_PREPEND) {
			if (show_env)
				postelcat_prepend(data);
		} else if (type == REC_TYPE_END) {
			if (!p->raw)
				printf("*** MESSAGE FILE END %s ***\n", name);
		} else if (show_env) {
			postelcat_envelope(type, data);
		}
	}
	if (ret < 0 && VSTR_LEN(why) == 0)
		msg_error("%s: %s", name, rec_reader_why(r));
	rec_reader_free(r);
	vstr_free(data);
	vstr_free(why);
	if (fflush(stdout) != 0 || ferror(stdout))
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	return ret < 0 ? -1 : 0;
}

/*
 * Does the file start with a header field name and ":" (a delivered
 * message) rather than a record type byte and a binary length?
 */
static bool
postelcat_is_message(int fd)
{
	char	buf[128];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);

	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == ':')
			return i > 0;
		if (buf[i] < 33 || buf[i] > 126)
			return false;
	}
	return false;
}

/* "Return-Path: <a@b>" -> "a@b" for the envelope view. */
static void
postelcat_message_envelope(const char *line, size_t len)
{
	static const char rp[] = "Return-Path:", xo[] = "X-Original-To:";
	const char	 *v;
	size_t		  vlen;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len >= sizeof(rp) - 1
	    && strncasecmp(line, rp, sizeof(rp) - 1) == 0) {
		v = line + sizeof(rp) - 1;
		vlen = len - (sizeof(rp) - 1);
		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		if (vlen >= 2 && v[0] == '<' && v[vlen - 1] == '>')
			v++, vlen -= 2;
		printf("sender: %.*s\n", (int)vlen, v);
	} else {
		v = line + sizeof(xo) - 1;
		vlen = len - (sizeof(xo) - 1);
		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		printf("recipient: %.*s\n", (int)vlen, v);
	}
}

/* Show a delivered message (see the top); 0, or -1 with the reason logged. */
static int
postelcat_show_message(const struct postelcat *p, int fd, const char *name)
{
	struct postelcat_content pc = { .bol = true, .raw = p->raw };
	bool			 show_env = (p->sections & PC_ENV) && !p->raw;
	FILE			*fp;
	char			*line = NULL;
	size_t			 cap = 0;
	ssize_t			 n;
	int			 c, ret = 0;

	if ((fp = fdopen(dup(fd), "r")) == NULL) {
		msg_error("%s: %m", name);
		return -1;
	}
	pc.show_header = (p->sections & PC_HEADER) != 0;
	pc.show_body = (p->sections & PC_BODY) != 0;
	if (show_env) {
		printf("*** ENVELOPE RECORDS %s ***\n", name);
		while ((n = getline(&line, &cap, fp)) > 0
		       && (strncasecmp(line, "Return-Path:", 12) == 0
			   || strncasecmp(line, "X-Original-To:", 14) == 0))
			postelcat_message_envelope(line, (size_t)n);
		rewind(fp);
	}
	if (pc.show_header || pc.show_body) {
		if (!p->raw)
			printf("*** %s %s ***\n",
			       pc.show_header && pc.show_body
				   ? "MESSAGE CONTENTS"
			       : pc.show_header ? "PRIMARY MESSAGE HEADER"
						: "MESSAGE BODY",
			       name);
		while ((c = getc(fp)) != EOF)
			postelcat_byte(&pc, c);
		if (pc.pend_cr)
			postelcat_put(&pc, '\r');
	}
	if (ferror(fp)) {
		msg_error("%s: read error: %m", name);
		ret = -1;
	}
	if (!p->raw)
		printf("*** MESSAGE FILE END %s ***\n", name);
	free(line);
	fclose(fp);
	if (fflush(stdout) != 0 || ferror(stdout))
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	return ret;
}

/* Find a queue ID in the queue folders; fd or -1 (errno ENOENT). */
static int
postelcat_find(const CFG *cfg, const char *id, VSTR *path)
{
	static const char *const queues[] = {
		"incoming", "active", "deferred", "hold", "corrupt", "maildrop",
	};
	const char *queue = cfg_get_str(cfg, "queue_directory");
	char	    hash[QID_HASH_LEN + 1];
	int	    fd;

	if (!qid_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		vstr_sprintf(path, "%s/%s/%s", queue, queues[i], id);
		if ((fd = safe_open_read(VSTR_STR(path))) >= 0)
			return fd;
		if (strcmp(queues[i], "deferred") == 0) {
			vstr_sprintf(path, "%s/deferred/%s/%s", queue,
				     qid_hash_dir(id, hash), id);
			if ((fd = safe_open_read(VSTR_STR(path))) >= 0)
				return fd;
		}
	}
	errno = ENOENT;
	return -1;
}

static _Noreturn void
postelcat_usage(void)
{
	msg_fatal_status(EX_USAGE, "usage: postelcat [-c confdir] [-e] [-h] "
				   "[-b] [-r] [-v] [-q] file ...");
}

int
main(int argc, char **argv)
{
	struct postelcat p = { 0 };
	const char	*opt_c = NULL;
	bool		 by_id = false;
	CFG		*cfg = NULL;
	VSTR		*why = vstr_alloc(100);
	VSTR		*path = vstr_alloc(100);
	int		 status = 0;
	int		 ch;
	int		 fd;

	msg_set_progname("postelcat");
	while ((ch = getopt(argc, argv, "c:ehbrqv")) != -1) {
		switch (ch) {
		case 'c':
			opt_c = optarg;
			break;
		case 'e':
			p.sections |= PC_ENV;
			break;
		case 'h':
			p.sections |= PC_HEADER;
			break;
		case 'b':
			p.sections |= PC_BODY;
			break;
		case 'r':
			p.raw = true;
			break;
		case 'q':
			by_id = true;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			postelcat_usage();
		}
	}
	if (optind == argc)
		postelcat_usage();
	if (p.sections == 0)
		p.sections = PC_ENV | PC_HEADER | PC_BODY;
	if (p.raw && (p.sections & (PC_HEADER | PC_BODY)) == 0)
		p.sections |= PC_HEADER | PC_BODY;
	if (by_id) {
		if ((cfg = cfg_open(cfg_confdir_from_env(opt_c), why)) == NULL)
			msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
		maillog_init(cfg, "postelcat", MAILLOG_STDERR_ONLY);
	}
	for (int i = optind; i < argc; i++) {
		if (by_id)
			fd = postelcat_find(cfg, argv[i], path);
		else
			fd = safe_open_read(argv[i]);
		if (fd < 0) {
			if (by_id)
				msg_error("%s: %s", argv[i],
					  errno == EINVAL
					      ? "not a queue ID"
					      : "no such message in the queue");
			else
				msg_error("open %s: %m", argv[i]);
			status = 1;
			continue;
		}
		if ((!by_id && postelcat_is_message(fd)
			 ? postelcat_show_message(&p, fd, argv[i])
			 : postelcat_show(&p, fd, argv[i]))
		    < 0)
			status = 1;
		close(fd);
	}
	vstr_free(path);
	vstr_free(why);
	cfg_free(cfg);
	return status;
}
