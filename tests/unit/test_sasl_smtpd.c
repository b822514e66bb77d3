/*
 * Unit tests for smtpd/smtpd_sasl.c: the AUTH command in a session with
 * fake I/O (tests/unit/smtpd_fake.h) and a real Cyrus library whose
 * configuration points at an empty sasldb, so every login fails.  The
 * successful logins are in tests/integration/test_sasl.py.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "tests/unit/smtpd_fake.h"
#include "util/sasl.h"

static char sasl_dir[] = "/tmp/test_sasl_smtpd.XXXXXX";

static void
sasl_params(struct smtpd_params *par, bool enable, bool tls_only)
{
	fake_params(par);
	par->sasl.enable = enable;
	par->sasl.tls_only = tls_only;
	par->sasl.service = "smtp";
	par->sasl.realm = "";
	par->sasl.security = "noanonymous";
	par->sasl.tls_security = "noanonymous";
	par->sasl.exceptions = "";
	par->sasl.failure_limit = 3;
}

static void
run(struct fake *f, const struct smtpd_params *par, const char *in)
{
	fake_init(f, in, strlen(in));
	fake_session(f, par, "127.0.0.1");
}

static bool
has(const struct fake *f, const char *text)
{
	return strstr(VSTR_STR(f->out), text) != NULL;
}

static void
test_sasl_smtpd_disabled_is_503(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	sasl_params(&par, false, false);
	run(&f, &par, "EHLO c.test\r\nAUTH PLAIN\r\nQUIT\r\n");
	assert_false(has(&f, "250-AUTH"));
	assert_true(has(&f, "503 5.5.1 Error: authentication not enabled"));
	fake_done(&f);
}

static void
test_sasl_smtpd_tls_only_refuses_plaintext(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	sasl_params(&par, true, true);
	run(&f, &par, "EHLO c.test\r\nAUTH PLAIN AGEAYg==\r\nQUIT\r\n");
	assert_false(has(&f, "AUTH"));
	assert_true(has(&f, "538 5.7.11 Encryption required"));
	fake_done(&f);
}

static void
test_sasl_smtpd_offers_mechanisms_and_checks_sequence(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	sasl_params(&par, true, false);
	run(&f, &par,
	    "AUTH PLAIN\r\nEHLO c.test\r\nAUTH PL@IN\r\n"
	    "AUTH PLAIN !!!!\r\nAUTH GSSAPI-NOPE\r\n"
	    "MAIL FROM:<a@c.test>\r\nAUTH PLAIN\r\nQUIT\r\n");
	assert_true(has(&f, "250-AUTH "));
	assert_true(has(&f, " PLAIN"));
	assert_true(has(&f, " LOGIN"));
	assert_true(has(&f, "503 5.5.1 Error: send EHLO first\r\n"));
	assert_true(has(&f, "501 5.5.4 Syntax: AUTH mechanism\r\n"));
	assert_true(has(&f, "501 5.5.2 Cannot decode AUTH parameter\r\n"));
	assert_true(has(&f, "504 5.5.4 Unsupported authentication "
			    "mechanism\r\n"));
	assert_true(has(&f, "503 5.5.1 Error: MAIL transaction in "
			    "progress\r\n"));
	fake_done(&f);
}

static void
test_sasl_smtpd_login_cancel_and_garbage(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	sasl_params(&par, true, false);
	run(&f, &par,
	    "EHLO c.test\r\nAUTH LOGIN\r\n*\r\n"
	    "AUTH LOGIN\r\nnot base64\r\nQUIT\r\n");
	/* "Username:" */
	assert_true(has(&f, "334 VXNlcm5hbWU6\r\n501 5.7.0 Authentication "
			    "aborted\r\n"));
	assert_true(has(&f, "334 VXNlcm5hbWU6\r\n501 5.5.2 Cannot decode "
			    "response\r\n"));
	assert_true(has(&f, "221 2.0.0 Bye"));
	fake_done(&f);
}

static void
test_sasl_smtpd_failures_disconnect_after_the_limit(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	sasl_params(&par, true, false);
	par.sasl.failure_limit = 2;
	run(&f, &par,
	    "EHLO c.test\r\nAUTH PLAIN AGFsaWNlAHB3\r\n"
	    "AUTH PLAIN AGFsaWNlAHB3\r\nNOOP\r\n");
	assert_true(has(&f, "535 5.7.8 Error: authentication failed: "));
	assert_true(has(&f, "421 4.7.0 mx.test Error: too many failed "
			    "authentications\r\n"));
	/* The session ended: NOOP was never answered. */
	assert_false(has(&f, "250 2.0.0 Ok"));
	/* Two errors, below smtpd_soft_error_limit: no delay (Postfix). */
	assert_int_equal(f.sleeps, 0);
	fake_done(&f);
}

/* A failed AUTH is a session error like any other (Postfix). */
static void
test_sasl_smtpd_failures_count_as_errors(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	static const char   in[] = "EHLO c.test\r\nAUTH PLAIN AGFsaWNlAHB3\r\n"
				   "AUTH LOGIN\r\n*\r\n"
				   "AUTH PLAIN AGFsaWNlAHB3\r\nNOOP\r\n";

	(void)state;
	sasl_params(&par, true, false);
	par.sasl.failure_limit = 10;
	par.soft_error_limit = 1;
	par.hard_error_limit = 3;
	fake_init(&f, in, sizeof(in) - 1);
	f.mark_sleeps = true;
	fake_session(&f, &par, "127.0.0.1");
	/* From the first failure on every reply waits, challenges too. */
	assert_true(has(&f, "250 CHUNKING\r\n535 5.7.8 Error: "
			    "authentication failed: "));
	assert_true(has(&f, "<sleep>334 VXNlcm5hbWU6\r\n"
			    "<sleep>501 5.7.0 Authentication aborted\r\n"
			    "<sleep>535 5.7.8 Error: authentication failed: "));
	assert_true(has(&f, "\r\n<sleep>421 4.7.0 mx.test Error: too many "
			    "errors\r\n"));
	assert_false(has(&f, "250 2.0.0 Ok"));
	assert_int_equal(f.sleeps, 4);
	fake_done(&f);
}

static void
test_sasl_smtpd_cancels_count_to_the_limit(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	sasl_params(&par, true, false);
	par.sasl.failure_limit = 2;
	run(&f, &par,
	    "EHLO c.test\r\nAUTH LOGIN\r\n*\r\nAUTH LOGIN\r\n"
	    "*\r\nNOOP\r\n");
	assert_true(has(&f, "501 5.7.0 Authentication aborted\r\n"
			    "421 4.7.0 mx.test Error: too many failed "
			    "authentications\r\n"));
	assert_false(has(&f, "250 2.0.0 Ok"));
	fake_done(&f);
}

static int
setup(void **state)
{
	VSTR *why = vstr_alloc(64);
	char  path[256];
	FILE *fp;

	(void)state;
	if (mkdtemp(sasl_dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/smtpd.conf", sasl_dir);
	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	fprintf(fp,
		"pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
		"sasldb_path: %s/sasldb2\nmech_list: PLAIN LOGIN\n",
		sasl_dir);
	fclose(fp);
	if (sasl_srv_init(&(struct sasl_srv_conf){ .type = "cyrus",
						   .path = "smtpd",
						   .cyrus_config_path = sasl_dir,
						   .security = "",
						   .tls_security = "" },
			  why)
	    < 0) {
		fprintf(stderr, "%s\n", VSTR_STR(why));
		return -1;
	}
	vstr_free(why);
	return 0;
}

static int
teardown(void **state)
{
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/smtpd.conf", sasl_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sasldb2", sasl_dir);
	unlink(path);
	rmdir(sasl_dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sasl_smtpd_disabled_is_503),
		cmocka_unit_test(test_sasl_smtpd_tls_only_refuses_plaintext),
		cmocka_unit_test(
		    test_sasl_smtpd_offers_mechanisms_and_checks_sequence),
		cmocka_unit_test(test_sasl_smtpd_login_cancel_and_garbage),
		cmocka_unit_test(
		    test_sasl_smtpd_failures_disconnect_after_the_limit),
		cmocka_unit_test(test_sasl_smtpd_failures_count_as_errors),
		cmocka_unit_test(test_sasl_smtpd_cancels_count_to_the_limit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
