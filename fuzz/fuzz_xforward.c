/*
 * fuzz_xforward - libFuzzer target for the XFORWARD attribute parser
 * (util/xforward.c), which smtpd runs on a filter's XFORWARD arguments.
 *
 * The input is split at LF into command argument strings fed to one
 * XFORWARD in turn; a failed command must leave the values unchanged,
 * and every value kept must be bounded and free of control characters.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/mymalloc.h"
#include "util/vstr.h"
#include "util/xforward.h"

static void
fuzz_check(const XFORWARD *xf)
{
	for (int a = 0; a < XFORWARD_COUNT; a++) {
		const char *v = xf->value[a];

		if (v == NULL)
			continue;
		if (strlen(v) > XFORWARD_VALUE_MAX)
			__builtin_trap();
		for (; *v; v++)
			if ((unsigned char)*v < 32 || *v == 127)
				__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	XFORWARD   *xf = xforward_alloc();
	VSTR	   *reply = vstr_alloc(64);
	VSTR	   *line = vstr_alloc(64);
	const char *p = (const char *)data, *end = p + size;
	char	   *before[XFORWARD_COUNT];

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t	    len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		vstr_memcpy(line, p, len);
		for (int a = 0; a < XFORWARD_COUNT; a++)
			before[a] = xf->value[a] ? mystrdup(xf->value[a])
						 : NULL;
		if (memchr(p, 0, len) == NULL
		    && xforward_update(xf, VSTR_STR(line), reply) < 0) {
			if (strncmp(VSTR_STR(reply), "501 5.5.4 ", 10) != 0)
				__builtin_trap();
			for (int a = 0; a < XFORWARD_COUNT; a++)
				if ((before[a] == NULL)
					!= (xf->value[a] == NULL)
				    || (before[a]
					&& strcmp(before[a], xf->value[a])))
					__builtin_trap();
		}
		for (int a = 0; a < XFORWARD_COUNT; a++)
			myfree(before[a]);
		fuzz_check(xf);
		p += len + (nl != NULL);
	}
	xforward_free(xf);
	vstr_free(reply);
	vstr_free(line);
	return 0;
}
