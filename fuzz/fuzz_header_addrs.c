/*
 * fuzz_header_addrs - libFuzzer target for util/header_addrs, which
 * smtp_generic_maps uses to rewrite the addresses of outgoing header
 * fields: arbitrary bytes as one header field.  The first byte picks
 * the rewrite: keep every address, replace each by a longer one, by an
 * empty one, or fail at the second address.
 *
 * Invariants: no crash, no read outside the field; keeping every
 * address leaves the field byte for byte as it was; the field name
 * (the text before the first colon) is never changed.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/header_addrs.h"
#include "util/msg.h"
#include "util/vstr.h"

struct rewrite {
	int mode;
	int calls;
};

static int
rewrite(void *ctx, const char *addr, VSTR *out)
{
	struct rewrite *rw = ctx;

	rw->calls++;
	switch (rw->mode) {
	case 0:
		return 0;
	case 1:
		vstr_sprintf(out, "rewritten.%s@generic.example", addr);
		return 1;
	case 2:
		vstr_strcpy(out, "");
		return 1;
	default:
		return rw->calls > 1 ? -1 : 0;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static bool    quiet;
	struct rewrite rw = { 0 };
	const char    *colon;
	size_t	       name_len;
	VSTR	      *field;
	int	       ret;

	if (!quiet) {
		msg_stderr_enable(false);
		quiet = true;
	}
	if (len < 2)
		return 0;
	rw.mode = buf[0] % 4;
	buf++;
	len--;
	if (memchr(buf, 0, len) != NULL
	    || (colon = memchr(buf, ':', len)) == NULL
	    || (name_len = (size_t)(colon - (const char *)buf)) == 0)
		return 0;
	field = vstr_alloc(len);
	vstr_memcpy(field, (const char *)buf, len);
	(void)header_addrs_field(VSTR_STR(field), name_len);
	ret = header_addrs_rewrite(field, name_len, rewrite, &rw);
	if (ret != 0 && (ret != -1 || rw.mode != 3))
		abort();
	if (rw.mode == 0
	    && (VSTR_LEN(field) != len
		|| memcmp(VSTR_STR(field), buf, len) != 0))
		abort();
	if (VSTR_LEN(field) < name_len
	    || memcmp(VSTR_STR(field), buf, name_len) != 0)
		abort();
	vstr_free(field);
	return 0;
}
