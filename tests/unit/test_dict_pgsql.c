/*
 * Unit tests for util/dict_pgsql without a server: the configuration
 * checks at open (unknown and deprecated parameters, hosts syntax,
 * numbers), an open that does not connect, and lookups that cannot reach
 * a server failing as table errors (-1, EAGAIN, a warning naming the
 * table) and skipping the dead host for retry_interval, while suppressed
 * queries and keys outside domain = are "not found" without a server.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/dict.h"
#include "util/msg.h"
#include "util/vstr.h"

static char  tmpdir[] = "/tmp/test_dict_pgsql.XXXXXX";
static VSTR *warnings;

static void
capture(enum msg_level level, const char *text)
{
	if (level == MSG_WARN && warnings != NULL) {
		vstr_strcat(warnings, text);
		vstr_addch(warnings, '\n');
	}
}

static int
setup(void **state)
{
	(void)state;
	warnings = vstr_alloc(256);
	msg_output_add(capture);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return harness_rmtree(tmpdir);
}

static DICT *
open_cf(const char *text, VSTR *why)
{
	VSTR *path = vstr_alloc(64);
	VSTR *spec = vstr_alloc(64);
	FILE *fp;
	DICT *d;

	vstr_sprintf(path, "%s/t.cf", tmpdir);
	fp = fopen(VSTR_STR(path), "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	vstr_sprintf(spec, "pgsql:%s", VSTR_STR(path));
	d = dict_open(VSTR_STR(spec), DICT_FLAG_FOLD, why);
	vstr_free(path);
	vstr_free(spec);
	return d;
}

static void
expect_open_error(const char *text, const char *want)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = open_cf(text, why);

	if (d != NULL)
		fail_msg("opened, expected an error containing \"%s\"", want);
	if (strstr(VSTR_STR(why), want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", VSTR_STR(why), want);
	vstr_free(why);
}

static void
test_dict_pgsql_open_refuses_bad_settings(void **state)
{
	(void)state;
	expect_open_error("hosts = localhost\n", "missing parameter \"query\"");
	expect_open_error("query = SELECT 1\nselect_field = goto\n"
			  "table = alias\nwhere_field = address\n",
			  "unknown parameter \"select_field\"");
	expect_open_error("query = SELECT 1\nhosts = db:port\n",
			  "bad host \"db:port\"");
	expect_open_error("query = SELECT 1\nhosts = [::1\n",
			  "bad host \"[::1\"");
	expect_open_error("query = SELECT 1\nhosts = ,\n", "no host");
	expect_open_error("query = SELECT 1\nidle_interval = soon\n",
			  "\"idle_interval\"");
	expect_open_error("query = SELECT 1\nretry_interval = -5\n",
			  "\"retry_interval\"");
	expect_open_error("query = SELECT '%z'\n", "%z");
}

static void
test_dict_pgsql_open_accepts_postfix_settings_without_connecting(void **state)
{
	VSTR *why = vstr_alloc(64);
	DICT *d;

	(void)state;
	/* Every pgsql_table(5) setting; nothing listens on these hosts. */
	d = open_cf("hosts = unix:/nonexistent/a inet:127.0.0.1:1,\n"
		    "   [::1]:2 /nonexistent/b:5433\n"
		    "   postgresql://u@127.0.0.1:1/mail\n"
		    "user = postel\npassword = secret\ndbname = mail\n"
		    "query = SELECT goto FROM alias WHERE address = '%s'\n"
		    "result_format = %s\ndomain = example.com\n"
		    "expansion_limit = 5\nidle_interval = 30\n"
		    "retry_interval = 10\nencoding = UTF8\n",
		    why);
	if (d == NULL)
		fail_msg("open: %s", VSTR_STR(why));
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_pgsql_unreachable_server_is_a_table_error(void **state)
{
	VSTR	   *why = vstr_alloc(64);
	VSTR	   *text = vstr_alloc(256);
	const char *value;
	DICT	   *d;

	(void)state;
	vstr_sprintf(text,
		     "hosts = %s/nosocket\n"
		     "query = SELECT goto FROM alias WHERE address = '%%s'\n"
		     "retry_interval = 3600\n",
		     tmpdir);
	d = open_cf(VSTR_STR(text), why);
	if (d == NULL)
		fail_msg("open: %s", VSTR_STR(why));
	vstr_reset(warnings);
	errno = 0;
	assert_int_equal(dict_lookup(d, "joe@example.com", &value), -1);
	assert_int_equal(errno, EAGAIN);
	assert_non_null(strstr(VSTR_STR(warnings), dict_spec(d)));
	assert_non_null(strstr(VSTR_STR(warnings), "nosocket"));
	/* The dead host is now left out for retry_interval. */
	vstr_reset(warnings);
	assert_int_equal(dict_lookup(d, "joe@example.com", &value), -1);
	assert_int_equal(errno, EAGAIN);
	assert_non_null(strstr(VSTR_STR(warnings), "retry_interval"));
	dict_close(d);
	vstr_free(why);
	vstr_free(text);
}

static void
test_dict_pgsql_suppressed_lookups_need_no_server(void **state)
{
	VSTR	   *why = vstr_alloc(64);
	VSTR	   *text = vstr_alloc(256);
	const char *value;
	DICT	   *d;

	(void)state;
	vstr_sprintf(text,
		     "hosts = %s/nosocket\n"
		     "query = SELECT 1 WHERE '%%d' = '%%u'\n"
		     "domain = example.com\n",
		     tmpdir);
	d = open_cf(VSTR_STR(text), why);
	if (d == NULL)
		fail_msg("open: %s", VSTR_STR(why));
	vstr_reset(warnings);
	assert_int_equal(dict_lookup(d, "joe", &value), 0);
	assert_int_equal(dict_lookup(d, "joe@other.example", &value), 0);
	assert_int_equal(dict_lookup(d, "@example.com", &value), 0);
	assert_int_equal(VSTR_LEN(warnings), 0);
	dict_close(d);
	vstr_free(why);
	vstr_free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dict_pgsql_open_refuses_bad_settings),
		cmocka_unit_test(
		    test_dict_pgsql_open_accepts_postfix_settings_without_connecting),
		cmocka_unit_test(
		    test_dict_pgsql_unreachable_server_is_a_table_error),
		cmocka_unit_test(
		    test_dict_pgsql_suppressed_lookups_need_no_server),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
