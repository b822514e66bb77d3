/*
 * dict_impl - what a lookup table type implements; private to util/dict*.c.
 *
 * Each type's open function fills a struct DICT allocated with dict_alloc()
 * (which copies type, name and spec) and sets the methods it supports; a
 * NULL method makes the public call fail with EROFS / EOPNOTSUPP.  Methods
 * get keys already folded and length-checked by util/dict.c.  Errors from
 * open go into `why`; errors from methods are -1 with errno set and a
 * msg_warn naming dict_spec().
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DICT_IMPL_H
#define UTIL_DICT_IMPL_H

#include <stddef.h>
#include <sys/stat.h>

#include "util/dict.h"
#include "util/vstr.h"

struct DICT {
	char	   *type;
	char	   *name;
	char	   *spec;
	int	    flags;
	int	    fold;	/* fold keys (type and flags agree) */
	VSTR	   *keybuf;	/* folded key */
	int	    file_track; /* text file: compare st_* below */
	struct stat file_st;	/* source, taken before reading */
	int (*lookup)(DICT *, const char *, const char **);
	int (*update)(DICT *, const char *, const char *);
	int (*del)(DICT *, const char *);
	int (*seq)(DICT *, int, const char **, const char **);
	int (*changed)(const DICT *);
	int (*commit)(DICT *);
	void (*discard)(DICT *); /* before close: publish nothing */
	void (*close)(DICT *);
};

DICT *dict_alloc(size_t size, const char *type, const char *name, int flags);
void  dict_free(DICT *d);

/* Type constructors.  name is the text after "type:". */
DICT *dict_db_open(const char *type, const char *name, int flags, VSTR *why);
DICT *dict_lmdb_open(const char *name, int flags, VSTR *why);
DICT *dict_texthash_open(const char *name, int flags, VSTR *why);
DICT *dict_texthash_open_buffer(const char *name, const char *text, size_t len,
				int flags, VSTR *why);
DICT *dict_inline_open(const char *name, int flags, VSTR *why);
DICT *dict_static_open(const char *name, int flags, VSTR *why);
DICT *dict_regexp_open(const char *name, int flags, VSTR *why);
DICT *dict_regexp_open_buffer(const char *name, const char *text, size_t len,
			      int flags, VSTR *why);
DICT *dict_cidr_open(const char *name, int flags, VSTR *why);
DICT *dict_cidr_open_buffer(const char *name, const char *text, size_t len,
			    int flags, VSTR *why);
DICT *dict_pcre_open(const char *name, int flags, VSTR *why);
DICT *dict_pcre_open_buffer(const char *name, const char *text, size_t len,
			    int flags, VSTR *why);
DICT *dict_unix_open(const char *name, int flags, VSTR *why);
DICT *dict_proxy_open(const char *name, int flags, VSTR *why);
DICT *dict_socketmap_open(const char *name, int flags, VSTR *why);
/* dict_configure's settings for proxy: writes and socketmap:. */
void  dict_proxy_configure_write(const char *service, long long idle_s,
				 long long ttl_s);
void  dict_socketmap_configure(long long timeout_s);
DICT *dict_tcp_open(const char *name, int flags, VSTR *why);
/*
 * The tcp: table's reply line (without its newline): 2 (found, value set
 * to the %XX-decoded text), 5 (not found) or 4 (temporary error), with
 * text/tlen the rest of the line after the code; -1 malformed (a bad
 * status, a broken %-sequence or an encoded NUL).  Pure, for fuzzing.
 */
int dict_tcp_reply(const char *line, size_t len, VSTR *value, const char **text,
		   size_t *tlen);
DICT *dict_sqlite_open(const char *name, int flags, VSTR *why);
DICT *dict_pgsql_open(const char *name, int flags, VSTR *why);
DICT *dict_ldap_open(const char *name, int flags, VSTR *why);

/*
 * In-memory table (util/dict_mem.c) behind texthash: and inline:.
 * dict_mem_put follows the DICT_FLAG_DUP_* rules of d->flags and warns
 * with `where` (e.g. "file:12") for a duplicate; where may be NULL.
 */
DICT *dict_mem_create(const char *type, const char *name, int flags);
int
dict_mem_put(DICT *d, const char *key, const char *value, const char *where);

#endif
