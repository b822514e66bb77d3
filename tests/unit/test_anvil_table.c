/*
 * Unit tests for anvil/anvil_table (anvil(8)'s counters, rate units,
 * owners, expiry and the statistics lines).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdlib.h>
#include <string.h>

#include "anvil/anvil_table.h"
#include "tests/unit/harness.h"
#include "util/vstr.h"

#define T0 ((time_t)1796659323) /* a Monday in December 2026 */

static struct anvil_reply
req(ANVIL_TABLE *t, ANVIL_OWNER *o, enum anvil_req r, const char *ident,
    time_t now)
{
	struct anvil_reply rp;

	anvil_table_request(t, o,
			    &(struct anvil_request){ .req = r, .ident = ident },
			    now, &rp);
	assert_int_equal(rp.status, ANVIL_STAT_OK);
	return rp;
}

static void
test_anvil_table_counts_connections(void **state)
{
	ANVIL_TABLE	  *t = anvil_table_create(60);
	ANVIL_OWNER	  *a = anvil_owner_create(t);
	ANVIL_OWNER	  *b = anvil_owner_create(t);
	struct anvil_reply rp;

	(void)state;
	rp = req(t, a, ANVIL_REQ_CONNECT, "smtp:127.0.0.1", T0);
	assert_int_equal(rp.count, 1);
	assert_int_equal(rp.rate, 1);
	rp = req(t, b, ANVIL_REQ_CONNECT, "smtp:127.0.0.1", T0 + 1);
	assert_int_equal(rp.count, 2);
	assert_int_equal(rp.rate, 2);
	/* another client, another service: counted apart */
	rp = req(t, a, ANVIL_REQ_CONNECT, "smtp:127.0.0.2", T0 + 1);
	assert_int_equal(rp.count, 1);
	rp = req(t, a, ANVIL_REQ_CONNECT, "submission:127.0.0.1", T0 + 1);
	assert_int_equal(rp.count, 1);
	req(t, a, ANVIL_REQ_DISCONNECT, "smtp:127.0.0.1", T0 + 2);
	rp = req(t, a, ANVIL_REQ_LOOKUP, "smtp:127.0.0.1", T0 + 2);
	assert_int_equal(rp.count, 1);
	assert_int_equal(rp.rate, 2);
	/* a disconnect of a connection the owner never made is ignored */
	req(t, a, ANVIL_REQ_DISCONNECT, "smtp:127.0.0.1", T0 + 2);
	req(t, a, ANVIL_REQ_DISCONNECT, "smtp:192.0.2.9", T0 + 2);
	rp = req(t, a, ANVIL_REQ_LOOKUP, "smtp:127.0.0.1", T0 + 2);
	assert_int_equal(rp.count, 1);
	/* unknown clients look empty and are not added */
	rp = req(t, a, ANVIL_REQ_LOOKUP, "smtp:192.0.2.9", T0 + 2);
	assert_int_equal(rp.count + rp.rate, 0);
	assert_int_equal(anvil_table_size(t), 3);
	/* an owner that goes away gives its connections back */
	b = anvil_owner_free(t, b, T0 + 3);
	rp = req(t, a, ANVIL_REQ_LOOKUP, "smtp:127.0.0.1", T0 + 3);
	assert_int_equal(rp.count, 0);
	a = anvil_owner_free(t, a, T0 + 3);
	anvil_table_free(t);
}

static void
test_anvil_table_rates_reset_after_a_unit(void **state)
{
	ANVIL_TABLE	  *t = anvil_table_create(3);
	ANVIL_OWNER	  *o = anvil_owner_create(t);
	const char	  *id = "smtp:127.0.0.1";
	struct anvil_reply rp;

	(void)state;
	req(t, o, ANVIL_REQ_CONNECT, id, T0);
	for (int i = 1; i <= 4; i++) {
		assert_int_equal(req(t, o, ANVIL_REQ_MESSAGE, id, T0).rate, i);
		assert_int_equal(req(t, o, ANVIL_REQ_RECIPIENT, id, T0 + 1).rate,
				 i);
		assert_int_equal(req(t, o, ANVIL_REQ_NEWTLS, id, T0 + 1).rate,
				 i);
		assert_int_equal(req(t, o, ANVIL_REQ_AUTH, id, T0 + 2).rate, i);
	}
	rp = req(t, o, ANVIL_REQ_NEWTLS_REPORT, id, T0 + 2);
	assert_int_equal(rp.rate, 4);
	rp = req(t, o, ANVIL_REQ_LOOKUP, id, T0 + 2);
	assert_int_equal(rp.count, 1);
	assert_int_equal(rp.rate, 1);
	assert_int_equal(rp.message, 4);
	assert_int_equal(rp.recipient, 4);
	assert_int_equal(rp.newtls, 4);
	assert_int_equal(rp.auth, 4);
	/* checks do not count */
	assert_int_equal(req(t, o, ANVIL_REQ_NEWTLS_REPORT, id, T0 + 2).rate,
			 4);
	/* a whole unit later the checks see zero ... */
	rp = req(t, o, ANVIL_REQ_LOOKUP, id, T0 + 3);
	assert_int_equal(rp.count, 1);
	assert_int_equal(rp.message + rp.rate + rp.auth, 0);
	assert_int_equal(req(t, o, ANVIL_REQ_NEWTLS_REPORT, id, T0 + 3).rate,
			 0);
	/* ... and the next event starts a new unit, every rate from zero */
	assert_int_equal(req(t, o, ANVIL_REQ_AUTH, id, T0 + 3).rate, 1);
	rp = req(t, o, ANVIL_REQ_LOOKUP, id, T0 + 4);
	assert_int_equal(rp.message, 0);
	assert_int_equal(rp.auth, 1);
	assert_int_equal(req(t, o, ANVIL_REQ_CONNECT, id, T0 + 5).rate, 1);
	assert_int_equal(req(t, o, ANVIL_REQ_CONNECT, id, T0 + 5).count, 3);
	anvil_owner_free(t, o, T0 + 6);
	anvil_table_free(t);
}

static void
test_anvil_table_event_without_connect(void **state)
{
	ANVIL_TABLE	  *t = anvil_table_create(60);
	ANVIL_OWNER	  *o = anvil_owner_create(t);
	struct anvil_reply rp;

	(void)state;
	/* anvil restarted after smtpd's connect: the connection counts */
	assert_int_equal(req(t, o, ANVIL_REQ_MESSAGE, "smtp:10.0.0.1", T0).rate,
			 1);
	rp = req(t, o, ANVIL_REQ_LOOKUP, "smtp:10.0.0.1", T0);
	assert_int_equal(rp.count, 1);
	assert_int_equal(rp.rate, 1);
	req(t, o, ANVIL_REQ_DISCONNECT, "smtp:10.0.0.1", T0);
	rp = req(t, o, ANVIL_REQ_LOOKUP, "smtp:10.0.0.1", T0);
	assert_int_equal(rp.count, 0);
	anvil_owner_free(t, o, T0);
	anvil_table_free(t);
}

static void
test_anvil_table_expires_idle_entries(void **state)
{
	ANVIL_TABLE *t = anvil_table_create(10);
	ANVIL_OWNER *o = anvil_owner_create(t);
	VSTR	    *id = vstr_alloc(32);

	(void)state;
	/* 5000 clients come and go: memory follows the last unit only */
	for (int i = 0; i < 5000; i++) {
		vstr_sprintf(id, "smtp:10.0.%d.%d", i / 256, i % 256);
		req(t, o, ANVIL_REQ_CONNECT, VSTR_STR(id), T0 + i / 1000);
		req(t, o, ANVIL_REQ_DISCONNECT, VSTR_STR(id), T0 + i / 1000);
	}
	req(t, o, ANVIL_REQ_CONNECT, "smtp:192.0.2.1", T0);
	assert_int_equal(anvil_table_size(t), 5001);
	anvil_table_expire(t, T0 + 9);
	assert_int_equal(anvil_table_size(t), 5001);
	anvil_table_expire(t, T0 + 10);
	assert_int_equal(anvil_table_size(t), 4001);
	/* reconnecting takes an entry off the idle list */
	req(t, o, ANVIL_REQ_CONNECT, "smtp:10.0.7.208", T0 + 10);
	anvil_table_expire(t, T0 + 100);
	/* the connected ones stay */
	assert_int_equal(anvil_table_size(t), 2);
	assert_int_equal(req(t, o, ANVIL_REQ_LOOKUP, "smtp:192.0.2.1", T0 + 100)
			     .count,
			 1);
	anvil_owner_free(t, o, T0 + 100);
	anvil_table_expire(t, T0 + 109);
	assert_int_equal(anvil_table_size(t), 2);
	anvil_table_expire(t, T0 + 110);
	assert_int_equal(anvil_table_size(t), 0);
	vstr_free(id);
	anvil_table_free(t);
}

static void
test_anvil_table_owner_limit(void **state)
{
	ANVIL_TABLE *t = anvil_table_create(60);
	ANVIL_OWNER *o = anvil_owner_create(t);

	(void)state;
	for (int i = 0; i < ANVIL_OWNER_MAX + 5; i++)
		req(t, o, ANVIL_REQ_CONNECT, "smtp:10.0.0.1", T0);
	assert_int_equal(req(t, o, ANVIL_REQ_LOOKUP, "smtp:10.0.0.1", T0).count,
			 ANVIL_OWNER_MAX);
	anvil_owner_free(t, o, T0);
	anvil_table_free(t);
}

struct lines {
	VSTR *all;
	int   n;
};

static void
collect(void *ctx, const char *line)
{
	struct lines *l = ctx;

	vstr_strcat(l->all, line);
	vstr_strcat(l->all, "\n");
	l->n++;
}

static void
test_anvil_table_stats_lines(void **state)
{
	ANVIL_TABLE *t = anvil_table_create(60);
	ANVIL_OWNER *o = anvil_owner_create(t);
	struct lines l = { .all = vstr_alloc(256) };
	const char  *id = "smtp:127.0.0.1";

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	anvil_table_stats(t, collect, &l);
	assert_int_equal(l.n, 0);
	for (int i = 0; i < 3; i++)
		req(t, o, ANVIL_REQ_CONNECT, id, T0);
	req(t, o, ANVIL_REQ_CONNECT, "smtp:127.0.0.2", T0 + 1);
	req(t, o, ANVIL_REQ_RECIPIENT, id, T0 + 2);
	req(t, o, ANVIL_REQ_RECIPIENT, id, T0 + 2);
	anvil_table_stats(t, collect, &l);
	assert_string_equal(
	    VSTR_STR(l.all),
	    "statistics: max connection rate 3/60s for (smtp:127.0.0.1) at "
	    "Dec  7 16:02:03\n"
	    "statistics: max connection count 3 for (smtp:127.0.0.1) at "
	    "Dec  7 16:02:03\n"
	    "statistics: max recipient rate 2/60s for (smtp:127.0.0.1) at "
	    "Dec  7 16:02:05\n"
	    "statistics: max cache size 2 at Dec  7 16:02:04\n");
	/* peaks are forgotten once logged */
	vstr_reset(l.all);
	l.n = 0;
	anvil_table_stats(t, collect, &l);
	assert_int_equal(l.n, 0);
	req(t, o, ANVIL_REQ_MESSAGE, "smtp:127.0.0.2", T0 + 3);
	req(t, o, ANVIL_REQ_NEWTLS, "smtp:127.0.0.2", T0 + 3);
	req(t, o, ANVIL_REQ_AUTH, "smtp:127.0.0.2", T0 + 3);
	anvil_table_stats(t, collect, &l);
	assert_string_equal(
	    VSTR_STR(l.all),
	    "statistics: max message rate 1/60s for (smtp:127.0.0.2) at "
	    "Dec  7 16:02:06\n"
	    "statistics: max newtls rate 1/60s for (smtp:127.0.0.2) at "
	    "Dec  7 16:02:06\n"
	    "statistics: max auth rate 1/60s for (smtp:127.0.0.2) at "
	    "Dec  7 16:02:06\n");
	anvil_owner_free(t, o, T0);
	anvil_table_free(t);
	vstr_free(l.all);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anvil_table_counts_connections),
		cmocka_unit_test(test_anvil_table_rates_reset_after_a_unit),
		cmocka_unit_test(test_anvil_table_event_without_connect),
		cmocka_unit_test(test_anvil_table_expires_idle_entries),
		cmocka_unit_test(test_anvil_table_owner_limit),
		cmocka_unit_test(test_anvil_table_stats_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
