/*
 * master - the Postel supervisor: main(), start-up, signals, shutdown.
 *
 * Usage: master [-c confdir] [-d] [-v]
 *
 * Start-up reads main.cf and master.cf, changes to queue_directory, takes
 * the pid file lock (a second master on the same queue exits with "the
 * Postel mail system is already running"), opens every service's
 * listeners and then waits for events.  Without -d, master detaches: the
 * process started by `postel start` exits 0 only once the detached master
 * holds the lock and listens, or 1 after master reported why it could not
 * (on standard error, still attached at that point).  With -d master
 * stays in the foreground and logs to standard error as well.
 *
 * Signals: SIGHUP reloads (master_reload.c), SIGTERM and SIGINT stop:
 * listeners close, children get SIGTERM, a bounded wait, then SIGKILL;
 * the pid file is removed and master exits 0.  SIGCHLD reaps.  All of
 * them arrive through the event loop (signalfd), never as handlers.
 *
 * Errors: a broken configuration or an endpoint that cannot be opened at
 * start is fatal (exit 1, EX_CONFIG for a configuration error).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "master/master.h"
#include "util/maillog.h"
#include "util/metrics.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/user.h"

#define MASTER_READY_WAIT_MS 30000

static _Noreturn void
master_usage(void)
{
	msg_fatal_status(EX_USAGE, "usage: master [-c confdir] [-d] [-v]");
}

static void
master_signal_event(EVENTS *ev, int signo, void *ctx)
{
	struct master *m = ctx;

	switch (signo) {
	case SIGCHLD:
		master_spawn_reap(m);
		break;
	case SIGHUP:
		msg_info("reload requested");
		master_reload(m);
		break;
	default:
		msg_info("terminating on signal %d", signo);
		m->stopping = true;
		events_stop(ev);
	}
}

/*
 * Fork; the parent waits until the child says it is ready and exits with
 * 0, or 1 when the child died first.  Returns the ready pipe's write end
 * in the child.
 */
static int
master_detach(void)
{
	int	      fds[2];
	pid_t	      pid;
	char	      byte;
	struct pollfd pfd;

	if (pipe2(fds, O_CLOEXEC) < 0)
		msg_fatal("pipe: %m");
	if ((pid = fork()) < 0)
		msg_fatal("fork: %m");
	if (pid == 0) {
		close(fds[0]);
		if (setsid() < 0)
			msg_fatal("setsid: %m");
		return fds[1];
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, MASTER_READY_WAIT_MS) == 1
	    && read(fds[0], &byte, 1) == 1)
		_exit(0);
	_exit(1);
}

static void
master_detached(int ready_fd)
{
	int fd;

	if (write(ready_fd, "k", 1) != 1)
		msg_warn("ready pipe: %m");
	close(ready_fd);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	msg_stderr_enable(false);
}

static void
master_start_services(struct master *m, const MASTERCF *mcf)
{
	for (size_t i = 0; i < mastercf_count(mcf); i++) {
		const struct mastercf_service *e = mastercf_at(mcf, i);
		struct master_serv	      *serv;

		if (master_service_disabled(m->cfg, e))
			continue;
		serv = master_service_create(m, e);
		if (master_service_start(serv) < 0)
			msg_fatal("cannot start service %s/%s (master.cf "
				  "line %d)",
				  e->name, mastercf_type_name(e->type),
				  e->line);
		serv->next = m->services;
		m->services = serv;
	}
}

static void
master_stop(struct master *m)
{
	long long	    deadline;
	struct master_serv *serv;

	m->stopping = true;
	for (serv = m->services; serv; serv = serv->next)
		master_service_stop(serv);
	master_spawn_kill_all(m, SIGTERM);
	deadline = events_now_ms() + MASTER_STOP_WAIT_MS;
	while (m->nprocs > 0 && events_now_ms() < deadline) {
		master_spawn_reap(m);
		if (m->nprocs > 0)
			poll(NULL, 0, 20);
	}
	if (m->nprocs > 0) {
		msg_warn("%d children did not stop within %d ms: killing them",
			 m->nprocs, MASTER_STOP_WAIT_MS);
		master_spawn_kill_all(m, SIGKILL);
		deadline = events_now_ms() + MASTER_STOP_WAIT_MS;
		while (m->nprocs > 0 && events_now_ms() < deadline) {
			master_spawn_reap(m);
			if (m->nprocs > 0)
				poll(NULL, 0, 20);
		}
	}
	while ((serv = m->services) != NULL) {
		m->services = serv->next;
		master_service_free(serv);
	}
	while (m->procs) {
		struct master_proc *p = m->procs;

		m->procs = p->next;
		myfree(p);
	}
}

/*
 * A fresh metrics table for this run (util/metrics.h), mail_owner's when
 * we are root.  Without data_directory (a developer's instance) metrics
 * are off, which the log says once.
 */
static void
master_metrics_start(const CFG *cfg)
{
	const char *dir = cfg_get_str(cfg, "data_directory");
	char	   *path;
	VSTR	   *why;
	struct stat st;
	uid_t	    uid = (uid_t)-1;
	gid_t	    gid = (gid_t)-1;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		msg_info("data_directory %s: no such folder: metrics are off",
			 dir);
		return;
	}
	if (geteuid() == 0
	    && user_lookup(cfg_get_str(cfg, "mail_owner"), &uid, &gid) < 0)
		uid = (uid_t)-1;
	path = metrics_path(cfg);
	why = vstr_alloc(100);
	if (metrics_create(path, uid, gid, why) < 0)
		msg_warn("metrics are off: %s", VSTR_STR(why));
	vstr_free(why);
	myfree(path);
}

int
main(int argc, char **argv)
{
	struct master m = { .pid_fd = -1 };
	const char   *opt_c = NULL;
	char	      real[PATH_MAX];
	VSTR	     *why;
	MASTERCF     *mcf;
	const char   *queue;
	pid_t	      holder;
	int	      ready_fd = -1;
	int	      ch;

	umask(022);
	msg_set_progname("master");
	/* Descriptors 0-2 must exist, or a listener could land there. */
	while ((ch = open("/dev/null", O_RDWR)) >= 0 && ch <= 2)
		/* void */;
	if (ch > 2)
		close(ch);
	while ((ch = getopt(argc, argv, "c:dv")) != -1) {
		switch (ch) {
		case 'c':
			opt_c = optarg;
			break;
		case 'd':
			m.foreground = true;
			break;
		case 'v':
			msg_verbose++;
			m.verbose++;
			break;
		default:
			master_usage();
		}
	}
	if (optind != argc)
		master_usage();

	/* Children get -c; it must survive our chdir. */
	opt_c = cfg_confdir_from_env(opt_c);
	if (realpath(opt_c, real) == NULL)
		msg_fatal_status(EX_CONFIG, "configuration folder %s: %m",
				 opt_c);
	m.confdir = mystrdup(real);
	why = vstr_alloc(100);
	m.maincf_text = vstr_alloc(1000);
	if (master_read_maincf(m.confdir, m.maincf_text) < 0)
		msg_fatal_status(EX_CONFIG, "%s/main.cf: %m", m.confdir);
	if ((m.cfg = cfg_open(m.confdir, why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	maillog_init(m.cfg, "master", MAILLOG_STDERR);
	if (master_service_load(&m, &mcf, why) < 0)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	queue = cfg_get_str(m.cfg, "queue_directory");
	if (chdir(queue) < 0)
		msg_fatal("queue_directory %s: %m (run postel check)", queue);

	if (!m.foreground)
		ready_fd = master_detach();
	m.pid_path = vstr_alloc(100);
	master_pid_path(queue, cfg_get_str(m.cfg, "process_id_directory"),
			m.pid_path);
	if ((m.pid_fd = master_pid_lock(VSTR_STR(m.pid_path), &holder)) < 0) {
		if (errno == EAGAIN)
			msg_fatal("the Postel mail system is already running "
				  "(pid %ld)",
				  (long)holder);
		msg_fatal("pid file %s: %m (run postel check)",
			  VSTR_STR(m.pid_path));
	}

	master_metrics_start(m.cfg);
	signal(SIGPIPE, SIG_IGN);
	m.events = events_alloc();
	if (events_signal(m.events, SIGCHLD, master_signal_event, &m) < 0
	    || events_signal(m.events, SIGHUP, master_signal_event, &m) < 0
	    || events_signal(m.events, SIGTERM, master_signal_event, &m) < 0
	    || events_signal(m.events, SIGINT, master_signal_event, &m) < 0)
		msg_fatal("events_signal: %m");
	m.envp = master_spawn_environ(m.cfg);
	master_start_services(&m, mcf);
	mcf = mastercf_free(mcf);
	msg_info("daemon started -- configuration %s", m.confdir);
	if (ready_fd >= 0)
		master_detached(ready_fd);

	events_run(m.events);

	master_stop(&m);
	if (unlink(VSTR_STR(m.pid_path)) < 0)
		msg_warn("remove %s: %m", VSTR_STR(m.pid_path));
	close(m.pid_fd);
	msg_info("stopped");
	m.events = events_free(m.events);
	m.cfg = cfg_free(m.cfg);
	m.envp = master_spawn_environ_free(m.envp);
	vstr_free(m.pid_path);
	vstr_free(m.maincf_text);
	vstr_free(why);
	myfree((void *)m.confdir);
	return 0;
}
