/*
 * smtp - the SMTP and LMTP delivery agent.
 *
 * qmgr connects to private/<transport> and sends delivery requests
 * (util/deliver_proto.h) one at a time on the same connection; each gets
 * one reply with a status per recipient.  A delivery looks up the next
 * hop's servers (smtp_connect.c), tries them in order within
 * smtp_mx_address_limit addresses and smtp_mx_session_limit sessions,
 * and speaks SMTP (or LMTP when the master.cf service is named "lmtp")
 * with each until every recipient has a final answer.  Recipients still
 * pending at the end (4xx, timeouts, dead servers) are deferred with the
 * last reason.  The last healthy session is kept for the next request
 * to the same next hop (smtp_session.c), closed after
 * smtp_connection_cache_time_limit without one.
 *
 * The queue file is read (content only) from queue_directory; the
 * process works in that folder (chroot or not).
 *
 * Errors: configuration problems are fatal at start-up; everything else
 * becomes a recipient status and a log line.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "smtp/smtp.h"
#include "util/attr.h"
#include "util/debug_peer.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"
#include "util/strutil.h"

/* Try the servers of the next hop until nobody is pending. */
static void
smtp_deliver_servers(SMTP_STATE *st, SMTP_DELIVERY *d, SMTP_SESSION **keep)
{
	const struct deliver_request *req = d->req;
	SMTP_ADDRS		      addrs = { NULL, 0, 0 };
	VSTR			     *host = vstr_alloc(64);
	VSTR			     *why = vstr_alloc(100);
	char			      dsn[DELIVER_DSN_MAX];
	int			      port;
	bool			      no_mx;
	int			      sessions = 0;
	enum smtp_find		      found;

	if (smtp_nexthop_parse(req->nexthop, st->conf.default_port, host, &port,
			       &no_mx, why)
	    < 0) {
		smtp_rcpt_all(d, true, DELIVER_DEFERRED, "4.3.5", NULL, NULL,
			      "%s", VSTR_STR(why));
		goto out;
	}
	found = smtp_addr_find(st, VSTR_STR(host), no_mx, &addrs, dsn, why);
	if (found != SMTP_FIND_OK) {
		smtp_rcpt_all(d, true,
			      found == SMTP_FIND_BOUNCE ? DELIVER_BOUNCED
							: DELIVER_DEFERRED,
			      dsn, NULL, NULL, "%s", VSTR_STR(why));
		goto out;
	}
	/* MTA-STS where DANE does not win (st->dns_reply holds the MX). */
	if (st->sts_enable && !no_mx && addrs.n > 0
	    && !smtp_tls_dane_usable(st, req->nexthop, addrs.v[0].host, port,
				     st->dns_reply->ad))
		d->sts = smtp_sts_lookup(st, d, VSTR_STR(host), no_mx);
	if (d->sts && smtp_sts_filter(st, d->sts, d, &addrs, why) < 0) {
		smtp_rcpt_all(d, false, DELIVER_DEFERRED, "4.7.5", NULL, NULL,
			      "%s", VSTR_STR(why));
		goto out;
	}
	for (size_t a = 0; a < addrs.n && d->npending > 0; a++) {
		SMTP_SESSION *s;
		int	      fd;

		if (st->conf.mx_session_limit > 0
		    && sessions >= st->conf.mx_session_limit)
			break;
		if ((fd = smtp_connect_bind(&addrs.v[a], port,
					    st->conf.connect_timeout,
					    addrs.v[a].family == AF_INET6
						? st->conf.bind_address6
						: st->conf.bind_address,
					    why))
		    < 0) {
			msg_info("%s", VSTR_STR(why));
			smtp_rcpt_all(d, false, DELIVER_DEFERRED, "4.4.1", NULL,
				      NULL, "%s", VSTR_STR(why));
			continue;
		}
		sessions++;
		s = smtp_session_alloc(fd, addrs.v[a].host, addrs.v[a].ip, port,
				       req->nexthop);
		d->conn_use = 1;
		if (smtp_proto_helo(st, s, d) != SMTP_STEP_OK) {
			smtp_proto_quit(st, s);
			/* Opportunistic TLS failed: same address, plain. */
			if (smtp_tls_retry_plain(st))
				a--;
			continue;
		}
		if (smtp_proto_xfer(st, s, d) != SMTP_STEP_OK) {
			smtp_session_free(s);
			continue;
		}
		if (d->npending == 0) {
			*keep = s;
			break;
		}
		smtp_proto_quit(st, s);
	}
out:
	smtp_addrs_free(&addrs);
	vstr_free(host);
	vstr_free(why);
}

/* A control character in an address would end the SMTP command early. */
static bool
smtp_addr_unsafe(const char *addr)
{
	for (; *addr; addr++)
		if ((unsigned char)*addr < 0x20 || *addr == 0x7f)
			return true;
	return false;
}

/* Deliver one request; st_out[i] borrow from d until the next call. */
static void
smtp_deliver(SMTP_STATE *st, SMTP_DELIVERY *d, struct deliver_status *out)
{
	const struct deliver_request *req = d->req;
	SMTP_SESSION		     *s;
	SMTP_SESSION		     *keep = NULL;
	VSTR			     *path = vstr_alloc(64);
	double			      t_end;

	d->npending = req->nrcpt;
	d->t_conn = 0;
	d->conn_use = 0;
	d->tls_required_no = false;
	d->requiretls = req->requiretls && !st->conf.lmtp;
	/* Every recipient starts with a reason, in case nothing is tried. */
	smtp_rcpt_all(d, false, DELIVER_DEFERRED, "4.4.1", NULL, NULL,
		      "no server of %s could be tried", req->nexthop);

	vstr_sprintf(path, "%s/%s", req->queue_name, req->queue_id);
	/* Names from qmgr, but a path never leaves the queue folder. */
	if (strchr(req->queue_name, '/') || strchr(req->queue_id, '/')
	    || strcmp(req->queue_id, "..") == 0)
		errno = EINVAL;
	else
		d->qfd = open(VSTR_STR(path),
			      O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (d->qfd < 0) {
		msg_warn("%s: open queue file %s: %m", req->queue_id,
			 VSTR_STR(path));
		smtp_rcpt_all(d, true, DELIVER_DEFERRED, "4.3.0", NULL, NULL,
			      "cannot open queue file: %s", strerror(errno));
		d->qfd = -1;
		goto report;
	}
	d->need_smtputf8 = smtp_proto_need_utf8(req, d->qfd);
	d->tls_required_no = smtp_proto_tls_required_no(req, d->qfd);
	if (smtp_addr_unsafe(req->sender))
		smtp_rcpt_all(d, true, DELIVER_BOUNCED, "5.1.7", NULL, NULL,
			      "bad sender address syntax");
	for (size_t i = 0; i < req->nrcpt; i++)
		if (smtp_addr_unsafe(req->rcpts[i].addr))
			smtp_rcpt_result(d, i, true, DELIVER_BOUNCED, "5.1.3",
					 NULL, NULL,
					 "bad recipient address syntax");
	if (d->npending == 0)
		goto report;

	/* A cached session to the same next hop: RSET, then reuse it. */
	if ((s = smtp_session_cache_take(st, req->nexthop)) != NULL) {
		if (smtp_proto_rset(st, s) < 0) {
			s = smtp_session_free(s);
		} else {
			d->conn_use = s->use_count + 1;
			d->t_conn = smtp_now();
			if (smtp_proto_xfer(st, s, d) == SMTP_STEP_OK)
				keep = s;
			else
				smtp_session_free(s);
		}
	}
	if (d->npending > 0 && keep == NULL)
		smtp_deliver_servers(st, d, &keep);
	if (keep) {
		if (keep->reply->code == 421)
			keep = smtp_session_free(keep);
		else
			smtp_session_cache_put(st, keep);
	}

report:
	t_end = smtp_now();
	for (size_t i = 0; i < req->nrcpt; i++) {
		struct smtp_rcpt *rc = &d->rcpt[i];

		/* A REQUIRETLS refusal that no later server changed bounces. */
		if (!rc->final && rc->action == DELIVER_BOUNCED
		    && strcmp(rc->dsn, "5.7.30") == 0) {
			rc->final = true;
		} else if (!rc->final) {
			rc->final = true;
			rc->action = DELIVER_DEFERRED;
			rc->dsn[0] = '4';
		}
		smtp_log_delivery(d, i, t_end);
		deliver_status_set(&out[i], rc->action, rc->dsn,
				   VSTR_STR(rc->reply),
				   VSTR_LEN(rc->relay) ? VSTR_STR(rc->relay)
						       : NULL);
		out[i].diag_type = rc->diag_smtp ? "smtp" : NULL;
		out[i].remote_mta = VSTR_LEN(rc->remote_mta)
					? VSTR_STR(rc->remote_mta)
					: NULL;
	}
	if (d->qfd >= 0)
		close(d->qfd);
	d->qfd = -1;
	d->sts = smtp_sts_free(d->sts);
	vstr_free(path);
}

/* Wait for the next request; closes an idle cached session in time. */
static int
smtp_wait(SMTP_STATE *st, IPC_STREAM *ipc)
{
	long long idle = cfg_get_time(st->cfg, "max_idle");
	time_t	  start = time(NULL);

	while (ipc_stream_buffered(ipc) == 0) {
		struct pollfd pfd = { .fd = ipc_stream_fd(ipc),
				      .events = POLLIN };
		long long     wait_s = idle - (time(NULL) - start);
		int	      n;

		if (st->cached) {
			long long left = st->conf.cache_time_limit
					 - (time(NULL) - st->cached_since);

			if (left <= 0) {
				smtp_session_cache_flush(st);
				continue;
			}
			if (left < wait_s)
				wait_s = left;
		}
		if (wait_s <= 0) {
			smtp_session_cache_flush(st);
			return -1;
		}
		n = poll(&pfd, 1, (int)(wait_s > 0 ? wait_s * 1000 : 0));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

static void
smtp_service(struct skel_ctx *ctx, int client_fd)
{
	SMTP_STATE *st = ctx->app;
	IPC_STREAM *ipc;
	ATTR	   *in = attr_alloc();
	ATTR	   *reply = attr_alloc();
	VSTR	   *why = vstr_alloc(100);
	int	    fd;

	if ((fd = dup(client_fd)) < 0) {
		msg_warn("dup: %m");
		goto out;
	}
	ipc = ipc_stream_open(fd);
	for (;;) {
		struct deliver_request req;
		SMTP_DELIVERY	       d;
		struct deliver_status *status;
		long long ipc_ms = cfg_get_time(st->cfg, "ipc_timeout") * 1000;

		if (smtp_wait(st, ipc) < 0)
			break;
		if (ipc_stream_recv(ipc, in,
				    (int)(ipc_ms > 3600000 ? 3600000 : ipc_ms),
				    why)
		    < 0) {
			if (errno != 0)
				msg_warn("read request: %s", VSTR_STR(why));
			break;
		}
		if (deliver_request_decode(in, &req, why) < 0) {
			msg_warn("bad delivery request: %s", VSTR_STR(why));
			deliver_reply_encode_error(VSTR_STR(why), reply);
			(void)ipc_stream_send(ipc, reply, (int)ipc_ms);
			break;
		}
		memset(&d, 0, sizeof(d));
		d.req = &req;
		d.t_start = smtp_now();
		d.qfd = -1;
		d.rcpt = mycalloc(req.nrcpt + 1, sizeof(*d.rcpt));
		for (size_t i = 0; i < req.nrcpt; i++) {
			d.rcpt[i].reply = vstr_alloc(64);
			d.rcpt[i].log = vstr_alloc(64);
			d.rcpt[i].relay = vstr_alloc(64);
			d.rcpt[i].remote_mta = vstr_alloc(64);
		}
		status = mycalloc(req.nrcpt + 1, sizeof(*status));
		smtp_deliver(st, &d, status);
		if (deliver_reply_encode(status, req.nrcpt, reply) < 0)
			deliver_reply_encode_error("cannot encode reply",
						   reply);
		for (size_t i = 0; i < req.nrcpt; i++) {
			vstr_free(d.rcpt[i].reply);
			vstr_free(d.rcpt[i].log);
			vstr_free(d.rcpt[i].relay);
			vstr_free(d.rcpt[i].remote_mta);
		}
		myfree(d.rcpt);
		myfree(status);
		deliver_request_release(&req);
		ctx->use_count++;
		if (ipc_stream_send(ipc, reply, (int)ipc_ms) < 0) {
			msg_warn("send reply: %m");
			break;
		}
	}
	ipc_stream_close(ipc);
out:
	smtp_session_cache_flush(st);
	attr_free(in);
	attr_free(reply);
	vstr_free(why);
}

/*
 * smtp_bind_address (IPv4) and smtp_bind_address6 (IPv6): the local
 * address of every outgoing connection, as in Postfix.  A value that is
 * not an address of its family is a configuration error.
 */
static void
smtp_conf_bind(struct smtp_conf *c, const CFG *cfg)
{
	unsigned char buf[sizeof(struct in6_addr)];
	const char   *name4 = smtp_param(c->lmtp, "smtp_bind_address");
	const char   *name6 = smtp_param(c->lmtp, "smtp_bind_address6");

	c->bind_address = cfg_get_str(cfg, name4);
	c->bind_address6 = cfg_get_str(cfg, name6);
	if (*c->bind_address && inet_pton(AF_INET, c->bind_address, buf) != 1)
		msg_fatal_status(78, "%s: \"%s\" is not an IPv4 address", name4,
				 c->bind_address);
	if (*c->bind_address6
	    && inet_pton(AF_INET6, c->bind_address6, buf) != 1)
		msg_fatal_status(78, "%s: \"%s\" is not an IPv6 address", name6,
				 c->bind_address6);
}

static int
smtp_conf_time(const CFG *cfg, bool lmtp, const char *name)
{
	long long val = cfg_get_time(cfg, smtp_param(lmtp, name));

	return val > 86400 ? 86400 : (int)val;
}

/* The name of an smtp_X parameter for this client (smtp_param.c). */
#define P(name) smtp_param(c->lmtp, (name))

static void
smtp_pre_jail(struct skel_ctx *ctx)
{
	SMTP_STATE	 *st = mycalloc(1, sizeof(*st));
	struct smtp_conf *c = &st->conf;
	const CFG	 *cfg = ctx->cfg;
	char		 *list;
	char		 *cp;
	char		 *tok;

	st->cfg = ctx->cfg;
	c->lmtp = strcmp(ctx->service, "lmtp") == 0;
	c->default_port = c->lmtp ? 24 : 25;
	c->helo_name = cfg_get_str(cfg, P("smtp_helo_name"));
	c->connect_timeout = smtp_conf_time(cfg, c->lmtp,
					    "smtp_connect_timeout");
	c->helo_timeout = smtp_conf_time(cfg, c->lmtp, "smtp_helo_timeout");
	c->mail_timeout = smtp_conf_time(cfg, c->lmtp, "smtp_mail_timeout");
	c->rcpt_timeout = smtp_conf_time(cfg, c->lmtp, "smtp_rcpt_timeout");
	c->data_init_timeout = smtp_conf_time(cfg, c->lmtp,
					      "smtp_data_init_timeout");
	c->data_xfer_timeout = smtp_conf_time(cfg, c->lmtp,
					      "smtp_data_xfer_timeout");
	c->data_done_timeout = smtp_conf_time(cfg, c->lmtp,
					      "smtp_data_done_timeout");
	c->quit_timeout = smtp_conf_time(cfg, c->lmtp, "smtp_quit_timeout");
	c->mx_address_limit = (int)cfg_get_int(cfg, P("smtp_mx_address_limit"));
	c->mx_session_limit = (int)cfg_get_int(cfg, P("smtp_mx_session_limit"));
	c->skip_5xx_greeting = cfg_get_bool(cfg, P("smtp_skip_5xx_greeting"));
	/* LMTP always sends LHLO: these two have no twin. */
	if (!c->lmtp) {
		c->never_send_ehlo = cfg_get_bool(cfg, "smtp_never_send_ehlo");
		c->always_send_ehlo = cfg_get_bool(cfg,
						   "smtp_always_send_ehlo");
	}
	c->send_xforward = cfg_get_bool(cfg, P("smtp_send_xforward_command"));
	smtp_conf_bind(c, cfg);
	c->line_length_limit = (int)cfg_get_int(cfg,
						P("smtp_line_length_limit"));
	c->cache_time_limit =
	    smtp_conf_time(cfg, c->lmtp, "smtp_connection_cache_time_limit");
	c->reuse_time_limit =
	    smtp_conf_time(cfg, c->lmtp, "smtp_connection_reuse_time_limit");

	list = mystrdup(cfg_get_str(cfg, P("smtp_host_lookup")));
	for (cp = list; (tok = str_token(&cp, STR_SEP_LIST)) != NULL;) {
		if (strcasecmp(tok, "dns") == 0)
			c->use_dns = true;
		else if (strcasecmp(tok, "native") == 0)
			c->use_native = true;
		else
			msg_fatal_status(78, "%s: unknown method \"%s\"",
					 P("smtp_host_lookup"), tok);
	}
	myfree(list);
	if (!c->use_dns && !c->use_native)
		c->use_dns = true;

	list = mystrdup(cfg_get_str(cfg, "inet_protocols"));
	for (cp = list; (tok = str_token(&cp, STR_SEP_LIST)) != NULL;) {
		if (strcasecmp(tok, "all") == 0)
			c->ipv4 = c->ipv6 = true;
		else if (strcasecmp(tok, "ipv4") == 0)
			c->ipv4 = true;
		else if (strcasecmp(tok, "ipv6") == 0)
			c->ipv6 = true;
		else
			msg_fatal_status(78,
					 "inet_protocols: unknown "
					 "protocol \"%s\"",
					 tok);
	}
	myfree(list);
	if (!c->ipv4 && !c->ipv6)
		c->ipv4 = c->ipv6 = true;
	cp = (char *)cfg_get_str(cfg, P("smtp_address_preference"));
	c->prefer_ipv6 = strcasecmp(cp, "ipv6") == 0;
	c->prefer_ipv4 = strcasecmp(cp, "ipv4") == 0;

	if (c->use_dns && (st->dns = dns_open(cfg)) == NULL)
		msg_fatal_status(78, "bad dns_nameservers setting");
	st->dns_reply = dns_reply_alloc();
	st->dns_reply2 = dns_reply_alloc();
	/* Cyrus loads its plugins and the tables open before the chroot. */
	smtp_sasl_init(st, cfg);
	debug_peer_init(cfg);
	smtp_sts_init(st, cfg);
	smtp_tls_init(st, cfg);
	smtp_tlsrpt_init(st, cfg);
	smtp_generic_init(st, cfg);
	ctx->app = st;
}

static void
smtp_pre_exit(struct skel_ctx *ctx)
{
	SMTP_STATE *st = ctx->app;

	if (st == NULL)
		return;
	smtp_session_cache_flush(st);
	dns_close(st->dns);
	dns_reply_free(st->dns_reply);
	dns_reply_free(st->dns_reply2);
	smtp_sasl_free(st);
	smtp_tls_free(st);
	smtp_tlsrpt_free(st);
	smtp_generic_free(st);
	myfree(st);
	ctx->app = NULL;
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .pre_jail = smtp_pre_jail,
				    .service = smtp_service,
				    .pre_exit = smtp_pre_exit,
				});
}
