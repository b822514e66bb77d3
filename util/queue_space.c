/*
 * queue_space - free space of the queue file system.  See queue_space.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <sys/statvfs.h>

#include "util/queue_space.h"

unsigned long long
queue_space_needed(long long queue_minfree, long long message_size_limit)
{
	unsigned long long minfree = queue_minfree > 0
					 ? (unsigned long long)queue_minfree
					 : 0;
	unsigned long long limit = message_size_limit > 0
				       ? (unsigned long long)message_size_limit
				       : 0;

	/* Both are at most LLONG_MAX: 1.5 times that fits unsigned. */
	limit += limit / 2;
	return minfree > limit ? minfree : limit;
}

int
queue_space_check(const char *path, long long queue_minfree,
		  long long message_size_limit, unsigned long long size,
		  VSTR *why)
{
	struct statvfs	   sv;
	unsigned long long need = queue_space_needed(queue_minfree,
						     message_size_limit);
	unsigned long long avail;

	if (need == 0 && size == 0)
		return 0;
	if (statvfs(path, &sv) < 0)
		return -1;
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	if (avail <= need || size >= avail - need || size >= avail / 2) {
		vstr_sprintf(why, "%llu bytes free, %llu needed", avail,
			     need + size);
		errno = ENOSPC;
		return -1;
	}
	return 0;
}
