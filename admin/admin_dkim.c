/*
 * admin_dkim - `postel check` on the DKIM key files (admin_dkim.h).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "admin/admin_dkim.h"
#include "util/dict.h"
#include "util/dkim_sign_conf.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

#define ADMIN_DKIM_ENTRIES_MAX 100000 /* entries looked at per table */

/* Does master.cf run the cleanup service chrooted? */
static bool
admin_dkim_chrooted(const MASTERCF *mcf)
{
	for (size_t i = 0; i < mastercf_count(mcf); i++) {
		const struct mastercf_service *e = mastercf_at(mcf, i);
		const char		      *base = strrchr(e->command, '/');

		base = base ? base + 1 : e->command;
		if (strcmp(base, "cleanup") == 0 && e->chroot)
			return true;
	}
	return false;
}

static void
admin_dkim_entry(const char *spec, const char *name, const char *value,
		 const char *queue_dir, bool chrooted)
{
	VSTR *dom = vstr_alloc(32), *sel = vstr_alloc(16),
	     *path = vstr_alloc(64), *why = vstr_alloc(64);
	struct stat sb;
	size_t	    qlen = strlen(queue_dir);

	while (qlen > 1 && queue_dir[qlen - 1] == '/')
		qlen--;
	if (dkim_sign_key_parse(value, dom, sel, path, why) < 0) {
		msg_warn("dkim_key_table %s: key \"%s\": %s", spec, name,
			 VSTR_STR(why));
	} else if (stat(VSTR_STR(path), &sb) < 0) {
		msg_warn("dkim_key_table %s: key \"%s\": file %s: %m", spec,
			 name, VSTR_STR(path));
	} else {
		if (sb.st_mode & (S_IROTH | S_IWOTH))
			msg_warn("dkim_key_table %s: key \"%s\": private key "
				 "file %s is world-%s (mode %04o): make it "
				 "0600 or 0640",
				 spec, name, VSTR_STR(path),
				 (sb.st_mode & S_IROTH) ? "readable"
							: "writable",
				 (unsigned)(sb.st_mode & 07777));
		if (sb.st_mode & S_IWGRP)
			msg_warn("dkim_key_table %s: key \"%s\": private key "
				 "file %s is group-writable (mode %04o)",
				 spec, name, VSTR_STR(path),
				 (unsigned)(sb.st_mode & 07777));
		if (chrooted
		    && !(strncmp(VSTR_STR(path), queue_dir, qlen) == 0
			 && VSTR_STR(path)[qlen] == '/'))
			msg_warn("dkim_key_table %s: key \"%s\": file %s is "
				 "outside queue_directory %.*s, but cleanup "
				 "runs chrooted there (master.cf): it cannot "
				 "read the key",
				 spec, name, VSTR_STR(path), (int)qlen,
				 queue_dir);
	}
	vstr_free(dom);
	vstr_free(sel);
	vstr_free(path);
	vstr_free(why);
}

void
admin_dkim_check(const CFG *cfg, const MASTERCF *mcf)
{
	const char *spec = cfg_get_str(cfg, "dkim_key_table");
	const char *queue_dir = cfg_get_str(cfg, "queue_directory");
	const char *key, *value;
	DICT_LIST  *list;
	VSTR	   *why;
	bool	    chrooted = admin_dkim_chrooted(mcf);
	long	    n;
	int	    ret;

	if (spec == NULL || spec[strspn(spec, " \t\r\n,")] == 0)
		return;
	why = vstr_alloc(100);
	if ((list = dict_list_open(spec, DICT_FLAG_FOLD, why)) == NULL) {
		msg_warn("dkim_key_table: %s", VSTR_STR(why));
		vstr_free(why);
		return;
	}
	for (size_t i = 0; i < dict_list_count(list); i++) {
		DICT *d = dict_list_at(list, i);

		n = 0;
		for (ret = dict_first(d, &key, &value);
		     ret == 1 && n < ADMIN_DKIM_ENTRIES_MAX;
		     ret = dict_next(d, &key, &value), n++) {
			/* borrowed until the next call on d: copy the key */
			char *name = mystrdup(key);

			admin_dkim_entry(dict_spec(d), name, value, queue_dir,
					 chrooted);
			myfree(name);
		}
		if (ret < 0 && errno == EOPNOTSUPP && msg_verbose)
			msg_info("dkim_key_table %s: %s tables cannot be "
				 "listed; its key files were not checked",
				 dict_spec(d), dict_type(d));
		else if (ret < 0 && errno != EOPNOTSUPP)
			msg_warn("dkim_key_table %s: cannot list: %m",
				 dict_spec(d));
	}
	dict_list_close(list);
	vstr_free(why);
}
