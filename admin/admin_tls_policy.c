/*
 * admin_tls_policy - `postel tls-policy DOMAIN[:PORT]`.  See
 * admin_tls_policy.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "admin/admin_tls_policy.h"
#include "util/attr.h"
#include "util/cfg_compat.h"
#include "util/dict.h"
#include "util/dns.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mta_sts.h"
#include "util/mta_sts_proto.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/tls.h"
#include "util/vstr.h"

#define ADMIN_TLS_MX_MAX 32

struct admin_tls {
	const CFG *cfg;
	DNS	  *dns;
	DNS_REPLY *reply;
	VSTR	  *why;
	char	  *mx[ADMIN_TLS_MX_MAX];
	size_t	   nmx;
	bool	   mx_ad;
	int	   status; /* exit code so far */
};

static const char *
admin_tls_time(long long t, char *buf, size_t len)
{
	time_t	  tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL
	    || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", t);
	return buf;
}

/* The MX hosts (or the domain itself).  0, or an exit code. */
static int
admin_tls_mx(struct admin_tls *a, const char *domain)
{
	enum dns_status ds;

	ds = dns_lookup(a->dns, domain, DNS_TYPE_MX, a->reply, a->why);
	if (ds == DNS_TEMPFAIL) {
		msg_error("%s: MX lookup failed: %s", domain, VSTR_STR(a->why));
		return EX_TEMPFAIL;
	}
	if (ds == DNS_OK && dns_null_mx(a->reply)) {
		printf("mx: none (null MX: the domain accepts no mail)\n");
		return 0;
	}
	if (ds == DNS_OK) {
		a->mx_ad = a->reply->ad;
		printf("mx_dnssec_validated: %s\n", a->mx_ad ? "yes" : "no");
		for (size_t i = 0;
		     i < a->reply->count && a->nmx < ADMIN_TLS_MX_MAX; i++) {
			const DNS_RR *rr = &a->reply->rr[i];

			if (rr->type != DNS_TYPE_MX || VSTR_LEN(rr->data) == 0)
				continue;
			printf("mx: %d %s\n", rr->pref, VSTR_STR(rr->data));
			a->mx[a->nmx++] = mystrdup(VSTR_STR(rr->data));
		}
		return 0;
	}
	/* No MX: the domain is its own mail host (RFC 5321 5.1). */
	ds = dns_lookup(a->dns, domain, DNS_TYPE_A, a->reply, a->why);
	if (ds == DNS_NOTFOUND)
		ds = dns_lookup(a->dns, domain, DNS_TYPE_AAAA, a->reply,
				a->why);
	if (ds == DNS_TEMPFAIL) {
		msg_error("%s: address lookup failed: %s", domain,
			  VSTR_STR(a->why));
		return EX_TEMPFAIL;
	}
	if (ds == DNS_NOTFOUND) {
		msg_error("%s: no MX and no address records: Host or domain "
			  "name not found",
			  domain);
		return EX_NOHOST;
	}
	printf("mx_dnssec_validated: no\n");
	printf("mx: (none: the domain itself) %s\n", domain);
	a->mx[a->nmx++] = mystrdup(domain);
	return 0;
}

/* The TLS level for domain from the settings; -1 (why) on error. */
static int
admin_tls_level(struct admin_tls *a, const char *domain, VSTR *source)
{
	const char *maps = cfg_get_str(a->cfg, "smtp_tls_policy_maps");
	const char *value = NULL;
	DICT_LIST  *list;
	int	    level;
	int	    ret;

	level = tls_level_parse(
	    cfg_compat_tls_level(a->cfg, CFG_COMPAT_SMTP, false));
	vstr_strcpy(source, "smtp_tls_security_level");
	if (*maps == 0)
		return level;
	if ((list = dict_list_open(maps, DICT_FLAG_FOLD, a->why)) == NULL)
		return -1;
	ret = dict_list_lookup(list, domain, &value);
	if (ret > 0 && value) {
		char *copy = mystrdup(value);
		char *cp = copy;
		char *word = str_token(&cp, " \t");

		level = word ? tls_level_parse(word) : -1;
		vstr_sprintf(source, "smtp_tls_policy_maps (%s)", value);
		myfree(copy);
	}
	dict_list_close(list);
	if (ret < 0) {
		vstr_strcpy(a->why, "smtp_tls_policy_maps lookup failed");
		return -1;
	}
	return level;
}

/* DANE per MX host; true when DANE wins for the first host. */
static bool
admin_tls_dane(struct admin_tls *a, int port)
{
	VSTR *qname = vstr_alloc(64);
	bool  wins = false;

	for (size_t i = 0; i < a->nmx; i++) {
		enum dns_status ds;
		size_t		usable = 0;

		vstr_sprintf(qname, "_%d._tcp.%s", port, a->mx[i]);
		ds = dns_lookup(a->dns, VSTR_STR(qname), DNS_TYPE_TLSA,
				a->reply, a->why);
		if (ds == DNS_TEMPFAIL) {
			printf("tlsa: %s: lookup failed: %s\n", VSTR_STR(qname),
			       VSTR_STR(a->why));
			a->status = EX_TEMPFAIL;
			continue;
		}
		if (ds == DNS_NOTFOUND) {
			printf("tlsa: %s: none\n", VSTR_STR(qname));
			continue;
		}
		for (size_t r = 0; r < a->reply->count; r++) {
			const DNS_RR *rr = &a->reply->rr[r];

			if (rr->type != DNS_TYPE_TLSA)
				continue;
			if ((rr->usage == 2 || rr->usage == 3)
			    && rr->selector <= 1 && rr->mtype <= 2)
				usable++;
			printf("tlsa: %s: %d %d %d (%zu bytes)\n",
			       VSTR_STR(qname), rr->usage, rr->selector,
			       rr->mtype, VSTR_LEN(rr->data));
		}
		printf("tlsa: %s: %zu usable, %s\n", VSTR_STR(qname), usable,
		       a->reply->ad ? "DNSSEC-validated"
				    : "not DNSSEC-validated (not used)");
		if (i == 0 && a->mx_ad && a->reply->ad && usable > 0)
			wins = true;
	}
	vstr_free(qname);
	return wins;
}

/* The policy from mtasts, or from the cache when mtasts is silent. */
static int
admin_tls_sts_policy(struct admin_tls *a, const char *domain,
		     struct mta_sts_cache_entry *e, VSTR *failure)
{
	struct mta_sts_request rq = { .domain = domain };
	struct mta_sts_reply   rp;
	ATTR		      *req = attr_alloc();
	ATTR		      *rep = attr_alloc();
	VSTR		      *path = vstr_alloc(64);
	long long   wait = cfg_get_time(a->cfg, "smtp_mta_sts_fetch_timeout");
	const char *value;
	DICT	   *d;
	int	    ret = 0;

	memset(&rp, 0, sizeof(rp));
	mta_sts_request_encode(&rq, req);
	vstr_sprintf(path, "%s/private/mtasts",
		     cfg_get_str(a->cfg, "queue_directory"));
	if (ipc_call(VSTR_STR(path), req, rep, (int)(wait + 5) * 1000, a->why)
		== 0
	    && mta_sts_reply_decode(rep, &rp, a->why) == 0
	    && rp.status != MTA_STS_STAT_FAIL) {
		printf("sts_source: mtasts\n");
		if (*rp.failure)
			vstr_sprintf(failure, "%s: %s", rp.failure, rp.detail);
		if (rp.status == MTA_STS_STAT_POLICY) {
			vstr_strcpy(e->id, rp.id);
			e->fetched = rp.fetched;
			e->expires = rp.expires;
			mta_sts_policy_copy(&e->policy, &rp.policy);
			ret = 1;
		} else if (*rp.detail) {
			printf("sts_policy: none (%s)\n", rp.detail);
		}
		goto out;
	}
	printf("sts_source: %s (mtasts did not answer: %s)\n",
	       cfg_get_str(a->cfg, "smtp_mta_sts_cache_map"), VSTR_STR(a->why));
	d = dict_open(cfg_get_str(a->cfg, "smtp_mta_sts_cache_map"), 0, a->why);
	if (d == NULL) {
		printf("sts_policy: none (cache: %s)\n", VSTR_STR(a->why));
		goto out;
	}
	if (dict_lookup(d, domain, &value) == 1
	    && mta_sts_cache_decode(value, e, a->why) == 0)
		ret = 1;
	dict_close(d);
out:
	mta_sts_policy_free(&rp.policy);
	attr_free(req);
	attr_free(rep);
	vstr_free(path);
	return ret;
}

/* MTA-STS; the mode that applies, or -1 for none. */
static int
admin_tls_sts(struct admin_tls *a, const char *domain)
{
	struct mta_sts_cache_entry e;
	VSTR			  *qname = vstr_alloc(64);
	VSTR			  *failure = vstr_alloc(64);
	const char		  *txt[DNS_RR_MAX];
	size_t			   len[DNS_RR_MAX];
	size_t			   n = 0;
	enum dns_status		   ds;
	char			   t1[40];
	char			   t2[40];
	int			   mode = -1;

	memset(&e, 0, sizeof(e));
	e.id = vstr_alloc(40);
	vstr_sprintf(qname, "_mta-sts.%s", domain);
	ds = dns_lookup(a->dns, VSTR_STR(qname), DNS_TYPE_TXT, a->reply,
			a->why);
	if (ds == DNS_TEMPFAIL) {
		printf("sts_txt: %s: lookup failed: %s\n", VSTR_STR(qname),
		       VSTR_STR(a->why));
		a->status = EX_TEMPFAIL;
	} else if (ds == DNS_NOTFOUND) {
		printf("sts_txt: %s: none\n", VSTR_STR(qname));
	} else {
		for (size_t i = 0; i < a->reply->count; i++) {
			const DNS_RR *rr = &a->reply->rr[i];

			if (rr->type != DNS_TYPE_TXT)
				continue;
			printf("sts_txt: %s: \"%s\"\n", VSTR_STR(qname),
			       VSTR_STR(rr->data));
			txt[n] = VSTR_STR(rr->data);
			len[n] = VSTR_LEN(rr->data);
			n++;
		}
		if (mta_sts_txt_select(txt, len, n, e.id, a->why) == 0)
			printf("sts_id: %s\n", VSTR_STR(e.id));
		else
			printf("sts_id: none (%s)\n", VSTR_STR(a->why));
	}
	if (admin_tls_sts_policy(a, domain, &e, failure) == 1) {
		VSTR *mx = vstr_alloc(64);

		mta_sts_policy_mx_list(&e.policy, " ", mx);
		printf("sts_policy_id: %s\n", VSTR_STR(e.id));
		printf("sts_mode: %s\n", mta_sts_mode_name(e.policy.mode));
		printf("sts_mx: %s\n", VSTR_STR(mx));
		printf("sts_max_age: %lld\n", e.policy.max_age);
		printf("sts_fetched: %s\n",
		       admin_tls_time(e.fetched, t1, sizeof(t1)));
		printf("sts_expires: %s%s\n",
		       admin_tls_time(e.expires, t2, sizeof(t2)),
		       e.expires <= (long long)time(NULL) ? " (expired)" : "");
		if (e.expires > (long long)time(NULL)
		    && e.policy.mode != MTA_STS_MODE_NONE)
			mode = (int)e.policy.mode;
		for (size_t i = 0; i < a->nmx; i++)
			printf("sts_match: %s %s\n", a->mx[i],
			       mta_sts_policy_match(&e.policy, a->mx[i])
				   ? "matches"
				   : "does not match");
		vstr_free(mx);
	} else if (ds == DNS_OK) {
		printf("sts_policy: none\n");
	}
	if (VSTR_LEN(failure))
		printf("sts_last_failure: %s\n", VSTR_STR(failure));
	mta_sts_policy_free(&e.policy);
	vstr_free(e.id);
	vstr_free(qname);
	vstr_free(failure);
	return mode;
}

int
admin_tls_policy(const CFG *cfg, const char *arg)
{
	struct admin_tls a;
	VSTR		*domain = vstr_alloc(64);
	VSTR		*source = vstr_alloc(64);
	const char	*colon = strrchr(arg, ':');
	long long	 port = 25;
	int		 level;
	int		 mode = -1;
	bool		 dane = false;
	bool		 sts_on;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	if (colon != NULL) {
		vstr_memcpy(domain, arg, (size_t)(colon - arg));
		if (str_to_ll(colon + 1, &port) < 0 || port < 1 || port > 65535)
			msg_fatal_status(EX_USAGE, "bad port in \"%s\"", arg);
	} else {
		vstr_strcpy(domain, arg);
	}
	vstr_lower(domain);
	if (!mta_sts_domain_ok(VSTR_STR(domain)))
		msg_fatal_status(EX_USAGE, "\"%s\" is not a domain name", arg);
	if ((a.dns = dns_open(cfg)) == NULL)
		msg_fatal_status(EX_CONFIG, "bad dns_nameservers setting");
	dict_configure(cfg);
	a.reply = dns_reply_alloc();
	a.why = vstr_alloc(64);
	printf("domain: %s\n", VSTR_STR(domain));
	if ((a.status = admin_tls_mx(&a, VSTR_STR(domain))) != 0)
		goto out;
	if ((level = admin_tls_level(&a, VSTR_STR(domain), source)) < 0) {
		msg_error("%s", VSTR_STR(a.why));
		a.status = EX_CONFIG;
		goto out;
	}
	printf("tls_level: %s (from %s)\n", tls_level_name(level),
	       VSTR_STR(source));
	if (level == TLS_LEV_DANE)
		dane = admin_tls_dane(&a, (int)port);
	printf("dane: %s\n", dane ? "usable: DANE applies"
			     : level == TLS_LEV_DANE
				 ? "not usable (validated MX and TLSA "
				   "records are needed)"
				 : "not used at this level");
	sts_on = cfg_get_bool(cfg, "smtp_mta_sts_enable");
	printf("smtp_mta_sts_enable: %s\n", sts_on ? "yes" : "no");
	mode = admin_tls_sts(&a, VSTR_STR(domain));
	if (dane)
		printf("verdict: DANE (it wins over MTA-STS, RFC 8461 2)\n");
	else if (sts_on && mode == MTA_STS_MODE_ENFORCE)
		printf("verdict: MTA-STS enforce: only matching MX hosts, "
		       "STARTTLS with a certificate that chains to "
		       "smtp_tls_CAfile/CApath and names the MX host\n");
	else if (sts_on && mode == MTA_STS_MODE_TESTING)
		printf("verdict: MTA-STS testing: TLS level %s (at least "
		       "may), failures logged\n",
		       tls_level_name(level));
	else
		printf("verdict: TLS level %s\n", tls_level_name(level));
out:
	for (size_t i = 0; i < a.nmx; i++)
		myfree(a.mx[i]);
	dns_close(a.dns);
	dns_reply_free(a.reply);
	vstr_free(a.why);
	vstr_free(domain);
	vstr_free(source);
	fflush(stdout);
	return a.status;
}
