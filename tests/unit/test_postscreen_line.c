/*
 * test_postscreen_line - postscreen's command line classifier: line ends
 * (CRLF, bare LF, none yet, too long), verbs, the non-SMTP and pipelining
 * signs, the PREGREET escapes and the MAIL/RCPT address.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "postscreen/postscreen_line.h"
#include "tests/unit/harness.h"
#include "util/vstr.h"

static enum psc_line_status
classify(const char *text, const char *forbidden, PSC_LINE *line)
{
	return psc_line_next(text, strlen(text), forbidden, line);
}

static void
test_postscreen_line_crlf_command_with_argument(void **state)
{
	PSC_LINE line;

	(void)state;
	assert_int_equal(classify("ehlo  client.test \r\n", NULL, &line),
			 PSC_LINE_OK);
	assert_int_equal(line.verb_id, PSC_VERB_EHLO);
	assert_int_equal(line.consumed, 20);
	assert_int_equal(line.arg_len, 11);
	assert_memory_equal(line.arg, "client.test", 11);
	assert_false(line.bare_newline);
	assert_false(line.non_smtp);
	assert_int_equal(line.pending, 0);
}

static void
test_postscreen_line_bare_newline_and_pending_bytes(void **state)
{
	PSC_LINE line;

	(void)state;
	assert_int_equal(classify("MAIL FROM:<a@b>\nRCPT TO:<c@d>\r\n", NULL,
				  &line),
			 PSC_LINE_OK);
	assert_int_equal(line.verb_id, PSC_VERB_MAIL);
	assert_true(line.bare_newline);
	assert_int_equal(line.consumed, 16);
	assert_int_equal(line.pending, 15);
}

static void
test_postscreen_line_incomplete_and_too_long(void **state)
{
	PSC_LINE line;
	char	 big[PSC_LINE_MAX + 10];

	(void)state;
	assert_int_equal(classify("EHLO x", NULL, &line), PSC_LINE_MORE);
	memset(big, 'a', sizeof(big));
	assert_int_equal(psc_line_next(big, sizeof(big), NULL, &line),
			 PSC_LINE_TOO_LONG);
	assert_int_equal(psc_line_next(big, PSC_LINE_MAX - 1, NULL, &line),
			 PSC_LINE_MORE);
}

static void
test_postscreen_line_non_smtp_commands(void **state)
{
	PSC_LINE line;

	(void)state;
	assert_int_equal(classify("GET / HTTP/1.0\r\n", "CONNECT GET POST",
				  &line),
			 PSC_LINE_OK);
	assert_true(line.non_smtp);
	assert_int_equal(line.verb_id, PSC_VERB_UNKNOWN);
	assert_int_equal(classify("post /x\r\n", "CONNECT,GET,POST", &line),
			 PSC_LINE_OK);
	assert_true(line.non_smtp);
	assert_int_equal(classify("Host: example\r\n", "", &line), PSC_LINE_OK);
	assert_true(line.non_smtp);
	/* A forbidden list may name an SMTP verb; "GETX" is not "GET". */
	assert_int_equal(classify("GETX\r\n", "GET", &line), PSC_LINE_OK);
	assert_false(line.non_smtp);
	assert_int_equal(classify("MAIL FROM:<a@b>\r\n", NULL, &line),
			 PSC_LINE_OK);
	assert_false(line.non_smtp);
}

static void
test_postscreen_line_empty_line(void **state)
{
	PSC_LINE line;

	(void)state;
	assert_int_equal(classify(" \t\r\n", NULL, &line), PSC_LINE_OK);
	assert_int_equal(line.verb_id, PSC_VERB_EMPTY);
	assert_int_equal(line.verb_len, 0);
	assert_string_equal(psc_verb_name(PSC_VERB_QUIT), "QUIT");
	assert_string_equal(psc_verb_name(PSC_VERB_UNKNOWN), "");
}

static void
test_postscreen_line_escape_as_postfix_logs(void **state)
{
	VSTR *out = vstr_alloc(16);

	(void)state;
	psc_line_escape(out, "EHLO x\r\n", 8, 100);
	assert_string_equal(VSTR_STR(out), "EHLO x\\r\\n");
	psc_line_escape(out, "a\\b\001\377", 5, 100);
	assert_string_equal(VSTR_STR(out), "a\\\\b\\001\\377");
	/* Only whole escapes fit the bound. */
	psc_line_escape(out, "abc\r", 4, 4);
	assert_string_equal(VSTR_STR(out), "abc");
	vstr_free(out);
}

static void
test_postscreen_line_addresses(void **state)
{
	VSTR *out = vstr_alloc(16);

	(void)state;
	assert_int_equal(psc_line_addr("FROM:<a@b> SIZE=10", 18, "FROM:", out,
				       256),
			 0);
	assert_string_equal(VSTR_STR(out), "a@b");
	assert_int_equal(psc_line_addr("to: c@d", 7, "TO:", out, 256), 0);
	assert_string_equal(VSTR_STR(out), "c@d");
	assert_int_equal(psc_line_addr("FROM:<>", 7, "FROM:", out, 256), 0);
	assert_string_equal(VSTR_STR(out), "");
	assert_int_equal(psc_line_addr("<x\001y>", 6, "TO:", out, 256), -1);
	assert_int_equal(psc_line_addr("TO:<x\001yyy>", 11, "TO:", out, 3), 0);
	assert_string_equal(VSTR_STR(out), "x?y");
	vstr_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_postscreen_line_crlf_command_with_argument),
		cmocka_unit_test(
		    test_postscreen_line_bare_newline_and_pending_bytes),
		cmocka_unit_test(test_postscreen_line_incomplete_and_too_long),
		cmocka_unit_test(test_postscreen_line_non_smtp_commands),
		cmocka_unit_test(test_postscreen_line_empty_line),
		cmocka_unit_test(test_postscreen_line_escape_as_postfix_logs),
		cmocka_unit_test(test_postscreen_line_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
