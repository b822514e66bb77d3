/*
 * skel_priv - internals shared by the three skeletons (skel.c,
 * skel_single.c, skel_multi.c, skel_trigger.c).  Not for daemons.
 *
 * skel_setup() does everything up to and including post_jail and dies on
 * failure; skel_exit() runs pre_exit and exits.  skel_report() sends a
 * status record to master (nothing in stand-alone mode; a failure means
 * master is gone, which the loops notice on their own).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_SKEL_PRIV_H
#define UTIL_SKEL_PRIV_H

#include <stdbool.h>

#include "util/master_proto.h"
#include "util/skel.h"

struct skel_priv {
	const struct skel_ops *ops;
	int		       listen_fds[MASTER_MAX_LISTEN];
	int		       nlisten;
	int		       status_fd; /* -1 stand-alone */
	long long	       max_use;
	long long	       max_idle; /* seconds */
	long		       clients;	 /* multi: connected clients */
	bool		       draining; /* multi: no new clients; exit idle */
	bool		       log_stderr; /* -l */
	bool		       chroot;	   /* -C */
	bool		       privileged; /* -P: unpriv=n, stay root */
};

void skel_setup(struct skel_ctx *ctx, struct skel_priv *priv, int argc,
		char **argv, const struct skel_ops *ops);
_Noreturn void skel_exit(struct skel_ctx *ctx, int status);
void	       skel_report(struct skel_ctx *ctx, int status);
bool	       skel_master_gone(struct skel_ctx *ctx);
/* Stand-alone: the read-write client descriptor (see skel.h). */
int skel_standalone_fd(struct skel_ctx *ctx);
/*
 * Single and trigger: wait until a listener is readable and return it, or
 * -1 when the process must exit (master gone, max_idle expired).
 */
int skel_wait_ready(struct skel_ctx *ctx);
/* SIGTERM ends the process at once; SIGPIPE is ignored. */
void skel_signals_default(void);
/*
 * Around one request (single: a client; trigger: a trigger): a process
 * still busy after daemon_timeout ends with a fatal "watchdog timeout".
 */
void skel_watchdog_start(void);
void skel_watchdog_stop(void);

#endif
