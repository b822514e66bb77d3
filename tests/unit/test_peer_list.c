/*
 * Unit tests for util/peer_list (host and network lists) and
 * util/debug_peer (debug_peer_list).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/debug_peer.h"
#include "util/msg.h"
#include "util/peer_list.h"
#include "util/vstr.h"

static void
test_peer_list_networks(void **state)
{
	(void)state;
	assert_true(
	    peer_list_match("127.0.0.0/8 [::1]/128", NULL, "127.0.0.2", false));
	assert_true(peer_list_match("10.0.0.1, [::1]/128", NULL, "::1", false));
	assert_true(
	    peer_list_match("2001:db8::/32", NULL, "2001:db8::5", false));
	assert_false(peer_list_match("127.0.0.0/8", NULL, "10.0.0.1", false));
	assert_false(peer_list_match("!127.0.0.2 127.0.0.0/8", NULL,
				     "127.0.0.2", false));
	/* tables and bad words are skipped, not fatal */
	assert_true(peer_list_match("hash:/x /etc/file 192.168.0.0/16", NULL,
				    "192.168.1.1", false));
	assert_false(
	    peer_list_match("127.0.0.0/99 junk", NULL, "127.0.0.1", false));
}

static void
test_peer_list_names(void **state)
{
	(void)state;
	assert_true(peer_list_match("mx.example.org", "MX.Example.ORG",
				    "192.0.2.1", false));
	assert_false(peer_list_match("example.org", "mx.example.org",
				     "192.0.2.1", false));
	assert_true(peer_list_match("example.org", "mx.example.org",
				    "192.0.2.1", true));
	/* a parent match needs a whole label */
	assert_false(peer_list_match("example.org", "badexample.org",
				     "192.0.2.1", true));
	assert_true(peer_list_match(".example.org", "mx.example.org",
				    "192.0.2.1", false));
	assert_false(
	    peer_list_match(".example.org", "example.org", "192.0.2.1", false));
	assert_false(peer_list_match("!mx.example.org example.org",
				     "mx.example.org", "192.0.2.1", true));
	/* no name: only networks can match */
	assert_false(peer_list_match("example.org", NULL, "192.0.2.1", true));
}

static CFG *
parse(const char *text)
{
	VSTR *why = vstr_alloc(64);
	CFG  *cfg = cfg_open_buffer(NULL, "main.cf", text, strlen(text), why);

	assert_non_null(cfg);
	vstr_free(why);
	return cfg;
}

static void
test_debug_peer_raises_and_restores_nested(void **state)
{
	CFG *cfg = parse("debug_peer_list = 192.0.2.0/24, example.org\n"
			 "debug_peer_level = 3\n");
	int  base = msg_verbose;

	(void)state;
	debug_peer_init(cfg);
	assert_false(debug_peer_check("other.test", "198.51.100.1"));
	assert_int_equal(msg_verbose, base);
	assert_true(debug_peer_check("unknown", "192.0.2.7"));
	assert_int_equal(msg_verbose, base + 3);
	/* parent_domain_matches_subdomains lists debug_peer_list by default */
	assert_true(debug_peer_check("mx.example.org", "198.51.100.2"));
	assert_int_equal(msg_verbose, base + 3);
	debug_peer_restore();
	assert_int_equal(msg_verbose, base + 3);
	debug_peer_restore();
	assert_int_equal(msg_verbose, base);
	debug_peer_restore(); /* one too many: harmless */
	assert_int_equal(msg_verbose, base);
	cfg_free(cfg);
	/* without the feature in the list, only the name itself */
	cfg = parse("debug_peer_list = example.org\n"
		    "parent_domain_matches_subdomains =\n");
	debug_peer_init(cfg);
	assert_false(debug_peer_check("mx.example.org", "198.51.100.2"));
	assert_true(debug_peer_check("example.org", "198.51.100.2"));
	debug_peer_restore();
	assert_int_equal(msg_verbose, base);
	cfg_free(cfg);
	/* empty list: nothing, ever */
	cfg = parse("");
	debug_peer_init(cfg);
	assert_false(debug_peer_check("example.org", "192.0.2.7"));
	cfg_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_list_networks),
		cmocka_unit_test(test_peer_list_names),
		cmocka_unit_test(test_debug_peer_raises_and_restores_nested),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
