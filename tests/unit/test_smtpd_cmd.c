/*
 * Unit tests for smtpd's command side (smtpd_cmd, smtpd_io, smtpd_log):
 * whole sessions against the in-memory world of smtpd_fake.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <strings.h>

#include "tests/unit/harness.h"
#include "tests/unit/smtpd_fake.h"

#include "util/flush_client.h"
#include "util/msg.h"

static VSTR *logged;

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
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	msg_output_reset();
	logged = vstr_free(logged);
	return 0;
}

#define RUN(f, par, text) \
	do { \
		fake_init((f), (text), sizeof(text) - 1); \
		fake_session((f), (par), "127.0.0.1"); \
	} while (0)

static void
expect_out(struct fake *f, const char *want)
{
	if (strcmp(VSTR_STR(f->out), want) != 0)
		fail_msg("replies:\n%s\nwanted:\n%s", VSTR_STR(f->out), want);
}

static void
test_smtpd_cmd_full_session(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	RUN(&f, &par,
	    "EHLO c.test\r\nMAIL FROM:<a@c.test>\r\n"
	    "RCPT TO:<u@mx.test>\r\nDATA\r\nSubject: x\r\n\r\n..hi\r\n.\r\n"
	    "QUIT\r\n");
	expect_out(&f, "220 mx.test ESMTP Postel\r\n"
		       "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
		       "250-VRFY\r\n250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n"
		       "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
		       "250 CHUNKING\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		       "354 End data with <CR><LF>.<CR><LF>\r\n"
		       "250 2.0.0 Ok: queued as FAKE1\r\n221 2.0.0 Bye\r\n");
	assert_string_equal(VSTR_STR(f.content), "Subject: x\r\n\r\n.hi\r\n");
	assert_string_equal(VSTR_STR(f.sender), "a@c.test");
	assert_int_equal(f.nrcpt, 1);
	assert_non_null(strstr(VSTR_STR(logged), "FAKE1: client=client.test"
						 "[127.0.0.1]"));
	assert_non_null(strstr(VSTR_STR(logged),
			       "disconnect from "
			       "client.test[127.0.0.1] ehlo=1 mail=1 rcpt=1 "
			       "data=1 quit=1 commands=5\n"));
	fake_done(&f);
}

static void
test_smtpd_cmd_pipelined_replies_in_one_write(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	static const char   in[] =
	    "EHLO c.test\r\n"
	    "MAIL FROM:<a@c.test>\r\nRCPT TO:<u@mx.test>\r\n"
	    "RCPT TO:<reject@mx.test>\r\nRCPT TO:<v@mx.test>\r\nRSET\r\n";

	(void)state;
	fake_params(&par);
	par.forbid_unauth_pipelining = true;
	fake_init(&f, in, sizeof(in) - 1);
	f.first_piece = strlen("EHLO c.test\r\n");
	fake_session(&f, &par, "127.0.0.1");
	assert_non_null(
	    strstr(VSTR_STR(f.out),
		   "250 CHUNKING\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		   "554 5.7.1 <reject@mx.test>: Recipient "
		   "address rejected\r\n250 2.1.5 Ok\r\n"
		   "250 2.0.0 Ok\r\n"));
	/* Greeting, EHLO reply, then all of the group's replies at once. */
	assert_int_equal(f.writes, 3);
	assert_non_null(strstr(VSTR_STR(logged),
			       "NOQUEUE: reject: "
			       "RCPT from client.test[127.0.0.1]: 554 "
			       "5.7.1 <reject@mx.test>: Recipient "
			       "address rejected; from=<a@c.test> "
			       "to=<reject@mx.test> proto=ESMTP "
			       "helo=<c.test>\n"));
	assert_non_null(strstr(VSTR_STR(logged), "rcpt=2/3 rset=1"));
	fake_done(&f);
}

static void
test_smtpd_cmd_long_line_skipped(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	char		   *in = mymalloc(20000);
	int		    n;

	(void)state;
	fake_params(&par);
	n = snprintf(in, 20000, "NOOP %0*d\r\nNOOP\r\nQUIT\r\n", 10000, 7);
	fake_init(&f, in, (size_t)n);
	f.piece = 1000;
	fake_session(&f, &par, "127.0.0.1");
	expect_out(&f, "220 mx.test ESMTP Postel\r\n"
		       "500 5.5.2 Error: line too long\r\n"
		       "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n");
	fake_done(&f);
	myfree(in);
}

static void
test_smtpd_cmd_line_at_limit_accepted(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	char		    in[4096];
	int		    n;

	(void)state;
	fake_params(&par);
	par.line_limit = 600;
	/* "NOOP " + 595 = 600 octets, then 601. */
	n = snprintf(in, sizeof(in), "NOOP %0*d\r\nNOOP %0*d\r\n", 595, 1, 596,
		     1);
	fake_init(&f, in, (size_t)n);
	fake_session(&f, &par, "127.0.0.1");
	expect_out(&f, "220 mx.test ESMTP Postel\r\n250 2.0.0 Ok\r\n"
		       "500 5.5.2 Error: line too long\r\n");
	fake_done(&f);
}

/* Run with every sleep of the tarpit marked "<sleep>" in the replies. */
static void
run_marked(struct fake *f, const struct smtpd_params *par, const char *in)
{
	fake_init(f, in, strlen(in));
	f->mark_sleeps = true;
	fake_session(f, par, "127.0.0.1");
}

static void
test_smtpd_cmd_hard_error_limit(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	par.hard_error_limit = 3;
	par.soft_error_limit = 2;
	run_marked(&f, &par, "X1\r\nX2\r\nX3\r\nNOOP\r\n");
	/* From the second error on every reply waits, the 421 too. */
	expect_out(&f, "220 mx.test ESMTP Postel\r\n"
		       "502 5.5.2 Error: command not recognized\r\n"
		       "502 5.5.2 Error: command not recognized\r\n"
		       "<sleep>502 5.5.2 Error: command not recognized\r\n"
		       "<sleep>421 4.7.0 mx.test Error: too many errors\r\n");
	assert_int_equal(f.sleeps, 2);
	assert_non_null(strstr(VSTR_STR(logged),
			       "too many errors after "
			       "UNKNOWN from client.test[127.0.0.1]"));
	assert_non_null(strstr(VSTR_STR(logged), "unknown=0/3 "
						 "commands=0/3\n"));
	fake_done(&f);
}

static void
test_smtpd_cmd_soft_limit_delays_every_reply_once(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	par.soft_error_limit = 1;
	run_marked(&f, &par, "X1\r\nNOOP\r\nEHLO c\r\nQUIT\r\n");
	/* 2xx replies too; the EHLO reply's lines wait once. */
	expect_out(&f, "220 mx.test ESMTP Postel\r\n"
		       "502 5.5.2 Error: command not recognized\r\n"
		       "<sleep>250 2.0.0 Ok\r\n"
		       "<sleep>250-mx.test\r\n250-PIPELINING\r\n"
		       "250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
		       "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
		       "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
		       "<sleep>221 2.0.0 Bye\r\n");
	assert_int_equal(f.sleeps, 3);
	fake_done(&f);
	/* Without the CHUNKING line the EHLO reply still waits once. */
	par.ehlo_discard = SMTPD_EHLO_CHUNKING;
	run_marked(&f, &par, "X1\r\nEHLO c\r\nNOOP\r\n");
	assert_non_null(strstr(VSTR_STR(f.out), "<sleep>250-mx.test\r\n"));
	assert_non_null(strstr(VSTR_STR(f.out), "250 SMTPUTF8\r\n"
						"<sleep>250 2.0.0 Ok\r\n"));
	assert_int_equal(f.sleeps, 2);
	fake_done(&f);
	/* smtpd_error_sleep_time = 0: no tarpit at all. */
	par.error_sleep = 0;
	run_marked(&f, &par, "X1\r\nX2\r\nNOOP\r\n");
	assert_int_equal(f.sleeps, 0);
	fake_done(&f);
}

static void
test_smtpd_cmd_junk_limit(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	par.junk_limit = 2;
	par.hard_error_limit = 2;
	/*
	 * HELO and EHLO are junk as well.  As in Postfix, limit + 1 junk
	 * commands are free; the 4th and 5th cost an error each.
	 */
	RUN(&f, &par, "EHLO c\r\nHELO c\r\nRSET\r\nNOOP\r\nVRFY u\r\nNOOP\r\n");
	assert_non_null(strstr(VSTR_STR(f.out),
			       "250 CHUNKING\r\n250 mx.test\r\n"
			       "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
			       "252 2.0.0 u\r\n"
			       "421 4.7.0 mx.test Error: too many errors\r\n"));
	assert_int_equal(f.in_pos, f.in_len);
	assert_non_null(strstr(VSTR_STR(logged),
			       "too many errors after VRFY from "
			       "client.test[127.0.0.1]\n"));
	assert_non_null(strstr(VSTR_STR(logged),
			       "disconnect from client.test[127.0.0.1] "
			       "helo=1 ehlo=1 rset=1 noop=1 vrfy=1 "
			       "commands=5\n"));
	fake_done(&f);
}

static void
test_smtpd_cmd_delivered_message_forgives_errors(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	static const char   refused[] =
	    "X1\r\nX2\r\nEHLO c\r\nMAIL FROM:<a@c.test>\r\n"
	    "RCPT TO:<u@mx.test>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n";

	(void)state;
	fake_params(&par);
	par.soft_error_limit = 2;
	par.hard_error_limit = 3;
	par.junk_limit = 0;
	/*
	 * Without the reset X3 and X4 would be errors 3 and 4 (421 at
	 * once), and the NOOP, a second junk command, one more.
	 */
	run_marked(&f, &par,
		   "X1\r\nX2\r\nEHLO c\r\nMAIL FROM:<a@c.test>\r\n"
		   "RCPT TO:<u@mx.test>\r\nDATA\r\nx\r\n.\r\n"
		   "X3\r\nX4\r\nNOOP\r\nQUIT\r\n");
	assert_non_null(strstr(VSTR_STR(f.out),
			       "502 5.5.2 Error: command not recognized\r\n"
			       "<sleep>250-mx.test\r\n"));
	assert_non_null(strstr(VSTR_STR(f.out),
			       "<sleep>250 2.1.0 Ok\r\n"
			       "<sleep>250 2.1.5 Ok\r\n"
			       "<sleep>354 End data with <CR><LF>.<CR><LF>\r\n"
			       "250 2.0.0 Ok: queued as FAKE1\r\n"
			       "502 5.5.2 Error: command not recognized\r\n"
			       "502 5.5.2 Error: command not recognized\r\n"
			       "<sleep>250 2.0.0 Ok\r\n"
			       "<sleep>221 2.0.0 Bye\r\n"));
	assert_null(strstr(VSTR_STR(f.out), "421"));
	fake_done(&f);
	/* A refused message forgives nothing: it is error 3. */
	fake_init(&f, refused, sizeof(refused) - 1);
	f.finish_reply = "550 5.7.1 no thanks";
	fake_session(&f, &par, "127.0.0.1");
	assert_non_null(strstr(VSTR_STR(f.out),
			       "550 5.7.1 no thanks\r\n"
			       "421 4.7.0 mx.test Error: too many errors\r\n"));
	fake_done(&f);
}

static void
test_smtpd_cmd_disconnect_line_postfix_order(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	/* The client leaves after its message: no "lost connection". */
	RUN(&f, &par,
	    "EHLO c\r\nMAIL FROM:<a@c.test>\r\nAUTH PLAIN\r\n"
	    "RCPT TO:<u@mx.test>\r\nDATA\r\nx\r\n.\r\n");
	assert_non_null(strstr(VSTR_STR(logged),
			       "disconnect from client.test[127.0.0.1] "
			       "ehlo=1 auth=0/1 mail=1 rcpt=1 data=1 "
			       "commands=4/5\n"));
	assert_null(strstr(VSTR_STR(logged), "lost connection"));
	fake_done(&f);
}

static void
test_smtpd_cmd_sequence_errors(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	par.helo_required = true;
	RUN(&f, &par,
	    "MAIL FROM:<a@c.test>\r\nRCPT TO:<u@mx.test>\r\n"
	    "DATA\r\nHELO c.test\r\nMAIL FROM:<a@c.test>\r\n"
	    "MAIL FROM:<a@c.test>\r\nDATA\r\nDATA x\r\nRCPT TO:<@@>\r\n"
	    "MAIL FROM:<a@c.test> DSN=1\r\nQUIT now\r\nETRN\r\n");
	expect_out(&f,
		   "220 mx.test ESMTP Postel\r\n"
		   "503 5.5.1 Error: send HELO/EHLO first\r\n"
		   "503 5.5.1 Error: need MAIL command\r\n"
		   "503 5.5.1 Error: need RCPT command\r\n"
		   "250 mx.test\r\n250 2.1.0 Ok\r\n"
		   "503 5.5.1 Error: nested MAIL command\r\n"
		   "554 5.5.1 Error: no valid recipients\r\n"
		   "501 5.5.4 Syntax: DATA\r\n"
		   "501 5.1.3 Bad recipient address syntax (bad domain name)"
		   "\r\n503 5.5.1 Error: nested MAIL command\r\n"
		   "501 5.5.4 Syntax: QUIT\r\n"
		   "503 5.5.1 Error: MAIL transaction in progress\r\n");
	fake_done(&f);
}

static void
test_smtpd_cmd_size_and_recipient_limits(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	par.recipient_limit = 1;
	par.size_limit = 10;
	RUN(&f, &par,
	    "EHLO c\r\nMAIL FROM:<a@c.test> SIZE=11\r\n"
	    "MAIL FROM:<a@c.test> SIZE=10\r\nRCPT TO:<u@mx.test>\r\n"
	    "RCPT TO:<v@mx.test>\r\nDATA\r\n0123456789\r\n.\r\nQUIT\r\n");
	assert_non_null(strstr(VSTR_STR(f.out),
			       "552 5.3.4 Message size exceeds fixed limit\r\n"
			       "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
			       "452 4.5.3 Error: too many recipients\r\n354 "));
	assert_non_null(strstr(VSTR_STR(f.out),
			       "<CR><LF>.<CR><LF>\r\n"
			       "552 5.3.4 Message size exceeds fixed limit\r\n"
			       "221 2.0.0 Bye\r\n"));
	assert_int_equal(f.queued, 0);
	assert_int_equal(f.aborts, 1);
	fake_done(&f);
}

static void
test_smtpd_cmd_timeout_and_lost_connection(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	fake_init(&f, "EHLO c\r\nMAIL FROM:<a@c.test>\r\n", 30);
	f.timeout_at_end = true;
	fake_session(&f, &par, "127.0.0.1");
	assert_non_null(strstr(VSTR_STR(f.out), "421 4.4.2 mx.test Error: "
						"timeout exceeded\r\n"));
	assert_non_null(strstr(VSTR_STR(logged), "timeout after MAIL from "
						 "client.test[127.0.0.1]"));
	fake_done(&f);
	RUN(&f, &par,
	    "EHLO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<u@mx.test>\r\n"
	    "DATA\r\nSubject: x\r\n");
	assert_non_null(strstr(VSTR_STR(logged),
			       "lost connection after DATA (12 bytes) "
			       "from client.test[127.0.0.1]\n"));
	assert_int_equal(f.aborts, 1);
	assert_int_equal(f.queued, 0);
	fake_done(&f);
}

static void
test_smtpd_cmd_cleanup_failures_are_4xx(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	static const char   in[] =
	    "EHLO c\r\nMAIL FROM:<a@c.test>\r\n"
	    "RCPT TO:<u@mx.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n";

	(void)state;
	fake_params(&par);
	fake_init(&f, in, sizeof(in) - 1);
	f.fail_begin = true;
	fake_session(&f, &par, "127.0.0.1");
	assert_non_null(strstr(VSTR_STR(f.out),
			       "250 2.1.5 Ok\r\n451 4.3.0 "
			       "Error: queue file write error\r\n"));
	assert_null(strstr(VSTR_STR(f.out), "354"));
	fake_done(&f);
	fake_init(&f, in, sizeof(in) - 1);
	f.lose_cleanup = true;
	fake_session(&f, &par, "127.0.0.1");
	assert_non_null(strstr(VSTR_STR(f.out),
			       "<CR><LF>\r\n451 4.3.0 "
			       "Error: queue file write error\r\n221"));
	fake_done(&f);
}

static void
test_smtpd_cmd_discard_and_hold_flags(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	RUN(&f, &par,
	    "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<hold@mx.test>\r\n"
	    "RCPT TO:<discard@mx.test>\r\nDATA\r\nx\r\n.\r\n");
	assert_int_equal(f.flags, CLEANUP_FLAG_HOLD | CLEANUP_FLAG_DISCARD);
	assert_string_equal(VSTR_STR(f.sender), "");
	fake_done(&f);
}

static void
test_smtpd_cmd_filter_last_wins_over_content_filter(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	par.content_filter = "scan:[127.0.0.1]:10025";
	par.receive_override = 0xf;
	RUN(&f, &par,
	    "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<plain@mx.test>\r\n"
	    "DATA\r\nx\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<filter1@mx.test>\r\n"
	    "RCPT TO:<filter2@mx.test>\r\nDATA\r\nx\r\n.\r\n");
	/* The last message: the last FILTER; only cleanup's bits go. */
	assert_non_null(
	    strstr(VSTR_STR(f.req), "filter=scan:[127.0.0.1]:2@mx.test "));
	assert_non_null(strstr(VSTR_STR(f.req), "override=14"));
	fake_done(&f);
	RUN(&f, &par,
	    "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<plain@mx.test>\r\n"
	    "DATA\r\nx\r\n.\r\n");
	assert_non_null(
	    strstr(VSTR_STR(f.req), "filter=scan:[127.0.0.1]:10025 "));
	fake_done(&f);
}

static void
test_smtpd_cmd_xforward(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	/* Not authorized: not announced, refused. */
	RUN(&f, &par, "EHLO c\r\nXFORWARD ADDR=192.0.2.1\r\nQUIT\r\n");
	assert_null(strstr(VSTR_STR(f.out), "XFORWARD"));
	assert_non_null(strstr(VSTR_STR(f.out), "550 5.7.0 Error: "
						"insufficient authorization"));
	fake_done(&f);
	par.xforward_hosts = "127.0.0.0/8";
	RUN(&f, &par,
	    "EHLO c\r\nXFORWARD NAME=mx.example ADDR=192.0.2.1 PORT=99\r\n"
	    "XFORWARD HELO=orig PROTO=SMTP IDENT=Q1 SOURCE=REMOTE\r\n"
	    "XFORWARD BOGUS=1\r\n"
	    "MAIL FROM:<>\r\nXFORWARD NAME=late\r\nRCPT TO:<u@mx.test>\r\n"
	    "DATA\r\nx\r\n.\r\n"
	    "MAIL FROM:<>\r\nRCPT TO:<u@mx.test>\r\nDATA\r\nx\r\n.\r\n");
	assert_non_null(strstr(VSTR_STR(f.out),
			       "250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT "
			       "IDENT\r\n"));
	assert_non_null(strstr(VSTR_STR(f.out), "501 5.5.4 Bad XFORWARD "
						"attribute name: BOGUS"));
	assert_non_null(strstr(VSTR_STR(f.out), "503 5.5.1 Error: MAIL "
						"transaction in progress"));
	assert_non_null(strstr(VSTR_STR(logged),
			       "FAKE1: client=client.test[127.0.0.1], "
			       "orig_queue_id=Q1, "
			       "orig_client=mx.example[192.0.2.1]\n"));
	/* Forgotten after the first message. */
	assert_non_null(
	    strstr(VSTR_STR(logged), "FAKE2: client=client.test[127.0.0.1]\n"));
	assert_string_equal(VSTR_STR(f.req),
			    "filter=- client=client.test[127.0.0.1]:1025 "
			    "helo=c proto=ESMTP override=0");
	fake_done(&f);
}

static void
test_smtpd_cmd_bdat(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	RUN(&f, &par,
	    "EHLO c\r\nBDAT 4\r\nabcdNOOP\r\n"
	    "MAIL FROM:<a@c.test>\r\nRCPT TO:<u@mx.test>\r\n"
	    "BDAT 5\r\nab\ncdBDAT 0 LAST\r\nQUIT\r\n");
	assert_non_null(strstr(VSTR_STR(f.out),
			       "503 5.5.1 Error: need RCPT command\r\n"
			       "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n"
			       "250 2.1.5 Ok\r\n250 2.0.0 Ok: 5 bytes\r\n"
			       "250 2.0.0 Ok: queued as FAKE1\r\n"
			       "221 2.0.0 Bye\r\n"));
	assert_string_equal(VSTR_STR(f.content), "ab\r\ncd\r\n");
	assert_non_null(strstr(VSTR_STR(logged), "bdat=2/3"));
	fake_done(&f);
}

static void
test_smtpd_cmd_forbidden_pipelining(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	par.forbid_unauth_pipelining = true;
	RUN(&f, &par, "HELO c\r\nMAIL FROM:<a@c.test>\r\n");
	expect_out(&f, "220 mx.test ESMTP Postel\r\n"
		       "554 5.5.0 Error: SMTP protocol synchronization\r\n");
	assert_non_null(strstr(VSTR_STR(logged),
			       "improper command "
			       "pipelining after HELO from client.test"));
	fake_done(&f);
}

static void
test_smtpd_cmd_peer_match_list(void **state)
{
	(void)state;
	assert_true(
	    smtpd_peer_match_list("127.0.0.0/8 [::1]/128", "127.1.2.3"));
	assert_true(smtpd_peer_match_list("10.0.0.1, [::1]/128", "::1"));
	assert_false(smtpd_peer_match_list("127.0.0.0/8", "10.0.0.1"));
	assert_false(
	    smtpd_peer_match_list("!127.0.0.2 127.0.0.0/8", "127.0.0.2"));
	assert_true(
	    smtpd_peer_match_list("hash:/x 192.168.0.0/16", "192.168.3.4"));
	assert_false(smtpd_peer_match_list("127.0.0.0/99 junk", "127.0.0.1"));
	assert_true(smtpd_peer_match_list("2001:db8::/32", "2001:db8::5"));
}

/* A milter's multi-line reply from cleanup keeps its lines; one cut
 * short by cleanup's bound still ends the reply. */
static void
test_smtpd_cmd_multiline_end_of_data_reply(void **state)
{
	static const char in[] = "EHLO c.test\r\nMAIL FROM:<a@c.test>\r\n"
				 "RCPT TO:<u@mx.test>\r\nDATA\r\nx\r\n.\r\n"
				 "QUIT\r\n";
	const char	 *replies[] = {
		      "550-5.7.0 first line\r\n550 5.7.0 second line",
		      "550-5.7.0 first line\r\n550-5.7.0 cut sh",
	};
	const char *want[] = {
		"550-5.7.0 first line\r\n550 5.7.0 second line\r\n",
		"550-5.7.0 first line\r\n550 5.7.0 cut sh\r\n",
	};
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	for (size_t i = 0; i < 2; i++) {
		fake_init(&f, in, sizeof(in) - 1);
		f.finish_reply = replies[i];
		fake_session(&f, &par, "127.0.0.1");
		if (strstr(VSTR_STR(f.out), want[i]) == NULL)
			fail_msg("replies:\n%s\nwanted:\n%s", VSTR_STR(f.out),
				 want[i]);
		assert_non_null(strstr(VSTR_STR(f.out), "221 2.0.0 Bye\r\n"));
		fake_done(&f);
	}
}

/* The flush hook: the reply status follows the site's first label. */
static int
etrn_flush(void *ctx, const char *site)
{
	struct fake *f = ctx;

	vstr_sprintf_append(f->req, "[%s]", site);
	if (strncasecmp(site, "ok.", 3) == 0)
		return FLUSH_STAT_OK;
	if (strncmp(site, "deny.", 5) == 0)
		return FLUSH_STAT_DENY;
	if (strncmp(site, "bad.", 4) == 0)
		return FLUSH_STAT_BAD;
	return FLUSH_STAT_FAIL;
}

static void
etrn_session(struct fake *f, const char *in, bool with_flush)
{
	struct smtpd_params par;
	struct smtpd_hooks  hooks = fake_hooks;
	struct smtpd_peer   peer = { .name = "client.test",
				     .addr = "127.0.0.1",
				     .port = "1025" };
	SMTPD_STATE	   *st;

	fake_params(&par);
	fake_init(f, in, strlen(in));
	if (with_flush)
		hooks.flush = etrn_flush;
	fake_current = f;
	st = smtpd_state_create(&par, &hooks, f, f, &peer);
	smtpd_session(st);
	smtpd_state_free(st);
	fake_current = NULL;
}

static void
test_smtpd_cmd_etrn_replies(void **state)
{
	struct fake f;

	(void)state;
	etrn_session(&f,
		     "ETRN ok.test\r\n"
		     "EHLO c.test\r\n"
		     "ETRN\r\n"
		     "ETRN a b\r\n"
		     "ETRN ok.test\r\n"
		     "ETRN @ok.test\r\n"
		     "ETRN #OK.test\r\n"
		     "ETRN deny.test\r\n"
		     "ETRN bad.test\r\n"
		     "ETRN down.test\r\n"
		     "ETRN [192.0.2.1]\r\n"
		     "ETRN bad..test\r\n"
		     "ETRN -x.test\r\n"
		     "ETRN x-.test\r\n"
		     "ETRN [192.0.2.1\r\n"
		     "ETRN a_b.test\r\n"
		     "MAIL FROM:<a@c.test>\r\n"
		     "ETRN ok.test\r\n"
		     "QUIT\r\n",
		     true);
	assert_non_null(strstr(VSTR_STR(f.out),
			       "503 5.5.1 Error: send HELO/EHLO first\r\n"));
	const char *after_ehlo = strstr(VSTR_STR(f.out), "250 CHUNKING\r\n");

	assert_non_null(after_ehlo);
	assert_string_equal(after_ehlo + strlen("250 CHUNKING\r\n"),
			    "500 5.5.2 Syntax: ETRN domain\r\n"
			    "500 5.5.2 Syntax: ETRN domain\r\n"
			    "250 Queuing started\r\n"
			    "250 Queuing started\r\n"
			    "250 Queuing started\r\n"
			    "459 <deny.test>: service unavailable\r\n"
			    "458 Unable to queue messages\r\n"
			    "458 Unable to queue messages\r\n"
			    "458 Unable to queue messages\r\n"
			    "501 Error: invalid parameter syntax\r\n"
			    "501 Error: invalid parameter syntax\r\n"
			    "501 Error: invalid parameter syntax\r\n"
			    "501 Error: invalid parameter syntax\r\n"
			    "501 Error: invalid parameter syntax\r\n"
			    "250 2.1.0 Ok\r\n"
			    "503 5.5.1 Error: MAIL transaction in progress\r\n"
			    "221 2.0.0 Bye\r\n");
	/* What reached the service: '@' and '#' dropped, case kept. */
	assert_string_equal(VSTR_STR(f.req),
			    "[ok.test][ok.test][OK.test][deny.test][bad.test]"
			    "[down.test][[192.0.2.1]]");
	assert_non_null(strstr(VSTR_STR(logged), "reject: ETRN deny.test"));
	assert_non_null(strstr(VSTR_STR(logged), "bad ETRN bad.test"));
	fake_done(&f);
	/* No flush service (stand-alone smtpd): 458 and a warning. */
	vstr_reset(logged);
	etrn_session(&f, "HELO c.test\r\nETRN ok.test\r\nQUIT\r\n", false);
	assert_non_null(
	    strstr(VSTR_STR(f.out), "\r\n458 Unable to queue messages\r\n"));
	assert_non_null(strstr(VSTR_STR(logged), "no fast flush service"));
	fake_done(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_smtpd_cmd_full_session,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_cmd_pipelined_replies_in_one_write, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_smtpd_cmd_long_line_skipped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_cmd_line_at_limit_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smtpd_cmd_hard_error_limit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_cmd_soft_limit_delays_every_reply_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_smtpd_cmd_junk_limit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_cmd_delivered_message_forgives_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_cmd_disconnect_line_postfix_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_smtpd_cmd_sequence_errors,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_cmd_size_and_recipient_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_cmd_timeout_and_lost_connection, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_cmd_cleanup_failures_are_4xx, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_cmd_discard_and_hold_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_cmd_filter_last_wins_over_content_filter, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_smtpd_cmd_xforward, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_smtpd_cmd_bdat, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_smtpd_cmd_forbidden_pipelining,
						setup, teardown),
		cmocka_unit_test(test_smtpd_cmd_peer_match_list),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_cmd_multiline_end_of_data_reply, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_smtpd_cmd_etrn_replies,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
