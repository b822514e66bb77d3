/*
 * dns - resolver glue: A, AAAA, MX, TXT, TLSA (and PTR) lookups.
 *
 * dns_open() prepares a private resolver state (res_ninit) in pre_jail:
 * when dns_nameservers is set ("ip[:port]" IPv4 entries, at most
 * DNS_SERVERS_MAX) those servers replace the ones from /etc/resolv.conf,
 * so a chrooted daemon needs /etc/resolv.conf only when dns_nameservers
 * is empty.  Each query is bounded by dns_timeout per try and
 * dns_attempts tries per server (resolver retransmissions).
 *
 * Queries are built here (with an EDNS0 OPT record asking for DNSSEC
 * data and the AD bit) and sent with res_nsend (which retries over TCP
 * on truncation); the raw answer is read by dns_parse(), a bounds-checked
 * parser that never trusts a count, a length or a compression pointer
 * (pointers must go backwards, names are capped at 255 octets), so any
 * byte string is safe to hand it.
 *
 * Results: DNS_OK (records of the asked type found), DNS_NOTFOUND
 * (NXDOMAIN, or NOERROR without records of that type: NODATA), DNS_TEMPFAIL
 * (timeout, SERVFAIL, REFUSED, malformed answer).  `why` says what
 * happened for logs.  reply->ad reports the AD bit of the answer (trust
 * it only with a validating resolver on a trusted path, as for DANE).
 * MX records come sorted by preference (stable); a null MX (RFC 7505:
 * a single MX with preference 0 and host ".") is reported by
 * dns_null_mx() and has an empty host.
 *
 * Ownership: DNS and DNS_REPLY are the caller's (dns_close,
 * dns_reply_free return NULL); a DNS_REPLY is reset by each lookup into
 * it and its records stay valid until then.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DNS_H
#define UTIL_DNS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/cfg.h"
#include "util/vstr.h"

/* RR types (RFC 1035, 3596, 6698). */
#define DNS_TYPE_A     1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_PTR   12
#define DNS_TYPE_MX    15
#define DNS_TYPE_TXT   16
#define DNS_TYPE_AAAA  28
#define DNS_TYPE_TLSA  52

#define DNS_SERVERS_MAX 3   /* what res_state can hold */
#define DNS_RR_MAX	100 /* records kept per answer */
#define DNS_NAME_MAX	255 /* presentation form, without final dot */

enum dns_status {
	DNS_OK,
	DNS_NOTFOUND,
	DNS_TEMPFAIL,
};

typedef struct DNS_RR {
	int	 type; /* DNS_TYPE_* */
	unsigned ttl;
	VSTR	*name; /* owner, lower case, no final dot */
	/*
	 * A/AAAA: printable address; MX, CNAME, PTR: target host (lower
	 * case, "" for the root); TXT: character-strings concatenated; TLSA:
	 * the certificate association data (binary).
	 */
	VSTR	     *data;
	unsigned char addr[16];		      /* A (4 bytes), AAAA (16 bytes) */
	int	      pref;		      /* MX preference */
	int	      usage, selector, mtype; /* TLSA */
} DNS_RR;

typedef struct DNS_REPLY {
	int    rcode; /* RFC 1035 RCODE */
	bool   ad;    /* authenticated data bit */
	bool   tc;    /* truncated */
	size_t count; /* records of the asked type */
	DNS_RR rr[DNS_RR_MAX];
} DNS_REPLY;

typedef struct DNS DNS;

/* NULL (errno EINVAL, msg_warn naming the bad entry) if misconfigured. */
DNS *dns_open(const CFG *cfg);
DNS *dns_close(DNS *dns);

DNS_REPLY *dns_reply_alloc(void);
DNS_REPLY *dns_reply_free(DNS_REPLY *reply);

/* Look up name/type; reply filled for DNS_OK, emptied otherwise. */
enum dns_status
dns_lookup(DNS *dns, const char *name, int type, DNS_REPLY *reply, VSTR *why);

/* Parse a raw answer to a query of `type` (the part dns_lookup uses). */
enum dns_status dns_parse(const unsigned char *msg, size_t len, int type,
			  DNS_REPLY *reply, VSTR *why);

/* True for an RFC 7505 null MX answer. */
bool dns_null_mx(const DNS_REPLY *reply);

/*
 * Reverse-lookup names: "4.3.2.1.zone" for 1.2.3.4, nibbles for IPv6.
 * 0, or -1 (EINVAL) when addr is not an IP address.
 */
int dns_reverse_name(VSTR *out, const char *addr, const char *zone);

#endif
