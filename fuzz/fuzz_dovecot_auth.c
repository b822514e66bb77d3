/*
 * fuzz_dovecot_auth - libFuzzer target for the Dovecot auth protocol
 * reply parser (util/sasl_dovecot_proto.c): the input is split at LF and
 * each line parsed as sasl_dovecot.c would read it from the socket; the
 * security option parser gets the first line too.
 *
 * Oracles besides the sanitizers: a MECH name is 1-64 SASL name
 * characters; a value that was unescaped, escaped again and parsed gives
 * the same value back; CONT and OK resp= data re-encode to base64 that
 * decodes to the same bytes.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/sasl.h"
#include "util/sasl_dovecot.h"
#include "util/vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sasl_dovecot_reply fuzz_r, fuzz_r2;
static VSTR			*fuzz_why, *fuzz_line, *fuzz_tmp;

static void
fuzz_check(const struct sasl_dovecot_reply *r)
{
	if (r->kind == SASL_DOVECOT_MECH) {
		size_t len = VSTR_LEN(r->text);

		if (len == 0 || len > 64 || strlen(VSTR_STR(r->text)) != len)
			__builtin_trap();
	}
	if (r->kind == SASL_DOVECOT_FAIL && VSTR_LEN(r->reason) > 0
	    && strlen(VSTR_STR(r->reason)) == VSTR_LEN(r->reason)) {
		/* Escape the reason again and parse it back. */
		vstr_strcpy(fuzz_line, "FAIL\t1\treason=");
		sasl_dovecot_proto_escape(fuzz_line, VSTR_STR(r->reason));
		if (sasl_dovecot_proto_parse(VSTR_STR(fuzz_line),
					     VSTR_LEN(fuzz_line), &fuzz_r2,
					     fuzz_why)
			== 0
		    && strcmp(VSTR_STR(fuzz_r2.reason), VSTR_STR(r->reason))
			   != 0)
			__builtin_trap();
	}
	if (r->has_data) {
		vstr_reset(fuzz_line);
		sasl_proto_base64_encode(fuzz_line, VSTR_STR(r->data),
					 VSTR_LEN(r->data));
		if (sasl_proto_base64_decode(fuzz_tmp, VSTR_STR(fuzz_line),
					     VSTR_LEN(fuzz_line))
			< 0
		    || VSTR_LEN(fuzz_tmp) != VSTR_LEN(r->data)
		    || memcmp(VSTR_STR(fuzz_tmp), VSTR_STR(r->data),
			      VSTR_LEN(r->data))
			   != 0)
			__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *end = p + size;
	unsigned    sec;

	if (fuzz_why == NULL) {
		sasl_dovecot_reply_init(&fuzz_r);
		sasl_dovecot_reply_init(&fuzz_r2);
		fuzz_why = vstr_alloc(64);
		fuzz_line = vstr_alloc(64);
		fuzz_tmp = vstr_alloc(64);
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t	    len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (sasl_dovecot_proto_parse(p, len, &fuzz_r, fuzz_why) == 0)
			fuzz_check(&fuzz_r);
		p += len + (nl != NULL);
	}
	/* The first line as security option words. */
	{
		const char *nl = memchr(data, '\n', size);
		size_t	    len = nl ? (size_t)(nl - (const char *)data) : size;

		vstr_memcpy(fuzz_tmp, data, len);
		if (strlen(VSTR_STR(fuzz_tmp)) == len
		    && sasl_dovecot_security_parse(VSTR_STR(fuzz_tmp), &sec,
						   fuzz_why)
			   == 0)
			(void)
			    sasl_dovecot_mech_allowed(sec & 0x3f,
						      sec); /* both bit sets in range */
	}
	return 0;
}
