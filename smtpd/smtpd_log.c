/*
 * smtpd_log - the SMTP server's log lines, in Postfix's format so that
 * pflogsumm, fail2ban and operators' greps keep working:
 *
 *   NOQUEUE: reject: RCPT from name[addr]: 554 5.7.1 <x>: Relay access
 *	denied; from=<a> to=<b> proto=ESMTP helo=<h>
 *   lost connection after DATA (1234 bytes) from name[addr]
 *   timeout after RCPT from name[addr]
 *   too many errors after RCPT from name[addr]
 *   disconnect from name[addr] ehlo=1 auth=0/1 mail=1 rcpt=0/1 quit=1
 *	commands=4/6
 *
 * As Postfix, a client that leaves without QUIT right after a message was
 * accepted is not logged as a lost connection, and the disconnect line
 * lists the commands in Postfix's order (fail2ban's postfix filter in
 * aggressive mode looks for "auth=0/N" after plain counts only).
 *
 * Errors: none (logging only).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "smtpd/smtpd.h"
#include "util/metrics.h"
#include "util/msg.h"
#include "util/vstr.h"

void
smtpd_log_reject(SMTPD_STATE *st, const char *where, const char *reply,
		 const char *recipient)
{
	VSTR *line = vstr_alloc(256);
	bool in_mail = st->stage >= SMTPD_ST_MAIL && st->stage <= SMTPD_ST_BDAT;

	metrics_smtpd_reject(where, reply);
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

/* "DATA (N bytes)" during the content, else the last command. */
static void
smtpd_log_where(const SMTPD_STATE *st, VSTR *out)
{
	if (strcmp(st->where, SMTPD_AFTER_DATA) == 0)
		vstr_sprintf(out, "DATA (%lld bytes)", st->content_size);
	else
		vstr_strcpy(out, st->where);
}

/* The client left or went silent: say so (and tell it, if silent). */
void
smtpd_log_io_error(SMTPD_STATE *st)
{
	VSTR *where = vstr_alloc(32);

	smtpd_log_where(st, where);
	if (st->timed_out) {
		msg_info("timeout after %s from %s[%s]", VSTR_STR(where),
			 st->peer.name, st->peer.addr);
		/* It may still be listening. */
		st->io_error = false;
		smtpd_reply(st, "421 4.4.2 %s Error: timeout exceeded",
			    st->par->myhostname);
		(void)smtpd_io_flush(st);
		st->io_error = true;
	} else if (strcmp(st->where, "END-OF-MESSAGE") != 0) {
		msg_info("lost connection after %s from %s[%s]",
			 VSTR_STR(where), st->peer.name, st->peer.addr);
	}
	vstr_free(where);
}

void
smtpd_log_disconnect(SMTPD_STATE *st)
{
	/* Postfix's command table order; HELP is Postel's own. */
	static const struct {
		enum smtpd_verb_id id;
		const char	  *name;
	} order[] = {
		{ SMTPD_V_HELO, "helo" },
		{ SMTPD_V_EHLO, "ehlo" },
		{ SMTPD_V_XFORWARD, "xforward" },
		{ SMTPD_V_STARTTLS, "starttls" },
		{ SMTPD_V_AUTH, "auth" },
		{ SMTPD_V_MAIL, "mail" },
		{ SMTPD_V_RCPT, "rcpt" },
		{ SMTPD_V_DATA, "data" },
		{ SMTPD_V_BDAT, "bdat" },
		{ SMTPD_V_RSET, "rset" },
		{ SMTPD_V_NOOP, "noop" },
		{ SMTPD_V_VRFY, "vrfy" },
		{ SMTPD_V_ETRN, "etrn" },
		{ SMTPD_V_HELP, "help" },
		{ SMTPD_V_QUIT, "quit" },
		{ SMTPD_V_UNKNOWN, "unknown" },
	};
	_Static_assert(sizeof(order) / sizeof(order[0]) == SMTPD_V_COUNT,
		       "every verb has its place in the disconnect line");
	VSTR *line = vstr_alloc(256);
	int   ok = 0;
	int   all = 0;

	vstr_sprintf(line, "disconnect from %s[%s]", st->peer.name,
		     st->peer.addr);
	for (size_t n = 0; n < SMTPD_V_COUNT; n++) {
		int i = (int)order[n].id;

		if (st->count_all[i] == 0)
			continue;
		ok += st->count_ok[i];
		all += st->count_all[i];
		if (st->count_ok[i] == st->count_all[i])
			vstr_sprintf_append(line, " %s=%d", order[n].name,
					    st->count_ok[i]);
		else
			vstr_sprintf_append(line, " %s=%d/%d", order[n].name,
					    st->count_ok[i], st->count_all[i]);
	}
	if (ok == all)
		vstr_sprintf_append(line, " commands=%d", ok);
	else
		vstr_sprintf_append(line, " commands=%d/%d", ok, all);
	msg_info("%s", VSTR_STR(line));
	vstr_free(line);
}
