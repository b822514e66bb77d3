/*
 * fuzz_netstring - libFuzzer target for util/netstring, the framing of
 * the socketmap replies a table server sends (util/dict_socketmap.c):
 * arbitrary bytes read as a sequence of netstrings with a small and a
 * large limit, and every prefix of the input as a partial read.
 *
 * Invariants: no crash; a complete netstring lies inside the input, its
 * payload within the limit and ending right before the ',' it used, and
 * it encodes back to exactly the bytes it took; a prefix of an input
 * never reads as malformed where the whole input reads as complete or
 * incomplete (the reader may not judge before it has the bytes).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/netstring.h"
#include "util/vstr.h"

static void
check(const char *buf, size_t len, size_t max, VSTR *enc)
{
	const char *data;
	size_t	    dlen, used;
	int	    ret;

	/* At most len netstrings can fit (each takes three bytes). */
	while (len > 0) {
		ret = netstring_get(buf, len, max, &data, &dlen, &used, NULL);
		if (ret <= 0)
			return;
		if (used > len || dlen > max || data < buf
		    || data + dlen + 1 != buf + used || buf[used - 1] != ',')
			abort();
		vstr_reset(enc);
		netstring_put(enc, data, dlen);
		if (VSTR_LEN(enc) != used
		    || memcmp(VSTR_STR(enc), buf, used) != 0)
			abort();
		buf += used;
		len -= used;
	}
}

static void
check_prefixes(const char *buf, size_t len, size_t max)
{
	const char *data;
	size_t	    dlen, used, n;
	int whole = netstring_get(buf, len, max, &data, &dlen, &used, NULL);

	if (whole < 0)
		return;
	for (n = 0; n < len && n < 64; n++)
		if (netstring_get(buf, n, max, &data, &dlen, &used, NULL) < 0)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	VSTR *enc = vstr_alloc(64);

	check((const char *)buf, len, 16, enc);
	check((const char *)buf, len, 100000, enc);
	check_prefixes((const char *)buf, len, 100000);
	vstr_free(enc);
	return 0;
}
