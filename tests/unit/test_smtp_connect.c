/*
 * Unit tests for smtp/smtp_connect (next hop parsing, MX ordering,
 * address list limits) and the delay format of smtp/smtp_log.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>

#include "tests/unit/harness.h"
#include "smtp/smtp.h"

static void
nexthop(const char *in, const char *host, int port, bool no_mx)
{
	VSTR *h = vstr_alloc(10);
	VSTR *why = vstr_alloc(10);
	int   p;
	bool  nm;

	assert_int_equal(smtp_nexthop_parse(in, 25, h, &p, &nm, why), 0);
	assert_string_equal(VSTR_STR(h), host);
	assert_int_equal(p, port);
	assert_int_equal(nm, no_mx);
	vstr_free(h);
	vstr_free(why);
}

static void
test_smtp_connect_nexthop_forms(void **state)
{
	(void)state;
	nexthop("example.com", "example.com", 25, false);
	nexthop("Example.COM.", "example.com", 25, false);
	nexthop("example.com:587", "example.com", 587, false);
	nexthop("[mx.example.com]", "mx.example.com", 25, true);
	nexthop("[127.0.0.2]:2525", "127.0.0.2", 2525, true);
	nexthop("[ipv6:::1]:26", "ipv6:::1", 26, true);
	nexthop("example.com:submission", "example.com", 587, false);
	nexthop("2001:db8::1", "2001:db8::1", 25, false);
}

static void
test_smtp_connect_nexthop_rejects_garbage(void **state)
{
	VSTR *h = vstr_alloc(10);
	VSTR *why = vstr_alloc(10);
	int   p;
	bool  nm;

	(void)state;
	assert_int_equal(smtp_nexthop_parse("[]", 25, h, &p, &nm, why), -1);
	assert_int_equal(smtp_nexthop_parse("[x", 25, h, &p, &nm, why), -1);
	assert_int_equal(smtp_nexthop_parse("[x]y", 25, h, &p, &nm, why), -1);
	assert_int_equal(smtp_nexthop_parse("x:0", 25, h, &p, &nm, why), -1);
	assert_int_equal(smtp_nexthop_parse("x:70000", 25, h, &p, &nm, why),
			 -1);
	assert_int_equal(smtp_nexthop_parse(":25", 25, h, &p, &nm, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "next hop"));
	vstr_free(h);
	vstr_free(why);
}

static unsigned
seq_rnd(void *ctx)
{
	unsigned *n = ctx;

	/* A small LCG: deterministic, and every residue shows up. */
	*n = *n * 1103515245u + 12345u;
	return *n >> 16;
}

static void
test_smtp_connect_mx_order_by_preference(void **state)
{
	struct smtp_mx mx[] = {
		{ "c", 30 }, { "a", 10 }, { "b", 20 }, { "a2", 10 }, { "z", 0 },
	};
	unsigned n = 0;

	(void)state;
	smtp_mx_order(mx, 5, seq_rnd, &n);
	assert_string_equal(mx[0].host, "z");
	assert_int_equal(mx[1].pref, 10);
	assert_int_equal(mx[2].pref, 10);
	assert_string_equal(mx[3].host, "b");
	assert_string_equal(mx[4].host, "c");
}

static void
test_smtp_connect_mx_equal_preferences_shuffled(void **state)
{
	int	 first_seen[4] = { 0, 0, 0, 0 };
	unsigned n = 1;

	(void)state;
	for (int round = 0; round < 200; round++) {
		struct smtp_mx mx[] = {
			{ "0", 5 }, { "1", 5 },	   { "2", 5 },
			{ "3", 5 }, { "low", 50 },
		};

		smtp_mx_order(mx, 5, seq_rnd, &n);
		first_seen[mx[0].host[0] - '0']++;
		/* The lower preference never moves ahead. */
		assert_string_equal(mx[4].host, "low");
	}
	for (int i = 0; i < 4; i++)
		assert_true(first_seen[i] > 0);
}

static void
test_smtp_connect_addrs_dedup_and_limit(void **state)
{
	SMTP_ADDRS    list = { NULL, 0, 0 };
	unsigned char a[4] = { 127, 0, 0, 2 };
	unsigned char b[4] = { 127, 0, 0, 3 };
	unsigned char c[16];

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "::1", c), 1);
	smtp_addrs_add(&list, "mx1", AF_INET, a, 10);
	smtp_addrs_add(&list, "mx1-again", AF_INET, a, 10);
	smtp_addrs_add(&list, "mx2", AF_INET, b, 20);
	smtp_addrs_add(&list, "mx3", AF_INET6, c, 30);
	assert_int_equal(list.n, 3);
	assert_string_equal(list.v[0].ip, "127.0.0.2");
	assert_string_equal(list.v[2].ip, "::1");
	smtp_addrs_limit(&list, 0);
	assert_int_equal(list.n, 3);
	smtp_addrs_limit(&list, 2);
	assert_int_equal(list.n, 2);
	assert_string_equal(list.v[1].host, "mx2");
	smtp_addrs_free(&list);
	assert_null(list.v);
}

static void
test_smtp_connect_ip_literal_needs_no_dns(void **state)
{
	SMTP_STATE st;
	SMTP_ADDRS list = { NULL, 0, 0 };
	VSTR	  *why = vstr_alloc(10);
	char	   dsn[DELIVER_DSN_MAX];

	(void)state;
	memset(&st, 0, sizeof(st));
	assert_int_equal(smtp_addr_find(&st, "127.0.0.9", true, &list, dsn,
					why),
			 SMTP_FIND_OK);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.v[0].ip, "127.0.0.9");
	smtp_addrs_free(&list);
	vstr_free(why);
}

static void
test_smtp_connect_refused_names_the_address(void **state)
{
	SMTP_ADDRS    list = { NULL, 0, 0 };
	unsigned char a[4] = { 127, 0, 0, 1 };
	VSTR	     *why = vstr_alloc(10);

	(void)state;
	smtp_addrs_add(&list, "dead.example", AF_INET, a, 0);
	/* Port 1 on loopback: nobody listens there. */
	assert_int_equal(smtp_connect_addr(&list.v[0], 1, 5, why), -1);
	assert_string_equal(VSTR_STR(why), "connect to dead.example"
					   "[127.0.0.1]:1: Connection refused");
	smtp_addrs_free(&list);
	vstr_free(why);
}

static void
delay(double secs, const char *want)
{
	VSTR *v = vstr_alloc(10);

	smtp_log_delay(v, secs);
	assert_string_equal(VSTR_STR(v), want);
	vstr_free(v);
}

static void
test_smtp_connect_log_delay_format(void **state)
{
	(void)state;
	delay(0, "0");
	delay(0.004, "0");
	delay(0.05, "0.05");
	delay(0.1, "0.1");
	delay(0.356, "0.36");
	delay(1.23, "1.2");
	delay(2.0, "2");
	delay(31.4, "31");
	delay(1545.2, "1545");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtp_connect_nexthop_forms),
		cmocka_unit_test(test_smtp_connect_nexthop_rejects_garbage),
		cmocka_unit_test(test_smtp_connect_mx_order_by_preference),
		cmocka_unit_test(
		    test_smtp_connect_mx_equal_preferences_shuffled),
		cmocka_unit_test(test_smtp_connect_addrs_dedup_and_limit),
		cmocka_unit_test(test_smtp_connect_ip_literal_needs_no_dns),
		cmocka_unit_test(test_smtp_connect_refused_names_the_address),
		cmocka_unit_test(test_smtp_connect_log_delay_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
