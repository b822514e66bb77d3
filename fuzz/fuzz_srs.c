/*
 * libFuzzer target for util/srs: the input is an address given to the
 * reverse parser (as smtpd's RCPT check and cleanup do with a recipient)
 * and to the forward rewriter.  Beyond "never crash": a reversed SRS0
 * has exactly one "@"; a forward result reverses to the input (SRS0,
 * from a plain address) or to an SRS0 address (SRS1); the reverse of
 * what forward made from an SRS0 address is that address.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/srs.h"

#define NOW ((time_t)1796681547)

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

static SRS *srs;

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	VSTR *in = vstr_alloc(len + 1), *out = vstr_alloc(64);
	VSTR *back = vstr_alloc(64), *why = vstr_alloc(64);
	int   rc;

	if (srs == NULL) {
		srs = srs_create("srs.test", 4, 21LL * 86400);
		srs_add_secret(srs, "fuzz-secret", 11);
		srs_add_secret(srs, "older", 5);
	}
	vstr_memcpy(in, buf, len);
	if (memchr(buf, 0, len) == NULL) {
		rc = srs_reverse(srs, VSTR_STR(in), NOW, out, why);
		if (rc > 0 && strncmp(VSTR_STR(in), "SRS1", 4) != 0
		    && strncmp(VSTR_STR(in), "srs1", 4) != 0
		    && strchr(VSTR_STR(out), '@') == NULL)
			abort();
		if (rc < 0 && VSTR_LEN(why) == 0)
			abort();
		rc = srs_forward(srs, VSTR_STR(in), NOW, out, why);
		if (rc > 0) {
			if (srs_reverse(srs, VSTR_STR(out), NOW, back, why)
			    != 1)
				abort();
			if (strncmp(VSTR_STR(out), "SRS0", 4) == 0
			    && strcmp(VSTR_STR(back), VSTR_STR(in)) != 0)
				abort();
			if (strncmp(VSTR_STR(out), "SRS1", 4) == 0
			    && !srs_is_srs(VSTR_STR(back)))
				abort();
		}
	}
	vstr_free(in);
	vstr_free(out);
	vstr_free(back);
	vstr_free(why);
	return 0;
}
