/*
 * anvil_proto - the request/reply frames between anvil(8) and its clients
 * (smtpd through util/anvil_client.c).
 *
 * anvil counts, per (service, client) pair, the client's connections
 * open right now and, per anvil_rate_time_unit, its connections,
 * messages, recipients, new TLS sessions and AUTH commands; the counting
 * server decides nothing, the client compares the numbers with its own
 * limits.  A client keeps one connection to private/anvil and sends one
 * request frame at a time, each answered by one reply frame (util/attr
 * lists; integers are decimal text).  The requests are Postfix anvil(8)'s:
 *
 *	request=connect ident=ID	status count rate
 *	request=disconnect ident=ID	status
 *	request=message ident=ID	status rate	(MAIL FROM)
 *	request=recipient ident=ID	status rate	(RCPT TO)
 *	request=newtls ident=ID		status rate	(a full handshake)
 *	request=newtls_report ident=ID	status rate	(check only)
 *	request=auth ident=ID		status rate	(AUTH)
 *	request=lookup ident=ID		status count rate message recipient
 *					newtls auth	(check only)
 *
 * Every event request counts the event and answers the rate including
 * it; connect also answers the concurrent count including it.  A reply
 * with status ANVIL_STAT_FAIL carries nothing else.
 *
 * ident is "SERVICE:KEY", KEY the client's inet_prefix_key (anvil_ident
 * builds it): 3 to ANVIL_IDENT_MAX printable ASCII bytes without space,
 * with a ':' neither first nor last.  Counts are 0 to ANVIL_COUNT_MAX.
 * Decoders check everything and reject extra attributes; an encoder given
 * nonsense is a bug (msg_panic).
 *
 * Errors: the decoders and anvil_ident return 0 / -1 with a reason in
 * `why` (may be NULL).
 * Ownership: decoded strings are borrowed from the ATTR `in`, which must
 * outlive the result; encoders copy into `out` (which they reset first).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_ANVIL_PROTO_H
#define UTIL_ANVIL_PROTO_H

#include "util/attr.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

enum anvil_req {
	ANVIL_REQ_CONNECT,
	ANVIL_REQ_DISCONNECT,
	ANVIL_REQ_MESSAGE,
	ANVIL_REQ_RECIPIENT,
	ANVIL_REQ_NEWTLS,
	ANVIL_REQ_NEWTLS_REPORT,
	ANVIL_REQ_AUTH,
	ANVIL_REQ_LOOKUP,
	ANVIL_REQ_COUNT, /* not a request */
};

#define ANVIL_STAT_OK	0
#define ANVIL_STAT_FAIL 1

#define ANVIL_IDENT_MAX 512
#define ANVIL_COUNT_MAX 2147483647LL

struct anvil_request {
	enum anvil_req req;
	const char    *ident;
};

/*
 * Which fields a reply carries depends on its request (table above);
 * the others are 0.  For lookup, rate is the connection rate.
 */
struct anvil_reply {
	int	  status; /* ANVIL_STAT_* */
	long long count;
	long long rate;
	long long message;
	long long recipient;
	long long newtls;
	long long auth;
};

/* "connect", ...; the wire name.  NULL for ANVIL_REQ_COUNT and beyond. */
const char *anvil_req_name(enum anvil_req req);
/* Is ident a well-formed "SERVICE:KEY"? */
bool anvil_ident_ok(const char *ident);
/*
 * out = service ":" inet_prefix_key(addr, v6_len).  0, or -1 with why
 * when addr is not numeric or the result is not a valid ident.
 */
int anvil_ident(const char *service, const char *addr, int v6_len, VSTR *out,
		VSTR *why);

void anvil_request_encode(const struct anvil_request *rq, ATTR *out);
int  anvil_request_decode(const ATTR *in, struct anvil_request *rq, VSTR *why);
void
anvil_reply_encode(enum anvil_req req, const struct anvil_reply *rp, ATTR *out);
int anvil_reply_decode(enum anvil_req req, const ATTR *in,
		       struct anvil_reply *rp, VSTR *why);

#endif
