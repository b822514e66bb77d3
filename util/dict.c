/*
 * dict - "type:name" lookup tables: type dispatch, key checks and folding,
 * table lists.  See dict.h; each type lives in its own util/dict_<type>.c.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "util/cfg.h"
#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

struct dict_type {
	const char *type;
	int	    fold;      /* keys are case-folded strings */
	int	    text_file; /* name is a text file read at open */
	DICT *(*open)(const char *, int, VSTR *);
	DICT *(*open_buffer)(const char *, const char *, size_t, int, VSTR *);
};

static DICT *
dict_hash_open(const char *name, int flags, VSTR *why)
{
	return dict_db_open("hash", name, flags, why);
}

static DICT *
dict_btree_open(const char *name, int flags, VSTR *why)
{
	return dict_db_open("btree", name, flags, why);
}

static const struct dict_type dict_types[] = {
	{ "hash", 1, 0, dict_hash_open, NULL },
	{ "btree", 1, 0, dict_btree_open, NULL },
	{ "lmdb", 1, 0, dict_lmdb_open, NULL },
	{ "texthash", 1, 1, dict_texthash_open, dict_texthash_open_buffer },
	{ "inline", 1, 0, dict_inline_open, NULL },
	{ "static", 0, 0, dict_static_open, NULL },
	{ "regexp", 0, 1, dict_regexp_open, dict_regexp_open_buffer },
	{ "cidr", 0, 1, dict_cidr_open, dict_cidr_open_buffer },
	{ "pcre", 0, 1, dict_pcre_open, dict_pcre_open_buffer },
	{ "unix", 1, 0, dict_unix_open, NULL },
	{ "sqlite", 1, 0, dict_sqlite_open, NULL },
	{ "pgsql", 1, 0, dict_pgsql_open, NULL },
	/* proxymap's own table folds the key (the flags travel along). */
	{ "proxy", 0, 0, dict_proxy_open, NULL },
	{ "socketmap", 1, 0, dict_socketmap_open, NULL },
	{ "tcp", 1, 0, dict_tcp_open, NULL },
	{ "ldap", 1, 0, dict_ldap_open, NULL },
};

static const struct dict_type *
dict_type_find(const char *type, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(dict_types) / sizeof(dict_types[0]); i++)
		if (strlen(dict_types[i].type) == len
		    && strncmp(dict_types[i].type, type, len) == 0)
			return &dict_types[i];
	return NULL;
}

void
dict_configure(const CFG *cfg)
{
	dict_proxy_configure(cfg_get_str(cfg, "queue_directory"),
			     cfg_get_str(cfg, "proxymap_service_name"));
	dict_proxy_configure_write(cfg_get_str(cfg, "proxywrite_service_name"),
				   cfg_get_time(cfg, "ipc_idle"),
				   cfg_get_time(cfg, "ipc_ttl"));
	dict_socketmap_configure(cfg_get_time(cfg, "socketmap_timeout"));
	dict_lmdb_configure((size_t)cfg_get_size(cfg, "lmdb_map_size"));
}

DICT *
dict_alloc(size_t size, const char *type, const char *name, int flags)
{
	DICT *d = mycalloc(1, size);
	VSTR *spec = vstr_alloc(64);

	d->type = mystrdup(type);
	d->name = mystrdup(name);
	vstr_sprintf(spec, "%s:%s", type, name);
	d->spec = vstr_export(spec);
	d->flags = flags;
	d->keybuf = vstr_alloc(64);
	return d;
}

void
dict_free(DICT *d)
{
	myfree(d->type);
	myfree(d->name);
	myfree(d->spec);
	vstr_free(d->keybuf);
	myfree(d);
}

static DICT *
dict_finish(DICT *d, const struct dict_type *t)
{
	if (d != NULL)
		d->fold = t->fold && (d->flags & DICT_FLAG_FOLD);
	return d;
}

/* Make sure a failed open's message names the table. */
static DICT *
dict_why_spec(DICT *d, const char *spec, const char *name, VSTR *why)
{
	VSTR *tmp;
	int   saved;

	/* "file:line: reason" and "type:name: ..." already say where. */
	if (d != NULL || strncmp(VSTR_STR(why), name, strlen(name)) == 0
	    || strncmp(VSTR_STR(why), spec, strlen(spec)) == 0)
		return d;
	saved = errno;
	tmp = vstr_alloc(VSTR_LEN(why) + 64);
	vstr_sprintf(tmp, "table %s: %s", spec, VSTR_STR(why));
	vstr_strcpy(why, VSTR_STR(tmp));
	vstr_free(tmp);
	errno = saved;
	return NULL;
}

DICT *
dict_open(const char *spec, int flags, VSTR *why)
{
	const char	       *colon = strchr(spec, ':');
	const struct dict_type *t;
	struct stat		st;
	int			have_st;
	DICT		       *d;

	if (colon == NULL || colon == spec) {
		vstr_sprintf(why, "table \"%s\": expected type:name", spec);
		errno = EINVAL;
		return NULL;
	}
	if ((t = dict_type_find(spec, (size_t)(colon - spec))) == NULL) {
		vstr_sprintf(why,
			     "table \"%s\": unsupported table type "
			     "\"%.*s\"",
			     spec, (int)(colon - spec), spec);
		errno = EINVAL;
		return NULL;
	}
	if (colon[1] == 0 && strcmp(t->type, "static") != 0) {
		vstr_sprintf(why, "table \"%s\": missing table name", spec);
		errno = EINVAL;
		return NULL;
	}
	/* proxy: writes go to proxywrite, which checks the table. */
	if ((flags & (DICT_FLAG_CREATE | DICT_FLAG_WRITE))
	    && strcmp(t->type, "hash") != 0 && strcmp(t->type, "btree") != 0
	    && strcmp(t->type, "lmdb") != 0
	    && !(strcmp(t->type, "proxy") == 0
		 && !(flags & DICT_FLAG_CREATE))) {
		vstr_sprintf(why, "table \"%s\": %s tables cannot be written",
			     spec, t->type);
		errno = EINVAL;
		return NULL;
	}
	/* Stat before reading, so that a change while we read is seen. */
	have_st = t->text_file && stat(colon + 1, &st) == 0;
	d = dict_finish(dict_why_spec(t->open(colon + 1, flags, why), spec,
				      colon + 1, why),
			t);
	if (d != NULL && have_st) {
		d->file_track = 1;
		d->file_st = st;
	}
	return d;
}

DICT *
dict_open_buffer(const char *type, const char *name, const char *text,
		 size_t len, int flags, VSTR *why)
{
	const struct dict_type *t = dict_type_find(type, strlen(type));

	if (t == NULL || t->open_buffer == NULL) {
		vstr_sprintf(why,
			     "table type \"%s\" cannot be read from "
			     "memory",
			     type);
		errno = EINVAL;
		return NULL;
	}
	return dict_finish(t->open_buffer(name, text, len, flags, why), t);
}

DICT *
dict_close(DICT *d)
{
	if (d) {
		if (d->close)
			d->close(d);
		dict_free(d);
	}
	return NULL;
}

/* Length check and folding shared by every keyed call. */
static const char *
dict_key(DICT *d, const char *key)
{
	size_t len = strlen(key);

	if (len > DICT_KEY_MAX) {
		msg_warn("%s: lookup key of %zu bytes exceeds the limit of %d",
			 d->spec, len, DICT_KEY_MAX);
		errno = ENAMETOOLONG;
		return NULL;
	}
	if (!d->fold)
		return key;
	vstr_strcpy(d->keybuf, key);
	vstr_lower(d->keybuf);
	return VSTR_STR(d->keybuf);
}

int
dict_lookup(DICT *d, const char *key, const char **value)
{
	if ((key = dict_key(d, key)) == NULL)
		return -1;
	return d->lookup(d, key, value);
}

int
dict_update(DICT *d, const char *key, const char *value)
{
	if (d->update == NULL) {
		errno = EROFS;
		return -1;
	}
	if ((key = dict_key(d, key)) == NULL)
		return -1;
	return d->update(d, key, value);
}

int
dict_delete(DICT *d, const char *key)
{
	if (d->del == NULL) {
		errno = EROFS;
		return -1;
	}
	if ((key = dict_key(d, key)) == NULL)
		return -1;
	return d->del(d, key);
}

int
dict_first(DICT *d, const char **key, const char **value)
{
	if (d->seq == NULL) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return d->seq(d, 1, key, value);
}

int
dict_next(DICT *d, const char **key, const char **value)
{
	if (d->seq == NULL) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return d->seq(d, 0, key, value);
}

const char *
dict_spec(const DICT *d)
{
	return d->spec;
}

const char *
dict_type(const DICT *d)
{
	return d->type;
}

DICT *
dict_discard(DICT *d)
{
	if (d && d->discard)
		d->discard(d);
	return dict_close(d);
}

int
dict_commit(DICT *d)
{
	return d->commit ? d->commit(d) : 0;
}

int
dict_changed(const DICT *d)
{
	struct stat st;

	if (d->changed)
		return d->changed(d);
	if (!d->file_track)
		return 0;
	if (stat(d->name, &st) < 0)
		return 1;
	return st.st_dev != d->file_st.st_dev || st.st_ino != d->file_st.st_ino
	       || st.st_size != d->file_st.st_size
	       || st.st_mtim.tv_sec != d->file_st.st_mtim.tv_sec
	       || st.st_mtim.tv_nsec != d->file_st.st_mtim.tv_nsec;
}

/*
 * Table lists.
 */
struct DICT_LIST {
	DICT **dicts;
	size_t count;
};

int
dict_list_split(const char *specs,
		void (*fn)(const char *item, size_t len, void *ctx), void *ctx,
		VSTR *why)
{
	const char *p = specs;
	const char *start;
	int	    depth;

	for (;;) {
		while (*p && strchr(" \t\r\n,", *p))
			p++;
		if (*p == 0)
			return 0;
		start = p;
		depth = 0;
		for (; *p; p++) {
			if (*p == '{')
				depth++;
			else if (*p == '}') {
				if (depth == 0) {
					vstr_sprintf(why,
						     "table list \"%s\": "
						     "unbalanced '}'",
						     specs);
					return -1;
				}
				depth--;
			} else if (depth == 0 && strchr(" \t\r\n,", *p))
				break;
		}
		if (depth > 0) {
			vstr_sprintf(why, "table list \"%s\": missing '}'",
				     specs);
			return -1;
		}
		fn(start, (size_t)(p - start), ctx);
	}
}

struct list_ctx {
	DICT_LIST *list;
	int	   flags;
	VSTR	  *why;
	int	   failed;
};

static void
dict_list_add(const char *item, size_t len, void *ctx)
{
	struct list_ctx *lc = ctx;
	char		*spec;
	DICT		*d;

	if (lc->failed)
		return;
	spec = mystrndup(item, len);
	if ((d = dict_open(spec, lc->flags, lc->why)) == NULL)
		lc->failed = 1;
	else {
		lc->list->dicts = myrealloc_array(lc->list->dicts,
						  lc->list->count + 1,
						  sizeof(DICT *));
		lc->list->dicts[lc->list->count++] = d;
	}
	myfree(spec);
}

DICT_LIST *
dict_list_open(const char *specs, int flags, VSTR *why)
{
	DICT_LIST      *l = mycalloc(1, sizeof(*l));
	struct list_ctx lc = { l, flags, why, 0 };

	if (dict_list_split(specs, dict_list_add, &lc, why) < 0 || lc.failed)
		return dict_list_close(l);
	return l;
}

DICT_LIST *
dict_list_close(DICT_LIST *l)
{
	size_t i;

	if (l) {
		for (i = 0; i < l->count; i++)
			dict_close(l->dicts[i]);
		myfree(l->dicts);
		myfree(l);
	}
	return NULL;
}

int
dict_list_lookup(DICT_LIST *l, const char *key, const char **value)
{
	size_t i;
	int    ret;

	for (i = 0; i < l->count; i++)
		if ((ret = dict_lookup(l->dicts[i], key, value)) != 0)
			return ret;
	return 0;
}

size_t
dict_list_count(const DICT_LIST *l)
{
	return l->count;
}

DICT *
dict_list_at(const DICT_LIST *l, size_t i)
{
	return i < l->count ? l->dicts[i] : NULL;
}
