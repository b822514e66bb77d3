/*
 * Unit tests for smtpd/smtpd_tls: STARTTLS in the session with a fake
 * handshake hook (tests/unit/smtpd_fake.h).  The fake "TLS" stream is a
 * second input buffer that the hook switches to, so a test sees exactly
 * which bytes the session treats as commands after the handshake.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdbool.h>

#include "tests/unit/harness.h"
#include "tests/unit/smtpd_fake.h"

static const char *tls_stream; /* what the client sends inside TLS */
static int	   tls_starts;
static size_t	   tls_left_plain; /* plain bytes unread at handshake */
static bool	   tls_fail;

static int
fake_tls_start(void *io, void *ctx, int timeout_ms, VSTR *info,
	       struct smtpd_tls_cert *cert, VSTR *why)
{
	struct fake *f = io;

	(void)ctx;
	(void)cert;
	(void)timeout_ms;
	tls_starts++;
	tls_left_plain = f->in_len - f->in_pos;
	if (tls_fail) {
		vstr_strcpy(why, "handshake failed");
		return -1;
	}
	f->in = tls_stream;
	f->in_len = strlen(tls_stream);
	f->in_pos = 0;
	vstr_strcpy(info, "TLSv1.3 with cipher TEST (256/256 bits)");
	return 0;
}

static void
run(struct fake *f, struct smtpd_params *par, const char *plain,
    const char *in_tls)
{
	struct smtpd_hooks hooks = fake_hooks;
	struct smtpd_peer  peer = { .name = "client.test",
				    .addr = "192.0.2.1",
				    .port = "1025" };
	SMTPD_STATE	  *st;

	tls_stream = in_tls;
	tls_starts = 0;
	tls_left_plain = 0;
	fake_init(f, plain, strlen(plain));
	hooks.tls_start = fake_tls_start;
	st = smtpd_state_create(par, &hooks, f, f, &peer);
	smtpd_session(st);
	smtpd_state_free(st);
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
test_tls_smtpd_starttls_discards_pipelined_plaintext(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	const char	   *out;

	(void)state;
	fake_params(&par);
	par.tls.level = SMTPD_TLS_MAY;
	run(&f, &par, "EHLO a.test\r\nSTARTTLS\r\nNOOP\r\nMAIL FROM:<x@y>\r\n",
	    "EHLO b.test\r\nQUIT\r\n");
	out = VSTR_STR(f.out);
	assert_int_equal(tls_starts, 1);
	/* The NOOP and MAIL never ran: no 250 Ok for them anywhere. */
	assert_int_equal(count(out, "250 2.0.0 Ok"), 0);
	assert_int_equal(count(out, "250 2.1.0"), 0);
	assert_non_null(strstr(out, "220 2.0.0 Ready to start TLS\r\n"));
	/* STARTTLS is announced once: before TLS, not inside. */
	assert_int_equal(count(out, "250-STARTTLS"), 1);
	assert_non_null(strstr(out, "221 2.0.0 Bye"));
	fake_done(&f);
}

static void
test_tls_smtpd_encrypt_requires_starttls(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	const char	   *out;

	(void)state;
	fake_params(&par);
	par.tls.level = SMTPD_TLS_ENCRYPT;
	run(&f, &par, "EHLO a.test\r\nMAIL FROM:<x@y>\r\nSTARTTLS\r\n",
	    "EHLO b.test\r\nMAIL FROM:<x@y>\r\nSTARTTLS\r\nQUIT\r\n");
	out = VSTR_STR(f.out);
	assert_non_null(strstr(out, "530 5.7.0 Must issue a STARTTLS command "
				    "first"));
	assert_non_null(strstr(out, "250 2.1.0 Ok"));
	assert_non_null(strstr(out, "554 5.5.1 Error: TLS already active"));
	fake_done(&f);
}

static void
test_tls_smtpd_none_refuses_starttls(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	const char	   *out;

	(void)state;
	fake_params(&par);
	run(&f, &par, "EHLO a.test\r\nSTARTTLS\r\nSTARTTLS now\r\nQUIT\r\n",
	    "");
	out = VSTR_STR(f.out);
	assert_int_equal(tls_starts, 0);
	assert_null(strstr(out, "250-STARTTLS"));
	assert_non_null(strstr(out, "502 5.5.1 Error: command not "
				    "implemented"));
	assert_non_null(strstr(out, "501 5.5.4 Syntax: STARTTLS"));
	fake_done(&f);
}

static void
test_tls_smtpd_failed_handshake_ends_session(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	par.tls.level = SMTPD_TLS_MAY;
	tls_fail = true;
	run(&f, &par, "EHLO a.test\r\nSTARTTLS\r\n", "NOOP\r\n");
	tls_fail = false;
	assert_int_equal(tls_starts, 1);
	assert_null(strstr(VSTR_STR(f.out), "250 2.0.0 Ok"));
	fake_done(&f);
}

static void
test_tls_smtpd_wrappermode_before_greeting(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	const char	   *out;

	(void)state;
	fake_params(&par);
	par.tls.wrappermode = true;
	par.tls.level = SMTPD_TLS_MAY;
	run(&f, &par, "junk before TLS\r\n", "EHLO b.test\r\nQUIT\r\n");
	out = VSTR_STR(f.out);
	assert_int_equal(tls_starts, 1);
	assert_int_equal(tls_left_plain, strlen("junk before TLS\r\n"));
	assert_true(strncmp(out, "220 mx.test", 11) == 0);
	assert_null(strstr(out, "STARTTLS"));
	assert_null(strstr(out, "502"));
	fake_done(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_tls_smtpd_starttls_discards_pipelined_plaintext),
		cmocka_unit_test(test_tls_smtpd_encrypt_requires_starttls),
		cmocka_unit_test(test_tls_smtpd_none_refuses_starttls),
		cmocka_unit_test(test_tls_smtpd_failed_handshake_ends_session),
		cmocka_unit_test(test_tls_smtpd_wrappermode_before_greeting),
	};

	(void)fake_session; /* the shared fakes' other runner */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
