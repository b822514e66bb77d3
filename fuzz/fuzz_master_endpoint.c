/*
 * fuzz_master_endpoint - libFuzzer target for master's inet service field
 * parser (master_listen_split): "port", "host:port", "[v6]:port".
 *
 * Invariants checked: on success the port is non-empty and contains no
 * ':'; a bracketed host comes back without brackets; on failure nothing
 * is promised but no crash and no read past the input.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "master/master.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *field = mystrndup((const char *)data, size);
	VSTR *host = vstr_alloc(10);
	VSTR *port = vstr_alloc(10);

	if (master_listen_split(field, host, port) == 0) {
		if (VSTR_LEN(port) == 0 || strchr(VSTR_STR(port), ':'))
			abort();
		if (field[0] == '['
		    && (strchr(VSTR_STR(host), '[')
			|| strchr(VSTR_STR(host), ']')))
			abort();
	}
	vstr_free(host);
	vstr_free(port);
	myfree(field);
	return 0;
}
