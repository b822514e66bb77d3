/*
 * Unit tests for the in-memory tables: util/dict_inline, dict_static,
 * dict_texthash (with util/lline's line rules) and dict_unix.
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
#include "util/dict_src.h"
#include "util/lline.h"
#include "util/vstr.h"

static char tmpdir[] = "/tmp/test_dict_inline.XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
expect(DICT *d, const char *key, const char *want)
{
	const char *value;
	int	    ret = dict_lookup(d, key, &value);

	if (want == NULL) {
		if (ret != 0)
			fail_msg("key \"%s\": expected no match, got \"%s\"",
				 key, value);
		return;
	}
	if (ret != 1)
		fail_msg("key \"%s\": expected \"%s\", got ret %d", key, want,
			 ret);
	assert_string_equal(value, want);
}

static void
test_dict_inline_pairs_and_braced_items(void **state)
{
	VSTR	   *why = vstr_alloc(64);
	VSTR	   *seen = vstr_alloc(64);
	const char *k;
	const char *v;
	DICT	   *d;
	int	    ret;

	(void)state;
	d = dict_open("inline:{ Alpha=1, beta=2 { gamma = three, four } }",
		      DICT_FLAG_FOLD, why);
	assert_non_null(d);
	expect(d, "ALPHA", "1");
	expect(d, "beta", "2");
	expect(d, "gamma", "three, four");
	expect(d, "delta", NULL);
	for (ret = dict_first(d, &k, &v); ret > 0; ret = dict_next(d, &k, &v))
		vstr_sprintf_append(seen, "%s=%s;", k, v);
	assert_int_equal(ret, 0);
	assert_string_equal(VSTR_STR(seen),
			    "alpha=1;beta=2;gamma=three, four;");
	dict_close(d);

	assert_null(dict_open("inline:a=b", 0, why));
	assert_non_null(strstr(VSTR_STR(why), "expected inline:{"));
	assert_null(dict_open("inline:{ a }", 0, why));
	assert_non_null(strstr(VSTR_STR(why), "missing '='"));
	assert_null(dict_open("inline:{ =b }", 0, why));
	assert_non_null(strstr(VSTR_STR(why), "empty key"));
	assert_null(dict_open("inline:{ {a=b }", 0, why));
	vstr_free(why);
	vstr_free(seen);
}

static void
test_dict_inline_static_always_matches(void **state)
{
	VSTR	   *why = vstr_alloc(64);
	const char *value;
	const char *k;
	DICT	   *d;

	(void)state;
	d = dict_open("static:relay:[mx.example]:25", 0, why);
	assert_non_null(d);
	expect(d, "anything", "relay:[mx.example]:25");
	assert_int_equal(dict_first(d, &k, &value), -1);
	dict_close(d);
	d = dict_open("static:{ text with spaces }", 0, why);
	assert_non_null(d);
	expect(d, "x", "text with spaces");
	dict_close(d);
	d = dict_open("static:", 0, why);
	assert_non_null(d);
	expect(d, "x", "");
	dict_close(d);
	assert_null(dict_open("static:{ open", 0, why));
	assert_non_null(strstr(VSTR_STR(why), "unbalanced"));
	vstr_free(why);
}

static void
test_dict_inline_texthash_reads_postmap_format(void **state)
{
	VSTR *why = vstr_alloc(64);
	VSTR *path = vstr_alloc(64);
	VSTR *spec = vstr_alloc(64);
	FILE *fp;
	DICT *d;

	(void)state;
	vstr_sprintf(path, "%s/virtual", tmpdir);
	fp = fopen(VSTR_STR(path), "w");
	fputs("# virtual aliases\n"
	      "Info@Example.COM   joe, \n"
	      "\n"
	      "    # a comment inside a continuation\n"
	      "   ann\r\n"
	      "sales@example.com sam\n"
	      "info@example.com duplicate ignored\n"
	      "lonelykey\n",
	      fp);
	fclose(fp);
	vstr_sprintf(spec, "texthash:%s", VSTR_STR(path));
	d = dict_open(VSTR_STR(spec), DICT_FLAG_FOLD, why);
	assert_non_null(d);
	expect(d, "info@example.com", "joe,    ann");
	expect(d, "SALES@example.com", "sam");
	expect(d, "lonelykey", NULL);
	/* In-memory tables take updates. */
	assert_int_equal(dict_update(d, "New", "x"), 0);
	expect(d, "new", "x");
	assert_int_equal(dict_delete(d, "NEW"), 1);
	expect(d, "new", NULL);
	dict_close(d);

	/* -f semantics: no folding at build or lookup time. */
	d = dict_open(VSTR_STR(spec), 0, why);
	expect(d, "Info@Example.COM", "joe,    ann");
	expect(d, "info@example.com", "duplicate ignored");
	dict_close(d);

	vstr_sprintf(spec, "texthash:%s/none", tmpdir);
	assert_null(dict_open(VSTR_STR(spec), DICT_FLAG_FOLD, why));
	assert_non_null(strstr(VSTR_STR(why), "No such file"));
	vstr_free(why);
	vstr_free(path);
	vstr_free(spec);
}

static void
test_dict_inline_src_lines_and_limits(void **state)
{
	static const char text[] = "  orphan\nkey value\n\tmore\n#c\nlast";
	LLINE		  src;
	VSTR		 *line = vstr_alloc(64);
	VSTR		 *why = vstr_alloc(64);
	char		  buf[] = "  key \t value with  spaces \r";
	char		 *k;
	char		 *v;
	int		  lineno;

	(void)state;
	lline_init(&src, "src", text, sizeof(text) - 1, 0, NULL);
	assert_int_equal(lline_next(&src, line, &lineno, why), 1);
	assert_string_equal(VSTR_STR(line), "key value\tmore");
	assert_int_equal(lineno, 2);
	assert_int_equal(lline_next(&src, line, &lineno, why), 1);
	assert_string_equal(VSTR_STR(line), "last");
	assert_int_equal(lineno, 5);
	assert_int_equal(lline_next(&src, line, &lineno, why), 0);

	dict_src_split(buf, &k, &v);
	assert_string_equal(k, "key");
	assert_string_equal(v, "value with  spaces");
	vstr_free(line);
	vstr_free(why);
}

static void
test_dict_inline_unix_passwd(void **state)
{
	VSTR	   *why = vstr_alloc(64);
	const char *value;
	DICT	   *d;

	(void)state;
	d = dict_open("unix:passwd.byname", DICT_FLAG_FOLD, why);
	assert_non_null(d);
	assert_int_equal(dict_lookup(d, "ROOT", &value), 1);
	assert_true(strncmp(value, "root:x:0:0:", 11) == 0);
	assert_int_equal(dict_lookup(d, "no-such-user-postel", &value), 0);
	dict_close(d);
	assert_null(dict_open("unix:group.byname", 0, why));
	/*
	 * proxy: goes through the proxymap service (test_proxymap.py);
	 * without one the open fails and says why, never opens directly.
	 */
	dict_proxy_configure(NULL, "no-such-proxymap-service");
	assert_null(dict_open("proxy:unix:passwd.byname", DICT_FLAG_FOLD, why));
	assert_non_null(strstr(VSTR_STR(why), "proxymap service"));
	assert_null(dict_open("proxy:proxy:unix:passwd.byname", 0, why));
	dict_proxy_configure(NULL, NULL);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dict_inline_pairs_and_braced_items),
		cmocka_unit_test(test_dict_inline_static_always_matches),
		cmocka_unit_test(
		    test_dict_inline_texthash_reads_postmap_format),
		cmocka_unit_test(test_dict_inline_src_lines_and_limits),
		cmocka_unit_test(test_dict_inline_unix_passwd),
	};

	msg_set_progname("test_dict_inline");
	return cmocka_run_group_tests(tests, setup, teardown);
}
