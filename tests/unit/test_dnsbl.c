/*
 * Unit tests for util/dnsbl: the postscreen_dnsbl_sites syntax (domains,
 * filters with numbers, ranges and lists, weights), refusals that name
 * the entry, and the scoring of replies (filters, several entries per
 * domain, each weight at most once, allow lists, the naming site).
 *
 * SPDX-License-Identifier: ISC
 */
#include <limits.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "util/dnsbl.h"
#include "util/vstr.h"

static DNSBL *
parse_ok(const char *sites)
{
	VSTR  *why = vstr_alloc(64);
	DNSBL *bl = dnsbl_parse(sites, why);

	if (bl == NULL)
		fail_msg("\"%s\" refused: %s", sites, VSTR_STR(why));
	vstr_free(why);
	return bl;
}

/* The list is refused and the reason contains want. */
static void
parse_bad(const char *sites, const char *want)
{
	VSTR  *why = vstr_alloc(64);
	DNSBL *bl = dnsbl_parse(sites, why);

	if (bl != NULL)
		fail_msg("\"%s\" accepted", sites);
	if (strstr(VSTR_STR(why), want) == NULL)
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", sites,
			 VSTR_STR(why), want);
	vstr_free(why);
}

static void
test_dnsbl_parse_domains_in_first_appearance_order(void **state)
{
	DNSBL *bl;

	(void)state;
	bl = parse_ok("zen.spamhaus.org*3, "
		      "b.barracudacentral.org=127.0.0.[2..11]*2,\n"
		      "\tlist.dnswl.org=127.0.[0..255].[1;2;3]*-2 "
		      "ZEN.Spamhaus.ORG=127.0.0.4");
	assert_int_equal(dnsbl_entry_count(bl), 4);
	assert_int_equal(dnsbl_domain_count(bl), 3);
	assert_string_equal(dnsbl_domain_at(bl, 0), "zen.spamhaus.org");
	assert_string_equal(dnsbl_domain_at(bl, 1), "b.barracudacentral.org");
	assert_string_equal(dnsbl_domain_at(bl, 2), "list.dnswl.org");
	assert_null(dnsbl_domain_at(bl, 3));
	assert_null(dnsbl_free(bl));

	bl = parse_ok("");
	assert_int_equal(dnsbl_domain_count(bl), 0);
	dnsbl_free(bl);
	bl = parse_ok(" , ,\t");
	assert_int_equal(dnsbl_entry_count(bl), 0);
	dnsbl_free(bl);
	bl = dnsbl_parse(NULL, NULL);
	assert_non_null(bl);
	dnsbl_free(bl);
}

static void
test_dnsbl_parse_refuses_bad_entries_by_name(void **state)
{
	(void)state;
	parse_bad("ok.example, bad..example", "entry \"bad..example\"");
	parse_bad("ok.example .bad.example", "bad domain name");
	parse_bad("bad.example.", "bad domain name");
	parse_bad("b@d.example", "\"b@d.example\"");
	parse_bad("=127.0.0.2", "bad domain name");
	parse_bad("x.example*", "bad weight");
	parse_bad("x.example*two", "entry \"x.example*two\": bad weight");
	parse_bad("x.example*1.5", "bad weight");
	parse_bad("x.example*--1", "bad weight");
	parse_bad("x.example*1000001", "bad weight");
	parse_bad("x.example*2*3", "bad weight");
	parse_bad("x.example=", "bad filter");
	parse_bad("x.example=127.0.0", "four octets");
	parse_bad("x.example=127.0.0.2.5", "after the fourth octet");
	parse_bad("x.example=127.0.0.256", "0-255");
	parse_bad("x.example=127.0.0.0002", "0-255");
	parse_bad("x.example=127.0.0.[2..]", "range end");
	parse_bad("x.example=127.0.0.[5..2]", "backwards");
	parse_bad("x.example=127.0.0.[]", "bracket item");
	parse_bad("x.example=127.0.0.[1;]", "bracket item");
	parse_bad("x.example=127.0.0.[1,2]", "bad filter");
	parse_bad("x.example=127.0.0.[1", "expected ';' or ']'");
	parse_bad("x.example=127.0.0.*", "bad weight");
	parse_bad("x.example=127.0.0.2=127.0.0.3", "bad filter");
	parse_bad("x.example*2=127.0.0.2", "bad weight");
}

static void
test_dnsbl_filter_octet_forms(void **state)
{
	(void)state;
	assert_true(dnsbl_filter_match("127.0.0.2", "127.0.0.2"));
	assert_false(dnsbl_filter_match("127.0.0.2", "127.0.0.3"));
	assert_true(dnsbl_filter_match("127.0.0.[2..11]", "127.0.0.2"));
	assert_true(dnsbl_filter_match("127.0.0.[2..11]", "127.0.0.11"));
	assert_false(dnsbl_filter_match("127.0.0.[2..11]", "127.0.0.12"));
	assert_false(dnsbl_filter_match("127.0.0.[2..11]", "127.0.0.1"));
	assert_true(dnsbl_filter_match("127.0.[0..255].[1;2;3]", "127.0.9.3"));
	assert_false(dnsbl_filter_match("127.0.[0..255].[1;2;3]", "127.0.9.4"));
	assert_true(dnsbl_filter_match("127.0.0.[1..3;5]", "127.0.0.5"));
	assert_false(dnsbl_filter_match("127.0.0.[1..3;5]", "127.0.0.4"));
	assert_true(dnsbl_filter_match("[0..255].[0..255].[0..255].[0..255]",
				       "255.0.255.0"));
	assert_true(dnsbl_filter_match("127.0.0.[7]", "127.0.0.7"));
	assert_true(dnsbl_filter_match("127.0.0.[7..7]", "127.0.0.7"));
	/* a bad filter or address never matches */
	assert_false(dnsbl_filter_match("127.0.0", "127.0.0.2"));
	assert_false(dnsbl_filter_match("127.0.0.2", "::1"));
	assert_false(dnsbl_filter_match("127.0.0.2", "127.0.0.2 "));
}

static void
test_dnsbl_score_filters_and_weights(void **state)
{
	DNSBL	   *bl;
	DNSBL_SCORE s;

	(void)state;
	bl = parse_ok("zen.example*3, bl.example=127.0.0.[2..11]*2, "
		      "wl.example=127.0.[0..255].[1;2;3]*-2, plain.example");
	dnsbl_score_init(&s);
	assert_int_equal(s.total, 0);
	assert_null(s.site);
	/* any address counts without a filter */
	assert_int_equal(dnsbl_score_reply(bl, &s, "zen.example", "127.0.0.4"),
			 3);
	/* matching filter; the weight once though both addresses match */
	assert_int_equal(dnsbl_score_reply(bl, &s, "BL.Example",
					   "127.0.0.2 127.0.0.3"),
			 2);
	assert_int_equal(s.total, 5);
	assert_string_equal(s.site, "zen.example");
	assert_int_equal(s.site_weight, 3);
	/* allow list lowers the score and never names the site */
	assert_int_equal(dnsbl_score_reply(bl, &s, "wl.example", "127.0.5.2"),
			 -2);
	assert_int_equal(s.total, 3);
	assert_string_equal(s.site, "zen.example");
	/* empty result, unknown domain, unmatched filter: nothing */
	assert_int_equal(dnsbl_score_reply(bl, &s, "plain.example", ""), 0);
	assert_int_equal(dnsbl_score_reply(bl, &s, "other.example",
					   "127.0.0.2"),
			 0);
	assert_int_equal(dnsbl_score_reply(bl, &s, "bl.example", "127.0.0.12"),
			 0);
	assert_int_equal(dnsbl_score_reply(bl, &s, "wl.example", "127.0.5.4"),
			 0);
	/* garbage tokens are skipped, real addresses still count */
	assert_int_equal(dnsbl_score_reply(bl, &s, "plain.example",
					   "junk  127.0.0.9 ::1"),
			 1);
	assert_int_equal(dnsbl_score_reply(bl, &s, "plain.example", "junk"), 0);
	assert_int_equal(dnsbl_score_reply(bl, &s, "plain.example", NULL), 0);
	assert_int_equal(s.total, 4);
	dnsbl_free(bl);
}

static void
test_dnsbl_score_same_domain_several_entries(void **state)
{
	DNSBL	   *bl;
	DNSBL_SCORE s;

	(void)state;
	bl = parse_ok("list.example=127.0.[2..15].0*-2 "
		      "list.example=127.0.[2..15].1*-3 "
		      "list.example=127.0.[2..15].[2..3]*-4 "
		      "bl.example=127.0.0.2*1 bl.example=127.0.0.[2;4]*4 "
		      "bl.example=127.0.0.4*2");
	assert_int_equal(dnsbl_domain_count(bl), 2);
	dnsbl_score_init(&s);
	/* two entries match one reply with two addresses: both count */
	assert_int_equal(dnsbl_score_reply(bl, &s, "list.example",
					   "127.0.3.0 127.0.3.3"),
			 -6);
	assert_null(s.site);
	assert_int_equal(dnsbl_score_reply(bl, &s, "bl.example", "127.0.0.2"),
			 5);
	assert_int_equal(s.total, -1);
	assert_string_equal(s.site, "bl.example");
	assert_int_equal(s.site_weight, 4);
	dnsbl_free(bl);
}

static void
test_dnsbl_score_site_is_largest_positive_weight(void **state)
{
	DNSBL	   *bl;
	DNSBL_SCORE s;

	(void)state;
	bl = parse_ok("a.example*2 b.example*5 c.example*5 d.example*0");
	dnsbl_score_init(&s);
	dnsbl_score_reply(bl, &s, "d.example", "127.0.0.2");
	assert_null(s.site);
	dnsbl_score_reply(bl, &s, "a.example", "127.0.0.2");
	assert_string_equal(s.site, "a.example");
	dnsbl_score_reply(bl, &s, "b.example", "127.0.0.2");
	assert_string_equal(s.site, "b.example");
	/* a tie keeps the first */
	dnsbl_score_reply(bl, &s, "c.example", "127.0.0.2");
	assert_string_equal(s.site, "b.example");
	assert_int_equal(s.total, 12);
	dnsbl_free(bl);
}

static void
test_dnsbl_score_saturates(void **state)
{
	VSTR	   *list = vstr_alloc(64);
	DNSBL	   *bl;
	DNSBL_SCORE s;

	(void)state;
	for (int i = 0; i < 3000; i++)
		vstr_strcat(list, "big.example*1000000 ");
	bl = parse_ok(VSTR_STR(list));
	dnsbl_score_init(&s);
	assert_int_equal(dnsbl_score_reply(bl, &s, "big.example", "127.0.0.2"),
			 INT_MAX);
	assert_int_equal(s.total, INT_MAX);
	dnsbl_free(bl);
	vstr_strcpy(list, "");
	for (int i = 0; i < 3000; i++)
		vstr_strcat(list, "wl.example*-1000000 ");
	bl = parse_ok(VSTR_STR(list));
	dnsbl_score_init(&s);
	dnsbl_score_reply(bl, &s, "wl.example", "127.0.0.2");
	assert_int_equal(s.total, INT_MIN);
	dnsbl_free(bl);
	vstr_free(list);
}

static void
test_dnsbl_domain_valid(void **state)
{
	char long_label[70];
	char long_name[300];

	(void)state;
	assert_true(dnsbl_domain_valid("zen.spamhaus.org"));
	assert_true(dnsbl_domain_valid("a"));
	assert_true(dnsbl_domain_valid("x-y_z.example"));
	assert_true(dnsbl_domain_valid("2.0.0.127.zen.example"));
	assert_false(dnsbl_domain_valid(""));
	assert_false(dnsbl_domain_valid("."));
	assert_false(dnsbl_domain_valid("a..b"));
	assert_false(dnsbl_domain_valid(".a"));
	assert_false(dnsbl_domain_valid("a."));
	assert_false(dnsbl_domain_valid("a b"));
	assert_false(dnsbl_domain_valid("a\nb"));
	memset(long_label, 'a', 64);
	long_label[64] = 0;
	assert_false(dnsbl_domain_valid(long_label));
	long_label[63] = 0;
	assert_true(dnsbl_domain_valid(long_label));
	for (size_t i = 0; i < sizeof(long_name) - 1; i++)
		long_name[i] = i % 2 ? '.' : 'a';
	long_name[253] = 0;
	assert_true(dnsbl_domain_valid(long_name));
	long_name[253] = 'a';
	long_name[254] = 0;
	assert_false(dnsbl_domain_valid(long_name));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_dnsbl_parse_domains_in_first_appearance_order),
		cmocka_unit_test(test_dnsbl_parse_refuses_bad_entries_by_name),
		cmocka_unit_test(test_dnsbl_filter_octet_forms),
		cmocka_unit_test(test_dnsbl_score_filters_and_weights),
		cmocka_unit_test(test_dnsbl_score_same_domain_several_entries),
		cmocka_unit_test(
		    test_dnsbl_score_site_is_largest_positive_weight),
		cmocka_unit_test(test_dnsbl_score_saturates),
		cmocka_unit_test(test_dnsbl_domain_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
