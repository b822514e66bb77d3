/*
 * user - account lookups and the one-way trip from root to mail_owner.
 *
 * user_lookup: uid and primary gid of a login name.  user_group_lookup:
 * gid of a group name.  user_jail: optionally chroot into a folder, then
 * drop to uid/gid with every supplementary group cleared, and verify that
 * the drop holds (real, effective and saved ids all changed, setuid(0)
 * and setgid(0) fail).  Callers run user_jail only as root.
 *
 * Errors: 0 / -1 with errno (ENOENT for an unknown name); user_jail also
 * puts a reason naming the failed step into `why`.  Nothing here exits.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_USER_H
#define UTIL_USER_H

#include <sys/types.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

int user_lookup(const char *name, uid_t *uid, gid_t *gid);
int user_group_lookup(const char *name, gid_t *gid);

/* chroot_dir may be NULL (no chroot). */
int user_jail(const char *chroot_dir, uid_t uid, gid_t gid, VSTR *why);

#endif
