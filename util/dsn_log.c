/*
 * dsn_log - the Postfix-format delivery log line.  See util/dsn_log.h.
 *
 * Errors: none.  Peer text in the reply is logged with control
 * characters replaced, so one delivery is always one log line.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "util/dsn_log.h"
#include "util/msg.h"

double
dsn_log_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

void
dsn_log_delay(VSTR *out, double secs)
{
	char   buf[64];
	size_t len;

	if (secs < 0.01) {
		vstr_addch(out, '0');
		return;
	}
	if (secs >= 10) {
		vstr_sprintf_append(out, "%.0f", secs);
		return;
	}
	snprintf(buf, sizeof(buf), "%.2f", secs);
	/* "1.20" -> "1.2", "2.00" -> "2" */
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '0')
		buf[--len] = 0;
	if (len > 0 && buf[len - 1] == '.')
		buf[--len] = 0;
	vstr_strcat(out, buf);
}

static void
dsn_log_clean(VSTR *out, const char *text)
{
	const unsigned char *p;

	for (p = (const unsigned char *)(text ? text : ""); *p; p++)
		vstr_addch(out, *p < 0x20 || *p == 0x7f ? ' ' : *p);
}

void
dsn_log_format(VSTR *out, const struct deliver_rcpt *rcpt,
	       const struct deliver_status *st, const struct dsn_log_times *t)
{
	vstr_reset(out);
	vstr_strcat(out, "to=<");
	dsn_log_clean(out, rcpt->addr);
	vstr_strcat(out, ">, ");
	if (rcpt->orig && *rcpt->orig && strcmp(rcpt->orig, rcpt->addr)) {
		vstr_strcat(out, "orig_to=<");
		dsn_log_clean(out, rcpt->orig);
		vstr_strcat(out, ">, ");
	}
	vstr_strcat(out, "relay=");
	dsn_log_clean(out, st->relay ? st->relay : "none");
	vstr_strcat(out, ", delay=");
	dsn_log_delay(out, t->done - t->arrival);
	vstr_strcat(out, ", delays=");
	dsn_log_delay(out, t->qmgr - t->arrival);
	vstr_addch(out, '/');
	dsn_log_delay(out, t->start - t->qmgr);
	vstr_addch(out, '/');
	dsn_log_delay(out, t->conn - t->start);
	vstr_addch(out, '/');
	dsn_log_delay(out, t->done - t->conn);
	vstr_sprintf_append(out, ", dsn=%s, status=%s (", st->dsn,
			    deliver_action_name(st->action));
	dsn_log_clean(out, st->reply);
	vstr_addch(out, ')');
}

void
dsn_log_delivery(const char *queue_id, const struct deliver_rcpt *rcpt,
		 const struct deliver_status *st, const struct dsn_log_times *t)
{
	VSTR *line = vstr_alloc(256);

	dsn_log_format(line, rcpt, st, t);
	msg_info("%s: %s", queue_id, VSTR_STR(line));
	vstr_free(line);
}
