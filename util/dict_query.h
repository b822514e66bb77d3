/*
 * dict_query - what the query tables (sqlite:, pgsql:, ldap:) share: the
 * reader of their configuration files, the common query settings, the
 * domain = pre-filter, and the % expansions of pgsql_table(5) /
 * ldap_table(5) in the query and in result_format.
 *
 * Configuration files have main.cf's shape: "name = value", '#' comments,
 * blank lines, and continuation lines that start with white space (joined
 * with one space).  A later setting of the same name replaces an earlier
 * one, as in main.cf.  A table reads the names it knows with dict_cf_str /
 * _int / _bool and then calls dict_cf_check_unused, so a misspelt or
 * unsupported setting fails the open instead of being ignored.
 *
 * Expansions (pgsql_table(5)): in a query %% is '%', %s the key, %u its
 * local part (the whole key when it has no '@'), %d its domain, %1..%9
 * the domain's labels counted from the right (%1 is the top-level
 * domain); %S %U %D are the same as %s %u %d.  A piece the key does not
 * have (%d of "user", %u of "@dom", %3 of "u@a.b") suppresses the query:
 * the lookup is "not found" without asking the server.  In result_format
 * %s %u %d are the result value's, and %S %U %D %1..%9 the key's (as
 * Postfix does); a value that lacks a piece, or is empty, is skipped.
 *
 * Errors: readers return NULL or -1 with why naming path (and line or
 * parameter); dict_query_result returns -1 with errno EFBIG past
 * expansion_limit; dict_query_domain_ok -1 with errno from a domain table.
 *
 * Ownership: a DICT_CF is the caller's (dict_cf_free wipes the values,
 * which may hold passwords); strings it hands back are borrowed until it
 * is freed.  struct dict_query_conf's strings and tables are owned by the
 * struct and released by dict_query_conf_free.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DICT_QUERY_H
#define UTIL_DICT_QUERY_H

#include <stddef.h>

#include "util/dict.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

typedef struct DICT_CF DICT_CF;

/*
 * Read a Postfix-style "name = value" file (# comments, blank lines,
 * continuation lines that start with white space).  NULL + why naming
 * path:line.  Values are trimmed.
 */
DICT_CF	   *dict_cf_read(const char *path, VSTR *why);
DICT_CF	   *dict_cf_free(DICT_CF *cf); /* NULL */
const char *dict_cf_path(const DICT_CF *cf);
/* The value, or def (may be NULL) when absent; marks name as used. */
const char *dict_cf_str(DICT_CF *cf, const char *name, const char *def);
/* 0, or -1 with why naming path, parameter and the bad value. */
int dict_cf_int(DICT_CF *cf, const char *name, long def, long min, long max,
		long *val, VSTR *why);
int dict_cf_bool(DICT_CF *cf, const char *name, int def, int *val, VSTR *why);
/*
 * -1 (why: "path:line: unknown parameter \"name\"") when the file has a
 * name nobody asked for: a table never accepts and ignores a setting.
 */
int dict_cf_check_unused(const DICT_CF *cf, VSTR *why);

/* What every query table shares. */
struct dict_query_conf {
	char	  *query;	  /* SQL query / LDAP query_filter */
	char	  *result_format; /* default "%s" */
	char	  *domain; /* "" no filter; else Postfix's domain = list */
	DICT_LIST *domain_tables;   /* the type:name items of domain, or NULL */
	long	   expansion_limit; /* 0: no limit */
	/* Private to dict_query.c: the domain names (files read in). */
	char **domain_names;
	size_t domain_count;
};

/*
 * Reads query_name (default query_default; NULL = required), result_format,
 * domain and expansion_limit from cf.  The query and result_format are
 * checked for bad % sequences.  0, or -1 with why.
 */
int  dict_query_conf_read(DICT_CF *cf, const char *query_name,
			  const char *query_default, struct dict_query_conf *qc,
			  VSTR *why);
void dict_query_conf_free(struct dict_query_conf *qc);

/*
 * The domain = pre-filter: 1 search, 0 do not (not found), -1 a domain
 * table failed (errno; the lookup is a temporary error).  With a filter
 * only keys "user@domain" with a non-empty user and a listed domain are
 * searched (pgsql_table(5)).
 */
int dict_query_domain_ok(const struct dict_query_conf *qc, const char *key);

/* Quote one substituted piece for the query language. */
typedef void (*DICT_QUOTE_FN)(VSTR *out, const char *s, size_t len, void *ctx);
/* RFC 4515: * ( ) \ NUL -> \2a \28 \29 \5c \00 */
void dict_query_quote_ldap(VSTR *out, const char *s, size_t len, void *ctx);

/*
 * Expand a query template for key (%% %s %u %d %[1-9] %S %U %D per
 * pgsql_table(5)), each substitution passed through quote (NULL:
 * verbatim).  Appends to out.  1 expanded, 0 suppressed (%d / %N with no
 * such part of key: the lookup is "not found" without asking the server;
 * out is then left as it was), -1 bad template (why).
 */
int dict_query_expand(VSTR *out, const char *tmpl, const char *key,
		      DICT_QUOTE_FN quote, void *ctx, VSTR *why);

/*
 * Append one result value through result_format (%% %s %u %d of the
 * value, %S %U %D %[1-9] of the key), separated from what out holds by
 * ","; counts in *count.  1 appended, 0 suppressed, -1 expansion_limit
 * exceeded (errno EFBIG; the lookup is an error, as Postfix's is).
 */
int
dict_query_result(const struct dict_query_conf *qc, VSTR *out, size_t *count,
		  const char *key, const char *value, size_t len);

#endif
