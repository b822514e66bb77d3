/*
 * bounce_client - talk to the bounce, defer and trace services.
 *
 * Delivery results that must reach the sender later are kept in
 * per-message logs under queue_directory/<service>/<hash>/<QUEUEID>
 * (service "bounce": failed recipients, "defer": delayed ones, "trace":
 * success notices for NOTIFY=SUCCESS).  Only the bounce daemon writes
 * them; qmgr asks it to with bounce_append() and, when the message is
 * finished (or a delay warning is due), asks for the notification with
 * bounce_flush().  Both are one util/attr request frame and one reply
 * frame on private/<service>:
 *
 *	request=append service=S queue_id=Q rcpt=... orig=... orcpt=...
 *	    notify=N offset=O action=A dsn=X reply=... relay=...
 *	    diag_type=... remote_mta=... time=T
 *	request=flush kind=K queue_name=active queue_id=Q
 *	reply:	status=0|-1 reason=...
 *
 * The log is text, one line per recipient (so a log survives any crash
 * with whole records only, each written with one O_APPEND write):
 *
 *	<time> <action> <dsn> <notify> <xtext rcpt> <xtext orig>
 *	    <xtext orcpt> <xtext relay> <xtext diag_type> <xtext remote_mta>
 *	    <xtext reply>
 *
 * fields separated by one space, "-" for an absent optional field, every
 * address/text field RFC 3461 xtext-encoded (so it holds no space, no
 * newline and no '-' alone).  bounce_log_read() parses it; postelqueue
 * -p/-j reads the defer log directly with it for the delay reasons.
 *
 * Errors: 0 / -1 with a reason in `why` (may be NULL) and errno
 * (ETIMEDOUT, ECONNREFUSED, EPROTO, or EIO when the service answered with
 * a failure).  bounce_log_read returns -1 on an unreadable file, and on a
 * malformed line stops with errno EBADMSG after calling fn for every
 * good line before it.  Nothing here logs or exits.
 *
 * Ownership: arguments stay the caller's.  Strings handed to the
 * bounce_log_read callback are borrowed for the duration of the call.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_BOUNCE_CLIENT_H
#define UTIL_BOUNCE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/cfg.h"
#include "util/vstr.h"

/* From util/deliver_proto.h (qmgr helper). */
struct deliver_rcpt;
struct deliver_status;

/* bounce_flush kinds */
#define BOUNCE_FLUSH_BOUNCE 1 /* failed: DSN, then remove the log */
#define BOUNCE_FLUSH_DELAY  2 /* delay warning from the defer log */
#define BOUNCE_FLUSH_TRACE  3 /* success notice from the trace log */

/* Service names (master.cf), also the log folder names. */
#define BOUNCE_SERVICE_BOUNCE "bounce"
#define BOUNCE_SERVICE_DEFER  "defer"
#define BOUNCE_SERVICE_TRACE  "trace"

#define BOUNCE_TIMEOUT_MS (60 * 1000) /* one request round trip */
#define BOUNCE_LINE_MAX	  (16 * 1024) /* longest log line read */

/*
 * Append one recipient's status to the per-message log of `service`
 * (BOUNCE_SERVICE_*).  The daemon fsyncs the log before it answers, so
 * after 0 the caller may mark the recipient done.  0 / -1 + why.
 */
int bounce_append(const CFG *cfg, const char *service, const char *queue_id,
		  const struct deliver_rcpt   *rcpt,
		  const struct deliver_status *st, VSTR *why);

/*
 * Build and send the notification for queue_id from its log (kind
 * BOUNCE_FLUSH_*); the daemon reads queue_name/queue_id for the original
 * message, injects the DSN through cleanup with sender <>, and for
 * BOUNCE_FLUSH_BOUNCE and _TRACE removes the log afterwards.  A message
 * with no log (nothing to say) succeeds.  0 / -1 + why.
 */
int bounce_flush(const CFG *cfg, int kind, const char *queue_name,
		 const char *queue_id, VSTR *why);

/*
 * The same, with an explicit service socket path (tests, tools that are
 * not in the queue folder).  bounce_append_path / bounce_flush_path.
 */
int bounce_append_path(const char *sock_path, const char *service,
		       const char *queue_id, const struct deliver_rcpt *rcpt,
		       const struct deliver_status *st, VSTR *why);
int bounce_flush_path(const char *sock_path, int kind, const char *queue_name,
		      const char *queue_id, VSTR *why);

/*
 * Read a log file and call fn once per line, in file order (the last
 * call for a recipient is its latest status).  A missing file is 0 with
 * no calls.  0 / -1 + why (errno EBADMSG for a malformed line).
 */
int bounce_log_read(const char *path,
		    void (*fn)(void *ctx, const char *rcpt, const char *dsn,
			       const char *reason),
		    void *ctx, VSTR *why);

/* One parsed log line (all strings borrowed from the parser's buffers). */
struct bounce_log_entry {
	long long   time;   /* when it was logged */
	const char *action; /* failed delayed delivered relayed */
	const char *dsn;    /* "5.1.1" */
	int	    notify; /* REC_NOTIFY_* bits */
	const char *rcpt;
	const char *orig;	/* NULL when absent */
	const char *orcpt;	/* NULL when absent */
	const char *relay;	/* NULL when absent */
	const char *diag_type;	/* NULL when absent */
	const char *remote_mta; /* NULL when absent */
	const char *reply;
};

/*
 * The full entries, for the bounce daemon.  Same rules as
 * bounce_log_read; the entry's strings are borrowed for the call.
 * bounce_log_parse_line parses one line (no newline) into e using
 * fields (an array of BOUNCE_LOG_FIELDS VSTRs the caller allocated):
 * 0 / -1 + why.
 */
#define BOUNCE_LOG_FIELDS 11
int bounce_log_walk(const char *path,
		    void (*fn)(void *ctx, const struct bounce_log_entry *e),
		    void *ctx, VSTR *why);
/* The same over a buffer (tests, fuzzing): whole lines only. */
int bounce_log_walk_mem(const char *buf, size_t len,
			void (*fn)(void *ctx, const struct bounce_log_entry *e),
			void *ctx, VSTR *why);
int bounce_log_parse_line(const char *line, size_t len, VSTR **fields,
			  struct bounce_log_entry *e, VSTR *why);
/* Format one log line (with newline) into out (reset first). */
void bounce_log_format(VSTR *out, const struct bounce_log_entry *e);

/*
 * The queue-relative log path "<service>/<hash>/<queue_id>" into out
 * (qmgr unlinks the defer log of a finished message; postelqueue reads
 * it under queue_directory).  0, or -1 (EINVAL) for a bad queue ID.
 */
int bounce_log_path(VSTR *out, const char *service, const char *queue_id);

/* "failed", "delayed", "delivered"/"relayed" (remote_mta set) */
const char *bounce_action_name(int deliver_action, const char *remote_mta);

#endif
