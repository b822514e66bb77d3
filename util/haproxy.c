/*
 * haproxy - the PROXY protocol v1/v2 header parser and its socket
 * reader (see haproxy.h for the accepted forms).
 *
 * The parser is a byte-at-a-time state machine: headers are short (a
 * version 1 line is at most 107 bytes; version 2 is bounded by
 * HAPROXY_V2_LEN_MAX) and only the first HAPROXY_V1_MAX + 1 bytes are
 * kept (the version 1 line, or the version 2 fixed part and address
 * block, and for the log).  Version 2 TLVs are counted, never stored.
 *
 * Errors: see haproxy.h.  Nothing here logs; the daemons do.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/haproxy.h"
#include "util/ipc.h"
#include "util/mymalloc.h"

/* The version 2 signature: CR LF CR LF NUL CR LF "QUIT" LF. */
static const unsigned char haproxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

#define HAPROXY_V2_CMD_LOCAL 0x0
#define HAPROXY_V2_CMD_PROXY 0x1
#define HAPROXY_V2_TCP4	     0x11 /* AF_INET, SOCK_STREAM */
#define HAPROXY_V2_TCP6	     0x21 /* AF_INET6, SOCK_STREAM */
#define HAPROXY_V2_ADDR4     12	  /* 2 x 4 address bytes, 2 x 2 port */
#define HAPROXY_V2_ADDR6     36	  /* 2 x 16 address bytes, 2 x 2 port */

enum haproxy_state {
	HP_START,    /* nothing yet */
	HP_V1,	     /* in the version 1 line */
	HP_V2_FIXED, /* in the 16 fixed bytes of version 2 */
	HP_V2_ADDR,  /* in the address block */
	HP_V2_TLV,   /* walking the TLVs */
	HP_V2_SKIP,  /* LOCAL: skipping the rest */
	HP_DONE,
	HP_BAD,
};

struct HAPROXY {
	enum haproxy_state    st;
	struct haproxy_result res;
	const char	     *reason;
	unsigned char	      seen[HAPROXY_V1_MAX + 1]; /* the first bytes */
	size_t		      total;			/* header bytes taken */
	size_t		      need;	/* version 2: the header's length */
	size_t		      addr_len; /* version 2: 12, 36 or 0 */
	int		      cmd;	/* version 2 command */
	unsigned char	      tlv_hdr[3];
	size_t		      tlv_hlen; /* TLV header bytes seen */
	size_t		      tlv_left; /* TLV value bytes to skip */
};

HAPROXY *
haproxy_alloc(void)
{
	HAPROXY *hp = mycalloc(1, sizeof(*hp));

	hp->st = HP_START;
	hp->reason = "";
	return hp;
}

HAPROXY *
haproxy_free(HAPROXY *hp)
{
	return myfree(hp);
}

const struct haproxy_result *
haproxy_result(const HAPROXY *hp)
{
	return &hp->res;
}

const char *
haproxy_reason(const HAPROXY *hp)
{
	return hp->reason;
}

static enum haproxy_status
haproxy_bad(HAPROXY *hp, const char *reason)
{
	hp->st = HP_BAD;
	hp->reason = reason;
	return HAPROXY_BAD;
}

/* Fill ep from a binary address (network order) and port. */
static void
haproxy_set_endpoint(struct haproxy_endpoint *ep, int family, const void *addr,
		     unsigned port)
{
	struct sockaddr_in  *sin = (struct sockaddr_in *)&ep->sa;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ep->sa;
	const unsigned char *a6 = addr;

	memset(&ep->sa, 0, sizeof(ep->sa));
	/* An IPv4-mapped IPv6 address is the IPv4 client it stands for. */
	if (family == AF_INET6
	    && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)addr)) {
		family = AF_INET;
		addr = a6 + 12;
	}
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = htons((uint16_t)port);
		ep->salen = sizeof(*sin);
		(void)inet_ntop(AF_INET, &sin->sin_addr, ep->addr,
				sizeof(ep->addr));
	} else {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = htons((uint16_t)port);
		ep->salen = sizeof(*sin6);
		(void)inet_ntop(AF_INET6, &sin6->sin6_addr, ep->addr,
				sizeof(ep->addr));
	}
	(void)snprintf(ep->port, sizeof(ep->port), "%u", port);
}

/* The next field of a version 1 line, ending at a space or the end. */
static bool
haproxy_v1_field(const char **cp, const char *end, const char **field,
		 size_t *len)
{
	const char *p = *cp;
	const char *sp;

	if (p >= end)
		return false;
	sp = memchr(p, ' ', (size_t)(end - p));
	*field = p;
	*len = (size_t)((sp ? sp : end) - p);
	*cp = sp ? sp + 1 : end;
	/* Two spaces in a row, or a trailing space: an empty field. */
	return *len > 0 && !(sp != NULL && sp + 1 == end);
}

static bool
haproxy_v1_addr(const char *field, size_t len, int family, unsigned char *out)
{
	char text[INET6_ADDRSTRLEN + 1];

	if (len >= sizeof(text))
		return false;
	memcpy(text, field, len);
	text[len] = 0;
	return inet_pton(family, text, out) == 1;
}

/* Decimal 0..65535, no sign, no leading zero (but "0" itself). */
static bool
haproxy_v1_port(const char *field, size_t len, unsigned *port)
{
	unsigned long v = 0;
	size_t	      i;

	if (len == 0 || len > 5 || (len > 1 && field[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (field[i] < '0' || field[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(field[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (unsigned)v;
	return true;
}

/* The whole line (CR LF removed) is in hp->seen[0..len). */
static enum haproxy_status
haproxy_v1_parse(HAPROXY *hp, size_t len)
{
	const char   *cp = (const char *)hp->seen;
	const char   *end = cp + len;
	const char   *f;
	size_t	      flen;
	int	      family;
	unsigned char src[16];
	unsigned char dst[16];
	unsigned      sport;
	unsigned      dport;

	hp->res.version = 1;
	if (!haproxy_v1_field(&cp, end, &f, &flen) || flen != 5
	    || memcmp(f, "PROXY", 5) != 0)
		return haproxy_bad(hp, "bad or missing protocol header");
	/* UNKNOWN: whatever follows up to CR LF is to be ignored. */
	if ((size_t)(end - cp) >= 7 && memcmp(cp, "UNKNOWN", 7) == 0
	    && (end - cp == 7 || cp[7] == ' ')) {
		hp->res.local = true;
		hp->st = HP_DONE;
		return HAPROXY_DONE;
	}
	if (!haproxy_v1_field(&cp, end, &f, &flen) || flen != 4)
		return haproxy_bad(hp, "bad or missing protocol type");
	if (memcmp(f, "TCP4", 4) == 0)
		family = AF_INET;
	else if (memcmp(f, "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return haproxy_bad(hp, "bad or missing protocol type");
	if (!haproxy_v1_field(&cp, end, &f, &flen)
	    || !haproxy_v1_addr(f, flen, family, src))
		return haproxy_bad(hp, "bad or missing client address");
	if (!haproxy_v1_field(&cp, end, &f, &flen)
	    || !haproxy_v1_addr(f, flen, family, dst))
		return haproxy_bad(hp, "bad or missing server address");
	if (!haproxy_v1_field(&cp, end, &f, &flen)
	    || !haproxy_v1_port(f, flen, &sport))
		return haproxy_bad(hp, "bad or missing client port");
	if (!haproxy_v1_field(&cp, end, &f, &flen)
	    || !haproxy_v1_port(f, flen, &dport))
		return haproxy_bad(hp, "bad or missing server port");
	if (cp != end)
		return haproxy_bad(hp, "text after the server port");
	haproxy_set_endpoint(&hp->res.client, family, src, sport);
	haproxy_set_endpoint(&hp->res.server, family, dst, dport);
	hp->st = HP_DONE;
	return HAPROXY_DONE;
}

static enum haproxy_status
haproxy_v1_byte(HAPROXY *hp, unsigned char c)
{
	static const char prefix[] = "PROXY ";

	if (hp->total < sizeof(prefix)) {
		if (c != (unsigned char)prefix[hp->total - 1])
			return haproxy_bad(hp,
					   "bad or missing protocol header");
		return HAPROXY_MORE;
	}
	if (c == '\n') {
		if (hp->seen[hp->total - 2] != '\r')
			return haproxy_bad(hp, "LF without CR");
		return haproxy_v1_parse(hp, hp->total - 2);
	}
	if (hp->seen[hp->total - 2] == '\r')
		return haproxy_bad(hp, "CR without LF");
	if (c != '\r' && (c < 0x20 || c > 0x7e))
		return haproxy_bad(hp, "control or non-ASCII character");
	if (hp->total >= HAPROXY_V1_MAX)
		return haproxy_bad(hp, "line longer than 107 bytes");
	return HAPROXY_MORE;
}

/* The address block is in hp->seen[16..16 + addr_len). */
static void
haproxy_v2_addresses(HAPROXY *hp)
{
	const unsigned char *b = hp->seen + HAPROXY_V2_HDR;

	if (hp->addr_len == HAPROXY_V2_ADDR4) {
		haproxy_set_endpoint(&hp->res.client, AF_INET, b,
				     (unsigned)(b[8] << 8 | b[9]));
		haproxy_set_endpoint(&hp->res.server, AF_INET, b + 4,
				     (unsigned)(b[10] << 8 | b[11]));
	} else {
		haproxy_set_endpoint(&hp->res.client, AF_INET6, b,
				     (unsigned)(b[32] << 8 | b[33]));
		haproxy_set_endpoint(&hp->res.server, AF_INET6, b + 16,
				     (unsigned)(b[34] << 8 | b[35]));
	}
}

static enum haproxy_status
haproxy_done_if_complete(HAPROXY *hp)
{
	if (hp->total < hp->need)
		return HAPROXY_MORE;
	hp->st = HP_DONE;
	return HAPROXY_DONE;
}

static enum haproxy_status
haproxy_v2_fixed_byte(HAPROXY *hp, unsigned char c)
{
	size_t len;

	if (hp->total <= sizeof(haproxy_v2_sig)) {
		if (c != haproxy_v2_sig[hp->total - 1])
			return haproxy_bad(hp, "unrecognized protocol header");
		return HAPROXY_MORE;
	}
	switch (hp->total) {
	case 13:
		if ((c & 0xf0) != 0x20)
			return haproxy_bad(hp, "unsupported protocol version");
		hp->cmd = c & 0x0f;
		if (hp->cmd != HAPROXY_V2_CMD_LOCAL
		    && hp->cmd != HAPROXY_V2_CMD_PROXY)
			return haproxy_bad(hp, "bad command in proxy header");
		return HAPROXY_MORE;
	case 14:
		if (hp->cmd == HAPROXY_V2_CMD_LOCAL)
			hp->addr_len = 0;
		else if (c == HAPROXY_V2_TCP4)
			hp->addr_len = HAPROXY_V2_ADDR4;
		else if (c == HAPROXY_V2_TCP6)
			hp->addr_len = HAPROXY_V2_ADDR6;
		else
			return haproxy_bad(hp, "unsupported network protocol "
					       "(only TCP over IPv4 or IPv6)");
		return HAPROXY_MORE;
	case 15:
		return HAPROXY_MORE;
	default:
		break;
	}
	len = (size_t)hp->seen[14] << 8 | hp->seen[15];
	if (len > HAPROXY_V2_LEN_MAX)
		return haproxy_bad(hp, "version 2 header longer than 2048 "
				       "bytes after its fixed part");
	if (len < hp->addr_len)
		return haproxy_bad(hp, "short address field");
	hp->res.version = 2;
	hp->res.local = hp->cmd == HAPROXY_V2_CMD_LOCAL;
	hp->need = HAPROXY_V2_HDR + len;
	hp->st = hp->res.local ? HP_V2_SKIP : HP_V2_ADDR;
	return haproxy_done_if_complete(hp);
}

static enum haproxy_status
haproxy_v2_tlv_byte(HAPROXY *hp, unsigned char c)
{
	if (hp->tlv_left > 0) {
		hp->tlv_left--;
	} else {
		hp->tlv_hdr[hp->tlv_hlen++] = c;
		if (hp->tlv_hlen == sizeof(hp->tlv_hdr)) {
			hp->tlv_hlen = 0;
			hp->tlv_left = (size_t)hp->tlv_hdr[1] << 8
				       | hp->tlv_hdr[2];
			if (hp->tlv_left > hp->need - hp->total)
				return haproxy_bad(hp, "TLV crosses the end "
						       "of the header");
		}
	}
	if (hp->total == hp->need && hp->tlv_hlen != 0)
		return haproxy_bad(hp, "TLV crosses the end of the header");
	return haproxy_done_if_complete(hp);
}

static enum haproxy_status
haproxy_byte(HAPROXY *hp, unsigned char c)
{
	if (hp->total < sizeof(hp->seen))
		hp->seen[hp->total] = c;
	hp->total++;
	switch (hp->st) {
	case HP_START:
		if (c == 'P') {
			hp->st = HP_V1;
			return HAPROXY_MORE;
		}
		if (c == haproxy_v2_sig[0]) {
			hp->st = HP_V2_FIXED;
			return HAPROXY_MORE;
		}
		return haproxy_bad(hp, "unrecognized protocol header");
	case HP_V1:
		return haproxy_v1_byte(hp, c);
	case HP_V2_FIXED:
		return haproxy_v2_fixed_byte(hp, c);
	case HP_V2_ADDR:
		if (hp->total < HAPROXY_V2_HDR + hp->addr_len)
			return HAPROXY_MORE;
		haproxy_v2_addresses(hp);
		hp->st = HP_V2_TLV;
		return haproxy_done_if_complete(hp);
	case HP_V2_TLV:
		return haproxy_v2_tlv_byte(hp, c);
	case HP_V2_SKIP:
		return haproxy_done_if_complete(hp);
	case HP_DONE:
	case HP_BAD:
		break;
	}
	return haproxy_bad(hp, "internal error");
}

enum haproxy_status
haproxy_feed(HAPROXY *hp, const void *buf, size_t len, size_t *used)
{
	const unsigned char *p = buf;
	enum haproxy_status  status = HAPROXY_MORE;
	size_t		     i;

	*used = 0;
	if (hp->st == HP_DONE)
		return HAPROXY_DONE;
	if (hp->st == HP_BAD)
		return HAPROXY_BAD;
	for (i = 0; i < len && status == HAPROXY_MORE; i++)
		status = haproxy_byte(hp, p[i]);
	*used = i;
	return status;
}

void
haproxy_escape_seen(const HAPROXY *hp, VSTR *out)
{
	size_t n = hp->total < sizeof(hp->seen) ? hp->total : sizeof(hp->seen);
	size_t i;
	int    c;

	vstr_reset(out);
	for (i = 0; i < n; i++) {
		c = hp->seen[i];
		if (c == '\r')
			vstr_strcat(out, "\\r");
		else if (c == '\n')
			vstr_strcat(out, "\\n");
		else if (c == '\\')
			vstr_strcat(out, "\\\\");
		else if (c >= 0x20 && c < 0x7f)
			vstr_addch(out, c);
		else
			vstr_sprintf_append(out, "\\x%02x", (unsigned)c);
	}
	if (hp->total > n)
		vstr_strcat(out, "...");
}

static void
haproxy_why_bad(const HAPROXY *hp, VSTR *why)
{
	VSTR *esc = vstr_alloc(2 * sizeof(hp->seen));

	haproxy_escape_seen(hp, esc);
	vstr_sprintf(why, "%s: %s", hp->reason, VSTR_STR(esc));
	vstr_free(esc);
}

enum haproxy_status
haproxy_recv(HAPROXY *hp, int fd, VSTR *why)
{
	unsigned char	    buf[HAPROXY_V1_MAX + 1];
	enum haproxy_status status;
	ssize_t		    n;
	size_t		    used;

	if (hp->st == HP_DONE)
		return HAPROXY_DONE;
	/* Look, without taking: what follows the header is the client's. */
	do
		n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return HAPROXY_MORE;
	if (n < 0) {
		vstr_sprintf(why, "%m");
		return haproxy_bad(hp, "read error");
	}
	if (n == 0) {
		vstr_strcpy(why, "unexpected EOF");
		return haproxy_bad(hp, "unexpected EOF");
	}
	status = haproxy_feed(hp, buf, (size_t)n, &used);
	if (status == HAPROXY_BAD) {
		haproxy_why_bad(hp, why);
		return status;
	}
	/* Take exactly the header's bytes; they are there, peeked. */
	do
		n = recv(fd, buf, used, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != used) {
		if (n < 0)
			vstr_sprintf(why, "%m");
		else
			vstr_strcpy(why, "short read");
		return haproxy_bad(hp, "read error");
	}
	return status;
}

int
haproxy_recv_wait(HAPROXY *hp, int fd, int timeout_ms, VSTR *why)
{
	long long	    deadline = ipc_deadline(timeout_ms);
	struct pollfd	    pfd = { .fd = fd, .events = POLLIN };
	enum haproxy_status status;
	int		    left;
	int		    n;

	for (;;) {
		status = haproxy_recv(hp, fd, why);
		if (status == HAPROXY_DONE)
			return 0;
		if (status == HAPROXY_BAD)
			return -1;
		for (;;) {
			left = ipc_left_ms(deadline);
			if (left == 0) {
				vstr_strcpy(why, "timeout error");
				(void)haproxy_bad(hp, "timeout error");
				return -1;
			}
			n = poll(&pfd, 1, left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				vstr_sprintf(why, "poll: %m");
				(void)haproxy_bad(hp, "read error");
				return -1;
			}
			if (n > 0)
				break;
		}
	}
}
