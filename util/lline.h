/*
 * lline - logical lines of a configuration text: main.cf, master.cf and
 * table sources (postmap(1) rules) all read the same way.
 *
 * A logical line starts with non-white-space text; a line that starts
 * with white space continues it.  Empty lines, white-space-only lines and
 * lines whose first non-white-space character is '#' are ignored
 * anywhere, also between a line and its continuation.  A CR before the
 * newline is dropped.  How the pieces are joined depends on the file:
 *
 *   LLINE_JOIN_SPACE	each physical line loses its trailing white
 *			space, a continuation also its leading white space,
 *			and one space joins them (main.cf, master.cf);
 *   0			a continuation is appended as it stands, leading
 *			white space included (table sources).
 *
 * A continuation line with nothing before it is an error when `what`
 * names the thing it should continue ("continuation line without a
 * setting before it"); with what == NULL it gets a msg_warn and is
 * skipped.
 *
 * Errors: lline_next returns -1 with why = "name:line: reason" for a NUL
 * byte anywhere, a logical line longer than LLINE_MAX, or an orphan
 * continuation (see above).  Line numbers count from 1; the number
 * returned with a line is that of its first physical line.
 *
 * Ownership: the reader borrows the caller's buffer and name; it
 * allocates nothing.  `line` is the caller's.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_LLINE_H
#define UTIL_LLINE_H

#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

#define LLINE_MAX (1024 * 1024) /* bytes in one logical line */

#define LLINE_JOIN_SPACE (1 << 0)

typedef struct LLINE {
	const char *name; /* for messages */
	const char *what; /* orphan continuation: error noun */
	const char *buf;
	size_t	    len;
	size_t	    pos;
	int	    lineno; /* physical lines consumed */
	int	    flags;
} LLINE;

void lline_init(LLINE *ll, const char *name, const char *buf, size_t len,
		int flags, const char *what);

/* 1: line holds a logical line that starts at *lineno; 0: end; -1: why */
int lline_next(LLINE *ll, VSTR *line, int *lineno, VSTR *why);

#endif
