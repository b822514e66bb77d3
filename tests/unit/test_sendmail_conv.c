/*
 * Unit tests for sendmail/sendmail_conv: line ends to CRLF, bare CR,
 * the lone-dot terminator, SMTP dot-unstuffing, what is left for the
 * next SMTP command, and independence from how input is split.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "sendmail/sendmail_conv.h"
#include "util/vstr.h"

static void
collect(void *ctx, const char *data, size_t len)
{
	vstr_memcat(ctx, data, len);
}

/* Convert in in pieces of step bytes; output in out, bytes used back. */
static size_t
convert(const char *in, bool dot_ends, bool unstuff, size_t step, VSTR *out,
	bool *ended)
{
	struct sendmail_conv cv;
	size_t		     len = strlen(in);
	size_t		     used = 0;
	size_t		     n;

	vstr_reset(out);
	sendmail_conv_init(&cv, dot_ends, unstuff, collect, out);
	while (used < len && !cv.done) {
		n = len - used > step ? step : len - used;
		used += sendmail_conv_feed(&cv, in + used, n);
	}
	*ended = sendmail_conv_eof(&cv);
	return used;
}

static void
expect(const char *in, bool dot_ends, bool unstuff, const char *want,
       size_t want_used, bool want_ended)
{
	VSTR *out = vstr_alloc(64);
	bool  ended;

	for (size_t step = 1; step <= strlen(in) + 1; step++) {
		size_t used = convert(in, dot_ends, unstuff, step, out, &ended);

		assert_string_equal(VSTR_STR(out), want);
		assert_int_equal(used, want_used);
		assert_int_equal(ended, want_ended);
	}
	vstr_free(out);
}

static void
test_sendmail_conv_line_ends_become_crlf(void **state)
{
	(void)state;
	expect("a\nb\r\nc\rd", false, false, "a\r\nb\r\nc\r\nd\r\n", 8, false);
	expect("", false, false, "", 0, false);
	expect("\n\n", false, false, "\r\n\r\n", 2, false);
	expect("x\r", false, false, "x\r\n", 2, false);
	expect("x\r\r\n", false, false, "x\r\n\r\n", 4, false);
}

static void
test_sendmail_conv_lone_dot_ends_input(void **state)
{
	(void)state;
	expect("a\n.\nb\n", true, false, "a\r\n", 4, true);
	expect("a\n.\r\nb\n", true, false, "a\r\n", 5, true);
	expect("a\n..\n.x\n", true, false, "a\r\n..\r\n.x\r\n", 8, false);
	expect("a\n.", true, false, "a\r\n", 3, false);
	/* Without -i handling a dot line is content. */
	expect("a\n.\nb\n", false, false, "a\r\n.\r\nb\r\n", 6, false);
}

static void
test_sendmail_conv_smtp_unstuffs_and_stops_at_the_dot(void **state)
{
	(void)state;
	expect("..x\r\n.\r\nQUIT\r\n", true, true, ".x\r\n", 8, true);
	expect("a\r\n.\rQUIT", true, true, "a\r\n", 5, true);
	expect("a\r\n", true, true, "a\r\n", 3, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sendmail_conv_line_ends_become_crlf),
		cmocka_unit_test(test_sendmail_conv_lone_dot_ends_input),
		cmocka_unit_test(
		    test_sendmail_conv_smtp_unstuffs_and_stops_at_the_dot),
	};

	return cmocka_run_group_tests_name("sendmail_conv", tests, NULL, NULL);
}
