/*
 * test_postscreen_cache - postscreen's cache values (Postfix's format)
 * and a btree: cache updated in place, looked up, and cleaned up.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postscreen/postscreen_cache.h"
#include "tests/unit/harness.h"
#include "util/dict.h"
#include "util/vstr.h"

static void
test_postscreen_cache_value_round_trip(void **state)
{
	time_t expire[PSC_TEST_COUNT] = { 100, 0, 30, 1, 1700000000 };
	time_t back[PSC_TEST_COUNT];
	VSTR  *v = vstr_alloc(16);

	(void)state;
	psc_cache_format(v, expire);
	assert_string_equal(VSTR_STR(v), "100;0;30;1;1700000000");
	psc_cache_parse(VSTR_STR(v), back);
	assert_memory_equal(back, expire, sizeof(back));
	vstr_free(v);
}

static void
test_postscreen_cache_bad_values_mean_not_passed(void **state)
{
	time_t back[PSC_TEST_COUNT];

	(void)state;
	psc_cache_parse("12;x;-4;99999999999999999999999;", back);
	assert_int_equal(back[0], 12);
	assert_int_equal(back[1], 0);
	assert_int_equal(back[2], 0);
	assert_int_equal(back[3], 0);
	assert_int_equal(back[4], 0);
	psc_cache_parse("", back);
	assert_int_equal(back[0], 0);
	psc_cache_parse("7", back);
	assert_int_equal(back[0], 7);
	assert_int_equal(back[4], 0);
}

static void
test_postscreen_cache_btree_in_place_and_cleanup(void **state)
{
	char	   dir[] = "/tmp/test_psc_cacheXXXXXX";
	char	   spec[256];
	VSTR	  *why = vstr_alloc(64);
	time_t	   now = 1000000;
	time_t	   fresh[PSC_TEST_COUNT] = { now + 100, 0, 0, 0, 0 };
	time_t	   stale[PSC_TEST_COUNT] = { now - 100, 0, 0, 0, 0 };
	time_t	   back[PSC_TEST_COUNT];
	PSC_CACHE *c;
	DICT	  *reader;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(spec, sizeof(spec), "btree:%s/cache", dir);
	c = psc_cache_open(spec, why);
	assert_non_null(c);
	psc_cache_update(c, "192.0.2.1", fresh);
	psc_cache_update(c, "192.0.2.2", stale);
	assert_true(psc_cache_lookup(c, "192.0.2.1", back));
	assert_int_equal(back[0], now + 100);
	assert_false(psc_cache_lookup(c, "192.0.2.9", back));

	/* Updated in place: another reader sees the entries at once. */
	reader = dict_open(spec, 0, why);
	assert_non_null(reader);
	harness_dict_expect(reader, "192.0.2.2", "999900;0;0;0;0");
	dict_close(reader);

	/* Only the pregreet test is enabled; retention 50 s. */
	assert_int_equal(psc_cache_cleanup(c, now, 50, 1u), 0);
	assert_true(psc_cache_lookup(c, "192.0.2.1", back));
	assert_false(psc_cache_lookup(c, "192.0.2.2", back));
	psc_cache_close(c);
	vstr_free(why);
	harness_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postscreen_cache_value_round_trip),
		cmocka_unit_test(
		    test_postscreen_cache_bad_values_mean_not_passed),
		cmocka_unit_test(
		    test_postscreen_cache_btree_in_place_and_cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
