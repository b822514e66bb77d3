/*
 * mta_sts - MTA-STS (RFC 8461) parsers: the `_mta-sts` TXT record, the
 * policy file, MX pattern matching, and the cache record the mtasts(8)
 * daemon keeps per policy domain.
 *
 * TXT record (RFC 8461 3.1): "v=STSv1; id=20240101T0000; ..." with
 * fields separated by ";" and optional blanks, v=STSv1 first, exactly
 * one id of 1 to 32 letters and digits, extensions "name=value"
 * (name: letter or digit, then up to 31 letters, digits, "_", "-",
 * "."; value: printable ASCII without ";" and "=") ignored.  Of several
 * TXT records those that do not begin with "v=STSv1;" (or are exactly
 * "v=STSv1") are discarded; when not exactly one is left, or that one
 * is malformed, the domain has no usable record (mta_sts_txt_select).
 *
 * Policy file (RFC 8461 3.2): lines "key: value" ended by LF or CRLF
 * (the last line may lack its end), blanks around key and value ignored;
 * "version: STSv1" required; "mode:" enforce, testing or none required;
 * "max_age:" 0 to 31557600 (at most 10 digits) required; "mx:" patterns
 * (a host name, or "*." and a host name: the wildcard covers exactly
 * one label), at least one unless the mode is none, at most
 * MTA_STS_MX_MAX; unknown keys ignored (their values must not hold
 * control characters).  version, mode and max_age must appear once; a
 * second occurrence makes the policy invalid (a policy that says two
 * things is not trusted).  At most MTA_STS_POLICY_MAX bytes, a line at
 * most MTA_STS_LINE_MAX bytes; a NUL anywhere is invalid.
 *
 * Matching (RFC 8461 4.1): case-insensitive, a final dot on the host is
 * ignored; "*.example.com" matches "mx.example.com" but neither
 * "example.com" nor "a.b.example.com".
 *
 * Cache record: one line of "name=value" fields separated by a space,
 * "id=ID fetched=T expires=T checked=T mode=MODE max_age=N mx=P,P",
 * strictly decoded (every field once, in any order, nothing else).
 *
 * Errors: parsers return 0 / -1 with a reason in `why` (may be NULL).
 * Ownership: an MTA_STS_POLICY owns its mx strings (mta_sts_policy_free
 * releases them and clears the struct; it may be reused after).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MTA_STS_H
#define UTIL_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

#define MTA_STS_POLICY_MAX  (64 * 1024) /* bytes of a policy file */
#define MTA_STS_LINE_MAX    1000	/* bytes of one policy line */
#define MTA_STS_MX_MAX	    64		/* mx: patterns kept */
#define MTA_STS_ID_MAX	    32		/* characters of an id */
#define MTA_STS_MAX_AGE_MAX 31557600LL	/* seconds, RFC 8461 3.2 */

enum mta_sts_mode {
	MTA_STS_MODE_NONE,
	MTA_STS_MODE_TESTING,
	MTA_STS_MODE_ENFORCE,
};

typedef struct MTA_STS_POLICY {
	enum mta_sts_mode mode;
	long long	  max_age;
	size_t		  nmx;
	char		 *mx[MTA_STS_MX_MAX]; /* lower case, owned */
} MTA_STS_POLICY;

/* "enforce", "testing", "none"; -1 for anything else. */
int	    mta_sts_mode_parse(const char *name);
const char *mta_sts_mode_name(enum mta_sts_mode mode);

/*
 * One TXT record (its character-strings joined).  1: a valid STSv1
 * record, id copied into id; 0: not an STSv1 record (does not begin
 * with "v=STSv1"); -1: begins so but is malformed (why).
 */
int mta_sts_txt_parse(const char *txt, size_t len, VSTR *id, VSTR *why);
/*
 * All TXT records of _mta-sts.DOMAIN: 0 with the id of the only STSv1
 * record, or -1 (why) when there are none, several, or it is malformed.
 */
int mta_sts_txt_select(const char *const *txt, const size_t *len, size_t n,
		       VSTR *id, VSTR *why);

/* Parse a policy file into p (freed first); 0, or -1 (why). */
int  mta_sts_policy_parse(const char *text, size_t len, MTA_STS_POLICY *p,
			  VSTR *why);
void mta_sts_policy_free(MTA_STS_POLICY *p);
/* Copy src into dst (dst freed first). */
void mta_sts_policy_copy(MTA_STS_POLICY *dst, const MTA_STS_POLICY *src);
/* The policy as a policy file (LF lines, mx in order) into out. */
void mta_sts_policy_text(const MTA_STS_POLICY *p, VSTR *out);
/* The mx patterns joined with sep into out. */
void
mta_sts_policy_mx_list(const MTA_STS_POLICY *p, const char *sep, VSTR *out);
/* Set p's mx from a list of patterns separated by ',' or blanks; 0/-1. */
int mta_sts_policy_mx_parse(MTA_STS_POLICY *p, const char *list, VSTR *why);

/* Is pattern ("host" or "*.host") well formed? */
bool mta_sts_mx_pattern_ok(const char *pattern);
/* Does host match pattern? */
bool mta_sts_mx_match(const char *pattern, const char *host);
/* Does host match any mx pattern of p? */
bool mta_sts_policy_match(const MTA_STS_POLICY *p, const char *host);

/* A cached policy with its bookkeeping. */
struct mta_sts_cache_entry {
	VSTR	      *id;	/* the TXT id it was fetched under */
	long long      fetched; /* time() of the fetch */
	long long      expires; /* fetched + max_age */
	long long      checked; /* last TXT check (refresh timer) */
	MTA_STS_POLICY policy;
};

void mta_sts_cache_encode(const struct mta_sts_cache_entry *e, VSTR *out);
/* e->id must be allocated; e->policy is freed first.  0, or -1 (why). */
int mta_sts_cache_decode(const char *text, struct mta_sts_cache_entry *e,
			 VSTR *why);

#endif
