/*
 * Unit tests for util/events: fd readiness, timers (order, replacement,
 * cancel), callbacks that remove themselves or others during dispatch,
 * and signals through signalfd, including a SIGCHLD reaper.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/events.h"

/* Run the loop until *flag is set or 5 s pass. */
static void
run_until(EVENTS *ev, const int *flag)
{
	long long end = events_now_ms() + 5000;

	while (!*flag && events_now_ms() < end)
		assert_true(events_run_once(ev, 100) >= 0);
	assert_true(*flag);
}

struct fd_log {
	int    calls;
	int    last_fd;
	int    last_what;
	char   data[64];
	size_t len;
};

static void
on_readable(EVENTS *ev, int fd, int what, void *ctx)
{
	struct fd_log *log = ctx;
	ssize_t	       n;

	(void)ev;
	log->calls++;
	log->last_fd = fd;
	log->last_what = what;
	if (what & EVENTS_READ) {
		n = read(fd, log->data + log->len,
			 sizeof(log->data) - log->len);
		if (n > 0)
			log->len += (size_t)n;
	}
}

static void
test_events_fd_readiness(void **state)
{
	EVENTS	     *ev = events_alloc();
	struct fd_log log = { 0 };
	int	      sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(events_watch(ev, sv[1], EVENTS_READ, on_readable,
				      &log),
			 0);
	/* Nothing to read: the wait times out with no callback. */
	assert_int_equal(events_run_once(ev, 20), 0);
	assert_int_equal(log.calls, 0);
	assert_int_equal(write(sv[0], "hi", 2), 2);
	assert_int_equal(events_run_once(ev, 1000), 1);
	assert_int_equal(log.calls, 1);
	assert_int_equal(log.last_fd, sv[1]);
	assert_true(log.last_what & EVENTS_READ);
	assert_memory_equal(log.data, "hi", 2);
	/* Change interest to write: a socket is writable at once. */
	assert_int_equal(events_watch(ev, sv[1], EVENTS_WRITE, on_readable,
				      &log),
			 0);
	assert_int_equal(events_run_once(ev, 1000), 1);
	assert_int_equal(log.last_what, EVENTS_WRITE);
	/* Peer hang-up shows as readable (EOF) plus error. */
	assert_int_equal(events_watch(ev, sv[1], EVENTS_READ, on_readable,
				      &log),
			 0);
	close(sv[0]);
	log.calls = 0;
	assert_int_equal(events_run_once(ev, 1000), 1);
	assert_true(log.last_what & EVENTS_READ);
	events_unwatch(ev, sv[1]);
	events_unwatch(ev, sv[1]);
	assert_int_equal(events_run_once(ev, 10), 0);
	assert_int_equal(events_watch(ev, -1, EVENTS_READ, on_readable, &log),
			 -1);
	close(sv[1]);
	events_free(ev);
}

/* Two readable fds; whichever runs first unwatches and closes the other. */
struct pair_ctx {
	int fds[2];
	int closed;
	int calls;
};

static void
on_kill_other(EVENTS *ev, int fd, int what, void *ctx)
{
	struct pair_ctx *pc = ctx;
	int		 other = fd == pc->fds[0] ? pc->fds[1] : pc->fds[0];

	(void)what;
	pc->calls++;
	events_unwatch(ev, other);
	close(other);
	pc->closed = other;
	events_unwatch(ev, fd);
}

static void
test_events_callback_removes_other_fd(void **state)
{
	EVENTS	       *ev = events_alloc();
	struct pair_ctx pc = { { -1, -1 }, -1, 0 };
	struct fd_log	log = { 0 };
	int		a[2];
	int		b[2];
	int		c[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	pc.fds[0] = a[1];
	pc.fds[1] = b[1];
	assert_int_equal(events_watch(ev, a[1], EVENTS_READ, on_kill_other,
				      &pc),
			 0);
	assert_int_equal(events_watch(ev, b[1], EVENTS_READ, on_kill_other,
				      &pc),
			 0);
	assert_int_equal(write(a[0], "x", 1), 1);
	assert_int_equal(write(b[0], "x", 1), 1);
	/* Both are ready in the same epoll_wait; only one callback may run. */
	assert_int_equal(events_run_once(ev, 1000), 1);
	assert_int_equal(pc.calls, 1);
	assert_int_equal(events_run_once(ev, 20), 0);
	assert_int_equal(pc.calls, 1);
	/* The closed number is reused by a new watch: old events stay dead. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
	assert_true(c[0] == pc.closed || c[1] == pc.closed);
	assert_int_equal(write(c[0] == pc.closed ? c[1] : c[0], "y", 1), 1);
	assert_int_equal(events_watch(ev, pc.closed, EVENTS_READ, on_readable,
				      &log),
			 0);
	assert_int_equal(events_run_once(ev, 1000), 1);
	assert_int_equal(log.calls, 1);
	assert_int_equal(pc.calls, 1);
	events_unwatch(ev, pc.closed);
	close(a[0]);
	close(b[0]);
	close(c[0]);
	close(c[1]);
	close(pc.closed == a[1] ? b[1] : a[1]);
	events_free(ev);
}

static void
on_unwatch_self(EVENTS *ev, int fd, int what, void *ctx)
{
	int *calls = ctx;

	(void)what;
	(*calls)++;
	events_unwatch(ev, fd);
}

static void
test_events_callback_removes_itself(void **state)
{
	EVENTS *ev = events_alloc();
	int	sv[2];
	int	calls = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], "x", 1), 1);
	assert_int_equal(events_watch(ev, sv[1], EVENTS_READ | EVENTS_WRITE,
				      on_unwatch_self, &calls),
			 0);
	assert_int_equal(events_run_once(ev, 1000), 1);
	/* Still readable and writable, but no longer watched. */
	assert_int_equal(events_run_once(ev, 20), 0);
	assert_int_equal(calls, 1);
	close(sv[0]);
	close(sv[1]);
	events_free(ev);
}

/* Timers record their tag in order. */
struct timer_log {
	char   order[32];
	size_t n;
};

static struct timer_log tlog;

static void
on_timer(EVENTS *ev, void *ctx)
{
	(void)ev;
	if (tlog.n < sizeof(tlog.order) - 1)
		tlog.order[tlog.n++] = *(const char *)ctx;
}

static void
test_events_timer_order_replace_cancel(void **state)
{
	EVENTS		 *ev = events_alloc();
	static const char tags[] = "abcdef";
	long long	  end;

	(void)state;
	memset(&tlog, 0, sizeof(tlog));
	events_timer(ev, on_timer, (void *)(tags + 0), 60); /* a */
	events_timer(ev, on_timer, (void *)(tags + 1), 20); /* b */
	events_timer(ev, on_timer, (void *)(tags + 2), 40); /* c */
	events_timer(ev, on_timer, (void *)(tags + 3), 0);  /* d */
	events_timer(ev, on_timer, (void *)(tags + 4), 0);  /* e: after d */
	events_timer(ev, on_timer, (void *)(tags + 5), 30); /* f */
	/* Re-adding replaces: a now fires first-ish, b last. */
	events_timer(ev, on_timer, (void *)(tags + 0), 10);
	events_timer(ev, on_timer, (void *)(tags + 1), 80);
	events_timer_cancel(ev, on_timer, (void *)(tags + 5));
	events_timer_cancel(ev, on_timer, (void *)(tags + 5));
	assert_true(events_timer_left(ev, on_timer, (void *)(tags + 1)) > 50);
	assert_int_equal(events_timer_left(ev, on_timer, (void *)(tags + 5)),
			 -1);
	end = events_now_ms() + 3000;
	while (tlog.n < 5 && events_now_ms() < end)
		assert_true(events_run_once(ev, -1) >= 0);
	assert_string_equal(tlog.order, "deacb");
	assert_int_equal(events_run_once(ev, 100), 0);
	assert_string_equal(tlog.order, "deacb");
	events_free(ev);
}

static void
test_events_timer_not_early(void **state)
{
	EVENTS		 *ev = events_alloc();
	static const char tag = 'x';
	long long	  t0 = events_now_ms();

	(void)state;
	memset(&tlog, 0, sizeof(tlog));
	events_timer(ev, on_timer, (void *)&tag, 50);
	while (tlog.n == 0 && events_now_ms() - t0 < 3000)
		events_run_once(ev, -1);
	assert_int_equal(tlog.n, 1);
	assert_true(events_now_ms() - t0 >= 50);
	assert_true(events_now_ms() - t0 < 1000);
	events_free(ev);
}

/*
 * Many timers with random delays, a third cancelled: the rest fire in
 * deadline order (heap sanity).  events_timer() reads the clock itself,
 * so each timer's true deadline is only known to lie between the clock
 * read just before the call and the one just after it, plus the delay
 * (a loaded machine may stop the test between any two instructions).
 * A timer is out of order when its latest possible deadline is earlier
 * than the earliest possible deadline of a timer that already fired.
 */
#define NTIMERS 2000
struct heap_timer {
	long long lo, hi; /* bounds of the deadline */
};
static struct heap_timer heap_timers[NTIMERS];
static long long	 heap_last;
static int		 heap_bad;
static int		 heap_runs;

static void
on_heap_timer(EVENTS *ev, void *ctx)
{
	const struct heap_timer *t = ctx;

	(void)ev;
	if (t->hi < heap_last)
		heap_bad++;
	if (t->lo > heap_last)
		heap_last = t->lo;
	heap_runs++;
}

static void
test_events_many_timers_sorted(void **state)
{
	EVENTS	 *ev = events_alloc();
	unsigned  seed = 12345;
	long long end;
	int	  i;

	(void)state;
	heap_last = heap_bad = heap_runs = 0;
	for (i = 0; i < NTIMERS; i++) {
		long delay;

		seed = seed * 1103515245 + 12345;
		delay = (long)((seed >> 16) % 40);
		heap_timers[i].lo = events_now_ms() + delay;
		events_timer(ev, on_heap_timer, &heap_timers[i], delay);
		heap_timers[i].hi = events_now_ms() + delay;
	}
	for (i = 0; i < NTIMERS; i += 3)
		events_timer_cancel(ev, on_heap_timer, &heap_timers[i]);
	end = events_now_ms() + 30000;
	while (heap_runs < NTIMERS - 667 && events_now_ms() < end)
		assert_true(events_run_once(ev, 50) >= 0);
	assert_int_equal(heap_runs, NTIMERS - 667);
	assert_int_equal(heap_bad, 0);
	assert_int_equal(events_run_once(ev, 50), 0);
	events_free(ev);
}

/* A timer that re-arms itself with delay 0 does not starve one round. */
static int rearm_runs;

static void
on_rearm(EVENTS *ev, void *ctx)
{
	rearm_runs++;
	events_timer(ev, on_rearm, ctx, 0);
}

static void
on_cancel_other(EVENTS *ev, void *ctx)
{
	events_timer_cancel(ev, on_timer, ctx);
}

static void
test_events_timer_callbacks_modify_timers(void **state)
{
	EVENTS		 *ev = events_alloc();
	static const char tag = 'z';

	(void)state;
	rearm_runs = 0;
	events_timer(ev, on_rearm, NULL, 0);
	assert_int_equal(events_run_once(ev, 0), 1);
	assert_int_equal(rearm_runs, 1);
	assert_int_equal(events_run_once(ev, 0), 1);
	assert_int_equal(rearm_runs, 2);
	events_timer_cancel(ev, on_rearm, NULL);
	/* A due timer cancelled by an earlier one in the same round. */
	memset(&tlog, 0, sizeof(tlog));
	events_timer(ev, on_cancel_other, (void *)&tag, 0);
	events_timer(ev, on_timer, (void *)&tag, 0);
	poll(NULL, 0, 2);
	assert_int_equal(events_run_once(ev, 0), 1);
	assert_int_equal(tlog.n, 0);
	events_free(ev);
}

static int got_usr1;
static int got_usr1_signo;

static void
on_usr1(EVENTS *ev, int signo, void *ctx)
{
	(void)ev;
	(void)ctx;
	got_usr1++;
	got_usr1_signo = signo;
}

static void
test_events_signal_delivered_as_event(void **state)
{
	EVENTS	*ev = events_alloc();
	sigset_t mask;

	(void)state;
	got_usr1 = 0;
	assert_int_equal(events_signal(ev, SIGUSR1, on_usr1, NULL), 0);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	run_until(ev, &got_usr1);
	assert_int_equal(got_usr1_signo, SIGUSR1);
	/* Freeing the loop unblocks what it blocked. */
	events_free(ev);
	sigprocmask(SIG_BLOCK, NULL, &mask);
	assert_false(sigismember(&mask, SIGUSR1));
	ev = events_alloc();
	assert_int_equal(events_signal(ev, 0, on_usr1, NULL), -1);
	assert_int_equal(errno, EINVAL);
	events_free(ev);
}

/* The SIGCHLD reaper: coalesced signals, so reap in a WNOHANG loop. */
struct reaper {
	int reaped;
	int status_sum;
};

static void
on_sigchld(EVENTS *ev, int signo, void *ctx)
{
	struct reaper *r = ctx;
	int	       status;
	pid_t	       pid;

	(void)ev;
	(void)signo;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		r->reaped++;
		if (WIFEXITED(status))
			r->status_sum += WEXITSTATUS(status);
	}
}

static void
test_events_sigchld_reaps_children(void **state)
{
	EVENTS	     *ev = events_alloc();
	struct reaper r = { 0, 0 };
	long long     end;
	pid_t	      pid;
	int	      i;

	(void)state;
	assert_int_equal(events_signal(ev, SIGCHLD, on_sigchld, &r), 0);
	for (i = 1; i <= 3; i++) {
		if ((pid = fork()) == 0) {
			/* A child of a loop owner restores its signal mask. */
			sigset_t mask;

			events_child_restore_signals(ev);
			sigprocmask(SIG_BLOCK, NULL, &mask);
			_exit(sigismember(&mask, SIGCHLD) ? 100 : i);
		}
		assert_true(pid > 0);
	}
	end = events_now_ms() + 5000;
	while (r.reaped < 3 && events_now_ms() < end)
		assert_true(events_run_once(ev, 100) >= 0);
	assert_int_equal(r.reaped, 3);
	assert_int_equal(r.status_sum, 1 + 2 + 3);
	events_free(ev);
}

static void
on_stop(EVENTS *ev, void *ctx)
{
	(void)ctx;
	events_stop(ev);
}

static void
test_events_run_until_stop(void **state)
{
	EVENTS	 *ev = events_alloc();
	long long t0 = events_now_ms();

	(void)state;
	events_timer(ev, on_stop, NULL, 30);
	events_run(ev);
	assert_true(events_now_ms() - t0 >= 30);
	assert_true(events_now_ms() - t0 < 2000);
	events_free(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_fd_readiness),
		cmocka_unit_test(test_events_callback_removes_other_fd),
		cmocka_unit_test(test_events_callback_removes_itself),
		cmocka_unit_test(test_events_timer_order_replace_cancel),
		cmocka_unit_test(test_events_timer_not_early),
		cmocka_unit_test(test_events_many_timers_sorted),
		cmocka_unit_test(test_events_timer_callbacks_modify_timers),
		cmocka_unit_test(test_events_signal_delivered_as_event),
		cmocka_unit_test(test_events_sigchld_reaps_children),
		cmocka_unit_test(test_events_run_until_stop),
	};

	return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
