/*
 * cleanup_mime - a bounded MIME structure scanner for cleanup's content
 * checks (RFC 2045, RFC 2046).
 *
 * It follows the structure of a message as it streams past, the way
 * Postfix's MIME processor does: multipart boundaries (a stack, one level
 * per multipart entity), the header block of each body part, and the
 * header block of an attached message/rfc822 (and of each part of a
 * multipart/digest, whose default type is message/rfc822).  It never
 * decodes, never changes data, and never holds more than one line, one
 * header field (header_limit bytes) and the boundary stack (nesting_limit
 * levels of at most CLEANUP_MIME_BOUNDARY_MAX bytes).
 *
 * The caller hands it the primary header's fields
 * (cleanup_mime_primary_field), says where the body starts
 * (cleanup_mime_body_begin), then feeds the body in pieces of any size.
 * The scanner calls back with:
 *   header  one complete header field of a body part (class MULTIPART)
 *	     or of an attached message (class NESTED), folding kept, no
 *	     final CRLF; the caller writes it (or what a check makes of it);
 *   body    everything else, in order: boundary lines, blank lines,
 *	     body lines, as whole lines (CLEANUP_MIME_START | _END) or, for
 *	     a line longer than CLEANUP_MIME_LINE_MAX, its first part
 *	     (START) and then the rest as it comes (END on the piece that
 *	     holds the line feed);
 *   error   CLEANUP_MIME_ERR_NESTING once, with the Content-Type field
 *	     that would have nested deeper than nesting_limit multipart
 *	     levels (that level is then not entered).
 * A body-part header line longer than header_limit keeps its first part
 * (the field is truncated, as in the primary header); a line there that
 * is not a header field ends the header block and is body.
 *
 * Errors: none returned; the only error is reported through the callback.
 *
 * Ownership: the CLEANUP_MIME is the caller's (cleanup_mime_free returns
 * NULL); data passed to callbacks is borrowed for the call only.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef CLEANUP_CLEANUP_MIME_H
#define CLEANUP_CLEANUP_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "util/header.h"

#define CLEANUP_MIME_LINE_MAX	  8192 /* body line bound */
#define CLEANUP_MIME_BOUNDARY_MAX 2048 /* bytes of a boundary kept */
#define CLEANUP_MIME_FIELDS_MAX	  1000 /* fields per part header */

enum cleanup_mime_class {
	CLEANUP_MIME_PRIMARY,	/* the message header */
	CLEANUP_MIME_MULTIPART, /* a body part's header */
	CLEANUP_MIME_NESTED,	/* an attached message's header */
};

/* Content types the scanner tells apart. */
enum cleanup_mime_type {
	CLEANUP_MIME_T_TEXT,
	CLEANUP_MIME_T_MESSAGE,
	CLEANUP_MIME_T_MULTIPART,
	CLEANUP_MIME_T_OTHER,
};
enum cleanup_mime_subtype {
	CLEANUP_MIME_S_PLAIN,
	CLEANUP_MIME_S_RFC822,
	CLEANUP_MIME_S_DIGEST,
	CLEANUP_MIME_S_OTHER,
};

#define CLEANUP_MIME_START (1 << 0) /* piece starts a line */
#define CLEANUP_MIME_END   (1 << 1) /* piece ends a line */

#define CLEANUP_MIME_ERR_NESTING 1

struct cleanup_mime_ops {
	void (*header)(void *ctx, enum cleanup_mime_class cls,
		       const struct header_field *f);
	void (*body)(void *ctx, const char *data, size_t len, int flags);
	void (*error)(void *ctx, int err, const char *text, size_t len);
};

typedef struct CLEANUP_MIME CLEANUP_MIME;

CLEANUP_MIME *cleanup_mime_alloc(size_t header_limit, long long nesting_limit,
				 const struct cleanup_mime_ops *ops, void *ctx);
CLEANUP_MIME *cleanup_mime_free(CLEANUP_MIME *m);
/* A field of the primary header (only Content-Type matters). */
void cleanup_mime_primary_field(CLEANUP_MIME *m, const struct header_field *f);
/* The primary header ended at an empty line (separator) or at a body line. */
void cleanup_mime_body_begin(CLEANUP_MIME *m, bool separator);
void cleanup_mime_feed(CLEANUP_MIME *m, const char *data, size_t len);
void cleanup_mime_end(CLEANUP_MIME *m);

/* Content-*, MIME-Version: the fields mime_header_checks looks at. */
bool cleanup_mime_is_mime_field(const struct header_field *f);

/*
 * Parse a Content-Type value (folding and comments allowed); fn gets each
 * boundary parameter's value (unquoted, possibly empty).
 */
typedef void (*CLEANUP_MIME_BOUNDARY_FN)(void *ctx, const char *b, size_t len);
void cleanup_mime_parse_ctype(const char *value, size_t len,
			      enum cleanup_mime_type	*type,
			      enum cleanup_mime_subtype *subtype,
			      CLEANUP_MIME_BOUNDARY_FN fn, void *ctx);

#endif
