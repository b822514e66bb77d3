/*
 * admin_map_msg - lookup keys from an email message, for postelmap -b, -h
 * and -m with "-q -" (Postfix's postmap body, header and MIME query
 * modes).
 *
 * The message is read line by line (LF or CRLF; the line ending is not
 * part of a key).  Header mode: each logical header field of the primary
 * header is one key, folded lines joined with "\n" between them, as the
 * field was written.  Body mode: each body line is one key (the empty
 * line that ends the header is not).  Without MIME parsing, header mode
 * stops at the end of the primary header and body mode takes every line
 * after it.  With MIME parsing (the scanner cleanup uses for
 * header_checks, mime_header_checks, nested_header_checks and body_checks)
 * header mode also yields the header fields of body parts and attached
 * messages, and body mode leaves them out, as those checks see them.
 *
 * Bounds: a header field keeps at most header_limit bytes (the rest is
 * dropped, as header_size_limit does in cleanup); body lines are whole
 * lines of any length.
 *
 * Errors: -1 with why for a read error or more header fields than the
 * parser accepts; the callback returns 0 to go on, -1 to stop (then
 * admin_map_msg_keys returns -1 with why empty).
 *
 * Ownership: keys passed to the callback are borrowed for the call only.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef ADMIN_ADMIN_MAP_MSG_H
#define ADMIN_ADMIN_MAP_MSG_H

#include <stddef.h>
#include <stdio.h>

#include "util/vstr.h"

#define ADMIN_MAP_MSG_HEADER (1 << 0) /* -h */
#define ADMIN_MAP_MSG_BODY   (1 << 1) /* -b */
#define ADMIN_MAP_MSG_MIME   (1 << 2) /* -m */

typedef int (*ADMIN_MAP_MSG_FN)(void *ctx, const char *key, size_t len);

int admin_map_msg_keys(FILE *in, int flags, size_t header_limit,
		       long long nesting_limit, ADMIN_MAP_MSG_FN fn, void *ctx,
		       VSTR *why);

#endif
