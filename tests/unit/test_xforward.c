/*
 * Unit tests for util/xforward (XFORWARD attributes) and
 * util/receive_override (receive_override_options).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/receive_override.h"
#include "util/vstr.h"
#include "util/xforward.h"

static void
test_xforward_parses_every_attribute(void **state)
{
	XFORWARD *xf = xforward_alloc();
	VSTR	 *reply = vstr_alloc(64);

	(void)state;
	assert_int_equal(xforward_update(xf,
					 "NAME=mx.example ADDR=192.0.2.1 "
					 "PORT=2525 PROTO=ESMTP",
					 reply),
			 0);
	assert_int_equal(xforward_update(xf,
					 "helo=h+2Eexample IDENT=ABC "
					 "SOURCE=remote",
					 reply),
			 0);
	assert_true(xf->active);
	assert_string_equal(xf->value[XFORWARD_NAME], "mx.example");
	assert_string_equal(xf->value[XFORWARD_ADDR], "192.0.2.1");
	assert_string_equal(xf->value[XFORWARD_PORT], "2525");
	assert_string_equal(xf->value[XFORWARD_PROTO], "ESMTP");
	assert_string_equal(xf->value[XFORWARD_HELO], "h.example");
	assert_string_equal(xf->value[XFORWARD_IDENT], "ABC");
	assert_string_equal(xf->value[XFORWARD_SOURCE], "REMOTE");
	xforward_reset(xf);
	assert_false(xf->active);
	assert_null(xf->value[XFORWARD_NAME]);
	xforward_free(xf);
	vstr_free(reply);
}

static void
test_xforward_unavailable_and_odd_names_are_unknown(void **state)
{
	XFORWARD *xf = xforward_alloc();
	VSTR	 *reply = vstr_alloc(64);

	(void)state;
	assert_int_equal(xforward_update(xf,
					 "NAME=[TEMPUNAVAIL] "
					 "ADDR=IPv6:2001:db8::1 HELO=[UNAVAILABLE]",
					 reply),
			 0);
	assert_null(xf->value[XFORWARD_NAME]);
	assert_true(xf->given[XFORWARD_NAME]);
	assert_string_equal(xf->value[XFORWARD_ADDR], "2001:db8::1");
	assert_null(xf->value[XFORWARD_HELO]);
	assert_int_equal(xforward_update(xf, "NAME=bad+2Fname", reply), 0);
	assert_null(xf->value[XFORWARD_NAME]);
	xforward_free(xf);
	vstr_free(reply);
}

static void
test_xforward_rejects_garbage_and_changes_nothing(void **state)
{
	static const char *const bad[] = {
		"",
		"NAME",
		"=x",
		"BOGUS=1",
		"ADDR=999.1.1.1",
		"PORT=65536",
		"PORT=-1",
		"SOURCE=nowhere",
		"PROTO=a+20b",
		"HELO=a+0Ab",
		"HELO=+zz",
		"HELO=a=b",
		"NAME=ok ADDR=nope",
	};
	XFORWARD *xf = xforward_alloc();
	VSTR	 *reply = vstr_alloc(64);
	VSTR	 *big = vstr_alloc(1024);

	(void)state;
	assert_int_equal(xforward_update(xf, "NAME=keep.example", reply), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vstr_reset(reply);
		assert_int_equal(xforward_update(xf, bad[i], reply), -1);
		assert_memory_equal(VSTR_STR(reply), "501 5.5.4 ", 10);
		assert_string_equal(xf->value[XFORWARD_NAME], "keep.example");
	}
	vstr_strcpy(big, "HELO=");
	for (int i = 0; i < XFORWARD_VALUE_MAX + 1; i++)
		vstr_addch(big, 'a');
	assert_int_equal(xforward_update(xf, VSTR_STR(big), reply), -1);
	vstr_reset(big);
	for (int i = 0; i < 40; i++)
		vstr_strcat(big, "IDENT=x ");
	assert_int_equal(xforward_update(xf, VSTR_STR(big), reply), -1);
	xforward_free(xf);
	vstr_free(reply);
	vstr_free(big);
}

static void
test_xforward_item_encodes_values(void **state)
{
	VSTR *line = vstr_alloc(64);

	(void)state;
	xforward_item(line, "HELO", "a b+c=d");
	xforward_item(line, "NAME", NULL);
	xforward_item(line, "ADDR", "");
	assert_string_equal(VSTR_STR(line), " HELO=a+20b+2Bc+3Dd"
					    " NAME=[UNAVAILABLE]"
					    " ADDR=[UNAVAILABLE]");
	vstr_free(line);
}

static void
test_receive_override_parse_words(void **state)
{
	(void)state;
	assert_int_equal(receive_override_parse(""), 0);
	assert_int_equal(receive_override_parse(NULL), 0);
	assert_int_equal(receive_override_parse("no_unknown_recipient_checks,"
						"no_header_body_checks"),
			 RECEIVE_NO_UNKNOWN_RCPT_CHECKS
			     | RECEIVE_NO_HEADER_BODY_CHECKS);
	assert_int_equal(receive_override_parse(
			     " NO_MILTERS no_address_mappings "
			     "bogus"),
			 RECEIVE_NO_MILTERS | RECEIVE_NO_ADDRESS_MAPPINGS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xforward_parses_every_attribute),
		cmocka_unit_test(
		    test_xforward_unavailable_and_odd_names_are_unknown),
		cmocka_unit_test(
		    test_xforward_rejects_garbage_and_changes_nothing),
		cmocka_unit_test(test_xforward_item_encodes_values),
		cmocka_unit_test(test_receive_override_parse_words),
	};

	return cmocka_run_group_tests_name("xforward", tests, NULL, NULL);
}
