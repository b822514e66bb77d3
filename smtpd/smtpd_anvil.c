/*
 * smtpd_anvil - the client connection and rate limits
 * (smtpd_client_*_limit), counted by anvil(8).
 *
 * A session whose client is not exempt (smtpd_client_event_limit_
 * exceptions) is counted under the ident "SERVICE:KEY", KEY the client's
 * address with IPv6 aggregated to smtpd_client_ipv6_prefix_length bits.
 * At CONNECT anvil counts the connection and answers how many this
 * client holds now and has made this unit; MAIL, RCPT, AUTH and each new
 * TLS session are counted only when their limit is set, as Postfix does.
 * Over a limit the command is refused with Postfix's reply and warning
 * (the numbers in the warning are anvil's, the event included); over the
 * connection limits the client gets 421 instead of the greeting.  The
 * session's end gives the connection back (hooks->anvil, "disconnect").
 *
 * anvil is an aid, never a gate: when it cannot be reached the session
 * logs one warning ("connect to private/anvil: ...") and goes on
 * without limits.
 *
 * Errors: replies; nothing dies but the allocators.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "smtpd/smtpd.h"
#include "util/msg.h"
#include "util/vstr.h"

void
smtpd_anvil_params_load(struct smtpd_anvil_params *par, const CFG *cfg,
			const char *service)
{
	memset(par, 0, sizeof(*par));
	par->service = service;
	par->exceptions = cfg_get_str(cfg,
				      "smtpd_client_event_limit_exceptions");
	par->v6_prefix = (int)cfg_get_int(cfg,
					  "smtpd_client_ipv6_prefix_length");
	par->count_limit = cfg_get_int(cfg,
				       "smtpd_client_connection_count_limit");
	par->rate_limit = cfg_get_int(cfg,
				      "smtpd_client_connection_rate_limit");
	par->message_limit = cfg_get_int(cfg,
					 "smtpd_client_message_rate_limit");
	par->recipient_limit = cfg_get_int(cfg,
					   "smtpd_client_recipient_rate_limit");
	par->newtls_limit =
	    cfg_get_int(cfg, "smtpd_client_new_tls_session_rate_limit");
	par->auth_limit = cfg_get_int(cfg, "smtpd_client_auth_rate_limit");
	par->enabled = par->count_limit > 0 || par->rate_limit > 0
		       || par->message_limit > 0 || par->recipient_limit > 0
		       || par->newtls_limit > 0 || par->auth_limit > 0;
}

/*
 * One request for this session's client: 0 with rp, or -1 when the
 * client is not counted or anvil failed (then warned once, and the
 * session stops asking).
 */
static int
smtpd_anvil_call(SMTPD_STATE *st, enum anvil_req req, struct anvil_reply *rp)
{
	VSTR *why;

	if (st->anvil_ident == NULL)
		return -1;
	why = vstr_alloc(64);
	if (st->hooks->anvil(st->ctx, req, VSTR_STR(st->anvil_ident), rp, why)
	    < 0) {
		msg_warn("%s", VSTR_STR(why));
		st->anvil_ident = vstr_free(st->anvil_ident);
		vstr_free(why);
		return -1;
	}
	vstr_free(why);
	return 0;
}

int
smtpd_anvil_connect(SMTPD_STATE *st)
{
	const struct smtpd_anvil_params *ap = &st->par->anvil;
	struct anvil_reply		 rp;
	VSTR				*why;

	if (!ap->enabled || st->hooks->anvil == NULL
	    || smtpd_peer_match_list(ap->exceptions, st->peer.addr))
		return 0;
	st->anvil_ident = vstr_alloc(64);
	why = vstr_alloc(64);
	if (anvil_ident(ap->service, st->peer.addr, ap->v6_prefix,
			st->anvil_ident, why)
	    < 0) {
		/* Not an IP client (stand-alone): nothing to count. */
		if (msg_verbose)
			msg_info("not counted by anvil: %s", VSTR_STR(why));
		st->anvil_ident = vstr_free(st->anvil_ident);
	}
	vstr_free(why);
	if (smtpd_anvil_call(st, ANVIL_REQ_CONNECT, &rp) < 0)
		return 0;
	if (ap->count_limit > 0 && rp.count > ap->count_limit) {
		msg_warn("Connection concurrency limit exceeded: %lld from "
			 "%s[%s] for service %s",
			 rp.count, st->peer.name, st->peer.addr, ap->service);
	} else if (ap->rate_limit > 0 && rp.rate > ap->rate_limit) {
		msg_warn("Connection rate limit exceeded: %lld from %s[%s] "
			 "for service %s",
			 rp.rate, st->peer.name, st->peer.addr, ap->service);
	} else {
		return 0;
	}
	smtpd_reply(st, "421 4.7.0 %s Error: too many connections from %s",
		    st->par->myhostname, st->peer.addr);
	return -1;
}

/* A rate event with its own limit: -1 when this one is over it. */
static int
smtpd_anvil_rate(SMTPD_STATE *st, enum anvil_req req, long long limit,
		 long long *rate)
{
	struct anvil_reply rp;

	if (limit <= 0 || smtpd_anvil_call(st, req, &rp) < 0)
		return 0;
	*rate = rp.rate;
	return rp.rate > limit ? -1 : 0;
}

/*
 * A MAIL, RCPT or AUTH over its rate limit: Postfix's warning ("WHAT rate
 * limit exceeded: ...") and 450 reply ("Error: TOO_MUCH from ADDR").
 */
static int
smtpd_anvil_event(SMTPD_STATE *st, enum anvil_req req, long long limit,
		  const char *what, const char *too_much)
{
	long long rate;

	if (smtpd_anvil_rate(st, req, limit, &rate) == 0)
		return 0;
	msg_warn("%s rate limit exceeded: %lld from %s[%s] for service %s",
		 what, rate, st->peer.name, st->peer.addr,
		 st->par->anvil.service);
	smtpd_reply(st, "450 4.7.1 Error: %s from %s", too_much, st->peer.addr);
	return -1;
}

int
smtpd_anvil_mail(SMTPD_STATE *st)
{
	return smtpd_anvil_event(st, ANVIL_REQ_MESSAGE,
				 st->par->anvil.message_limit,
				 "Message delivery request", "too much mail");
}

int
smtpd_anvil_rcpt(SMTPD_STATE *st)
{
	return smtpd_anvil_event(st, ANVIL_REQ_RECIPIENT,
				 st->par->anvil.recipient_limit,
				 "Recipient address", "too many recipients");
}

int
smtpd_anvil_auth(SMTPD_STATE *st)
{
	return smtpd_anvil_event(st, ANVIL_REQ_AUTH, st->par->anvil.auth_limit,
				 "AUTH command", "too many AUTH commands");
}

int
smtpd_anvil_starttls(SMTPD_STATE *st)
{
	long long	   limit = st->par->anvil.newtls_limit;
	struct anvil_reply rp;

	/* A check only: the handshake, if it happens, is counted after. */
	if (limit <= 0 || smtpd_anvil_call(st, ANVIL_REQ_NEWTLS_REPORT, &rp) < 0
	    || rp.rate < limit)
		return 0;
	msg_warn("New TLS session rate limit exceeded: %lld from %s[%s] for "
		 "service %s",
		 rp.rate + 1, st->peer.name, st->peer.addr,
		 st->par->anvil.service);
	smtpd_reply(st, "454 4.7.0 Error: too many new TLS sessions from %s",
		    st->peer.addr);
	return -1;
}

int
smtpd_anvil_newtls(SMTPD_STATE *st)
{
	long long rate;

	if (smtpd_anvil_rate(st, ANVIL_REQ_NEWTLS, st->par->anvil.newtls_limit,
			     &rate)
	    == 0)
		return 0;
	/* Others got their handshakes in first (or wrapper mode). */
	msg_warn("New TLS session rate limit exceeded: %lld from %s[%s] for "
		 "service %s",
		 rate, st->peer.name, st->peer.addr, st->par->anvil.service);
	smtpd_reply(st, "421 4.7.0 %s Error: too many new TLS sessions from %s",
		    st->par->myhostname, st->peer.addr);
	return -1;
}

void
smtpd_anvil_disconnect(SMTPD_STATE *st)
{
	struct anvil_reply rp;

	(void)smtpd_anvil_call(st, ANVIL_REQ_DISCONNECT, &rp);
	st->anvil_ident = vstr_free(st->anvil_ident);
}
