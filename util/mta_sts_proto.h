/*
 * mta_sts_proto - the request/reply frames between mtasts(8) and its
 * clients (the smtp client, `postel tls-policy`).
 *
 * A client connects to private/mtasts, sends one request frame and
 * reads one reply frame (util/attr lists; integers are decimal text):
 *
 *	request=policy domain=DOMAIN
 *	-> status=0 id=ID fetched=T expires=T mode=MODE max_age=N
 *	   mx=P,P failure=TYPE detail=TEXT		(a policy applies)
 *	-> status=1 failure=TYPE detail=TEXT		(no policy)
 *	-> status=2 detail=TEXT				(mtasts failed)
 *
 * With status 0 the policy is the cached one, possibly older than a
 * failed refresh; failure then names what went wrong with the refresh
 * (an RFC 8460 result type: sts-policy-fetch-error or
 * sts-policy-invalid), "" when nothing did.  With status 1 failure is
 * "" when the domain publishes no MTA-STS record, else why its policy
 * could not be had.  detail is free text for logs.
 *
 * domain is 1 to 253 bytes of letters, digits, '-', '.' (what a next
 * hop domain looked up by MX can be).  Decoders check every field and
 * reject missing or extra attributes; an encoder given nonsense is a
 * bug (msg_panic).
 *
 * Errors: decoders return 0 / -1 with a reason in `why` (may be NULL).
 * Ownership: decoded strings are borrowed from the ATTR `in`, which must
 * outlive the result; the decoded policy owns its mx strings
 * (mta_sts_policy_free).  Encoders reset `out` first.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MTA_STS_PROTO_H
#define UTIL_MTA_STS_PROTO_H

#include "util/attr.h"
#include "util/mta_sts.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

#define MTA_STS_STAT_POLICY 0
#define MTA_STS_STAT_NONE   1
#define MTA_STS_STAT_FAIL   2

#define MTA_STS_DETAIL_MAX 1000 /* bytes of detail text */

struct mta_sts_request {
	const char *domain;
};

struct mta_sts_reply {
	int	       status; /* MTA_STS_STAT_* */
	const char    *id;     /* POLICY */
	long long      fetched, expires;
	MTA_STS_POLICY policy;	/* POLICY */
	const char    *failure; /* "" or an RFC 8460 result type */
	const char    *detail;
};

/* Is domain acceptable in a request? */
bool mta_sts_domain_ok(const char *domain);

void mta_sts_request_encode(const struct mta_sts_request *rq, ATTR *out);
int
mta_sts_request_decode(const ATTR *in, struct mta_sts_request *rq, VSTR *why);
void mta_sts_reply_encode(const struct mta_sts_reply *rp, ATTR *out);
/* rp->policy is freed first (it must be zeroed or valid). */
int mta_sts_reply_decode(const ATTR *in, struct mta_sts_reply *rp, VSTR *why);

#endif
