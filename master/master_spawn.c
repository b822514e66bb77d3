/*
 * master_spawn - children: spawn on demand, status reports, reaping and
 * the crash throttle.
 *
 * Demand: a service's listeners are in the event loop only while none of
 * its children is idle and the process limit is not reached.  A readable
 * listener then means "a client is waiting and nobody takes it": master
 * spawns one child and counts it idle at once, which takes the listeners
 * out of the loop until that child reports busy.  Master never accepts or
 * reads client data itself.
 *
 * Throttle: a child that exits before it ever reported busy, abnormally
 * or within MASTER_EARLY_EXIT_MS (a clean exit at once would otherwise
 * make master respawn it in a tight loop), counts as a failed start.
 * Status records are applied before exits are, so a child that served one
 * client and left at once is never mistaken for a failure.  After
 * MASTER_THROTTLE_FAILS in a row master
 * stops spawning for that service for service_throttle_time, with one
 * warning; afterwards a single further failed start throttles again.
 *
 * Errors: logged; a failed fork counts as a failed start.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master/master.h"
#include "util/metrics.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

#define MASTER_FD_PARK 100 /* fds are parked here before dup2 */

static void master_spawn_listen_event(EVENTS *ev, int fd, int what, void *ctx);

void
master_spawn_update(struct master_serv *serv)
{
	struct master *m = serv->master;
	bool	       want;

	want = !m->stopping && !serv->throttled && serv->status_fd[0] >= 0
	       && serv->nlisten > 0 && serv->avail == 0
	       && (serv->maxproc == 0 || serv->total < serv->maxproc);
	if (want == serv->watching)
		return;
	for (int i = 0; i < serv->nlisten; i++) {
		if (!want)
			events_unwatch(m->events, serv->listen_fds[i]);
		else if (events_watch(m->events, serv->listen_fds[i],
				      EVENTS_READ, master_spawn_listen_event,
				      serv)
			 < 0)
			msg_fatal("events_watch: %m");
	}
	serv->watching = want;
}

static void
master_spawn_unthrottle(EVENTS *ev, void *ctx)
{
	struct master_serv *serv = ctx;

	(void)ev;
	serv->throttled = false;
	serv->fails = MASTER_THROTTLE_FAILS - 1;
	master_spawn_update(serv);
}

static void
master_spawn_throttle(struct master_serv *serv)
{
	struct master *m = serv->master;
	long long      secs = cfg_get_time(m->cfg, "service_throttle_time");

	if (serv->throttled)
		return;
	serv->throttled = true;
	msg_warn("service %s/%s: %s keeps failing at start -- throttling "
		 "it for %lld seconds",
		 serv->name, mastercf_type_name(serv->type), serv->command,
		 secs);
	events_timer(m->events, master_spawn_unthrottle, serv,
		     (long)secs * 1000);
	master_spawn_update(serv);
}

/* Park every descriptor high, then place it; 3..N keep no stale fd. */
static void
master_spawn_fds(struct master_serv *serv)
{
	int parked[MASTER_MAX_LISTEN + 1];
	int n = 0;
	int fd;

	if ((parked[n++] = fcntl(serv->status_fd[1], F_DUPFD, MASTER_FD_PARK))
	    < 0)
		goto fail;
	for (int i = 0; i < serv->nlisten; i++)
		if ((parked[n++] = fcntl(serv->listen_fds[i], F_DUPFD,
					 MASTER_FD_PARK))
		    < 0)
			goto fail;
	if (dup2(parked[0], MASTER_STATUS_FD) < 0
	    || dup2(parked[1], MASTER_LISTEN_FD) < 0)
		goto fail;
	for (int i = 1; i < serv->nlisten; i++)
		if (dup2(parked[i + 1], MASTER_XLISTEN_FD + i - 1) < 0)
			goto fail;
	fd = serv->nlisten > 1 ? MASTER_XLISTEN_FD + serv->nlisten - 1
			       : MASTER_XLISTEN_FD;
	if (close_range((unsigned)fd, ~0U, 0) < 0)
		goto fail;
	return;
fail:
	msg_warn("%s: set up descriptors: %m", serv->command);
	_exit(126);
}

static _Noreturn void
master_spawn_exec(struct master_serv *serv)
{
	struct master *m = serv->master;
	char	     **argv = serv->argv;
	char	       count[16];

	events_child_restore_signals(m->events);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	master_spawn_fds(serv);
	if (serv->nlisten > 1) {
		size_t n = 0;

		while (serv->argv[n])
			n++;
		argv = mymalloc_array(n + 3, sizeof(*argv));
		snprintf(count, sizeof(count), "%d", serv->nlisten);
		argv[0] = serv->argv[0];
		argv[1] = "-s";
		argv[2] = count;
		memcpy(argv + 3, serv->argv + 1, n * sizeof(*argv));
	}
	execve(serv->command, argv, m->envp);
	msg_warn("exec %s: %m", serv->command);
	_exit(127);
}

static void
master_spawn_one(struct master_serv *serv)
{
	struct master	   *m = serv->master;
	struct master_proc *proc;
	pid_t		    pid;

	if ((pid = fork()) < 0) {
		msg_warn("service %s: fork: %m", serv->name);
		if (++serv->fails >= MASTER_THROTTLE_FAILS)
			master_spawn_throttle(serv);
		return;
	}
	if (pid == 0)
		master_spawn_exec(serv);
	proc = mycalloc(1, sizeof(*proc));
	proc->pid = pid;
	proc->serv = serv;
	proc->avail = true;
	proc->started = events_now_ms();
	proc->next = m->procs;
	m->procs = proc;
	m->nprocs++;
	serv->total++;
	serv->avail++;
	metrics_processes(serv->name, serv->total);
	if (msg_verbose)
		msg_info("service %s: spawned %s pid %ld", serv->name,
			 serv->command, (long)pid);
}

static void
master_spawn_listen_event(EVENTS *ev, int fd, int what, void *ctx)
{
	struct master_serv *serv = ctx;

	(void)ev;
	(void)fd;
	(void)what;
	if (serv->watching)
		master_spawn_one(serv);
	master_spawn_update(serv);
}

static struct master_proc *
master_spawn_find(struct master *m, pid_t pid)
{
	for (struct master_proc *p = m->procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

/* Apply every status record waiting on serv's channel. */
static void
master_spawn_status_drain(struct master_serv *serv)
{
	struct master_status rec;
	struct master_proc  *proc;
	int		     fd = serv->status_fd[0];
	int		     n;

	while ((n = master_status_recv(fd, &rec)) > 0) {
		proc = master_spawn_find(serv->master, rec.pid);
		if (proc == NULL || proc->serv != serv) {
			/* Usually a child that exited right after writing. */
			if (msg_verbose)
				msg_info("service %s: status from pid %ld, "
					 "not a child of it",
					 serv->name, (long)rec.pid);
			continue;
		}
		switch (rec.status) {
		case MASTER_STAT_TAKEN:
			if (proc->avail) {
				proc->avail = false;
				serv->avail--;
			}
			proc->use_count++;
			serv->used = true;
			serv->fails = 0;
			break;
		case MASTER_STAT_AVAIL:
			if (!proc->avail) {
				proc->avail = true;
				serv->avail++;
			}
			break;
		default:
			msg_warn("service %s: pid %ld sent bad status %d",
				 serv->name, (long)rec.pid, (int)rec.status);
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		msg_warn("service %s: status channel: %m", serv->name);
}

void
master_spawn_status_event(EVENTS *ev, int fd, int what, void *ctx)
{
	struct master_serv *serv = ctx;

	(void)ev;
	(void)fd;
	(void)what;
	master_spawn_status_drain(serv);
	master_spawn_update(serv);
}

static void
master_spawn_exited(struct master *m, struct master_proc *proc, int status)
{
	struct master_serv *serv = proc->serv;
	bool	    abnormal = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	const char *command = serv ? serv->command : "retired service";
	bool early = events_now_ms() - proc->started < MASTER_EARLY_EXIT_MS;

	if (abnormal && !m->stopping) {
		if (WIFSIGNALED(status))
			msg_warn("process %s pid %ld killed by signal %d",
				 command, (long)proc->pid, WTERMSIG(status));
		else
			msg_warn("process %s pid %ld exit status %d", command,
				 (long)proc->pid, WEXITSTATUS(status));
	}
	if (serv == NULL)
		return;
	serv->total--;
	metrics_processes(serv->name, serv->total);
	if (proc->avail)
		serv->avail--;
	/* Also a clean exit at once, without serving: it would spin. */
	if (proc->use_count == 0 && (abnormal || early)) {
		if (++serv->fails >= MASTER_THROTTLE_FAILS && !m->stopping)
			master_spawn_throttle(serv);
	} else {
		serv->fails = 0;
	}
	master_spawn_update(serv);
}

void
master_spawn_reap(struct master *m)
{
	struct master_proc **pp;
	struct master_proc  *proc;
	pid_t		     pid;
	int		     status;

	/* A child reports busy before it can exit: count that first. */
	for (struct master_serv *s = m->services; s; s = s->next)
		if (s->status_fd[0] >= 0)
			master_spawn_status_drain(s);
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		pp = &m->procs;
		while (*pp && (*pp)->pid != pid)
			pp = &(*pp)->next;
		if ((proc = *pp) == NULL)
			continue;
		*pp = proc->next;
		m->nprocs--;
		master_spawn_exited(m, proc, status);
		myfree(proc);
	}
}

void
master_spawn_detach(struct master_serv *serv)
{
	for (struct master_proc *p = serv->master->procs; p; p = p->next)
		if (p->serv == serv)
			p->serv = NULL;
	events_timer_cancel(serv->master->events, master_spawn_unthrottle,
			    serv);
}

void
master_spawn_kill_all(struct master *m, int signo)
{
	for (struct master_proc *p = m->procs; p; p = p->next)
		(void)kill(p->pid, signo);
}

/*
 * Children get only what import_environment names: "NAME" copies master's
 * value when set, "NAME=value" sets it.  Nothing else leaks from whoever
 * started master.
 */
char **
master_spawn_environ(const CFG *cfg)
{
	char  *list = mystrdup(cfg_get_str(cfg, "import_environment"));
	char  *cp = list;
	char  *word;
	char **envp;
	size_t n = 0;

	envp = mymalloc_array(strlen(list) / 2 + 2, sizeof(*envp));
	while ((word = str_token(&cp, STR_SEP_LIST)) != NULL) {
		const char *value;

		if (strchr(word, '=') != NULL) {
			envp[n++] = mystrdup(word);
		} else if ((value = getenv(word)) != NULL) {
			VSTR *buf = vstr_alloc(100);

			vstr_sprintf(buf, "%s=%s", word, value);
			envp[n++] = vstr_export(buf);
		}
	}
	envp[n] = NULL;
	myfree(list);
	return envp;
}

char **
master_spawn_environ_free(char **envp)
{
	if (envp != NULL) {
		for (char **cpp = envp; *cpp; cpp++)
			myfree(*cpp);
		myfree(envp);
	}
	return NULL;
}
