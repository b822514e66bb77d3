/*
 * smtpd - the SMTP server: main(), process set-up and one client.
 *
 * One client at a time per process, processes reused (skel_single_main,
 * max_use).  pre_jail reads the parameters and opens the policy tables
 * (smtpd_check_create) before the chroot; each client then gets its peer
 * lookup and a session (smtpd_cmd.c) whose hooks are the real socket,
 * the policy engine and the cleanup client.
 *
 * Behind a load balancer (smtpd_upstream_proxy_protocol = haproxy) the
 * PROXY header comes first, before the greeting: the client and server
 * addresses it names are the ones everything sees (logs, anvil, access
 * maps, DNSBL, Received, XFORWARD, milters, policy), the client name is
 * looked up for that address, and a connection without a valid header
 * is closed without a greeting.  Behind postscreen (a pass service) the
 * setting is ignored with a warning: postscreen read the header and
 * handed the addresses over, as with Postfix.
 *
 * Errors: configuration problems are fatal at start-up; everything that
 * goes wrong with a client ends that client's session only.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smtpd/smtpd.h"
#include "smtpd/smtpd_check.h"
#include "util/anvil_client.h"
#include "util/cleanup_client.h"
#include "util/debug_peer.h"
#include "util/dict.h"
#include "util/dns.h"
#include "util/flush_client.h"
#include "util/ipc.h"
#include "util/map_files.h"
#include "util/msg.h"
#include "util/skel.h"
#include "util/tls.h"
#include "util/vstr.h"

/* Longest wait for one DNS answer while naming the client, and tries. */
#define SMTPD_DNS_TIMEOUT 3
#define SMTPD_DNS_TRIES	  2
#define SMTPD_RES_OPTIONS "timeout:3 attempts:2"
/* Longest wait for anvil's answer: past it the client goes unlimited. */
#define SMTPD_ANVIL_TIMEOUT_MS 3000

struct smtpd_app {
	struct smtpd_params par;
	SMTPD_CHECK	   *check;
	const CFG	   *cfg;
	const char   *exclusions; /* smtpd_forbid_bare_newline_exclusions */
	bool	      peername_lookup;
	TLS_CTX	     *tls;	  /* NULL: no TLS */
	const char   *tls_digest; /* smtpd_tls_fingerprint_digest */
	DICT_LIST    *sni_maps;	  /* tls_server_sni_maps, or NULL */
	SMTPD_SPF    *spf;	  /* NULL: spf_enable = no */
	DNS	     *spf_dns;
	ANVIL_CLIENT *anvil;		/* NULL: no client limits */
	bool	      upstream_haproxy; /* smtpd_upstream_proxy_protocol */
	int	      upstream_timeout_ms;
};

/* hooks->read/write context: the socket, and TLS once it is up. */
struct smtpd_conn {
	int	    fd;
	TLS_SESS   *tls;
	const char *peer; /* "name[addr]" for TLS logs */
};

static ssize_t
smtpd_sock_read(void *io, void *buf, size_t len, int timeout_ms)
{
	struct smtpd_conn *conn = io;
	int		   fd = conn->fd;
	struct pollfd	   pfd = { .fd = fd, .events = POLLIN };
	int		   n;

	if (conn->tls)
		return tls_read(conn->tls, buf, len, timeout_ms);

	for (;;) {
		n = poll(&pfd, 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ssize_t got = read(fd, buf, len);

		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return got;
	}
}

static int
smtpd_sock_write(void *io, const void *buf, size_t len, int timeout_ms)
{
	struct smtpd_conn *conn = io;

	if (conn->tls)
		return tls_write(conn->tls, buf, len, timeout_ms);
	return write_full(conn->fd, buf, len, timeout_ms) < 0 ? -1 : 0;
}

static void
smtpd_sleep(int seconds)
{
	struct timespec ts = { .tv_sec = seconds };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int
smtpd_hook_check(void *ctx, enum smtpd_check_stage stage,
		 const struct smtpd_check_facts *facts,
		 struct smtpd_check_result	*res)
{
	struct smtpd_app *app = ctx;

	return smtpd_check(app->check, stage, facts, res);
}

static bool
smtpd_hook_mynetworks(void *ctx, const char *addr)
{
	struct smtpd_app *app = ctx;

	return smtpd_check_mynetworks(app->check, addr);
}

static CLEANUP_CLIENT *
smtpd_hook_cleanup_begin(void *ctx, const struct cleanup_req *req, VSTR *why)
{
	struct smtpd_app *app = ctx;

	return cleanup_begin(app->cfg, req, why);
}

static int
smtpd_hook_tls_start(void *io, void *ctx, int timeout_ms, VSTR *info,
		     struct smtpd_tls_cert *cert, VSTR *why)
{
	struct smtpd_conn *conn = io;
	struct smtpd_app  *app = ctx;

	if ((conn->tls = tls_server_start(app->tls, conn->fd, timeout_ms,
					  conn->peer, why))
	    == NULL)
		return -1;
	tls_describe(conn->tls, info);
	vstr_strcpy(cert->subject, tls_peer_cn(conn->tls));
	vstr_strcpy(cert->issuer, tls_issuer_cn(conn->tls));
	/* Without a certificate both fail and leave the strings empty. */
	cert->present = tls_peer_fingerprint(conn->tls, app->tls_digest, false,
					     cert->fingerprint)
			== 0;
	(void)tls_peer_fingerprint(conn->tls, app->tls_digest, true,
				   cert->pkey_fingerprint);
	cert->trusted = cert->present && tls_trust(conn->tls) != TLS_TRUST_NONE;
	return 0;
}

static enum dns_status
smtpd_spf_lookup(void *ctx, const char *name, int type, DNS_REPLY *reply,
		 VSTR *why)
{
	return dns_lookup(ctx, name, type, reply, why);
}

static int
smtpd_hook_spf(void *ctx, const struct smtpd_spf_query *q,
	       struct smtpd_spf_outcome *o)
{
	struct smtpd_app *app = ctx;

	return smtpd_spf_check(app->spf, q, o);
}

/*
 * SPF (spf_enable): one libspf2 server per process, with its own
 * resolver state from dns_nameservers (or /etc/resolv.conf, read now,
 * before the chroot).
 */
static void
smtpd_spf_init(struct smtpd_app *app, const CFG *cfg, VSTR *why)
{
	if (!cfg_get_bool(cfg, "spf_enable"))
		return;
	if ((app->spf_dns = dns_open(cfg)) == NULL)
		msg_fatal_status(78, "spf_enable: DNS resolver setup failed "
				     "(see dns_nameservers)");
	if ((app->spf = smtpd_spf_create(app->par.myhostname, smtpd_spf_lookup,
					 app->spf_dns, why))
	    == NULL)
		msg_fatal_status(78, "%s", VSTR_STR(why));
}

static int
smtpd_hook_anvil(void *ctx, enum anvil_req req, const char *ident,
		 struct anvil_reply *rp, VSTR *why)
{
	struct smtpd_app *app = ctx;

	return anvil_client_request(app->anvil, req, ident, rp, why);
}

static int
smtpd_hook_flush(void *ctx, const char *site)
{
	struct smtpd_app *app = ctx;
	VSTR		 *why = vstr_alloc(64);
	int		  ret;

	if ((ret = flush_send_site(app->cfg, site, why)) == FLUSH_STAT_FAIL)
		msg_warn("ETRN %.100s: %s", site, VSTR_STR(why));
	vstr_free(why);
	return ret;
}

static const struct smtpd_hooks smtpd_real_hooks = {
	.read = smtpd_sock_read,
	.write = smtpd_sock_write,
	.sleep = smtpd_sleep,
	.check = smtpd_hook_check,
	.mynetworks = smtpd_hook_mynetworks,
	.cleanup_begin = smtpd_hook_cleanup_begin,
	.cleanup_write = cleanup_write,
	.cleanup_finish = cleanup_finish,
	.cleanup_abort = cleanup_abort,
	.cleanup_flags = cleanup_add_flags,
	.tls_start = smtpd_hook_tls_start,
	.spf = smtpd_hook_spf,
	.anvil = smtpd_hook_anvil,
	.flush = smtpd_hook_flush,
};

/*
 * tls_server_sni_maps: one key, its value built by "postelmap -F" (the
 * base64 of the PEM files), decoded for util/tls.
 */
static int
smtpd_sni_lookup(void *ctx, const char *key, VSTR *pem, VSTR *why)
{
	struct smtpd_app *app = ctx;
	const char	 *value;
	int		  ret;

	if ((ret = dict_list_lookup(app->sni_maps, key, &value)) < 0) {
		vstr_sprintf(why, "tls_server_sni_maps lookup of \"%s\" failed",
			     key);
		return -1;
	}
	if (ret == 0)
		return 0;
	return map_files_decode(value, pem, why) < 0 ? -1 : 1;
}

/*
 * Read the certificates before the chroot.  A broken setup is fatal in
 * wrapper mode (nothing could be served); otherwise the server warns and
 * carries on without STARTTLS, so "encrypt" then refuses mail with 530
 * instead of the service dying on every connection.
 */
static void
smtpd_tls_init(struct smtpd_app *app, const CFG *cfg)
{
	const struct smtpd_tls_params *tp = &app->par.tls;
	struct tls_server_opts	       o;
	bool  mandatory = tp->level == SMTPD_TLS_ENCRYPT || tp->wrappermode;
	VSTR *why;

	if (tp->level == SMTPD_TLS_NONE && !tp->wrappermode)
		return;
	app->tls_digest = cfg_get_str(cfg, "smtpd_tls_fingerprint_digest");
	if (!tls_digest_ok(app->tls_digest))
		msg_fatal_status(78,
				 "bad smtpd_tls_fingerprint_digest value: "
				 "\"%s\" (a digest name such as md5, sha1 "
				 "or sha256)",
				 app->tls_digest);
	memset(&o, 0, sizeof(o));
	o.cert_file = cfg_get_str(cfg, "smtpd_tls_cert_file");
	o.key_file = cfg_get_str(cfg, "smtpd_tls_key_file");
	o.chain_files = cfg_get_str(cfg, "smtpd_tls_chain_files");
	o.protocols = cfg_get_str(cfg, mandatory
					   ? "smtpd_tls_mandatory_protocols"
					   : "smtpd_tls_protocols");
	o.ciphers = cfg_get_str(cfg, mandatory ? "smtpd_tls_mandatory_ciphers"
					       : "smtpd_tls_ciphers");
	o.exclude = cfg_get_str(cfg, "smtpd_tls_exclude_ciphers");
	o.CAfile = cfg_get_str(cfg, "smtpd_tls_CAfile");
	o.CApath = cfg_get_str(cfg, "smtpd_tls_CApath");
	o.ask_ccert = cfg_get_bool(cfg, "smtpd_tls_ask_ccert");
	o.loglevel = (int)cfg_get_int(cfg, "smtpd_tls_loglevel");
	o.cache_timeout = (long)cfg_get_time(cfg,
					     "smtpd_tls_session_cache_timeout");
	why = vstr_alloc(100);
	/* The tables are opened now, before the chroot, like every map. */
	if (*cfg_get_str(cfg, "tls_server_sni_maps")) {
		if ((app->sni_maps =
			 dict_list_open(cfg_get_str(cfg, "tls_server_sni_maps"),
					DICT_FLAG_FOLD, why))
		    == NULL)
			msg_fatal_status(78, "tls_server_sni_maps: %s",
					 VSTR_STR(why));
		o.sni_lookup = smtpd_sni_lookup;
		o.sni_ctx = app;
	}
	if ((app->tls = tls_server_ctx(&o, why)) == NULL) {
		if (tp->wrappermode)
			msg_fatal_status(78,
					 "TLS wrapper mode needs TLS, which "
					 "cannot be set up: %s",
					 VSTR_STR(why));
		msg_warn("cannot set up TLS, STARTTLS is not offered: %s",
			 VSTR_STR(why));
	}
	vstr_free(why);
}

/* smtpd_upstream_proxy_protocol: empty, or haproxy (Postfix's names). */
static void
smtpd_upstream_init(struct smtpd_app *app, const CFG *cfg)
{
	const char *proto = cfg_get_str(cfg, "smtpd_upstream_proxy_protocol");

	if (*proto == 0)
		return;
	if (strcmp(proto, "haproxy") != 0)
		msg_fatal_status(78,
				 "unsupported smtpd_upstream_proxy_protocol "
				 "value: \"%s\" (empty or haproxy)",
				 proto);
	app->upstream_haproxy = true;
	app->upstream_timeout_ms =
	    (int)cfg_get_time(cfg, "smtpd_upstream_proxy_timeout") * 1000;
}

static void
smtpd_pre_jail(struct skel_ctx *ctx)
{
	static struct smtpd_app app;
	VSTR		       *why = vstr_alloc(100);

	smtpd_params_load(&app.par, ctx->cfg);
	smtpd_anvil_params_load(&app.par.anvil, ctx->cfg, ctx->service);
	if (app.par.anvil.enabled) {
		/* Connected on first use, inside the chroot. */
		vstr_sprintf(why, "private/%s",
			     cfg_get_str(ctx->cfg, "anvil_service_name"));
		app.anvil = anvil_client_create(VSTR_STR(why),
						SMTPD_ANVIL_TIMEOUT_MS);
	}
	app.cfg = ctx->cfg;
	app.exclusions = cfg_get_str(ctx->cfg,
				     "smtpd_forbid_bare_newline_exclusions");
	app.peername_lookup = cfg_get_bool(ctx->cfg, "smtpd_peername_lookup");
	smtpd_upstream_init(&app, ctx->cfg);
	debug_peer_init(ctx->cfg);
	if ((app.check = smtpd_check_create(ctx->cfg, why)) == NULL)
		msg_fatal_status(78, "%s", VSTR_STR(why));
	/*
	 * Cyrus loads its plugins and reads its config before the chroot;
	 * Dovecot's socket is reached later, relative to the queue.
	 */
	if (smtpd_sasl_init(ctx->cfg, why) < 0)
		msg_fatal_status(78, "%s", VSTR_STR(why));
	smtpd_spf_init(&app, ctx->cfg, why);
	vstr_free(why);
	smtpd_tls_init(&app, ctx->cfg);

	/*
	 * Naming a client must not hold it up for long: a silent DNS server
	 * costs at most SMTPD_DNS_TIMEOUT * SMTPD_DNS_TRIES per query.  glibc
	 * applies RES_OPTIONS each time it (re)reads resolv.conf, which it
	 * does again inside the chroot; an admin's own setting wins.
	 */
	(void)setenv("RES_OPTIONS", SMTPD_RES_OPTIONS, 0);
	if (res_init() == 0) {
		_res.retrans = SMTPD_DNS_TIMEOUT;
		_res.retry = SMTPD_DNS_TRIES;
	}
	ctx->app = &app;
}

static void
smtpd_pre_exit(struct skel_ctx *ctx)
{
	struct smtpd_app *app = ctx->app;

	if (app) {
		app->check = smtpd_check_free(app->check);
		app->tls = tls_ctx_free(app->tls);
		app->sni_maps = dict_list_close(app->sni_maps);
		app->spf = smtpd_spf_free(app->spf);
		app->spf_dns = dns_close(app->spf_dns);
		app->anvil = anvil_client_free(app->anvil);
	}
}

static void
smtpd_service(struct skel_ctx *ctx, int fd)
{
	struct smtpd_app       *app = ctx->app;
	struct sockaddr_storage ss;
	socklen_t		sslen = sizeof(ss);
	struct sockaddr_storage dss;
	socklen_t		dsslen = sizeof(dss);
	int			proxied = 0;
	struct smtpd_peer	peer;
	struct smtpd_hooks	hooks = smtpd_real_hooks;
	struct smtpd_conn	conn = { .fd = fd };
	SMTPD_STATE	       *st;
	VSTR		       *namaddr = vstr_alloc(100);
	VSTR		       *name = vstr_alloc(64);
	VSTR		       *addr = vstr_alloc(64);
	VSTR		       *port = vstr_alloc(16);
	VSTR		       *saddr = vstr_alloc(64);
	VSTR		       *sport = vstr_alloc(16);
	bool			debug;
	bool			remote = true;

	/*
	 * A load balancer in front names the client first (haproxy.h):
	 * proxied 1, and ss/dss hold the client's and our end's addresses.
	 */
	if (app->upstream_haproxy && ctx->pass_info != NULL)
		msg_warn("ignoring non-empty smtpd_upstream_proxy_protocol "
			 "setting behind postscreen");
	else if (app->upstream_haproxy && !ctx->standalone
		 && (proxied = smtpd_peer_haproxy(fd, app->upstream_timeout_ms,
						  &ss, &sslen, &dss, &dsslen))
			< 0) {
		/* As Postfix: no greeting, we do not know who this is. */
		msg_info("connect from unknown[unknown]");
		msg_info("disconnect from unknown[unknown] commands=0/0");
		goto out;
	}
	/* A pass service's hand-off may say who the client is. */
	if (proxied > 0) {
		if (smtpd_peer_lookup((struct sockaddr *)&ss, sslen,
				      app->peername_lookup ? name : NULL, addr,
				      port)
		    < 0) {
			msg_warn("cannot print the client's address: closing");
			goto out;
		}
	} else if (smtpd_peer_sockaddr(fd, ctx->pass_info, true, &ss, &sslen)
		   < 0) {
		/* Stand-alone (-S) or a local socket: a local client. */
		remote = false;
		vstr_strcpy(name, "localhost");
		vstr_strcpy(addr, "127.0.0.1");
		vstr_strcpy(port, "0");
	} else if (smtpd_peer_lookup((struct sockaddr *)&ss, sslen,
				     app->peername_lookup ? name : NULL, addr,
				     port)
		   < 0) {
		msg_warn("cannot print the client's address: closing");
		goto out;
	}
	if (!app->peername_lookup)
		vstr_strcpy(name, "unknown");
	peer.name = VSTR_STR(name);
	peer.addr = VSTR_STR(addr);
	peer.port = VSTR_STR(port);
	peer.server_addr = peer.server_port = NULL;
	if (proxied > 0) {
		ss = dss;
		sslen = dsslen;
	}
	if ((proxied > 0
	     || smtpd_peer_sockaddr(fd, ctx->pass_info, false, &ss, &sslen)
		    == 0)
	    && smtpd_peer_lookup((struct sockaddr *)&ss, sslen, NULL, saddr,
				 sport)
		   == 0) {
		peer.server_addr = VSTR_STR(saddr);
		peer.server_port = VSTR_STR(sport);
	}
	peer.bare_normalize = smtpd_peer_match_list(app->exclusions,
						    VSTR_STR(addr));
	msg_info("connect from %s[%s]", peer.name, peer.addr);
	vstr_sprintf(namaddr, "%s[%s]", peer.name, peer.addr);
	conn.peer = VSTR_STR(namaddr);
	if (app->tls == NULL)
		hooks.tls_start = NULL;
	if (app->spf == NULL)
		hooks.spf = NULL;
	/* As Postfix: stand-alone and local clients are not counted. */
	if (app->anvil == NULL || ctx->standalone || !remote)
		hooks.anvil = NULL;
	/* As Postfix: no ETRN in stand-alone ("sendmail -bs") mode. */
	if (ctx->standalone)
		hooks.flush = NULL;
	/* debug_peer_list: verbose for this client only. */
	debug = debug_peer_check(peer.name, peer.addr);
	st = smtpd_state_create(&app->par, &hooks, &conn, app, &peer);
	smtpd_session(st);
	smtpd_state_free(st);
	if (debug)
		debug_peer_restore();
	conn.tls = tls_sess_free(conn.tls);
out:
	vstr_free(namaddr);
	vstr_free(name);
	vstr_free(addr);
	vstr_free(port);
	vstr_free(saddr);
	vstr_free(sport);
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .pre_jail = smtpd_pre_jail,
				    .pre_exit = smtpd_pre_exit,
				    .service = smtpd_service,
				});
}
