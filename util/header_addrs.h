/*
 * header_addrs - rewrite the addresses in one message header field.
 *
 * header_addrs_field() says whether a field name carries addresses that
 * address mapping applies to (From, Sender, Reply-To, To, Cc, Bcc, the
 * Resent- forms, Errors-To, Return-Receipt-To, Disposition-Notification-
 * To), case-insensitively.
 *
 * header_addrs_rewrite() asks fn about each addr-spec of the field (as
 * util/addr's addr_parse_header finds them) and writes each answer in
 * place of the address.  util/addr gives no positions, so each address
 * is looked for again after the previous one: first as "<addr>" (a
 * display name may spell the same word), then as a word delimited by
 * white space or address-list punctuation.  An address written in a way
 * that cannot be found again (a comment inside it) is left as it is.
 *
 * fn returns 1 with the replacement in out, 0 to keep the address, or
 * -1 on error, which stops the rewrite and is returned (the field may
 * then be partly rewritten).
 *
 * Ownership: field is the caller's and is changed in place.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_HEADER_ADDRS_H
#define UTIL_HEADER_ADDRS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/vstr.h"

typedef int (*HEADER_ADDR_FN)(void *ctx, const char *addr, VSTR *out);

bool header_addrs_field(const char *name, size_t len);
/* field: "Name: value" with folding, no final CRLF; name_len > 0. */
int header_addrs_rewrite(VSTR *field, size_t name_len, HEADER_ADDR_FN fn,
			 void *ctx);

#endif
