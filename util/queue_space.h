/*
 * queue_space - is there room in the queue file system for one more
 * message?
 *
 * Postfix's rule (smtpd's MAIL FROM check): the space a message needs
 * free is the larger of queue_minfree and 1.5 times message_size_limit
 * (0 = no limit); a message of a declared size (SIZE=, 0 when unknown)
 * is refused too when it would eat into that reserve or take more than
 * half of what is free.  smtpd answers 452 4.3.1 and postdrop exits
 * EX_TEMPFAIL when this says no.
 *
 * queue_space_check() returns 0 when there is room, -1 with errno ENOSPC
 * and a reason in why ("N bytes free, M needed") when there is not, or
 * -1 with statvfs's errno.  Nothing here logs.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_QUEUE_SPACE_H
#define UTIL_QUEUE_SPACE_H

#include "util/vstr.h"

/* The free space a new message needs: max(minfree, 1.5 * size_limit). */
unsigned long long
    queue_space_needed(long long queue_minfree, long long message_size_limit);
int queue_space_check(const char *path, long long queue_minfree,
		      long long message_size_limit, unsigned long long size,
		      VSTR *why);

#endif
