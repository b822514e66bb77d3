/*
 * Unit tests for smtp/smtp_reply (the SMTP client's reply parser).
 *
 * SPDX-License-Identifier: ISC
 */
#include "tests/unit/harness.h"
#include "smtp/smtp_reply.h"

static int
feed(SMTP_REPLY *r, const char *line)
{
	return smtp_reply_line(r, line, strlen(line));
}

static void
test_smtp_reply_single_line_with_dsn(void **state)
{
	SMTP_REPLY *r = smtp_reply_alloc();

	(void)state;
	assert_int_equal(feed(r, "250 2.1.5 Ok"), 1);
	assert_int_equal(r->code, 250);
	assert_true(r->has_dsn);
	assert_string_equal(r->dsn, "2.1.5");
	assert_string_equal(VSTR_STR(r->text), "250 2.1.5 Ok");
	assert_string_equal(smtp_reply_detail(r), "Ok");
	smtp_reply_free(r);
}

static void
test_smtp_reply_multi_line_joined(void **state)
{
	SMTP_REPLY *r = smtp_reply_alloc();

	(void)state;
	assert_int_equal(feed(r, "550-5.1.1 The account does not exist."), 0);
	assert_int_equal(feed(r, "550-5.1.1 Please check."), 0);
	assert_int_equal(feed(r, "550 5.1.1 See the FAQ"), 1);
	assert_int_equal(r->code, 550);
	assert_string_equal(r->dsn, "5.1.1");
	assert_string_equal(VSTR_STR(r->text),
			    "550-5.1.1 The account does not exist. "
			    "550-5.1.1 Please check. 550 5.1.1 See the FAQ");
	assert_int_equal(r->nlines, 3);
	assert_string_equal(smtp_reply_line_at(r, 1), "5.1.1 Please check.");
	/* A new line after a complete reply starts the next one. */
	assert_int_equal(feed(r, "354 go"), 1);
	assert_int_equal(r->code, 354);
	assert_int_equal(r->nlines, 1);
	smtp_reply_free(r);
}

static void
test_smtp_reply_derives_dsn_without_enhanced_code(void **state)
{
	SMTP_REPLY *r = smtp_reply_alloc();

	(void)state;
	assert_int_equal(feed(r, "451 try again later"), 1);
	assert_false(r->has_dsn);
	assert_string_equal(r->dsn, "4.0.0");
	assert_int_equal(feed(r, "250"), 1);
	assert_string_equal(r->dsn, "2.0.0");
	/* A code whose class disagrees with the reply is not used. */
	assert_int_equal(feed(r, "550 2.1.0 odd"), 1);
	assert_false(r->has_dsn);
	assert_string_equal(r->dsn, "5.0.0");
	/* Too many digits is not a status code. */
	assert_int_equal(feed(r, "550 5.1234.1 odd"), 1);
	assert_string_equal(r->dsn, "5.0.0");
	assert_int_equal(feed(r, "550 5.1.1x"), 1);
	assert_string_equal(r->dsn, "5.0.0");
	smtp_reply_free(r);
}

static void
test_smtp_reply_rejects_malformed_lines(void **state)
{
	SMTP_REPLY *r = smtp_reply_alloc();

	(void)state;
	assert_int_equal(feed(r, ""), -1);
	assert_int_equal(feed(r, "25"), -1);
	assert_int_equal(feed(r, "abc hello"), -1);
	assert_int_equal(feed(r, "150 not a final class"), -1);
	assert_int_equal(feed(r, "650 no"), -1);
	assert_int_equal(feed(r, "250x"), -1);
	smtp_reply_reset(r);
	assert_int_equal(feed(r, "250-first"), 0);
	assert_int_equal(feed(r, "251 other code"), -1);
	smtp_reply_free(r);
}

static void
test_smtp_reply_ehlo_keywords(void **state)
{
	SMTP_REPLY *r = smtp_reply_alloc();

	(void)state;
	assert_int_equal(feed(r, "250-mx.example.com Hello"), 0);
	assert_int_equal(feed(r, "250-PIPELINING"), 0);
	assert_int_equal(feed(r, "250-SIZE 10240000"), 0);
	assert_int_equal(feed(r, "250-8bitmime"), 0);
	assert_int_equal(feed(r, "250-AUTH=LOGIN"), 0);
	assert_int_equal(feed(r, "250 DSN"), 1);
	assert_string_equal(smtp_reply_ehlo_find(r, "PIPELINING"), "");
	assert_string_equal(smtp_reply_ehlo_find(r, "SIZE"), "10240000");
	assert_non_null(smtp_reply_ehlo_find(r, "8BITMIME"));
	assert_string_equal(smtp_reply_ehlo_find(r, "AUTH"), "LOGIN");
	assert_non_null(smtp_reply_ehlo_find(r, "DSN"));
	assert_null(smtp_reply_ehlo_find(r, "SMTPUTF8"));
	assert_null(smtp_reply_ehlo_find(r, "PIPE"));
	/* The greeting line is not a keyword. */
	assert_null(smtp_reply_ehlo_find(r, "mx.example.com"));
	smtp_reply_free(r);
}

static void
test_smtp_reply_bounds_long_replies(void **state)
{
	SMTP_REPLY *r = smtp_reply_alloc();
	char	    line[SMTP_REPLY_LINE_MAX * 2];
	int	    i;

	(void)state;
	memset(line, 'x', sizeof(line));
	memcpy(line, "250-", 4);
	for (i = 0; i < SMTP_REPLY_LINES_MAX + 50; i++)
		assert_int_equal(smtp_reply_line(r, line, sizeof(line)), 0);
	line[3] = ' ';
	assert_int_equal(smtp_reply_line(r, line, sizeof(line)), 1);
	assert_int_equal(r->nlines, SMTP_REPLY_LINES_MAX);
	assert_true(VSTR_LEN(r->text) <= SMTP_REPLY_TEXT_MAX);
	assert_int_equal(strlen(smtp_reply_line_at(r, 0)), SMTP_REPLY_LINE_MAX);
	smtp_reply_free(r);
}

static void
test_smtp_reply_control_bytes_are_masked(void **state)
{
	SMTP_REPLY *r = smtp_reply_alloc();

	(void)state;
	assert_int_equal(smtp_reply_line(r, "550 bad\0\033x", 10), 1);
	assert_string_equal(VSTR_STR(r->text), "550 bad??x");
	smtp_reply_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtp_reply_single_line_with_dsn),
		cmocka_unit_test(test_smtp_reply_multi_line_joined),
		cmocka_unit_test(
		    test_smtp_reply_derives_dsn_without_enhanced_code),
		cmocka_unit_test(test_smtp_reply_rejects_malformed_lines),
		cmocka_unit_test(test_smtp_reply_ehlo_keywords),
		cmocka_unit_test(test_smtp_reply_bounds_long_replies),
		cmocka_unit_test(test_smtp_reply_control_bytes_are_masked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
