/*
 * tls - TLS for the SMTP server and client: the one glue file for
 * OpenSSL (util/tls.c; nothing else includes OpenSSL headers).
 *
 * A TLS_CTX is made once per process in pre_jail (certificates and CA
 * files are read before the chroot); a TLS_SESS runs over a connected
 * socket after the plain-text part of the conversation (STARTTLS) or
 * from the start (wrapper mode, port 465).  Every handshake, read and
 * write is bounded by a timeout in milliseconds; the socket is switched
 * to non-blocking mode for the life of the session.  OpenSSL writes to
 * the socket with write(2): the caller ignores SIGPIPE (the daemon
 * skeletons do) so a vanished peer is EPIPE.
 *
 * Protocol specs follow Postfix: ">=TLSv1.2", "<=TLSv1.3", or a list of
 * exclusions "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1".  Cipher grades: high,
 * medium (the default; no export, low, RC4, 3DES, NULL or anonymous
 * suites in either), null is refused.
 *
 * Logging (smtpd_tls_loglevel, smtp_tls_loglevel, in the options): 0
 * logs nothing about successful handshakes (failures are the caller's to
 * report); 1 one summary line per handshake, "Trusted TLS connection
 * established to host[addr]:port: TLSv1.3 with cipher ..." (Anonymous,
 * Untrusted, Trusted or Verified); 2 and more also "setting up TLS
 * connection to/from ..." before the handshake and the peer certificate's
 * names and verification result after it.  Postfix's packet dumps of
 * levels 3 and 4 are not made: those levels log as 2.
 *
 * SNI (server): with a lookup function in the options, the name a client
 * sends is looked up as is and then as each parent domain with a leading
 * dot (a.b.example -> .b.example -> .example), as Postfix's
 * tls_server_sni_maps; a match replaces the default certificates of that
 * session by the keys and chains of the value (parsed chains are cached
 * per name, a few at a time).  No match, no SNI or a name that is not a
 * host name: the default certificate.  A failed lookup or a malformed
 * value is logged and ends the handshake with a fatal alert (Postfix
 * does the same).
 *
 * Client verification follows the smtp_tls_security_level names: the
 * chain is checked against the CA file/path (or DANE TLSA records) and
 * the certificate names against tls_client_opts.match; the result is in
 * TLS_SESS (tls_trust) so the caller decides what is fatal.
 *
 * Errors: constructors return NULL and say why in `why` (with the
 * OpenSSL error text); I/O returns -1 with errno (ETIMEDOUT, ECONNRESET
 * for end of file, EPROTO for a TLS protocol error).  Nothing dies but
 * the allocators.
 *
 * Ownership: TLS_CTX and TLS_SESS are the caller's (tls_ctx_free,
 * tls_sess_free return NULL); tls_sess_free does not close the socket.
 * Strings returned by the accessors are borrowed from the session.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_TLS_H
#define UTIL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/vstr.h"

typedef struct TLS_CTX	TLS_CTX;
typedef struct TLS_SESS TLS_SESS;

/* Client security levels (smtp_tls_security_level). */
enum tls_level {
	TLS_LEV_NONE,
	TLS_LEV_MAY,
	TLS_LEV_ENCRYPT,
	TLS_LEV_DANE,
	TLS_LEV_VERIFY,
	TLS_LEV_SECURE,
};

/* Level by name; -1 when unknown.  "" is none. */
int	    tls_level_parse(const char *name);
const char *tls_level_name(int level);

/*
 * Protocol spec -> lowest and highest version (TLS1_VERSION style
 * numbers, 0 = no bound).  0, or -1 with why.
 */
int tls_protocols_parse(const char *spec, int *min, int *max, VSTR *why);

/*
 * SNI (tls_server_sni_maps): one table lookup of key, a name or ".parent"
 * domain.  1 with the PEM keys and certificate chains (private key
 * first) in pem, 0 when the table has no entry, -1 when the lookup or the
 * value's decoding failed (why).
 */
typedef int (*tls_sni_lookup_fn)(void *ctx, const char *key, VSTR *pem,
				 VSTR *why);

struct tls_server_opts {
	const char	 *cert_file, *key_file; /* one key and chain */
	const char	 *chain_files; /* list: key + chain per file (wins) */
	const char	 *protocols;   /* smtpd_tls_protocols */
	const char	 *ciphers;     /* grade */
	const char	 *exclude;     /* smtpd_tls_exclude_ciphers */
	const char	 *CAfile, *CApath; /* for client certificates */
	bool		  ask_ccert;
	long		  cache_timeout; /* session lifetime, seconds */
	int		  loglevel;	 /* smtpd_tls_loglevel */
	tls_sni_lookup_fn sni_lookup;	 /* NULL: no SNI processing */
	void		 *sni_ctx;
};

struct tls_client_opts {
	const char *CAfile, *CApath;
	const char *cert_file, *key_file; /* optional client cert */
	const char *protocols;
	const char *ciphers;
	long	    cache_timeout;
	int	    loglevel; /* smtp_tls_loglevel */
};

TLS_CTX *tls_server_ctx(const struct tls_server_opts *o, VSTR *why);
TLS_CTX *tls_client_ctx(const struct tls_client_opts *o, VSTR *why);
TLS_CTX *tls_ctx_free(TLS_CTX *ctx);

/* One TLSA record (DANE, RFC 6698/7672). */
struct tls_tlsa {
	int		     usage, selector, mtype;
	const unsigned char *data;
	size_t		     len;
};

/* What the client checks for one server. */
struct tls_client_start {
	int		       level; /* enum tls_level */
	const char	      *sni;   /* server name to send, or NULL */
	const char *const     *match; /* names the certificate must carry */
	size_t		       nmatch;
	const struct tls_tlsa *tlsa; /* DANE: usable records */
	size_t		       ntlsa;
	const char	      *cache_key; /* session reuse key, or NULL */
	const char	      *peer;	  /* "host[addr]:port" for logs */
};

/* Trust reached by a client session. */
enum tls_trust {
	TLS_TRUST_NONE,	    /* "Untrusted" */
	TLS_TRUST_CHAIN,    /* "Trusted": chain ok, name not */
	TLS_TRUST_VERIFIED, /* "Verified": chain (or DANE) + name */
};

/* Handshakes: a session or NULL (why).  peer names the other end. */
TLS_SESS *tls_server_start(TLS_CTX *ctx, int fd, int timeout_ms,
			   const char *peer, VSTR *why);
TLS_SESS *
tls_client_start(TLS_CTX *ctx, int fd, const struct tls_client_start *cs,
		 int timeout_ms, VSTR *why);

/* > 0 bytes, 0 end of file (close_notify or EOF), -1 errno. */
ssize_t tls_read(TLS_SESS *s, void *buf, size_t len, int timeout_ms);
/* 0, or -1 errno. */
int tls_write(TLS_SESS *s, const void *buf, size_t len, int timeout_ms);
/* Send close_notify (briefly), remember the session, free. */
TLS_SESS *tls_sess_free(TLS_SESS *s);

const char    *tls_protocol(const TLS_SESS *s); /* "TLSv1.3" */
const char    *tls_cipher(const TLS_SESS *s);
int	       tls_bits(const TLS_SESS *s, int *alg_bits);
bool	       tls_reused(const TLS_SESS *s);
enum tls_trust tls_trust(const TLS_SESS *s);
/* Why the trust is short of VERIFIED ("" when it is not). */
const char *tls_trust_why(const TLS_SESS *s);
/* Peer certificate subject CN / issuer CN, "" when none. */
const char *tls_peer_cn(const TLS_SESS *s);
const char *tls_issuer_cn(const TLS_SESS *s);
bool	    tls_dane_used(const TLS_SESS *s);
/* Server: the SNI name whose certificate was chosen, "" when none. */
const char *tls_sni_name(const TLS_SESS *s);

/*
 * Check the text of an SNI table value: one or more PEM private keys,
 * each followed by its certificate chain (leaf first).  0, or -1 (why).
 */
int tls_chain_check(const char *pem, size_t len, VSTR *why);

/*
 * Fingerprints as Postfix prints them: the digest (by OpenSSL name:
 * "md5", "sha1", "sha256", ...) of DER bytes in colon-separated
 * upper-case hex ("AB:CD:...") into out.  0, or -1 (out empty) when the
 * digest is unknown.  tls_digest_ok says whether a name is usable.
 */
bool tls_digest_ok(const char *digest);
int tls_fingerprint(const void *der, size_t len, const char *digest, VSTR *out);
/*
 * The peer certificate's fingerprint (pubkey false: of the DER
 * certificate) or its public key's (pubkey true: of the DER
 * SubjectPublicKeyInfo).  0, or -1 (out empty) without a peer
 * certificate or with an unknown digest.
 */
int tls_peer_fingerprint(const TLS_SESS *s, const char *digest, bool pubkey,
			 VSTR *out);

/*
 * "TLSv1.3 with cipher X (256/256 bits)" into out, the text Postfix puts
 * in log lines and in Received: headers.
 */
void tls_describe(const TLS_SESS *s, VSTR *out);

#endif
