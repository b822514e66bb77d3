/*
 * Unit tests for util/vstr.
 *
 * SPDX-License-Identifier: ISC
 */
#include "tests/unit/harness.h"
#include "util/vstr.h"

static void
test_vstr_grows_and_keeps_nul(void **state)
{
	VSTR *vp = vstr_alloc(1);
	int   i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(vstr_addch(vp, 'a' + i % 26), 0);
	assert_int_equal(VSTR_LEN(vp), 1000);
	assert_int_equal(VSTR_STR(vp)[1000], 0);
	assert_int_equal(vstr_memcat(vp, "x\0y", 3), 0);
	assert_int_equal(VSTR_LEN(vp), 1003);
	assert_memory_equal(VSTR_STR(vp) + 1000, "x\0y", 3);
	vp = vstr_free(vp);
	assert_null(vp);
}

static void
test_vstr_sprintf_long_output(void **state)
{
	VSTR *vp = vstr_alloc(4);
	char  big[3000];

	(void)state;
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(vstr_sprintf(vp, "<%s>%d", big, 42), 0);
	assert_int_equal(VSTR_LEN(vp), 3003);
	assert_int_equal(VSTR_STR(vp)[0], '<');
	assert_string_equal(VSTR_STR(vp) + 3000, ">42");
	assert_int_equal(vstr_sprintf_append(vp, "%s", "!"), 0);
	assert_string_equal(VSTR_STR(vp) + 3000, ">42!");
	vstr_free(vp);
}

static void
test_vstr_limit_refuses_and_keeps_content(void **state)
{
	VSTR *vp = vstr_alloc(0);

	(void)state;
	vstr_set_limit(vp, 8);
	assert_int_equal(vstr_strcpy(vp, "12345678"), 0);
	assert_int_equal(vstr_addch(vp, '9'), -1);
	assert_string_equal(VSTR_STR(vp), "12345678");
	vstr_reset(vp);
	assert_int_equal(vstr_sprintf(vp, "%s", "abcdefghijk"), -1);
	assert_int_equal(VSTR_LEN(vp), 0);
	assert_string_equal(VSTR_STR(vp), "");
	vstr_free(vp);
}

static void
test_vstr_erase_front_and_truncate(void **state)
{
	VSTR *vp = vstr_alloc(0);
	char *s;

	(void)state;
	vstr_strcpy(vp, "hello world");
	vstr_erase_front(vp, 6);
	assert_string_equal(VSTR_STR(vp), "world");
	vstr_truncate(vp, 3);
	assert_string_equal(VSTR_STR(vp), "wor");
	vstr_strcat(vp, "LD");
	vstr_lower(vp);
	assert_string_equal(VSTR_STR(vp), "world");
	vstr_erase_front(vp, 99);
	assert_int_equal(VSTR_LEN(vp), 0);
	vstr_strcpy(vp, "kept");
	s = vstr_export(vp);
	assert_string_equal(s, "kept");
	free(s);
}

static void
test_vstr_set_len_past_capacity_panics(void **state)
{
	VSTR *vp = vstr_alloc(0);

	(void)state;
	EXPECT_FATAL(vstr_set_len(vp, vp->cap + 5), "past capacity");
	vstr_free(vp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vstr_grows_and_keeps_nul),
		cmocka_unit_test(test_vstr_sprintf_long_output),
		cmocka_unit_test(test_vstr_limit_refuses_and_keeps_content),
		cmocka_unit_test(test_vstr_erase_front_and_truncate),
		cmocka_unit_test(test_vstr_set_len_past_capacity_panics),
	};

	return cmocka_run_group_tests_name("vstr", tests, NULL, NULL);
}
