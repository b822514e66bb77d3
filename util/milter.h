/*
 * milter - client side of the Sendmail milter protocol, versions 2 to 6.
 *
 * One MILTER is one connection to one milter application.  The caller
 * (smtpd or cleanup; this module knows neither) walks it through the
 * stages in order: milter_open (connect and SMFIC_OPTNEG), then
 * milter_connect, milter_helo, milter_mail, milter_rcpt (per recipient),
 * milter_data, milter_header (per field), milter_eoh, milter_body (any
 * number of times), milter_eom; milter_abort between messages and
 * milter_free at the end (which sends SMFIC_QUIT).  Stages the milter
 * asked to skip (SMFIP_NO*) are not sent and answer CONTINUE; stages it
 * asked not to reply to (SMFIP_NR_*) are sent without waiting.
 *
 * Before each stage the macros of that stage's list are sent
 * (SMFIC_MACRO) with values from the caller's lookup function; the lists
 * are the milter_*_macros settings unless a version 6 milter asked for
 * its own (SMFIM_* lists in its SMFIC_OPTNEG reply).
 *
 * Every stage call fills a MILTER_REPLY and returns its verdict.  When
 * the milter fails (cannot connect, times out, closes, or says something
 * malformed or not negotiated), the failure is logged once as a warning
 * naming the milter, the connection is closed, and from then on every
 * call returns the milter's default_action: TEMPFAIL or REJECT (with a
 * standard reply text), CONTINUE for accept, and for quarantine CONTINUE
 * with r->quarantine set at end of message.  So a dead or broken milter
 * never crashes its caller and never loses a message: the caller only
 * ever sees verdicts.
 *
 * Modification requests (SMFIR_ADDHEADER ... SMFIR_QUARANTINE) are only
 * legal in answer to end of message and only when negotiated; they are
 * collected in r->mods in arrival order, replacement body bytes in
 * r->body (bounded by milter_set_body_limit), the quarantine reason in
 * r->quarantine.  The caller applies them only when the verdict is
 * CONTINUE or ACCEPT.
 *
 * Errors: functions return 0 / -1 (parsers) or a verdict; messages go
 * through msg_warn.  Ownership: MILTER, MILTER_REPLY and MILTER_CONF
 * arrays are the caller's, released with their *_free functions, which
 * return NULL.  Strings in a MILTER_REPLY are borrowed until the next
 * call that fills it.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MILTER_H
#define UTIL_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/attr.h"
#include "util/cfg.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

/* Commands, MTA to milter. */
#define SMFIC_ABORT   'A'
#define SMFIC_BODY    'B'
#define SMFIC_CONNECT 'C'
#define SMFIC_MACRO   'D'
#define SMFIC_BODYEOB 'E'
#define SMFIC_HELO    'H'
#define SMFIC_QUIT_NC 'K'
#define SMFIC_HEADER  'L'
#define SMFIC_MAIL    'M'
#define SMFIC_EOH     'N'
#define SMFIC_OPTNEG  'O'
#define SMFIC_QUIT    'Q'
#define SMFIC_RCPT    'R'
#define SMFIC_DATA    'T'
#define SMFIC_UNKNOWN 'U'

/* Replies and requests, milter to MTA. */
#define SMFIR_ADDRCPT	  '+'
#define SMFIR_DELRCPT	  '-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_SHUTDOWN	  '4'
#define SMFIR_ACCEPT	  'a'
#define SMFIR_REPLBODY	  'b'
#define SMFIR_CONTINUE	  'c'
#define SMFIR_DISCARD	  'd'
#define SMFIR_CHGFROM	  'e'
#define SMFIR_CONN_FAIL	  'f'
#define SMFIR_ADDHEADER	  'h'
#define SMFIR_INSHEADER	  'i'
#define SMFIR_SETSYMLIST  'l'
#define SMFIR_CHGHEADER	  'm'
#define SMFIR_PROGRESS	  'p'
#define SMFIR_QUARANTINE  'q'
#define SMFIR_REJECT	  'r'
#define SMFIR_SKIP	  's'
#define SMFIR_TEMPFAIL	  't'
#define SMFIR_REPLYCODE	  'y'

/* Actions a milter may request (SMFIF_*). */
#define SMFIF_ADDHDRS	  0x0001
#define SMFIF_CHGBODY	  0x0002
#define SMFIF_ADDRCPT	  0x0004
#define SMFIF_DELRCPT	  0x0008
#define SMFIF_CHGHDRS	  0x0010
#define SMFIF_QUARANTINE  0x0020
#define SMFIF_CHGFROM	  0x0040
#define SMFIF_ADDRCPT_PAR 0x0080
#define SMFIF_SETSYMLIST  0x0100

/* Protocol flags (SMFIP_*). */
#define SMFIP_NOCONNECT	  0x00000001
#define SMFIP_NOHELO	  0x00000002
#define SMFIP_NOMAIL	  0x00000004
#define SMFIP_NORCPT	  0x00000008
#define SMFIP_NOBODY	  0x00000010
#define SMFIP_NOHDRS	  0x00000020
#define SMFIP_NOEOH	  0x00000040
#define SMFIP_NR_HDR	  0x00000080
#define SMFIP_NOUNKNOWN	  0x00000100
#define SMFIP_NODATA	  0x00000200
#define SMFIP_SKIP	  0x00000400
#define SMFIP_RCPT_REJ	  0x00000800
#define SMFIP_NR_CONN	  0x00001000
#define SMFIP_NR_HELO	  0x00002000
#define SMFIP_NR_MAIL	  0x00004000
#define SMFIP_NR_RCPT	  0x00008000
#define SMFIP_NR_DATA	  0x00010000
#define SMFIP_NR_UNKN	  0x00020000
#define SMFIP_NR_EOH	  0x00040000
#define SMFIP_NR_BODY	  0x00080000
#define SMFIP_HDR_LEADSPC 0x00100000

/* Bounds. */
#define MILTER_CHUNK_MAX   65535	      /* body bytes per SMFIC_BODY */
#define MILTER_PACKET_MAX  (1024 * 1024 + 64) /* one reply packet */
#define MILTER_MODS_MAX	   10000	      /* modifications per message */
#define MILTER_PACKETS_MAX 100000	      /* packets answering one stage */
#define MILTER_MACRO_MAX   64		      /* names in one stage list */

/*
 * Stages.  The first seven are the SMFIM_* indexes a version 6 milter
 * uses for its macro lists; UNKNOWN is the eighth list Postfix has.
 */
enum milter_stage {
	MILTER_STAGE_CONNECT = 0,
	MILTER_STAGE_HELO = 1,
	MILTER_STAGE_MAIL = 2,
	MILTER_STAGE_RCPT = 3,
	MILTER_STAGE_DATA = 4,
	MILTER_STAGE_EOM = 5,
	MILTER_STAGE_EOH = 6,
	MILTER_STAGE_UNKNOWN = 7,
	MILTER_STAGE_COUNT = 8,
	/* stages without a macro list */
	MILTER_STAGE_HEADER = 8,
	MILTER_STAGE_BODY = 9,
	MILTER_STAGE_OPTNEG = 10,
};

/* What the caller must do after a stage. */
enum milter_verdict {
	MILTER_CONTINUE, /* go on (also: stage skipped, milter accepted) */
	MILTER_ACCEPT,	 /* this milter wants nothing more of this message */
	MILTER_REJECT,	 /* refuse (r->text: SMTP reply; "" = default) */
	MILTER_TEMPFAIL, /* defer (r->text likewise) */
	MILTER_DISCARD,	 /* accept and throw the message away */
	MILTER_SKIP,	 /* body stage: send no more body chunks */
};

/* milter_default_action values. */
enum milter_default {
	MILTER_DEF_TEMPFAIL,
	MILTER_DEF_ACCEPT,
	MILTER_DEF_REJECT,
	MILTER_DEF_QUARANTINE,
};

/* One modification request, in the order the milter sent them. */
typedef struct MILTER_MOD {
	int   type;  /* SMFIR_ADDHEADER, ... (not REPLBODY/QUARANTINE) */
	long  index; /* CHGHEADER: 1-based occurrence; INSHEADER: position */
	char *name;  /* header name, or address for the RCPT/FROM requests */
	char *value; /* header value (LF folding), ESMTP args, or NULL */
} MILTER_MOD;

typedef struct MILTER_REPLY {
	enum milter_verdict verdict;
	VSTR		   *text; /* REJECT/TEMPFAIL reply, CRLF-separated */
	MILTER_MOD	   *mods;
	size_t		    nmods, mod_cap;
	bool		    body_replaced;
	VSTR		   *body;	/* replacement body (CRLF lines) */
	VSTR		   *quarantine; /* reason; valid when has_quarantine */
	bool		    has_quarantine;
	size_t		    body_limit; /* bytes; 0: unbounded */
	size_t		    npackets;	/* packets read for this stage */
} MILTER_REPLY;

/* Per-milter settings: main.cf's defaults or the { ... } form. */
typedef struct MILTER_CONF {
	char		   *name; /* "inet:host:port" or "unix:path" */
	int		    connect_timeout; /* seconds */
	int		    command_timeout;
	int		    content_timeout;
	enum milter_default default_action;
	int		    protocol;			/* 2..6 */
	char		   *macros[MILTER_STAGE_COUNT]; /* name lists */
	char		   *queue_directory; /* for relative unix: paths */
} MILTER_CONF;

typedef struct MILTER MILTER;

/* Returns a macro's value (NULL: not known, not sent). */
typedef const char *(*milter_macro_fn)(void *ctx, const char *name);

/* Settings. */
int	    milter_default_parse(const char *text, enum milter_default *out);
const char *milter_default_name(enum milter_default d);
/*
 * Parse a milter list (smtpd_milters / non_smtpd_milters): words
 * separated by white space or commas, each "inet:host:port",
 * "unix:path" or "{ name, connect_timeout=..., command_timeout=...,
 * content_timeout=..., default_action=..., protocol=... }".  Each entry
 * starts as a copy of *defaults.  0, or -1 with why.
 */
int milter_conf_parse_list(const char *text, const MILTER_CONF *defaults,
			   MILTER_CONF **out, size_t *count, VSTR *why);
/*
 * The main.cf list of `param` (smtpd_milters, non_smtpd_milters), each
 * entry starting from the milter_* parameters (timeouts, protocol,
 * default_action, the per-stage macro lists).  Relative unix: paths are
 * relative to the cwd, the queue folder in every daemon.  0, or -1 with
 * why naming the parameter at fault.
 */
int  milter_conf_load(const CFG *cfg, const char *param, MILTER_CONF **out,
		      size_t *count, VSTR *why);
void milter_conf_copy(MILTER_CONF *dst, const MILTER_CONF *src);
void milter_conf_clear(MILTER_CONF *c);
MILTER_CONF *milter_conf_free_list(MILTER_CONF *list, size_t count);

/* Replies. */
MILTER_REPLY *milter_reply_alloc(void);
MILTER_REPLY *milter_reply_free(MILTER_REPLY *r);
void	      milter_reply_reset(MILTER_REPLY *r);
/*
 * Parse one packet (cmd, data, len) received in answer to `stage` from a
 * milter that negotiated `actions` and `protocol` into r.  Returns 1 for
 * a final reply (r->verdict set), 0 for one that is followed by more
 * (a modification or SMFIR_PROGRESS), -1 with why for a malformed or
 * unexpected packet.  No I/O: the fuzz target drives this directly.
 */
int milter_reply_parse(MILTER_REPLY *r, int stage, uint32_t actions,
		       uint32_t protocol, int cmd, const char *data, size_t len,
		       VSTR *why);

/* Connections. */
MILTER	   *milter_alloc(const MILTER_CONF *conf);
MILTER	   *milter_free(MILTER *m); /* sends SMFIC_QUIT when open */
const char *milter_name(const MILTER *m);
void	    milter_set_macros(MILTER *m, milter_macro_fn fn, void *ctx);
/* Connect and negotiate; on failure the milter is failed (see above). */
int	 milter_open(MILTER *m);
bool	 milter_failed(const MILTER *m);
uint32_t milter_actions(const MILTER *m);  /* negotiated SMFIF_* */
uint32_t milter_protocol(const MILTER *m); /* negotiated SMFIP_* */
int	 milter_version(const MILTER *m);
/* Leading-space rule and LF->CRLF folding for a header from a milter. */
void milter_mod_field(const MILTER *m, const char *name, const char *value,
		      VSTR *out);

/*
 * Stages.  Each fills r and returns r->verdict.  `family` is 'U', 'L',
 * '4' or '6'.  `args` of mail/rcpt: the address in angle brackets, then
 * ESMTP parameters, NULL-terminated.  Header values may use CRLF or LF
 * folding.
 */
enum milter_verdict milter_connect(MILTER *m, const char *host, int family,
				   const char *addr, int port, MILTER_REPLY *r);
enum milter_verdict milter_helo(MILTER *m, const char *helo, MILTER_REPLY *r);
enum milter_verdict
milter_mail(MILTER *m, const char *const *args, MILTER_REPLY *r);
enum milter_verdict
milter_rcpt(MILTER *m, const char *const *args, MILTER_REPLY *r);
enum milter_verdict milter_data(MILTER *m, MILTER_REPLY *r);
enum milter_verdict milter_unknown(MILTER *m, const char *cmd, MILTER_REPLY *r);
enum milter_verdict
milter_header(MILTER *m, const char *name, const char *value, MILTER_REPLY *r);
enum milter_verdict milter_eoh(MILTER *m, MILTER_REPLY *r);
enum milter_verdict
milter_body(MILTER *m, const char *data, size_t len, MILTER_REPLY *r);
enum milter_verdict milter_eom(MILTER *m, MILTER_REPLY *r);
/* End of this message (SMFIC_ABORT); the connection stays. */
void milter_abort(MILTER *m);
/* True when the milter wants nothing more of this message. */
bool milter_done(const MILTER *m);

/*
 * Handing a connection from one process to another (smtpd -> cleanup):
 * milter_export puts the negotiated state into `a` and returns the
 * socket to pass with SCM_RIGHTS (-1 when there is none: failed or
 * finished milters travel as state only); milter_import rebuilds a
 * MILTER from such attributes and the received socket (or -1).  The
 * exporting side then forgets the socket with milter_disown().
 */
int	milter_export(const MILTER *m, ATTR *a);
MILTER *milter_import(const ATTR *a, int fd, VSTR *why);
void	milter_disown(MILTER *m);

#endif
