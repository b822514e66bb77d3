/*
 * bounce - internal interface of the bounce daemon (bounce, defer and
 * trace services).
 *
 * bounce_append.c writes the per-message logs; bounce_notify.c turns a
 * log into a delivery status notification and injects it through
 * cleanup.  Both work relative to the current folder, which is the
 * queue_directory (master leaves the daemon there).
 *
 * Errors: the request handlers return 0, or -1 with a reason in `why`
 * that goes back to the client; they log what they did.
 *
 * Ownership: BOUNCE_CONF is loaded once and freed at exit.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef BOUNCE_BOUNCE_H
#define BOUNCE_BOUNCE_H

#include <stddef.h>

#include "util/attr.h"
#include "util/cfg.h"
#include "util/vstr.h"

typedef struct BOUNCE_CONF {
	const CFG  *cfg;
	const char *myhostname;
	const char *mail_name;
	char	   *double_bounce_sender; /* qualified with @$myorigin */
	const char *bounce_notice_recipient;
	const char *twobounce_notice_recipient;
	const char *delay_notice_recipient;
	const char *notify_classes;
	size_t	    size_limit;	  /* bounce_size_limit */
	long long   max_lifetime; /* maximal_queue_lifetime */
} BOUNCE_CONF;

BOUNCE_CONF *bounce_conf_load(const CFG *cfg);
BOUNCE_CONF *bounce_conf_free(BOUNCE_CONF *conf);

/* {request=append ...}: one fsynced log line.  0 / -1 + why. */
int bounce_do_append(const BOUNCE_CONF *conf, const ATTR *req, VSTR *why);

/* {request=flush kind queue_name queue_id}.  0 / -1 + why. */
int bounce_do_flush(const BOUNCE_CONF *conf, const ATTR *req, VSTR *why);

#endif
