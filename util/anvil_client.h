/*
 * anvil_client - a process's connection to anvil(8) (private/anvil), as
 * smtpd uses it to count its clients.
 *
 * The connection is made on the first request and kept for the next
 * ones, across SMTP sessions.  When a kept connection fails (anvil was
 * restarted, or exited after a reload), the request is tried once more
 * on a new connection.  Each request waits at most timeout_ms for its
 * reply.  A process that cannot reach anvil must carry on without it:
 * anvil limits connections and rates, it never decides whether mail is
 * accepted.
 *
 * Errors: anvil_client_request returns -1 with a reason in why (may be
 * NULL) that names the socket: "connect to private/anvil: No such file
 * or directory", "private/anvil: connection closed", ...
 * Ownership: the client is the caller's, released with anvil_client_free
 * (returns NULL), which closes the connection.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_ANVIL_CLIENT_H
#define UTIL_ANVIL_CLIENT_H

#include "util/anvil_proto.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

typedef struct ANVIL_CLIENT ANVIL_CLIENT;

/* path: queue-relative or absolute socket path, e.g. "private/anvil". */
ANVIL_CLIENT *anvil_client_create(const char *path, int timeout_ms);
ANVIL_CLIENT *anvil_client_free(ANVIL_CLIENT *c);

/*
 * One request for ident (anvil_ident); 0 with the reply in rp (status
 * ANVIL_STAT_OK), or -1 with why.
 */
int anvil_client_request(ANVIL_CLIENT *c, enum anvil_req req, const char *ident,
			 struct anvil_reply *rp, VSTR *why);

#endif
