/*
 * flush_client - talk to the fast flush service (flush(8)), and make a
 * deferred message due now.
 *
 * The flush service keeps, for each destination eligible under
 * fast_flush_domains, a log of the IDs of messages deferred for it.
 * Each call below is one util/attr request frame and one reply frame on
 * public/$flush_service_name (queue-relative when the caller runs in the
 * queue, as daemons do, else under queue_directory):
 *
 *	request=add site=S queue_id=Q	log Q as deferred for S
 *	request=send_site site=S	deliver what is logged for S now
 *	request=send_file queue_id=Q	deliver deferred message Q now
 *	request=refresh			refresh logs not read for
 *					fast_flush_refresh_time, delete
 *					empty ones older than
 *					fast_flush_purge_time
 *	request=purge			refresh every log now
 *	reply:	status=N (a FLUSH_STAT_* value)
 *
 * Errors: every request returns a FLUSH_STAT_* value; FLUSH_STAT_FAIL
 * when the service cannot be reached or answered badly (why, which may be
 * NULL, says what failed; errno is set).  flush_make_due returns 0 / -1
 * with errno.  Nothing here logs or exits.
 *
 * Ownership: arguments stay the caller's.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_FLUSH_CLIENT_H
#define UTIL_FLUSH_CLIENT_H

#include "util/attr.h"
#include "util/cfg.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

/* Reply status values (Postfix's). */
#define FLUSH_STAT_FAIL (-1) /* service unavailable or failed */
#define FLUSH_STAT_OK	0    /* done (or queued for doing) */
#define FLUSH_STAT_BAD	3    /* malformed request */
#define FLUSH_STAT_DENY 4    /* destination not eligible */

/* How long a client waits: add is on qmgr's delivery path. */
#define FLUSH_ADD_TIMEOUT_MS  3000
#define FLUSH_SEND_TIMEOUT_MS 30000

int
flush_add(const CFG *cfg, const char *site, const char *queue_id, VSTR *why);
int flush_send_site(const CFG *cfg, const char *site, VSTR *why);
int flush_send_file(const CFG *cfg, const char *queue_id, VSTR *why);
int flush_refresh(const CFG *cfg, VSTR *why);
int flush_purge(const CFG *cfg, VSTR *why);

/*
 * The same on an explicit socket path, with a timeout in milliseconds;
 * req carries "request" and its arguments.
 */
int
flush_call(const char *sock_path, const ATTR *req, int timeout_ms, VSTR *why);

/*
 * Make a deferred queue file due now: its mtime (the next attempt time,
 * docs/QMGR.md) becomes now, its atime (the previous attempt) is kept;
 * the file is not moved (only qmgr moves queue files).  The caller then
 * triggers qmgr (IPC_TRIGGER_SCAN_DEFERRED).
 */
int flush_make_due(const char *path);

#endif
