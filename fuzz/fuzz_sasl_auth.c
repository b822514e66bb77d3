/*
 * fuzz_sasl_auth - libFuzzer target for the SASL AUTH exchange decoding
 * (util/sasl_proto.c): the AUTH command's arguments, then one client
 * response per line, as smtpd_sasl.c feeds them.
 *
 * Oracles besides the sanitizers: the decoder is canonical, so whatever
 * it accepts must encode back to exactly the input; a parsed mechanism
 * is 1-20 upper-case name characters.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/sasl.h"
#include "util/vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static VSTR *fuzz_a, *fuzz_b, *fuzz_c, *fuzz_d;

static void
fuzz_roundtrip(const char *text, size_t len, const VSTR *decoded)
{
	vstr_reset(fuzz_d);
	sasl_proto_base64_encode(fuzz_d, VSTR_STR(decoded), VSTR_LEN(decoded));
	if (VSTR_LEN(fuzz_d) != len || memcmp(VSTR_STR(fuzz_d), text, len))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *end = p + size;
	const char *nl;
	bool	    has;

	if (fuzz_a == NULL) {
		fuzz_a = vstr_alloc(64);
		fuzz_b = vstr_alloc(64);
		fuzz_c = vstr_alloc(64);
		fuzz_d = vstr_alloc(64);
	}
	/* The whole input as one base64 token. */
	if (sasl_proto_base64_decode(fuzz_a, p, size) == 0)
		fuzz_roundtrip(p, size, fuzz_a);

	/* First line: AUTH arguments (a C string, as smtpd passes it). */
	nl = memchr(p, '\n', size);
	vstr_memcpy(fuzz_c, p, nl ? (size_t)(nl - p) : size);
	if (memchr(VSTR_STR(fuzz_c), 0, VSTR_LEN(fuzz_c)) == NULL
	    && sasl_proto_parse_auth(VSTR_STR(fuzz_c), fuzz_a, fuzz_b, &has,
				     fuzz_d)
		   == 0) {
		if (VSTR_LEN(fuzz_a) == 0 || VSTR_LEN(fuzz_a) > 20)
			__builtin_trap();
		for (size_t i = 0; i < VSTR_LEN(fuzz_a); i++)
			if (islower((unsigned char)VSTR_STR(fuzz_a)[i]))
				__builtin_trap();
		if (!has && VSTR_LEN(fuzz_b) != 0)
			__builtin_trap();
	}
	if (nl == NULL)
		return 0;

	/* Then each response line. */
	for (p = nl + 1; p < end; p = nl + 1) {
		size_t len;

		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len && p[len - 1] == '\r')
			len--;
		switch (sasl_proto_decode_response(p, len, fuzz_b)) {
		case SASL_RESP_OK:
			fuzz_roundtrip(p, len, fuzz_b);
			break;
		case SASL_RESP_CANCEL:
			if (len != 1 || *p != '*')
				__builtin_trap();
			break;
		case SASL_RESP_BAD:
			if (VSTR_LEN(fuzz_b) != 0)
				__builtin_trap();
			break;
		}
		if (nl == NULL)
			break;
	}
	return 0;
}
