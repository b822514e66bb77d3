/*
 * metrics - event counters shared by every Postel process.
 *
 * The counters live in one fixed-size file, $data_directory/metrics.shm,
 * that every process maps MAP_SHARED.  master makes a fresh zeroed file
 * at start (metrics_create), so counters start at zero with the mail
 * system and survive the restart of any other process; each daemon maps
 * it once, before the chroot and the drop of privileges (the skeleton
 * calls metrics_attach).  Without the file (a stand-alone daemon, a unit
 * test) every helper below does nothing.
 *
 * The file is an open-addressing hash table of series.  A series is a
 * metric family (one of enum metrics_family) plus its label text
 * (`transport="smtp",status="sent"`, at most METRICS_LABELS_MAX bytes),
 * and holds either one counter, one gauge, or a histogram's buckets and
 * sum.  A writer finds or inserts its series lock-free: an empty slot is
 * claimed by compare-and-swap on its state word, filled, then published,
 * so a reader sees only complete keys.  Counting an event is then one
 * atomic add into the mapping: no system call, no lock, nothing that
 * waits for the collector.  When the table is full (or a label set is too
 * long) the event is counted in an overflow counter that the metrics
 * service exports as postel_metrics_overflow_total.
 *
 * metrics_render() is the reading side, used by the metrics service.  It
 * treats the image as untrusted input: the header, every slot's family,
 * label text and histogram shape are checked, and whatever fails the
 * check is skipped and counted, never trusted.
 *
 * Errors: metrics_create returns 0 / -1 with a reason in why.  The event
 * helpers cannot fail (they count into the overflow counter instead).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_METRICS_H
#define UTIL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/cfg.h"
#include "util/deliver_proto.h"
#include "util/vstr.h"

#define METRICS_FILE	   "metrics.shm" /* in data_directory */
#define METRICS_SLOTS	   1024		 /* series in the file */
#define METRICS_LABELS_MAX 160		 /* label text, NUL included */
#define METRICS_VALUES	   16		 /* counters per series */

enum metrics_family {
	METRICS_SMTPD_CONNECTIONS,
	METRICS_SMTPD_REJECTS,
	METRICS_MESSAGES_RECEIVED,
	METRICS_DELIVERIES,
	METRICS_TLS_SESSIONS,
	METRICS_DELIVERY_DELAY,
	METRICS_MESSAGE_SIZE,
	METRICS_PROCESSES,
	METRICS_NFAMILIES
};

/* The path of the file for this configuration (the caller's to free). */
char *metrics_path(const CFG *cfg);

/*
 * master: replace the file at path by a fresh zeroed one (written beside
 * it and renamed, so a process still mapping the old one is not hurt),
 * owned by uid/gid (not changed when uid is (uid_t)-1), mode 0600, and
 * map it in this process.  0 / -1 + why.
 */
int metrics_create(const char *path, uid_t uid, gid_t gid, VSTR *why);

/*
 * Map the file at path for this process's events.  A missing file is
 * quiet (metrics are off); a file of the wrong size or kind is warned
 * about and not used.  0 when mapped, -1 otherwise.
 */
int metrics_attach(const char *path);

/* metrics_attach(metrics_path(cfg)), for the skeleton. */
void metrics_path_attach(const CFG *cfg);

/* Unmap (tests); the helpers do nothing afterwards. */
void metrics_detach(void);

/*
 * The mapped image for a reader (the metrics service), and its length;
 * NULL when nothing is mapped.
 */
const void *metrics_image(size_t *len);

/* Events: one line at each call site. */
void metrics_smtpd_connection(void);
/*
 * A reply that smtpd logs as "reject:": where is the command the client
 * gave (CONNECT, HELO, EHLO, MAIL, RCPT, DATA, BDAT, END-OF-MESSAGE,
 * AUTH), reply the reply text starting with its three-digit code.  Other
 * commands are not counted.
 */
void metrics_smtpd_reject(const char *where, const char *reply);
/* cleanup committed a message; origin "smtp" or "local". */
void metrics_received(const char *origin, long long size);
/* One recipient's final status as logged with status=. */
void metrics_delivery(const char *transport, enum deliver_action action,
		      double delay);
/* A TLS handshake completed; direction "in" (server) or "out". */
void metrics_tls(const char *direction, const char *protocol);
/* master: the number of processes a service has now. */
void metrics_processes(const char *service, long long count);

/*
 * Append the Prometheus text (format 0.0.4) of every valid series in
 * image[0..len) to out, families in a fixed order with their HELP and
 * TYPE lines, series sorted by label text.  Returns the number of series
 * written, or -1 when the header is not a metrics table (out then holds
 * nothing new).  *skipped (may be NULL) gets the number of slots that
 * were published but failed validation.
 */
int metrics_render(const void *image, size_t len, VSTR *out, size_t *skipped);

/*
 * The bytes an image of nslots slots takes, and the header of an empty
 * one written into buf (which must hold that many zeroed bytes): for
 * metrics_create, the tests and the fuzz target.
 */
size_t metrics_image_size(unsigned nslots);
void   metrics_image_init(void *buf, unsigned nslots);

/*
 * Write label text for name=value pairs (nlabels pairs in kv) to out,
 * escaped as the text format wants.  0, or -1 when it would not fit in
 * METRICS_LABELS_MAX.  Exposed for the tests.
 */
int metrics_labels(VSTR *out, const char *const *kv, size_t nlabels);

/*
 * Add delta to value index `idx` of the series (family, labels), making
 * it when needed; for tests and the typed helpers.  A gauge is set
 * rather than added to (metrics_gauge_set).
 */
void metrics_add(enum metrics_family family, const char *labels, size_t idx,
		 unsigned long long delta);
void metrics_gauge_set(enum metrics_family family, const char *labels,
		       long long value);
/* Count value into a histogram family's bucket and sum. */
void
metrics_observe(enum metrics_family family, const char *labels, double value);

#endif
