/*
 * cleanup_authres.h - what the verification files of cleanup share:
 * cleanup_authres.c (the message as received, Authentication-Results,
 * the policy decision), cleanup_dkim_verify.c (libopendkim) and
 * cleanup_dmarc.c (libopendmarc).  Nothing outside these three files
 * includes it.
 *
 * Ownership: a struct cleanup_dkim_verify is its creator's; the strings
 * of a struct cleanup_dkim_result are borrowed from it and live until
 * cleanup_dkim_verify_free().
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef CLEANUP_CLEANUP_AUTHRES_H
#define CLEANUP_CLEANUP_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "cleanup/cleanup.h"
#include "util/dns.h"
#include "util/header.h"

/* One verified DKIM signature. */
struct cleanup_dkim_result {
	const char *result;   /* RFC 8601: pass, fail, temperror, ... */
	const char *domain;   /* d=, or NULL */
	const char *selector; /* s=, or NULL */
	char	    b[9];     /* the first 8 characters of b= */
};

/* What DMARC said and what is done about it. */
enum cleanup_dmarc_action {
	CLEANUP_DMARC_ACCEPT,
	CLEANUP_DMARC_QUARANTINE,
	CLEANUP_DMARC_REJECT,
};

struct cleanup_dmarc_out {
	const char *result;	 /* RFC 8601 / RFC 7489 word */
	char	    comment[64]; /* "p=reject dis=reject", or "" */
	enum cleanup_dmarc_action action;
};

/* cleanup_dkim_verify.c */
typedef struct cleanup_dkim_verify CLEANUP_DKIM_VERIFY;
void		     cleanup_dkim_verify_conf(CLEANUP_CONF *c, const CFG *cfg);
CLEANUP_DKIM_VERIFY *cleanup_dkim_verify_begin(CLEANUP_STATE *st, DNS *dns);
void		     cleanup_dkim_verify_header(CLEANUP_DKIM_VERIFY	  *v,
						const struct header_field *f);
void		     cleanup_dkim_verify_eoh(CLEANUP_DKIM_VERIFY *v);
void
cleanup_dkim_verify_body(CLEANUP_DKIM_VERIFY *v, const char *data, size_t len);
size_t		     cleanup_dkim_verify_end(CLEANUP_DKIM_VERIFY	       *v,
					     const struct cleanup_dkim_result **res);
CLEANUP_DKIM_VERIFY *cleanup_dkim_verify_free(CLEANUP_DKIM_VERIFY *v);

/* cleanup_dmarc.c */
void cleanup_dmarc_conf(CLEANUP_CONF *c, const CFG *cfg);
void cleanup_dmarc_eval(CLEANUP_STATE *st, DNS *dns, int from_status,
			const char			 *from_domain,
			const struct cleanup_dkim_result *dkim, size_t ndkim,
			struct cleanup_dmarc_out *out);

#endif
