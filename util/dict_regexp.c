/*
 * dict_regexp - regexp: tables with Postfix regexp_table(5) syntax, POSIX
 * extended regular expressions from <regex.h>.
 *
 * Rules, tried in file order, first match wins:
 *   /pattern/flags result          key matches pattern
 *   !/pattern/flags result         key does not match pattern
 *   /pat1/flags!/pat2/flags result key matches pat1 and not pat2
 *   if /pattern/flags  ...  endif  (also "if !/pattern/") nest freely
 * Any non-alphanumeric, non-space character other than backslash may
 * replace '/'.  Flags toggle: i case sensitivity (default insensitive),
 * x extended syntax (default extended), m multi-line (default off).  In
 * the result, $1..$99, ${n} or $(n) is replaced by the n-th parenthesised
 * match (empty when that group did not take part) and $$ by "$".
 *
 * The rule frame (lines, if/endif, $n, errors naming name:line) is
 * util/dict_pat, shared with pcre:; this file is the <regex.h> engine.
 *
 * Errors: open fails with why "name:line: reason" for a bad pattern, flag,
 * $ reference, a missing result, an endif without if, or an if without
 * endif.  Lookups return -1 (msg_warn) only when the regex engine fails.
 * Values are borrowed from the DICT until the next lookup.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/dict_pat.h"
#include "util/dict_src.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

/*
 * glibc's regcomp copies the parse tree of an atom once per repetition it
 * must unroll ("a+" twice, "a{n,m}" m times), so stacked or nested
 * quantifiers grow exponentially and a single table line can take minutes
 * and gigabytes to compile.  Estimate the tree size first and refuse
 * patterns past RX_MAX_WEIGHT; real tables are orders of magnitude below.
 * Quantifiers stacked on one atom ("a+++") are undefined in POSIX EREs and
 * make glibc's epsilon closures explode even when the tree stays small, so
 * more than RX_MAX_STACKED in a row are refused too.
 */
#define RX_MAX_WEIGHT  10000
#define RX_MAX_STACKED 2 /* "a*?" is fine, "a*?+" is not */
#define RX_MAX_DEPTH   100

static size_t
rx_sat_add(size_t a, size_t b)
{
	if (a > RX_MAX_WEIGHT || b > RX_MAX_WEIGHT)
		return RX_MAX_WEIGHT + 1;
	return a + b;
}

static size_t
rx_sat_mul(size_t a, size_t b)
{
	return a && b > (RX_MAX_WEIGHT + 1) / a ? RX_MAX_WEIGHT + 1 : a * b;
}

/* Read decimal digits, saturating; returns the first non-digit. */
static const char *
rx_number(const char *p, size_t *n)
{
	for (*n = 0; isdigit((unsigned char)*p); p++)
		if (*n < 100000)
			*n = *n * 10 + (size_t)(*p - '0');
	return p;
}

static int
rx_too_complex(const char *p)
{
	size_t cur[RX_MAX_DEPTH + 1];
	size_t last[RX_MAX_DEPTH + 1];
	int    depth = 0;
	size_t n;
	size_t m;
	size_t w;
	int    stacked = 0;

	cur[0] = 0;
	last[0] = 1;
	for (; *p; p++) {
		int esc = *p == '\\' && p[1];

		if (esc)
			p++;
		if (*p == '*' || *p == '?' || *p == '+'
		    || (*p == '{' && isdigit((unsigned char)p[1]))) {
			if (++stacked > RX_MAX_STACKED)
				return 1;
		} else
			stacked = 0;
		if (*p == '(') {
			if (++depth > RX_MAX_DEPTH)
				return 1;
			cur[depth] = 0;
			last[depth] = 1;
		} else if (*p == ')' && depth > 0) {
			w = cur[depth] + 1;
			depth--;
			last[depth] = w;
			cur[depth] = rx_sat_add(cur[depth], w);
		} else if (*p == '*' || *p == '?') {
			cur[depth] = rx_sat_add(cur[depth], 1);
		} else if (*p == '+') {
			cur[depth] = rx_sat_add(cur[depth], last[depth]);
			last[depth] = rx_sat_mul(last[depth], 2);
		} else if (*p == '{' && isdigit((unsigned char)p[1])) {
			p = rx_number(p + 1, &n);
			m = n;
			if (*p == ',') {
				p = rx_number(p + 1, &m);
				if (m < n)
					m = n + 1;
			}
			if (*p == '\\' && p[1])
				p++;
			if (*p == 0)
				break;
			cur[depth] = rx_sat_add(cur[depth],
						rx_sat_mul(last[depth], m));
			last[depth] = rx_sat_mul(last[depth], m + 1);
		} else if (*p == '[' && !esc) {
			/* One atom; ']' just after '[' or '[^' is literal. */
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p && *p != ']') {
				if (*p == '['
				    && (p[1] == ':' || p[1] == '.'
					|| p[1] == '=')) {
					char close = p[1];

					p += 2;
					while (*p
					       && !(*p == close && p[1] == ']'))
						p++;
					if (*p)
						p++;
				}
				if (*p)
					p++;
			}
			if (*p == 0)
				break;
			last[depth] = 1;
			cur[depth] = rx_sat_add(cur[depth], 1);
		} else {
			last[depth] = 1;
			cur[depth] = rx_sat_add(cur[depth], 1);
		}
		if (cur[depth] > RX_MAX_WEIGHT || last[depth] > RX_MAX_WEIGHT)
			return 1;
	}
	return 0;
}

typedef struct RX_PAT {
	regex_t re;
} RX_PAT;

static void *
rx_compile(const char *re, const char *flags, size_t *nsub, const char *where,
	   VSTR *why)
{
	int	    cflags = REG_EXTENDED | REG_ICASE;
	const char *f;
	RX_PAT	   *pat;
	int	    err;
	char	    ebuf[256];

	for (f = flags; *f; f++) {
		switch (*f) {
		case 'i':
			cflags ^= REG_ICASE;
			break;
		case 'x':
			cflags ^= REG_EXTENDED;
			break;
		case 'm':
			cflags ^= REG_NEWLINE;
			break;
		default:
			vstr_sprintf(why, "%s: unknown regexp flag '%c'", where,
				     *f);
			return NULL;
		}
	}
	if (rx_too_complex(re)) {
		vstr_sprintf(why,
			     "%s: regexp \"%.40s%s\" is too complex "
			     "(nested or stacked repetition)",
			     where, re, strlen(re) > 40 ? "..." : "");
		return NULL;
	}
	pat = mymalloc(sizeof(*pat));
	if ((err = regcomp(&pat->re, re, cflags)) != 0) {
		regerror(err, &pat->re, ebuf, sizeof(ebuf));
		vstr_sprintf(why, "%s: regexp \"%s\": %s", where, re, ebuf);
		myfree(pat);
		return NULL;
	}
	*nsub = pat->re.re_nsub;
	return pat;
}

static int
rx_match(void *p, const char *spec, const char *key, DICT_PAT_SPAN *spans,
	 size_t nspan)
{
	RX_PAT	  *pat = p;
	regmatch_t pm[DICT_PAT_MAX_REF + 1];
	size_t	   i;
	int	   ret;
	char	   ebuf[256];

	if (spans == NULL)
		nspan = 0;
	ret = regexec(&pat->re, key, nspan, nspan ? pm : NULL, 0);
	if (ret != 0 && ret != REG_NOMATCH) {
		regerror(ret, &pat->re, ebuf, sizeof(ebuf));
		msg_warn("%s: regexec: %s", spec, ebuf);
		errno = ENOMEM;
		return -1;
	}
	if (ret != 0)
		return 0;
	for (i = 0; i < nspan; i++) {
		spans[i].so = pm[i].rm_so;
		spans[i].eo = pm[i].rm_eo;
	}
	return 1;
}

static void
rx_free(void *p)
{
	RX_PAT *pat = p;

	regfree(&pat->re);
	myfree(pat);
}

static const DICT_PAT_ENGINE rx_engine = {
	.type = "regexp",
	.allow_pair = 1,
	.compile = rx_compile,
	.match = rx_match,
	.free = rx_free,
};

DICT *
dict_regexp_open_buffer(const char *name, const char *text, size_t len,
			int flags, VSTR *why)
{
	return dict_pat_open_buffer(&rx_engine, name, text, len, flags, why);
}

DICT *
dict_regexp_open(const char *name, int flags, VSTR *why)
{
	return dict_src_open_file(name, flags, dict_regexp_open_buffer, why);
}
