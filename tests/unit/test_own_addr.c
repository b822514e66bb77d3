/*
 * Unit tests for util/own_addr: which address literals are this host's
 * (inet_interfaces, proxy_interfaces, loopback-only, all) and the IP
 * normalisation that smtpd and qmgr share.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/own_addr.h"
#include "util/vstr.h"

static OWN_ADDR *
open_with(const char *maincf, CFG **cfg)
{
	VSTR *why = vstr_alloc(16);

	*cfg = cfg_open_buffer(NULL, "main.cf", maincf, strlen(maincf), why);
	assert_non_null(*cfg);
	vstr_free(why);
	return own_addr_open(*cfg);
}

static void
test_own_addr_norm_accepts_the_literal_forms(void **state)
{
	char out[INET6_ADDRSTRLEN];

	(void)state;
	assert_true(own_addr_norm("[192.0.2.1]", out, sizeof(out)));
	assert_string_equal(out, "192.0.2.1");
	assert_true(own_addr_norm("[IPv6:2001:DB8:0::1]", out, sizeof(out)));
	assert_string_equal(out, "2001:db8::1");
	assert_true(own_addr_norm("ipv6:::1", out, sizeof(out)));
	assert_string_equal(out, "::1");
	assert_false(own_addr_norm("[mail.example.com]", out, sizeof(out)));
	assert_false(own_addr_norm("[192.0.2.256]", out, sizeof(out)));
	assert_false(own_addr_norm("", out, sizeof(out)));
	/* Too small an output buffer is a refusal, not a truncation. */
	assert_false(own_addr_norm("192.0.2.1", out, 4));
}

static void
test_own_addr_listed_interfaces_and_proxies(void **state)
{
	CFG	 *cfg;
	OWN_ADDR *o = open_with("inet_interfaces = 127.0.0.1, mail.example\n"
				"proxy_interfaces = 192.0.2.25 [2001:db8::25]\n",
				&cfg);

	(void)state;
	assert_true(own_addr_literal(o, "[127.0.0.1]"));
	assert_true(own_addr_literal(o, "[192.0.2.25]"));
	assert_true(own_addr_literal(o, "[IPv6:2001:db8:0:0::25]"));
	assert_false(own_addr_literal(o, "[127.0.0.2]"));
	/* Only bracketed literals: a bare address is a domain name. */
	assert_false(own_addr_literal(o, "127.0.0.1"));
	assert_false(own_addr_literal(o, "[mail.example]"));
	assert_false(own_addr_literal(NULL, "[127.0.0.1]"));
	own_addr_free(o);
	cfg_free(cfg);
}

static void
test_own_addr_loopback_only_and_all(void **state)
{
	CFG	 *cfg;
	OWN_ADDR *o = open_with("inet_interfaces = loopback-only\n", &cfg);

	(void)state;
	assert_true(own_addr_literal(o, "[127.0.0.1]"));
	assert_true(own_addr_literal(o, "[IPv6:::1]"));
	own_addr_free(o);
	cfg_free(cfg);
	/* all: the host's interface addresses, loopback among them. */
	o = open_with("inet_interfaces = all\n", &cfg);
	assert_true(own_addr_literal(o, "[127.0.0.1]"));
	assert_false(own_addr_literal(o, "[192.0.2.254]"));
	own_addr_free(o);
	cfg_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_addr_norm_accepts_the_literal_forms),
		cmocka_unit_test(test_own_addr_listed_interfaces_and_proxies),
		cmocka_unit_test(test_own_addr_loopback_only_and_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
