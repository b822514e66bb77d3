/*
 * Unit tests for util/dict_lmdb (lmdb: tables): build and publish, NUL
 * forms, in-place updates seen by open readers, rebuilds that leave open
 * readers on their snapshot and show through dict_changed, and a map that
 * grows when full.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/dict.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

static char tmpdir[] = "/tmp/test_dict_lmdb.XXXXXX";

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

static char *
tspec(const char *name)
{
	VSTR *v = vstr_alloc(64);

	vstr_sprintf(v, "lmdb:%s/%s", tmpdir, name);
	return vstr_export(v);
}

static int
texists(const char *name)
{
	VSTR	   *v = vstr_alloc(64);
	struct stat st;
	int	    ret;

	vstr_sprintf(v, "%s/%s", tmpdir, name);
	ret = stat(VSTR_STR(v), &st) == 0;
	vstr_free(v);
	return ret;
}

static DICT *
must_open(const char *spec, int flags)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = dict_open(spec, flags, why);

	if (d == NULL)
		fail_msg("open %s: %s", spec, VSTR_STR(why));
	vstr_free(why);
	return d;
}

static void
build(const char *spec, int flags, const char *const *pairs)
{
	DICT *d = must_open(spec, flags | DICT_FLAG_CREATE);

	for (; *pairs; pairs += 2)
		assert_int_equal(dict_update(d, pairs[0], pairs[1]), 0);
	assert_int_equal(dict_commit(d), 0);
	dict_close(d);
}

static void
test_dict_lmdb_build_publishes_on_commit(void **state)
{
	char	   *spec = tspec("t1");
	DICT	   *d;
	const char *k;
	const char *v;
	int	    n = 0;

	(void)state;
	d = must_open(spec, DICT_FLAG_FOLD | DICT_FLAG_CREATE);
	assert_int_equal(dict_update(d, "Sales@Example.COM", "joe"), 0);
	assert_int_equal(dict_update(d, "info@example.com", "ann"), 0);
	/* Duplicates keep the first value, as postmap does. */
	assert_int_equal(dict_update(d, "info@example.com", "bob"), 0);
	harness_dict_expect(d, "INFO@example.com", "ann");
	/* LMDB's key limit (511 bytes) fails that key, not the build. */
	{
		char long_key[600];

		memset(long_key, 'k', sizeof(long_key) - 1);
		long_key[sizeof(long_key) - 1] = 0;
		assert_int_equal(dict_update(d, long_key, "v"), -1);
		assert_int_equal(errno, ENAMETOOLONG);
		harness_dict_expect(d, long_key, NULL);
		assert_int_equal(dict_delete(d, long_key), 0);
	}
	/* Nothing is visible before the commit. */
	assert_false(texists("t1.lmdb"));
	assert_int_equal(dict_commit(d), 0);
	dict_close(d);
	assert_true(texists("t1.lmdb"));

	d = must_open(spec, DICT_FLAG_FOLD);
	harness_dict_expect(d, "sales@example.com", "joe");
	harness_dict_expect(d, "SALES@EXAMPLE.COM", "joe");
	harness_dict_expect(d, "nobody@example.com", NULL);
	assert_int_equal(dict_update(d, "x", "y"), -1);
	assert_int_equal(errno, EROFS);
	for (int r = dict_first(d, &k, &v); r > 0; r = dict_next(d, &k, &v))
		n++;
	assert_int_equal(n, 2);
	assert_int_equal(dict_changed(d), 0);
	dict_close(d);
	myfree(spec);
}

static void
test_dict_lmdb_nul_forms_and_replace(void **state)
{
	char		  *spec = tspec("t2");
	static const char *pairs[] = { "a", "1", "b", "2", NULL };
	DICT		  *d;

	(void)state;
	build(spec, DICT_FLAG_NUL, pairs);
	/* A table written with NULs answers a reader that writes none. */
	d = must_open(spec, 0);
	harness_dict_expect(d, "a", "1");
	dict_close(d);
	d = must_open(spec, DICT_FLAG_WRITE | DICT_FLAG_DUP_REPLACE);
	assert_int_equal(dict_update(d, "a", "one"), 0);
	harness_dict_expect(d, "a", "one");
	assert_int_equal(dict_delete(d, "b"), 1);
	assert_int_equal(dict_delete(d, "b"), 0);
	dict_close(d);
	myfree(spec);
}

static void
test_dict_lmdb_open_reader_sees_in_place_updates(void **state)
{
	char		  *spec = tspec("t3");
	static const char *pairs[] = { "k", "v1", NULL };
	DICT		  *reader;
	DICT		  *writer;

	(void)state;
	build(spec, 0, pairs);
	reader = must_open(spec, 0);
	harness_dict_expect(reader, "k", "v1");
	writer = must_open(spec, DICT_FLAG_WRITE | DICT_FLAG_DUP_REPLACE);
	assert_int_equal(dict_update(writer, "k", "v2"), 0);
	assert_int_equal(dict_update(writer, "new", "n"), 0);
	/* Each write is its own transaction: readers see it at once. */
	harness_dict_expect(reader, "k", "v2");
	harness_dict_expect(reader, "new", "n");
	assert_int_equal(dict_delete(writer, "new"), 1);
	harness_dict_expect(reader, "new", NULL);
	assert_int_equal(dict_changed(reader), 0);
	dict_close(writer);
	dict_close(reader);
	myfree(spec);
}

static void
test_dict_lmdb_rebuild_keeps_reader_snapshot(void **state)
{
	char		  *spec = tspec("t4");
	static const char *v1[] = { "k", "old", "gone", "x", NULL };
	DICT		  *reader;
	DICT		  *builder;
	DICT		  *fresh;

	(void)state;
	build(spec, 0, v1);
	reader = must_open(spec, 0);
	builder = must_open(spec, DICT_FLAG_CREATE);
	assert_int_equal(dict_update(builder, "k", "new"), 0);
	/* The reader keeps reading while the builder works. */
	harness_dict_expect(reader, "k", "old");
	assert_int_equal(dict_changed(reader), 0);
	assert_int_equal(dict_commit(builder), 0);
	dict_close(builder);
	/* Published: the open reader keeps its file and is told. */
	harness_dict_expect(reader, "k", "old");
	harness_dict_expect(reader, "gone", "x");
	assert_int_equal(dict_changed(reader), 1);
	fresh = must_open(spec, 0);
	harness_dict_expect(fresh, "k", "new");
	harness_dict_expect(fresh, "gone", NULL);
	assert_int_equal(dict_changed(fresh), 0);
	/* Nothing of the builder's is left behind. */
	assert_false(texists("t4.lmdb.tmp"));
	dict_close(fresh);
	dict_close(reader);
	myfree(spec);
}

static void
test_dict_lmdb_full_map_grows(void **state)
{
	char	   *spec = tspec("t5");
	VSTR	   *key = vstr_alloc(32);
	VSTR	   *val = vstr_alloc(256);
	DICT	   *d;
	struct stat st;
	int	    i;

	(void)state;
	dict_lmdb_configure(32768);
	for (i = 0; i < 200; i++)
		vstr_addch(val, 'v');
	d = must_open(spec, DICT_FLAG_CREATE);
	for (i = 0; i < 2000; i++) {
		vstr_sprintf(key, "key%d", i);
		assert_int_equal(dict_update(d, VSTR_STR(key), VSTR_STR(val)),
				 0);
	}
	assert_int_equal(dict_commit(d), 0);
	dict_close(d);
	/* In place too. */
	d = must_open(spec, DICT_FLAG_WRITE);
	for (i = 2000; i < 4000; i++) {
		vstr_sprintf(key, "key%d", i);
		assert_int_equal(dict_update(d, VSTR_STR(key), VSTR_STR(val)),
				 0);
	}
	dict_close(d);
	d = must_open(spec, 0);
	harness_dict_expect(d, "key0", VSTR_STR(val));
	harness_dict_expect(d, "key3999", VSTR_STR(val));
	dict_close(d);
	vstr_sprintf(key, "%s/t5.lmdb", tmpdir);
	assert_int_equal(stat(VSTR_STR(key), &st), 0);
	assert_true(st.st_size > 4000 * 200);
	dict_lmdb_configure(0);
	vstr_free(key);
	vstr_free(val);
	myfree(spec);
}

/* Does another process see a lock on byte 0 of path (LMDB's own)? */
static int
locked_for_others(const char *path)
{
	pid_t pid = fork();
	int   status;

	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK,
				    .l_whence = SEEK_SET,
				    .l_start = 0,
				    .l_len = 1 };
		int	     fd = open(path, O_RDWR);

		if (fd < 0 || fcntl(fd, F_GETLK, &fl) < 0)
			_exit(2);
		_exit(fl.l_type == F_UNLCK ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 2);
	return WEXITSTATUS(status) == 1;
}

static void
test_dict_lmdb_same_file_twice_shares_one_environment(void **state)
{
	char		  *spec = tspec("t6");
	static const char *pairs[] = { "k", "v", NULL };
	VSTR		  *lock = vstr_alloc(64);
	DICT		  *a;
	DICT		  *b;

	(void)state;
	build(spec, 0, pairs);
	a = must_open(spec, 0);
	b = must_open(spec, DICT_FLAG_FOLD);
	vstr_sprintf(lock, "%s/t6.lmdb-lock", tmpdir);
	assert_true(locked_for_others(VSTR_STR(lock)));
	/*
	 * Closing one must not drop the lock the other relies on: with two
	 * environments, closing either releases the process's lock and a
	 * new process would reset the reader table under the other.
	 */
	dict_close(a);
	assert_true(locked_for_others(VSTR_STR(lock)));
	harness_dict_expect(b, "K", "v");
	dict_close(b);
	assert_false(locked_for_others(VSTR_STR(lock)));
	vstr_free(lock);
	myfree(spec);
}

static void
test_dict_lmdb_open_errors_name_the_table(void **state)
{
	char *spec = tspec("missing");
	VSTR *why = vstr_alloc(64);

	(void)state;
	assert_null(dict_open(spec, 0, why));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(VSTR_STR(why), "lmdb:"));
	assert_non_null(strstr(VSTR_STR(why), "missing.lmdb"));
	vstr_free(why);
	myfree(spec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dict_lmdb_build_publishes_on_commit),
		cmocka_unit_test(test_dict_lmdb_nul_forms_and_replace),
		cmocka_unit_test(
		    test_dict_lmdb_open_reader_sees_in_place_updates),
		cmocka_unit_test(test_dict_lmdb_rebuild_keeps_reader_snapshot),
		cmocka_unit_test(test_dict_lmdb_full_map_grows),
		cmocka_unit_test(
		    test_dict_lmdb_same_file_twice_shares_one_environment),
		cmocka_unit_test(test_dict_lmdb_open_errors_name_the_table),
	};

	msg_set_progname("test_dict_lmdb");
	return cmocka_run_group_tests(tests, setup, teardown);
}
