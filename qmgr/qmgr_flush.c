/*
 * qmgr_flush - tell the fast flush service (flush(8)) about deferrals.
 *
 * When a recipient is deferred (its defer log entry written) and its
 * domain is listed in fast_flush_domains, the message's queue ID is
 * added to that destination's fast flush log, so that ETRN and
 * postelqueue -s can deliver it at once.  The list is checked here, so
 * other destinations cost nothing; each destination is added once per
 * delivery attempt of a message.  The request is bounded
 * (FLUSH_ADD_TIMEOUT_MS); when the service fails or cannot be reached
 * qmgr logs one warning and makes no more requests for
 * QMGR_FLUSH_PAUSE seconds, so delivery never waits on it for long.
 * ETRN for such a message still works once qmgr defers it again.
 *
 * Errors: logged; nothing here fails the delivery.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <time.h>

#include "qmgr/qmgr.h"
#include "util/flush_client.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

#define QMGR_FLUSH_PAUSE 60 /* seconds without requests after a failure */

int
qmgr_flush_init(QMGR *q, VSTR *why)
{
	q->flush_domains = domain_list_open_param(q->cfg, "fast_flush_domains",
						  why);
	return q->flush_domains ? 0 : -1;
}

void
qmgr_flush_free(QMGR *q)
{
	q->flush_domains = domain_list_free(q->flush_domains);
}

/* Was site added for m in this attempt?  Remember it if not. */
static bool
qmgr_flush_seen(QMGR_MESSAGE *m, const char *site)
{
	const char *cp;
	size_t	    len = strlen(site);

	if (m->flush_sites == NULL)
		m->flush_sites = vstr_alloc(64);
	for (cp = VSTR_STR(m->flush_sites); *cp; cp = strchr(cp, '\n') + 1)
		if (strncmp(cp, site, len) == 0 && cp[len] == '\n')
			return true;
	vstr_sprintf_append(m->flush_sites, "%s\n", site);
	return false;
}

void
qmgr_flush_add(QMGR_MESSAGE *m, const char *addr)
{
	QMGR	   *q = m->qmgr;
	const char *at = strrchr(addr, '@');
	char	   *site;
	long long   now;
	VSTR	   *why;
	int	    rc;

	if (at == NULL || at[1] == 0 || strchr(at + 1, '\n') != NULL)
		return;
	site = mystrdup(at + 1);
	str_lower(site);
	if ((rc = domain_list_match(q->flush_domains, site)) <= 0) {
		if (rc < 0)
			msg_warn("%s: fast_flush_domains: table lookup of %s "
				 "failed",
				 m->queue_id, site);
		goto out;
	}
	now = (long long)time(NULL);
	if (now < q->flush_pause_until || qmgr_flush_seen(m, site))
		goto out;
	why = vstr_alloc(64);
	rc = flush_add(q->cfg, site, m->queue_id, why);
	if (rc == FLUSH_STAT_FAIL || rc == FLUSH_STAT_BAD) {
		msg_warn("%s: %s service failure: %s; no fast flush requests "
			 "for %d seconds",
			 m->queue_id, cfg_get_str(q->cfg, "flush_service_name"),
			 rc == FLUSH_STAT_BAD ? "bad request" : VSTR_STR(why),
			 QMGR_FLUSH_PAUSE);
		q->flush_pause_until = now + QMGR_FLUSH_PAUSE;
	}
	vstr_free(why);
out:
	myfree(site);
}
