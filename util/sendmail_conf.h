/*
 * sendmail_conf - configuration folder and environment rules for the
 * commands that users run: sendmail, postdrop, postelqueue.  It lives in
 * util/ because commands of both admin/ and sendmail/ need it.
 *
 * sendmail_conf_dir() picks the configuration folder: -c DIR, else
 * $MAIL_CONFIG, else the compiled-in default.  When the process runs with
 * privileges the user does not have (setgid postdrop, Postfix's "unsafe"
 * case) and the real user is not root, a folder other than the default
 * must be listed in alternate_config_directories of the default main.cf
 * (Postfix's rule); otherwise the command stops with EX_NOPERM, naming the
 * folder.  sendmail_conf_clean_env() then empties the environment but for
 * TZ, so nothing the user set reaches the configuration or a child.
 * sendmail_conf_trusted() says whether a folder may choose programs to
 * run: the default folder, any folder for root, or one listed in
 * alternate_config_directories.
 * sendmail_conf_std_fds() opens /dev/null on any of descriptors 0-2 that
 * the caller left closed, so that no file a privileged program opens
 * later can become its standard error.
 *
 * Errors: refusals are fatal (msg_fatal_status).  Returned strings are
 * the caller's (mystrdup).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_SENDMAIL_CONF_H
#define UTIL_SENDMAIL_CONF_H

#include <stdbool.h>

char *sendmail_conf_dir(const char *opt_c);
bool  sendmail_conf_privileged(void);
bool  sendmail_conf_trusted(const char *dir);
void  sendmail_conf_clean_env(void);
void  sendmail_conf_std_fds(void);

#endif
