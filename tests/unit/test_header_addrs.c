/*
 * Unit tests for util/header_addrs: which fields carry addresses, and
 * rewriting the addresses of one field in place.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/header_addrs.h"
#include "util/vstr.h"

/* a@old.test -> a@new.test; "fail@x" makes the callback fail. */
static int
map(void *ctx, const char *addr, VSTR *out)
{
	const char *at = strrchr(addr, '@');

	(*(int *)ctx)++;
	if (strcmp(addr, "fail@x") == 0)
		return -1;
	if (at == NULL || strcmp(at, "@old.test") != 0)
		return 0;
	vstr_memcpy(out, addr, (size_t)(at - addr));
	vstr_strcat(out, "@new.test");
	return 1;
}

static const char *
rewrite(VSTR *f, const char *text, int *calls, int *rc)
{
	const char *colon = strchr(text, ':');

	vstr_strcpy(f, text);
	*rc = header_addrs_rewrite(f, (size_t)(colon - text), map, calls);
	return VSTR_STR(f);
}

static void
test_header_addrs_fields(void **state)
{
	(void)state;
	assert_true(header_addrs_field("From", 4));
	assert_true(header_addrs_field("resent-cc", 9));
	assert_true(header_addrs_field("To \t", 4));
	assert_true(header_addrs_field("Disposition-Notification-To", 27));
	assert_false(header_addrs_field("Subject", 7));
	assert_false(header_addrs_field("Toast", 5));
}

static void
test_header_addrs_rewrite_forms(void **state)
{
	VSTR *f = vstr_alloc(16);
	int   calls = 0, rc;

	(void)state;
	assert_string_equal(rewrite(f, "From: Ann <a@old.test>", &calls, &rc),
			    "From: Ann <a@new.test>");
	assert_int_equal(rc, 0);
	/* A display name spelling the address is left alone. */
	assert_string_equal(rewrite(f, "From: \"a@old.test\" <a@old.test>",
				    &calls, &rc),
			    "From: \"a@old.test\" <a@new.test>");
	assert_string_equal(rewrite(f,
				    "To: b@old.test, c@other.test,\r\n"
				    "\td@old.test (Dee)",
				    &calls, &rc),
			    "To: b@new.test, c@other.test,\r\n"
			    "\td@new.test (Dee)");
	/* A longer address containing the shorter one is not touched. */
	assert_string_equal(rewrite(f, "Cc: xb@old.test.example, b@old.test",
				    &calls, &rc),
			    "Cc: xb@old.test.example, b@new.test");
	assert_string_equal(rewrite(f, "To: group: e@old.test;", &calls, &rc),
			    "To: group: e@new.test;");
	vstr_free(f);
}

static void
test_header_addrs_callback_failure_stops(void **state)
{
	VSTR *f = vstr_alloc(16);
	int   calls = 0, rc;

	(void)state;
	rewrite(f, "To: fail@x, b@old.test", &calls, &rc);
	assert_int_equal(rc, -1);
	assert_int_equal(calls, 1);
	calls = 0;
	assert_string_equal(rewrite(f, "To:", &calls, &rc), "To:");
	assert_int_equal(rc, 0);
	assert_int_equal(calls, 0);
	vstr_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_addrs_fields),
		cmocka_unit_test(test_header_addrs_rewrite_forms),
		cmocka_unit_test(test_header_addrs_callback_failure_stops),
	};

	return cmocka_run_group_tests_name("header_addrs", tests, NULL, NULL);
}
