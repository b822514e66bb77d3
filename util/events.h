/*
 * events - a small epoll event loop with timers and signals.
 *
 * There is no global event base: each EVENTS is independent, and a
 * process normally has one.  Three kinds of event source:
 *
 *  - descriptors (events_watch): level-triggered readiness.  The callback
 *    gets the fd and what happened (EVENTS_READ, EVENTS_WRITE, and
 *    EVENTS_ERROR for a hang-up or error, which is reported even when not
 *    asked for).  Watching an fd again changes its interest, callback and
 *    context.
 *  - one-shot timers (events_timer) keyed by (callback, context): adding
 *    the same key again replaces the earlier deadline.  Due timers run in
 *    deadline order, ties in the order they were set.  Timers live in a
 *    binary heap (O(log n) set/cancel/run).
 *  - signals (events_signal) through one signalfd: the signal is blocked
 *    with sigprocmask and delivered as an ordinary event, so callbacks run
 *    in normal context.  Signals coalesce: a SIGCHLD callback must reap
 *    with waitpid(-1, ..., WNOHANG) in a loop.  Because blocked signals are
 *    inherited, a child forked by a loop owner calls
 *    events_child_restore_signals() before exec.  A child that keeps
 *    running without exec must not touch the parent's EVENTS (the epoll
 *    instance is shared across fork): it calls events_free() on it, which
 *    only closes the child's copies, and allocates its own.
 *
 * During dispatch, any callback may watch/unwatch any fd (its own too),
 * set or cancel any timer and even close descriptors: an event queued for
 * an fd that was unwatched (or re-watched) since epoll_wait returned is
 * dropped, never delivered to a stale callback.  events_free() must not be
 * called from a callback.
 *
 * Errors: events_watch / events_signal / events_run_once return -1 with
 * errno.  Allocation failures die, and so does events_alloc() when no
 * epoll descriptor can be had; a failing epoll_wait (other than EINTR)
 * makes events_run() log a fatal error.
 *
 * Ownership: events_alloc's result is the caller's, freed with
 * events_free() (returns NULL), which closes its epoll and signal fds but
 * not the watched descriptors and restores the signal mask.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_EVENTS_H
#define UTIL_EVENTS_H

#include "util/sys_defs.h"

typedef struct EVENTS EVENTS;

typedef void (*events_fd_fn)(EVENTS *ev, int fd, int what, void *ctx);
typedef void (*events_timer_fn)(EVENTS *ev, void *ctx);
typedef void (*events_signal_fn)(EVENTS *ev, int signo, void *ctx);

#define EVENTS_READ  1
#define EVENTS_WRITE 2
#define EVENTS_ERROR 4

EVENTS *events_alloc(void);
EVENTS *events_free(EVENTS *ev);

/* Add or change; what is EVENTS_READ and/or EVENTS_WRITE.  0 / -1. */
int events_watch(EVENTS *ev, int fd, int what, events_fd_fn fn, void *ctx);
/* Stop watching; harmless if not watched.  Call before close(fd). */
void events_unwatch(EVENTS *ev, int fd);

/* Run fn(ev, ctx) once after delay_ms (>= 0); re-adding replaces. */
void events_timer(EVENTS *ev, events_timer_fn fn, void *ctx, long delay_ms);
void events_timer_cancel(EVENTS *ev, events_timer_fn fn, void *ctx);
/* Milliseconds until (fn, ctx) fires, or -1 when not set. */
long events_timer_left(EVENTS *ev, events_timer_fn fn, void *ctx);

/* Deliver signo through the loop (one callback per signal).  0 / -1. */
int events_signal(EVENTS *ev, int signo, events_signal_fn fn, void *ctx);
/* In a forked child: unblock the loop's signals (before exec). */
void events_child_restore_signals(const EVENTS *ev);

/*
 * Wait at most max_wait_ms (negative: until something happens) for one
 * round of events, dispatch them and the due timers.  Returns the number
 * of callbacks run (>= 0), or -1 with errno (EINTR is returned as 0).
 */
int events_run_once(EVENTS *ev, long max_wait_ms);
/* Loop until events_stop() (from a callback). */
void events_run(EVENTS *ev);
void events_stop(EVENTS *ev);

/* CLOCK_MONOTONIC in milliseconds. */
long long events_now_ms(void);

#endif
