/*
 * cleanup.h - state shared by the files of the cleanup daemon.
 *
 * CLEANUP_CONF holds what main.cf says and the tables opened before the
 * jail; it lives as long as the process.  CLEANUP_STATE is one message:
 * the request from the envelope frame, the temporary queue file, the
 * header and body state, and the first error (which decides the reply).
 *
 * Errors: functions return 0 / -1; a message-level failure is recorded
 * with cleanup_fail() (first one wins) and the conversation carries on,
 * reading and discarding content, until the end frame.
 *
 * Ownership: everything in the structs is owned by them and released by
 * cleanup_state_free / cleanup_conf_free.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef CLEANUP_CLEANUP_H
#define CLEANUP_CLEANUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include <opendkim/dkim.h>

#include "cleanup/cleanup_mime.h"
#include "util/attr.h"
#include "util/cfg.h"
#include "util/cleanup_client.h"
#include "util/dict.h"
#include "util/dns.h"
#include "util/header.h"
#include "util/ipc.h"
#include "util/milter.h"
#include "util/rec.h"
#include "util/srs.h"
#include "util/vstr.h"

#define CLEANUP_HEADER_COUNT_MAX 1000	     /* fields per message header */
#define CLEANUP_BODY_LINE_MAX	 8192	     /* body_checks line bound */
#define CLEANUP_PREPEND_MAX	 (64 * 1024) /* prepended field bytes */

typedef struct CLEANUP_CONF {
	const char *myhostname;
	const char *myorigin;
	const char *mydomain;
	const char *mydestination;
	const char *masquerade_domains;
	const char *masquerade_exceptions;
	bool	    allow_min_user; /* -t recipients may begin with "-" */
	bool	    append_at_myorigin;
	bool	    append_dot_mydomain;
	bool	    swap_bangpath;
	bool	    allow_percent_hack;
	bool	    always_add_missing_headers;
	long long   header_size_limit;
	long long   hopcount_limit;
	long long   message_size_limit; /* 0 = none */
	long long   body_checks_size_limit;
	long long   duplicate_filter_limit;
	long long   virtual_alias_recursion_limit;
	long long   virtual_alias_expansion_limit;
	const char *qmgr_service;
	const char *recipient_delimiter;
	int	    propagate;	       /* CLEANUP_PROPAGATE_* bits */
	int	    canonical_classes; /* CLEANUP_CLASS_* bits */
	int	    sender_canonical_classes;
	int	    recipient_canonical_classes;
	DICT_LIST  *canonical;
	DICT_LIST  *sender_canonical;
	DICT_LIST  *recipient_canonical;
	DICT_LIST  *virtual_alias;
	DICT_LIST  *header_checks;
	DICT_LIST  *body_checks;
	DICT_LIST  *mime_header_checks;	  /* may be header_checks itself */
	DICT_LIST  *nested_header_checks; /* may be header_checks itself */
	long long   mime_nesting_limit;
	bool	    mime_scan;		 /* follow MIME structure in the body */
	bool	    mime_report_nesting; /* reject nesting past the limit */
	const char *always_bcc;		 /* "" = none */
	SRS	   *srs; /* srs_domain set: recipients reversed */
	DICT_LIST  *sender_bcc;
	DICT_LIST  *recipient_bcc;
	/* verification and policy of inbound mail (cleanup_authres.c) */
	DKIM_LIB   *dkim_verify_lib; /* NULL: dkim_verify_enable = no */
	long long   dkim_verify_signature_limit;
	bool	    dmarc_enable;
	bool	    dmarc_reject_enable;
	const char *authserv_id;
	DNS	   *verify_dns;		     /* DKIM keys and DMARC records */
	DKIM_LIB   *dkim_sign_lib;	     /* NULL: no signing */
	struct cleanup_dkim_sign *dkim_sign; /* cleanup_dkim_sign.c */
	/* milters (cleanup_milter.c) */
	MILTER_CONF *milters; /* non_smtpd_milters */
	size_t	     nmilters;
	DICT_LIST   *milter_header_checks;
	const char  *milter_daemon_name; /* milter_macro_daemon_name */
	const char  *milter_macro_v;
} CLEANUP_CONF;

/* propagate_unmatched_extensions classes that cleanup handles. */
#define CLEANUP_PROPAGATE_CANONICAL (1 << 0)
#define CLEANUP_PROPAGATE_VIRTUAL   (1 << 1)

/* One final recipient with its DSN information. */
struct cleanup_out_rcpt {
	char *orig;  /* O record */
	char *orcpt; /* P record or NULL */
	int   notify;
	char *addr; /* R record */
};

enum cleanup_phase {
	CLEANUP_PH_HEADER, /* content is header lines */
	CLEANUP_PH_BODY,   /* envelope and header are written */
};

/* A header_checks / body_checks action. */
enum cleanup_act {
	CLEANUP_ACT_NONE,
	CLEANUP_ACT_REJECT,
	CLEANUP_ACT_DISCARD,
	CLEANUP_ACT_HOLD,
	CLEANUP_ACT_WARN,
	CLEANUP_ACT_IGNORE,
	CLEANUP_ACT_REPLACE,
	CLEANUP_ACT_PREPEND,
	CLEANUP_ACT_FILTER,
};

typedef struct CLEANUP_STATE {
	const CLEANUP_CONF *conf;
	ATTR		   *env;   /* the envelope frame (owns strings) */
	int		    flags; /* CLEANUP_FLAG_* */
	const char	   *origin;
	const char	   *sender; /* rewritten */
	VSTR		   *sender_buf;
	const char	   *client_name, *client_addr, *client_port;
	const char	   *helo, *protocol, *local_uid;
	const char	   *tls_info; /* smtpd_tls_received_header, or NULL */
	const char    *auth_header;   /* Received: "(Authenticated sender: )" */
	const char    *fullname;      /* for an added From:, or NULL */
	const char    *spf_result, *spf_identity, *spf_domain, *spf_header;
	bool	       rewrite_local;
	struct timeval arrival;
	/* recipients: given (rewritten, expanded) and extracted */
	struct cleanup_out_rcpt *rcpts;
	size_t			 nrcpt, rcpt_cap;
	const char *first_rcpt; /* as given, for Received and logs */
	VSTR	   *bcc;	/* BCC addresses, one a line, added
					 * once the header is complete */
	bool	    adding_bcc; /* BCC recipients get no BCC */
	/* queue file */
	VSTR	   *qid;
	VSTR	   *temp_path;
	int	    fd;
	REC_WRITER *writer;
	/* content */
	enum cleanup_phase phase;
	HEADER_PARSER	  *hp;
	VSTR		  *line;      /* partial content line */
	bool		   line_skip; /* past an over-long line's first part */
	bool		   line_drop; /* ... and dropping its rest */
	VSTR		  *hdr_out;   /* processed header fields */
	VSTR		  *scratch;
	long long	   size; /* content bytes received */
	long long	   body_seen;
	size_t		   hops;
	bool		   seen_from, seen_date, seen_msgid;
	VSTR		  *msgid;
	bool		   hold, discard;
	CLEANUP_MIME	  *mime;	   /* with conf->mime_scan */
	long long	   mime_body_seen; /* body bytes out of the scanner */
	bool		   mime_drop;	   /* drop the rest of this body line */
	/* header fields written above the content (cleanup_prepend.c) */
	char **prepend; /* in call order, each with its CRLF */
	size_t nprepend, prepend_cap;
	size_t prepend_len; /* bytes, bounded by CLEANUP_PREPEND_MAX */
	struct cleanup_authres *authres; /* inbound checks (cleanup_authres.c) */
	struct cleanup_dkim_signer *dkim_signer; /* cleanup_dkim_sign.c */
	VSTR	*milter_quarantine; /* a milter's quarantine reason, or NULL */
	MILTER **smtpd_milters;	    /* handed over by smtpd (content stages) */
	size_t	 nsmtpd_milters;
	ATTR	*milter_macros; /* smtpd's macro values, or NULL */
	/* outcome */
	enum cleanup_status status;
	VSTR		   *reply;
	/* after-queue content filter and receive_override_options */
	VSTR	    *filter;	       /* "transport:nexthop", "" = none */
	int	     receive_override; /* RECEIVE_* bits from the envelope */
	CLEANUP_CONF conf_override;    /* conf without what they turn off */
} CLEANUP_STATE;

/* cleanup_state.c */
void	       cleanup_fail(CLEANUP_STATE *st, enum cleanup_status status,
			    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
CLEANUP_STATE *cleanup_state_alloc(const CLEANUP_CONF *conf);
CLEANUP_STATE *cleanup_state_free(CLEANUP_STATE *st);

/* cleanup_conf.c */
CLEANUP_CONF *cleanup_conf_load(const CFG *cfg);
CLEANUP_CONF *cleanup_conf_free(CLEANUP_CONF *conf);

/* cleanup_envelope.c */
int cleanup_envelope(CLEANUP_STATE *st, ATTR *frame);
int cleanup_add_rcpt(CLEANUP_STATE *st, const char *addr, const char *orcpt,
		     int notify);
int cleanup_write_envelope(CLEANUP_STATE *st);

/* cleanup_rewrite.c */
#define CLEANUP_CLASS_ENV_SENDER (1 << 0) /* Postfix's canonical_classes */
#define CLEANUP_CLASS_ENV_RCPT	 (1 << 1)
#define CLEANUP_CLASS_HDR_SENDER (1 << 2)
#define CLEANUP_CLASS_HDR_RCPT	 (1 << 3)
#define CLEANUP_CLASS_ALL	 15
int cleanup_parse_classes(const char *value, int *mask, VSTR *why);
#define CLEANUP_REWRITE_SENDER 1
#define CLEANUP_REWRITE_RCPT   2
#define CLEANUP_REWRITE_HEADER 4 /* masquerade header addresses too */
int
cleanup_rewrite(const CLEANUP_CONF *conf, const char *addr, int how, VSTR *out);
int  cleanup_masquerade(const CLEANUP_CONF *conf, VSTR *addr);
int  cleanup_virtual(const CLEANUP_CONF *conf, const char *addr, char ***out,
		     size_t *count, VSTR *why);
void cleanup_argv_free(char **v, size_t n);
int  cleanup_map_lookup(const CLEANUP_CONF *conf, DICT_LIST *maps,
			const char *addr, const char **value, VSTR *ext);
bool cleanup_domain_in_list(const char *domain, const char *list);

/* cleanup_route.c */
bool cleanup_route_unqualified(const CLEANUP_CONF *conf, VSTR *addr);
void cleanup_route_local(const CLEANUP_CONF *conf, VSTR *addr);

/* cleanup_bcc.c */
bool cleanup_bcc_ok(const CLEANUP_STATE *st);
int  cleanup_bcc_lookup(CLEANUP_STATE *st, DICT_LIST *maps, const char *name,
			const char *addr);
void cleanup_bcc_add(CLEANUP_STATE *st);

/* cleanup_header.c */
void cleanup_header_begin(CLEANUP_STATE *st);
int  cleanup_header_field(void *ctx, const struct header_field *f);
void cleanup_header_end(CLEANUP_STATE *st);
DICT_LIST      *
cleanup_header_maps(const CLEANUP_CONF *conf, enum cleanup_mime_class cls,
			 const struct header_field *f);
void cleanup_part_header(void *ctx, enum cleanup_mime_class cls,
			 const struct header_field *f);
void
cleanup_rewrite_header_addrs(CLEANUP_STATE *st, VSTR *field, size_t name_len);

/* cleanup_eol.c: bare CR / LF -> CRLF, then cleanup_content(). */
struct cleanup_eol {
	bool  cr;   /* a CR ended the last frame */
	bool  bare; /* a bare CR or LF was seen (logged) */
	VSTR *buf;
};
void cleanup_eol_init(struct cleanup_eol *e);
void cleanup_eol_free(struct cleanup_eol *e);
void cleanup_eol_content(CLEANUP_STATE *st, struct cleanup_eol *e,
			 const char *data, size_t len);
void cleanup_eol_end(CLEANUP_STATE *st, struct cleanup_eol *e);

/* cleanup_body.c */
void cleanup_content(CLEANUP_STATE *st, const char *data, size_t len);
void cleanup_content_end(CLEANUP_STATE *st);
bool cleanup_body_line(CLEANUP_STATE *st, const char *line, size_t len);

/* cleanup_body_mime.c */
void cleanup_body_mime_init(CLEANUP_STATE *st);
void cleanup_body_mime_begin(CLEANUP_STATE *st, bool separator);
void cleanup_body_mime(CLEANUP_STATE *st, const char *data, size_t len);
void cleanup_body_mime_end(CLEANUP_STATE *st);

/* cleanup_checks.c */
enum cleanup_act cleanup_parse_action(const char *value, const char **text);
/* A FILTER value: "transport:nexthop", printable, no space, bounded. */
bool cleanup_filter_ok(const char *value, size_t len);
int  cleanup_check(CLEANUP_STATE *st, DICT_LIST *maps, const char *what,
		   const char *text, size_t len, VSTR *result);
void cleanup_log_action(const CLEANUP_STATE *st, const char *action,
			const char *what, const char *text, size_t len,
			const char *reply);

/* cleanup_prepend.c: `field` without its final CRLF; the last call is on top */
void cleanup_prepend_header(CLEANUP_STATE *st, const char *field);
void cleanup_prepend_write(CLEANUP_STATE *st);
void cleanup_prepend_free(CLEANUP_STATE *st);
/* cleanup_dkim_sign.c: DKIM signing on the output side */
void cleanup_dkim_sign_load(CLEANUP_CONF *conf, const CFG *cfg);
void cleanup_dkim_sign_free(CLEANUP_CONF *conf);
void cleanup_dkim_sign_jail(CLEANUP_CONF *conf, bool chrooted);
void cleanup_dkim_sign_begin(CLEANUP_STATE *st);
void cleanup_dkim_sign_end(CLEANUP_STATE *st);
void cleanup_dkim_sign_done(CLEANUP_STATE *st);

/* cleanup_authres.c: inbound verification (CLEANUP_FLAG_VERIFY) */
void cleanup_authres_conf(CLEANUP_CONF *c, const CFG *cfg);
void cleanup_authres_conf_free(CLEANUP_CONF *c);
void cleanup_authres_input(CLEANUP_STATE *st, const char *data, size_t len);
void cleanup_authres_finish(CLEANUP_STATE *st);
bool cleanup_authres_drop(CLEANUP_STATE *st, const struct header_field *f);
void cleanup_authres_free(CLEANUP_STATE *st);

/* cleanup_milter.c: non_smtpd_milters at end of message */
void cleanup_milter_conf(CLEANUP_CONF *c, const CFG *cfg);
void cleanup_milter_conf_free(CLEANUP_CONF *c);
void cleanup_milter_run(CLEANUP_STATE *st);
int  cleanup_milter_receive(CLEANUP_STATE *st, IPC_STREAM *ipc, int timeout_ms);
void cleanup_milter_free(CLEANUP_STATE *st);

/* cleanup_queue.c */
int  cleanup_queue_create(CLEANUP_STATE *st);
void cleanup_queue_extracted(CLEANUP_STATE *st);
int  cleanup_queue_commit(CLEANUP_STATE *st);
void cleanup_queue_remove(CLEANUP_STATE *st);
void cleanup_queue_sweep(const char *dir, long long max_age);
void cleanup_io_error(CLEANUP_STATE *st, const char *what, int err);
void cleanup_date(VSTR *out, time_t when);

#endif
