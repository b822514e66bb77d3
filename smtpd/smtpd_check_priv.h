/*
 * smtpd_check_priv - what the smtpd_check*.c files share: the compiled
 * restriction lists, the SMTPD_CHECK object, the per-call context and
 * the helpers each file offers the others.  Not for use outside them.
 *
 * Conventions: CHK_* results (DUNNO, OK, REJECT with res filled, ERROR
 * with res = 451 4.3.0); lookups return 1 / 0 / -1 (table error).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef SMTPD_SMTPD_CHECK_PRIV_H
#define SMTPD_SMTPD_CHECK_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "smtpd/smtpd_check.h"
#include "util/addr.h"
#include "util/cfg.h"
#include "util/dict.h"
#include "util/dns.h"
#include "util/own_addr.h"
#include "util/policy.h"
#include "util/srs.h"
#include "util/vstr.h"

#define CHK_DUNNO  0
#define CHK_OK	   1
#define CHK_REJECT 2 /* res filled: REJECT or DEFER */
#define CHK_ERROR  (-1)

#define CHK_DEPTH_MAX 5	  /* lists nested in access maps */
#define CHK_TEXT_MAX  400 /* peer text quoted in a reply */
#define CHK_MEMO_TIME 30  /* seconds a verdict is reused */

enum restr_kind {
	R_PERMIT,
	R_REJECT,
	R_DEFER,
	R_PERMIT_MYNETWORKS,
	R_PERMIT_SASL,
	R_PERMIT_AUTH_DEST,
	R_REJECT_UNAUTH_DEST,
	R_DEFER_UNAUTH_DEST,
	R_CHECK_CLIENT,
	R_CHECK_HELO,
	R_CHECK_SENDER,
	R_CHECK_RCPT,
	R_NONFQDN_HELO,
	R_INVALID_HELO,
	R_UNKNOWN_HELO,
	R_NONFQDN_SENDER,
	R_NONFQDN_RCPT,
	R_UNKNOWN_SENDER_DOMAIN,
	R_UNKNOWN_RCPT_DOMAIN,
	R_UNLISTED_RCPT,
	R_UNLISTED_SENDER,
	R_UNKNOWN_REVERSE_CLIENT,
	R_RBL_CLIENT,
	R_RHSBL_CLIENT,
	R_RHSBL_HELO,
	R_RHSBL_SENDER,
	R_RHSBL_RCPT,
	R_SENDER_LOGIN_MISMATCH,
	R_SPF_FAIL,
	R_SPF_SOFTFAIL,
	R_SPF_TEMPERROR,
	R_SPF_PERMERROR,
	R_POLICY, /* check_policy_service */
};

struct restr {
	enum restr_kind kind;
	DICT	       *table;	/* check_*_access: from the cache */
	bool		broken; /* the table could not be opened */
	char	       *spec;	/* its name, for logs (broken only) */
	char	       *zone;	/* DNSBL zone */
	char	       *filter; /* zone=d.d.d.d, or NULL */
	POLICY	       *policy; /* check_policy_service: from the cache */
};

struct restr_list {
	struct restr *items;
	size_t	      count;
};

/* One element of a domain or network list. */
struct match_item {
	bool  negate;
	char *pattern; /* lower case; NULL for tables */
	DICT *table;   /* borrowed from cache */
	bool  broken;  /* the table could not be opened */
	DICT *cidr;    /* owned: a network item */
};

struct match_list {
	struct match_item *items;
	size_t		   count;
	bool		   parent; /* domain.tld matches subdomains */
};

/* Recipient tables; a broken list defers the lookups that need it. */
struct chk_maps {
	DICT_LIST *list; /* NULL when empty or broken */
	bool	   broken;
};

/* The reply class of the list being evaluated. */
enum chk_class {
	CLASS_CLIENT,
	CLASS_HELO,
	CLASS_SENDER,
	CLASS_RCPT,
	CLASS_DATA,
	CLASS_ETRN,
	CLASS_EOD,
};

struct SMTPD_CHECK {
	const CFG	 *cfg;
	DICT		**tables; /* cache, owned */
	char		**table_specs;
	size_t		  table_count;
	struct restr_list client, helo, sender, relay, rcpt, data, etrn;
	struct restr_list eod; /* smtpd_end_of_data_restrictions */
	struct match_list mynetworks, mydestination, relay_domains;
	struct match_list valias_domains, vmbox_domains;
	OWN_ADDR	 *own_addr;	   /* address literals that are local */
	struct chk_maps	  local_rcpt_maps; /* none: every local user */
	struct chk_maps	  valias_maps;
	struct chk_maps	  vmbox_maps;
	struct chk_maps	  relay_rcpt_maps;
	struct chk_maps	  sender_login_maps; /* smtpd_sender_login_maps */
	struct chk_maps	  relocated_maps;    /* relocated_maps */
	struct chk_maps	  canonical_maps;    /* known addresses, as Postfix: */
	struct chk_maps	  sender_canonical_maps;
	struct chk_maps	  rcpt_canonical_maps;
	DNS		 *dns; /* opened on demand in create */
	DNS_REPLY	 *dns_reply;
	bool		  delay_reject;
	bool		  access_parent; /* smtpd_access_maps in pdms */
	bool		  untrusted_routing;
	bool		  reject_unlisted_rcpt;
	bool	    reject_unlisted_sender; /* smtpd_reject_unlisted_sender */
	bool	    no_unknown_rcpt;	    /* receive_override_options */
	const char *null_key;
	const char *delims; /* recipient_delimiter */
	const char *myorigin;
	int   reject_code, defer_code, access_reject_code, access_defer_code;
	int   relay_code, unknown_addr_code, unknown_client_code;
	int   unknown_local_code, unknown_valias_code, unknown_vmbox_code;
	int   unknown_relay_code, non_fqdn_code, invalid_host_code;
	int   unknown_host_code, rbl_code;
	VSTR *scratch;
	/* check_policy_service: one client per service (shared connection) */
	POLICY **policies;
	char   **policy_specs;
	size_t	 policy_count;
	bool	 delayed_policy; /* client/helo/sender lists ask one */
	/*
	 * The delayed client/HELO/sender verdict, reused for the next RCPT
	 * with the same facts (one DNS block list query per transaction,
	 * not per recipient).
	 */
	VSTR		       *memo_key;
	time_t			memo_time;
	int			memo_rc;
	enum smtpd_check_action memo_action;
	VSTR		       *memo_reply;
	bool			memo_hold;
	bool			memo_discard;
	VSTR		       *memo_filter;
	SRS		       *srs; /* srs_domain set: RCPT checks SRS */
};

/* Per-call state. */
struct chk_ctx {
	SMTPD_CHECK		       *c;
	const struct smtpd_check_facts *f;
	struct smtpd_check_result      *res;
	enum chk_class class;
	ADDR		      *sender; /* NULL when not known or <> */
	bool		       null_sender;
	ADDR		      *rcpt; /* NULL when not known */
	bool		       hold;
	bool		       discard;
	int		       depth;
	enum smtpd_check_stage stage;
	VSTR		      *defer_if_permit; /* reply, or empty */
	VSTR		      *defer_if_reject;
	VSTR		      *filter;	  /* res->filter, or a scratch one */
	bool		       srs_valid; /* rcpt is a good SRS address */
};

/* Where a domain is delivered (smtpd_check_addr_class). */
enum addr_class {
	AC_FOREIGN,
	AC_LOCAL,
	AC_VALIAS,
	AC_VMBOX,
	AC_RELAY,
};

struct smtpd_check_words {
	char **v;
	size_t n;
};

/* smtpd_check.c: replies, tables, words. */
void smtpd_check_printable(VSTR *out, const char *text);
int
smtpd_check_reply(struct chk_ctx *x, int code, const char *dsn, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));
int   smtpd_check_reject(struct chk_ctx *x, enum chk_class class, int code,
			 const char *dsn, const char *text);
int   smtpd_check_error(struct chk_ctx *x);
DICT *smtpd_check_table(SMTPD_CHECK *c, const char *spec, bool *broken);
void  smtpd_check_word(const char *item, size_t len, void *ctx);
void  smtpd_check_words_free(struct smtpd_check_words *w);
bool  smtpd_check_is_code(const char *w, size_t len);

int smtpd_check_access_action(struct chk_ctx *x, const char *table,
			      const char *value);

/* smtpd_check_policy.c: check_policy_service. */
POLICY *smtpd_check_policy_open(SMTPD_CHECK *c, const char *spec, VSTR *why);
int	smtpd_check_policy(struct chk_ctx *x, const struct restr *r);

/* smtpd_check_addr.c: domain and network lists, address classes. */
int  smtpd_check_addr_compile(SMTPD_CHECK *c, const char *param, bool networks,
			      bool parent, struct match_list *m, VSTR *why);
void smtpd_check_addr_list_free(struct match_list *m);
int  smtpd_check_addr_client(const struct match_list *m, const char *addr,
			     const char *name);
bool smtpd_check_addr_pdms(const CFG *cfg, const char *feature);
bool smtpd_check_addr_norm(const char *text, char *out, size_t size);
void smtpd_check_addr_interfaces(SMTPD_CHECK *c);
void smtpd_check_addr_maps_open(SMTPD_CHECK *c, const char *param,
				struct chk_maps *m);
int
smtpd_check_addr_class(SMTPD_CHECK *c, const char *domain, enum addr_class *ac);
int smtpd_check_addr_auth_dest(struct chk_ctx *x);
int smtpd_check_addr_unlisted(struct chk_ctx *x, enum chk_class class,
			      const ADDR     *a);

/* smtpd_check_dns.c: DNS-based restrictions. */
enum dns_status smtpd_check_dns_domain(SMTPD_CHECK *c, const char *domain,
				       bool mx, bool *nullmx);
int		smtpd_check_dns_unknown(struct chk_ctx *x, enum chk_class class,
					const ADDR *a, const char *detail);
int		smtpd_check_dns_rbl(struct chk_ctx *x, const struct restr *r,
				    const char *what, bool reverse, const char *class_text);

#endif
