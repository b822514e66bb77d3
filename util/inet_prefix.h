/*
 * inet_prefix - the key under which a client address is counted.
 *
 * Clients are counted per address, but an IPv6 client controls a whole
 * subnet, so IPv6 addresses are masked to a prefix (Postfix's
 * smtpd_client_ipv6_prefix_length and postscreen_client_ipv6_prefix_length).
 *
 * Errors: -1 with a reason in out when addr is not a numeric address.
 * Ownership: out is the caller's.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_INET_PREFIX_H
#define UTIL_INET_PREFIX_H

#include "util/sys_defs.h"
#include "util/vstr.h"

/*
 * An IPv4 address (or an IPv4-mapped IPv6 address) as a dotted quad; an
 * IPv6 address masked to v6_len bits (0..128), printed "addr/len", e.g.
 * "2001:db8::/84".  0, or -1 when addr is not a numeric address (out then
 * says why).
 */
int inet_prefix_key(const char *addr, int v6_len, VSTR *out);

#endif
