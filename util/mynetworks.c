/*
 * mynetworks - the computed default of mynetworks (see mynetworks.h).
 *
 * Errors: -1 with why; nothing dies but the allocators.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util/mymalloc.h"
#include "util/mynetworks.h"
#include "util/strutil.h"
#include "util/vstr.h"

enum mynet_style {
	MYNET_HOST,
	MYNET_SUBNET,
	MYNET_CLASS
};

/* Whether a comma/space list holds word (case-insensitive). */
static bool
mynet_list_has(const char *list, const char *word)
{
	char *copy = mystrdup(list);
	char *cp = copy;
	char *tok;
	bool  found = false;

	while (!found && (tok = str_token(&cp, STR_SEP_LIST)) != NULL)
		found = strcasecmp(tok, word) == 0;
	myfree(copy);
	return found;
}

/* Whether inet_interfaces names this address ("[::1]" accepted). */
static bool
mynet_listed(const char *list, int family, const void *addr)
{
	char	     *copy = mystrdup(list);
	char	     *cp = copy;
	char	     *tok;
	bool	      found = false;
	unsigned char buf[sizeof(struct in6_addr)];
	size_t	      alen = family == AF_INET ? sizeof(struct in_addr)
					       : sizeof(struct in6_addr);

	while (!found && (tok = str_token(&cp, STR_SEP_LIST)) != NULL) {
		size_t len = strlen(tok);

		if (len > 2 && tok[0] == '[' && tok[len - 1] == ']') {
			tok[len - 1] = 0;
			tok++;
		}
		found = inet_pton(family, tok, buf) == 1
			&& memcmp(buf, addr, alen) == 0;
	}
	myfree(copy);
	return found;
}

/* Leading one bits of a netmask. */
static int
mynet_prefix(const unsigned char *mask, size_t len)
{
	int bits = 0;

	for (size_t i = 0; i < len; i++)
		for (int b = 7; b >= 0; b--) {
			if (!(mask[i] & (1u << b)))
				return bits;
			bits++;
		}
	return bits;
}

static void
mynet_apply(unsigned char *addr, size_t len, int prefix)
{
	for (size_t i = 0; i < len; i++) {
		int keep = prefix - (int)i * 8;

		if (keep >= 8)
			continue;
		addr[i] &= keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
	}
}

int
mynetworks_compute(const char *style_text, const char *interfaces,
		   const char *protocols, VSTR *out, VSTR *why)
{
	struct ifaddrs	*ifa;
	enum mynet_style style;
	bool		 all = mynet_list_has(interfaces, "all");
	bool		 loopback = mynet_list_has(interfaces, "loopback-only");
	bool		 v4 = mynet_list_has(protocols, "all")
		  || mynet_list_has(protocols, "ipv4");
	bool v6 = mynet_list_has(protocols, "all")
		  || mynet_list_has(protocols, "ipv6");
	VSTR *item = vstr_alloc(64);

	vstr_reset(out);
	if (strcasecmp(style_text, "host") == 0)
		style = MYNET_HOST;
	else if (strcasecmp(style_text, "subnet") == 0)
		style = MYNET_SUBNET;
	else if (strcasecmp(style_text, "class") == 0)
		style = MYNET_CLASS;
	else {
		vstr_sprintf(why,
			     "unknown mynetworks_style \"%s\" (host, "
			     "subnet or class)",
			     style_text);
		vstr_free(item);
		return -1;
	}
	if (getifaddrs(&ifa) < 0) {
		vstr_sprintf(why, "getifaddrs: %s", strerror(errno));
		vstr_free(item);
		return -1;
	}
	for (struct ifaddrs *i = ifa; i != NULL; i = i->ifa_next) {
		unsigned char	     addr[sizeof(struct in6_addr)];
		const unsigned char *mask;
		char		     text[INET6_ADDRSTRLEN];
		size_t		     alen;
		int		     family, prefix;

		if (i->ifa_addr == NULL || i->ifa_netmask == NULL
		    || !(i->ifa_flags & IFF_UP))
			continue;
		family = i->ifa_addr->sa_family;
		if (family == AF_INET && v4) {
			alen = sizeof(struct in_addr);
			memcpy(addr,
			       &((struct sockaddr_in *)(void *)i->ifa_addr)
				    ->sin_addr,
			       alen);
			mask = (const unsigned char *)&(
				   (struct sockaddr_in *)(void *)i->ifa_netmask)
				   ->sin_addr;
		} else if (family == AF_INET6 && v6) {
			alen = sizeof(struct in6_addr);
			memcpy(addr,
			       &((struct sockaddr_in6 *)(void *)i->ifa_addr)
				    ->sin6_addr,
			       alen);
			mask = (const unsigned char *)&(
				   (struct sockaddr_in6 *)(void *)i->ifa_netmask)
				   ->sin6_addr;
			if (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80)
				continue;
		} else {
			continue;
		}
		if (!all && !(loopback && (i->ifa_flags & IFF_LOOPBACK))
		    && !mynet_listed(interfaces, family, addr))
			continue;
		if (style == MYNET_HOST)
			prefix = (int)alen * 8;
		else if (style == MYNET_CLASS && family == AF_INET)
			prefix = addr[0] < 128 ? 8 : addr[0] < 192 ? 16 : 24;
		else
			prefix = mynet_prefix(mask, alen);
		mynet_apply(addr, alen, prefix);
		if (inet_ntop(family, addr, text, sizeof(text)) == NULL)
			continue;
		vstr_sprintf(item, family == AF_INET ? "%s/%d" : "[%s]/%d",
			     text, prefix);
		/* One entry per network, in interface order. */
		if (mynet_list_has(VSTR_STR(out), VSTR_STR(item)))
			continue;
		if (VSTR_LEN(out))
			vstr_addch(out, ' ');
		vstr_strcat(out, VSTR_STR(item));
	}
	freeifaddrs(ifa);
	vstr_free(item);
	return 0;
}
