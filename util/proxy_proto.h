/*
 * proxy_proto - the request/reply frames between a "proxy:" table client
 * (util/dict_proxy.c) and the proxymap(8) service (master.cf services
 * proxymap, read-only, and proxywrite, for the tables Postel updates).
 *
 * A chrooted daemon cannot read the password database or files outside
 * its jail; proxymap, unchrooted, does the lookup for it.  The client
 * connects to private/proxymap (or private/proxywrite), writes a request
 * frame, reads its reply frame, and may send the next request on the
 * same connection; either side may close between frames (the client
 * after ipc_idle/ipc_ttl, the server after ipc_idle of silence, max_use
 * or a reload), and the client then connects again.  Both are util/attr
 * lists (every integer is decimal text); nobody else parses these bytes.
 *
 * Request:	request=open|lookup|update|delete table=TYPE:NAME flags=F
 *		[key=K] [value=V]
 *		(key with lookup, update and delete, and only then; value
 *		with update, and only then; F is a subset of
 *		PROXY_FLAGS_ALLOWED: whether a table is written is the
 *		service's business, never the client's flags)
 * Reply:	status=S [value=V] [reason=R]
 *		(value only with PROXY_STAT_OK for a lookup)
 *
 * Status (Postfix's proxymap codes): 0 OK (open worked / key found /
 * updated / deleted), 1 NOKEY (not found, or nothing to delete), 2 RETRY
 * (the table could not be read or written: defer), 3 BAD (malformed
 * request), 4 DENY (the table is not listed in proxy_read_maps, or for
 * proxywrite in proxy_write_maps).
 *
 * Limits: table names at most PROXY_TABLE_MAX bytes, keys at most
 * DICT_KEY_MAX, values at most PROXY_VALUE_MAX; no string may contain a
 * NUL; the table must not itself be a proxy: table.  Decoders check
 * everything; an encoder given nonsense is a bug (msg_panic).
 *
 * Errors: the decoders return 0 / -1 with a reason in `why` (may be NULL).
 *
 * Ownership: the decoders borrow every string from the ATTR `in`, which
 * must outlive the result; the encoders copy into `out`.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_PROXY_PROTO_H
#define UTIL_PROXY_PROTO_H

#include "util/attr.h"
#include "util/dict.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

#define PROXY_REQ_OPEN	 "open"
#define PROXY_REQ_LOOKUP "lookup"
#define PROXY_REQ_UPDATE "update"
#define PROXY_REQ_DELETE "delete"

#define PROXY_STAT_OK	 0
#define PROXY_STAT_NOKEY 1
#define PROXY_STAT_RETRY 2
#define PROXY_STAT_BAD	 3
#define PROXY_STAT_DENY	 4

#define PROXY_TABLE_MAX 1024
#define PROXY_VALUE_MAX (1024 * 1024)
/* Never CREATE or WRITE: the service decides what it writes. */
#define PROXY_FLAGS_ALLOWED \
	(DICT_FLAG_FOLD | DICT_FLAG_NUL | DICT_FLAG_DUP_REPLACE \
	 | DICT_FLAG_DUP_IGNORE)

struct proxy_request {
	const char *request; /* PROXY_REQ_* */
	const char *table;   /* "type:name", never "proxy:..." */
	int	    flags;   /* within PROXY_FLAGS_ALLOWED */
	const char *key;     /* lookup, update, delete; else NULL */
	const char *value;   /* update; else NULL */
};

struct proxy_reply {
	int	    status; /* PROXY_STAT_* */
	const char *value;  /* OK lookup only; else NULL */
	const char *reason; /* optional text; else NULL */
};

void proxy_request_encode(const struct proxy_request *req, ATTR *out);
int  proxy_request_decode(const ATTR *in, struct proxy_request *req, VSTR *why);
void proxy_reply_encode(const struct proxy_reply *rep, ATTR *out);
int  proxy_reply_decode(const ATTR *in, struct proxy_reply *rep, VSTR *why);

#endif
