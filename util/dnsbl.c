/*
 * dnsbl - DNS allow/denylist site lists and the scoring of their replies.
 *
 * A filter is kept as one 256-bit set per octet, so matching an address
 * is four bit tests whatever the ranges looked like.  Domains are kept
 * once each (lower case); entries refer to them by index, so a domain
 * listed with several filters is still queried once.
 *
 * Errors and ownership: see dnsbl.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util/dnsbl.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

#define DNSBL_LABEL_MAX	 63
#define DNSBL_DOMAIN_MAX 253

/* One octet's allowed values: bit v of the set is value v. */
typedef struct dnsbl_octet {
	uint64_t bits[4];
} DNSBL_OCTET;

struct dnsbl_entry {
	size_t	    domain; /* index into DNSBL.domains */
	bool	    has_filter;
	DNSBL_OCTET filter[4];
	int	    weight;
};

struct DNSBL {
	char		  **domains;
	size_t		    ndomains;
	struct dnsbl_entry *entries;
	size_t		    nentries;
};

static void
dnsbl_octet_add(DNSBL_OCTET *o, unsigned lo, unsigned hi)
{
	for (unsigned v = lo; v <= hi; v++)
		o->bits[v / 64] |= (uint64_t)1 << (v % 64);
}

static bool
dnsbl_octet_has(const DNSBL_OCTET *o, unsigned v)
{
	return (o->bits[v / 64] >> (v % 64)) & 1;
}

/* A decimal octet value of 1 to 3 digits at *pp; 0 / -1. */
static int
dnsbl_number(const char **pp, unsigned *value)
{
	const char *p = *pp;
	unsigned    v = 0;
	int	    n = 0;

	while (isdigit((unsigned char)*p) && n < 4) {
		v = v * 10 + (unsigned)(*p++ - '0');
		n++;
	}
	if (n == 0 || n > 3 || v > 255)
		return -1;
	*pp = p;
	*value = v;
	return 0;
}

/* One octet pattern: N or [item;item...] with item N or N..M; 0 / -1. */
static int
dnsbl_octet_parse(const char **pp, DNSBL_OCTET *o, VSTR *why)
{
	const char *p = *pp;
	unsigned    lo, hi;

	memset(o, 0, sizeof(*o));
	if (*p != '[') {
		if (dnsbl_number(&p, &lo) < 0) {
			vstr_strcpy(why, "octet is not a number 0-255");
			return -1;
		}
		dnsbl_octet_add(o, lo, lo);
		*pp = p;
		return 0;
	}
	p++;
	for (;;) {
		if (dnsbl_number(&p, &lo) < 0) {
			vstr_strcpy(why, "bracket item is not a number 0-255");
			return -1;
		}
		hi = lo;
		if (p[0] == '.' && p[1] == '.') {
			p += 2;
			if (dnsbl_number(&p, &hi) < 0) {
				vstr_strcpy(why, "range end is not a number "
						 "0-255");
				return -1;
			}
			if (hi < lo) {
				vstr_sprintf(why, "range %u..%u runs backwards",
					     lo, hi);
				return -1;
			}
		}
		dnsbl_octet_add(o, lo, hi);
		if (*p == ']')
			break;
		if (*p != ';') {
			vstr_strcpy(why, "expected ';' or ']' in brackets");
			return -1;
		}
		p++;
	}
	*pp = p + 1;
	return 0;
}

/* A whole d.d.d.d filter; 0 / -1 with why. */
static int
dnsbl_filter_parse(const char *text, DNSBL_OCTET filter[4], VSTR *why)
{
	const char *p = text;

	for (int i = 0; i < 4; i++) {
		if (dnsbl_octet_parse(&p, &filter[i], why) < 0)
			return -1;
		if (i < 3) {
			if (*p != '.') {
				vstr_strcpy(why, "filter needs four octets");
				return -1;
			}
			p++;
		}
	}
	if (*p != 0) {
		vstr_strcpy(why, "text after the fourth octet");
		return -1;
	}
	return 0;
}

static bool
dnsbl_filter_has(const DNSBL_OCTET filter[4], const unsigned char addr[4])
{
	for (int i = 0; i < 4; i++)
		if (!dnsbl_octet_has(&filter[i], addr[i]))
			return false;
	return true;
}

bool
dnsbl_filter_match(const char *filter, const char *addr)
{
	DNSBL_OCTET   f[4];
	unsigned char a[4];
	VSTR	     *why = vstr_alloc(32);
	int	      ok;

	ok = dnsbl_filter_parse(filter, f, why);
	vstr_free(why);
	if (ok < 0 || inet_pton(AF_INET, addr, a) != 1)
		return false;
	return dnsbl_filter_has(f, a);
}

bool
dnsbl_domain_valid(const char *domain)
{
	size_t len = strlen(domain);
	size_t label = 0;

	if (len == 0 || len > DNSBL_DOMAIN_MAX)
		return false;
	for (const char *p = domain; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
		if (++label > DNSBL_LABEL_MAX)
			return false;
	}
	return label > 0;
}

/* An integer weight: optional '-', digits, |w| <= DNSBL_WEIGHT_MAX. */
static int
dnsbl_weight_parse(const char *text, int *weight)
{
	const char *p = text;
	bool	    neg = false;
	long	    v = 0;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (*p - '0');
		if (v > DNSBL_WEIGHT_MAX)
			return -1;
	}
	if (*p != 0)
		return -1;
	*weight = (int)(neg ? -v : v);
	return 0;
}

static size_t
dnsbl_domain_index(DNSBL *bl, const char *domain)
{
	for (size_t i = 0; i < bl->ndomains; i++)
		if (strcmp(bl->domains[i], domain) == 0)
			return i;
	bl->domains = myrealloc_array(bl->domains, bl->ndomains + 1,
				      sizeof(*bl->domains));
	bl->domains[bl->ndomains] = mystrdup(domain);
	return bl->ndomains++;
}

/* One entry, modified in place while parsing; 0 / -1 with why. */
static int
dnsbl_entry_parse(DNSBL *bl, char *item, VSTR *why)
{
	struct dnsbl_entry e;
	char		  *star = strchr(item, '*');
	char		  *eq;
	VSTR		  *detail = vstr_alloc(32);
	int		   ret = -1;

	memset(&e, 0, sizeof(e));
	e.weight = 1;
	if (star != NULL) {
		*star = 0;
		if (dnsbl_weight_parse(star + 1, &e.weight) < 0) {
			vstr_sprintf(why,
				     "bad weight \"%s\" (an integer from -%d "
				     "to %d)",
				     star + 1, DNSBL_WEIGHT_MAX,
				     DNSBL_WEIGHT_MAX);
			goto out;
		}
	}
	if ((eq = strchr(item, '=')) != NULL) {
		*eq = 0;
		if (dnsbl_filter_parse(eq + 1, e.filter, detail) < 0) {
			vstr_sprintf(why, "bad filter \"%s\": %s", eq + 1,
				     VSTR_STR(detail));
			goto out;
		}
		e.has_filter = true;
	}
	str_lower(item);
	if (!dnsbl_domain_valid(item)) {
		vstr_sprintf(why, "bad domain name \"%s\"", item);
		goto out;
	}
	e.domain = dnsbl_domain_index(bl, item);
	bl->entries = myrealloc_array(bl->entries, bl->nentries + 1,
				      sizeof(*bl->entries));
	bl->entries[bl->nentries++] = e;
	ret = 0;
out:
	vstr_free(detail);
	return ret;
}

DNSBL *
dnsbl_parse(const char *sites, VSTR *why)
{
	DNSBL *bl = mycalloc(1, sizeof(*bl));
	char  *copy = mystrdup(sites ? sites : "");
	char  *cp = copy;
	char  *item;
	char  *orig;
	VSTR  *detail = vstr_alloc(64);

	while ((item = str_token(&cp, STR_SEP_LIST)) != NULL) {
		orig = mystrdup(item);
		if (dnsbl_entry_parse(bl, item, detail) < 0) {
			if (why)
				vstr_sprintf(why, "entry \"%s\": %s", orig,
					     VSTR_STR(detail));
			myfree(orig);
			myfree(copy);
			vstr_free(detail);
			errno = EINVAL;
			return dnsbl_free(bl);
		}
		myfree(orig);
	}
	myfree(copy);
	vstr_free(detail);
	return bl;
}

DNSBL *
dnsbl_free(DNSBL *bl)
{
	if (bl == NULL)
		return NULL;
	for (size_t i = 0; i < bl->ndomains; i++)
		myfree(bl->domains[i]);
	myfree(bl->domains);
	myfree(bl->entries);
	myfree(bl);
	return NULL;
}

size_t
dnsbl_domain_count(const DNSBL *bl)
{
	return bl->ndomains;
}

const char *
dnsbl_domain_at(const DNSBL *bl, size_t i)
{
	return i < bl->ndomains ? bl->domains[i] : NULL;
}

size_t
dnsbl_entry_count(const DNSBL *bl)
{
	return bl->nentries;
}

void
dnsbl_score_init(DNSBL_SCORE *score)
{
	score->total = 0;
	score->site = NULL;
	score->site_weight = 0;
}

static int
dnsbl_add_sat(int a, int b)
{
	long long s = (long long)a + b;

	if (s > INT_MAX)
		return INT_MAX;
	if (s < INT_MIN)
		return INT_MIN;
	return (int)s;
}

/* The IPv4 addresses among result's space-separated tokens. */
static size_t
dnsbl_reply_addrs(const char *result, unsigned char (**addrs)[4])
{
	char  *copy = mystrdup(result);
	char  *cp = copy;
	char  *tok;
	size_t n = 0, max = 0;

	*addrs = NULL;
	while ((tok = str_token(&cp, " \t")) != NULL) {
		unsigned char a[4];

		if (inet_pton(AF_INET, tok, a) != 1)
			continue;
		if (n == max) {
			max = max ? 2 * max : 8;
			*addrs = myrealloc_array(*addrs, max, sizeof(**addrs));
		}
		memcpy((*addrs)[n++], a, 4);
	}
	myfree(copy);
	return n;
}

int
dnsbl_score_reply(const DNSBL *bl, DNSBL_SCORE *score, const char *domain,
		  const char *result)
{
	unsigned char(*addrs)[4];
	size_t naddrs;
	size_t d;
	int    added = 0;

	for (d = 0; d < bl->ndomains; d++)
		if (strcasecmp(bl->domains[d], domain) == 0)
			break;
	if (d == bl->ndomains)
		return 0;
	naddrs = dnsbl_reply_addrs(result ? result : "", &addrs);
	for (size_t i = 0; i < bl->nentries && naddrs > 0; i++) {
		const struct dnsbl_entry *e = &bl->entries[i];
		bool			  hit = !e->has_filter;

		if (e->domain != d)
			continue;
		for (size_t a = 0; a < naddrs && !hit; a++)
			hit = dnsbl_filter_has(e->filter, addrs[a]);
		if (!hit)
			continue;
		added = dnsbl_add_sat(added, e->weight);
		score->total = dnsbl_add_sat(score->total, e->weight);
		if (e->weight > score->site_weight) {
			score->site = bl->domains[d];
			score->site_weight = e->weight;
		}
	}
	myfree(addrs);
	return added;
}
