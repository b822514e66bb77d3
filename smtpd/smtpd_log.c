/*
 * smtpd_log - the SMTP server's log lines, in Postfix's format so that
 * pflogsumm, fail2ban and operators' greps keep working:
 *
 *   NOQUEUE: reject: RCPT from name[addr]: 554 5.7.1 <x>: Relay access
 *	denied; from=<a> to=<b> proto=ESMTP helo=<h>
 *   lost connection after DATA from name[addr]
 *   timeout after RCPT from name[addr]
 *   disconnect from name[addr] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
 *
 * Errors: none (logging only).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "smtpd/smtpd.h"
#include "util/msg.h"
#include "util/vstr.h"

void
smtpd_log_reject(SMTPD_STATE *st, const char *where, const char *reply,
		 const char *recipient)
{
	VSTR *line = vstr_alloc(256);
	bool in_mail = st->stage >= SMTPD_ST_MAIL && st->stage <= SMTPD_ST_BDAT;

	vstr_sprintf(line, "NOQUEUE: reject: %s from %s[%s]: %s;", where,
		     st->peer.name, st->peer.addr, reply);
	if (in_mail || VSTR_LEN(st->sender) > 0 || strcmp(where, "MAIL") == 0)
		vstr_sprintf_append(line, " from=<%s>", VSTR_STR(st->sender));
	if (recipient)
		vstr_sprintf_append(line, " to=<%s>", recipient);
	vstr_sprintf_append(line, " proto=%s", st->protocol);
	if (VSTR_LEN(st->helo))
		vstr_sprintf_append(line, " helo=<%s>", VSTR_STR(st->helo));
	msg_info("%s", VSTR_STR(line));
	vstr_free(line);
}

/* The client left or went silent: say so (and tell it, if silent). */
void
smtpd_log_io_error(SMTPD_STATE *st)
{
	if (st->timed_out) {
		msg_info("timeout after %s from %s[%s]", st->where,
			 st->peer.name, st->peer.addr);
		/* It may still be listening. */
		st->io_error = false;
		smtpd_reply(st, "421 4.4.2 %s Error: timeout exceeded",
			    st->par->myhostname);
		(void)smtpd_io_flush(st);
		st->io_error = true;
	} else {
		msg_info("lost connection after %s from %s[%s]", st->where,
			 st->peer.name, st->peer.addr);
	}
}

void
smtpd_log_disconnect(SMTPD_STATE *st)
{
	static const char *const names[SMTPD_V_COUNT] = {
		"helo", "ehlo",	    "mail",	"rcpt",	   "data", "bdat",
		"rset", "noop",	    "vrfy",	"etrn",	   "help", "quit",
		"auth", "starttls", "xforward", "unknown",
	};
	VSTR *line = vstr_alloc(256);
	int   ok = 0;
	int   all = 0;

	vstr_sprintf(line, "disconnect from %s[%s]", st->peer.name,
		     st->peer.addr);
	for (int i = 0; i < SMTPD_V_COUNT; i++) {
		if (st->count_all[i] == 0)
			continue;
		ok += st->count_ok[i];
		all += st->count_all[i];
		if (st->count_ok[i] == st->count_all[i])
			vstr_sprintf_append(line, " %s=%d", names[i],
					    st->count_ok[i]);
		else
			vstr_sprintf_append(line, " %s=%d/%d", names[i],
					    st->count_ok[i], st->count_all[i]);
	}
	if (ok == all)
		vstr_sprintf_append(line, " commands=%d", ok);
	else
		vstr_sprintf_append(line, " commands=%d/%d", ok, all);
	msg_info("%s", VSTR_STR(line));
	vstr_free(line);
}
