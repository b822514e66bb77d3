/*
 * cleanup_route - the old routing syntaxes in addresses: swap_bangpath
 * (site!user is user@site) and allow_percent_hack (user%domain is
 * user@domain), where Postfix's trivial-rewrite applies them.
 *
 * Postfix knows them in two places, and so does cleanup:
 *  - canonicalisation (rewrite_tree): an address without '@' has its
 *    bang path swapped (at the first '!'), or else its last '%' promoted
 *    to '@', before @$myorigin would be appended.  This is every address
 *    cleanup qualifies: sender, recipients, header addresses, table
 *    results.
 *  - resolution (resolve_addr): a recipient whose domain is one of
 *    $mydestination loses that domain when what is left still holds a
 *    '!' or '%'; the rest is rewritten as above and looked at again, so
 *    user%remote@local and remote!user@local go to user@remote.  Postfix
 *    does this when qmgr resolves the recipient and delivers to the
 *    rewritten address; cleanup does it to each final recipient (after
 *    virtual aliasing), keeping the address as given for DSN.
 * A quoted local part is left alone (its '!' and '%' are not syntax).
 *
 * Relaying: smtpd refuses these forms from clients that may not relay
 * (allow_untrusted_routing = no, smtpd_check_addr.c), as Postfix does;
 * what reaches cleanup this way was sent by a trusted client.
 *
 * Errors: none.  Ownership: the caller's VSTR is changed in place.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "cleanup/cleanup.h"

#define CLEANUP_ROUTE_ROUNDS 20 /* local domains stripped, at most */

bool
cleanup_route_unqualified(const CLEANUP_CONF *conf, VSTR *addr)
{
	const char *s = VSTR_STR(addr), *cp;
	VSTR	   *tmp;

	if (VSTR_LEN(addr) == 0 || s[0] == '"' || strchr(s, '@') != NULL)
		return false;
	if (conf->swap_bangpath && (cp = strchr(s, '!')) != NULL) {
		tmp = vstr_alloc(VSTR_LEN(addr) + 1);
		vstr_strcpy(tmp, cp + 1);
		vstr_addch(tmp, '@');
		vstr_memcat(tmp, s, (size_t)(cp - s));
		vstr_memcpy(addr, VSTR_STR(tmp), VSTR_LEN(tmp));
		vstr_free(tmp);
		return true;
	}
	if (conf->allow_percent_hack && (cp = strrchr(s, '%')) != NULL) {
		VSTR_STR(addr)[cp - s] = '@';
		return true;
	}
	return false;
}

void
cleanup_route_local(const CLEANUP_CONF *conf, VSTR *addr)
{
	const char *s, *at;
	size_t	    local_len, round;

	for (round = 0; round < CLEANUP_ROUTE_ROUNDS; round++) {
		s = VSTR_STR(addr);
		if (s[0] == '"' || (at = strrchr(s, '@')) == NULL
		    || !cleanup_domain_in_list(at + 1, conf->mydestination))
			return;
		local_len = (size_t)(at - s);
		if (!(conf->swap_bangpath && memchr(s, '!', local_len))
		    && !(conf->allow_percent_hack && memchr(s, '%', local_len)))
			return;
		vstr_truncate(addr, local_len);
		(void)cleanup_route_unqualified(conf, addr);
	}
}
