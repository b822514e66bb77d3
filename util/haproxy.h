/*
 * haproxy - the server side of HAProxy's PROXY protocol, versions 1 and
 * 2: the header a load balancer sends before the first byte of the
 * client's own traffic, naming the client's and the server's address and
 * port (smtpd_upstream_proxy_protocol, postscreen_upstream_proxy_protocol
 * = haproxy).
 *
 * Version 1 is one text line:
 *   "PROXY TCP4 192.0.2.1 198.51.100.1 56324 25\r\n"
 *   "PROXY TCP6 2001:db8::1 2001:db8::2 56324 25\r\n"
 *   "PROXY UNKNOWN[ anything]\r\n"
 * at most HAPROXY_V1_MAX (107) bytes, CRLF included, each field separated
 * by exactly one space; addresses in inet_pton's strict form; ports
 * decimal 0..65535 without leading zeros.  An IPv4-mapped IPv6 address
 * (TCP6 ::ffff:192.0.2.1) is taken as the IPv4 address, as Postfix does.
 *
 * Version 2 is binary: the 12-byte signature, version 2 and a command
 * (LOCAL or PROXY), an address family and transport byte, a 16-bit
 * length of the rest (at most HAPROXY_V2_LEN_MAX here), then for PROXY
 * over TCP/IPv4 (12 bytes) or TCP/IPv6 (36 bytes) the source and
 * destination addresses and ports, then TLVs.  TLVs are walked so that
 * a malformed one (crossing the end of the header) is refused, and are
 * otherwise ignored.  Every other family or transport (UDP, UNIX, UNSPEC)
 * under PROXY is refused: smtpd serves TCP clients only.  LOCAL (a
 * health check of the proxy itself) carries no client: its address
 * block and TLVs are skipped, and the result says "local".
 *
 * The parser is fed bytes as they arrive (haproxy_feed) and tells how
 * many of them belong to the header, so the caller never takes a byte of
 * SMTP that follows it.  haproxy_recv() does that on a socket with
 * MSG_PEEK: it takes from the socket exactly the header's bytes, and it
 * never blocks; haproxy_recv_wait() loops on it for a blocking server
 * (smtpd) within a time limit; postscreen calls haproxy_recv() from its
 * event loop.
 *
 * Errors: HAPROXY_BAD with a reason (haproxy_reason(): static text, e.g.
 * "bad or missing client port"); haproxy_recv() and haproxy_recv_wait()
 * put in why the reason and the header bytes seen so far, escaped
 * ("\r", "\n", "\x00"), or "unexpected EOF", "timeout error" or the read
 * error.  Callers log it as Postfix does: "haproxy read: <why>".
 *
 * Ownership: haproxy_alloc's result is the caller's (haproxy_free
 * returns NULL); haproxy_result() and haproxy_reason() point into it.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_HAPROXY_H
#define UTIL_HAPROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "util/vstr.h"

#define HAPROXY_V1_MAX	   107	/* version 1 line, CRLF included */
#define HAPROXY_V2_HDR	   16	/* version 2 fixed part */
#define HAPROXY_V2_LEN_MAX 2048 /* version 2 addresses + TLVs */

enum haproxy_status {
	HAPROXY_MORE, /* a valid beginning: feed more bytes */
	HAPROXY_DONE, /* a whole valid header */
	HAPROXY_BAD,  /* no further bytes can make it valid */
};

struct haproxy_endpoint {
	struct sockaddr_storage sa; /* AF_INET or AF_INET6, port set */
	socklen_t		salen;
	char			addr[INET6_ADDRSTRLEN]; /* numeric */
	char			port[6];		/* decimal */
};

struct haproxy_result {
	int  version; /* 1 or 2 */
	bool local;   /* v2 LOCAL or v1 UNKNOWN: no endpoints given */
	struct haproxy_endpoint client;
	struct haproxy_endpoint server;
};

typedef struct HAPROXY HAPROXY;

HAPROXY *haproxy_alloc(void);
HAPROXY *haproxy_free(HAPROXY *hp);

/*
 * Take the next len bytes of the connection.  *used says how many of
 * them the header took: all of them for HAPROXY_MORE, those up to its
 * end for HAPROXY_DONE (the rest is the client's), and for HAPROXY_BAD
 * those up to the byte at fault.  After DONE or BAD nothing more is
 * taken (*used = 0) and the status stays.
 */
enum haproxy_status
haproxy_feed(HAPROXY *hp, const void *buf, size_t len, size_t *used);

/* After HAPROXY_DONE: what the header said. */
const struct haproxy_result *haproxy_result(const HAPROXY *hp);

/* After HAPROXY_BAD: why; otherwise "". */
const char *haproxy_reason(const HAPROXY *hp);

/* The header bytes taken so far (at most the first HAPROXY_V1_MAX + 1),
 * escaped for a log line, into out. */
void haproxy_escape_seen(const HAPROXY *hp, VSTR *out);

/*
 * Without blocking: look at what the socket holds, and take from it the
 * bytes that belong to the header.  HAPROXY_MORE: wait until fd is
 * readable and call again.  HAPROXY_BAD: why says what went wrong.
 */
enum haproxy_status haproxy_recv(HAPROXY *hp, int fd, VSTR *why);

/*
 * For a blocking server: read the whole header within timeout_ms.
 * 0, or -1 with why ("timeout error", "unexpected EOF", a bad header).
 */
int haproxy_recv_wait(HAPROXY *hp, int fd, int timeout_ms, VSTR *why);

#endif
