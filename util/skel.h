/*
 * skel - the three server skeletons every Postel daemon runs under.
 *
 * A daemon's main() hands a table of callbacks to one call:
 *
 *   return skel_single_main(argc, argv, &(const struct skel_ops){
 *	.service = echo_service, .post_jail = echo_post_jail });
 *
 * skel_single_main	one client at a time (smtpd, smtp, local, cleanup):
 *			blocking accept on the listener(s), ops->service()
 *			runs the whole conversation and returns.  For a
 *			master.cf `pass` service the accepted connection is
 *			a hand-off (util/pass_proto.h): the skeleton serves
 *			the client descriptor it carries, with
 *			ctx->pass_info holding its info attributes.
 * skel_multi_main	many clients in one process (qmgr, which reads the
 *			trigger bytes of its clients itself and runs its
 *			timers in the same loop): ops->accept() registers
 *			the new client descriptor in ctx->events and calls
 *			skel_multi_disconnect() when the client is done.
 * skel_trigger_main	wake-up requests (pickup, postlogd): ops->trigger() gets
 *			the bytes of one request (a fifo read, one datagram,
 *			or everything a stream client sent before closing).
 *
 * The skeleton owns, in this order: options (-c CONFDIR -n SERVICE -t TYPE
 * -s NLISTEN -o name=value -v -l, and -S for stand-alone use), loading
 * main.cf and applying -o overrides, logging (maillog_init), the change
 * into queue_directory (daemons use queue-relative names), pre_jail, then
 * when running as root: chroot into queue_directory (only with -C, which
 * master passes for chroot=y services) and the drop to mail_owner with a
 * check that it held; when not root a single "running unprivileged" line.
 * Then post_jail, the serve loop, max_use / max_idle recycling (not with
 * .unlimited, for daemons that keep state in memory such as qmgr and
 * pickup), exit when master goes away (docs/MASTER.md) and SIGTERM.
 * Single and trigger: a watchdog ends the process with a fatal error when
 * one client or trigger takes longer than daemon_timeout (SIGALRM is the
 * skeleton's: daemons must not use alarm()).
 * Before a normal exit it calls pre_exit.
 *
 * Stand-alone (-S): no master; the client is standard input/output (single
 * and multi), or standard input is read as trigger requests until EOF
 * (trigger).  If standard input is not a socket, the skeleton relays
 * stdin/stdout through a socketpair, so ops->service still gets one
 * read-write descriptor.  Nothing is chrooted and privileges are dropped
 * only when root.
 *
 * Errors: configuration and set-up failures are fatal (logged, exit 1);
 * the serve loop logs and carries on.  The skeleton closes the client
 * descriptor after ops->service returns (single).
 *
 * Ownership: struct skel_ctx belongs to the skeleton; ctx->app is the
 * daemon's to set and free (in pre_exit).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_SKEL_H
#define UTIL_SKEL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/attr.h"
#include "util/cfg.h"
#include "util/events.h"
#include "util/mastercf.h"
#include "util/sys_defs.h"

struct skel_ctx {
	CFG		  *cfg;	    /* main.cf plus -o overrides */
	const char	  *service; /* master.cf service name (-n) */
	enum mastercf_type type;    /* -t */
	EVENTS		  *events;  /* multi: the loop; else NULL */
	void		  *app;	    /* the daemon's own state */
	int		   argc;    /* extra master.cf arguments */
	char		 **argv;
	bool		   standalone;	/* -S */
	bool		   jailed;	/* privileges were dropped */
	bool		   chrooted;	/* "/" is queue_directory now */
	uid_t		   queue_owner; /* owns queue files: mail_owner, or
					 * our own uid when not run as root */
	long long	   use_count;	/* clients/requests served so far */
	ATTR		  *pass_info;	/* single, type pass: the hand-off's
					 * info (util/pass_proto.h) while
					 * ops->service runs; else NULL */
	struct skel_priv  *priv;	/* skeleton internals */
};

struct skel_ops {
	void (*pre_jail)(struct skel_ctx *);  /* still root */
	void (*post_jail)(struct skel_ctx *); /* final identity */
	void (*service)(struct skel_ctx *, int client_fd);
	void (*accept)(struct skel_ctx *, int client_fd);
	void (*trigger)(struct skel_ctx *, const char *buf, size_t len);
	void (*pre_exit)(struct skel_ctx *);
	bool unlimited; /* ignore max_use and max_idle */
};

/* Largest trigger request or datagram handed to ops->trigger. */
#define SKEL_TRIGGER_MAX (64 * 1024)

int skel_single_main(int argc, char **argv, const struct skel_ops *ops);
int skel_multi_main(int argc, char **argv, const struct skel_ops *ops);
int skel_trigger_main(int argc, char **argv, const struct skel_ops *ops);

/*
 * Single: serve request/reply frames (util/attr) on fd until the client
 * closes or ipc_timeout passes; handle fills the reply for each request
 * and gets arg back as it was passed.
 */
typedef void (*skel_frame_fn)(struct skel_ctx *ctx, const void *arg,
			      const ATTR *in, ATTR *out);
void skel_serve_frames(struct skel_ctx *ctx, int fd, skel_frame_fn handle,
		       const void *arg);
/*
 * The same with timeout_ms (instead of ipc_timeout) as the longest wait
 * for the next request: a client silent that long is let go, quietly
 * (proxymap, whose clients keep their connection).
 */
void skel_serve_frames_idle(struct skel_ctx *ctx, int fd, skel_frame_fn handle,
			    const void *arg, int timeout_ms);

/* Multi: the client on fd is finished; unwatches and closes fd. */
void skel_multi_disconnect(struct skel_ctx *ctx, int fd);
/*
 * Multi: a client is finished whose descriptor the daemon handed to
 * code that watches and closes it itself (the metrics service gives its
 * clients to libmicrohttpd); only the count of clients changes.
 */
void skel_multi_release(struct skel_ctx *ctx);

#endif
