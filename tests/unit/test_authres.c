/*
 * Unit tests for util/authres: the Authentication-Results writer, the
 * authserv-id parser and the From: domain for DMARC.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/authres.h"
#include "util/vstr.h"

static const char *
servid(VSTR *out, const char *value, int *rc)
{
	*rc = authres_servid(value, strlen(value), out);
	return VSTR_STR(out);
}

static void
test_authres_write_full_field(void **state)
{
	VSTR		   *out = vstr_alloc(16);
	struct authres_item items[] = {
		{ "spf", "pass", NULL, { { "smtp.mailfrom", "a@ex.test" } }, 1 },
		{ "dkim",
		  "pass",
		  NULL,
		  { { "header.d", "ex.test" },
		    { "header.s", "sel" },
		    { "header.b", "ab/c+d=X" } },
		  3 },
		{ "dmarc",
		  "fail",
		  "p=reject dis=none",
		  { { "header.from", "ex.test" } },
		  1 },
	};

	(void)state;
	authres_write(out, "mx.example.test", items, 3);
	assert_string_equal(VSTR_STR(out),
			    "Authentication-Results: mx.example.test;\r\n"
			    "\tspf=pass smtp.mailfrom=a@ex.test;\r\n"
			    "\tdkim=pass header.d=ex.test header.s=sel "
			    "header.b=\"ab/c+d=X\";\r\n"
			    "\tdmarc=fail (p=reject dis=none) "
			    "header.from=ex.test");
	vstr_free(out);
}

static void
test_authres_write_none_and_hostile_values(void **state)
{
	VSTR		   *out = vstr_alloc(16);
	struct authres_item items[] = {
		/* not keywords: dropped */
		{ "dkim;x", "pass", NULL, { { NULL, NULL } }, 0 },
		{ "dkim", "pass fail", NULL, { { NULL, NULL } }, 0 },
	};
	struct authres_item hostile = {
		"dkim",
		"fail",
		"a)b(c\\d\r\ne",
		{ { "header.d", "x\r\n\tInjected: yes" },
		  { "header.s", "q\"uote\\" },
		  { "bad name", "v" },
		  { "header.i", NULL } },
		4,
	};

	(void)state;
	authres_write(out, "mx", items, 2);
	assert_string_equal(VSTR_STR(out), "Authentication-Results: mx; none");
	authres_write(out, "mx", NULL, 0);
	assert_string_equal(VSTR_STR(out), "Authentication-Results: mx; none");
	authres_write(out, "mx", &hostile, 1);
	assert_string_equal(VSTR_STR(out), "Authentication-Results: mx;\r\n"
					   "\tdkim=fail (abcde) "
					   "header.d=\"x???Injected: yes\" "
					   "header.s=\"q\\\"uote\\\\\"");
	/* no CR or LF but the folds the writer made */
	assert_null(strstr(VSTR_STR(out), "\r\n\tInjected"));
	vstr_free(out);
}

static void
test_authres_write_bounds_values(void **state)
{
	VSTR		   *out = vstr_alloc(16);
	char		    big[AUTHRES_VALUE_MAX * 2 + 1];
	struct authres_item it = {
		"dkim", "pass", NULL, { { "header.d", big } }, 1
	};

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	authres_write(out, "mx", &it, 1);
	assert_int_equal(VSTR_LEN(out),
			 strlen("Authentication-Results: mx;\r\n\tdkim=pass "
				"header.d=")
			     + AUTHRES_VALUE_MAX);
	vstr_free(out);
}

static void
test_authres_servid_forms(void **state)
{
	VSTR *out = vstr_alloc(16);
	int   rc;

	(void)state;
	assert_string_equal(servid(out, "mx.example.test; spf=pass", &rc),
			    "mx.example.test");
	assert_int_equal(rc, 0);
	assert_string_equal(servid(out, "MX.Example.Test 1; none", &rc),
			    "MX.Example.Test");
	assert_string_equal(servid(out,
				   " (c1 (nested) \\) ) \r\n\t"
				   "mx.example.test (c2) 1 (c3); dkim=pass",
				   &rc),
			    "mx.example.test");
	assert_int_equal(rc, 0);
	assert_string_equal(servid(out, "\"mx.example.test\"; none", &rc),
			    "mx.example.test");
	assert_string_equal(servid(out, "\"m\\x; y\"; none", &rc), "mx; y");
	assert_string_equal(servid(out, "mx.example.test", &rc),
			    "mx.example.test");
	assert_int_equal(rc, 0);
	vstr_free(out);
}

static void
test_authres_servid_malformed(void **state)
{
	VSTR *out = vstr_alloc(16);
	int   rc;

	(void)state;
	servid(out, "", &rc);
	assert_int_equal(rc, -1);
	servid(out, "   \r\n\t ", &rc);
	assert_int_equal(rc, -1);
	servid(out, "; spf=pass", &rc);
	assert_int_equal(rc, -1);
	servid(out, "(unterminated mx.example.test; none", &rc);
	assert_int_equal(rc, -1);
	servid(out, "\"unterminated; none", &rc);
	assert_int_equal(rc, -1);
	servid(out, "\"\"; none", &rc);
	assert_int_equal(rc, -1);
	/* Nesting past the bound is refused, not followed. */
	servid(out,
	       "((((((((((((((((((((x))))))))))))))))))))) mx.example.test;",
	       &rc);
	assert_int_equal(rc, -1);
	vstr_free(out);
}

static void
test_authres_from_domain(void **state)
{
	VSTR	   *out = vstr_alloc(16);
	const char *v;

	(void)state;
	v = "Alice <alice@Example.COM>";
	assert_int_equal(authres_from_domain(v, strlen(v), out), 1);
	assert_string_equal(VSTR_STR(out), "example.com");
	v = "a@x.test, \"B\" <b@X.test>";
	assert_int_equal(authres_from_domain(v, strlen(v), out), 1);
	assert_string_equal(VSTR_STR(out), "x.test");
	v = "a@x.test, b@y.test";
	assert_int_equal(authres_from_domain(v, strlen(v), out), -1);
	assert_string_equal(VSTR_STR(out), "");
	v = "undisclosed-recipients:;";
	assert_int_equal(authres_from_domain(v, strlen(v), out), 0);
	v = "a@[192.0.2.1]";
	assert_int_equal(authres_from_domain(v, strlen(v), out), 0);
	v = "";
	assert_int_equal(authres_from_domain(v, 0, out), 0);
	vstr_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authres_write_full_field),
		cmocka_unit_test(test_authres_write_none_and_hostile_values),
		cmocka_unit_test(test_authres_write_bounds_values),
		cmocka_unit_test(test_authres_servid_forms),
		cmocka_unit_test(test_authres_servid_malformed),
		cmocka_unit_test(test_authres_from_domain),
	};

	return cmocka_run_group_tests_name("authres", tests, NULL, NULL);
}
