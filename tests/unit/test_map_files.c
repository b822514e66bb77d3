/*
 * Unit tests for util/map_files ("postelmap -F" values) and the SNI
 * chain check of util/tls: files concatenated and base64-encoded, decoded
 * back; bad base64 and missing files refused; PEM key-first order.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/map_files.h"
#include "util/tls.h"
#include "util/vstr.h"

static char dir[64];

static void
write_file(const char *name, const char *text, VSTR *path)
{
	FILE *f;

	vstr_sprintf(path, "%s/%s", dir, name);
	f = fopen(VSTR_STR(path), "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_map_files.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return harness_rmtree(dir);
}

static void
test_map_files_encode_concatenates_and_round_trips(void **state)
{
	VSTR *a = vstr_alloc(64), *b = vstr_alloc(64);
	VSTR *list = vstr_alloc(64), *out = vstr_alloc(64);
	VSTR *back = vstr_alloc(64), *why = vstr_alloc(64);

	(void)state;
	write_file("a.pem", "key\n", a);
	write_file("b.pem", "cert\n", b);
	vstr_sprintf(list, "%s, %s", VSTR_STR(a), VSTR_STR(b));
	assert_int_equal(map_files_encode(VSTR_STR(list), out, why), 0);
	/* base64("key\ncert\n") */
	assert_string_equal(VSTR_STR(out), "a2V5CmNlcnQK");
	assert_int_equal(map_files_decode(VSTR_STR(out), back, why), 0);
	assert_string_equal(VSTR_STR(back), "key\ncert\n");
	/* White space around the value is allowed (table sources). */
	assert_int_equal(map_files_decode("  a2V5CmNlcnQK \n", back, why), 0);
	assert_string_equal(VSTR_STR(back), "key\ncert\n");
	/* One file, listed with white space only. */
	vstr_sprintf(list, "  %s\t", VSTR_STR(b));
	assert_int_equal(map_files_encode(VSTR_STR(list), out, why), 0);
	assert_string_equal(VSTR_STR(out), "Y2VydAo=");
	vstr_free(a);
	vstr_free(b);
	vstr_free(list);
	vstr_free(out);
	vstr_free(back);
	vstr_free(why);
}

static void
test_map_files_refuses_missing_files_and_bad_base64(void **state)
{
	VSTR *out = vstr_alloc(64), *why = vstr_alloc(64);

	(void)state;
	assert_int_equal(map_files_encode("/nonexistent/x.pem", out, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "/nonexistent/x.pem"));
	assert_int_equal(map_files_encode(" , ", out, why), -1);
	assert_int_equal(map_files_decode("/etc/chain.pem", out, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "malformed BASE64 value"));
	assert_int_equal(VSTR_LEN(out), 0);
	assert_int_equal(map_files_decode("", out, why), -1);
	assert_int_equal(map_files_decode("a2V5C", out, why), -1);
	vstr_free(out);
	vstr_free(why);
}

static void
test_map_files_chain_check_wants_key_first(void **state)
{
	VSTR *why = vstr_alloc(64);
	/* Syntax only matters before a key is decoded. */
	const char *cert_first = "-----BEGIN CERTIFICATE-----\n"
				 "MAA=\n"
				 "-----END CERTIFICATE-----\n";
	const char *bad_key = "-----BEGIN PRIVATE KEY-----\n"
			      "MAA=\n"
			      "-----END PRIVATE KEY-----\n";

	(void)state;
	assert_int_equal(tls_chain_check(cert_first, strlen(cert_first), why),
			 -1);
	assert_string_equal(VSTR_STR(why), "key not first");
	assert_int_equal(tls_chain_check(bad_key, strlen(bad_key), why), -1);
	assert_string_equal(VSTR_STR(why), "bad private key");
	assert_int_equal(tls_chain_check("junk", 4, why), -1);
	assert_string_equal(VSTR_STR(why), "no private key");
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_map_files_encode_concatenates_and_round_trips),
		cmocka_unit_test(
		    test_map_files_refuses_missing_files_and_bad_base64),
		cmocka_unit_test(test_map_files_chain_check_wants_key_first),
	};

	return cmocka_run_group_tests_name("map_files", tests, setup, teardown);
}
