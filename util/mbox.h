/*
 * mbox - locking a UNIX mailbox the way mail readers expect: a dot-lock
 * file "mailbox.lock" (created O_EXCL, stale ones older than 5 minutes
 * are removed) and an fcntl() write lock on the open mailbox, each retried
 * once a second up to the time limit.
 *
 * mbox_append opens (O_APPEND, O_NOFOLLOW; creating it 0600), checks
 * that the mailbox is a regular file with one link and, unless owner is
 * (uid_t)-1, that it belongs to uid owner (EPERM otherwise: Postfix's
 * strict_mailbox_ownership; nothing is written), locks it, refuses a
 * write that would grow it past `limit` bytes (0: none), appends,
 * fsync()s, truncates a failed write away and unlocks.  The dot-lock is
 * used only when the caller may write the mailbox's folder.
 *
 * mbox_format lays out one message for delivery: optional "From " line,
 * Return-Path, optional Delivered-To, the content with optional ">From "
 * quoting, a final newline, and optional blank line.  mbox_read_queue
 * reads the message of a queue file as delivered (util/rec.h
 * rec_content_get: prepended header fields, then the content records)
 * with CRLF line ends turned into LF; mbox_load_queue_file does the same for the file a
 * delivery request names (queue_directory/queue_name/queue_id).  As
 * local and pipe read it as root, it accepts only the queue qmgr
 * delivers from (active) and a well-formed queue ID (util/qid.h), opens
 * without following a symlink, and reads only a regular file owned by
 * `owner` (mail_owner, or the daemon's own uid when not started as root:
 * struct skel_ctx's queue_owner).
 *
 * Errors: mbox_lock returns 0, or -1 with errno (EAGAIN: somebody else
 * holds a lock past the time limit; other values from open/fcntl) and
 * a reason in why.  mbox_unlock never fails.  mbox_append: 0, or -1 with
 * errno (EFBIG: over the limit; EAGAIN: locked; EMLINK / EFTYPE-like
 * EINVAL: not a plain file; EPERM: not owned by owner) and why.
 * mbox_read_queue and mbox_load_queue_file: 0 / -1 + why.
 *
 * Ownership: nothing is allocated; out VSTRs are the caller's.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MBOX_H
#define UTIL_MBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

#define MBOX_LOCK_FCNTL	  (1 << 0)
#define MBOX_LOCK_DOTLOCK (1 << 1)

/* fd is the open mailbox at path; flags MBOX_LOCK_*; wait up to secs. */
int  mbox_lock(int fd, const char *path, int flags, int secs, VSTR *why);
void mbox_unlock(int fd, const char *path, int flags);

int mbox_append(const char *path, const char *data, size_t len, long long limit,
		int lock_wait, uid_t owner, VSTR *why);

#define MBOX_FMT_FROM  (1 << 0) /* "From sender  date" line */
#define MBOX_FMT_QUOTE (1 << 1) /* ">From " quoting */
#define MBOX_FMT_BLANK (1 << 2) /* empty line after the message */
#define MBOX_FMT_MBOX  (MBOX_FMT_FROM | MBOX_FMT_QUOTE | MBOX_FMT_BLANK)

void mbox_format(VSTR *out, const char *sender, const char *delivered_to,
		 const char *content, size_t len, int flags);
int  mbox_read_queue(int qfd, long long content_offset, VSTR *out, VSTR *why);
int  mbox_load_queue_file(const char *queue_dir, const char *queue_name,
			  const char *queue_id, uid_t owner,
			  long long content_offset, VSTR *out, VSTR *why);

#endif
