/*
 * test_lline - the one logical-line reader of main.cf, master.cf and
 * table sources: continuations, comments, CRLF, long lines, NUL bytes
 * and file:line in every error.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/lline.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

struct lines {
	VSTR *line;
	VSTR *why;
	int   lineno;
	LLINE ll;
};

static void
start(struct lines *l, const char *text, size_t len, int flags,
      const char *what)
{
	l->line = vstr_alloc(16);
	l->why = vstr_alloc(16);
	lline_init(&l->ll, "f.cf", text, len, flags, what);
}

static void
expect_line(struct lines *l, const char *text, int lineno)
{
	assert_int_equal(lline_next(&l->ll, l->line, &l->lineno, l->why), 1);
	assert_string_equal(VSTR_STR(l->line), text);
	assert_int_equal(l->lineno, lineno);
}

static void
expect_end(struct lines *l)
{
	assert_int_equal(lline_next(&l->ll, l->line, &l->lineno, l->why), 0);
	vstr_free(l->line);
	vstr_free(l->why);
}

static void
expect_error(struct lines *l, const char *why)
{
	assert_int_equal(lline_next(&l->ll, l->line, &l->lineno, l->why), -1);
	assert_string_equal(VSTR_STR(l->why), why);
	vstr_free(l->line);
	vstr_free(l->why);
}

#define TEXT(s) (s), sizeof(s) - 1

static void
test_lline_joins_continuations_with_one_space(void **state)
{
	struct lines l;

	(void)state;
	start(&l,
	      TEXT("a = 1  \n\t 2\n# comment between\n\n   \n  3\n"
		   "b = x\n"),
	      LLINE_JOIN_SPACE, "setting");
	expect_line(&l, "a = 1 2 3", 1);
	expect_line(&l, "b = x", 7);
	expect_end(&l);
}

static void
test_lline_keeps_table_continuations_as_they_stand(void **state)
{
	struct lines l;

	(void)state;
	start(&l, TEXT("key joe, \n    # comment\n   ann\r\nnext v"), 0, NULL);
	expect_line(&l, "key joe,    ann", 1);
	expect_line(&l, "next v", 4);
	expect_end(&l);
}

static void
test_lline_drops_cr_before_newline(void **state)
{
	struct lines l;

	(void)state;
	start(&l, TEXT("a = 1\r\n b\r\n#c\r\nc = 2\r\n"), LLINE_JOIN_SPACE,
	      "setting");
	expect_line(&l, "a = 1 b", 1);
	expect_line(&l, "c = 2", 4);
	expect_end(&l);
	start(&l, TEXT("k v\r\n"), 0, NULL);
	expect_line(&l, "k v", 1);
	expect_end(&l);
}

static void
test_lline_orphan_continuation_is_an_error_or_skipped(void **state)
{
	struct lines l;

	(void)state;
	start(&l, TEXT("# x\n\n  indented = 1\n"), LLINE_JOIN_SPACE, "setting");
	expect_error(&l, "f.cf:3: continuation line without a setting "
			 "before it");
	/* Tables warn and go on with the next line. */
	start(&l, TEXT("  orphan\nkey value\n"), 0, NULL);
	expect_line(&l, "key value", 2);
	expect_end(&l);
}

static void
test_lline_refuses_nul_bytes_with_their_line(void **state)
{
	struct lines l;

	(void)state;
	start(&l, TEXT("a = 1\nb = \0\n"), LLINE_JOIN_SPACE, "setting");
	expect_error(&l, "f.cf:2: NUL byte in file");
	/* Even in a comment, and even in a continuation. */
	start(&l, TEXT("k v\n#\0\n"), 0, NULL);
	expect_error(&l, "f.cf:2: NUL byte in file");
}

static void
test_lline_bounds_a_logical_line(void **state)
{
	size_t	     half = LLINE_MAX / 2 + 10;
	char	    *text = mymalloc(2 * half + 8);
	struct lines l;

	(void)state;
	/* Two physical lines, each under the limit, one logical line over. */
	memset(text, 'x', 2 * half + 8);
	text[0] = 'k';
	text[half] = '\n';
	text[half + 1] = ' ';
	start(&l, text, 2 * half + 8, LLINE_JOIN_SPACE, "setting");
	assert_int_equal(lline_next(&l.ll, l.line, &l.lineno, l.why), -1);
	assert_non_null(strstr(VSTR_STR(l.why), "f.cf:2: line longer than"));
	vstr_free(l.line);
	vstr_free(l.why);
	/* Right at the limit is fine. */
	memset(text, 'y', LLINE_MAX - 1);
	start(&l, text, LLINE_MAX - 1, 0, NULL);
	assert_int_equal(lline_next(&l.ll, l.line, &l.lineno, l.why), 1);
	assert_int_equal(VSTR_LEN(l.line), LLINE_MAX - 1);
	expect_end(&l);
	myfree(text);
}

static void
test_lline_empty_and_comment_only_texts(void **state)
{
	struct lines l;

	(void)state;
	start(&l, "", 0, LLINE_JOIN_SPACE, "setting");
	expect_end(&l);
	start(&l, TEXT("# only\n\n#\n"), 0, NULL);
	expect_end(&l);
	start(&l, TEXT("last without newline"), LLINE_JOIN_SPACE, "x");
	expect_line(&l, "last without newline", 1);
	expect_end(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lline_joins_continuations_with_one_space),
		cmocka_unit_test(
		    test_lline_keeps_table_continuations_as_they_stand),
		cmocka_unit_test(test_lline_drops_cr_before_newline),
		cmocka_unit_test(
		    test_lline_orphan_continuation_is_an_error_or_skipped),
		cmocka_unit_test(test_lline_refuses_nul_bytes_with_their_line),
		cmocka_unit_test(test_lline_bounds_a_logical_line),
		cmocka_unit_test(test_lline_empty_and_comment_only_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
