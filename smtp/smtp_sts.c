/*
 * smtp_sts - the SMTP client's side of MTA-STS (RFC 8461).
 *
 * With smtp_mta_sts_enable = yes (SMTP only; the lmtp service never
 * applies MTA-STS), a delivery whose next hop is a domain looked up by
 * MX (not "[host]", not an address, not relayhost) asks mtasts(8) for
 * the domain's policy (util/mta_sts_proto.h over private/mtasts), unless
 * DANE wins (RFC 8461 2): the TLS level of the next hop is dane, the MX
 * answer was DNSSEC-validated and the first MX host has validated TLSA
 * records (smtp_tls_dane_usable).  The wait is bounded by
 * smtp_mta_sts_fetch_timeout plus five seconds; when mtasts is down or
 * slow a warning is logged and the mail goes as without a policy.
 *
 * enforce: MX hosts that the policy does not name are dropped from the
 * address list (none left: the recipients are deferred, 4.7.5); each
 * session then needs STARTTLS and a certificate that chains to
 * smtp_tls_CAfile/CApath and names the MX host (smtp_tls.c raises the
 * level to verify), and a failure defers with "MTA-STS policy for
 * DOMAIN: ...").  testing: the mail goes as without a policy, except
 * that TLS is at least opportunistic (level may) so that the policy can
 * be checked; a host the policy does not name and a session that would
 * have failed are logged ("MTA-STS policy for DOMAIN (testing): ...").
 * mode none: as without a policy.
 *
 * Errors: none leave this file; problems with mtasts are logged and the
 * delivery goes on without a policy.
 *
 * Ownership: d->sts belongs to the delivery (smtp_sts_free).
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp.h"
#include "util/attr.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mta_sts_proto.h"
#include "util/mymalloc.h"

void
smtp_sts_init(SMTP_STATE *st, const CFG *cfg)
{
	/* LMTP goes to a local store: there is no MX to protect. */
	st->sts_enable = !st->conf.lmtp
			 && cfg_get_bool(cfg, "smtp_mta_sts_enable");
	st->sts_wait_ms = (int)(cfg_get_time(cfg, "smtp_mta_sts_fetch_timeout")
				+ 5)
			  * 1000;
	st->relayhost = cfg_get_str(cfg, "relayhost");
}

struct smtp_sts *
smtp_sts_free(struct smtp_sts *sts)
{
	if (sts != NULL) {
		mta_sts_policy_free(&sts->policy);
		vstr_free(sts->id);
		vstr_free(sts->domain);
		myfree(sts);
	}
	return NULL;
}

/* Is host a domain name (not an address literal)? */
static bool
smtp_sts_is_domain(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) != 1
	       && inet_pton(AF_INET6, host, buf) != 1
	       && strncasecmp(host, "ipv6:", 5) != 0
	       && strncmp(host, "unix:", 5) != 0 && mta_sts_domain_ok(host);
}

struct smtp_sts *
smtp_sts_lookup(SMTP_STATE *st, const SMTP_DELIVERY *d, const char *domain,
		bool no_mx)
{
	struct mta_sts_request rq = { .domain = domain };
	struct mta_sts_reply   rp;
	struct smtp_sts	      *sts;
	ATTR		      *req;
	ATTR		      *rep;
	VSTR		      *why;
	const char	      *qid = d->req->queue_id;

	if (!st->sts_enable || no_mx || !st->conf.use_dns
	    || !smtp_sts_is_domain(domain)
	    || (*st->relayhost && strcmp(st->relayhost, d->req->nexthop) == 0))
		return NULL;
	req = attr_alloc();
	rep = attr_alloc();
	why = vstr_alloc(64);
	memset(&rp, 0, sizeof(rp));
	mta_sts_request_encode(&rq, req);
	sts = NULL;
	if (ipc_call("private/mtasts", req, rep, st->sts_wait_ms, why) < 0) {
		msg_warn("%s: MTA-STS policy of %s unavailable (mtasts: %s); "
			 "delivering as without a policy",
			 qid, domain, VSTR_STR(why));
		goto out;
	}
	if (mta_sts_reply_decode(rep, &rp, why) < 0) {
		msg_warn("%s: bad reply from mtasts: %s; delivering as "
			 "without an MTA-STS policy",
			 qid, VSTR_STR(why));
		goto out;
	}
	if (rp.status == MTA_STS_STAT_FAIL) {
		msg_warn("%s: mtasts failed for %s: %s; delivering as "
			 "without an MTA-STS policy",
			 qid, domain, rp.detail);
		goto out;
	}
	/*
	 * A fetch that failed (sts-policy-fetch-error, sts-policy-invalid)
	 * is a failed attempt for TLS-RPT, under the cached policy if one
	 * still applies.
	 */
	if (*rp.failure) {
		msg_info("%s: MTA-STS policy of %s: %s: %s%s", qid, domain,
			 rp.failure, rp.detail,
			 rp.status == MTA_STS_STAT_POLICY
			     ? " (the cached policy applies)"
			     : "");
		if (rp.status == MTA_STS_STAT_POLICY)
			mta_sts_policy_text(&rp.policy, why);
		smtp_tlsrpt_note_mx(st, NULL, domain, "sts",
				    rp.status == MTA_STS_STAT_POLICY
					? VSTR_STR(why)
					: NULL,
				    rp.failure, rp.detail);
	}
	if (rp.status != MTA_STS_STAT_POLICY
	    || rp.policy.mode == MTA_STS_MODE_NONE)
		goto out;
	sts = mycalloc(1, sizeof(*sts));
	sts->domain = vstr_alloc(64);
	vstr_strcpy(sts->domain, domain);
	vstr_lower(sts->domain);
	sts->id = vstr_alloc(40);
	vstr_strcpy(sts->id, rp.id);
	mta_sts_policy_copy(&sts->policy, &rp.policy);
	/* RFC 8689 4.2.1: a REQUIRETLS message enforces a testing policy. */
	sts->enforce = rp.policy.mode == MTA_STS_MODE_ENFORCE
		       || (rp.policy.mode == MTA_STS_MODE_TESTING
			   && d->requiretls);
	/*
	 * RFC 8689 5: "TLS-Required: No" (in a message without REQUIRETLS)
	 * asks that the policy not stop delivery: failures are logged and
	 * reported as under testing, and the mail goes.
	 */
	if (sts->enforce && d->tls_required_no && !d->requiretls) {
		msg_info("%s: MTA-STS policy of %s: not enforced for this "
			 "message (TLS-Required: No)",
			 qid, domain);
		sts->enforce = false;
	}
	if (msg_verbose)
		msg_info("%s: MTA-STS policy of %s: id %s, mode %s", qid,
			 domain, rp.id, mta_sts_mode_name(rp.policy.mode));
out:
	mta_sts_policy_free(&rp.policy);
	attr_free(req);
	attr_free(rep);
	vstr_free(why);
	return sts;
}

int
smtp_sts_filter(SMTP_STATE *st, const struct smtp_sts *sts,
		const SMTP_DELIVERY *d, SMTP_ADDRS *addrs, VSTR *why)
{
	size_t kept = 0;
	VSTR  *text = NULL;

	for (size_t i = 0; i < addrs->n; i++) {
		const char *host = addrs->v[i].host;

		if (mta_sts_policy_match(&sts->policy, host)) {
			addrs->v[kept++] = addrs->v[i];
			continue;
		}
		/* Log each host once (it may have several addresses). */
		if (i == 0 || strcmp(addrs->v[i - 1].host, host) != 0)
			msg_info("%s: MTA-STS policy for %s%s: MX host %s "
				 "does not match the policy%s",
				 d->req->queue_id, VSTR_STR(sts->domain),
				 sts->enforce ? "" : " (testing)", host,
				 sts->enforce ? ": not used" : ": used anyway");
		/*
		 * TLS-RPT: under enforce the host is an attempt that failed
		 * validation; under testing its session is reported instead.
		 */
		if (!sts->enforce) {
			addrs->v[kept++] = addrs->v[i];
		} else if (i == 0 || strcmp(addrs->v[i - 1].host, host) != 0) {
			if (text == NULL) {
				text = vstr_alloc(100);
				mta_sts_policy_text(&sts->policy, text);
			}
			smtp_tlsrpt_note_mx(st, host, VSTR_STR(sts->domain),
					    "sts", VSTR_STR(text),
					    "validation-failure",
					    "MX host does not match the "
					    "MTA-STS policy");
		}
	}
	addrs->n = kept;
	if (text != NULL)
		vstr_free(text);
	if (kept == 0) {
		vstr_sprintf(why,
			     "MTA-STS policy for %s: no MX host matches the "
			     "policy (mx: ",
			     VSTR_STR(sts->domain));
		for (size_t i = 0; i < sts->policy.nmx; i++)
			vstr_sprintf_append(why, "%s%s", i ? ", " : "",
					    sts->policy.mx[i]);
		vstr_strcat(why, ")");
		return -1;
	}
	return 0;
}
