/*
 * gzip - gzip (RFC 1952) compression of a buffer with zlib; the one file
 * that includes zlib.h.  TLS-RPT reports travel gzipped (RFC 8460 5.2).
 *
 * Errors: 0, or -1 with a reason in why (zlib's message).
 *
 * Ownership: the caller's VSTRs; out is replaced.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_GZIP_H
#define UTIL_GZIP_H

#include <stddef.h>

#include "util/vstr.h"

/* out = the gzip member of in[0..len-1]. */
int gzip_compress(const void *in, size_t len, VSTR *out, VSTR *why);
/* out = the data of the gzip member in[0..len-1], at most max bytes. */
int
gzip_uncompress(const void *in, size_t len, size_t max, VSTR *out, VSTR *why);

#endif
