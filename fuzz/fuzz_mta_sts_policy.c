/*
 * fuzz_mta_sts_policy - libFuzzer target for util/mta_sts: the MTA-STS
 * policy file parser (what mtasts(8) reads from any web server named
 * mta-sts.DOMAIN), MX matching, and the cache record decoder (what
 * mtasts reads back from smtp_mta_sts_cache_map).
 *
 * Invariants: no crash; an accepted policy has a known mode, max_age
 * within 0..MTA_STS_MAX_AGE_MAX, 1..MTA_STS_MX_MAX well-formed lower-case
 * patterns (none only in mode none), each pattern matches a host made
 * from it, and the policy written out as text parses back to the same
 * policy; a cache record that decodes encodes to one that decodes the
 * same.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mta_sts.h"
#include "util/vstr.h"

static void
same(const MTA_STS_POLICY *a, const MTA_STS_POLICY *b)
{
	if (a->mode != b->mode || a->max_age != b->max_age || a->nmx != b->nmx)
		abort();
	for (size_t i = 0; i < a->nmx; i++)
		if (strcmp(a->mx[i], b->mx[i]) != 0)
			abort();
}

static void
check_policy(const MTA_STS_POLICY *p)
{
	VSTR	      *text = vstr_alloc(64);
	VSTR	      *host = vstr_alloc(64);
	MTA_STS_POLICY back;

	if (p->max_age < 0 || p->max_age > MTA_STS_MAX_AGE_MAX
	    || p->nmx > MTA_STS_MX_MAX
	    || (p->nmx == 0 && p->mode != MTA_STS_MODE_NONE))
		abort();
	for (size_t i = 0; i < p->nmx; i++) {
		const char *m = p->mx[i];

		if (!mta_sts_mx_pattern_ok(m))
			abort();
		for (const char *c = m; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				abort();
		if (strncmp(m, "*.", 2) == 0)
			vstr_sprintf(host, "x%s", m + 1);
		else
			vstr_strcpy(host, m);
		if (!mta_sts_policy_match(p, VSTR_STR(host)))
			abort();
	}
	memset(&back, 0, sizeof(back));
	mta_sts_policy_text(p, text);
	if (mta_sts_policy_parse(VSTR_STR(text), VSTR_LEN(text), &back, NULL)
	    < 0)
		abort();
	same(p, &back);
	mta_sts_policy_free(&back);
	vstr_free(text);
	vstr_free(host);
}

static void
check_cache(const uint8_t *data, size_t size)
{
	struct mta_sts_cache_entry e;
	struct mta_sts_cache_entry back;
	char			  *text = malloc(size + 1);
	VSTR			  *out = vstr_alloc(64);

	memcpy(text, data, size);
	text[size] = 0;
	memset(&e, 0, sizeof(e));
	memset(&back, 0, sizeof(back));
	e.id = vstr_alloc(16);
	back.id = vstr_alloc(16);
	if (mta_sts_cache_decode(text, &e, NULL) == 0) {
		mta_sts_cache_encode(&e, out);
		if (mta_sts_cache_decode(VSTR_STR(out), &back, NULL) < 0)
			abort();
		same(&e.policy, &back.policy);
		if (strcmp(VSTR_STR(e.id), VSTR_STR(back.id)) != 0
		    || e.expires != back.expires)
			abort();
	}
	mta_sts_policy_free(&e.policy);
	mta_sts_policy_free(&back.policy);
	vstr_free(e.id);
	vstr_free(back.id);
	vstr_free(out);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MTA_STS_POLICY p;

	memset(&p, 0, sizeof(p));
	if (mta_sts_policy_parse((const char *)data, size, &p, NULL) == 0)
		check_policy(&p);
	mta_sts_policy_free(&p);
	if (size < 4096)
		check_cache(data, size);
	return 0;
}
