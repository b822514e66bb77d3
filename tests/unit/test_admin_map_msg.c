/*
 * Unit tests for admin/admin_map_msg, the message reader of postelmap -b,
 * -h and -m: which keys each mode yields, in which order, and the limits.
 * The callback writes each key followed by "|" into a trace.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "admin/admin_map_msg.h"
#include "tests/unit/harness.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

struct trace {
	VSTR *out;
	int   stop_after; /* 0: never */
	int   count;
};

static int
trace_key(void *ctx, const char *key, size_t len)
{
	struct trace *t = ctx;

	assert_int_equal(strlen(key), len);
	vstr_strcat(t->out, key);
	vstr_addch(t->out, '|');
	return t->stop_after && ++t->count >= t->stop_after ? -1 : 0;
}

static char *
keys(const char *msg, int flags, size_t header_limit, int stop_after, int *ret)
{
	struct trace t = { vstr_alloc(256), stop_after, 0 };
	VSTR	    *why = vstr_alloc(64);
	FILE	    *in = fmemopen((void *)msg, strlen(msg), "r");
	char	    *out;

	assert_non_null(in);
	*ret = admin_map_msg_keys(in, flags, header_limit, 100, trace_key, &t,
				  why);
	fclose(in);
	out = vstr_export(t.out);
	vstr_free(why);
	return out;
}

static const char message[] = "Subject: hello\r\n"
			      "X-Folded: one\r\n"
			      "\ttwo\r\n"
			      "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
			      "\r\n"
			      "preamble\r\n"
			      "--b\r\n"
			      "Content-Type: text/plain\r\n"
			      "\r\n"
			      "part text\n"
			      "--b--\r\n";

static void
check(int flags, const char *want)
{
	int   ret;
	char *got = keys(message, flags, 1000, 0, &ret);

	assert_int_equal(ret, 0);
	assert_string_equal(got, want);
	myfree(got);
}

static void
test_modes(void **state)
{
	(void)state;
	check(ADMIN_MAP_MSG_HEADER, "Subject: hello|X-Folded: one\n\ttwo|"
				    "Content-Type: multipart/mixed; "
				    "boundary=\"b\"|");
	check(ADMIN_MAP_MSG_BODY, "preamble|--b|Content-Type: text/plain||"
				  "part text|--b--|");
	check(ADMIN_MAP_MSG_HEADER | ADMIN_MAP_MSG_MIME,
	      "Subject: hello|X-Folded: one\n\ttwo|"
	      "Content-Type: multipart/mixed; boundary=\"b\"|"
	      "Content-Type: text/plain|");
	check(ADMIN_MAP_MSG_BODY | ADMIN_MAP_MSG_MIME,
	      "preamble|--b||part text|--b--|");
	check(ADMIN_MAP_MSG_BODY | ADMIN_MAP_MSG_HEADER,
	      "Subject: hello|X-Folded: one\n\ttwo|"
	      "Content-Type: multipart/mixed; boundary=\"b\"|"
	      "preamble|--b|Content-Type: text/plain||part text|--b--|");
}

static void
test_header_without_body_and_garbage_line(void **state)
{
	int   ret;
	char *got;

	(void)state;
	/* no empty line: the last field still counts */
	got = keys("A: 1\nB: 2", ADMIN_MAP_MSG_HEADER, 1000, 0, &ret);
	assert_int_equal(ret, 0);
	assert_string_equal(got, "A: 1|B: 2|");
	myfree(got);
	/* a line that is no header field ends the header and is body */
	got = keys("A: 1\nnot a field\nmore\n", ADMIN_MAP_MSG_BODY, 1000, 0,
		   &ret);
	assert_string_equal(got, "not a field|more|");
	myfree(got);
	got = keys("", ADMIN_MAP_MSG_HEADER | ADMIN_MAP_MSG_BODY, 1000, 0,
		   &ret);
	assert_int_equal(ret, 0);
	assert_string_equal(got, "");
	myfree(got);
}

static void
test_limits_and_stop(void **state)
{
	int   ret;
	char *got;

	(void)state;
	/* a field is cut at the header limit, as header_size_limit does */
	got = keys("Subject: 0123456789\n\nx\n", ADMIN_MAP_MSG_HEADER, 12, 0,
		   &ret);
	assert_string_equal(got, "Subject: 012|");
	myfree(got);
	/* the callback stops the reading */
	got = keys(message, ADMIN_MAP_MSG_HEADER | ADMIN_MAP_MSG_BODY, 1000, 2,
		   &ret);
	assert_int_equal(ret, -1);
	assert_string_equal(got, "Subject: hello|X-Folded: one\n\ttwo|");
	myfree(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_header_without_body_and_garbage_line),
		cmocka_unit_test(test_limits_and_stop),
	};

	return cmocka_run_group_tests_name("admin_map_msg", tests, NULL, NULL);
}
