/*
 * receive_override - Postfix's receive_override_options, parsed once.
 *
 * The parameter lists processing that a receiving service (smtpd,
 * pickup) turns off for the mail it takes in, usually with -o on the
 * re-injection listener of an after-queue content filter, where that
 * processing already happened before the filter.  smtpd acts on
 * RECEIVE_NO_UNKNOWN_RCPT_CHECKS itself and hands the other bits to
 * cleanup in the envelope frame (attribute "receive_override", decimal).
 *
 * Errors: an unknown word is logged (msg_warn) and ignored, as Postfix
 * does.  Ownership: nothing is kept.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_RECEIVE_OVERRIDE_H
#define UTIL_RECEIVE_OVERRIDE_H

#include "util/cfg.h"

#define RECEIVE_NO_UNKNOWN_RCPT_CHECKS (1 << 0) /* smtpd */
#define RECEIVE_NO_HEADER_BODY_CHECKS  (1 << 1) /* cleanup */
#define RECEIVE_NO_MILTERS	       (1 << 2) /* cleanup (and smtpd) */
#define RECEIVE_NO_ADDRESS_MAPPINGS    (1 << 3) /* cleanup */

/* The bits that cleanup acts on (sent in the envelope frame). */
#define RECEIVE_CLEANUP_BITS \
	(RECEIVE_NO_HEADER_BODY_CHECKS | RECEIVE_NO_MILTERS \
	 | RECEIVE_NO_ADDRESS_MAPPINGS)

/* The bits of a list of option words; unknown words are warned about. */
int receive_override_parse(const char *list);

/* receive_override_parse(receive_override_options of cfg). */
int receive_override_bits(const CFG *cfg);

#endif
