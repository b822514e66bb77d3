/*
 * cleanup_header - the message header: checks, rewriting, extraction and
 * the headers cleanup adds.
 *
 * Fields arrive one logical field at a time from util/header.  Each is
 * counted for hopcount_limit (Received, Delivered-To), run through
 * header_checks, remembered when it is one cleanup may add (Message-ID,
 * Date, From), mined for recipients with CLEANUP_FLAG_EXTRACT (To, Cc,
 * Bcc; Bcc is then dropped), and, for local clients, has its addresses
 * qualified and rewritten.  Return-Path is removed: final delivery adds
 * it.  The result is buffered until the end of the header, because the
 * envelope (which extraction may still change) comes first in the file.
 *
 * At the end of the header cleanup writes the envelope, its own Received
 * field first, the buffered fields, and the missing Message-ID, Date and
 * From (local submissions, local clients, or always_add_missing_headers).
 *
 * Errors: recorded with cleanup_fail; the field callback never stops
 * the parser.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cleanup/cleanup.h"
#include "util/addr.h"
#include "util/msg.h"

static const char *const cleanup_sender_hdrs[] = {
	"From",
	"Sender",
	"Reply-To",
	"Resent-From",
	"Resent-Sender",
	"Resent-Reply-To",
	"Return-Receipt-To",
	"Errors-To",
	NULL,
};
static const char *const cleanup_rcpt_hdrs[] = {
	"To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc", NULL,
};

static bool
cleanup_hdr_in(const struct header_field *f, const char *const *names)
{
	for (; *names; names++)
		if (header_is(f, *names))
			return true;
	return false;
}

void
cleanup_header_begin(CLEANUP_STATE *st)
{
	st->hp = header_parser_create((size_t)st->conf->header_size_limit,
				      CLEANUP_HEADER_COUNT_MAX,
				      cleanup_header_field, st);
	cleanup_body_mime_init(st);
}

static bool
cleanup_delim(int ch)
{
	return ch == 0 || ch == '<' || ch == '>' || ch == ',' || ch == ';'
	       || ch == ':' || ch == ' ' || ch == '\t' || ch == '\r'
	       || ch == '\n' || ch == '(' || ch == ')';
}

/*
 * Where addr is written in text (from pos on): as <addr> first, since a
 * display name may spell the same word, then as a delimited word.
 */
static const char *
cleanup_find_addr(const char *text, size_t pos, const char *a)
{
	size_t	    alen = strlen(a);
	const char *hit;

	for (hit = text + pos; (hit = strstr(hit, a)) != NULL; hit++)
		if (hit > text && hit[-1] == '<' && hit[alen] == '>')
			return hit;
	for (hit = text + pos; (hit = strstr(hit, a)) != NULL; hit++)
		if (cleanup_delim(hit == text ? 0 : hit[-1])
		    && cleanup_delim(hit[alen]))
			return hit;
	return NULL;
}

/*
 * Rewrite the addresses of one field in place.  util/addr gives the
 * addr-specs but not their positions, so each is found again as a
 * delimited substring after the previous one; one that cannot be found
 * (written with comments or odd spacing inside) is left as it is.
 */
void
cleanup_rewrite_header_addrs(CLEANUP_STATE *st, VSTR *field, size_t name_len)
{
	ADDR_LIST *list = addr_list_alloc();
	VSTR	  *rw = vstr_alloc(64), *out = vstr_alloc(VSTR_LEN(field) + 64);
	struct header_field f = {
		VSTR_STR(field), VSTR_LEN(field), name_len, NULL, 0, false
	};
	int	    how = cleanup_hdr_in(&f, cleanup_sender_hdrs)
			      ? CLEANUP_REWRITE_SENDER
			      : CLEANUP_REWRITE_RCPT;
	size_t	    pos = name_len + 1, i, alen;
	const char *text, *hit;

	addr_parse_header(list, VSTR_STR(field) + pos, VSTR_LEN(field) - pos);
	for (i = 0; i < list->count; i++) {
		const char *a = VSTR_STR(list->addrs[i]->addr);

		if (cleanup_rewrite(st->conf, a, how | CLEANUP_REWRITE_HEADER,
				    rw)
		    < 0) {
			cleanup_fail(st, CLEANUP_TEMPFAIL,
				     "451 4.3.0 Error: "
				     "canonical table lookup failure");
			break;
		}
		if (strcmp(VSTR_STR(rw), a) == 0)
			continue;
		text = VSTR_STR(field);
		alen = strlen(a);
		hit = cleanup_find_addr(text, pos, a);
		if (hit == NULL)
			continue;
		vstr_memcpy(out, text, (size_t)(hit - text));
		vstr_memcat(out, VSTR_STR(rw), VSTR_LEN(rw));
		pos = VSTR_LEN(out);
		vstr_strcat(out, hit + alen);
		vstr_memcpy(field, VSTR_STR(out), VSTR_LEN(out));
	}
	addr_list_free(list);
	vstr_free(rw);
	vstr_free(out);
}

/*
 * Which checks a header field gets, as in Postfix: MIME fields (Content-*,
 * MIME-Version) mime_header_checks wherever they are, other fields of the
 * message header_checks, of a body part mime_header_checks, of an
 * attached message nested_header_checks.
 */
DICT_LIST *
cleanup_header_maps(const CLEANUP_CONF *conf, enum cleanup_mime_class cls,
		    const struct header_field *f)
{
	if (cls == CLEANUP_MIME_MULTIPART || cleanup_mime_is_mime_field(f))
		return conf->mime_header_checks;
	if (cls == CLEANUP_MIME_NESTED)
		return conf->nested_header_checks;
	return conf->header_checks;
}

/*
 * A field of a body part or attached message (cleanup_mime callback): it
 * is checked and written at once, since the envelope is already out.
 * Addresses in it are never rewritten and nothing is extracted from it.
 */
void
cleanup_part_header(void *ctx, enum cleanup_mime_class cls,
		    const struct header_field *f)
{
	CLEANUP_STATE	*st = ctx;
	VSTR		*result;
	enum cleanup_act act;

	if (st->status != CLEANUP_OK)
		return;
	result = vstr_alloc(64);
	act = cleanup_check(st, cleanup_header_maps(st->conf, cls, f), "header",
			    f->text, f->len, result);
	if (st->status == CLEANUP_OK && act != CLEANUP_ACT_IGNORE) {
		if (act == CLEANUP_ACT_PREPEND || act == CLEANUP_ACT_REPLACE) {
			vstr_memcat(result, "\r\n", 2);
			rec_put_content(st->writer, VSTR_STR(result),
					VSTR_LEN(result));
		}
		if (act != CLEANUP_ACT_REPLACE) {
			rec_put_content(st->writer, f->text, f->len);
			rec_put_content(st->writer, "\r\n", 2);
		}
	}
	vstr_free(result);
}

static void
cleanup_extract(CLEANUP_STATE *st, const struct header_field *f)
{
	ADDR_LIST *list = addr_list_alloc();
	size_t	   i;

	addr_parse_header(list, f->value, f->value_len);
	for (i = 0; i < list->count && st->status == CLEANUP_OK; i++) {
		/* As smtpd, sendmail and postdrop do (allow_min_user). */
		if (!st->conf->allow_min_user
		    && addr_min_user(list->addrs[i])) {
			cleanup_fail(st, CLEANUP_REJECT,
				     "550 5.1.3 <%s>: "
				     "Bad recipient address syntax",
				     VSTR_STR(list->addrs[i]->addr));
			break;
		}
		(void)cleanup_add_rcpt(st, VSTR_STR(list->addrs[i]->addr), NULL,
				       0);
	}
	addr_list_free(list);
}

static void
cleanup_emit(CLEANUP_STATE *st, const char *text, size_t len)
{
	vstr_memcat(st->hdr_out, text, len);
	vstr_memcat(st->hdr_out, "\r\n", 2);
}

int
cleanup_header_field(void *ctx, const struct header_field *f)
{
	CLEANUP_STATE	*st = ctx;
	VSTR		*result, *field;
	enum cleanup_act act;
	size_t		 vlen;

	if (st->status != CLEANUP_OK)
		return 0;
	if (header_is(f, "Received") || header_is(f, "Delivered-To"))
		st->hops++;
	if (header_is(f, "Return-Path") || cleanup_authres_drop(st, f))
		return 0;
	if (st->mime)
		cleanup_mime_primary_field(st->mime, f);
	result = vstr_alloc(64);
	act = cleanup_check(st,
			    cleanup_header_maps(st->conf, CLEANUP_MIME_PRIMARY,
						f),
			    "header", f->text, f->len, result);
	if (act == CLEANUP_ACT_IGNORE || st->status != CLEANUP_OK) {
		vstr_free(result);
		return 0;
	}
	if (act == CLEANUP_ACT_PREPEND)
		cleanup_emit(st, VSTR_STR(result), VSTR_LEN(result));
	if (act == CLEANUP_ACT_REPLACE) {
		cleanup_emit(st, VSTR_STR(result), VSTR_LEN(result));
		vstr_free(result);
		return 0;
	}
	vstr_free(result);

	if (header_is(f, "Message-ID") && !st->seen_msgid) {
		st->seen_msgid = true;
		vlen = f->value_len;
		while (vlen > 0
		       && (f->value[vlen - 1] == ' '
			   || f->value[vlen - 1] == '\t'))
			vlen--;
		vstr_memcpy(st->msgid, f->value, vlen);
		/* the I record and the log line are single-line text */
		for (size_t i = 0; i < VSTR_LEN(st->msgid); i++)
			if ((unsigned char)VSTR_STR(st->msgid)[i] < 32)
				VSTR_STR(st->msgid)[i] = ' ';
	}
	if (header_is(f, "Date"))
		st->seen_date = true;
	if (header_is(f, "From"))
		st->seen_from = true;
	if ((st->flags & CLEANUP_FLAG_EXTRACT)
	    && (header_is(f, "To") || header_is(f, "Cc")
		|| header_is(f, "Bcc"))) {
		cleanup_extract(st, f);
		if (header_is(f, "Bcc"))
			return 0;
	}
	if (st->rewrite_local
	    && (cleanup_hdr_in(f, cleanup_sender_hdrs)
		|| cleanup_hdr_in(f, cleanup_rcpt_hdrs))) {
		field = vstr_alloc(f->len + 64);
		vstr_memcpy(field, f->text, f->len);
		cleanup_rewrite_header_addrs(st, field, f->name_len);
		cleanup_emit(st, VSTR_STR(field), VSTR_LEN(field));
		vstr_free(field);
		return 0;
	}
	cleanup_emit(st, f->text, f->len);
	return 0;
}

/*
 * A display name for From:, as an RFC 5322 phrase: atoms stay as they are,
 * anything with specials becomes a quoted string.
 */
static void
cleanup_phrase(VSTR *out, const char *name)
{
	const char *cp;

	if (strpbrk(name, "()<>[]:;@\\,.\"") == NULL) {
		vstr_strcat(out, name);
		return;
	}
	vstr_addch(out, '"');
	for (cp = name; *cp; cp++) {
		if (*cp == '"' || *cp == '\\')
			vstr_addch(out, '\\');
		vstr_addch(out, *cp);
	}
	vstr_addch(out, '"');
}

static void
cleanup_received(CLEANUP_STATE *st, VSTR *out, const char *date)
{
	long long   nrcpt = 0;
	const char *host = st->conf->myhostname;

	(void)attr_get_int(st->env, "nrcpt", &nrcpt);
	if (st->client_addr) {
		vstr_sprintf(out, "Received: from %s (%s [%s%s])\r\n",
			     st->helo	       ? st->helo
			     : st->client_name ? st->client_name
					       : "unknown",
			     st->client_name ? st->client_name : "unknown",
			     strchr(st->client_addr, ':') ? "IPv6:" : "",
			     st->client_addr);
		/* smtpd_tls_received_header: as Postfix's "(using ...)". */
		if (st->tls_info)
			vstr_sprintf_append(out, "\t(using %s)\r\n",
					    st->tls_info);
		/* smtpd_sasl_authenticated_header, as Postfix words it. */
		if (st->auth_header)
			vstr_sprintf_append(out,
					    "\t(Authenticated sender: "
					    "%s)\r\n",
					    st->auth_header);
		vstr_sprintf_append(out, "\tby %s (Postel) with %s id %s", host,
				    st->protocol ? st->protocol : "SMTP",
				    VSTR_STR(st->qid));
	} else {
		vstr_sprintf(out, "Received: by %s (Postel", host);
		if (st->local_uid)
			vstr_sprintf_append(out, ", from userid %s",
					    st->local_uid);
		vstr_sprintf_append(out, ")\r\n\tid %s", VSTR_STR(st->qid));
	}
	if (nrcpt == 1 && st->first_rcpt)
		vstr_sprintf_append(out, "\r\n\tfor <%s>; %s\r\n",
				    st->first_rcpt, date);
	else
		vstr_sprintf_append(out, ";\r\n\t%s\r\n", date);
}

void
cleanup_header_end(CLEANUP_STATE *st)
{
	const CLEANUP_CONF *conf = st->conf;
	VSTR		   *date = vstr_alloc(64), *buf = vstr_alloc(256);
	bool		    add = st->rewrite_local || st->client_addr == NULL
		   || conf->always_add_missing_headers;
	struct tm tm;
	char	  stamp[32];

	st->phase = CLEANUP_PH_BODY;
	if (st->status == CLEANUP_OK
	    && (long long)st->hops >= conf->hopcount_limit) {
		msg_info("%s: reject: hopcount exceeded (%zu); from=<%s>",
			 VSTR_STR(st->qid), st->hops, st->sender);
		cleanup_fail(st, CLEANUP_REJECT, "554 5.4.6 too many hops");
	}
	cleanup_bcc_add(st);
	if (st->status == CLEANUP_OK && st->nrcpt == 0)
		cleanup_fail(st, CLEANUP_REJECT,
			     (st->flags & CLEANUP_FLAG_EXTRACT)
				 ? "554 5.1.0 No recipient addresses found in "
				   "message header"
				 : "554 5.1.0 No recipients "
				   "specified");
	if (st->status != CLEANUP_OK) {
		vstr_free(date);
		vstr_free(buf);
		return;
	}
	cleanup_date(date, st->arrival.tv_sec);
	if (add && !st->seen_msgid) {
		gmtime_r(&st->arrival.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
		vstr_sprintf(st->msgid, "<%s.%s@%s>", stamp, VSTR_STR(st->qid),
			     conf->myhostname);
		vstr_sprintf(buf, "Message-ID: %s", VSTR_STR(st->msgid));
		cleanup_emit(st, VSTR_STR(buf), VSTR_LEN(buf));
	}
	if (add && !st->seen_date) {
		vstr_sprintf(buf, "Date: %s", VSTR_STR(date));
		cleanup_emit(st, VSTR_STR(buf), VSTR_LEN(buf));
	}
	if (add && !st->seen_from) {
		vstr_strcpy(buf, "From: ");
		if (st->fullname && *st->fullname && *st->sender) {
			cleanup_phrase(buf, st->fullname);
			vstr_sprintf_append(buf, " <%s>", st->sender);
		} else
			vstr_strcat(buf,
				    *st->sender ? st->sender : "MAILER-DAEMON");
		cleanup_emit(st, VSTR_STR(buf), VSTR_LEN(buf));
	}
	msg_info("%s: message-id=%s", VSTR_STR(st->qid),
		 VSTR_LEN(st->msgid) ? VSTR_STR(st->msgid) : "<>");
	cleanup_write_envelope(st);
	cleanup_received(st, buf, VSTR_STR(date));
	cleanup_dkim_sign_begin(st);
	rec_put_content(st->writer, VSTR_STR(buf), VSTR_LEN(buf));
	rec_put_content(st->writer, VSTR_STR(st->hdr_out),
			VSTR_LEN(st->hdr_out));
	vstr_reset(st->hdr_out);
	vstr_free(date);
	vstr_free(buf);
}
