/*
 * dict_pcre - pcre: tables with Postfix pcre_table(5) syntax, Perl-
 * compatible regular expressions from libpcre2-8.  The only file that
 * includes <pcre2.h>.
 *
 * Rules, tried in file order, first match wins:
 *   /pattern/flags result          key matches pattern
 *   !/pattern/flags result         key does not match pattern ($n refused)
 *   if /pattern/flags  ...  endif  (also "if !/pattern/") nest freely
 * The frame (lines, continuation lines, comments, if/endif, $1..$99,
 * ${n}, $$, errors naming name:line) is util/dict_pat, shared with
 * regexp:.  Flags toggle: i case-insensitive (on by default, as Postfix),
 * m multi-line, s dot matches newline, x extended syntax, A anchored,
 * E dollar matches only at the end, U ungreedy; X is accepted for
 * Postfix tables and changes nothing (PCRE2 always refuses unknown
 * escapes, which is what it meant for PCRE1).
 *
 * Bounds: every match runs under a match, depth and heap limit, so that a
 * pattern that backtracks without end cannot hang a daemon; hitting one is
 * a table error (-1, errno EAGAIN, msg_warn naming the table and the key),
 * never "not found".
 *
 * Errors: open fails with why "name:line: reason" (PCRE2's message and the
 * offset for a bad pattern).  Values are borrowed from the DICT until the
 * next lookup.
 *
 * SPDX-License-Identifier: ISC
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/dict_pat.h"
#include "util/dict_src.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

/*
 * Real tables need a few hundred steps per key; these stop a pattern such
 * as /(a+)+$/ within milliseconds instead of PCRE2's defaults (ten million
 * steps, 20 MB of backtracking frames).
 */
#define PCRE_MATCH_LIMIT 1000000
#define PCRE_DEPTH_LIMIT 100000
#define PCRE_HEAP_LIMIT	 8192 /* KiB */

typedef struct PCRE_PAT {
	pcre2_code	 *code;
	pcre2_match_data *md;
} PCRE_PAT;

/* One match context for every table: it only carries the limits. */
static pcre2_match_context *pcre_mctx;

static pcre2_match_context *
pcre_context(void)
{
	if (pcre_mctx == NULL) {
		if ((pcre_mctx = pcre2_match_context_create(NULL)) == NULL)
			msg_fatal("pcre2_match_context_create: out of memory");
		pcre2_set_match_limit(pcre_mctx, PCRE_MATCH_LIMIT);
		pcre2_set_depth_limit(pcre_mctx, PCRE_DEPTH_LIMIT);
		pcre2_set_heap_limit(pcre_mctx, PCRE_HEAP_LIMIT);
	}
	return pcre_mctx;
}

static void
pcre_free_pat(void *p)
{
	PCRE_PAT *pat = p;

	if (pat->md)
		pcre2_match_data_free(pat->md);
	if (pat->code)
		pcre2_code_free(pat->code);
	myfree(pat);
}

static void *
pcre_compile_pat(const char *re, const char *flags, size_t *nsub,
		 const char *where, VSTR *why)
{
	uint32_t    options = PCRE2_CASELESS;
	const char *f;
	PCRE_PAT   *pat;
	int	    err;
	PCRE2_SIZE  off;
	uint32_t    groups;
	PCRE2_UCHAR ebuf[256];

	for (f = flags; *f; f++) {
		switch (*f) {
		case 'i':
			options ^= PCRE2_CASELESS;
			break;
		case 'm':
			options ^= PCRE2_MULTILINE;
			break;
		case 's':
			options ^= PCRE2_DOTALL;
			break;
		case 'x':
			options ^= PCRE2_EXTENDED;
			break;
		case 'A':
			options ^= PCRE2_ANCHORED;
			break;
		case 'E':
			options ^= PCRE2_DOLLAR_ENDONLY;
			break;
		case 'U':
			options ^= PCRE2_UNGREEDY;
			break;
		case 'X':
			break;
		default:
			vstr_sprintf(why, "%s: unknown pcre flag '%c'", where,
				     *f);
			return NULL;
		}
	}
	pat = mycalloc(1, sizeof(*pat));
	pat->code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
				  options, &err, &off, NULL);
	if (pat->code == NULL) {
		if (pcre2_get_error_message(err, ebuf, sizeof(ebuf)) < 0)
			snprintf((char *)ebuf, sizeof(ebuf), "unknown error");
		vstr_sprintf(why, "%s: pcre \"%s\": %s at offset %zu", where,
			     re, (const char *)ebuf, (size_t)off);
		pcre_free_pat(pat);
		return NULL;
	}
	if (pcre2_pattern_info(pat->code, PCRE2_INFO_CAPTURECOUNT, &groups)
	    != 0)
		groups = 0;
	pat->md = pcre2_match_data_create_from_pattern(pat->code, NULL);
	if (pat->md == NULL)
		msg_fatal("pcre2_match_data_create: out of memory");
	*nsub = groups;
	return pat;
}

static int
pcre_match_pat(void *p, const char *spec, const char *key, DICT_PAT_SPAN *spans,
	       size_t nspan)
{
	PCRE_PAT   *pat = p;
	PCRE2_SIZE *ov;
	uint32_t    count;
	size_t	    i;
	int	    ret;
	PCRE2_UCHAR ebuf[256];

	ret = pcre2_match(pat->code, (PCRE2_SPTR)key, strlen(key), 0, 0,
			  pat->md, pcre_context());
	if (ret == PCRE2_ERROR_NOMATCH)
		return 0;
	if (ret < 0) {
		if (pcre2_get_error_message(ret, ebuf, sizeof(ebuf)) < 0)
			snprintf((char *)ebuf, sizeof(ebuf), "unknown error");
		msg_warn("%s: pcre match of \"%.100s\": %s", spec, key,
			 (const char *)ebuf);
		errno = ret == PCRE2_ERROR_NOMEMORY ? ENOMEM : EAGAIN;
		return -1;
	}
	if (spans == NULL)
		return 1;
	ov = pcre2_get_ovector_pointer(pat->md);
	count = pcre2_get_ovector_count(pat->md);
	for (i = 0; i < nspan; i++) {
		if (i < count && ov[2 * i] != PCRE2_UNSET) {
			spans[i].so = (ssize_t)ov[2 * i];
			spans[i].eo = (ssize_t)ov[2 * i + 1];
		} else
			spans[i].so = spans[i].eo = -1;
	}
	return 1;
}

static const DICT_PAT_ENGINE pcre_engine = {
	.type = "pcre",
	.allow_pair = 0,
	.compile = pcre_compile_pat,
	.match = pcre_match_pat,
	.free = pcre_free_pat,
};

DICT *
dict_pcre_open_buffer(const char *name, const char *text, size_t len, int flags,
		      VSTR *why)
{
	return dict_pat_open_buffer(&pcre_engine, name, text, len, flags, why);
}

DICT *
dict_pcre_open(const char *name, int flags, VSTR *why)
{
	return dict_src_open_file(name, flags, dict_pcre_open_buffer, why);
}
