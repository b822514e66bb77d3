/*
 * test_bounce_client - the per-message log format: writing, reading
 * back, and refusing every kind of damaged line.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/bounce_client.h"
#include "util/deliver_proto.h"
#include "util/qid.h"
#include "util/vstr.h"

struct seen {
	int  count;
	char rcpt[8][256];
	char dsn[8][16];
	char reply[8][512];
	char orig[8][256];
	int  orig_null[8];
};

static void
collect(void *ctx, const struct bounce_log_entry *e)
{
	struct seen *s = ctx;

	if (s->count >= 8)
		return;
	snprintf(s->rcpt[s->count], sizeof(s->rcpt[0]), "%s", e->rcpt);
	snprintf(s->dsn[s->count], sizeof(s->dsn[0]), "%s", e->dsn);
	snprintf(s->reply[s->count], sizeof(s->reply[0]), "%s", e->reply);
	s->orig_null[s->count] = e->orig == NULL;
	snprintf(s->orig[s->count], sizeof(s->orig[0]), "%s",
		 e->orig ? e->orig : "");
	s->count++;
}

static void
collect3(void *ctx, const char *rcpt, const char *dsn, const char *reason)
{
	struct seen *s = ctx;

	snprintf(s->rcpt[s->count], sizeof(s->rcpt[0]), "%s", rcpt);
	snprintf(s->dsn[s->count], sizeof(s->dsn[0]), "%s", dsn);
	snprintf(s->reply[s->count], sizeof(s->reply[0]), "%s", reason);
	s->count++;
}

static void
test_bounce_client_format_round_trips(void **state)
{
	struct bounce_log_entry e = {
		.time = 1795429011,
		.action = "failed",
		.dsn = "5.1.1",
		.notify = 6,
		.rcpt = "bob@example.org",
		.orig = "-",
		.orcpt = "rfc822;Bob@example.org",
		.relay = "mx.example.org[192.0.2.1]:25",
		.diag_type = "smtp",
		.remote_mta = "mx.example.org",
		.reply = "550 5.1.1 <bob@example.org>: no such user\r\n+=x",
	};
	VSTR		       *line = vstr_alloc(64);
	VSTR		       *why = vstr_alloc(64);
	VSTR		       *fields[BOUNCE_LOG_FIELDS];
	struct bounce_log_entry d;
	size_t			i;

	(void)state;
	for (i = 0; i < BOUNCE_LOG_FIELDS; i++)
		fields[i] = vstr_alloc(16);
	bounce_log_format(line, &e);
	/* One line, printable, newline at the end only. */
	assert_int_equal(VSTR_STR(line)[VSTR_LEN(line) - 1], '\n');
	assert_ptr_equal(strchr(VSTR_STR(line), '\n'),
			 VSTR_STR(line) + VSTR_LEN(line) - 1);
	assert_null(strchr(VSTR_STR(line), '\r'));
	assert_int_equal(bounce_log_parse_line(VSTR_STR(line),
					       VSTR_LEN(line) - 1, fields, &d,
					       why),
			 0);
	assert_int_equal(d.time, e.time);
	assert_string_equal(d.action, "failed");
	assert_string_equal(d.dsn, "5.1.1");
	assert_int_equal(d.notify, 6);
	assert_string_equal(d.rcpt, e.rcpt);
	assert_string_equal(d.orig, "-"); /* a literal "-" survives */
	assert_string_equal(d.orcpt, e.orcpt);
	assert_string_equal(d.relay, e.relay);
	assert_string_equal(d.diag_type, "smtp");
	assert_string_equal(d.remote_mta, e.remote_mta);
	assert_string_equal(d.reply, e.reply);
	for (i = 0; i < BOUNCE_LOG_FIELDS; i++)
		vstr_free(fields[i]);
	vstr_free(line);
	vstr_free(why);
}

static void
test_bounce_client_absent_fields_are_null(void **state)
{
	struct bounce_log_entry e = {
		.time = 1,
		.action = "delayed",
		.dsn = "4.4.1",
		.rcpt = "a@b",
		.reply = "",
	};
	VSTR	   *line = vstr_alloc(64);
	struct seen s = { 0 };

	(void)state;
	bounce_log_format(line, &e);
	assert_string_equal(VSTR_STR(line),
			    "1 delayed 4.4.1 0 a@b - - - - - -\n");
	assert_int_equal(bounce_log_walk_mem(VSTR_STR(line), VSTR_LEN(line),
					     collect, &s, NULL),
			 0);
	assert_int_equal(s.count, 1);
	assert_true(s.orig_null[0]);
	assert_string_equal(s.reply[0], "");
	vstr_free(line);
}

static void
test_bounce_client_rejects_damaged_lines(void **state)
{
	static const char *const bad[] = {
		"",				       /* empty line */
		"1 failed 5.1.1 0 a@b - - - - -",      /* 10 fields */
		"1 failed 5.1.1 0 a@b - - - - - - x",  /* 12 fields */
		"1 failed 5.1.1 0 a@b - - - - -  ",    /* empty field */
		"x failed 5.1.1 0 a@b - - - - - -",    /* time */
		"-5 failed 5.1.1 0 a@b - - - - - -",   /* negative */
		"1 exploded 5.1.1 0 a@b - - - - - -",  /* action */
		"1 failed 9.1.1 0 a@b - - - - - -",    /* dsn class */
		"1 failed 5.1.1 99 a@b - - - - - -",   /* notify */
		"1 failed 5.1.1 0 - - - - - - -",      /* no recipient */
		"1 failed 5.1.1 0 a+4 - - - - - -",    /* bad xtext */
		"1 failed 5.1.1 0 a+00b - - - - - -",  /* NUL */
		"1 failed 5.1.1 0 a@b - - - - - a\tb", /* tab in a field */
		NULL,
	};
	VSTR	   *buf = vstr_alloc(64);
	VSTR	   *why = vstr_alloc(64);
	struct seen s;
	size_t	    i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		memset(&s, 0, sizeof(s));
		vstr_sprintf(buf, "1 failed 5.0.0 0 ok@b - - - - - fine\n%s\n",
			     bad[i]);
		errno = 0;
		if (bounce_log_walk_mem(VSTR_STR(buf), VSTR_LEN(buf), collect,
					&s, why)
		    != -1)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_int_equal(errno, EBADMSG);
		/* Good lines before the damage were delivered. */
		assert_int_equal(s.count, 1);
		assert_string_equal(s.rcpt[0], "ok@b");
	}
	vstr_free(buf);
	vstr_free(why);
}

static void
test_bounce_client_ignores_unfinished_last_line(void **state)
{
	const char *text = "1 failed 5.0.0 0 a@b - - - - - one\n"
			   "2 failed 5.0.0 0 c@d - - - - - tw";
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(bounce_log_walk_mem(text, strlen(text), collect, &s,
					     NULL),
			 0);
	assert_int_equal(s.count, 1);
	assert_string_equal(s.rcpt[0], "a@b");
}

static void
test_bounce_client_rejects_overlong_line(void **state)
{
	VSTR	   *buf = vstr_alloc(BOUNCE_LINE_MAX + 100);
	struct seen s = { 0 };

	(void)state;
	vstr_strcpy(buf, "1 failed 5.0.0 0 a@b - - - - - ");
	while (VSTR_LEN(buf) <= BOUNCE_LINE_MAX)
		vstr_addch(buf, 'x');
	vstr_addch(buf, '\n');
	assert_int_equal(bounce_log_walk_mem(VSTR_STR(buf), VSTR_LEN(buf),
					     collect, &s, NULL),
			 -1);
	assert_int_equal(s.count, 0);
	vstr_free(buf);
}

static void
test_bounce_client_reads_file_in_order(void **state)
{
	char	    path[] = "/tmp/test_bounce_logXXXXXX";
	const char *text = "1 delayed 4.4.1 0 a@b - - - - - first+20try\n"
			   "2 delayed 4.7.0 8 a@b - - - - - second+20try\n";
	struct seen s = { 0 };
	VSTR	   *why = vstr_alloc(64);
	int	    fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	assert_int_equal(bounce_log_read(path, collect3, &s, why), 0);
	assert_int_equal(s.count, 2);
	assert_string_equal(s.reply[0], "first try");
	assert_string_equal(s.dsn[1], "4.7.0");
	assert_string_equal(s.reply[1], "second try");
	unlink(path);
	/* A missing log means nothing was logged. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(bounce_log_read(path, collect3, &s, why), 0);
	assert_int_equal(s.count, 0);
	vstr_free(why);
}

static void
test_bounce_client_log_path_is_hashed(void **state)
{
	VSTR *v = vstr_alloc(64), *qid = vstr_alloc(32), *want = vstr_alloc(64);
	struct timeval tv = { .tv_sec = 1795429011, .tv_usec = 12345 };
	char	       hash[QID_HASH_LEN + 1];

	(void)state;
	assert_int_equal(qid_make(qid, &tv, 4242), 0);
	assert_int_equal(bounce_log_path(v, "defer", VSTR_STR(qid)), 0);
	vstr_sprintf(want, "defer/%s/%s", qid_hash_dir(VSTR_STR(qid), hash),
		     VSTR_STR(qid));
	assert_string_equal(VSTR_STR(v), VSTR_STR(want));
	assert_int_equal(bounce_log_path(v, "defer", "../etc"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(bounce_log_path(v, "a/b", VSTR_STR(qid)), -1);
	vstr_free(v);
	vstr_free(qid);
	vstr_free(want);
}

static void
test_bounce_client_action_names(void **state)
{
	(void)state;
	assert_string_equal(bounce_action_name(DELIVER_BOUNCED, NULL),
			    "failed");
	assert_string_equal(bounce_action_name(DELIVER_DEFERRED, "mx"),
			    "delayed");
	assert_string_equal(bounce_action_name(DELIVER_SENT, NULL),
			    "delivered");
	assert_string_equal(bounce_action_name(DELIVER_SENT, "mx.example"),
			    "relayed");
}

static void
test_bounce_client_append_without_service_fails(void **state)
{
	struct deliver_rcpt   r = { .addr = "a@b" };
	struct deliver_status st = { .action = DELIVER_BOUNCED,
				     .dsn = "5.0.0",
				     .reply = "x" };
	VSTR		     *why = vstr_alloc(64);

	(void)state;
	assert_int_equal(bounce_append_path("/nonexistent/private/bounce",
					    "bounce", "3Q9BXk7zR4", &r, &st,
					    why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "/nonexistent/private/bounce"));
	assert_int_equal(bounce_flush_path("/nonexistent/private/bounce",
					   BOUNCE_FLUSH_BOUNCE, "active",
					   "3Q9BXk7zR4", why),
			 -1);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounce_client_format_round_trips),
		cmocka_unit_test(test_bounce_client_absent_fields_are_null),
		cmocka_unit_test(test_bounce_client_rejects_damaged_lines),
		cmocka_unit_test(
		    test_bounce_client_ignores_unfinished_last_line),
		cmocka_unit_test(test_bounce_client_rejects_overlong_line),
		cmocka_unit_test(test_bounce_client_reads_file_in_order),
		cmocka_unit_test(test_bounce_client_log_path_is_hashed),
		cmocka_unit_test(test_bounce_client_action_names),
		cmocka_unit_test(
		    test_bounce_client_append_without_service_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
