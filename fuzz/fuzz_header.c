/*
 * libFuzzer target for util/header: arbitrary bytes cut into lines and
 * fed to the parser with small bounds.  Every field handed out must lie
 * inside its own text, respect the size bound, have a valid name, and
 * carry no line ending at its end; the parser must never crash.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/header.h"

#define FUZZ_SIZE_LIMIT	 64
#define FUZZ_COUNT_LIMIT 20

static int
check_field(void *ctx, const struct header_field *f)
{
	(void)ctx;
	if (f->len > FUZZ_SIZE_LIMIT)
		abort();
	if (f->name_len > f->len || f->value < f->text
	    || f->value + f->value_len != f->text + f->len)
		abort();
	if (f->len > 0
	    && (f->text[f->len - 1] == '\n' || f->text[f->len - 1] == '\r'))
		abort();
	if (!f->truncated && header_name_len(f->text, f->len) != f->name_len)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	HEADER_PARSER *p = header_parser_create(FUZZ_SIZE_LIMIT,
						FUZZ_COUNT_LIMIT, check_field,
						NULL);
	const char    *cp = (const char *)data, *nl;
	size_t	       left = size, len;
	int	       ret = HEADER_MORE;

	while (left > 0) {
		nl = memchr(cp, '\n', left);
		len = nl ? (size_t)(nl - cp) + 1 : left;
		ret = header_parser_line(p, cp, len);
		if (ret != HEADER_MORE && header_parser_line(p, cp, len) == 0)
			abort();
		cp += len;
		left -= len;
	}
	if (ret == HEADER_MORE)
		(void)header_parser_eof(p);
	header_parser_free(p);
	return 0;
}
