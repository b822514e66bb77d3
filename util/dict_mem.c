/*
 * dict_mem - in-memory table behind texthash: and inline:.
 *
 * Pairs are kept in insertion order (iteration order) with an open-
 * addressing index on the key.  Keys arrive already folded when the table
 * folds.  Errors: none besides allocation (which dies); duplicates follow
 * the DICT_FLAG_DUP_* rules.  Values returned are borrowed from the table.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/msg.h"
#include "util/mymalloc.h"

typedef struct DICT_MEM {
	DICT	dict;
	char  **keys; /* NULL: deleted */
	char  **vals;
	size_t	count;
	size_t	cap;
	size_t *index; /* entry + 1; 0 empty */
	size_t	isize; /* power of two */
	size_t	cursor;
} DICT_MEM;

static size_t
mem_hash(const char *key)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static void
mem_reindex(DICT_MEM *m, size_t isize)
{
	size_t i;
	size_t slot;

	m->index = myfree(m->index);
	m->index = mycalloc(isize, sizeof(size_t));
	m->isize = isize;
	for (i = 0; i < m->count; i++) {
		if (m->keys[i] == NULL)
			continue;
		slot = mem_hash(m->keys[i]) & (isize - 1);
		while (m->index[slot])
			slot = (slot + 1) & (isize - 1);
		m->index[slot] = i + 1;
	}
}

static ssize_t
mem_find(const DICT_MEM *m, const char *key)
{
	size_t slot;
	size_t e;

	if (m->isize == 0)
		return -1;
	slot = mem_hash(key) & (m->isize - 1);
	while ((e = m->index[slot]) != 0) {
		if (strcmp(m->keys[e - 1], key) == 0)
			return (ssize_t)(e - 1);
		slot = (slot + 1) & (m->isize - 1);
	}
	return -1;
}

static int
mem_lookup(DICT *d, const char *key, const char **value)
{
	DICT_MEM *m = (DICT_MEM *)d;
	ssize_t	  i = mem_find(m, key);

	if (i < 0)
		return 0;
	*value = m->vals[i];
	return 1;
}

int
dict_mem_put(DICT *d, const char *key, const char *value, const char *where)
{
	DICT_MEM *m = (DICT_MEM *)d;
	ssize_t	  i = mem_find(m, key);

	if (i >= 0) {
		if (d->flags & DICT_FLAG_DUP_REPLACE) {
			myfree(m->vals[i]);
			m->vals[i] = mystrdup(value);
		} else if (!(d->flags & DICT_FLAG_DUP_IGNORE))
			msg_warn("%s: duplicate entry: \"%s\"",
				 where ? where : d->spec, key);
		return 0;
	}
	if (m->count == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->keys = myrealloc_array(m->keys, m->cap, sizeof(char *));
		m->vals = myrealloc_array(m->vals, m->cap, sizeof(char *));
	}
	m->keys[m->count] = mystrdup(key);
	m->vals[m->count] = mystrdup(value);
	m->count++;
	if (m->count * 2 > m->isize) {
		mem_reindex(m, m->isize ? m->isize * 2 : 32);
	} else {
		size_t slot = mem_hash(key) & (m->isize - 1);

		while (m->index[slot])
			slot = (slot + 1) & (m->isize - 1);
		m->index[slot] = m->count;
	}
	return 0;
}

static int
mem_update(DICT *d, const char *key, const char *value)
{
	return dict_mem_put(d, key, value, NULL);
}

static int
mem_delete(DICT *d, const char *key)
{
	DICT_MEM *m = (DICT_MEM *)d;
	ssize_t	  i = mem_find(m, key);

	if (i < 0)
		return 0;
	m->keys[i] = myfree(m->keys[i]);
	m->vals[i] = myfree(m->vals[i]);
	mem_reindex(m, m->isize);
	return 1;
}

static int
mem_seq(DICT *d, int first, const char **key, const char **value)
{
	DICT_MEM *m = (DICT_MEM *)d;

	if (first)
		m->cursor = 0;
	while (m->cursor < m->count && m->keys[m->cursor] == NULL)
		m->cursor++;
	if (m->cursor >= m->count)
		return 0;
	*key = m->keys[m->cursor];
	*value = m->vals[m->cursor];
	m->cursor++;
	return 1;
}

static void
mem_close(DICT *d)
{
	DICT_MEM *m = (DICT_MEM *)d;
	size_t	  i;

	for (i = 0; i < m->count; i++) {
		myfree(m->keys[i]);
		myfree(m->vals[i]);
	}
	myfree(m->keys);
	myfree(m->vals);
	myfree(m->index);
}

DICT *
dict_mem_create(const char *type, const char *name, int flags)
{
	DICT *d = dict_alloc(sizeof(DICT_MEM), type, name, flags);

	d->lookup = mem_lookup;
	d->update = mem_update;
	d->del = mem_delete;
	d->seq = mem_seq;
	d->close = mem_close;
	return d;
}
