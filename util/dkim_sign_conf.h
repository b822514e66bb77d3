/*
 * dkim_sign_conf - the text of DKIM signing configuration: key table
 * values, signing table values, dkim_sign_headers, dkim_canonicalization,
 * and the order in which the signing table is searched.
 *
 * Pure parsing, no I/O and no libopendkim, so that cleanup (which signs)
 * and `postel check` (which inspects the key files) read the tables the
 * same way, and so that unit tests and the fuzzer reach every branch.
 *
 *   key table value	"domain:selector:/path/to/key.pem" (OpenDKIM's
 *			KeyTable without its inline-key and "%" forms);
 *			the path is absolute and may itself hold ':'
 *   signing table value	one or more key names, separated by commas or
 *			white space (OpenDKIM's SigningTable value, but a
 *			list: one signature per name, duplicates dropped)
 *   dkim_sign_headers	header names separated by commas or white space;
 *			"+Name" oversigns Name: it is listed in h= once more
 *			than it occurs, so nobody can add one unnoticed
 *   dkim_canonicalization	"header/body" or "header" (body then simple,
 *			RFC 6376 §3.5), each "simple" or "relaxed"
 *
 * Lookup order (dkim_sign_lookup_keys): the address, its domain, then
 * each parent domain with a leading dot: for user@a.b.example those are
 * "user@a.b.example", "a.b.example", ".b.example", ".example".
 *
 * Errors: the parsers return 0, or -1 with a reason in why (which names
 * no table: the caller adds where the text came from).  Nothing logs.
 *
 * Ownership: a DKIM_SIGN_LIST is the caller's (dkim_sign_list_alloc /
 * dkim_sign_list_free, which returns NULL); its strings belong to it.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DKIM_SIGN_CONF_H
#define UTIL_DKIM_SIGN_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/vstr.h"

#define DKIM_SIGN_KEYS_MAX    8	   /* signatures per message */
#define DKIM_SIGN_HEADERS_MAX 100  /* names in dkim_sign_headers */
#define DKIM_SIGN_NAME_MAX    255  /* a key name or header name */
#define DKIM_SIGN_VALUE_MAX   4096 /* a table value */

#define DKIM_SIGN_CANON_SIMPLE	0
#define DKIM_SIGN_CANON_RELAXED 1

typedef struct DKIM_SIGN_LIST {
	size_t count;
	size_t cap;
	char **item; /* NUL-terminated, owned */
	bool  *over; /* headers: oversigned ("+Name") */
} DKIM_SIGN_LIST;

DKIM_SIGN_LIST *dkim_sign_list_alloc(void);
DKIM_SIGN_LIST *dkim_sign_list_free(DKIM_SIGN_LIST *l);
void		dkim_sign_list_reset(DKIM_SIGN_LIST *l);

/* A key table value; the three parts go to domain, selector, path. */
int dkim_sign_key_parse(const char *value, VSTR *domain, VSTR *selector,
			VSTR *path, VSTR *why);

/* A signing table value: 1 to DKIM_SIGN_KEYS_MAX key names into l. */
int dkim_sign_names_parse(DKIM_SIGN_LIST *l, const char *value, VSTR *why);

/* dkim_sign_headers: the names (without "+") and their oversign flags. */
int dkim_sign_headers_parse(DKIM_SIGN_LIST *l, const char *value, VSTR *why);

/* dkim_canonicalization into DKIM_SIGN_CANON_* values. */
int dkim_sign_canon_parse(const char *value, int *header, int *body, VSTR *why);

/*
 * The signing table keys for a From: address, most specific first, into
 * l (replacing what it held); the count, 0 for an address without a
 * domain.
 */
size_t dkim_sign_lookup_keys(DKIM_SIGN_LIST *l, const char *addr);

#endif
