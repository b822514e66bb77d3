/*
 * dnsblog - DNS allow/denylist lookups for postscreen, and their log.
 *
 * master.cf: `dnsblog unix - - y - 0 dnsblog` (socket private/dnsblog,
 * dnsblog_service_name).  postscreen opens one connection per list
 * domain and client and sends one frame {domain, addr, id}; dnsblog asks
 * for the A records of the reversed address under the domain (IPv4
 * octets reversed, IPv6 as nibbles: util/dns; an IPv4-mapped IPv6
 * address as its IPv4 form), answers one frame
 * {domain, addr, id, result, ttl} with the records as space-separated
 * dotted quads ("" when not listed or when the lookup failed) and the
 * smallest TTL among them (-1 without records) and closes.  Each
 * record found is logged as Postfix's dnsblog logs it, so fail2ban
 * filters and operators' greps work:
 *
 *	addr 192.0.2.7 listed by domain zen.example as 127.0.0.4
 *
 * The resolver honours dns_nameservers, dns_timeout and dns_attempts and
 * is set up before the chroot (pre_jail).  Several lookups run at once
 * because master runs as many dnsblog processes as postscreen asks for.
 *
 * Errors: a lookup that fails for a temporary reason (timeout, SERVFAIL)
 * gets an empty result and a warning; a malformed request (missing or
 * bad attributes) gets a warning and no reply, which postscreen counts
 * as "not listed".
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/cfg.h"
#include "util/dns.h"
#include "util/dnsbl.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"
#include "util/vstr.h"

#define DNSBLOG_REQUEST_MAX 1024 /* bytes of one request frame */

struct dnsblog {
	DNS	  *dns;
	DNS_REPLY *reply;
	VSTR	  *query;
	VSTR	  *result;
	VSTR	  *why;
	long long  ttl; /* of the last lookup's records, -1: none */
};

/*
 * The name to ask for: an IPv4-mapped IPv6 address (::ffff:192.0.2.7, as
 * a dual-stack listener sees IPv4 clients) is listed under its IPv4 form.
 * 0, or -1 when addr is not an IP address.
 */
static int
dnsblog_query_name(VSTR *query, const char *addr, const char *domain)
{
	struct in6_addr a6;
	char		v4[INET_ADDRSTRLEN];

	if (inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_V4MAPPED(&a6)
	    && inet_ntop(AF_INET, &a6.s6_addr[12], v4, sizeof(v4)) != NULL)
		return dns_reverse_name(query, v4, domain);
	return dns_reverse_name(query, addr, domain);
}

/* Fill result with the A records for addr under domain; logs as it goes. */
static void
dnsblog_lookup(struct dnsblog *db, const char *domain, const char *addr)
{
	vstr_reset(db->result);
	db->ttl = -1;
	switch (dns_lookup(db->dns, VSTR_STR(db->query), DNS_TYPE_A, db->reply,
			   db->why)) {
	case DNS_OK:
		for (size_t i = 0; i < db->reply->count; i++) {
			const char *rec = VSTR_STR(db->reply->rr[i].data);

			msg_info("addr %s listed by domain %s as %s", addr,
				 domain, rec);
			if (VSTR_LEN(db->result) > 0)
				vstr_addch(db->result, ' ');
			vstr_strcat(db->result, rec);
			if (db->ttl < 0 || db->reply->rr[i].ttl < db->ttl)
				db->ttl = db->reply->rr[i].ttl;
		}
		break;
	case DNS_NOTFOUND:
		if (msg_verbose)
			msg_info("addr %s not listed by domain %s", addr,
				 domain);
		break;
	case DNS_TEMPFAIL:
		msg_warn("lookup error for DNS query %s: %s",
			 VSTR_STR(db->query), VSTR_STR(db->why));
		break;
	}
}

static void
dnsblog_service(struct skel_ctx *ctx, int fd)
{
	struct dnsblog *db = ctx->app;
	long long	secs = cfg_get_time(ctx->cfg, "ipc_timeout");
	int   timeout = secs > 0 && secs < 86400 ? (int)secs * 1000 : 3600000;
	ATTR *in = attr_alloc();
	ATTR *out = attr_alloc();
	IPC_STREAM *st;
	const char *domain, *addr, *id;

	if ((fd = dup(fd)) < 0) {
		msg_warn("%s: dup: %m", ctx->service);
		goto out;
	}
	st = ipc_stream_open(fd);
	ipc_stream_set_max(st, DNSBLOG_REQUEST_MAX);
	if (ipc_stream_recv(st, in, timeout, db->why) < 0) {
		/* A client that connects and closes is no error. */
		if (errno != 0)
			msg_warn("%s: read request: %s", ctx->service,
				 VSTR_STR(db->why));
		goto close;
	}
	domain = attr_get_str(in, "domain");
	addr = attr_get_str(in, "addr");
	id = attr_get_str(in, "id");
	if (domain == NULL || addr == NULL || id == NULL) {
		msg_warn("%s: malformed request: domain, addr and id are "
			 "required",
			 ctx->service);
		goto close;
	}
	if (!dnsbl_domain_valid(domain)) {
		msg_warn("%s: malformed request: bad domain name \"%s\"",
			 ctx->service, domain);
		goto close;
	}
	if (dnsblog_query_name(db->query, addr, domain) < 0) {
		msg_warn("%s: malformed request: bad address \"%s\"",
			 ctx->service, addr);
		goto close;
	}
	dnsblog_lookup(db, domain, addr);
	attr_put_str(out, "domain", domain);
	attr_put_str(out, "addr", addr);
	attr_put_str(out, "id", id);
	attr_put_str(out, "result", VSTR_STR(db->result));
	attr_put_int(out, "ttl", db->ttl);
	if (ipc_stream_send(st, out, timeout) < 0)
		msg_warn("%s: send reply for %s to domain %s: %m", ctx->service,
			 addr, domain);
close:
	ipc_stream_close(st);
out:
	attr_free(in);
	attr_free(out);
}

static void
dnsblog_pre_jail(struct skel_ctx *ctx)
{
	struct dnsblog *db = mycalloc(1, sizeof(*db));

	if ((db->dns = dns_open(ctx->cfg)) == NULL)
		msg_fatal("%s: cannot set up the resolver (see the warning "
			  "above)",
			  ctx->service);
	db->reply = dns_reply_alloc();
	db->query = vstr_alloc(100);
	db->result = vstr_alloc(64);
	db->why = vstr_alloc(64);
	ctx->app = db;
}

static void
dnsblog_pre_exit(struct skel_ctx *ctx)
{
	struct dnsblog *db = ctx->app;

	if (db == NULL)
		return;
	dns_close(db->dns);
	dns_reply_free(db->reply);
	vstr_free(db->query);
	vstr_free(db->result);
	vstr_free(db->why);
	myfree(db);
	ctx->app = NULL;
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .pre_jail = dnsblog_pre_jail,
				    .service = dnsblog_service,
				    .pre_exit = dnsblog_pre_exit,
				});
}
