/*
 * dict_text - shared body of the table-text fuzz targets.  See dict_text.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/dict_text.h"
#include "util/dict.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

static void
fuzz_quiet(enum msg_level level, const char *text)
{
	(void)level;
	(void)text;
}

static void
fuzz_lookups(DICT *d, const uint8_t *data, size_t size)
{
	static const char *const keys[] = {
		"",
		"a",
		"user@example.com",
		"postmaster@example.com",
		"Subject: hello",
		"10.1.2.3",
		"::1",
		"AAAAAAAAAAAAAAAAAAAAAAAA",
		"0.0.0.0",
		"255.255.255.255",
		"2001:db8::1",
		"[::1]",
	};
	const char    *value;
	const uint8_t *p = data;
	const uint8_t *nl;
	size_t	       i;
	char	      *key;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (dict_lookup(d, keys[i], &value) == 1
		    && strlen(value) > (1 << 24))
			abort();
	for (i = 0; i < 16 && p < data + size; i++) {
		nl = memchr(p, '\n', (size_t)(data + size - p));
		if (nl == NULL)
			nl = data + size;
		key = mystrndup((const char *)p, (size_t)(nl - p));
		(void)dict_lookup(d, key, &value);
		myfree(key);
		p = nl + 1;
	}
}

int
dict_text_fuzz(const char *type, const uint8_t *data, size_t size)
{
	static int init;
	VSTR	  *why;
	DICT	  *d;

	if (!init) {
		msg_output_add(fuzz_quiet);
		init = 1;
	}
	if (size > 4096)
		return 0;
	why = vstr_alloc(64);
	d = dict_open_buffer(type, "fuzz", (const char *)data, size, 0, why);
	if (d == NULL) {
		if (strncmp(VSTR_STR(why), "fuzz:", 5) != 0)
			abort();
	} else {
		fuzz_lookups(d, data, size);
		dict_close(d);
	}
	vstr_free(why);
	return 0;
}
