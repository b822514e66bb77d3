/*
 * gzip - zlib glue (see gzip.h).
 *
 * SPDX-License-Identifier: ISC
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "util/gzip.h"

#define GZIP_WINDOW (15 + 16) /* deflate window 2^15, gzip wrapper */
#define GZIP_CHUNK  16384

int
gzip_compress(const void *in, size_t len, VSTR *out, VSTR *why)
{
	z_stream      z;
	unsigned char buf[GZIP_CHUNK];
	int	      ret;

	vstr_reset(out);
	if (len > UINT_MAX) {
		vstr_strcpy(why, "gzip: input too large");
		return -1;
	}
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, GZIP_WINDOW, 8,
			 Z_DEFAULT_STRATEGY)
	    != Z_OK) {
		vstr_sprintf(why, "gzip: deflateInit2: %s",
			     z.msg ? z.msg : "failed");
		return -1;
	}
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (unsigned)len;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		ret = deflate(&z, Z_FINISH);
		if (ret == Z_STREAM_ERROR) {
			vstr_strcpy(why, "gzip: deflate failed");
			deflateEnd(&z);
			return -1;
		}
		vstr_memcat(out, buf, sizeof(buf) - z.avail_out);
	} while (ret != Z_STREAM_END);
	deflateEnd(&z);
	return 0;
}

int
gzip_uncompress(const void *in, size_t len, size_t max, VSTR *out, VSTR *why)
{
	z_stream      z;
	unsigned char buf[GZIP_CHUNK];
	int	      ret;

	vstr_reset(out);
	if (len > UINT_MAX) {
		vstr_strcpy(why, "gzip: input too large");
		return -1;
	}
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, GZIP_WINDOW) != Z_OK) {
		vstr_strcpy(why, "gzip: inflateInit2 failed");
		return -1;
	}
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (unsigned)len;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		ret = inflate(&z, Z_NO_FLUSH);
		if (ret != Z_OK && ret != Z_STREAM_END) {
			vstr_sprintf(why, "gzip: %s",
				     z.msg ? z.msg : "truncated or corrupt");
			inflateEnd(&z);
			return -1;
		}
		vstr_memcat(out, buf, sizeof(buf) - z.avail_out);
		if (VSTR_LEN(out) > max) {
			vstr_strcpy(why, "gzip: data too long");
			inflateEnd(&z);
			return -1;
		}
		if (ret == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
			vstr_strcpy(why, "gzip: truncated");
			inflateEnd(&z);
			return -1;
		}
	} while (ret != Z_STREAM_END);
	inflateEnd(&z);
	return 0;
}
