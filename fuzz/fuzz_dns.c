/*
 * libFuzzer target for util/dns: arbitrary bytes as a DNS answer, parsed
 * for every record type Postel asks for.  The parser must return one of
 * its three results, never read outside the buffer, and keep its
 * promises: a count within bounds, MX sorted by preference, A/AAAA data
 * that are printable addresses.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/dns.h"
#include "util/vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int  types[] = { DNS_TYPE_A,   DNS_TYPE_AAAA, DNS_TYPE_MX,
				      DNS_TYPE_TXT, DNS_TYPE_TLSA, DNS_TYPE_PTR };
	static DNS_REPLY *r;
	static VSTR	 *why;
	/* A private copy, so reads past the end are caught by ASan. */
	unsigned char *copy = malloc(size ? size : 1);

	if (r == NULL) {
		r = dns_reply_alloc();
		why = vstr_alloc(64);
	}
	memcpy(copy, data, size);
	for (size_t t = 0; t < sizeof(types) / sizeof(*types); t++) {
		enum dns_status st = dns_parse(copy, size, types[t], r, why);

		if (st != DNS_OK && st != DNS_NOTFOUND && st != DNS_TEMPFAIL)
			abort();
		if (st != DNS_OK)
			continue;
		if (r->count == 0 || r->count > DNS_RR_MAX)
			abort();
		for (size_t i = 0; i < r->count; i++) {
			if (r->rr[i].type != types[t])
				abort();
			if (VSTR_LEN(r->rr[i].name) > 4 * DNS_NAME_MAX)
				abort();
			if (i > 0 && types[t] == DNS_TYPE_MX
			    && r->rr[i - 1].pref > r->rr[i].pref)
				abort();
			if ((types[t] == DNS_TYPE_A
			     || types[t] == DNS_TYPE_AAAA)
			    && strspn(VSTR_STR(r->rr[i].data),
				      "0123456789abcdef.:")
				   != VSTR_LEN(r->rr[i].data))
				abort();
		}
		(void)dns_null_mx(r);
	}
	free(copy);
	return 0;
}
