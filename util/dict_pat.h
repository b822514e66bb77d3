/*
 * dict_pat - the rule-table frame that regexp: and pcre: share: rule
 * lines (/pattern/flags result, !/pattern/flags result, optionally
 * /pat1/flags!/pat2/flags result), if /pattern/ ... endif blocks (also
 * "if !/pattern/", nested), $n, ${n}, $(n) and $$ in results, first match
 * wins.  Line reading and the pairing of if and endif come from
 * util/dict_src; the regular-expression engine is a DICT_PAT_ENGINE.
 *
 * Any character other than alphanumerics, white space and backslash may
 * replace '/'.  The letters after the closing delimiter are handed to the
 * engine, which refuses letters it does not know.
 *
 * Errors: open fails with why "name:line: reason" (bad pattern from the
 * engine, bad $ reference, $n in the result of a negated pattern, missing
 * result, if/endif nesting); errno EINVAL.  Lookups return -1 when the
 * engine does (it warns, naming the table, and sets errno).
 *
 * Ownership: values are borrowed from the DICT until the next lookup.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DICT_PAT_H
#define UTIL_DICT_PAT_H

#include <stddef.h>
#include <sys/types.h>

#include "util/dict.h"
#include "util/vstr.h"

#define DICT_PAT_MAX_REF 99 /* highest $n */

/* Where group n matched: key[so, eo), or so < 0 when it took no part. */
typedef struct DICT_PAT_SPAN {
	ssize_t so;
	ssize_t eo;
} DICT_PAT_SPAN;

typedef struct DICT_PAT_ENGINE {
	const char *type;	/* "regexp", "pcre" */
	int	    allow_pair; /* accept /pat1/!/pat2/ result */

	/*
	 * Compile re (delimiters removed) with the flag letters `flags`;
	 * the compiled pattern with *nsub its number of groups, or NULL and
	 * why "where: reason".
	 */
	void *(*compile)(const char *re, const char *flags, size_t *nsub,
			 const char *where, VSTR *why);

	/*
	 * 1 match, 0 no match, -1 engine failure (msg_warn naming spec,
	 * errno set).  When spans is not NULL, groups 0..nspan-1 are filled
	 * (nspan <= DICT_PAT_MAX_REF + 1).
	 */
	int (*match)(void *pat, const char *spec, const char *key,
		     DICT_PAT_SPAN *spans, size_t nspan);
	void (*free)(void *pat);
} DICT_PAT_ENGINE;

DICT *dict_pat_open_buffer(const DICT_PAT_ENGINE *eng, const char *name,
			   const char *text, size_t len, int flags, VSTR *why);

#endif
