/*
 * tlsrpt - the TLS-RPT daemon's internal interfaces.
 *
 * tlsrpt.c runs the service (notes, show and send requests, timers);
 * tlsrpt_store.c keeps the counts per policy domain and UTC day, saves
 * them durably and writes the RFC 8460 JSON reports; tlsrpt_send.c
 * delivers a report to the rua URIs of the domain's _smtp._tls record
 * (mail through cleanup, https: POST with libcurl).
 *
 * Errors: nothing here is fatal after start-up; failures are logged and
 * retried at the next send.
 *
 * Ownership: the store owns its entries; report text is the caller's
 * VSTR.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef TLSRPT_TLSRPT_H
#define TLSRPT_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/cfg.h"
#include "util/dns.h"
#include "util/tlsrpt_client.h"
#include "util/vstr.h"

#define TLSRPT_POLICIES_MAX 10000 /* policy entries kept in all */
#define TLSRPT_FAILURES_MAX 100	  /* failure-details per policy entry */
#define TLSRPT_KEEP_DAYS    7	  /* unsendable reports are dropped after */

typedef struct TLSRPT_STORE TLSRPT_STORE;

/* One report to build: a policy domain and a UTC day. */
struct tlsrpt_group {
	char domain[DNS_NAME_MAX + 1];
	char day[11]; /* "2026-12-07" */
};

/* What every report says about its sender. */
struct tlsrpt_conf {
	const char *organization; /* smtp_tls_report_organization */
	const char *contact;	  /* smtp_tls_report_contact */
	const char *submitter;	  /* smtp_tls_report_submitter */
	const char *sender;	  /* smtp_tls_report_sender */
	const char *cafile;	  /* smtp_tls_report_CAfile */
	const char *myhostname;
};

/* tlsrpt_store.c */
/* Empty store saved at path; load it with tlsrpt_store_load. */
TLSRPT_STORE *tlsrpt_store_create(const char *path);
TLSRPT_STORE *tlsrpt_store_free(TLSRPT_STORE *st);
/* 0 (also when there is no file yet), or -1 with why. */
int tlsrpt_store_load(TLSRPT_STORE *st, VSTR *why);
/* Write the whole store atomically (temp file, fsync, rename). */
int  tlsrpt_store_save(TLSRPT_STORE *st, VSTR *why);
bool tlsrpt_store_dirty(const TLSRPT_STORE *st);
/* Count one session attempt on day. */
void tlsrpt_store_add(TLSRPT_STORE *st, const char *day,
		      const struct tlsrpt_note *n);
/*
 * The (domain, day) pairs held, days up to and including last_day
 * (NULL: all); *out is the caller's (myfree).  Returns the count.
 */
size_t tlsrpt_store_groups(const TLSRPT_STORE *st, const char *last_day,
			   struct tlsrpt_group **out);
/*
 * The JSON report of one group (RFC 8460 4) into json; end_time the end
 * of the date-range (seconds), for an unfinished day.
 */
void tlsrpt_store_report(const TLSRPT_STORE *st, const struct tlsrpt_group *g,
			 const struct tlsrpt_conf *conf, const char *report_id,
			 long long start, long long end, VSTR *json);
/* Forget a group (sent, or given up). */
void tlsrpt_store_remove(TLSRPT_STORE *st, const struct tlsrpt_group *g);

/* tlsrpt_send.c */
void tlsrpt_send_init(void);
void tlsrpt_send_done(void);
/*
 * Send every group of days up to last_day (NULL: all, the current one
 * too); a line per report and destination goes to log (sent or why not).
 * Groups sent to at least one rua are removed from the store.
 */
void tlsrpt_send_all(TLSRPT_STORE *st, const CFG *cfg, DNS *dns,
		     const struct tlsrpt_conf *conf, const char *last_day,
		     VSTR *log);

#endif
