/*
 * user - account lookups and privilege drop.  See user.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "util/user.h"

int
user_lookup(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		if (errno == 0)
			errno = ENOENT;
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
user_group_lookup(const char *name, gid_t *gid)
{
	struct group *gr;

	errno = 0;
	if ((gr = getgrnam(name)) == NULL) {
		if (errno == 0)
			errno = ENOENT;
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

static int
user_fail(VSTR *why, const char *step)
{
	int saved = errno;

	vstr_sprintf(why, "%s: %s", step, strerror(saved));
	errno = saved;
	return -1;
}

int
user_jail(const char *chroot_dir, uid_t uid, gid_t gid, VSTR *why)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (uid == 0) {
		errno = EINVAL;
		return user_fail(why, "refusing to run as uid 0");
	}
	if (chroot_dir != NULL) {
		if (chdir(chroot_dir) < 0)
			return user_fail(why, "chdir to chroot folder");
		if (chroot(".") < 0)
			return user_fail(why, "chroot");
		if (chdir("/") < 0)
			return user_fail(why, "chdir / in chroot");
	}
	/* Groups first: once the uid is gone, they can no longer change. */
	if (setgroups(0, NULL) < 0)
		return user_fail(why, "setgroups");
	if (setresgid(gid, gid, gid) < 0)
		return user_fail(why, "setresgid");
	if (setresuid(uid, uid, uid) < 0)
		return user_fail(why, "setresuid");

	if (getresuid(&ruid, &euid, &suid) < 0
	    || getresgid(&rgid, &egid, &sgid) < 0)
		return user_fail(why, "getresuid");
	if (ruid != uid || euid != uid || suid != uid || rgid != gid
	    || egid != gid || sgid != gid || getgroups(0, NULL) > 0) {
		errno = EPERM;
		return user_fail(why, "privilege drop did not hold");
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
		errno = EPERM;
		return user_fail(why, "root privileges could be regained");
	}
	return 0;
}
