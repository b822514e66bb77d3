/*
 * smtp_proto - the SMTP/LMTP conversation of the client.
 *
 * Greeting, then EHLO (HELO when EHLO is refused with 5xx, or only HELO
 * with smtp_never_send_ehlo; LHLO for LMTP).  A 4xx (or, with
 * smtp_skip_5xx_greeting, 5xx) greeting and a 4xx EHLO/HELO reply make
 * the caller try the next server.  The capabilities decide the MAIL and
 * RCPT parameters: SIZE, BODY=8BITMIME, SMTPUTF8 and the DSN parameters
 * RET, ENVID, NOTIFY and ORCPT.  With PIPELINING, MAIL, every RCPT and
 * DATA go out in one write and the replies are read in order (RFC 2920);
 * without it, one command at a time.  The content is read from the queue
 * file in large records and sent dot-stuffed, long lines folded at
 * smtp_line_length_limit; a bare CR or LF in it leaves as CRLF.  LMTP
 * (RFC 2033) reads one reply per accepted recipient after the content.
 *
 * Results per recipient: 2xx final sent, 5xx final bounced, 4xx kept
 * pending (tried on the next server, deferred in the end).  A timeout or
 * a lost connection leaves every unfinished recipient pending.
 *
 * The STARTTLS and AUTH seams (a later issue) are after the EHLO reply
 * in smtp_proto_helo().  A REQUIRETLS message (RFC 8689) is sent only on
 * a session that passes smtp_proto_requiretls_ok(), with REQUIRETLS in
 * MAIL FROM; otherwise its recipients get a pending 5.7.30 bounce.
 *
 * Errors: reported as recipient results and the returned enum smtp_step;
 * nothing here logs except verbose traces.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtp/smtp.h"
#include "util/addr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/rec.h"

#define SMTP_DATA_BUF	     (64 * 1024)   /* bytes per content write */
#define SMTP_HEADER_SCAN_MAX (1024 * 1024) /* bytes scanned for UTF-8 */
#define SMTP_PIPE_BYTES	     8192	   /* pipelined commands per write */
#define SMTP_GENERIC_HDR_MAX (1024 * 1024) /* header kept for rewriting */

/* An I/O failure: every unfinished recipient stays pending. */
static enum smtp_step
smtp_proto_lost(SMTP_SESSION *s, SMTP_DELIVERY *d, const char *when)
{
	int err = errno;

	s->broken = true;
	if (err == ETIMEDOUT)
		smtp_rcpt_all(d, false, DELIVER_DEFERRED, "4.4.2", s, NULL,
			      "conversation with %s timed out while %s",
			      VSTR_STR(s->namaddr), when);
	else if (err == EPROTO)
		smtp_rcpt_all(d, false, DELIVER_DEFERRED, "4.5.0", s, NULL,
			      "malformed reply from %s while %s",
			      VSTR_STR(s->namaddr), when);
	else
		smtp_rcpt_all(d, false, DELIVER_DEFERRED, "4.4.2", s, NULL,
			      "lost connection with %s while %s",
			      VSTR_STR(s->namaddr), when);
	return SMTP_STEP_NEXT;
}

/* A server's non-2xx reply for recipient i (or all when i is SIZE_MAX). */
static void
smtp_proto_refused(SMTP_SESSION *s, SMTP_DELIVERY *d, size_t i, const char *cmd)
{
	const SMTP_REPLY   *r = s->reply;
	bool		    hard = r->code / 100 == 5;
	enum deliver_action action = hard ? DELIVER_BOUNCED : DELIVER_DEFERRED;
	char		    dsn[DELIVER_DSN_MAX];

	snprintf(dsn, sizeof(dsn), "%s", r->dsn);
	/* 3xx where 2xx was due: a protocol error, retried later. */
	if (r->code / 100 == 3)
		snprintf(dsn, sizeof(dsn), "4.5.0");
	if (i == SIZE_MAX)
		smtp_rcpt_all(d, hard, action, dsn, s, r,
			      "host %s said: %s (in reply to %s command)",
			      VSTR_STR(s->namaddr), VSTR_STR(r->text), cmd);
	else
		smtp_rcpt_result(d, i, hard, action, dsn, s, r,
				 "host %s said: %s (in reply to %s command)",
				 VSTR_STR(s->namaddr), VSTR_STR(r->text), cmd);
}

void
smtp_proto_features(SMTP_SESSION *s)
{
	const SMTP_REPLY *r = s->reply;
	const char	 *val;
	long long	  size;

	s->features = SMTP_FEATURE_ESMTP;
	if (smtp_reply_ehlo_find(r, "PIPELINING"))
		s->features |= SMTP_FEATURE_PIPELINING;
	if (smtp_reply_ehlo_find(r, "8BITMIME"))
		s->features |= SMTP_FEATURE_8BITMIME;
	if (smtp_reply_ehlo_find(r, "DSN"))
		s->features |= SMTP_FEATURE_DSN;
	if (smtp_reply_ehlo_find(r, "SMTPUTF8"))
		s->features |= SMTP_FEATURE_SMTPUTF8;
	if (smtp_reply_ehlo_find(r, "STARTTLS"))
		s->features |= SMTP_FEATURE_STARTTLS;
	if (smtp_reply_ehlo_find(r, "AUTH"))
		s->features |= SMTP_FEATURE_AUTH;
	if (smtp_reply_ehlo_find(r, "REQUIRETLS"))
		s->features |= SMTP_FEATURE_REQUIRETLS;
	smtp_xforward_features(s);
	if ((val = smtp_reply_ehlo_find(r, "SIZE")) != NULL) {
		s->features |= SMTP_FEATURE_SIZE;
		size = strtoll(val, NULL, 10);
		s->size_limit = size > 0 ? size : 0;
	}
}

/*
 * EHLO unless smtp_never_send_ehlo, or smtp_always_send_ehlo = no and
 * the greeting (s->reply) does not mention ESMTP, as in Postfix.
 */
static bool
smtp_proto_ehlo_ok(const struct smtp_conf *c, const SMTP_SESSION *s)
{
	if (c->never_send_ehlo)
		return false;
	if (c->always_send_ehlo)
		return true;
	return strcasestr(VSTR_STR(s->reply->text), "ESMTP") != NULL;
}

enum smtp_step
smtp_proto_helo(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d)
{
	const struct smtp_conf *c = &st->conf;
	const char	       *verb;

	if (!c->lmtp && smtp_tls_wrapper(st, s, d) != SMTP_STEP_OK)
		return SMTP_STEP_NEXT;
	if (smtp_session_read(s, c->helo_timeout) < 0)
		return smtp_proto_lost(s, d,
				       "receiving the initial server "
				       "greeting");
	if (s->reply->code / 100 != 2) {
		bool hard = s->reply->code / 100 == 5 && !c->skip_5xx_greeting;
		char dsn[DELIVER_DSN_MAX];

		snprintf(dsn, sizeof(dsn), "%s", s->reply->dsn);
		if (!hard)
			dsn[0] = '4';
		smtp_rcpt_all(d, hard,
			      hard ? DELIVER_BOUNCED : DELIVER_DEFERRED, dsn, s,
			      s->reply, "host %s refused to talk to me: %s",
			      VSTR_STR(s->namaddr), VSTR_STR(s->reply->text));
		return SMTP_STEP_NEXT;
	}
	verb = c->lmtp ? "LHLO" : smtp_proto_ehlo_ok(c, s) ? "EHLO" : "HELO";
	for (;;) {
		smtp_session_queue(s, "%s %s", verb, c->helo_name);
		if (smtp_session_flush(s, c->helo_timeout) < 0)
			return smtp_proto_lost(s, d,
					       verb[0] == 'H' ? "sending HELO"
							      : "sending EHLO");
		if (smtp_session_read(s, c->helo_timeout) < 0)
			return smtp_proto_lost(s, d,
					       "receiving the EHLO reply");
		if (s->reply->code / 100 == 2)
			break;
		/* An old server that does not know EHLO: greet again. */
		if (strcmp(verb, "EHLO") == 0 && s->reply->code / 100 == 5) {
			verb = "HELO";
			continue;
		}
		if (s->reply->code / 100 == 5)
			smtp_proto_refused(s, d, SIZE_MAX, verb);
		else {
			/* 4xx: another server may do better. */
			smtp_proto_refused(s, d, SIZE_MAX, verb);
		}
		return SMTP_STEP_NEXT;
	}
	if (strcmp(verb, "HELO") != 0)
		smtp_proto_features(s);
	/* STARTTLS (smtp_tls.c, which repeats EHLO/LHLO), then SASL AUTH. */
	if (smtp_tls_starttls(st, s, d) != SMTP_STEP_OK)
		return SMTP_STEP_NEXT;
	if (smtp_sasl_auth(st, s, d) != SMTP_STEP_OK)
		return SMTP_STEP_NEXT;
	d->t_conn = smtp_now();
	return SMTP_STEP_OK;
}

int
smtp_proto_rset(SMTP_STATE *st, SMTP_SESSION *s)
{
	smtp_session_queue(s, "RSET");
	if (smtp_session_flush(s, st->conf.helo_timeout) < 0
	    || smtp_session_read(s, st->conf.helo_timeout) < 0
	    || s->reply->code / 100 != 2)
		return -1;
	return 0;
}

SMTP_SESSION *
smtp_proto_quit(SMTP_STATE *st, SMTP_SESSION *s)
{
	int timeout = st->conf.quit_timeout;

	/* Nobody waits for the answer: do not hang on a slow server. */
	if (timeout > 10)
		timeout = 10;
	if (s->broken)
		return smtp_session_free(s);
	smtp_session_queue(s, "QUIT");
	if (smtp_session_flush(s, timeout) == 0)
		(void)smtp_session_read(s, timeout);
	return smtp_session_free(s);
}

static bool
smtp_proto_ascii(const char *str)
{
	for (; *str; str++)
		if ((unsigned char)*str >= 0x80)
			return false;
	return true;
}

bool
smtp_proto_need_utf8(const struct deliver_request *req, int qfd)
{
	REC_CONTENT *rc;
	VSTR	    *data;
	int	     type;
	bool	     need = false;
	char	     prev[4] = { 0, 0, 0, 0 };
	size_t	     scanned = 0;

	if (!req->smtputf8)
		return false;
	if (!smtp_proto_ascii(req->sender))
		return true;
	for (size_t i = 0; i < req->nrcpt; i++)
		if (!smtp_proto_ascii(req->rcpts[i].addr))
			return true;
	/* The header section (prepended fields too): to the first empty line. */
	rc = rec_content_create(qfd, req->content_offset);
	data = vstr_alloc(REC_CONT_CHUNK);
	while (!need && scanned < SMTP_HEADER_SCAN_MAX
	       && rec_content_get(rc, &type, data, REC_LEN_MAX) > 0) {
		for (size_t i = 0; i < VSTR_LEN(data); i++) {
			unsigned char ch = (unsigned char)VSTR_STR(data)[i];

			if (ch >= 0x80) {
				need = true;
				break;
			}
			memmove(prev, prev + 1, 3);
			prev[3] = (char)ch;
			if (memcmp(prev, "\r\n\r\n", 4) == 0)
				goto done;
		}
		scanned += VSTR_LEN(data);
	}
done:
	rec_content_free(rc);
	vstr_free(data);
	return need;
}

bool
smtp_proto_tls_required_no(const struct deliver_request *req, int qfd)
{
	REC_CONTENT *rc;
	VSTR	    *data;
	VSTR	    *line;
	int	     type;
	bool	     found = false, done = false;
	size_t	     scanned = 0;

	if (req->requiretls)
		return false;
	rc = rec_content_create(qfd, req->content_offset);
	data = vstr_alloc(REC_CONT_CHUNK);
	line = vstr_alloc(256);
	while (!done && scanned < SMTP_HEADER_SCAN_MAX
	       && rec_content_get(rc, &type, data, REC_LEN_MAX) > 0) {
		for (size_t i = 0; !done && i < VSTR_LEN(data); i++) {
			char	    ch = VSTR_STR(data)[i];
			const char *v;

			if (ch != '\n') {
				if (ch != '\r' && VSTR_LEN(line) < 256)
					vstr_addch(line, ch);
				continue;
			}
			/* The empty line ends the header section. */
			if (VSTR_LEN(line) == 0) {
				done = true;
				break;
			}
			v = VSTR_STR(line);
			if (strncasecmp(v, "TLS-Required:", 13) == 0) {
				v += 13 + strspn(v + 13, " \t");
				found = strncasecmp(v, "No", 2) == 0
					&& v[2 + strspn(v + 2, " \t")] == 0;
				done = true;
			}
			vstr_reset(line);
		}
		scanned += VSTR_LEN(data);
	}
	rec_content_free(rc);
	vstr_free(data);
	vstr_free(line);
	return found;
}

bool
smtp_proto_requiretls_ok(const SMTP_SESSION *s, VSTR *why)
{
	if (!s->tls)
		vstr_sprintf(why, "no TLS with host %s", VSTR_STR(s->namaddr));
	else if (s->tls_verified == SMTP_TLS_VERIFIED_NONE)
		vstr_sprintf(why,
			     "the certificate of host %s was not verified "
			     "by DANE or MTA-STS",
			     VSTR_STR(s->namaddr));
	else if (!(s->features & SMTP_FEATURE_REQUIRETLS))
		vstr_sprintf(why, "host %s does not offer REQUIRETLS",
			     VSTR_STR(s->namaddr));
	else
		return true;
	return false;
}

static void
smtp_proto_mail(SMTP_SESSION *s, SMTP_DELIVERY *d, const char *sender,
		VSTR *tmp)
{
	const struct deliver_request *req = d->req;
	VSTR			     *cmd = vstr_alloc(256);

	vstr_sprintf(cmd, "MAIL FROM:<%s>", sender);
	if (s->features & SMTP_FEATURE_SIZE)
		vstr_sprintf_append(cmd, " SIZE=%lld", req->message_size);
	if ((s->features & SMTP_FEATURE_8BITMIME)
	    && req->body_type == ADDR_BODY_8BITMIME)
		vstr_strcat(cmd, " BODY=8BITMIME");
	if ((s->features & SMTP_FEATURE_SMTPUTF8) && req->smtputf8)
		vstr_strcat(cmd, " SMTPUTF8");
	/* smtp_proto_xfer checked that an SMTP server offers it. */
	if (req->requiretls && (s->features & SMTP_FEATURE_REQUIRETLS))
		vstr_strcat(cmd, " REQUIRETLS");
	if (s->features & SMTP_FEATURE_DSN) {
		if (req->ret == ADDR_RET_FULL)
			vstr_strcat(cmd, " RET=FULL");
		else if (req->ret == ADDR_RET_HDRS)
			vstr_strcat(cmd, " RET=HDRS");
		if (req->envid && *req->envid
		    && addr_xtext_encode(tmp, req->envid, strlen(req->envid))
			   == 0)
			vstr_sprintf_append(cmd, " ENVID=%s", VSTR_STR(tmp));
	}
	smtp_session_queue(s, "%s", VSTR_STR(cmd));
	vstr_free(cmd);
}

static void
smtp_proto_rcpt(SMTP_SESSION *s, const struct deliver_rcpt *rcpt,
		const char *addr, VSTR *tmp)
{
	VSTR *cmd = vstr_alloc(256);

	vstr_sprintf(cmd, "RCPT TO:<%s>", addr);
	if (s->features & SMTP_FEATURE_DSN) {
		const char *semi;

		if (rcpt->notify & REC_NOTIFY_NEVER)
			vstr_strcat(cmd, " NOTIFY=NEVER");
		else if (rcpt->notify) {
			const char *sep = " NOTIFY=";

			if (rcpt->notify & REC_NOTIFY_SUCCESS) {
				vstr_sprintf_append(cmd, "%sSUCCESS", sep);
				sep = ",";
			}
			if (rcpt->notify & REC_NOTIFY_FAILURE) {
				vstr_sprintf_append(cmd, "%sFAILURE", sep);
				sep = ",";
			}
			if (rcpt->notify & REC_NOTIFY_DELAY)
				vstr_sprintf_append(cmd, "%sDELAY", sep);
		}
		if (rcpt->orcpt && (semi = strchr(rcpt->orcpt, ';')) != NULL
		    && semi > rcpt->orcpt
		    && strspn(rcpt->orcpt,
			      "abcdefghijklmnopqrstuvwxyz"
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
			   == (size_t)(semi - rcpt->orcpt)
		    && addr_xtext_encode(tmp, semi + 1, strlen(semi + 1)) == 0)
			vstr_sprintf_append(cmd, " ORCPT=%.*s;%s",
					    (int)(semi - rcpt->orcpt),
					    rcpt->orcpt, VSTR_STR(tmp));
		else if (rcpt->orig && *rcpt->orig
			 && smtp_proto_ascii(rcpt->orig)
			 && addr_xtext_encode(tmp, rcpt->orig,
					      strlen(rcpt->orig))
				== 0)
			vstr_sprintf_append(cmd, " ORCPT=rfc822;%s",
					    VSTR_STR(tmp));
	}
	smtp_session_queue(s, "%s", VSTR_STR(cmd));
	vstr_free(cmd);
}

/* A line ends: CRLF on the wire, whatever ended it in the file. */
static void
smtp_proto_eol(struct smtp_data *sd, VSTR *out)
{
	(void)vstr_memcat(out, "\r\n", 2);
	sd->bol = true;
}

/*
 * Every CR LF, bare CR and bare LF in the content is a line end and
 * leaves as CRLF, and every line that starts with "." is stuffed: even a
 * queue file written past cleanup's normalisation cannot make the next
 * hop see "<CR>.<CR>" or "<LF>.<LF>" (DESIGN.md section 5).  A CR at the
 * end of a piece waits in sd->cr for the next byte.
 */
void
smtp_proto_stuff(struct smtp_data *sd, VSTR *out, const char *p, size_t len)
{
	const char *end = p + len;
	const char *q;
	size_t	    n;

	while (p < end) {
		if (sd->cr) {
			sd->cr = false;
			smtp_proto_eol(sd, out);
			if (*p == '\n') {
				p++;
				continue;
			}
		}
		if (sd->bol) {
			if (*p == '.')
				(void)vstr_addch(out, '.');
			/* An empty line ends the header. */
			if (sd->in_header && (*p == '\r' || *p == '\n'))
				sd->in_header = false;
			sd->bol = false;
			sd->llen = 0;
		}
		if (*p == '\r') {
			sd->cr = true;
			p++;
			continue;
		}
		if (*p == '\n') {
			smtp_proto_eol(sd, out);
			p++;
			continue;
		}
		for (q = p; q < end && *q != '\r' && *q != '\n'; q++)
			;
		n = (size_t)(q - p);
		if (sd->limit > 0 && sd->llen + n > sd->limit) {
			size_t k = sd->limit > sd->llen ? sd->limit - sd->llen
							: 0;

			(void)vstr_memcat(out, p, k);
			p += k;
			/* A folded header line continues with white space. */
			if (sd->in_header) {
				(void)vstr_memcat(out, "\r\n ", 3);
				sd->llen = 1;
			} else {
				smtp_proto_eol(sd, out);
			}
			continue;
		}
		(void)vstr_memcat(out, p, n);
		sd->llen += n;
		p = q;
	}
}

/*
 * smtp_generic_maps on the header: content is collected in hdr until the
 * empty line that ends the header section (or the end of the content,
 * last), rewritten, and stuffed into out with what followed it.  0: still
 * collecting; 1: done (hdr is empty, later content goes straight on);
 * -1 with why on a table error.  A header section larger than
 * SMTP_GENERIC_HDR_MAX goes out unchanged, with a warning.
 */
static int
smtp_proto_generic_hdr(SMTP_STATE *st, const char *qid, struct smtp_data *sd,
		       VSTR *hdr, VSTR *out, const char *p, size_t len,
		       bool last, VSTR *why)
{
	size_t	    old = VSTR_LEN(hdr);
	size_t	    hlen = SIZE_MAX;
	const char *end;
	bool	    rewrite = true;

	vstr_memcat(hdr, p, len);
	if (VSTR_LEN(hdr) >= 2 && memcmp(VSTR_STR(hdr), "\r\n", 2) == 0)
		hlen = 0;
	else if ((end = memmem(VSTR_STR(hdr) + (old > 3 ? old - 3 : 0),
			       VSTR_LEN(hdr) - (old > 3 ? old - 3 : 0),
			       "\r\n\r\n", 4))
		 != NULL)
		hlen = (size_t)(end - VSTR_STR(hdr)) + 2;
	if (hlen == SIZE_MAX) {
		if (!last && VSTR_LEN(hdr) < SMTP_GENERIC_HDR_MAX)
			return 0;
		hlen = VSTR_LEN(hdr);
		if (!last) {
			msg_warn("%s: header section over %d bytes: "
				 "smtp_generic_maps not applied to it",
				 qid, SMTP_GENERIC_HDR_MAX);
			rewrite = false;
		}
	}
	{
		VSTR *head = vstr_alloc(hlen + 1);

		vstr_memcpy(head, VSTR_STR(hdr), hlen);
		if (rewrite && smtp_generic_header(st, head) < 0) {
			vstr_free(head);
			vstr_sprintf(why, "smtp_generic_maps lookup failure");
			errno = EBADMSG;
			return -1;
		}
		smtp_proto_stuff(sd, out, VSTR_STR(head), VSTR_LEN(head));
		smtp_proto_stuff(sd, out, VSTR_STR(hdr) + hlen,
				 VSTR_LEN(hdr) - hlen);
		vstr_free(head);
	}
	vstr_reset(hdr);
	return 1;
}

void
smtp_proto_stuff_end(struct smtp_data *sd, VSTR *out)
{
	if (sd->cr) {
		sd->cr = false;
		smtp_proto_eol(sd, out);
	}
	if (!sd->bol)
		smtp_proto_eol(sd, out);
}

/* Send the content and the final dot; 0, or -1 (errno; EBADMSG: file). */
static int
smtp_proto_data(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d, VSTR *why)
{
	struct smtp_data sd = { .bol = true, .in_header = true };
	VSTR		*hdr = st->generic ? vstr_alloc(4096) : NULL;
	int		 hret;
	REC_CONTENT *rc = rec_content_create(d->qfd, d->req->content_offset);
	VSTR	    *data = vstr_alloc(REC_CONT_CHUNK);
	VSTR	    *out = vstr_alloc(SMTP_DATA_BUF + 1024);
	int	     type;
	int	     ret = -1;
	int	     got;
	int	     timeout = st->conf.data_xfer_timeout;

	sd.limit = st->conf.line_length_limit > 0
		       ? (size_t)st->conf.line_length_limit
		       : 0;
	if (sd.limit > 0 && sd.limit < 80)
		sd.limit = 80;
	/* Prepended header fields, then the content: the message as queued. */
	while ((got = rec_content_get(rc, &type, data, REC_LEN_MAX)) > 0) {
		if (hdr != NULL) {
			if ((hret = smtp_proto_generic_hdr(st, d->req->queue_id,
							   &sd, hdr, out,
							   VSTR_STR(data),
							   VSTR_LEN(data),
							   false, why))
			    < 0)
				goto out;
			if (hret > 0)
				hdr = vstr_free(hdr);
		} else {
			smtp_proto_stuff(&sd, out, VSTR_STR(data),
					 VSTR_LEN(data));
		}
		if (VSTR_LEN(out) >= SMTP_DATA_BUF) {
			if (smtp_session_write(s, VSTR_STR(out), VSTR_LEN(out),
					       timeout)
			    < 0)
				goto out;
			vstr_reset(out);
		}
	}
	if (got < 0) {
		vstr_sprintf(why, "error reading queue file: %s",
			     rec_content_why(rc));
		errno = EBADMSG;
		goto out;
	}
	if (hdr != NULL
	    && smtp_proto_generic_hdr(st, d->req->queue_id, &sd, hdr, out, "",
				      0, true, why)
		   < 0)
		goto out;
	smtp_proto_stuff_end(&sd, out);
	(void)vstr_memcat(out, ".\r\n", 3);
	if (smtp_session_write(s, VSTR_STR(out), VSTR_LEN(out), timeout) < 0)
		goto out;
	ret = 0;
out:
	rec_content_free(rc);
	vstr_free(data);
	vstr_free(out);
	vstr_free(hdr);
	return ret;
}

/* The final reply for recipient i after the content. */
static void
smtp_proto_done_reply(SMTP_SESSION *s, SMTP_DELIVERY *d, size_t i)
{
	const SMTP_REPLY *r = s->reply;

	if (r->code / 100 == 2)
		smtp_rcpt_result(d, i, true, DELIVER_SENT, r->dsn, s, r, "%s",
				 VSTR_STR(r->text));
	else
		smtp_proto_refused(s, d, i, "end of DATA");
}

static void
smtp_proto_generic_env_free(char **addrs, size_t n, char *sender)
{
	if (addrs != NULL)
		for (size_t i = 0; i < n; i++)
			myfree(addrs[i]);
	myfree(addrs);
	myfree(sender);
}

/*
 * smtp_generic_maps on the envelope: the sender and each recipient as
 * they go out (logs and DSNs keep the queue file's addresses).  The
 * array (one entry per request recipient) and the sender are the
 * caller's, released with smtp_proto_generic_env_free; NULL on a table
 * error.
 */
static char **
smtp_proto_generic_env(SMTP_STATE *st, SMTP_DELIVERY *d, char **sender)
{
	const struct deliver_request *req = d->req;
	char **addrs = mycalloc(req->nrcpt + 1, sizeof(*addrs));
	VSTR  *out = vstr_alloc(64);
	int    rc;

	rc = smtp_generic_addr(st, req->sender, out);
	*sender = mystrdup(rc > 0 ? VSTR_STR(out) : req->sender);
	for (size_t i = 0; rc >= 0 && i < req->nrcpt; i++) {
		rc = smtp_generic_addr(st, req->rcpts[i].addr, out);
		addrs[i] = mystrdup(rc > 0 ? VSTR_STR(out)
					   : req->rcpts[i].addr);
	}
	vstr_free(out);
	if (rc < 0) {
		smtp_proto_generic_env_free(addrs, req->nrcpt, *sender);
		*sender = NULL;
		return NULL;
	}
	return addrs;
}

/*
 * Pipelining: queue RCPT commands up to SMTP_PIPE_BYTES, and DATA after
 * the last one.  Replies are read before the next batch is sent, so a
 * server that answers while it reads never blocks against us (RFC 2920
 * section 3.1, deadlock avoidance).
 */
static void
smtp_proto_batch(SMTP_SESSION *s, SMTP_DELIVERY *d, const size_t *todo,
		 size_t ntodo, size_t *nsent, bool *data_sent,
		 char *const *addrs, VSTR *tmp)
{
	while (*nsent < ntodo && VSTR_LEN(s->wbuf) < SMTP_PIPE_BYTES) {
		size_t i = todo[(*nsent)++];

		smtp_proto_rcpt(s, &d->req->rcpts[i], addrs[i], tmp);
	}
	if (*nsent == ntodo && !*data_sent) {
		smtp_session_queue(s, "DATA");
		*data_sent = true;
	}
}

/*
 * XFORWARD before MAIL FROM, one command at a time.  0, or -1 when the
 * transaction is over: the session was lost (*step NEXT) or the server
 * refused (every pending recipient gets its reply, as Postfix does).
 */
static int
smtp_proto_xforward(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d,
		    enum smtp_step *step)
{
	const struct smtp_conf *c = &st->conf;
	VSTR		       *lines = vstr_alloc(256);
	VSTR		       *why = vstr_alloc(64);
	char		       *line, *nl;
	int			ret = 0;

	if (smtp_xforward_lines(s, d, lines, why) < 0) {
		smtp_rcpt_all(d, false, DELIVER_DEFERRED, "4.3.0", s, NULL,
			      "%s", VSTR_STR(why));
		ret = -1;
		goto out;
	}
	for (line = VSTR_STR(lines); (nl = strchr(line, '\n')) != NULL;
	     line = nl + 1) {
		*nl = 0;
		smtp_session_queue(s, "%s", line);
		if (smtp_session_flush(s, c->mail_timeout) < 0) {
			*step = smtp_proto_lost(s, d, "sending XFORWARD");
			ret = -1;
			break;
		}
		if (smtp_session_read(s, c->mail_timeout) < 0) {
			*step = smtp_proto_lost(s, d,
						"receiving the XFORWARD reply");
			ret = -1;
			break;
		}
		if (s->reply->code / 100 != 2) {
			smtp_proto_refused(s, d, SIZE_MAX, "XFORWARD");
			ret = -1;
			break;
		}
	}
out:
	vstr_free(lines);
	vstr_free(why);
	return ret;
}

enum smtp_step
smtp_proto_xfer(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d)
{
	const struct smtp_conf	     *c = &st->conf;
	const struct deliver_request *req = d->req;
	bool	       pipe = (s->features & SMTP_FEATURE_PIPELINING) != 0;
	bool	       mail_ok;
	size_t	       naccepted = 0;
	size_t	      *todo;
	size_t	       ntodo = 0;
	size_t	       nsent = 0;
	bool	       data_sent = false;
	VSTR	      *tmp;
	VSTR	      *why;
	char	     **addrs = NULL;
	char	      *sender = NULL;
	enum smtp_step ret = SMTP_STEP_OK;

	if (d->need_smtputf8 && !(s->features & SMTP_FEATURE_SMTPUTF8)) {
		smtp_rcpt_all(d, true, DELIVER_BOUNCED, "5.6.7", s, NULL,
			      "SMTPUTF8 is required, but was not offered by "
			      "host %s",
			      VSTR_STR(s->namaddr));
		return SMTP_STEP_OK;
	}
	/*
	 * RFC 8689 4.2.1: not over this session.  The recipients bounce with
	 * 5.7.30 unless another server of the next hop does better (the
	 * result stays pending; smtp.c makes it final).
	 */
	if (d->requiretls) {
		VSTR *rwhy = vstr_alloc(100);

		if (!smtp_proto_requiretls_ok(s, rwhy)) {
			smtp_rcpt_all(d, false, DELIVER_BOUNCED, "5.7.30", s,
				      NULL,
				      "REQUIRETLS support required, but "
				      "the message cannot be sent: %s",
				      VSTR_STR(rwhy));
			vstr_free(rwhy);
			return SMTP_STEP_OK;
		}
		vstr_free(rwhy);
	}
	if (s->size_limit > 0 && req->message_size > s->size_limit) {
		smtp_rcpt_all(d, true, DELIVER_BOUNCED, "5.3.4", s, NULL,
			      "message size %lld exceeds size limit %lld of "
			      "server %s",
			      req->message_size, s->size_limit,
			      VSTR_STR(s->namaddr));
		return SMTP_STEP_OK;
	}
	s->use_count++;
	todo = mycalloc(req->nrcpt + 1, sizeof(*todo));
	for (size_t i = 0; i < req->nrcpt; i++) {
		d->rcpt[i].accepted = false;
		if (!d->rcpt[i].final)
			todo[ntodo++] = i;
	}
	tmp = vstr_alloc(256);
	why = vstr_alloc(100);
	if ((addrs = smtp_proto_generic_env(st, d, &sender)) == NULL) {
		smtp_rcpt_all(d, true, DELIVER_DEFERRED, "4.3.0", s, NULL,
			      "smtp_generic_maps lookup failure");
		goto out;
	}

	/* XFORWARD (an after-queue filter's re-injection listener) */
	if (c->send_xforward && (s->features & SMTP_FEATURE_XFORWARD)
	    && smtp_proto_xforward(st, s, d, &ret) < 0)
		goto out;

	/* MAIL */
	smtp_proto_mail(s, d, sender, tmp);
	if (pipe)
		smtp_proto_batch(s, d, todo, ntodo, &nsent, &data_sent, addrs,
				 tmp);
	if (smtp_session_flush(s, c->mail_timeout) < 0) {
		ret = smtp_proto_lost(s, d, "sending MAIL FROM");
		goto out;
	}
	if (smtp_session_read(s, c->mail_timeout) < 0) {
		ret = smtp_proto_lost(s, d, "receiving the MAIL FROM reply");
		goto out;
	}
	mail_ok = s->reply->code / 100 == 2;
	if (!mail_ok) {
		smtp_proto_refused(s, d, SIZE_MAX, "MAIL FROM");
		if (!pipe)
			goto out;
	}

	/* RCPT */
	for (size_t k = 0; k < ntodo; k++) {
		size_t i = todo[k];

		if (pipe && k == nsent) {
			/* Every reply so far is in: send the next batch. */
			if (!mail_ok)
				break;
			smtp_proto_batch(s, d, todo, ntodo, &nsent, &data_sent,
					 addrs, tmp);
		} else if (!pipe)
			smtp_proto_rcpt(s, &req->rcpts[i], addrs[i], tmp);
		if (VSTR_LEN(s->wbuf) > 0) {
			if (smtp_session_flush(s, c->rcpt_timeout) < 0) {
				ret = smtp_proto_lost(s, d, "sending RCPT TO");
				goto out;
			}
		}
		if (smtp_session_read(s, c->rcpt_timeout) < 0) {
			ret = smtp_proto_lost(s, d,
					      "receiving the RCPT TO "
					      "reply");
			goto out;
		}
		if (!mail_ok)
			continue;
		if (s->reply->code / 100 == 2) {
			d->rcpt[i].accepted = true;
			naccepted++;
		} else
			smtp_proto_refused(s, d, i, "RCPT TO");
	}

	/* DATA */
	if (!data_sent) {
		if (!mail_ok || naccepted == 0)
			goto out;
		smtp_session_queue(s, "DATA");
		if (smtp_session_flush(s, c->data_init_timeout) < 0) {
			ret = smtp_proto_lost(s, d, "sending DATA");
			goto out;
		}
	}
	if (smtp_session_read(s, c->data_init_timeout) < 0) {
		ret = smtp_proto_lost(s, d, "receiving the DATA reply");
		goto out;
	}
	if (s->reply->code != 354) {
		if (mail_ok && naccepted > 0)
			for (size_t k = 0; k < ntodo; k++)
				if (d->rcpt[todo[k]].accepted)
					smtp_proto_refused(s, d, todo[k],
							   "DATA");
		goto out;
	}
	if (!mail_ok || naccepted == 0) {
		/* RFC 2920: DATA was accepted with nobody to send to. */
		if (smtp_session_write(s, ".\r\n", 3, c->data_xfer_timeout) < 0
		    || smtp_session_read(s, c->data_done_timeout) < 0)
			ret = SMTP_STEP_NEXT;
		goto out;
	}
	if (smtp_proto_data(st, s, d, why) < 0) {
		if (errno == EBADMSG) {
			/* Closing without the dot makes the server drop it. */
			smtp_rcpt_all(d, true, DELIVER_DEFERRED, "4.3.0", s,
				      NULL, "%s", VSTR_STR(why));
			ret = SMTP_STEP_NEXT;
		} else
			ret = smtp_proto_lost(s, d, "sending message body");
		goto out;
	}
	if (c->lmtp) {
		for (size_t k = 0; k < ntodo; k++) {
			if (!d->rcpt[todo[k]].accepted)
				continue;
			if (smtp_session_read(s, c->data_done_timeout) < 0) {
				ret = smtp_proto_lost(s, d,
						      "receiving the end "
						      "of data reply");
				goto out;
			}
			smtp_proto_done_reply(s, d, todo[k]);
		}
	} else {
		if (smtp_session_read(s, c->data_done_timeout) < 0) {
			ret = smtp_proto_lost(s, d,
					      "sending end of data -- "
					      "message may be sent more than "
					      "once");
			goto out;
		}
		for (size_t k = 0; k < ntodo; k++)
			if (d->rcpt[todo[k]].accepted)
				smtp_proto_done_reply(s, d, todo[k]);
	}
out:
	if (ret == SMTP_STEP_OK && s->reply->code == 421)
		ret = SMTP_STEP_NEXT;
	myfree(todo);
	vstr_free(tmp);
	vstr_free(why);
	smtp_proto_generic_env_free(addrs, req->nrcpt, sender);
	return ret;
}
