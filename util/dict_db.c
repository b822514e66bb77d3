/*
 * dict_db - hash: and btree: tables in Berkeley DB 5.3 files (name.db).
 * The only file that includes <db.h>.
 *
 * Format: keys and values are stored without a trailing NUL unless the
 * table is opened with DICT_FLAG_NUL; lookups and deletes try both forms,
 * so tables made by Postfix's postmap on any platform work.
 *
 * Concurrency: a published name.db is never modified in place.  Builders
 * (DICT_FLAG_CREATE: empty table; DICT_FLAG_WRITE: the old contents copied
 * first) write name.db.tmp.PID and dict_commit() renames it over name.db
 * after fsync, keeping the old file's mode and owner.  The one exception:
 * DICT_FLAG_SYNC_UPDATE writers (a cache owned by one process, such as
 * postscreen's) open name.db itself read-write, creating it when missing,
 * and sync it after every change; they take no lock, so there must be no
 * second writer.  Builders hold an
 * exclusive flock on the old name.db from open to close, so concurrent
 * builders serialise and a foreign tool that updates in place (and locks)
 * is kept out; readers take a shared flock while opening, so they never
 * open a file that such a tool is half-way through, and re-open when the
 * name was replaced while they waited.  dict_changed() reports a rebuild.
 *
 * Errors: open fails with why naming the file and the Berkeley DB reason;
 * lookups return -1 with errno (EIO for Berkeley DB internal errors) and
 * msg_warn naming the table.  Returned keys and values are borrowed from
 * the DICT until the next call on it.
 *
 * SPDX-License-Identifier: ISC
 */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/dict.h"
#include "util/dict_file.h"
#include "util/dict_impl.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

#define DB_OPEN_TRIES 10

typedef struct DICT_DB {
	DICT  dict;
	DB   *db;
	DBC  *cursor;
	char *path;    /* name.db */
	char *tmp;     /* builder's temporary file, or NULL */
	int   lock_fd; /* builder's lock on the old file */
	int   failed;  /* a write failed: never publish */
	int   committed;
	int   inplace; /* DICT_FLAG_SYNC_UPDATE: name.db itself */
	dev_t dev;     /* file opened, for dict_changed */
	ino_t ino;
	VSTR *key;
	VSTR *val;
} DICT_DB;

static int
db_errno(int ret)
{
	return ret > 0 ? ret : EIO;
}

/* Copy a DBT into a C string, dropping one trailing NUL. */
static const char *
db_text(VSTR *buf, const DBT *dbt)
{
	size_t len = dbt->size;

	if (len > 0 && ((const char *)dbt->data)[len - 1] == 0)
		len--;
	vstr_memcpy(buf, dbt->data, len);
	return VSTR_STR(buf);
}

static int
db_lookup(DICT *d, const char *key, const char **value)
{
	DICT_DB *dd = (DICT_DB *)d;
	DBT	 k;
	DBT	 v;
	int	 pass;
	int	 ret;
	size_t	 len = strlen(key);

	if (dd->db == NULL) {
		errno = EBADF;
		return -1;
	}
	for (pass = 0; pass < 2; pass++) {
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = (void *)key;
		/* Try the form this table writes first. */
		k.size = (u_int32_t)len;
		if ((pass == 0) == !!(d->flags & DICT_FLAG_NUL))
			k.size++;
		ret = dd->db->get(dd->db, NULL, &k, &v, 0);
		if (ret == 0) {
			*value = db_text(dd->val, &v);
			return 1;
		}
		if (ret != DB_NOTFOUND) {
			msg_warn("%s: lookup of \"%s\": %s", d->spec, key,
				 db_strerror(ret));
			errno = db_errno(ret);
			return -1;
		}
	}
	return 0;
}

/* An in-place writer's change is on disk before the caller goes on. */
static int
db_sync_inplace(DICT_DB *dd)
{
	int ret;

	if (!dd->inplace)
		return 0;
	if ((ret = dd->db->sync(dd->db, 0)) != 0) {
		msg_warn("%s: sync: %s", dd->dict.spec, db_strerror(ret));
		errno = db_errno(ret);
		return -1;
	}
	return 0;
}

static int
db_update(DICT *d, const char *key, const char *value)
{
	DICT_DB *dd = (DICT_DB *)d;
	DBT	 k;
	DBT	 v;
	int	 ret;
	int	 nul = !!(d->flags & DICT_FLAG_NUL);

	if (dd->db == NULL || (dd->tmp == NULL && !dd->inplace)) {
		errno = EROFS;
		return -1;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)(strlen(key) + (size_t)nul);
	v.data = (void *)value;
	v.size = (u_int32_t)(strlen(value) + (size_t)nul);
	ret = dd->db->put(dd->db, NULL, &k, &v,
			  (d->flags & DICT_FLAG_DUP_REPLACE) ? 0
							     : DB_NOOVERWRITE);
	if (ret == DB_KEYEXIST) {
		if (!(d->flags & DICT_FLAG_DUP_IGNORE))
			msg_warn("%s: duplicate entry: \"%s\"", d->spec, key);
		return 0;
	}
	if (ret != 0) {
		msg_warn("%s: update of \"%s\": %s", d->spec, key,
			 db_strerror(ret));
		dd->failed = 1;
		errno = db_errno(ret);
		return -1;
	}
	return db_sync_inplace(dd);
}

static int
db_delete(DICT *d, const char *key)
{
	DICT_DB *dd = (DICT_DB *)d;
	DBT	 k;
	int	 pass;
	int	 ret;
	int	 found = 0;

	if (dd->db == NULL || (dd->tmp == NULL && !dd->inplace)) {
		errno = EROFS;
		return -1;
	}
	for (pass = 0; pass < 2; pass++) {
		memset(&k, 0, sizeof(k));
		k.data = (void *)key;
		k.size = (u_int32_t)(strlen(key) + (size_t)pass);
		ret = dd->db->del(dd->db, NULL, &k, 0);
		if (ret == 0)
			found = 1;
		else if (ret != DB_NOTFOUND) {
			msg_warn("%s: delete of \"%s\": %s", d->spec, key,
				 db_strerror(ret));
			dd->failed = 1;
			errno = db_errno(ret);
			return -1;
		}
	}
	if (found && db_sync_inplace(dd) < 0)
		return -1;
	return found;
}

static int
db_seq(DICT *d, int first, const char **key, const char **value)
{
	DICT_DB *dd = (DICT_DB *)d;
	DBT	 k;
	DBT	 v;
	int	 ret;

	if (dd->db == NULL) {
		errno = EBADF;
		return -1;
	}
	if (first && dd->cursor) {
		dd->cursor->close(dd->cursor);
		dd->cursor = NULL;
	}
	if (dd->cursor == NULL) {
		if (!first)
			return 0;
		if ((ret = dd->db->cursor(dd->db, NULL, &dd->cursor, 0)) != 0) {
			msg_warn("%s: cursor: %s", d->spec, db_strerror(ret));
			errno = db_errno(ret);
			return -1;
		}
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	ret = dd->cursor->get(dd->cursor, &k, &v, first ? DB_FIRST : DB_NEXT);
	if (ret == DB_NOTFOUND) {
		dd->cursor->close(dd->cursor);
		dd->cursor = NULL;
		return 0;
	}
	if (ret != 0) {
		msg_warn("%s: sequence: %s", d->spec, db_strerror(ret));
		errno = db_errno(ret);
		return -1;
	}
	*key = db_text(dd->key, &k);
	*value = db_text(dd->val, &v);
	return 1;
}

static int
db_changed(const DICT *d)
{
	const DICT_DB *dd = (const DICT_DB *)d;
	struct stat    st;

	if (stat(dd->path, &st) < 0)
		return 1;
	return st.st_dev != dd->dev || st.st_ino != dd->ino;
}

static int
db_commit(DICT *d)
{
	DICT_DB *dd = (DICT_DB *)d;
	int	 ret;
	int	 saved;

	if (dd->tmp == NULL || dd->committed)
		return 0;
	dd->committed = 1;
	if (dd->cursor) {
		dd->cursor->close(dd->cursor);
		dd->cursor = NULL;
	}
	ret = dd->db->close(dd->db, 0);
	dd->db = NULL;
	if (ret != 0) {
		msg_warn("%s: close %s: %s", d->spec, dd->tmp,
			 db_strerror(ret));
		errno = db_errno(ret);
		goto fail;
	}
	if (dd->failed) {
		msg_warn("%s: not updated because of earlier errors", d->spec);
		errno = EIO;
		goto fail;
	}
	if (dict_file_publish(d->spec, dd->tmp, dd->path, dd->lock_fd) < 0)
		goto fail;
	dd->tmp = myfree(dd->tmp);
	return 0;

fail:
	saved = errno;
	unlink(dd->tmp);
	dd->tmp = myfree(dd->tmp);
	errno = saved;
	return -1;
}

static void
db_discard(DICT *d)
{
	DICT_DB *dd = (DICT_DB *)d;

	if (dd->tmp == NULL || dd->committed)
		return;
	dd->committed = 1;
	if (dd->cursor) {
		dd->cursor->close(dd->cursor);
		dd->cursor = NULL;
	}
	if (dd->db) {
		dd->db->close(dd->db, 0);
		dd->db = NULL;
	}
	unlink(dd->tmp);
	dd->tmp = myfree(dd->tmp);
}

static void
db_close(DICT *d)
{
	DICT_DB *dd = (DICT_DB *)d;

	if (dd->tmp != NULL)
		(void)db_commit(d);
	if (dd->cursor)
		dd->cursor->close(dd->cursor);
	if (dd->db)
		dd->db->close(dd->db, 0);
	if (dd->lock_fd >= 0)
		close(dd->lock_fd);
	myfree(dd->path);
	vstr_free(dd->key);
	vstr_free(dd->val);
}

/* Berkeley DB's own diagnostics repeat what why/msg_warn already say. */
static void
db_errcall(const DB_ENV *env, const char *prefix, const char *text)
{
	(void)env;
	(void)prefix;
	if (msg_verbose)
		msg_info("berkeley db: %s", text);
}

static DB *
db_open_file(const char *path, DBTYPE type, u_int32_t flags, VSTR *why)
{
	DB *db;
	int ret;

	if ((ret = db_create(&db, NULL, 0)) != 0) {
		vstr_sprintf(why, "db_create: %s", db_strerror(ret));
		errno = db_errno(ret);
		return NULL;
	}
	db->set_errcall(db, db_errcall);
	if ((ret = db->open(db, NULL, path, NULL, type, flags, 0644)) != 0) {
		vstr_sprintf(why, "open %s: %s", path, db_strerror(ret));
		db->close(db, 0);
		errno = db_errno(ret);
		return NULL;
	}
	return db;
}

/* Copy every pair of the published table into the builder's file. */
static int
db_copy_old(DICT_DB *dd, DBTYPE type, VSTR *why)
{
	DB  *old;
	DBC *cur;
	DBT  k;
	DBT  v;
	int  ret;

	if ((old = db_open_file(dd->path, type, DB_RDONLY, why)) == NULL)
		return -1;
	if ((ret = old->cursor(old, NULL, &cur, 0)) != 0) {
		vstr_sprintf(why, "%s: cursor: %s", dd->path, db_strerror(ret));
		old->close(old, 0);
		return -1;
	}
	for (;;) {
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		if ((ret = cur->get(cur, &k, &v, DB_NEXT)) != 0)
			break;
		if ((ret = dd->db->put(dd->db, NULL, &k, &v, 0)) != 0)
			break;
	}
	cur->close(cur);
	old->close(old, 0);
	if (ret != DB_NOTFOUND) {
		vstr_sprintf(why, "copy %s: %s", dd->path, db_strerror(ret));
		return -1;
	}
	return 0;
}

/* Close a half-opened table keeping errno for the caller's exit status. */
static DICT *
db_open_fail(DICT_DB *dd)
{
	int saved = errno;

	dict_close(&dd->dict);
	errno = saved;
	return NULL;
}

DICT *
dict_db_open(const char *type, const char *name, int flags, VSTR *why)
{
	DICT_DB	   *dd;
	DBTYPE	    dbtype = strcmp(type, "btree") == 0 ? DB_BTREE : DB_HASH;
	VSTR	   *path = vstr_alloc(256);
	struct stat st;
	struct stat dbst;
	int	    fd;
	int	    dbfd;
	int	    tries;
	int	    exists;

	vstr_sprintf(path, "%s.db", name);
	dd = (DICT_DB *)dict_alloc(sizeof(*dd), type, name, flags);
	dd->path = mystrdup(VSTR_STR(path));
	dd->lock_fd = -1;
	dd->key = vstr_alloc(64);
	dd->val = vstr_alloc(256);
	dd->dict.lookup = db_lookup;
	dd->dict.seq = db_seq;
	dd->dict.changed = db_changed;
	dd->dict.close = db_close;
	dd->dict.commit = db_commit;
	dd->dict.discard = db_discard;

	if (!(flags & (DICT_FLAG_CREATE | DICT_FLAG_WRITE))) {
		for (tries = 0;; tries++) {
			if (tries == DB_OPEN_TRIES) {
				vstr_sprintf(why,
					     "open %s: file keeps being "
					     "replaced",
					     dd->path);
				errno = EAGAIN;
				break;
			}
			if ((fd = dict_file_lock(dd->path, LOCK_SH)) < 0) {
				vstr_sprintf(why, "%s:%s: open %s: %m", type,
					     name, dd->path);
				vstr_free(path);
				return db_open_fail(dd);
			}
			dd->db = db_open_file(dd->path, dbtype, DB_RDONLY, why);
			if (dd->db == NULL) {
				close(fd);
				break;
			}
			if (fstat(fd, &st) == 0
			    && dd->db->fd(dd->db, &dbfd) == 0
			    && fstat(dbfd, &dbst) == 0
			    && st.st_dev == dbst.st_dev
			    && st.st_ino == dbst.st_ino) {
				dd->dev = st.st_dev;
				dd->ino = st.st_ino;
				close(fd);
				break;
			}
			/* Replaced between our lock and Berkeley DB's open. */
			dd->db->close(dd->db, 0);
			dd->db = NULL;
			close(fd);
		}
		if (dd->db == NULL) {
			vstr_sprintf(path, "%s:%s: %s", type, name,
				     VSTR_STR(why));
			vstr_strcpy(why, VSTR_STR(path));
			vstr_free(path);
			return db_open_fail(dd);
		}
		vstr_free(path);
		return &dd->dict;
	}

	/* Builder. */
	dd->dict.update = db_update;
	dd->dict.del = db_delete;
	if ((flags & DICT_FLAG_SYNC_UPDATE) && !(flags & DICT_FLAG_CREATE)) {
		dd->inplace = 1;
		dd->db = db_open_file(dd->path, dbtype, DB_CREATE, why);
		if (dd->db == NULL) {
			vstr_sprintf(path, "%s:%s: %s", type, name,
				     VSTR_STR(why));
			vstr_strcpy(why, VSTR_STR(path));
			vstr_free(path);
			return db_open_fail(dd);
		}
		if (dd->db->fd(dd->db, &dbfd) == 0 && fstat(dbfd, &dbst) == 0) {
			dd->dev = dbst.st_dev;
			dd->ino = dbst.st_ino;
		}
		vstr_free(path);
		return &dd->dict;
	}
	dd->lock_fd = dict_file_lock(dd->path, LOCK_EX);
	if (dd->lock_fd < 0 && errno != ENOENT) {
		vstr_sprintf(why, "%s:%s: lock %s: %m", type, name, dd->path);
		vstr_free(path);
		return db_open_fail(dd);
	}
	exists = dd->lock_fd >= 0;
	vstr_sprintf(path, "%s.tmp.%ld", dd->path, (long)getpid());
	dd->tmp = mystrdup(VSTR_STR(path));
	(void)unlink(dd->tmp);
	dd->db = db_open_file(dd->tmp, dbtype, DB_CREATE | DB_EXCL, why);
	if (dd->db == NULL
	    || (exists && !(flags & DICT_FLAG_CREATE)
		&& db_copy_old(dd, dbtype, why) < 0)) {
		vstr_sprintf(path, "%s:%s: %s", type, name, VSTR_STR(why));
		vstr_strcpy(why, VSTR_STR(path));
		vstr_free(path);
		dd->failed = 1;
		if (dd->db)
			dd->db->close(dd->db, 0);
		dd->db = NULL;
		unlink(dd->tmp);
		dd->tmp = myfree(dd->tmp);
		return db_open_fail(dd);
	}
	vstr_free(path);
	return &dd->dict;
}
