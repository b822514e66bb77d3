/*
 * smtp_tls - the SMTP client's TLS policy: STARTTLS, certificate checks
 * and DANE (RFC 7672).
 *
 * The level of a session comes from smtp_tls_policy_maps (looked up with
 * the next hop as qmgr gave it, then with its bare domain; value "level
 * [match=name:name...]") or else smtp_tls_security_level:
 *   none     never STARTTLS;
 *   may      STARTTLS when offered, any certificate;
 *   encrypt  STARTTLS required, any certificate;
 *   verify   chain trusted by smtp_tls_CAfile/CApath, name = MX host
 *            (or the match= names);
 *   secure   as verify, names = the next-hop domain and its subdomains;
 *   dane     TLSA records of _port._tcp.host, trusted only when the
 *            resolver set the AD bit: usable DANE-TA(2)/DANE-EE(3)
 *            records make TLS and a matching certificate mandatory;
 *            records that are all unusable make it "encrypt"; no
 *            (validated) records make it "may" (RFC 7672 2.2).  A failed
 *            TLSA lookup defers.
 * The mandatory levels (encrypt, dane with usable records, verify,
 * secure, and wrapper mode) use smtp_tls_mandatory_protocols and
 * smtp_tls_mandatory_ciphers, the opportunistic ones smtp_tls_protocols
 * and smtp_tls_ciphers (two client contexts), as Postfix does.  With
 * smtp_tls_note_starttls_offer, a server that offers STARTTLS to a
 * session at level none is logged ("Host offered STARTTLS: [host]").
 * With smtp_tls_wrappermode the handshake comes first (implicit TLS,
 * port 465) at level encrypt or the level of the policy if higher.
 * MTA-STS (smtp_sts.c): under an enforced policy a host without usable
 * DANE records gets at least level verify with the MX host as the name
 * to match, and every deferral names the policy ("MTA-STS policy for
 * DOMAIN: ..."); under testing it gets at least may, and what enforce
 * would have refused is logged.
 * A session that cannot meet its level is given up and its recipients
 * deferred (4.7.4 not offered, 4.7.5 handshake or verification) with a
 * reason that names the cause; other MX hosts are then tried.
 * TLS-RPT (smtp_tlsrpt.c): each attempt is noted once, under "tlsa"
 * (usable DANE records; tlsa-invalid when none is usable, dnssec-invalid
 * when the lookup failed) or "no-policy-found" (any other level but
 * none), as success once the certificate passed its level's check, or
 * as starttls-not-supported, validation-failure (handshake) or the
 * verification failure (util/tlsrpt: tlsrpt_result_from_verdict).
 * SNI (smtp_tls_servername): see smtp_tls_sni() below.
 *
 * RFC 8689: a REQUIRETLS message raises the level to at least encrypt,
 * and its TLS policy failures become 5.7.30 bounces (still tried with the
 * next server; smtp_proto.c checks DANE/MTA-STS verification and the
 * server's REQUIRETLS before MAIL).  session->tls_verified records a
 * DANE-verified certificate.  "TLS-Required: No" in a message without
 * REQUIRETLS turns failures of a DANE policy (records found) into
 * opportunistic TLS, logged.
 *
 * Errors: bad settings are fatal in pre_jail; everything else is a
 * recipient result.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smtp/smtp.h"
#include "util/cfg_compat.h"
#include "util/dict.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/tlsrpt.h"
#include "util/tls.h"

#define SMTP_TLS_MATCH_MAX  16	 /* names in one match= list */
#define SMTP_TLS_PLAIN_MAX  16	 /* servers remembered as TLS-broken */
#define SMTP_TLS_PLAIN_TIME 3600 /* ... for this many seconds */

/* A server whose handshake failed under "may": plain text for a while. */
struct smtp_tls_plain {
	char  *key; /* "addr:port" */
	time_t until;
};

struct smtp_tls {
	TLS_CTX		     *ctx;     /* NULL: TLS unavailable */
	VSTR		     *ctx_why; /* why ctx is NULL */
	TLS_CTX		     *mctx;    /* mandatory levels; NULL likewise */
	VSTR		     *mctx_why;
	bool		      note_offer; /* smtp_tls_note_starttls_offer */
	int		      level;	  /* smtp_tls_security_level */
	DICT_LIST	     *policy;	  /* smtp_tls_policy_maps, or NULL */
	const char	     *servername; /* smtp_tls_servername */
	DNS_REPLY	     *tlsa;
	struct smtp_tls_plain plain[SMTP_TLS_PLAIN_MAX];
	size_t		      plain_next;
	bool retry_plain; /* the last session should be retried */
	bool wrappermode; /* smtp_tls_wrappermode */
};

/* The policy of one session. */
struct smtp_tls_policy {
	int    level;
	char  *names[SMTP_TLS_MATCH_MAX]; /* match=, owned */
	size_t nnames;
};

/*
 * TLS-RPT (smtp_tlsrpt.c): the policy a session is reported under, set
 * once the policy is known; type NULL once reported (or not reported).
 */
struct smtp_tls_rpt {
	const char *type; /* "tlsa", "no-policy-found", NULL */
	VSTR	   *text; /* tlsa: "U S M hex" lines */
	VSTR	   *domain;
};

/* The name of an smtp_X parameter for this client (smtp_param.c). */
#define P(name) smtp_param(st->conf.lmtp, (name))

void
smtp_tls_init(SMTP_STATE *st, const CFG *cfg)
{
	struct smtp_tls *t = mycalloc(1, sizeof(*t));
	/*
	 * smtp_use_tls / smtp_enforce_tls when the level is empty; LMTP has
	 * only lmtp_tls_security_level.
	 */
	const char *level = st->conf.lmtp
				? cfg_get_str(cfg, P("smtp_tls_security_level"))
				: cfg_compat_tls_level(cfg, CFG_COMPAT_SMTP,
						       true);
	const char *maps = cfg_get_str(cfg, P("smtp_tls_policy_maps"));
	struct tls_client_opts o;
	VSTR		      *why = vstr_alloc(100);

	if ((t->level = tls_level_parse(level)) < 0)
		msg_fatal_status(78,
				 "bad %s value: \"%s\" (none, may, encrypt, "
				 "dane, verify, secure)",
				 P("smtp_tls_security_level"), level);
	if (*maps
	    && (t->policy = dict_list_open(maps, DICT_FLAG_FOLD, why)) == NULL)
		msg_fatal_status(78, "%s: %s", P("smtp_tls_policy_maps"),
				 VSTR_STR(why));
	t->servername = cfg_get_str(cfg, P("smtp_tls_servername"));
	/* LMTP has STARTTLS only: smtp_tls_wrappermode has no twin. */
	t->wrappermode = !st->conf.lmtp
			 && cfg_get_bool(cfg, "smtp_tls_wrappermode");
	memset(&o, 0, sizeof(o));
	o.CAfile = cfg_get_str(cfg, P("smtp_tls_CAfile"));
	o.CApath = cfg_get_str(cfg, P("smtp_tls_CApath"));
	o.cert_file = cfg_get_str(cfg, P("smtp_tls_cert_file"));
	o.key_file = cfg_get_str(cfg, P("smtp_tls_key_file"));
	o.protocols = cfg_get_str(cfg, P("smtp_tls_protocols"));
	o.ciphers = cfg_get_str(cfg, P("smtp_tls_ciphers"));
	o.cache_timeout = (long)
	    cfg_get_time(cfg, P("smtp_tls_session_cache_timeout"));
	o.loglevel = (int)cfg_get_int(cfg, P("smtp_tls_loglevel"));
	t->note_offer = cfg_get_bool(cfg, P("smtp_tls_note_starttls_offer"));
	t->ctx_why = vstr_alloc(100);
	t->mctx_why = vstr_alloc(100);
	/* Only make the context when some destination may use TLS. */
	if ((t->level != TLS_LEV_NONE || t->policy || t->wrappermode
	     || st->sts_enable)
	    && (t->ctx = tls_client_ctx(&o, t->ctx_why)) == NULL)
		msg_warn("cannot set up client TLS: %s", VSTR_STR(t->ctx_why));
	o.protocols = cfg_get_str(cfg, P("smtp_tls_mandatory_protocols"));
	o.ciphers = cfg_get_str(cfg, P("smtp_tls_mandatory_ciphers"));
	if ((t->level >= TLS_LEV_ENCRYPT || t->policy || t->wrappermode
	     || st->sts_enable)
	    && (t->mctx = tls_client_ctx(&o, t->mctx_why)) == NULL) {
		if (t->level >= TLS_LEV_ENCRYPT)
			msg_fatal_status(78,
					 "TLS is required but cannot be "
					 "set up: %s",
					 VSTR_STR(t->mctx_why));
		msg_warn("cannot set up client TLS for mandatory levels: %s",
			 VSTR_STR(t->mctx_why));
	}
	t->tlsa = dns_reply_alloc();
	vstr_free(why);
	st->tls = t;
}

void
smtp_tls_free(SMTP_STATE *st)
{
	struct smtp_tls *t = st->tls;

	if (t == NULL)
		return;
	t->ctx = tls_ctx_free(t->ctx);
	t->mctx = tls_ctx_free(t->mctx);
	t->policy = dict_list_close(t->policy);
	vstr_free(t->ctx_why);
	vstr_free(t->mctx_why);
	dns_reply_free(t->tlsa);
	for (size_t i = 0; i < SMTP_TLS_PLAIN_MAX; i++)
		myfree(t->plain[i].key);
	myfree(t);
	st->tls = NULL;
}

/* "[host]:port" or "host:port" -> "host" into out. */
static void
smtp_tls_domain(const char *nexthop, VSTR *out)
{
	const char *end;

	if (*nexthop == '[' && (end = strchr(nexthop, ']')) != NULL) {
		vstr_memcpy(out, nexthop + 1, (size_t)(end - nexthop - 1));
		return;
	}
	vstr_memcpy(out, nexthop, strcspn(nexthop, ":"));
}

static void
smtp_tls_policy_free(struct smtp_tls_policy *p)
{
	for (size_t i = 0; i < p->nnames; i++)
		myfree(p->names[i]);
	p->nnames = 0;
}

static void
smtp_tls_add_name(struct smtp_tls_policy *p, const char *name)
{
	if (p->nnames < SMTP_TLS_MATCH_MAX && *name)
		p->names[p->nnames++] = mystrdup(name);
}

/*
 * The policy for session s: 0, or -1 (why) when the table failed or
 * the entry is malformed.
 */
static int
smtp_tls_policy(SMTP_STATE *st, SMTP_SESSION *s, struct smtp_tls_policy *p,
		VSTR *why)
{
	struct smtp_tls *t = st->tls;
	VSTR		*domain = vstr_alloc(64);
	const char	*value = NULL;
	int		 ret = 0;

	memset(p, 0, sizeof(*p));
	p->level = t->level;
	smtp_tls_domain(VSTR_STR(s->nexthop), domain);
	if (t->policy) {
		ret = dict_list_lookup(t->policy, VSTR_STR(s->nexthop), &value);
		if (ret == 0)
			ret = dict_list_lookup(t->policy, VSTR_STR(domain),
					       &value);
		if (ret < 0) {
			vstr_sprintf(why, "TLS policy lookup for %s failed",
				     VSTR_STR(s->nexthop));
			vstr_free(domain);
			return -1;
		}
	}
	if (ret > 0 && value) {
		char *copy = mystrdup(value);
		char *cp = copy;
		char *word = str_token(&cp, " \t");

		if (word == NULL || (p->level = tls_level_parse(word)) < 0) {
			vstr_sprintf(why, "bad TLS policy \"%s\" for %s", value,
				     VSTR_STR(s->nexthop));
			myfree(copy);
			vstr_free(domain);
			return -1;
		}
		while ((word = str_token(&cp, " \t")) != NULL) {
			char *name;
			char *np;

			if (!str_has_prefix(word, "match="))
				continue; /* protocols=, ciphers=: later */
			np = word + 6;
			while ((name = str_token(&np, ":")) != NULL)
				smtp_tls_add_name(p, name);
		}
		myfree(copy);
	}
	if (p->nnames == 0) {
		if (p->level == TLS_LEV_SECURE) {
			VSTR *dot = vstr_alloc(64);

			smtp_tls_add_name(p, VSTR_STR(domain));
			vstr_sprintf(dot, ".%s", VSTR_STR(domain));
			smtp_tls_add_name(p, VSTR_STR(dot));
			vstr_free(dot);
		} else {
			smtp_tls_add_name(p, VSTR_STR(s->host));
		}
	}
	vstr_free(domain);
	return 0;
}

/* Is addr:port of s remembered as unable to do TLS? */
static bool
smtp_tls_plain_only(struct smtp_tls *t, const char *key)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < SMTP_TLS_PLAIN_MAX; i++)
		if (t->plain[i].key && strcmp(t->plain[i].key, key) == 0)
			return now < t->plain[i].until;
	return false;
}

static void
smtp_tls_plain_add(struct smtp_tls *t, const char *key)
{
	struct smtp_tls_plain *p = t->plain + t->plain_next;

	t->plain_next = (t->plain_next + 1) % SMTP_TLS_PLAIN_MAX;
	myfree(p->key);
	p->key = mystrdup(key);
	p->until = time(NULL) + SMTP_TLS_PLAIN_TIME;
}

bool
smtp_tls_retry_plain(SMTP_STATE *st)
{
	bool again = st->tls && st->tls->retry_plain;

	if (st->tls)
		st->tls->retry_plain = false;
	return again;
}

/*
 * Defer everything pending on this session; under an enforced MTA-STS
 * policy the reason says so.  For a REQUIRETLS message a TLS policy
 * failure (4.7.x) is a 5.7.30 bounce instead (RFC 8689 5), still tried
 * with the next server; other failures stay deferrals.
 */
static enum smtp_step
smtp_tls_defer(SMTP_SESSION *s, SMTP_DELIVERY *d, const char *dsn,
	       const char *text)
{
	if (d->requiretls && strncmp(dsn, "4.7.", 4) == 0)
		smtp_rcpt_all(d, false, DELIVER_BOUNCED, "5.7.30", s, NULL,
			      "REQUIRETLS support required, but the message "
			      "cannot be sent: %s",
			      text);
	else if (d->sts != NULL && d->sts->enforce)
		smtp_rcpt_all(d, false, DELIVER_DEFERRED, dsn, s, NULL,
			      "MTA-STS policy for %s: %s",
			      VSTR_STR(d->sts->domain), text);
	else
		smtp_rcpt_all(d, false, DELIVER_DEFERRED, dsn, s, NULL, "%s",
			      text);
	return SMTP_STEP_NEXT;
}

/* testing mode: what enforce would have refused, logged. */
static void
smtp_tls_sts_testing(const struct smtp_sts *sts, SMTP_SESSION *s,
		     SMTP_DELIVERY *d, const char *text)
{
	msg_info("%s: MTA-STS policy for %s (testing): %s (host %s); "
		 "delivering anyway",
		 d->req->queue_id, VSTR_STR(sts->domain), text,
		 VSTR_STR(s->namaddr));
}

bool
smtp_tls_dane_usable(SMTP_STATE *st, const char *nexthop, const char *mx_host,
		     int port, bool mx_ad)
{
	struct smtp_tls *t = st->tls;
	const char	*value = NULL;
	VSTR		*domain;
	VSTR		*qname;
	VSTR		*why;
	int		 level;
	int		 ret = 0;
	bool		 usable = false;

	if (t == NULL || st->dns == NULL || !mx_ad)
		return false;
	level = t->level;
	domain = vstr_alloc(64);
	smtp_tls_domain(nexthop, domain);
	if (t->policy) {
		ret = dict_list_lookup(t->policy, nexthop, &value);
		if (ret == 0)
			ret = dict_list_lookup(t->policy, VSTR_STR(domain),
					       &value);
	}
	if (ret > 0 && value) {
		char *copy = mystrdup(value);
		char *cp = copy;
		char *word = str_token(&cp, " \t");

		level = word ? tls_level_parse(word) : -1;
		myfree(copy);
	}
	vstr_free(domain);
	if (level != TLS_LEV_DANE)
		return false;
	qname = vstr_alloc(64);
	why = vstr_alloc(64);
	vstr_sprintf(qname, "_%d._tcp.%s", port, mx_host);
	if (dns_lookup(st->dns, VSTR_STR(qname), DNS_TYPE_TLSA, t->tlsa, why)
		== DNS_OK
	    && t->tlsa->ad) {
		for (size_t i = 0; i < t->tlsa->count; i++) {
			const DNS_RR *rr = t->tlsa->rr + i;

			if (rr->type == DNS_TYPE_TLSA
			    && (rr->usage == 2 || rr->usage == 3)
			    && rr->selector <= 1 && rr->mtype <= 2)
				usable = true;
		}
	}
	vstr_free(qname);
	vstr_free(why);
	return usable;
}

/*
 * "TLS-Required: No" (RFC 8689 5) in a message without REQUIRETLS: a
 * failure of the recipient's DANE policy does not stop the delivery.
 * True (after logging why) when that applies to this failure.
 */
static bool
smtp_tls_relaxed(const SMTP_DELIVERY *d, const SMTP_SESSION *s, bool dane,
		 const char *text)
{
	if (!dane || !d->tls_required_no || d->req->requiretls)
		return false;
	msg_info("%s: TLS-Required: No: delivering to %s despite the DANE "
		 "policy failure: %s",
		 d->req->queue_id, VSTR_STR(s->namaddr), text);
	return true;
}

/*
 * DANE: the usable TLSA records of the server into recs (data borrowed
 * from t->tlsa).  Returns the level to apply: DANE (records usable),
 * ENCRYPT (records, none usable), MAY (no validated records), or -1
 * (lookup failed; why).
 */
static int
smtp_tls_dane(SMTP_STATE *st, SMTP_SESSION *s, struct tls_tlsa *recs,
	      size_t *nrecs, VSTR *why)
{
	struct smtp_tls *t = st->tls;
	VSTR		*qname = vstr_alloc(64);
	VSTR		*dwhy = vstr_alloc(64);
	enum dns_status	 ds;
	size_t		 n = 0;

	*nrecs = 0;
	if (st->dns == NULL) {
		vstr_free(qname);
		vstr_free(dwhy);
		return TLS_LEV_MAY;
	}
	vstr_sprintf(qname, "_%d._tcp.%s", s->port, VSTR_STR(s->host));
	ds = dns_lookup(st->dns, VSTR_STR(qname), DNS_TYPE_TLSA, t->tlsa, dwhy);
	if (ds == DNS_TEMPFAIL) {
		vstr_sprintf(why, "TLSA lookup error for %s: %s",
			     VSTR_STR(qname), VSTR_STR(dwhy));
		vstr_free(qname);
		vstr_free(dwhy);
		return -1;
	}
	vstr_free(dwhy);
	/* Without DNSSEC validation the records prove nothing. */
	if (ds != DNS_OK || !t->tlsa->ad) {
		if (ds == DNS_OK)
			msg_info("%s: TLSA records of %s are not DNSSEC "
				 "validated (no AD bit): not used",
				 VSTR_STR(s->namaddr), VSTR_STR(qname));
		vstr_free(qname);
		return TLS_LEV_MAY;
	}
	vstr_free(qname);
	for (size_t i = 0; i < t->tlsa->count && n < DNS_RR_MAX; i++) {
		const DNS_RR *rr = t->tlsa->rr + i;

		/* RFC 7672 3.1: PKIX-TA(0)/PKIX-EE(1) are unusable in SMTP. */
		if (rr->type != DNS_TYPE_TLSA
		    || (rr->usage != 2 && rr->usage != 3) || rr->selector > 1
		    || rr->mtype > 2)
			continue;
		recs[n].usage = rr->usage;
		recs[n].selector = rr->selector;
		recs[n].mtype = rr->mtype;
		recs[n].data = (const unsigned char *)VSTR_STR(rr->data);
		recs[n].len = VSTR_LEN(rr->data);
		n++;
	}
	*nrecs = n;
	return n > 0 ? TLS_LEV_DANE : TLS_LEV_ENCRYPT;
}

/* The TLSA records as RFC 8460 policy-string lines ("3 1 1 ab12..."). */
static void
smtp_tls_rpt_tlsa(VSTR *out, const DNS_REPLY *tlsa, bool usable_only)
{
	vstr_reset(out);
	for (size_t i = 0; i < tlsa->count; i++) {
		const DNS_RR	    *rr = tlsa->rr + i;
		const unsigned char *d = (const unsigned char *)VSTR_STR(
		    rr->data);

		if (rr->type != DNS_TYPE_TLSA
		    || (usable_only && rr->usage != 2 && rr->usage != 3))
			continue;
		if (VSTR_LEN(out))
			vstr_addch(out, '\n');
		vstr_sprintf_append(out, "%d %d %d ", rr->usage, rr->selector,
				    rr->mtype);
		for (size_t j = 0; j < VSTR_LEN(rr->data); j++)
			vstr_sprintf_append(out, "%02x", d[j]);
	}
}

/* Report the outcome of session s once (result NULL: success). */
static void
smtp_tls_rpt(SMTP_STATE *st, SMTP_SESSION *s, struct smtp_tls_rpt *r,
	     const char *result, const char *detail)
{
	if (r->type == NULL)
		return;
	smtp_tlsrpt_note(st, s, VSTR_STR(r->domain), r->type,
			 VSTR_LEN(r->text) ? VSTR_STR(r->text) : NULL, result,
			 detail);
	r->type = NULL;
}

/*
 * smtp_tls_servername: "hostname" the MX host, "nexthop" the next-hop
 * domain (brackets and port removed), another value itself, empty none.
 * An IP address is never sent (RFC 6066 3).  The name, or NULL.
 */
static const char *
smtp_tls_sni(const struct smtp_tls *t, const SMTP_SESSION *s, VSTR *buf)
{
	const char *name;

	if (*t->servername == 0)
		return NULL;
	if (strcasecmp(t->servername, "hostname") == 0) {
		vstr_strcpy(buf, VSTR_STR(s->host));
	} else if (strcasecmp(t->servername, "nexthop") == 0) {
		smtp_tls_domain(VSTR_STR(s->nexthop), buf);
	} else {
		vstr_strcpy(buf, t->servername);
	}
	name = VSTR_STR(buf);
	if (*name == 0 || strspn(name, "0123456789.") == strlen(name)
	    || strchr(name, ':') != NULL)
		return NULL;
	return name;
}

/*
 * TLS for session s as its policy wants: after EHLO with STARTTLS, or
 * (wrapper) right after connecting, where TLS is always mandatory.
 */
static enum smtp_step
smtp_tls_session(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d,
		 bool wrapper)
{
	struct smtp_tls	       *t = st->tls;
	const struct smtp_conf *c = &st->conf;
	struct smtp_tls_policy	p;
	struct tls_client_start cs;
	struct tls_tlsa	       *recs = NULL;
	size_t			nrecs = 0;
	TLS_CTX		       *ctx;
	VSTR		       *ctx_why;
	VSTR		       *why = vstr_alloc(100);
	VSTR		       *key = vstr_alloc(100);
	VSTR		       *sni = vstr_alloc(64);
	enum smtp_step		ret = SMTP_STEP_OK;
	const struct smtp_sts  *sts;
	int			level;
	struct smtp_tls_rpt	rpt = { NULL, vstr_alloc(64), vstr_alloc(64) };
	bool			dane = false; /* DANE made TLS mandatory */

	if (t == NULL || s->tls)
		goto out;
	smtp_tls_domain(VSTR_STR(s->nexthop), rpt.domain);
	if (smtp_tls_policy(st, s, &p, why) < 0) {
		ret = smtp_tls_defer(s, d, "4.3.0", VSTR_STR(why));
		goto out;
	}
	level = p.level;
	if (level == TLS_LEV_DANE) {
		recs = mycalloc(DNS_RR_MAX, sizeof(*recs));
		if ((level = smtp_tls_dane(st, s, recs, &nrecs, why)) < 0) {
			rpt.type = "tlsa";
			smtp_tls_rpt(st, s, &rpt, "dnssec-invalid",
				     VSTR_STR(why));
			/* A DNS failure: deferred, even under REQUIRETLS. */
			if (smtp_tls_relaxed(d, s, true, VSTR_STR(why))) {
				level = TLS_LEV_MAY;
			} else {
				smtp_rcpt_all(d, false, DELIVER_DEFERRED,
					      "4.7.5", s, NULL, "%s",
					      VSTR_STR(why));
				ret = SMTP_STEP_NEXT;
				goto out_policy;
			}
		}
		/* Records, none usable: a TLSA policy that failed. */
		if (level == TLS_LEV_ENCRYPT) {
			rpt.type = "tlsa";
			smtp_tls_rpt_tlsa(rpt.text, t->tlsa, false);
			smtp_tls_rpt(st, s, &rpt, "tlsa-invalid",
				     "no usable TLSA record");
		} else if (level == TLS_LEV_DANE) {
			rpt.type = "tlsa";
			smtp_tls_rpt_tlsa(rpt.text, t->tlsa, true);
		}
		/* Records were found: their failures may be relaxed. */
		dane = level >= TLS_LEV_ENCRYPT;
	}
	if (level != TLS_LEV_NONE && level != TLS_LEV_DANE
	    && p.level != TLS_LEV_DANE)
		rpt.type = "no-policy-found";
	else if (p.level == TLS_LEV_DANE && level == TLS_LEV_MAY)
		rpt.type = "no-policy-found";
	if (wrapper && level < TLS_LEV_ENCRYPT)
		level = TLS_LEV_ENCRYPT;
	/*
	 * MTA-STS where this host has no usable DANE records: enforce needs
	 * a certificate that chains to a trusted root and names the MX host.
	 */
	sts = level != TLS_LEV_DANE ? d->sts : NULL;
	if (sts != NULL && sts->enforce && level < TLS_LEV_VERIFY) {
		level = TLS_LEV_VERIFY;
		smtp_tls_policy_free(&p);
		smtp_tls_add_name(&p, VSTR_STR(s->host));
	}
	/* testing: opportunistic TLS at least, so the policy is checked. */
	if (sts != NULL && !sts->enforce && level < TLS_LEV_MAY)
		level = TLS_LEV_MAY;
	/* TLS-RPT: this session is reported under the MTA-STS policy. */
	if (sts != NULL) {
		rpt.type = "sts";
		mta_sts_policy_text(&sts->policy, rpt.text);
	}
	/* RFC 8689 4.2.1: a REQUIRETLS message never goes in plain text. */
	if (d->requiretls && level < TLS_LEV_ENCRYPT)
		level = TLS_LEV_ENCRYPT;
	vstr_sprintf(key, "%s:%d", VSTR_STR(s->addr), s->port);
	if (level == TLS_LEV_NONE && !wrapper && t->note_offer
	    && (s->features & SMTP_FEATURE_STARTTLS))
		msg_info("Host offered STARTTLS: [%s]", VSTR_STR(s->host));
	/* Opportunistic TLS that failed before: plain text (as Postfix). */
	if (level == TLS_LEV_NONE
	    || ((level == TLS_LEV_MAY
		 || (dane && d->tls_required_no && !d->req->requiretls))
		&& smtp_tls_plain_only(t, VSTR_STR(key))))
		goto out_policy;
	if (!wrapper && !(s->features & SMTP_FEATURE_STARTTLS)) {
		smtp_tls_rpt(st, s, &rpt, "starttls-not-supported", NULL);
		if (sts != NULL && !sts->enforce)
			smtp_tls_sts_testing(sts, s, d,
					     "STARTTLS was not offered");
		if (level == TLS_LEV_MAY)
			goto out_policy;
		vstr_sprintf(why,
			     "TLS is required, but was not offered by "
			     "host %s",
			     VSTR_STR(s->namaddr));
		if (smtp_tls_relaxed(d, s, dane, VSTR_STR(why)))
			goto out_policy;
		ret = smtp_tls_defer(s, d, "4.7.4", VSTR_STR(why));
		goto out_policy;
	}
	ctx = level >= TLS_LEV_ENCRYPT ? t->mctx : t->ctx;
	ctx_why = level >= TLS_LEV_ENCRYPT ? t->mctx_why : t->ctx_why;
	/* REQUIRETLS raised the level: any context the client has will do. */
	if (ctx == NULL && d->requiretls) {
		ctx = t->ctx ? t->ctx : t->mctx;
		ctx_why = t->ctx ? t->ctx_why : t->mctx_why;
	}
	if (ctx == NULL) {
		if (level == TLS_LEV_MAY)
			goto out_policy;
		vstr_sprintf(why,
			     "TLS is required, but our TLS engine is "
			     "unavailable: %s",
			     VSTR_STR(ctx_why));
		ret = smtp_tls_defer(s, d, "4.7.5", VSTR_STR(why));
		goto out_policy;
	}
	if (wrapper)
		goto handshake;
	smtp_session_queue(s, "STARTTLS");
	if (smtp_session_flush(s, c->helo_timeout) < 0
	    || smtp_session_read(s, c->helo_timeout) < 0) {
		s->broken = true;
		vstr_sprintf(why,
			     "lost connection with %s while sending "
			     "STARTTLS",
			     VSTR_STR(s->namaddr));
		ret = smtp_tls_defer(s, d, "4.4.2", VSTR_STR(why));
		goto out_policy;
	}
	if (s->reply->code / 100 != 2) {
		smtp_tls_rpt(st, s, &rpt, "starttls-not-supported",
			     VSTR_STR(s->reply->text));
		if (level == TLS_LEV_MAY)
			goto out_policy;
		vstr_sprintf(why,
			     "TLS is required, but host %s refused to "
			     "start TLS: %s",
			     VSTR_STR(s->namaddr), VSTR_STR(s->reply->text));
		if (smtp_tls_relaxed(d, s, dane, VSTR_STR(why)))
			goto out_policy;
		ret = smtp_tls_defer(s, d, "4.7.5", VSTR_STR(why));
		goto out_policy;
	}
	/* Bytes the server sent before the handshake are not trusted. */
	vstr_reset(s->rbuf);
	s->rpos = 0;
handshake:
	memset(&cs, 0, sizeof(cs));
	cs.level = level;
	cs.sni = smtp_tls_sni(t, s, sni);
	if (level == TLS_LEV_DANE && cs.sni == NULL)
		cs.sni = VSTR_STR(s->host);
	cs.match = (const char *const *)p.names;
	cs.nmatch = p.nnames;
	cs.tlsa = level == TLS_LEV_DANE ? recs : NULL;
	cs.ntlsa = level == TLS_LEV_DANE ? nrecs : 0;
	vstr_sprintf(key, "%s/%s:%d", VSTR_STR(s->nexthop), VSTR_STR(s->addr),
		     s->port);
	cs.cache_key = VSTR_STR(key);
	cs.peer = VSTR_STR(s->relay);
	if ((s->tlss = tls_client_start(ctx, s->fd, &cs, c->helo_timeout * 1000,
					why))
	    == NULL) {
		VSTR *text = vstr_alloc(100);

		s->broken = true;
		vstr_sprintf(text, "Cannot start TLS: %s with %s",
			     VSTR_STR(why), VSTR_STR(s->namaddr));
		msg_info("%s", VSTR_STR(text));
		smtp_tls_rpt(st, s, &rpt, "validation-failure", VSTR_STR(why));
		if (level == TLS_LEV_MAY
		    || smtp_tls_relaxed(d, s, dane, VSTR_STR(text))) {
			vstr_sprintf(key, "%s:%d", VSTR_STR(s->addr), s->port);
			smtp_tls_plain_add(t, VSTR_STR(key));
			t->retry_plain = true;
		}
		ret = smtp_tls_defer(s, d, "4.7.5", VSTR_STR(text));
		vstr_free(text);
		goto out_policy;
	}
	s->tls = true;
	/* What REQUIRETLS (RFC 8689 4.2.1) accepts; MTA-STS sets _STS. */
	s->tls_verified = level == TLS_LEV_DANE && tls_dane_used(s->tlss)
				  && tls_trust(s->tlss) == TLS_TRUST_VERIFIED
			      ? SMTP_TLS_VERIFIED_DANE
			      : SMTP_TLS_VERIFIED_NONE;
	if ((level == TLS_LEV_DANE || level >= TLS_LEV_VERIFY)
	    && tls_trust(s->tlss) != TLS_TRUST_VERIFIED) {
		vstr_sprintf(why,
			     "Server certificate not verified: %s "
			     "(host %s, TLS level %s)",
			     tls_trust_why(s->tlss), VSTR_STR(s->namaddr),
			     tls_level_name(level));
		msg_info("%s", VSTR_STR(why));
		smtp_tls_rpt(st, s, &rpt,
			     tlsrpt_result_from_verdict(tls_trust_why(s->tlss)),
			     tls_trust_why(s->tlss));
		if (!smtp_tls_relaxed(d, s, level == TLS_LEV_DANE,
				      VSTR_STR(why))) {
			ret = smtp_tls_defer(s, d, "4.7.5", VSTR_STR(why));
			goto out_policy;
		}
	}
	if (sts != NULL && !sts->enforce
	    && tls_trust(s->tlss) != TLS_TRUST_VERIFIED) {
		vstr_sprintf(why, "server certificate not verified: %s",
			     tls_trust_why(s->tlss));
		smtp_tls_sts_testing(sts, s, d, VSTR_STR(why));
		smtp_tls_rpt(st, s, &rpt,
			     tlsrpt_result_from_verdict(tls_trust_why(s->tlss)),
			     tls_trust_why(s->tlss));
	}
	/* A session that failed nothing above is a success for TLS-RPT. */
	smtp_tls_rpt(st, s, &rpt, NULL, NULL);
	if (sts != NULL && sts->enforce)
		s->tls_verified = SMTP_TLS_VERIFIED_STS;
	if (wrapper)
		goto out_policy;
	/* RFC 3207 4.2: ask again, the answer may differ inside TLS. */
	smtp_session_queue(s, "%s %s", c->lmtp ? "LHLO" : "EHLO", c->helo_name);
	if (smtp_session_flush(s, c->helo_timeout) < 0
	    || smtp_session_read(s, c->helo_timeout) < 0) {
		s->broken = true;
		vstr_sprintf(why,
			     "lost connection with %s while receiving "
			     "the EHLO reply after STARTTLS",
			     VSTR_STR(s->namaddr));
		ret = smtp_tls_defer(s, d, "4.4.2", VSTR_STR(why));
		goto out_policy;
	}
	if (s->reply->code / 100 != 2) {
		vstr_sprintf(why,
			     "host %s said: %s (in reply to EHLO command "
			     "after STARTTLS)",
			     VSTR_STR(s->namaddr), VSTR_STR(s->reply->text));
		ret = smtp_tls_defer(s, d,
				     s->reply->code / 100 == 5 ? "4.7.0"
							       : s->reply->dsn,
				     VSTR_STR(why));
		goto out_policy;
	}
	smtp_proto_features(s);
out_policy:
	smtp_tls_policy_free(&p);
out:
	vstr_free(rpt.text);
	vstr_free(rpt.domain);
	myfree(recs);
	vstr_free(why);
	vstr_free(key);
	vstr_free(sni);
	return ret;
}

enum smtp_step
smtp_tls_starttls(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d)
{
	return smtp_tls_session(st, s, d, false);
}

enum smtp_step
smtp_tls_wrapper(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d)
{
	if (st->tls == NULL || !st->tls->wrappermode)
		return SMTP_STEP_OK;
	return smtp_tls_session(st, s, d, true);
}
