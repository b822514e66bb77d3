/*
 * fuzz_dkim_sign_conf - libFuzzer target for util/dkim_sign_conf: the
 * DKIM key table and signing table values, dkim_sign_headers,
 * dkim_canonicalization and the signing table lookup keys, all fed the
 * same bytes (cut at the first NUL, as table values are C strings).
 *
 * Invariants: no crash, no read outside the text; an accepted key value
 * has a non-empty lower-case domain and selector and an absolute path
 * without control characters; an accepted key list holds 1 to
 * DKIM_SIGN_KEYS_MAX distinct non-empty names without separators; an
 * accepted header list holds names without ':' or ';'; every lookup key
 * is a suffix of the address (after trailing dots are dropped) and the
 * domain keys after the first start with '.'.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/dkim_sign_conf.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

static void
check_key(const char *text)
{
	VSTR *dom = vstr_alloc(8), *sel = vstr_alloc(8), *path = vstr_alloc(8),
	     *why = vstr_alloc(8);

	if (dkim_sign_key_parse(text, dom, sel, path, why) == 0) {
		if (VSTR_LEN(dom) == 0 || VSTR_LEN(sel) == 0
		    || VSTR_STR(path)[0] != '/')
			abort();
		for (size_t i = 0; i < VSTR_LEN(dom); i++)
			if (VSTR_STR(dom)[i] >= 'A' && VSTR_STR(dom)[i] <= 'Z')
				abort();
		for (size_t i = 0; i < VSTR_LEN(path); i++)
			if ((unsigned char)VSTR_STR(path)[i] < 32)
				abort();
	} else if (VSTR_LEN(why) == 0) {
		abort();
	}
	vstr_free(dom);
	vstr_free(sel);
	vstr_free(path);
	vstr_free(why);
}

static void
check_lists(const char *text)
{
	DKIM_SIGN_LIST *l = dkim_sign_list_alloc();
	VSTR	       *why = vstr_alloc(8);

	if (dkim_sign_names_parse(l, text, why) == 0) {
		if (l->count == 0 || l->count > DKIM_SIGN_KEYS_MAX)
			abort();
		for (size_t i = 0; i < l->count; i++) {
			if (l->item[i][0] == 0
			    || strpbrk(l->item[i], ", \t\r\n") != NULL)
				abort();
			for (size_t j = 0; j < i; j++)
				if (strcasecmp(l->item[i], l->item[j]) == 0)
					abort();
		}
	}
	if (dkim_sign_headers_parse(l, text, why) == 0) {
		if (l->count == 0 || l->count > DKIM_SIGN_HEADERS_MAX)
			abort();
		for (size_t i = 0; i < l->count; i++)
			if (l->item[i][0] == 0 || strpbrk(l->item[i], ":; ")
			    || l->item[i][0] == '+')
				abort();
	}
	dkim_sign_list_free(l);
	vstr_free(why);
}

static void
check_lookup(const char *text)
{
	DKIM_SIGN_LIST *l = dkim_sign_list_alloc();
	size_t		n = dkim_sign_lookup_keys(l, text), len = strlen(text);

	while (len > 0 && text[len - 1] == '.')
		len--;
	if (n != l->count)
		abort();
	for (size_t i = 0; i < n; i++) {
		size_t klen = strlen(l->item[i]);

		if (klen == 0 || klen > len
		    || memcmp(l->item[i], text + len - klen, klen) != 0)
			abort();
		if (i >= 2 && l->item[i][0] != '.')
			abort();
	}
	dkim_sign_list_free(l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	char *text = mymalloc(len + 1);
	int   h, b;
	VSTR *why = vstr_alloc(8);

	memcpy(text, buf, len);
	text[len] = 0;
	check_key(text);
	check_lists(text);
	check_lookup(text);
	if (dkim_sign_canon_parse(text, &h, &b, why) == 0
	    && ((h != DKIM_SIGN_CANON_SIMPLE && h != DKIM_SIGN_CANON_RELAXED)
		|| (b != DKIM_SIGN_CANON_SIMPLE
		    && b != DKIM_SIGN_CANON_RELAXED)))
		abort();
	vstr_free(why);
	myfree(text);
	return 0;
}
