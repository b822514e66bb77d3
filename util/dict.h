/*
 * dict - "type:name" lookup tables with Postfix semantics.
 *
 * Types: hash: and btree: (Berkeley DB files name.db), lmdb: (LMDB files
 * name.lmdb, util/dict_lmdb.c), texthash: (a text
 * file of "key value" lines read into memory), inline:{ k=v, { k = v v } },
 * static:value, regexp: (regexp_table(5)), pcre: (pcre_table(5)),
 * cidr: (cidr_table(5)), unix:passwd.byname, socketmap:inet:host:port:name
 * and socketmap:unix:/path:name (a server asked over Sendmail's socketmap
 * protocol, util/dict_socketmap.c), tcp:host:port (Postfix's tcp_table(5)
 * protocol, util/dict_tcp.c), ldap:file.cf (ldap_table(5)).
 * "proxy:type:name" reads type:name through the
 * proxymap(8) service (util/dict_proxy.c), for chrooted daemons; the
 * table must be listed in proxy_read_maps.  man/man5/postel-tables.5
 * documents every syntax.
 *
 * Case: hash/btree/lmdb/texthash/inline/unix keys are folded to lower case
 * when DICT_FLAG_FOLD is given (pass it for every ordinary lookup;
 * postelmap -f leaves it out when building and querying).  regexp and
 * pcre honour their own i flag, cidr keys are addresses, static ignores the key.
 *
 * Errors: dict_open / dict_list_open return NULL and put a message naming
 * the spec (and file:line for a syntax error) in `why`; errno is then
 * ENOENT for a missing file, EINVAL for a bad spec or syntax error.
 * Lookups return -1 with errno set and msg_warn naming the table when the
 * table could not be read; a caller should then defer, never treat it as
 * "not found".  A key longer than DICT_KEY_MAX fails with -1 and errno
 * ENAMETOOLONG.
 *
 * Ownership: a DICT / DICT_LIST is the caller's, released with dict_close /
 * dict_list_close (which return NULL).  Every `const char *` handed back
 * (values, iteration keys, dict_spec) is borrowed from the table and stays
 * valid until the next call on the same table.
 *
 * Berkeley DB tables: readers never see a half-built file because builders
 * (DICT_FLAG_CREATE, and DICT_FLAG_WRITE updates) write a temporary file
 * and rename it over name.db in dict_commit() (or dict_close()); until then
 * nothing is visible.  The exception is DICT_FLAG_SYNC_UPDATE, for a
 * cache that a single process updates in place record by record.  dict_changed() lets long-running readers notice a
 * rebuild.  Readers keep the file they opened.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DICT_H
#define UTIL_DICT_H

#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

typedef struct DICT DICT;

#define DICT_FLAG_FOLD	 (1 << 0) /* fold keys to lower case (normal lookups) */
#define DICT_FLAG_CREATE (1 << 1) /* create/truncate (hash/btree) */
#define DICT_FLAG_WRITE	 (1 << 2) /* open for update/delete */
#define DICT_FLAG_NUL \
	(1 << 3)		       /* store keys/values with a trailing NUL
				 * (postelmap -N); lookups try both forms */
#define DICT_FLAG_DUP_REPLACE (1 << 4) /* dict_update replaces silently */
#define DICT_FLAG_DUP_IGNORE \
	(1 << 5) /* dict_update keeps the old value
				 * silently; with neither DUP flag an update
				 * of an existing key warns "duplicate entry"
				 * and keeps the old value (postmap rules) */
#define DICT_FLAG_SYNC_UPDATE \
	(1 << 6) /* with WRITE, hash/btree: update name.db
				 * in place (created when missing), each
				 * change synced to disk at once; for a cache
				 * that one process owns (postscreen_cache_map)
				 * and keeps open after a chroot */

#define DICT_KEY_MAX 4096 /* longer lookup keys fail (ENAMETOOLONG) */

/* spec "type:name"; NULL + why naming the spec and cause */
DICT *dict_open(const char *spec, int flags, VSTR *why);
DICT *dict_close(DICT *d); /* NULL */

/*
 * Open a regexp:, pcre:, cidr: or texthash: table from text in memory (fuzzing,
 * tests, configuration that carries the table).  `name` is used
 * in messages and dict_spec(); the text need not be NUL-terminated.
 */
DICT *dict_open_buffer(const char *type, const char *name, const char *text,
		       size_t len, int flags, VSTR *why);

/*
 * 1 found (value borrowed until next call on d), 0 not found, -1 error
 * (errno, msg_warn naming the table).
 */
int dict_lookup(DICT *d, const char *key, const char **value);

/*
 * Writers (hash/btree with CREATE or WRITE; texthash/inline in memory).
 * dict_update: 0, or -1 (EROFS for read-only tables, errno otherwise).
 * dict_delete: 1 deleted, 0 absent, -1 error.
 */
int dict_update(DICT *d, const char *key, const char *value);
int dict_delete(DICT *d, const char *key);

/*
 * Builders of files (hash/btree with CREATE or WRITE) publish their work
 * with dict_commit: the temporary file is synced and renamed over name.db.
 * 0, or -1 with errno and msg_warn (nothing is published).  After a
 * commit only dict_close is valid.  dict_close without a commit commits
 * when no update failed and logs a failure; callers that care about the
 * outcome (postelmap's exit status) call dict_commit.  For other tables
 * dict_commit is a no-op returning 0.
 */
int dict_commit(DICT *d);

/* Close a builder dropping its work (the temporary file); NULL. */
DICT *dict_discard(DICT *d);

/*
 * Iteration in storage order: 1 item, 0 end, -1 error (EOPNOTSUPP for
 * regexp, cidr, static and unix tables).  dict_first restarts.
 */
int dict_first(DICT *d, const char **key, const char **value);
int dict_next(DICT *d, const char **key, const char **value);

const char *dict_spec(const DICT *d); /* "type:name" as opened */
const char *dict_type(const DICT *d); /* "hash", "regexp", ... */

/*
 * 1 when the file behind d was replaced, changed or removed since it was
 * opened (a long-running reader should then reopen or exit), 0 otherwise
 * or for tables without a file (inline, static, unix, memory buffers).
 */
int dict_changed(const DICT *d);

/*
 * Where proxy: tables find proxymap: queue_dir (absolute) for processes
 * whose working directory is not the queue folder, and the master.cf
 * service name (proxymap_service_name; NULL: "proxymap").  dict_configure
 * calls it; tests may call it directly.
 */
void dict_proxy_configure(const char *queue_dir, const char *service);

/*
 * The initial map size of lmdb: tables (lmdb_map_size; 0: Postfix's
 * default, 16 MiB); a full map is doubled on demand (util/dict_lmdb.c).
 * dict_configure calls it.
 */
void dict_lmdb_configure(size_t map_size);

/*
 * Settings from main.cf for the tables that talk to services and servers
 * or need sizes: queue_directory, proxymap_service_name,
 * proxywrite_service_name, ipc_idle and ipc_ttl (proxy:),
 * socketmap_timeout (socketmap:), lmdb_map_size (lmdb:).  The skeleton
 * and commands call it once after reading main.cf; until then built-in
 * defaults (Postfix's) apply.
 */
typedef struct CFG CFG;
void		   dict_configure(const CFG *cfg);

/*
 * Search a list of tables ("hash:/a, regexp:/b" as in alias_maps), first
 * match wins; an error in a table stops the search with -1 (defer).
 * Braces group text with spaces and commas: "inline:{ a=b, c=d }, static:x".
 */
typedef struct DICT_LIST DICT_LIST;

DICT_LIST *dict_list_open(const char *specs, int flags, VSTR *why);
DICT_LIST *dict_list_close(DICT_LIST *l);
int	   dict_list_lookup(DICT_LIST *l, const char *key, const char **value);
size_t	   dict_list_count(const DICT_LIST *l);
DICT	  *dict_list_at(const DICT_LIST *l, size_t i);

/*
 * Split a table list as dict_list_open does: each item is handed to fn in
 * order with its length (not NUL-terminated).  Returns 0, or -1 with why on
 * an unbalanced brace.
 */
typedef void (*DICT_LIST_FN)(const char *item, size_t len, void *ctx);

int dict_list_split(const char *specs, DICT_LIST_FN fn, void *ctx, VSTR *why);

#endif
