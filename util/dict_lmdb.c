/*
 * dict_lmdb - lmdb: tables in LMDB files (name.lmdb, MDB_NOSUBDIR; LMDB's
 * lock file is name.lmdb-lock).  The only file that includes <lmdb.h>.
 *
 * Format: as hash: (util/dict_db.c): keys and values without a trailing
 * NUL unless DICT_FLAG_NUL; lookups and deletes try both forms.
 *
 * Readers never block writers: every lookup is its own read transaction on
 * LMDB's multi-version snapshot, recorded in the lock file's reader table
 * so that a writer does not reuse the pages it reads.
 *
 * Builders (DICT_FLAG_CREATE, postelmap building from a text file) write
 * name.lmdb.tmp.PID and dict_commit() publishes it: under an exclusive
 * flock on the old name.lmdb they remove name.lmdb-lock (its reader table
 * and transaction counter belong to the old file) and rename the new file
 * into place.  Readers that have the old file open keep reading it (and
 * its old lock file) until they notice dict_changed() and reopen; openers
 * take a shared flock on name.lmdb while opening, so none attaches the old
 * lock file to the new data file.
 *
 * Writers (DICT_FLAG_WRITE without CREATE: postelmap -i / -d, dict_update
 * and dict_delete) change name.lmdb in place, one write transaction per
 * call (LMDB serialises writers), creating the file when it is missing.
 *
 * Size: the map starts at lmdb_map_size (dict_lmdb_configure); a write
 * that finds it full doubles it and tries again, up to the file size
 * limit of the process and DICT_LMDB_MAP_MAX.
 *
 * Readers need write access to name.lmdb-lock (or to the folder, to
 * create it).  A reader that has neither (EACCES, or a read-only file
 * system) reads without the reader table: safe for tables that only
 * postelmap rebuilds (a published file is never written in place), but a
 * table updated in place must give its readers write access to the lock
 * file.
 *
 * Errors: open fails with why naming the table and LMDB's reason; lookups
 * return -1 with errno (EIO for LMDB's own errors) and msg_warn naming the
 * table.  Returned keys and values are borrowed until the next call.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/dict.h"
#include "util/dict_file.h"
#include "util/dict_impl.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

#define DICT_LMDB_MAP_MAX   ((size_t)1 << 40)  /* 1 TiB of address space */
#define DICT_LMDB_MAP_DEF   ((size_t)16777216) /* Postfix's lmdb_map_size */
#define LMDB_OPEN_TRIES	    10
#define LMDB_RESIZE_RETRIES 64 /* doublings: a bound on the write loop */

static size_t lmdb_map_size = DICT_LMDB_MAP_DEF;

/*
 * LMDB forbids opening one file twice in a process: closing the second
 * environment would drop the first one's lock on the lock file, and a
 * process starting then would reset the reader table under it.  Tables
 * that name the same published file (say virtual_mailbox_maps and
 * relay_recipient_maps) share one environment, counted.
 */
typedef struct LMDB_SHARED {
	MDB_env		   *env;
	MDB_dbi		    dbi;
	dev_t		    dev;
	ino_t		    ino;
	unsigned int	    flags; /* MDB_RDONLY or 0 */
	int		    refs;
	struct LMDB_SHARED *next;
} LMDB_SHARED;

static LMDB_SHARED *lmdb_shared;

typedef struct DICT_LMDB {
	DICT	     dict;
	LMDB_SHARED *shared; /* published file, or NULL (builder) */
	MDB_env	    *env;
	MDB_dbi	     dbi;
	MDB_txn	    *seq_txn; /* iteration snapshot */
	MDB_cursor  *cursor;
	char	    *path; /* name.lmdb */
	char	    *tmp;  /* builder's name.lmdb.tmp.PID, or NULL */
	size_t	     map_size;
	int	     failed; /* a builder's write failed: never publish */
	int	     committed;
	dev_t	     dev; /* file opened, for dict_changed */
	ino_t	     ino;
	VSTR	    *key;
	VSTR	    *val;
} DICT_LMDB;

void
dict_lmdb_configure(size_t map_size)
{
	lmdb_map_size = map_size ? map_size : DICT_LMDB_MAP_DEF;
}

static int
lmdb_errno(int ret)
{
	return ret > 0 ? ret : EIO;
}

static const char *
lmdb_text(VSTR *buf, const MDB_val *v)
{
	size_t len = v->mv_size;

	if (len > 0 && ((const char *)v->mv_data)[len - 1] == 0)
		len--;
	vstr_memcpy(buf, v->mv_data, len);
	return VSTR_STR(buf);
}

/* A read transaction; a map grown by another process is adopted. */
static int
lmdb_read_txn(DICT_LMDB *dl, MDB_txn **txn)
{
	int ret = mdb_txn_begin(dl->env, NULL, MDB_RDONLY, txn);

	if (ret == MDB_MAP_RESIZED) {
		(void)mdb_env_set_mapsize(dl->env, 0);
		ret = mdb_txn_begin(dl->env, NULL, MDB_RDONLY, txn);
	}
	if (ret != 0) {
		msg_warn("%s: read transaction: %s", dl->dict.spec,
			 mdb_strerror(ret));
		errno = lmdb_errno(ret);
		return -1;
	}
	return 0;
}

static int
lmdb_lookup(DICT *d, const char *key, const char **value)
{
	DICT_LMDB *dl = (DICT_LMDB *)d;
	MDB_txn	  *txn;
	MDB_val	   k;
	MDB_val	   v;
	int	   pass;
	int	   ret = MDB_NOTFOUND;
	size_t	   len = strlen(key);

	/* LMDB cannot store such a key (511 bytes by default). */
	if (len + 1 > (size_t)mdb_env_get_maxkeysize(dl->env))
		return 0;
	if (lmdb_read_txn(dl, &txn) < 0)
		return -1;
	for (pass = 0; pass < 2 && ret == MDB_NOTFOUND; pass++) {
		k.mv_data = (void *)key;
		/* Try the form this table writes first. */
		k.mv_size = len;
		if ((pass == 0) == !!(d->flags & DICT_FLAG_NUL))
			k.mv_size++;
		if ((ret = mdb_get(txn, dl->dbi, &k, &v)) == 0)
			*value = lmdb_text(dl->val, &v);
	}
	mdb_txn_abort(txn);
	if (ret == 0)
		return 1;
	if (ret == MDB_NOTFOUND)
		return 0;
	msg_warn("%s: lookup of \"%s\": %s", d->spec, key, mdb_strerror(ret));
	errno = lmdb_errno(ret);
	return -1;
}

/* Double the map after MDB_MAP_FULL; 0, or -1 (ENOSPC) at the bound. */
static int
lmdb_grow(DICT_LMDB *dl)
{
	struct rlimit rl;
	size_t	      limit = DICT_LMDB_MAP_MAX;
	int	      ret;

	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
	    && rl.rlim_cur < limit)
		limit = (size_t)rl.rlim_cur;
	MDB_envinfo info;

	/* Another table on the same environment may have grown it. */
	if (mdb_env_info(dl->env, &info) == 0 && info.me_mapsize > dl->map_size)
		dl->map_size = info.me_mapsize;
	if (dl->map_size >= limit) {
		msg_warn("%s: table is full at %zu bytes (limit %zu)",
			 dl->dict.spec, dl->map_size, limit);
		errno = ENOSPC;
		return -1;
	}
	dl->map_size = dl->map_size > limit / 2 ? limit : dl->map_size * 2;
	if ((ret = mdb_env_set_mapsize(dl->env, dl->map_size)) != 0) {
		msg_warn("%s: resize to %zu bytes: %s", dl->dict.spec,
			 dl->map_size, mdb_strerror(ret));
		errno = lmdb_errno(ret);
		return -1;
	}
	if (msg_verbose)
		msg_info("%s: map size now %zu bytes", dl->dict.spec,
			 dl->map_size);
	return 0;
}

/*
 * One write transaction: put (value != NULL) or delete key in both NUL
 * forms.  Returns 0 done, 1 nothing done (the key exists for a put
 * without DICT_FLAG_DUP_REPLACE, or is absent for a delete), or -1 with
 * errno and msg_warn.
 */
static int
lmdb_write(DICT_LMDB *dl, const char *key, const char *value)
{
	DICT	*d = &dl->dict;
	MDB_txn *txn;
	MDB_val	 k;
	MDB_val	 v;
	int	 nul = !!(d->flags & DICT_FLAG_NUL);
	int	 tries;
	int	 ret;
	int	 pass;
	int	 found;

	if (strlen(key) + 1 > (size_t)mdb_env_get_maxkeysize(dl->env)) {
		if (value == NULL)
			return 1;
		msg_warn("%s: key of %zu bytes is longer than LMDB allows (%d)",
			 d->spec, strlen(key), mdb_env_get_maxkeysize(dl->env));
		errno = ENAMETOOLONG;
		return -1;
	}
	for (tries = 0; tries < LMDB_RESIZE_RETRIES; tries++) {
		if ((ret = mdb_txn_begin(dl->env, NULL, 0, &txn)) == 0) {
			if (value != NULL) {
				k.mv_data = (void *)key;
				k.mv_size = strlen(key) + (size_t)nul;
				v.mv_data = (void *)value;
				v.mv_size = strlen(value) + (size_t)nul;
				ret = mdb_put(txn, dl->dbi, &k, &v,
					      (d->flags & DICT_FLAG_DUP_REPLACE)
						  ? 0
						  : MDB_NOOVERWRITE);
			} else {
				found = 0;
				for (pass = 0, ret = 0; pass < 2 && ret == 0;
				     pass++) {
					k.mv_data = (void *)key;
					k.mv_size = strlen(key) + (size_t)pass;
					ret = mdb_del(txn, dl->dbi, &k, NULL);
					if (ret == 0)
						found = 1;
					if (ret == MDB_NOTFOUND)
						ret = 0;
				}
				if (ret == 0 && !found)
					ret = MDB_NOTFOUND;
			}
			if (ret == 0)
				ret = mdb_txn_commit(txn);
			else
				mdb_txn_abort(txn);
		}
		if (ret != MDB_MAP_FULL)
			break;
		if (lmdb_grow(dl) < 0)
			return -1;
	}
	if (ret == 0)
		return 0;
	if (ret == MDB_KEYEXIST || ret == MDB_NOTFOUND)
		return 1;
	msg_warn("%s: %s of \"%s\": %s", d->spec, value ? "update" : "delete",
		 key, mdb_strerror(ret));
	errno = lmdb_errno(ret);
	return -1;
}

static int
lmdb_update(DICT *d, const char *key, const char *value)
{
	DICT_LMDB *dl = (DICT_LMDB *)d;
	int	   ret = lmdb_write(dl, key, value);

	if (ret > 0) {
		if (!(d->flags & DICT_FLAG_DUP_IGNORE))
			msg_warn("%s: duplicate entry: \"%s\"", d->spec, key);
		return 0;
	}
	/* A key too long is the caller's to skip; anything else spoils. */
	if (ret < 0 && errno != ENAMETOOLONG)
		dl->failed = 1;
	return ret < 0 ? -1 : 0;
}

static int
lmdb_delete(DICT *d, const char *key)
{
	DICT_LMDB *dl = (DICT_LMDB *)d;
	int	   ret = lmdb_write(dl, key, NULL);

	if (ret < 0) {
		dl->failed = 1;
		return -1;
	}
	return ret == 0;
}

static void
lmdb_seq_end(DICT_LMDB *dl)
{
	if (dl->cursor)
		mdb_cursor_close(dl->cursor);
	if (dl->seq_txn)
		mdb_txn_abort(dl->seq_txn);
	dl->cursor = NULL;
	dl->seq_txn = NULL;
}

static int
lmdb_seq(DICT *d, int first, const char **key, const char **value)
{
	DICT_LMDB *dl = (DICT_LMDB *)d;
	MDB_val	   k;
	MDB_val	   v;
	int	   ret;

	if (first)
		lmdb_seq_end(dl);
	if (dl->cursor == NULL) {
		if (!first)
			return 0;
		if (lmdb_read_txn(dl, &dl->seq_txn) < 0)
			return -1;
		if ((ret = mdb_cursor_open(dl->seq_txn, dl->dbi, &dl->cursor))
		    != 0) {
			msg_warn("%s: cursor: %s", d->spec, mdb_strerror(ret));
			lmdb_seq_end(dl);
			errno = lmdb_errno(ret);
			return -1;
		}
	}
	ret = mdb_cursor_get(dl->cursor, &k, &v, first ? MDB_FIRST : MDB_NEXT);
	if (ret == MDB_NOTFOUND) {
		lmdb_seq_end(dl);
		return 0;
	}
	if (ret != 0) {
		msg_warn("%s: sequence: %s", d->spec, mdb_strerror(ret));
		lmdb_seq_end(dl);
		errno = lmdb_errno(ret);
		return -1;
	}
	*key = lmdb_text(dl->key, &k);
	*value = lmdb_text(dl->val, &v);
	return 1;
}

static int
lmdb_changed(const DICT *d)
{
	const DICT_LMDB *dl = (const DICT_LMDB *)d;
	struct stat	 st;

	if (stat(dl->path, &st) < 0)
		return 1;
	return st.st_dev != dl->dev || st.st_ino != dl->ino;
}

static void
lmdb_env_close(DICT_LMDB *dl)
{
	LMDB_SHARED **pp;
	LMDB_SHARED  *sh = dl->shared;
	int	      last = sh == NULL || --sh->refs == 0;

	lmdb_seq_end(dl);
	if (sh != NULL && last) {
		for (pp = &lmdb_shared; *pp != sh; pp = &(*pp)->next)
			/* void */;
		*pp = sh->next;
		myfree(sh);
	}
	if (dl->env && last)
		mdb_env_close(dl->env);
	dl->env = NULL;
	dl->shared = NULL;
}

/* Use an environment already open on the file fd names; 1 yes, 0 no. */
static int
lmdb_share(DICT_LMDB *dl, int fd, unsigned int flags)
{
	LMDB_SHARED *sh;
	struct stat  st;

	if (fstat(fd, &st) < 0)
		return 0;
	for (sh = lmdb_shared; sh != NULL; sh = sh->next) {
		if (sh->dev == st.st_dev && sh->ino == st.st_ino
		    && sh->flags == flags) {
			sh->refs++;
			dl->shared = sh;
			dl->env = sh->env;
			dl->dbi = sh->dbi;
			dl->dev = st.st_dev;
			dl->ino = st.st_ino;
			return 1;
		}
	}
	return 0;
}

/* List the environment just opened for the next table on its file. */
static void
lmdb_register(DICT_LMDB *dl, unsigned int flags)
{
	LMDB_SHARED *sh = mycalloc(1, sizeof(*sh));

	sh->env = dl->env;
	sh->dbi = dl->dbi;
	sh->dev = dl->dev;
	sh->ino = dl->ino;
	sh->flags = flags;
	sh->refs = 1;
	sh->next = lmdb_shared;
	lmdb_shared = sh;
	dl->shared = sh;
}

/* Remove a builder's temporary file and its lock file. */
static void
lmdb_unlink_tmp(DICT_LMDB *dl)
{
	VSTR *lock = vstr_alloc(128);

	vstr_sprintf(lock, "%s-lock", dl->tmp);
	(void)unlink(dl->tmp);
	(void)unlink(VSTR_STR(lock));
	vstr_free(lock);
	dl->tmp = myfree(dl->tmp);
}

static int
lmdb_commit(DICT *d)
{
	DICT_LMDB *dl = (DICT_LMDB *)d;
	VSTR	  *lock;
	int	   old_fd;
	int	   ret;
	int	   saved;

	if (dl->tmp == NULL || dl->committed)
		return 0;
	dl->committed = 1;
	if (dl->failed) {
		msg_warn("%s: not updated because of earlier errors", d->spec);
		errno = EIO;
		goto fail;
	}
	lmdb_seq_end(dl);
	if ((ret = mdb_env_sync(dl->env, 1)) != 0) {
		msg_warn("%s: sync %s: %s", d->spec, dl->tmp,
			 mdb_strerror(ret));
		errno = lmdb_errno(ret);
		goto fail;
	}
	lmdb_env_close(dl);
	if ((old_fd = dict_file_lock(dl->path, LOCK_EX)) < 0
	    && errno != ENOENT) {
		msg_warn("%s: lock %s: %m", d->spec, dl->path);
		goto fail;
	}
	lock = vstr_alloc(128);
	vstr_sprintf(lock, "%s-lock", dl->path);
	if (unlink(VSTR_STR(lock)) < 0 && errno != ENOENT)
		msg_warn("%s: remove %s: %m", d->spec, VSTR_STR(lock));
	vstr_free(lock);
	ret = dict_file_publish(d->spec, dl->tmp, dl->path, old_fd);
	saved = errno;
	if (old_fd >= 0)
		close(old_fd);
	errno = saved;
	if (ret < 0)
		goto fail;
	lmdb_unlink_tmp(dl);
	return 0;

fail:
	saved = errno;
	lmdb_env_close(dl);
	lmdb_unlink_tmp(dl);
	errno = saved;
	return -1;
}

static void
lmdb_discard(DICT *d)
{
	DICT_LMDB *dl = (DICT_LMDB *)d;

	if (dl->tmp == NULL || dl->committed)
		return;
	dl->committed = 1;
	lmdb_env_close(dl);
	lmdb_unlink_tmp(dl);
}

static void
lmdb_close(DICT *d)
{
	DICT_LMDB *dl = (DICT_LMDB *)d;

	if (dl->tmp != NULL)
		(void)lmdb_commit(d);
	lmdb_env_close(dl);
	myfree(dl->path);
	vstr_free(dl->key);
	vstr_free(dl->val);
}

/* Open the environment on path and its unnamed database; 0 or -1. */
static int
lmdb_env_open(DICT_LMDB *dl, const char *path, unsigned int flags, VSTR *why)
{
	MDB_txn *txn;
	int	 ret;

	if ((ret = mdb_env_create(&dl->env)) != 0) {
		vstr_sprintf(why, "mdb_env_create: %s", mdb_strerror(ret));
		errno = lmdb_errno(ret);
		return -1;
	}
	if ((ret = mdb_env_set_mapsize(dl->env, dl->map_size)) == 0)
		ret = mdb_env_open(dl->env, path, flags | MDB_NOSUBDIR, 0644);
	/* No way to the reader table: read without it (see above). */
	if ((ret == EACCES || ret == EROFS) && (flags & MDB_RDONLY)) {
		mdb_env_close(dl->env);
		dl->env = NULL;
		if ((ret = mdb_env_create(&dl->env)) == 0
		    && (ret = mdb_env_set_mapsize(dl->env, dl->map_size)) == 0)
			ret = mdb_env_open(dl->env, path,
					   flags | MDB_NOSUBDIR | MDB_NOLOCK,
					   0644);
	}
	if (ret == 0
	    && (ret = mdb_txn_begin(dl->env, NULL, flags & MDB_RDONLY, &txn))
		   == 0) {
		if ((ret = mdb_dbi_open(txn, NULL, 0, &dl->dbi)) == 0)
			ret = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if (ret != 0) {
		vstr_sprintf(why, "open %s: %s", path, mdb_strerror(ret));
		if (dl->env)
			mdb_env_close(dl->env);
		dl->env = NULL;
		errno = lmdb_errno(ret);
		return -1;
	}
	return 0;
}

/* Is the environment on the file that path names (locked as fd)? */
static int
lmdb_same_file(DICT_LMDB *dl, int fd)
{
	struct stat st;
	struct stat envst;
	int	    envfd;

	if (fstat(fd, &st) < 0 || mdb_env_get_fd(dl->env, &envfd) != 0
	    || fstat(envfd, &envst) < 0 || st.st_dev != envst.st_dev
	    || st.st_ino != envst.st_ino)
		return 0;
	dl->dev = st.st_dev;
	dl->ino = st.st_ino;
	return 1;
}

/* Readers and in-place writers: open name.lmdb as it is now. */
static int
lmdb_open_published(DICT_LMDB *dl, unsigned int flags, VSTR *why)
{
	int fd;
	int tries;

	for (tries = 0; tries < LMDB_OPEN_TRIES; tries++) {
		if ((fd = dict_file_lock(dl->path, LOCK_SH)) < 0) {
			/* A writer creates a missing table in place. */
			if (errno == ENOENT && !(flags & MDB_RDONLY)) {
				if (lmdb_env_open(dl, dl->path, flags, why) < 0)
					return -1;
				if ((fd = open(dl->path, O_RDONLY | O_CLOEXEC))
				    < 0) {
					vstr_sprintf(why, "open %s: %m",
						     dl->path);
					return -1;
				}
				if (lmdb_same_file(dl, fd))
					lmdb_register(dl, flags);
				close(fd);
				return 0;
			}
			vstr_sprintf(why, "open %s: %m", dl->path);
			return -1;
		}
		if (lmdb_share(dl, fd, flags)) {
			close(fd);
			return 0;
		}
		if (lmdb_env_open(dl, dl->path, flags, why) < 0) {
			close(fd);
			return -1;
		}
		if (lmdb_same_file(dl, fd)) {
			lmdb_register(dl, flags);
			close(fd);
			return 0;
		}
		/* Replaced between our lock and LMDB's open. */
		lmdb_env_close(dl);
		close(fd);
	}
	vstr_sprintf(why, "open %s: file keeps being replaced", dl->path);
	errno = EAGAIN;
	return -1;
}

DICT *
dict_lmdb_open(const char *name, int flags, VSTR *why)
{
	DICT_LMDB *dl;
	VSTR	  *path = vstr_alloc(256);
	VSTR	  *msg;
	int	   ret;
	int	   saved;

	dl = (DICT_LMDB *)dict_alloc(sizeof(*dl), "lmdb", name, flags);
	vstr_sprintf(path, "%s.lmdb", name);
	dl->path = mystrdup(VSTR_STR(path));
	dl->map_size = lmdb_map_size;
	dl->key = vstr_alloc(64);
	dl->val = vstr_alloc(256);
	dl->dict.lookup = lmdb_lookup;
	dl->dict.seq = lmdb_seq;
	dl->dict.changed = lmdb_changed;
	dl->dict.close = lmdb_close;
	dl->dict.commit = lmdb_commit;
	dl->dict.discard = lmdb_discard;
	if (flags & DICT_FLAG_CREATE) {
		vstr_sprintf(path, "%s.tmp.%ld", dl->path, (long)getpid());
		dl->tmp = mystrdup(VSTR_STR(path));
		(void)unlink(dl->tmp);
		/* Synced once, in dict_commit, before it is published. */
		ret = lmdb_env_open(dl, dl->tmp, MDB_NOSYNC, why);
		if (ret < 0)
			lmdb_unlink_tmp(dl);
	} else
		ret = lmdb_open_published(dl,
					  (flags & DICT_FLAG_WRITE)
					      ? 0
					      : MDB_RDONLY,
					  why);
	if (ret < 0) {
		saved = errno;
		msg = vstr_alloc(128);
		vstr_sprintf(msg, "lmdb:%s: %s", name, VSTR_STR(why));
		vstr_strcpy(why, VSTR_STR(msg));
		vstr_free(msg);
		vstr_free(path);
		dict_close(&dl->dict);
		errno = saved;
		return NULL;
	}
	if (flags & (DICT_FLAG_CREATE | DICT_FLAG_WRITE)) {
		dl->dict.update = lmdb_update;
		dl->dict.del = lmdb_delete;
	}
	vstr_free(path);
	return &dl->dict;
}
