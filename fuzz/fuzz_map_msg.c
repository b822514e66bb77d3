/*
 * fuzz_map_msg - libFuzzer target for admin/admin_map_msg, the message
 * reader behind postelmap -b, -h and -m.
 *
 * The input is read as a message with every combination of header, body
 * and MIME modes and small header and nesting limits.  Each key must be a
 * string of the length reported, without a line ending at its end (the
 * ending is never part of a key); body keys hold no newline at all.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_map_msg.h"
#include "util/vstr.h"

struct fuzz_state {
	int    flags;
	size_t keys;
};

static int
fuzz_key(void *ctx, const char *key, size_t len)
{
	struct fuzz_state *st = ctx;

	if (strlen(key) > len)
		abort();
	if (len > 0 && key[len - 1] == '\n')
		abort();
	if (st->flags == ADMIN_MAP_MSG_BODY && memchr(key, '\n', len) != NULL)
		abort();
	/* Stop early sometimes, to exercise the stop path. */
	return ++st->keys > 5000 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	VSTR *why = vstr_alloc(64);
	int   flags;

	for (flags = 1; flags < 8; flags++) {
		struct fuzz_state st = { flags, 0 };
		FILE		 *in;

		if (flags == ADMIN_MAP_MSG_MIME)
			continue;
		in = fmemopen((void *)data, size ? size : 1, "r");
		if (in == NULL)
			abort();
		if (size == 0)
			(void)fgetc(in);
		(void)admin_map_msg_keys(in, flags, 200, 3, fuzz_key, &st, why);
		fclose(in);
	}
	vstr_free(why);
	return 0;
}
