/*
 * deliver_proto - the delivery request/reply frames between qmgr and
 * the delivery transports (smtp, relay, local, error, discard, ...).
 *
 * qmgr connects to private/<transport> (the master.cf service named by
 * the transport), writes ONE request frame, reads ONE reply frame, and
 * then either sends the next request on the same connection (so the
 * transport can reuse a cached SMTP session) or closes.  Both frames are
 * util/attr lists; nobody else parses these bytes.
 *
 * Request frame (every integer is decimal text):
 *
 *	request=deliver queue_name=active queue_id=Q transport=T
 *	nexthop=N sender=S [envid=E] ret=R smtputf8=0|1 [requiretls=0|1]
 *	body_type=B
 *	arrival_sec=A arrival_usec=U message_size=M content_offset=C
 *	qmgr_time=Q [client_name=H] [client_addr=I] nrcpt=K
 *	then for each recipient i = 0 .. K-1:
 *	rcpt.<i>.addr=X [rcpt.<i>.orig=Y] [rcpt.<i>.orcpt=Z]
 *	rcpt.<i>.notify=N rcpt.<i>.offset=O
 *
 * Reply frame, one status per recipient, in request order:
 *
 *	status=0 nrcpt=K
 *	then for each i: st.<i>.action=sent|deferred|bounced
 *	st.<i>.dsn=X.Y.Z st.<i>.reply=... st.<i>.relay=...
 *	[st.<i>.diag_type=smtp] [st.<i>.remote_mta=host]
 *
 * (Flat names rather than nested lists so every decoded string is
 * borrowed straight from the one ATTR; lookups are hashed.)
 *
 * A transport that cannot even parse a request answers status=-1
 * reason=... (deliver_reply_decode then fails with that reason, and qmgr
 * defers every recipient of the request).
 *
 * Limits: at most DELIVER_RCPT_MAX recipients per request; the dsn is
 * "d.ddd.ddd" (class 2, 4 or 5 and matching the action); addresses,
 * nexthop and the other strings must be C strings (no NUL).  Decoders
 * check everything, an encoder given nonsense is a bug (msg_panic).
 *
 * Errors: the decoders return 0 / -1 with a reason in `why` (may be NULL).
 * The encoders return 0, or -1 with a reason logged as a warning when
 * the request is invalid (too many recipients, a bad dsn).
 *
 * Ownership: deliver_request_decode and deliver_reply_decode borrow every
 * string from the ATTR `in`, which must outlive the result (and must not
 * be changed meanwhile).  deliver_request_decode allocates req->rcpts,
 * released with deliver_request_release().  deliver_reply_decode fills
 * the caller's array `st` of exactly n entries and allocates nothing.
 * The encoders copy every string into `out`.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DELIVER_PROTO_H
#define UTIL_DELIVER_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "util/attr.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

#define DELIVER_RCPT_MAX 1000 /* recipients in one request */
#define DELIVER_DSN_MAX	 16   /* bytes of a dsn incl. NUL */

/* How long qmgr waits for one reply (a transport may try many MX hosts). */
#define DELIVER_TIMEOUT_MS (30 * 60 * 1000)

struct deliver_rcpt {
	const char *addr;   /* envelope recipient */
	const char *orig;   /* original recipient (O record) or NULL */
	const char *orcpt;  /* DSN ORCPT or NULL */
	int	    notify; /* REC_NOTIFY_* bits */
	long long   offset; /* R record offset (qmgr's, passed back) */
};

struct deliver_request {
	const char *queue_name; /* "active" */
	const char *queue_id;
	const char *transport; /* "smtp" */
	const char *nexthop;   /* "example.com", "[127.0.0.2]:2525" */
	const char *sender;    /* "" for <> */
	const char *envid;     /* or NULL */
	int	    ret;       /* ADDR_RET_* */
	bool	    smtputf8;
	bool requiretls; /* MAIL FROM ... REQUIRETLS, from the queue file */
	int  body_type;	 /* ADDR_BODY_* */
	long long   arrival_sec, arrival_usec;
	long long   message_size;
	long long   content_offset; /* from the S record */
	long long   qmgr_time;	    /* when qmgr took it into active */
	const char *client_name, *client_addr; /* for logs, may be NULL */
	struct deliver_rcpt *rcpts;
	size_t		     nrcpt;
};

enum deliver_action {
	DELIVER_SENT,
	DELIVER_DEFERRED,
	DELIVER_BOUNCED,
};

struct deliver_status { /* one per recipient, same order */
	enum deliver_action action;
	char	    dsn[DELIVER_DSN_MAX]; /* "2.0.0", "4.4.1", "5.1.1" */
	const char *reply;		  /* diagnostic text */
	const char *relay;	/* "mx.example.com[192.0.2.1]:25" or "none" */
	const char *diag_type;	/* "smtp" for a remote reply, else NULL */
	const char *remote_mta; /* host name for Remote-MTA or NULL */
};

/* Append the request to out (out is reset first).  0 / -1 (bad request). */
int deliver_request_encode(const struct deliver_request *req, ATTR *out);

/*
 * Parse a request.  Strings are borrowed from `in`; req->rcpts is
 * allocated: free with deliver_request_release() (safe on a zeroed or
 * already released request).  On failure nothing stays allocated.
 * 0 / -1 + why.
 */
int
deliver_request_decode(const ATTR *in, struct deliver_request *req, VSTR *why);
void deliver_request_release(struct deliver_request *req);

/* Build a reply for n statuses (out is reset first).  0 / -1. */
int deliver_reply_encode(const struct deliver_status *st, size_t n, ATTR *out);
/* A whole-request failure reply: status=-1 reason=... (out reset first). */
void deliver_reply_encode_error(const char *reason, ATTR *out);

/*
 * Parse a reply that must hold exactly n statuses into st[0..n-1]
 * (strings borrowed from `in`).  A status=-1 reply fails with its reason
 * in why.  0 / -1 + why.
 */
int deliver_reply_decode(const ATTR *in, struct deliver_status *st, size_t n,
			 VSTR *why);

/* "sent", "deferred", "bounced"; NULL for a bad value. */
const char *deliver_action_name(enum deliver_action action);
/* 0 and *action, or -1 for an unknown name. */
int deliver_action_parse(const char *name, enum deliver_action *action);

/*
 * Does `dsn` look like "c.sss.ddd" with class 2, 4 or 5 (1-3 digits for
 * the subject, 1-3 for the detail)?  deliver_dsn_class returns the class
 * digit (2, 4, 5) or -1.
 */
bool deliver_dsn_valid(const char *dsn);
int  deliver_dsn_class(const char *dsn);

/*
 * Fill st as a per-recipient result: action, dsn (copied, must be valid),
 * reply and relay (borrowed; relay NULL means "none").  Helper for
 * transports and qmgr's own failures.
 */
void deliver_status_set(struct deliver_status *st, enum deliver_action action,
			const char *dsn, const char *reply, const char *relay);

#endif
