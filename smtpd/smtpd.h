/*
 * smtpd - the SMTP server's session, shared by the files of smtpd/ only.
 *
 * A session (SMTPD_STATE) talks to its client and to the rest of the
 * system only through struct smtpd_hooks: byte I/O with timeouts, the
 * policy engine (smtpd_check), the cleanup client and sleeping.  smtpd.c
 * fills the hooks with the real thing (socket, smtpd_check, util/
 * cleanup_client); the unit tests and the fuzzer fill them with fakes,
 * which is why the command loop lives in smtpd_cmd.c and not in smtpd.c.
 *
 * Files: smtpd.c main, pre_jail, one client (peer lookup, hooks);
 * smtpd_io.c the bounded input buffer, command lines, replies and
 * pipelining; smtpd_cmd.c the state machine, the verb table and the
 * session loop; smtpd_data.c DATA, BDAT and the dot/bare-newline filter;
 * smtpd_log.c Postfix-format log lines; smtpd_peer.c reverse lookup and
 * address list matching; smtpd_sasl.c the AUTH command (util/sasl.h);
 * smtpd_milter.c the smtpd_milters conversation (util/milter.h);
 * smtpd_anvil.c the client connection and rate limits (anvil(8)).
 *
 * Errors: I/O failures (timeout, lost connection) end the session and are
 * logged by the loop; protocol errors are replies.  Nothing here dies but
 * the allocators.
 *
 * Ownership: smtpd_state_create's result is the caller's, released with
 * smtpd_state_free (returns NULL).  The params, hooks and peer strings
 * given to it are borrowed for the life of the session.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef SMTPD_SMTPD_H
#define SMTPD_SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "smtpd/smtpd_check.h"
#include "smtpd/smtpd_spf.h"
#include "util/addr.h"
#include "util/anvil_proto.h"
#include "util/attr.h"
#include "util/cfg.h"
#include "util/cleanup_client.h"
#include "util/milter.h"
#include "util/vstr.h"
#include "util/xforward.h"

/* SASL AUTH settings (smtpd_sasl.c); enable false: no AUTH at all. */
struct smtpd_sasl_params {
	bool	    enable;	   /* smtpd_sasl_auth_enable */
	bool	    tls_only;	   /* smtpd_tls_auth_only */
	const char *service;	   /* smtpd_sasl_service */
	const char *realm;	   /* smtpd_sasl_local_domain */
	const char *security;	   /* smtpd_sasl_security_options */
	const char *tls_security;  /* smtpd_sasl_tls_security_options */
	const char *exceptions;	   /* smtpd_sasl_exceptions_networks */
	long long   failure_limit; /* smtpd_sasl_auth_failure_limit */
	bool	    auth_header;   /* smtpd_sasl_authenticated_header */
};

/* TLS settings (smtpd_tls.c). */
struct smtpd_tls_params {
	int  level;	      /* SMTPD_TLS_NONE/MAY/ENCRYPT */
	bool wrappermode;     /* smtpd_tls_wrappermode (465) */
	int  timeout;	      /* smtpd_starttls_timeout, seconds */
	bool received_header; /* smtpd_tls_received_header */
};

/*
 * The client certificate of a TLS session, filled by the tls_start hook
 * (strings empty without a certificate).  trusted: its chain verified
 * against smtpd_tls_CAfile/CApath (Postfix sends the names to milters
 * and policy servers only then; the fingerprints whenever a certificate
 * came).
 */
struct smtpd_tls_cert {
	bool  present;
	bool  trusted;
	VSTR *subject;		/* subject CN */
	VSTR *issuer;		/* issuer CN */
	VSTR *fingerprint;	/* smtpd_tls_fingerprint_digest of the DER */
	VSTR *pkey_fingerprint; /* ... of the DER public key */
};
#define SMTPD_TLS_NONE	  0
#define SMTPD_TLS_MAY	  1
#define SMTPD_TLS_ENCRYPT 2

/*
 * Client connection and rate limits (smtpd_anvil.c); a limit of 0 is
 * off.  enabled: some limit is set, so clients are counted by anvil(8).
 */
struct smtpd_anvil_params {
	bool	    enabled;
	const char *service;	     /* master.cf service name, for the ident */
	const char *exceptions;	     /* smtpd_client_event_limit_exceptions */
	int	    v6_prefix;	     /* smtpd_client_ipv6_prefix_length */
	long long   count_limit;     /* ..._connection_count_limit */
	long long   rate_limit;	     /* ..._connection_rate_limit */
	long long   message_limit;   /* ..._message_rate_limit */
	long long   recipient_limit; /* ..._recipient_rate_limit */
	long long   newtls_limit;    /* ..._new_tls_session_rate_limit */
	long long   auth_limit;	     /* ..._auth_rate_limit */
};

/* Parameters a session reads, fetched once per process. */
struct smtpd_params {
	const char *myhostname;
	const char *banner;  /* smtpd_banner, expanded */
	int	    timeout; /* smtpd_timeout, seconds */
	long long   recipient_limit;
	long long   soft_error_limit;
	long long   hard_error_limit;
	int	    error_sleep;    /* smtpd_error_sleep_time, seconds */
	long long   junk_limit;	    /* smtpd_junk_command_limit */
	long long   size_limit;	    /* message_size_limit, 0 = none */
	long long   queue_minfree;  /* bytes free needed (queue_space.h) */
	const char *queue_dir;	    /* queue_directory */
	size_t	    line_limit;	    /* command line bound (>= 512) */
	bool	    bare_reject;    /* smtpd_forbid_bare_newline=reject */
	bool	    allow_min_user; /* addresses may begin with "-" */
	bool	    disable_vrfy;
	bool	    helo_required;
	bool	    strict_rfc821;
	bool	    forbid_unauth_pipelining;
	int	    ehlo_discard;     /* SMTPD_EHLO_* bits not announced */
	const char *reject_footer;    /* smtpd_reject_footer; NULL: none */
	const char *xforward_hosts;   /* smtpd_authorized_xforward_hosts */
	const char *content_filter;   /* "" = none */
	int	    receive_override; /* RECEIVE_* bits */
	int	    auth_role; /* smtpd_mail_auth_role: CLEANUP_FLAG_SIGN /
				* VERIFY bits, or SMTPD_ROLE_AUTO */
	/* smtpd_milters (smtpd_milter.c); nmilters 0: none */
	const MILTER_CONF *milters;
	size_t		   nmilters;
	const char	  *milter_daemon_name; /* milter_macro_daemon_name */
	const char	  *milter_macro_v;     /* milter_macro_v */
	struct smtpd_sasl_params  sasl;	       /* smtpd_sasl.c */
	struct smtpd_tls_params	  tls;	       /* smtpd_tls.c */
	struct smtpd_anvil_params anvil;       /* smtpd_anvil.c */
};

/* smtpd_mail_auth_role = auto: decided per client (smtpd_mail_auth_flags). */
#define SMTPD_ROLE_AUTO (-1)

/* EHLO keywords (smtpd_discard_ehlo_keywords). */
#define SMTPD_EHLO_PIPELINING (1 << 0)
#define SMTPD_EHLO_SIZE	      (1 << 1)
#define SMTPD_EHLO_VRFY	      (1 << 2)
#define SMTPD_EHLO_ETRN	      (1 << 3)
#define SMTPD_EHLO_ENHANCED   (1 << 4)
#define SMTPD_EHLO_8BITMIME   (1 << 5)
#define SMTPD_EHLO_DSN	      (1 << 6)
#define SMTPD_EHLO_SMTPUTF8   (1 << 7)
#define SMTPD_EHLO_CHUNKING   (1 << 8)
#define SMTPD_EHLO_REQUIRETLS (1 << 9)

/*
 * What a session needs from the world.  read: > 0 bytes, 0 end of file,
 * -1 with errno (ETIMEDOUT when timeout_ms passed).  write: 0 or -1.
 */
struct smtpd_hooks {
	ssize_t (*read)(void *io, void *buf, size_t len, int timeout_ms);
	int (*write)(void *io, const void *buf, size_t len, int timeout_ms);
	void (*sleep)(int seconds);
	int (*check)(void *ctx, enum smtpd_check_stage stage,
		     const struct smtpd_check_facts *facts,
		     struct smtpd_check_result	    *res);
	bool (*mynetworks)(void *ctx, const char *client_addr);
	CLEANUP_CLIENT *(*cleanup_begin)(void			  *ctx,
					 const struct cleanup_req *req,
					 VSTR			  *why);
	int (*cleanup_write)(CLEANUP_CLIENT *cc, const void *data, size_t len);
	int (*cleanup_finish)(CLEANUP_CLIENT *cc, struct cleanup_result *res);
	void (*cleanup_abort)(CLEANUP_CLIENT *cc);
	/* HOLD/DISCARD found at end of data; NULL: not supported. */
	void (*cleanup_flags)(CLEANUP_CLIENT *cc, int flags);
	/*
	 * TLS handshake on the connection (smtpd_tls.c): 0 with info
	 * ("TLSv1.3 with cipher ...") and the client certificate in cert
	 * (its strings allocated by the caller), or -1 with why.  NULL:
	 * no TLS.
	 */
	int (*tls_start)(void *io, void *ctx, int timeout_ms, VSTR *info,
			 struct smtpd_tls_cert *cert, VSTR *why);
	/* SPF at MAIL FROM (smtpd_spf.c): as smtpd_spf_check; NULL: off. */
	int (*spf)(void *ctx, const struct smtpd_spf_query *q,
		   struct smtpd_spf_outcome *o);
	/*
	 * One anvil(8) request for ident (util/anvil_client.h): 0 with the
	 * reply, or -1 with why when anvil cannot be reached.  NULL: no
	 * anvil, no limits.
	 */
	int (*anvil)(void *ctx, enum anvil_req req, const char *ident,
		     struct anvil_reply *rp, VSTR *why);
	/*
	 * ETRN: ask the fast flush service (util/flush_client.h) to deliver
	 * the mail queued for site; a FLUSH_STAT_* value.  NULL: no flush
	 * service (458).
	 */
	int (*flush)(void *ctx, const char *site);
};

/* The client's identity. */
struct smtpd_peer {
	const char *name; /* verified reverse name or "unknown" */
	const char *addr; /* "127.0.0.1" */
	const char *port;
	const char *server_addr; /* our end, for policy servers; may be NULL */
	const char *server_port;
	bool	    bare_normalize; /* in ..._bare_newline_exclusions */
};

/* Session states (STYLE.md 12); only smtpd_state_set changes them. */
enum smtpd_stage {
	SMTPD_ST_CONNECTED, /* greeted, no HELO yet */
	SMTPD_ST_READY,	    /* HELO/EHLO done, no transaction */
	SMTPD_ST_MAIL,	    /* MAIL accepted */
	SMTPD_ST_RCPT,	    /* at least one RCPT accepted */
	SMTPD_ST_BDAT,	    /* BDAT chunks are arriving */
	SMTPD_ST_QUIT,	    /* the session is over */
};

/* Per-command counters for the disconnect line. */
enum smtpd_verb_id {
	SMTPD_V_HELO,
	SMTPD_V_EHLO,
	SMTPD_V_MAIL,
	SMTPD_V_RCPT,
	SMTPD_V_DATA,
	SMTPD_V_BDAT,
	SMTPD_V_RSET,
	SMTPD_V_NOOP,
	SMTPD_V_VRFY,
	SMTPD_V_ETRN,
	SMTPD_V_HELP,
	SMTPD_V_QUIT,
	SMTPD_V_AUTH,
	SMTPD_V_STARTTLS,
	SMTPD_V_XFORWARD,
	SMTPD_V_UNKNOWN,
	SMTPD_V_COUNT,
};

/* Bare-newline and dot filter state (smtpd_data.c). */
struct smtpd_filter {
	int  state;
	bool prev_crlf; /* last line ended in a real CRLF */
	bool bol;	/* nothing of the current line yet */
	bool bare_seen; /* a bare CR or LF was converted */
	bool dots;	/* DATA: unstuff, detect the end */
};

struct smtpd_rcpt {
	char *addr;
	char *orcpt; /* "type;addr" or NULL */
	int   notify;
};

typedef struct SMTPD_STATE {
	const struct smtpd_params *par;
	const struct smtpd_hooks  *hooks;
	void			  *io;	/* hooks->read/write context */
	void			  *ctx; /* hooks->check/cleanup context */
	struct smtpd_peer	   peer;
	enum smtpd_stage	   stage;
	/* I/O (smtpd_io.c) */
	VSTR	   *in; /* bytes read, not yet consumed */
	size_t	    in_pos;
	VSTR	   *out;	/* replies not yet sent */
	VSTR	   *line;	/* the current command line */
	bool	    io_error;	/* lost or timed out: stop */
	bool	    timed_out;	/* the client went silent */
	bool	    reply_open; /* st->out ends in a "NNN-" line */
	const char *where;	/* "CONNECT", "DATA", ... for logs */
	/* Session */
	VSTR		     *helo; /* empty before HELO/EHLO */
	bool		      esmtp;
	const char	     *protocol; /* "SMTP" / "ESMTP" */
	int		      errors;	/* since the last message */
	long long	      junk;	/* HELO, EHLO, NOOP, RSET, VRFY, ETRN */
	int		      count_ok[SMTPD_V_COUNT];
	int		      count_all[SMTPD_V_COUNT];
	VSTR		     *connect_reject; /* client rejected at CONNECT */
	VSTR		     *anvil_ident;    /* NULL: not counted */
	bool		      tls;	/* TLS is up (set by smtpd_tls.c) */
	VSTR		     *tls_info; /* "TLSv1.3 with cipher ..." or NULL */
	struct smtpd_tls_cert tls_cert; /* strings NULL before TLS */
	/* SASL (smtpd_sasl.c) */
	struct SASL_SRV *sasl;	      /* backend exchange, made on demand */
	VSTR		*sasl_method; /* empty until AUTH succeeded */
	VSTR		*sasl_username;
	int		 auth_failures;
	/* Transaction */
	ADDR_SMTP	  *mail;	 /* parsed MAIL FROM */
	ADDR_SMTP	  *rcpt_scratch; /* parsed RCPT TO */
	VSTR		  *sender;	 /* external form, "" for <> */
	struct smtpd_rcpt *rcpts;
	size_t		   nrcpt;
	size_t		   rcpt_cap;
	int		   cleanup_flags; /* CLEANUP_FLAG_DISCARD / HOLD */
	struct smtpd_spf_outcome spf;	  /* result NULL: not checked */
	VSTR	 *filter_route;	 /* FILTER transport:nexthop, "" none */
	XFORWARD *xforward;	 /* forwarded client (smtpd_xforward.c) */
	int	  xforward_auth; /* -1: not yet looked up */
	/* Content (smtpd_data.c) */
	CLEANUP_CLIENT	   *cleanup;
	struct smtpd_filter filter;
	VSTR		   *content; /* filtered bytes for cleanup */
	VSTR	 *prepend;  /* PREPEND header fields, '\n' after each */
	VSTR	 *instance; /* policy "instance", per transaction */
	long long content_size;
	bool	  too_big;
	bool	  cleanup_lost;
	bool	  bdat_failed; /* a chunk failed: refuse the rest */
	/* Milters (smtpd_milter.c): one connection each per session */
	MILTER	    **milters;
	size_t	      nmilters;
	MILTER_REPLY *milter_reply;
	VSTR	     *milter_text;    /* the refusing milter's reply */
	VSTR	     *milter_value;   /* a macro value made on demand */
	ATTR	     *milter_macros;  /* values handed to cleanup */
	bool	      milter_in_mail; /* MAIL went to the milters */
	const char   *milter_rcpt;    /* {rcpt_addr} during RCPT */
	bool	      milter_rcpt_rejected;
	/* Scratch */
	VSTR			 *reply;
	struct smtpd_check_result check;
} SMTPD_STATE;

/* st->where while the message content arrives (Postfix's name). */
#define SMTPD_AFTER_DATA "DATA content"

/* smtpd_cmd.c */
SMTPD_STATE *smtpd_state_create(const struct smtpd_params *par,
				const struct smtpd_hooks *hooks, void *io,
				void *ctx, const struct smtpd_peer *peer);
SMTPD_STATE *smtpd_state_free(SMTPD_STATE *st);
void	     smtpd_state_set(SMTPD_STATE *st, enum smtpd_stage stage);
void	     smtpd_session(SMTPD_STATE *st);
void	     smtpd_reset_transaction(SMTPD_STATE *st);
int	     smtpd_policy(SMTPD_STATE *st, enum smtpd_check_stage stage,
			  const char *where, const char *recipient);
void	     smtpd_params_load(struct smtpd_params *par, const CFG *cfg);

/* smtpd_io.c */
enum smtpd_line_status {
	SMTPD_LINE_OK,	     /* st->line holds the command */
	SMTPD_LINE_TOO_LONG, /* skipped; reply 500 5.5.2 */
	SMTPD_LINE_EOF,	     /* lost connection (st->io_error) */
	SMTPD_LINE_TIMEOUT,  /* timeout (st->io_error) */
};
enum smtpd_line_status smtpd_io_get_line(SMTPD_STATE *st);
int		       smtpd_io_fill(SMTPD_STATE *st);
size_t		       smtpd_io_avail(const SMTPD_STATE *st);
const char	      *smtpd_io_peek(const SMTPD_STATE *st);
void		       smtpd_io_consume(SMTPD_STATE *st, size_t n);
void		       smtpd_reply(SMTPD_STATE *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtpd_reply_raw(SMTPD_STATE *st, const char *line, size_t len);
/* Several lines separated by CRLF (no final CRLF). */
void smtpd_reply_lines(SMTPD_STATE *st, const char *text, size_t len);
int  smtpd_io_flush(SMTPD_STATE *st);

/* smtpd_data.c */
void   smtpd_filter_init(struct smtpd_filter *f, bool dots);
size_t smtpd_filter(struct smtpd_filter *f, const char *buf, size_t len,
		    VSTR *out, bool *end);
int    smtpd_do_data(SMTPD_STATE *st);
int    smtpd_do_bdat(SMTPD_STATE *st, const char *args);
void   smtpd_data_abort(SMTPD_STATE *st);
/*
 * Who is signed and who is verified (smtpd_mail_auth_role): the
 * CLEANUP_FLAG_SIGN / CLEANUP_FLAG_VERIFY bits for this client's mail, and
 * whether it is inbound (VERIFY set: SPF, DKIM and DMARC are checked).
 */
int  smtpd_mail_auth_flags(const SMTPD_STATE *st);
bool smtpd_mail_inbound(const SMTPD_STATE *st);

/* smtpd_sasl.c */
void smtpd_sasl_params_load(struct smtpd_sasl_params *par, const CFG *cfg);
/* pre_jail: set up smtpd_sasl_type's backend when AUTH is enabled. */
int smtpd_sasl_init(const CFG *cfg, VSTR *why);
/* EHLO: append the "250-AUTH ..." line when AUTH is offered. */
void smtpd_sasl_ehlo(SMTPD_STATE *st);
int  smtpd_sasl_can_auth(SMTPD_STATE *st, const char *args);
int  smtpd_sasl_auth(SMTPD_STATE *st, const char *args);
/* The authenticated login, or NULL. */
const char *smtpd_sasl_user(const SMTPD_STATE *st);
/* Release the backend exchange and forget the login. */
void smtpd_sasl_reset(SMTPD_STATE *st);

/* smtpd_tls.c */
void smtpd_tls_params_load(struct smtpd_tls_params *par, const CFG *cfg);
/* EHLO: append "250-STARTTLS" when it is offered. */
void smtpd_tls_ehlo(SMTPD_STATE *st);
int  smtpd_tls_can_starttls(SMTPD_STATE *st, const char *args);
int  smtpd_tls_starttls(SMTPD_STATE *st, const char *args);
/* Wrapper mode: handshake before the greeting; 0, or -1 (logged). */
int smtpd_tls_wrapper(SMTPD_STATE *st);
/* smtpd_tls_security_level=encrypt without TLS: 530 reply, -1. */
int smtpd_tls_required(SMTPD_STATE *st);

/* smtpd_xforward.c: XFORWARD (Postfix's XFORWARD_README) */
/* Is the client in smtpd_authorized_xforward_hosts? */
bool smtpd_xforward_authorized(SMTPD_STATE *st);
/* EHLO: append "250-XFORWARD ..." for authorized clients. */
void smtpd_xforward_ehlo(SMTPD_STATE *st);
int  smtpd_xforward_can(SMTPD_STATE *st, const char *args);
int  smtpd_xforward_cmd(SMTPD_STATE *st, const char *args);
/* The client as forwarded (or the real one without XFORWARD). */
const char *smtpd_xforward_name(const SMTPD_STATE *st);
const char *smtpd_xforward_addr(const SMTPD_STATE *st);
/* The forwarded client for cleanup's request (mail from a filter). */
void smtpd_xforward_req(const SMTPD_STATE *st, struct cleanup_req *req);

/* smtpd_milter.c: each 0 to go on, or -1 after the milter's reply. */
void smtpd_milter_params_load(struct smtpd_params *par, const CFG *cfg);
void smtpd_milter_connect(SMTPD_STATE *st);
int  smtpd_milter_helo(SMTPD_STATE *st, const char *where, const char *helo);
int  smtpd_milter_mail(SMTPD_STATE *st, const char *rest);
int  smtpd_milter_rcpt(SMTPD_STATE *st, const char *addr, const char *rest,
		       bool rejected);
int  smtpd_milter_data(SMTPD_STATE *st, const char *where);
int  smtpd_milter_unknown(SMTPD_STATE *st, const char *line);
void smtpd_milter_handoff(SMTPD_STATE *st, struct cleanup_req *req);
void smtpd_milter_abort(SMTPD_STATE *st);
void smtpd_milter_free(SMTPD_STATE *st);

/* smtpd_anvil.c: each 0 to go on, or -1 after the refusing reply. */
void smtpd_anvil_params_load(struct smtpd_anvil_params *par, const CFG *cfg,
			     const char *service);
int  smtpd_anvil_connect(SMTPD_STATE *st);
int  smtpd_anvil_mail(SMTPD_STATE *st);
int  smtpd_anvil_rcpt(SMTPD_STATE *st);
int  smtpd_anvil_auth(SMTPD_STATE *st);
/* STARTTLS: refuse when the next new session would be over the limit. */
int smtpd_anvil_starttls(SMTPD_STATE *st);
/* After a handshake (STARTTLS or wrapper mode): count it. */
int  smtpd_anvil_newtls(SMTPD_STATE *st);
void smtpd_anvil_disconnect(SMTPD_STATE *st);

/* smtpd_log.c */
void smtpd_log_reject(SMTPD_STATE *st, const char *where, const char *reply,
		      const char *recipient);
void smtpd_log_disconnect(SMTPD_STATE *st);
void smtpd_log_io_error(SMTPD_STATE *st);

/* smtpd_peer.c */
int  smtpd_peer_lookup(const struct sockaddr *sa, socklen_t salen, VSTR *name,
		       VSTR *addr, VSTR *port);
int  smtpd_peer_sockaddr(int fd, const ATTR *info, bool client,
			 struct sockaddr_storage *ss, socklen_t *sslen);
int  smtpd_peer_haproxy(int fd, int timeout_ms, struct sockaddr_storage *client,
			socklen_t *clen, struct sockaddr_storage *server,
			socklen_t *slen);
bool smtpd_peer_match_list(const char *list, const char *addr);

#endif
