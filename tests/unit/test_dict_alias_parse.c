/*
 * Unit tests for util/dict_alias_parse: aliases(5) entries and the split
 * of an alias value into addresses, |commands, /files and :include:s.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/dict_alias_parse.h"
#include "util/vstr.h"

static void
test_dict_alias_parse_split_kinds(void **state)
{
	VSTR		   *why = vstr_alloc(64);
	DICT_ALIAS_MEMBERS *m;

	(void)state;
	m = dict_alias_split(" joe, ann@example.com ,\"|/usr/bin/vacation -a "
			     "joe\", |/bin/cat, /var/mail/archive, "
			     "\"/path with space\", :include:/etc/mail/staff, "
			     ":INCLUDE: \"/etc/q list\", \\joe,,",
			     why);
	assert_non_null(m);
	assert_int_equal(m->count, 9);
	assert_int_equal(m->items[0].kind, DICT_ALIAS_ADDRESS);
	assert_string_equal(m->items[0].text, "joe");
	assert_int_equal(m->items[1].kind, DICT_ALIAS_ADDRESS);
	assert_string_equal(m->items[1].text, "ann@example.com");
	assert_int_equal(m->items[2].kind, DICT_ALIAS_COMMAND);
	assert_string_equal(m->items[2].text, "/usr/bin/vacation -a joe");
	assert_string_equal(m->items[2].raw, "\"|/usr/bin/vacation -a joe\"");
	assert_int_equal(m->items[3].kind, DICT_ALIAS_COMMAND);
	assert_string_equal(m->items[3].text, "/bin/cat");
	assert_int_equal(m->items[4].kind, DICT_ALIAS_FILE);
	assert_string_equal(m->items[4].text, "/var/mail/archive");
	assert_int_equal(m->items[5].kind, DICT_ALIAS_FILE);
	assert_string_equal(m->items[5].text, "/path with space");
	assert_int_equal(m->items[6].kind, DICT_ALIAS_INCLUDE);
	assert_string_equal(m->items[6].text, "/etc/mail/staff");
	assert_int_equal(m->items[7].kind, DICT_ALIAS_INCLUDE);
	assert_string_equal(m->items[7].text, "/etc/q list");
	assert_int_equal(m->items[8].kind, DICT_ALIAS_ADDRESS);
	assert_string_equal(m->items[8].text, "\\joe");
	dict_alias_members_free(m);
	vstr_free(why);
}

static void
test_dict_alias_parse_split_addresses_with_names(void **state)
{
	VSTR		   *why = vstr_alloc(64);
	DICT_ALIAS_MEMBERS *m;

	(void)state;
	m = dict_alias_split("\"Doe, John\" <jd@example.com>, "
			     "ann@example.com (Ann, in sales), "
			     "\"odd local\"@example.com",
			     why);
	assert_non_null(m);
	assert_int_equal(m->count, 3);
	assert_string_equal(m->items[0].text, "jd@example.com");
	assert_string_equal(m->items[1].text, "ann@example.com");
	assert_string_equal(m->items[2].text, "\"odd local\"@example.com");
	dict_alias_members_free(m);
	vstr_free(why);
}

static void
test_dict_alias_parse_split_errors(void **state)
{
	VSTR *why = vstr_alloc(64);

	(void)state;
	assert_null(dict_alias_split("\"|unterminated", why));
	assert_non_null(strstr(VSTR_STR(why), "unterminated"));
	assert_null(dict_alias_split("a <b@c", why));
	assert_non_null(strstr(VSTR_STR(why), "unbalanced"));
	assert_null(dict_alias_split("a (comment", why));
	assert_non_null(strstr(VSTR_STR(why), "unbalanced"));
	assert_null(dict_alias_split("a)", why));
	assert_null(dict_alias_split("a>", why));
	assert_null(dict_alias_split("|", why));
	assert_non_null(strstr(VSTR_STR(why), "empty command"));
	assert_null(dict_alias_split(":include:", why));
	assert_non_null(strstr(VSTR_STR(why), "missing path"));
	assert_null(dict_alias_split("(just a comment)", why));
	assert_non_null(strstr(VSTR_STR(why), "empty address"));
	vstr_free(why);
}

static void
test_dict_alias_parse_line_normalises_value(void **state)
{
	VSTR *why = vstr_alloc(64);
	VSTR *key = vstr_alloc(64);
	VSTR *val = vstr_alloc(64);

	(void)state;
	assert_int_equal(dict_alias_parse_line("Root:  admin,\t  "
					       "\"|/bin/log x\" ,/tmp/f",
					       key, val, why),
			 0);
	assert_string_equal(VSTR_STR(key), "Root");
	assert_string_equal(VSTR_STR(val), "admin, \"|/bin/log x\", /tmp/f");

	assert_int_equal(dict_alias_parse_line("\"my list\" : a, b", key, val,
					       why),
			 0);
	assert_string_equal(VSTR_STR(key), "my list");
	assert_string_equal(VSTR_STR(val), "a, b");

	assert_int_equal(dict_alias_parse_line("name value", key, val, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "no ':'"));
	assert_int_equal(dict_alias_parse_line("two words: x", key, val, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "white space"));
	assert_int_equal(dict_alias_parse_line(": x", key, val, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "empty alias name"));
	assert_int_equal(dict_alias_parse_line("a: , ,", key, val, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "no value"));
	assert_int_equal(dict_alias_parse_line("\"a: b", key, val, why), -1);
	vstr_free(why);
	vstr_free(key);
	vstr_free(val);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dict_alias_parse_split_kinds),
		cmocka_unit_test(
		    test_dict_alias_parse_split_addresses_with_names),
		cmocka_unit_test(test_dict_alias_parse_split_errors),
		cmocka_unit_test(test_dict_alias_parse_line_normalises_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
