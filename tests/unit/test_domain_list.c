/*
 * Unit tests for util/domain_list (mydestination, relay_domains,
 * fast_flush_domains style lists).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/domain_list.h"
#include "util/vstr.h"

static void
test_domain_list_names_and_patterns(void **state)
{
	DOMAIN_LIST *l = domain_list_open("Example.COM, .sub.test", false,
					  NULL);

	(void)state;
	assert_non_null(l);
	assert_int_equal(domain_list_match(l, "example.com"), 1);
	/* without parent matching, a name is only itself */
	assert_int_equal(domain_list_match(l, "mx.example.com"), 0);
	assert_int_equal(domain_list_match(l, "badexample.com"), 0);
	/* ".domain" is its subdomains only */
	assert_int_equal(domain_list_match(l, "a.sub.test"), 1);
	assert_int_equal(domain_list_match(l, "sub.test"), 0);
	assert_int_equal(domain_list_match(l, ""), 0);
	l = domain_list_free(l);
	assert_null(l);
	/* no list matches nothing */
	assert_int_equal(domain_list_match(NULL, "example.com"), 0);
}

static void
test_domain_list_parent_match_and_tables(void **state)
{
	DOMAIN_LIST *l =
	    domain_list_open("example.com inline:{ table.test=x, .dot.test=x }",
			     true, NULL);

	(void)state;
	assert_non_null(l);
	assert_int_equal(domain_list_match(l, "mx.example.com"), 1);
	assert_int_equal(domain_list_match(l, "badexample.com"), 0);
	assert_int_equal(domain_list_match(l, "table.test"), 1);
	/* parent matching applies to table keys too */
	assert_int_equal(domain_list_match(l, "a.b.table.test"), 1);
	assert_int_equal(domain_list_match(l, "x.dot.test"), 1);
	assert_int_equal(domain_list_match(l, "other.test"), 0);
	domain_list_free(l);
}

static void
test_domain_list_bad_table_is_an_error(void **state)
{
	VSTR *why = vstr_alloc(64);

	(void)state;
	assert_null(domain_list_open("nosuchtype:/x", false, why));
	assert_true(VSTR_LEN(why) > 0);
	vstr_free(why);
}

static void
test_domain_list_open_param_follows_pdms(void **state)
{
	CFG	    *cfg = harness_cfg("relay_domains = example.com\n"
					       "fast_flush_domains = $relay_domains\n");
	DOMAIN_LIST *l;

	(void)state;
	/* Postfix's default parent_domain_matches_subdomains lists both. */
	assert_true(domain_list_parent_match(cfg, "fast_flush_domains"));
	assert_false(domain_list_parent_match(cfg, "mydestination"));
	l = domain_list_open_param(cfg, "fast_flush_domains", NULL);
	assert_int_equal(domain_list_match(l, "mx.example.com"), 1);
	domain_list_free(l);
	cfg_free(cfg);
	cfg = harness_cfg("fast_flush_domains = example.com\n"
			  "parent_domain_matches_subdomains = relay_domains\n");
	l = domain_list_open_param(cfg, "fast_flush_domains", NULL);
	assert_int_equal(domain_list_match(l, "example.com"), 1);
	assert_int_equal(domain_list_match(l, "mx.example.com"), 0);
	domain_list_free(l);
	cfg_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_list_names_and_patterns),
		cmocka_unit_test(test_domain_list_parent_match_and_tables),
		cmocka_unit_test(test_domain_list_bad_table_is_an_error),
		cmocka_unit_test(test_domain_list_open_param_follows_pdms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
