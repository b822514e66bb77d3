/*
 * libFuzzer target for smtpd/smtpd_spf: the Received-SPF writer and the
 * DNS layer's glue.
 *
 * First byte even: the rest, split at newlines, gives the writer's nine
 * inputs (peer text: sender, HELO name, explanation ...).  The field must
 * start with "Received-SPF: ", hold only printable ASCII, fold only as
 * CRLF HTAB, and keep every line within 998 octets (RFC 5322 2.1.1), so
 * cleanup can prepend it as it is.
 *
 * First byte odd: the rest is a DNS answer, parsed by util/dns for each
 * type libspf2 asks for and turned into a libspf2 RR set, which must
 * agree with the answer (herrno, count, strings NUL-terminated).
 *
 * SPDX-License-Identifier: ISC
 */
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spf2/spf.h>

#include "smtpd/smtpd_spf.h"
#include "util/dns.h"
#include "util/vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_header(const uint8_t *data, size_t size)
{
	char		    *copy = malloc(size + 1);
	const char	    *f[9] = { 0 };
	char		    *cp = copy;
	VSTR		    *out = vstr_alloc(64);
	struct smtpd_spf_hdr h;
	size_t		     line = 0;
	const char	    *s;

	memcpy(copy, data, size);
	copy[size] = 0;
	for (int i = 0; i < 9 && cp; i++) {
		char *nl = strchr(cp, '\n');

		if (nl)
			*nl = 0;
		/* An empty input stands for a missing one. */
		f[i] = *cp ? cp : NULL;
		cp = nl ? nl + 1 : NULL;
	}
	h = (struct smtpd_spf_hdr){ f[0], f[1], f[2], f[3], f[4],
				    f[5], f[6], f[7], f[8] };
	smtpd_spf_header(out, &h);
	s = VSTR_STR(out);
	if (strncmp(s, "Received-SPF: ", 14) != 0 || strlen(s) != VSTR_LEN(out))
		abort();
	for (; *s; s++, line++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\r') {
			if (s[1] != '\n' || s[2] != '\t')
				abort();
			s++;
			line = 0;
			continue;
		}
		if (ch == '\n' || ch > 0x7e || (ch < ' ' && ch != '\t'))
			abort();
		if (line >= 998)
			abort();
	}
	vstr_free(out);
	free(copy);
}

static void
fuzz_dns(const uint8_t *data, size_t size)
{
	static const int  types[] = { DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_MX,
				      DNS_TYPE_TXT, DNS_TYPE_PTR };
	static DNS_REPLY *r;
	static VSTR	 *why;
	unsigned char	 *copy = malloc(size ? size : 1);

	if (r == NULL) {
		r = dns_reply_alloc();
		why = vstr_alloc(64);
	}
	memcpy(copy, data, size);
	for (size_t t = 0; t < sizeof(types) / sizeof(*types); t++) {
		enum dns_status st = dns_parse(copy, size, types[t], r, why);
		SPF_dns_rr_t   *rr;

		rr = smtpd_spf_dns_rr(NULL, "fuzz.test", types[t], st, r);
		if (rr == NULL)
			abort();
		if (st == DNS_TEMPFAIL && rr->herrno != TRY_AGAIN)
			abort();
		if (st == DNS_NOTFOUND && rr->herrno != HOST_NOT_FOUND
		    && rr->herrno != NO_DATA)
			abort();
		if (rr->num_rr < 0 || (size_t)rr->num_rr > r->count
		    || (rr->num_rr > 0) != (rr->herrno == NETDB_SUCCESS))
			abort();
		for (int i = 0; i < rr->num_rr; i++)
			if (types[t] != DNS_TYPE_A && types[t] != DNS_TYPE_AAAA
			    && strlen(rr->rr[i]->txt) >= rr->rr_buf_len[i])
				abort();
		SPF_dns_rr_free(rr);
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_dns(data + 1, size - 1);
	else
		fuzz_header(data + 1, size - 1);
	return 0;
}
