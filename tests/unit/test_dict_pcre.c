/*
 * Unit tests for util/dict_pcre: pcre_table(5) syntax, flags, $n
 * substitution, if/endif, match limits, and errors naming file:line.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/dict.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

static char tmpdir[] = "/tmp/test_dict_pcre.XXXXXX";

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
open_text(const char *text, VSTR *why)
{
	return dict_open_buffer("pcre", "test", text, strlen(text), 0, why);
}

static void
test_dict_pcre_file_first_match_and_substitution(void **state)
{
	VSTR *why = vstr_alloc(64);
	VSTR *path = vstr_alloc(64);
	VSTR *spec = vstr_alloc(64);
	FILE *fp;
	DICT *d;

	(void)state;
	vstr_sprintf(path, "%s/t1", tmpdir);
	fp = fopen(VSTR_STR(path), "w");
	assert_non_null(fp);
	fputs("# comment\n"
	      "/^(\\w+)\\+(\\w+)@example\\.com$/ $1@example.net ext=${2}\n"
	      "\n"
	      "   # indented comment\n"
	      "/^(?<user>[^@]+)@(\\d+)\\.org$/ n$2 costs $$5\n"
	      "/^abc/ first\n"
	      "/^ab/  second\n"
	      "/^multi/ line one\n"
	      "   and two\n",
	      fp);
	fclose(fp);
	vstr_sprintf(spec, "pcre:%s", VSTR_STR(path));
	d = dict_open(VSTR_STR(spec), DICT_FLAG_FOLD, why);
	assert_non_null(d);
	assert_string_equal(dict_type(d), "pcre");
	harness_dict_expect(d, "Joe+Lists@Example.COM",
			    "Joe@example.net ext=Lists");
	harness_dict_expect(d, "joe@42.org", "n42 costs $5");
	harness_dict_expect(d, "abcd", "first");
	harness_dict_expect(d, "abx", "second");
	harness_dict_expect(d, "multi", "line one   and two");
	harness_dict_expect(d, "zzz", NULL);
	assert_int_equal(dict_changed(d), 0);
	fp = fopen(VSTR_STR(path), "a");
	fputs("/^zzz/ later\n", fp);
	fclose(fp);
	assert_int_equal(dict_changed(d), 1);
	dict_close(d);
	vstr_free(why);
	vstr_free(path);
	vstr_free(spec);
}

static void
test_dict_pcre_flags(void **state)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = open_text("/^exact$/i exact-case\n"
			    "/^Any$/ any-case\n"
			    "/^a.b$/s dotall\n"
			    "/^line2$/m multiline\n"
			    "/ x y z /x extended\n"
			    "/bc/A anchored\n"
			    "/^end$/E endonly\n"
			    "/^(u+)/U ungreedy=$1\n"
			    "/^(g+)/ greedy=$1\n"
			    "/^perl/X extra\n",
			    why);

	(void)state;
	assert_non_null(d);
	/* i toggles the default case-insensitivity off. */
	harness_dict_expect(d, "exact", "exact-case");
	harness_dict_expect(d, "EXACT", NULL);
	harness_dict_expect(d, "aNY", "any-case");
	harness_dict_expect(d, "a\nb", "dotall");
	harness_dict_expect(d, "line1\nline2", "multiline");
	harness_dict_expect(d, "xyz", "extended");
	harness_dict_expect(d, "bcd", "anchored");
	harness_dict_expect(d, "abcd", NULL);
	harness_dict_expect(d, "end\n", NULL);
	harness_dict_expect(d, "end", "endonly");
	harness_dict_expect(d, "uuu", "ungreedy=u");
	harness_dict_expect(d, "ggg", "greedy=ggg");
	harness_dict_expect(d, "perl", "extra");
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_pcre_negation_and_if_endif(void **state)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = open_text("if /@example\\.com$/\n"
			    "if !/^postmaster@/\n"
			    "/^(.+)-owner@/ owner of $1\n"
			    "!/^admin/ not admin\n"
			    "endif\n"
			    "/^postmaster@/ the postmaster\n"
			    "endif\n"
			    "/./ outside\n",
			    why);

	(void)state;
	if (d == NULL)
		fail_msg("%s", VSTR_STR(why));
	harness_dict_expect(d, "list-owner@example.com", "owner of list");
	harness_dict_expect(d, "joe@example.com", "not admin");
	harness_dict_expect(d, "admin@example.com", "outside");
	harness_dict_expect(d, "postmaster@example.com", "the postmaster");
	harness_dict_expect(d, "joe@example.org", "outside");
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_pcre_errors_name_file_and_line(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
		{ "/ok/ ok\n\n/(unclosed/ x\n", "test:3: pcre \"(unclosed\"" },
		{ "/a/ ok\n/b/\n", "test:2: missing result" },
		{ "/(a)/ $2\n", "test:1: $2 out of range" },
		{ "!/(a)/ $1\n", "test:1: $1 in the result of a negated" },
		{ "/a/q x\n", "test:1: unknown pcre flag 'q'" },
		/* regexp's /pat1/!/pat2/ form is not pcre_table(5) syntax. */
		{ "/a/!/b/ x\n", "test:1: unexpected text" },
		{ "/a/ x\nendif\n", "test:2: endif without if" },
		{ "if /a/\n/b/ x\n", "test:1: if without endif" },
	};
	VSTR  *why = vstr_alloc(64);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (open_text(bad[i].text, why) != NULL)
			fail_msg("\"%s\" opened", bad[i].text);
		if (strstr(VSTR_STR(why), bad[i].want) == NULL)
			fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad[i].text,
				 VSTR_STR(why), bad[i].want);
	}
	vstr_free(why);
}

static void
test_dict_pcre_match_limit_is_an_error(void **state)
{
	VSTR	   *why = vstr_alloc(64);
	DICT	   *d = open_text("/^(a|a?)+$/ catastrophic\n/./ fine\n", why);
	VSTR	   *key = vstr_alloc(64);
	const char *value;
	time_t	    start = time(NULL);
	int	    i;

	(void)state;
	assert_non_null(d);
	/*
	 * 20 letters need a few million steps: PCRE2's default limits
	 * (ten million) would let the match run to "no match", and the next
	 * rule would answer; ours stop it as a table error.
	 */
	for (i = 0; i < 20; i++)
		vstr_addch(key, 'a');
	vstr_addch(key, 'b');
	errno = 0;
	assert_int_equal(dict_lookup(d, VSTR_STR(key), &value), -1);
	assert_int_equal(errno, EAGAIN);
	assert_true(time(NULL) - start < 5);
	harness_dict_expect(d, "b", "fine");
	dict_close(d);
	vstr_free(key);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_dict_pcre_file_first_match_and_substitution),
		cmocka_unit_test(test_dict_pcre_flags),
		cmocka_unit_test(test_dict_pcre_negation_and_if_endif),
		cmocka_unit_test(test_dict_pcre_errors_name_file_and_line),
		cmocka_unit_test(test_dict_pcre_match_limit_is_an_error),
	};

	msg_set_progname("test_dict_pcre");
	return cmocka_run_group_tests(tests, setup, teardown);
}
