/*
 * Unit tests for util/dict_db (hash: and btree: tables) and the generic
 * util/dict layer: folding, NUL forms, atomic rebuild, key bound.
 *
 * SPDX-License-Identifier: ISC
 */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/dict.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

static char tmpdir[] = "/tmp/test_dict_db.XXXXXX";

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
tpath(const char *name)
{
	VSTR *v = vstr_alloc(64);

	vstr_sprintf(v, "%s/%s", tmpdir, name);
	return vstr_export(v);
}

static char *
tspec(const char *type, const char *name)
{
	VSTR *v = vstr_alloc(64);

	vstr_sprintf(v, "%s:%s/%s", type, tmpdir, name);
	return vstr_export(v);
}

static void
build(const char *spec, int flags, const char *const *pairs)
{
	VSTR *why = vstr_alloc(64);
	DICT *d = dict_open(spec, flags | DICT_FLAG_CREATE, why);

	assert_non_null(d);
	for (; pairs[0]; pairs += 2)
		assert_int_equal(dict_update(d, pairs[0], pairs[1]), 0);
	assert_int_equal(dict_commit(d), 0);
	dict_close(d);
	vstr_free(why);
}

static void
test_dict_db_hash_build_and_lookup_folds_case(void **state)
{
	static const char *const pairs[] = { "Root", "admin", "x", "y", NULL };
	char			*spec = tspec("hash", "t1");
	VSTR			*why = vstr_alloc(64);
	const char		*value;
	DICT			*d;

	(void)state;
	build(spec, DICT_FLAG_FOLD, pairs);
	d = dict_open(spec, DICT_FLAG_FOLD, why);
	assert_non_null(d);
	assert_string_equal(dict_type(d), "hash");
	assert_string_equal(dict_spec(d), spec);
	assert_int_equal(dict_lookup(d, "ROOT", &value), 1);
	assert_string_equal(value, "admin");
	assert_int_equal(dict_lookup(d, "root", &value), 1);
	assert_int_equal(dict_lookup(d, "nobody", &value), 0);
	/* A read-only table refuses writes. */
	assert_int_equal(dict_update(d, "a", "b"), -1);
	assert_int_equal(errno, EROFS);
	dict_close(d);

	/* Without folding the key is stored and looked up as given. */
	build(spec, 0, pairs);
	d = dict_open(spec, 0, why);
	assert_int_equal(dict_lookup(d, "Root", &value), 1);
	assert_int_equal(dict_lookup(d, "root", &value), 0);
	dict_close(d);
	myfree(spec);
	vstr_free(why);
}

static void
test_dict_db_btree_iterates_in_order(void **state)
{
	static const char *const pairs[] = {
		"b", "2", "a", "1", "c", "3", NULL
	};
	char	   *spec = tspec("btree", "t2");
	VSTR	   *why = vstr_alloc(64);
	VSTR	   *seen = vstr_alloc(64);
	const char *k;
	const char *v;
	DICT	   *d;
	int	    ret;

	(void)state;
	build(spec, DICT_FLAG_FOLD, pairs);
	d = dict_open(spec, DICT_FLAG_FOLD, why);
	assert_non_null(d);
	for (ret = dict_first(d, &k, &v); ret > 0; ret = dict_next(d, &k, &v))
		vstr_sprintf_append(seen, "%s=%s;", k, v);
	assert_int_equal(ret, 0);
	assert_string_equal(VSTR_STR(seen), "a=1;b=2;c=3;");
	dict_close(d);
	myfree(spec);
	vstr_free(why);
	vstr_free(seen);
}

/* A table written by another program with NUL-terminated keys. */
static void
test_dict_db_reads_keys_with_trailing_nul(void **state)
{
	char	   *file = tpath("nul.db");
	char	   *spec = tspec("hash", "nul");
	VSTR	   *why = vstr_alloc(64);
	DB	   *db;
	DBT	    k;
	DBT	    v;
	const char *value;
	DICT	   *d;

	(void)state;
	assert_int_equal(db_create(&db, NULL, 0), 0);
	assert_int_equal(db->open(db, NULL, file, NULL, DB_HASH, DB_CREATE,
				  0644),
			 0);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = "postmaster";
	k.size = sizeof("postmaster");
	v.data = "root";
	v.size = sizeof("root");
	assert_int_equal(db->put(db, NULL, &k, &v, 0), 0);
	db->close(db, 0);

	d = dict_open(spec, DICT_FLAG_FOLD, why);
	assert_non_null(d);
	assert_int_equal(dict_lookup(d, "Postmaster", &value), 1);
	assert_string_equal(value, "root");
	dict_close(d);

	/* -N tables store the NUL and still find the plain form. */
	{
		static const char *const pairs[] = { "k", "v", NULL };

		build(spec, DICT_FLAG_FOLD | DICT_FLAG_NUL, pairs);
		d = dict_open(spec, DICT_FLAG_FOLD, why);
		assert_int_equal(dict_lookup(d, "k", &value), 1);
		assert_string_equal(value, "v");
		dict_close(d);
	}
	myfree(file);
	myfree(spec);
	vstr_free(why);
}

static void
test_dict_db_update_is_invisible_until_commit(void **state)
{
	static const char *const pairs[] = { "old", "1", NULL };
	char			*spec = tspec("hash", "t3");
	char			*file = tpath("t3.db");
	VSTR			*why = vstr_alloc(64);
	const char		*value;
	struct stat		 st1;
	struct stat		 st2;
	DICT			*reader;
	DICT			*w;

	(void)state;
	build(spec, DICT_FLAG_FOLD, pairs);
	assert_int_equal(chmod(file, 0640), 0);
	reader = dict_open(spec, DICT_FLAG_FOLD, why);
	assert_non_null(reader);
	assert_int_equal(dict_changed(reader), 0);
	assert_int_equal(stat(file, &st1), 0);

	w = dict_open(spec, DICT_FLAG_FOLD | DICT_FLAG_WRITE, why);
	assert_non_null(w);
	/* The writer starts from the old contents. */
	assert_int_equal(dict_lookup(w, "old", &value), 1);
	assert_int_equal(dict_update(w, "new", "2"), 0);
	assert_int_equal(dict_delete(w, "old"), 1);
	assert_int_equal(dict_delete(w, "old"), 0);
	/* Nothing published yet: same file, same contents. */
	assert_int_equal(stat(file, &st2), 0);
	assert_true(st1.st_ino == st2.st_ino);
	assert_int_equal(dict_lookup(reader, "new", &value), 0);
	assert_int_equal(dict_commit(w), 0);
	dict_close(w);

	/* The old reader keeps its file and learns that it was replaced. */
	assert_int_equal(dict_lookup(reader, "old", &value), 1);
	assert_int_equal(dict_changed(reader), 1);
	dict_close(reader);

	assert_int_equal(stat(file, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0640);
	reader = dict_open(spec, DICT_FLAG_FOLD, why);
	assert_int_equal(dict_lookup(reader, "new", &value), 1);
	assert_string_equal(value, "2");
	assert_int_equal(dict_lookup(reader, "old", &value), 0);
	dict_close(reader);

	/* A discarded update leaves the published table alone. */
	assert_int_equal(stat(file, &st1), 0);
	w = dict_open(spec, DICT_FLAG_FOLD | DICT_FLAG_WRITE, why);
	assert_int_equal(dict_update(w, "gone", "3"), 0);
	dict_discard(w);
	assert_int_equal(stat(file, &st2), 0);
	assert_true(st1.st_ino == st2.st_ino);
	reader = dict_open(spec, DICT_FLAG_FOLD, why);
	assert_int_equal(dict_lookup(reader, "gone", &value), 0);
	dict_close(reader);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "ls %s | grep -q tmp", tmpdir);
		assert_int_not_equal(system(cmd), 0);
	}
	myfree(spec);
	myfree(file);
	vstr_free(why);
}

static void
test_dict_db_duplicates_keep_first_unless_replace(void **state)
{
	char	   *spec = tspec("hash", "dup");
	VSTR	   *why = vstr_alloc(64);
	const char *value;
	DICT	   *d;

	(void)state;
	d = dict_open(spec, DICT_FLAG_FOLD | DICT_FLAG_CREATE, why);
	assert_int_equal(dict_update(d, "k", "first"), 0);
	assert_int_equal(dict_update(d, "K", "second"), 0);
	assert_int_equal(dict_lookup(d, "k", &value), 1);
	assert_string_equal(value, "first");
	dict_close(d); /* commits */

	d = dict_open(spec,
		      DICT_FLAG_FOLD | DICT_FLAG_WRITE | DICT_FLAG_DUP_REPLACE,
		      why);
	assert_int_equal(dict_update(d, "k", "second"), 0);
	assert_int_equal(dict_lookup(d, "k", &value), 1);
	assert_string_equal(value, "second");
	dict_close(d);
	myfree(spec);
	vstr_free(why);
}

static void
test_dict_db_open_errors_name_the_table(void **state)
{
	char *spec = tspec("hash", "missing");
	char *file = tpath("garbage.db");
	char *gspec = tspec("btree", "garbage");
	VSTR *why = vstr_alloc(64);
	FILE *fp;

	(void)state;
	assert_null(dict_open(spec, DICT_FLAG_FOLD, why));
	assert_non_null(strstr(VSTR_STR(why), spec));
	assert_non_null(strstr(VSTR_STR(why), "No such file"));

	fp = fopen(file, "w");
	fputs("this is not a database\n", fp);
	fclose(fp);
	assert_null(dict_open(gspec, DICT_FLAG_FOLD, why));
	assert_non_null(strstr(VSTR_STR(why), gspec));

	assert_null(dict_open("nosuch:/x", 0, why));
	assert_non_null(strstr(VSTR_STR(why), "unsupported table type"));
	assert_null(dict_open("/etc/aliases", 0, why));
	assert_non_null(strstr(VSTR_STR(why), "type:name"));
	assert_null(dict_open("regexp:/x", DICT_FLAG_CREATE, why));
	assert_non_null(strstr(VSTR_STR(why), "cannot be written"));
	myfree(spec);
	myfree(file);
	myfree(gspec);
	vstr_free(why);
}

static void
test_dict_db_long_key_fails_cleanly(void **state)
{
	static const char *const pairs[] = { "k", "v", NULL };
	char			*spec = tspec("hash", "long");
	VSTR			*why = vstr_alloc(64);
	char			*key = mymalloc(DICT_KEY_MAX + 2);
	const char		*value;
	DICT			*d;

	(void)state;
	build(spec, DICT_FLAG_FOLD, pairs);
	d = dict_open(spec, DICT_FLAG_FOLD, why);
	memset(key, 'a', DICT_KEY_MAX + 1);
	key[DICT_KEY_MAX + 1] = 0;
	assert_int_equal(dict_lookup(d, key, &value), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	key[DICT_KEY_MAX] = 0;
	assert_int_equal(dict_lookup(d, key, &value), 0);
	dict_close(d);
	myfree(key);
	myfree(spec);
	vstr_free(why);
}

static void
test_dict_db_list_first_match_wins(void **state)
{
	static const char *const a[] = { "x", "from-a", NULL };
	static const char *const b[] = { "x", "from-b", "y", "only-b", NULL };
	char			*sa = tspec("hash", "la");
	char			*sb = tspec("btree", "lb");
	VSTR			*specs = vstr_alloc(64);
	VSTR			*why = vstr_alloc(64);
	const char		*value;
	DICT_LIST		*l;

	(void)state;
	build(sa, DICT_FLAG_FOLD, a);
	build(sb, DICT_FLAG_FOLD, b);
	vstr_sprintf(specs, "%s, %s,inline:{ y=z, { z = from inline } }", sa,
		     sb);
	l = dict_list_open(VSTR_STR(specs), DICT_FLAG_FOLD, why);
	assert_non_null(l);
	assert_int_equal(dict_list_count(l), 3);
	assert_int_equal(dict_list_lookup(l, "X", &value), 1);
	assert_string_equal(value, "from-a");
	assert_int_equal(dict_list_lookup(l, "y", &value), 1);
	assert_string_equal(value, "only-b");
	assert_int_equal(dict_list_lookup(l, "z", &value), 1);
	assert_string_equal(value, "from inline");
	assert_int_equal(dict_list_lookup(l, "w", &value), 0);
	dict_list_close(l);

	vstr_sprintf(specs, "%s, hash:%s/none", sa, tmpdir);
	assert_null(dict_list_open(VSTR_STR(specs), DICT_FLAG_FOLD, why));
	assert_non_null(strstr(VSTR_STR(why), "none"));
	assert_null(dict_list_open("inline:{ a=b", DICT_FLAG_FOLD, why));
	assert_non_null(strstr(VSTR_STR(why), "missing '}'"));
	myfree(sa);
	myfree(sb);
	vstr_free(specs);
	vstr_free(why);
}

/* A cache owner's table: changed in place, visible at once, no temp. */
static void
test_dict_db_sync_update_writes_in_place(void **state)
{
	char	   *spec = tspec("btree", "cache");
	char	   *path = tpath("cache.db");
	VSTR	   *why = vstr_alloc(64);
	DICT	   *w;
	DICT	   *r;
	struct stat st;

	(void)state;
	w = dict_open(spec,
		      DICT_FLAG_WRITE | DICT_FLAG_SYNC_UPDATE
			  | DICT_FLAG_DUP_REPLACE,
		      why);
	assert_non_null(w);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(dict_update(w, "k1", "v1"), 0);
	assert_int_equal(dict_update(w, "k1", "v2"), 0);
	harness_dict_expect(w, "k1", "v2");
	r = dict_open(spec, 0, why);
	assert_non_null(r);
	harness_dict_expect(r, "k1", "v2");
	dict_close(r);
	assert_int_equal(dict_delete(w, "k1"), 1);
	r = dict_open(spec, 0, why);
	harness_dict_expect(r, "k1", NULL);
	dict_close(r);
	assert_int_equal(dict_changed(w), 0);
	dict_close(w);
	vstr_free(why);
	myfree(spec);
	myfree(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dict_db_hash_build_and_lookup_folds_case),
		cmocka_unit_test(test_dict_db_btree_iterates_in_order),
		cmocka_unit_test(test_dict_db_reads_keys_with_trailing_nul),
		cmocka_unit_test(test_dict_db_update_is_invisible_until_commit),
		cmocka_unit_test(
		    test_dict_db_duplicates_keep_first_unless_replace),
		cmocka_unit_test(test_dict_db_open_errors_name_the_table),
		cmocka_unit_test(test_dict_db_long_key_fails_cleanly),
		cmocka_unit_test(test_dict_db_list_first_match_wins),
		cmocka_unit_test(test_dict_db_sync_update_writes_in_place),
	};

	msg_set_progname("test_dict_db");
	return cmocka_run_group_tests(tests, setup, teardown);
}
