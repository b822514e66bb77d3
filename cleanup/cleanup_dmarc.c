/*
 * cleanup_dmarc - DMARC (RFC 7489) for inbound mail with libopendmarc:
 * the only file that includes the library.
 *
 * The policy record is fetched here through util/dns (dns_nameservers
 * holds) and handed to the library with opendmarc_policy_store_dmarc();
 * libopendmarc's own resolver is never used.  As OpenDMARC does, the
 * record is looked up at "_dmarc.<From domain>" and, when there is none,
 * at "_dmarc.<organizational domain>", which libopendmarc derives from
 * the public suffix list (dmarc_public_suffix_list, Debian's
 * publicsuffix package, read once before the jail).  A record found at
 * the organizational domain makes its sp= apply.  Only TXT records that
 * start with "v=DMARC1" count; several of them count as none (RFC 7489
 * section 6.6.3).
 *
 * The DKIM results and the SPF result (st->spf_*, from smtpd) go to the
 * library, which checks relaxed or strict alignment (adkim=, aspf=).
 * The verdict: pass; fail with the policy to apply; none (no record, no
 * usable From: domain); temperror (the record lookup failed
 * temporarily: the message is accepted, as OpenDMARC does); permerror
 * (a malformed record, or a From: naming several domains).
 *
 * pct= is sampled as OpenDMARC samples it: the policy applies when
 * random() % 100 < pct; otherwise the message is accepted and the
 * result still says fail.  p=quarantine puts the message on hold;
 * p=reject refuses it when dmarc_reject_enable is set and otherwise
 * only annotates it (OpenDMARC's RejectFailures=false).
 *
 * Errors: a public suffix list that cannot be read is fatal at start-up;
 * nothing else fails.
 *
 * SPDX-License-Identifier: ISC
 */
#include <opendmarc/dmarc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include "cleanup/cleanup_authres.h"
#include "util/msg.h"

/* Exported by libopendmarc (its milter uses it) but not in dmarc.h. */
int opendmarc_get_tld(u_char *domain, u_char *tld, size_t tld_len);

/* libopendmarc keeps a pointer to this for the life of the process. */
static OPENDMARC_LIB_T cleanup_dmarc_lib;

void
cleanup_dmarc_conf(CLEANUP_CONF *c, const CFG *cfg)
{
	const char    *psl = cfg_get_str(cfg, "dmarc_public_suffix_list");
	struct timeval tv;
	int	       n;

	c->dmarc_enable = cfg_get_bool(cfg, "dmarc_enable");
	c->dmarc_reject_enable = cfg_get_bool(cfg, "dmarc_reject_enable");
	if (!c->dmarc_enable)
		return;
	if (psl == NULL || *psl == 0 || access(psl, R_OK) < 0)
		msg_fatal("dmarc_public_suffix_list: cannot read \"%s\": %m",
			  psl ? psl : "");
	memset(&cleanup_dmarc_lib, 0, sizeof(cleanup_dmarc_lib));
	n = snprintf((char *)cleanup_dmarc_lib.tld_source_file,
		     sizeof(cleanup_dmarc_lib.tld_source_file), "%s", psl);
	if (n < 0 || (size_t)n >= sizeof(cleanup_dmarc_lib.tld_source_file))
		msg_fatal("dmarc_public_suffix_list: path too long");
	cleanup_dmarc_lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
	if (opendmarc_policy_library_init(&cleanup_dmarc_lib)
	    != DMARC_PARSE_OKAY)
		msg_fatal("dmarc_public_suffix_list: libopendmarc cannot load "
			  "\"%s\"",
			  psl);
	/* pct= sampling; no secret depends on it. */
	gettimeofday(&tv, NULL);
	srandom((unsigned)(tv.tv_sec ^ tv.tv_usec ^ getpid()));
}

/* "v=DMARC1" followed by the end, a ';' or white space. */
static bool
cleanup_dmarc_is_record(const char *text)
{
	return strncasecmp(text, "v=DMARC1", 8) == 0
	       && (text[8] == 0 || text[8] == ';' || text[8] == ' '
		   || text[8] == '\t');
}

/* The record of one domain: 1 found (in rec), 0 none, -1 tempfail. */
static int
cleanup_dmarc_fetch(CLEANUP_STATE *st, DNS *dns, const char *domain, VSTR *rec)
{
	DNS_REPLY *reply = dns_reply_alloc();
	VSTR	  *name = vstr_alloc(64), *why = vstr_alloc(64);
	size_t	   i, found = 0;
	int	   ret = 0;

	vstr_sprintf(name, "_dmarc.%s", domain);
	if (VSTR_LEN(name) <= DNS_NAME_MAX) {
		switch (
		    dns_lookup(dns, VSTR_STR(name), DNS_TYPE_TXT, reply, why)) {
		case DNS_OK:
			for (i = 0; i < reply->count; i++) {
				const VSTR *t = reply->rr[i].data;

				if (cleanup_dmarc_is_record(VSTR_STR(t))) {
					vstr_memcpy(rec, VSTR_STR(t),
						    VSTR_LEN(t));
					found++;
				}
			}
			ret = found == 1 ? 1 : 0;
			break;
		case DNS_NOTFOUND:
			break;
		default:
			msg_info("%s: DMARC record %s: %s", VSTR_STR(st->qid),
				 VSTR_STR(name), VSTR_STR(why));
			ret = -1;
			break;
		}
	}
	dns_reply_free(reply);
	vstr_free(name);
	vstr_free(why);
	return ret;
}

static int
cleanup_dmarc_spf_outcome(const char *r)
{
	if (strcmp(r, "pass") == 0)
		return DMARC_POLICY_SPF_OUTCOME_PASS;
	if (strcmp(r, "fail") == 0 || strcmp(r, "softfail") == 0
	    || strcmp(r, "permerror") == 0)
		return DMARC_POLICY_SPF_OUTCOME_FAIL;
	if (strcmp(r, "temperror") == 0)
		return DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
	return DMARC_POLICY_SPF_OUTCOME_NONE;
}

static int
cleanup_dmarc_dkim_outcome(const char *r)
{
	if (strcmp(r, "pass") == 0)
		return DMARC_POLICY_DKIM_OUTCOME_PASS;
	if (strcmp(r, "temperror") == 0)
		return DMARC_POLICY_DKIM_OUTCOME_TMPFAIL;
	return DMARC_POLICY_DKIM_OUTCOME_FAIL;
}

static const char *
cleanup_dmarc_pword(int p)
{
	switch (p) {
	case DMARC_RECORD_P_REJECT:
		return "reject";
	case DMARC_RECORD_P_QUARANTINE:
		return "quarantine";
	default:
		return "none";
	}
}

/* Hand the evidence to libopendmarc and apply its verdict. */
static void
cleanup_dmarc_policy(CLEANUP_STATE *st, const char *from, const char *org,
		     VSTR *rec, const struct cleanup_dkim_result *dkim,
		     size_t ndkim, struct cleanup_dmarc_out *out)
{
	const char     *ip = st->client_addr ? st->client_addr : "0.0.0.0";
	DMARC_POLICY_T *pctx;
	int		pol, p = 0, pct = 100;
	const char     *dis = "none";
	size_t		i;

	pctx = opendmarc_policy_connect_init((u_char *)ip,
					     strchr(ip, ':') != NULL);
	if (pctx == NULL) {
		out->result = "temperror";
		return;
	}
	(void)opendmarc_policy_store_from_domain(pctx, (u_char *)from);
	if (opendmarc_policy_store_dmarc(pctx, (u_char *)VSTR_STR(rec),
					 (u_char *)from, (u_char *)org)
	    != DMARC_PARSE_OKAY) {
		out->result = "permerror";
		(void)opendmarc_policy_connect_shutdown(pctx);
		return;
	}
	if (st->spf_result && st->spf_domain && *st->spf_domain)
		(void)opendmarc_policy_store_spf(
		    pctx, (u_char *)st->spf_domain,
		    cleanup_dmarc_spf_outcome(st->spf_result),
		    st->spf_identity && strcmp(st->spf_identity, "helo") == 0
			? DMARC_POLICY_SPF_ORIGIN_HELO
			: DMARC_POLICY_SPF_ORIGIN_MAILFROM,
		    NULL);
	for (i = 0; i < ndkim; i++)
		if (dkim[i].domain && *dkim[i].domain)
			(void)opendmarc_policy_store_dkim(
			    pctx, (u_char *)dkim[i].domain,
			    (u_char *)(dkim[i].selector ? dkim[i].selector
							: ""),
			    cleanup_dmarc_dkim_outcome(dkim[i].result), NULL);
	pol = opendmarc_get_policy_to_enforce(pctx);
	if (opendmarc_policy_fetch_pct(pctx, &pct) != DMARC_PARSE_OKAY
	    || pct < 0 || pct > 100)
		pct = 100;
	switch (pol) {
	case DMARC_POLICY_PASS:
		out->result = "pass";
		break;
	case DMARC_POLICY_NONE:
		out->result = "fail";
		p = DMARC_RECORD_P_NONE;
		break;
	case DMARC_POLICY_QUARANTINE:
		out->result = "fail";
		p = DMARC_RECORD_P_QUARANTINE;
		if (random() % 100 < pct) {
			out->action = CLEANUP_DMARC_QUARANTINE;
			dis = "quarantine";
		}
		break;
	case DMARC_POLICY_REJECT:
		out->result = "fail";
		p = DMARC_RECORD_P_REJECT;
		if (random() % 100 < pct && st->conf->dmarc_reject_enable) {
			out->action = CLEANUP_DMARC_REJECT;
			dis = "reject";
		}
		break;
	case DMARC_POLICY_ABSENT:
	case DMARC_FROM_DOMAIN_ABSENT:
		out->result = "none";
		break;
	default:
		out->result = "permerror";
		break;
	}
	if (p != 0)
		snprintf(out->comment, sizeof(out->comment), "p=%s dis=%s",
			 cleanup_dmarc_pword(p), dis);
	(void)opendmarc_policy_connect_shutdown(pctx);
}

void
cleanup_dmarc_eval(CLEANUP_STATE *st, DNS *dns, int from_status,
		   const char *from, const struct cleanup_dkim_result *dkim,
		   size_t ndkim, struct cleanup_dmarc_out *out)
{
	u_char	    org[256];
	const char *used_org = NULL;
	VSTR	   *rec;
	int	    found;

	out->result = "none";
	out->comment[0] = 0;
	out->action = CLEANUP_DMARC_ACCEPT;
	if (from_status < 0) {
		out->result = "permerror";
		snprintf(out->comment, sizeof(out->comment),
			 "several From domains");
		return;
	}
	if (from_status == 0 || from == NULL || strlen(from) >= sizeof(org))
		return;
	rec = vstr_alloc(128);
	found = cleanup_dmarc_fetch(st, dns, from, rec);
	if (found == 0) {
		memset(org, 0, sizeof(org));
		if (opendmarc_get_tld((u_char *)from, org, sizeof(org)) == 0
		    && org[0] != 0 && strcasecmp((char *)org, from) != 0) {
			used_org = (const char *)org;
			found = cleanup_dmarc_fetch(st, dns, used_org, rec);
		}
	}
	if (found < 0)
		out->result = "temperror";
	else if (found > 0)
		cleanup_dmarc_policy(st, from, used_org, rec, dkim, ndkim, out);
	vstr_free(rec);
}
