/*
 * smtp_log - the Postfix-format delivery line, one per recipient:
 *
 *   QUEUEID: to=<x>, orig_to=<y>, relay=host[ip]:port, conn_use=2,
 *   delay=1.2, delays=0.1/0.01/0.5/0.6, dsn=2.0.0, status=sent (reply)
 *
 * delays are a (before qmgr), b (in qmgr), c (connection set-up: DNS,
 * connect, greeting, EHLO) and d (transmission), as in Postfix, so
 * pflogsumm and operators' greps keep working.
 *
 * Errors: none (logging is best effort).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "smtp/smtp.h"
#include "util/metrics.h"
#include "util/msg.h"

void
smtp_log_delay(VSTR *out, double secs)
{
	char   buf[64];
	size_t len;

	if (secs < 0.01) {
		vstr_strcat(out, "0");
		return;
	}
	if (secs < 1)
		snprintf(buf, sizeof(buf), "%.2f", secs);
	else if (secs < 10)
		snprintf(buf, sizeof(buf), "%.1f", secs);
	else
		snprintf(buf, sizeof(buf), "%.0f", secs);
	/* "0.10" -> "0.1", "2.0" -> "2" */
	if (strchr(buf, '.')) {
		len = strlen(buf);
		while (len > 0 && buf[len - 1] == '0')
			buf[--len] = 0;
		if (len > 0 && buf[len - 1] == '.')
			buf[--len] = 0;
	}
	vstr_strcat(out, buf);
}

void
smtp_log_delivery(const SMTP_DELIVERY *d, size_t i, double t_end)
{
	const struct deliver_request *req = d->req;
	const struct deliver_rcpt    *rcpt = &req->rcpts[i];
	const struct smtp_rcpt	     *res = &d->rcpt[i];
	double			      arrival = (double)req->arrival_sec
			 + (double)req->arrival_usec / 1e6;
	double qmgr = req->qmgr_time > 0 ? (double)req->qmgr_time : d->t_start;
	double conn = d->t_conn > 0 ? d->t_conn : t_end;
	VSTR  *line = vstr_alloc(256);

	if (qmgr < arrival)
		qmgr = arrival;
	if (qmgr > d->t_start)
		qmgr = d->t_start;
	vstr_sprintf(line, "%s: to=<%s>, ", req->queue_id, rcpt->addr);
	if (rcpt->orig && *rcpt->orig && strcmp(rcpt->orig, rcpt->addr) != 0)
		vstr_sprintf_append(line, "orig_to=<%s>, ", rcpt->orig);
	vstr_sprintf_append(line, "relay=%s, ",
			    VSTR_LEN(res->relay) ? VSTR_STR(res->relay)
						 : "none");
	if (d->conn_use > 1 && VSTR_LEN(res->relay))
		vstr_sprintf_append(line, "conn_use=%d, ", d->conn_use);
	vstr_strcat(line, "delay=");
	smtp_log_delay(line, t_end - arrival);
	vstr_strcat(line, ", delays=");
	smtp_log_delay(line, qmgr - arrival);
	vstr_strcat(line, "/");
	smtp_log_delay(line, d->t_start - qmgr);
	vstr_strcat(line, "/");
	smtp_log_delay(line, conn - d->t_start);
	vstr_strcat(line, "/");
	smtp_log_delay(line, t_end - conn);
	vstr_sprintf_append(line, ", dsn=%s, status=%s (%s)", res->dsn,
			    deliver_action_name(res->action),
			    VSTR_STR(res->log));
	msg_info("%s", VSTR_STR(line));
	vstr_free(line);
	metrics_delivery(req->transport, res->action, t_end - arrival);
}
