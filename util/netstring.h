/*
 * netstring - D. J. Bernstein's netstrings ("12:hello world!,"), the
 * framing of the Sendmail socketmap protocol (util/dict_socketmap.c).
 *
 * Pure code: no I/O, no logging, so the reader can be fuzzed
 * (fuzz/fuzz_netstring.c).  The length is decimal without leading zeros
 * (a lone "0" is the empty string), as the definition requires; anything
 * else is malformed rather than guessed at.
 *
 * Errors: netstring_get returns -1 with a reason in why (may be NULL) for
 * a malformed netstring or one whose payload exceeds max.
 *
 * Ownership: netstring_get hands back a pointer into the caller's buffer.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_NETSTRING_H
#define UTIL_NETSTRING_H

#include <stddef.h>

#include "util/vstr.h"

/* Append data as one netstring to out. */
void netstring_put(VSTR *out, const char *data, size_t len);

/*
 * Read the netstring at the start of buf[0..len), whose payload may be at
 * most max bytes.  1: complete; *data and *dlen are its payload and *used
 * the bytes it took, comma included.  0: a valid beginning; more bytes
 * are needed.  -1: malformed or longer than max (why says which); no
 * number of further bytes can make it valid.
 */
int netstring_get(const char *buf, size_t len, size_t max, const char **data,
		  size_t *dlen, size_t *used, VSTR *why);

#endif
