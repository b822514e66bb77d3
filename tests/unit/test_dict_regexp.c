/*
 * Unit tests for util/dict_regexp: regexp_table(5) syntax, flags, $n
 * substitution, if/endif, and errors naming file:line.
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
#include "util/mymalloc.h"
#include "util/vstr.h"

static char tmpdir[] = "/tmp/test_dict_regexp.XXXXXX";

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

/* Write text to a file in tmpdir and open it as regexp:path. */
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
	vstr_sprintf(spec, "regexp:%s", VSTR_STR(path));
	d = dict_open(VSTR_STR(spec), DICT_FLAG_FOLD, why);
	vstr_free(path);
	vstr_free(spec);
	return d;
}

static DICT *
open_text(const char *text, VSTR *why)
{
	return dict_open_buffer("regexp", "test", text, strlen(text), 0, why);
}

static void
test_dict_regexp_first_match_and_substitution(void **state)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = open_file("t1",
			    "# header checks\n"
			    "/^(.*)@example\\.com$/ $1@example.net\n"
			    "/^([^@]+)@([^.]+)\\.org$/ ${2}-$1 costs $$5\n"
			    "\n"
			    "/^abc/ first\n"
			    "/^ab/  second\n"
			    "/^multi/ line one\n"
			    "   and two\n",
			    why);

	(void)state;
	assert_non_null(d);
	harness_dict_expect(d, "joe@example.com", "joe@example.net");
	harness_dict_expect(d, "joe@site.org", "site-joe costs $5");
	harness_dict_expect(d, "abcd", "first");
	harness_dict_expect(d, "abx", "second");
	harness_dict_expect(d, "multi", "line one   and two");
	harness_dict_expect(d, "zzz", NULL);
	assert_int_equal(dict_changed(d), 0);
	/* Iteration is not defined for regexp tables. */
	{
		const char *k;
		const char *v;

		assert_int_equal(dict_first(d, &k, &v), -1);
		assert_int_equal(errno, EOPNOTSUPP);
	}
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_regexp_notices_edited_file(void **state)
{
	VSTR *why = vstr_alloc(64);
	VSTR *path = vstr_alloc(64);
	DICT *d = open_file("edit", "/a/ one\n", why);
	FILE *fp;

	(void)state;
	assert_non_null(d);
	assert_int_equal(dict_changed(d), 0);
	vstr_sprintf(path, "%s/edit", tmpdir);
	fp = fopen(VSTR_STR(path), "a");
	fputs("/b/ two\n", fp);
	fclose(fp);
	assert_int_equal(dict_changed(d), 1);
	dict_close(d);
	vstr_free(why);
	vstr_free(path);
}

static void
test_dict_regexp_flags_toggle_case_and_syntax(void **state)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = open_text("/^Exact$/i sensitive\n"
			    "/^upper$/ insensitive\n"
			    "/a+b/x basic\n"
			    "%^x[|]y$% other delimiter\n"
			    "/^x.y$/m dotall\n",
			    why);

	(void)state;
	assert_non_null(d);
	harness_dict_expect(d, "Exact", "sensitive");
	harness_dict_expect(d, "exact", NULL);
	harness_dict_expect(d, "UPPER", "insensitive");
	/* x turns off extended syntax: '+' is a literal in basic REs. */
	harness_dict_expect(d, "a+b", "basic");
	harness_dict_expect(d, "aab", NULL);
	harness_dict_expect(d, "x|y", "other delimiter");
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_regexp_negation_and_two_patterns(void **state)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = open_text("/@example\\.com$/!/^postmaster@/ not-pm\n"
			    "!/@/ local\n",
			    why);

	(void)state;
	assert_non_null(d);
	harness_dict_expect(d, "joe@example.com", "not-pm");
	harness_dict_expect(d, "postmaster@example.com", NULL);
	harness_dict_expect(d, "joe", "local");
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_regexp_if_endif_nesting(void **state)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = open_text("if /@example\\.com$/\n"
			    "if !/^admin/\n"
			    "/^(.*)@/ user $1\n"
			    "endif\n"
			    "/^admin/ admin\n"
			    "endif\n"
			    "/.*/ fallback\n",
			    why);

	(void)state;
	assert_non_null(d);
	harness_dict_expect(d, "joe@example.com", "user joe");
	harness_dict_expect(d, "admin@example.com", "admin");
	harness_dict_expect(d, "joe@other.com", "fallback");
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_regexp_errors_name_file_and_line(void **state)
{
	VSTR *why = vstr_alloc(64);
	VSTR *want = vstr_alloc(64);

	(void)state;
	assert_null(open_file("bad1", "/ok/ ok\n\n/(unclosed/ x\n", why));
	vstr_sprintf(want, "%s/bad1:3:", tmpdir);
	assert_non_null(strstr(VSTR_STR(why), VSTR_STR(want)));

	assert_null(open_text("/a/ ok\n/b/\n", why));
	assert_non_null(strstr(VSTR_STR(why), "test:2: missing result"));
	assert_null(open_text("/(a)/ $2\n", why));
	assert_non_null(strstr(VSTR_STR(why), "test:1: $2 out of range"));
	assert_null(open_text("!/(a)/ $1\n", why));
	assert_non_null(strstr(VSTR_STR(why), "negated"));
	assert_null(open_text("/a/q x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "unknown regexp flag 'q'"));
	assert_null(open_text("/abc x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "test:1: missing closing"));
	assert_null(open_text("/a/ $x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "bad $ reference"));
	assert_null(open_text("abc x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "expected a pattern"));
	assert_null(open_text("/a/ x\nendif\n", why));
	assert_non_null(strstr(VSTR_STR(why), "test:2: endif without if"));
	assert_null(open_text("if /a/\n/b/ x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "test:1: if without endif"));
	vstr_free(why);
	vstr_free(want);
}

static void
test_dict_regexp_refuses_exponential_patterns(void **state)
{
	VSTR *why = vstr_alloc(64);
	DICT *d;

	(void)state;
	assert_null(open_text("/a/ ok\n"
			      "/n++++++++++++++++++++++++++++++++++++/ x\n",
			      why));
	assert_non_null(strstr(VSTR_STR(why), "test:2: regexp"));
	assert_non_null(strstr(VSTR_STR(why), "too complex"));
	assert_null(open_text("/((a{100}){100}){100}/ x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "too complex"));
	assert_null(open_text("/(a()+++)/ x\n", why));
	assert_non_null(strstr(VSTR_STR(why), "too complex"));
	/* Ordinary repetition stays allowed. */
	d = open_text("/^(a{50}){100}$/ big\n/^[a-z{}+*]+(x+)?$/ ok\n"
		      "/^.*?x/ lazy-looking\n",
		      why);
	assert_non_null(d);
	harness_dict_expect(d, "ab+c", "ok");
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_regexp_nul_byte_is_rejected(void **state)
{
	static const char text[] = "/a/ x\n/b/ y\0z\n";
	VSTR		 *why = vstr_alloc(64);

	(void)state;
	assert_null(
	    dict_open_buffer("regexp", "nul", text, sizeof(text) - 1, 0, why));
	assert_non_null(strstr(VSTR_STR(why), "nul:2: NUL byte"));
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dict_regexp_first_match_and_substitution),
		cmocka_unit_test(test_dict_regexp_notices_edited_file),
		cmocka_unit_test(test_dict_regexp_flags_toggle_case_and_syntax),
		cmocka_unit_test(test_dict_regexp_negation_and_two_patterns),
		cmocka_unit_test(test_dict_regexp_if_endif_nesting),
		cmocka_unit_test(test_dict_regexp_errors_name_file_and_line),
		cmocka_unit_test(test_dict_regexp_refuses_exponential_patterns),
		cmocka_unit_test(test_dict_regexp_nul_byte_is_rejected),
	};

	msg_set_progname("test_dict_regexp");
	return cmocka_run_group_tests(tests, setup, teardown);
}
