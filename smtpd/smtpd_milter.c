/*
 * smtpd_milter - smtpd_milters: the milter conversation of one SMTP
 * session.
 *
 * Each session opens its own connection to every milter of
 * smtpd_milters (util/milter.h) and walks it through the commands as
 * they happen: connect when the client arrives, HELO/EHLO, MAIL FROM
 * (with its ESMTP parameters), each RCPT TO, DATA (or the first BDAT)
 * and unknown commands.  A milter's verdict becomes the reply to that
 * command: reject and tempfail with the milter's own (possibly
 * multi-line) reply or a standard one, discard drops the message,
 * accept leaves the milter out of the rest of the message (or session).
 * A reject at RCPT refuses that recipient only.  The content stages
 * (header fields to end of message) run in cleanup, which gets the open
 * connections with the envelope (util/cleanup_client.h); smtpd keeps its
 * copies, ends each message with SMFIC_ABORT (RSET, HELO, the next MAIL,
 * the end of the session) and closes them with SMFIC_QUIT at the end.
 *
 * The macros are Postfix's: j, _, v, {daemon_name}, the client's name,
 * address, port and reverse name, the SASL login, the TLS protocol and
 * cipher, the envelope addresses of the stage; i (the queue ID) is known
 * only to cleanup, which adds it for the content stages.
 *
 * Errors: a milter that fails gets its default_action through util/
 * milter, which logs it naming the milter; nothing here dies but the
 * allocators.  Ownership: the MILTER objects belong to the session and
 * are released by smtpd_milter_free.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpd/smtpd.h"
#include "util/milter.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/receive_override.h"
#include "util/vstr.h"

/* At most this many ESMTP parameters of MAIL/RCPT go to a milter. */
#define SMTPD_MILTER_ARGS_MAX 32

/* Every macro whose value smtpd knows, for cleanup's content stages. */
static const char *const smtpd_milter_known[] = {
	"j",
	"_",
	"v",
	"{daemon_name}",
	"{client_addr}",
	"{client_name}",
	"{client_port}",
	"{client_ptr}",
	"{auth_type}",
	"{auth_authen}",
	"{auth_author}",
	"{tls_version}",
	"{cipher}",
	"{cipher_bits}",
	"{cert_subject}",
	"{cert_issuer}",
	"{mail_mailer}",
	"{mail_host}",
	"{mail_addr}",
};

/*
 * smtpd_milters with the milter_* defaults; once per process.  A list
 * that does not parse is fatal, as any bad parameter value.  With
 * receive_override_options containing no_milters (the usual
 * re-injection listener behind a content filter) the list is ignored.
 * Call after par->receive_override is set.
 */
void
smtpd_milter_params_load(struct smtpd_params *par, const CFG *cfg)
{
	static MILTER_CONF *list;
	static size_t	    count;
	VSTR		   *why;
	const char	   *text;

	list = milter_conf_free_list(list, count);
	count = 0;
	par->milters = NULL;
	par->nmilters = 0;
	par->milter_daemon_name = cfg_get_str(cfg, "milter_macro_daemon_name");
	par->milter_macro_v = cfg_get_str(cfg, "milter_macro_v");
	text = cfg_get_str(cfg, "smtpd_milters");
	if (text == NULL || text[strspn(text, " \t\r\n,")] == 0
	    || (par->receive_override & RECEIVE_NO_MILTERS))
		return;
	why = vstr_alloc(64);
	if (milter_conf_load(cfg, "smtpd_milters", &list, &count, why) < 0)
		msg_fatal_status(78, "%s", VSTR_STR(why));
	vstr_free(why);
	par->milters = list;
	par->nmilters = count;
}

/* "TLSv1.3 with cipher NAME (256/256 bits)": one part of it. */
static const char *
smtpd_milter_tls_part(SMTPD_STATE *st, const char *name)
{
	const char *info, *p, *end;

	if (!st->tls || st->tls_info == NULL)
		return NULL;
	info = VSTR_STR(st->tls_info);
	if (strcmp(name, "{tls_version}") == 0) {
		end = info + strcspn(info, " ");
		vstr_memcpy(st->milter_value, info, (size_t)(end - info));
	} else if (strcmp(name, "{cipher}") == 0) {
		if ((p = strstr(info, "with cipher ")) == NULL)
			return NULL;
		p += strlen("with cipher ");
		end = p + strcspn(p, " ");
		vstr_memcpy(st->milter_value, p, (size_t)(end - p));
	} else {
		if ((p = strchr(info, '(')) == NULL)
			return NULL;
		p++;
		end = p + strspn(p, "0123456789");
		vstr_memcpy(st->milter_value, p, (size_t)(end - p));
	}
	return VSTR_STR(st->milter_value);
}

/* The domain part of an address, or "" */
static const char *
smtpd_milter_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

/* util/milter's macro lookup: NULL for a macro without a value. */
static const char *
smtpd_milter_macro(void *ctx, const char *name)
{
	SMTPD_STATE *st = ctx;
	const char  *user = smtpd_sasl_user(st);
	bool	     in_mail = st->milter_in_mail;

	if (strcmp(name, "j") == 0)
		return st->par->myhostname;
	if (strcmp(name, "v") == 0)
		return st->par->milter_macro_v;
	if (strcmp(name, "{daemon_name}") == 0)
		return st->par->milter_daemon_name;
	if (strcmp(name, "_") == 0) {
		vstr_sprintf(st->milter_value, "%s [%s]", st->peer.name,
			     st->peer.addr);
		return VSTR_STR(st->milter_value);
	}
	if (strcmp(name, "{client_addr}") == 0)
		return st->peer.addr;
	if (strcmp(name, "{client_name}") == 0
	    || strcmp(name, "{client_ptr}") == 0)
		return st->peer.name;
	if (strcmp(name, "{client_port}") == 0)
		return st->peer.port;
	if (strcmp(name, "{auth_type}") == 0)
		return user ? VSTR_STR(st->sasl_method) : NULL;
	if (strcmp(name, "{auth_authen}") == 0)
		return user;
	if (strcmp(name, "{auth_author}") == 0)
		return user && in_mail && st->mail->auth_given
			   ? VSTR_STR(st->mail->auth)
			   : NULL;
	if (strcmp(name, "{tls_version}") == 0 || strcmp(name, "{cipher}") == 0
	    || strcmp(name, "{cipher_bits}") == 0)
		return smtpd_milter_tls_part(st, name);
	/* As Postfix: only from a certificate whose chain verified. */
	if (strcmp(name, "{cert_subject}") == 0)
		return st->tls && st->tls_cert.trusted
			   ? VSTR_STR(st->tls_cert.subject)
			   : NULL;
	if (strcmp(name, "{cert_issuer}") == 0)
		return st->tls && st->tls_cert.trusted
			   ? VSTR_STR(st->tls_cert.issuer)
			   : NULL;
	if (strcmp(name, "{mail_addr}") == 0)
		return in_mail ? VSTR_STR(st->sender) : NULL;
	if (strcmp(name, "{mail_host}") == 0)
		return in_mail ? smtpd_milter_domain(VSTR_STR(st->sender))
			       : NULL;
	if (strcmp(name, "{mail_mailer}") == 0)
		return in_mail ? "smtp" : NULL;
	if (st->milter_rcpt != NULL) {
		if (strcmp(name, "{rcpt_addr}") == 0)
			return st->milter_rcpt;
		if (strcmp(name, "{rcpt_host}") == 0)
			return smtpd_milter_domain(st->milter_rcpt);
		/* Postfix: "error" for a recipient smtpd refused */
		if (strcmp(name, "{rcpt_mailer}") == 0)
			return st->milter_rcpt_rejected ? "error" : "smtp";
	}
	return NULL;
}

/*
 * A milter's reject/tempfail reply as our reply; multi-line replies keep
 * their lines (only the last one gets smtpd_reject_footer).  The text
 * comes from util/milter, which checked its form; a missing text gets
 * Postfix's standard one.
 */
static void
smtpd_milter_reply(SMTPD_STATE *st, enum milter_verdict v, const char *text,
		   VSTR *out)
{
	if (text == NULL || *text == 0)
		text = v == MILTER_REJECT ? "550 5.7.1 Command rejected"
					  : "451 4.7.1 Service unavailable - "
					    "try again later";
	vstr_strcpy(out, text);
	smtpd_reply_lines(st, text, strlen(text));
}

/* "milter-reject: WHERE from name[addr]: reply; from=<> to=<> ..." */
static void
smtpd_milter_log(SMTPD_STATE *st, const char *what, const char *where,
		 const char *reply, const char *recipient)
{
	VSTR *line = vstr_alloc(256);

	vstr_sprintf(line, "NOQUEUE: %s: %s from %s[%s]: %s;", what, where,
		     st->peer.name, st->peer.addr, reply);
	if (st->milter_in_mail)
		vstr_sprintf_append(line, " from=<%s>", VSTR_STR(st->sender));
	if (recipient)
		vstr_sprintf_append(line, " to=<%s>", recipient);
	vstr_sprintf_append(line, " proto=%s", st->protocol);
	if (VSTR_LEN(st->helo))
		vstr_sprintf_append(line, " helo=<%s>", VSTR_STR(st->helo));
	msg_info("%s", VSTR_STR(line));
	vstr_free(line);
}

/*
 * One stage for every milter in order.  `call` runs the stage on one
 * milter.  The first reject/tempfail ends the walk and is the reply
 * (returns -1; text in st->milter_text, reply queued unless quiet);
 * discard marks the message.  0: go on.
 */
typedef enum milter_verdict (*smtpd_milter_call)(SMTPD_STATE *st, MILTER *m,
						 const void *arg);

static int
smtpd_milter_walk(SMTPD_STATE *st, const char *where, smtpd_milter_call call,
		  const void *arg, const char *recipient, bool quiet)
{
	MILTER_REPLY *r = st->milter_reply;

	for (size_t i = 0; i < st->nmilters; i++) {
		enum milter_verdict v = call(st, st->milters[i], arg);

		switch (v) {
		case MILTER_REJECT:
		case MILTER_TEMPFAIL:
			if (quiet) {
				vstr_strcpy(st->milter_text, VSTR_STR(r->text));
			} else {
				smtpd_milter_reply(st, v, VSTR_STR(r->text),
						   st->milter_text);
				smtpd_milter_log(st, "milter-reject", where,
						 VSTR_STR(st->milter_text),
						 recipient);
			}
			return v == MILTER_REJECT ? 'R' : 'T';
		case MILTER_DISCARD:
			if (st->milter_in_mail) {
				st->cleanup_flags |= CLEANUP_FLAG_DISCARD;
				smtpd_milter_log(st, "milter-discard", where,
						 "milter triggers DISCARD "
						 "action",
						 recipient);
			}
			break;
		default:
			break;
		}
	}
	return 0;
}

static enum milter_verdict
smtpd_milter_call_connect(SMTPD_STATE *st, MILTER *m, const void *arg)
{
	int family = strchr(st->peer.addr, ':') ? '6' : '4';

	(void)arg;
	return milter_connect(m, st->peer.name, family, st->peer.addr,
			      atoi(st->peer.port), st->milter_reply);
}

/*
 * The client arrived: open every milter and send connect.  A refusal is
 * kept and answers the client's commands from then on, as a CONNECT
 * restriction does (the client is greeted anyway).
 */
void
smtpd_milter_connect(SMTPD_STATE *st)
{
	const struct smtpd_params *par = st->par;

	if (par->nmilters == 0 || st->milters != NULL)
		return;
	st->milters = mycalloc(par->nmilters, sizeof(*st->milters));
	st->milter_reply = milter_reply_alloc();
	st->milter_text = vstr_alloc(128);
	st->milter_value = vstr_alloc(64);
	for (size_t i = 0; i < par->nmilters; i++) {
		MILTER *m = milter_alloc(&par->milters[i]);

		milter_set_macros(m, smtpd_milter_macro, st);
		(void)milter_open(m); /* a failure: default_action later */
		st->milters[st->nmilters++] = m;
	}
	if (smtpd_milter_walk(st, "CONNECT", smtpd_milter_call_connect, NULL,
			      NULL, true)
		!= 0
	    && st->connect_reject == NULL) {
		const char *t = VSTR_STR(st->milter_text);

		st->connect_reject = vstr_alloc(64);
		vstr_strcpy(st->connect_reject,
			    *t ? t
			       : (st->milter_reply->verdict == MILTER_REJECT
				      ? "550 5.7.1 Command rejected"
				      : "451 4.7.1 Service unavailable - try "
					"again later"));
		smtpd_milter_log(st, "milter-reject", "CONNECT",
				 VSTR_STR(st->connect_reject), NULL);
	}
}

static enum milter_verdict
smtpd_milter_call_helo(SMTPD_STATE *st, MILTER *m, const void *arg)
{
	(void)st;
	return milter_helo(m, arg, st->milter_reply);
}

int
smtpd_milter_helo(SMTPD_STATE *st, const char *where, const char *helo)
{
	if (st->nmilters == 0)
		return 0;
	return smtpd_milter_walk(st, where, smtpd_milter_call_helo, helo, NULL,
				 false)
		   ? -1
		   : 0;
}

/* "<address>" and the ESMTP parameters after it, NULL-terminated. */
struct smtpd_milter_args {
	const char *v[SMTPD_MILTER_ARGS_MAX + 2];
	char	   *copy;
	VSTR	   *addr;
};

static void
smtpd_milter_args_make(struct smtpd_milter_args *a, const char *addr,
		       const char *rest)
{
	const char *p;
	char	   *cp, *word;
	size_t	    n = 0;

	a->addr = vstr_alloc(64);
	vstr_sprintf(a->addr, "<%s>", addr);
	a->v[n++] = VSTR_STR(a->addr);
	/* the parameters follow the path: after its '>' (or first word) */
	while (*rest == ' ' || *rest == '\t')
		rest++;
	if (*rest == '<' && (p = strchr(rest, '>')) != NULL)
		rest = p + 1;
	else
		rest += strcspn(rest, " \t");
	cp = a->copy = mystrdup(rest);
	while (n < SMTPD_MILTER_ARGS_MAX + 1) {
		while (*cp == ' ' || *cp == '\t')
			cp++;
		if (*cp == 0)
			break;
		word = cp;
		cp += strcspn(cp, " \t");
		if (*cp)
			*cp++ = 0;
		a->v[n++] = word;
	}
	a->v[n] = NULL;
}

static void
smtpd_milter_args_free(struct smtpd_milter_args *a)
{
	vstr_free(a->addr);
	myfree(a->copy);
}

static enum milter_verdict
smtpd_milter_call_mail(SMTPD_STATE *st, MILTER *m, const void *arg)
{
	return milter_mail(m, arg, st->milter_reply);
}

static enum milter_verdict
smtpd_milter_call_rcpt(SMTPD_STATE *st, MILTER *m, const void *arg)
{
	return milter_rcpt(m, arg, st->milter_reply);
}

/* MAIL FROM passed smtpd's own checks: 0, or -1 after the reply. */
int
smtpd_milter_mail(SMTPD_STATE *st, const char *rest)
{
	struct smtpd_milter_args a;
	int			 ret;

	if (st->nmilters == 0)
		return 0;
	/* a new transaction: end the previous one on every milter */
	smtpd_milter_abort(st);
	st->milter_in_mail = true;
	smtpd_milter_args_make(&a, VSTR_STR(st->sender), rest);
	ret = smtpd_milter_walk(st, "MAIL", smtpd_milter_call_mail, a.v, NULL,
				false);
	smtpd_milter_args_free(&a);
	if (ret != 0) {
		smtpd_milter_abort(st);
		return -1;
	}
	return 0;
}

/*
 * RCPT TO passed smtpd's checks (rejected false) or was refused by them
 * (rejected true: only milters that negotiated SMFIP_RCPT_REJ hear of
 * it, and their verdict does not matter).  0, or -1 after the reply.
 */
int
smtpd_milter_rcpt(SMTPD_STATE *st, const char *addr, const char *rest,
		  bool rejected)
{
	struct smtpd_milter_args a;
	int			 ret = 0;

	if (st->nmilters == 0 || !st->milter_in_mail)
		return 0;
	st->milter_rcpt = addr;
	st->milter_rcpt_rejected = rejected;
	smtpd_milter_args_make(&a, addr, rest);
	if (rejected) {
		for (size_t i = 0; i < st->nmilters; i++)
			if (milter_protocol(st->milters[i]) & SMFIP_RCPT_REJ)
				(void)milter_rcpt(st->milters[i], a.v,
						  st->milter_reply);
	} else {
		ret = smtpd_milter_walk(st, "RCPT", smtpd_milter_call_rcpt, a.v,
					addr, false);
	}
	smtpd_milter_args_free(&a);
	st->milter_rcpt = NULL;
	st->milter_rcpt_rejected = false;
	return ret ? -1 : 0;
}

static enum milter_verdict
smtpd_milter_call_data(SMTPD_STATE *st, MILTER *m, const void *arg)
{
	(void)arg;
	return milter_data(m, st->milter_reply);
}

/*
 * DATA or the first BDAT passed smtpd's checks: 0, or -1 after the
 * reply (st->check.action then says REJECT or DEFER, as after a policy
 * refusal, so BDAT's error path leaves the reply alone).
 */
int
smtpd_milter_data(SMTPD_STATE *st, const char *where)
{
	int ret;

	if (st->nmilters == 0 || !st->milter_in_mail)
		return 0;
	ret = smtpd_milter_walk(st, where, smtpd_milter_call_data, NULL, NULL,
				false);
	if (ret == 0)
		return 0;
	st->check.action = ret == 'R' ? SMTPD_ACT_REJECT : SMTPD_ACT_DEFER;
	return -1;
}

static enum milter_verdict
smtpd_milter_call_unknown(SMTPD_STATE *st, MILTER *m, const void *arg)
{
	return milter_unknown(m, arg, st->milter_reply);
}

/*
 * A command smtpd does not know.  A milter may answer it with its own
 * reject text (returns -1 after that reply); otherwise 0 and the usual
 * 502.
 */
int
smtpd_milter_unknown(SMTPD_STATE *st, const char *line)
{
	if (st->nmilters == 0)
		return 0;
	return smtpd_milter_walk(st, "UNKNOWN", smtpd_milter_call_unknown, line,
				 NULL, false)
		   ? -1
		   : 0;
}

/* The milters' connections and the values they may ask for, for cleanup. */
void
smtpd_milter_handoff(SMTPD_STATE *st, struct cleanup_req *req)
{
	if (st->nmilters == 0 || !st->milter_in_mail)
		return;
	if (st->milter_macros == NULL)
		st->milter_macros = attr_alloc();
	attr_reset(st->milter_macros);
	for (size_t i = 0;
	     i < sizeof(smtpd_milter_known) / sizeof(smtpd_milter_known[0]);
	     i++) {
		const char *v = smtpd_milter_macro(st, smtpd_milter_known[i]);

		if (v != NULL)
			attr_put_str(st->milter_macros, smtpd_milter_known[i],
				     v);
	}
	req->milters = st->milters;
	req->nmilters = st->nmilters;
	req->milter_macros = st->milter_macros;
}

/* End of a transaction (RSET, HELO, end of message, next MAIL). */
void
smtpd_milter_abort(SMTPD_STATE *st)
{
	if (!st->milter_in_mail)
		return;
	for (size_t i = 0; i < st->nmilters; i++)
		milter_abort(st->milters[i]);
	st->milter_in_mail = false;
}

/* End of the session: SMFIC_QUIT and close. */
void
smtpd_milter_free(SMTPD_STATE *st)
{
	smtpd_milter_abort(st);
	for (size_t i = 0; i < st->nmilters; i++)
		milter_free(st->milters[i]);
	st->milters = myfree(st->milters);
	st->nmilters = 0;
	st->milter_reply = milter_reply_free(st->milter_reply);
	st->milter_text = vstr_free(st->milter_text);
	st->milter_value = vstr_free(st->milter_value);
	st->milter_macros = attr_free(st->milter_macros);
}
