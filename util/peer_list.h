/*
 * peer_list - match a remote host against a Postfix host and network list
 * (debug_peer_list, smtpd_sasl_exceptions_networks, ...).
 *
 * Words are separated by white space and commas; "!word" excludes; the
 * first word that matches decides.  Network words match the numeric
 * address: "1.2.3.4", "1.2.3.0/24", "[::1]", "[2001:db8::]/32",
 * "2001:db8::/32".  Other words are host names, matched against the
 * host's name without regard to case: "host.example" matches that name
 * and, with parent_matches (Postfix's parent_domain_matches_subdomains
 * for the feature), its subdomains too; ".example" matches subdomains
 * only.  Table words ("type:name") and files ("/path") are not supported
 * here and never match (noted under -v).
 *
 * Errors: none; a word that is neither network nor name is skipped.
 * Ownership: nothing is kept.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_PEER_LIST_H
#define UTIL_PEER_LIST_H

#include <stdbool.h>

#include "util/sys_defs.h"

/* name may be NULL (only network words can match then). */
bool peer_list_match(const char *list, const char *name, const char *addr,
		     bool parent_matches);

#endif
