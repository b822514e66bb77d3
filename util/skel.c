/*
 * skel - option parsing, configuration, logging and privilege handling
 * shared by the three server skeletons.  See skel.h and skel_priv.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cfg.h"
#include "util/dict.h"
#include "util/ipc.h"
#include "util/maillog.h"
#include "util/master_proto.h"
#include "util/metrics.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel_priv.h"
#include "util/strutil.h"
#include "util/user.h"
#include "util/vstr.h"

static void
skel_usage(const char *prog)
{
	msg_fatal("usage: %s [-c confdir] [-n service] [-t type] [-s count] "
		  "[-o name=value] [-C] [-P] [-l] [-S] [-v] [-- args]",
		  prog);
}

static const char *
skel_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Apply -o overrides; they were collected before main.cf was read. */
static void
skel_overrides(CFG *cfg, char **overrides, int count)
{
	for (int i = 0; i < count; i++)
		if (cfg_set_from_arg(cfg, overrides[i]) < 0)
			msg_fatal("bad -o option \"%s\": expected name=value",
				  overrides[i]);
}

static void
skel_jail(struct skel_ctx *ctx, struct skel_priv *priv)
{
	const char *owner;
	const char *queue;
	uid_t	    uid;
	gid_t	    gid;
	VSTR	   *why;

	if (geteuid() != 0) {
		msg_info("running unprivileged as uid %ld: no chroot, "
			 "no change of user",
			 (long)geteuid());
		ctx->queue_owner = geteuid();
		return;
	}
	owner = cfg_get_str(ctx->cfg, "mail_owner");
	if (user_lookup(owner, &uid, &gid) < 0)
		msg_fatal("mail_owner %s: unknown user (run postel "
			  "set-permissions)",
			  owner);
	if (uid == 0)
		msg_fatal("mail_owner %s has uid 0: refusing to run as root",
			  owner);
	/* Daemons that stay root (local, pipe) check queue files with it. */
	ctx->queue_owner = uid;
	if (priv->privileged)
		return;
	queue = cfg_get_str(ctx->cfg, "queue_directory");
	why = vstr_alloc(100);
	if (user_jail(priv->chroot && !ctx->standalone ? queue : NULL, uid, gid,
		      why)
	    < 0)
		msg_fatal("cannot drop privileges to %s (chroot %s): %s", owner,
			  priv->chroot ? queue : "none", VSTR_STR(why));
	vstr_free(why);
	ctx->jailed = true;
	ctx->chrooted = priv->chroot && !ctx->standalone;
}

static void
skel_sigterm(int sig)
{
	(void)sig;
	_exit(0);
}

/* daemon_timeout in seconds, for the watchdog's message; 0 = none. */
static long long skel_watchdog_secs;

/*
 * The watchdog went off: a request took longer than daemon_timeout.  As
 * in Postfix the message is logged from the handler; should that hang
 * (the handler interrupted the allocator), the re-armed alarm's default
 * action ends the process a few seconds later all the same.
 */
static void
skel_watchdog_alarm(int sig)
{
	(void)sig;
	alarm(5);
	msg_fatal("watchdog timeout: a request took longer than "
		  "daemon_timeout (%llds)",
		  skel_watchdog_secs);
}

void
skel_watchdog_start(void)
{
	struct sigaction sa;

	if (skel_watchdog_secs <= 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = skel_watchdog_alarm;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)skel_watchdog_secs);
}

void
skel_watchdog_stop(void)
{
	if (skel_watchdog_secs > 0)
		alarm(0);
}

void
skel_signals_default(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* The terminal's Ctrl-C belongs to master in start-fg. */
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = skel_sigterm;
	sigaction(SIGTERM, &sa, NULL);
}

void
skel_setup(struct skel_ctx *ctx, struct skel_priv *priv, int argc, char **argv,
	   const struct skel_ops *ops)
{
	const char *opt_c = NULL;
	const char *type = "unix";
	char	  **overrides;
	int	    noverrides = 0;
	long long   nlisten = 1;
	VSTR	   *why;
	int	    ch;

	memset(ctx, 0, sizeof(*ctx));
	memset(priv, 0, sizeof(*priv));
	ctx->priv = priv;
	priv->ops = ops;
	priv->status_fd = -1;
	ctx->service = skel_basename(argv[0]);
	msg_set_progname(ctx->service);

	overrides = mymalloc_array((size_t)argc + 1, sizeof(*overrides));
	while ((ch = getopt(argc, argv, "+c:n:t:s:o:CPlSv")) != -1) {
		switch (ch) {
		case 'c':
			opt_c = optarg;
			break;
		case 'n':
			ctx->service = optarg;
			break;
		case 't':
			type = optarg;
			break;
		case 's':
			if (str_to_ll(optarg, &nlisten) < 0 || nlisten < 1
			    || nlisten > MASTER_MAX_LISTEN)
				msg_fatal("bad -s value: %s", optarg);
			break;
		case 'o':
			overrides[noverrides++] = optarg;
			break;
		case 'C':
			priv->chroot = true;
			break;
		case 'P':
			priv->privileged = true;
			break;
		case 'l':
			priv->log_stderr = true;
			break;
		case 'S':
			ctx->standalone = true;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			skel_usage(argv[0]);
		}
	}
	ctx->argc = argc - optind;
	ctx->argv = argv + optind;
	if (mastercf_type_parse(type, &ctx->type) < 0)
		msg_fatal("bad -t service type: %s", type);

	/* Before logging goes to syslog: a user running this by hand sees it. */
	if (!ctx->standalone) {
		struct stat st;

		priv->status_fd = MASTER_STATUS_FD;
		priv->nlisten = (int)nlisten;
		priv->listen_fds[0] = MASTER_LISTEN_FD;
		for (int i = 1; i < priv->nlisten; i++)
			priv->listen_fds[i] = MASTER_XLISTEN_FD + i - 1;
		for (int i = 0; i < priv->nlisten; i++)
			if (fstat(priv->listen_fds[i], &st) < 0
			    || !(S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode)))
				msg_fatal("fd %d is not a listener: this "
					  "program is started by master; use "
					  "-S to run it by hand",
					  priv->listen_fds[i]);
		if (fstat(priv->status_fd, &st) < 0 || !S_ISSOCK(st.st_mode))
			msg_fatal("fd %d is not master's status channel: use "
				  "-S to run this program by hand",
				  priv->status_fd);
	}
	why = vstr_alloc(100);
	if ((ctx->cfg = cfg_open(cfg_confdir_from_env(opt_c), why)) == NULL)
		msg_fatal("%s", VSTR_STR(why));
	vstr_free(why);
	skel_overrides(ctx->cfg, overrides, noverrides);
	myfree(overrides);

	maillog_init(ctx->cfg, skel_basename(argv[0]),
		     ctx->standalone	? MAILLOG_STDERR_ONLY
		     : priv->log_stderr ? MAILLOG_STDERR
					: 0);
	dict_configure(ctx->cfg);
	if (!ops->unlimited) {
		priv->max_use = cfg_get_int(ctx->cfg, "max_use");
		priv->max_idle = cfg_get_time(ctx->cfg, "max_idle");
		/* Beyond poll()'s and the timers' range means "never". */
		if (priv->max_idle > 86400LL * 24)
			priv->max_idle = 0;
	}

	skel_watchdog_secs = cfg_get_time(ctx->cfg, "daemon_timeout");
	/* alarm() takes an unsigned int; beyond a year means "never". */
	if (skel_watchdog_secs > 366LL * 86400)
		skel_watchdog_secs = 0;
	/*
	 * Every daemon works in the queue, by relative names: go there once,
	 * here, before pre_jail (a chroot lands there again).  master starts
	 * its children there already; a stand-alone run may be elsewhere.
	 */
	if (chdir(cfg_get_str(ctx->cfg, "queue_directory")) < 0)
		msg_fatal("chdir %s: %m",
			  cfg_get_str(ctx->cfg, "queue_directory"));
	skel_signals_default();
	/* Mapped before the chroot and the drop of privileges. */
	metrics_path_attach(ctx->cfg);
	if (ops->pre_jail)
		ops->pre_jail(ctx);
	skel_jail(ctx, priv);
	if (ops->post_jail)
		ops->post_jail(ctx);
	if (msg_verbose)
		msg_info("service %s type %s ready", ctx->service,
			 mastercf_type_name(ctx->type));
}

_Noreturn void
skel_exit(struct skel_ctx *ctx, int status)
{
	if (ctx->priv->ops->pre_exit)
		ctx->priv->ops->pre_exit(ctx);
	/* After pre_exit: its timers and watches may still be cancelled. */
	if (ctx->events != NULL)
		ctx->events = events_free(ctx->events);
	ctx->cfg = cfg_free(ctx->cfg);
	exit(status);
}

void
skel_report(struct skel_ctx *ctx, int status)
{
	if (ctx->priv->status_fd >= 0)
		(void)master_status_send(ctx->priv->status_fd, status);
}

bool
skel_master_gone(struct skel_ctx *ctx)
{
	return ctx->priv->status_fd >= 0
	       && master_status_gone(ctx->priv->status_fd);
}

int
skel_wait_ready(struct skel_ctx *ctx)
{
	struct skel_priv *priv = ctx->priv;
	struct pollfd	  pfd[MASTER_MAX_LISTEN + 1];
	int		  timeout;
	int		  n;

	timeout = priv->max_idle > 0 ? (int)(priv->max_idle * 1000) : -1;
	for (;;) {
		pfd[0].fd = priv->status_fd;
		pfd[0].events = POLLIN;
		for (int i = 0; i < priv->nlisten; i++) {
			pfd[i + 1].fd = priv->listen_fds[i];
			pfd[i + 1].events = POLLIN;
		}
		n = poll(pfd, (nfds_t)priv->nlisten + 1, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			msg_fatal("poll: %m");
		}
		if (n == 0) {
			if (msg_verbose)
				msg_info("idle for %llds: exiting",
					 priv->max_idle);
			return -1;
		}
		if (pfd[0].revents) {
			if (msg_verbose)
				msg_info("master closed the status channel: "
					 "exiting");
			return -1;
		}
		for (int i = 0; i < priv->nlisten; i++)
			if (pfd[i + 1].revents)
				return pfd[i + 1].fd;
	}
}

/* Copy between a stdin/stdout pair and one end of a socketpair. */
static _Noreturn void
skel_relay(int sock)
{
	char buf[16384];
	bool in_open = true;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sock, .events = POLLIN },
			{ .fd = in_open ? 0 : -1, .events = POLLIN },
		};
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (pfd[0].revents) {
			if ((n = read(sock, buf, sizeof(buf))) <= 0)
				_exit(0);
			if (write_full(1, buf, (size_t)n, -1) < 0)
				_exit(1);
		}
		if (pfd[1].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				shutdown(sock, SHUT_WR);
				in_open = false;
				continue;
			}
			if (write_full(sock, buf, (size_t)n, -1) < 0)
				_exit(1);
		}
	}
}

int
skel_standalone_fd(struct skel_ctx *ctx)
{
	struct stat st;
	int	    sv[2];
	pid_t	    pid;

	(void)ctx;
	if (fstat(0, &st) == 0 && S_ISSOCK(st.st_mode))
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		msg_fatal("socketpair: %m");
	switch (pid = fork()) {
	case -1:
		msg_fatal("fork: %m");
	case 0:
		close(sv[1]);
		skel_relay(sv[0]);
	default:
		close(sv[0]);
		/* The relay ends when our end closes; nothing to reap early. */
		return sv[1];
	}
}
