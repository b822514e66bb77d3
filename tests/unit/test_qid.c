/*
 * Unit tests for util/qid: format, round trips, order, hashing.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdint.h>
#include <string.h>
#include <sys/time.h>

#include "tests/unit/harness.h"
#include "util/qid.h"
#include "util/vstr.h"

static void
test_qid_round_trip_time_and_inode(void **state)
{
	static const struct {
		time_t sec;
		long   usec;
		ino_t  ino;
	} cases[] = {
		{ 0, 0, 0 },
		{ 1, 1, 1 },
		{ 1700000000, 999999, 12345 },
		{ 1795000000, 500000, (ino_t)UINT64_MAX },
		{ 19770609663LL, 999999, 50 },
		{ 1234567890, 52, 51 },
	};
	VSTR	      *v = vstr_alloc(0);
	struct timeval tv;
	ino_t	       ino;
	size_t	       i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tv.tv_sec = cases[i].sec;
		tv.tv_usec = cases[i].usec;
		assert_int_equal(qid_make(v, &tv, cases[i].ino), 0);
		assert_true(VSTR_LEN(v) <= QID_MAXLEN);
		assert_true(qid_valid(VSTR_STR(v)));
		assert_int_equal(VSTR_STR(v)[QID_TIME_LEN], 'z');
		assert_null(strchr(VSTR_STR(v) + QID_TIME_LEN + 1, 'z'));
		memset(&tv, 0, sizeof(tv));
		assert_int_equal(qid_time(VSTR_STR(v), &tv), 0);
		assert_int_equal(tv.tv_sec, cases[i].sec);
		assert_int_equal(tv.tv_usec, cases[i].usec);
		assert_int_equal(qid_inode(VSTR_STR(v), &ino), 0);
		assert_true(ino == cases[i].ino);
	}
	vstr_free(v);
}

static void
test_qid_known_encoding(void **state)
{
	VSTR	      *v = vstr_alloc(0);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 53 };

	(void)state;
	/* 53 usec = 1*52 + 1; inode 52 = 1*51 + 1 in base 51. */
	assert_int_equal(qid_make(v, &tv, 52), 0);
	assert_string_equal(VSTR_STR(v), "00000000"
					 "11"
					 "z"
					 "11");
	tv.tv_sec = 51;
	tv.tv_usec = 0;
	assert_int_equal(qid_make(v, &tv, 0), 0);
	assert_string_equal(VSTR_STR(v), "00000z0000z0");
	vstr_free(v);
}

static void
test_qid_lexicographic_follows_time(void **state)
{
	VSTR	      *prev = vstr_alloc(0);
	VSTR	      *cur = vstr_alloc(0);
	struct timeval tv = { .tv_sec = 1600000000, .tv_usec = 0 };
	uint64_t       seed = 88172645463325252ULL;
	int	       i;

	(void)state;
	assert_int_equal(qid_make(prev, &tv, 999999), 0);
	for (i = 0; i < 20000; i++) {
		/* xorshift steps: microsecond and year-scale jumps alike */
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		tv.tv_usec += (long)(seed % 3) + 1;
		if (i % 97 == 0)
			tv.tv_sec += (time_t)(seed % 100000000);
		if (tv.tv_usec >= 1000000) {
			tv.tv_sec += 1;
			tv.tv_usec -= 1000000;
		}
		/* A smaller inode must not break the order. */
		assert_int_equal(qid_make(cur, &tv, (ino_t)(seed % 7)), 0);
		assert_true(strcmp(VSTR_STR(prev), VSTR_STR(cur)) < 0);
		vstr_memcpy(prev, VSTR_STR(cur), VSTR_LEN(cur));
	}
	vstr_free(prev);
	vstr_free(cur);
}

static void
test_qid_rejects_bad_ids_and_times(void **state)
{
	static const char *bad[] = {
		"",
		"0000000000",
		"0000000000z",
		"000000000z1",
		"0000000000y1",
		"0000000000z01",
		"00000A0000z1",
		"0000000000zz",
		"000000L000z1" /* usec 1000000+ */,
		"0000000000z1234567890123",
		"0000000000z1/",
		"../../etcz1",
		"0000000000z1 ",
	};
	VSTR	      *v = vstr_alloc(0);
	struct timeval tv = { .tv_sec = -1, .tv_usec = 0 };
	char	       hash[QID_HASH_LEN + 1];
	size_t	       i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(qid_valid(bad[i]));
		assert_null(qid_hash_dir(bad[i], hash));
	}
	assert_int_equal(qid_make(v, &tv, 1), -1);
	tv.tv_sec = 1;
	tv.tv_usec = 1000000;
	assert_int_equal(qid_make(v, &tv, 1), -1);
	tv.tv_usec = 0;
	tv.tv_sec = 19770609664LL;
	assert_int_equal(qid_make(v, &tv, 1), -1);
	vstr_free(v);
}

static void
test_qid_hash_dir_spreads_by_usec(void **state)
{
	VSTR	      *v = vstr_alloc(0);
	struct timeval tv = { .tv_sec = 1700000000, .tv_usec = 0 };
	char	       hash[QID_HASH_LEN + 1];
	char	       seen[256] = { 0 };
	int	       distinct = 0;
	long	       u;

	(void)state;
	for (u = 0; u < 52; u++) {
		tv.tv_usec = 1000 + u;
		assert_int_equal(qid_make(v, &tv, 42), 0);
		assert_non_null(qid_hash_dir(VSTR_STR(v), hash));
		assert_int_equal(strlen(hash), 1);
		if (!seen[(unsigned char)hash[0]]++)
			distinct++;
	}
	assert_int_equal(distinct, 52);
	vstr_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qid_round_trip_time_and_inode),
		cmocka_unit_test(test_qid_known_encoding),
		cmocka_unit_test(test_qid_lexicographic_follows_time),
		cmocka_unit_test(test_qid_rejects_bad_ids_and_times),
		cmocka_unit_test(test_qid_hash_dir_spreads_by_usec),
	};

	return cmocka_run_group_tests_name("qid", tests, NULL, NULL);
}
