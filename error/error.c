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

#include "util/deliver_serve.h"
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
	char	    code[DELIVER_DSN_MAX];
	size_t	    len = sp ? (size_t)(sp - nexthop) : strlen(nexthop);

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
error_rcpt(struct skel_ctx *ctx, const struct deliver_request *req, size_t i,
	   VSTR *content, struct deliver_status *st, VSTR *text)
{
	char dsn[DELIVER_DSN_MAX];
	bool defer = strcmp(ctx->service, "retry") == 0
		     || strcmp(req->transport, "retry") == 0;

	(void)i;
	(void)content;
	error_reason(req->nexthop, defer, dsn, sizeof(dsn), text);
	deliver_status_set(st, defer ? DELIVER_DEFERRED : DELIVER_BOUNCED, dsn,
			   VSTR_STR(text), "none");
}

static void
error_service(struct skel_ctx *ctx, int fd)
{
	deliver_serve(ctx, fd,
		      &(const struct deliver_serve_ops){
			  .relay = "none",
			  .rcpt = error_rcpt,
		      });
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .service = error_service,
				});
}
