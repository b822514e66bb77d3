/*
 * smtp_connect - from a next hop to an ordered list of server addresses,
 * and timed TCP connections to them.
 *
 * A bracketed next hop ("[mx.example.com]:2525", "[192.0.2.1]") names the
 * server itself: no MX lookup.  Otherwise (also "example.com:587", as in
 * Postfix) the MX records are looked up; hosts come in preference order
 * with equal preferences shuffled; without MX records the name's own
 * A/AAAA records are used; a null MX (RFC 7505) bounces with 5.1.10.
 * An IP address is used as it is.  smtp_host_lookup "native" (alone)
 * uses getaddrinfo() instead of DNS and no MX.  LMTP next hops as in
 * Postfix: "inet:host:port" is "host:port", and "unix:/path" is one
 * AF_UNIX server whose path travels in smtp_addr.host (ip "unix").
 *
 * Errors: lookups return SMTP_FIND_DEFER / SMTP_FIND_BOUNCE with a
 * Postfix-style reason in why and an RFC 3463 code in dsn; connections
 * return -1 with "connect to host[ip]:port: reason" in why.
 *
 * Ownership: SMTP_ADDRS entries are the caller's (smtp_addrs_free).
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "smtp/smtp.h"
#include "util/ipc.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

/* A port number or a well-known service name (a chroot may lack
 * /etc/services, so the common ones are built in). */
static int
smtp_port_parse(const char *text, long long *port)
{
	static const struct {
		const char *name;
		int	    port;
	} known[] = {
		{ "smtp", 25 },		{ "submission", 587 }, { "smtps", 465 },
		{ "submissions", 465 }, { "lmtp", 24 },
	};
	struct servent *se;

	if (str_to_ll(text, port) == 0)
		return *port > 0 && *port < 65536 ? 0 : -1;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcasecmp(text, known[i].name) == 0) {
			*port = known[i].port;
			return 0;
		}
	if (*text && (se = getservbyname(text, "tcp")) != NULL) {
		*port = ntohs((uint16_t)se->s_port);
		return 0;
	}
	return -1;
}

int
smtp_nexthop_parse(const char *nexthop, int default_port, VSTR *host, int *port,
		   bool *no_mx, VSTR *why)
{
	const char *end;
	const char *colon;
	long long   val;

	*port = default_port;
	*no_mx = false;
	/* LMTP next hops (Postfix): unix:/path and inet:host:port. */
	if (strncmp(nexthop, "unix:", 5) == 0) {
		if (nexthop[5] == 0 || strlen(nexthop) > DNS_NAME_MAX) {
			vstr_sprintf(why, "malformed next hop \"%s\"", nexthop);
			return -1;
		}
		vstr_strcpy(host, nexthop);
		*no_mx = true;
		return 0;
	}
	if (strncmp(nexthop, "inet:", 5) == 0)
		nexthop += 5;
	if (nexthop[0] == '[') {
		end = strchr(nexthop, ']');
		if (end == NULL || end == nexthop + 1) {
			vstr_sprintf(why, "malformed next hop \"%s\"", nexthop);
			return -1;
		}
		vstr_memcpy(host, nexthop + 1, (size_t)(end - nexthop - 1));
		*no_mx = true;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != 0 && colon == NULL) {
			vstr_sprintf(why, "malformed next hop \"%s\"", nexthop);
			return -1;
		}
	} else {
		/* An IPv6 address needs brackets; one colon means a port. */
		colon = strchr(nexthop, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;
		vstr_memcpy(host, nexthop,
			    colon ? (size_t)(colon - nexthop)
				  : strlen(nexthop));
	}
	if (colon) {
		if (smtp_port_parse(colon + 1, &val) < 0) {
			vstr_sprintf(why, "bad port in next hop \"%s\"",
				     nexthop);
			return -1;
		}
		*port = (int)val;
	}
	if (VSTR_LEN(host) == 0 || VSTR_LEN(host) > DNS_NAME_MAX) {
		vstr_sprintf(why, "malformed next hop \"%s\"", nexthop);
		return -1;
	}
	vstr_lower(host);
	if (VSTR_STR(host)[VSTR_LEN(host) - 1] == '.')
		vstr_truncate(host, VSTR_LEN(host) - 1);
	return 0;
}

void
smtp_mx_order(struct smtp_mx *mx, size_t n, unsigned (*rnd)(void *), void *ctx)
{
	size_t i;
	size_t j;

	/* Insertion sort: stable, and MX lists are short. */
	for (i = 1; i < n; i++) {
		struct smtp_mx tmp = mx[i];

		for (j = i; j > 0 && mx[j - 1].pref > tmp.pref; j--)
			mx[j] = mx[j - 1];
		mx[j] = tmp;
	}
	/* Fisher-Yates within each run of equal preference. */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && mx[j].pref == mx[i].pref; j++)
			;
		for (size_t k = j - 1; k > i; k--) {
			size_t	       r = i + rnd(ctx) % (k - i + 1);
			struct smtp_mx tmp = mx[k];

			mx[k] = mx[r];
			mx[r] = tmp;
		}
	}
}

void
smtp_addrs_add(SMTP_ADDRS *list, const char *host, int family,
	       const void *bytes, int pref)
{
	struct smtp_addr *a;

	for (size_t i = 0; i < list->n; i++)
		if (list->v[i].family == family
		    && memcmp(list->v[i].bytes, bytes,
			      family == AF_INET ? 4 : 16)
			   == 0)
			return;
	if (list->n == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 8;
		list->v = myrealloc(list->v, list->cap * sizeof(*list->v));
	}
	a = &list->v[list->n++];
	memset(a, 0, sizeof(*a));
	snprintf(a->host, sizeof(a->host), "%s", host);
	a->family = family;
	memcpy(a->bytes, bytes, family == AF_INET ? 4 : 16);
	if (family == AF_UNIX)
		snprintf(a->ip, sizeof(a->ip), "unix");
	else if (inet_ntop(family, bytes, a->ip, sizeof(a->ip)) == NULL)
		snprintf(a->ip, sizeof(a->ip), "?");
	a->pref = pref;
}

void
smtp_addrs_free(SMTP_ADDRS *list)
{
	myfree(list->v);
	list->v = NULL;
	list->n = list->cap = 0;
}

void
smtp_addrs_limit(SMTP_ADDRS *list, int limit)
{
	if (limit > 0 && list->n > (size_t)limit)
		list->n = (size_t)limit;
}

static unsigned
smtp_random(void *ctx)
{
	unsigned val = 0;

	(void)ctx;
	if (getrandom(&val, sizeof(val), GRND_NONBLOCK) != sizeof(val))
		val = (unsigned)random();
	return val;
}

/* Addresses of one host into out; DNS_OK if any was added. */
static enum dns_status
smtp_host_addrs(SMTP_STATE *st, const char *host, int pref, SMTP_ADDRS *out,
		VSTR *why)
{
	const struct smtp_conf *c = &st->conf;
	int			types[2];
	int			ntypes = 0;
	bool			added = false;
	bool			tempfail = false;

	if (c->prefer_ipv6) {
		if (c->ipv6)
			types[ntypes++] = DNS_TYPE_AAAA;
		if (c->ipv4)
			types[ntypes++] = DNS_TYPE_A;
	} else {
		if (c->ipv4)
			types[ntypes++] = DNS_TYPE_A;
		if (c->ipv6)
			types[ntypes++] = DNS_TYPE_AAAA;
	}
	if (!c->use_dns) {
		struct addrinfo	 hints = { .ai_socktype = SOCK_STREAM };
		struct addrinfo *res;
		struct addrinfo *ai;
		int		 err;

		hints.ai_family = c->ipv4 && c->ipv6 ? AF_UNSPEC
				  : c->ipv6	     ? AF_INET6
						     : AF_INET;
		if ((err = getaddrinfo(host, NULL, &hints, &res)) != 0) {
			vstr_sprintf(why,
				     "Host or domain name not found. "
				     "Name service error for name=%s: %s",
				     host, gai_strerror(err));
			return err == EAI_NONAME || err == EAI_NODATA
				   ? DNS_NOTFOUND
				   : DNS_TEMPFAIL;
		}
		for (ai = res; ai; ai = ai->ai_next) {
			const struct sockaddr_in *in4 =
			    (const struct sockaddr_in *)ai->ai_addr;
			const struct sockaddr_in6 *in6 =
			    (const struct sockaddr_in6 *)ai->ai_addr;

			if (ai->ai_family == AF_INET)
				smtp_addrs_add(out, host, AF_INET,
					       &in4->sin_addr, pref);
			else if (ai->ai_family == AF_INET6)
				smtp_addrs_add(out, host, AF_INET6,
					       &in6->sin6_addr, pref);
		}
		freeaddrinfo(res);
		return DNS_OK;
	}
	for (int t = 0; t < ntypes; t++) {
		VSTR	       *tmp = vstr_alloc(64);
		enum dns_status ds = dns_lookup(st->dns, host, types[t],
						st->dns_reply2, tmp);

		if (ds == DNS_OK) {
			for (size_t i = 0; i < st->dns_reply2->count; i++) {
				const DNS_RR *rr = &st->dns_reply2->rr[i];

				if (rr->type != types[t])
					continue;
				smtp_addrs_add(out, host,
					       rr->type == DNS_TYPE_A
						   ? AF_INET
						   : AF_INET6,
					       rr->addr, pref);
				added = true;
			}
		} else {
			if (ds == DNS_TEMPFAIL)
				tempfail = true;
			vstr_sprintf(why,
				     "Host or domain name not found. "
				     "Name service error for name=%s "
				     "type=%s: %s",
				     host,
				     types[t] == DNS_TYPE_A ? "A" : "AAAA",
				     ds == DNS_TEMPFAIL
					 ? "Host not found, try again"
					 : "Host not found");
		}
		vstr_free(tmp);
	}
	if (added)
		return DNS_OK;
	return tempfail ? DNS_TEMPFAIL : DNS_NOTFOUND;
}

enum smtp_find
smtp_addr_find(SMTP_STATE *st, const char *host, bool no_mx, SMTP_ADDRS *out,
	       char *dsn, VSTR *why)
{
	unsigned char	bytes[16];
	struct smtp_mx *mx;
	size_t		nmx;
	enum dns_status ds;
	bool		tempfail = false;

	vstr_reset(why);
	if (strncmp(host, "unix:", 5) == 0) {
		memset(bytes, 0, sizeof(bytes));
		smtp_addrs_add(out, host + 5, AF_UNIX, bytes, 0);
		return SMTP_FIND_OK;
	}
	if (inet_pton(AF_INET, host, bytes) == 1) {
		smtp_addrs_add(out, host, AF_INET, bytes, 0);
		return SMTP_FIND_OK;
	}
	if (inet_pton(AF_INET6, host, bytes) == 1
	    || (strncasecmp(host, "ipv6:", 5) == 0
		&& inet_pton(AF_INET6, host + 5, bytes) == 1)) {
		smtp_addrs_add(out, host, AF_INET6, bytes, 0);
		return SMTP_FIND_OK;
	}
	if (no_mx || !st->conf.use_dns) {
		ds = smtp_host_addrs(st, host, 0, out, why);
		goto host_done;
	}
	ds = dns_lookup(st->dns, host, DNS_TYPE_MX, st->dns_reply, why);
	if (ds == DNS_TEMPFAIL) {
		vstr_sprintf(why,
			     "Host or domain name not found. Name service "
			     "error for name=%s type=MX: Host not found, "
			     "try again",
			     host);
		snprintf(dsn, DELIVER_DSN_MAX, "4.4.3");
		return SMTP_FIND_DEFER;
	}
	if (ds == DNS_NOTFOUND) {
		ds = smtp_host_addrs(st, host, 0, out, why);
		goto host_done;
	}
	if (dns_null_mx(st->dns_reply)) {
		vstr_sprintf(why, "Domain %s does not accept mail (nullMX)",
			     host);
		snprintf(dsn, DELIVER_DSN_MAX, "5.1.10");
		return SMTP_FIND_BOUNCE;
	}
	nmx = 0;
	mx = mycalloc(st->dns_reply->count + 1, sizeof(*mx));
	for (size_t i = 0; i < st->dns_reply->count; i++) {
		const DNS_RR *rr = &st->dns_reply->rr[i];

		/* A "." host inside a longer list is junk: skip it. */
		if (rr->type != DNS_TYPE_MX || VSTR_LEN(rr->data) == 0)
			continue;
		mx[nmx].host = VSTR_STR(rr->data);
		mx[nmx].pref = rr->pref;
		nmx++;
	}
	smtp_mx_order(mx, nmx, smtp_random, NULL);
	for (size_t i = 0; i < nmx; i++) {
		VSTR *tmp = vstr_alloc(64);

		/* dns_reply2 is reused per host: dns_reply stays intact. */
		if (smtp_host_addrs(st, mx[i].host, mx[i].pref, out, tmp)
		    == DNS_TEMPFAIL)
			tempfail = true;
		if (VSTR_LEN(tmp) > 0)
			vstr_strcpy(why, VSTR_STR(tmp));
		vstr_free(tmp);
		if (st->conf.mx_address_limit > 0
		    && out->n >= (size_t)st->conf.mx_address_limit)
			break;
	}
	myfree(mx);
	smtp_addrs_limit(out, st->conf.mx_address_limit);
	if (out->n > 0)
		return SMTP_FIND_OK;
	if (nmx == 0) {
		vstr_sprintf(why,
			     "Host or domain name not found. Name service "
			     "error for name=%s type=MX: Malformed or "
			     "unexpected name server reply",
			     host);
		snprintf(dsn, DELIVER_DSN_MAX, "4.4.3");
		return SMTP_FIND_DEFER;
	}
	snprintf(dsn, DELIVER_DSN_MAX, tempfail ? "4.4.3" : "5.4.4");
	if (VSTR_LEN(why) == 0)
		vstr_sprintf(why, "no address found for the MX hosts of %s",
			     host);
	return tempfail ? SMTP_FIND_DEFER : SMTP_FIND_BOUNCE;

host_done:
	smtp_addrs_limit(out, st->conf.mx_address_limit);
	if (ds == DNS_OK && out->n > 0)
		return SMTP_FIND_OK;
	if (VSTR_LEN(why) == 0)
		vstr_sprintf(why,
			     "Host or domain name not found. Name service "
			     "error for name=%s: Host not found",
			     host);
	snprintf(dsn, DELIVER_DSN_MAX, ds == DNS_TEMPFAIL ? "4.4.3" : "5.4.4");
	return ds == DNS_TEMPFAIL ? SMTP_FIND_DEFER : SMTP_FIND_BOUNCE;
}

int
smtp_connect_addr(const struct smtp_addr *a, int port, int timeout, VSTR *why)
{
	return smtp_connect_bind(a, port, timeout, NULL, why);
}

/* Bind fd to the local address text of family; 0, or -1 with errno. */
static int
smtp_connect_bind_local(int fd, int family, const char *text)
{
	struct sockaddr_storage ss;
	socklen_t		sslen;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, text, &sin->sin_addr) != 1) {
			errno = EINVAL;
			return -1;
		}
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1) {
			errno = EINVAL;
			return -1;
		}
		sslen = sizeof(*sin6);
	}
	return bind(fd, (struct sockaddr *)&ss, sslen);
}

int
smtp_connect_bind(const struct smtp_addr *a, int port, int timeout,
		  const char *bind_addr, VSTR *why)
{
	struct sockaddr_storage ss;
	socklen_t		sslen;
	int			fd;
	int			err = 0;
	socklen_t		errlen = sizeof(err);

	memset(&ss, 0, sizeof(ss));
	if (a->family == AF_UNIX) {
		/* a->host is the socket path (a unix: LMTP next hop). */
		if ((fd = ipc_connect_unix(a->host,
					   timeout > 0 ? timeout * 1000 : -1))
		    >= 0)
			return fd;
		err = errno;
		vstr_sprintf(why, "connect to %s: %s", a->host, strerror(err));
		errno = err;
		return -1;
	}
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, a->bytes, 4);
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, a->bytes, 16);
		sslen = sizeof(*sin6);
	}
	if ((fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			 0))
	    < 0) {
		err = errno;
		goto fail;
	}
	if (bind_addr != NULL && *bind_addr
	    && smtp_connect_bind_local(fd, a->family, bind_addr) < 0) {
		err = errno;
		close(fd);
		vstr_sprintf(why, "connect to %s[%s]:%d: bind %s: %s", a->host,
			     a->ip, port, bind_addr, strerror(err));
		errno = err;
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, sslen) < 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int	      n;

		if (errno != EINPROGRESS) {
			err = errno;
			goto fail;
		}
		do {
			n = poll(&pfd, 1, timeout > 0 ? timeout * 1000 : -1);
		} while (n < 0 && errno == EINTR);
		if (n == 0) {
			err = ETIMEDOUT;
			goto fail;
		}
		if (n < 0
		    || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen)
			   < 0) {
			err = errno;
			goto fail;
		}
		if (err != 0)
			goto fail;
	}
	return fd;

fail:
	if (fd >= 0)
		close(fd);
	vstr_sprintf(why, "connect to %s[%s]:%d: %s", a->host, a->ip, port,
		     err == ETIMEDOUT ? "Connection timed out" : strerror(err));
	errno = err;
	return -1;
}
