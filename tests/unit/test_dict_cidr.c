/*
 * Unit tests for util/dict_cidr: cidr_table(5) syntax, IPv4 and IPv6,
 * first match, if/endif, negation, errors naming file:line.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/dict.h"
#include "util/vstr.h"

static char tmpdir[] = "/tmp/test_dict_cidr.XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return harness_rmtree(tmpdir);
}

static DICT *
open_file(const char *name, const char *text, VSTR *why)
{
	VSTR *path = vstr_alloc(64);
	VSTR *spec = vstr_alloc(64);
	FILE *fp;
	DICT *d;

	vstr_sprintf(path, "%s/%s", tmpdir, name);
	fp = fopen(VSTR_STR(path), "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	vstr_sprintf(spec, "cidr:%s", VSTR_STR(path));
	d = dict_open(VSTR_STR(spec), DICT_FLAG_FOLD, why);
	vstr_free(path);
	vstr_free(spec);
	return d;
}

static DICT *
open_text(const char *text, VSTR *why)
{
	return dict_open_buffer("cidr", "test", text, strlen(text), 0, why);
}

static void
test_dict_cidr_ipv4_first_match_wins(void **state)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = open_file("t1",
			    "# access by network\n"
			    "10.1.2.3        host\n"
			    "10.1.2.0/24     REJECT small net\n"
			    "10.0.0.0/8      OK\n"
			    "192.168.1.128/25 upper half\n"
			    "0.0.0.0/0       everything\n",
			    why);

	(void)state;
	assert_non_null(d);
	harness_dict_expect(d, "10.1.2.3", "host");
	harness_dict_expect(d, "10.1.2.4", "REJECT small net");
	harness_dict_expect(d, "10.200.0.1", "OK");
	harness_dict_expect(d, "192.168.1.200", "upper half");
	harness_dict_expect(d, "192.168.1.100", "everything");
	/* IPv6 keys never match IPv4 rules; junk keys are not found. */
	harness_dict_expect(d, "::1", NULL);
	harness_dict_expect(d, "not-an-address", NULL);
	harness_dict_expect(d, "", NULL);
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_cidr_ipv6_with_and_without_brackets(void **state)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = open_text("[::1]/128 loopback\n"
			    "2001:db8::/32 doc\n"
			    "[2001:db9::1] bracket host\n"
			    "::/0 any6\n",
			    why);

	(void)state;
	assert_non_null(d);
	harness_dict_expect(d, "::1", "loopback");
	harness_dict_expect(d, "2001:db8:1::5", "doc");
	harness_dict_expect(d, "2001:db9::1", "bracket host");
	harness_dict_expect(d, "2001:db9::2", "any6");
	harness_dict_expect(d, "127.0.0.1", NULL);
	dict_close(d);
	vstr_free(why);

	why = vstr_alloc(64);
	d = open_text("::1/128 plain\n", why);
	assert_non_null(d);
	harness_dict_expect(d, "::1", "plain");
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_cidr_if_endif_and_negation(void **state)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = open_text("if 10.0.0.0/8\n"
			    "if !10.1.0.0/16\n"
			    "0.0.0.0/0 ten-but-not-ten-one\n"
			    "endif\n"
			    "10.1.2.0/24 ten-one-two\n"
			    "endif\n"
			    "!192.168.0.0/16 not-private-192\n",
			    why);

	(void)state;
	assert_non_null(d);
	harness_dict_expect(d, "10.2.3.4", "ten-but-not-ten-one");
	harness_dict_expect(d, "10.1.2.9", "ten-one-two");
	harness_dict_expect(d, "10.1.3.9", "not-private-192");
	harness_dict_expect(d, "192.168.7.7", NULL);
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_cidr_errors_name_file_and_line(void **state)
{
	VSTR *why = vstr_alloc(64);
	VSTR *want = vstr_alloc(64);

	(void)state;
	assert_null(open_file("bad", "10.0.0.0/8 ok\n10.1.2.3/24 x\n", why));
	vstr_sprintf(want, "%s/bad:2: non-null host address bits", tmpdir);
	assert_non_null(strstr(VSTR_STR(why), VSTR_STR(want)));

	assert_null(open_text("10.0.0.0/33 x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "test:1: bad prefix length"));
	assert_null(open_text("::/129 x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "bad prefix length"));
	assert_null(open_text("10.0.0.0/ x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "bad prefix length"));
	assert_null(open_text("10.0.0/8 x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "bad network address"));
	assert_null(open_text("[::1]x x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "bad network address"));
	assert_null(open_text("10.0.0.0/8\n", why));
	assert_non_null(strstr(VSTR_STR(why), "test:1: missing result"));
	assert_null(open_text("endif\n", why));
	assert_non_null(strstr(VSTR_STR(why), "test:1: endif without if"));
	assert_null(open_text("# c\nif 10.0.0.0/8\n", why));
	assert_non_null(strstr(VSTR_STR(why), "test:2: if without endif"));
	vstr_free(why);
	vstr_free(want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dict_cidr_ipv4_first_match_wins),
		cmocka_unit_test(test_dict_cidr_ipv6_with_and_without_brackets),
		cmocka_unit_test(test_dict_cidr_if_endif_and_negation),
		cmocka_unit_test(test_dict_cidr_errors_name_file_and_line),
	};

	msg_set_progname("test_dict_cidr");
	return cmocka_run_group_tests(tests, setup, teardown);
}
