/*
 * netstring - netstring writer and reader.  See netstring.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "util/netstring.h"
#include "util/vstr.h"

void
netstring_put(VSTR *out, const char *data, size_t len)
{
	vstr_sprintf_append(out, "%zu:", len);
	vstr_memcat(out, data, len);
	vstr_addch(out, ',');
}

static int
netstring_fail(VSTR *why, const char *text)
{
	if (why)
		vstr_strcpy(why, text);
	return -1;
}

int
netstring_get(const char *buf, size_t len, size_t max, const char **data,
	      size_t *dlen, size_t *used, VSTR *why)
{
	size_t n = 0;
	size_t i;

	/*
	 * The digits: checked against max as they come, so a peer cannot
	 * make us wait for (or overflow on) an absurd length.
	 */
	for (i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (i == 1 && buf[0] == '0')
			return netstring_fail(why, "netstring length has a "
						   "leading zero");
		size_t d = (size_t)(buf[i] - '0');

		if (d > max || n > (max - d) / 10)
			return netstring_fail(why, "netstring longer than the "
						   "limit");
		n = n * 10 + d;
	}
	if (i == len)
		return 0;
	if (i == 0)
		return netstring_fail(why, "netstring does not start with "
					   "a length");
	if (buf[i] != ':')
		return netstring_fail(why, "netstring length not followed "
					   "by ':'");
	i++;
	/* n <= max; compare without adding to n, which could wrap. */
	if (len - i <= n)
		return 0;
	if (buf[i + n] != ',')
		return netstring_fail(why, "netstring not terminated by ','");
	*data = buf + i;
	*dlen = n;
	*used = i + n + 1;
	return 1;
}
