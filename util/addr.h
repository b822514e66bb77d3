/*
 * addr - RFC 5321 / RFC 5322 address parsing, the one place Postel reads
 * an address.
 *
 * addr_parse_smtp() parses what follows "MAIL FROM:" or "RCPT TO:": the
 * path and the ESMTP parameters.  It accepts the null path (MAIL only),
 * source routes (stripped, reported in ADDR_F_ROUTE and addr->route),
 * quoted local parts with escapes, dot-atoms, LDH domains, IPv4/IPv6
 * address literals, and UTF-8 local parts and domains only with SMTPUTF8.
 * Length limits: local part 200 octets (ADDR_LOCAL_MAX: more than RFC
 * 5321's 64, see there), domain 255, path 256 octets.  On failure
 * it returns -1 and fills res->code / res->dsn / res->reply with the reply
 * a server sends: 501 5.1.7 (sender) or 501 5.1.3 (recipient) for a bad
 * path, 555 5.5.4 for an unknown or unusable parameter, 501 5.5.4 for a
 * malformed one, 553 5.6.7 for a non-ASCII address without SMTPUTF8
 * (RFC 6531).  The reply text never echoes raw peer bytes.  Options say
 * what the server offers (ADDR_OPT_*); parameters it does not offer get
 * 555.  SIZE and BODY=7BIT are always accepted.
 *
 * addr_parse_header() extracts the addr-specs of an RFC 5322 address-list
 * (From/To/Cc/Bcc/Reply-To value): display names, comments, groups,
 * angle addresses and the obsolete forms (routes, CFWS around dots).  It
 * never fails: elements it cannot make sense of are counted in list->bad.
 *
 * addr_parse_mailbox() parses a bare local@domain (command-line
 * recipients, table results): 0, or -1 with errno EINVAL.
 *
 * Helpers: addr_quote_local() appends the wire form of a local part
 * (quoted only when it is not a dot-atom); addr_split_ext() splits
 * user+ext at the first recipient_delimiter character, as Postfix does,
 * and returns the delimiter or 0; addr_lower_domain() lowercases an ASCII
 * domain and refreshes addr->addr; addr_relay_tricks() reports the
 * ADDR_TRICK_* bits that relay checks must refuse for a local domain;
 * addr_xtext_decode/encode() are RFC 3461 xtext (decode: -1 EINVAL on
 * malformed input); addr_utf8_valid() rejects overlongs, surrogates and
 * truncated sequences.
 *
 * Work is linear in the input (one pass, no backtracking); comment nesting
 * is bounded.  All outputs are VSTRs.
 *
 * Ownership: ADDR, ADDR_SMTP and ADDR_LIST are the caller's, created and
 * released by the matching *_alloc / *_free (which return NULL).  Fields
 * are borrowed until the next parse into the same object.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_ADDR_H
#define UTIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "util/vstr.h"

/*
 * RFC 5321 says 64 octets, but SRS and VERP senders routinely exceed it and
 * Postfix accepts them; rejecting real mail over it is worse than the rule.
 * The 256-octet path bound still holds.
 */
#define ADDR_LOCAL_MAX	200
#define ADDR_DOMAIN_MAX 255
#define ADDR_PATH_MAX	256
#define ADDR_ENVID_MAX	100 /* RFC 3461 */
#define ADDR_ORCPT_MAX	500 /* RFC 3461 */

/* ADDR flags */
#define ADDR_F_NULL	(1 << 0) /* <> */
#define ADDR_F_ROUTE	(1 << 1) /* had a source route (stripped) */
#define ADDR_F_QUOTED	(1 << 2) /* local part was a quoted string */
#define ADDR_F_LITERAL	(1 << 3) /* domain is [address literal] */
#define ADDR_F_UTF8	(1 << 4) /* non-ASCII local part or domain */
#define ADDR_F_NODOMAIN (1 << 5) /* no @domain (<postmaster>, headers) */

typedef struct ADDR {
	VSTR *local;  /* unquoted local part */
	VSTR *domain; /* as given; literals keep [] */
	VSTR *addr;   /* external form: quoted-local@domain */
	VSTR *route;  /* stripped route "@a,@b", or "" */
	int   flags;
} ADDR;

/* Which command addr_parse_smtp parses. */
enum addr_cmd {
	ADDR_CMD_MAIL,
	ADDR_CMD_RCPT,
};

/* addr_parse_smtp options */
#define ADDR_OPT_SMTPUTF8 \
	(1 << 0)		     /* MAIL: server offers it;
						 * RCPT: MAIL had it */
#define ADDR_OPT_NOBRACKETS (1 << 1) /* accept a path without <> */
#define ADDR_OPT_8BITMIME   (1 << 2) /* accept BODY=8BITMIME */
#define ADDR_OPT_DSN	    (1 << 3) /* RET ENVID NOTIFY ORCPT */
#define ADDR_OPT_AUTH	    (1 << 4) /* accept AUTH= */
#define ADDR_OPT_REQUIRETLS (1 << 5) /* accept REQUIRETLS (RFC 8689) */

#define ADDR_BODY_NONE	   0
#define ADDR_BODY_7BIT	   1
#define ADDR_BODY_8BITMIME 2

#define ADDR_RET_NONE 0
#define ADDR_RET_FULL 1
#define ADDR_RET_HDRS 2

/* Same values as REC_NOTIFY_* in util/rec.h. */
#define ADDR_NOTIFY_NEVER   (1 << 0)
#define ADDR_NOTIFY_SUCCESS (1 << 1)
#define ADDR_NOTIFY_FAILURE (1 << 2)
#define ADDR_NOTIFY_DELAY   (1 << 3)

#define ADDR_PARAM_MAX 16    /* parameters per command */
#define ADDR_LIST_MAX  10000 /* addresses per header */

typedef struct ADDR_SMTP {
	ADDR *addr;
	/* Parameters, decoded; *_given says whether the client sent it. */
	bool		   size_given;
	unsigned long long size;
	int		   body; /* ADDR_BODY_* */
	int		   ret;	 /* ADDR_RET_* */
	bool		   envid_given;
	VSTR		  *envid;  /* xtext-decoded */
	int		   notify; /* ADDR_NOTIFY_* bits, 0 = not given */
	bool		   orcpt_given;
	VSTR		  *orcpt_type; /* e.g. "rfc822" */
	VSTR		  *orcpt_addr; /* xtext-decoded */
	bool		   smtputf8;
	bool		   requiretls; /* MAIL ... REQUIRETLS (RFC 8689) */
	bool		   auth_given;
	VSTR		  *auth; /* xtext-decoded, "<>" kept as is */
	/* Every parameter as sent (keyword upper-cased, value raw). */
	size_t param_count;
	VSTR  *param_name[ADDR_PARAM_MAX];
	VSTR  *param_value[ADDR_PARAM_MAX];
	/* Error reply when the parse failed. */
	int	    code;  /* 501, 555 */
	const char *dsn;   /* "5.1.7", "5.1.3", "5.5.4" */
	VSTR	   *reply; /* text after code and dsn */
} ADDR_SMTP;

typedef struct ADDR_LIST {
	size_t count;
	size_t bad; /* elements that were not addresses */
	ADDR **addrs;
	size_t cap;
} ADDR_LIST;

/* addr_relay_tricks() bits */
#define ADDR_TRICK_PERCENT (1 << 0) /* u%remote@local */
#define ADDR_TRICK_BANG	   (1 << 1) /* remote!u@local */
#define ADDR_TRICK_AT	   (1 << 2) /* "u@remote"@local */
#define ADDR_TRICK_ROUTE   (1 << 3) /* <@local:u@remote> */

ADDR	  *addr_alloc(void);
ADDR	  *addr_free(ADDR *a);
ADDR_SMTP *addr_smtp_alloc(void);
ADDR_SMTP *addr_smtp_free(ADDR_SMTP *res);
ADDR_LIST *addr_list_alloc(void);
ADDR_LIST *addr_list_free(ADDR_LIST *list);

int  addr_parse_smtp(ADDR_SMTP *res, enum addr_cmd cmd, const char *arg,
		     size_t len, int opts);
int  addr_parse_mailbox(ADDR *a, const char *str, size_t len, bool utf8);
void addr_parse_header(ADDR_LIST *list, const char *str, size_t len);

int addr_quote_local(VSTR *out, const char *local, size_t len);
int
addr_split_ext(const char *local, const char *delims, VSTR *user, VSTR *ext);
void addr_lower_domain(ADDR *a);
int  addr_relay_tricks(const ADDR *a);
/*
 * Does the local part begin with "-" (Postfix's allow_min_user = no
 * refuses such addresses: a program that takes addresses on its command
 * line would read them as options)?  addr_text_min_user() asks the same
 * of an external-form string ("-x@y", "\"-x\"@y", "\"\\-x\"@y").
 */
bool addr_min_user(const ADDR *a);
bool addr_text_min_user(const char *addr);
int  addr_xtext_decode(VSTR *out, const char *in, size_t len);
int  addr_xtext_encode(VSTR *out, const char *in, size_t len);
bool addr_utf8_valid(const char *str, size_t len);

#endif
