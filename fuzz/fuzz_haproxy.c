/*
 * fuzz_haproxy - libFuzzer target for util/haproxy, the PROXY protocol
 * v1/v2 header a load balancer sends before the client's bytes: the
 * input fed whole, and again one byte at a time.
 *
 * Invariants: no crash; both ways agree on the status, the bytes taken
 * and the result; a done header took at most the input, a version 1 one
 * ends in CR LF within 107 bytes, a version 2 one is exactly its fixed
 * part and length field long; a proxied result has numeric addresses
 * that parse back, decimal ports, and socket addresses of the family
 * they claim; "more" took every byte; a refusal has a reason; the
 * escaped bytes for the log hold no control character.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/haproxy.h"
#include "util/vstr.h"

static void
check_endpoint(const struct haproxy_endpoint *ep)
{
	unsigned char bin[16];
	int	      family = ep->sa.ss_family;
	size_t	      i;

	if (family != AF_INET && family != AF_INET6)
		abort();
	if (ep->salen
	    != (family == AF_INET ? sizeof(struct sockaddr_in)
				  : sizeof(struct sockaddr_in6)))
		abort();
	if (inet_pton(family, ep->addr, bin) != 1)
		abort();
	if (ep->port[0] == 0 || strlen(ep->port) > 5 || atol(ep->port) > 65535)
		abort();
	for (i = 0; ep->port[i]; i++)
		if (ep->port[i] < '0' || ep->port[i] > '9')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static VSTR		    *esc;
	HAPROXY			    *whole = haproxy_alloc();
	HAPROXY			    *bytes = haproxy_alloc();
	enum haproxy_status	     s1;
	enum haproxy_status	     s2 = HAPROXY_MORE;
	const struct haproxy_result *r;
	size_t			     used1;
	size_t			     used2 = 0;
	size_t			     u;
	size_t			     i;

	if (esc == NULL)
		esc = vstr_alloc(256);
	s1 = haproxy_feed(whole, buf, len, &used1);
	if (used1 > len)
		abort();
	for (i = 0; i < len && s2 == HAPROXY_MORE; i++) {
		s2 = haproxy_feed(bytes, buf + i, 1, &u);
		if (u != 1)
			abort();
		used2++;
	}
	if (s1 != s2 || used1 != used2)
		abort();

	switch (s1) {
	case HAPROXY_MORE:
		if (used1 != len)
			abort();
		break;
	case HAPROXY_DONE:
		r = haproxy_result(whole);
		if (r->version == 1) {
			if (used1 < 15 || used1 > HAPROXY_V1_MAX
			    || memcmp(buf, "PROXY ", 6) != 0
			    || buf[used1 - 2] != '\r' || buf[used1 - 1] != '\n')
				abort();
		} else if (r->version == 2) {
			if (used1 != 16 + ((size_t)buf[14] << 8 | buf[15]))
				abort();
		} else {
			abort();
		}
		if (!r->local) {
			check_endpoint(&r->client);
			check_endpoint(&r->server);
		}
		if (memcmp(r, haproxy_result(bytes), sizeof(*r)) != 0)
			abort();
		break;
	case HAPROXY_BAD:
		if (*haproxy_reason(whole) == 0
		    || strcmp(haproxy_reason(whole), haproxy_reason(bytes)))
			abort();
		break;
	}
	haproxy_escape_seen(whole, esc);
	for (i = 0; i < VSTR_LEN(esc); i++)
		if ((unsigned char)VSTR_STR(esc)[i] < 0x20
		    || (unsigned char)VSTR_STR(esc)[i] > 0x7e)
			abort();
	haproxy_free(whole);
	haproxy_free(bytes);
	return 0;
}
