/*
 * libFuzzer target for util/authres: the input is read as an
 * Authentication-Results field value (authserv-id parser) and as a From:
 * value (the DMARC domain), and cut at NUL bytes into the strings of an
 * Authentication-Results field to write (authserv-id, then method,
 * result, comment and property name/value pairs per result, the way
 * cleanup fills them from a peer's d=, s=, b= and MAIL FROM).
 *
 * Invariants: the written field starts with its name, has no CR or LF
 * except the writer's own "\r\n\t" folds, no NUL, and its authserv-id
 * parses back (to what was given, when that was a printable token); a
 * parsed authserv-id is non-empty; a From: domain is lower case.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/authres.h"
#include "util/vstr.h"

#define FUZZ_STRINGS 32
#define FUZZ_ITEMS   6

static void
check_field(const VSTR *out, const char *servid)
{
	const char *s = VSTR_STR(out);
	const char *prefix = "Authentication-Results: ";
	size_t	    i, len = VSTR_LEN(out);
	VSTR	   *id = vstr_alloc(16);
	bool	    token = *servid != 0 && strlen(servid) <= AUTHRES_VALUE_MAX;

	if (strncmp(s, prefix, strlen(prefix)) != 0 || strlen(s) != len)
		abort();
	for (i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			abort();
		if (s[i] == '\r'
		    && (i + 2 >= len || s[i + 1] != '\n' || s[i + 2] != '\t'))
			abort();
	}
	if (authres_servid(s + strlen(prefix), len - strlen(prefix), id) < 0)
		abort();
	for (i = 0; servid[i] && token; i++)
		if ((unsigned char)servid[i] <= ' '
		    || (unsigned char)servid[i] >= 0x7f
		    || strchr("()<>@,;:\\\"/[]?=", servid[i]))
			token = false;
	if (token && strcmp(VSTR_STR(id), servid) != 0)
		abort();
	vstr_free(id);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	VSTR		   *out = vstr_alloc(64);
	VSTR		   *copy = vstr_alloc(size + 1);
	const char	   *str[FUZZ_STRINGS];
	struct authres_item items[FUZZ_ITEMS];
	size_t		    n = 0, i, k, nitems = 0;
	int		    rc;

	/* The whole input as a field value. */
	if (authres_servid((const char *)data, size, out) == 0
	    && VSTR_LEN(out) == 0)
		abort();
	rc = authres_from_domain((const char *)data, size, out);
	if (rc == 1) {
		for (i = 0; i < VSTR_LEN(out); i++)
			if (VSTR_STR(out)[i] >= 'A' && VSTR_STR(out)[i] <= 'Z')
				abort();
	} else if (VSTR_LEN(out) != 0) {
		abort();
	}

	/* NUL-separated strings: servid, then items of 3 + 2 * nprops. */
	vstr_memcpy(copy, data, size);
	for (i = 0, k = 0; i <= size && n < FUZZ_STRINGS; i++) {
		if (i == size || VSTR_STR(copy)[i] == 0) {
			str[n++] = VSTR_STR(copy) + k;
			k = i + 1;
		}
	}
	memset(items, 0, sizeof(items));
	for (i = 1; i + 3 <= n && nitems < FUZZ_ITEMS;) {
		struct authres_item *it = &items[nitems++];

		it->method = str[i++];
		it->result = str[i++];
		it->comment = *str[i] ? str[i] : NULL;
		i++;
		while (i + 2 <= n && it->nprops < AUTHRES_PROPS_MAX
		       && *str[i] != 0) {
			it->props[it->nprops].name = str[i++];
			it->props[it->nprops++].value = str[i++];
		}
		if (i < n && *str[i] == 0)
			i++;
	}
	authres_write(out, n > 0 ? str[0] : "", items, nitems);
	check_field(out, n > 0 && *str[0] ? str[0] : "localhost");
	vstr_free(out);
	vstr_free(copy);
	return 0;
}
