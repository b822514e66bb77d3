/*
 * dnsbl - DNS allow/denylist site lists and the scoring of their replies.
 *
 * A site list (postscreen_dnsbl_sites) holds entries separated by commas
 * or white space, each `domain[=filter][*weight]`:
 *
 *	zen.example*3, bl.example=127.0.0.[2..11]*2,
 *	wl.example=127.0.[0..255].[1;2;3]*-2
 *
 * The filter is an IPv4 address pattern whose four octets are each a
 * number (0-255) or a bracketed list of numbers and ranges separated by
 * ';' ("[1..3;5]").  Without a filter any address in the reply matches.
 * The weight is an integer, negative for allow lists, 1 when absent.  A
 * domain may appear in several entries (different filters and weights);
 * a client is looked up once per distinct domain, and every entry whose
 * filter matches at least one address of that domain's reply adds its
 * weight once, however many addresses match.
 *
 * A score collects the replies of one client: the sum of the weights
 * (saturated at INT_MIN / INT_MAX) and the domain of the entry with the
 * largest positive weight that matched (the first such entry on a tie),
 * which is what a rejection names.
 *
 * Errors: dnsbl_parse returns NULL with a reason in `why` that quotes
 * the entry at fault.  dnsbl_score_reply ignores tokens of the reply that
 * are not IPv4 addresses and domains that the list does not hold.
 * Nothing else fails; allocation failures die.
 *
 * Ownership: a DNSBL is the caller's (dnsbl_free returns NULL).  Domain
 * names handed back (dnsbl_domain_at, DNSBL_SCORE.site) are borrowed from
 * the DNSBL and stay valid until it is freed.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DNSBL_H
#define UTIL_DNSBL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

typedef struct DNSBL DNSBL;

#define DNSBL_WEIGHT_MAX 1000000 /* |weight| of one entry */

/* NULL + why (naming the entry) on bad syntax; an empty list is fine. */
DNSBL *dnsbl_parse(const char *sites, VSTR *why);
DNSBL *dnsbl_free(DNSBL *bl);

/* Distinct domains (lower case) in order of first appearance. */
size_t	    dnsbl_domain_count(const DNSBL *bl);
const char *dnsbl_domain_at(const DNSBL *bl, size_t i);
/* Entries as written (a domain may have several). */
size_t dnsbl_entry_count(const DNSBL *bl);

/*
 * A DNS name that may be a list's domain or be asked for in a query:
 * letters, digits, '-' and '_' in labels of 1 to 63 octets separated by
 * single dots, at most 253 octets, no leading or trailing dot.
 */
bool dnsbl_domain_valid(const char *domain);

/*
 * True when the dotted-quad addr matches filter (the syntax above);
 * false for a bad filter or an addr that is not an IPv4 address.
 */
bool dnsbl_filter_match(const char *filter, const char *addr);

typedef struct DNSBL_SCORE {
	int	    total;	 /* sum of matched weights */
	const char *site;	 /* largest positive weight's domain, or NULL */
	int	    site_weight; /* that weight, 0 when site is NULL */
} DNSBL_SCORE;

void dnsbl_score_init(DNSBL_SCORE *score);
/*
 * Add the reply for domain (case-insensitive): result is the answer's A
 * records as space-separated dotted quads, "" when not listed.  Returns
 * the weight this reply added.
 */
int dnsbl_score_reply(const DNSBL *bl, DNSBL_SCORE *score, const char *domain,
		      const char *result);

#endif
