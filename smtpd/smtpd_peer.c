/*
 * smtpd_peer - who the client is: its address, port and verified name,
 * and matching its address against a network list.
 *
 * smtpd_peer_lookup() fills addr and port numerically (an IPv4-mapped
 * IPv6 address is shown as IPv4) and name with the reverse name only when
 * that name resolves back to the same address; otherwise "unknown", as
 * Postfix does; a NULL name skips the reverse lookup (smtpd_peername_lookup
 * = no).  The resolver's own timeout and retry settings bound the
 * wait (smtpd.c lowers them in pre_jail).  Returns 0, or -1 when the
 * socket address cannot even be printed.
 *
 * smtpd_peer_sockaddr() gives the socket address of the client (or of
 * the server end): the hand-off's client_addr/client_port (server_addr/
 * server_port) when a pass service got them in its info
 * (util/pass_proto.h), else getpeername() (getsockname()) of the
 * descriptor.  An address without a port takes the descriptor's port; a
 * value that is not a numeric address or port is logged and ignored.
 * 0, or -1 when there is no IPv4/IPv6 address (a local socket).
 *
 * smtpd_peer_haproxy() reads the PROXY protocol header that a load
 * balancer sends first (smtpd_upstream_proxy_protocol = haproxy,
 * util/haproxy.h) within timeout_ms, taking no byte of SMTP after it.
 * 1: the client and server socket addresses are the header's; 0: the
 * header is a version 2 LOCAL (the proxy's own health check), and the
 * connection's own addresses apply, as in Postfix; -1: no usable header
 * (missing, malformed, a time-out, or a version 1 UNKNOWN, which Postfix
 * refuses too: it would bypass address-based access control), logged as
 * "warning: haproxy read: ...": the caller hangs up.
 *
 * smtpd_peer_match_list() matches an address against a Postfix network
 * list (util/peer_list.h): "1.2.3.4", "1.2.3.0/24", "[::1]",
 * "[2001:db8::]/32", "::1/128", "!pattern" to exclude; separators are
 * white space and commas.  Table entries ("type:name") are not supported
 * here and never match.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "smtpd/smtpd.h"
#include "util/attr.h"
#include "util/haproxy.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/peer_list.h"
#include "util/strutil.h"
#include "util/vstr.h"

static bool
smtpd_peer_name_ok(const char *name)
{
	if (*name == 0 || strlen(name) > 255)
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.'
		    && *p != '_')
			return false;
	return true;
}

/* Does some address of `name` equal `addr` (numeric text)? */
static bool
smtpd_peer_forward_ok(const char *name, const char *addr)
{
	struct addrinfo	 hints;
	struct addrinfo *res;
	struct addrinfo *ai;
	char		 buf[NI_MAXHOST];
	bool		 ok = false;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return false;
	for (ai = res; ai && !ok; ai = ai->ai_next)
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, sizeof(buf),
				NULL, 0, NI_NUMERICHOST)
			== 0
		    && strcmp(buf, addr) == 0)
			ok = true;
	freeaddrinfo(res);
	return ok;
}

int
smtpd_peer_lookup(const struct sockaddr *sa, socklen_t salen, VSTR *name,
		  VSTR *addr, VSTR *port)
{
	char	    host[NI_MAXHOST];
	char	    serv[NI_MAXSERV];
	const char *h = host;

	/* name is NULL with smtpd_peername_lookup = no: numeric only. */
	if (name != NULL)
		vstr_strcpy(name, "unknown");
	if (getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV)
	    != 0)
		return -1;
	if (strncasecmp(h, "::ffff:", 7) == 0 && strchr(h + 7, '.'))
		h += 7;
	vstr_strcpy(addr, h);
	vstr_strcpy(port, serv);
	if (name == NULL)
		return 0;
	if (getnameinfo(sa, salen, host, sizeof(host), NULL, 0, NI_NAMEREQD)
		== 0
	    && smtpd_peer_name_ok(host)
	    && smtpd_peer_forward_ok(host, VSTR_STR(addr)))
		vstr_strcpy(name, host);
	return 0;
}

/* A decimal port 0..65535 without sign or junk. */
static bool
smtpd_peer_port_ok(const char *port)
{
	size_t len = strspn(port, "0123456789");

	return len > 0 && len <= 5 && port[len] == 0 && atol(port) <= 65535;
}

/* A value from the hand-off, made safe for the log. */
static void
smtpd_peer_printable(VSTR *out, const char *value)
{
	vstr_reset(out);
	for (const char *p = value; *p && VSTR_LEN(out) < 100; p++)
		vstr_addch(out, isprint((unsigned char)*p) ? *p : '?');
}

int
smtpd_peer_sockaddr(int fd, const ATTR *info, bool client,
		    struct sockaddr_storage *ss, socklen_t *sslen)
{
	const char	*aname = client ? "client_addr" : "server_addr";
	const char	*pname = client ? "client_port" : "server_port";
	const char	*addr = info ? attr_get_str(info, aname) : NULL;
	const char	*port = info ? attr_get_str(info, pname) : NULL;
	char		 own_port[NI_MAXSERV];
	struct addrinfo	 hints;
	struct addrinfo *res = NULL;
	bool		 inet;
	int		 r;

	*sslen = sizeof(*ss);
	r = client ? getpeername(fd, (struct sockaddr *)ss, sslen)
		   : getsockname(fd, (struct sockaddr *)ss, sslen);
	inet = r == 0
	       && (ss->ss_family == AF_INET || ss->ss_family == AF_INET6);
	if (addr == NULL)
		return inet ? 0 : -1;
	if (port == NULL) {
		port = "0";
		if (inet
		    && getnameinfo((struct sockaddr *)ss, *sslen, NULL, 0,
				   own_port, sizeof(own_port), NI_NUMERICSERV)
			   == 0)
			port = own_port;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (!smtpd_peer_port_ok(port)
	    || getaddrinfo(addr, port, &hints, &res) != 0
	    || res->ai_addrlen > sizeof(*ss)) {
		VSTR *a = vstr_alloc(64);
		VSTR *p = vstr_alloc(16);

		smtpd_peer_printable(a, addr);
		smtpd_peer_printable(p, port);
		msg_warn("pass service hand-off: bad %s \"%s\" or %s \"%s\": "
			 "using the connection's",
			 aname, VSTR_STR(a), pname, VSTR_STR(p));
		vstr_free(a);
		vstr_free(p);
		if (res)
			freeaddrinfo(res);
		return inet ? 0 : -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
smtpd_peer_haproxy(int fd, int timeout_ms, struct sockaddr_storage *client,
		   socklen_t *clen, struct sockaddr_storage *server,
		   socklen_t *slen)
{
	HAPROXY			    *hp = haproxy_alloc();
	VSTR			    *why = vstr_alloc(100);
	const struct haproxy_result *res;
	int			     ret = -1;

	if (haproxy_recv_wait(hp, fd, timeout_ms, why) < 0) {
		msg_warn("haproxy read: %s", VSTR_STR(why));
	} else if ((res = haproxy_result(hp))->local && res->version == 1) {
		msg_warn("haproxy read: PROXY UNKNOWN refused: the client's "
			 "address is needed for access control");
	} else if (res->local) {
		ret = 0;
	} else {
		memcpy(client, &res->client.sa, res->client.salen);
		*clen = res->client.salen;
		memcpy(server, &res->server.sa, res->server.salen);
		*slen = res->server.salen;
		ret = 1;
	}
	vstr_free(why);
	haproxy_free(hp);
	return ret;
}

bool
smtpd_peer_match_list(const char *list, const char *addr)
{
	return peer_list_match(list, NULL, addr, false);
}
