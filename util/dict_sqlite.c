/*
 * dict_sqlite - sqlite: tables, a query against an SQLite database per
 * lookup, configured by a file in the format of Postfix's
 * sqlite_table(5): dbpath, query, result_format, domain,
 * expansion_limit (util/dict_query.h reads the common ones).  The
 * deprecated table / select_field / where_field interface is not
 * implemented: like any unknown setting it fails the open.
 *
 * The database is opened read-only at the first lookup and kept open; a
 * lookup that cannot open it, a query SQLite refuses and a locked
 * database are table errors (-1, errno EAGAIN, msg_warn naming the table
 * and SQLite's reason), never "not found", so the caller defers.  A
 * failed open is tried again at the next lookup.  Substituted key parts
 * are quoted by doubling single quotes; each column of each result row is
 * one result, and several are joined with ",".
 *
 * Errors: open fails (why) for a configuration file that cannot be read,
 * a missing dbpath or query, a bad template or an unknown parameter.
 * Values are borrowed until the next lookup or close.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/dict_query.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

/* How long a lookup waits for a writer's lock before it defers. */
#define DICT_SQLITE_BUSY_MS 3000

typedef struct DICT_SQLITE {
	DICT		       dict;
	char		      *dbpath;
	struct dict_query_conf qc;
	sqlite3		      *db; /* NULL until the first lookup */
	VSTR		      *query;
	VSTR		      *result;
} DICT_SQLITE;

/* SQL string quoting: a single quote is doubled. */
static void
dict_sqlite_quote(VSTR *out, const char *s, size_t len, void *ctx)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < len; i++) {
		if (s[i] == '\'')
			vstr_addch(out, '\'');
		vstr_addch(out, s[i]);
	}
}

static int
dict_sqlite_connect(DICT_SQLITE *ds)
{
	int ret;

	if (ds->db != NULL)
		return 0;
	ret = sqlite3_open_v2(ds->dbpath, &ds->db, SQLITE_OPEN_READONLY, NULL);
	if (ret != SQLITE_OK) {
		msg_warn("%s: open database %s: %s", ds->dict.spec, ds->dbpath,
			 ds->db ? sqlite3_errmsg(ds->db) : sqlite3_errstr(ret));
		sqlite3_close(ds->db);
		ds->db = NULL;
		errno = EAGAIN;
		return -1;
	}
	sqlite3_busy_timeout(ds->db, DICT_SQLITE_BUSY_MS);
	return 0;
}

static int
dict_sqlite_lookup(DICT *d, const char *key, const char **value)
{
	DICT_SQLITE  *ds = (DICT_SQLITE *)d;
	sqlite3_stmt *stmt = NULL;
	VSTR	     *why;
	size_t	      count = 0;
	int	      ret;
	int	      status = 0;
	int	      i;
	int	      ncol;

	if ((ret = dict_query_domain_ok(&ds->qc, key)) <= 0)
		return ret;
	vstr_reset(ds->query);
	why = vstr_alloc(64);
	ret = dict_query_expand(ds->query, ds->qc.query, key, dict_sqlite_quote,
				NULL, why);
	vstr_free(why);
	/* Templates were checked at open; a suppressed query finds nothing. */
	if (ret <= 0)
		return 0;
	if (dict_sqlite_connect(ds) < 0)
		return -1;
	if (sqlite3_prepare_v2(ds->db, VSTR_STR(ds->query), -1, &stmt, NULL)
	    != SQLITE_OK) {
		msg_warn("%s: query \"%s\": %s", d->spec, VSTR_STR(ds->query),
			 sqlite3_errmsg(ds->db));
		errno = EAGAIN;
		return -1;
	}
	vstr_reset(ds->result);
	while ((ret = sqlite3_step(stmt)) == SQLITE_ROW) {
		ncol = sqlite3_column_count(stmt);
		for (i = 0; i < ncol; i++) {
			const unsigned char *text = sqlite3_column_text(stmt,
									i);

			if (text == NULL)
				continue;
			if (dict_query_result(&ds->qc, ds->result, &count, key,
					      (const char *)text,
					      (size_t)sqlite3_column_bytes(stmt,
									   i))
			    < 0) {
				msg_warn("%s: lookup of \"%s\": more than "
					 "expansion_limit=%ld results",
					 d->spec, key, ds->qc.expansion_limit);
				status = -1;
				errno = EFBIG;
				goto out;
			}
		}
	}
	if (ret != SQLITE_DONE) {
		msg_warn("%s: query \"%s\": %s", d->spec, VSTR_STR(ds->query),
			 sqlite3_errmsg(ds->db));
		status = -1;
		errno = EAGAIN;
		goto out;
	}
	if (count > 0) {
		*value = VSTR_STR(ds->result);
		status = 1;
	}
out:
	sqlite3_finalize(stmt);
	return status;
}

static void
dict_sqlite_close(DICT *d)
{
	DICT_SQLITE *ds = (DICT_SQLITE *)d;

	if (ds->db != NULL)
		sqlite3_close(ds->db);
	dict_query_conf_free(&ds->qc);
	myfree(ds->dbpath);
	vstr_free(ds->query);
	vstr_free(ds->result);
}

DICT *
dict_sqlite_open(const char *name, int flags, VSTR *why)
{
	DICT_CF	    *cf;
	DICT_SQLITE *ds;
	const char  *dbpath;

	if ((cf = dict_cf_read(name, why)) == NULL)
		return NULL;
	dbpath = dict_cf_str(cf, "dbpath", NULL);
	if (dbpath == NULL || *dbpath == 0) {
		vstr_sprintf(why, "%s: missing parameter \"dbpath\"", name);
		dict_cf_free(cf);
		errno = EINVAL;
		return NULL;
	}
	ds = (DICT_SQLITE *)dict_alloc(sizeof(*ds), "sqlite", name, flags);
	ds->dbpath = mystrdup(dbpath);
	ds->query = vstr_alloc(256);
	ds->result = vstr_alloc(256);
	ds->dict.lookup = dict_sqlite_lookup;
	ds->dict.close = dict_sqlite_close;
	if (dict_query_conf_read(cf, "query", NULL, &ds->qc, why) < 0
	    || dict_cf_check_unused(cf, why) < 0) {
		dict_cf_free(cf);
		dict_close(&ds->dict);
		errno = EINVAL;
		return NULL;
	}
	dict_cf_free(cf);
	return &ds->dict;
}
