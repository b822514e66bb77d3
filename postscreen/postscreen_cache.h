/*
 * postscreen_cache - postscreen's memory of the clients that passed
 * (postscreen_cache_map): per client address, when each test's pass
 * expires.
 *
 * A value is Postfix's: the expiry times of the five tests as decimal
 * seconds since the epoch, "pregreet;dnsbl;pipelining;non_smtp;
 * bare_newline".  0 means "not passed"; psc_cache_parse() takes missing
 * or malformed fields as 0, so an entry never fails a client, it only
 * makes it take a test again.
 *
 * The table is opened once, before the chroot, for reading and writing:
 * btree:/hash: files in place with a sync after every update
 * (DICT_FLAG_SYNC_UPDATE), lmdb: in place, proxy:type:name through the
 * proxywrite service.  Cleanup walks the table (not possible through
 * proxy:) and drops the entries whose tests all expired longer than the
 * retention time ago.
 *
 * Errors: psc_cache_open returns NULL with why; a lookup or update that
 * fails is logged by util/dict and treated as "no entry" / lost, never
 * fatal (the client is merely tested again next time).
 *
 * Ownership: the PSC_CACHE is the caller's (psc_cache_close returns NULL).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef POSTSCREEN_POSTSCREEN_CACHE_H
#define POSTSCREEN_POSTSCREEN_CACHE_H

#include <stdbool.h>
#include <time.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

enum psc_test {
	PSC_TEST_PREGR,
	PSC_TEST_DNSBL,
	PSC_TEST_PIPEL,
	PSC_TEST_NSMTP,
	PSC_TEST_BARLF,
	PSC_TEST_COUNT,
};

typedef struct PSC_CACHE PSC_CACHE;

/* Parse value into expire[]; missing or bad fields are 0. */
void psc_cache_parse(const char *value, time_t expire[PSC_TEST_COUNT]);
/* Format expire[] as a cache value into out (replaced). */
void psc_cache_format(VSTR *out, const time_t expire[PSC_TEST_COUNT]);

PSC_CACHE  *psc_cache_open(const char *spec, VSTR *why);
PSC_CACHE  *psc_cache_close(PSC_CACHE *c);
const char *psc_cache_spec(const PSC_CACHE *c);

/* true and expire[] filled when addr has an entry. */
bool
psc_cache_lookup(PSC_CACHE *c, const char *addr, time_t expire[PSC_TEST_COUNT]);
void psc_cache_update(PSC_CACHE *c, const char *addr,
		      const time_t expire[PSC_TEST_COUNT]);

/*
 * Drop every entry of which some enabled test (bit 1 << test in
 * enabled) expired before now - retention; log "cache SPEC full
 * cleanup: retained=N dropped=M entries".  -1 when the table cannot be
 * walked (logged once by the caller's choice), else 0.
 */
int
psc_cache_cleanup(PSC_CACHE *c, time_t now, time_t retention, unsigned enabled);

#endif
