/*
 * maildir - deliver one message into a Maildir (tmp/ -> new/).
 *
 * maildir_deliver creates dir and its tmp/, new/ and cur/ folders when
 * missing (mode 0700), writes data to tmp/ under a unique name
 * (seconds.MusecPpid.host, with "/" and ":" in the host name replaced),
 * fsync()s the file, renames it into new/ and fsync()s new/.  It succeeds
 * only when all of that held: a new/ that cannot be opened fails before
 * anything is written, and a failed fsync of new/ removes the file
 * again, so a failure never leaves a delivered copy behind.  A message
 * longer than `limit` bytes (0: none) is refused before anything is
 * written.  Run it with the mailbox owner's privileges.
 *
 * Errors: 0, or -1 with errno (EFBIG: over the limit; else the failing
 * call's) and a reason in why; nothing stays behind in tmp/.
 *
 * Ownership: nothing is allocated.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MAILDIR_H
#define UTIL_MAILDIR_H

#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

int maildir_deliver(const char *dir, const char *data, size_t len,
		    long long limit, VSTR *why);

#endif
