/*
 * Unit tests for smtpd_anvil (the smtpd_client_*_limit limits): whole
 * sessions against smtpd_fake.h with a scripted anvil hook.
 *
 * SPDX-License-Identifier: ISC
 */
#include "tests/unit/harness.h"
#include "tests/unit/smtpd_fake.h"

#include "util/msg.h"

static VSTR *logged;

/* The scripted anvil: what connect answers, the event rates so far. */
static struct {
	bool	  down;
	long long count;
	long long rate;
	long long events[ANVIL_REQ_COUNT];
	VSTR	 *requests; /* "connect smtp:127.0.0.2\n..." */
} fa;

static int
fake_anvil(void *ctx, enum anvil_req req, const char *ident,
	   struct anvil_reply *rp, VSTR *why)
{
	(void)ctx;
	vstr_sprintf_append(fa.requests, "%s %s\n", anvil_req_name(req), ident);
	if (fa.down) {
		vstr_strcpy(why,
			    "connect to private/anvil: Connection refused");
		return -1;
	}
	memset(rp, 0, sizeof(*rp));
	if (req == ANVIL_REQ_CONNECT) {
		rp->count = fa.count;
		rp->rate = fa.rate;
	} else if (req == ANVIL_REQ_NEWTLS_REPORT) {
		rp->rate = fa.events[ANVIL_REQ_NEWTLS];
	} else {
		rp->rate = ++fa.events[req];
	}
	return 0;
}

static void
capture(enum msg_level level, const char *text)
{
	(void)level;
	vstr_strcat(logged, text);
	vstr_addch(logged, '\n');
}

static int
setup(void **state)
{
	(void)state;
	logged = vstr_alloc(1024);
	msg_output_reset();
	msg_output_add(capture);
	memset(&fa, 0, sizeof(fa));
	fa.requests = vstr_alloc(256);
	fa.count = fa.rate = 1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	msg_output_reset();
	logged = vstr_free(logged);
	fa.requests = vstr_free(fa.requests);
	return 0;
}

static void
anvil_params(struct smtpd_params *par)
{
	fake_params(par);
	par->anvil.enabled = true;
	par->anvil.service = "smtp";
	par->anvil.exceptions = "192.0.2.0/24";
	par->anvil.v6_prefix = 84;
	par->anvil.count_limit = 50;
}

static void
run(struct fake *f, const struct smtpd_params *par, const char *addr,
    const char *text)
{
	struct smtpd_hooks hooks = fake_hooks;
	struct smtpd_peer  peer = { .name = "client.test",
				    .addr = addr,
				    .port = "1025" };
	SMTPD_STATE	  *st;

	fake_init(f, text, strlen(text));
	hooks.anvil = fake_anvil;
	st = smtpd_state_create(par, &hooks, f, f, &peer);
	smtpd_session(st);
	smtpd_state_free(st);
}

static void
expect(const VSTR *got, const char *want)
{
	if (strcmp(VSTR_STR(got), want) != 0)
		fail_msg("got:\n%s\nwanted:\n%s", VSTR_STR(got), want);
}

static int
occurrences(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

static void
expect_logged(const char *want)
{
	if (strstr(VSTR_STR(logged), want) == NULL)
		fail_msg("log:\n%s\nlacks:\n%s", VSTR_STR(logged), want);
}

static void
test_smtpd_anvil_count_limit_421(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	anvil_params(&par);
	par.anvil.count_limit = 5;
	fa.count = 6;
	run(&f, &par, "127.0.0.2", "EHLO x\r\nQUIT\r\n");
	/* no greeting, no commands read */
	expect(f.out, "421 4.7.0 mx.test Error: too many connections from "
		      "127.0.0.2\r\n");
	expect_logged("Connection concurrency limit exceeded: 6 from "
		      "client.test[127.0.0.2] for service smtp\n");
	/* the connection was counted, so it is given back */
	expect(fa.requests,
	       "connect smtp:127.0.0.2\ndisconnect smtp:127.0.0.2\n");
	fake_done(&f);
}

static void
test_smtpd_anvil_rate_limit_421(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	anvil_params(&par);
	par.anvil.rate_limit = 3;
	fa.count = 1;
	fa.rate = 3;
	run(&f, &par, "127.0.0.2", "QUIT\r\n");
	assert_non_null(strstr(VSTR_STR(f.out), "220 mx.test"));
	fa.rate = 4;
	vstr_reset(logged);
	fake_done(&f);
	run(&f, &par, "127.0.0.2", "QUIT\r\n");
	expect(f.out, "421 4.7.0 mx.test Error: too many connections from "
		      "127.0.0.2\r\n");
	expect_logged("Connection rate limit exceeded: 4 from "
		      "client.test[127.0.0.2] for service smtp\n");
	fake_done(&f);
}

static void
test_smtpd_anvil_message_and_recipient_rates(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	anvil_params(&par);
	par.anvil.message_limit = 2;
	par.anvil.recipient_limit = 1;
	run(&f, &par, "127.0.0.2",
	    "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\n"
	    "RSET\r\nMAIL FROM:<a@b>\r\nRSET\r\nMAIL FROM:<a@b>\r\n"
	    "QUIT\r\n");
	assert_non_null(strstr(VSTR_STR(f.out),
			       "450 4.7.1 Error: too many recipients from "
			       "127.0.0.2\r\n"));
	assert_non_null(strstr(VSTR_STR(f.out),
			       "450 4.7.1 Error: too much mail from "
			       "127.0.0.2\r\n"));
	expect_logged("Recipient address rate limit exceeded: 2 from "
		      "client.test[127.0.0.2] for service smtp\n");
	expect_logged("Message delivery request rate limit exceeded: "
		      "3 from client.test[127.0.0.2] for service smtp\n");
	expect(fa.requests,
	       "connect smtp:127.0.0.2\nmessage smtp:127.0.0.2\n"
	       "recipient smtp:127.0.0.2\nrecipient smtp:127.0.0.2\n"
	       "message smtp:127.0.0.2\nmessage smtp:127.0.0.2\n"
	       "disconnect smtp:127.0.0.2\n");
	fake_done(&f);
}

static void
test_smtpd_anvil_unset_limits_are_not_asked(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	anvil_params(&par);
	run(&f, &par, "127.0.0.2",
	    "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nQUIT\r\n");
	/* only the connection limit is set: MAIL and RCPT are not counted */
	expect(fa.requests,
	       "connect smtp:127.0.0.2\ndisconnect smtp:127.0.0.2\n");
	fake_done(&f);
	vstr_reset(fa.requests);
	par.anvil.enabled = false;
	run(&f, &par, "127.0.0.2", "QUIT\r\n");
	expect(fa.requests, "");
	fake_done(&f);
	/* no anvil hook (smtpd without a client): no limits either */
	par.anvil.enabled = true;
	fa.count = 100;
	fake_init(&f, "QUIT\r\n", 6);
	fake_session(&f, &par, "127.0.0.2");
	expect(fa.requests, "");
	assert_non_null(strstr(VSTR_STR(f.out), "220 mx.test"));
	fake_done(&f);
}

static void
test_smtpd_anvil_exempt_and_ipv6(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	anvil_params(&par);
	fa.count = 100;
	run(&f, &par, "192.0.2.7", "QUIT\r\n");
	expect(fa.requests, "");
	assert_non_null(strstr(VSTR_STR(f.out), "220 mx.test"));
	fake_done(&f);
	fa.count = 1;
	run(&f, &par, "2001:db8::1:2", "QUIT\r\n");
	expect(fa.requests, "connect smtp:2001:db8::/84\n"
			    "disconnect smtp:2001:db8::/84\n");
	fake_done(&f);
}

static void
test_smtpd_anvil_down_warns_once_and_serves(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	anvil_params(&par);
	par.anvil.message_limit = 1;
	fa.down = true;
	run(&f, &par, "127.0.0.2",
	    "EHLO x\r\nMAIL FROM:<a@b>\r\nRSET\r\nMAIL FROM:<a@b>\r\n"
	    "QUIT\r\n");
	assert_non_null(strstr(VSTR_STR(f.out), "220 mx.test"));
	assert_null(strstr(VSTR_STR(f.out), "450"));
	expect_logged("connect to private/anvil: Connection "
		      "refused\n");
	/* one try per session: nothing more is asked after a failure */
	expect(fa.requests, "connect smtp:127.0.0.2\n");
	assert_int_equal(occurrences(VSTR_STR(logged), "private/anvil"), 1);
	fake_done(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_smtpd_anvil_count_limit_421,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_smtpd_anvil_rate_limit_421,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_anvil_message_and_recipient_rates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_anvil_unset_limits_are_not_asked, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_smtpd_anvil_exempt_and_ipv6,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_anvil_down_warns_once_and_serves, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
