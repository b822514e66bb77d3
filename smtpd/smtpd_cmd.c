/*
 * smtpd_cmd - the SMTP session: state machine, verb table, command loop.
 *
 * Each verb has a sequence/syntax check (smtpd_cmd_can_*: replies and
 * returns -1 when the command may not run now) and an action
 * (smtpd_cmd_*: 0, or -1 after an error reply).  The loop counts
 * successes and failures per verb for the disconnect line, applies the
 * error and junk-command limits, and stops on QUIT, a lost client or a
 * timeout.  Only smtpd_state_set() changes st->stage.
 *
 * Error accounting is Postfix's: a command that fails (any 4xx or 5xx
 * reply, an unknown command, a line too long) adds one error after its
 * reply; a junk command (HELO, EHLO, RSET, NOOP, VRFY, ETRN) adds one
 * more once more than smtpd_junk_command_limit of them came before it; a
 * message accepted with 250 forgives both counts (smtpd_data.c).  From
 * smtpd_soft_error_limit errors on every reply is delayed (smtpd_io.c);
 * at smtpd_hard_error_limit the client gets 421 and is disconnected.
 *
 * Reply texts and enhanced status codes follow Postfix's smtpd.
 *
 * Errors: protocol errors are replies; nothing here dies but allocators.
 *
 * Ownership: see smtpd.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "smtpd/smtpd.h"
#include "util/flush_client.h"
#include "util/metrics.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/queue_space.h"
#include "util/receive_override.h"
#include "util/strutil.h"
#include "util/vstr.h"

#define CMD_PIPELINE_OK (1 << 0) /* may be followed in a group */
#define CMD_JUNK	(1 << 1) /* counts to smtpd_junk_command_limit */

struct smtpd_verb {
	const char *name;
	int (*can)(SMTPD_STATE *st, const char *args);
	int (*run)(SMTPD_STATE *st, const char *args);
	int		   flags;
	enum smtpd_verb_id id;
};

static const char *const smtpd_stage_names[] = {
	"CONNECTED", "READY", "MAIL", "RCPT", "BDAT", "QUIT",
};

void
smtpd_state_set(SMTPD_STATE *st, enum smtpd_stage stage)
{
	if (msg_verbose > 1)
		msg_info("%s[%s]: state %s -> %s", st->peer.name, st->peer.addr,
			 smtpd_stage_names[st->stage],
			 smtpd_stage_names[stage]);
	st->stage = stage;
}

/* Forget the transaction (RSET, HELO, end of message, disconnect). */
void
smtpd_reset_transaction(SMTPD_STATE *st)
{
	smtpd_data_abort(st);
	smtpd_milter_abort(st);
	for (size_t i = 0; i < st->nrcpt; i++) {
		myfree(st->rcpts[i].addr);
		myfree(st->rcpts[i].orcpt);
	}
	st->nrcpt = 0;
	/* A new message transaction gets a new policy instance. */
	if (st->stage >= SMTPD_ST_MAIL || VSTR_LEN(st->sender))
		vstr_reset(st->instance);
	vstr_reset(st->prepend);
	vstr_reset(st->sender);
	st->cleanup_flags = 0;
	st->bdat_failed = false;
	st->spf.result = NULL;
	vstr_reset(st->filter_route);
	if (st->xforward)
		xforward_reset(st->xforward);
	if (st->stage != SMTPD_ST_QUIT)
		smtpd_state_set(st, VSTR_LEN(st->helo) ? SMTPD_ST_READY
						       : SMTPD_ST_CONNECTED);
}

/*
 * The facts a policy server sees beyond what the restrictions use
 * (Postfix's policy request attributes).
 */
static void
smtpd_policy_facts(SMTPD_STATE *st, enum smtpd_check_stage stage,
		   const char *where, struct smtpd_check_facts *f)
{
	static unsigned seq;
	static char	tls_proto[32], tls_cipher[128];

	if (VSTR_LEN(st->instance) == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		vstr_sprintf(st->instance, "%lx.%llx.%lx.%x",
			     (unsigned long)getpid(), (long long)ts.tv_sec,
			     ts.tv_nsec / 1000, seq++);
	}
	f->instance = VSTR_STR(st->instance);
	f->protocol_state = stage == SMTPD_CHECK_CONNECT ? "CONNECT" : where;
	f->protocol_name = st->protocol;
	f->client_port = st->peer.port;
	f->server_addr = st->peer.server_addr;
	f->server_port = st->peer.server_port;
	if (f->sasl_username)
		f->sasl_method = VSTR_STR(st->sasl_method);
	/* MAIL FROM's AUTH= as sent, as {auth_author}: logged-in only. */
	if (f->sasl_username && f->sender && st->mail && st->mail->auth_given)
		f->sasl_sender = VSTR_STR(st->mail->auth);
	if (f->sender && st->mail && st->mail->size_given)
		f->size = (long long)st->mail->size;
	if (stage == SMTPD_CHECK_EOD)
		f->size = st->content_size;
	/* tls_info is "PROTO with cipher NAME (BITS/ALG bits)" (util/tls). */
	if (st->tls && st->tls_info
	    && sscanf(VSTR_STR(st->tls_info), "%31s with cipher %127s (%d/",
		      tls_proto, tls_cipher, &f->tls_keysize)
		   == 3) {
		f->tls_protocol = tls_proto;
		f->tls_cipher = tls_cipher;
	}
	/*
	 * As Postfix: the names only from a certificate whose chain
	 * verified, the fingerprints from any (a policy server that matches
	 * them does not need the CA).
	 */
	if (st->tls && st->tls_cert.present) {
		f->ccert_fingerprint = VSTR_STR(st->tls_cert.fingerprint);
		f->ccert_pkey_fingerprint = VSTR_STR(
		    st->tls_cert.pkey_fingerprint);
		if (st->tls_cert.trusted) {
			f->ccert_subject = VSTR_STR(st->tls_cert.subject);
			f->ccert_issuer = VSTR_STR(st->tls_cert.issuer);
		}
	}
}

/* Keep the header fields of PREPEND actions for cleanup. */
static void
smtpd_policy_prepend(SMTPD_STATE *st)
{
	if (VSTR_LEN(st->check.prepend))
		vstr_memcat(st->prepend, VSTR_STR(st->check.prepend),
			    VSTR_LEN(st->check.prepend));
}

/*
 * Ask the policy engine.  0: go on (DISCARD and HOLD are remembered for
 * the message); -1: the reply was sent and logged.
 */
int
smtpd_policy(SMTPD_STATE *st, enum smtpd_check_stage stage, const char *where,
	     const char *recipient)
{
	struct smtpd_check_facts f;
	bool in_mail = st->stage >= SMTPD_ST_MAIL && st->stage <= SMTPD_ST_BDAT;

	st->check.action = SMTPD_ACT_OK;
	if (st->hooks->check == NULL)
		return 0;
	memset(&f, 0, sizeof(f));
	f.client_addr = st->peer.addr;
	f.client_name = st->peer.name;
	f.helo = VSTR_LEN(st->helo) ? VSTR_STR(st->helo) : NULL;
	f.sender = in_mail || stage == SMTPD_CHECK_MAIL ? VSTR_STR(st->sender)
							: NULL;
	f.sender_path = f.sender ? st->mail : NULL;
	f.recipient = recipient;
	f.rcpt_path = recipient ? st->rcpt_scratch : NULL;
	f.sasl_username = smtpd_sasl_user(st);
	f.tls = st->tls;
	f.rcpt_count = (int)st->nrcpt;
	if (f.sender && st->spf.result) {
		f.spf_result = st->spf.result;
		f.spf_domain = VSTR_STR(st->spf.domain);
		f.spf_explanation = VSTR_STR(st->spf.explanation);
	}
	smtpd_policy_facts(st, stage, where, &f);
	vstr_reset(st->check.reply);
	vstr_reset(st->check.prepend);
	vstr_reset(st->check.filter);
	if (st->hooks->check(st->ctx, stage, &f, &st->check) < 0
	    && st->check.action != SMTPD_ACT_REJECT) {
		st->check.action = SMTPD_ACT_DEFER;
		if (VSTR_LEN(st->check.reply) == 0)
			vstr_strcpy(st->check.reply, "451 4.3.0 Server "
						     "configuration error");
	}
	/* FILTER is not final and the last one wins (Postfix). */
	if (VSTR_LEN(st->check.filter) > 0)
		vstr_memcpy(st->filter_route, VSTR_STR(st->check.filter),
			    VSTR_LEN(st->check.filter));
	switch (st->check.action) {
	case SMTPD_ACT_OK:
		smtpd_policy_prepend(st);
		return 0;
	case SMTPD_ACT_DISCARD:
		smtpd_policy_prepend(st);
		st->cleanup_flags |= CLEANUP_FLAG_DISCARD;
		return 0;
	case SMTPD_ACT_HOLD:
		smtpd_policy_prepend(st);
		st->cleanup_flags |= CLEANUP_FLAG_HOLD;
		return 0;
	case SMTPD_ACT_REJECT:
	case SMTPD_ACT_DEFER:
	default:
		if (VSTR_LEN(st->check.reply) < 4
		    || !isdigit((unsigned char)VSTR_STR(st->check.reply)[0]))
			vstr_strcpy(st->check.reply,
				    st->check.action == SMTPD_ACT_REJECT
					? "554 5.7.1 Access denied"
					: "451 4.3.0 Server configuration error");
		smtpd_reply_raw(st, VSTR_STR(st->check.reply),
				VSTR_LEN(st->check.reply));
		smtpd_log_reject(st, where, VSTR_STR(st->check.reply),
				 recipient);
		return -1;
	}
}

/* A client rejected at CONNECT (smtpd_delay_reject=no) gets it again. */
static int
smtpd_cmd_connect_rejected(SMTPD_STATE *st)
{
	if (st->connect_reject == NULL)
		return 0;
	smtpd_reply_lines(st, VSTR_STR(st->connect_reject),
			  VSTR_LEN(st->connect_reject));
	return -1;
}

static bool
smtpd_cmd_word_prefix(const char *args, const char *word, const char **rest)
{
	size_t len = strlen(word);

	if (strncasecmp(args, word, len) != 0)
		return false;
	*rest = args + len;
	return true;
}

/* HELO and EHLO */

static int
smtpd_cmd_can_helo(SMTPD_STATE *st, const char *args)
{
	(void)st;
	(void)args;
	return 0;
}

static int
smtpd_cmd_hello(SMTPD_STATE *st, const char *args, bool esmtp)
{
	VSTR *name;
	VSTR *old;
	int   ret;

	if (*args == 0) {
		smtpd_reply(st, "501 5.5.4 Syntax: %s hostname",
			    esmtp ? "EHLO" : "HELO");
		return -1;
	}
	/* A new HELO/EHLO ends any transaction (RFC 5321 4.1.4). */
	smtpd_reset_transaction(st);
	name = vstr_alloc(64);
	vstr_strcpy(name, args);
	for (char *p = VSTR_STR(name); *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	/* The facts must show the name being checked. */
	old = st->helo;
	st->helo = name;
	ret = smtpd_policy(st, SMTPD_CHECK_HELO, esmtp ? "EHLO" : "HELO", NULL);
	if (ret == 0)
		ret = smtpd_milter_helo(st, esmtp ? "EHLO" : "HELO",
					VSTR_STR(name));
	st->helo = old;
	if (ret < 0) {
		vstr_free(name);
		return -1;
	}
	vstr_free(st->helo);
	st->helo = name;
	st->esmtp = esmtp;
	/* RFC 3848: the S says the message came over TLS. */
	st->protocol = esmtp ? (st->tls ? "ESMTPS" : "ESMTP") : "SMTP";
	smtpd_state_set(st, SMTPD_ST_READY);
	if (!esmtp) {
		smtpd_reply(st, "250 %s", st->par->myhostname);
		return 0;
	}
	smtpd_reply(st, "250-%s", st->par->myhostname);
#define EHLO_LINE(bit, ...) \
	do { \
		if (!(st->par->ehlo_discard & (bit))) \
			smtpd_reply(st, __VA_ARGS__); \
	} while (0)
	EHLO_LINE(SMTPD_EHLO_PIPELINING, "250-PIPELINING");
	if (st->par->size_limit > 0)
		EHLO_LINE(SMTPD_EHLO_SIZE, "250-SIZE %lld",
			  st->par->size_limit);
	else
		EHLO_LINE(SMTPD_EHLO_SIZE, "250-SIZE");
	if (!st->par->disable_vrfy)
		EHLO_LINE(SMTPD_EHLO_VRFY, "250-VRFY");
	EHLO_LINE(SMTPD_EHLO_ETRN, "250-ETRN");
	EHLO_LINE(SMTPD_EHLO_ENHANCED, "250-ENHANCEDSTATUSCODES");
	EHLO_LINE(SMTPD_EHLO_8BITMIME, "250-8BITMIME");
	EHLO_LINE(SMTPD_EHLO_DSN, "250-DSN");
	EHLO_LINE(SMTPD_EHLO_SMTPUTF8, "250-SMTPUTF8");
	/* RFC 8689: offered only inside TLS (EHLO after STARTTLS). */
	if (st->tls)
		EHLO_LINE(SMTPD_EHLO_REQUIRETLS, "250-REQUIRETLS");
	smtpd_tls_ehlo(st);
	smtpd_sasl_ehlo(st);
	smtpd_xforward_ehlo(st);
	/* CHUNKING goes last: it carries the final "250 ". */
	if (st->par->ehlo_discard & SMTPD_EHLO_CHUNKING) {
		/* Turn the last line into the final one. */
		char *last = VSTR_END(st->out) - 2;

		while (last > VSTR_STR(st->out) && last[-1] != '\n')
			last--;
		last[3] = ' ';
		st->reply_open = false;
	} else {
		smtpd_reply(st, "250 CHUNKING");
	}
#undef EHLO_LINE
	return 0;
}

static int
smtpd_cmd_helo(SMTPD_STATE *st, const char *args)
{
	return smtpd_cmd_hello(st, args, false);
}

static int
smtpd_cmd_ehlo(SMTPD_STATE *st, const char *args)
{
	return smtpd_cmd_hello(st, args, true);
}

/* Which extensions this session offers to the address parser. */
static int
smtpd_cmd_addr_opts(SMTPD_STATE *st)
{
	int opts = st->par->strict_rfc821 ? 0 : ADDR_OPT_NOBRACKETS;
	int off = st->par->ehlo_discard;

	if (!st->esmtp)
		return opts;
	if (st->par->sasl.enable)
		opts |= ADDR_OPT_AUTH;
	if (!(off & SMTPD_EHLO_8BITMIME))
		opts |= ADDR_OPT_8BITMIME;
	if (!(off & SMTPD_EHLO_DSN))
		opts |= ADDR_OPT_DSN;
	if (!(off & SMTPD_EHLO_SMTPUTF8))
		opts |= ADDR_OPT_SMTPUTF8;
	/* Parsed on plain sessions too, to refuse it with 530 5.7.10. */
	if (!(off & SMTPD_EHLO_REQUIRETLS))
		opts |= ADDR_OPT_REQUIRETLS;
	return opts;
}

static void
smtpd_cmd_addr_error(SMTPD_STATE *st, const ADDR_SMTP *a)
{
	smtpd_reply(st, "%d %s %s", a->code, a->dsn, VSTR_STR(a->reply));
}

/* MAIL FROM: */

static int
smtpd_cmd_can_mail(SMTPD_STATE *st, const char *args)
{
	(void)args;
	if (st->stage == SMTPD_ST_CONNECTED && st->par->helo_required) {
		smtpd_reply(st, "503 5.5.1 Error: send HELO/EHLO first");
		return -1;
	}
	if (st->stage >= SMTPD_ST_MAIL) {
		smtpd_reply(st, "503 5.5.1 Error: nested MAIL command");
		return -1;
	}
	if (smtpd_tls_required(st) < 0)
		return -1;
	return 0;
}

/*
 * Room in the queue file system for a message of size bytes (0: not
 * declared)?  Postfix's rule (util/queue_space.h); master leaves smtpd in
 * the queue folder (chrooted or not), a stand-alone smtpd may not be.
 * Only a measured shortage refuses mail: statvfs errors are logged.
 */
#define SMTPD_NO_SPACE "452 4.3.1 Insufficient system storage"

static int
smtpd_cmd_queue_space(SMTPD_STATE *st, unsigned long long size)
{
	VSTR *why = vstr_alloc(64);
	int   ret = 0;

	if (queue_space_check("incoming", st->par->queue_minfree,
			      st->par->size_limit, size, why)
		< 0
	    && (errno != ENOENT || st->par->queue_dir == NULL
		|| queue_space_check(st->par->queue_dir, st->par->queue_minfree,
				     st->par->size_limit, size, why)
		       < 0)) {
		if (errno == ENOSPC) {
			msg_warn("not enough free space in the queue file "
				 "system: %s (queue_minfree, "
				 "message_size_limit)",
				 VSTR_STR(why));
			smtpd_reply(st, "%s", SMTPD_NO_SPACE);
			smtpd_log_reject(st, "MAIL", SMTPD_NO_SPACE, NULL);
			ret = -1;
		} else if (errno != ENOENT) {
			msg_warn("statvfs of the queue file system: %m");
		}
	}
	vstr_free(why);
	return ret;
}

/*
 * SPF for inbound mail (RFC 7208): the MAIL FROM identity, or HELO when
 * the sender is null.  The outcome stays with the transaction: the
 * reject_spf_* restrictions read it and cleanup gets the Received-SPF
 * field.  The result is logged here only under -v; the message's one
 * results line is written by cleanup.
 */
static void
smtpd_cmd_spf(SMTPD_STATE *st)
{
	struct smtpd_spf_query q;

	st->spf.result = NULL;
	if (st->hooks->spf == NULL || !smtpd_mail_inbound(st))
		return;
	q.client_addr = st->peer.addr;
	q.helo = VSTR_LEN(st->helo) ? VSTR_STR(st->helo) : NULL;
	q.sender = VSTR_STR(st->sender);
	if (st->hooks->spf(st->ctx, &q, &st->spf) < 0) {
		st->spf.result = NULL;
		return;
	}
	if (msg_verbose)
		msg_info("%s[%s]: SPF %s identity=%s domain=%s", st->peer.name,
			 st->peer.addr, st->spf.result, st->spf.identity,
			 VSTR_STR(st->spf.domain));
}

static int
smtpd_cmd_mail(SMTPD_STATE *st, const char *args)
{
	const char *rest;

	if (!smtpd_cmd_word_prefix(args, "FROM:", &rest)) {
		smtpd_reply(st, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return -1;
	}
	if (smtpd_anvil_mail(st) < 0 || smtpd_cmd_connect_rejected(st) < 0)
		return -1;
	if (addr_parse_smtp(st->mail, ADDR_CMD_MAIL, rest, strlen(rest),
			    smtpd_cmd_addr_opts(st))
	    < 0) {
		smtpd_cmd_addr_error(st, st->mail);
		return -1;
	}
	/* ${sender} in a pipe command's argv must never look like an option. */
	if (!st->par->allow_min_user && addr_min_user(st->mail->addr)) {
		smtpd_reply(st, "501 5.1.7 Bad sender address syntax");
		return -1;
	}
	/*
	 * RFC 8689 4.1: REQUIRETLS only on a session that is itself over TLS
	 * (5.7.10 "Encryption needed", RFC 5248).
	 */
	if (st->mail->requiretls && !st->tls) {
		smtpd_reply(st, "530 5.7.10 REQUIRETLS needs a TLS session: "
				"issue STARTTLS first");
		return -1;
	}
	if (st->mail->size_given && st->par->size_limit > 0
	    && st->mail->size > (unsigned long long)st->par->size_limit) {
		smtpd_reply(st, "552 5.3.4 Message size exceeds fixed limit");
		return -1;
	}
	if (smtpd_cmd_queue_space(st, st->mail->size_given ? st->mail->size : 0)
	    < 0)
		return -1;
	vstr_strcpy(st->sender, (st->mail->addr->flags & ADDR_F_NULL)
				    ? ""
				    : VSTR_STR(st->mail->addr->addr));
	smtpd_cmd_spf(st);
	if (smtpd_policy(st, SMTPD_CHECK_MAIL, "MAIL", NULL) < 0
	    || smtpd_milter_mail(st, rest) < 0) {
		vstr_reset(st->sender);
		st->cleanup_flags = 0;
		st->spf.result = NULL;
		vstr_reset(st->filter_route);
		return -1;
	}
	smtpd_state_set(st, SMTPD_ST_MAIL);
	smtpd_reply(st, "250 2.1.0 Ok");
	return 0;
}

/* RCPT TO: */

static int
smtpd_cmd_can_rcpt(SMTPD_STATE *st, const char *args)
{
	(void)args;
	if (st->stage == SMTPD_ST_BDAT) {
		smtpd_reply(st, "503 5.5.1 Error: RCPT after BDAT");
		return -1;
	}
	if (st->stage != SMTPD_ST_MAIL && st->stage != SMTPD_ST_RCPT) {
		smtpd_reply(st, "503 5.5.1 Error: need MAIL command");
		return -1;
	}
	return 0;
}

static int
smtpd_cmd_rcpt(SMTPD_STATE *st, const char *args)
{
	const char	  *rest;
	ADDR_SMTP	  *r = st->rcpt_scratch;
	struct smtpd_rcpt *rc;
	int		   opts;

	if (!smtpd_cmd_word_prefix(args, "TO:", &rest)) {
		smtpd_reply(st, "501 5.5.4 Syntax: RCPT TO:<address>");
		return -1;
	}
	if (smtpd_anvil_rcpt(st) < 0 || smtpd_cmd_connect_rejected(st) < 0)
		return -1;
	if ((long long)st->nrcpt >= st->par->recipient_limit) {
		smtpd_reply(st, "452 4.5.3 Error: too many recipients");
		return -1;
	}
	opts = smtpd_cmd_addr_opts(st) & ~ADDR_OPT_SMTPUTF8;
	if (st->mail->smtputf8)
		opts |= ADDR_OPT_SMTPUTF8;
	if (addr_parse_smtp(r, ADDR_CMD_RCPT, rest, strlen(rest), opts) < 0) {
		smtpd_cmd_addr_error(st, r);
		return -1;
	}
	if (!st->par->allow_min_user && addr_min_user(r->addr)) {
		smtpd_reply(st, "501 5.1.3 Bad recipient address syntax");
		return -1;
	}
	if (smtpd_policy(st, SMTPD_CHECK_RCPT, "RCPT", VSTR_STR(r->addr->addr))
	    < 0) {
		/* milters with SMFIP_RCPT_REJ hear of refused recipients */
		(void)smtpd_milter_rcpt(st, VSTR_STR(r->addr->addr), rest,
					true);
		return -1;
	}
	if (smtpd_milter_rcpt(st, VSTR_STR(r->addr->addr), rest, false) < 0)
		return -1;
	if (st->nrcpt == st->rcpt_cap) {
		st->rcpt_cap = st->rcpt_cap ? st->rcpt_cap * 2 : 8;
		st->rcpts = myrealloc_array(st->rcpts, st->rcpt_cap,
					    sizeof(*st->rcpts));
	}
	rc = st->rcpts + st->nrcpt++;
	rc->addr = mystrdup(VSTR_STR(r->addr->addr));
	rc->notify = r->notify;
	rc->orcpt = NULL;
	if (r->orcpt_given) {
		VSTR *o = vstr_alloc(64);

		vstr_sprintf(o, "%s;%s", VSTR_STR(r->orcpt_type),
			     VSTR_STR(r->orcpt_addr));
		rc->orcpt = vstr_export(o);
	}
	smtpd_state_set(st, SMTPD_ST_RCPT);
	smtpd_reply(st, "250 2.1.5 Ok");
	return 0;
}

/* DATA */

static int
smtpd_cmd_can_data(SMTPD_STATE *st, const char *args)
{
	if (*args) {
		smtpd_reply(st, "501 5.5.4 Syntax: DATA");
		return -1;
	}
	if (st->stage == SMTPD_ST_BDAT) {
		smtpd_reply(st, "503 5.5.1 Error: DATA after BDAT");
		return -1;
	}
	if (st->stage == SMTPD_ST_MAIL) {
		smtpd_reply(st, "554 5.5.1 Error: no valid recipients");
		return -1;
	}
	if (st->stage != SMTPD_ST_RCPT) {
		smtpd_reply(st, "503 5.5.1 Error: need RCPT command");
		return -1;
	}
	return 0;
}

static int
smtpd_cmd_data(SMTPD_STATE *st, const char *args)
{
	(void)args;
	if (smtpd_policy(st, SMTPD_CHECK_DATA, "DATA", NULL) < 0
	    || smtpd_milter_data(st, "DATA") < 0)
		return -1;
	return smtpd_do_data(st);
}

/* BDAT: the checks need the chunk size, so smtpd_do_bdat does them. */

static int
smtpd_cmd_can_any(SMTPD_STATE *st, const char *args)
{
	(void)st;
	(void)args;
	return 0;
}

static int
smtpd_cmd_bdat(SMTPD_STATE *st, const char *args)
{
	return smtpd_do_bdat(st, args);
}

/* RSET, NOOP, QUIT, HELP */

static int
smtpd_cmd_can_noargs(SMTPD_STATE *st, const char *args)
{
	if (*args) {
		smtpd_reply(st, "501 5.5.4 Syntax: %s", st->where);
		return -1;
	}
	return 0;
}

static int
smtpd_cmd_rset(SMTPD_STATE *st, const char *args)
{
	(void)args;
	smtpd_reset_transaction(st);
	smtpd_reply(st, "250 2.0.0 Ok");
	return 0;
}

static int
smtpd_cmd_noop(SMTPD_STATE *st, const char *args)
{
	(void)args;
	smtpd_reply(st, "250 2.0.0 Ok");
	return 0;
}

static int
smtpd_cmd_quit(SMTPD_STATE *st, const char *args)
{
	(void)args;
	smtpd_reply(st, "221 2.0.0 Bye");
	smtpd_reset_transaction(st);
	smtpd_state_set(st, SMTPD_ST_QUIT);
	return 0;
}

static int
smtpd_cmd_help(SMTPD_STATE *st, const char *args)
{
	(void)args;
	smtpd_reply(st, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT "
			"RSET NOOP QUIT");
	smtpd_reply(st, "214 2.0.0 %sETRN HELP",
		    st->par->disable_vrfy ? "" : "VRFY ");
	return 0;
}

/* VRFY: with verification off Postfix-style, the answer is always 252. */

static int
smtpd_cmd_can_vrfy(SMTPD_STATE *st, const char *args)
{
	if (st->par->disable_vrfy) {
		smtpd_reply(st, "502 5.5.1 VRFY command is disabled");
		return -1;
	}
	if (*args == 0) {
		smtpd_reply(st, "501 5.5.4 Syntax: VRFY address");
		return -1;
	}
	return smtpd_cmd_connect_rejected(st);
}

static bool
smtpd_cmd_plain_word(const char *word)
{
	if (*word == 0 || strlen(word) > ADDR_LOCAL_MAX)
		return false;
	for (const char *p = word; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("._-+", *p) == NULL)
			return false;
	return true;
}

static int
smtpd_cmd_vrfy(SMTPD_STATE *st, const char *args)
{
	ADDR_SMTP *r = st->rcpt_scratch;

	/* A bare local name is what VRFY is mostly used with. */
	if (smtpd_cmd_plain_word(args)) {
		smtpd_reply(st, "252 2.0.0 %s", args);
		return 0;
	}
	if (addr_parse_smtp(r, ADDR_CMD_RCPT, args, strlen(args),
			    ADDR_OPT_NOBRACKETS | ADDR_OPT_SMTPUTF8)
	    < 0) {
		smtpd_cmd_addr_error(st, r);
		return -1;
	}
	if (smtpd_policy(st, SMTPD_CHECK_VRFY, "VRFY", VSTR_STR(r->addr->addr))
	    < 0)
		return -1;
	smtpd_reply(st, "252 2.0.0 %s", VSTR_STR(r->addr->addr));
	return 0;
}

/*
 * ETRN (RFC 1985) through the fast flush service, with Postfix's replies:
 * 250 when the flush service took the request, 459 for a destination not
 * in fast_flush_domains, 458 when the service failed, cannot be reached
 * or is missing (stand-alone smtpd).  As Postfix, one leading '@' or '#'
 * is dropped from the argument, which must then be a host name or an
 * address literal (else 501, without an enhanced code, as Postfix).
 */

static bool
smtpd_cmd_etrn_site_ok(const char *site)
{
	size_t len = strlen(site);
	size_t label = 0;

	if (len == 0 || len > 255)
		return false;
	if (*site == '[')
		return len > 2 && site[len - 1] == ']'
		       && strcspn(site + 1, "[] \t") == len - 2;
	for (const char *p = site; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*p)
			   || (*p == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && site[len - 1] != '-';
}

static int
smtpd_cmd_can_etrn(SMTPD_STATE *st, const char *args)
{
	if (VSTR_LEN(st->helo) == 0) {
		smtpd_reply(st, "503 5.5.1 Error: send HELO/EHLO first");
		return -1;
	}
	if (st->stage >= SMTPD_ST_MAIL) {
		smtpd_reply(st,
			    "503 5.5.1 Error: MAIL transaction in progress");
		return -1;
	}
	if (*args == 0 || strpbrk(args, " \t") != NULL) {
		smtpd_reply(st, "500 5.5.2 Syntax: ETRN domain");
		return -1;
	}
	if (*args == '@' || *args == '#')
		args++;
	if (!smtpd_cmd_etrn_site_ok(args)) {
		smtpd_reply(st, "501 Error: invalid parameter syntax");
		return -1;
	}
	return smtpd_cmd_connect_rejected(st);
}

static int
smtpd_cmd_etrn(SMTPD_STATE *st, const char *args)
{
	if (*args == '@' || *args == '#')
		args++;
	if (smtpd_policy(st, SMTPD_CHECK_ETRN, "ETRN", args) < 0)
		return -1;
	if (st->hooks->flush == NULL) {
		msg_warn("ETRN %.100s from %s[%s]: no fast flush service here",
			 args, st->peer.name, st->peer.addr);
		smtpd_reply(st, "458 Unable to queue messages");
		return -1;
	}
	switch (st->hooks->flush(st->ctx, args)) {
	case FLUSH_STAT_OK:
		smtpd_reply(st, "250 Queuing started");
		return 0;
	case FLUSH_STAT_DENY:
		msg_warn("reject: ETRN %.100s... from %s[%s]", args,
			 st->peer.name, st->peer.addr);
		smtpd_reply(st, "459 <%s>: service unavailable", args);
		return -1;
	case FLUSH_STAT_BAD:
		msg_warn("bad ETRN %.100s... from %s[%s]", args, st->peer.name,
			 st->peer.addr);
		smtpd_reply(st, "458 Unable to queue messages");
		return -1;
	default:
		msg_warn("unable to talk to fast flush service");
		smtpd_reply(st, "458 Unable to queue messages");
		return -1;
	}
}

static const struct smtpd_verb smtpd_verbs[] = {
	{ "HELO", smtpd_cmd_can_helo, smtpd_cmd_helo, CMD_JUNK, SMTPD_V_HELO },
	{ "EHLO", smtpd_cmd_can_helo, smtpd_cmd_ehlo, CMD_JUNK, SMTPD_V_EHLO },
	{ "MAIL", smtpd_cmd_can_mail, smtpd_cmd_mail, CMD_PIPELINE_OK,
	  SMTPD_V_MAIL },
	{ "RCPT", smtpd_cmd_can_rcpt, smtpd_cmd_rcpt, CMD_PIPELINE_OK,
	  SMTPD_V_RCPT },
	{ "DATA", smtpd_cmd_can_data, smtpd_cmd_data, 0, SMTPD_V_DATA },
	{ "BDAT", smtpd_cmd_can_any, smtpd_cmd_bdat, CMD_PIPELINE_OK,
	  SMTPD_V_BDAT },
	{ "RSET", smtpd_cmd_can_noargs, smtpd_cmd_rset,
	  CMD_PIPELINE_OK | CMD_JUNK, SMTPD_V_RSET },
	{ "NOOP", smtpd_cmd_can_any, smtpd_cmd_noop, CMD_JUNK, SMTPD_V_NOOP },
	{ "VRFY", smtpd_cmd_can_vrfy, smtpd_cmd_vrfy, CMD_JUNK, SMTPD_V_VRFY },
	{ "ETRN", smtpd_cmd_can_etrn, smtpd_cmd_etrn, CMD_JUNK, SMTPD_V_ETRN },
	{ "HELP", smtpd_cmd_can_any, smtpd_cmd_help, 0, SMTPD_V_HELP },
	{ "QUIT", smtpd_cmd_can_noargs, smtpd_cmd_quit, 0, SMTPD_V_QUIT },
	{ "AUTH", smtpd_sasl_can_auth, smtpd_sasl_auth, 0, SMTPD_V_AUTH },
	{ "STARTTLS", smtpd_tls_can_starttls, smtpd_tls_starttls, 0,
	  SMTPD_V_STARTTLS },
	{ "XFORWARD", smtpd_xforward_can, smtpd_xforward_cmd, CMD_PIPELINE_OK,
	  SMTPD_V_XFORWARD },
};

static const struct smtpd_verb *
smtpd_cmd_lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(smtpd_verbs) / sizeof(smtpd_verbs[0]);
	     i++)
		if (strlen(smtpd_verbs[i].name) == len
		    && strncasecmp(smtpd_verbs[i].name, name, len) == 0)
			return smtpd_verbs + i;
	return NULL;
}

/* One command line in st->line: dispatch it.  0 or -1 (error reply). */
static int
smtpd_cmd_dispatch(SMTPD_STATE *st)
{
	const struct smtpd_verb *v;
	const char		*line = VSTR_STR(st->line);
	const char		*args;
	size_t			 len;
	int			 ret;

	if (memchr(line, 0, VSTR_LEN(st->line)) != NULL) {
		st->count_all[SMTPD_V_UNKNOWN]++;
		smtpd_reply(st, "500 5.5.2 Error: bad syntax");
		return -1;
	}
	while (*line == ' ' || *line == '\t')
		line++;
	len = strcspn(line, " \t");
	args = line + len;
	while (*args == ' ' || *args == '\t')
		args++;
	if ((v = smtpd_cmd_lookup(line, len)) == NULL) {
		st->count_all[SMTPD_V_UNKNOWN]++;
		st->where = "UNKNOWN";
		if (smtpd_milter_unknown(st, line) < 0)
			return -1;
		smtpd_reply(st, "502 5.5.2 Error: command not recognized");
		return -1;
	}
	st->where = v->name;
	/* An AUTH initial response may hold a password: log the verb only. */
	if (msg_verbose)
		msg_info("< %s[%s]: %s", st->peer.name, st->peer.addr,
			 v->id == SMTPD_V_AUTH ? "AUTH ..."
					       : VSTR_STR(st->line));

	/*
	 * RFC 2920: only some commands may be followed by more before their
	 * reply.  Anything else is a client that does not wait, as SMTP
	 * smuggling and spam tools do.
	 */
	if (smtpd_io_avail(st) > 0
	    && (!(v->flags & CMD_PIPELINE_OK) || !st->esmtp)
	    && v->id != SMTPD_V_QUIT) {
		msg_info("improper command pipelining after %s from %s[%s]",
			 v->name, st->peer.name, st->peer.addr);
		if (st->par->forbid_unauth_pipelining) {
			st->count_all[v->id]++;
			smtpd_reply(st, "554 5.5.0 Error: SMTP protocol "
					"synchronization");
			smtpd_reset_transaction(st);
			smtpd_state_set(st, SMTPD_ST_QUIT);
			return -1;
		}
	}
	st->count_all[v->id]++;
	if ((ret = v->can(st, args)) == 0)
		ret = v->run(st, args);
	if (ret == 0)
		st->count_ok[v->id]++;
	/*
	 * Postfix's rule, off by one as there: the junk commands after the
	 * first smtpd_junk_command_limit + 1 cost an error each, on top of
	 * the one a failed junk command costs anyway (the caller's).
	 */
	if ((v->flags & CMD_JUNK) && st->junk++ > st->par->junk_limit)
		st->errors++;
	return ret;
}

void
smtpd_session(SMTPD_STATE *st)
{
	enum smtpd_line_status status;

	st->where = "CONNECT";
	metrics_smtpd_connection();
	/* Over a connection limit (anvil), or port 465's TLS failed. */
	if (smtpd_anvil_connect(st) < 0 || smtpd_tls_wrapper(st) < 0) {
		smtpd_io_flush(st);
		smtpd_anvil_disconnect(st);
		smtpd_log_disconnect(st);
		return;
	}
	if (smtpd_policy(st, SMTPD_CHECK_CONNECT, "CONNECT", NULL) < 0) {
		/* Keep the reply for later commands; greet anyway. */
		st->connect_reject = vstr_alloc(VSTR_LEN(st->check.reply));
		vstr_memcpy(st->connect_reject, VSTR_STR(st->check.reply),
			    VSTR_LEN(st->check.reply));
		vstr_reset(st->out);
	}
	smtpd_milter_connect(st);
	smtpd_reply(st, "220 %s", st->par->banner);
	while (st->stage != SMTPD_ST_QUIT && !st->io_error) {
		if (st->errors >= st->par->hard_error_limit) {
			msg_info("too many errors after %s from %s[%s]",
				 st->where, st->peer.name, st->peer.addr);
			smtpd_reply(st, "421 4.7.0 %s Error: too many errors",
				    st->par->myhostname);
			break;
		}
		status = smtpd_io_get_line(st);
		if (status == SMTPD_LINE_EOF || status == SMTPD_LINE_TIMEOUT)
			break;
		if (status == SMTPD_LINE_TOO_LONG) {
			smtpd_reply(st, "500 5.5.2 Error: line too long");
			st->errors++;
		} else if (smtpd_cmd_dispatch(st) < 0) {
			st->errors++;
		}
	}
	if (st->io_error)
		smtpd_log_io_error(st);
	smtpd_reset_transaction(st);
	smtpd_io_flush(st);
	smtpd_anvil_disconnect(st);
	smtpd_log_disconnect(st);
}

SMTPD_STATE *
smtpd_state_create(const struct smtpd_params *par,
		   const struct smtpd_hooks *hooks, void *io, void *ctx,
		   const struct smtpd_peer *peer)
{
	SMTPD_STATE *st = mycalloc(1, sizeof(*st));

	st->par = par;
	st->hooks = hooks;
	st->io = io;
	st->ctx = ctx;
	st->peer = *peer;
	st->stage = SMTPD_ST_CONNECTED;
	st->in = vstr_alloc(64 * 1024);
	st->out = vstr_alloc(1024);
	st->line = vstr_alloc(512);
	st->where = "CONNECT";
	st->helo = vstr_alloc(64);
	st->protocol = "SMTP";
	st->mail = addr_smtp_alloc();
	st->rcpt_scratch = addr_smtp_alloc();
	st->sender = vstr_alloc(64);
	st->content = vstr_alloc(128 * 1024);
	st->check.reply = vstr_alloc(128);
	st->check.prepend = vstr_alloc(128);
	st->prepend = vstr_alloc(128);
	st->instance = vstr_alloc(32);
	st->check.filter = vstr_alloc(64);
	st->filter_route = vstr_alloc(64);
	st->xforward_auth = -1;
	st->sasl_method = vstr_alloc(16);
	st->sasl_username = vstr_alloc(32);
	st->spf.domain = vstr_alloc(64);
	st->spf.explanation = vstr_alloc(64);
	st->spf.header = vstr_alloc(256);
	return st;
}

SMTPD_STATE *
smtpd_state_free(SMTPD_STATE *st)
{
	if (st == NULL)
		return NULL;
	smtpd_reset_transaction(st);
	smtpd_milter_free(st);
	myfree(st->rcpts);
	vstr_free(st->in);
	vstr_free(st->out);
	vstr_free(st->line);
	vstr_free(st->helo);
	vstr_free(st->connect_reject);
	vstr_free(st->anvil_ident);
	addr_smtp_free(st->mail);
	addr_smtp_free(st->rcpt_scratch);
	vstr_free(st->sender);
	vstr_free(st->content);
	vstr_free(st->check.reply);
	vstr_free(st->check.prepend);
	vstr_free(st->prepend);
	vstr_free(st->instance);
	vstr_free(st->check.filter);
	vstr_free(st->filter_route);
	st->xforward = xforward_free(st->xforward);
	smtpd_sasl_reset(st);
	vstr_free(st->tls_info);
	vstr_free(st->tls_cert.subject);
	vstr_free(st->tls_cert.issuer);
	vstr_free(st->tls_cert.fingerprint);
	vstr_free(st->tls_cert.pkey_fingerprint);
	vstr_free(st->sasl_method);
	vstr_free(st->sasl_username);
	vstr_free(st->spf.domain);
	vstr_free(st->spf.explanation);
	vstr_free(st->spf.header);
	myfree(st);
	return NULL;
}

static int
smtpd_params_discard(const char *list)
{
	static const struct {
		const char *name;
		int	    bit;
	} words[] = {
		{ "pipelining", SMTPD_EHLO_PIPELINING },
		{ "size", SMTPD_EHLO_SIZE },
		{ "vrfy", SMTPD_EHLO_VRFY },
		{ "etrn", SMTPD_EHLO_ETRN },
		{ "enhancedstatuscodes", SMTPD_EHLO_ENHANCED },
		{ "8bitmime", SMTPD_EHLO_8BITMIME },
		{ "dsn", SMTPD_EHLO_DSN },
		{ "smtputf8", SMTPD_EHLO_SMTPUTF8 },
		{ "chunking", SMTPD_EHLO_CHUNKING },
		{ "requiretls", SMTPD_EHLO_REQUIRETLS },
	};
	char *copy = mystrdup(list);
	char *cp = copy;
	char *word;
	int   bits = 0;

	while ((word = str_token(&cp, STR_SEP_LIST)) != NULL)
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strcasecmp(word, words[i].name) == 0)
				bits |= words[i].bit;
	myfree(copy);
	return bits;
}

/*
 * smtpd_reject_footer with main.cf's $names expanded now; the session's
 * own ($client_address ...) stay for smtpd_io.c.  One copy per process.
 */
static const char *
smtpd_params_footer(const CFG *cfg)
{
	static char *footer;
	VSTR	    *out = vstr_alloc(128);
	VSTR	    *why = vstr_alloc(64);

	footer = myfree(footer);
	if (cfg_expand_known(cfg, cfg_get_text(cfg, "smtpd_reject_footer"), out,
			     why)
	    < 0)
		msg_fatal_status(78, "smtpd_reject_footer: %s", VSTR_STR(why));
	footer = vstr_export(out);
	vstr_free(why);
	return footer;
}

/* smtpd_mail_auth_role; a word that is none of them is fatal. */
static int
smtpd_params_role(const char *role)
{
	static const struct {
		const char *name;
		int	    flags;
	} roles[] = {
		{ "auto", SMTPD_ROLE_AUTO },
		{ "outbound", CLEANUP_FLAG_SIGN },
		{ "inbound", CLEANUP_FLAG_VERIFY },
		{ "both", CLEANUP_FLAG_SIGN | CLEANUP_FLAG_VERIFY },
		{ "none", 0 },
	};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcasecmp(role, roles[i].name) == 0)
			return roles[i].flags;
	msg_fatal_status(78,
			 "bad smtpd_mail_auth_role value: \"%s\" (auto, "
			 "outbound, inbound, both or none)",
			 role);
}

/* Read every parameter a session uses; bad values are fatal (cfg.h). */
void
smtpd_params_load(struct smtpd_params *par, const CFG *cfg)
{
	const char *bare = cfg_get_str(cfg, "smtpd_forbid_bare_newline");
	long long   line = cfg_get_int(cfg, "line_length_limit");

	memset(par, 0, sizeof(*par));
	par->myhostname = cfg_get_str(cfg, "myhostname");
	par->banner = cfg_get_str(cfg, "smtpd_banner");
	par->timeout = (int)cfg_get_time(cfg, "smtpd_timeout");
	if (par->timeout > INT_MAX / 1000 || par->timeout <= 0)
		par->timeout = INT_MAX / 1000;
	par->recipient_limit = cfg_get_int(cfg, "smtpd_recipient_limit");
	par->soft_error_limit = cfg_get_int(cfg, "smtpd_soft_error_limit");
	par->hard_error_limit = cfg_get_int(cfg, "smtpd_hard_error_limit");
	par->error_sleep = (int)cfg_get_time(cfg, "smtpd_error_sleep_time");
	par->junk_limit = cfg_get_int(cfg, "smtpd_junk_command_limit");
	par->size_limit = cfg_get_size(cfg, "message_size_limit");
	par->queue_minfree = cfg_get_size(cfg, "queue_minfree");
	par->queue_dir = cfg_get_str(cfg, "queue_directory");
	/* RFC 5321 4.5.3.1.4: never below 512 octets. */
	par->line_limit = line < 512 ? 512 : (size_t)line;
	if (strcasecmp(bare, "reject") == 0)
		par->bare_reject = true;
	else if (strcasecmp(bare, "normalize") == 0
		 || strcasecmp(bare, "yes") == 0)
		par->bare_reject = false;
	else if (strcasecmp(bare, "no") == 0)
		msg_warn("smtpd_forbid_bare_newline = no: bare newlines are "
			 "still normalized (there is no pass-through)");
	else
		msg_fatal_status(78,
				 "bad smtpd_forbid_bare_newline value: "
				 "\"%s\" (normalize or reject)",
				 bare);
	par->allow_min_user = cfg_get_bool(cfg, "allow_min_user");
	par->disable_vrfy = cfg_get_bool(cfg, "disable_vrfy_command");
	par->helo_required = cfg_get_bool(cfg, "smtpd_helo_required");
	par->strict_rfc821 = cfg_get_bool(cfg, "strict_rfc821_envelopes");
	par->forbid_unauth_pipelining =
	    cfg_get_bool(cfg, "smtpd_forbid_unauth_pipelining");
	par->ehlo_discard = smtpd_params_discard(
	    cfg_get_str(cfg, "smtpd_discard_ehlo_keywords"));
	par->reject_footer = smtpd_params_footer(cfg);
	par->xforward_hosts = cfg_get_str(cfg,
					  "smtpd_authorized_xforward_hosts");
	par->content_filter = cfg_get_str(cfg, "content_filter");
	par->receive_override = receive_override_bits(cfg);
	par->auth_role = smtpd_params_role(
	    cfg_get_str(cfg, "smtpd_mail_auth_role"));
	smtpd_sasl_params_load(&par->sasl, cfg);
	smtpd_tls_params_load(&par->tls, cfg);
	smtpd_milter_params_load(par, cfg);
}
