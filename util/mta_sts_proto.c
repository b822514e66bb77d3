/*
 * mta_sts_proto - mtasts(8) request and reply frames.  See
 * mta_sts_proto.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "util/msg.h"
#include "util/mta_sts_proto.h"

static int
mta_sts_proto_fail(VSTR *why, const char *text)
{
	if (why)
		vstr_strcpy(why, text);
	return -1;
}

bool
mta_sts_domain_ok(const char *domain)
{
	size_t len = strlen(domain);

	if (len == 0 || len > 253 || domain[0] == '.' || domain[0] == '-')
		return false;
	for (const char *p = domain; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
		      || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return false;
	return strstr(domain, "..") == NULL;
}

/* failure: "" or a lower-case RFC 8460 word. */
static bool
mta_sts_failure_ok(const char *s)
{
	if (strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '-'))
			return false;
	return true;
}

static bool
mta_sts_detail_ok(const char *s)
{
	if (strlen(s) > MTA_STS_DETAIL_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

void
mta_sts_request_encode(const struct mta_sts_request *rq, ATTR *out)
{
	if (rq->domain == NULL || !mta_sts_domain_ok(rq->domain))
		msg_panic("mta_sts_request_encode: bad domain");
	attr_reset(out);
	attr_put_str(out, "request", "policy");
	attr_put_str(out, "domain", rq->domain);
}

int
mta_sts_request_decode(const ATTR *in, struct mta_sts_request *rq, VSTR *why)
{
	const char *req = attr_get_str(in, "request");

	if (req == NULL || strcmp(req, "policy") != 0)
		return mta_sts_proto_fail(why, "unknown request");
	rq->domain = attr_get_str(in, "domain");
	if (rq->domain == NULL || !mta_sts_domain_ok(rq->domain))
		return mta_sts_proto_fail(why, "bad domain");
	if (attr_count(in) != 2)
		return mta_sts_proto_fail(why, "unexpected attribute");
	return 0;
}

void
mta_sts_reply_encode(const struct mta_sts_reply *rp, ATTR *out)
{
	const char *failure = rp->failure ? rp->failure : "";
	const char *detail = rp->detail ? rp->detail : "";
	VSTR	   *mx;

	if (!mta_sts_failure_ok(failure))
		msg_panic("mta_sts_reply_encode: bad failure");
	attr_reset(out);
	attr_put_int(out, "status", rp->status);
	if (rp->status == MTA_STS_STAT_POLICY) {
		if (rp->id == NULL || *rp->id == 0)
			msg_panic("mta_sts_reply_encode: no id");
		mx = vstr_alloc(64);
		mta_sts_policy_mx_list(&rp->policy, ",", mx);
		attr_put_str(out, "id", rp->id);
		attr_put_int(out, "fetched", rp->fetched);
		attr_put_int(out, "expires", rp->expires);
		attr_put_str(out, "mode", mta_sts_mode_name(rp->policy.mode));
		attr_put_int(out, "max_age", rp->policy.max_age);
		attr_put_str(out, "mx", VSTR_STR(mx));
		vstr_free(mx);
	}
	if (rp->status != MTA_STS_STAT_FAIL)
		attr_put_str(out, "failure", failure);
	/* Detail text is for logs: keep it one bounded line. */
	if (mta_sts_detail_ok(detail)) {
		attr_put_str(out, "detail", detail);
	} else {
		VSTR *d = vstr_alloc(64);

		for (const char *p = detail;
		     *p && VSTR_LEN(d) < MTA_STS_DETAIL_MAX; p++)
			vstr_addch(d, (unsigned char)*p < 0x20 || *p == 0x7f
					  ? '?'
					  : *p);
		attr_put_str(out, "detail", VSTR_STR(d));
		vstr_free(d);
	}
}

int
mta_sts_reply_decode(const ATTR *in, struct mta_sts_reply *rp, VSTR *why)
{
	long long   n;
	const char *mode;
	const char *mx;
	size_t	    want;
	int	    m;

	mta_sts_policy_free(&rp->policy);
	rp->id = NULL;
	rp->fetched = rp->expires = 0;
	rp->failure = "";
	if (attr_get_int(in, "status", &n) < 0 || n < 0 || n > 2)
		return mta_sts_proto_fail(why, "bad status");
	rp->status = (int)n;
	rp->detail = attr_get_str(in, "detail");
	if (rp->detail == NULL || !mta_sts_detail_ok(rp->detail))
		return mta_sts_proto_fail(why, "bad detail");
	want = 2;
	if (rp->status != MTA_STS_STAT_FAIL) {
		rp->failure = attr_get_str(in, "failure");
		if (rp->failure == NULL || !mta_sts_failure_ok(rp->failure))
			return mta_sts_proto_fail(why, "bad failure");
		want++;
	}
	if (rp->status == MTA_STS_STAT_POLICY) {
		want += 6;
		rp->id = attr_get_str(in, "id");
		if (rp->id == NULL || *rp->id == 0
		    || strlen(rp->id) > MTA_STS_ID_MAX)
			return mta_sts_proto_fail(why, "bad id");
		if (attr_get_int(in, "fetched", &rp->fetched) < 0
		    || attr_get_int(in, "expires", &rp->expires) < 0
		    || rp->fetched < 0 || rp->expires < 0)
			return mta_sts_proto_fail(why, "bad time");
		if ((mode = attr_get_str(in, "mode")) == NULL
		    || (m = mta_sts_mode_parse(mode)) < 0)
			return mta_sts_proto_fail(why, "bad mode");
		rp->policy.mode = (enum mta_sts_mode)m;
		if (attr_get_int(in, "max_age", &n) < 0 || n < 0
		    || n > MTA_STS_MAX_AGE_MAX)
			return mta_sts_proto_fail(why, "bad max_age");
		rp->policy.max_age = n;
		if ((mx = attr_get_str(in, "mx")) == NULL
		    || mta_sts_policy_mx_parse(&rp->policy, mx, NULL) < 0
		    || (rp->policy.nmx == 0
			&& rp->policy.mode != MTA_STS_MODE_NONE)) {
			mta_sts_policy_free(&rp->policy);
			return mta_sts_proto_fail(why, "bad mx");
		}
	}
	if (attr_count(in) != want) {
		mta_sts_policy_free(&rp->policy);
		return mta_sts_proto_fail(why, "unexpected attribute");
	}
	return 0;
}
