/*
 * Unit tests for admin/admin_select: durations, selector options, the
 * match rules and the streaming queue walk.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin_select.h"
#include "tests/unit/harness.h"
#include "util/mymalloc.h"

static void
test_admin_select_duration_units(void **state)
{
	static const struct {
		const char *text;
		long long   secs;
	} ok[] = {
		{ "90s", 90 },	  { "30m", 1800 },  { "2h", 7200 },
		{ "7d", 604800 }, { "1w", 604800 }, { "45", 45 },
		{ "0", 0 },	  { "3H", 10800 },
	};
	static const char *const bad[] = {
		"", "x", "5y", "-1", "10ss", "1.5h", " 5", "99999999999999999w"
	};
	VSTR	 *why = vstr_alloc(64);
	long long secs;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(admin_sel_duration(ok[i].text, &secs, why), 0);
		assert_int_equal(secs, ok[i].secs);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(admin_sel_duration(bad[i], &secs, why), -1);
	vstr_free(why);
}

static void
test_admin_select_option_errors(void **state)
{
	ADMIN_SEL sel;
	VSTR	 *why = vstr_alloc(64);

	(void)state;
	admin_sel_init(&sel, 1000);
	assert_false(admin_sel_active(&sel));
	assert_int_equal(admin_sel_option(&sel, "colour", "red", why), -1);
	assert_non_null(strstr(VSTR_STR(why), "unknown selector --colour"));
	assert_int_equal(admin_sel_option(&sel, "reason", "(", why), -1);
	assert_non_null(strstr(VSTR_STR(why), "--reason"));
	assert_int_equal(admin_sel_option(&sel, "recipient-domain", "", why),
			 -1);
	assert_int_equal(admin_sel_option(&sel, "recipient-domain", "a@b", why),
			 -1);
	assert_int_equal(admin_sel_option(&sel, "sender", "@", why), -1);
	assert_int_equal(admin_sel_option(&sel, "sender", "a\nb", why), -1);
	assert_int_equal(admin_sel_option(&sel, "older-than", "2x", why), -1);
	assert_false(admin_sel_active(&sel));
	assert_int_equal(admin_sel_option(&sel, "older-than", "2h", why), 0);
	assert_true(admin_sel_active(&sel));
	assert_int_equal(admin_sel_option(&sel, "older-than", "3h", why), -1);
	assert_non_null(strstr(VSTR_STR(why), "given twice"));
	assert_int_equal(admin_sel_option(&sel, "reason", "refused", why), 0);
	assert_true(admin_sel_needs_reasons(&sel));
	assert_int_equal(admin_sel_option(&sel, "reason", "x", why), -1);
	admin_sel_free(&sel);
	vstr_free(why);
}

static void
env_add(ADMIN_ENV *env, const char *rcpt, const char *reason)
{
	if (env->nrcpt == env->cap) {
		env->cap = env->cap ? 2 * env->cap : 4;
		env->rcpt = myrealloc_array(env->rcpt, env->cap,
					    sizeof(*env->rcpt));
		env->reason = myrealloc_array(env->reason, env->cap,
					      sizeof(*env->reason));
	}
	env->rcpt[env->nrcpt] = mystrdup(rcpt);
	env->reason[env->nrcpt++] = reason ? mystrdup(reason) : NULL;
}

/* Does a selector made of name=value pairs pick env? */
static bool
picks(const ADMIN_ENV *env, const char *const *opts)
{
	ADMIN_SEL sel;
	VSTR	 *why = vstr_alloc(64);
	bool	  ok;

	admin_sel_init(&sel, 100000);
	for (; *opts; opts += 2)
		assert_int_equal(admin_sel_option(&sel, opts[0], opts[1], why),
				 0);
	ok = admin_sel_match(&sel, env);
	admin_sel_free(&sel);
	vstr_free(why);
	return ok;
}

#define PICKS(env, ...) picks(env, (const char *const[]){ __VA_ARGS__, NULL })

static void
test_admin_select_match_rules(void **state)
{
	ADMIN_ENV *env = admin_env_alloc();

	(void)state;
	env->arrival = 100000 - 3600; /* an hour old */
	vstr_strcpy(env->sender, "Alice@Example.ORG");
	env_add(env, "u@b.example.com", NULL);
	env_add(env, "v@example.net",
		"connect to mx.example.net: Connection refused");
	assert_true(PICKS(env, "recipient-domain", "example.net"));
	assert_true(PICKS(env, "recipient-domain", "EXAMPLE.NET"));
	assert_false(PICKS(env, "recipient-domain", "example.com"));
	assert_true(PICKS(env, "recipient-domain", ".example.com"));
	assert_false(PICKS(env, "recipient-domain", ".example.net"));
	assert_true(PICKS(env, "sender", "alice@example.org"));
	assert_false(PICKS(env, "sender", "bob@example.org"));
	assert_true(PICKS(env, "sender", "@example.org"));
	assert_false(PICKS(env, "sender", "@org"));
	assert_false(PICKS(env, "sender", "<>"));
	assert_true(PICKS(env, "older-than", "59m"));
	assert_false(PICKS(env, "older-than", "1h"));
	assert_true(PICKS(env, "younger-than", "61m"));
	assert_false(PICKS(env, "younger-than", "3600"));
	assert_true(PICKS(env, "reason", "connection REFUSED"));
	assert_true(PICKS(env, "reason", "^connect to [a-z.]+:"));
	assert_false(PICKS(env, "reason", "timed out"));
	/* AND: each must hold */
	assert_true(PICKS(env, "sender", "@example.org", "reason", "refused",
			  "older-than", "30m", "recipient-domain",
			  "b.example.com"));
	assert_false(PICKS(env, "sender", "@example.org", "reason", "refused",
			   "older-than", "2h"));
	/* The null sender */
	vstr_reset(env->sender);
	assert_true(PICKS(env, "sender", "<>"));
	assert_true(PICKS(env, "sender", ""));
	assert_false(PICKS(env, "sender", "@example.org"));
	admin_env_free(env);
}

struct walk_seen {
	char names[16][64];
	int  n;
};

static void
walk_fn(void *ctx, const char *dirpath, const char *id)
{
	struct walk_seen *w = ctx;
	const char	 *base = strrchr(dirpath, '/');

	assert_true(w->n < 16);
	snprintf(w->names[w->n++], sizeof(w->names[0]), "%s/%s", base + 1, id);
}

static void
touch(const char *dir, const char *name)
{
	char  path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
}

static void
test_admin_select_walk_sorted_and_hashed(void **state)
{
	char		 top[] = "/tmp/admin_select.XXXXXX";
	char		 dir[512];
	struct walk_seen w = { 0 };

	(void)state;
	assert_non_null(mkdtemp(top));
	snprintf(dir, sizeof(dir), "%s/hold", top);
	assert_int_equal(mkdir(dir, 0700), 0);
	touch(dir, "4Hb2Xc0002z5");
	touch(dir, "4Hb2Xc0001z7");
	touch(dir, "t123.4"); /* a temporary file: skipped */
	assert_int_equal(admin_walk(dir, walk_fn, &w), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.names[0], "hold/4Hb2Xc0001z7");
	assert_string_equal(w.names[1], "hold/4Hb2Xc0002z5");
	/* deferred/: hashed subfolders in hash-digit order */
	snprintf(dir, sizeof(dir), "%s/deferred", top);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/deferred/2", top);
	assert_int_equal(mkdir(dir, 0700), 0);
	touch(dir, "4Hb2Xc0002z9");
	snprintf(dir, sizeof(dir), "%s/deferred/1", top);
	assert_int_equal(mkdir(dir, 0700), 0);
	touch(dir, "4Hb2Xc0001z8");
	w.n = 0;
	snprintf(dir, sizeof(dir), "%s/deferred", top);
	assert_int_equal(admin_walk(dir, walk_fn, &w), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.names[0], "1/4Hb2Xc0001z8");
	assert_string_equal(w.names[1], "2/4Hb2Xc0002z9");
	/* the same with a trailing slash */
	w.n = 0;
	snprintf(dir, sizeof(dir), "%s/deferred//", top);
	assert_int_equal(admin_walk(dir, walk_fn, &w), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.names[1], "2/4Hb2Xc0002z9");
	/* a missing folder is empty */
	snprintf(dir, sizeof(dir), "%s/incoming", top);
	w.n = 0;
	assert_int_equal(admin_walk(dir, walk_fn, &w), 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(system((snprintf(dir, sizeof(dir), "rm -rf %s", top),
				 dir)),
			 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admin_select_duration_units),
		cmocka_unit_test(test_admin_select_option_errors),
		cmocka_unit_test(test_admin_select_match_rules),
		cmocka_unit_test(test_admin_select_walk_sorted_and_hashed),
	};

	return cmocka_run_group_tests_name("admin_select", tests, NULL, NULL);
}
