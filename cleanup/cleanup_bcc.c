/*
 * cleanup_bcc - automatic blind copies: always_bcc, sender_bcc_maps and
 * recipient_bcc_maps, as in Postfix.
 *
 * sender_bcc_maps is looked up with the rewritten envelope sender (not
 * <>), recipient_bcc_maps with each rewritten recipient before virtual
 * alias expansion (envelope and, with sendmail -t, extracted ones); both
 * with the lookup order of the canonical and virtual tables (full
 * address, user for local domains, @domain).  Every item of a result is
 * a BCC recipient.  The copies are added once the header is complete
 * (extraction may still add recipients before that), only when the
 * message has a recipient, and only to new mail: a message that Postel
 * forwards (local) or generates (bounce) gets none, so that two servers
 * that copy to each other cannot loop.
 *
 * A BCC recipient is rewritten like an envelope recipient (qualified,
 * canonical, virtual), asks for no delivery status notification
 * (NOTIFY=NEVER: its failure never reaches the sender, who did not ask
 * for the copy), and is dropped when it equals a recipient already
 * present (duplicate_filter_limit).
 *
 * Errors: a table that cannot be read defers the message (451 4.3.0).
 *
 * Ownership: results are copied into st->bcc.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "cleanup/cleanup.h"
#include "util/addr.h"
#include "util/msg.h"
#include "util/strutil.h"

bool
cleanup_bcc_ok(const CLEANUP_STATE *st)
{
	/* Mail that Postel itself forwards or generates is not new mail. */
	return st->origin == NULL
	       || (strcmp(st->origin, "local") != 0
		   && strcmp(st->origin, "bounce") != 0);
}

/* Queue the items of a result list (comma or space separated). */
static void
cleanup_bcc_queue(CLEANUP_STATE *st, const char *list)
{
	const char *cp = list;
	size_t	    len;

	while (*cp) {
		cp += strspn(cp, STR_SEP_LIST);
		if ((len = strcspn(cp, STR_SEP_LIST)) == 0)
			break;
		vstr_memcat(st->bcc, cp, len);
		vstr_addch(st->bcc, '\n');
		cp += len;
	}
}

int
cleanup_bcc_lookup(CLEANUP_STATE *st, DICT_LIST *maps, const char *name,
		   const char *addr)
{
	const char *value;
	int	    ret;

	if (maps == NULL || *addr == 0 || st->adding_bcc || !cleanup_bcc_ok(st))
		return 0;
	if ((ret = cleanup_map_lookup(st->conf, maps, addr, &value, NULL))
	    < 0) {
		msg_warn("%s: %s lookup problem for %s -- message not "
			 "accepted, try again later",
			 VSTR_STR(st->qid), name, addr);
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: %s lookup failure", name);
		return -1;
	}
	if (ret == 1)
		cleanup_bcc_queue(st, value);
	return 0;
}

void
cleanup_bcc_add(CLEANUP_STATE *st)
{
	const CLEANUP_CONF *conf = st->conf;
	const char	   *cp, *nl;
	VSTR		   *addr;

	if (st->status != CLEANUP_OK || st->nrcpt == 0 || !cleanup_bcc_ok(st))
		return;
	if (cleanup_bcc_lookup(st, conf->sender_bcc, "sender_bcc_maps",
			       st->sender)
	    < 0)
		return;
	if (conf->always_bcc && *conf->always_bcc)
		cleanup_bcc_queue(st, conf->always_bcc);
	addr = vstr_alloc(64);
	st->adding_bcc = true;
	for (cp = VSTR_STR(st->bcc); *cp && st->status == CLEANUP_OK;
	     cp = nl + 1) {
		nl = strchr(cp, '\n');
		vstr_memcpy(addr, cp, (size_t)(nl - cp));
		(void)cleanup_add_rcpt(st, VSTR_STR(addr), NULL,
				       ADDR_NOTIFY_NEVER);
	}
	st->adding_bcc = false;
	vstr_reset(st->bcc);
	vstr_free(addr);
}
