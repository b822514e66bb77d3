/*
 * dict_pat - rule tables of delimited patterns, shared by regexp: and
 * pcre:.  See dict_pat.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/dict_pat.h"
#include "util/dict_src.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

enum pat_op {
	PAT_MATCH,
	PAT_IF,
	PAT_ENDIF,
};

typedef struct PAT_ONE {
	void  *re; /* the engine's compiled pattern, or NULL */
	size_t nsub;
	int    negate;
} PAT_ONE;

typedef struct PAT_RULE {
	enum pat_op op;
	PAT_ONE	    pat[2]; /* pat[1] used when npat == 2 */
	int	    npat;
	char	   *result;
	size_t	    endif; /* PAT_IF: index of its endif */
} PAT_RULE;

typedef struct DICT_PAT {
	DICT		       dict;
	const DICT_PAT_ENGINE *eng;
	PAT_RULE	      *rules;
	size_t		       count;
	size_t		       nspan; /* 1 + the most groups of a result */
	DICT_PAT_SPAN	      *spans;
	VSTR		      *result;
} DICT_PAT;

/* Parse one delimited pattern and its flags; compile it. */
static int
pat_parse(const DICT_PAT_ENGINE *eng, char **pp, PAT_ONE *pat, int allow_negate,
	  const char *where, VSTR *why)
{
	char *p = *pp;
	char  delim;
	char *start;
	char *flags;
	char *fend;

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
		vstr_sprintf(why, "%s: expected a pattern such as /%s/", where,
			     "pattern");
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
	for (fend = p; *fend && !isspace((unsigned char)*fend) && *fend != '!';
	     fend++)
		/* void */;
	flags = mystrndup(p, (size_t)(fend - p));
	pat->re = eng->compile(start, flags, &pat->nsub, where, why);
	myfree(flags);
	if (pat->re == NULL)
		return -1;
	*pp = fend;
	return 0;
}

/* Read the group number of a $ reference at p (just after '$'). */
static const char *
pat_ref(const char *p, size_t *n, int *ok)
{
	char close;

	*ok = 0;
	*n = 0;
	if (*p == '{' || *p == '(') {
		close = *p == '{' ? '}' : ')';
		p++;
		if (!isdigit((unsigned char)*p))
			return p;
		while (isdigit((unsigned char)*p)) {
			if (*n <= DICT_PAT_MAX_REF)
				*n = *n * 10 + (size_t)(*p - '0');
			p++;
		}
		if (*p != close)
			return p;
		*ok = 1;
		return p;
	}
	if (!isdigit((unsigned char)*p))
		return p;
	*n = (size_t)(*p - '0');
	if (isdigit((unsigned char)p[1]))
		*n = *n * 10 + (size_t)(*++p - '0');
	*ok = 1;
	return p;
}

/* Check the $ references of a result against the pattern's groups. */
static int
pat_check_result(const char *result, const PAT_RULE *rule, const char *where,
		 VSTR *why)
{
	const char *p;
	size_t	    n;
	int	    ok;

	for (p = result; *p; p++) {
		if (*p != '$')
			continue;
		if (*++p == '$')
			continue;
		p = pat_ref(p, &n, &ok);
		if (!ok) {
			vstr_sprintf(why,
				     "%s: bad $ reference in result \"%s\"",
				     where, result);
			return -1;
		}
		if (rule->pat[0].negate) {
			vstr_sprintf(why,
				     "%s: $%zu in the result of a negated "
				     "pattern",
				     where, n);
			return -1;
		}
		if (n > rule->pat[0].nsub || n > DICT_PAT_MAX_REF) {
			vstr_sprintf(why,
				     "%s: $%zu out of range: the pattern "
				     "has %zu group(s)",
				     where, n, rule->pat[0].nsub);
			return -1;
		}
	}
	return 0;
}

static void
pat_rule_free(const DICT_PAT_ENGINE *eng, PAT_RULE *r)
{
	int i;

	for (i = 0; i < 2; i++)
		if (r->pat[i].re)
			eng->free(r->pat[i].re);
	myfree(r->result);
}

/* Parse one logical line into *rule; 0 or -1 with why. */
static int
pat_parse_line(const DICT_PAT_ENGINE *eng, char *line, PAT_RULE *rule,
	       const char *where, VSTR *why)
{
	char *p = str_trim(line);

	memset(rule, 0, sizeof(*rule));
	if (str_is_word(p, "endif")) {
		if (p[5] != 0) {
			vstr_sprintf(why, "%s: text after endif", where);
			return -1;
		}
		rule->op = PAT_ENDIF;
		return 0;
	}
	if (str_is_word(p, "if")) {
		rule->op = PAT_IF;
		p += 2;
		while (isspace((unsigned char)*p))
			p++;
		if (pat_parse(eng, &p, &rule->pat[0], 1, where, why) < 0)
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
	rule->op = PAT_MATCH;
	if (pat_parse(eng, &p, &rule->pat[0], 1, where, why) < 0)
		return -1;
	rule->npat = 1;
	if (*p == '!' && !rule->pat[0].negate && eng->allow_pair) {
		p++;
		if (pat_parse(eng, &p, &rule->pat[1], 0, where, why) < 0)
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
	if (pat_check_result(p, rule, where, why) < 0)
		return -1;
	rule->result = mystrdup(p);
	return 0;
}

/* Does the key satisfy the pattern?  1 yes, 0 no, -1 engine error. */
static int
pat_match(DICT_PAT *dp, PAT_ONE *pat, const char *key, DICT_PAT_SPAN *spans,
	  size_t nspan)
{
	int ret = dp->eng->match(pat->re, dp->dict.spec, key, spans, nspan);

	if (ret < 0)
		return -1;
	return ret != pat->negate;
}

static const char *
pat_expand(DICT_PAT *dp, const char *result, const char *key)
{
	const char    *p;
	size_t	       n;
	int	       ok;
	DICT_PAT_SPAN *s;

	vstr_reset(dp->result);
	for (p = result; *p; p++) {
		if (*p != '$') {
			vstr_addch(dp->result, *p);
			continue;
		}
		if (*++p == '$') {
			vstr_addch(dp->result, '$');
			continue;
		}
		/* Checked at open time: n <= nsub < nspan. */
		p = pat_ref(p, &n, &ok);
		s = &dp->spans[n];
		if (s->so >= 0 && s->eo >= s->so)
			vstr_memcat(dp->result, key + s->so,
				    (size_t)(s->eo - s->so));
	}
	return VSTR_STR(dp->result);
}

static int
pat_lookup(DICT *d, const char *key, const char **value)
{
	DICT_PAT *dp = (DICT_PAT *)d;
	size_t	  i = 0;
	PAT_RULE *r;
	int	  ret;

	while (i < dp->count) {
		r = &dp->rules[i];
		if (r->op == PAT_ENDIF) {
			i++;
			continue;
		}
		if (r->op == PAT_IF) {
			if ((ret = pat_match(dp, &r->pat[0], key, NULL, 0)) < 0)
				return -1;
			i = ret ? i + 1 : r->endif + 1;
			continue;
		}
		ret = pat_match(dp, &r->pat[0], key, dp->spans, dp->nspan);
		/* The second pattern asks for no groups: spans stay. */
		if (ret > 0 && r->npat == 2)
			ret = pat_match(dp, &r->pat[1], key, NULL, 0);
		if (ret < 0)
			return -1;
		if (ret) {
			*value = pat_expand(dp, r->result, key);
			return 1;
		}
		i++;
	}
	return 0;
}

static void
pat_close(DICT *d)
{
	DICT_PAT *dp = (DICT_PAT *)d;
	size_t	  i;

	for (i = 0; i < dp->count; i++)
		pat_rule_free(dp->eng, &dp->rules[i]);
	myfree(dp->rules);
	myfree(dp->spans);
	vstr_free(dp->result);
}

/* dict_src_rules callbacks: append one rule; pair if and endif. */
static int
pat_add_rule(void *ctx, char *line, int lineno, const char *where, VSTR *why)
{
	DICT_PAT *dp = ctx;
	PAT_RULE  rule;

	(void)lineno;
	if (pat_parse_line(dp->eng, line, &rule, where, why) < 0) {
		pat_rule_free(dp->eng, &rule);
		return -1;
	}
	if (rule.op == PAT_MATCH && rule.pat[0].nsub + 1 > dp->nspan)
		dp->nspan = rule.pat[0].nsub + 1 > DICT_PAT_MAX_REF + 1
				? DICT_PAT_MAX_REF + 1
				: rule.pat[0].nsub + 1;
	if ((dp->count & (dp->count - 1)) == 0)
		dp->rules = myrealloc_array(dp->rules,
					    dp->count ? dp->count * 2 : 1,
					    sizeof(PAT_RULE));
	dp->rules[dp->count++] = rule;
	return rule.op == PAT_IF      ? DICT_SRC_IF
	       : rule.op == PAT_ENDIF ? DICT_SRC_ENDIF
				      : DICT_SRC_RULE;
}

static void
pat_pair(void *ctx, size_t if_rule, size_t endif_rule)
{
	DICT_PAT *dp = ctx;

	dp->rules[if_rule].endif = endif_rule;
}

DICT *
dict_pat_open_buffer(const DICT_PAT_ENGINE *eng, const char *name,
		     const char *text, size_t len, int flags, VSTR *why)
{
	DICT_PAT *dp;

	dp = (DICT_PAT *)dict_alloc(sizeof(*dp), eng->type, name, flags);
	dp->eng = eng;
	dp->dict.lookup = pat_lookup;
	dp->dict.close = pat_close;
	dp->result = vstr_alloc(256);
	dp->nspan = 1;
	if (dict_src_rules(name, text, len, pat_add_rule, pat_pair, dp, why)
	    < 0) {
		dict_close(&dp->dict);
		errno = EINVAL;
		return NULL;
	}
	dp->spans = mymalloc_array(dp->nspan, sizeof(DICT_PAT_SPAN));
	return &dp->dict;
}
