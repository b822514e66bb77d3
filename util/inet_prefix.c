/*
 * inet_prefix - the key under which a client address is counted.  See
 * inet_prefix.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "util/inet_prefix.h"

int
inet_prefix_key(const char *addr, int v6_len, VSTR *out)
{
	struct in6_addr a6;
	struct in_addr	a4;
	char		buf[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, addr, &a4) == 1) {
		if (inet_ntop(AF_INET, &a4, buf, sizeof(buf)) == NULL)
			goto bad;
		vstr_strcpy(out, buf);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &a6) != 1)
		goto bad;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, &a6.s6_addr[12], sizeof(a4));
		if (inet_ntop(AF_INET, &a4, buf, sizeof(buf)) == NULL)
			goto bad;
		vstr_strcpy(out, buf);
		return 0;
	}
	if (v6_len < 0 || v6_len > 128) {
		vstr_sprintf(out, "bad IPv6 prefix length %d (0..128)", v6_len);
		return -1;
	}
	/* Clear every bit past the prefix: whole bytes, then the partial one. */
	for (int bit = v6_len; bit < 128; bit++)
		a6.s6_addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	if (inet_ntop(AF_INET6, &a6, buf, sizeof(buf)) == NULL)
		goto bad;
	vstr_sprintf(out, "%s/%d", buf, v6_len);
	return 0;
bad:
	vstr_strcpy(out, "not a numeric IPv4 or IPv6 address");
	return -1;
}
