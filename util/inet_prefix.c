/*
 * inet_prefix - per-client counting keys.  See inet_prefix.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "util/inet_prefix.h"

int
inet_prefix_key(const char *addr, int v6_len, VSTR *out)
{
	unsigned char bin[16];
	char	      text[INET6_ADDRSTRLEN];
	int	      i;

	if (inet_pton(AF_INET, addr, bin) == 1) {
		vstr_strcpy(out, addr);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, bin) != 1) {
		vstr_sprintf(out, "not a numeric address: %.100s", addr);
		return -1;
	}
	if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)bin)) {
		if (inet_ntop(AF_INET, bin + 12, text, sizeof(text)) == NULL)
			return -1;
		vstr_strcpy(out, text);
		return 0;
	}
	if (v6_len < 0)
		v6_len = 0;
	if (v6_len > 128)
		v6_len = 128;
	for (i = 0; i < 16; i++) {
		int keep = v6_len - i * 8;

		if (keep <= 0)
			bin[i] = 0;
		else if (keep < 8)
			bin[i] &= (unsigned char)(0xff << (8 - keep));
	}
	if (inet_ntop(AF_INET6, bin, text, sizeof(text)) == NULL)
		return -1;
	vstr_sprintf(out, "%s/%d", text, v6_len);
	return 0;
}
