/*
 * sasl - SASL authentication for smtpd (server) and smtp (client).
 *
 * smtpd talks to its backend through sasl_srv.c only (sasl_srv_*):
 * smtpd_sasl_type picks Cyrus (sasl_cyrus.c, the default) or Dovecot's
 * auth server (sasl_dovecot.c, util/sasl_dovecot.h).
 *
 * Cyrus and the wire format.  sasl_cyrus.c is the only file that includes Cyrus
 * libsasl2's headers (STYLE.md 14): it initialises the library, runs one
 * server or client exchange and maps smtpd/smtp_sasl_security_options
 * words to Cyrus properties.  sasl_proto.c is pure code with no library:
 * base64 as SMTP AUTH uses it (RFC 4954) and the parsing of the AUTH
 * command and of each client response line, so it can be fuzzed.
 *
 * Library set-up: sasl_cyrus_server_init() and sasl_cyrus_client_init()
 * run once per process in pre_jail, before the chroot, because Cyrus
 * loads its plugins and reads <app>.conf then.
 *
 * Exchanges: sasl_cyrus_server_start/step and sasl_cyrus_client_start/step
 * return SASL_STEP_DONE (authenticated), SASL_STEP_CONTINUE (send `out`
 * and wait for the peer's answer) or SASL_STEP_FAIL.  A server failure's
 * `why` is Cyrus's generic text ("authentication failure"), fit for the
 * 535 reply and the log; Cyrus's detail goes to the log through its own
 * log callback.  `out` receives raw bytes (not base64).  SASL_STEP_TEMP
 * (Dovecot only) is a failure that is not the client's: smtpd answers
 * 454 4.7.0.
 *
 * Errors: 0 / -1 with a reason in `why`; pointer / NULL.  Nothing here
 * dies but the allocators.
 *
 * Ownership: SASL_SRV, SASL_CYRUS_SERVER and SASL_CLIENT are the
 * caller's, released with their *_free functions (they return NULL).  Returned
 * const char * are borrowed from the object until its next call or its
 * free.  The password given to sasl_cyrus_client_create is copied and
 * wiped on free.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_SASL_H
#define UTIL_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/vstr.h"

enum sasl_step {
	SASL_STEP_DONE,
	SASL_STEP_CONTINUE,
	SASL_STEP_FAIL,
	SASL_STEP_TEMP, /* the backend is unreachable or said "try later" */
};

/*
 * The server side as smtpd sees it (sasl_srv.c): one small interface
 * in front of the backend that smtpd_sasl_type names, so smtpd_sasl.c
 * holds no backend code and neither backend knows the other.
 */
struct sasl_srv_conf {
	const char *type;	       /* smtpd_sasl_type: cyrus | dovecot */
	const char *path;	       /* smtpd_sasl_path */
	const char *cyrus_config_path; /* cyrus_sasl_config_path */
	const char *security;	       /* smtpd_sasl_security_options */
	const char *tls_security;      /* smtpd_sasl_tls_security_options */
};

/* What a backend may learn about the session an exchange belongs to. */
struct sasl_srv_info {
	const char *service;  /* smtpd_sasl_service */
	const char *hostname; /* myhostname */
	const char *realm;    /* smtpd_sasl_local_domain, may be "" */
	const char *security; /* the options for this session's TLS state */
	const char *client_addr, *client_port;
	const char *server_addr, *server_port;
	bool	    tls;		  /* the session is encrypted */
	bool	    client_cert_verified; /* ... with a verified cert */
};

typedef struct SASL_SRV SASL_SRV;

/* Once per process, before the chroot: choose and set up the backend. */
int	       sasl_srv_init(const struct sasl_srv_conf *conf, VSTR *why);
SASL_SRV      *sasl_srv_create(const struct sasl_srv_info *info, VSTR *why);
SASL_SRV      *sasl_srv_free(SASL_SRV *s);
const char    *sasl_srv_mechs(SASL_SRV *s, VSTR *why);
enum sasl_step sasl_srv_start(SASL_SRV *s, const char *mech, const void *in,
			      size_t inlen, bool has_in, VSTR *out, VSTR *why);
enum sasl_step
sasl_srv_step(SASL_SRV *s, const void *in, size_t inlen, VSTR *out, VSTR *why);
const char *sasl_srv_username(SASL_SRV *s);

/* Security option words -> Cyrus SASL_SEC_* bits; -1 (why) on a bad word. */
int sasl_cyrus_security_parse(const char *words, unsigned *flags, VSTR *why);

/* Cyrus server (smtpd, through sasl_srv.c). */
typedef struct SASL_CYRUS_SERVER SASL_CYRUS_SERVER;

/* app: smtpd_sasl_path; config_path: cyrus_sasl_config_path ("" none). */
int sasl_cyrus_server_init(const char *app, const char *config_path, VSTR *why);
/* service "smtp", realm may be "", sec: smtpd_sasl_*security_options. */
SASL_CYRUS_SERVER *
sasl_cyrus_server_create(const char *service, const char *hostname,
			 const char *realm, const char *sec, VSTR *why);
SASL_CYRUS_SERVER *sasl_cyrus_server_free(SASL_CYRUS_SERVER *s);
/* Space-separated mechanism names; NULL (why) when there are none. */
const char *sasl_cyrus_server_mechs(SASL_CYRUS_SERVER *s, VSTR *why);
enum sasl_step
sasl_cyrus_server_start(SASL_CYRUS_SERVER *s, const char *mech, const void *in,
			size_t inlen, bool has_in, VSTR *out, VSTR *why);
enum sasl_step sasl_cyrus_server_step(SASL_CYRUS_SERVER *s, const void *in,
				      size_t inlen, VSTR *out, VSTR *why);
/* After DONE: the authenticated user name. */
const char *sasl_cyrus_server_username(SASL_CYRUS_SERVER *s);

/* Client (smtp). */
typedef struct SASL_CLIENT SASL_CLIENT;

int	     sasl_cyrus_client_init(VSTR *why);
SASL_CLIENT *sasl_cyrus_client_create(const char *service, const char *hostname,
				      const char *user, const char *pass,
				      const char *sec, VSTR *why);
SASL_CLIENT *sasl_cyrus_client_free(SASL_CLIENT *c);
/* mechs: the server's AUTH list.  *mech: the one chosen (borrowed). */
enum sasl_step
sasl_cyrus_client_start(SASL_CLIENT *c, const char *mechs, const char **mech,
			VSTR *out, bool *has_out, VSTR *why);
enum sasl_step sasl_cyrus_client_step(SASL_CLIENT *c, const void *in,
				      size_t inlen, VSTR *out, VSTR *why);

/* sasl_proto.c: RFC 4954 encoding, no library. */

/* Append the base64 of in to out. */
void sasl_proto_base64_encode(VSTR *out, const void *in, size_t len);
/* Strict decode (padding required, no white space) into out (reset). */
int sasl_proto_base64_decode(VSTR *out, const char *in, size_t len);

/*
 * "MECH [initial-response]" from the AUTH command: mech (reset, upper
 * case), *has_resp, resp (decoded; "=" is an empty response).  -1 with
 * the 501 reply text in why.
 */
int sasl_proto_parse_auth(const char *args, VSTR *mech, VSTR *resp,
			  bool *has_resp, VSTR *why);

enum sasl_proto_resp {
	SASL_RESP_OK,	  /* out holds the decoded bytes */
	SASL_RESP_CANCEL, /* "*": the client gave up */
	SASL_RESP_BAD,	  /* not base64 */
};

/*
 * The words of smtpd_sasl_security_options and its kin, with the bit each
 * backend gives a word (bit 0: accepted, sets nothing).  Sets *bits; -1
 * with why naming the unknown word (and `context`, e.g. " for
 * smtpd_sasl_type dovecot", appended; may be "").
 */
struct sasl_sec_word {
	const char *name;
	unsigned    bit;
};

int sasl_proto_security_parse(const char		 *words,
			      const struct sasl_sec_word *table, size_t n,
			      const char *context, unsigned *bits, VSTR *why);

/* One client response line (no CRLF). */
enum sasl_proto_resp
sasl_proto_decode_response(const char *line, size_t len, VSTR *out);

#endif
