/*
 * error - the error and retry transports.
 *
 * Every recipient of a delivery request fails with the next-hop text as
 * the reason: transport_maps "error:5.1.1 mailbox unavailable" gives
 * dsn=5.1.1 and status=bounced (mailbox unavailable).  Run as the
 * master.cf service "retry" (or for transport "retry") the recipients
 * are deferred instead, with class 4.  A next hop that does not start
 * with a status code gets 5.0.0 / 4.0.0 and is the whole reason.
 *
 * qmgr sends any number of requests on one connection; each gets one
 * reply.  The Postfix delivery line is logged per recipient; qmgr asks
 * the bounce service to record the result.
 *
 * Errors: a request that does not parse is answered with a
 * whole-request failure (qmgr then defers it) and logged.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/deliver_proto.h"
#include "util/dsn_log.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"

/*
 * Split "5.1.1 text" into a dsn of the class we must report and the
 * text; anything else is all text.
 */
static void
error_reason(const char *nexthop, bool defer, char *dsn, size_t dsnlen,
	     VSTR *reason)
{
	const char *sp = strchr(nexthop, ' ');
	char	code[DELIVER_DSN_MAX];
	size_t	len = sp ? (size_t)(sp - nexthop) : strlen(nexthop);

	snprintf(dsn, dsnlen, "%s", defer ? "4.0.0" : "5.0.0");
	vstr_strcpy(reason, nexthop);
	if (len > 0 && len < sizeof(code)) {
		memcpy(code, nexthop, len);
		code[len] = 0;
		if (deliver_dsn_valid(code)) {
			code[0] = defer ? '4' : '5';
			snprintf(dsn, dsnlen, "%s", code);
			vstr_strcpy(reason, sp ? sp + 1 : "");
		}
	}
	if (VSTR_LEN(reason) == 0)
		vstr_strcpy(reason, defer ? "delivery temporarily suspended"
			    : "mail delivery disabled");
}

static void
error_deliver(struct skel_ctx *ctx, const ATTR *in, ATTR *out)
{
	struct deliver_request req = {0};
	struct deliver_status *st;
	struct dsn_log_times t;
	VSTR   *why = vstr_alloc(64), *reason = vstr_alloc(64);
	char	dsn[DELIVER_DSN_MAX];
	bool	defer;
	size_t	i;

	t.start = dsn_log_now();
	if (deliver_request_decode(in, &req, why) < 0) {
		msg_warn("%s: bad delivery request: %s", ctx->service,
			 VSTR_STR(why));
		deliver_reply_encode_error(VSTR_STR(why), out);
		vstr_free(why);
		vstr_free(reason);
		return;
	}
	defer = strcmp(ctx->service, "retry") == 0
	    || strcmp(req.transport, "retry") == 0;
	error_reason(req.nexthop, defer, dsn, sizeof(dsn), reason);
	st = mycalloc(req.nrcpt ? req.nrcpt : 1, sizeof(*st));
	t.arrival = (double)req.arrival_sec + (double)req.arrival_usec / 1e6;
	t.qmgr = req.qmgr_time > 0 ? (double)req.qmgr_time : t.arrival;
	t.conn = t.start;
	t.done = dsn_log_now();
	for (i = 0; i < req.nrcpt; i++) {
		deliver_status_set(&st[i], defer ? DELIVER_DEFERRED
				   : DELIVER_BOUNCED, dsn, VSTR_STR(reason),
				   "none");
		dsn_log_delivery(req.queue_id, &req.rcpts[i], &st[i], &t);
	}
	deliver_reply_encode(st, req.nrcpt, out);
	myfree(st);
	deliver_request_release(&req);
	vstr_free(why);
	vstr_free(reason);
}

static void
error_service(struct skel_ctx *ctx, int fd)
{
	skel_serve_frames(ctx, fd, error_deliver);
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv, &(const struct skel_ops){
		.service = error_service,
	});
}
