/*
 * Unit tests for util/dict_query: the configuration file reader, unknown
 * parameters, the % expansions of pgsql_table(5) in query and
 * result_format with suppression and quoting, LDAP escaping, the domain
 * filter and expansion_limit.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/dict_query.h"
#include "util/vstr.h"

static char tmpdir[] = "/tmp/test_dict_query.XXXXXX";

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

/* Write text to tmpdir/name; the path is the caller's. */
static char *
write_file(const char *name, const char *text)
{
	VSTR *path = vstr_alloc(64);
	FILE *fp;

	vstr_sprintf(path, "%s/%s", tmpdir, name);
	fp = fopen(VSTR_STR(path), "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return vstr_export(path);
}

static DICT_CF *
read_cf(const char *text, VSTR *why)
{
	char	*path = write_file("t.cf", text);
	DICT_CF *cf = dict_cf_read(path, why);

	free(path);
	return cf;
}

static void
test_dict_query_cf_continuation_comments_and_trim(void **state)
{
	VSTR	*why = vstr_alloc(64);
	DICT_CF *cf;

	(void)state;
	cf = read_cf("# a comment\n"
		     "hosts = db1 \n"
		     "\n"
		     "query = SELECT goto FROM alias\n"
		     "   # comment between\n"
		     "\tWHERE address = '%s'\n"
		     "user=postfix\n"
		     "hosts = db2\n",
		     why);
	assert_non_null(cf);
	assert_string_equal(dict_cf_str(cf, "query", NULL),
			    "SELECT goto FROM alias WHERE address = '%s'");
	/* A later setting wins, as in main.cf. */
	assert_string_equal(dict_cf_str(cf, "hosts", NULL), "db2");
	assert_string_equal(dict_cf_str(cf, "user", NULL), "postfix");
	assert_null(dict_cf_str(cf, "password", NULL));
	assert_string_equal(dict_cf_str(cf, "dbname", "mail"), "mail");
	assert_int_equal(dict_cf_check_unused(cf, why), 0);
	dict_cf_free(cf);
	vstr_free(why);
}

static void
test_dict_query_cf_errors_name_path_and_line(void **state)
{
	VSTR	*why = vstr_alloc(64);
	DICT_CF *cf;

	(void)state;
	cf = read_cf("hosts = a\n\nthis has no equals sign\n", why);
	assert_null(cf);
	assert_non_null(strstr(VSTR_STR(why), "t.cf:3: missing '='"));

	cf = read_cf("# first\n  orphan = continuation\nhosts = a\n", why);
	assert_null(cf);
	assert_non_null(strstr(VSTR_STR(why), "t.cf:2:"));
	assert_non_null(strstr(VSTR_STR(why), "continuation"));

	cf = read_cf("bad name = x\n", why);
	assert_null(cf);
	assert_non_null(strstr(VSTR_STR(why), "t.cf:1: bad parameter name"));

	vstr_sprintf(why, "%s", "");
	cf = dict_cf_read("/nonexistent/dir/x.cf", why);
	assert_null(cf);
	assert_non_null(strstr(VSTR_STR(why), "/nonexistent/dir/x.cf"));
	vstr_free(why);
}

static void
test_dict_query_cf_unknown_parameter_fails(void **state)
{
	VSTR	*why = vstr_alloc(64);
	DICT_CF *cf;

	(void)state;
	cf = read_cf("hosts = a\nquery = x\n\nselect_field = goto\n", why);
	assert_non_null(cf);
	dict_cf_str(cf, "hosts", NULL);
	dict_cf_str(cf, "query", NULL);
	assert_int_equal(dict_cf_check_unused(cf, why), -1);
	assert_non_null(strstr(VSTR_STR(why),
			       "t.cf:4: unknown parameter \"select_field\""));
	dict_cf_str(cf, "select_field", NULL);
	assert_int_equal(dict_cf_check_unused(cf, why), 0);
	dict_cf_free(cf);
	vstr_free(why);
}

static void
test_dict_query_cf_int_and_bool(void **state)
{
	VSTR	*why = vstr_alloc(64);
	DICT_CF *cf;
	long	 n;
	int	 b;

	(void)state;
	cf = read_cf("idle_interval = 30\nretry_interval = soon\n"
		     "limit = 99999\nflag = yes\nother = maybe\n",
		     why);
	assert_non_null(cf);
	assert_int_equal(dict_cf_int(cf, "idle_interval", 60, 0, 1000, &n, why),
			 0);
	assert_int_equal(n, 30);
	assert_int_equal(dict_cf_int(cf, "absent", 60, 0, 1000, &n, why), 0);
	assert_int_equal(n, 60);
	assert_int_equal(dict_cf_int(cf, "retry_interval", 60, 0, 1000, &n,
				     why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "\"retry_interval\""));
	assert_non_null(strstr(VSTR_STR(why), "\"soon\""));
	assert_non_null(strstr(VSTR_STR(why), "t.cf"));
	assert_int_equal(dict_cf_int(cf, "limit", 1, 0, 1000, &n, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "\"99999\""));
	assert_int_equal(dict_cf_bool(cf, "flag", 0, &b, why), 0);
	assert_int_equal(b, 1);
	assert_int_equal(dict_cf_bool(cf, "nothere", 1, &b, why), 0);
	assert_int_equal(b, 1);
	assert_int_equal(dict_cf_bool(cf, "other", 0, &b, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "\"maybe\""));
	dict_cf_free(cf);
	vstr_free(why);
}

/* Expand tmpl for key with quote; returns the status, *out the text. */
static int
expand(const char *tmpl, const char *key, DICT_QUOTE_FN quote, VSTR *out)
{
	VSTR *why = vstr_alloc(64);
	int   ret;

	vstr_reset(out);
	ret = dict_query_expand(out, tmpl, key, quote, NULL, why);
	vstr_free(why);
	return ret;
}

static void
expect_query(const char *tmpl, const char *key, const char *want)
{
	VSTR *out = vstr_alloc(64);
	int   ret = expand(tmpl, key, NULL, out);

	if (want == NULL) {
		if (ret != 0)
			fail_msg("%s with %s: expected suppression, got %d "
				 "\"%s\"",
				 tmpl, key, ret, VSTR_STR(out));
	} else {
		if (ret != 1)
			fail_msg("%s with %s: expected \"%s\", got %d", tmpl,
				 key, want, ret);
		assert_string_equal(VSTR_STR(out), want);
	}
	vstr_free(out);
}

static void
test_dict_query_expand_every_code(void **state)
{
	(void)state;
	expect_query("%%s=%s", "user@mail.example.com",
		     "%s=user@mail.example.com");
	expect_query("%u", "user@mail.example.com", "user");
	expect_query("%d", "user@mail.example.com", "mail.example.com");
	expect_query("%1.%2.%3", "user@mail.example.com", "com.example.mail");
	expect_query("%S|%U|%D", "user@example.com",
		     "user@example.com|user|example.com");
	/* %u of a key without '@' is the whole key. */
	expect_query("%u", "postmaster", "postmaster");
	expect_query("%s", "example.com", "example.com");
	/* The last '@' splits. */
	expect_query("%u / %d", "a@b@c.d", "a@b / c.d");
	expect_query("no expansion", "x", "no expansion");
}

static void
test_dict_query_expand_suppression(void **state)
{
	(void)state;
	expect_query("%d", "user", NULL);
	expect_query("%D", "user", NULL);
	expect_query("%d", "user@", NULL);
	expect_query("%u", "@example.com", NULL);
	expect_query("%U", "@example.com", NULL);
	expect_query("%1", "user", NULL);
	expect_query("%3", "user@example.com", NULL);
	expect_query("%2", "user@com", NULL);
	expect_query("%2", "user@example.com", "example");
	/* A bare domain is not an address: %d is suppressed. */
	expect_query("%d", "example.com", NULL);
}

static void
test_dict_query_expand_suppression_keeps_out(void **state)
{
	VSTR *out = vstr_alloc(64);
	VSTR *why = vstr_alloc(64);

	(void)state;
	vstr_strcpy(out, "prefix");
	assert_int_equal(dict_query_expand(out, "a %s b %d", "user", NULL, NULL,
					   why),
			 0);
	assert_string_equal(VSTR_STR(out), "prefix");
	assert_int_equal(dict_query_expand(out, " %s", "user", NULL, NULL, why),
			 1);
	assert_string_equal(VSTR_STR(out), "prefix user");
	vstr_free(out);
	vstr_free(why);
}

static void
test_dict_query_expand_bad_template(void **state)
{
	VSTR *out = vstr_alloc(64);
	VSTR *why = vstr_alloc(64);

	(void)state;
	assert_int_equal(dict_query_expand(out, "WHERE a = '%x'", "k", NULL,
					   NULL, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "%x"));
	assert_int_equal(dict_query_expand(out, "WHERE a = '%s' %", "k", NULL,
					   NULL, why),
			 -1);
	assert_int_equal(dict_query_expand(out, "%0", "k@a.b", NULL, NULL, why),
			 -1);
	assert_int_equal(VSTR_LEN(out), 0);
	vstr_free(out);
	vstr_free(why);
}

/* SQL-style quoting as a test callback: ' doubled, pieces bracketed. */
static void
quote_test(VSTR *out, const char *s, size_t len, void *ctx)
{
	size_t i;

	(void)ctx;
	vstr_addch(out, '[');
	for (i = 0; i < len; i++) {
		if (s[i] == '\'')
			vstr_addch(out, '\'');
		vstr_addch(out, s[i]);
	}
	vstr_addch(out, ']');
}

static void
test_dict_query_expand_quotes_only_substitutions(void **state)
{
	VSTR *out = vstr_alloc(64);

	(void)state;
	assert_int_equal(expand("x='%s' AND y='%d' 100%%",
				"a'or'1'='1@dom.example", quote_test, out),
			 1);
	assert_string_equal(VSTR_STR(out),
			    "x='[a''or''1''=''1@dom.example]' AND "
			    "y='[dom.example]' 100%");
	assert_int_equal(expand("%u|%1", "o'k@a.b'c", quote_test, out), 1);
	assert_string_equal(VSTR_STR(out), "[o''k]|[b''c]");
	vstr_free(out);
}

static void
test_dict_query_quote_ldap_escapes_metacharacters(void **state)
{
	VSTR	  *out = vstr_alloc(64);
	const char in[] = "a*b(c)d\\e\0f";

	(void)state;
	dict_query_quote_ldap(out, in, sizeof(in) - 1, NULL);
	assert_int_equal(VSTR_LEN(out), strlen("a\\2ab\\28c\\29d\\5ce\\00f"));
	assert_memory_equal(VSTR_STR(out), "a\\2ab\\28c\\29d\\5ce\\00f",
			    VSTR_LEN(out));
	vstr_reset(out);
	assert_int_equal(expand("(mail=%s)", "*)(uid=*", dict_query_quote_ldap,
				out),
			 1);
	assert_string_equal(VSTR_STR(out), "(mail=\\2a\\29\\28uid=\\2a)");
	vstr_free(out);
}

static void
conf_from(const char *text, struct dict_query_conf *qc)
{
	VSTR	*why = vstr_alloc(64);
	DICT_CF *cf = read_cf(text, why);

	assert_non_null(cf);
	if (dict_query_conf_read(cf, "query", NULL, qc, why) < 0)
		fail_msg("conf: %s", VSTR_STR(why));
	assert_int_equal(dict_cf_check_unused(cf, why), 0);
	dict_cf_free(cf);
	vstr_free(why);
}

static void
test_dict_query_result_format(void **state)
{
	struct dict_query_conf qc;
	VSTR		      *out = vstr_alloc(64);
	size_t		       count = 0;
	const char	      *key = "joe@mail.example.com";

	(void)state;
	conf_from("query = SELECT x\n"
		  "result_format = %u+%d=%s 100%% [%S %U %D %1 %3]\n",
		  &qc);
	assert_int_equal(dict_query_result(&qc, out, &count, key,
					   "ann@other.org", 13),
			 1);
	assert_string_equal(VSTR_STR(out),
			    "ann+other.org=ann@other.org 100% "
			    "[joe@mail.example.com joe mail.example.com com "
			    "mail]");
	assert_int_equal(count, 1);
	/* A value without a domain is skipped: %d has nothing. */
	assert_int_equal(dict_query_result(&qc, out, &count, key, "bob", 3), 0);
	assert_int_equal(count, 1);
	dict_query_conf_free(&qc);

	/* Several results are joined with ","; empty ones are skipped. */
	conf_from("query = q\nresult_format = smtp:[%s]\n", &qc);
	vstr_reset(out);
	count = 0;
	assert_int_equal(dict_query_result(&qc, out, &count, key, "a", 1), 1);
	assert_int_equal(dict_query_result(&qc, out, &count, key, "", 0), 0);
	assert_int_equal(dict_query_result(&qc, out, &count, key, "b:x", 1), 1);
	assert_string_equal(VSTR_STR(out), "smtp:[a],smtp:[b]");
	assert_int_equal(count, 2);
	dict_query_conf_free(&qc);

	/* %D of a key without a domain suppresses every result. */
	conf_from("query = q\nresult_format = %s@%D\n", &qc);
	vstr_reset(out);
	count = 0;
	assert_int_equal(dict_query_result(&qc, out, &count, "joe", "x", 1), 0);
	assert_int_equal(VSTR_LEN(out), 0);
	assert_int_equal(dict_query_result(&qc, out, &count, "joe@d", "x", 1),
			 1);
	assert_string_equal(VSTR_STR(out), "x@d");
	dict_query_conf_free(&qc);
	vstr_free(out);
}

static void
test_dict_query_result_default_is_value(void **state)
{
	struct dict_query_conf qc;
	VSTR		      *out = vstr_alloc(64);
	size_t		       count = 0;

	(void)state;
	conf_from("query = q\n", &qc);
	assert_string_equal(qc.result_format, "%s");
	assert_int_equal(qc.expansion_limit, 0);
	assert_int_equal(dict_query_result(&qc, out, &count, "k", "a%sb@c", 6),
			 1);
	assert_string_equal(VSTR_STR(out), "a%sb@c");
	dict_query_conf_free(&qc);
	vstr_free(out);
}

static void
test_dict_query_expansion_limit(void **state)
{
	struct dict_query_conf qc;
	VSTR		      *out = vstr_alloc(64);
	size_t		       count = 0;

	(void)state;
	conf_from("query = q\nexpansion_limit = 2\n", &qc);
	assert_int_equal(qc.expansion_limit, 2);
	assert_int_equal(dict_query_result(&qc, out, &count, "k", "a", 1), 1);
	assert_int_equal(dict_query_result(&qc, out, &count, "k", "b", 1), 1);
	errno = 0;
	assert_int_equal(dict_query_result(&qc, out, &count, "k", "c", 1), -1);
	assert_int_equal(errno, EFBIG);
	assert_string_equal(VSTR_STR(out), "a,b");
	dict_query_conf_free(&qc);

	/* Skipped values do not count: the limit is on what is returned. */
	conf_from("query = q\nexpansion_limit = 1\nresult_format = %d\n", &qc);
	vstr_reset(out);
	count = 0;
	assert_int_equal(dict_query_result(&qc, out, &count, "k", "a@b", 3), 1);
	assert_int_equal(dict_query_result(&qc, out, &count, "k", "c", 1), 0);
	assert_int_equal(dict_query_result(&qc, out, &count, "k", "", 0), 0);
	assert_int_equal(dict_query_result(&qc, out, &count, "k", "d@e", 3),
			 -1);
	assert_string_equal(VSTR_STR(out), "b");
	dict_query_conf_free(&qc);
	vstr_free(out);
}

static void
test_dict_query_conf_errors(void **state)
{
	struct dict_query_conf qc;
	VSTR		      *why = vstr_alloc(64);
	DICT_CF		      *cf;

	(void)state;
	cf = read_cf("hosts = x\n", why);
	assert_non_null(cf);
	assert_int_equal(dict_query_conf_read(cf, "query", NULL, &qc, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "missing parameter \"query\""));
	/* A default query (ldap's query_filter) needs no setting. */
	assert_int_equal(dict_query_conf_read(cf, "query_filter",
					      "(mailacceptinggeneralid=%s)",
					      &qc, why),
			 0);
	assert_string_equal(qc.query, "(mailacceptinggeneralid=%s)");
	dict_query_conf_free(&qc);
	dict_cf_free(cf);

	cf = read_cf("query = SELECT '%q'\n", why);
	assert_int_equal(dict_query_conf_read(cf, "query", NULL, &qc, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "\"query\""));
	assert_non_null(strstr(VSTR_STR(why), "%q"));
	dict_cf_free(cf);

	cf = read_cf("query = q\nresult_format = %s%\n", why);
	assert_int_equal(dict_query_conf_read(cf, "query", NULL, &qc, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "result_format"));
	dict_cf_free(cf);

	cf = read_cf("query = q\nexpansion_limit = -1\n", why);
	assert_int_equal(dict_query_conf_read(cf, "query", NULL, &qc, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "expansion_limit"));
	dict_cf_free(cf);

	cf = read_cf("query = q\ndomain = nosuchtype:/x\n", why);
	assert_int_equal(dict_query_conf_read(cf, "query", NULL, &qc, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "nosuchtype"));
	dict_cf_free(cf);
	vstr_free(why);
}

static void
test_dict_query_domain_filter(void **state)
{
	struct dict_query_conf qc;
	char		      *file;
	VSTR		      *text = vstr_alloc(64);
	VSTR		      *big = vstr_alloc(64);
	int		       i;

	(void)state;
	/* No filter: everything is searched. */
	conf_from("query = q\n", &qc);
	assert_int_equal(dict_query_domain_ok(&qc, "user"), 1);
	assert_int_equal(dict_query_domain_ok(&qc, "@x"), 1);
	dict_query_conf_free(&qc);

	file = write_file("domains",
			  "# listed\nfile.example\n\tother.example\n");
	vstr_sprintf(text,
		     "query = q\n"
		     "domain = Example.COM, named.example %s\n"
		     "  inline:{ table.example=yes }\n",
		     file);
	conf_from(VSTR_STR(text), &qc);
	assert_int_equal(dict_query_domain_ok(&qc, "joe@example.com"), 1);
	assert_int_equal(dict_query_domain_ok(&qc, "joe@EXAMPLE.com"), 1);
	assert_int_equal(dict_query_domain_ok(&qc, "joe@named.example"), 1);
	assert_int_equal(dict_query_domain_ok(&qc, "joe@file.example"), 1);
	assert_int_equal(dict_query_domain_ok(&qc, "joe@other.example"), 1);
	assert_int_equal(dict_query_domain_ok(&qc, "joe@table.example"), 1);
	assert_int_equal(dict_query_domain_ok(&qc, "joe@sub.example.com"), 0);
	assert_int_equal(dict_query_domain_ok(&qc, "joe@elsewhere.org"), 0);
	/* Only user@domain with both parts is searched. */
	assert_int_equal(dict_query_domain_ok(&qc, "joe"), 0);
	assert_int_equal(dict_query_domain_ok(&qc, "example.com"), 0);
	assert_int_equal(dict_query_domain_ok(&qc, "@example.com"), 0);
	assert_int_equal(dict_query_domain_ok(&qc, "joe@"), 0);
	/* A table that fails makes the lookup an error. */
	vstr_strcpy(big, "joe@");
	for (i = 0; i < 5000; i++)
		vstr_addch(big, 'a');
	assert_int_equal(dict_query_domain_ok(&qc, VSTR_STR(big)), -1);
	dict_query_conf_free(&qc);
	free(file);
	vstr_free(text);
	vstr_free(big);
}

static void
test_dict_query_domain_negation_rejected(void **state)
{
	struct dict_query_conf qc;
	VSTR		      *why = vstr_alloc(64);
	DICT_CF *cf = read_cf("query = q\ndomain = !a.example\n", why);

	(void)state;
	assert_int_equal(dict_query_conf_read(cf, "query", NULL, &qc, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "!a.example"));
	dict_cf_free(cf);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_dict_query_cf_continuation_comments_and_trim),
		cmocka_unit_test(test_dict_query_cf_errors_name_path_and_line),
		cmocka_unit_test(test_dict_query_cf_unknown_parameter_fails),
		cmocka_unit_test(test_dict_query_cf_int_and_bool),
		cmocka_unit_test(test_dict_query_expand_every_code),
		cmocka_unit_test(test_dict_query_expand_suppression),
		cmocka_unit_test(test_dict_query_expand_suppression_keeps_out),
		cmocka_unit_test(test_dict_query_expand_bad_template),
		cmocka_unit_test(
		    test_dict_query_expand_quotes_only_substitutions),
		cmocka_unit_test(
		    test_dict_query_quote_ldap_escapes_metacharacters),
		cmocka_unit_test(test_dict_query_result_format),
		cmocka_unit_test(test_dict_query_result_default_is_value),
		cmocka_unit_test(test_dict_query_expansion_limit),
		cmocka_unit_test(test_dict_query_conf_errors),
		cmocka_unit_test(test_dict_query_domain_filter),
		cmocka_unit_test(test_dict_query_domain_negation_rejected),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
