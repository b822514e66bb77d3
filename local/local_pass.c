/*
 * local_pass - hand one recipient to another transport
 * (mailbox_transport, fallback_transport), the way Postfix's local does
 * with deliver_pass(): local itself becomes the client of that
 * transport's master.cf service.
 *
 * The queue file stays in active/ while qmgr waits for local's reply, so
 * local sends the named service (queue_directory/private/TRANSPORT) the
 * same delivery request it got (util/deliver_proto.h), holding only this
 * recipient, with transport and nexthop from "transport:nexthop" (no
 * nexthop: the one qmgr gave local).  That agent reads the queue file,
 * delivers and logs its own line; its status for the recipient becomes
 * local's result, which qmgr then records as for any local delivery.
 *
 * Errors: a service that cannot be reached or gives no valid reply
 * defers the recipient (4.3.0), as Postfix does.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "local/local.h"
#include "util/attr.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"

void
local_pass(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
	   const char *how, struct local_result *r)
{
	const struct deliver_request *orig = m->req;
	struct deliver_request	      req = *orig;
	struct deliver_rcpt	      one = {
			  .addr = rc->addr, .orig = rc->orig, .notify = 0, .offset = 0
	};
	struct deliver_status status;
	char		     *transport = mystrdup(how);
	char		     *colon = strchr(transport, ':');
	ATTR		     *out = attr_alloc(), *in = attr_alloc();
	VSTR		     *path = vstr_alloc(64), *why = vstr_alloc(64);

	/* The recipient's own DSN details and record offset, from qmgr. */
	for (size_t i = 0; i < orig->nrcpt; i++) {
		if (orig->rcpts[i].addr == rc->addr) {
			one = orig->rcpts[i];
			break;
		}
	}
	if (colon)
		*colon++ = 0;
	req.transport = transport;
	req.nexthop = colon && *colon ? colon : orig->nexthop;
	req.rcpts = &one;
	req.nrcpt = 1;
	/* Passing to ourselves would chain local processes until none is left. */
	if (*transport == 0 || strchr(transport, '/')
	    || strcmp(transport, ".") == 0 || strcmp(transport, "..") == 0
	    || (st->service && strcmp(transport, st->service) == 0)) {
		local_result_set(r, DELIVER_DEFERRED, "4.3.5",
				 "mail system configuration error: bad "
				 "transport \"%s\"",
				 how);
		goto out;
	}
	vstr_sprintf(path, "%s/private/%s",
		     cfg_get_str(st->cfg, "queue_directory"), transport);
	if (deliver_request_encode(&req, out) < 0) {
		local_result_set(r, DELIVER_DEFERRED, "4.3.0",
				 "cannot pass %s to transport %s", rc->addr,
				 transport);
	} else if (ipc_call(VSTR_STR(path), out, in, DELIVER_TIMEOUT_MS, why)
		       < 0
		   || deliver_reply_decode(in, &status, 1, why) < 0) {
		msg_warn("%s: transport %s: %s", orig->queue_id, transport,
			 VSTR_STR(why));
		local_result_set(r, DELIVER_DEFERRED, "4.3.0",
				 "mail transport unavailable: %s: %s",
				 transport, VSTR_STR(why));
	} else {
		local_result_set(r, status.action, status.dsn,
				 status.action == DELIVER_SENT
				     ? "delivered via %s service (%s)"
				     : "%s service: %s",
				 transport, status.reply ? status.reply : "");
	}
out:
	attr_free(out);
	attr_free(in);
	vstr_free(path);
	vstr_free(why);
	myfree(transport);
}
