/*
 * tlsrpt - SMTP TLS Reporting (RFC 8460) text that more than one program
 * reads or writes: the `_smtp._tls.DOMAIN` TXT record, the RFC 8460
 * result and policy type names, the mapping of a TLS verification
 * verdict to a result type, mailto: URIs, and JSON string quoting.
 *
 * The TXT record (RFC 8460 3):
 *
 *	v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://r.example/v1
 *
 * "v=TLSRPTv1" first, then fields separated by ";" with optional white
 * space around it, a trailing ";" allowed; rua= (required, once) holds
 * one or more URIs separated by "," (white space allowed around it);
 * other fields are extensions (a name of letters, digits, "_", "-" and
 * "." up to 32 characters, "=", a value of visible characters other than
 * "=" and ";") and are ignored.  Only mailto: and https: URIs are kept
 * (others are allowed by the grammar and skipped); a record that keeps
 * none is refused, as it names nobody to send to.
 *
 * Errors: the parsers return 0, or -1 with a reason in why (why may be
 * NULL).  Nothing here logs or does I/O.
 *
 * Ownership: a TLSRPT_RUA holds its own copies; tlsrpt_rua_reset frees
 * them.  tlsrpt_result_from_verdict returns a static string.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_TLSRPT_H
#define UTIL_TLSRPT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/vstr.h"

#define TLSRPT_RUA_MAX	  8    /* URIs kept from one record */
#define TLSRPT_TXT_MAX	  4096 /* longest record we look at */
#define TLSRPT_URI_MAX	  1024 /* longest URI */
#define TLSRPT_DETAIL_MAX 255  /* bytes of free text kept per failure */

typedef struct TLSRPT_RUA {
	size_t count;
	char  *uri[TLSRPT_RUA_MAX]; /* "mailto:..." or "https://..." */
} TLSRPT_RUA;

/* Does txt claim to be a TLSRPT record ("v=TLSRPTv1" then ";", WSP or end)? */
bool tlsrpt_txt_is_tlsrpt(const char *txt);

/*
 * Parse one record into rua (which is reset first).  0, or -1 (why) when
 * the record is malformed or names no mailto:/https: URI.
 */
int  tlsrpt_txt_parse(const char *txt, TLSRPT_RUA *rua, VSTR *why);
void tlsrpt_rua_reset(TLSRPT_RUA *rua);

/*
 * The address of a mailto: URI (percent-decoded, "?headers" dropped, the
 * first of a comma list is not split: RFC 8460 forbids "," inside a URI).
 * 0, or -1 (why) when it is not "mailto:local@domain" with a sane address.
 */
int tlsrpt_mailto_addr(const char *uri, VSTR *addr, VSTR *why);

/* Is name an RFC 8460 result type / policy type? */
bool tlsrpt_result_valid(const char *name);
bool tlsrpt_policy_type_valid(const char *name);

/*
 * The result type for a certificate that was not verified, from the
 * reason util/tls gives (tls_trust_why): "certificate-expired",
 * "certificate-host-mismatch", "certificate-not-trusted" or
 * "validation-failure".
 */
const char *tlsrpt_result_from_verdict(const char *why);

/* Append s to out as a JSON string (quotes, escapes, \u00XX controls). */
void tlsrpt_json_str(VSTR *out, const char *s);

/* "2026-12-07" for the UTC day of t; out must hold 11 bytes. */
void tlsrpt_day(long long t, char out[11]);

#endif
