/*
 * maillog - route a process's diagnostics where main.cf says.
 *
 * maillog_init() sets the program name to "$syslog_name/<progname>" (e.g.
 * "postel/smtpd") and sends msg_* output to one destination:
 *   - maillog_file set: the postlog service (DESIGN.md §9), a single writer
 *     that appends each line to the file, so chrooted daemons need no
 *     access to it and lines never interleave;
 *   - otherwise syslog with syslog_facility.
 * MAILLOG_STDERR additionally writes every line to standard error (commands
 * run by users, `postel start-fg`).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MAILLOG_H
#define UTIL_MAILLOG_H

#include "util/sys_defs.h"

typedef struct CFG CFG;

#define MAILLOG_STDERR	    (1 << 0) /* also to standard error */
#define MAILLOG_STDERR_ONLY (1 << 1) /* only to standard error */

void maillog_init(const CFG *cfg, const char *progname, int flags);

#endif
