/*
 * cleanup_client - hand one message to the cleanup service.
 *
 * smtpd, pickup and local commands use this to give cleanup an envelope
 * and a content stream; cleanup writes, fsyncs and commits the queue file
 * and only then answers.  Per message: cleanup's ready frame (awaited at
 * most 10 s, so an unserved socket fails at once), an envelope frame, content frames (buffered to >= 64 KiB), an
 * end frame, one reply frame, all util/attr frames over the Unix socket
 * private/cleanup.
 *
 * Errors: cleanup_begin returns NULL and says why in the caller's VSTR;
 * cleanup_write returns -1 when cleanup went away (the caller then keeps
 * reading its own client's data and calls cleanup_finish, which answers
 * 451 4.3.0); cleanup_finish returns -1 only when the conversation itself
 * failed, and always fills the result with a complete SMTP reply.
 *
 * Ownership: the request and its strings stay the caller's; they are
 * copied into the envelope frame by cleanup_begin.  cleanup_finish and
 * cleanup_abort free the CLEANUP_CLIENT.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_CLEANUP_CLIENT_H
#define UTIL_CLEANUP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/attr.h"
#include "util/cfg.h"
#include "util/milter.h"
#include "util/vstr.h"

/* Request flags. */
#define CLEANUP_FLAG_EXTRACT (1 << 0) /* sendmail -t */
#define CLEANUP_FLAG_HOLD    (1 << 1) /* commit into hold/ */
#define CLEANUP_FLAG_DISCARD (1 << 2) /* accept, queue nothing */
#define CLEANUP_FLAG_SIGN    (1 << 3) /* outbound: DKIM-sign */
#define CLEANUP_FLAG_VERIFY  (1 << 4) /* inbound: DKIM, DMARC, A-R header */
#define CLEANUP_FLAG_MILTER  (1 << 5) /* run non_smtpd_milters */

struct cleanup_rcpt {
	const char *addr;   /* recipient as given (external form) */
	const char *orcpt;  /* DSN ORCPT "rfc822;addr" decoded, or NULL */
	int	    notify; /* ADDR_NOTIFY_* bits, 0 = not given */
};

struct cleanup_req {
	int	    flags;     /* CLEANUP_FLAG_* */
	const char *origin;    /* "smtpd", "pickup", "sendmail" ... for logs */
	const char *sender;    /* "" for <> */
	const char *envid;     /* DSN ENVID decoded, or NULL */
	int	    ret;       /* ADDR_RET_* */
	int	    body_type; /* ADDR_BODY_* */
	bool	    smtputf8;
	bool	    requiretls;	   /* MAIL FROM ... REQUIRETLS (RFC 8689) */
	long long   declared_size; /* SIZE=, 0 = none */
	const char *client_name, *client_addr, *client_port; /* NULL: local */
	const char *helo, *protocol; /* "SMTP", "ESMTP", ... or NULL */
	const char *tls_info; /* "TLSv1.3 with cipher ..." for Received: */
	const char *sasl_method, *sasl_username;
	const char *auth_header;   /* login shown in Received:, or NULL */
	const char *local_uid;	   /* pickup: the submitting uid */
	const char *fullname;	   /* sendmail -F: name for an added From: */
	bool	    rewrite_local; /* qualify unqualified header addresses */
	/* smtpd's SPF check (AUTH-API 3); spf_result NULL: not checked. */
	const char *spf_result;	  /* "pass", "fail", ... "permerror" */
	const char *spf_identity; /* "mailfrom" or "helo" */
	const char *spf_domain;	  /* the domain that was checked */
	const char *spf_header;	  /* "Received-SPF: ...", no final CRLF */
	/*
	 * Header fields to put above the message (smtpd's PREPEND actions),
	 * each followed by '\n', first one topmost; NULL: none.
	 */
	const char *prepend;
	/* After-queue content filter "transport:nexthop" (A filter=), or NULL. */
	const char *filter;
	int	    receive_override; /* RECEIVE_* bits that concern cleanup */
	const struct cleanup_rcpt *rcpts;
	size_t			   nrcpt;
	/*
	 * smtpd's milters, for cleanup to run the content stages (header to
	 * end of message) on connections smtpd opened and took through
	 * DATA.  Each goes as milter_export() state; its socket is passed
	 * (SCM_RIGHTS) and stays the caller's too.  milter_macros: macro
	 * values ("{name}" = value) cleanup may send, or NULL.
	 */
	MILTER *const *milters;
	size_t	       nmilters;
	const ATTR    *milter_macros;
};

enum cleanup_status {
	CLEANUP_OK,
	CLEANUP_TEMPFAIL,
	CLEANUP_REJECT,
	CLEANUP_DISCARDED
};

struct cleanup_result {
	enum cleanup_status status;
	char		    queue_id[64]; /* set for OK and DISCARDED */
	char reply[512]; /* complete SMTP reply line without CRLF */
};

typedef struct CLEANUP_CLIENT CLEANUP_CLIENT;

/*
 * Connect to the cleanup service and send the envelope.  The socket is
 * the queue-relative "private/cleanup" when the current folder is the
 * queue (master children, chrooted or not), else queue_directory +
 * "/private/cleanup".  NULL + why on failure.
 */
CLEANUP_CLIENT *
cleanup_begin(const CFG *cfg, const struct cleanup_req *req, VSTR *why);

/*
 * Content in wire form: CRLF-terminated lines, already dot-unstuffed, in
 * any chunking.  0, or -1 when cleanup went away.
 */
int cleanup_write(CLEANUP_CLIENT *cc, const void *data, size_t len);

/*
 * End of content; wait for the durable commit and fill res.  -1 only if
 * the conversation itself failed (res then says 451 4.3.0).  Frees cc.
 */
int cleanup_finish(CLEANUP_CLIENT *cc, struct cleanup_result *res);

/*
 * CLEANUP_FLAG_HOLD / CLEANUP_FLAG_DISCARD decided after the content
 * (smtpd_end_of_data_restrictions): sent with the end frame.
 */
void cleanup_add_flags(CLEANUP_CLIENT *cc, int flags);

/* Give up: cleanup removes its temporary file.  Frees cc. */
void cleanup_abort(CLEANUP_CLIENT *cc);

#endif
