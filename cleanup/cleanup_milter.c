/*
 * cleanup_milter - non_smtpd_milters for local submissions.
 *
 * As Postfix's cleanup does for mail from pickup (CLEANUP_FLAG_MILTER),
 * cleanup plays the whole SMTP conversation to each milter: connect
 * (localhost, 127.0.0.1), HELO localhost, MAIL FROM, RCPT TO for each
 * recipient, DATA, the header fields, end of header, the body and end of
 * message.  It does so at end of message, reading the content back from
 * the temporary queue file it has just streamed, and runs the milters
 * one after the other, so each sees the changes of the ones before it
 * (its MAIL FROM is a changed sender, its header fields the changed
 * header).
 *
 * Modifications are applied to an in-memory copy of the content (header
 * fields, body) and of the envelope (st->sender, st->rcpts).  When any
 * milter changed anything, the same temporary file is truncated and
 * written anew from that copy before the single fsync and commit that
 * cleanup_queue_commit does, so the durability contract is unchanged:
 * nothing is visible under a queue ID until the final content is on
 * disk, and a crash leaves only the temporary for the start-up sweep.
 * The queue ID stays (same file, same inode).  The copy of the content
 * is bounded by message_size_limit plus the header.
 *
 * A milter's REJECT or TEMPFAIL (at any stage, with its own reply text
 * when it sent SMFIR_REPLYCODE) refuses the message, DISCARD discards
 * it, ACCEPT ends that milter's part; SMFIR_QUARANTINE puts the message
 * on hold and the reason is kept in the queue file (A record
 * milter_quarantine, shown by postelcat).  A milter that is down, slow
 * or broken gets milter_default_action (util/milter does the logging).
 * Header fields a milter adds or changes go through
 * milter_header_checks first.
 *
 * Errors: through cleanup_fail, as the rest of cleanup.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cleanup/cleanup.h"
#include "util/msg.h"
#include "util/receive_override.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

#define CLEANUP_MILTER_FIELDS_MAX (2 * CLEANUP_HEADER_COUNT_MAX)

void
cleanup_milter_conf(CLEANUP_CONF *c, const CFG *cfg)
{
	VSTR *why = vstr_alloc(64);

	if (milter_conf_load(cfg, "non_smtpd_milters", &c->milters,
			     &c->nmilters, why)
	    < 0)
		msg_fatal("%s", VSTR_STR(why));
	vstr_free(why);
	c->milter_daemon_name = cfg_get_str(cfg, "milter_macro_daemon_name");
	c->milter_macro_v = cfg_get_str(cfg, "milter_macro_v");
}

void
cleanup_milter_conf_free(CLEANUP_CONF *c)
{
	c->milters = milter_conf_free_list(c->milters, c->nmilters);
	c->nmilters = 0;
}

/* The message as the milters see and change it. */
struct cleanup_milter_msg {
	CLEANUP_STATE *st;
	VSTR	     **fields; /* "Name: value" with CRLF folding, no CRLF */
	size_t	       nfields, cap;
	VSTR	      *body;	    /* CRLF lines */
	bool	       changed;	    /* content or envelope changed */
	const char    *rcpt;	    /* {rcpt_addr} while sending RCPT */
	const char    *stage_name;  /* for log lines */
	VSTR	      *from;	    /* "local" or "name[addr]" */
	const char    *milter_name; /* the milter at work */
};

static const char *
cleanup_milter_macro(void *ctx, const char *name)
{
	struct cleanup_milter_msg *mm = ctx;
	CLEANUP_STATE		  *st = mm->st;
	const CLEANUP_CONF	  *conf = st->conf;

	const char *v;

	if (strcmp(name, "i") == 0)
		return VSTR_STR(st->qid);
	if (st->milter_macros
	    && (v = attr_get_str(st->milter_macros, name)) != NULL)
		return v;
	if (strcmp(name, "j") == 0)
		return conf->myhostname;
	if (strcmp(name, "v") == 0)
		return conf->milter_macro_v;
	if (strcmp(name, "_") == 0)
		return "localhost [127.0.0.1]";
	if (strcmp(name, "{daemon_name}") == 0)
		return conf->milter_daemon_name;
	if (strcmp(name, "{client_addr}") == 0)
		return "127.0.0.1";
	if (strcmp(name, "{client_name}") == 0
	    || strcmp(name, "{client_ptr}") == 0)
		return "localhost";
	if (strcmp(name, "{mail_addr}") == 0)
		return st->sender;
	if (strcmp(name, "{rcpt_addr}") == 0)
		return mm->rcpt;
	if (strcmp(name, "{mail_mailer}") == 0
	    || strcmp(name, "{rcpt_mailer}") == 0)
		return "smtp";
	return NULL;
}

/* ------------------------------------------------------------ content */

static void
cleanup_milter_add_field(struct cleanup_milter_msg *mm, size_t at,
			 const char *text, size_t len)
{
	if (mm->nfields == mm->cap) {
		mm->cap = mm->cap ? 2 * mm->cap : 32;
		mm->fields = myrealloc_array(mm->fields, mm->cap,
					     sizeof(*mm->fields));
	}
	if (at > mm->nfields)
		at = mm->nfields;
	memmove(mm->fields + at + 1, mm->fields + at,
		(mm->nfields - at) * sizeof(*mm->fields));
	mm->fields[at] = vstr_alloc(len + 1);
	vstr_memcpy(mm->fields[at], text, len);
	mm->nfields++;
}

static void
cleanup_milter_del_field(struct cleanup_milter_msg *mm, size_t at)
{
	vstr_free(mm->fields[at]);
	memmove(mm->fields + at, mm->fields + at + 1,
		(mm->nfields - at - 1) * sizeof(*mm->fields));
	mm->nfields--;
}

/* Split the content into header fields and the body. */
static void
cleanup_milter_split(struct cleanup_milter_msg *mm, const char *data,
		     size_t len)
{
	const char *p = data, *end = data + len, *start = data;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		size_t	    llen = (size_t)(next - p);

		/* the empty line (or a line that is no field) ends it */
		if (p == start && (llen <= 2 && (*p == '\r' || *p == '\n'))) {
			p = next;
			break;
		}
		if (next < end && (*next == ' ' || *next == '\t')) {
			p = next;
			continue;
		}
		/* [start, next) is one field with its final CRLF */
		{
			size_t flen = (size_t)(next - start);

			while (flen > 0
			       && (start[flen - 1] == '\n'
				   || start[flen - 1] == '\r'))
				flen--;
			if (memchr(start, ':', flen) == NULL) {
				/* not a field: it belongs to the body */
				p = start;
				break;
			}
			cleanup_milter_add_field(mm, mm->nfields, start, flen);
		}
		p = start = next;
	}
	vstr_memcpy(mm->body, p, (size_t)(end - p));
}

/* Length of a field's name (before the colon, white space trimmed). */
static size_t
cleanup_milter_name_len(const VSTR *f)
{
	const char *colon = memchr(VSTR_STR(f), ':', VSTR_LEN(f));
	size_t	    n = colon ? (size_t)(colon - VSTR_STR(f)) : VSTR_LEN(f);

	while (n > 0
	       && (VSTR_STR(f)[n - 1] == ' ' || VSTR_STR(f)[n - 1] == '\t'))
		n--;
	return n;
}

/* Read the content just written back from the temporary queue file. */
static int
cleanup_milter_read(CLEANUP_STATE *st, VSTR *content)
{
	struct rec_size size;
	REC_READER     *r;
	VSTR	       *rec = vstr_alloc(REC_CONT_CHUNK);
	int		type, ret = 0, rfd;

	if (rec_flush(st->writer) < 0) {
		cleanup_io_error(st, "write", errno);
		vstr_free(rec);
		return -1;
	}
	rec_writer_size(st->writer, &size);
	/* the temporary was created write-only: read it through a new fd */
	if ((rfd = open(VSTR_STR(st->temp_path),
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC))
	    < 0) {
		cleanup_io_error(st, "open", errno);
		vstr_free(rec);
		return -1;
	}
	r = rec_reader_create(rfd, 0);
	if (rec_reader_seek(r, size.content_offset, REC_TYPE_MESG) < 0)
		ret = -1;
	while (ret == 0 && (off_t)VSTR_LEN(content) < size.message_size) {
		if (rec_get(r, &type, rec, REC_CONT_CHUNK) != 1) {
			ret = -1;
			break;
		}
		if (type == REC_TYPE_CONT)
			vstr_memcat(content, VSTR_STR(rec), VSTR_LEN(rec));
	}
	if (ret < 0) {
		msg_warn("%s: milter: read back %s: %s", VSTR_STR(st->qid),
			 VSTR_STR(st->temp_path), rec_reader_why(r));
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: queue file write error");
	}
	rec_reader_free(r);
	(void)close(rfd);
	vstr_free(rec);
	return ret;
}

/* Write the queue file anew from the changed copy. */
static void
cleanup_milter_rewrite(struct cleanup_milter_msg *mm)
{
	CLEANUP_STATE *st = mm->st;
	VSTR	      *hdr = vstr_alloc(4096);

	cleanup_dkim_sign_done(st);
	st->writer = rec_writer_free(st->writer);
	if (lseek(st->fd, 0, SEEK_SET) < 0 || ftruncate(st->fd, 0) < 0) {
		cleanup_io_error(st, "truncate", errno);
		vstr_free(hdr);
		return;
	}
	st->writer = rec_writer_create(st->fd);
	cleanup_write_envelope(st);
	for (size_t i = 0; i < mm->nfields; i++) {
		vstr_memcat(hdr, VSTR_STR(mm->fields[i]),
			    VSTR_LEN(mm->fields[i]));
		vstr_memcat(hdr, "\r\n", 2);
	}
	/* the signer finds From: in hdr_out, as in cleanup_header_end */
	vstr_memcpy(st->hdr_out, VSTR_STR(hdr), VSTR_LEN(hdr));
	cleanup_dkim_sign_begin(st);
	vstr_reset(st->hdr_out);
	rec_put_content(st->writer, VSTR_STR(hdr), VSTR_LEN(hdr));
	rec_put_content(st->writer, "\r\n", 2);
	if (VSTR_LEN(mm->body))
		rec_put_content(st->writer, VSTR_STR(mm->body),
				VSTR_LEN(mm->body));
	vstr_free(hdr);
	msg_info("%s: queue file rewritten after milter changes",
		 VSTR_STR(st->qid));
}

/* --------------------------------------------------- modifications */

/* "<addr>" -> addr (a milter may send either form). */
static void
cleanup_milter_strip(const char *in, VSTR *out)
{
	size_t len = strlen(in);

	if (len >= 2 && in[0] == '<' && in[len - 1] == '>')
		vstr_memcpy(out, in + 1, len - 2);
	else
		vstr_strcpy(out, in);
}

/* A field a milter adds: milter_header_checks, then the copy. */
static void
cleanup_milter_put_field(struct cleanup_milter_msg *mm, MILTER *m,
			 const MILTER_MOD *mod, size_t at, bool replace)
{
	CLEANUP_STATE	*st = mm->st;
	VSTR		*field = vstr_alloc(128), *result = vstr_alloc(64);
	enum cleanup_act act;

	milter_mod_field(m, mod->name, mod->value, field);
	act = cleanup_check(st, st->conf->milter_header_checks, "milter_header",
			    VSTR_STR(field), VSTR_LEN(field), result);
	if (st->status != CLEANUP_OK || act == CLEANUP_ACT_IGNORE) {
		if (replace && act == CLEANUP_ACT_IGNORE)
			cleanup_milter_del_field(mm, at);
		goto out;
	}
	if (act == CLEANUP_ACT_REPLACE)
		vstr_strcpy(field, VSTR_STR(result));
	if (replace)
		cleanup_milter_del_field(mm, at);
	if (mm->nfields >= CLEANUP_MILTER_FIELDS_MAX) {
		msg_warn("%s: milter %s: too many header fields; %s dropped",
			 VSTR_STR(st->qid), mm->milter_name, mod->name);
		goto out;
	}
	cleanup_milter_add_field(mm, at, VSTR_STR(field), VSTR_LEN(field));
	if (act == CLEANUP_ACT_PREPEND)
		cleanup_milter_add_field(mm, at, VSTR_STR(result),
					 VSTR_LEN(result));
out:
	mm->changed = true;
	vstr_free(field);
	vstr_free(result);
}

static void
cleanup_milter_chg_field(struct cleanup_milter_msg *mm, MILTER *m,
			 const MILTER_MOD *mod)
{
	size_t nlen = strlen(mod->name);
	long   seen = 0;
	long   want = mod->index > 0 ? mod->index : 1;

	for (size_t i = 0; i < mm->nfields; i++) {
		if (cleanup_milter_name_len(mm->fields[i]) != nlen
		    || strncasecmp(VSTR_STR(mm->fields[i]), mod->name, nlen)
			   != 0
		    || ++seen != want)
			continue;
		if (*mod->value == 0) {
			cleanup_milter_del_field(mm, i);
			mm->changed = true;
		} else {
			cleanup_milter_put_field(mm, m, mod, i, true);
		}
		return;
	}
	/* Not there: Sendmail and Postfix add it. */
	if (*mod->value)
		cleanup_milter_put_field(mm, m, mod, mm->nfields, false);
}

static void
cleanup_milter_add_rcpt(struct cleanup_milter_msg *mm, const MILTER_MOD *mod)
{
	CLEANUP_STATE *st = mm->st;
	VSTR	      *addr = vstr_alloc(64);
	char	      *args = mod->value ? mystrdup(mod->value) : NULL;
	char	      *cp = args, *word;
	char	      *orcpt = NULL;
	int	       notify = 0;

	cleanup_milter_strip(mod->name, addr);
	while (cp && (word = str_token(&cp, " \t")) != NULL) {
		if (strncasecmp(word, "ORCPT=", 6) == 0) {
			myfree(orcpt);
			orcpt = mystrdup(word + 6);
		} else if (strncasecmp(word, "NOTIFY=", 7) == 0) {
			char *list = word + 7, *n;

			while ((n = str_token(&list, ",")) != NULL) {
				if (strcasecmp(n, "NEVER") == 0)
					notify |= REC_NOTIFY_NEVER;
				else if (strcasecmp(n, "SUCCESS") == 0)
					notify |= REC_NOTIFY_SUCCESS;
				else if (strcasecmp(n, "FAILURE") == 0)
					notify |= REC_NOTIFY_FAILURE;
				else if (strcasecmp(n, "DELAY") == 0)
					notify |= REC_NOTIFY_DELAY;
			}
		} else {
			msg_info("%s: milter %s: ignoring ESMTP argument "
				 "\"%.100s\" of an added recipient",
				 VSTR_STR(st->qid), mm->milter_name, word);
		}
	}
	if (VSTR_LEN(addr) == 0) {
		msg_warn("%s: milter %s: empty recipient ignored",
			 VSTR_STR(st->qid), mm->milter_name);
	} else {
		(void)cleanup_add_rcpt(st, VSTR_STR(addr), orcpt, notify);
		msg_info("%s: milter %s: add recipient <%s>", VSTR_STR(st->qid),
			 mm->milter_name, VSTR_STR(addr));
		mm->changed = true;
	}
	myfree(args);
	myfree(orcpt);
	vstr_free(addr);
}

static void
cleanup_milter_del_rcpt(struct cleanup_milter_msg *mm, const MILTER_MOD *mod)
{
	CLEANUP_STATE *st = mm->st;
	VSTR	      *addr = vstr_alloc(64);
	size_t	       i, kept = 0, gone = 0;

	cleanup_milter_strip(mod->name, addr);
	for (i = 0; i < st->nrcpt; i++) {
		struct cleanup_out_rcpt *r = &st->rcpts[i];

		if (strcasecmp(r->orig, VSTR_STR(addr)) == 0
		    || strcasecmp(r->addr, VSTR_STR(addr)) == 0) {
			myfree(r->orig);
			myfree(r->orcpt);
			myfree(r->addr);
			gone++;
			continue;
		}
		st->rcpts[kept++] = *r;
	}
	st->nrcpt = kept;
	msg_info("%s: milter %s: delete recipient <%s>%s", VSTR_STR(st->qid),
		 mm->milter_name, VSTR_STR(addr), gone ? "" : " (not found)");
	if (gone)
		mm->changed = true;
	vstr_free(addr);
}

static void
cleanup_milter_chg_from(struct cleanup_milter_msg *mm, const MILTER_MOD *mod)
{
	CLEANUP_STATE *st = mm->st;
	VSTR	      *addr = vstr_alloc(64);

	cleanup_milter_strip(mod->name, addr);
	if (cleanup_rewrite(st->conf, VSTR_STR(addr), CLEANUP_REWRITE_SENDER,
			    st->sender_buf)
	    < 0)
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: canonical table lookup failure");
	st->sender = VSTR_STR(st->sender_buf);
	msg_info("%s: milter %s: change sender to <%s>%s%s", VSTR_STR(st->qid),
		 mm->milter_name, st->sender, mod->value ? " ignoring " : "",
		 mod->value ? mod->value : "");
	mm->changed = true;
	vstr_free(addr);
}

static void
cleanup_milter_apply(struct cleanup_milter_msg *mm, MILTER *m,
		     const MILTER_REPLY *r)
{
	CLEANUP_STATE *st = mm->st;

	for (size_t i = 0; i < r->nmods && st->status == CLEANUP_OK; i++) {
		const MILTER_MOD *mod = &r->mods[i];

		switch (mod->type) {
		case SMFIR_ADDHEADER:
			cleanup_milter_put_field(mm, m, mod, mm->nfields,
						 false);
			break;
		case SMFIR_INSHEADER:
			cleanup_milter_put_field(mm, m, mod, (size_t)mod->index,
						 false);
			break;
		case SMFIR_CHGHEADER:
			cleanup_milter_chg_field(mm, m, mod);
			break;
		case SMFIR_ADDRCPT:
		case SMFIR_ADDRCPT_PAR:
			cleanup_milter_add_rcpt(mm, mod);
			break;
		case SMFIR_DELRCPT:
			cleanup_milter_del_rcpt(mm, mod);
			break;
		case SMFIR_CHGFROM:
			cleanup_milter_chg_from(mm, mod);
			break;
		default:
			break;
		}
	}
	if (r->body_replaced && st->status == CLEANUP_OK) {
		vstr_memcpy(mm->body, VSTR_STR(r->body), VSTR_LEN(r->body));
		/* keep the last line whole */
		if (VSTR_LEN(mm->body) > 0 && VSTR_END(mm->body)[-1] != '\n')
			vstr_memcat(mm->body, "\r\n", 2);
		mm->changed = true;
		msg_info("%s: milter %s: body replaced", VSTR_STR(st->qid),
			 mm->milter_name);
	}
	if (r->has_quarantine && st->status == CLEANUP_OK) {
		if (st->milter_quarantine == NULL)
			st->milter_quarantine = vstr_alloc(64);
		vstr_sprintf(st->milter_quarantine, "%s: %s", mm->milter_name,
			     VSTR_STR(r->quarantine));
		st->hold = true;
		msg_info("%s: milter-hold: END-OF-MESSAGE from %s: milter "
			 "%s: %s; from=<%s> to=<%s>",
			 VSTR_STR(st->qid), VSTR_STR(mm->from), mm->milter_name,
			 VSTR_STR(r->quarantine), st->sender,
			 st->first_rcpt ? st->first_rcpt : "");
	}
}

/*
 * What a verdict means for the message.  Returns true when this milter
 * has no more to say (accepted, or the message is refused/discarded).
 */
static bool
cleanup_milter_verdict(struct cleanup_milter_msg *mm, enum milter_verdict v,
		       const MILTER_REPLY *r)
{
	CLEANUP_STATE *st = mm->st;
	const char    *text;

	switch (v) {
	case MILTER_CONTINUE:
	case MILTER_SKIP:
		return false;
	case MILTER_ACCEPT:
		return true;
	case MILTER_DISCARD:
		msg_info("%s: milter-discard: %s from %s: milter %s; "
			 "from=<%s> to=<%s>",
			 VSTR_STR(st->qid), mm->stage_name, VSTR_STR(mm->from),
			 mm->milter_name, st->sender,
			 st->first_rcpt ? st->first_rcpt : "");
		st->discard = true;
		return true;
	case MILTER_REJECT:
	case MILTER_TEMPFAIL:
		text = VSTR_LEN(r->text) ? VSTR_STR(r->text)
		       : v == MILTER_REJECT
			   ? "550 5.7.1 Command rejected"
			   : "451 4.7.1 Service unavailable - try again later";
		msg_info("%s: milter-reject: %s from %s: %s; milter %s; "
			 "from=<%s> to=<%s>",
			 VSTR_STR(st->qid), mm->stage_name, VSTR_STR(mm->from),
			 text, mm->milter_name, st->sender,
			 st->first_rcpt ? st->first_rcpt : "");
		cleanup_fail(st,
			     v == MILTER_REJECT ? CLEANUP_REJECT
						: CLEANUP_TEMPFAIL,
			     "%s", text);
		return true;
	}
	return true;
}

static void cleanup_milter_content(struct cleanup_milter_msg *mm, MILTER *m,
				   MILTER_REPLY *r);

/* One milter's whole conversation over the current copy. */
static void
cleanup_milter_one(struct cleanup_milter_msg *mm, const MILTER_CONF *conf)
{
	CLEANUP_STATE *st = mm->st;
	MILTER	      *m = milter_alloc(conf);
	MILTER_REPLY  *r = milter_reply_alloc();
	VSTR	      *addr = vstr_alloc(64);
	const char    *args[2];

	enum milter_verdict v;

	mm->milter_name = milter_name(m);
	r->body_limit = st->conf->message_size_limit > 0
			    ? (size_t)st->conf->message_size_limit
			    : 0;
	milter_set_macros(m, cleanup_milter_macro, mm);
	(void)milter_open(m); /* a failure shows in the verdicts */
	mm->stage_name = "CONNECT";
	v = milter_connect(m, "localhost", '4', "127.0.0.1", 0, r);
	if (cleanup_milter_verdict(mm, v, r))
		goto out;
	mm->stage_name = "HELO";
	v = milter_helo(m, "localhost", r);
	if (cleanup_milter_verdict(mm, v, r))
		goto out;
	mm->stage_name = "MAIL";
	vstr_sprintf(addr, "<%s>", st->sender);
	args[0] = VSTR_STR(addr);
	args[1] = NULL;
	v = milter_mail(m, args, r);
	if (cleanup_milter_verdict(mm, v, r))
		goto out;
	mm->stage_name = "RCPT";
	for (size_t i = 0; i < st->nrcpt; i++) {
		vstr_sprintf(addr, "<%s>", st->rcpts[i].addr);
		args[0] = VSTR_STR(addr);
		mm->rcpt = st->rcpts[i].addr;
		v = milter_rcpt(m, args, r);
		/*
		 * A refused recipient refuses the message: the submitter is
		 * a local program that has no per-recipient answer.
		 */
		if (cleanup_milter_verdict(mm, v, r))
			goto out;
	}
	mm->rcpt = NULL;
	mm->stage_name = "DATA";
	v = milter_data(m, r);
	if (cleanup_milter_verdict(mm, v, r))
		goto out;
	cleanup_milter_content(mm, m, r);
out:
	mm->rcpt = NULL;
	milter_free(m);
	milter_reply_free(r);
	vstr_free(addr);
}

/* The content stages: header fields, end of header, body, end of message. */
static void
cleanup_milter_content(struct cleanup_milter_msg *mm, MILTER *m,
		       MILTER_REPLY *r)
{
	enum milter_verdict v;

	mm->milter_name = milter_name(m);
	mm->stage_name = "END-OF-HEADER";
	for (size_t i = 0; i < mm->nfields; i++) {
		VSTR	   *f = mm->fields[i];
		size_t	    nlen = cleanup_milter_name_len(f);
		const char *colon = memchr(VSTR_STR(f), ':', VSTR_LEN(f));
		char	   *name = mystrndup(VSTR_STR(f), nlen);

		v = milter_header(m, name, colon ? colon + 1 : "", r);
		myfree(name);
		if (cleanup_milter_verdict(mm, v, r))
			return;
	}
	v = milter_eoh(m, r);
	if (cleanup_milter_verdict(mm, v, r))
		return;
	mm->stage_name = "END-OF-MESSAGE";
	v = milter_body(m, VSTR_STR(mm->body), VSTR_LEN(mm->body), r);
	if (cleanup_milter_verdict(mm, v, r))
		return;
	v = milter_eom(m, r);
	if (v == MILTER_CONTINUE || v == MILTER_ACCEPT)
		cleanup_milter_apply(mm, m, r);
	(void)cleanup_milter_verdict(mm, v, r);
}

void
cleanup_milter_run(CLEANUP_STATE *st)
{
	const CLEANUP_CONF	 *conf = st->conf;
	struct cleanup_milter_msg mm;
	VSTR			 *content;

	/* receive_override_options=no_milters turns non_smtpd_milters off. */
	bool local = conf->nmilters > 0 && (st->flags & CLEANUP_FLAG_MILTER)
		     && !(st->receive_override & RECEIVE_NO_MILTERS);

	if ((!local && st->nsmtpd_milters == 0) || st->status != CLEANUP_OK
	    || st->discard || st->writer == NULL)
		return;
	content = vstr_alloc(REC_CONT_CHUNK);
	if (cleanup_milter_read(st, content) < 0) {
		vstr_free(content);
		return;
	}
	memset(&mm, 0, sizeof(mm));
	mm.st = st;
	mm.body = vstr_alloc(64);
	cleanup_milter_split(&mm, VSTR_STR(content), VSTR_LEN(content));
	content = vstr_free(content);
	mm.from = vstr_alloc(64);
	if (st->client_addr)
		vstr_sprintf(mm.from, "%s[%s]",
			     st->client_name ? st->client_name : "unknown",
			     st->client_addr);
	else
		vstr_strcpy(mm.from, "local");
	/* smtpd's milters: connect..DATA happened in smtpd */
	for (size_t i = 0; i < st->nsmtpd_milters; i++) {
		MILTER_REPLY *r = milter_reply_alloc();

		if (st->status != CLEANUP_OK || st->discard)
			break;
		r->body_limit = conf->message_size_limit > 0
				    ? (size_t)conf->message_size_limit
				    : 0;
		milter_set_macros(st->smtpd_milters[i], cleanup_milter_macro,
				  &mm);
		cleanup_milter_content(&mm, st->smtpd_milters[i], r);
		milter_reply_free(r);
	}
	for (size_t i = 0; local && i < conf->nmilters; i++) {
		if (st->status != CLEANUP_OK || st->discard)
			break;
		cleanup_milter_one(&mm, &conf->milters[i]);
	}
	vstr_free(mm.from);
	if (st->status == CLEANUP_OK && !st->discard && st->nrcpt == 0) {
		msg_info("%s: milter-discard: all recipients deleted; "
			 "from=<%s>",
			 VSTR_STR(st->qid), st->sender);
		st->discard = true;
	}
	if (st->status == CLEANUP_OK && !st->discard && mm.changed)
		cleanup_milter_rewrite(&mm);
	for (size_t i = 0; i < mm.nfields; i++)
		vstr_free(mm.fields[i]);
	myfree(mm.fields);
	vstr_free(mm.body);
}

/*
 * The envelope announced smtpd's milters ("milters", "milterK" from
 * milter_export, "milter_macros"): ask for their sockets and rebuild
 * them.  Returns -1 only when the conversation with the client broke;
 * a bad milter description fails the message (451) instead.
 */
int
cleanup_milter_receive(CLEANUP_STATE *st, IPC_STREAM *ipc, int timeout_ms)
{
	long long count;
	int	  fds[IPC_FDS_MAX];
	size_t	  nfd = 0;
	ATTR	 *frame, *one;
	VSTR	 *why;
	char	  name[32];
	int	  ret = 0;

	if (st->env == NULL || attr_get_int(st->env, "milters", &count) < 0)
		return 0;
	if (count < 1 || count > IPC_FDS_MAX) {
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: malformed request");
		count = 0;
	}
	/* nothing may be buffered past the envelope (MILTER-API) */
	if (ipc_stream_buffered(ipc) != 0) {
		msg_warn("%s: client sent data before the milter sockets",
			 VSTR_STR(st->qid));
		return -1;
	}
	frame = attr_alloc();
	attr_put_str(frame, "request", "milter_fds");
	if (ipc_stream_send(ipc, frame, timeout_ms) < 0) {
		msg_warn("%s: ask for milters: %m", VSTR_STR(st->qid));
		attr_free(frame);
		return -1;
	}
	attr_free(frame);
	why = vstr_alloc(64);
	one = attr_alloc();
	/* how many sockets come: those with fd_index >= 0 */
	for (long long i = 0; i < count; i++) {
		long long idx;

		snprintf(name, sizeof(name), "milter%lld", i);
		if (attr_get_attr(st->env, name, one, why) == 0
		    && attr_get_int(one, "fd_index", &idx) == 0 && idx >= 0)
			nfd++;
	}
	if (nfd > 0) {
		size_t got = 0;

		if (ipc_recv_fds(ipc_stream_fd(ipc), fds, IPC_FDS_MAX, &got,
				 timeout_ms)
		    < 0) {
			msg_warn("%s: receive milter sockets: %m",
				 VSTR_STR(st->qid));
			ret = -1;
			goto out;
		}
		nfd = got;
	}
	st->smtpd_milters = mycalloc((size_t)count ? (size_t)count : 1,
				     sizeof(*st->smtpd_milters));
	for (long long i = 0; i < count; i++) {
		long long idx = -1;
		MILTER	 *m;
		int	  fd = -1;

		snprintf(name, sizeof(name), "milter%lld", i);
		if (attr_get_attr(st->env, name, one, why) < 0
		    || attr_get_int(one, "fd_index", &idx) < 0
		    || idx >= (long long)nfd) {
			msg_warn("%s: malformed milter description %s",
				 VSTR_STR(st->qid), name);
			cleanup_fail(st, CLEANUP_TEMPFAIL,
				     "451 4.3.0 Error: malformed request");
			continue;
		}
		if (idx >= 0) {
			fd = fds[idx];
			fds[idx] = -1;
		}
		if ((m = milter_import(one, fd, why)) == NULL) {
			msg_warn("%s: %s", VSTR_STR(st->qid), VSTR_STR(why));
			if (fd >= 0)
				(void)close(fd);
			cleanup_fail(st, CLEANUP_TEMPFAIL,
				     "451 4.3.0 Error: malformed request");
			continue;
		}
		st->smtpd_milters[st->nsmtpd_milters++] = m;
	}
	if (attr_has(st->env, "milter_macros")) {
		st->milter_macros = attr_alloc();
		if (attr_get_attr(st->env, "milter_macros", st->milter_macros,
				  why)
		    < 0)
			st->milter_macros = attr_free(st->milter_macros);
	}
out:
	/* sockets nobody claimed */
	for (size_t i = 0; i < nfd; i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
	attr_free(one);
	vstr_free(why);
	return ret;
}

void
cleanup_milter_free(CLEANUP_STATE *st)
{
	/* the connections stay smtpd's: close our copies, no SMFIC_QUIT */
	for (size_t i = 0; i < st->nsmtpd_milters; i++) {
		milter_disown(st->smtpd_milters[i]);
		milter_free(st->smtpd_milters[i]);
	}
	st->smtpd_milters = myfree(st->smtpd_milters);
	st->nsmtpd_milters = 0;
	st->milter_macros = attr_free(st->milter_macros);
}
