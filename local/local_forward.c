/*
 * local_forward - re-inject the addresses an alias or .forward expanded
 * to, as Postfix's local does: ONE new message through cleanup, holding
 * every collected address as a recipient, with a Delivered-To header for
 * the recipient being expanded prepended (that header is what breaks
 * forwarding loops), and as sender owner-<alias> when that alias exists,
 * else the original sender.  The original recipient is then "sent"
 * with the text "forwarded as QUEUEID".
 *
 * With srs_domain set, a sender of another domain (not mydestination,
 * myhostname, myorigin or srs_domain, not in srs_exclude_domains, not
 * the null sender of a bounce) becomes its SRS address (util/srs.h) when
 * at least one forwarded address leaves this host's domains: the next
 * hop then checks SPF against srs_domain, and a bounce to that address
 * comes back here and is reversed to the original sender
 * (docs/SRS.md).
 *
 * Errors: a cleanup failure defers the recipient (4.3.0), a rejection
 * bounces it with cleanup's reply.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "local/local.h"
#include "util/cleanup_client.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* Is domain one of ours (mydestination, myhostname, myorigin)? */
static bool
local_forward_ours(const LOCAL_STATE *st, const char *domain)
{
	return strcasecmp(domain, st->myhostname) == 0
	       || strcasecmp(domain, st->myorigin) == 0
	       || srs_domain_listed(st->mydestination, domain);
}

/*
 * The sender the forwarded copy gets: sender, or its SRS address (in
 * out) when SRS applies (see above).
 */
static const char *
local_forward_sender(const LOCAL_STATE *st, const char *qid, const char *sender,
		     const struct cleanup_rcpt *rcpts, size_t n, VSTR *out)
{
	const char *at = strrchr(sender, '@');
	VSTR	   *why;
	bool	    leaves = false;
	int	    rc;

	if (st->srs == NULL || at == NULL || at[1] == 0
	    || local_forward_ours(st, at + 1)
	    || strcasecmp(at + 1, srs_domain(st->srs)) == 0
	    || srs_excluded(st->srs, at + 1))
		return sender;
	for (size_t i = 0; i < n && !leaves; i++) {
		const char *rat = strrchr(rcpts[i].addr, '@');

		leaves = rat != NULL && !local_forward_ours(st, rat + 1);
	}
	if (!leaves)
		return sender;
	why = vstr_alloc(64);
	rc = srs_forward(st->srs, sender, time(NULL), out, why);
	if (rc < 0)
		msg_warn("%s: sender <%s> not rewritten with SRS: %s", qid,
			 sender, VSTR_STR(why));
	vstr_free(why);
	return rc > 0 ? VSTR_STR(out) : sender;
}

void
local_forward(LOCAL_STATE *st, struct local_msg *m, const char *rcpt,
	      struct local_result *r)
{
	struct cleanup_rcpt  *rcpts = mycalloc(r->nforward, sizeof(*rcpts));
	struct cleanup_req    req = { 0 };
	struct cleanup_result res;
	CLEANUP_CLIENT	     *cc;
	VSTR	   *why = vstr_alloc(64), *buf = vstr_alloc(64 * 1024);
	VSTR	   *srs = vstr_alloc(64);
	char	   *list = mystrdup(VSTR_STR(r->forward));
	char	   *save, *a;
	size_t	    n = 0;
	const char *p, *end;

	for (a = strtok_r(list, "\n", &save); a && n < r->nforward;
	     a = strtok_r(NULL, "\n", &save))
		rcpts[n++].addr = a;
	/*
	 * Neither CLEANUP_FLAG_SIGN nor _VERIFY: the message was checked when
	 * it arrived (its Authentication-Results travel with it), and signing
	 * somebody else's mail in our name is not what .forward asks for.
	 */
	req.origin = "local";
	req.sender = local_forward_sender(st, m->req->queue_id,
					  VSTR_LEN(r->owner)
					      ? VSTR_STR(r->owner)
					      : m->sender,
					  rcpts, n, srs);
	req.ret = m->req->ret;
	req.body_type = m->req->body_type;
	req.smtputf8 = m->req->smtputf8;
	req.envid = m->req->envid;
	req.rcpts = rcpts;
	req.nrcpt = n;
	if ((cc = cleanup_begin(st->cfg, &req, why)) == NULL) {
		local_result_set(r, DELIVER_DEFERRED, "4.3.0",
				 "cannot forward: cleanup service: %s",
				 VSTR_STR(why));
		goto out;
	}
	vstr_sprintf(buf, "Delivered-To: %s\r\n", rcpt);
	p = VSTR_STR(m->content);
	end = p + VSTR_LEN(m->content);
	for (; p < end; p++) {
		if (*p == '\n')
			vstr_addch(buf, '\r');
		vstr_addch(buf, *p);
		if (VSTR_LEN(buf) >= 64 * 1024) {
			if (cleanup_write(cc, VSTR_STR(buf), VSTR_LEN(buf)) < 0)
				break;
			vstr_reset(buf);
		}
	}
	if (VSTR_LEN(buf))
		(void)cleanup_write(cc, VSTR_STR(buf), VSTR_LEN(buf));
	(void)cleanup_finish(cc, &res);
	switch (res.status) {
	case CLEANUP_OK:
	case CLEANUP_DISCARDED:
		msg_info("%s: forwarded to %zu recipient%s as %s, from=<%s>",
			 m->req->queue_id, n, n == 1 ? "" : "s", res.queue_id,
			 req.sender);
		local_result_set(r, DELIVER_SENT, "2.0.0", "forwarded as %s",
				 res.queue_id);
		break;
	case CLEANUP_REJECT:
		local_result_set(r, DELIVER_BOUNCED, "5.3.0",
				 "cannot forward: %s", res.reply);
		break;
	default:
		local_result_set(r, DELIVER_DEFERRED, "4.3.0",
				 "cannot forward: %s", res.reply);
		break;
	}
out:
	myfree(list);
	myfree(rcpts);
	vstr_free(why);
	vstr_free(buf);
	vstr_free(srs);
}
