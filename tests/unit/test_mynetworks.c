/*
 * Unit tests for util/mynetworks: the mynetworks default per
 * mynetworks_style, on this host's loopback interface (present on every
 * machine the tests run on).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/mynetworks.h"
#include "util/vstr.h"

static const char *
compute(const char *style, const char *ifs, const char *protos, VSTR *out)
{
	VSTR *why = vstr_alloc(16);
	int   rc = mynetworks_compute(style, ifs, protos, out, why);

	assert_int_equal(rc, 0);
	vstr_free(why);
	return VSTR_STR(out);
}

static void
test_mynetworks_styles_on_loopback(void **state)
{
	VSTR *out = vstr_alloc(16);

	(void)state;
	assert_string_equal(compute("host", "127.0.0.1", "ipv4", out),
			    "127.0.0.1/32");
	assert_string_equal(compute("subnet", "127.0.0.1", "ipv4", out),
			    "127.0.0.0/8");
	assert_string_equal(compute("CLASS", "[127.0.0.1]", "all", out),
			    "127.0.0.0/8");
	/* inet_protocols filters; a listed address of the other family too. */
	assert_string_equal(compute("host", "127.0.0.1", "ipv6", out), "");
	assert_string_equal(compute("host", "192.0.2.200", "ipv4", out), "");
	vstr_free(out);
}

static void
test_mynetworks_all_and_loopback_only(void **state)
{
	VSTR *out = vstr_alloc(16);

	(void)state;
	compute("host", "loopback-only", "ipv4", out);
	assert_string_equal(VSTR_STR(out), "127.0.0.1/32");
	compute("host", "all", "ipv4", out);
	assert_true(strncmp(VSTR_STR(out), "127.0.0.1/32", 12) == 0);
	assert_null(strchr(VSTR_STR(out), '['));
	vstr_free(out);
}

static void
test_mynetworks_unknown_style_is_an_error(void **state)
{
	VSTR *out = vstr_alloc(16);
	VSTR *why = vstr_alloc(16);

	(void)state;
	assert_int_equal(mynetworks_compute("bogus", "all", "all", out, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "mynetworks_style"));
	assert_int_equal(VSTR_LEN(out), 0);
	vstr_free(out);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mynetworks_styles_on_loopback),
		cmocka_unit_test(test_mynetworks_all_and_loopback_only),
		cmocka_unit_test(test_mynetworks_unknown_style_is_an_error),
	};

	return cmocka_run_group_tests_name("mynetworks", tests, NULL, NULL);
}
