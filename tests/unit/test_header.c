/*
 * Unit tests for util/header: folding, the end of the header section,
 * name/value split and the size and count bounds.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/header.h"
#include "util/vstr.h"

struct seen {
	VSTR *log;     /* "name|value|T\n" per field */
	int   stop_at; /* return -1 on this field (1-based) */
	int   count;
};

static int
record(void *ctx, const struct header_field *f)
{
	struct seen *s = ctx;

	s->count++;
	vstr_memcat(s->log, f->text, f->name_len);
	vstr_addch(s->log, '|');
	vstr_memcat(s->log, f->value, f->value_len);
	vstr_strcat(s->log, f->truncated ? "|T\n" : "|\n");
	return s->count == s->stop_at ? -1 : 0;
}

/* Feed text line by line; returns the code of the line that ended it. */
static int
feed(HEADER_PARSER *p, const char *text, const char **rest)
{
	const char *cp = text, *nl;
	int	    ret = HEADER_MORE;

	while (*cp && ret == HEADER_MORE) {
		nl = strchr(cp, '\n');
		size_t len = nl ? (size_t)(nl - cp) + 1 : strlen(cp);

		ret = header_parser_line(p, cp, len);
		if (ret != HEADER_MORE && rest)
			*rest = cp;
		cp += len;
	}
	return ret;
}

static void
test_header_folding_and_empty_line(void **state)
{
	struct seen    s = { vstr_alloc(100), 0, 0 };
	HEADER_PARSER *p = header_parser_create(1000, 100, record, &s);
	const char    *rest = NULL;

	(void)state;
	assert_int_equal(feed(p,
			      "Subject: hello\r\n\tworld\r\n"
			      "From:  a@b\r\nX-Empty:\r\n\r\nbody\r\n",
			      &rest),
			 HEADER_END_EMPTY);
	assert_string_equal(VSTR_STR(s.log), "Subject|hello\r\n\tworld|\n"
					     "From|a@b|\nX-Empty||\n");
	assert_string_equal(rest, "\r\nbody\r\n");
	assert_int_equal(header_parser_count(p), 3);
	/* after the end, lines are body */
	assert_int_equal(header_parser_line(p, "A: b\r\n", 6), HEADER_END_BODY);
	header_parser_free(p);
	vstr_free(s.log);
}

static void
test_header_non_header_line_ends_section(void **state)
{
	struct seen    s = { vstr_alloc(100), 0, 0 };
	HEADER_PARSER *p = header_parser_create(1000, 100, record, &s);
	const char    *rest = NULL;

	(void)state;
	assert_int_equal(feed(p, "To: x\r\nthis is body\r\n", &rest),
			 HEADER_END_BODY);
	assert_string_equal(rest, "this is body\r\n");
	assert_string_equal(VSTR_STR(s.log), "To|x|\n");
	header_parser_free(p);

	/* a continuation with nothing before it is body too */
	vstr_reset(s.log);
	p = header_parser_create(1000, 100, record, &s);
	assert_int_equal(header_parser_line(p, " folded\r\n", 9),
			 HEADER_END_BODY);
	assert_int_equal(VSTR_LEN(s.log), 0);
	header_parser_free(p);
	vstr_free(s.log);
}

static void
test_header_name_syntax(void **state)
{
	(void)state;
	assert_int_equal(header_name_len("Subject: x", 10), 7);
	assert_int_equal(header_name_len("Subject : x", 11), 7);
	assert_int_equal(header_name_len(": x", 3), 0);
	assert_int_equal(header_name_len("No colon", 8), 0);
	assert_int_equal(header_name_len("Bad name: x", 11), 0);
	assert_int_equal(header_name_len("X\x80: y", 5), 0);
}

static void
test_header_size_limit_truncates(void **state)
{
	struct seen    s = { vstr_alloc(100), 0, 0 };
	HEADER_PARSER *p = header_parser_create(12, 100, record, &s);

	(void)state;
	assert_int_equal(feed(p, "Subject: 0123456789\r\n\tmore\r\n\r\n", NULL),
			 HEADER_END_EMPTY);
	assert_string_equal(VSTR_STR(s.log), "Subject|012|T\n");
	header_parser_free(p);
	vstr_free(s.log);
}

static void
test_header_count_limit(void **state)
{
	struct seen    s = { vstr_alloc(100), 0, 0 };
	HEADER_PARSER *p = header_parser_create(100, 2, record, &s);

	(void)state;
	assert_int_equal(feed(p, "A: 1\nB: 2\nC: 3\n\n", NULL),
			 HEADER_TOO_MANY);
	assert_int_equal(s.count, 2);
	assert_int_equal(header_parser_line(p, "D: 4\n", 5), HEADER_TOO_MANY);
	header_parser_free(p);
	vstr_free(s.log);
}

static void
test_header_eof_flushes_and_stop_propagates(void **state)
{
	struct seen    s = { vstr_alloc(100), 0, 0 };
	HEADER_PARSER *p = header_parser_create(100, 10, record, &s);

	(void)state;
	assert_int_equal(header_parser_line(p, "A: 1", 4), HEADER_MORE);
	assert_int_equal(s.count, 0);
	assert_int_equal(header_parser_eof(p), 0);
	assert_string_equal(VSTR_STR(s.log), "A|1|\n");
	header_parser_free(p);

	s.count = 0;
	s.stop_at = 1;
	p = header_parser_create(100, 10, record, &s);
	assert_int_equal(feed(p, "A: 1\nB: 2\n", NULL), HEADER_STOP);
	header_parser_free(p);
	vstr_free(s.log);
}

static void
test_header_is_case_insensitive(void **state)
{
	struct header_field f = { "message-id: <x>", 15, 10, "<x>", 3, false };

	(void)state;
	assert_true(header_is(&f, "Message-ID"));
	assert_false(header_is(&f, "Message"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_folding_and_empty_line),
		cmocka_unit_test(test_header_non_header_line_ends_section),
		cmocka_unit_test(test_header_name_syntax),
		cmocka_unit_test(test_header_size_limit_truncates),
		cmocka_unit_test(test_header_count_limit),
		cmocka_unit_test(test_header_eof_flushes_and_stop_propagates),
		cmocka_unit_test(test_header_is_case_insensitive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
