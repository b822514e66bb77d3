/*
 * Unit tests for flush/flush_log (fast flush logfile names and contents).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "flush/flush.h"
#include "tests/unit/harness.h"
#include "util/qid.h"
#include "util/vstr.h"

static void
test_flush_log_name_masks_and_folds(void **state)
{
	VSTR *name = vstr_alloc(16);
	char  big[FLUSH_NAME_MAX + 2];

	(void)state;
	assert_int_equal(flush_log_name("Mx-1.Example.COM", name), 0);
	assert_string_equal(VSTR_STR(name), "mx_1_example_com");
	assert_int_equal(flush_log_name("[192.0.2.1]", name), 0);
	assert_string_equal(VSTR_STR(name), "_192_0_2_1_");
	/* nothing can leave the folder */
	assert_int_equal(flush_log_name("../../etc/passwd", name), 0);
	assert_null(strchr(VSTR_STR(name), '/'));
	assert_int_equal(flush_log_name("", name), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(flush_log_name(big, name), -1);
	big[FLUSH_NAME_MAX] = 0;
	assert_int_equal(flush_log_name(big, name), 0);
	vstr_free(name);
}

static void
test_flush_log_path_is_hashed_and_stable(void **state)
{
	VSTR *a = vstr_alloc(16);
	VSTR *b = vstr_alloc(16);

	(void)state;
	flush_log_path("example_com", a);
	flush_log_path("example_com", b);
	assert_string_equal(VSTR_STR(a), VSTR_STR(b));
	assert_int_equal(VSTR_LEN(a), strlen("flush/X/example_com"));
	assert_memory_equal(VSTR_STR(a), "flush/", 6);
	assert_non_null(strchr(FLUSH_HASH_DIGITS, VSTR_STR(a)[6]));
	assert_string_equal(VSTR_STR(a) + 7, "/example_com");
	vstr_free(a);
	vstr_free(b);
}

struct seen {
	char   ids[8][64];
	size_t n;
};

static void
collect(void *ctx, const char *queue_id)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", queue_id);
}

static void
test_flush_log_parse_skips_bad_lines(void **state)
{
	struct timeval tv = { .tv_sec = 1765000000, .tv_usec = 123456 };
	struct seen    s = { .n = 0 };
	VSTR	      *id1 = vstr_alloc(32);
	VSTR	      *id2 = vstr_alloc(32);
	VSTR	      *text = vstr_alloc(256);
	size_t	       bad;

	(void)state;
	assert_int_equal(qid_make(id1, &tv, 12345), 0);
	tv.tv_usec++;
	assert_int_equal(qid_make(id2, &tv, 678), 0);
	vstr_sprintf(text, "%s\n\nnot a queue id\n%s\n%s\n", VSTR_STR(id1),
		     VSTR_STR(id1), VSTR_STR(id2));
	/* a NUL inside a line, then a torn last line */
	vstr_memcat(text, VSTR_STR(id2), 4);
	vstr_memcat(text, "\0", 1);
	vstr_sprintf_append(text, "%s\n%s", VSTR_STR(id2) + 5, VSTR_STR(id2));
	bad = flush_log_parse(VSTR_STR(text), VSTR_LEN(text), collect, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[0], VSTR_STR(id1));
	assert_string_equal(s.ids[1], VSTR_STR(id1));
	assert_string_equal(s.ids[2], VSTR_STR(id2));
	assert_int_equal(bad, 4);
	/* empty input: nothing, no error */
	s.n = 0;
	assert_int_equal(flush_log_parse("", 0, collect, &s), 0);
	assert_int_equal(s.n, 0);
	vstr_free(id1);
	vstr_free(id2);
	vstr_free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flush_log_name_masks_and_folds),
		cmocka_unit_test(test_flush_log_path_is_hashed_and_stable),
		cmocka_unit_test(test_flush_log_parse_skips_bad_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
