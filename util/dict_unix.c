/*
 * dict_unix - unix:passwd.byname, the system password database by login
 * name (getpwnam), as Postfix's local_recipient_maps uses it.
 *
 * The value is the passwd(5) line "name:x:uid:gid:gecos:home:shell".
 * Errors: open fails with why for any other map name; a lookup returns -1
 * (msg_warn) when the name service itself fails, 0 when the user does not
 * exist.  Values are borrowed until the next lookup.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <pwd.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/msg.h"
#include "util/vstr.h"

typedef struct DICT_UNIX {
	DICT  dict;
	VSTR *val;
} DICT_UNIX;

static int
unix_lookup(DICT *d, const char *key, const char **value)
{
	DICT_UNIX     *du = (DICT_UNIX *)d;
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(key)) == NULL) {
		if (errno == EIO || errno == EMFILE || errno == ENFILE
		    || errno == ENOMEM) {
			msg_warn("%s: lookup of \"%s\": %m", d->spec, key);
			return -1;
		}
		return 0;
	}
	vstr_sprintf(du->val, "%s:x:%ld:%ld:%s:%s:%s", pw->pw_name,
		     (long)pw->pw_uid, (long)pw->pw_gid,
		     pw->pw_gecos ? pw->pw_gecos : "", pw->pw_dir,
		     pw->pw_shell);
	*value = VSTR_STR(du->val);
	return 1;
}

static void
unix_close(DICT *d)
{
	vstr_free(((DICT_UNIX *)d)->val);
}

DICT *
dict_unix_open(const char *name, int flags, VSTR *why)
{
	DICT_UNIX *du;

	if (strcmp(name, "passwd.byname") != 0) {
		vstr_sprintf(why,
			     "unix:%s: unknown map (only "
			     "unix:passwd.byname)",
			     name);
		return NULL;
	}
	du = (DICT_UNIX *)dict_alloc(sizeof(*du), "unix", name, flags);
	du->val = vstr_alloc(128);
	du->dict.lookup = unix_lookup;
	du->dict.close = unix_close;
	return &du->dict;
}
