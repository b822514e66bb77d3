/*
 * Unit tests for util/gzip: compress and uncompress round trip (empty,
 * small, larger than one zlib chunk), the gzip magic, refusals of
 * corrupt, truncated and over-long data.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/gzip.h"
#include "util/vstr.h"

static void
round_trip(const char *data, size_t len)
{
	VSTR *gz = vstr_alloc(64);
	VSTR *back = vstr_alloc(64);
	VSTR *why = vstr_alloc(64);

	assert_int_equal(gzip_compress(data, len, gz, why), 0);
	assert_true(VSTR_LEN(gz) >= 18);
	assert_int_equal((unsigned char)VSTR_STR(gz)[0], 0x1f);
	assert_int_equal((unsigned char)VSTR_STR(gz)[1], 0x8b);
	assert_int_equal(gzip_uncompress(VSTR_STR(gz), VSTR_LEN(gz), len + 1,
					 back, why),
			 0);
	assert_int_equal(VSTR_LEN(back), len);
	assert_memory_equal(VSTR_STR(back), data, len);
	vstr_free(gz);
	vstr_free(back);
	vstr_free(why);
}

static void
test_gzip_round_trip(void **state)
{
	VSTR *big = vstr_alloc(64);

	(void)state;
	round_trip("", 0);
	round_trip("{\"report-id\": \"x\"}\n", 19);
	/* Pseudo-random bytes: more output than one 16 KiB chunk. */
	for (unsigned i = 0, x = 1; i < 100000; i++) {
		x = x * 1103515245u + 12345u;
		vstr_addch(big, (int)(x >> 16) & 0xff);
	}
	round_trip(VSTR_STR(big), VSTR_LEN(big));
	vstr_free(big);
}

static void
test_gzip_refuses_bad_input(void **state)
{
	VSTR *gz = vstr_alloc(64);
	VSTR *back = vstr_alloc(64);
	VSTR *why = vstr_alloc(64);

	(void)state;
	assert_int_equal(gzip_uncompress("not gzip at all", 15, 100, back, why),
			 -1);
	assert_int_equal(gzip_compress("hello, hello, hello", 19, gz, why), 0);
	assert_int_equal(gzip_uncompress(VSTR_STR(gz), VSTR_LEN(gz) - 6, 100,
					 back, why),
			 -1);
	assert_int_equal(gzip_uncompress(VSTR_STR(gz), VSTR_LEN(gz), 5, back,
					 why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "too long"));
	vstr_free(gz);
	vstr_free(back);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gzip_round_trip),
		cmocka_unit_test(test_gzip_refuses_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
