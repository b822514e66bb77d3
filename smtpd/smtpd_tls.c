/*
 * smtpd_tls - STARTTLS (RFC 3207) and wrapper mode in the SMTP server.
 *
 * The session never touches OpenSSL: the handshake is a hook
 * (smtpd_hooks.tls_start) that smtpd.c fills with util/tls, after which
 * its read and write hooks go through TLS.  This file decides when TLS
 * is offered and required, and what the session forgets across the
 * handshake: everything the client pipelined after STARTTLS is thrown
 * away before the handshake (CVE-2011-0411: plain-text commands must
 * never be run as if they came over TLS), and HELO/EHLO, the
 * transaction and any SASL state start over (RFC 3207 4.2).
 *
 * Errors: replies for protocol errors; a failed handshake ends the
 * session (logged here).  Nothing dies but the allocators.
 *
 * SPDX-License-Identifier: ISC
 */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "smtpd/smtpd.h"
#include "util/cfg_compat.h"
#include "util/msg.h"
#include "util/vstr.h"

void
smtpd_tls_params_load(struct smtpd_tls_params *par, const CFG *cfg)
{
	/* smtpd_use_tls / smtpd_enforce_tls when the level is empty. */
	const char *level = cfg_compat_tls_level(cfg, CFG_COMPAT_SMTPD, true);
	long long   t = cfg_get_time(cfg, "smtpd_starttls_timeout");

	memset(par, 0, sizeof(*par));
	if (*level == 0 || strcasecmp(level, "none") == 0)
		par->level = SMTPD_TLS_NONE;
	else if (strcasecmp(level, "may") == 0)
		par->level = SMTPD_TLS_MAY;
	else if (strcasecmp(level, "encrypt") == 0)
		par->level = SMTPD_TLS_ENCRYPT;
	else
		msg_fatal_status(78,
				 "bad smtpd_tls_security_level value: "
				 "\"%s\" (none, may or encrypt)",
				 level);
	par->wrappermode = cfg_get_bool(cfg, "smtpd_tls_wrappermode");
	par->timeout = t <= 0 || t > INT_MAX / 1000 ? INT_MAX / 1000 : (int)t;
	par->received_header = cfg_get_bool(cfg, "smtpd_tls_received_header");
}

/* Is STARTTLS offered now? */
static bool
smtpd_tls_offered(const SMTPD_STATE *st)
{
	return st->par->tls.level != SMTPD_TLS_NONE && !st->tls
	       && st->hooks->tls_start != NULL;
}

void
smtpd_tls_ehlo(SMTPD_STATE *st)
{
	if (smtpd_tls_offered(st))
		smtpd_reply(st, "250-STARTTLS");
}

int
smtpd_tls_required(SMTPD_STATE *st)
{
	if (st->par->tls.level == SMTPD_TLS_ENCRYPT && !st->tls) {
		smtpd_reply(st, "530 5.7.0 Must issue a STARTTLS command "
				"first");
		return -1;
	}
	return 0;
}

int
smtpd_tls_can_starttls(SMTPD_STATE *st, const char *args)
{
	if (*args) {
		smtpd_reply(st, "501 5.5.4 Syntax: STARTTLS");
		return -1;
	}
	if (st->tls) {
		smtpd_reply(st, "554 5.5.1 Error: TLS already active");
		return -1;
	}
	if (!smtpd_tls_offered(st)) {
		smtpd_reply(st, "502 5.5.1 Error: command not implemented");
		return -1;
	}
	if (st->stage >= SMTPD_ST_MAIL) {
		smtpd_reply(st,
			    "503 5.5.1 Error: MAIL transaction in progress");
		return -1;
	}
	return 0;
}

/* Handshake; 0, or -1 after logging (the session must end). */
static int
smtpd_tls_handshake(SMTPD_STATE *st)
{
	VSTR		      *why = vstr_alloc(100);
	VSTR		      *info = vstr_alloc(100);
	struct smtpd_tls_cert *cert = &st->tls_cert;

	if (cert->subject == NULL) {
		cert->subject = vstr_alloc(64);
		cert->issuer = vstr_alloc(64);
		cert->fingerprint = vstr_alloc(100);
		cert->pkey_fingerprint = vstr_alloc(100);
	}
	if (st->hooks->tls_start(st->io, st->ctx, st->par->tls.timeout * 1000,
				 info, cert, why)
	    < 0) {
		msg_info("SSL_accept error from %s[%s]: %s", st->peer.name,
			 st->peer.addr, VSTR_STR(why));
		vstr_free(why);
		vstr_free(info);
		st->io_error = true;
		return -1;
	}
	vstr_free(why);
	vstr_free(st->tls_info);
	st->tls_info = info;
	st->tls = true;
	return 0;
}

int
smtpd_tls_starttls(SMTPD_STATE *st, const char *args)
{
	(void)args;
	if (smtpd_anvil_starttls(st) < 0)
		return -1;
	smtpd_reply(st, "220 2.0.0 Ready to start TLS");
	if (smtpd_io_flush(st) < 0)
		return -1;
	/* CVE-2011-0411: nothing sent before the handshake is a command. */
	if (smtpd_io_avail(st) > 0)
		smtpd_io_consume(st, smtpd_io_avail(st));
	if (smtpd_tls_handshake(st) < 0 || smtpd_anvil_newtls(st) < 0) {
		smtpd_state_set(st, SMTPD_ST_QUIT);
		return -1;
	}
	/* RFC 3207 4.2: forget what the client told us in plain text. */
	smtpd_reset_transaction(st);
	smtpd_sasl_reset(st);
	vstr_reset(st->helo);
	st->esmtp = false;
	st->protocol = "SMTP";
	smtpd_state_set(st, SMTPD_ST_CONNECTED);
	return 0;
}

int
smtpd_tls_wrapper(SMTPD_STATE *st)
{
	if (!st->par->tls.wrappermode)
		return 0;
	if (st->hooks->tls_start == NULL) {
		msg_warn("smtpd_tls_wrappermode is set but TLS is not "
			 "configured: closing %s[%s]",
			 st->peer.name, st->peer.addr);
		return -1;
	}
	if (smtpd_tls_handshake(st) < 0)
		return -1;
	return smtpd_anvil_newtls(st);
}
