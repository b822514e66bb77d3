/*
 * smtpd_data - message content: DATA, BDAT (RFC 3030) and the filter
 * between the client's bytes and cleanup.
 *
 * The filter is a byte state machine that survives any split of the
 * input.  A line ends in CRLF, a bare LF or a bare CR; every one of them
 * is written out as CRLF, so a bare newline never reaches the queue file
 * or the next hop (DESIGN.md §5).  With DATA it also removes the leading
 * dot of a line and ends the message at <CR><LF>.<CR><LF> only: the dot
 * line and the line before it must both end in a real CRLF, so "\n.\n",
 * "\r.\r" and "\r\n.\n" are content.  BDAT chunks get the line-ending
 * conversion only.  Whether a converted bare newline makes the message
 * fail (smtpd_forbid_bare_newline=reject) is the caller's decision.
 *
 * Content goes to cleanup in large pieces as it arrives; the session
 * holds at most one read plus its filtered copy, whatever the message
 * size.  A message over message_size_limit or with a forbidden bare
 * newline is read to its end and refused; cleanup is told to drop it.
 * The 250 reply is cleanup's own, sent only after its durable commit;
 * it also resets the session's error and junk-command counts (Postfix).
 *
 * Errors: replies to the client; a lost or silent client sets
 * st->io_error and drops the message.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/receive_override.h"
#include "util/vstr.h"

/* Hand content to cleanup in pieces at least this big. */
#define SMTPD_CONTENT_CHUNK (64 * 1024)

enum {
	F_BOL,	  /* at the start of a line */
	F_DOT,	  /* "." at the start of a line */
	F_DOT_CR, /* "." CR at the start of a line */
	F_MID,	  /* inside a line */
	F_CR,	  /* CR inside a line */
};

void
smtpd_filter_init(struct smtpd_filter *f, bool dots)
{
	f->state = dots ? F_BOL : F_MID;
	f->prev_crlf = true;
	f->bol = true;
	f->bare_seen = false;
	f->dots = dots;
}

/* A line ended; where the next one starts depends on the mode. */
static void
smtpd_filter_eol(struct smtpd_filter *f, VSTR *out, bool real_crlf)
{
	vstr_memcat(out, "\r\n", 2);
	if (!real_crlf)
		f->bare_seen = true;
	f->prev_crlf = real_crlf;
	f->bol = true;
	f->state = f->dots ? F_BOL : F_MID;
}

/*
 * Filter up to len bytes into out.  Returns the bytes consumed; with
 * dots, *end says whether the end-of-data line was seen (the bytes after
 * it are not consumed: they are the next pipelined commands).
 */
size_t
smtpd_filter(struct smtpd_filter *f, const char *buf, size_t len, VSTR *out,
	     bool *end)
{
	size_t i = 0;

	*end = false;
	while (i < len) {
		char c = buf[i];

		switch (f->state) {
		case F_BOL:
			if (c == '.') {
				f->state = F_DOT;
				i++;
				continue;
			}
			f->state = F_MID;
			continue;
		case F_DOT:
			if (c == '\r') {
				f->state = F_DOT_CR;
				i++;
			} else if (c == '\n') {
				smtpd_filter_eol(f, out, false);
				i++;
			} else {
				f->state = F_MID;
			}
			continue;
		case F_DOT_CR:
			if (c == '\n') {
				i++;
				if (f->prev_crlf) {
					*end = true;
					return i;
				}
				smtpd_filter_eol(f, out, true);
			} else {
				/* Bare CR after the dot; c starts a line. */
				smtpd_filter_eol(f, out, false);
			}
			continue;
		case F_MID: {
			size_t j = i;

			while (j < len && buf[j] != '\r' && buf[j] != '\n')
				j++;
			if (j > i) {
				vstr_memcat(out, buf + i, j - i);
				f->bol = false;
			}
			i = j;
			if (i == len)
				continue;
			if (buf[i] == '\r') {
				f->state = F_CR;
			} else {
				smtpd_filter_eol(f, out, false);
			}
			i++;
			continue;
		}
		case F_CR:
			if (c == '\n') {
				smtpd_filter_eol(f, out, true);
				i++;
			} else {
				smtpd_filter_eol(f, out, false);
			}
			continue;
		default:
			msg_panic("smtpd_filter: state %d", f->state);
		}
	}
	return i;
}

/* BDAT LAST: end an unterminated last line (or a trailing CR). */
static void
smtpd_filter_finish(struct smtpd_filter *f, VSTR *out)
{
	if (f->state == F_CR)
		smtpd_filter_eol(f, out, false);
	else if (!f->bol)
		smtpd_filter_eol(f, out, true);
}

static bool
smtpd_bare_forbidden(const SMTPD_STATE *st)
{
	return st->filter.bare_seen && st->par->bare_reject
	       && !st->peer.bare_normalize;
}

/* Stop sending content; cleanup drops its temporary file. */
void
smtpd_data_abort(SMTPD_STATE *st)
{
	if (st->cleanup) {
		st->hooks->cleanup_abort(st->cleanup);
		st->cleanup = NULL;
	}
	vstr_reset(st->content);
}

/* Pass filtered content on, or drop it once the message is doomed. */
static void
smtpd_data_push(SMTPD_STATE *st, bool force)
{
	size_t len = VSTR_LEN(st->content);

	if (len == 0 || (!force && len < SMTPD_CONTENT_CHUNK))
		return;
	st->content_size += (long long)len;
	if (st->par->size_limit > 0 && st->content_size > st->par->size_limit)
		st->too_big = true;
	if (st->too_big || smtpd_bare_forbidden(st)) {
		smtpd_data_abort(st);
		return;
	}
	if (st->cleanup && !st->cleanup_lost
	    && st->hooks->cleanup_write(st->cleanup, VSTR_STR(st->content), len)
		   < 0) {
		msg_warn("%s[%s]: cleanup went away during %s", st->peer.name,
			 st->peer.addr, st->where);
		st->cleanup_lost = true;
	}
	vstr_reset(st->content);
}

/*
 * auto: the rule, which is also how OpenDKIM and OpenDMARC milters
 * are usually set up in front of Postfix: a client that logged in or sits
 * in $mynetworks submits mail of ours (sign it), everybody else delivers
 * mail to us (check it).
 */
int
smtpd_mail_auth_flags(const SMTPD_STATE *st)
{
	if (st->par->auth_role != SMTPD_ROLE_AUTO)
		return st->par->auth_role;
	if (smtpd_sasl_user(st) != NULL
	    || (st->hooks->mynetworks
		&& st->hooks->mynetworks(st->ctx, st->peer.addr)))
		return CLEANUP_FLAG_SIGN;
	return CLEANUP_FLAG_VERIFY;
}

bool
smtpd_mail_inbound(const SMTPD_STATE *st)
{
	return (smtpd_mail_auth_flags(st) & CLEANUP_FLAG_VERIFY) != 0;
}

/* Open the cleanup conversation for the current transaction: 0 or -1. */
static int
smtpd_data_begin(SMTPD_STATE *st, bool dots)
{
	struct cleanup_req   req;
	struct cleanup_rcpt *rcpts;
	VSTR		    *why;

	rcpts = mycalloc(st->nrcpt ? st->nrcpt : 1, sizeof(*rcpts));
	for (size_t i = 0; i < st->nrcpt; i++) {
		rcpts[i].addr = st->rcpts[i].addr;
		rcpts[i].orcpt = st->rcpts[i].orcpt;
		rcpts[i].notify = st->rcpts[i].notify;
	}
	memset(&req, 0, sizeof(req));
	req.flags = st->cleanup_flags | smtpd_mail_auth_flags(st);
	req.origin = "smtpd";
	req.sender = VSTR_STR(st->sender);
	req.envid = st->mail->envid_given ? VSTR_STR(st->mail->envid) : NULL;
	req.ret = st->mail->ret;
	req.body_type = st->mail->body;
	req.smtputf8 = st->mail->smtputf8;
	req.requiretls = st->mail->requiretls;
	req.declared_size = st->mail->size_given ? (long long)st->mail->size
						 : 0;
	req.client_name = st->peer.name;
	req.client_addr = st->peer.addr;
	req.client_port = st->peer.port;
	req.helo = VSTR_LEN(st->helo) ? VSTR_STR(st->helo) : NULL;
	req.protocol = st->protocol;
	if (st->tls && st->tls_info && st->par->tls.received_header)
		req.tls_info = VSTR_STR(st->tls_info);
	if (smtpd_sasl_user(st) != NULL) {
		req.sasl_method = VSTR_STR(st->sasl_method);
		req.sasl_username = VSTR_STR(st->sasl_username);
		if (st->par->sasl.auth_header)
			req.auth_header = VSTR_STR(st->sasl_username);
	}
	req.rewrite_local = st->hooks->mynetworks
			    && st->hooks->mynetworks(st->ctx, st->peer.addr);
	smtpd_xforward_req(st, &req);
	/* An access table's FILTER wins over content_filter. */
	if (VSTR_LEN(st->filter_route) > 0)
		req.filter = VSTR_STR(st->filter_route);
	else if (st->par->content_filter && *st->par->content_filter)
		req.filter = st->par->content_filter;
	req.receive_override = st->par->receive_override & RECEIVE_CLEANUP_BITS;
	req.rcpts = rcpts;
	req.nrcpt = st->nrcpt;
	if (st->spf.result) {
		req.spf_result = st->spf.result;
		req.spf_identity = st->spf.identity;
		req.spf_domain = VSTR_STR(st->spf.domain);
		req.spf_header = VSTR_STR(st->spf.header);
	}
	req.prepend = VSTR_LEN(st->prepend) ? VSTR_STR(st->prepend) : NULL;
	smtpd_milter_handoff(st, &req);
	why = vstr_alloc(100);
	st->cleanup = st->hooks->cleanup_begin(st->ctx, &req, why);
	if (st->cleanup == NULL)
		msg_warn("%s[%s]: cannot reach the cleanup service: %s",
			 st->peer.name, st->peer.addr, VSTR_STR(why));
	vstr_free(why);
	myfree(rcpts);
	smtpd_filter_init(&st->filter, dots);
	vstr_reset(st->content);
	st->content_size = 0;
	st->too_big = false;
	st->cleanup_lost = false;
	return st->cleanup ? 0 : -1;
}

/*
 * smtpd_end_of_data_restrictions, after the final dot and before the
 * reply: -1 after a reject or defer reply (the caller drops the message);
 * a HOLD or DISCARD found now goes to cleanup with the end frame.
 */
static int
smtpd_data_eod(SMTPD_STATE *st)
{
	int before = st->cleanup_flags;
	int added;

	if (smtpd_policy(st, SMTPD_CHECK_EOD, "END-OF-MESSAGE", NULL) < 0)
		return -1;
	added = st->cleanup_flags & ~before;
	if (added && st->cleanup && st->hooks->cleanup_flags)
		st->hooks->cleanup_flags(st->cleanup, added);
	return 0;
}

/*
 * Postfix's line; with XFORWARD it adds the filter's queue ID and the
 * original client: "QID: client=localhost[127.0.0.1],
 * orig_queue_id=ABC, orig_client=mail.example[192.0.2.1]".
 */
static void
smtpd_data_log_client(SMTPD_STATE *st, const char *queue_id)
{
	VSTR *line = vstr_alloc(128);

	vstr_sprintf(line, "%s: client=%s[%s]", queue_id, st->peer.name,
		     st->peer.addr);
	if (smtpd_sasl_user(st) != NULL)
		vstr_sprintf_append(line, ", sasl_method=%s, sasl_username=%s",
				    VSTR_STR(st->sasl_method),
				    VSTR_STR(st->sasl_username));
	if (st->xforward && st->xforward->active) {
		if (st->xforward->value[XFORWARD_IDENT])
			vstr_sprintf_append(line, ", orig_queue_id=%s",
					    st->xforward->value[XFORWARD_IDENT]);
		if (st->xforward->given[XFORWARD_NAME]
		    || st->xforward->given[XFORWARD_ADDR])
			vstr_sprintf_append(line, ", orig_client=%s[%s]",
					    smtpd_xforward_name(st),
					    smtpd_xforward_addr(st));
	}
	msg_info("%s", VSTR_STR(line));
	vstr_free(line);
}

/*
 * The message is complete: reply as cleanup (or our own checks) decided.
 * Returns true when the message was accepted.
 */
static bool
smtpd_data_end(SMTPD_STATE *st)
{
	struct cleanup_result res;
	bool		      ok = false;

	smtpd_data_push(st, true);
	if (st->too_big) {
		smtpd_data_abort(st);
		smtpd_reply(st, "552 5.3.4 Message size exceeds fixed limit");
		smtpd_log_reject(st, "END-OF-MESSAGE",
				 "552 5.3.4 Message size exceeds fixed limit",
				 NULL);
	} else if (smtpd_bare_forbidden(st)) {
		smtpd_data_abort(st);
		smtpd_reply(st, "550 5.5.2 Error: bare <CR> or <LF> received");
		smtpd_log_reject(st, "END-OF-MESSAGE",
				 "550 5.5.2 Error: bare <CR> or <LF> received",
				 NULL);
	} else if (smtpd_data_eod(st) < 0) {
		smtpd_data_abort(st);
	} else if (st->cleanup == NULL) {
		smtpd_reply(st, "451 4.3.0 Error: queue file write error");
	} else {
		memset(&res, 0, sizeof(res));
		if (st->hooks->cleanup_finish(st->cleanup, &res) < 0
		    || res.reply[0] == 0)
			snprintf(res.reply, sizeof(res.reply), "%s",
				 "451 4.3.0 Error: queue file write error");
		st->cleanup = NULL;
		/* Only a durable commit may say 2xx. */
		if (res.reply[0] == '2' && res.status != CLEANUP_OK
		    && res.status != CLEANUP_DISCARDED)
			snprintf(res.reply, sizeof(res.reply), "%s",
				 "451 4.3.0 Error: queue file write error");
		if (res.reply[0] == '2') {
			ok = true;
			smtpd_data_log_client(st, res.queue_id);
			/* Postfix forgives a client that delivers mail. */
			st->errors = 0;
			st->junk = 0;
		} else {
			smtpd_log_reject(st, "END-OF-MESSAGE", res.reply, NULL);
		}
		/* a milter's multi-line reply keeps its lines */
		smtpd_reply_lines(st, res.reply, strlen(res.reply));
	}
	return ok;
}

/* DATA after its checks passed (smtpd_cmd.c): 0, or -1 after an error. */
int
smtpd_do_data(SMTPD_STATE *st)
{
	bool end = false;
	bool ok;

	if (smtpd_data_begin(st, true) < 0) {
		smtpd_data_abort(st);
		smtpd_reply(st, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	smtpd_reply(st, "354 End data with <CR><LF>.<CR><LF>");
	st->where = SMTPD_AFTER_DATA;
	while (!end) {
		size_t n;

		if (smtpd_io_avail(st) == 0) {
			int ret = smtpd_io_fill(st);

			if (ret <= 0) {
				st->io_error = true;
				/* "(N bytes)" in the lost connection line */
				st->content_size += (long long)VSTR_LEN(
				    st->content);
				smtpd_data_abort(st);
				return -1;
			}
		}
		n = smtpd_filter(&st->filter, smtpd_io_peek(st),
				 smtpd_io_avail(st), st->content, &end);
		smtpd_io_consume(st, n);
		smtpd_data_push(st, false);
	}
	st->where = "END-OF-MESSAGE";
	ok = smtpd_data_end(st);
	smtpd_reset_transaction(st);
	return ok ? 0 : -1;
}

/* Read and drop n bytes of a chunk we refuse; false if the client left. */
static bool
smtpd_bdat_skip(SMTPD_STATE *st, unsigned long long n)
{
	while (n > 0) {
		size_t take;

		if (smtpd_io_avail(st) == 0 && smtpd_io_fill(st) <= 0) {
			st->io_error = true;
			return false;
		}
		take = smtpd_io_avail(st);
		if (take > n)
			take = (size_t)n;
		smtpd_io_consume(st, take);
		n -= take;
	}
	return true;
}

/* BDAT count [LAST]: 0, or -1 after an error reply. */
int
smtpd_do_bdat(SMTPD_STATE *st, const char *args)
{
	unsigned long long size;
	unsigned long long chunk;
	bool		   last = false;
	const char	  *p = args;
	char		  *endp;
	bool		   end;
	bool		   ok;

	while (*p == ' ')
		p++;
	errno = 0;
	if (!isdigit((unsigned char)*p)
	    || ((size = strtoull(p, &endp, 10)), errno == ERANGE)) {
		smtpd_reply(st, "501 5.5.4 Syntax: BDAT count [LAST]");
		return -1;
	}
	p = endp;
	while (*p == ' ')
		p++;
	if (strncasecmp(p, "LAST", 4) == 0) {
		last = true;
		p += 4;
		while (*p == ' ')
			p++;
	}
	if (*p != 0 || (endp[0] != 0 && endp[0] != ' ')) {
		smtpd_reply(st, "501 5.5.4 Syntax: BDAT count [LAST]");
		return -1;
	}
	chunk = size;
	st->where = "BDAT";

	/* Refused chunks are still read: their bytes are not commands. */
	if (st->bdat_failed
	    || (st->stage != SMTPD_ST_RCPT && st->stage != SMTPD_ST_BDAT)) {
		if (!smtpd_bdat_skip(st, size))
			return -1;
		if (st->bdat_failed) {
			smtpd_reply(st, "503 5.5.1 Error: a previous BDAT "
					"chunk failed; send RSET");
			/* The client thinks the message is over: so be it. */
			if (last)
				smtpd_reset_transaction(st);
		} else if (st->stage == SMTPD_ST_MAIL)
			smtpd_reply(st, "554 5.5.1 Error: no valid recipients");
		else
			smtpd_reply(st, "503 5.5.1 Error: need RCPT command");
		return -1;
	}
	if (st->stage == SMTPD_ST_RCPT) {
		if (smtpd_policy(st, SMTPD_CHECK_DATA, "BDAT", NULL) != 0
		    || smtpd_milter_data(st, "BDAT") < 0
		    || smtpd_data_begin(st, false) < 0) {
			if (st->check.action != SMTPD_ACT_REJECT
			    && st->check.action != SMTPD_ACT_DEFER)
				smtpd_reply(st, "451 4.3.0 Error: queue file "
						"write error");
			smtpd_data_abort(st);
			(void)smtpd_bdat_skip(st, size);
			if (last) {
				smtpd_reset_transaction(st);
			} else {
				st->bdat_failed = true;
				smtpd_state_set(st, SMTPD_ST_BDAT);
			}
			return -1;
		}
		smtpd_state_set(st, SMTPD_ST_BDAT);
	}
	while (size > 0) {
		size_t take;

		if (smtpd_io_avail(st) == 0 && smtpd_io_fill(st) <= 0) {
			st->io_error = true;
			smtpd_data_abort(st);
			return -1;
		}
		take = smtpd_io_avail(st);
		if (take > size)
			take = (size_t)size;
		(void)smtpd_filter(&st->filter, smtpd_io_peek(st), take,
				   st->content, &end);
		smtpd_io_consume(st, take);
		size -= take;
		smtpd_data_push(st, false);
	}
	if (!last) {
		/* Fail early: the rest of the message is refused unread. */
		smtpd_data_push(st, true);
		if (st->too_big || smtpd_bare_forbidden(st)) {
			(void)smtpd_data_end(st);
			st->bdat_failed = true;
			return -1;
		}
		smtpd_reply(st, "250 2.0.0 Ok: %llu bytes", chunk);
		return 0;
	}
	smtpd_filter_finish(&st->filter, st->content);
	st->where = "END-OF-MESSAGE";
	ok = smtpd_data_end(st);
	smtpd_reset_transaction(st);
	return ok ? 0 : -1;
}
