/*
 * smtpd_check - the SMTP server's restriction engine (Postfix semantics).
 *
 * smtpd_check_create() runs in pre_jail: it reads the restriction lists
 * (smtpd_client/helo/sender/relay/recipient/data/etrn_restrictions and
 * the address-class parameters mydestination, relay_domains, mynetworks,
 * virtual_*_domains, local_recipient_maps ...) and opens every table they
 * name, so nothing is opened after the chroot.  It returns NULL with `why`
 * set when a list names an unknown restriction or lacks its argument,
 * when the relay and recipient lists together would make an open relay,
 * or when the DNS resolver cannot be set up.
 *
 * smtpd_check() evaluates the list(s) for one stage and fills `res`:
 * action OK, REJECT, DEFER, DISCARD or HOLD (and the header fields of
 * PREPEND actions in res->prepend); for REJECT and DEFER
 * res->reply holds the complete reply line without CRLF, e.g.
 * "554 5.7.1 <u@remote.test>: Relay access denied".  With
 * smtpd_delay_reject=yes (the default) the client, HELO and sender lists
 * are evaluated at the RCPT stage (ahead of the relay and recipient
 * lists) and CONNECT/HELO/MAIL always answer OK.  DISCARD and HOLD are
 * message-wide: the caller remembers them for the rest of the transaction
 * (CLEANUP_FLAG_DISCARD / CLEANUP_FLAG_HOLD) and keeps accepting.
 * smtpd_check() returns 0, or -1 on an internal error (a table lookup
 * failure, a table that could not be opened at start-up, a bad action in
 * an access table), with res = DEFER "451 4.3.0 Server configuration
 * error".  DNS-based restrictions answer 450/4.x.x on a temporary DNS
 * failure; an unreachable DNS block list never blocks.
 *
 * Facts per stage: CONNECT needs client_*; HELO adds helo; MAIL adds
 * sender (sender_path may be NULL: the text is then parsed here); RCPT
 * and VRFY add recipient (rcpt_path likewise optional; VRFY is checked
 * like RCPT); ETRN passes its domain argument in `recipient`; DATA uses
 * what the transaction has.  Unknown facts are NULL and the restrictions
 * that need them have no opinion (reject_spf_* on a message whose SPF was
 * not checked, outbound mail, is a no-op).
 *
 * A table that cannot be opened does not make create fail (Postfix does
 * the same): it is logged and the requests that need it are deferred.
 *
 * Ownership: SMTPD_CHECK is the caller's (smtpd_check_free returns NULL).
 * res->reply is allocated by the caller (vstr_alloc); smtpd_check only
 * overwrites it.  The facts are borrowed for the duration of the call.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef SMTPD_SMTPD_CHECK_H
#define SMTPD_SMTPD_CHECK_H

#include <stdbool.h>

#include "util/addr.h"
#include "util/cfg.h"
#include "util/vstr.h"

/* What smtpd knows about the session when it asks. */
struct smtpd_check_facts {
	const char	*client_addr;	/* "127.0.0.1" */
	const char	*client_name;	/* reverse name or "unknown" */
	const char	*helo;		/* NULL before HELO/EHLO */
	const char	*sender;	/* NULL before MAIL; "" for <> */
	const char	*recipient;	/* RCPT stage only */
	const ADDR_SMTP *sender_path;	/* parsed MAIL path (NULL before) */
	const ADDR_SMTP *rcpt_path;	/* parsed RCPT path (RCPT stage) */
	const char	*sasl_username; /* NULL unless authenticated */
	bool		 tls;
	int		 rcpt_count; /* accepted so far */
	/* SPF of this transaction (smtpd_spf.h); NULL: not checked. */
	const char *spf_result; /* "pass", "fail", ... */
	const char *spf_domain;
	const char *spf_explanation;
	/* More for check_policy_service (Postfix's request attributes). */
	const char *protocol_state; /* "RCPT", "END-OF-MESSAGE" ... */
	const char *protocol_name;  /* "SMTP", "ESMTP" ... */
	const char *client_port;
	const char *server_addr, *server_port;
	const char *instance; /* one per message transaction */
	const char *queue_id; /* NULL: not known yet */
	const char *sasl_method;
	const char *sasl_sender;  /* MAIL FROM AUTH= */
	long long   size;	  /* SIZE=, or the content at EOD; 0 */
	const char *tls_protocol; /* NULL without TLS */
	const char *tls_cipher;
	int	    tls_keysize;
	/* Client certificate: names when trusted, fingerprints when sent. */
	const char *ccert_subject; /* NULL: none */
	const char *ccert_issuer;
	const char *ccert_fingerprint;
	const char *ccert_pkey_fingerprint;
};

enum smtpd_check_stage {
	SMTPD_CHECK_CONNECT,
	SMTPD_CHECK_HELO,
	SMTPD_CHECK_MAIL,
	SMTPD_CHECK_RCPT,
	SMTPD_CHECK_DATA,
	SMTPD_CHECK_ETRN,
	SMTPD_CHECK_VRFY,
	SMTPD_CHECK_EOD, /* after the final dot, before the 250 */
};

enum smtpd_check_action {
	SMTPD_ACT_OK,
	SMTPD_ACT_REJECT,
	SMTPD_ACT_DEFER,
	SMTPD_ACT_DISCARD,
	SMTPD_ACT_HOLD,
};

struct smtpd_check_result {
	enum smtpd_check_action action;
	VSTR		       *reply; /* full reply line for REJECT/DEFER */
	/*
	 * Header fields from PREPEND actions, each followed by '\n', in the
	 * order found; the caller allocates it (NULL: PREPEND is refused)
	 * and keeps what it needs: smtpd_check only appends.
	 */
	VSTR *prepend;
	/*
	 * FILTER transport:nexthop found by this check (the last one
	 * wins), "" when none; the caller allocates it, NULL: ignored.
	 */
	VSTR *filter;
};

typedef struct SMTPD_CHECK SMTPD_CHECK;

/* pre_jail: opens every table named in the restriction lists. */
SMTPD_CHECK *smtpd_check_create(const CFG *cfg, VSTR *why);
SMTPD_CHECK *smtpd_check_free(SMTPD_CHECK *c);

int
smtpd_check(SMTPD_CHECK *c, enum smtpd_check_stage stage,
	    const struct smtpd_check_facts *f, struct smtpd_check_result *res);

/*
 * Address classes, also useful to smtpd itself: whether a client address
 * matches mynetworks, and whether a domain is local (mydestination, or an
 * address literal of inet_interfaces / proxy_interfaces; "[IPv6:...]"
 * accepted).  A table failure answers false.
 */
bool smtpd_check_mynetworks(SMTPD_CHECK *c, const char *client_addr);
bool smtpd_check_local_domain(SMTPD_CHECK *c, const char *domain);

#endif
