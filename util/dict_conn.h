/*
 * dict_conn - the kept connection of a table that asks a server
 * (socketmap:, tcp:): connect, one request, one reply, and the rules for
 * reusing the connection.  Private to util/dict_*.c.
 *
 * Endpoints: "inet:host:port" ("[::1]:port" for IPv6) or "unix:/path".
 * A connection is made on the first request and kept for the next ones;
 * it is closed before a request when it has been idle longer than
 * max_idle seconds or open longer than max_ttl seconds (so a server that
 * restarts or times its clients out is not talked to through a stale
 * socket), and after any failure.  When a reused connection turns out to
 * be dead (the write fails, or the server closes it before the first
 * byte of the reply) the request is sent once more on a new connection;
 * a new connection that fails is not retried, and neither is a timeout
 * (that would only double the wait).
 *
 * The whole request (connect, write, read) is bounded by timeout_ms, the
 * reply by max_reply bytes of payload (the framing function decides where
 * a reply ends and refuses one that is too long).
 *
 * Errors: dict_conn_create returns NULL with why for a malformed
 * endpoint.  dict_conn_call returns -1 with errno (ETIMEDOUT,
 * ECONNREFUSED, ECONNRESET, EPROTO for a malformed or oversized reply or
 * bytes after it, ...) and why naming the endpoint (for a reply that
 * does not frame, also how many bytes came and how they began); it does
 * not log.
 *
 * Ownership: DICT_CONN is the caller's (dict_conn_free returns NULL);
 * dict_conn_name is borrowed from it.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DICT_CONN_H
#define UTIL_DICT_CONN_H

#include <stddef.h>

#include "util/vstr.h"

typedef struct DICT_CONN DICT_CONN;

struct dict_conn_limits {
	int    timeout_ms; /* one request, connect included */
	size_t max_reply;  /* reply payload bytes */
	int    max_idle;   /* seconds a kept connection may sit idle */
	int    max_ttl;	   /* seconds a connection may be used */
};

/*
 * Where a reply ends: 1 buf[0..len) starts with a complete reply of *used
 * bytes, 0 more bytes are needed, -1 malformed or longer than max (why).
 */
typedef int (*DICT_CONN_FRAMING)(const char *buf, size_t len, size_t max,
				 size_t *used, VSTR *why);

DICT_CONN  *dict_conn_create(const char			   *endpoint,
			     const struct dict_conn_limits *lim, VSTR *why);
DICT_CONN  *dict_conn_free(DICT_CONN *c);
const char *dict_conn_name(const DICT_CONN *c);

/*
 * Send req[0..len) and read one reply, framed by framing, into reply
 * (the reply's bytes as the server sent them).  0, or -1 (see above).
 */
int dict_conn_call(DICT_CONN *c, const char *req, size_t len,
		   DICT_CONN_FRAMING framing, VSTR *reply, VSTR *why);

/* Connections made so far (tests and logs). */
long dict_conn_count(const DICT_CONN *c);

#endif
