/*
 * mynetworks - the computed default of mynetworks (Postfix's
 * mynetworks_style): the networks of this host's own addresses.
 *
 * The addresses are those of inet_interfaces ("all": every interface,
 * "loopback-only": the loopback ones, else the listed IP addresses),
 * limited by inet_protocols.  style "host" lists each address (/32,
 * /128), "subnet" the interface's network, "class" the IPv4 class A/B/C
 * network (IPv6: the subnet).  IPv6 link-local addresses are left out.
 *
 * Errors: -1 with why for an unknown style or when the interfaces cannot
 * be listed; out is then empty.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MYNETWORKS_H
#define UTIL_MYNETWORKS_H

#include "util/vstr.h"

/* Space-separated "a.b.c.d/n [x::y]/n" list in out (replaced). */
int mynetworks_compute(const char *style, const char *interfaces,
		       const char *protocols, VSTR *out, VSTR *why);

#endif
