/*
 * sendmail_conf - which configuration folder a user-run command may use.
 * See sendmail_conf.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "util/sendmail_conf.h"
#include "util/cfg.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

/* Running with an id the real user does not have (setgid/setuid). */
bool
sendmail_conf_privileged(void)
{
	return getuid() != geteuid() || getgid() != getegid();
}

/* Is dir listed in the default main.cf's alternate_config_directories? */
static bool
sendmail_conf_listed(const char *dir)
{
	VSTR *why = vstr_alloc(100);
	CFG  *cfg;
	char *list;
	char *bp;
	char *word;
	bool  found = false;

	if ((cfg = cfg_open(CFG_DEFAULT_CONFDIR, why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	bp = list = mystrdup(cfg_get_str(cfg, "alternate_config_directories"));
	while (!found && (word = str_token(&bp, STR_SEP_LIST)) != NULL)
		found = strcmp(word, dir) == 0;
	myfree(list);
	cfg_free(cfg);
	vstr_free(why);
	return found;
}

bool
sendmail_conf_trusted(const char *dir)
{
	return strcmp(dir, CFG_DEFAULT_CONFDIR) == 0 || getuid() == 0
	       || sendmail_conf_listed(dir);
}

char *
sendmail_conf_dir(const char *opt_c)
{
	const char *dir = cfg_confdir_from_env(opt_c);

	if (strcmp(dir, CFG_DEFAULT_CONFDIR) != 0 && getuid() != 0
	    && sendmail_conf_privileged() && !sendmail_conf_listed(dir))
		msg_fatal_status(EX_NOPERM,
				 "untrusted configuration folder "
				 "%s: not listed in "
				 "alternate_config_directories of %s/main.cf",
				 dir, CFG_DEFAULT_CONFDIR);
	return mystrdup(dir);
}

void
sendmail_conf_clean_env(void)
{
	char *tz = getenv("TZ") ? mystrdup(getenv("TZ")) : NULL;

	if (clearenv() != 0)
		msg_fatal("cannot clear the environment");
	if (tz && setenv("TZ", tz, 1) < 0)
		msg_fatal("setenv TZ: %m");
	myfree(tz);
}

void
sendmail_conf_std_fds(void)
{
	int fd;

	for (int i = 0; i < 3; i++) {
		if (fcntl(i, F_GETFD) >= 0)
			continue;
		if ((fd = open("/dev/null", O_RDWR)) != i)
			_exit(EX_OSERR);
	}
}
