/*
 * test_dsn_log - the Postfix-format delivery line of the transports.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/deliver_proto.h"
#include "util/dsn_log.h"
#include "util/vstr.h"

static void
delay_is(double secs, const char *want)
{
	VSTR *v = vstr_alloc(16);

	dsn_log_delay(v, secs);
	assert_string_equal(VSTR_STR(v), want);
	vstr_free(v);
}

static void
test_dsn_log_delay_formats_like_postfix(void **state)
{
	(void)state;
	delay_is(0, "0");
	delay_is(0.004, "0");
	delay_is(0.01, "0.01");
	delay_is(0.5, "0.5");
	delay_is(1.2, "1.2");
	delay_is(2.0, "2");
	delay_is(9.999, "10");
	delay_is(17.4, "17");
	delay_is(-3, "0");
}

static void
test_dsn_log_line_has_every_field(void **state)
{
	struct deliver_rcpt   r = { .addr = "bob@example.org",
				    .orig = "Bob@Example.org" };
	struct deliver_status st;
	struct dsn_log_times  t = { .arrival = 100,
				    .qmgr = 100.5,
				    .start = 101,
				    .conn = 101.25,
				    .done = 103 };
	VSTR		     *v = vstr_alloc(64);

	(void)state;
	deliver_status_set(&st, DELIVER_BOUNCED, "5.1.1",
			   "550 5.1.1 no such\r\nuser",
			   "mx.example.org[192.0.2.1]:25");
	dsn_log_format(v, &r, &st, &t);
	assert_string_equal(VSTR_STR(v),
			    "to=<bob@example.org>, orig_to=<Bob@Example.org>, "
			    "relay=mx.example.org[192.0.2.1]:25, delay=3, "
			    "delays=0.5/0.5/0.25/1.75, dsn=5.1.1, "
			    "status=bounced (550 5.1.1 no such  user)");
	/* orig_to only when it differs */
	r.orig = r.addr;
	deliver_status_set(&st, DELIVER_SENT, "2.0.0", "discarded", NULL);
	dsn_log_format(v, &r, &st, &t);
	assert_non_null(
	    strstr(VSTR_STR(v), "to=<bob@example.org>, relay=none,"));
	assert_non_null(strstr(VSTR_STR(v), "status=sent (discarded)"));
	vstr_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dsn_log_delay_formats_like_postfix),
		cmocka_unit_test(test_dsn_log_line_has_every_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
