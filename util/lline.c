/*
 * lline - logical lines of a configuration text.  See lline.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "util/lline.h"
#include "util/msg.h"
#include "util/vstr.h"

enum lline_kind {
	LLINE_SKIP,  /* blank or comment */
	LLINE_START, /* non-white-space text */
	LLINE_CONT,  /* continuation */
	LLINE_NUL,   /* holds a NUL byte */
};

void
lline_init(LLINE *ll, const char *name, const char *buf, size_t len, int flags,
	   const char *what)
{
	ll->name = name;
	ll->what = what;
	ll->buf = buf;
	ll->len = len;
	ll->pos = 0;
	ll->lineno = 0;
	ll->flags = flags;
}

/* Classify the physical line at pos without consuming it. */
static enum lline_kind
lline_peek(const LLINE *ll, size_t *end)
{
	const char *p = ll->buf + ll->pos;
	const char *lim = ll->buf + ll->len;
	const char *nl = memchr(p, '\n', (size_t)(lim - p));
	const char *q;

	*end = nl ? (size_t)(nl - ll->buf) : ll->len;
	if (memchr(p, 0, *end - ll->pos) != NULL)
		return LLINE_NUL;
	for (q = p; q < ll->buf + *end; q++)
		if (!isspace((unsigned char)*q))
			break;
	if (q == ll->buf + *end || *q == '#')
		return LLINE_SKIP;
	return q == p ? LLINE_START : LLINE_CONT;
}

/* Consume the physical line that ends at end. */
static void
lline_skip(LLINE *ll, size_t end)
{
	ll->lineno++;
	ll->pos = end < ll->len ? end + 1 : end;
}

/* Append the physical line [pos, end) to line as the flags say. */
static int
lline_take(LLINE *ll, size_t end, VSTR *line, VSTR *why)
{
	const char *p = ll->buf + ll->pos;
	const char *e = ll->buf + end;
	bool	    first = VSTR_LEN(line) == 0;

	lline_skip(ll, end);
	if (ll->flags & LLINE_JOIN_SPACE) {
		while (e > p && isspace((unsigned char)e[-1]))
			e--;
		while (p < e && isspace((unsigned char)*p))
			p++;
	} else if (e > p && e[-1] == '\r') {
		e--;
	}
	if (VSTR_LEN(line) + (size_t)(e - p) + 1 > LLINE_MAX) {
		vstr_sprintf(why, "%s:%d: line longer than %d bytes", ll->name,
			     ll->lineno, LLINE_MAX);
		return -1;
	}
	if (!first && (ll->flags & LLINE_JOIN_SPACE))
		vstr_addch(line, ' ');
	vstr_memcat(line, p, (size_t)(e - p));
	return 0;
}

static int
lline_nul(LLINE *ll, VSTR *why)
{
	vstr_sprintf(why, "%s:%d: NUL byte in file", ll->name, ll->lineno + 1);
	return -1;
}

int
lline_next(LLINE *ll, VSTR *line, int *lineno, VSTR *why)
{
	size_t		end;
	enum lline_kind kind;

	vstr_reset(line);
	for (;;) {
		if (ll->pos >= ll->len)
			return 0;
		kind = lline_peek(ll, &end);
		if (kind == LLINE_START)
			break;
		if (kind == LLINE_NUL)
			return lline_nul(ll, why);
		if (kind == LLINE_CONT && ll->what != NULL) {
			vstr_sprintf(why,
				     "%s:%d: continuation line without "
				     "a %s before it",
				     ll->name, ll->lineno + 1, ll->what);
			return -1;
		}
		if (kind == LLINE_CONT)
			msg_warn("%s:%d: logical line must not start with "
				 "white space; ignored",
				 ll->name, ll->lineno + 1);
		lline_skip(ll, end);
	}
	if (lline_take(ll, end, line, why) < 0)
		return -1;
	*lineno = ll->lineno;
	while (ll->pos < ll->len) {
		kind = lline_peek(ll, &end);
		if (kind == LLINE_START)
			break;
		if (kind == LLINE_NUL)
			return lline_nul(ll, why);
		if (kind == LLINE_SKIP)
			lline_skip(ll, end);
		else if (lline_take(ll, end, line, why) < 0)
			return -1;
	}
	return 1;
}
