/*
 * test_netstring - the netstring framing of the socketmap protocol:
 * round trips, input that arrives in pieces, and every malformed or
 * oversized form refused before it is read in full.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/netstring.h"
#include "util/vstr.h"

static int
get(const char *s, size_t max, const char **data, size_t *dlen, size_t *used,
    VSTR *why)
{
	return netstring_get(s, strlen(s), max, data, dlen, used, why);
}

static void
test_netstring_round_trip(void **state)
{
	VSTR	   *buf = vstr_alloc(4);
	const char *data;
	size_t	    dlen, used;

	(void)state;
	netstring_put(buf, "hello world!", 12);
	assert_string_equal(VSTR_STR(buf), "12:hello world!,");
	netstring_put(buf, "", 0);
	assert_string_equal(VSTR_STR(buf), "12:hello world!,0:,");
	/* Two in a row: the first says how much it took. */
	assert_int_equal(netstring_get(VSTR_STR(buf), VSTR_LEN(buf), 100, &data,
				       &dlen, &used, NULL),
			 1);
	assert_int_equal(dlen, 12);
	assert_memory_equal(data, "hello world!", 12);
	assert_int_equal(used, 16);
	assert_int_equal(netstring_get(VSTR_STR(buf) + used,
				       VSTR_LEN(buf) - used, 100, &data, &dlen,
				       &used, NULL),
			 1);
	assert_int_equal(dlen, 0);
	assert_int_equal(used, 3);
	vstr_free(buf);
}

static void
test_netstring_carries_any_byte(void **state)
{
	VSTR	   *buf = vstr_alloc(4);
	const char  bin[] = { 'a', 0, ',', ':', '\n', (char)0xff };
	const char *data;
	size_t	    dlen, used;

	(void)state;
	netstring_put(buf, bin, sizeof(bin));
	assert_int_equal(netstring_get(VSTR_STR(buf), VSTR_LEN(buf), 6, &data,
				       &dlen, &used, NULL),
			 1);
	assert_int_equal(dlen, sizeof(bin));
	assert_memory_equal(data, bin, sizeof(bin));
	vstr_free(buf);
}

static void
test_netstring_needs_more_for_every_prefix(void **state)
{
	const char *full = "11:OK somebody,";
	const char *data;
	size_t	    dlen, used, n;

	(void)state;
	for (n = 0; n < strlen(full); n++)
		assert_int_equal(netstring_get(full, n, 100, &data, &dlen,
					       &used, NULL),
				 0);
	assert_int_equal(netstring_get(full, strlen(full), 100, &data, &dlen,
				       &used, NULL),
			 1);
	assert_int_equal(used, strlen(full));
}

static void
expect_bad(const char *s, size_t max, const char *reason)
{
	VSTR	   *why = vstr_alloc(16);
	const char *data;
	size_t	    dlen, used;

	assert_int_equal(get(s, max, &data, &dlen, &used, why), -1);
	if (strstr(VSTR_STR(why), reason) == NULL)
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", s, VSTR_STR(why),
			 reason);
	vstr_free(why);
}

static void
test_netstring_refuses_malformed(void **state)
{
	(void)state;
	expect_bad(":abc,", 100, "does not start with a length");
	expect_bad("x", 100, "does not start with a length");
	expect_bad("3;abc,", 100, "not followed by ':'");
	expect_bad("3 :abc,", 100, "not followed by ':'");
	expect_bad("3:abcd", 100, "not terminated by ','");
	expect_bad("3:abc;", 100, "not terminated by ','");
	expect_bad("03:abc,", 100, "leading zero");
	expect_bad("00:,", 100, "leading zero");
}

static void
test_netstring_refuses_oversize_before_reading_it(void **state)
{
	const char *data;
	size_t	    dlen, used;

	(void)state;
	/* The length alone is enough to refuse: no waiting for the data. */
	expect_bad("101", 100, "longer than the limit");
	expect_bad("99999999999999999999999999999999:", 1000,
		   "longer than the limit");
	expect_bad("1", 0, "longer than the limit");
	assert_int_equal(get("100:", 100, &data, &dlen, &used, NULL), 0);
	assert_int_equal(get("0:,", 0, &data, &dlen, &used, NULL), 1);
	/* A limit near SIZE_MAX must not overflow the arithmetic. */
	expect_bad("999999999999999999999999:", (size_t)-1,
		   "longer than the limit");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netstring_round_trip),
		cmocka_unit_test(test_netstring_carries_any_byte),
		cmocka_unit_test(test_netstring_needs_more_for_every_prefix),
		cmocka_unit_test(test_netstring_refuses_malformed),
		cmocka_unit_test(
		    test_netstring_refuses_oversize_before_reading_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
