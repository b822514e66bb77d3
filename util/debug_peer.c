/*
 * debug_peer - more verbose logging for chosen hosts.  See debug_peer.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdbool.h>
#include <string.h>

#include "util/cfg.h"
#include "util/debug_peer.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/peer_list.h"
#include "util/strutil.h"

static char *debug_peer_list; /* NULL: none */
static int   debug_peer_level;
static bool  debug_peer_parent; /* domain.tld matches subdomains */
static int   debug_peer_raised; /* debug_peer_check()s not undone */
static int   debug_peer_saved;	/* msg_verbose before the first */

void
debug_peer_init(const CFG *cfg)
{
	const char *list = cfg_get_str(cfg, "debug_peer_list");
	char	   *copy;
	char	   *cp;
	char	   *word;

	debug_peer_list = myfree(debug_peer_list);
	if (*list != 0)
		debug_peer_list = mystrdup(list);
	debug_peer_level = (int)cfg_get_int(cfg, "debug_peer_level");
	debug_peer_parent = false;
	cp = copy = mystrdup(
	    cfg_get_str(cfg, "parent_domain_matches_subdomains"));
	while ((word = str_token(&cp, STR_SEP_LIST)) != NULL)
		if (strcmp(word, "debug_peer_list") == 0)
			debug_peer_parent = true;
	myfree(copy);
}

bool
debug_peer_check(const char *name, const char *addr)
{
	if (debug_peer_list == NULL || debug_peer_level <= 0
	    || !peer_list_match(debug_peer_list, name, addr, debug_peer_parent))
		return false;
	if (debug_peer_raised++ == 0) {
		debug_peer_saved = msg_verbose;
		msg_verbose += debug_peer_level;
	}
	return true;
}

void
debug_peer_restore(void)
{
	if (debug_peer_raised > 0 && --debug_peer_raised == 0)
		msg_verbose = debug_peer_saved;
}
