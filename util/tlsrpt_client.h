/*
 * tlsrpt_client - the smtp client's side of the tlsrpt service: one TLS
 * session attempt per note, fire and forget.
 *
 * A note is one util/attr frame {request=note, domain, policy_type,
 * [policy_text], [result], [detail], mx_host, [sending_ip],
 * [receiving_ip]} written on a fresh connection to private/tlsrpt, which
 * is then closed without waiting for an answer: the daemon reads it when
 * it accepts the connection.  Connect and write share one short timeout,
 * so a busy or missing service costs a delivery at most that long.
 *
 * The same module decodes notes for the daemon (no hand-parsed IPC).
 * Other requests, sent by `postel tls-report` over the same socket, are
 * {request=show} and {request=send}, each answered by {status, text}.
 *
 * Errors: tlsrpt_client_note returns 0, or -1 with errno and a reason in
 * why; tlsrpt_note_decode -1 with a reason when an attribute is missing,
 * too long or not an RFC 8460 name.
 *
 * Ownership: a decoded note borrows its strings from the ATTR.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_TLSRPT_CLIENT_H
#define UTIL_TLSRPT_CLIENT_H

#include "util/attr.h"
#include "util/vstr.h"

#define TLSRPT_NOTE_MAX	       (64 * 1024) /* bytes of one note frame */
#define TLSRPT_POLICY_TEXT_MAX (60 * 1024)

struct tlsrpt_note {
	const char *domain;	  /* the policy domain */
	const char *policy_type;  /* "tlsa", "sts", "no-policy-found" */
	const char *policy_text;  /* lines, "\n"-separated, or NULL */
	const char *result;	  /* NULL: success; else an RFC 8460 type */
	const char *detail;	  /* free text, or NULL */
	const char *mx_host;	  /* the receiving MX host name */
	const char *sending_ip;	  /* our address, or NULL */
	const char *receiving_ip; /* the server's address, or NULL */
};

void tlsrpt_note_encode(const struct tlsrpt_note *n, ATTR *a);
int  tlsrpt_note_decode(const ATTR *a, struct tlsrpt_note *n, VSTR *why);

/* Connect to path, write the note, close; within timeout_ms in all. */
int tlsrpt_client_note(const char *path, const struct tlsrpt_note *n,
		       int timeout_ms, VSTR *why);

#endif
