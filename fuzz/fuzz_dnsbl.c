/*
 * fuzz_dnsbl - libFuzzer target for util/dnsbl: the postscreen_dnsbl_sites
 * parser, filter matching and the scoring of dnsblog replies.
 *
 * The first input line is a site list; every further line is
 * "domain result..." scored against it.  Each line is also taken as
 * "filter address" for dnsbl_filter_match.  Checked beyond memory
 * safety: a refusal names the entry; an accepted list holds only valid
 * domains, no more domains than entries, and each domain alone parses;
 * a score is the (saturated) sum of what each reply added and names a
 * listed domain with a positive weight, or none; a filter that matches
 * an address makes "x.test=FILTER" score that address 1.
 *
 * SPDX-License-Identifier: ISC
 */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/dnsbl.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

static void
fuzz_filter(const char *line)
{
	const char *sp = strchr(line, ' ');
	char	   *filter;
	VSTR	   *list;
	DNSBL	   *bl;
	DNSBL_SCORE s;

	if (sp == NULL)
		return;
	filter = mystrndup(line, (size_t)(sp - line));
	if (dnsbl_filter_match(filter, sp + 1)) {
		list = vstr_alloc(64);
		vstr_sprintf(list, "x.test=%s", filter);
		if ((bl = dnsbl_parse(VSTR_STR(list), NULL)) == NULL)
			__builtin_trap();
		dnsbl_score_init(&s);
		if (dnsbl_score_reply(bl, &s, "X.TEST", sp + 1) != 1
		    || s.total != 1 || s.site == NULL)
			__builtin_trap();
		dnsbl_free(bl);
		vstr_free(list);
	}
	myfree(filter);
}

static void
fuzz_list_checks(const DNSBL *bl)
{
	if (dnsbl_domain_count(bl) > dnsbl_entry_count(bl))
		__builtin_trap();
	for (size_t i = 0; i < dnsbl_domain_count(bl); i++) {
		const char *d = dnsbl_domain_at(bl, i);
		DNSBL	   *one;

		if (!dnsbl_domain_valid(d))
			__builtin_trap();
		if ((one = dnsbl_parse(d, NULL)) == NULL
		    || dnsbl_domain_count(one) != 1)
			__builtin_trap();
		dnsbl_free(one);
	}
	if (dnsbl_domain_at(bl, dnsbl_domain_count(bl)) != NULL)
		__builtin_trap();
}

static bool
fuzz_is_domain(const DNSBL *bl, const char *site)
{
	for (size_t i = 0; i < dnsbl_domain_count(bl); i++)
		if (dnsbl_domain_at(bl, i) == site)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = mystrndup((const char *)data, size);
	char	   *line = text;
	char	   *nl;
	VSTR	   *why = vstr_alloc(64);
	DNSBL	   *bl;
	DNSBL_SCORE s;
	long long   sum = 0;
	bool	    exact;

	/* mystrndup stops at a NUL: the rest of the input is ignored. */
	nl = strchr(line, '\n');
	if (nl)
		*nl = 0;
	bl = dnsbl_parse(line, why);
	if (bl == NULL) {
		if (strncmp(VSTR_STR(why), "entry \"", 7) != 0)
			__builtin_trap();
	} else {
		fuzz_list_checks(bl);
	}
	/*
	 * total saturates weight by weight, so it equals the plain sum of
	 * the replies only while nothing came near the limits: with at most
	 * 1000 entries one reply moves it by at most 1e9.
	 */
	exact = bl != NULL && dnsbl_entry_count(bl) <= 1000;
	dnsbl_score_init(&s);
	while (nl != NULL) {
		char *sp;

		line = nl + 1;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = 0;
		fuzz_filter(line);
		if (bl == NULL || (sp = strchr(line, ' ')) == NULL)
			continue;
		*sp = 0;
		sum += dnsbl_score_reply(bl, &s, line, sp + 1);
		if (exact && s.total != sum)
			__builtin_trap();
		if (sum > INT_MAX / 2 || sum < INT_MIN / 2)
			exact = false;
		if (s.site != NULL
		    && (s.site_weight <= 0 || !fuzz_is_domain(bl, s.site)))
			__builtin_trap();
		if (s.site == NULL && s.site_weight != 0)
			__builtin_trap();
	}
	dnsbl_free(bl);
	vstr_free(why);
	myfree(text);
	return 0;
}
