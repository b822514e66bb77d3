/*
 * Unit tests for util/tls: level and protocol parsing, context errors,
 * and real handshakes over a socketpair (server in a thread) with a
 * throw-away certificate made by the openssl command: trust levels,
 * name checks, data both ways, session reuse and read timeouts.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/tls.h"
#include "util/vstr.h"

#define V_TLS1	 0x0301
#define V_TLS1_2 0x0303
#define V_TLS1_3 0x0304

static char tls_dir[64];
static char tls_cert[128];
static char tls_key[128];

static int
setup_cert(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(tls_dir, sizeof(tls_dir), "/tmp/test_tls.XXXXXX");
	if (mkdtemp(tls_dir) == NULL)
		return -1;
	snprintf(tls_cert, sizeof(tls_cert), "%s/cert.pem", tls_dir);
	snprintf(tls_key, sizeof(tls_key), "%s/key.pem", tls_dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt "
		 "ec_paramgen_curve:P-256 -nodes -keyout %s -out %s -days 1 "
		 "-subj /CN=mx.example.test -addext "
		 "subjectAltName=DNS:mx.example.test >/dev/null 2>&1",
		 tls_key, tls_cert);
	return system(cmd) == 0 ? 0 : -1;
}

static int
teardown_cert(void **state)
{
	(void)state;
	unlink(tls_cert);
	unlink(tls_key);
	rmdir(tls_dir);
	return 0;
}

static void
test_tls_level_parse_names(void **state)
{
	(void)state;
	assert_int_equal(tls_level_parse(""), TLS_LEV_NONE);
	assert_int_equal(tls_level_parse("may"), TLS_LEV_MAY);
	assert_int_equal(tls_level_parse("ENCRYPT"), TLS_LEV_ENCRYPT);
	assert_int_equal(tls_level_parse("dane"), TLS_LEV_DANE);
	assert_int_equal(tls_level_parse("verify"), TLS_LEV_VERIFY);
	assert_int_equal(tls_level_parse("secure"), TLS_LEV_SECURE);
	assert_int_equal(tls_level_parse("fingerprint"), -1);
	assert_string_equal(tls_level_name(TLS_LEV_DANE), "dane");
}

static void
test_tls_protocols_parse_forms(void **state)
{
	VSTR *why = vstr_alloc(64);
	int   min, max;

	(void)state;
	assert_int_equal(tls_protocols_parse(">=TLSv1.2", &min, &max, why), 0);
	assert_int_equal(min, V_TLS1_2);
	assert_int_equal(max, 0);
	assert_int_equal(tls_protocols_parse("!SSLv2, !SSLv3, !TLSv1, "
					     "!TLSv1.1",
					     &min, &max, why),
			 0);
	assert_int_equal(min, V_TLS1_2);
	assert_int_equal(max, 0);
	assert_int_equal(tls_protocols_parse("<=TLSv1.2", &min, &max, why), 0);
	assert_int_equal(min, V_TLS1);
	assert_int_equal(max, V_TLS1_2);
	assert_int_equal(tls_protocols_parse("TLSv1.3", &min, &max, why), 0);
	assert_int_equal(min, V_TLS1_3);
	/* SSLv3 is never enabled, even when asked for. */
	assert_int_equal(tls_protocols_parse("SSLv3, TLSv1", &min, &max, why),
			 0);
	assert_int_equal(min, V_TLS1);
	assert_int_equal(max, V_TLS1);
	assert_int_equal(tls_protocols_parse("", &min, &max, why), 0);
	assert_int_equal(min, V_TLS1);
	assert_int_equal(tls_protocols_parse("TLSv9", &min, &max, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "unknown TLS protocol"));
	assert_int_equal(tls_protocols_parse("!TLSv1 !TLSv1.1 !TLSv1.2 "
					     "!TLSv1.3",
					     &min, &max, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "no TLS protocol left"));
	vstr_free(why);
}

static void
test_tls_server_ctx_needs_certificate(void **state)
{
	struct tls_server_opts o = { .protocols = ">=TLSv1.2" };
	VSTR		      *why = vstr_alloc(64);

	(void)state;
	assert_null(tls_server_ctx(&o, why));
	assert_non_null(strstr(VSTR_STR(why), "no server certificate"));
	o.cert_file = "/nonexistent/cert.pem";
	assert_null(tls_server_ctx(&o, why));
	assert_non_null(strstr(VSTR_STR(why),
			       "cannot load certificate "
			       "chain from /nonexistent/cert.pem"));
	o.cert_file = tls_cert;
	o.key_file = tls_key;
	o.ciphers = "bogus";
	assert_null(tls_server_ctx(&o, why));
	assert_non_null(strstr(VSTR_STR(why), "unsupported cipher grade"));
	vstr_free(why);
}

struct server_job {
	TLS_CTX *ctx;
	int	 fd;
	bool	 ok;
	bool	 reused;
};

/* Echo one line back, then wait for the peer to close. */
static void *
server_thread(void *arg)
{
	struct server_job *job = arg;
	VSTR		  *why = vstr_alloc(64);
	TLS_SESS *s = tls_server_start(job->ctx, job->fd, 5000, "test[::1]",
				       why);
	char	  buf[100];
	ssize_t	  n;

	if (s == NULL) {
		vstr_free(why);
		close(job->fd);
		return NULL;
	}
	job->reused = tls_reused(s);
	if ((n = tls_read(s, buf, sizeof(buf), 5000)) > 0
	    && tls_write(s, buf, (size_t)n, 5000) == 0)
		job->ok = true;
	(void)tls_read(s, buf, sizeof(buf), 5000);
	tls_sess_free(s);
	close(job->fd);
	vstr_free(why);
	return NULL;
}

static TLS_CTX *
make_server(void)
{
	struct tls_server_opts o = {
		.cert_file = tls_cert,
		.key_file = tls_key,
		.protocols = ">=TLSv1.2",
		.ciphers = "medium",
	};
	VSTR	*why = vstr_alloc(64);
	TLS_CTX *ctx = tls_server_ctx(&o, why);

	if (ctx == NULL)
		fail_msg("server ctx: %s", VSTR_STR(why));
	vstr_free(why);
	return ctx;
}

static TLS_CTX *
make_client(const char *cafile, const char *protocols)
{
	struct tls_client_opts o = {
		.CAfile = cafile,
		.protocols = protocols,
		.ciphers = "medium",
	};
	VSTR	*why = vstr_alloc(64);
	TLS_CTX *ctx = tls_client_ctx(&o, why);

	if (ctx == NULL)
		fail_msg("client ctx: %s", VSTR_STR(why));
	vstr_free(why);
	return ctx;
}

/* The server certificate's fingerprints, as the last run_pair saw them. */
static char pair_fpr_cert[128], pair_fpr_pkey[128], pair_fpr_md5[64];

/* One handshake + echo; returns the client's trust, fills why. */
static enum tls_trust
run_pair(TLS_CTX *sctx, TLS_CTX *cctx, const char *const *match, size_t nmatch,
	 VSTR *trust_why, VSTR *proto, bool *reused)
{
	int			sv[2];
	pthread_t		th;
	struct server_job	job = { .ctx = sctx };
	struct tls_client_start cs = {
		.level = TLS_LEV_VERIFY,
		.sni = "mx.example.test",
		.match = match,
		.nmatch = nmatch,
		.cache_key = "k",
		.peer = "mx.example.test[::1]:25",
	};
	VSTR	      *why = vstr_alloc(64);
	TLS_SESS      *c;
	enum tls_trust trust;
	char	       buf[100];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	job.fd = sv[1];
	assert_int_equal(pthread_create(&th, NULL, server_thread, &job), 0);
	c = tls_client_start(cctx, sv[0], &cs, 5000, why);
	if (c == NULL)
		fail_msg("client handshake: %s", VSTR_STR(why));
	assert_int_equal(tls_write(c, "hello\r\n", 7, 5000), 0);
	assert_int_equal(tls_read(c, buf, sizeof(buf), 5000), 7);
	assert_memory_equal(buf, "hello\r\n", 7);
	trust = tls_trust(c);
	vstr_strcpy(trust_why, tls_trust_why(c));
	vstr_strcpy(proto, tls_protocol(c));
	*reused = tls_reused(c);
	assert_int_equal(tls_peer_fingerprint(c, "sha256", false, why), 0);
	snprintf(pair_fpr_cert, sizeof(pair_fpr_cert), "%s", VSTR_STR(why));
	assert_int_equal(tls_peer_fingerprint(c, "sha256", true, why), 0);
	snprintf(pair_fpr_pkey, sizeof(pair_fpr_pkey), "%s", VSTR_STR(why));
	assert_int_equal(tls_peer_fingerprint(c, "md5", false, why), 0);
	snprintf(pair_fpr_md5, sizeof(pair_fpr_md5), "%s", VSTR_STR(why));
	assert_int_equal(tls_peer_fingerprint(c, "nosuchdigest", false, why),
			 -1);
	assert_string_equal(VSTR_STR(why), "");
	tls_sess_free(c);
	close(sv[0]);
	pthread_join(th, NULL);
	assert_true(job.ok);
	assert_int_equal(job.reused, *reused);
	vstr_free(why);
	return trust;
}

static void
test_tls_handshake_trust_levels(void **state)
{
	static const char *const good[] = { "mx.example.test" };
	static const char *const bad[] = { "other.example.test" };
	static const char *const sub[] = { ".example.test" };
	TLS_CTX			*sctx = make_server();
	TLS_CTX			*anon = make_client("", ">=TLSv1.2");
	TLS_CTX			*ca = make_client(tls_cert, ">=TLSv1.2");
	VSTR			*why = vstr_alloc(64);
	VSTR			*proto = vstr_alloc(16);
	bool			 reused;

	(void)state;
	assert_int_equal(run_pair(sctx, anon, good, 1, why, proto, &reused),
			 TLS_TRUST_NONE);
	assert_non_null(strstr(VSTR_STR(why), "certificate not trusted"));
	assert_string_equal(VSTR_STR(proto), "TLSv1.3");
	assert_int_equal(run_pair(sctx, ca, good, 1, why, proto, &reused),
			 TLS_TRUST_VERIFIED);
	assert_string_equal(VSTR_STR(why), "");
	assert_int_equal(run_pair(sctx, ca, bad, 1, why, proto, &reused),
			 TLS_TRUST_CHAIN);
	assert_non_null(strstr(VSTR_STR(why), "certificate name mismatch"));
	assert_non_null(strstr(VSTR_STR(why), "\"other.example.test\""));
	assert_int_equal(run_pair(sctx, ca, sub, 1, why, proto, &reused),
			 TLS_TRUST_VERIFIED);
	vstr_free(why);
	vstr_free(proto);
	tls_ctx_free(anon);
	tls_ctx_free(ca);
	tls_ctx_free(sctx);
}

static void
test_tls_client_session_reuse(void **state)
{
	static const char *const good[] = { "mx.example.test" };
	TLS_CTX			*sctx = make_server();
	TLS_CTX			*cctx = make_client(tls_cert, "<=TLSv1.2");
	VSTR			*why = vstr_alloc(64);
	VSTR			*proto = vstr_alloc(16);
	bool			 reused;

	(void)state;
	run_pair(sctx, cctx, good, 1, why, proto, &reused);
	assert_string_equal(VSTR_STR(proto), "TLSv1.2");
	assert_false(reused);
	run_pair(sctx, cctx, good, 1, why, proto, &reused);
	assert_true(reused);
	vstr_free(why);
	vstr_free(proto);
	tls_ctx_free(cctx);
	tls_ctx_free(sctx);
}

static void
test_tls_fingerprint_digests(void **state)
{
	VSTR *out = vstr_alloc(16);

	(void)state;
	assert_int_equal(tls_fingerprint("abc", 3, "sha256", out), 0);
	assert_string_equal(VSTR_STR(out),
			    "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:"
			    "B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD");
	assert_int_equal(tls_fingerprint("abc", 3, "md5", out), 0);
	assert_string_equal(VSTR_STR(out), "90:01:50:98:3C:D2:4F:B0:D6:96:3F:"
					   "7D:28:E1:7F:72");
	assert_int_equal(tls_fingerprint("abc", 3, "sha1", out), 0);
	assert_string_equal(VSTR_STR(out), "A9:99:3E:36:47:06:81:6A:BA:3E:25:"
					   "71:78:50:C2:6C:9C:D0:D8:9D");
	assert_int_equal(tls_fingerprint("abc", 3, "nosuchdigest", out), -1);
	assert_string_equal(VSTR_STR(out), "");
	assert_int_equal(tls_fingerprint("abc", 3, "", out), -1);
	assert_true(tls_digest_ok("sha512"));
	assert_false(tls_digest_ok("sha999"));
	vstr_free(out);
}

/* The peer's certificate and key fingerprints differ, in Postfix form. */
static void
test_tls_peer_fingerprint_of_server_certificate(void **state)
{
	static const char *const good[] = { "mx.example.test" };
	TLS_CTX			*sctx = make_server();
	TLS_CTX			*ca = make_client(tls_cert, ">=TLSv1.2");
	VSTR			*why = vstr_alloc(64);
	VSTR			*proto = vstr_alloc(16);
	bool			 reused;

	(void)state;
	assert_int_equal(run_pair(sctx, ca, good, 1, why, proto, &reused),
			 TLS_TRUST_VERIFIED);
	assert_int_equal(strlen(pair_fpr_cert), 32 * 3 - 1);
	assert_int_equal(strlen(pair_fpr_pkey), 32 * 3 - 1);
	assert_int_equal(strlen(pair_fpr_md5), 16 * 3 - 1);
	assert_int_equal(strspn(pair_fpr_cert, "0123456789ABCDEF:"),
			 strlen(pair_fpr_cert));
	assert_string_not_equal(pair_fpr_cert, pair_fpr_pkey);
	vstr_free(why);
	vstr_free(proto);
	tls_ctx_free(ca);
	tls_ctx_free(sctx);
}

static void
test_tls_handshake_times_out(void **state)
{
	TLS_CTX		       *cctx = make_client("", ">=TLSv1.2");
	struct tls_client_start cs = { .level = TLS_LEV_MAY };
	VSTR		       *why = vstr_alloc(64);
	int			sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* Nobody answers on sv[1]. */
	assert_null(tls_client_start(cctx, sv[0], &cs, 200, why));
	assert_non_null(strstr(VSTR_STR(why), "timeout during the TLS "
					      "handshake"));
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	assert_null(tls_client_start(cctx, sv[0], &cs, 1000, why));
	if (strstr(VSTR_STR(why), "lost connection") == NULL)
		fail_msg("why: %s", VSTR_STR(why));
	close(sv[0]);
	vstr_free(why);
	tls_ctx_free(cctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_level_parse_names),
		cmocka_unit_test(test_tls_protocols_parse_forms),
		cmocka_unit_test(test_tls_server_ctx_needs_certificate),
		cmocka_unit_test(test_tls_handshake_trust_levels),
		cmocka_unit_test(test_tls_client_session_reuse),
		cmocka_unit_test(test_tls_handshake_times_out),
		cmocka_unit_test(test_tls_fingerprint_digests),
		cmocka_unit_test(
		    test_tls_peer_fingerprint_of_server_certificate),
	};

	/* As the daemon skeletons do: a closed peer is EPIPE, not death. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup_cert, teardown_cert);
}
