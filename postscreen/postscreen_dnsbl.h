/*
 * postscreen_dnsbl - postscreen's side of DNSBL/DNSWL scoring.
 *
 * For each client address postscreen asks the dnsblog service (master.cf
 * `dnsblog unix - - y - 0 dnsblog`, reached at "private/" +
 * dnsblog_service_name) once per distinct domain of postscreen_dnsbl_sites:
 * one connection, one request frame {domain, addr, id}, one reply frame
 * {domain, addr, id, result}.  Everything runs in the caller's event loop;
 * nothing here blocks.  The replies are scored with util/dnsbl (filters
 * and weights of the site list); the request ends when every reply is in
 * or postscreen_dnsbl_timeout has passed, whichever comes first.
 *
 * Parameters read: postscreen_dnsbl_sites, postscreen_dnsbl_timeout,
 * postscreen_dnsbl_reply_map, dnsblog_service_name.  The threshold, the
 * action and the "DNSBL rank" log line are postscreen's own.
 *
 * Errors: psc_dnsbl_create() is fatal on a bad site list or an unusable
 * reply map (configuration errors).  A dnsblog that cannot be reached,
 * answers garbage or too late counts 0 for its domains and is logged
 * with msg_warn; the request still completes.
 *
 * Ownership: the PSC_DNSBL is the caller's (psc_dnsbl_free returns NULL
 * and cancels what is pending without calling done).  A request handle
 * belongs to the module: it is valid until done() has been called or
 * until psc_dnsbl_cancel(); after either, forget it.  The `site` given to
 * done() is borrowed for the duration of the call.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef POSTSCREEN_POSTSCREEN_DNSBL_H
#define POSTSCREEN_POSTSCREEN_DNSBL_H

#include <stdbool.h>

#include "util/cfg.h"
#include "util/events.h"
#include "util/sys_defs.h"

typedef struct PSC_DNSBL PSC_DNSBL;
struct psc_dnsbl_req;

/*
 * Reads postscreen_dnsbl_sites, postscreen_dnsbl_timeout,
 * postscreen_dnsbl_reply_map, dnsblog_service_name; fatal on a bad
 * site list.
 */
PSC_DNSBL *psc_dnsbl_create(const CFG *cfg, EVENTS *ev);
void	   psc_dnsbl_free(PSC_DNSBL *d);
bool	   psc_dnsbl_enabled(const PSC_DNSBL *d); /* any sites */

/*
 * Start the queries for addr (one dnsblog connection per domain,
 * non-blocking, in ev).  done() is called exactly once, later (never
 * from inside this call), with the total score and the domain that
 * contributed the largest positive weight (NULL if none), when every
 * reply is in or postscreen_dnsbl_timeout has passed (partial score;
 * an unreachable dnsblog counts 0 and logs a warning).
 */
typedef void (*PSC_DNSBL_DONE)(void *ctx, int score, const char *site);
struct psc_dnsbl_req *psc_dnsbl_request(PSC_DNSBL *d, const char *addr,
					PSC_DNSBL_DONE done, void *ctx);
void		      psc_dnsbl_cancel(PSC_DNSBL *d, struct psc_dnsbl_req *r);

/*
 * The name to show in the reply: postscreen_dnsbl_reply_map lookup of
 * site, else site itself.  Borrowed until the next call.
 */
const char *psc_dnsbl_reply_name(PSC_DNSBL *d, const char *site);

#endif
