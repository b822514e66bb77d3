/*
 * dsn - build an RFC 3464 delivery status notification.
 *
 * dsn_build() turns a description of one notification (which message,
 * which recipients, what happened to each) into a complete message in
 * wire form (CRLF line ends), ready to hand to util/cleanup_client:
 *
 *	header (From: MAILER-DAEMON, To:, Subject:, Date:,
 *	    Auto-Submitted: auto-replied, MIME-Version,
 *	    Content-Type: multipart/report; report-type=delivery-status)
 *	part 1	text/plain, a human-readable explanation per recipient
 *	part 2	message/delivery-status: Reporting-MTA, X-Postel-Queue-ID,
 *		X-Postel-Sender, Arrival-Date, Original-Envelope-Id, then per
 *		recipient Final-Recipient, Original-Recipient, Action, Status,
 *		Remote-MTA, Diagnostic-Code, Last-Attempt-Date,
 *		Will-Retry-Until
 *	part 3	message/rfc822 (the whole original, when it fits in
 *		size_limit and RET is not HDRS, failures only) or
 *		text/rfc822-headers (its header section)
 *
 * It is a pure function of its input (the caller supplies the clock and
 * the boundary), so golden files can test it without daemons.  Text that
 * came from peers (diagnostics, addresses) is stripped of control
 * characters so it can never break the header or the MIME structure.
 *
 * Errors: none (allocation failures die).
 *
 * Ownership: the request and its strings stay the caller's; the result is
 * appended to the caller's VSTR.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DSN_H
#define UTIL_DSN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/vstr.h"

enum dsn_kind {
	DSN_KIND_FAILED,  /* non-delivery notification */
	DSN_KIND_DELAYED, /* delay warning */
	DSN_KIND_SUCCESS, /* NOTIFY=SUCCESS report */
};

struct dsn_rcpt {
	const char *addr;	  /* final recipient */
	const char *orig;	  /* original recipient or NULL */
	const char *orcpt;	  /* DSN ORCPT "type;address" or NULL */
	const char *action;	  /* "failed" "delayed" "delivered" ... */
	const char *status;	  /* "5.1.1" */
	const char *remote_mta;	  /* host name or NULL */
	const char *diag_type;	  /* "smtp" or NULL (then "x-unix") */
	const char *reply;	  /* diagnostic text */
	long long   last_attempt; /* seconds, 0 = omit */
};

struct dsn_request {
	enum dsn_kind kind;
	const char   *myhostname;
	const char   *mail_name;	/* "Postel" */
	const char   *queue_id;		/* of the original message */
	const char   *sender;		/* its envelope sender ("" = <>) */
	const char   *to;		/* who gets this notification */
	const char   *envid;		/* DSN ENVID or NULL */
	const char   *boundary;		/* MIME boundary, no quotes */
	long long     arrival;		/* original arrival, seconds */
	long long     now;		/* Date: of the notification */
	long long     will_retry_until; /* delayed: seconds, 0 = omit */
	int	      ret;		/* ADDR_RET_* */
	bool	      requiretls;	/* the notice is sent with REQUIRETLS */
	bool	      postmaster_copy;	/* for the postmaster: headers only */
	const char   *content;		/* original message, CRLF, or NULL */
	size_t	      content_len;
	size_t	      size_limit; /* bounce_size_limit */
	const struct dsn_rcpt *rcpts;
	size_t		       nrcpt;
};

/* Append the complete notification to out. */
void dsn_build(VSTR *out, const struct dsn_request *req);

/* Append an RFC 5322 date for t in UTC ("Mon, 23 Nov 2026 10:16:51 +0000"). */
void dsn_format_date(VSTR *out, long long t);

/* The Subject: text for a kind. */
const char *dsn_subject(enum dsn_kind kind);

/*
 * The fixed texts of the notifications, in the shape of Postfix's bounce
 * templates (postelconf -t prints them).  `from` is qualified with
 * @myhostname after its first word; `text` has LF line ends and the
 * variables $mail_name and $myhostname.  The table is static.
 */
struct dsn_template {
	const char   *name; /* "failure_template" ... */
	enum dsn_kind kind;
	const char   *charset;
	const char   *from;
	const char   *subject;
	const char   *postmaster_subject;
	const char   *text;
};

const struct dsn_template *dsn_templates(size_t *count);
/* Append text with the variables replaced, LF as CRLF when crlf. */
void dsn_template_expand(const char *text, const char *mail_name,
			 const char *myhostname, bool crlf, VSTR *out);

#endif
