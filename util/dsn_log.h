/*
 * dsn_log - the Postfix-format delivery log line every transport writes.
 *
 *	QUEUEID: to=<rcpt>, orig_to=<orig>, relay=R, delay=D,
 *	    delays=a/b/c/d, dsn=X.Y.Z, status=sent (reply)
 *
 * delay is the time since arrival; delays splits it into a (before
 * qmgr took the message), b (in qmgr until the transport got it), c
 * (connection set-up) and d (transmission), as pflogsumm expects.
 * Numbers are printed as Postfix does: up to two significant decimals
 * below 10 seconds, whole seconds above, "0" for less than 10 ms.
 *
 * Errors: none (logs through msg_info).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DSN_LOG_H
#define UTIL_DSN_LOG_H

#include "util/deliver_proto.h"
#include "util/vstr.h"

/* Times in seconds since the epoch (fractions allowed). */
struct dsn_log_times {
	double arrival; /* message arrival */
	double qmgr;	/* qmgr took it into active */
	double start;	/* transport got the request */
	double conn;	/* connection ready (= start if none) */
	double done;	/* result known */
};

/* Append a delay value ("0", "0.12", "3.4", "17") to out. */
void dsn_log_delay(VSTR *out, double secs);

/* Format the whole line (without the queue ID prefix) into out. */
void
dsn_log_format(VSTR *out, const struct deliver_rcpt *rcpt,
	       const struct deliver_status *st, const struct dsn_log_times *t);

/* msg_info("%s: %s", queue_id, line). */
void dsn_log_delivery(const char *queue_id, const struct deliver_rcpt *rcpt,
		      const struct deliver_status *st,
		      const struct dsn_log_times  *t);

/* The current time as a double (gettimeofday). */
double dsn_log_now(void);

#endif
