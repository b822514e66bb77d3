/*
 * admin_tls_policy - `postel tls-policy DOMAIN[:PORT]`: the TLS policy
 * the SMTP client would apply to mail for DOMAIN, and why.
 *
 * Printed on standard output, one "name: value" line per fact:
 *   the MX hosts (DNSSEC-validated or not) and their preference;
 *   DANE: the TLS level for the domain (smtp_tls_security_level,
 *   smtp_tls_policy_maps) and, at level dane, the TLSA records of each MX
 *   host (_PORT._tcp.HOST, PORT 25 unless given): validated or not,
 *   usable (DANE-TA/DANE-EE) or not;
 *   MTA-STS: smtp_mta_sts_enable, the _mta-sts TXT record and its id,
 *   the policy mtasts(8) has for the domain (asked over private/mtasts,
 *   which may fetch it; when mtasts does not answer, read from
 *   smtp_mta_sts_cache_map) with its mode, mx patterns, fetch time and
 *   expiry, and which MX hosts match it;
 *   the verdict: DANE, MTA-STS enforce or testing, or the plain level.
 *
 * Errors: returns a sysexits.h code: 0 when every lookup answered,
 * EX_NOHOST when the domain has neither MX nor address records,
 * EX_TEMPFAIL when a DNS lookup failed (the line says which), EX_USAGE
 * for a malformed domain.  Messages go to standard error.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef ADMIN_ADMIN_TLS_POLICY_H
#define ADMIN_ADMIN_TLS_POLICY_H

#include "util/cfg.h"

int admin_tls_policy(const CFG *cfg, const char *arg);

#endif
