/*
 * Unit tests for util/msg.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>

#include "tests/unit/harness.h"
#include "util/msg.h"

static char	      last_text[8192];
static enum msg_level last_level;
static int	      calls;

static void
capture(enum msg_level level, const char *text)
{
	last_level = level;
	snprintf(last_text, sizeof(last_text), "%s", text);
	calls++;
}

static int
setup(void **state)
{
	(void)state;
	msg_output_reset();
	msg_output_add(capture);
	calls = 0;
	return 0;
}

static void
test_msg_levels_reach_outputs(void **state)
{
	(void)state;
	msg_info("hello %d", 7);
	assert_int_equal(last_level, MSG_INFO);
	assert_string_equal(last_text, "hello 7");
	msg_warn("w");
	assert_int_equal(last_level, MSG_WARN);
	msg_error("e");
	assert_int_equal(last_level, MSG_ERROR);
	assert_int_equal(calls, 3);
	assert_string_equal(msg_level_prefix(MSG_WARN), "warning: ");
	assert_string_equal(msg_level_prefix(MSG_FATAL), "fatal: ");
}

static void
test_msg_percent_m_uses_callers_errno(void **state)
{
	(void)state;
	errno = ENOENT;
	msg_warn("open x: %m");
	assert_string_equal(last_text, "open x: No such file or directory");
	assert_int_equal(errno, ENOENT);
}

static void
test_msg_control_characters_cannot_forge_lines(void **state)
{
	(void)state;
	msg_info("peer said %s", "a\r\nfake: line\x7f");
	assert_string_equal(last_text, "peer said a??fake: line?");
}

static void
test_msg_long_text_is_cut_not_overflowed(void **state)
{
	char big[10000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	msg_info("%s", big);
	assert_int_equal(strlen(last_text), 4095);
	assert_string_equal(last_text + 4092, "...");
}

static void
test_msg_fatal_reaches_hook_with_text(void **state)
{
	(void)state;
	EXPECT_FATAL(msg_fatal("bad parameter %s", "foo"), "bad parameter foo");
	assert_int_equal(last_level, MSG_FATAL);
	EXPECT_FATAL(msg_panic("bug %d", 1), "bug 1");
	assert_int_equal(last_level, MSG_PANIC);
}

static void
test_msg_progname_is_kept(void **state)
{
	(void)state;
	msg_set_progname("postel/test");
	assert_string_equal(msg_progname(), "postel/test");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_msg_levels_reach_outputs, setup),
		cmocka_unit_test_setup(test_msg_percent_m_uses_callers_errno,
				       setup),
		cmocka_unit_test_setup(
		    test_msg_control_characters_cannot_forge_lines, setup),
		cmocka_unit_test_setup(test_msg_long_text_is_cut_not_overflowed,
				       setup),
		cmocka_unit_test_setup(test_msg_fatal_reaches_hook_with_text,
				       setup),
		cmocka_unit_test_setup(test_msg_progname_is_kept, setup),
	};

	return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
