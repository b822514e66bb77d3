/*
 * skel_conn - one client connection of a multiplexing daemon
 * (skel_multi_main) that speaks request/reply frames (util/attr).
 *
 * The daemon's ops->accept hands the new descriptor to skel_conn_open()
 * with a table of callbacks.  From then on the module owns the life
 * cycle: the descriptor is made non-blocking, read through an
 * IPC_STREAM (frames larger than ops->frame_max are refused) and
 * watched in ctx->events; each whole request frame goes to ops->serve,
 * one at a time.  serve returns 0 to go on or -1 to close the
 * connection.  It answers with skel_conn_reply(), at once or later: a
 * serve that calls skel_conn_later() leaves the request pending (say,
 * while a fetch runs), and no further frame is served until the reply
 * is sent with skel_conn_reply().  A request may also get no reply at
 * all (a notification).
 *
 * The connection closes at end of file, on a read or write error, on a
 * malformed or oversized frame and when serve returns -1: ops->close
 * (if any) runs first, so the daemon forgets the connection (a waiting
 * list, counts it held), then the descriptor is unwatched and given
 * back with skel_multi_disconnect().
 *
 * Errors are logged with msg_warn, each text after ops->prefix ("" or
 * a daemon's tag such as "TLS-RPT: "): "client: %m" when the set-up
 * fails, "read request: %m", "write reply: %m", and "malformed request
 * frame: REASON" followed by "; disconnecting" unless ops->terse.
 * End of file is not logged.
 *
 * Ownership: the SKEL_CONN is the module's, freed when it closes;
 * serve must not use it after returning -1, nor anyone after a close
 * hook ran.  The request ATTR handed to serve is valid until serve
 * returns.  The user pointer is the daemon's (the close hook frees what
 * it points to, if needed).  ops must outlive the connection (a static
 * table).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_SKEL_CONN_H
#define UTIL_SKEL_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/attr.h"
#include "util/skel.h"

typedef struct SKEL_CONN SKEL_CONN;

struct skel_conn_ops {
	/* One whole request frame: 0 go on, -1 close. */
	int (*serve)(SKEL_CONN *conn, const ATTR *req);
	/* The connection is closing (may be NULL). */
	void (*close)(SKEL_CONN *conn);
	size_t	    frame_max;	      /* request payload cap (0: ATTR's) */
	int	    reply_timeout_ms; /* longest wait to write a reply */
	const char *prefix;	      /* before each warning; NULL = "" */
	bool	    terse;	      /* no "; disconnecting" */
};

/*
 * Take over client descriptor fd of ctx (multi skeleton).  The
 * connection, or NULL when it could not be set up: then the failure is
 * logged, fd given back to the skeleton and ops->close has run.
 */
SKEL_CONN *skel_conn_open(struct skel_ctx *ctx, int fd,
			  const struct skel_conn_ops *ops, void *user);

struct skel_ctx *skel_conn_ctx(const SKEL_CONN *conn);
void		*skel_conn_user(const SKEL_CONN *conn);

/*
 * From serve: the reply to this request comes later; frames that follow
 * wait until skel_conn_reply().
 */
void skel_conn_later(SKEL_CONN *conn);
/* True while a reply is pending (after skel_conn_later). */
bool skel_conn_waiting(const SKEL_CONN *conn);

/*
 * Send one reply frame.  0, or -1 after a write failure, which is
 * logged and closes the connection: at once when the reply was left
 * for later (conn is then gone), else when serve returns.  A pending
 * request is answered by this, and the frames that arrived meanwhile
 * are served next.
 */
int skel_conn_reply(SKEL_CONN *conn, const ATTR *rep);

/* Close now, outside serve (the close hook runs). */
void skel_conn_close(SKEL_CONN *conn);

#endif
