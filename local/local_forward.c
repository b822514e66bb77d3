/*
 * local_forward - re-inject the addresses an alias or .forward expanded
 * to, as Postfix's local does: ONE new message through cleanup, holding
 * every collected address as a recipient, with a Delivered-To header for
 * the recipient being expanded prepended (that header is what breaks
 * forwarding loops), and as sender owner-<alias> when that alias exists,
 * else the original sender.  The original recipient is then "sent"
 * with the text "forwarded as QUEUEID".
 *
 * Errors: a cleanup failure defers the recipient (4.3.0), a rejection
 * bounces it with cleanup's reply.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "local/local.h"
#include "util/cleanup_client.h"
#include "util/msg.h"
#include "util/mymalloc.h"

void
local_forward(LOCAL_STATE *st, struct local_msg *m, const char *rcpt,
	      struct local_result *r)
{
	struct cleanup_rcpt  *rcpts = mycalloc(r->nforward, sizeof(*rcpts));
	struct cleanup_req    req = { 0 };
	struct cleanup_result res;
	CLEANUP_CLIENT	     *cc;
	VSTR	   *why = vstr_alloc(64), *buf = vstr_alloc(64 * 1024);
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
	req.sender = VSTR_LEN(r->owner) ? VSTR_STR(r->owner) : m->sender;
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
}
