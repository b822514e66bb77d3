/*
 * events - a small epoll event loop with timers and signals.  See events.h.
 *
 * Stale events: every watch carries a generation number that changes on
 * each watch/unwatch and travels in the epoll event's data next to the fd.
 * An event whose generation no longer matches the fd's current watch is
 * dropped; level-triggered epoll reports a still-ready fd again on the
 * next round, so nothing is lost by dropping.
 *
 * Timers: a binary min-heap ordered by (deadline, sequence) for running,
 * and a chained hash on (callback, context) for replace and cancel.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "util/events.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define EVENTS_BATCH 64 /* epoll events per wait */

typedef struct EVENTS_WATCH {
	events_fd_fn fn;
	void	    *ctx;
	int	     what;
	uint32_t     gen;
	bool	     active;
} EVENTS_WATCH;

typedef struct EVENTS_TIMER {
	events_timer_fn	     fn;
	void		    *ctx;
	long long	     deadline;
	unsigned long long   seq; /* ties run in the order set */
	size_t		     heap_idx;
	struct EVENTS_TIMER *next; /* hash chain */
} EVENTS_TIMER;

typedef struct EVENTS_SIGNAL {
	events_signal_fn fn;
	void		*ctx;
} EVENTS_SIGNAL;

struct EVENTS {
	int  epfd;
	bool stop;
	/* Descriptors, indexed by fd. */
	EVENTS_WATCH *watch;
	size_t	      nwatch;
	uint32_t      gen;
	/* Timers. */
	EVENTS_TIMER	 **heap;
	size_t		   nheap;
	size_t		   heap_cap;
	EVENTS_TIMER	 **bucket;
	size_t		   nbucket; /* power of two */
	unsigned long long seq;
	/* Signals. */
	int	      sigfd;
	sigset_t      sigmask; /* delivered through sigfd */
	sigset_t      blocked; /* blocked by us, to undo */
	EVENTS_SIGNAL sig[NSIG];
};

long long
events_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

EVENTS *
events_alloc(void)
{
	EVENTS *ev = mycalloc(1, sizeof(*ev));

	if ((ev->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		msg_fatal("epoll_create1: %m");
	ev->sigfd = -1;
	sigemptyset(&ev->sigmask);
	sigemptyset(&ev->blocked);
	ev->nbucket = 16;
	ev->bucket = mycalloc(ev->nbucket, sizeof(*ev->bucket));
	return ev;
}

EVENTS *
events_free(EVENTS *ev)
{
	size_t i;

	if (ev == NULL)
		return NULL;
	for (i = 0; i < ev->nheap; i++)
		myfree(ev->heap[i]);
	myfree(ev->heap);
	myfree(ev->bucket);
	myfree(ev->watch);
	if (ev->sigfd >= 0)
		(void)close(ev->sigfd);
	(void)close(ev->epfd);
	(void)sigprocmask(SIG_UNBLOCK, &ev->blocked, NULL);
	myfree(ev);
	return NULL;
}

/* Descriptors. */

static uint32_t
events_to_epoll(int what)
{
	return (what & EVENTS_READ ? EPOLLIN | EPOLLRDHUP : 0)
	       | (what & EVENTS_WRITE ? EPOLLOUT : 0);
}

int
events_watch(EVENTS *ev, int fd, int what, events_fd_fn fn, void *ctx)
{
	struct epoll_event ee;
	EVENTS_WATCH	  *w;
	int		   op;

	if (fd < 0 || fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)fd >= ev->nwatch) {
		size_t n = ev->nwatch ? ev->nwatch : 64;

		while (n <= (size_t)fd)
			n *= 2;
		ev->watch = myrealloc_array(ev->watch, n, sizeof(*ev->watch));
		memset(ev->watch + ev->nwatch, 0,
		       (n - ev->nwatch) * sizeof(*ev->watch));
		ev->nwatch = n;
	}
	w = ev->watch + fd;
	memset(&ee, 0, sizeof(ee));
	ee.events = events_to_epoll(what);
	ee.data.u64 = (uint64_t)(ev->gen + 1) << 32 | (uint32_t)fd;
	op = w->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(ev->epfd, op, fd, &ee) < 0) {
		/* Closed and reused behind our back, or vice versa. */
		if (op == EPOLL_CTL_MOD && errno == ENOENT)
			op = EPOLL_CTL_ADD;
		else if (op == EPOLL_CTL_ADD && errno == EEXIST)
			op = EPOLL_CTL_MOD;
		else
			return -1;
		if (epoll_ctl(ev->epfd, op, fd, &ee) < 0)
			return -1;
	}
	w->gen = ++ev->gen;
	w->fn = fn;
	w->ctx = ctx;
	w->what = what;
	w->active = true;
	return 0;
}

void
events_unwatch(EVENTS *ev, int fd)
{
	EVENTS_WATCH *w;

	if (fd < 0 || (size_t)fd >= ev->nwatch || !ev->watch[fd].active)
		return;
	w = ev->watch + fd;
	/* EBADF/ENOENT: already closed, which removed it from epoll. */
	(void)epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
	w->active = false;
	w->fn = NULL;
	w->ctx = NULL;
	w->gen = ++ev->gen;
}

/* Timers. */

static size_t
events_timer_hash(const EVENTS *ev, events_timer_fn fn, void *ctx)
{
	uint64_t h = (uint64_t)(uintptr_t)fn * 0x9e3779b97f4a7c15ULL;

	h ^= (uint64_t)(uintptr_t)ctx * 0xc2b2ae3d27d4eb4fULL;
	h ^= h >> 29;
	return (size_t)h & (ev->nbucket - 1);
}

static EVENTS_TIMER **
events_timer_link(EVENTS *ev, events_timer_fn fn, void *ctx)
{
	EVENTS_TIMER **tp = ev->bucket + events_timer_hash(ev, fn, ctx);

	while (*tp && ((*tp)->fn != fn || (*tp)->ctx != ctx))
		tp = &(*tp)->next;
	return tp;
}

static void
events_timer_rehash(EVENTS *ev)
{
	EVENTS_TIMER **old = ev->bucket;
	size_t	       nold = ev->nbucket;
	size_t	       i;

	ev->nbucket *= 2;
	ev->bucket = mycalloc(ev->nbucket, sizeof(*ev->bucket));
	for (i = 0; i < nold; i++) {
		EVENTS_TIMER *t = old[i];

		while (t) {
			EVENTS_TIMER *next = t->next;
			size_t	      h = events_timer_hash(ev, t->fn, t->ctx);

			t->next = ev->bucket[h];
			ev->bucket[h] = t;
			t = next;
		}
	}
	myfree(old);
}

static bool
events_timer_before(const EVENTS_TIMER *a, const EVENTS_TIMER *b)
{
	return a->deadline < b->deadline
	       || (a->deadline == b->deadline && a->seq < b->seq);
}

static void
events_heap_set(EVENTS *ev, size_t i, EVENTS_TIMER *t)
{
	ev->heap[i] = t;
	t->heap_idx = i;
}

static void
events_heap_up(EVENTS *ev, size_t i)
{
	EVENTS_TIMER *t = ev->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!events_timer_before(t, ev->heap[parent]))
			break;
		events_heap_set(ev, i, ev->heap[parent]);
		i = parent;
	}
	events_heap_set(ev, i, t);
}

static void
events_heap_down(EVENTS *ev, size_t i)
{
	EVENTS_TIMER *t = ev->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= ev->nheap)
			break;
		if (child + 1 < ev->nheap
		    && events_timer_before(ev->heap[child + 1],
					   ev->heap[child]))
			child++;
		if (!events_timer_before(ev->heap[child], t))
			break;
		events_heap_set(ev, i, ev->heap[child]);
		i = child;
	}
	events_heap_set(ev, i, t);
}

static void
events_heap_remove(EVENTS *ev, EVENTS_TIMER *t)
{
	size_t	      i = t->heap_idx;
	EVENTS_TIMER *last = ev->heap[--ev->nheap];

	if (last == t)
		return;
	events_heap_set(ev, i, last);
	events_heap_down(ev, i);
	events_heap_up(ev, last->heap_idx);
}

void
events_timer(EVENTS *ev, events_timer_fn fn, void *ctx, long delay_ms)
{
	EVENTS_TIMER **tp = events_timer_link(ev, fn, ctx);
	EVENTS_TIMER  *t = *tp;

	if (delay_ms < 0)
		delay_ms = 0;
	if (t != NULL) {
		events_heap_remove(ev, t);
	} else {
		t = mycalloc(1, sizeof(*t));
		t->fn = fn;
		t->ctx = ctx;
		*tp = t;
		if (ev->nheap == ev->heap_cap) {
			ev->heap_cap = ev->heap_cap ? ev->heap_cap * 2 : 16;
			ev->heap = myrealloc_array(ev->heap, ev->heap_cap,
						   sizeof(*ev->heap));
		}
		if (ev->nheap >= ev->nbucket)
			events_timer_rehash(ev);
	}
	t->deadline = events_now_ms() + delay_ms;
	t->seq = ev->seq++;
	events_heap_set(ev, ev->nheap++, t);
	events_heap_up(ev, t->heap_idx);
}

/* Unlink (fn, ctx) from hash and heap; the caller frees it.  NULL if none. */
static EVENTS_TIMER *
events_timer_take(EVENTS *ev, events_timer_fn fn, void *ctx)
{
	EVENTS_TIMER **tp = events_timer_link(ev, fn, ctx);
	EVENTS_TIMER  *t = *tp;

	if (t == NULL)
		return NULL;
	*tp = t->next;
	events_heap_remove(ev, t);
	return t;
}

void
events_timer_cancel(EVENTS *ev, events_timer_fn fn, void *ctx)
{
	myfree(events_timer_take(ev, fn, ctx));
}

long
events_timer_left(EVENTS *ev, events_timer_fn fn, void *ctx)
{
	EVENTS_TIMER *t = *events_timer_link(ev, fn, ctx);
	long long     left;

	if (t == NULL)
		return -1;
	left = t->deadline - events_now_ms();
	return left < 0 ? 0 : (long)left;
}

/*
 * Run the timers due now, but only those set before this round began, so
 * a callback that re-arms itself with delay 0 cannot starve the loop.
 */
static int
events_run_timers(EVENTS *ev)
{
	unsigned long long round = ev->seq;
	long long	   now = events_now_ms();
	int		   ran = 0;

	while (ev->nheap > 0 && ev->heap[0]->deadline <= now
	       && ev->heap[0]->seq < round) {
		EVENTS_TIMER   *t = events_timer_take(ev, ev->heap[0]->fn,
						      ev->heap[0]->ctx);
		events_timer_fn fn = t->fn;
		void	       *ctx = t->ctx;

		myfree(t);
		fn(ev, ctx);
		ran++;
	}
	return ran;
}

/* Signals. */

static void
events_signal_read(EVENTS *ev, int fd, int what, void *ctx)
{
	struct signalfd_siginfo si[16];
	ssize_t			n;
	size_t			i;

	(void)what;
	(void)ctx;
	for (;;) {
		n = read(fd, si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (i = 0; i < (size_t)n / sizeof(si[0]); i++) {
			int signo = (int)si[i].ssi_signo;

			if (signo > 0 && signo < NSIG && ev->sig[signo].fn)
				ev->sig[signo].fn(ev, signo,
						  ev->sig[signo].ctx);
		}
		if ((size_t)n < sizeof(si))
			return;
	}
}

int
events_signal(EVENTS *ev, int signo, events_signal_fn fn, void *ctx)
{
	sigset_t one;
	sigset_t old;
	int	 fd;

	if (signo <= 0 || signo >= NSIG || fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	sigemptyset(&one);
	if (sigaddset(&one, signo) < 0)
		return -1;
	if (sigprocmask(SIG_BLOCK, &one, &old) < 0)
		return -1;
	if (!sigismember(&old, signo))
		sigaddset(&ev->blocked, signo);
	sigaddset(&ev->sigmask, signo);
	fd = signalfd(ev->sigfd, &ev->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ev->sigfd < 0) {
		ev->sigfd = fd;
		if (events_watch(ev, fd, EVENTS_READ, events_signal_read, NULL)
		    < 0)
			return -1;
	}
	ev->sig[signo].fn = fn;
	ev->sig[signo].ctx = ctx;
	return 0;
}

void
events_child_restore_signals(const EVENTS *ev)
{
	(void)sigprocmask(SIG_UNBLOCK, &ev->blocked, NULL);
}

/* The loop. */

static int
events_wait_ms(const EVENTS *ev, long max_wait_ms)
{
	long long wait = max_wait_ms < 0 ? -1 : max_wait_ms;

	if (ev->nheap > 0) {
		long long left = ev->heap[0]->deadline - events_now_ms();

		if (left < 0)
			left = 0;
		if (wait < 0 || left < wait)
			wait = left;
	}
	return wait > INT32_MAX ? INT32_MAX : (int)wait;
}

int
events_run_once(EVENTS *ev, long max_wait_ms)
{
	struct epoll_event ee[EVENTS_BATCH];
	int		   n;
	int		   i;
	int		   ran = 0;

	n = epoll_wait(ev->epfd, ee, EVENTS_BATCH,
		       events_wait_ms(ev, max_wait_ms));
	if (n < 0) {
		if (errno != EINTR)
			return -1;
		n = 0;
	}
	for (i = 0; i < n; i++) {
		int	      fd = (int)(uint32_t)ee[i].data.u64;
		uint32_t      gen = (uint32_t)(ee[i].data.u64 >> 32);
		uint32_t      e = ee[i].events;
		EVENTS_WATCH *w;
		int	      what = 0;

		if ((size_t)fd >= ev->nwatch)
			continue;
		w = ev->watch + fd;
		/* Unwatched or re-watched by an earlier callback: stale. */
		if (!w->active || w->gen != gen)
			continue;
		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
			what |= EVENTS_READ;
		if (e & EPOLLOUT)
			what |= EVENTS_WRITE;
		what &= w->what;
		if (e & (EPOLLERR | EPOLLHUP))
			what |= EVENTS_ERROR;
		if (what == 0)
			continue;
		w->fn(ev, fd, what, w->ctx);
		ran++;
	}
	return ran + events_run_timers(ev);
}

void
events_run(EVENTS *ev)
{
	ev->stop = false;
	while (!ev->stop) {
		if (events_run_once(ev, -1) < 0)
			msg_fatal("epoll_wait: %m");
	}
}

void
events_stop(EVENTS *ev)
{
	ev->stop = true;
}
