/*
 * smtpd_spf - SPF (RFC 7208) for the SMTP server, with libspf2.
 *
 * smtpd_spf_create() runs in pre_jail, once per process: it builds one
 * libspf2 SPF_server_t whose DNS layer is Postel's own resolver
 * (util/dns, dns_nameservers honoured), so nothing is read from files
 * after the chroot.  smtpd_spf_check() evaluates one identity: the MAIL
 * FROM domain, or the HELO name when the sender is null (RFC 7208 2.3,
 * 2.4), and fills an outcome: the result name, the identity, the domain,
 * an explanation for replies, and the complete Received-SPF field
 * (RFC 7208 9.1) without its final CRLF.
 *
 * The DNS layer answers libspf2's A, AAAA, MX, TXT and PTR lookups from
 * a lookup function (util/dns's dns_lookup in the daemon, a fake in the
 * unit tests); NXDOMAIN, NODATA and temporary failures become the
 * herrno codes libspf2 expects, so they end as none / temperror.
 *
 * Errors: create returns NULL with `why`; a check always produces a
 * result (a failure of the evaluation itself is temperror).
 *
 * Ownership: SMTPD_SPF is the caller's (smtpd_spf_free returns NULL);
 * an outcome's strings are static (result, identity) or its own VSTRs,
 * allocated by smtpd_spf_outcome_init and freed by
 * smtpd_spf_outcome_free.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef SMTPD_SMTPD_SPF_H
#define SMTPD_SMTPD_SPF_H

#include <stdbool.h>

#include "util/dns.h"
#include "util/vstr.h"

/* How one name/type is looked up (dns_lookup's contract). */
typedef enum dns_status (*smtpd_spf_lookup_fn)(void *ctx, const char *name,
					       int type, DNS_REPLY *reply,
					       VSTR *why);

struct smtpd_spf_query {
	const char *client_addr; /* "192.0.2.1" or an IPv6 address */
	const char *helo;	 /* NULL or "" before HELO/EHLO */
	const char *sender;	 /* MAIL FROM address, "" for <> */
};

struct smtpd_spf_outcome {
	const char *result;	 /* "pass" ... "permerror", NULL: not checked */
	const char *identity;	 /* "mailfrom" or "helo" */
	VSTR	   *domain;	 /* the domain that was checked */
	VSTR	   *explanation; /* for reply texts; printable, bounded */
	VSTR	   *header;	 /* "Received-SPF: ..." without CRLF */
};

typedef struct SMTPD_SPF SMTPD_SPF;

/* receiver: our name in headers (myhostname).  NULL + why on failure. */
SMTPD_SPF *smtpd_spf_create(const char *receiver, smtpd_spf_lookup_fn lookup,
			    void *ctx, VSTR *why);
SMTPD_SPF *smtpd_spf_free(SMTPD_SPF *spf);

void smtpd_spf_outcome_init(struct smtpd_spf_outcome *o);
void smtpd_spf_outcome_free(struct smtpd_spf_outcome *o);
void smtpd_spf_outcome_reset(struct smtpd_spf_outcome *o);

/* Evaluate; 0 (o filled), or -1 when no identity can be checked. */
int smtpd_spf_check(SMTPD_SPF *spf, const struct smtpd_spf_query *q,
		    struct smtpd_spf_outcome *o);

/*
 * The Received-SPF writer (RFC 7208 9.1): every input is peer text and
 * may be NULL (left out); values are made printable and bounded, quoted
 * when they are not a dot-atom, and the field is folded ("\r\n\t")
 * between its parts so no line passes 78 octets where a fold can help
 * and none ever passes 998.
 */
struct smtpd_spf_hdr {
	const char *result;
	const char *comment;
	const char *client_ip;
	const char *envelope_from;
	const char *helo;
	const char *problem;
	const char *receiver;
	const char *identity;
	const char *mechanism;
};
void smtpd_spf_header(VSTR *out, const struct smtpd_spf_hdr *h);

/* A domain SPF can check: multi-label, labels 1-63, at most 253. */
bool smtpd_spf_domain_ok(const char *domain);

/*
 * The DNS layer's glue, for tests: turn one util/dns answer into the
 * libspf2 RR set (herrno NETDB_SUCCESS, HOST_NOT_FOUND, NO_DATA or
 * TRY_AGAIN).  NULL only when out of memory.
 */
struct SPF_dns_server_struct;
struct SPF_dns_rr_struct *
smtpd_spf_dns_rr(struct SPF_dns_server_struct *layer, const char *domain,
		 int type, enum dns_status status, const DNS_REPLY *reply);

#endif
