/*
 * libFuzzer target for what smtpd does with a tls_server_sni_maps value:
 * map_files_decode (the base64 of "postelmap -F") and tls_chain_check
 * (PEM keys and certificate chains, key first), on the input as is and
 * on its decoding.  Beyond "never crash": a refusal always says why, and
 * a decoded value is never longer than its base64.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/map_files.h"
#include "util/mymalloc.h"
#include "util/tls.h"
#include "util/vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = mystrndup((const char *)data, size);
	VSTR *pem = vstr_alloc(256);
	VSTR *why = vstr_alloc(64);

	if (tls_chain_check((const char *)data, size, why) < 0
	    && VSTR_LEN(why) == 0)
		abort();
	if (map_files_decode(value, pem, why) == 0) {
		if (VSTR_LEN(pem) > size)
			abort();
		if (tls_chain_check(VSTR_STR(pem), VSTR_LEN(pem), why) < 0
		    && VSTR_LEN(why) == 0)
			abort();
	} else if (VSTR_LEN(why) == 0) {
		abort();
	}
	vstr_free(pem);
	vstr_free(why);
	myfree(value);
	return 0;
}
