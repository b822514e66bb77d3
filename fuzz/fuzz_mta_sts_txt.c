/*
 * fuzz_mta_sts_txt - libFuzzer target for util/mta_sts's TXT record
 * parser (the _mta-sts.DOMAIN record, from any DNS answer) and the
 * mtasts(8) protocol decoders (util/mta_sts_proto, what mtasts reads
 * from any local client and what smtp reads back).
 *
 * The input is one TXT record, and, split at its first NUL, several
 * records for mta_sts_txt_select; the whole input is also tried as an
 * attr frame for the request and reply decoders.
 *
 * Invariants: no crash; an accepted record has an id of 1 to 32 letters
 * and digits, and selection agrees with the single-record parser; a
 * decoded request or reply encodes to a frame that decodes the same.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/attr.h"
#include "util/mta_sts.h"
#include "util/mta_sts_proto.h"
#include "util/vstr.h"

static void
check_id(const VSTR *id)
{
	if (VSTR_LEN(id) < 1 || VSTR_LEN(id) > MTA_STS_ID_MAX)
		abort();
	for (size_t i = 0; i < VSTR_LEN(id); i++) {
		char c = VSTR_STR(id)[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		      || (c >= '0' && c <= '9')))
			abort();
	}
}

static void
check_frames(const uint8_t *data, size_t size)
{
	ATTR		      *in = attr_alloc();
	ATTR		      *out = attr_alloc();
	struct mta_sts_request rq;
	struct mta_sts_reply   rp;
	struct mta_sts_reply   back;

	memset(&rp, 0, sizeof(rp));
	memset(&back, 0, sizeof(back));
	if (attr_decode((const char *)data, size, in, NULL) < 0)
		goto out;
	if (mta_sts_request_decode(in, &rq, NULL) == 0) {
		struct mta_sts_request rq2;

		mta_sts_request_encode(&rq, out);
		if (mta_sts_request_decode(out, &rq2, NULL) < 0
		    || strcmp(rq.domain, rq2.domain) != 0)
			abort();
	}
	if (mta_sts_reply_decode(in, &rp, NULL) == 0) {
		mta_sts_reply_encode(&rp, out);
		if (mta_sts_reply_decode(out, &back, NULL) < 0
		    || back.status != rp.status
		    || back.policy.nmx != rp.policy.nmx
		    || strcmp(back.detail, rp.detail) != 0)
			abort();
	}
out:
	mta_sts_policy_free(&rp.policy);
	mta_sts_policy_free(&back.policy);
	attr_free(in);
	attr_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	VSTR	   *id = vstr_alloc(16);
	VSTR	   *id2 = vstr_alloc(16);
	const char *txt[8];
	size_t	    len[8];
	size_t	    n = 0;
	size_t	    pos = 0;
	int	    one;

	one = mta_sts_txt_parse((const char *)data, size, id, NULL);
	if (one == 1)
		check_id(id);
	while (pos <= size && n < 8) {
		const uint8_t *nul = memchr(data + pos, 0, size - pos);
		size_t	       end = nul ? (size_t)(nul - data) : size;

		txt[n] = (const char *)data + pos;
		len[n] = end - pos;
		n++;
		pos = end + 1;
	}
	if (mta_sts_txt_select(txt, len, n, id2, NULL) == 0) {
		check_id(id2);
		if (n == 1 && (one != 1 || strcmp(VSTR_STR(id), VSTR_STR(id2))))
			abort();
	}
	check_frames(data, size);
	vstr_free(id);
	vstr_free(id2);
	return 0;
}
