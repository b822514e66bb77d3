/*
 * header - a streaming RFC 5322 message header parser.
 *
 * The caller feeds physical lines (with their CRLF or LF, or none for a
 * last line without one); the parser joins folded lines into logical
 * header fields and hands each complete field to a callback.  A field is
 * complete when the next line does not start with white space, so the
 * callback for a field runs while the following line is being fed.
 *
 * The header section ends at the empty line (HEADER_END_EMPTY: that line
 * is the separator) or, as Postfix does, at the first line that is not a
 * header field (HEADER_END_BODY: that line is already body, e.g. a line
 * without a colon, or a continuation line with no field before it).
 *
 * Bounds: a logical field keeps at most size_limit bytes; the excess is
 * dropped and the field is marked truncated (Postfix header_size_limit).
 * At most count_limit fields are accepted; the next one makes
 * header_parser_line() return HEADER_TOO_MANY.
 *
 * Field names are 1 or more printable ASCII characters other than ':'
 * (obsolete syntax: white space may come before the colon).
 *
 * Errors: HEADER_STOP when the callback returned -1, HEADER_TOO_MANY as
 * above; after either (or after the end of the header section) further
 * lines return the same code or HEADER_END_* and are ignored.
 *
 * Ownership: the HEADER_PARSER is the caller's (header_parser_free returns
 * NULL); a struct header_field passed to the callback is borrowed for the
 * call only.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_HEADER_H
#define UTIL_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sys_defs.h"

struct header_field {
	const char *text; /* whole field, folding kept, no final CRLF */
	size_t	    len;
	size_t	    name_len; /* text[0..name_len) is the name */
	const char *value;    /* after the colon and leading white space */
	size_t	    value_len;
	bool	    truncated; /* exceeded size_limit, excess dropped */
};

typedef int (*HEADER_FIELD_FN)(void *ctx, const struct header_field *f);
typedef struct HEADER_PARSER HEADER_PARSER;

#define HEADER_MORE	 0    /* still in the header section */
#define HEADER_END_EMPTY 1    /* this line was the separator */
#define HEADER_END_BODY	 2    /* this line is the first body line */
#define HEADER_STOP	 (-1) /* the callback returned -1 */
#define HEADER_TOO_MANY	 (-2) /* more than count_limit fields */

HEADER_PARSER *header_parser_create(size_t size_limit, size_t count_limit,
				    HEADER_FIELD_FN fn, void *ctx);
HEADER_PARSER *header_parser_free(HEADER_PARSER *p);
int header_parser_line(HEADER_PARSER *p, const char *line, size_t len);
/* End of input within the header section: emit the pending field. */
int    header_parser_eof(HEADER_PARSER *p);
size_t header_parser_count(const HEADER_PARSER *p);

/* Length of a field name at the start of line, or 0 if it is not one. */
size_t header_name_len(const char *line, size_t len);
/* Case-insensitive: is the field named name? */
bool header_is(const struct header_field *f, const char *name);

#endif
