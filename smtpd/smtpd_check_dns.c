/*
 * smtpd_check_dns - the DNS-based restrictions: unknown sender, recipient
 * and HELO domains (MX, A, AAAA; RFC 7505 null MX), and DNS block lists
 * (reject_rbl_client, reject_rhsbl_*) with the default_rbl_reply
 * template.
 *
 * Errors: a temporary DNS failure defers the unknown-domain checks and is
 * ignored (logged) by the block-list checks.  Nothing here allocates
 * beyond the call.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_check.h"
#include "smtpd/smtpd_check_priv.h"
#include "util/addr.h"
#include "util/dict.h"
#include "util/dns.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

/* DNS. */

/*
 * Does the domain exist for mail: MX (a null MX counts as "no mail"),
 * then A, then AAAA.  DNS_OK, DNS_NOTFOUND, DNS_TEMPFAIL; *nullmx set.
 */
enum dns_status
smtpd_check_dns_domain(SMTPD_CHECK *c, const char *domain, bool mx,
		       bool *nullmx)
{
	static const int types[] = { DNS_TYPE_MX, DNS_TYPE_A, DNS_TYPE_AAAA };
	enum dns_status	 st;
	bool		 temp = false;

	*nullmx = false;
	for (size_t i = mx ? 0 : 1; i < 3; i++) {
		st = dns_lookup(c->dns, domain, types[i], c->dns_reply,
				c->scratch);
		if (st == DNS_OK) {
			if (types[i] == DNS_TYPE_MX
			    && dns_null_mx(c->dns_reply))
				*nullmx = true;
			return DNS_OK;
		}
		if (st == DNS_TEMPFAIL)
			temp = true;
	}
	return temp ? DNS_TEMPFAIL : DNS_NOTFOUND;
}

int
smtpd_check_dns_unknown(struct chk_ctx *x, enum chk_class class, const ADDR *a,
			const char *detail)
{
	SMTPD_CHECK    *c = x->c;
	enum addr_class ac;
	bool		nullmx;
	char		dsn[8];
	VSTR	       *text;
	int		rc = CHK_DUNNO;

	if (a == NULL || (a->flags & (ADDR_F_NODOMAIN | ADDR_F_LITERAL)))
		return CHK_DUNNO;
	if (smtpd_check_addr_class(c, VSTR_STR(a->domain), &ac) < 0)
		return smtpd_check_error(x);
	if (ac != AC_FOREIGN && ac != AC_RELAY)
		return CHK_DUNNO;
	text = vstr_alloc(64);
	switch (smtpd_check_dns_domain(c, VSTR_STR(a->domain), true, &nullmx)) {
	case DNS_OK:
		if (nullmx) {
			vstr_strcpy(text, "Domain ");
			smtpd_check_printable(text, VSTR_STR(a->domain));
			vstr_strcat(text, " does not accept mail (nullMX)");
			rc = smtpd_check_reject(x, class, 550, "5.7.27",
						VSTR_STR(text));
		}
		break;
	case DNS_NOTFOUND:
		snprintf(dsn, sizeof(dsn), "x.%s", detail);
		rc = smtpd_check_reject(x, class, c->unknown_addr_code, dsn,
					"Domain not found");
		break;
	case DNS_TEMPFAIL:
		snprintf(dsn, sizeof(dsn), "4.%s", detail);
		rc = smtpd_check_reject(x, class, 450, dsn,
					"Domain not found (temporary DNS "
					"failure)");
		break;
	}
	vstr_free(text);
	return rc;
}

/* Expand default_rbl_reply: $rbl_* names, with ${name?text} forms. */
static void
chk_rbl_expand(VSTR *out, const char *tmpl, const char *const *names,
	       const char *const *values, size_t n, int depth)
{
	const char *cp = tmpl;

	while (*cp) {
		const char *name;
		size_t	    nlen;
		const char *alt = NULL;
		size_t	    alen = 0;
		char	    op = 0;
		const char *val = NULL;

		if (*cp != '$') {
			vstr_addch(out, *cp++);
			continue;
		}
		cp++;
		if (*cp == '$') {
			vstr_addch(out, *cp++);
			continue;
		}
		if (*cp == '{') {
			const char *end;
			int	    level = 1;

			name = ++cp;
			nlen = strcspn(cp, "?:}");
			cp += nlen;
			if (*cp == '?' || *cp == ':') {
				op = *cp++;
				alt = cp;
			}
			for (end = cp; *end && level > 0; end++) {
				if (*end == '{')
					level++;
				else if (*end == '}')
					level--;
			}
			if (level > 0)
				return;
			if (alt)
				alen = (size_t)(end - 1 - alt);
			cp = end;
		} else {
			name = cp;
			nlen = strspn(cp, "abcdefghijklmnopqrstuvwxyz"
					  "_0123456789");
			cp += nlen;
		}
		for (size_t i = 0; i < n; i++)
			if (strlen(names[i]) == nlen
			    && strncmp(names[i], name, nlen) == 0)
				val = values[i];
		if (op == 0) {
			if (val)
				vstr_strcat(out, val);
		} else if ((op == '?') == (val != NULL && *val != 0)
			   && depth < 3) {
			char *sub = mystrndup(alt, alen);

			chk_rbl_expand(out, sub, names, values, n, depth + 1);
			myfree(sub);
		}
	}
}

int
smtpd_check_dns_rbl(struct chk_ctx *x, const struct restr *r, const char *what,
		    bool reverse, const char *class_text)
{
	SMTPD_CHECK *c = x->c;
	VSTR	    *q = vstr_alloc(128);
	VSTR	    *reason = vstr_alloc(64);
	VSTR	    *out = vstr_alloc(128);
	VSTR	    *tmpl = vstr_alloc(128);
	VSTR	    *why = vstr_alloc(64);
	bool	     listed = false;
	char	     code[8];
	int	     rc = CHK_DUNNO;

	if (reverse) {
		if (dns_reverse_name(q, what, r->zone) < 0)
			goto out;
	} else {
		vstr_sprintf(q, "%s.%s", what, r->zone);
	}
	switch (dns_lookup(c->dns, VSTR_STR(q), DNS_TYPE_A, c->dns_reply,
			   c->scratch)) {
	case DNS_OK:
		for (size_t i = 0; i < c->dns_reply->count; i++)
			if (r->filter == NULL
			    || strcmp(VSTR_STR(c->dns_reply->rr[i].data),
				      r->filter)
				   == 0)
				listed = true;
		break;
	case DNS_TEMPFAIL:
		/* Postfix too: an unreachable list never blocks mail. */
		msg_warn("%s: DNS lookup of %s: %s", r->zone, VSTR_STR(q),
			 VSTR_STR(c->scratch));
		break;
	case DNS_NOTFOUND:
		break;
	}
	if (!listed)
		goto out;
	if (dns_lookup(c->dns, VSTR_STR(q), DNS_TYPE_TXT, c->dns_reply,
		       c->scratch)
	    == DNS_OK)
		smtpd_check_printable(reason,
				      VSTR_STR(c->dns_reply->rr[0].data));
	snprintf(code, sizeof(code), "%d", c->rbl_code);
	{
		VSTR	   *safe_what = vstr_alloc(64);
		const char *names[] = { "rbl_code",   "rbl_class",
					"rbl_what",   "rbl_domain",
					"rbl_reason", "client_address",
					"client_name" };
		const char *values[7];

		smtpd_check_printable(safe_what, what);
		values[0] = code;
		values[1] = class_text;
		values[2] = VSTR_STR(safe_what);
		values[3] = r->zone;
		values[4] = VSTR_STR(reason);
		values[5] = x->f->client_addr ? x->f->client_addr : "";
		values[6] = x->f->client_name ? x->f->client_name : "unknown";
		/* Real parameters first, $rbl_* names stay for us. */
		if (cfg_expand_known(c->cfg,
				     cfg_get_text(c->cfg, "default_rbl_reply"),
				     tmpl, why)
		    < 0)
			vstr_strcpy(tmpl,
				    "$rbl_code Service unavailable; "
				    "$rbl_class [$rbl_what] blocked using "
				    "$rbl_domain");
		chk_rbl_expand(out, VSTR_STR(tmpl), names, values, 7, 0);
		vstr_free(safe_what);
	}
	/* The template starts with the code; the DSN goes after it. */
	{
		const char *t = VSTR_STR(out);
		long long   n = 0;

		if (smtpd_check_is_code(t, strspn(t, "0123456789"))) {
			n = (t[0] - '0') * 100 + (t[1] - '0') * 10
			    + (t[2] - '0');
			t += 3;
			t += strspn(t, " ");
		} else {
			n = c->rbl_code;
		}
		rc = smtpd_check_reply(x, (int)n, "5.7.1", "%s", t);
	}
out:
	vstr_free(q);
	vstr_free(reason);
	vstr_free(out);
	vstr_free(tmpl);
	vstr_free(why);
	return rc;
}
