/*
 * libFuzzer target for tls_protocols_parse (util/tls.c), the parser of
 * smtpd_tls_protocols / smtp_tls_protocols values.  Beyond "never
 * crash": an accepted spec never enables SSLv3 or lower and never gives
 * an empty range.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/tls.h"
#include "util/vstr.h"

#define TLS1_VERSION_NUM 0x0301

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = mystrndup((const char *)data, size);
	VSTR *why = vstr_alloc(64);
	int   min = -1, max = -1;

	if (tls_protocols_parse(spec, &min, &max, why) == 0) {
		if (min < TLS1_VERSION_NUM)
			abort();
		if (max != 0 && max < min)
			abort();
	} else if (VSTR_LEN(why) == 0) {
		abort();
	}
	vstr_free(why);
	myfree(spec);
	return 0;
}
