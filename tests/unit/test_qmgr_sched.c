/*
 * Unit tests for qmgr/qmgr_sched: per-transport limits, concurrency
 * windows, round-robin between destinations, dead destinations.  The
 * delivery side is stubbed: starts and deferrals are only recorded.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "qmgr/qmgr.h"
#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/mymalloc.h"

/* Stubs for the functions qmgr_sched.c calls in other qmgr files. */
static QMGR_ENTRY *started[100];
static size_t	   nstarted;
static size_t	   ndeferred;
static char	   last_reason[200];
static long long   fake_now = 1000;

void
qmgr_deliver_start(QMGR *q, QMGR_ENTRY *e)
{
	(void)q;
	started[nstarted++] = e;
}

void
qmgr_deliver_defer_entry(QMGR_ENTRY *e, const char *dsn, const char *reason)
{
	(void)dsn;
	snprintf(last_reason, sizeof(last_reason), "%s", reason);
	ndeferred++;
	qmgr_entry_free(e);
}

void
qmgr_deliver_close_idle(QMGR_QUEUE *queue)
{
	assert_null(queue->idle);
}

long long
qmgr_now(void)
{
	return fake_now;
}

static QMGR *
qmgr_open(const char *maincf)
{
	QMGR *q = mycalloc(1, sizeof(*q));

	q->cfg = cfg_open_buffer(NULL, "main.cf", maincf, strlen(maincf), NULL);
	assert_non_null(q->cfg);
	q->initial_conc = 5;
	q->failed_cohort_limit = 1;
	q->transport_proc_limit = 100;
	q->min_backoff = 300;
	q->transport_retry_time = 60;
	nstarted = ndeferred = 0;
	return q;
}

static void
qmgr_close(QMGR *q)
{
	size_t i;

	for (i = 0; i < nstarted; i++)
		qmgr_entry_free(started[i]);
	nstarted = 0;
	qmgr_sched_free(q);
	cfg_free(q->cfg);
	myfree(q);
}

static void
add_entries(QMGR_QUEUE *queue, int n)
{
	QMGR_ENTRY *e;

	while (n-- > 0) {
		e = mycalloc(1, sizeof(*e));
		e->queue = queue;
		qmgr_entry_add(queue, e);
	}
}

/* What qmgr_defer_entry_done does for the scheduler's counters. */
static void
finish(QMGR_ENTRY *e)
{
	e->queue->busy--;
	e->queue->transport->busy--;
}

static void
test_qmgr_sched_transport_limits(void **state)
{
	QMGR	       *q = qmgr_open("smtp_destination_concurrency_limit = 3\n"
						"fake_destination_concurrency_limit = 4\n"
						"fake_destination_recipient_limit = 7\n"
						"bad_destination_concurrency_limit = many\n");
	QMGR_TRANSPORT *t;

	(void)state;
	t = qmgr_transport_find(q, "smtp");
	assert_int_equal(t->conc_limit, 3);
	assert_int_equal(t->rcpt_limit, 50);
	assert_ptr_equal(qmgr_transport_find(q, "smtp"), t);
	t = qmgr_transport_find(q, "fake");
	assert_int_equal(t->conc_limit, 4);
	assert_int_equal(t->rcpt_limit, 7);
	/* A bad value is fatal, as in Postfix (postel check reports it). */
	EXPECT_FATAL(qmgr_transport_find(q, "bad"),
		     "main.cf:4: parameter bad_destination_concurrency_limit: "
		     "bad numerical value \"many\"");
	/* The window starts at the initial concurrency, within the limit. */
	assert_true(
	    qmgr_queue_find(qmgr_transport_find(q, "smtp"), "a.example")->window
	    == 3);
	assert_true(
	    qmgr_queue_find(qmgr_transport_find(q, "fake"), "a.example")->window
	    == 4);
	assert_ptr_equal(qmgr_queue_find(t, "A.example"),
			 qmgr_queue_find(t, "a.example"));
	qmgr_close(q);
}

static void
test_qmgr_sched_window_bounds_deliveries(void **state)
{
	QMGR	   *q = qmgr_open("smtp_destination_concurrency_limit = 3\n");
	QMGR_QUEUE *queue = qmgr_queue_find(qmgr_transport_find(q, "smtp"),
					    "slow.example");

	(void)state;
	add_entries(queue, 10);
	qmgr_sched_run(q);
	assert_int_equal(nstarted, 3);
	assert_int_equal(queue->busy, 3);
	qmgr_sched_run(q);
	assert_int_equal(nstarted, 3);
	finish(started[0]);
	qmgr_sched_feedback(queue, true, 3, NULL);
	qmgr_sched_run(q);
	assert_int_equal(nstarted, 4);
	assert_true(queue->window <= 3);
	qmgr_close(q);
}

static void
test_qmgr_sched_round_robin(void **state)
{
	QMGR *q = qmgr_open("smtp_destination_concurrency_limit = 1\n");
	QMGR_TRANSPORT *t = qmgr_transport_find(q, "smtp");
	QMGR_QUEUE     *a = qmgr_queue_find(t, "a.example");
	QMGR_QUEUE     *b = qmgr_queue_find(t, "b.example");
	QMGR_QUEUE     *c = qmgr_queue_find(t, "c.example");

	(void)state;
	add_entries(a, 5);
	add_entries(b, 1);
	add_entries(c, 1);
	qmgr_sched_run(q);
	/* One each, none waits behind a.example's backlog. */
	assert_int_equal(nstarted, 3);
	assert_int_equal(a->busy + b->busy + c->busy, 3);
	qmgr_close(q);
}

static void
test_qmgr_sched_process_limit(void **state)
{
	QMGR	       *q = qmgr_open("");
	QMGR_TRANSPORT *t = qmgr_transport_find(q, "smtp");

	(void)state;
	q->transport_proc_limit = 4;
	add_entries(qmgr_queue_find(t, "a.example"), 5);
	add_entries(qmgr_queue_find(t, "b.example"), 5);
	qmgr_sched_run(q);
	assert_int_equal(nstarted, 4);
	assert_int_equal(t->busy, 4);
	qmgr_close(q);
}

static void
test_qmgr_sched_window_grows_and_shrinks(void **state)
{
	QMGR	   *q = qmgr_open("");
	QMGR_QUEUE *queue = qmgr_queue_find(qmgr_transport_find(q, "smtp"),
					    "x.example");
	int	    i;

	(void)state;
	q->failed_cohort_limit = 100;
	for (i = 0; i < 200; i++)
		qmgr_sched_feedback(queue, true, 5, NULL);
	assert_true(queue->window == 20); /* capped at the limit */
	for (i = 0; i < 20; i++)
		qmgr_sched_feedback(queue, false, 20, "refused");
	assert_true(queue->window < 20 && queue->window >= 1);
	for (i = 0; i < 2000; i++)
		qmgr_sched_feedback(queue, false, 1, "refused");
	assert_true(queue->window == 1);
	qmgr_close(q);
}

static void
test_qmgr_sched_dead_destination(void **state)
{
	QMGR *q = qmgr_open("smtp_destination_concurrency_limit = 2\n");
	QMGR_TRANSPORT *t = qmgr_transport_find(q, "smtp");
	QMGR_QUEUE     *dead = qmgr_queue_find(t, "dead.example");
	QMGR_QUEUE     *alive = qmgr_queue_find(t, "alive.example");

	(void)state;
	add_entries(dead, 6);
	qmgr_sched_run(q);
	assert_int_equal(nstarted, 2);
	finish(started[0]);
	qmgr_sched_feedback(dead, false, 2, "connect: refused");
	assert_int_equal(dead->dead_until, 0); /* half a window */
	finish(started[1]);
	qmgr_sched_feedback(dead, false, 2, "connect: refused");
	assert_int_equal(dead->dead_until, 1000 + 300);
	/* What waited is deferred at once, and so is what comes later. */
	assert_int_equal(ndeferred, 4);
	assert_string_equal(last_reason,
			    "delivery temporarily suspended: connect: refused");
	add_entries(dead, 1);
	assert_int_equal(ndeferred, 5);
	add_entries(alive, 1);
	qmgr_sched_run(q);
	assert_int_equal(nstarted, 3);
	/* postelqueue -f ('F') revives it. */
	qmgr_sched_forget_dead(q);
	add_entries(dead, 1);
	qmgr_sched_run(q);
	assert_int_equal(nstarted, 4);
	/* And so does the passing of minimal_backoff_time. */
	dead->dead_until = fake_now + 10;
	fake_now += 11;
	add_entries(dead, 1);
	assert_int_equal(ndeferred, 5);
	qmgr_close(q);
}

static void
test_qmgr_sched_transport_failure(void **state)
{
	QMGR	       *q = qmgr_open("");
	QMGR_TRANSPORT *t = qmgr_transport_find(q, "smtp");

	(void)state;
	add_entries(qmgr_queue_find(t, "a.example"), 3);
	add_entries(qmgr_queue_find(t, "b.example"), 3);
	qmgr_sched_transport_fail(t, "no socket");
	assert_int_equal(ndeferred, 6);
	assert_int_equal(t->dead_until, fake_now + 60);
	add_entries(qmgr_queue_find(t, "c.example"), 1);
	assert_int_equal(ndeferred, 7);
	qmgr_sched_run(q);
	assert_int_equal(nstarted, 0);
	qmgr_close(q);
}

/*
 * default_destination_concurrency_failed_cohort_limit counts whole
 * windows of failures (a failure of a delivery started with window W is
 * 1/W cohort); a success in between starts the count again.  A dead
 * destination is left alone for minimal_backoff_time on the clock:
 * entries are deferred at once until then, and run again from then.
 */
static void
test_qmgr_sched_dead_after_failed_cohort_limit_for_backoff(void **state)
{
	QMGR	   *q = qmgr_open("smtp_destination_concurrency_limit = 2\n");
	QMGR_QUEUE *queue = qmgr_queue_find(qmgr_transport_find(q, "smtp"),
					    "down.example");
	long long   until;
	int	    i;

	(void)state;
	q->failed_cohort_limit = 2;
	for (i = 0; i < 3; i++)
		qmgr_sched_feedback(queue, false, 2, "connect: refused");
	qmgr_sched_feedback(queue, true, 2, NULL);
	for (i = 0; i < 3; i++)
		qmgr_sched_feedback(queue, false, 2, "connect: refused");
	assert_int_equal(queue->dead_until, 0); /* 1.5 cohorts */
	qmgr_sched_feedback(queue, false, 2, "connect: refused");
	until = queue->dead_until;
	assert_int_equal(until, fake_now + 300); /* 2 cohorts */
	fake_now = until - 1;
	add_entries(queue, 1);
	assert_int_equal(ndeferred, 1);
	qmgr_sched_run(q);
	assert_int_equal(nstarted, 0);
	fake_now = until;
	add_entries(queue, 1);
	assert_int_equal(ndeferred, 1);
	qmgr_sched_run(q);
	assert_int_equal(nstarted, 1);
	assert_int_equal(queue->dead_until, 0);
	qmgr_close(q);
}

/*
 * A destination back from the dead starts afresh, as Postfix's
 * qmgr_queue_unthrottle does: the failed-cohort count is cleared and the
 * window is the initial concurrency again, so that it takes another
 * failed_cohort_limit windows of failures to kill it, not one failure.
 */
static void
test_qmgr_sched_revived_destination_starts_afresh(void **state)
{
	QMGR	   *q = qmgr_open("");
	QMGR_QUEUE *queue = qmgr_queue_find(qmgr_transport_find(q, "smtp"),
					    "flaky.example");
	int	    i;

	(void)state;
	assert_true(queue->window == 5);
	for (i = 0; i < 5; i++)
		qmgr_sched_feedback(queue, false, 5, "connect: refused");
	assert_true(queue->dead_until != 0);
	assert_true(queue->window < 5);
	fake_now = queue->dead_until;
	add_entries(queue, 1);
	qmgr_sched_run(q);
	assert_int_equal(nstarted, 1);
	assert_true(queue->window == 5);
	finish(started[0]);
	qmgr_sched_feedback(queue, false, 5, "connect: refused");
	assert_int_equal(queue->dead_until, 0);
	qmgr_close(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qmgr_sched_transport_limits),
		cmocka_unit_test(test_qmgr_sched_window_bounds_deliveries),
		cmocka_unit_test(test_qmgr_sched_round_robin),
		cmocka_unit_test(test_qmgr_sched_process_limit),
		cmocka_unit_test(test_qmgr_sched_window_grows_and_shrinks),
		cmocka_unit_test(test_qmgr_sched_dead_destination),
		cmocka_unit_test(test_qmgr_sched_transport_failure),
		cmocka_unit_test(
		    test_qmgr_sched_dead_after_failed_cohort_limit_for_backoff),
		cmocka_unit_test(
		    test_qmgr_sched_revived_destination_starts_afresh),
	};

	msg_stderr_enable(false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
