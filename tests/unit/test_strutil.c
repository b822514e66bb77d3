/*
 * Unit tests for util/strutil and util/mymalloc.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdint.h>

#include "tests/unit/harness.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

static void
test_strutil_token_splits_postfix_lists(void **state)
{
	char  buf[] = "  a, b,,\tc\n";
	char *bp = buf;

	(void)state;
	assert_string_equal(str_token(&bp, STR_SEP_LIST), "a");
	assert_string_equal(str_token(&bp, STR_SEP_LIST), "b");
	assert_string_equal(str_token(&bp, STR_SEP_LIST), "c");
	assert_null(str_token(&bp, STR_SEP_LIST));
	assert_null(str_token(&bp, STR_SEP_LIST));
}

static void
test_strutil_trim_and_lower(void **state)
{
	char buf[] = " \t MiXeD Case \r\n";

	(void)state;
	assert_string_equal(str_lower(str_trim(buf)), "mixed case");
	assert_true(str_has_prefix("hash:/etc/aliases", "hash:"));
	assert_false(str_has_prefix("has", "hash:"));
	assert_true(str_is_word("ENDIF", "endif"));
	assert_true(str_is_word("if /x/", "if"));
	assert_false(str_is_word("iffy", "if"));
}

static void
test_strutil_to_ll_rejects_junk(void **state)
{
	long long v = 0;

	(void)state;
	assert_int_equal(str_to_ll("10240000", &v), 0);
	assert_int_equal(v, 10240000);
	assert_int_equal(str_to_ll("-5", &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(str_to_ll("12k", &v), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(str_to_ll("", &v), -1);
	assert_int_equal(str_to_ll(" 1", &v), -1);
	assert_int_equal(str_to_ll("99999999999999999999", &v), -1);
	assert_int_equal(errno, ERANGE);
}

static void
test_mymalloc_copies_and_frees(void **state)
{
	char *s;
	char *n;

	(void)state;
	s = mystrdup("abc");
	n = mystrndup("abcdef", 4);
	assert_string_equal(s, "abc");
	assert_string_equal(n, "abcd");
	s = myfree(s);
	n = myfree(n);
	assert_null(s);
	assert_null(n);
}

static void
test_mymalloc_overflow_is_fatal(void **state)
{
	(void)state;
	EXPECT_FATAL(mymalloc_array(SIZE_MAX / 2, 4), "allocation overflow");
	EXPECT_FATAL(mycalloc(SIZE_MAX / 2, 4), "allocation overflow");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strutil_token_splits_postfix_lists),
		cmocka_unit_test(test_strutil_trim_and_lower),
		cmocka_unit_test(test_strutil_to_ll_rejects_junk),
		cmocka_unit_test(test_mymalloc_copies_and_frees),
		cmocka_unit_test(test_mymalloc_overflow_is_fatal),
	};

	return cmocka_run_group_tests_name("strutil", tests, NULL, NULL);
}
