/*
 * debug_peer - more verbose logging while talking to chosen hosts.
 *
 * debug_peer_init() reads debug_peer_list and debug_peer_level (Postfix's
 * names and meaning).  debug_peer_check(name, addr) raises msg_verbose by
 * debug_peer_level when the remote host matches debug_peer_list (see
 * util/peer_list.h; a name pattern also matches subdomains when
 * parent_domain_matches_subdomains lists debug_peer_list) and returns
 * true; each true return is undone by one debug_peer_restore().  Raises
 * nest: the level drops back only when the last one is undone, so a
 * process may hold several sessions at once (the smtp client's cache).
 *
 * Errors: none.  State: per process (the level is process-wide anyway).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DEBUG_PEER_H
#define UTIL_DEBUG_PEER_H

#include <stdbool.h>

#include "util/cfg.h"

void debug_peer_init(const CFG *cfg);
bool debug_peer_check(const char *name, const char *addr);
void debug_peer_restore(void);

#endif
