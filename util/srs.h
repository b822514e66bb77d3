/*
 * srs - the Sender Rewriting Scheme as libsrs2 and postsrsd implement it,
 * so that an address signed here verifies at a postsrsd sharing the
 * secret, and the other way round.
 *
 * Forward (a forwarder sending somebody else's mail):
 *
 *	user@host            -> SRS0=HHHH=TT=host=user@srs_domain
 *	SRS0=HHHH=TT=h=u@fwd -> SRS1=GGGG=fwd==HHHH=TT=h=u@srs_domain
 *	SRS1=GGGG=fwd==...@x -> SRS1=FFFF=fwd==...@srs_domain
 *
 * HHHH is the first hash_length characters of the base64 HMAC-SHA1, with
 * the first secret, of the lower-cased timestamp, host and user (SRS0)
 * or of the host and the rest (SRS1); TT is the day number modulo 1024
 * in two base32 characters.  An address of srs_domain itself is left
 * alone.  Reverse undoes one step: SRS0 gives user@host after checking
 * the hash against every secret (case-insensitively, as the scheme
 * allows mail systems that fold case) and that the timestamp is at most
 * max_age old; SRS1 gives the SRS0 address at the first forwarder,
 * checking only its hash (the first forwarder checks the rest).  The
 * separator right after "SRS0"/"SRS1" may be "=", "+" or "-"; we write
 * "=".
 *
 * srs_open reads srs_domain, srs_secret_file, srs_exclude_domains,
 * srs_hash_length and srs_max_age; with srs_domain empty SRS is off (NULL).
 * Run it before a chroot: the secret file is usually root-only.
 *
 * Errors: srs_open is fatal for a secret file that cannot be read or
 * holds no secret (naming the file and parameter).  srs_forward returns
 * 1 (rewritten), 0 (left alone: our own domain or a malformed address)
 * or -1 (malformed SRS1 that cannot be re-signed, why says so);
 * srs_reverse returns 1 (decoded), 0 (not an SRS address) or -1 with the
 * reason (bad syntax, bad hash, expired) in why.
 *
 * Ownership: SRS is the caller's, freed with srs_free (which wipes the
 * secrets and returns NULL); results are written into caller VSTRs.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_SRS_H
#define UTIL_SRS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/cfg.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

typedef struct SRS SRS;

#define SRS_HASH_MAX 27 /* base64 characters in a SHA-1 */

/* hash_length 1..SRS_HASH_MAX; max_age in seconds (whole days count). */
SRS *srs_create(const char *domain, int hash_length, long long max_age);
SRS *srs_free(SRS *srs);
/* Add one secret (the first added signs; all verify). */
void srs_add_secret(SRS *srs, const char *secret, size_t len);
/*
 * Read secrets from path, one per line (CR/LF stripped, empty lines
 * skipped).  0, or -1 with why (cannot open, read error, no secret).
 */
int srs_load_secrets(SRS *srs, const char *path, VSTR *why);
/* Domains never rewritten: "example.com" or ".example.com" (subdomains). */
void srs_set_exclude(SRS *srs, const char *list);

/* From main.cf; NULL when srs_domain is empty.  Fatal on bad secrets. */
SRS *srs_open(const CFG *cfg);

const char *srs_domain(const SRS *srs);
/* Is domain listed in srs_exclude_domains? */
bool srs_excluded(const SRS *srs, const char *domain);
/*
 * Is domain in a Postfix list of plain names ("example.com") and
 * ".example.com" patterns (its subdomains)?  Table entries are skipped.
 */
bool srs_domain_listed(const char *list, const char *domain);
/* Does the local part of addr start with SRS0 or SRS1 and a separator? */
bool srs_is_srs(const char *addr);

int srs_forward(const SRS *srs, const char *sender, time_t now, VSTR *out,
		VSTR *why);
int
srs_reverse(const SRS *srs, const char *addr, time_t now, VSTR *out, VSTR *why);

#endif
