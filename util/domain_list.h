/*
 * domain_list - Postfix-style lists of domains (mydestination,
 * relay_domains, fast_flush_domains, ...).
 *
 * A list holds domain names, ".domain" patterns that match subdomains
 * only, and type:table lookups (a key found in a table matches: the
 * domain itself, then each ".parent" and, with parent matching, each
 * "parent").  With parent matching (the list's parameter is named in
 * parent_domain_matches_subdomains) a plain "example.com" also matches
 * its subdomains.  Names compare without regard to case; the domain
 * handed to domain_list_match() must already be lower case.
 *
 * Errors: domain_list_open returns NULL with a reason in why (may be
 * NULL) when a table cannot be opened; domain_list_match returns -1 when
 * a table lookup fails.
 *
 * Ownership: the list is the caller's, released with domain_list_free()
 * (returns NULL).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DOMAIN_LIST_H
#define UTIL_DOMAIN_LIST_H

#include <stdbool.h>

#include "util/cfg.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

typedef struct DOMAIN_LIST DOMAIN_LIST;

DOMAIN_LIST *domain_list_open(const char *text, bool parent_match, VSTR *why);
/*
 * The list in parameter param, with parent matching when
 * parent_domain_matches_subdomains names param.
 */
DOMAIN_LIST *
domain_list_open_param(const CFG *cfg, const char *param, VSTR *why);
DOMAIN_LIST *domain_list_free(DOMAIN_LIST *l);
/* 1 match, 0 no match (also for an empty domain or a NULL list), -1 error. */
int domain_list_match(DOMAIN_LIST *l, const char *domain);
/* Does parent_domain_matches_subdomains name feature? */
bool domain_list_parent_match(const CFG *cfg, const char *feature);

#endif
