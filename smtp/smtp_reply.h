/*
 * smtp_reply - parse SMTP server replies (RFC 5321 4.2, RFC 2034/3463).
 *
 * A reply is one or more lines "DDD-text" ending with a line "DDD text"
 * (or just "DDD").  The caller feeds lines without their CRLF; the parser
 * checks the code, keeps the text of every line (for EHLO keywords), joins
 * the lines with a space for logs and diagnostics (as Postfix does:
 * "550-5.1.1 a 550 5.1.1 b"), and takes the enhanced status code from the
 * first line, or derives "X.0.0" from the reply code when there is none.
 *
 * Bounds: a line keeps at most SMTP_REPLY_LINE_MAX bytes, a reply at most
 * SMTP_REPLY_LINES_MAX lines and SMTP_REPLY_TEXT_MAX bytes of joined text;
 * the excess is dropped silently (the reply is still complete and usable).
 *
 * Errors: smtp_reply_line() returns -1 for a line that is not a reply line
 * (no three-digit code 2xx-5xx, bad separator, a continuation with another
 * code); the reply is then unusable until smtp_reply_reset().
 *
 * Ownership: SMTP_REPLY is the caller's (smtp_reply_free returns NULL);
 * every returned const char * is borrowed until the next feed or reset.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef SMTP_SMTP_REPLY_H
#define SMTP_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/vstr.h"

#define SMTP_REPLY_LINE_MAX  2048
#define SMTP_REPLY_LINES_MAX 200
#define SMTP_REPLY_TEXT_MAX  8192
#define SMTP_DSN_MAX	     16 /* "5.123.123" fits with room */

typedef struct SMTP_REPLY {
	int    code;		  /* 250; valid once done */
	char   dsn[SMTP_DSN_MAX]; /* "2.1.5", or derived "2.0.0" */
	bool   has_dsn;		  /* dsn came from the server */
	bool   done;		  /* the last line was seen */
	VSTR  *text;		  /* lines joined with " " */
	VSTR  *lines;		  /* texts after "DDD-", NUL separated */
	size_t nlines;
} SMTP_REPLY;

SMTP_REPLY *smtp_reply_alloc(void);
SMTP_REPLY *smtp_reply_free(SMTP_REPLY *r);
void	    smtp_reply_reset(SMTP_REPLY *r);

/* 1: the reply is complete; 0: more lines follow; -1: malformed line. */
int smtp_reply_line(SMTP_REPLY *r, const char *line, size_t len);

/* Text of line i after the code and separator (i < r->nlines). */
const char *smtp_reply_line_at(const SMTP_REPLY *r, size_t i);

/* The joined text after the code and the enhanced status code. */
const char *smtp_reply_detail(const SMTP_REPLY *r);

/*
 * Parse an RFC 3463 code "C.S.D" (class 2, 4 or 5; subject and detail
 * 1-3 digits) at the start of text, followed by white space or the end.
 * Returns the number of bytes of the code (0: none) and copies it to dsn.
 */
size_t
smtp_reply_dsn_parse(const char *text, size_t len, char *dsn, size_t dsn_size);

/* Find an EHLO keyword (case-insensitive); its parameters or NULL. */
const char *smtp_reply_ehlo_find(const SMTP_REPLY *r, const char *keyword);

#endif
