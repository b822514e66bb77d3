/*
 * anvil_table - anvil(8)'s counters: per ident ("SERVICE:KEY"), the
 * connections open now and the connections, messages, recipients, new
 * TLS sessions and AUTH commands of the current rate unit; the peaks it
 * logs; the idle entries it forgets.
 *
 * Counting follows Postfix's anvil: a rate is the number of events since
 * the unit began; the first event after a whole unit (anvil_rate_time_unit)
 * has passed starts a new unit and every rate of that ident from zero
 * (a quick answer to a burst, simpler than a moving average).  An entry
 * whose connection count drops to zero is forgotten one unit later
 * (anvil_table_expire), so memory is bounded by the clients of the last
 * unit plus those connected now.
 *
 * Connections belong to an owner, one per client connection of anvil (an
 * smtpd process): a disconnect counts only for an ident its owner
 * connected, and an owner that goes away (smtpd killed, anvil
 * connection lost) gives back every connection it still held.  An owner
 * holds at most ANVIL_OWNER_MAX connections; one more drops its oldest.
 *
 * Time is passed in (seconds, wall clock, as Postfix's event_time()), so
 * the tests drive it.
 *
 * Errors: none; only the allocator dies.  A request the table cannot
 * serve (ANVIL_REQ_COUNT) is a bug.
 * Ownership: the table and owners are the caller's, released with
 * anvil_table_free / anvil_owner_free (return NULL); an owner must be
 * freed before its table.  Lines handed to the stats callback are
 * borrowed for the call.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef ANVIL_ANVIL_TABLE_H
#define ANVIL_ANVIL_TABLE_H

#include <stddef.h>
#include <time.h>

#include "util/anvil_proto.h"

typedef struct ANVIL_TABLE ANVIL_TABLE;
typedef struct ANVIL_OWNER ANVIL_OWNER;

#define ANVIL_OWNER_MAX 1024

/* unit: anvil_rate_time_unit in seconds (>= 1). */
ANVIL_TABLE *anvil_table_create(long long unit);
ANVIL_TABLE *anvil_table_free(ANVIL_TABLE *t);
ANVIL_OWNER *anvil_owner_create(ANVIL_TABLE *t);
/* Gives back the owner's open connections (at now). */
ANVIL_OWNER *anvil_owner_free(ANVIL_TABLE *t, ANVIL_OWNER *o, time_t now);

/* Count (or look up) one request and fill its reply (status OK). */
void anvil_table_request(ANVIL_TABLE *t, ANVIL_OWNER *o,
			 const struct anvil_request *rq, time_t now,
			 struct anvil_reply *rp);
/* Forget entries idle (no connection) for a whole unit. */
void anvil_table_expire(ANVIL_TABLE *t, time_t now);
/* Entries held now. */
size_t anvil_table_size(const ANVIL_TABLE *t);

/*
 * The peaks since the last call, one line each, as Postfix's anvil logs
 * them ("statistics: max connection rate 3/60s for (smtp:127.0.0.1) at
 * Dec  7 16:02:03"), only those above zero; then forget them.
 */
typedef void (*anvil_stats_fn)(void *ctx, const char *line);
void anvil_table_stats(ANVIL_TABLE *t, anvil_stats_fn fn, void *ctx);

#endif
