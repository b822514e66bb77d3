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
#include "util/dict_src.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

#define RX_MAX_REF 99 /* highest $n */

enum rx_op {
	RX_MATCH,
	RX_IF,
	RX_ENDIF,
};

typedef struct RX_PAT {
	regex_t re;
	int	compiled;
	int	negate;
} RX_PAT;

typedef struct RX_RULE {
	enum rx_op op;
	RX_PAT	   pat[2]; /* pat[1] used when npat == 2 */
	int	   npat;
	char	  *result;
	int	   lineno;
	size_t	   endif; /* RX_IF: index of its endif */
} RX_RULE;

typedef struct DICT_REGEXP {
	DICT	    dict;
	RX_RULE	   *rules;
	size_t	    count;
	size_t	    maxsub; /* largest re_nsub of a pat[0] */
	regmatch_t *pmatch;
	VSTR	   *result;
} DICT_REGEXP;

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

/* Parse one delimited pattern and its flags; compile it. */
static int
rx_parse_pat(char **pp, RX_PAT *pat, int allow_negate, const char *where,
	     VSTR *why)
{
	char *p = *pp;
	char  delim;
	char *start;
	int   cflags = REG_EXTENDED | REG_ICASE;
	int   err;
	char  ebuf[256];

	pat->negate = 0;
	if (*p == '!' && allow_negate) {
		pat->negate = 1;
		p++;
		while (isspace((unsigned char)*p))
			p++;
	}
	delim = *p;
	if (delim == 0 || isalnum((unsigned char)delim)
	    || isspace((unsigned char)delim) || delim == '\\') {
		vstr_sprintf(why, "%s: expected a pattern such as /regexp/",
			     where);
		return -1;
	}
	start = ++p;
	while (*p && *p != delim) {
		if (*p == '\\' && p[1])
			p++;
		p++;
	}
	if (*p != delim) {
		vstr_sprintf(why, "%s: missing closing '%c' after pattern",
			     where, delim);
		return -1;
	}
	*p++ = 0;
	for (; *p && !isspace((unsigned char)*p) && *p != '!'; p++) {
		switch (*p) {
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
				     *p);
			return -1;
		}
	}
	if (rx_too_complex(start)) {
		vstr_sprintf(why,
			     "%s: regexp \"%.40s%s\" is too complex "
			     "(nested or stacked repetition)",
			     where, start, strlen(start) > 40 ? "..." : "");
		return -1;
	}
	if ((err = regcomp(&pat->re, start, cflags)) != 0) {
		regerror(err, &pat->re, ebuf, sizeof(ebuf));
		vstr_sprintf(why, "%s: regexp \"%s\": %s", where, start, ebuf);
		return -1;
	}
	pat->compiled = 1;
	*pp = p;
	return 0;
}

/* Check the $ references of a result against the pattern's groups. */
static int
rx_check_result(const char *result, const RX_RULE *rule, const char *where,
		VSTR *why)
{
	const char *p;
	size_t	    n;
	size_t	    nsub = rule->pat[0].re.re_nsub;

	for (p = result; *p; p++) {
		if (*p != '$')
			continue;
		p++;
		if (*p == '$')
			continue;
		if (*p == '{' || *p == '(') {
			char close = *p == '{' ? '}' : ')';

			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			n = 0;
			while (isdigit((unsigned char)*p) && n <= RX_MAX_REF)
				n = n * 10 + (size_t)(*p++ - '0');
			if (*p != close)
				goto bad;
		} else if (isdigit((unsigned char)*p)) {
			n = (size_t)(*p - '0');
			if (isdigit((unsigned char)p[1])) {
				n = n * 10 + (size_t)(p[1] - '0');
				p++;
			}
		} else
			goto bad;
		if (rule->pat[0].negate) {
			vstr_sprintf(why,
				     "%s: $%zu in the result of a negated "
				     "pattern",
				     where, n);
			return -1;
		}
		if (n > nsub || n > RX_MAX_REF) {
			vstr_sprintf(why,
				     "%s: $%zu out of range: the pattern "
				     "has %zu group(s)",
				     where, n, nsub);
			return -1;
		}
	}
	return 0;
bad:
	vstr_sprintf(why, "%s: bad $ reference in result \"%s\"", where,
		     result);
	return -1;
}

static void
rx_rule_free(RX_RULE *r)
{
	int i;

	for (i = 0; i < 2; i++)
		if (r->pat[i].compiled)
			regfree(&r->pat[i].re);
	myfree(r->result);
}

/* Parse one logical line into *rule; 0 or -1 with why. */
static int
rx_parse_line(char *line, RX_RULE *rule, const char *where, VSTR *why)
{
	char *p = line;

	memset(rule, 0, sizeof(*rule));
	p = str_trim(p);
	if (str_is_word(p, "endif")) {
		if (p[5] != 0) {
			vstr_sprintf(why, "%s: text after endif", where);
			return -1;
		}
		rule->op = RX_ENDIF;
		return 0;
	}
	if (str_is_word(p, "if")) {
		rule->op = RX_IF;
		p += 2;
		while (isspace((unsigned char)*p))
			p++;
		if (rx_parse_pat(&p, &rule->pat[0], 1, where, why) < 0)
			return -1;
		rule->npat = 1;
		while (isspace((unsigned char)*p))
			p++;
		if (*p != 0) {
			vstr_sprintf(why, "%s: text after if pattern", where);
			return -1;
		}
		return 0;
	}
	rule->op = RX_MATCH;
	if (rx_parse_pat(&p, &rule->pat[0], 1, where, why) < 0)
		return -1;
	rule->npat = 1;
	if (*p == '!' && !rule->pat[0].negate) {
		p++;
		if (rx_parse_pat(&p, &rule->pat[1], 0, where, why) < 0)
			return -1;
		rule->pat[1].negate = 1;
		rule->npat = 2;
	}
	if (*p && !isspace((unsigned char)*p)) {
		vstr_sprintf(why, "%s: unexpected text after pattern", where);
		return -1;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p == 0) {
		vstr_sprintf(why, "%s: missing result after pattern", where);
		return -1;
	}
	if (rx_check_result(p, rule, where, why) < 0)
		return -1;
	rule->result = mystrdup(p);
	return 0;
}

/* Does the key satisfy pattern p?  1 yes, 0 no, -1 engine error. */
static int
rx_match(DICT_REGEXP *dr, RX_PAT *pat, const char *key, regmatch_t *pm,
	 size_t npm)
{
	int  ret = regexec(&pat->re, key, npm, pm, 0);
	char ebuf[256];

	if (ret != 0 && ret != REG_NOMATCH) {
		regerror(ret, &pat->re, ebuf, sizeof(ebuf));
		msg_warn("%s: regexec: %s", dr->dict.spec, ebuf);
		errno = ENOMEM;
		return -1;
	}
	return (ret == 0) != pat->negate;
}

static const char *
rx_expand(DICT_REGEXP *dr, const char *result, const char *key)
{
	const char *p;
	size_t	    n;
	regmatch_t *m;

	vstr_reset(dr->result);
	for (p = result; *p; p++) {
		if (*p != '$') {
			vstr_addch(dr->result, *p);
			continue;
		}
		p++;
		if (*p == '$') {
			vstr_addch(dr->result, '$');
			continue;
		}
		if (*p == '{' || *p == '(') {
			for (p++, n = 0; isdigit((unsigned char)*p); p++)
				n = n * 10 + (size_t)(*p - '0');
		} else {
			n = (size_t)(*p - '0');
			if (isdigit((unsigned char)p[1]))
				n = n * 10 + (size_t)(*++p - '0');
		}
		/* Checked at open time: n <= re_nsub <= maxsub. */
		m = &dr->pmatch[n];
		if (m->rm_so >= 0 && m->rm_eo >= m->rm_so)
			vstr_memcat(dr->result, key + m->rm_so,
				    (size_t)(m->rm_eo - m->rm_so));
	}
	return VSTR_STR(dr->result);
}

static int
rx_lookup(DICT *d, const char *key, const char **value)
{
	DICT_REGEXP *dr = (DICT_REGEXP *)d;
	size_t	     i = 0;
	size_t	     npm = dr->maxsub + 1;
	RX_RULE	    *r;
	int	     ret;

	while (i < dr->count) {
		r = &dr->rules[i];
		if (r->op == RX_ENDIF) {
			i++;
			continue;
		}
		if (r->op == RX_IF) {
			if ((ret = rx_match(dr, &r->pat[0], key, NULL, 0)) < 0)
				return -1;
			i = ret ? i + 1 : r->endif + 1;
			continue;
		}
		ret = rx_match(dr, &r->pat[0], key, dr->pmatch, npm);
		if (ret < 0)
			return -1;
		if (ret && r->npat == 2) {
			regmatch_t save[RX_MAX_REF + 1];
			size_t	   ns = npm;

			if (ns > RX_MAX_REF + 1)
				ns = RX_MAX_REF + 1;

			/* pat[1] must not clobber pat[0]'s groups. */
			memcpy(save, dr->pmatch, ns * sizeof(regmatch_t));
			ret = rx_match(dr, &r->pat[1], key, NULL, 0);
			memcpy(dr->pmatch, save, ns * sizeof(regmatch_t));
			if (ret < 0)
				return -1;
		}
		if (ret) {
			*value = rx_expand(dr, r->result, key);
			return 1;
		}
		i++;
	}
	return 0;
}

static void
rx_close(DICT *d)
{
	DICT_REGEXP *dr = (DICT_REGEXP *)d;
	size_t	     i;

	for (i = 0; i < dr->count; i++)
		rx_rule_free(&dr->rules[i]);
	myfree(dr->rules);
	myfree(dr->pmatch);
	vstr_free(dr->result);
}

/* dict_src_rules callbacks: append one rule; pair if and endif. */
static int
rx_add_rule(void *ctx, char *line, int lineno, const char *where, VSTR *why)
{
	DICT_REGEXP *dr = ctx;
	RX_RULE	     rule;

	if (rx_parse_line(line, &rule, where, why) < 0) {
		rx_rule_free(&rule);
		return -1;
	}
	rule.lineno = lineno;
	if (rule.op != RX_IF && rule.op != RX_ENDIF
	    && rule.pat[0].re.re_nsub > dr->maxsub)
		dr->maxsub = rule.pat[0].re.re_nsub;
	if ((dr->count & (dr->count - 1)) == 0)
		dr->rules = myrealloc_array(dr->rules,
					    dr->count ? dr->count * 2 : 1,
					    sizeof(RX_RULE));
	dr->rules[dr->count++] = rule;
	return rule.op == RX_IF	     ? DICT_SRC_IF
	       : rule.op == RX_ENDIF ? DICT_SRC_ENDIF
				     : DICT_SRC_RULE;
}

static void
rx_pair(void *ctx, size_t if_rule, size_t endif_rule)
{
	DICT_REGEXP *dr = ctx;

	dr->rules[if_rule].endif = endif_rule;
}

DICT *
dict_regexp_open_buffer(const char *name, const char *text, size_t len,
			int flags, VSTR *why)
{
	DICT_REGEXP *dr;

	dr = (DICT_REGEXP *)dict_alloc(sizeof(*dr), "regexp", name, flags);
	dr->dict.lookup = rx_lookup;
	dr->dict.close = rx_close;
	dr->result = vstr_alloc(256);
	if (dict_src_rules(name, text, len, rx_add_rule, rx_pair, dr, why)
	    < 0) {
		dict_close(&dr->dict);
		errno = EINVAL;
		return NULL;
	}
	dr->pmatch = mymalloc_array(dr->maxsub + 1, sizeof(regmatch_t));
	return &dr->dict;
}

DICT *
dict_regexp_open(const char *name, int flags, VSTR *why)
{
	return dict_src_open_file(name, flags, dict_regexp_open_buffer, why);
}
