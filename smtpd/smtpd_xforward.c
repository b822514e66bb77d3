/*
 * smtpd_xforward - the XFORWARD command (Postfix's XFORWARD_README).
 *
 * An after-queue content filter that re-injects mail tells smtpd who the
 * original client was.  Only clients in smtpd_authorized_xforward_hosts
 * see XFORWARD in the EHLO reply and may use it, and only outside a mail
 * transaction; the attributes hold for the next transaction and are
 * forgotten with it (smtpd_reset_transaction).  The forwarded client
 * appears in the "client=" log line (as orig_client=), the Received:
 * header and the queue file; access checks, reject lines and the
 * disconnect line keep the real peer, as Postfix does.
 *
 * Errors: replies (503, 550, 501 from util/xforward.c).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "smtpd/smtpd.h"
#include "util/msg.h"

bool
smtpd_xforward_authorized(SMTPD_STATE *st)
{
	const char *list = st->par->xforward_hosts;

	if (st->xforward_auth < 0)
		st->xforward_auth = list != NULL && *list != 0
				    && smtpd_peer_match_list(list,
							     st->peer.addr);
	return st->xforward_auth > 0;
}

void
smtpd_xforward_ehlo(SMTPD_STATE *st)
{
	if (smtpd_xforward_authorized(st))
		smtpd_reply(st, "250-XFORWARD %s", XFORWARD_ATTRS);
}

int
smtpd_xforward_can(SMTPD_STATE *st, const char *args)
{
	(void)args;
	if (!smtpd_xforward_authorized(st)) {
		smtpd_reply(st, "550 5.7.0 Error: insufficient authorization");
		return -1;
	}
	if (st->stage >= SMTPD_ST_MAIL) {
		smtpd_reply(st,
			    "503 5.5.1 Error: MAIL transaction in progress");
		return -1;
	}
	return 0;
}

int
smtpd_xforward_cmd(SMTPD_STATE *st, const char *args)
{
	VSTR *reply = vstr_alloc(64);
	int   ret;

	if (st->xforward == NULL)
		st->xforward = xforward_alloc();
	if ((ret = xforward_update(st->xforward, args, reply)) < 0)
		smtpd_reply(st, "%s", VSTR_STR(reply));
	else
		smtpd_reply(st, "250 2.0.0 Ok");
	vstr_free(reply);
	return ret;
}

static const char *
smtpd_xforward_value(const SMTPD_STATE *st, enum xforward_attr a)
{
	if (st->xforward == NULL || !st->xforward->active)
		return NULL;
	return st->xforward->value[a];
}

static bool
smtpd_xforward_client(const SMTPD_STATE *st)
{
	return st->xforward && st->xforward->active
	       && (st->xforward->given[XFORWARD_NAME]
		   || st->xforward->given[XFORWARD_ADDR]);
}

const char *
smtpd_xforward_name(const SMTPD_STATE *st)
{
	const char *v;

	if (!smtpd_xforward_client(st))
		return st->peer.name;
	v = smtpd_xforward_value(st, XFORWARD_NAME);
	return v ? v : "unknown";
}

const char *
smtpd_xforward_addr(const SMTPD_STATE *st)
{
	const char *v;

	if (!smtpd_xforward_client(st))
		return st->peer.addr;
	v = smtpd_xforward_value(st, XFORWARD_ADDR);
	return v ? v : "unknown";
}

/*
 * Mail that the filter got from a local submission (SOURCE=LOCAL without
 * a client address) stays local mail: no client in the queue file.
 */
void
smtpd_xforward_req(const SMTPD_STATE *st, struct cleanup_req *req)
{
	const char *src = smtpd_xforward_value(st, XFORWARD_SOURCE);
	const char *v;

	if (st->xforward == NULL || !st->xforward->active)
		return;
	if (smtpd_xforward_client(st)) {
		if (src && strcmp(src, "LOCAL") == 0
		    && smtpd_xforward_value(st, XFORWARD_ADDR) == NULL) {
			req->client_name = req->client_addr = NULL;
			req->client_port = NULL;
		} else {
			req->client_name = smtpd_xforward_name(st);
			req->client_addr = smtpd_xforward_addr(st);
			req->client_port = smtpd_xforward_value(st,
								XFORWARD_PORT);
		}
	}
	if (st->xforward->given[XFORWARD_HELO])
		req->helo = smtpd_xforward_value(st, XFORWARD_HELO);
	if (st->xforward->given[XFORWARD_PROTO]
	    && (v = smtpd_xforward_value(st, XFORWARD_PROTO)) != NULL)
		req->protocol = v;
	if (src)
		req->rewrite_local = strcmp(src, "LOCAL") == 0;
	if (msg_verbose)
		msg_info("%s[%s]: forwarded client %s[%s]", st->peer.name,
			 st->peer.addr,
			 req->client_name ? req->client_name : "local",
			 req->client_addr ? req->client_addr : "");
}
