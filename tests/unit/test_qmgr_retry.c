/*
 * Unit tests for qmgr's retry logic with a fake clock: the backoff
 * between minimal_backoff_time and maximal_backoff_time, the deferred
 * scan that takes a message only when its time has come, expiry at
 * maximal_queue_lifetime (bounce_queue_lifetime for sender <>) and the
 * one delay warning after delay_warning_time.
 *
 * The real qmgr_defer.c, qmgr_bounce.c and qmgr_queue.c run in a
 * temporary queue folder (deferred files, their mtime and atime are
 * real); qmgr_now() is the test's clock.  Loading a message, the
 * scheduler and the bounce service are stubs that record what they were
 * asked: a "delivery attempt" is the test marking every recipient
 * deferred and logging it to the defer service, as qmgr_deliver does.
 * The queue file is a placeholder without records, so expiry's done
 * marks on it are refused with a warning; what is tested is what qmgr
 * decides and where the file goes.
 *
 * SPDX-License-Identifier: ISC
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "tests/unit/harness.h"
#include "util/bounce_client.h"
#include "util/mymalloc.h"
#include "util/qid.h"

#define T0 1700000000LL /* arrival time of the test messages */

static long long fake_now;

/* What a test message looks like when qmgr "loads" it. */
static struct {
	char	  sender[64];
	long long arrival;
	size_t	  nrcpt;
} msg_spec;

static QMGR_MESSAGE *scheduled; /* taken by the last scan */
static int	     ntaken;
static int	     nflush[BOUNCE_FLUSH_TRACE + 1];
static int	     nbounced_rcpts;
static char	     last_bounce_dsn[DELIVER_DSN_MAX];

/* --- stubs --------------------------------------------------------- */

long long
qmgr_now(void)
{
	return fake_now;
}

QMGR_MESSAGE *
qmgr_message_load(QMGR *q, const char *queue_id, bool *corrupt)
{
	QMGR_MESSAGE *m = mycalloc(1, sizeof(*m));
	char	      path[QMGR_PATH_MAX];
	size_t	      i;

	*corrupt = false;
	snprintf(path, sizeof(path), "active/%s", queue_id);
	m->qmgr = q;
	m->queue_id = mystrdup(queue_id);
	m->fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(m->fd >= 0);
	m->sender = mystrdup(msg_spec.sender);
	m->arrival_sec = msg_spec.arrival;
	m->nrcpt = msg_spec.nrcpt;
	m->rcpts = mycalloc(m->nrcpt, sizeof(*m->rcpts));
	for (i = 0; i < m->nrcpt; i++) {
		char addr[48];

		snprintf(addr, sizeof(addr), "r%zu@example.com", i);
		m->rcpts[i].addr = mystrdup(addr);
		m->rcpts[i].state = QMGR_RCPT_TODO;
	}
	return m;
}

void
qmgr_message_free(QMGR_MESSAGE *m)
{
	size_t i;

	if (m->fd >= 0)
		close(m->fd);
	for (i = 0; i < m->nrcpt; i++) {
		myfree(m->rcpts[i].addr);
		myfree(m->rcpts[i].reason);
	}
	myfree(m->rcpts);
	myfree(m->queue_id);
	myfree(m->sender);
	myfree(m);
}

void
qmgr_message_schedule(QMGR_MESSAGE *m)
{
	assert_null(scheduled);
	scheduled = m;
	ntaken++;
}

void
qmgr_entry_free(QMGR_ENTRY *e)
{
	myfree(e);
}

void
qmgr_sched_kick(QMGR *q)
{
	(void)q;
}

int
bounce_log_path(VSTR *out, const char *service, const char *queue_id)
{
	vstr_sprintf(out, "%s.%s", service, queue_id);
	return 0;
}

int
bounce_append(const CFG *cfg, const char *service, const char *queue_id,
	      const struct deliver_rcpt *rcpt, const struct deliver_status *st,
	      VSTR *why)
{
	VSTR *path = vstr_alloc(64);
	FILE *fp;

	(void)cfg, (void)rcpt, (void)why;
	bounce_log_path(path, service, queue_id);
	fp = fopen(VSTR_STR(path), "a");
	assert_non_null(fp);
	fprintf(fp, "%s %s\n", rcpt->addr, st->dsn);
	fclose(fp);
	vstr_free(path);
	if (strcmp(service, "bounce") == 0) {
		nbounced_rcpts++;
		snprintf(last_bounce_dsn, sizeof(last_bounce_dsn), "%s",
			 st->dsn);
	}
	return 0;
}

int
bounce_flush(const CFG *cfg, int kind, const char *queue_name,
	     const char *queue_id, VSTR *why)
{
	(void)cfg, (void)queue_name, (void)queue_id, (void)why;
	assert_true(kind >= 0 && kind <= BOUNCE_FLUSH_TRACE);
	nflush[kind]++;
	return 0;
}

/* --- a queue folder and messages ----------------------------------- */

static char topdir[64];
static int  old_cwd = -1;

static QMGR *
retry_open(void)
{
	QMGR *q = mycalloc(1, sizeof(*q));

	snprintf(topdir, sizeof(topdir), "/tmp/test_qmgr_retry.XXXXXX");
	assert_non_null(mkdtemp(topdir));
	old_cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(chdir(topdir), 0);
	assert_int_equal(mkdir("active", 0700), 0);
	assert_int_equal(mkdir("deferred", 0700), 0);
	q->active_limit = 100;
	q->rcpt_limit = 1000;
	q->min_backoff = 300;
	q->max_backoff = 4000;
	q->max_lifetime = 5 * 86400;
	q->bounce_lifetime = 86400;
	q->delay_warning_time = 0;
	memset(&msg_spec, 0, sizeof(msg_spec));
	snprintf(msg_spec.sender, sizeof(msg_spec.sender), "a@example.org");
	msg_spec.arrival = T0;
	msg_spec.nrcpt = 2;
	scheduled = NULL;
	ntaken = nbounced_rcpts = 0;
	memset(nflush, 0, sizeof(nflush));
	*last_bounce_dsn = 0;
	fake_now = T0;
	return q;
}

static void
retry_close(QMGR *q)
{
	char cmd[128];

	assert_int_equal(fchdir(old_cwd), 0);
	close(old_cwd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", topdir);
	assert_int_equal(system(cmd), 0);
	myfree(q);
}

/* A new message in active/, as the incoming scan would leave it. */
static char *
new_message(QMGR *q)
{
	static unsigned seq;
	struct timeval	tv = { .tv_sec = (time_t)T0, .tv_usec = ++seq };
	VSTR	       *id = vstr_alloc(QID_MAXLEN + 1);
	char		path[QMGR_PATH_MAX];
	char	       *queue_id;
	int		fd;
	bool		corrupt;

	assert_int_equal(qid_make(id, &tv, 4242 + seq), 0);
	queue_id = mystrdup(VSTR_STR(id));
	vstr_free(id);
	snprintf(path, sizeof(path), "active/%s", queue_id);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "Xqueue file\n", 12), 12);
	close(fd);
	scheduled = qmgr_message_load(q, queue_id, &corrupt);
	return queue_id;
}

/* One failed attempt of the taken message, at the current fake time. */
static void
attempt_fails(const char *dsn)
{
	QMGR_MESSAGE	     *m = scheduled;
	struct deliver_status st;
	size_t		      i;

	assert_non_null(m);
	scheduled = NULL;
	deliver_status_set(&st, DELIVER_DEFERRED, dsn, "451 try again later",
			   "mx.example.com");
	for (i = 0; i < m->nrcpt; i++) {
		m->rcpts[i].state = QMGR_RCPT_DEFERRED;
		snprintf(m->rcpts[i].dsn, sizeof(m->rcpts[i].dsn), "%s", dsn);
		assert_int_equal(qmgr_bounce_log(m, "defer", m->rcpts + i, &st),
				 0);
	}
	qmgr_defer_message_done(m);
}

static char *
deferred_path(const char *queue_id)
{
	char hash[QID_HASH_LEN + 1];
	char path[QMGR_PATH_MAX];

	assert_non_null(qid_hash_dir(queue_id, hash));
	snprintf(path, sizeof(path), "deferred/%s/%s", hash, queue_id);
	return mystrdup(path);
}

/* The next attempt time qmgr gave a deferred file (its mtime). */
static long long
next_attempt(const char *queue_id)
{
	char	   *path = deferred_path(queue_id);
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	myfree(path);
	return (long long)st.st_mtime;
}

static bool
in_active(const char *queue_id)
{
	char path[QMGR_PATH_MAX];

	snprintf(path, sizeof(path), "active/%s", queue_id);
	return access(path, F_OK) == 0;
}

/* --- tests ----------------------------------------------------------- */

static void
test_qmgr_retry_backoff_is_the_age_within_the_bounds(void **state)
{
	QMGR q = { .min_backoff = 300, .max_backoff = 4000 };

	(void)state;
	assert_int_equal(qmgr_defer_backoff(&q, 0), 300);
	assert_int_equal(qmgr_defer_backoff(&q, 299), 300);
	assert_int_equal(qmgr_defer_backoff(&q, 301), 301);
	assert_int_equal(qmgr_defer_backoff(&q, 2500), 2500);
	assert_int_equal(qmgr_defer_backoff(&q, 4001), 4000);
	assert_int_equal(qmgr_defer_backoff(&q, 86400), 4000);
}

/*
 * Attempt after attempt, the interval doubles from minimal_backoff_time
 * and stops growing at maximal_backoff_time; the deferred scan takes the
 * message neither a second before its time nor later than at it.
 */
static void
test_qmgr_retry_backoff_doubles_and_scan_waits_for_the_time(void **state)
{
	QMGR		      *q = retry_open();
	char		      *qid = new_message(q);
	static const long long intervals[] = {
		300, 300, 600, 1200, 2400, 4000, 4000,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++) {
		long long next;

		attempt_fails("4.2.0");
		assert_false(in_active(qid));
		next = next_attempt(qid);
		assert_int_equal(next - fake_now, intervals[i]);
		/* Not before its time ... */
		fake_now = next - 1;
		qmgr_queue_scan_deferred(q, false);
		assert_null(scheduled);
		/* ... but a flush takes it at any time (not done here) ... */
		/* ... and at its time it is taken and retried. */
		fake_now = next;
		qmgr_queue_scan_deferred(q, false);
		assert_non_null(scheduled);
		assert_true(in_active(qid));
	}
	assert_int_equal(ntaken, (int)i);
	assert_int_equal(nbounced_rcpts, 0);
	qmgr_message_free(scheduled);
	scheduled = NULL;
	myfree(qid);
	retry_close(q);
}

static void
test_qmgr_retry_flush_takes_a_message_before_its_time(void **state)
{
	QMGR *q = retry_open();
	char *qid = new_message(q);

	(void)state;
	attempt_fails("4.2.0");
	qmgr_queue_scan_deferred(q, false);
	assert_null(scheduled);
	qmgr_queue_scan_deferred(q, true);
	assert_non_null(scheduled);
	qmgr_message_free(scheduled);
	scheduled = NULL;
	myfree(qid);
	retry_close(q);
}

/*
 * A message still deferred at maximal_queue_lifetime is returned: each
 * recipient bounced with its 4.X.Y turned into 5.X.Y, the bounce sent,
 * the file removed.  One second earlier it is only deferred again.
 */
static void
test_qmgr_retry_expires_at_maximal_queue_lifetime(void **state)
{
	QMGR	 *q = retry_open();
	char	 *qid = new_message(q);
	long long next;

	(void)state;
	fake_now = T0 + q->max_lifetime - 1;
	attempt_fails("4.4.1");
	assert_int_equal(nbounced_rcpts, 0);
	next = next_attempt(qid);
	assert_int_equal(next - fake_now, q->max_backoff);
	fake_now = T0 + q->max_lifetime;
	qmgr_queue_scan_deferred(q, true);
	attempt_fails("4.4.1");
	assert_int_equal(nbounced_rcpts, 2);
	assert_string_equal(last_bounce_dsn, "5.4.1");
	assert_int_equal(nflush[BOUNCE_FLUSH_BOUNCE], 1);
	assert_false(in_active(qid));
	{
		char *path = deferred_path(qid);

		assert_int_equal(access(path, F_OK), -1);
		myfree(path);
	}
	myfree(qid);
	retry_close(q);
}

/* A bounce (sender <>) gives up at bounce_queue_lifetime already. */
static void
test_qmgr_retry_null_sender_expires_at_bounce_queue_lifetime(void **state)
{
	QMGR *q = retry_open();
	char *bounce_id, *mail_id;

	(void)state;
	fake_now = T0 + q->bounce_lifetime;
	*msg_spec.sender = 0;
	bounce_id = new_message(q);
	attempt_fails("4.2.0");
	assert_int_equal(nbounced_rcpts, 2);
	assert_string_equal(last_bounce_dsn, "5.2.0");
	assert_false(in_active(bounce_id));
	nbounced_rcpts = 0;
	snprintf(msg_spec.sender, sizeof(msg_spec.sender), "a@example.org");
	mail_id = new_message(q);
	attempt_fails("4.2.0");
	assert_int_equal(nbounced_rcpts, 0);
	assert_int_equal(next_attempt(mail_id) - fake_now, q->max_backoff);
	myfree(bounce_id);
	myfree(mail_id);
	retry_close(q);
}

/*
 * delay_warning_time: no warning before it, one at the first deferral at
 * or after it, none at the deferrals after that (qmgr knows from the
 * deferred file's atime, the time of the previous deferral).
 */
static void
test_qmgr_retry_delay_warning_sent_once(void **state)
{
	QMGR *q = retry_open();
	char *qid;

	(void)state;
	q->delay_warning_time = 3600;
	qid = new_message(q);
	attempt_fails("4.2.0"); /* age 0 */
	assert_int_equal(nflush[BOUNCE_FLUSH_DELAY], 0);
	fake_now = T0 + 3599;
	qmgr_queue_scan_deferred(q, true);
	attempt_fails("4.2.0");
	assert_int_equal(nflush[BOUNCE_FLUSH_DELAY], 0);
	fake_now = T0 + 3600;
	qmgr_queue_scan_deferred(q, true);
	attempt_fails("4.2.0");
	assert_int_equal(nflush[BOUNCE_FLUSH_DELAY], 1);
	fake_now = T0 + 7200;
	qmgr_queue_scan_deferred(q, false);
	assert_non_null(scheduled);
	attempt_fails("4.2.0");
	fake_now = next_attempt(qid);
	qmgr_queue_scan_deferred(q, false);
	attempt_fails("4.2.0");
	assert_int_equal(nflush[BOUNCE_FLUSH_DELAY], 1);
	assert_int_equal(nbounced_rcpts, 0);
	myfree(qid);
	retry_close(q);
}

/* delay_warning_time = 0: never. */
static void
test_qmgr_retry_no_delay_warning_when_disabled(void **state)
{
	QMGR *q = retry_open();
	char *qid = new_message(q);

	(void)state;
	fake_now = T0 + 4 * 86400;
	attempt_fails("4.2.0");
	assert_int_equal(nflush[BOUNCE_FLUSH_DELAY], 0);
	myfree(qid);
	retry_close(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_qmgr_retry_backoff_is_the_age_within_the_bounds),
		cmocka_unit_test(
		    test_qmgr_retry_backoff_doubles_and_scan_waits_for_the_time),
		cmocka_unit_test(
		    test_qmgr_retry_flush_takes_a_message_before_its_time),
		cmocka_unit_test(
		    test_qmgr_retry_expires_at_maximal_queue_lifetime),
		cmocka_unit_test(
		    test_qmgr_retry_null_sender_expires_at_bounce_queue_lifetime),
		cmocka_unit_test(test_qmgr_retry_delay_warning_sent_once),
		cmocka_unit_test(
		    test_qmgr_retry_no_delay_warning_when_disabled),
	};

	msg_stderr_enable(false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
