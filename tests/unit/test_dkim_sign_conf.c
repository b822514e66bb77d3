/*
 * Unit tests for util/dkim_sign_conf: key table values, signing table key
 * lists, dkim_sign_headers with oversigning, dkim_canonicalization and
 * the signing table lookup order.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/dkim_sign_conf.h"
#include "util/vstr.h"

struct kt {
	VSTR *dom, *sel, *path, *why;
};

static int
kt_parse(struct kt *k, const char *value)
{
	return dkim_sign_key_parse(value, k->dom, k->sel, k->path, k->why);
}

static void
test_dkim_sign_conf_key_value_splits_domain_selector_path(void **state)
{
	struct kt k = { vstr_alloc(8), vstr_alloc(8), vstr_alloc(8),
			vstr_alloc(8) };

	(void)state;
	assert_int_equal(kt_parse(&k, " Example.COM:s2026:/etc/dkim/a.pem \n"),
			 0);
	assert_string_equal(VSTR_STR(k.dom), "example.com");
	assert_string_equal(VSTR_STR(k.sel), "s2026");
	assert_string_equal(VSTR_STR(k.path), "/etc/dkim/a.pem");
	/* the path may hold ':' itself */
	assert_int_equal(kt_parse(&k, "a.b:sel.x_y:/k/with:colon"), 0);
	assert_string_equal(VSTR_STR(k.sel), "sel.x_y");
	assert_string_equal(VSTR_STR(k.path), "/k/with:colon");
	vstr_free(k.dom);
	vstr_free(k.sel);
	vstr_free(k.path);
	vstr_free(k.why);
}

static void
test_dkim_sign_conf_key_value_refuses_malformed_entries(void **state)
{
	struct kt k = { vstr_alloc(8), vstr_alloc(8), vstr_alloc(8),
			vstr_alloc(8) };
	static const struct {
		const char *value, *why;
	} bad[] = {
		{ "", "expected domain:selector:/path" },
		{ "example.com", "expected domain:selector:/path" },
		{ "example.com:sel", "expected domain:selector:/path" },
		{ ":sel:/k", "bad signing domain" },
		{ "ex ample.com:sel:/k", "bad signing domain" },
		{ "example..com:sel:/k", "bad signing domain" },
		{ ".example.com:sel:/k", "bad signing domain" },
		{ "example.com::/k", "bad selector" },
		{ "example.com:s;l:/k", "bad selector" },
		{ "example.com:sel:", "absolute path" },
		{ "example.com:sel:relative.pem", "absolute path" },
		{ "example.com:sel:/k\001x", "control character" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kt_parse(&k, bad[i].value), -1);
		if (strstr(VSTR_STR(k.why), bad[i].why) == NULL)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
				 bad[i].value, VSTR_STR(k.why), bad[i].why);
	}
	vstr_free(k.dom);
	vstr_free(k.sel);
	vstr_free(k.path);
	vstr_free(k.why);
}

static void
test_dkim_sign_conf_key_names_list_and_bounds(void **state)
{
	DKIM_SIGN_LIST *l = dkim_sign_list_alloc();
	VSTR	       *why = vstr_alloc(8);

	(void)state;
	assert_int_equal(dkim_sign_names_parse(l, " rsa2026,ed2026 ,\tRSA2026",
					       why),
			 0);
	/* a duplicate (in any case) gives no second signature */
	assert_int_equal(l->count, 2);
	assert_string_equal(l->item[0], "rsa2026");
	assert_string_equal(l->item[1], "ed2026");
	assert_int_equal(dkim_sign_names_parse(l, " , ", why), -1);
	assert_non_null(strstr(VSTR_STR(why), "no names"));
	assert_int_equal(dkim_sign_names_parse(l, "a b c d e f g h", why), 0);
	assert_int_equal(l->count, DKIM_SIGN_KEYS_MAX);
	assert_int_equal(dkim_sign_names_parse(l, "a b c d e f g h i", why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "more than 8"));
	assert_int_equal(dkim_sign_names_parse(l, "a\001b", why), -1);
	dkim_sign_list_free(l);
	vstr_free(why);
}

static void
test_dkim_sign_conf_headers_oversign_with_plus(void **state)
{
	DKIM_SIGN_LIST *l = dkim_sign_list_alloc();
	VSTR	       *why = vstr_alloc(8);

	(void)state;
	assert_int_equal(dkim_sign_headers_parse(l,
						 "+From, Subject Date,+subject,"
						 "to",
						 why),
			 0);
	assert_int_equal(l->count, 4);
	assert_string_equal(l->item[0], "From");
	assert_true(l->over[0]);
	assert_string_equal(l->item[1], "Subject");
	/* "+subject" later in the list oversigns the same field */
	assert_true(l->over[1]);
	assert_false(l->over[2]);
	assert_false(l->over[3]);
	assert_int_equal(dkim_sign_headers_parse(l, "From, Bad:Name", why), -1);
	assert_non_null(strstr(VSTR_STR(why), "bad character"));
	assert_int_equal(dkim_sign_headers_parse(l, "From;x", why), -1);
	assert_int_equal(dkim_sign_headers_parse(l, "+", why), -1);
	/* found by fuzz_dkim_sign_conf: "++" read as a field named "+" */
	assert_int_equal(dkim_sign_headers_parse(l, "++From", why), -1);
	assert_non_null(strstr(VSTR_STR(why), "one + only"));
	assert_int_equal(dkim_sign_headers_parse(l, "", why), -1);
	dkim_sign_list_free(l);
	vstr_free(why);
}

static void
test_dkim_sign_conf_canonicalization(void **state)
{
	VSTR *why = vstr_alloc(8);
	int   h = -1, b = -1;

	(void)state;
	assert_int_equal(dkim_sign_canon_parse("relaxed/relaxed", &h, &b, why),
			 0);
	assert_int_equal(h, DKIM_SIGN_CANON_RELAXED);
	assert_int_equal(b, DKIM_SIGN_CANON_RELAXED);
	assert_int_equal(dkim_sign_canon_parse(" Simple/relaxed ", &h, &b, why),
			 0);
	assert_int_equal(h, DKIM_SIGN_CANON_SIMPLE);
	assert_int_equal(b, DKIM_SIGN_CANON_RELAXED);
	/* RFC 6376 3.5: a lone header algorithm means a simple body */
	assert_int_equal(dkim_sign_canon_parse("relaxed", &h, &b, why), 0);
	assert_int_equal(h, DKIM_SIGN_CANON_RELAXED);
	assert_int_equal(b, DKIM_SIGN_CANON_SIMPLE);
	assert_int_equal(dkim_sign_canon_parse("relaxed/", &h, &b, why), -1);
	assert_int_equal(dkim_sign_canon_parse("loose", &h, &b, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "expected simple or relaxed"));
	vstr_free(why);
}

static void
test_dkim_sign_conf_lookup_order_address_domain_parents(void **state)
{
	DKIM_SIGN_LIST *l = dkim_sign_list_alloc();

	(void)state;
	assert_int_equal(dkim_sign_lookup_keys(l, "user@a.b.example."), 4);
	assert_string_equal(l->item[0], "user@a.b.example");
	assert_string_equal(l->item[1], "a.b.example");
	assert_string_equal(l->item[2], ".b.example");
	assert_string_equal(l->item[3], ".example");
	assert_int_equal(dkim_sign_lookup_keys(l, "\"a@b\"@example.com"), 3);
	assert_string_equal(l->item[1], "example.com");
	assert_string_equal(l->item[2], ".com");
	/* an address literal has no parent domains */
	assert_int_equal(dkim_sign_lookup_keys(l, "u@[192.0.2.1]"), 2);
	assert_int_equal(dkim_sign_lookup_keys(l, "MAILER-DAEMON"), 0);
	assert_int_equal(dkim_sign_lookup_keys(l, "user@"), 0);
	assert_int_equal(dkim_sign_lookup_keys(l, "@example.com"), 0);
	dkim_sign_list_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_dkim_sign_conf_key_value_splits_domain_selector_path),
		cmocka_unit_test(
		    test_dkim_sign_conf_key_value_refuses_malformed_entries),
		cmocka_unit_test(test_dkim_sign_conf_key_names_list_and_bounds),
		cmocka_unit_test(
		    test_dkim_sign_conf_headers_oversign_with_plus),
		cmocka_unit_test(test_dkim_sign_conf_canonicalization),
		cmocka_unit_test(
		    test_dkim_sign_conf_lookup_order_address_domain_parents),
	};

	return cmocka_run_group_tests_name("dkim_sign_conf", tests, NULL, NULL);
}
