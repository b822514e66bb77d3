/*
 * Unit tests for util/attr: building, encoding, decoding, and every way a
 * frame can be malformed.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "util/attr.h"
#include "util/vstr.h"

/* Decode text (a C string) and expect failure with why containing text. */
static void
expect_bad(const char *frame, size_t len, const char *why_text)
{
	ATTR *a = attr_alloc();
	VSTR *why = vstr_alloc(0);

	attr_put_str(a, "stale", "x");
	if (attr_decode(frame, len, a, why) == 0)
		fail_msg("frame \"%.*s\" decoded but should not", (int)len,
			 frame);
	if (strstr(VSTR_STR(why), why_text) == NULL)
		fail_msg("frame \"%.*s\": why \"%s\" lacks \"%s\"", (int)len,
			 frame, VSTR_STR(why), why_text);
	assert_int_equal(attr_count(a), 0);
	attr_free(a);
	vstr_free(why);
}

#define BAD(s, why) expect_bad((s), sizeof(s) - 1, (why))

static void
test_attr_encode_known_bytes(void **state)
{
	ATTR *a = attr_alloc();
	VSTR *out = vstr_alloc(0);

	(void)state;
	attr_put_str(a, "request", "wakeup");
	attr_put_int(a, "size", 42);
	attr_encode(a, out);
	assert_string_equal(VSTR_STR(out),
			    "31:7:request,6:wakeup,4:size,2:42,,");
	assert_int_equal(VSTR_LEN(out), attr_encoded_len(a));
	/* An empty list is an empty netstring. */
	attr_reset(a);
	vstr_reset(out);
	attr_encode(a, out);
	assert_string_equal(VSTR_STR(out), "0:,");
	assert_int_equal(attr_decode("0:,", 3, a, NULL), 0);
	assert_int_equal(attr_count(a), 0);
	attr_free(a);
	vstr_free(out);
}

static void
test_attr_round_trip_arbitrary_bytes(void **state)
{
	ATTR	   *a = attr_alloc();
	ATTR	   *b = attr_alloc();
	VSTR	   *out = vstr_alloc(0);
	VSTR	   *why = vstr_alloc(0);
	char	    all[256];
	const void *data;
	size_t	    len;
	long long   v;
	int	    i;

	(void)state;
	for (i = 0; i < 256; i++)
		all[i] = (char)i;
	attr_put_data(a, "bytes", all, sizeof(all));
	attr_put_data(a, "tricky", "1:,:,0:,\0,", 10);
	attr_put_str(a, "empty", "");
	attr_put_int(a, "neg", -9223372036854775807LL - 1);
	attr_put_str(a, "a:b,c", "name with separators");
	attr_encode(a, out);
	assert_int_equal(attr_decode(VSTR_STR(out), VSTR_LEN(out), b, why), 0);
	assert_int_equal(attr_count(b), 5);
	data = attr_get_data(b, "bytes", &len);
	assert_non_null(data);
	assert_int_equal(len, 256);
	assert_memory_equal(data, all, 256);
	/* A value with a NUL is data, not a string. */
	assert_null(attr_get_str(b, "bytes"));
	data = attr_get_data(b, "tricky", &len);
	assert_int_equal(len, 10);
	assert_memory_equal(data, "1:,:,0:,\0,", 10);
	assert_string_equal(attr_get_str(b, "empty"), "");
	assert_int_equal(attr_get_int(b, "neg", &v), 0);
	assert_true(v == -9223372036854775807LL - 1);
	assert_string_equal(attr_get_str(b, "a:b,c"), "name with separators");
	/* Order of insertion is kept. */
	assert_string_equal(attr_name_at(b, 0), "bytes");
	assert_string_equal(attr_name_at(b, 4), "a:b,c");
	assert_null(attr_name_at(b, 5));
	data = attr_value_at(b, 3, &len);
	assert_int_equal(len, strlen("-9223372036854775808"));
	attr_free(a);
	attr_free(b);
	vstr_free(out);
	vstr_free(why);
}

static void
test_attr_put_replaces_and_del_removes(void **state)
{
	ATTR	 *a = attr_alloc();
	char	  name[16];
	long long v;
	int	  i;

	(void)state;
	attr_put_str(a, "x", "1");
	attr_put_str(a, "y", "2");
	attr_put_str(a, "x", "3");
	assert_int_equal(attr_count(a), 2);
	assert_string_equal(attr_name_at(a, 0), "x");
	assert_string_equal(attr_get_str(a, "x"), "3");
	/* Replacing a value with a copy of itself is safe. */
	attr_put_str(a, "x", attr_get_str(a, "x"));
	assert_string_equal(attr_get_str(a, "x"), "3");
	assert_int_equal(attr_del(a, "x"), 0);
	assert_int_equal(attr_del(a, "x"), -1);
	assert_false(attr_has(a, "x"));
	assert_string_equal(attr_get_str(a, "y"), "2");
	assert_string_equal(attr_name_at(a, 0), "y");
	/* Many names: the index grows and finds every one. */
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		attr_put_int(a, name, i);
	}
	assert_int_equal(attr_count(a), 5001);
	for (i = 0; i < 5000; i += 97) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(attr_get_int(a, name, &v), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(attr_del(a, "n0"), 0);
	assert_int_equal(attr_get_int(a, "n4999", &v), 0);
	assert_int_equal(v, 4999);
	attr_free(a);
}

static void
test_attr_get_int_rejects_non_numbers(void **state)
{
	ATTR	 *a = attr_alloc();
	long long v = 7;

	(void)state;
	attr_put_str(a, "word", "12abc");
	attr_put_str(a, "empty", "");
	attr_put_str(a, "huge", "99999999999999999999");
	attr_put_data(a, "nul", "1\0", 2);
	assert_int_equal(attr_get_int(a, "word", &v), -1);
	assert_int_equal(attr_get_int(a, "empty", &v), -1);
	assert_int_equal(attr_get_int(a, "huge", &v), -1);
	assert_int_equal(attr_get_int(a, "nul", &v), -1);
	assert_int_equal(attr_get_int(a, "missing", &v), -1);
	assert_int_equal(v, 7);
	assert_null(attr_get_str(a, "missing"));
	assert_null(attr_get_data(a, "missing", NULL));
	attr_free(a);
}

static void
test_attr_nested_list(void **state)
{
	ATTR *outer = attr_alloc();
	ATTR *inner = attr_alloc();
	ATTR *got = attr_alloc();
	VSTR *buf = vstr_alloc(0);
	VSTR *why = vstr_alloc(0);

	(void)state;
	attr_put_str(inner, "rcpt", "a@example.com");
	attr_put_str(inner, "notify", "FAILURE");
	attr_put_attr(outer, "rcpt0", inner);
	attr_put_str(outer, "sender", "b@example.org");
	attr_encode(outer, buf);
	assert_int_equal(attr_decode(VSTR_STR(buf), VSTR_LEN(buf), outer, why),
			 0);
	assert_int_equal(attr_get_attr(outer, "rcpt0", got, why), 0);
	assert_string_equal(attr_get_str(got, "rcpt"), "a@example.com");
	assert_string_equal(attr_get_str(got, "notify"), "FAILURE");
	assert_int_equal(attr_get_attr(outer, "sender", got, why), -1);
	assert_int_equal(attr_get_attr(outer, "nothing", got, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "missing"));
	attr_free(outer);
	attr_free(inner);
	attr_free(got);
	vstr_free(buf);
	vstr_free(why);
}

static void
test_attr_decode_rejects_truncated(void **state)
{
	const char *frame = "31:7:request,6:wakeup,4:size,2:42,,";
	size_t	    len = strlen(frame);
	ATTR	   *a = attr_alloc();
	size_t	    i;

	(void)state;
	/* Every proper prefix fails. */
	for (i = 0; i < len; i++)
		assert_int_equal(attr_decode(frame, i, a, NULL), -1);
	assert_int_equal(attr_decode(frame, len, a, NULL), 0);
	BAD("", "truncated frame length");
	BAD("31", "truncated frame length");
	BAD("31:7:request", "truncated frame");
	attr_free(a);
}

static void
test_attr_decode_rejects_leftover(void **state)
{
	(void)state;
	BAD("0:,0:,", "left over");
	BAD("0:,\n", "left over");
	BAD("4:1:a,,x", "left over");
}

static void
test_attr_decode_rejects_bad_lengths(void **state)
{
	(void)state;
	BAD(":,", "bad frame length");
	BAD("x:,", "bad frame length");
	BAD("-1:,", "bad frame length");
	BAD("+0:,", "bad frame length");
	BAD(" 0:,", "bad frame length");
	BAD("00:,", "bad frame length");
	BAD("01:a,", "bad frame length");
	BAD("0x0:,", "bad frame length");
	/* Inner lengths: leading zero, sign, garbage, too long for payload. */
	BAD("9:01:a,1:b,,", "bad name length");
	BAD("8:1:a,01:b,", "bad value length");
	BAD("7:1:a,x:,,", "bad value length");
	BAD("8:1:a,9:b,,", "truncated value");
	BAD("4:9:a,,", "truncated name");
}

static void
test_attr_decode_rejects_oversize(void **state)
{
	ATTR *a = attr_alloc();
	VSTR *why = vstr_alloc(0);
	char  frame[64];
	char  name[ATTR_NAME_MAX + 2];
	VSTR *big = vstr_alloc(0);

	(void)state;
	snprintf(frame, sizeof(frame), "%d:", ATTR_FRAME_MAX + 1);
	assert_int_equal(attr_decode(frame, strlen(frame), a, why), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_non_null(strstr(VSTR_STR(why), "above limit"));
	BAD("99999999999999999999999:", "above limit");
	BAD("184467440737095516160:", "above limit");
	/* A name one byte too long. */
	memset(name, 'n', sizeof(name));
	name[ATTR_NAME_MAX + 1] = 0;
	vstr_sprintf(big, "%zu:%d:%s,0:,,", strlen(name) + 4 + 1 + 3,
		     ATTR_NAME_MAX + 1, name);
	assert_int_equal(attr_decode(VSTR_STR(big), VSTR_LEN(big), a, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "name length above limit"));
	/* The longest name is fine. */
	name[ATTR_NAME_MAX] = 0;
	attr_put_str(a, name, "v");
	vstr_reset(big);
	attr_encode(a, big);
	assert_int_equal(attr_decode(VSTR_STR(big), VSTR_LEN(big), a, why), 0);
	assert_string_equal(attr_get_str(a, name), "v");
	/* A name too long for the builder is a bug. */
	name[ATTR_NAME_MAX] = 'n';
	EXPECT_FATAL(attr_put_str(a, name, "v"), "bad attribute name");
	EXPECT_FATAL(attr_put_str(a, "", "v"), "bad attribute name");
	attr_free(a);
	vstr_free(why);
	vstr_free(big);
}

static void
test_attr_decode_rejects_bad_names(void **state)
{
	(void)state;
	BAD("14:1:a,0:,1:a,0:,,", "duplicate attribute \"a\"");
	BAD("6:0:,0:,,", "empty attribute name");
	BAD("8:2:a\0,0:,,", "NUL in attribute name");
	BAD("4:1:a,,", "has no value");
}

static void
test_attr_decode_rejects_missing_separators(void **state)
{
	(void)state;
	BAD("0:;", "missing ','");
	BAD("0:", "truncated frame");
	BAD("8:1:a;1:b,,", "missing ',' after name");
	BAD("8:1:a,1:b;,", "missing ',' after value");
	BAD("8:1a,1:b,,,", "bad name length");
}

static void
test_attr_decode_big_value(void **state)
{
	ATTR	   *a = attr_alloc();
	VSTR	   *buf = vstr_alloc(0);
	VSTR	   *why = vstr_alloc(0);
	size_t	    n = 3 * 1024 * 1024 + 7;
	char	   *blob = test_malloc(n);
	const void *got;
	size_t	    len;
	size_t	    i;

	(void)state;
	for (i = 0; i < n; i++)
		blob[i] = (char)(i * 131 + 7);
	attr_put_data(a, "content", blob, n);
	attr_encode(a, buf);
	attr_reset(a);
	assert_int_equal(attr_decode(VSTR_STR(buf), VSTR_LEN(buf), a, why), 0);
	got = attr_get_data(a, "content", &len);
	assert_int_equal(len, n);
	assert_memory_equal(got, blob, n);
	test_free(blob);
	attr_free(a);
	vstr_free(buf);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attr_encode_known_bytes),
		cmocka_unit_test(test_attr_round_trip_arbitrary_bytes),
		cmocka_unit_test(test_attr_put_replaces_and_del_removes),
		cmocka_unit_test(test_attr_get_int_rejects_non_numbers),
		cmocka_unit_test(test_attr_nested_list),
		cmocka_unit_test(test_attr_decode_rejects_truncated),
		cmocka_unit_test(test_attr_decode_rejects_leftover),
		cmocka_unit_test(test_attr_decode_rejects_bad_lengths),
		cmocka_unit_test(test_attr_decode_rejects_oversize),
		cmocka_unit_test(test_attr_decode_rejects_bad_names),
		cmocka_unit_test(test_attr_decode_rejects_missing_separators),
		cmocka_unit_test(test_attr_decode_big_value),
	};

	return cmocka_run_group_tests_name("attr", tests, NULL, NULL);
}
