/*
 * master - internal interfaces of the master supervisor.
 *
 * One struct master holds the whole state; it is passed to every function
 * (no globals).  A struct master_serv is one master.cf entry that is
 * running: its listeners, the master end of its status channel, its
 * process counts and crash-throttle state.  A struct master_proc is one
 * child; a child whose service was retired (reload, removal) keeps
 * running until it finishes its client, with proc->serv == NULL.
 *
 * Files: master.c (main, start-up, signals, shutdown), master_listen.c
 * (endpoints), master_service.c (services from master.cf), master_spawn.c
 * (children, status channel, crash throttle), master_wakeup.c (wakeup
 * timers), master_reload.c (SIGHUP).
 *
 * Errors: set-up failures at start are fatal; after that every failure is
 * logged and master carries on with what works.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef MASTER_MASTER_H
#define MASTER_MASTER_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/cfg.h"
#include "util/events.h"
#include "util/master_proto.h"
#include "util/mastercf.h"
#include "util/vstr.h"

/* Abnormal exits without serving that make master throttle a service. */
#define MASTER_THROTTLE_FAILS 3
/* A child exiting sooner than this without serving failed to start. */
#define MASTER_EARLY_EXIT_MS 1000
/* Bound on the wait for children at shutdown before SIGKILL. */
#define MASTER_STOP_WAIT_MS 5000

struct master_serv {
	struct master	   *master;
	struct master_serv *next;
	char		   *name; /* master.cf service field */
	enum mastercf_type  type;
	char		   *raw;      /* the entry as written: change test */
	char		   *endpoint; /* what the listeners are bound to */
	char		   *path;     /* unix/fifo/dgram: socket path */
	char		   *command;  /* absolute program path */
	char		  **argv;     /* full child argv, NULL-terminated */
	int		    maxproc;  /* 0 = unlimited */
	int		    wakeup;   /* seconds, 0 = none */
	bool		    wakeup_conditional;
	int		    listen_fds[MASTER_MAX_LISTEN];
	int		    nlisten;
	int		    status_fd[2]; /* [0] master end, [1] children's */
	int		    total;	  /* children of this generation */
	int		    avail;	  /* ... of which are idle */
	bool		    watching;	  /* listeners are in the event loop */
	bool		    used;	  /* a child reported busy once */
	int		    fails;	  /* abnormal exits without serving */
	bool		    throttled;
	bool		    mark; /* reload: still in master.cf */
};

struct master_proc {
	struct master_proc *next;
	pid_t		    pid;
	struct master_serv *serv; /* NULL: retired generation */
	bool		    avail;
	long		    use_count;
	long long	    started; /* events_now_ms() at fork */
};

struct master {
	const char	   *confdir;
	CFG		   *cfg;
	VSTR		   *maincf_text; /* main.cf as read (reload) */
	EVENTS		   *events;
	struct master_serv *services;
	struct master_proc *procs;
	int		    nprocs;
	int		    pid_fd; /* locked pid file */
	VSTR		   *pid_path;
	bool		    foreground; /* -d */
	int		    verbose;	/* -v count, passed to children */
	char		  **envp;	/* children's environment */
	bool		    stopping;
};

/* master_listen.c */
int  master_listen_open(struct master *m, struct master_serv *serv, VSTR *why);
void master_listen_close(struct master_serv *serv);
/* inet service field -> host ("" = per inet_interfaces) and port; 0/-1. */
int  master_listen_split(const char *field, VSTR *host, VSTR *port);
void master_listen_endpoint(const CFG *cfg, const struct mastercf_service *e,
			    VSTR *out);

/* master_service.c */
struct master_serv	*
master_service_create(struct master *m, const struct mastercf_service *e);
int  master_service_start(struct master_serv *serv);
void master_service_retire(struct master_serv *serv);
void master_service_stop(struct master_serv *serv);
struct master_serv *master_service_free(struct master_serv *serv);
int  master_service_load(struct master *m, MASTERCF **mcf, VSTR *why);
bool master_service_disabled(const CFG *cfg, const struct mastercf_service *e);

/* master_spawn.c */
void   master_spawn_update(struct master_serv *serv);
void   master_spawn_reap(struct master *m);
void   master_spawn_status_event(EVENTS *ev, int fd, int what, void *ctx);
void   master_spawn_detach(struct master_serv *serv);
void   master_spawn_kill_all(struct master *m, int signo);
char **master_spawn_environ(const CFG *cfg);
char **master_spawn_environ_free(char **envp);

/* master_wakeup.c */
void master_wakeup_start(struct master_serv *serv);
void master_wakeup_stop(struct master_serv *serv);

/* master_reload.c */
void master_reload(struct master *m);
int  master_read_maincf(const char *confdir, VSTR *text);

#endif
