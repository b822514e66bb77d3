/*
 * sasl_dovecot - smtpd's client of Dovecot's authentication server.
 *
 * Dovecot's auth client protocol 1.2 (doc: "Dovecot auth protocol"): the
 * client sends VERSION and CPID, the server answers VERSION, one MECH line
 * per mechanism with its security flags, SPID, CUID, COOKIE and DONE;
 * then each login is "AUTH id mech service=... [resp=base64]" answered by
 * CONT (a base64 challenge, answered with "CONT id base64"), OK or FAIL.
 *
 * Two halves.  sasl_dovecot_proto.c is pure: it parses one reply line
 * (what the fuzzer drives), escapes the values the client sends and
 * filters mechanisms by the smtpd_sasl_*security_options words.
 * sasl_dovecot.c owns the socket: one connection per smtpd process,
 * made on first use, kept across sessions and made again when Dovecot
 * closed it.  The socket is "inet:host:port" or a unix path; a relative
 * path is relative to queue_directory, where the skeleton leaves the
 * working folder, so "private/auth" works inside and outside a chroot.
 *
 * Errors: 0 / -1 with why; the exchanges return enum sasl_step, with
 * SASL_STEP_TEMP when Dovecot cannot be reached or says "temp".
 *
 * Ownership: SASL_DOVECOT_SERVER is the caller's (sasl_dovecot_server_free
 * returns NULL).  Returned const char * are borrowed from the object (or,
 * for the mechanism list, from the process-wide connection) until the
 * next call on it.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_SASL_DOVECOT_H
#define UTIL_SASL_DOVECOT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sasl.h"
#include "util/vstr.h"

/* A longer line is not something Dovecot sends: the connection is bad. */
#define SASL_DOVECOT_LINE_MAX 65536

/* MECH flags, as Dovecot lists them after the mechanism name. */
#define SASL_DOVECOT_MECH_ANONYMOUS	  (1U << 0)
#define SASL_DOVECOT_MECH_PLAINTEXT	  (1U << 1)
#define SASL_DOVECOT_MECH_DICTIONARY	  (1U << 2)
#define SASL_DOVECOT_MECH_ACTIVE	  (1U << 3)
#define SASL_DOVECOT_MECH_FORWARD_SECRECY (1U << 4)
#define SASL_DOVECOT_MECH_MUTUAL_AUTH	  (1U << 5)
#define SASL_DOVECOT_MECH_PRIVATE	  (1U << 6)

/* smtpd_sasl_*security_options words, as Postfix's Dovecot client. */
#define SASL_DOVECOT_SEC_NOPLAINTEXT	 (1U << 0)
#define SASL_DOVECOT_SEC_NOACTIVE	 (1U << 1)
#define SASL_DOVECOT_SEC_NODICTIONARY	 (1U << 2)
#define SASL_DOVECOT_SEC_NOANONYMOUS	 (1U << 3)
#define SASL_DOVECOT_SEC_FORWARD_SECRECY (1U << 4)
#define SASL_DOVECOT_SEC_MUTUAL_AUTH	 (1U << 5)

enum sasl_dovecot_kind {
	SASL_DOVECOT_OTHER, /* a command this client does not use: ignored */
	SASL_DOVECOT_VERSION,
	SASL_DOVECOT_MECH,
	SASL_DOVECOT_SPID,
	SASL_DOVECOT_CUID,
	SASL_DOVECOT_COOKIE,
	SASL_DOVECOT_DONE,
	SASL_DOVECOT_OK,
	SASL_DOVECOT_CONT,
	SASL_DOVECOT_FAIL,
};

/* One parsed reply line; the VSTRs are the caller's (proto_reply_*). */
struct sasl_dovecot_reply {
	enum sasl_dovecot_kind kind;
	unsigned long	       major, minor; /* VERSION */
	unsigned	       mech_flags;   /* MECH */
	unsigned long	       id;	     /* OK CONT FAIL: the request id */
	bool		       temp;	     /* FAIL: "temp" */
	bool		       has_data;     /* CONT, or OK with resp= */
	VSTR		      *text;	     /* MECH name, SPID/CUID/COOKIE */
	VSTR		      *data;	     /* CONT/OK resp=: decoded bytes */
	VSTR		      *user;	     /* OK/FAIL user= */
	VSTR		      *reason;	     /* FAIL reason= */
};

void sasl_dovecot_reply_init(struct sasl_dovecot_reply *r);
void sasl_dovecot_reply_done(struct sasl_dovecot_reply *r);

/*
 * Parse one line (no LF).  0, or -1 with why (a line that breaks the
 * protocol: the connection is then unusable).  Fields are tab-separated
 * and tab-escaped (\001 1, \001 t, \001 r, \001 n).
 */
int sasl_dovecot_proto_parse(const char *line, size_t len,
			     struct sasl_dovecot_reply *r, VSTR *why);

/* Append s tab-escaped (a value the client sends). */
void sasl_dovecot_proto_escape(VSTR *out, const char *s);

/* Security option words -> SASL_DOVECOT_SEC_*; -1 (why) on a bad word. */
int sasl_dovecot_security_parse(const char *words, unsigned *sec, VSTR *why);

/* May a mechanism with these MECH flags be offered under sec? */
bool sasl_dovecot_mech_allowed(unsigned mech_flags, unsigned sec);

/* The connection and the exchanges (sasl_dovecot.c). */
typedef struct SASL_DOVECOT_SERVER SASL_DOVECOT_SERVER;

/* path: smtpd_sasl_path.  Checks its form only; connects on first use. */
int sasl_dovecot_server_init(const char *path, VSTR *why);
SASL_DOVECOT_SERVER *
sasl_dovecot_server_create(const struct sasl_srv_info *info, VSTR *why);
SASL_DOVECOT_SERVER *sasl_dovecot_server_free(SASL_DOVECOT_SERVER *s);
/* Space-separated names Dovecot lists, filtered; NULL (why) when none. */
const char *sasl_dovecot_server_mechs(SASL_DOVECOT_SERVER *s, VSTR *why);
enum sasl_step
sasl_dovecot_server_start(SASL_DOVECOT_SERVER *s, const char *mech,
			  const void *in, size_t inlen, bool has_in, VSTR *out,
			  VSTR *why);
enum sasl_step sasl_dovecot_server_step(SASL_DOVECOT_SERVER *s, const void *in,
					size_t inlen, VSTR *out, VSTR *why);
const char    *sasl_dovecot_server_username(SASL_DOVECOT_SERVER *s);

#endif
