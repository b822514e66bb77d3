/*
 * own_addr - this host's own IP addresses, for address literals.
 *
 * A recipient domain "[192.0.2.1]" or "[IPv6:2001:db8::1]" is local when
 * the address is one of this host's: an address listed in inet_interfaces
 * or proxy_interfaces, "loopback-only" (127.0.0.1 and ::1), or, for
 * inet_interfaces = all, every address of the host's interfaces at the
 * time own_addr_open runs (Postfix's own_inet_addr / proxy_inet_addr).
 * smtpd (which may then accept the recipient as local) and qmgr (which
 * then routes it to local_transport) share this one answer, so mail
 * accepted as local is never relayed back to this host.
 *
 * Errors: a getifaddrs failure is logged (msg_warn) and leaves only the
 * listed addresses; words that are not IP addresses (host names) are
 * ignored, as they are not address literals.
 *
 * Ownership: an OWN_ADDR is the caller's, released with own_addr_free
 * (returns NULL).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_OWN_ADDR_H
#define UTIL_OWN_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "util/cfg.h"
#include "util/sys_defs.h"

typedef struct OWN_ADDR OWN_ADDR;

/* Reads inet_interfaces and proxy_interfaces from cfg. */
OWN_ADDR *own_addr_open(const CFG *cfg);
OWN_ADDR *own_addr_free(OWN_ADDR *o);

/*
 * Normalise an IP address written as "1.2.3.4", "[1.2.3.4]", "::1",
 * "[IPv6:::1]" (prefix case-insensitive) into inet_ntop form in out;
 * false when text is not an IP address or out is too small.
 */
bool own_addr_norm(const char *text, char *out, size_t size);

/* true when domain is an address literal ("[...]") of this host. */
bool own_addr_literal(const OWN_ADDR *o, const char *domain);

#endif
