/*
 * inet_prefix - the key under which a client address is counted.
 *
 * anvil(8) counts connections and events per client; smtpd and
 * postscreen name the client by this key.  An IPv4 address is its own
 * key.  An IPv6 host usually owns a whole network (one /64 or more), so an
 * IPv6 address is masked to a prefix length (Postfix 3.8's
 * smtpd_client_ipv6_prefix_length and postscreen_client_ipv6_prefix_length)
 * and every address in that network shares one key.  An IPv4-mapped IPv6
 * address ("::ffff:192.0.2.1") is the IPv4 client it stands for.
 *
 *	"192.0.2.1"		-> "192.0.2.1"
 *	"::ffff:192.0.2.1"	-> "192.0.2.1"
 *	"2001:db8:1:2:3::4", 84	-> "2001:db8:1:2::/84"
 *
 * Errors: -1 with the reason in out when addr is not a numeric IPv4 or
 * IPv6 address, or v6_len is outside 0..128.
 * Ownership: nothing is kept; out is the caller's and is replaced.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_INET_PREFIX_H
#define UTIL_INET_PREFIX_H

#include "util/sys_defs.h"
#include "util/vstr.h"

/*
 * Key for per-client counting: an IPv4 address (or IPv4-mapped IPv6) as
 * dotted quad; IPv6 masked to v6_len bits, printed "addr/len" (e.g.
 * "2001:db8::/84").  0, or -1 when addr is not a numeric address (out
 * then says why).
 */
int inet_prefix_key(const char *addr, int v6_len, VSTR *out);

#endif
