/*
 * postscreen - the daemon's own declarations, shared by its files:
 * postscreen.c (main, parameters, admission, the end of a session and the
 * hand-off to smtpd), postscreen_early.c (pregreet and DNSBL, before the
 * SMTP handshake), postscreen_smtpd.c (the small SMTP engine and the deep
 * protocol tests), postscreen_acl.c (postscreen_access_list),
 * postscreen_cache.c and postscreen_line.c.
 *
 * One PSC per process holds the configuration and the counters; one
 * PSC_STATE per client connection.  A session ends in exactly one of
 * psc_conclude() (hand-off, or final reply and DISCONNECT) and
 * psc_hangup() (the client went away), both of which free the state.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef POSTSCREEN_POSTSCREEN_H
#define POSTSCREEN_POSTSCREEN_H

#include <stdbool.h>
#include <time.h>

#include "postscreen/postscreen_cache.h"
#include "postscreen/postscreen_dnsbl.h"
#include "util/cfg.h"
#include "util/events.h"
#include "util/haproxy.h"
#include "util/skel.h"
#include "util/vstr.h"

enum psc_action {
	PSC_ACT_IGNORE,
	PSC_ACT_ENFORCE,
	PSC_ACT_DROP,
};

/* Per-test flag bits: to do in this session, passed, failed. */
#define PSC_TODO(t)	(1u << (t))
#define PSC_PASS(t)	(1u << ((t) + 8))
#define PSC_FAIL(t)	(1u << ((t) + 16))
#define PSC_MASK_TODO	0x1fu
#define PSC_MASK_PASS	(PSC_MASK_TODO << 8)
#define PSC_MASK_FAIL	(PSC_MASK_TODO << 16)
#define PSC_EARLY_TESTS (PSC_TODO(PSC_TEST_PREGR) | PSC_TODO(PSC_TEST_DNSBL))
#define PSC_DEEP_TESTS \
	(PSC_TODO(PSC_TEST_PIPEL) | PSC_TODO(PSC_TEST_NSMTP) \
	 | PSC_TODO(PSC_TEST_BARLF))
#define PSC_FLAG_NOFORWARD   (1u << 24) /* answered by postscreen only */
#define PSC_FLAG_NEW	     (1u << 25) /* no cache entry */
#define PSC_FLAG_DNLIST_FAIL (1u << 26) /* deny-listed */
#define PSC_FLAG_HANGUP	     (1u << 27) /* the client went away */

typedef struct PSC_ACL	 PSC_ACL;
typedef struct PSC_COUNT PSC_COUNT;

typedef struct PSC {
	struct skel_ctx *ctx;
	CFG		*cfg;
	EVENTS		*ev;
	/* Parameters. */
	long long	greet_wait_ms;
	long long	cmd_time_ms;
	long long	cmd_count_limit;
	long long	cconn_limit;
	long long	pre_queue_limit;
	long long	post_queue_limit;
	int		v6_prefix_len;
	enum psc_action greet_action;
	enum psc_action dnlist_action;
	enum psc_action dnsbl_action;
	enum psc_action pipel_action;
	enum psc_action nsmtp_action;
	enum psc_action barlf_action;
	long long	dnsbl_threshold;
	long long	dnsbl_allow_threshold;
	unsigned	enabled; /* PSC_TODO bits of enabled tests */
	time_t		ttl[PSC_TEST_COUNT]; /* seconds */
	char	       *teaser;		     /* "220-TEXT\r\n" or NULL */
	char	       *banner;		     /* smtpd_banner */
	char	       *hostname;	     /* myhostname */
	char	       *forbidden;	     /* postscreen_forbidden_commands */
	char	       *smtpd_path; /* "private/" + smtpd_service_name */
	char	       *allow_if;   /* NULL: static:all */
	time_t		cache_retention;
	long long	cache_interval_ms;
	PSC_ACL	       *acl;
	PSC_CACHE      *cache;
	PSC_DNSBL      *dnsbl;
	/* postscreen_upstream_proxy_protocol = haproxy: its header first. */
	bool	  upstream_haproxy;
	long long upstream_timeout_ms;
	/* Counters. */
	int	   check_count; /* clients being tested */
	int	   post_count;	/* clients waiting for smtpd */
	PSC_COUNT *per_client;	/* connections per inet_prefix_key */
	VSTR	  *tmp;
} PSC;

typedef struct PSC_STATE {
	PSC	   *psc;
	int	    fd;
	char	   *addr; /* client, numeric */
	char	   *port;
	char	   *saddr; /* our end */
	char	   *sport;
	char	   *key; /* inet_prefix_key of addr */
	long long   start_ms;
	unsigned    flags;
	time_t	    expire[PSC_TEST_COUNT];
	const char *test_name; /* for HANGUP */
	const char *final_reply;
	VSTR	   *rcpt_reply;
	VSTR	   *final_buf; /* a final_reply made up here */
	VSTR	   *in;	       /* bytes from the client (SMTP engine) */
	VSTR	   *out;       /* replies not yet written */
	bool	    want_read;
	/* The PROXY header still to come (upstream_haproxy), or NULL. */
	HAPROXY *haproxy;
	/* Early tests. */
	bool		      greet_over; /* the greet wait has passed */
	bool		      pregr_done; /* the client talked early */
	struct psc_dnsbl_req *dnsbl_req;  /* pending DNSBL request */
	int		      dnsbl_score;
	char		     *dnsbl_site;
	/* SMTP engine. */
	bool	  in_smtpd;
	char	 *helo;
	char	 *sender;
	bool	  esmtp;
	long long ncmds;
	char	 *last_cmd; /* verb of the last command */
	/* Post queue. */
	bool in_post_queue;
	int  pass_tries;
} PSC_STATE;

/* postscreen.c */
void psc_conclude(PSC_STATE *state);
void psc_hangup(PSC_STATE *state);
void psc_drop(PSC_STATE *state, const char *reply);
void psc_enforce(PSC_STATE *state, const char *rcpt_reply);
int  psc_send(PSC_STATE *state, const char *text);
void psc_watch(PSC_STATE *state, bool want_read);
void psc_delta(VSTR *out, long long since_ms);
void psc_fail(PSC_STATE *state, int test);
void psc_pass(PSC_STATE *state, int test);

/* postscreen_early.c */
void psc_early_tests(PSC_STATE *state);
void psc_early_read(PSC_STATE *state);
void psc_early_cancel(PSC_STATE *state);

/* postscreen_smtpd.c */
void psc_smtpd_tests(PSC_STATE *state);
void psc_smtpd_read(PSC_STATE *state);
void psc_smtpd_cancel(PSC_STATE *state);

/* postscreen_acl.c */
enum psc_acl_result {
	PSC_ACL_DUNNO,
	PSC_ACL_PERMIT,
	PSC_ACL_REJECT,
};

PSC_ACL		   *psc_acl_open(const CFG *cfg, const char *list);
PSC_ACL		   *psc_acl_free(PSC_ACL *acl);
enum psc_acl_result psc_acl_eval(PSC_ACL *acl, const char *addr);

#endif
