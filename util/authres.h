/*
 * authres - Authentication-Results header fields (RFC 8601): writing one,
 * reading the authserv-id of one, and the From: domain that DMARC checks.
 *
 * authres_write() builds a complete field, "Authentication-Results: " and
 * all, with internal folds as "\r\n\t" and no final CRLF (what cleanup's
 * cleanup_prepend_header() takes).  Every string it is given may come from
 * a peer (a d= tag, a MAIL FROM domain), so it never copies one verbatim
 * unless it is a valid RFC 2045 token or an addr-spec/domain-name; other
 * values become quoted-strings, control characters become '?', and each
 * value is cut at AUTHRES_VALUE_MAX bytes.  A method or result that is not
 * a keyword (letters, digits, '-', '_') drops the whole result; comment
 * text keeps only printable characters other than parentheses and
 * backslash.  With no results the field says "none" (RFC 8601 section
 * 2.2).
 *
 * authres_servid() parses the authserv-id at the start of a field value:
 * comments and folding white space (CFWS, nested comments up to
 * AUTHRES_COMMENT_DEPTH), then a token or a quoted-string; an optional
 * version number and the ';' may follow.  Returns 0 with the id (quotes
 * and quoted-pairs removed) in out, or -1 when no id can be read.
 *
 * authres_from_domain() reads the domain of the addresses in a From:
 * field value (util/addr): 1 with the domain in lower case, without a
 * final dot, in out; 0 when there is no usable domain (no address, an
 * address literal); -1 when the addresses name different domains (RFC
 * 7489 section 6.6.1 leaves those to local policy: DMARC permerror).
 *
 * Ownership: out is the caller's; nothing is retained.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_AUTHRES_H
#define UTIL_AUTHRES_H

#include <stddef.h>

#include "util/vstr.h"

#define AUTHRES_PROPS_MAX     4	  /* properties per result */
#define AUTHRES_VALUE_MAX     256 /* bytes of one property value */
#define AUTHRES_COMMENT_DEPTH 16  /* nested comments in a field value */

struct authres_prop {
	const char *name;  /* "header.d", "smtp.mailfrom", ... */
	const char *value; /* NULL: the property is left out */
};

struct authres_item {
	const char	   *method;  /* "spf", "dkim", "dmarc" */
	const char	   *result;  /* "pass", "fail", ... */
	const char	   *comment; /* NULL, or text for "(...)" */
	struct authres_prop props[AUTHRES_PROPS_MAX];
	size_t		    nprops;
};

void authres_write(VSTR *out, const char *servid,
		   const struct authres_item *items, size_t n);
int  authres_servid(const char *value, size_t len, VSTR *out);
int  authres_from_domain(const char *value, size_t len, VSTR *out);

#endif
