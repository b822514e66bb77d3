/*
 * fuzz_tlsrpt_txt - libFuzzer target for util/tlsrpt: the `_smtp._tls`
 * TXT record parser (RFC 8460 3), mailto: addresses and JSON quoting.
 *
 * The input (up to its first NUL) is parsed as a record.  Checked beyond
 * memory safety: a refusal leaves no URI and gives a reason; an
 * accepted record starts with v=TLSRPTv1, keeps 1..TLSRPT_RUA_MAX URIs,
 * each mailto: or https:, without white space, "," or "!", and each a
 * substring of the record; the record with a trailing ";" (when it has
 * none) parses to the same URIs.  Every URI (and the input) is tried as mailto:, and an
 * accepted address has exactly one "@" and no control characters.  The
 * JSON quoting of the input has no raw control characters.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util/mymalloc.h"
#include "util/tlsrpt.h"
#include "util/vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_mailto(const char *uri, VSTR *addr, VSTR *why)
{
	const char *at;

	if (tlsrpt_mailto_addr(uri, addr, why) < 0) {
		if (VSTR_LEN(why) == 0)
			__builtin_trap();
		return;
	}
	at = strchr(VSTR_STR(addr), '@');
	if (at == NULL || strchr(at + 1, '@') != NULL)
		__builtin_trap();
	for (const char *p = VSTR_STR(addr); *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
			__builtin_trap();
}

static bool
fuzz_ends_with_semicolon(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n > 0 && s[n - 1] == ';';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	  *text = mystrndup((const char *)data, size);
	VSTR	  *why = vstr_alloc(64);
	VSTR	  *addr = vstr_alloc(64);
	VSTR	  *again = vstr_alloc(64);
	VSTR	  *json = vstr_alloc(64);
	TLSRPT_RUA rua = { 0 };
	TLSRPT_RUA rua2 = { 0 };

	vstr_reset(why);
	if (tlsrpt_txt_parse(text, &rua, why) < 0) {
		if (rua.count != 0 || VSTR_LEN(why) == 0)
			__builtin_trap();
	} else {
		if (!tlsrpt_txt_is_tlsrpt(text) || rua.count == 0
		    || rua.count > TLSRPT_RUA_MAX)
			__builtin_trap();
		for (size_t i = 0; i < rua.count; i++) {
			const char *u = rua.uri[i];

			if ((strncasecmp(u, "mailto:", 7) != 0
			     && strncasecmp(u, "https://", 8) != 0)
			    || strpbrk(u, " \t,!;") != NULL
			    || strstr(text, u) == NULL)
				__builtin_trap();
			fuzz_mailto(u, addr, why);
		}
		/* One final ";" is allowed (a second is not). */
		if (!fuzz_ends_with_semicolon(text)) {
			vstr_sprintf(again, "%s;", text);
			if (tlsrpt_txt_parse(VSTR_STR(again), &rua2, why) < 0
			    || rua2.count != rua.count)
				__builtin_trap();
			for (size_t i = 0; i < rua.count; i++)
				if (strcmp(rua.uri[i], rua2.uri[i]) != 0)
					__builtin_trap();
		}
	}
	fuzz_mailto(text, addr, why);
	tlsrpt_json_str(json, text);
	for (const char *p = VSTR_STR(json); *p; p++)
		if ((unsigned char)*p < 0x20)
			__builtin_trap();
	(void)tlsrpt_result_from_verdict(text);
	tlsrpt_rua_reset(&rua);
	tlsrpt_rua_reset(&rua2);
	vstr_free(why);
	vstr_free(addr);
	vstr_free(again);
	vstr_free(json);
	myfree(text);
	return 0;
}
