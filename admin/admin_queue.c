/*
 * admin_queue - queue folder layout and repair.  See admin_queue.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin_queue.h"
#include "util/msg.h"
#include "util/safe_file.h"
#include "util/user.h"

enum admin_owner {
	ADMIN_ROOT,   /* root:root */
	ADMIN_MAIL,   /* mail_owner:its group */
	ADMIN_SETGID, /* mail_owner:setgid_group */
};

struct admin_dir {
	const char	*name;
	int		 mode;
	enum admin_owner owner;
};

static const struct admin_dir admin_dirs[] = {
	{ "maildrop", 0730, ADMIN_SETGID }, { "incoming", 0700, ADMIN_MAIL },
	{ "active", 0700, ADMIN_MAIL },	    { "deferred", 0700, ADMIN_MAIL },
	{ "hold", 0700, ADMIN_MAIL },	    { "corrupt", 0700, ADMIN_MAIL },
	{ "bounce", 0700, ADMIN_MAIL },	    { "defer", 0700, ADMIN_MAIL },
	{ "trace", 0700, ADMIN_MAIL },	    { "private", 0700, ADMIN_MAIL },
	{ "public", 0710, ADMIN_SETGID },   { "flush", 0700, ADMIN_MAIL },
};

#define ADMIN_NDIRS (sizeof(admin_dirs) / sizeof(admin_dirs[0]))

int
admin_queue_ids(const CFG *cfg, struct admin_ids *ids, VSTR *why)
{
	const char *owner = cfg_get_str(cfg, "mail_owner");
	const char *group = cfg_get_str(cfg, "setgid_group");

	if (geteuid() != 0) {
		ids->owner_uid = geteuid();
		ids->owner_gid = ids->setgid_gid = getegid();
		return 0;
	}
	if (user_lookup(owner, &ids->owner_uid, &ids->owner_gid) < 0) {
		vstr_sprintf(why,
			     "mail_owner %s: unknown user (run postel "
			     "set-permissions)",
			     owner);
		return -1;
	}
	if (ids->owner_uid == 0) {
		vstr_sprintf(why, "mail_owner %s must not have uid 0", owner);
		return -1;
	}
	if (user_group_lookup(group, &ids->setgid_gid) < 0) {
		vstr_sprintf(why,
			     "setgid_group %s: unknown group (run postel "
			     "set-permissions)",
			     group);
		return -1;
	}
	return 0;
}

/* Make path a folder with mode and owner, saying what changed. */
static int
admin_queue_dir(const char *path, int mode, uid_t uid, gid_t gid, VSTR *why)
{
	struct stat before;
	struct stat after;
	bool	    existed = lstat(path, &before) == 0;

	if (existed && !S_ISDIR(before.st_mode)) {
		vstr_sprintf(why, "%s exists and is not a folder", path);
		return -1;
	}
	if (mkdir_owned(path, mode, uid, gid) < 0 || lstat(path, &after) < 0) {
		vstr_sprintf(why, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!existed)
		msg_info("created %s (mode %04o, owner %ld:%ld)", path,
			 (int)(after.st_mode & 07777), (long)after.st_uid,
			 (long)after.st_gid);
	else if ((before.st_mode & 07777) != (after.st_mode & 07777)
		 || before.st_uid != after.st_uid
		 || before.st_gid != after.st_gid)
		msg_info("fixed %s: mode %04o owner %ld:%ld -> mode %04o "
			 "owner %ld:%ld",
			 path, (int)(before.st_mode & 07777),
			 (long)before.st_uid, (long)before.st_gid,
			 (int)(after.st_mode & 07777), (long)after.st_uid,
			 (long)after.st_gid);
	return 0;
}

/*
 * Chrooted daemons resolve names and format times inside queue_directory:
 * keep copies of the system files they need in queue_directory/etc, as
 * Debian's Postfix does.  A missing source file is skipped.
 */
static const char *const admin_chroot_files[] = {
	"/etc/localtime", "/etc/services",	"/etc/resolv.conf",
	"/etc/hosts",	  "/etc/nsswitch.conf", "/etc/host.conf",
};

static int
admin_queue_chroot_files(const char *queue, VSTR *why)
{
	VSTR *path = vstr_alloc(100);
	VSTR *want = vstr_alloc(4096);
	VSTR *have = vstr_alloc(4096);
	char  real[PATH_MAX];
	int   ret = -1;

	vstr_sprintf(path, "%s/etc", queue);
	if (admin_queue_dir(VSTR_STR(path), 0755, 0, 0, why) < 0)
		goto out;
	for (size_t i = 0;
	     i < sizeof(admin_chroot_files) / sizeof(admin_chroot_files[0]);
	     i++) {
		const char *src = admin_chroot_files[i];

		if (realpath(src, real) == NULL
		    || read_file(real, want, 1024 * 1024) < 0)
			continue;
		vstr_sprintf(path, "%s%s", queue, src);
		if (read_file(VSTR_STR(path), have, 1024 * 1024) == 0
		    && VSTR_LEN(have) == VSTR_LEN(want)
		    && memcmp(VSTR_STR(have), VSTR_STR(want), VSTR_LEN(want))
			   == 0)
			continue;
		if (write_file_atomic(VSTR_STR(path), VSTR_STR(want),
				      VSTR_LEN(want), 0644)
		    < 0) {
			vstr_sprintf(why, "%s: %s", VSTR_STR(path),
				     strerror(errno));
			goto out;
		}
		msg_info("updated %s from %s", VSTR_STR(path), src);
	}
	ret = 0;
out:
	vstr_free(path);
	vstr_free(want);
	vstr_free(have);
	return ret;
}

/*
 * data_directory holds what the daemons keep as mail_owner (the metrics
 * table, the postscreen, MTA-STS and TLS-RPT caches), so it is theirs and
 * nobody else's, as Postfix's postfix-script makes $data_directory.
 */
static int
admin_queue_data_dir(const CFG *cfg, const struct admin_ids *ids, VSTR *why)
{
	const char *dir = cfg_get_str(cfg, "data_directory");

	if (*dir != '/') {
		vstr_sprintf(why,
			     "data_directory must be an absolute path: "
			     "%s",
			     dir);
		return -1;
	}
	return admin_queue_dir(dir, 0700, ids->owner_uid, ids->owner_gid, why);
}

int
admin_queue_setup(const CFG *cfg, VSTR *why)
{
	const char	*queue = cfg_get_str(cfg, "queue_directory");
	const char	*pid_dir = cfg_get_str(cfg, "process_id_directory");
	struct admin_ids ids;
	struct stat	 st;
	VSTR		*path;
	int		 ret = -1;

	if (*queue != '/') {
		vstr_sprintf(why,
			     "queue_directory must be an absolute path: "
			     "%s",
			     queue);
		return -1;
	}
	if (admin_queue_ids(cfg, &ids, why) < 0)
		return -1;
	path = vstr_alloc(100);
	if (lstat(queue, &st) < 0) {
		/* Root-owned, so mail_owner cannot replace its folders. */
		if (admin_queue_dir(queue, 0755, geteuid(), getegid(), why) < 0)
			goto out;
	} else if (!S_ISDIR(st.st_mode)) {
		vstr_sprintf(why, "queue_directory %s is not a folder", queue);
		goto out;
	}
	for (size_t i = 0; i < ADMIN_NDIRS; i++) {
		const struct admin_dir *d = &admin_dirs[i];

		vstr_sprintf(path, "%s/%s", queue, d->name);
		if (admin_queue_dir(VSTR_STR(path), d->mode, ids.owner_uid,
				    d->owner == ADMIN_SETGID ? ids.setgid_gid
							     : ids.owner_gid,
				    why)
		    < 0)
			goto out;
	}
	if (*pid_dir == '/')
		vstr_strcpy(path, pid_dir);
	else
		vstr_sprintf(path, "%s/%s", queue, pid_dir);
	if (admin_queue_dir(VSTR_STR(path), 0755, geteuid(), getegid(), why)
	    < 0)
		goto out;
	if (geteuid() == 0 && admin_queue_chroot_files(queue, why) < 0)
		goto out;
	if (admin_queue_data_dir(cfg, &ids, why) < 0)
		goto out;
	ret = 0;
out:
	vstr_free(path);
	return ret;
}
