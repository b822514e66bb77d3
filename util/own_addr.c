/*
 * own_addr - this host's own IP addresses, for address literals.  See
 * own_addr.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/own_addr.h"
#include "util/strutil.h"

/* Bound on the addresses kept (interfaces plus listed ones). */
#define OWN_ADDR_MAX 4096

struct OWN_ADDR {
	char **addrs; /* inet_ntop form */
	size_t count;
};

bool
own_addr_norm(const char *text, char *out, size_t size)
{
	unsigned char bin[16];
	char	      buf[INET6_ADDRSTRLEN + 8];
	size_t	      len = strlen(text);

	if (len >= sizeof(buf))
		return false;
	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		text++;
		len -= 2;
	}
	memcpy(buf, text, len);
	buf[len] = 0;
	text = buf;
	if (strncasecmp(text, "ipv6:", 5) == 0)
		text += 5;
	if (inet_pton(AF_INET, text, bin) == 1)
		return inet_ntop(AF_INET, bin, out, (socklen_t)size) != NULL;
	if (inet_pton(AF_INET6, text, bin) == 1)
		return inet_ntop(AF_INET6, bin, out, (socklen_t)size) != NULL;
	return false;
}

static void
own_addr_add(OWN_ADDR *o, const char *text)
{
	char norm[INET6_ADDRSTRLEN];

	if (!own_addr_norm(text, norm, sizeof(norm)))
		return;
	for (size_t i = 0; i < o->count; i++)
		if (strcmp(o->addrs[i], norm) == 0)
			return;
	if (o->count >= OWN_ADDR_MAX) {
		msg_warn("more than %d own addresses: ignoring %s",
			 OWN_ADDR_MAX, norm);
		return;
	}
	o->addrs = myrealloc(o->addrs, (o->count + 1) * sizeof(char *));
	o->addrs[o->count++] = mystrdup(norm);
}

/* inet_interfaces = all: every address of this host. */
static void
own_addr_add_interfaces(OWN_ADDR *o)
{
	struct ifaddrs *ifa;
	char		buf[INET6_ADDRSTRLEN];

	if (getifaddrs(&ifa) < 0) {
		msg_warn("getifaddrs: %m");
		return;
	}
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		const void *sa = i->ifa_addr;
		const void *a;

		if (sa == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			a = &((const struct sockaddr_in *)sa)->sin_addr;
		else if (i->ifa_addr->sa_family == AF_INET6)
			a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		else
			continue;
		if (inet_ntop(i->ifa_addr->sa_family, a, buf, sizeof(buf)))
			own_addr_add(o, buf);
	}
	freeifaddrs(ifa);
}

OWN_ADDR *
own_addr_open(const CFG *cfg)
{
	static const char *const params[] = {
		"inet_interfaces",
		"proxy_interfaces",
	};
	OWN_ADDR *o = mycalloc(1, sizeof(*o));

	for (size_t p = 0; p < sizeof(params) / sizeof(params[0]); p++) {
		char *copy = mystrdup(cfg_get_str(cfg, params[p]));
		char *cp = copy;
		char *item;

		while ((item = str_token(&cp, STR_SEP_LIST)) != NULL) {
			if (strcmp(item, "all") == 0) {
				own_addr_add_interfaces(o);
			} else if (strcmp(item, "loopback-only") == 0) {
				own_addr_add(o, "127.0.0.1");
				own_addr_add(o, "::1");
			} else {
				own_addr_add(o, item);
			}
		}
		myfree(copy);
	}
	return o;
}

OWN_ADDR *
own_addr_free(OWN_ADDR *o)
{
	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < o->count; i++)
		myfree(o->addrs[i]);
	myfree(o->addrs);
	myfree(o);
	return NULL;
}

bool
own_addr_literal(const OWN_ADDR *o, const char *domain)
{
	char   norm[INET6_ADDRSTRLEN];
	size_t len = strlen(domain);

	if (o == NULL || len < 2 || domain[0] != '[' || domain[len - 1] != ']'
	    || !own_addr_norm(domain, norm, sizeof(norm)))
		return false;
	for (size_t i = 0; i < o->count; i++)
		if (strcmp(o->addrs[i], norm) == 0)
			return true;
	return false;
}
