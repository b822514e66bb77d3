/*
 * smtp_rcpt - per-recipient results of the delivery in progress.
 *
 * A result is either kept pending (a 4xx reply, a dead server: the next
 * server may still do better, and the last reason is what the recipient
 * is deferred with in the end) or final (2xx sent, 5xx bounced).  A final
 * result is never overwritten.  The dsn is forced into the class the
 * action demands (deliver_proto checks it), keeping the detail.
 *
 * Errors: none.  Ownership: the strings live in the SMTP_DELIVERY.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "smtp/smtp.h"

double
smtp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
smtp_rcpt_vset(SMTP_DELIVERY *d, size_t i, bool final,
	       enum deliver_action action, const char *dsn,
	       const SMTP_SESSION *s, const SMTP_REPLY *r, const char *fmt,
	       va_list ap)
{
	struct smtp_rcpt *rc = &d->rcpt[i];

	if (rc->final)
		return;
	rc->action = action;
	snprintf(rc->dsn, sizeof(rc->dsn), "%s", dsn);
	if (!deliver_dsn_valid(rc->dsn)
	    || deliver_dsn_class(rc->dsn)
		   != (action == DELIVER_SENT	   ? 2
		       : action == DELIVER_BOUNCED ? 5
						   : 4)) {
		/* Keep the detail, fix the class the action demands. */
		char class = action == DELIVER_SENT	 ? '2'
			     : action == DELIVER_BOUNCED ? '5'
							 : '4';

		if (deliver_dsn_valid(rc->dsn))
			rc->dsn[0] = class;
		else
			snprintf(rc->dsn, sizeof(rc->dsn), "%c.0.0", class);
	}
	vstr_reset(rc->log);
	(void)vstr_vsprintf_append(rc->log, fmt, ap);
	if (r) {
		vstr_strcpy(rc->reply, VSTR_STR(r->text));
		rc->diag_smtp = true;
	} else {
		vstr_strcpy(rc->reply, VSTR_STR(rc->log));
		rc->diag_smtp = false;
	}
	vstr_strcpy(rc->relay, s ? VSTR_STR(s->relay) : "");
	vstr_strcpy(rc->remote_mta, s && r ? VSTR_STR(s->host) : "");
	if (final) {
		rc->final = true;
		d->npending--;
	}
}

void
smtp_rcpt_result(SMTP_DELIVERY *d, size_t i, bool final,
		 enum deliver_action action, const char *dsn,
		 const SMTP_SESSION *s, const SMTP_REPLY *r, const char *fmt,
		 ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_rcpt_vset(d, i, final, action, dsn, s, r, fmt, ap);
	va_end(ap);
}

void
smtp_rcpt_all(SMTP_DELIVERY *d, bool final, enum deliver_action action,
	      const char *dsn, const SMTP_SESSION *s, const SMTP_REPLY *r,
	      const char *fmt, ...)
{
	va_list ap;

	for (size_t i = 0; i < d->req->nrcpt; i++) {
		va_start(ap, fmt);
		smtp_rcpt_vset(d, i, final, action, dsn, s, r, fmt, ap);
		va_end(ap);
	}
}
