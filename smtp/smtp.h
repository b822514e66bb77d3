/*
 * smtp - the SMTP/LMTP client daemon's internal interfaces.
 *
 * smtp.c runs the request loop on one qmgr connection and the delivery
 * of one request (try addresses until every recipient has a final
 * answer); smtp_connect.c turns a next hop into an ordered address list
 * and opens TCP connections; smtp_session.c holds one server connection
 * (buffered, timed I/O) and the one-entry connection cache;
 * smtp_proto.c speaks the protocol (greeting, EHLO/LHLO/HELO,
 * MAIL/RCPT/DATA with pipelining, RSET, QUIT); smtp_rcpt.c keeps the
 * per-recipient results; smtp_reply.c parses replies; smtp_log.c writes
 * the Postfix-format delivery lines; smtp_sasl.c authenticates with AUTH
 * after EHLO/STARTTLS (util/sasl.h).
 *
 * Errors: nothing here is fatal after start-up except allocation.  I/O
 * and protocol failures become per-recipient results (struct smtp_rcpt)
 * that end up in the reply to qmgr and in the log.
 *
 * Ownership: every structure belongs to the SMTP_STATE of the process or
 * to the delivery in progress; strings handed to qmgr are borrowed from
 * the SMTP_DELIVERY until the next request.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef SMTP_SMTP_H
#define SMTP_SMTP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "smtp/smtp_reply.h"
#include "util/cfg.h"
#include "util/deliver_proto.h"
#include "util/dns.h"
#include "util/mta_sts.h"
#include "util/tls.h"
#include "util/vstr.h"

/* Settings read once at start-up (smtp.c). */
struct smtp_conf {
	const char *helo_name;
	int	    connect_timeout; /* seconds, each */
	int	    helo_timeout;
	int	    mail_timeout;
	int	    rcpt_timeout;
	int	    data_init_timeout;
	int	    data_xfer_timeout;
	int	    data_done_timeout;
	int	    quit_timeout;
	int	    mx_address_limit; /* 0: no limit */
	int	    mx_session_limit; /* 0: no limit */
	bool	    skip_5xx_greeting;
	bool	    never_send_ehlo;
	bool	    always_send_ehlo; /* no: HELO unless greeted "ESMTP" */
	const char *bind_address;     /* smtp_bind_address, "" = none */
	const char *bind_address6;    /* smtp_bind_address6 */
	bool	    use_dns;	      /* smtp_host_lookup has "dns" */
	bool	    use_native;	      /* smtp_host_lookup has "native" */
	bool	    ipv4, ipv6;	      /* inet_protocols */
	bool	    prefer_ipv6;      /* smtp_address_preference */
	bool	    prefer_ipv4;
	int	    line_length_limit; /* 0: none */
	int	    cache_time_limit;  /* idle seconds a session is kept */
	int	    reuse_time_limit;  /* seconds a session may be reused */
	bool	    send_xforward;     /* smtp_send_xforward_command */
	bool	    lmtp;	       /* service name "lmtp" */
	int	    default_port;      /* 25, or 24 for LMTP */
};

/* Server capabilities from the EHLO reply. */
#define SMTP_FEATURE_ESMTP	(1 << 0)
#define SMTP_FEATURE_PIPELINING (1 << 1)
#define SMTP_FEATURE_SIZE	(1 << 2)
#define SMTP_FEATURE_8BITMIME	(1 << 3)
#define SMTP_FEATURE_DSN	(1 << 4)
#define SMTP_FEATURE_SMTPUTF8	(1 << 5)
#define SMTP_FEATURE_STARTTLS	(1 << 6)
#define SMTP_FEATURE_AUTH	(1 << 7)
#define SMTP_FEATURE_XFORWARD	(1 << 8)
#define SMTP_FEATURE_REQUIRETLS (1 << 9) /* RFC 8689, offered inside TLS */

/* One connection to one server address. */
typedef struct SMTP_SESSION {
	int	    fd;
	VSTR	   *host; /* server name (MX host) */
	VSTR	   *addr; /* printable IP address */
	int	    port;
	VSTR	   *nexthop; /* cache key: the request's nexthop */
	VSTR	   *namaddr; /* "host[addr]" for messages */
	VSTR	   *relay;   /* "host[addr]:port" for logs */
	VSTR	   *rbuf;    /* bytes read, not yet consumed */
	size_t	    rpos;
	VSTR	   *wbuf; /* commands queued for one write */
	VSTR	   *line;
	SMTP_REPLY *reply;	/* the last reply read */
	int	    features;	/* SMTP_FEATURE_* */
	int	    xforward;	/* XFORWARD attributes offered (1 << attr) */
	long long   size_limit; /* EHLO SIZE, 0: none announced */
	int	    use_count;	/* transactions done */
	bool	    broken;	/* I/O failed: no QUIT, no reuse */
	bool	    tls;	/* TLS is up (set by smtp_tls.c) */
	TLS_SESS   *tlss;	/* the TLS session when tls */
	time_t	    created;
	bool	    debug_peer; /* debug_peer_list raised msg_verbose */

	/* How the certificate was verified (issue 14: DANE, MTA-STS). */
	enum smtp_tls_verified {
		SMTP_TLS_VERIFIED_NONE,
		SMTP_TLS_VERIFIED_DANE,
		SMTP_TLS_VERIFIED_STS
	} tls_verified;
} SMTP_SESSION;

/* Process state, ctx->app. */
typedef struct SMTP_STATE {
	CFG		    *cfg;
	struct smtp_conf     conf;
	DNS		    *dns;
	DNS_REPLY	    *dns_reply;
	DNS_REPLY	    *dns_reply2;
	SMTP_SESSION	    *cached; /* idle session kept for reuse */
	time_t		     cached_since;
	struct smtp_sasl    *sasl;    /* smtp_sasl.c; NULL: no AUTH */
	struct smtp_tls	    *tls;     /* smtp_tls.c */
	struct smtp_generic *generic; /* smtp_generic.c; NULL: no maps */
	struct smtp_tlsrpt  *tlsrpt;  /* smtp_tlsrpt.c */

	/* smtp_sts.c */
	bool	    sts_enable;	 /* smtp_mta_sts_enable (SMTP only) */
	int	    sts_wait_ms; /* longest wait for mtasts */
	const char *relayhost;	 /* no MTA-STS for it */
} SMTP_STATE;

/* Per-recipient result during one delivery. */
struct smtp_rcpt {
	bool		    final;    /* has its final answer */
	bool		    accepted; /* RCPT got 2xx in this transaction */
	enum deliver_action action;   /* when final; DEFERRED meanwhile */
	char		    dsn[DELIVER_DSN_MAX];
	VSTR		   *reply;	/* for qmgr/bounce (raw server reply) */
	VSTR		   *log;	/* text between the log's parentheses */
	VSTR		   *relay;	/* "host[ip]:port" or "none" */
	VSTR		   *remote_mta; /* server name, "" when none */
	bool		    diag_smtp;	/* reply is a server reply */
};

/* One delivery request in progress. */
typedef struct SMTP_DELIVERY {
	const struct deliver_request *req;
	struct smtp_rcpt	     *rcpt;	/* req->nrcpt entries */
	size_t			      npending; /* entries not final */
	int			      qfd;	/* queue file */
	bool need_smtputf8;   /* UTF-8 in envelope or headers */
	bool tls_required_no; /* the message has "TLS-Required: No" */
	/* REQUIRETLS applies: req->requiretls, and SMTP (not LMTP, which
	 * is final delivery, not relay). */
	bool   requiretls;
	double t_start;	 /* request received */
	double t_conn;	 /* session ready (after EHLO) */
	int    conn_use; /* use count of the session (1 = new) */

	struct smtp_sts *sts; /* MTA-STS policy applied, or NULL */
} SMTP_DELIVERY;

/* Results of protocol steps. */
enum smtp_step {
	SMTP_STEP_OK,	/* go on; session usable */
	SMTP_STEP_NEXT, /* session unusable: close it, try the
					 * next host */
};

/* smtp_rcpt.c: results, used by the protocol code */
double smtp_now(void);
/* Give every pending recipient a soft (kept pending) or final result. */
void
     smtp_rcpt_result(SMTP_DELIVERY *d, size_t i, bool final,
		      enum deliver_action action, const char *dsn,
		      const SMTP_SESSION *s, const SMTP_REPLY *r, const char *fmt,
		      ...) __attribute__((format(printf, 8, 9)));
void smtp_rcpt_all(SMTP_DELIVERY *d, bool final, enum deliver_action action,
		   const char *dsn, const SMTP_SESSION *s, const SMTP_REPLY *r,
		   const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* smtp_connect.c */
struct smtp_addr {
	char	      host[DNS_NAME_MAX + 1];
	char	      ip[INET6_ADDRSTRLEN];
	int	      family; /* AF_INET, AF_INET6 */
	unsigned char bytes[16];
	int	      pref;
};

typedef struct SMTP_ADDRS {
	struct smtp_addr *v;
	size_t		  n;
	size_t		  cap;
} SMTP_ADDRS;

struct smtp_mx {
	const char *host;
	int	    pref;
};

enum smtp_find {
	SMTP_FIND_OK,
	SMTP_FIND_DEFER,
	SMTP_FIND_BOUNCE,
};

/*
 * "[host]:port", "[host]", "host:port", "host" -> host, port, and
 * whether MX lookup is skipped (brackets).  0, or -1 (why) if malformed.
 */
int smtp_nexthop_parse(const char *nexthop, int default_port, VSTR *host,
		       int *port, bool *no_mx, VSTR *why);
/* Sort by preference, shuffling hosts of equal preference with rnd. */
void
smtp_mx_order(struct smtp_mx *mx, size_t n, unsigned (*rnd)(void *), void *ctx);
void smtp_addrs_add(SMTP_ADDRS *list, const char *host, int family,
		    const void *bytes, int pref);
void smtp_addrs_free(SMTP_ADDRS *list);
/* Keep at most limit addresses (0: all). */
void smtp_addrs_limit(SMTP_ADDRS *list, int limit);
/*
 * The addresses to try for host.  DEFER/BOUNCE come with dsn and why
 * (e.g. null MX: 5.1.10).
 */
enum smtp_find smtp_addr_find(SMTP_STATE *st, const char *host, bool no_mx,
			      SMTP_ADDRS *out, char *dsn, VSTR *why);
/* Non-blocking connect bounded by timeout; fd or -1 with why. */
int
smtp_connect_addr(const struct smtp_addr *a, int port, int timeout, VSTR *why);
/*
 * The same from a chosen local address (smtp_bind_address and
 * smtp_bind_address6; NULL or "" lets the kernel choose).
 */
int smtp_connect_bind(const struct smtp_addr *a, int port, int timeout,
		      const char *bind_addr, VSTR *why);

/* smtp_session.c */
SMTP_SESSION *smtp_session_alloc(int fd, const char *host, const char *addr,
				 int port, const char *nexthop);
SMTP_SESSION *smtp_session_free(SMTP_SESSION *s);
/* Queue a command line (CRLF added) for the next flush. */
void smtp_session_queue(SMTP_SESSION *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Write queued commands; 0 / -1 errno. */
int smtp_session_flush(SMTP_SESSION *s, int timeout);
int
smtp_session_write(SMTP_SESSION *s, const void *buf, size_t len, int timeout);
/* Read one reply into s->reply; 0 / -1 errno (ETIMEDOUT, ECONNRESET
 * for end of file, EPROTO for a malformed reply). */
int smtp_session_read(SMTP_SESSION *s, int timeout);
/* Take the cached session for nexthop, if any and still young. */
SMTP_SESSION *smtp_session_cache_take(SMTP_STATE *st, const char *nexthop);
void	      smtp_session_cache_put(SMTP_STATE *st, SMTP_SESSION *s);
/* QUIT and close the cached session. */
void smtp_session_cache_flush(SMTP_STATE *st);

/* smtp_proto.c */
/* Greeting and EHLO/HELO/LHLO on a new session. */
enum smtp_step
smtp_proto_helo(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d);
/* One mail transaction for the pending recipients. */
enum smtp_step
smtp_proto_xfer(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d);
/* RSET before reusing a session; 0 / -1. */
int smtp_proto_rset(SMTP_STATE *st, SMTP_SESSION *s);
/* QUIT (reply awaited briefly) and free. */
SMTP_SESSION *smtp_proto_quit(SMTP_STATE *st, SMTP_SESSION *s);
/* Content state across records: dot-stuffing and line folding. */
struct smtp_data {
	bool   bol; /* at the beginning of a line */
	bool   cr;  /* a CR ended the last piece */
	bool   in_header;
	size_t llen;  /* bytes in the current line */
	size_t limit; /* fold longer lines; 0: never */
};

/*
 * Append content to out, dot-stuffed and folded (state in sd); CRLF, a
 * bare CR and a bare LF all end a line and leave as CRLF.  _end ends the
 * last line (a CR still pending, a line without its end).
 */
void
smtp_proto_stuff(struct smtp_data *sd, VSTR *out, const char *p, size_t len);
void smtp_proto_stuff_end(struct smtp_data *sd, VSTR *out);
/* Does the message need SMTPUTF8 (non-ASCII envelope or header)? */
bool smtp_proto_need_utf8(const struct deliver_request *req, int qfd);
/*
 * Does the header section carry "TLS-Required: No" (RFC 8689 5)?  Always
 * false for a REQUIRETLS message, where the field is ignored.
 */
bool smtp_proto_tls_required_no(const struct deliver_request *req, int qfd);
/*
 * RFC 8689 4.2.1: may this REQUIRETLS message go over session s (TLS,
 * certificate verified by DANE or MTA-STS, REQUIRETLS offered)?  True, or
 * false with the reason in why.
 */
bool smtp_proto_requiretls_ok(const SMTP_SESSION *s, VSTR *why);

/* smtp_xforward.c */
/* EHLO: which XFORWARD attributes the server offers (s->reply). */
void smtp_xforward_features(SMTP_SESSION *s);
/*
 * The XFORWARD commands for this delivery: the original client from the
 * queue file, only the attributes the server offers, each line under
 * 512 bytes and ended by "\n" in out.  0, or -1 (why) when the queue
 * file cannot be read.
 */
int smtp_xforward_lines(const SMTP_SESSION *s, const SMTP_DELIVERY *d,
			VSTR *out, VSTR *why);

/* smtp_tls.c */
/* pre_jail: TLS settings, policy tables, client context; fatal if bad. */
void smtp_tls_init(SMTP_STATE *st, const CFG *cfg);
void smtp_tls_free(SMTP_STATE *st);
/*
 * After EHLO: STARTTLS and EHLO again as the TLS policy of the next hop
 * wants (smtp_tls_security_level, smtp_tls_policy_maps, DANE).  NEXT
 * (recipients deferred with the reason) when TLS is required and fails.
 */
enum smtp_step
smtp_tls_starttls(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d);
/*
 * True once after a handshake failed under "may": connect to the same
 * address again, which then goes without TLS for a while.
 */
bool smtp_tls_retry_plain(SMTP_STATE *st);
/* smtp_tls_wrappermode: TLS before the greeting; NEXT as above. */
enum smtp_step
smtp_tls_wrapper(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d);
/* Parse EHLO capabilities from s->reply (smtp_proto.c). */
void smtp_proto_features(SMTP_SESSION *s);

/* smtp_tlsrpt.c */
/* pre_jail: smtp_tls_report_enable. */
void smtp_tlsrpt_init(SMTP_STATE *st, const CFG *cfg);
void smtp_tlsrpt_free(SMTP_STATE *st);
/* Record one TLS session attempt of this delivery for TLS-RPT.
 * policy_type "sts", "tlsa" or "no-policy-found"; policy_text the
 * policy (sts: the policy file's lines; tlsa: one "U S M hex" per
 * line; NULL otherwise); result_type NULL for success, else an
 * RFC 8460 result type ("starttls-not-supported", ...); detail
 * free text or NULL.  Does nothing when smtp_tls_report_enable=no. */
void
smtp_tlsrpt_note(SMTP_STATE *st, SMTP_SESSION *s, const char *policy_domain,
		 const char *policy_type, const char *policy_text,
		 const char *result_type, const char *detail);
/*
 * The same for an attempt that never got a session (s NULL above): an
 * MX host the MTA-STS policy does not list (mx_host), or a policy that
 * could not be fetched (mx_host NULL).
 */
void smtp_tlsrpt_note_mx(SMTP_STATE *st, const char *mx_host,
			 const char *policy_domain, const char *policy_type,
			 const char *policy_text, const char *result_type,
			 const char *detail);
/*
 * True when DANE wins over MTA-STS for nexthop (RFC 8461 2): its TLS
 * level is dane, the MX answer was validated (mx_ad) and mx_host has
 * DNSSEC-validated TLSA records (_port._tcp.mx_host).
 */
bool smtp_tls_dane_usable(SMTP_STATE *st, const char *nexthop,
			  const char *mx_host, int port, bool mx_ad);

/* smtp_sts.c: MTA-STS (RFC 8461) */
struct smtp_sts {
	VSTR	      *domain; /* the policy domain, lower case */
	VSTR	      *id;
	MTA_STS_POLICY policy;
	bool	       enforce; /* mode enforce (or REQUIRETLS) */
};

/* pre_jail: smtp_mta_sts_enable and the wait for mtasts. */
void smtp_sts_init(SMTP_STATE *st, const CFG *cfg);
/*
 * The policy to apply for a next hop whose host part is domain, or NULL
 * (not applicable, no policy, mode none, mtasts unavailable: logged).
 */
struct smtp_sts *smtp_sts_lookup(SMTP_STATE *st, const SMTP_DELIVERY *d,
				 const char *domain, bool no_mx);
struct smtp_sts *smtp_sts_free(struct smtp_sts *sts);
/*
 * enforce: drop the addresses of MX hosts that the policy does not name;
 * testing: log them.  0, or -1 (why) when none is left.
 */
int smtp_sts_filter(SMTP_STATE *st, const struct smtp_sts *sts,
		    const SMTP_DELIVERY *d, SMTP_ADDRS *addrs, VSTR *why);

/* smtp_sasl.c */
/* pre_jail: smtp_sasl_* settings and tables; bad settings are fatal. */
void smtp_sasl_init(SMTP_STATE *st, const CFG *cfg);
void smtp_sasl_free(SMTP_STATE *st);
/*
 * After EHLO (and STARTTLS): AUTH when the server offers it and
 * smtp_sasl_password_maps has credentials for it.  NEXT (recipients
 * deferred) when authentication failed or would need a mechanism that
 * the security options forbid.
 */
enum smtp_step
smtp_sasl_auth(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d);

/* smtp_generic.c: smtp_generic_maps (generic(5)) */
/* pre_jail: open the tables; fatal when they cannot be opened. */
void smtp_generic_init(SMTP_STATE *st, const CFG *cfg);
void smtp_generic_free(SMTP_STATE *st);
/* 1 with the mapped address in out, 0 unchanged, -1 table error. */
int smtp_generic_addr(SMTP_STATE *st, const char *addr, VSTR *out);
/* Rewrite the address fields of a header section in place; 0 / -1. */
int smtp_generic_header(SMTP_STATE *st, VSTR *hdr);

/* smtp_param.c */
/* One smtp_X parameter and its lmtp_X twin (Postfix's names). */
struct smtp_param_twin {
	const char *smtp;
	const char *lmtp;
};
/* Every twin, ended by { NULL, NULL }. */
extern const struct smtp_param_twin smtp_param_twins[];
/* name (an smtp_X the client reads), or its lmtp_X twin when lmtp. */
const char *smtp_param(bool lmtp, const char *name);

/* smtp_log.c */
/* Postfix delay format: "0", "0.05", "1.2", "31". */
void smtp_log_delay(VSTR *out, double secs);
void smtp_log_delivery(const SMTP_DELIVERY *d, size_t i, double t_end);

#endif
