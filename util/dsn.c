/*
 * dsn - build an RFC 3464 delivery status notification.
 *
 * The wording of the human-readable part is Postel's own.  Peer text is
 * cleaned (control characters become spaces) before it is placed in a
 * header field or a report field, and long report fields are folded at
 * white space, so a hostile diagnostic can neither inject fields nor end
 * the MIME part early.
 *
 * Errors: none; allocation failures die.
 *
 * Ownership: see util/dsn.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "util/addr.h"
#include "util/dsn.h"

#define DSN_FOLD_AT 76 /* fold report fields past here */

static const char *const dsn_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const dsn_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

void
dsn_format_date(VSTR *out, long long t)
{
	time_t	  tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL) {
		tt = 0;
		gmtime_r(&tt, &tm);
	}
	vstr_sprintf_append(out, "%s, %d %s %d %02d:%02d:%02d +0000",
			    dsn_days[tm.tm_wday], tm.tm_mday,
			    dsn_months[tm.tm_mon], tm.tm_year + 1900,
			    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * The human-readable texts, one per kind, in the form of Postfix's
 * bounce templates so that postelconf -t can print exactly what is used.
 * The text has LF line ends; $mail_name and $myhostname are replaced
 * when a notification is built.
 */
#define DSN_TEMPLATE_START \
	"This is the $mail_name mail system at host $myhostname.\n" \
	"\n"
#define DSN_TEMPLATE_END \
	"\n" \
	"For help, write to the postmaster of this site and\n" \
	"quote this report.  You may remove your own text from\n" \
	"the returned message.\n" \
	"\n" \
	"                   The $mail_name mail system\n"

static const struct dsn_template dsn_template_table[] = {
	{ "failure_template", DSN_KIND_FAILED, "us-ascii",
	  "MAILER-DAEMON (Mail Delivery System)",
	  "Undelivered Mail Returned to Sender",
	  "Postmaster Copy: Undelivered Mail Returned to Sender",
	  DSN_TEMPLATE_START
	  "Your message could not be delivered to one or more\n"
	  "of its recipients; the reasons are listed below.\n"
	  "This is a permanent error: the message will not be\n"
	  "tried again for these recipients.\n" DSN_TEMPLATE_END },
	{ "delay_template", DSN_KIND_DELAYED, "us-ascii",
	  "MAILER-DAEMON (Mail Delivery System)",
	  "Delayed Mail (still being retried)",
	  "Postmaster Copy: Delayed Mail (still being retried)",
	  DSN_TEMPLATE_START
	  "Your message has not yet been delivered to one or\n"
	  "more of its recipients; the reasons are listed\n"
	  "below.  This is only a warning: the mail system\n"
	  "keeps trying, until the Will-Retry-Until time in\n"
	  "the delivery report.  You do not need to send the\n"
	  "message again.\n" DSN_TEMPLATE_END },
	{ "success_template", DSN_KIND_SUCCESS, "us-ascii",
	  "MAILER-DAEMON (Mail Delivery System)",
	  "Successful Mail Delivery Report",
	  "Postmaster Copy: Successful Mail Delivery Report",
	  DSN_TEMPLATE_START "Your message was delivered to the recipients\n"
			     "listed below, as you asked in a delivery status\n"
			     "request.\n" DSN_TEMPLATE_END },
};

const struct dsn_template *
dsn_templates(size_t *count)
{
	*count = sizeof(dsn_template_table) / sizeof(dsn_template_table[0]);
	return dsn_template_table;
}

static const struct dsn_template *
dsn_template_for(enum dsn_kind kind)
{
	size_t i;

	for (i = 0;
	     i < sizeof(dsn_template_table) / sizeof(*dsn_template_table); i++)
		if (dsn_template_table[i].kind == kind)
			return &dsn_template_table[i];
	return &dsn_template_table[0];
}

const char *
dsn_subject(enum dsn_kind kind)
{
	return dsn_template_for(kind)->subject;
}

void
dsn_template_expand(const char *text, const char *mail_name,
		    const char *myhostname, bool crlf, VSTR *out)
{
	const char *cp;

	for (cp = text; *cp; cp++) {
		if (strncmp(cp, "$mail_name", 10) == 0) {
			vstr_strcat(out, mail_name);
			cp += 9;
		} else if (strncmp(cp, "$myhostname", 11) == 0) {
			vstr_strcat(out, myhostname);
			cp += 10;
		} else if (*cp == '\n' && crlf) {
			vstr_strcat(out, "\r\n");
		} else {
			vstr_addch(out, *cp);
		}
	}
}

/* Append text with control characters (CR, LF, TAB, NUL...) as spaces. */
static void
dsn_clean_append(VSTR *out, const char *text)
{
	const unsigned char *p;

	if (text == NULL)
		return;
	for (p = (const unsigned char *)text; *p; p++)
		vstr_addch(out, (*p < 0x20 || *p == 0x7f) ? ' ' : *p);
}

/*
 * Append "name: value" CRLF, the value cleaned and folded at spaces so
 * that no line is much longer than DSN_FOLD_AT.  A word longer than a
 * line stays whole (folding may only happen at white space).
 */
static void
dsn_field(VSTR *out, const char *name, const char *value)
{
	VSTR	   *clean = vstr_alloc(128);
	const char *p, *sp;
	size_t	    col, word;

	dsn_clean_append(clean, value);
	vstr_sprintf_append(out, "%s: ", name);
	col = strlen(name) + 2;
	p = VSTR_STR(clean);
	while (*p) {
		sp = strchr(p + 1, ' ');
		word = sp ? (size_t)(sp - p) : strlen(p);
		if (col + word > DSN_FOLD_AT && col > strlen(name) + 2
		    && *p == ' ') {
			vstr_strcat(out, "\r\n\t");
			p++;
			word--;
			col = 8;
		}
		vstr_memcat(out, p, word);
		col += word;
		p += word;
	}
	vstr_strcat(out, "\r\n");
	vstr_free(clean);
}

/* The same with a "type; " prefix (Reporting-MTA: dns; host). */
static void
dsn_typed_field(VSTR *out, const char *name, const char *type,
		const char *value)
{
	VSTR *v = vstr_alloc(128);

	vstr_sprintf(v, "%s; %s", type, value ? value : "");
	dsn_field(out, name, VSTR_STR(v));
	vstr_free(v);
}

static bool
dsn_has_8bit(const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)data[i] & 0x80)
			return true;
	return false;
}

/* Length of the header section including its CRLF lines. */
static size_t
dsn_header_len(const char *content, size_t len)
{
	size_t i;

	if (len >= 2 && content[0] == '\r' && content[1] == '\n')
		return 0;
	for (i = 0; i + 3 < len; i++)
		if (content[i] == '\r' && content[i + 1] == '\n'
		    && content[i + 2] == '\r' && content[i + 3] == '\n')
			return i + 2;
	return len;
}

static void
dsn_human_part(VSTR *out, const struct dsn_request *req)
{
	size_t i;

	dsn_template_expand(dsn_template_for(req->kind)->text, req->mail_name,
			    req->myhostname, true, out);
	for (i = 0; i < req->nrcpt; i++) {
		const struct dsn_rcpt *r = &req->rcpts[i];

		vstr_strcat(out, "\r\n<");
		dsn_clean_append(out, r->addr);
		vstr_strcat(out, ">");
		if (r->orig && *r->orig && strcmp(r->orig, r->addr) != 0) {
			vstr_strcat(out, " (expanded from <");
			dsn_clean_append(out, r->orig);
			vstr_strcat(out, ">)");
		}
		vstr_strcat(out, ": ");
		dsn_clean_append(out, r->reply);
		vstr_strcat(out, "\r\n");
	}
}

/* ORCPT "type;address" -> "type; address" for Original-Recipient. */
static void
dsn_original_recipient(VSTR *out, const struct dsn_rcpt *r)
{
	const char *semi;
	VSTR	   *type;

	if (r->orcpt && (semi = strchr(r->orcpt, ';')) != NULL
	    && semi > r->orcpt) {
		type = vstr_alloc(16);
		vstr_memcpy(type, r->orcpt, (size_t)(semi - r->orcpt));
		semi++;
		while (*semi == ' ')
			semi++;
		dsn_typed_field(out, "Original-Recipient", VSTR_STR(type),
				semi);
		vstr_free(type);
	} else if (r->orig && *r->orig) {
		dsn_typed_field(out, "Original-Recipient", "rfc822", r->orig);
	}
}

static void
dsn_status_part(VSTR *out, const struct dsn_request *req)
{
	VSTR  *date = vstr_alloc(64);
	size_t i;

	dsn_typed_field(out, "Reporting-MTA", "dns", req->myhostname);
	dsn_field(out, "X-Postel-Queue-ID", req->queue_id);
	dsn_typed_field(out, "X-Postel-Sender", "rfc822", req->sender);
	dsn_format_date(date, req->arrival);
	dsn_field(out, "Arrival-Date", VSTR_STR(date));
	if (req->envid && *req->envid)
		dsn_field(out, "Original-Envelope-Id", req->envid);
	for (i = 0; i < req->nrcpt; i++) {
		const struct dsn_rcpt *r = &req->rcpts[i];

		vstr_strcat(out, "\r\n");
		dsn_typed_field(out, "Final-Recipient", "rfc822", r->addr);
		dsn_original_recipient(out, r);
		dsn_field(out, "Action", r->action);
		dsn_field(out, "Status", r->status);
		if (r->remote_mta && *r->remote_mta)
			dsn_typed_field(out, "Remote-MTA", "dns",
					r->remote_mta);
		if (r->reply && *r->reply)
			dsn_typed_field(out, "Diagnostic-Code",
					r->diag_type && *r->diag_type
					    ? r->diag_type
					    : "x-unix",
					r->reply);
		if (r->last_attempt > 0) {
			vstr_reset(date);
			dsn_format_date(date, r->last_attempt);
			dsn_field(out, "Last-Attempt-Date", VSTR_STR(date));
		}
		if (req->kind == DSN_KIND_DELAYED
		    && req->will_retry_until > 0) {
			vstr_reset(date);
			dsn_format_date(date, req->will_retry_until);
			dsn_field(out, "Will-Retry-Until", VSTR_STR(date));
		}
	}
	vstr_free(date);
}

/* Whether the whole original message goes back (else its header). */
static bool
dsn_return_full(const struct dsn_request *req)
{
	if (req->postmaster_copy || req->kind != DSN_KIND_FAILED
	    || req->ret == ADDR_RET_HDRS)
		return false;
	return req->content_len <= req->size_limit;
}

void
dsn_build(VSTR *out, const struct dsn_request *req)
{
	VSTR			  *human = vstr_alloc(1024);
	VSTR			  *status = vstr_alloc(1024);
	VSTR			  *hdr = vstr_alloc(256);
	const char		  *part = NULL;
	size_t			   part_len = 0;
	bool			   full = false, part8, human8;
	const char		  *b = req->boundary;
	const struct dsn_template *tmpl;
	size_t			   from_len;

	dsn_human_part(human, req);
	dsn_status_part(status, req);
	if (req->content != NULL) {
		full = dsn_return_full(req);
		part = req->content;
		part_len = full
			       ? req->content_len
			       : dsn_header_len(req->content, req->content_len);
		if (part_len > req->size_limit) {
			/* Cut at a line end so the part stays well formed. */
			part_len = req->size_limit;
			while (part_len > 0 && part[part_len - 1] != '\n')
				part_len--;
		}
	}
	part8 = dsn_has_8bit(part ? part : "", part_len);
	human8 = dsn_has_8bit(VSTR_STR(human), VSTR_LEN(human))
		 || dsn_has_8bit(VSTR_STR(status), VSTR_LEN(status));

	/* Header of the notification itself. */
	tmpl = dsn_template_for(req->kind);
	/* The template's local part, qualified with myhostname. */
	from_len = strcspn(tmpl->from, " ");
	vstr_memcpy(hdr, tmpl->from, from_len);
	vstr_sprintf_append(hdr, "@%s%s", req->myhostname,
			    tmpl->from + from_len);
	dsn_field(out, "From", VSTR_STR(hdr));
	dsn_field(out, "To", req->to);
	dsn_field(out, "Subject",
		  req->postmaster_copy ? tmpl->postmaster_subject
				       : tmpl->subject);
	vstr_reset(hdr);
	dsn_format_date(hdr, req->now);
	dsn_field(out, "Date", VSTR_STR(hdr));
	dsn_field(out, "Auto-Submitted", "auto-replied");
	dsn_field(out, "MIME-Version", "1.0");
	vstr_sprintf_append(out,
			    "Content-Type: multipart/report; "
			    "report-type=delivery-status;\r\n"
			    "\tboundary=\"%s\"\r\n",
			    b);
	vstr_sprintf_append(out, "Content-Transfer-Encoding: %s\r\n",
			    part8 || human8 ? "8bit" : "7bit");
	vstr_strcat(out, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	vstr_sprintf_append(out,
			    "--%s\r\n"
			    "Content-Description: Notification\r\n"
			    "Content-Type: text/plain; charset=%s\r\n\r\n",
			    b, human8 ? "utf-8" : "us-ascii");
	vstr_memcat(out, VSTR_STR(human), VSTR_LEN(human));

	vstr_sprintf_append(out,
			    "\r\n--%s\r\n"
			    "Content-Description: Delivery report\r\n"
			    "Content-Type: message/delivery-status\r\n\r\n",
			    b);
	vstr_memcat(out, VSTR_STR(status), VSTR_LEN(status));

	if (part != NULL) {
		vstr_sprintf_append(out,
				    "\r\n--%s\r\n"
				    "Content-Description: %s\r\n"
				    "Content-Type: %s\r\n",
				    b,
				    full ? "Undelivered Message"
				    : req->kind == DSN_KIND_FAILED
					? "Undelivered Message Headers"
					: "Message Headers",
				    full ? "message/rfc822"
					 : "text/rfc822-headers");
		if (part8)
			vstr_strcat(out, "Content-Transfer-Encoding: 8bit\r\n");
		vstr_strcat(out, "\r\n");
		vstr_memcat(out, part, part_len);
		if (part_len > 0 && part[part_len - 1] != '\n')
			vstr_strcat(out, "\r\n");
	}
	vstr_sprintf_append(out, "\r\n--%s--\r\n", b);
	vstr_free(human);
	vstr_free(status);
	vstr_free(hdr);
}
