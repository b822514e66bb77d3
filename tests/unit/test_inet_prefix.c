/*
 * Unit tests for util/inet_prefix (anvil's per-client key).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/inet_prefix.h"
#include "util/vstr.h"

static void
expect(const char *addr, int len, const char *want)
{
	VSTR *out = vstr_alloc(10);

	assert_int_equal(inet_prefix_key(addr, len, out), 0);
	assert_string_equal(VSTR_STR(out), want);
	vstr_free(out);
}

static void
expect_fail(const char *addr, int len, const char *why)
{
	VSTR *out = vstr_alloc(10);

	assert_int_equal(inet_prefix_key(addr, len, out), -1);
	assert_non_null(strstr(VSTR_STR(out), why));
	vstr_free(out);
}

static void
test_inet_prefix_ipv4_is_its_own_key(void **state)
{
	(void)state;
	expect("192.0.2.1", 84, "192.0.2.1");
	expect("127.0.0.2", 0, "127.0.0.2");
	/* the prefix length is for IPv6 only */
	expect("10.1.2.3", 128, "10.1.2.3");
}

static void
test_inet_prefix_v4mapped_is_ipv4(void **state)
{
	(void)state;
	expect("::ffff:192.0.2.1", 84, "192.0.2.1");
	expect("::FFFF:127.0.0.1", 64, "127.0.0.1");
}

static void
test_inet_prefix_ipv6_masked(void **state)
{
	(void)state;
	/* 84 bits: five whole groups and the top nibble of the sixth */
	expect("2001:db8:1:2:3:4:5:6", 84, "2001:db8:1:2:3::/84");
	expect("2001:db8:1:2:3:f234:5:6", 84, "2001:db8:1:2:3:f000::/84");
	expect("2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64");
	expect("2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128");
	expect("2001:db8:1:2:3:4:5:6", 0, "::/0");
	expect("::1", 84, "::/84");
	expect("::1", 128, "::1/128");
	/* two hosts of one /84 share a key */
	expect("2001:db8::1", 84, "2001:db8::/84");
	expect("2001:db8::ffff:1", 84, "2001:db8::/84");
	/* a partial byte: 60 bits keep the top nibble of byte 7 */
	expect("2001:db8:0:ffff::", 60, "2001:db8:0:fff0::/60");
}

static void
test_inet_prefix_rejects(void **state)
{
	(void)state;
	expect_fail("", 84, "not a numeric");
	expect_fail("unknown", 84, "not a numeric");
	expect_fail("[::1]", 84, "not a numeric");
	expect_fail("192.0.2.1/24", 84, "not a numeric");
	expect_fail("fe80::1%eth0", 84, "not a numeric");
	expect_fail("2001:db8::1", 129, "prefix length");
	expect_fail("2001:db8::1", -1, "prefix length");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inet_prefix_ipv4_is_its_own_key),
		cmocka_unit_test(test_inet_prefix_v4mapped_is_ipv4),
		cmocka_unit_test(test_inet_prefix_ipv6_masked),
		cmocka_unit_test(test_inet_prefix_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
