/*
 * local - shared declarations of the local delivery agent (local(8)).
 *
 * local runs as root (master.cf unpriv=n): every mailbox, Maildir, file
 * or command delivery happens in a forked child that has switched to the
 * recipient's uid/gid (default_privs for aliases and for files and
 * commands on root's behalf) before it touches anything the user owns;
 * only root's own mailbox is written as root.
 *
 * Errors: delivery steps record their outcome in a struct local_result
 * (action, dsn, text); only allocators die.
 *
 * Ownership: LOCAL_STATE is the daemon's (ctx->app); a struct local_msg
 * lives for one request; result texts are VSTRs owned by the result.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef LOCAL_LOCAL_H
#define LOCAL_LOCAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/cfg.h"
#include "util/deliver_proto.h"
#include "util/dict.h"
#include "util/srs.h"
#include "util/vstr.h"

#define LOCAL_EXPAND_MAX 1000 /* members of one recipient's tree */
#define LOCAL_DEPTH_MAX	 16   /* alias/include/.forward nesting */

/* Where a command or file member came from (allow_mail_to_* classes). */
#define LOCAL_FROM_ALIAS   (1 << 0)
#define LOCAL_FROM_FORWARD (1 << 1)
#define LOCAL_FROM_INCLUDE (1 << 2)

typedef struct LOCAL_STATE {
	CFG	   *cfg;
	DICT_LIST  *aliases; /* alias_maps, NULL when empty */
	const char *myhostname, *myorigin;
	const char *delims; /* recipient_delimiter */
	const char *home_mailbox, *spool_dir, *mailbox_command;
	const char *forward_path, *luser_relay, *default_privs;
	int	    allow_commands, allow_files; /* LOCAL_FROM_* bits */
	long long   size_limit;	       /* mailbox_size_limit, 0 none */
	long long   time_limit;	       /* command_time_limit, seconds */
	bool	    strict_owner;      /* strict_mailbox_ownership */
	long long   file_limit;	       /* forward_file_size_limit, bytes */
	const char *fwd_filter;	       /* forward_expansion_filter */
	const char *cmd_filter;	       /* command_expansion_filter */
	const char *export_env;	       /* export_environment */
	bool	    expand_owner;      /* expand_owner_alias */
	bool	    owner_request;     /* owner_request_special */
	int	    propagate;	       /* propagate_unmatched_extensions */
	const char *mailbox_transport; /* "transport[:nexthop]" or "" */
	const char *fallback_transport;
	const char *service; /* our own master.cf service name */
	const char *mydestination;
	SRS	   *srs; /* srs_domain set: forwarding rewrites senders */
} LOCAL_STATE;

/* One message: the content read once, LF line ends. */
struct local_msg {
	const struct deliver_request *req;
	VSTR			     *content; /* header + body, LF line ends */
	const char		     *sender;  /* envelope sender, "" for <> */
};

struct local_result {
	enum deliver_action action;
	char		    dsn[16];
	VSTR		   *text;
	VSTR	   *forward; /* addresses to re-inject, "\n" separated */
	size_t	    nforward;
	const char *fwd_sender; /* owner- sender for the new message */
	VSTR	   *owner;
	size_t	    members; /* expansion count, for the limit */
};

/*
 * The account a delivery runs as.  uid/gid are the privileges for files
 * and commands (default_privs for root); owner_uid/owner_gid are the
 * account's own, for its mailbox: root's mailbox belongs to root.
 */
struct local_user {
	char *name;
	uid_t uid;
	gid_t gid;
	uid_t owner_uid;
	gid_t owner_gid;
	char *home;
	char *shell;
	bool  mailbox; /* own mailbox: may be root */
};

/* One recipient being delivered (the alias name, the user, ...). */
struct local_rcpt {
	const char *addr;     /* full envelope recipient */
	const char *orig;     /* original recipient */
	VSTR	   *local;    /* local part, lower case */
	VSTR	   *user;     /* local part without extension */
	VSTR	   *ext;      /* extension or empty */
	char	    delim[2]; /* delimiter found, or "" */
	VSTR	   *domain;
};

/* local_result.c */
void local_result_init(struct local_result *r);
void local_result_free(struct local_result *r);
void
local_result_set(struct local_result *r, enum deliver_action a, const char *dsn,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Merge a member's outcome: deferred beats bounced beats sent. */
void
local_result_merge(struct local_result *into, const struct local_result *from);

/* local_copy.c: the message as written to a mailbox, file or command. */
#define LOCAL_COPY_FROM	 (1 << 0) /* "From " line */
#define LOCAL_COPY_QUOTE (1 << 1) /* >From quoting */
#define LOCAL_COPY_BLANK (1 << 2) /* blank line at the end */
#define LOCAL_COPY_MBOX	 (LOCAL_COPY_FROM | LOCAL_COPY_QUOTE | LOCAL_COPY_BLANK)
void local_copy_format(VSTR *out, const struct local_msg *m,
		       const char *delivered_to, int flags);
bool local_copy_has_delivered_to(const VSTR *content, const char *addr);

/* local_priv.c: run fn in a child as uid/gid; its result comes back. */
typedef void (*LOCAL_PRIV_FN)(void *ctx, struct local_result *r);
void local_priv_run(const struct local_user *u, long long time_limit,
		    LOCAL_PRIV_FN fn, void *ctx, struct local_result *r);
int  local_user_lookup(const char *name, struct local_user *u);
void local_user_free(struct local_user *u);

/* local_mailbox.c */
void local_mailbox(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
		   const struct local_user *u, struct local_result *r);
void local_file(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
		const struct local_user *u, const char *path,
		struct local_result *r);

/* local_command.c */
void local_command(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
		   const struct local_user *u, const char *command,
		   struct local_result *r);

/* local_expand.c: aliases, :include:, .forward, users, luser_relay. */
void local_recipient(LOCAL_STATE *st, struct local_msg *m,
		     const struct deliver_rcpt *dr, struct local_result *r);
/*
 * forward_path and luser_relay: $home $user $extension $local ...; with
 * filter, every character of an expanded value that is not in filter
 * becomes '_' (forward_expansion_filter).
 */
void local_expand_vars(const char *in, VSTR *out, struct local_rcpt *rc,
		       const struct local_user *u, const char *filter);
/* Append value to out with characters outside allowed as '_'. */
void local_filter_append(VSTR *out, const char *value, const char *allowed);
/* .forward text to one alias value: comment and blank lines dropped. */
void local_forward_parse(const char *data, size_t len, VSTR *out);
int  local_rcpt_split(const LOCAL_STATE *st, const char *addr,
		      struct local_rcpt *rc);
void local_rcpt_free(struct local_rcpt *rc);

/* local_pass.c: "transport[:nexthop]" delivers rc (see there). */
void local_pass(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
		const char *how, struct local_result *r);

/* local_forward.c: re-inject forwarded addresses through cleanup. */
void local_forward(LOCAL_STATE *st, struct local_msg *m, const char *rcpt,
		   struct local_result *r);

#endif
