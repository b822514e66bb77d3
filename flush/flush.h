/*
 * flush - the fast flush service's internal interfaces (flush(8)).
 *
 * flush_log.c: the per-destination logfiles.  A destination ("site",
 * the domain after the last '@' of a recipient, or an address literal
 * "[ip]") is stored in queue_directory/flush/H/NAME where NAME is the
 * site in lower case with every character other than a letter or digit
 * replaced by '_' (as Postfix names them, so NAME is a safe file name)
 * and H one hexadecimal digit of a hash of NAME (one level of hashing,
 * like the other queue folders).  A logfile holds one queue ID per line,
 * appended by "add" requests and emptied by "send_site".
 *
 * Errors: flush_log_name returns -1 for a site that cannot be a file
 * name (empty, too long).  flush_log_parse never fails: it calls fn for
 * each well-formed line and returns how many lines were malformed (not a
 * queue ID, or an unterminated last line, which a crash in the middle of
 * an append can leave).
 *
 * Ownership: strings handed to fn are borrowed for the call.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef FLUSH_FLUSH_H
#define FLUSH_FLUSH_H

#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

#define FLUSH_DIR	  "flush"
#define FLUSH_NAME_MAX	  255		     /* a file name */
#define FLUSH_LOG_MAX	  (1024 * 1024)	     /* bytes of one log read at once */
#define FLUSH_HASH_DIGITS "0123456789ABCDEF" /* the hashed subfolders */

/* site -> NAME; 0 / -1. */
int flush_log_name(const char *site, VSTR *name);
/* NAME -> "flush/H/NAME" (queue-relative). */
void flush_log_path(const char *name, VSTR *path);

typedef void (*flush_log_fn)(void *ctx, const char *queue_id);
size_t flush_log_parse(const char *buf, size_t len, flush_log_fn fn, void *ctx);

#endif
