/*
 * fuzz_tcp_reply - libFuzzer target for the reply line of a tcp: table
 * server (util/dict_tcp.c, dict_tcp_reply): arbitrary bytes as one line,
 * the way dict_conn's framing hands it over.
 *
 * Invariants: no crash; the result is -1, 2, 4 or 5; the text lies inside
 * the line; a found value is never longer than its encoded text and holds
 * no NUL byte (an encoded %00 is malformed, so a value is a C string).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/dict_impl.h"
#include "util/vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static VSTR *value;
	const char  *line = (const char *)data;
	const char  *text = NULL;
	size_t	     tlen = 0;
	int	     ret;

	if (value == NULL)
		value = vstr_alloc(64);
	ret = dict_tcp_reply(line, size, value, &text, &tlen);
	switch (ret) {
	case -1:
		return 0;
	case 2:
		if (VSTR_LEN(value) > tlen
		    || strlen(VSTR_STR(value)) != VSTR_LEN(value))
			abort();
		/* FALLTHROUGH */
	case 4:
	case 5:
		if (text < line || text + tlen > line + size)
			abort();
		return 0;
	default:
		abort();
	}
}
