/*
 * qmgr - the queue manager's shared declarations (qmgr/ only).
 *
 * One QMGR holds everything the daemon knows; every function takes it,
 * there is no global state.  Memory: messages, transports, queues and
 * entries are owned by the QMGR and freed by the module that unlinks
 * them (qmgr_message_free, qmgr_sched_*).  docs/QMGR.md describes the
 * scheduling and the crash invariants.
 *
 * Errors: functions returning int give 0 / -1 and log the reason with
 * the queue ID; nothing here exits except on configuration errors at
 * start (msg_fatal).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef QMGR_QMGR_H
#define QMGR_QMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/cfg.h"
#include "util/deliver_proto.h"
#include "util/dict.h"
#include "util/domain_list.h"
#include "util/events.h"
#include "util/ipc.h"
#include "util/own_addr.h"
#include "util/vstr.h"

#define QMGR_PATH_MAX 600 /* folder, hash, name (d_name up to 255) */

typedef struct QMGR	      QMGR;
typedef struct QMGR_MESSAGE   QMGR_MESSAGE;
typedef struct QMGR_TRANSPORT QMGR_TRANSPORT;
typedef struct QMGR_QUEUE     QMGR_QUEUE;
typedef struct QMGR_ENTRY     QMGR_ENTRY;

/* Recipient states while the message is in memory. */
enum qmgr_rcpt_state {
	QMGR_RCPT_TODO,	    /* not yet handed to a queue */
	QMGR_RCPT_BUSY,	    /* in an entry */
	QMGR_RCPT_DONE,	    /* 'D' (sent or bounced) */
	QMGR_RCPT_DEFERRED, /* try again later */
};

struct qmgr_rcpt {
	char		    *addr;
	char		    *orig;  /* or NULL */
	char		    *orcpt; /* or NULL */
	int		     notify;
	off_t		     offset; /* of the R record */
	enum qmgr_rcpt_state state;
	char  dsn[DELIVER_DSN_MAX]; /* last deferral, for expiry */
	char *reason;		    /* last deferral reason or NULL */
};

struct QMGR_MESSAGE {
	QMGR	 *qmgr;
	char	 *queue_id;
	int	  fd; /* active/<id>, read-write */
	char	 *sender;
	char	 *envid;
	char	 *client_name;
	char	 *client_addr;
	char	 *filter; /* A filter=transport:nexthop, or NULL */
	int	  ret;
	int	  body_type;
	bool	  smtputf8;
	bool	  requiretls; /* A requiretls=yes (RFC 8689) */
	long long arrival_sec, arrival_usec;
	long long size;
	long long content_offset;
	long long total_rcpt;	       /* from S: R plus D */
	long long qmgr_time;	       /* when it entered active */
	long long prev_attempt;	       /* last deferral (deferred file atime) */
	bool	  force_expire;	       /* owner execute bit: postelsuper -e */
	struct qmgr_rcpt *rcpts;       /* pending (R) recipients only */
	VSTR		 *flush_sites; /* fast flush sites added, "a\nb\n" */
	size_t		  nrcpt;
	size_t		  busy; /* entries in flight or queued */
	size_t		  nbounced;
	size_t		  nsent;
	QMGR_MESSAGE	 *prev, *next; /* active list */
};

/* One delivery request: some recipients of one message to one queue. */
struct QMGR_ENTRY {
	QMGR_MESSAGE *msg;
	QMGR_QUEUE   *queue;
	size_t	     *idx; /* indexes into msg->rcpts */
	size_t	      n;
	QMGR_ENTRY   *next; /* queue FIFO */
	/* In flight: */
	IPC_STREAM *stream;
	ATTR	   *frame;
	int	    window_at_start;
	bool	    in_flight; /* counted in queue->busy */
	bool	    reused;    /* stream came from the idle pool */
};

/* An idle transport connection kept for the next request to a queue. */
typedef struct QMGR_CONN {
	QMGR_QUEUE	 *queue;
	IPC_STREAM	 *stream;
	struct QMGR_CONN *next;
} QMGR_CONN;

/* Per (transport, next hop): concurrency window and dead cool-off. */
struct QMGR_QUEUE {
	QMGR_TRANSPORT *transport;
	char	       *nexthop;
	QMGR_ENTRY     *head, *tail; /* waiting entries */
	size_t		todo;
	int		busy;	/* deliveries in flight */
	double		window; /* current concurrency */
	double		fail_cohorts;
	long long	dead_until; /* wall clock, 0 = alive */
	char	       *dead_reason;
	QMGR_CONN      *idle; /* connections waiting for a request */
	QMGR_QUEUE     *next;
};

struct QMGR_TRANSPORT {
	QMGR	       *qmgr;
	char	       *name;
	int		conc_limit; /* per destination */
	int		rcpt_limit; /* per delivery */
	int		busy;	    /* all deliveries in flight */
	long long	dead_until; /* transport unreachable until */
	char	       *dead_reason;
	QMGR_QUEUE     *queues;
	QMGR_QUEUE     *rr; /* where the next round starts */
	QMGR_TRANSPORT *next;
};

/* What the resolver says about one recipient. */
struct qmgr_resolved {
	VSTR *transport;
	VSTR *nexthop;
};

struct QMGR {
	CFG    *cfg;
	EVENTS *events;
	/* Parameters */
	long long active_limit;
	long long rcpt_limit;
	int	  initial_conc;
	double	  failed_cohort_limit;
	int	  transport_proc_limit;
	long long transport_retry_time;
	long long queue_run_delay;
	long long min_backoff, max_backoff;
	long long max_lifetime, bounce_lifetime;
	long long delay_warning_time;
	bool	  soft_bounce;
	/* Resolver */
	DICT_LIST   *transport_maps;
	DOMAIN_LIST *mydestination;
	DOMAIN_LIST *relay_domains;
	DOMAIN_LIST *virtual_alias_domains;
	DOMAIN_LIST *virtual_mailbox_domains;
	DICT_LIST   *sender_relay_maps; /* sender_dependent_relayhost_maps */
	DICT_LIST   *relocated_maps;
	OWN_ADDR    *own_addr; /* [ip] literals that are local */
	/* Fast flush (qmgr_flush.c) */
	DOMAIN_LIST *flush_domains;	/* fast_flush_domains */
	long long    flush_pause_until; /* no requests before (a failure) */
	/* State */
	QMGR_MESSAGE   *messages; /* active list */
	long long	nmessages;
	long long	nrcpt_mem;
	QMGR_TRANSPORT *transports;
	QMGR_TRANSPORT *rr;
	bool		incoming_backlog; /* stopped a scan at a limit */
	bool		deferred_backlog;
	bool		flush_all; /* the pending deferred scan ignores times */
	VSTR	       *why;
};

/* qmgr_queue.c: folders and moves */
void qmgr_queue_recover(QMGR *q);
void qmgr_queue_scan_incoming(QMGR *q);
void qmgr_queue_scan_deferred(QMGR *q, bool all);
int  qmgr_queue_move_deferred(QMGR *q, const char *queue_id, int fd,
			      long long next_time);
void qmgr_queue_corrupt(QMGR *q, const char *queue_name, const char *queue_id);
bool qmgr_queue_has_room(const QMGR *q);
void qmgr_queue_request_scan(QMGR *q);

/* qmgr_message.c: read a queue file into memory */
QMGR_MESSAGE *qmgr_message_load(QMGR *q, const char *queue_id, bool *corrupt);
void	      qmgr_message_free(QMGR_MESSAGE *m);
void	      qmgr_message_schedule(QMGR_MESSAGE *m);

/* qmgr_resolve.c */
int  qmgr_resolve_init(QMGR *q, VSTR *why);
void qmgr_resolve_free(QMGR *q);
int  qmgr_resolve(QMGR *q, const char *addr, struct qmgr_resolved *res);
/* The same for a message from sender ("" or NULL: <>, no sender lookup). */
int qmgr_resolve_from(QMGR *q, const char *sender, const char *addr,
		      struct qmgr_resolved *res);
int qmgr_resolve_split(const char *spec, VSTR *transport, VSTR *nexthop);

/* qmgr_flush.c */
int  qmgr_flush_init(QMGR *q, VSTR *why);
void qmgr_flush_free(QMGR *q);
/* addr was deferred: add m to its domain's fast flush log if eligible. */
void qmgr_flush_add(QMGR_MESSAGE *m, const char *addr);

/* qmgr_sched.c */
QMGR_TRANSPORT *qmgr_transport_find(QMGR *q, const char *name);
QMGR_QUEUE     *qmgr_queue_find(QMGR_TRANSPORT *t, const char *nexthop);
void		qmgr_entry_add(QMGR_QUEUE *queue, QMGR_ENTRY *e);
void		qmgr_sched_run(QMGR *q);
/* Run the scheduler from the event loop soon (never recursively). */
void qmgr_sched_kick(QMGR *q);
void
qmgr_sched_feedback(QMGR_QUEUE *queue, bool ok, int window, const char *reason);
void qmgr_sched_transport_fail(QMGR_TRANSPORT *t, const char *reason);
void qmgr_sched_forget_dead(QMGR *q);
void qmgr_sched_free(QMGR *q);
void qmgr_entry_free(QMGR_ENTRY *e);

/* qmgr_deliver.c */
void qmgr_deliver_start(QMGR *q, QMGR_ENTRY *e);
void
qmgr_deliver_defer_entry(QMGR_ENTRY *e, const char *dsn, const char *reason);
void qmgr_deliver_results(QMGR_ENTRY *e, const struct deliver_status *st);
/* The maillog line (to=, relay=, delays=, status=) for a result qmgr
 * decided itself, without a delivery agent, counted in the metrics
 * under transport (the one resolved, or "none"). */
void qmgr_deliver_log(const QMGR_MESSAGE *m, const struct qmgr_rcpt *r,
		      const struct deliver_status *st, const char *transport);
void qmgr_deliver_close_idle(QMGR_QUEUE *queue);

/* qmgr_defer.c: the end of an attempt */
void	  qmgr_defer_message_done(QMGR_MESSAGE *m);
long long qmgr_defer_backoff(const QMGR *q, long long age);
void	  qmgr_defer_entry_done(QMGR_ENTRY *e);

/* qmgr_bounce.c */
int  qmgr_bounce_log(QMGR_MESSAGE *m, const char *service,
		     const struct qmgr_rcpt *r, const struct deliver_status *st);
int  qmgr_bounce_flush(QMGR_MESSAGE *m, int kind, const char *service);
bool qmgr_bounce_expired(const QMGR_MESSAGE *m, long long now);
int  qmgr_bounce_expire(QMGR_MESSAGE *m);
void qmgr_bounce_warn(QMGR_MESSAGE *m, long long now);

long long qmgr_now(void);

#endif
