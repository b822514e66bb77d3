/*
 * Unit tests for util/sasl_dovecot_proto.c: Dovecot auth protocol reply
 * lines, the escaping of AUTH values, and the mechanism filter under the
 * smtpd_sasl_*security_options words; and for util/sasl_dovecot.c against
 * a scripted fake auth server in a child process (the requests it sends,
 * OK/CONT/FAIL, temp, stale replies for other ids, a broken line and a
 * closed connection, and the reconnection after them).  The exchanges
 * against a real Dovecot are in tests/integration/test_dovecot_sasl.py.
 *
 * SPDX-License-Identifier: ISC
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/ipc.h"
#include "util/sasl.h"
#include "util/sasl_dovecot.h"
#include "util/vstr.h"

static int
parse(struct sasl_dovecot_reply *r, const char *line, VSTR *why)
{
	return sasl_dovecot_proto_parse(line, strlen(line), r, why);
}

static void
test_sasl_dovecot_handshake_lines(void **state)
{
	struct sasl_dovecot_reply r;
	VSTR			 *why = vstr_alloc(16);

	(void)state;
	sasl_dovecot_reply_init(&r);
	assert_int_equal(parse(&r, "VERSION\t1\t2", why), 0);
	assert_int_equal(r.kind, SASL_DOVECOT_VERSION);
	assert_int_equal(r.major, 1);
	assert_int_equal(r.minor, 2);
	assert_int_equal(parse(&r, "MECH\tPLAIN\tplaintext", why), 0);
	assert_int_equal(r.kind, SASL_DOVECOT_MECH);
	assert_string_equal(VSTR_STR(r.text), "PLAIN");
	assert_int_equal(r.mech_flags, SASL_DOVECOT_MECH_PLAINTEXT);
	assert_int_equal(parse(&r,
			       "MECH\tSCRAM-SHA-256\tmutual-auth\tdictionary"
			       "\tforward-secrecy\tactive\tanonymous\tprivate"
			       "\tsomething-new",
			       why),
			 0);
	assert_int_equal(r.mech_flags, SASL_DOVECOT_MECH_MUTUAL_AUTH
					   | SASL_DOVECOT_MECH_DICTIONARY
					   | SASL_DOVECOT_MECH_FORWARD_SECRECY
					   | SASL_DOVECOT_MECH_ACTIVE
					   | SASL_DOVECOT_MECH_ANONYMOUS
					   | SASL_DOVECOT_MECH_PRIVATE);
	assert_int_equal(parse(&r, "MECH\tGSSAPI", why), 0);
	assert_int_equal(r.mech_flags, 0);
	assert_int_equal(parse(&r, "SPID\t1234", why), 0);
	assert_int_equal(r.kind, SASL_DOVECOT_SPID);
	assert_string_equal(VSTR_STR(r.text), "1234");
	assert_int_equal(parse(&r, "CUID\t7", why), 0);
	assert_int_equal(r.kind, SASL_DOVECOT_CUID);
	assert_int_equal(parse(&r, "COOKIE\t9b85e530", why), 0);
	assert_int_equal(r.kind, SASL_DOVECOT_COOKIE);
	assert_int_equal(parse(&r, "DONE", why), 0);
	assert_int_equal(r.kind, SASL_DOVECOT_DONE);
	/* Unknown commands are ignored, as the protocol asks. */
	assert_int_equal(parse(&r, "NEWTHING\tx\ty", why), 0);
	assert_int_equal(r.kind, SASL_DOVECOT_OTHER);
	sasl_dovecot_reply_done(&r);
	vstr_free(why);
}

static void
test_sasl_dovecot_bad_lines_are_refused(void **state)
{
	static const char *const bad[] = {
		"VERSION\t1",
		"VERSION\tx\t2",
		"VERSION\t12345678901\t1",
		"MECH",
		"MECH\t",
		"MECH\tPL AIN",
		"MECH\tPL\001tAIN",
		"SPID",
		"OK",
		"OK\t",
		"OK\tx\tuser=a",
		"CONT\t1\t!!!!",
		"CONT\t-1\tAA==",
		"FAIL\t1\treason=\001x",
		"OK\t1\tresp=Zg",
		"OK\t1\tuser=\001",
	};
	struct sasl_dovecot_reply r;
	VSTR			 *why = vstr_alloc(16);

	(void)state;
	sasl_dovecot_reply_init(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vstr_reset(why);
		assert_int_equal(parse(&r, bad[i], why), -1);
		assert_true(VSTR_LEN(why) > 0);
	}
	/* A NUL or LF inside the line. */
	assert_int_equal(sasl_dovecot_proto_parse("DONE\0x", 6, &r, why), -1);
	assert_int_equal(sasl_dovecot_proto_parse("DONE\nx", 6, &r, why), -1);
	sasl_dovecot_reply_done(&r);
	vstr_free(why);
}

static void
test_sasl_dovecot_ok_cont_fail(void **state)
{
	struct sasl_dovecot_reply r;
	VSTR			 *why = vstr_alloc(16);

	(void)state;
	sasl_dovecot_reply_init(&r);
	assert_int_equal(parse(&r, "OK\t42\tuser=alice", why), 0);
	assert_int_equal(r.kind, SASL_DOVECOT_OK);
	assert_int_equal(r.id, 42);
	assert_string_equal(VSTR_STR(r.user), "alice");
	assert_false(r.has_data);
	/* The server's final data (SCRAM's signature) rides on OK. */
	assert_int_equal(parse(&r, "OK\t3\tuser=bob\tresp=Zm9v\tother=1", why),
			 0);
	assert_true(r.has_data);
	assert_memory_equal(VSTR_STR(r.data), "foo", 3);
	/* CONT: base64, possibly empty. */
	assert_int_equal(parse(&r, "CONT\t7\tVXNlcm5hbWU6", why), 0);
	assert_int_equal(r.kind, SASL_DOVECOT_CONT);
	assert_int_equal(r.id, 7);
	assert_string_equal(VSTR_STR(r.data), "Username:");
	assert_int_equal(parse(&r, "CONT\t8\t", why), 0);
	assert_int_equal(VSTR_LEN(r.data), 0);
	assert_int_equal(parse(&r, "CONT\t9", why), 0);
	assert_true(r.has_data);
	/* FAIL: reason (tab-escaped), temp. */
	assert_int_equal(parse(&r, "FAIL\t5\tuser=a\treason=bad\001tpass", why),
			 0);
	assert_int_equal(r.kind, SASL_DOVECOT_FAIL);
	assert_false(r.temp);
	assert_string_equal(VSTR_STR(r.reason), "bad\tpass");
	assert_int_equal(parse(&r, "FAIL\t6\ttemp\tcode=temp_fail", why), 0);
	assert_true(r.temp);
	assert_int_equal(VSTR_LEN(r.reason), 0);
	/* A new reply starts clean. */
	assert_int_equal(parse(&r, "FAIL\t7", why), 0);
	assert_false(r.temp);
	assert_int_equal(VSTR_LEN(r.user), 0);
	sasl_dovecot_reply_done(&r);
	vstr_free(why);
}

static void
test_sasl_dovecot_escape_values(void **state)
{
	VSTR *out = vstr_alloc(16);

	(void)state;
	sasl_dovecot_proto_escape(out, "a\tb\nc\rd\001e");
	assert_string_equal(VSTR_STR(out), "a\001tb\001nc\001rd\0011e");
	vstr_free(out);
}

static void
test_sasl_dovecot_security_filter(void **state)
{
	VSTR	*why = vstr_alloc(16);
	unsigned sec;

	(void)state;
	assert_int_equal(sasl_dovecot_security_parse("noplaintext, noanonymous",
						     &sec, why),
			 0);
	assert_int_equal(sec, SASL_DOVECOT_SEC_NOPLAINTEXT
				  | SASL_DOVECOT_SEC_NOANONYMOUS);
	assert_false(
	    sasl_dovecot_mech_allowed(SASL_DOVECOT_MECH_PLAINTEXT, sec));
	assert_false(
	    sasl_dovecot_mech_allowed(SASL_DOVECOT_MECH_ANONYMOUS, sec));
	assert_true(
	    sasl_dovecot_mech_allowed(SASL_DOVECOT_MECH_DICTIONARY, sec));
	assert_int_equal(sasl_dovecot_security_parse("nodictionary noactive",
						     &sec, why),
			 0);
	assert_false(
	    sasl_dovecot_mech_allowed(SASL_DOVECOT_MECH_DICTIONARY, sec));
	assert_false(sasl_dovecot_mech_allowed(SASL_DOVECOT_MECH_ACTIVE, sec));
	assert_true(
	    sasl_dovecot_mech_allowed(SASL_DOVECOT_MECH_PLAINTEXT, sec));
	/* forward_secrecy and mutual_auth keep only those that have it. */
	assert_int_equal(sasl_dovecot_security_parse("mutual_auth", &sec, why),
			 0);
	assert_false(sasl_dovecot_mech_allowed(0, sec));
	assert_true(
	    sasl_dovecot_mech_allowed(SASL_DOVECOT_MECH_MUTUAL_AUTH, sec));
	assert_int_equal(sasl_dovecot_security_parse("forward_secrecy", &sec,
						     why),
			 0);
	assert_false(
	    sasl_dovecot_mech_allowed(SASL_DOVECOT_MECH_MUTUAL_AUTH, sec));
	/* A private mechanism is never offered. */
	assert_false(sasl_dovecot_mech_allowed(SASL_DOVECOT_MECH_PRIVATE, 0));
	assert_true(sasl_dovecot_mech_allowed(0, 0));
	/* Unknown words are an error, not ignored. */
	assert_int_equal(sasl_dovecot_security_parse("noplaintext, bogus", &sec,
						     why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "\"bogus\""));
	vstr_free(why);
}

/*
 * The fake server's script: one answer per AUTH or CONT line it reads,
 * "{id}" standing for that line's request id; "CLOSE" drops the
 * connection (the client then connects again).
 */
static const char *const fake_script[] = {
	"OK\t{id}\tuser=alice",
	"CONT\t{id}\tVXNlcm5hbWU6",
	"OK\t999\tuser=stale\nCONT\t{id}\tUGFzc3dvcmQ6",
	"FAIL\t{id}\tuser=bob\treason=bad password",
	"FAIL\t{id}\ttemp\treason=db down",
	"OK\tnot-a-number",
	"OK\t{id}\tuser=bob\tresp=Zm9v",
	"CLOSE",
	"OK\t{id}\tuser=carol",
};

static const char fake_greeting[] =
    "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\n"
    "MECH\tSCRAM-SHA-1\tmutual-auth\tdictionary\n"
    "MECH\tEXTERNAL\tprivate\nMECH\tANONYMOUS\tanonymous\n"
    "SPID\t1\nCUID\t1\nCOOKIE\t0123abcd\nDONE\n";

static void
fake_write(int fd, const char *s)
{
	if (write_full(fd, s, strlen(s), 5000) < 0)
		_exit(2);
}

/* The child: serve the script, copying every line read to log_fd. */
static void __attribute__((noreturn)) fake_server(int lfd, int log_fd)
{
	size_t step = 0;

	for (int conn = 0; conn < 8; conn++) {
		int    fd = ipc_accept(lfd);
		char   buf[4096];
		size_t len = 0;

		if (fd < 0)
			_exit(1);
		(void)fd_set_nonblock(fd, false);
		for (;;) {
			char   *nl;
			ssize_t n;

			while ((nl = memchr(buf, '\n', len)) == NULL) {
				n = read(fd, buf + len, sizeof(buf) - 1 - len);
				if (n <= 0)
					goto next;
				len += (size_t)n;
			}
			*nl = 0;
			fake_write(log_fd, buf);
			fake_write(log_fd, "\n");
			if (strncmp(buf, "CPID\t", 5) == 0) {
				fake_write(fd, fake_greeting);
			} else if ((strncmp(buf, "AUTH\t", 5) == 0
				    || strncmp(buf, "CONT\t", 5) == 0)
				   && step < sizeof(fake_script)
						 / sizeof(fake_script[0])) {
				const char *ans = fake_script[step++];
				char	    id[16];
				char	    out[512];
				const char *at = strstr(ans, "{id}");

				snprintf(id, sizeof(id), "%lu",
					 strtoul(buf + 5, NULL, 10));
				if (strcmp(ans, "CLOSE") == 0)
					goto next;
				if (at)
					snprintf(out, sizeof(out), "%.*s%s%s\n",
						 (int)(at - ans), ans, id,
						 at + 4);
				else
					snprintf(out, sizeof(out), "%s\n", ans);
				fake_write(fd, out);
			}
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
next:
		close(fd);
	}
	_exit(0);
}

static SASL_DOVECOT_SERVER *
fake_session(const char *sec, bool tls, bool cert)
{
	struct sasl_srv_info info = {
		.service = "smtp",
		.security = sec,
		.client_addr = "198.51.100.7",
		.client_port = "4242",
		.server_addr = "192.0.2.1",
		.server_port = "587",
		.tls = tls,
		.client_cert_verified = cert,
	};
	VSTR		    *why = vstr_alloc(16);
	SASL_DOVECOT_SERVER *s = sasl_dovecot_server_create(&info, why);

	assert_non_null(s);
	vstr_free(why);
	return s;
}

static void
test_sasl_dovecot_exchanges_with_a_fake_server(void **state)
{
	char		     dir[] = "/tmp/test_sasl_dovecot.XXXXXX";
	char		     path[256];
	int		     logp[2];
	int		     lfd;
	pid_t		     pid;
	VSTR		    *why = vstr_alloc(16);
	VSTR		    *out = vstr_alloc(16);
	SASL_DOVECOT_SERVER *s;
	char		     log[8192];
	ssize_t		     n;
	size_t		     got = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/auth", dir);
	assert_true((lfd = ipc_listen_unix(path, 0600, 8)) >= 0);
	assert_int_equal(pipe(logp), 0);
	if ((pid = fork()) == 0) {
		close(logp[0]);
		fake_server(lfd, logp[1]);
	}
	assert_true(pid > 0);
	close(lfd);
	close(logp[1]);
	assert_int_equal(sasl_dovecot_server_init(path, why), 0);

	/* Mechanisms as listed, less private and the security options'. */
	s = fake_session("noanonymous", false, false);
	assert_string_equal(sasl_dovecot_server_mechs(s, why),
			    "PLAIN SCRAM-SHA-1");
	s = sasl_dovecot_server_free(s);
	s = fake_session("noplaintext, noanonymous", true, true);
	assert_string_equal(sasl_dovecot_server_mechs(s, why), "SCRAM-SHA-1");
	/* Not offered: refused without asking. */
	assert_int_equal(sasl_dovecot_server_start(s, "PLAIN", "", 0, false,
						   out, why),
			 SASL_STEP_FAIL);
	s = sasl_dovecot_server_free(s);

	/* 1: PLAIN with an initial response, under TLS with a cert. */
	s = fake_session("noanonymous", true, true);
	assert_int_equal(sasl_dovecot_server_start(s, "PLAIN", "\0a\0b", 4,
						   true, out, why),
			 SASL_STEP_DONE);
	assert_string_equal(sasl_dovecot_server_username(s), "alice");
	s = sasl_dovecot_server_free(s);

	/* 2-4: no initial response: two CONT rounds (a stale OK for another
	 * id skipped), then FAIL. */
	s = fake_session("noanonymous", false, false);
	assert_int_equal(sasl_dovecot_server_start(s, "PLAIN", "", 0, false,
						   out, why),
			 SASL_STEP_CONTINUE);
	assert_string_equal(VSTR_STR(out), "Username:");
	assert_int_equal(sasl_dovecot_server_step(s, "bob", 3, out, why),
			 SASL_STEP_CONTINUE);
	assert_string_equal(VSTR_STR(out), "Password:");
	assert_int_equal(sasl_dovecot_server_step(s, "pw", 2, out, why),
			 SASL_STEP_FAIL);
	assert_string_equal(VSTR_STR(why), "bad password");
	assert_null(sasl_dovecot_server_username(s));
	/* 5: temp. */
	assert_int_equal(sasl_dovecot_server_start(s, "PLAIN", "x", 1, true,
						   out, why),
			 SASL_STEP_TEMP);
	assert_string_equal(VSTR_STR(why), "db down");
	/* 6: a broken line: temporary, and the connection is dropped... */
	assert_int_equal(sasl_dovecot_server_start(s, "PLAIN", "x", 1, true,
						   out, why),
			 SASL_STEP_TEMP);
	assert_non_null(strstr(VSTR_STR(why), "bad OK id"));
	/* ... 7: so this one connects again; OK with final data. */
	assert_int_equal(sasl_dovecot_server_start(s, "PLAIN", "x", 1, true,
						   out, why),
			 SASL_STEP_DONE);
	assert_string_equal(VSTR_STR(out), "foo");
	assert_string_equal(sasl_dovecot_server_username(s), "bob");
	/* 8: the server closes instead of answering. */
	assert_int_equal(sasl_dovecot_server_start(s, "PLAIN", "x", 1, true,
						   out, why),
			 SASL_STEP_TEMP);
	assert_non_null(strstr(VSTR_STR(why), "closed the connection"));
	/* 9: and again a new connection. */
	assert_int_equal(sasl_dovecot_server_start(s, "PLAIN", "x", 1, true,
						   out, why),
			 SASL_STEP_DONE);
	assert_string_equal(sasl_dovecot_server_username(s), "carol");
	s = sasl_dovecot_server_free(s);

	/* What the server read. */
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	while ((n = read(logp[0], log + got, sizeof(log) - 1 - got)) > 0)
		got += (size_t)n;
	log[got] = 0;
	close(logp[0]);
	assert_true(strncmp(log, "VERSION\t1\t2\nCPID\t", 15) == 0);
	assert_non_null(strstr(log,
			       "\tPLAIN\tservice=smtp\tnologin\t"
			       "lip=192.0.2.1\trip=198.51.100.7\tlport=587\t"
			       "rport=4242\tsecured\tvalid-client-cert\t"
			       "resp=AGEAYg==\n"));
	/* No initial response: no resp=, no TLS: neither flag. */
	assert_non_null(strstr(log, "\trport=4242\n"));
	assert_non_null(strstr(log, "\tYm9i\n"));
	assert_non_null(strstr(log, "\tcHc=\n"));
	/* Three handshakes: the first, after the bad line, after CLOSE. */
	assert_non_null(
	    strstr(strstr(strstr(log, "CPID") + 1, "CPID") + 1, "CPID"));
	unlink(path);
	rmdir(dir);
	vstr_free(why);
	vstr_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sasl_dovecot_handshake_lines),
		cmocka_unit_test(test_sasl_dovecot_bad_lines_are_refused),
		cmocka_unit_test(test_sasl_dovecot_ok_cont_fail),
		cmocka_unit_test(test_sasl_dovecot_escape_values),
		cmocka_unit_test(test_sasl_dovecot_security_filter),
		cmocka_unit_test(
		    test_sasl_dovecot_exchanges_with_a_fake_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
