/*
 * Unit tests for smtp/smtp_proto: the client's conversation against a
 * scripted server.  The server's replies are written into one end of a
 * socketpair before the client runs (the client reads replies in order,
 * so a script needs no thread); what the client sent is read back from
 * the same end afterwards.  Also dot-stuffing and line folding.
 *
 * SPDX-License-Identifier: ISC
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "smtp/smtp.h"
#include "util/addr.h"
#include "util/rec.h"

struct fixture {
	SMTP_STATE	       st;
	SMTP_SESSION	      *s;
	SMTP_DELIVERY	       d;
	struct deliver_request req;
	struct deliver_rcpt    rcpts[3];
	int		       server;
	char		       path[64];
};

static void
fx_queue_file(struct fixture *fx, const char *content)
{
	REC_WRITER     *w;
	struct rec_size size;
	int		fd;

	snprintf(fx->path, sizeof(fx->path), "/tmp/test_smtp_proto.XXXXXX");
	assert_true((fd = mkstemp(fx->path)) >= 0);
	w = rec_writer_create(fd);
	rec_put(w, REC_TYPE_TIME, "1 2", 3);
	rec_put(w, REC_TYPE_FROM, "s@x.test", 8);
	rec_put(w, REC_TYPE_RCPT, "a@y.test", 8);
	rec_put_content(w, content, strlen(content));
	assert_int_equal(rec_writer_finish(w), 0);
	rec_writer_size(w, &size);
	rec_writer_free(w);
	fx->req.content_offset = size.content_offset;
	fx->req.message_size = size.message_size;
	fx->d.qfd = fd;
}

static struct fixture *
fx_new(const char *script, size_t nrcpt, const char *content)
{
	struct fixture	  *fx = calloc(1, sizeof(*fx));
	int		   sv[2];
	static const char *addrs[] = { "a@y.test", "b@y.test", "c@y.test" };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fx->server = sv[1];
	assert_int_equal(write(sv[1], script, strlen(script)),
			 (ssize_t)strlen(script));
	fx->st.conf = (struct smtp_conf){
		.helo_name = "client.test",
		.connect_timeout = 5,
		.helo_timeout = 5,
		.mail_timeout = 5,
		.rcpt_timeout = 5,
		.data_init_timeout = 5,
		.data_xfer_timeout = 5,
		.data_done_timeout = 5,
		.quit_timeout = 5,
		.line_length_limit = 998,
		.default_port = 25,
		.always_send_ehlo = true,
	};
	fx->s = smtp_session_alloc(sv[0], "mx.y.test", "192.0.2.1", 25,
				   "y.test");
	for (size_t i = 0; i < nrcpt; i++)
		fx->rcpts[i] = (struct deliver_rcpt){ .addr = addrs[i] };
	fx->req = (struct deliver_request){
		.queue_name = "active",
		.queue_id = "QID",
		.transport = "smtp",
		.nexthop = "y.test",
		.sender = "s@x.test",
		.rcpts = fx->rcpts,
		.nrcpt = nrcpt,
	};
	fx_queue_file(fx, content);
	fx->d.req = &fx->req;
	fx->d.npending = nrcpt;
	fx->d.rcpt = calloc(nrcpt, sizeof(*fx->d.rcpt));
	for (size_t i = 0; i < nrcpt; i++) {
		fx->d.rcpt[i].reply = vstr_alloc(10);
		fx->d.rcpt[i].log = vstr_alloc(10);
		fx->d.rcpt[i].relay = vstr_alloc(10);
		fx->d.rcpt[i].remote_mta = vstr_alloc(10);
	}
	return fx;
}

/* Everything the client wrote, as a C string (caller frees). */
static char *
fx_sent(struct fixture *fx)
{
	char   *buf = calloc(1, 65536);
	size_t	len = 0;
	ssize_t n;

	fcntl(fx->server, F_SETFL, O_NONBLOCK);
	while (len < 65535
	       && (n = read(fx->server, buf + len, 65535 - len)) > 0)
		len += (size_t)n;
	return buf;
}

static void
fx_free(struct fixture *fx)
{
	for (size_t i = 0; i < fx->req.nrcpt; i++) {
		vstr_free(fx->d.rcpt[i].reply);
		vstr_free(fx->d.rcpt[i].log);
		vstr_free(fx->d.rcpt[i].relay);
		vstr_free(fx->d.rcpt[i].remote_mta);
	}
	free(fx->d.rcpt);
	smtp_session_free(fx->s);
	close(fx->server);
	close(fx->d.qfd);
	unlink(fx->path);
	free(fx);
}

static void
test_smtp_proto_pipelined_transaction(void **state)
{
	struct fixture *fx =
	    fx_new("220 mx ESMTP\r\n"
		   "250-mx\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"
		   "250 2.1.0 ok\r\n"
		   "250 2.1.5 ok\r\n550 5.1.1 no such user\r\n451 4.2.0 later\r\n"
		   "354 go\r\n"
		   "250 2.0.0 Ok: queued as Q1\r\n",
		   3, "Subject: x\r\n\r\n.dot\r\nbody\r\n");
	char *sent;

	(void)state;
	assert_int_equal(smtp_proto_helo(&fx->st, fx->s, &fx->d), SMTP_STEP_OK);
	assert_true(fx->s->features & SMTP_FEATURE_PIPELINING);
	assert_int_equal(fx->s->size_limit, 1000);
	assert_int_equal(smtp_proto_xfer(&fx->st, fx->s, &fx->d), SMTP_STEP_OK);
	sent = fx_sent(fx);
	assert_string_equal(
	    sent,
	    "EHLO client.test\r\n"
	    "MAIL FROM:<s@x.test> SIZE=26\r\n"
	    "RCPT TO:<a@y.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\n"
	    "DATA\r\n"
	    "Subject: x\r\n\r\n..dot\r\nbody\r\n.\r\n");
	assert_true(fx->d.rcpt[0].final);
	assert_int_equal(fx->d.rcpt[0].action, DELIVER_SENT);
	assert_string_equal(VSTR_STR(fx->d.rcpt[0].log),
			    "250 2.0.0 Ok: queued as Q1");
	assert_true(fx->d.rcpt[1].final);
	assert_int_equal(fx->d.rcpt[1].action, DELIVER_BOUNCED);
	assert_string_equal(fx->d.rcpt[1].dsn, "5.1.1");
	assert_string_equal(VSTR_STR(fx->d.rcpt[1].log),
			    "host mx.y.test[192.0.2.1] said: 550 5.1.1 no such "
			    "user (in reply to RCPT TO command)");
	assert_string_equal(VSTR_STR(fx->d.rcpt[1].reply),
			    "550 5.1.1 no such user");
	/* 4xx: not final, the next server may take it. */
	assert_false(fx->d.rcpt[2].final);
	assert_string_equal(fx->d.rcpt[2].dsn, "4.2.0");
	assert_int_equal(fx->d.npending, 1);
	free(sent);
	fx_free(fx);
}

/* smtp_always_send_ehlo = no: EHLO only when the greeting says ESMTP. */
static void
test_smtp_proto_ehlo_only_for_esmtp_greeting(void **state)
{
	struct fixture *fx = fx_new("220 mx.y.test ESMTP ready\r\n"
				    "250 mx.y.test\r\n",
				    1, "x\r\n");
	struct fixture *old = fx_new("220 mx.y.test ready\r\n"
				     "250 mx.y.test\r\n",
				     1, "x\r\n");
	char	       *sent;

	(void)state;
	fx->st.conf.always_send_ehlo = false;
	old->st.conf.always_send_ehlo = false;
	assert_int_equal(smtp_proto_helo(&fx->st, fx->s, &fx->d), SMTP_STEP_OK);
	assert_int_equal(smtp_proto_helo(&old->st, old->s, &old->d),
			 SMTP_STEP_OK);
	sent = fx_sent(fx);
	assert_string_equal(sent, "EHLO client.test\r\n");
	free(sent);
	sent = fx_sent(old);
	assert_string_equal(sent, "HELO client.test\r\n");
	free(sent);
	fx_free(fx);
	fx_free(old);
}

static void
test_smtp_proto_helo_fallback_and_lockstep(void **state)
{
	struct fixture *fx = fx_new("220 old server\r\n"
				    "502 what?\r\n"
				    "250 old\r\n"
				    "250 ok\r\n"
				    "250 ok\r\n"
				    "354 go\r\n"
				    "250 done\r\n",
				    1, "no final newline");
	char	       *sent;

	(void)state;
	assert_int_equal(smtp_proto_helo(&fx->st, fx->s, &fx->d), SMTP_STEP_OK);
	assert_int_equal(fx->s->features, 0);
	assert_int_equal(smtp_proto_xfer(&fx->st, fx->s, &fx->d), SMTP_STEP_OK);
	sent = fx_sent(fx);
	assert_string_equal(sent,
			    "EHLO client.test\r\nHELO client.test\r\n"
			    "MAIL FROM:<s@x.test>\r\nRCPT TO:<a@y.test>\r\nDATA\r\n"
			    "no final newline\r\n.\r\n");
	assert_int_equal(fx->d.rcpt[0].action, DELIVER_SENT);
	/* No enhanced code from the server: derived from the reply. */
	assert_string_equal(fx->d.rcpt[0].dsn, "2.0.0");
	free(sent);
	fx_free(fx);
}

static void
test_smtp_proto_greeting_421_is_soft(void **state)
{
	struct fixture *fx = fx_new("421 4.3.2 busy\r\n", 1, "x\r\n");

	(void)state;
	assert_int_equal(smtp_proto_helo(&fx->st, fx->s, &fx->d),
			 SMTP_STEP_NEXT);
	assert_false(fx->d.rcpt[0].final);
	assert_string_equal(VSTR_STR(fx->d.rcpt[0].log),
			    "host mx.y.test[192.0.2.1] refused to talk to me: "
			    "421 4.3.2 busy");
	fx_free(fx);
}

static void
test_smtp_proto_5xx_greeting_bounces_without_skip(void **state)
{
	struct fixture *fx = fx_new("554 5.7.1 go away\r\n", 1, "x\r\n");

	(void)state;
	fx->st.conf.skip_5xx_greeting = false;
	assert_int_equal(smtp_proto_helo(&fx->st, fx->s, &fx->d),
			 SMTP_STEP_NEXT);
	assert_true(fx->d.rcpt[0].final);
	assert_int_equal(fx->d.rcpt[0].action, DELIVER_BOUNCED);
	assert_string_equal(fx->d.rcpt[0].dsn, "5.7.1");
	fx_free(fx);
}

static void
test_smtp_proto_size_limit_bounces_before_mail(void **state)
{
	struct fixture *fx = fx_new("220 mx\r\n250-mx\r\n250 SIZE 10\r\n", 1,
				    "this message is longer than ten bytes\r\n");
	char	       *sent;

	(void)state;
	assert_int_equal(smtp_proto_helo(&fx->st, fx->s, &fx->d), SMTP_STEP_OK);
	assert_int_equal(smtp_proto_xfer(&fx->st, fx->s, &fx->d), SMTP_STEP_OK);
	assert_int_equal(fx->d.rcpt[0].action, DELIVER_BOUNCED);
	assert_string_equal(fx->d.rcpt[0].dsn, "5.3.4");
	sent = fx_sent(fx);
	assert_null(strstr(sent, "MAIL"));
	free(sent);
	fx_free(fx);
}

static void
test_smtp_proto_lost_connection_keeps_recipients_pending(void **state)
{
	struct fixture *fx = fx_new("220 mx\r\n250 mx\r\n250 ok\r\n", 1,
				    "x\r\n");

	(void)state;
	assert_int_equal(smtp_proto_helo(&fx->st, fx->s, &fx->d), SMTP_STEP_OK);
	shutdown(fx->server, SHUT_WR);
	assert_int_equal(smtp_proto_xfer(&fx->st, fx->s, &fx->d),
			 SMTP_STEP_NEXT);
	assert_false(fx->d.rcpt[0].final);
	assert_true(fx->s->broken);
	assert_string_equal(VSTR_STR(fx->d.rcpt[0].log),
			    "lost connection with mx.y.test[192.0.2.1] while "
			    "receiving the RCPT TO reply");
	fx_free(fx);
}

static void
test_smtp_proto_rejected_mail_fails_everyone(void **state)
{
	struct fixture *fx =
	    fx_new("220 mx\r\n250-mx\r\n250 PIPELINING\r\n"
		   "553 5.7.1 sender rejected\r\n503 5.5.1 need MAIL\r\n"
		   "503 5.5.1 need MAIL\r\n554 5.5.1 no valid recipients\r\n",
		   2, "x\r\n");

	(void)state;
	assert_int_equal(smtp_proto_helo(&fx->st, fx->s, &fx->d), SMTP_STEP_OK);
	assert_int_equal(smtp_proto_xfer(&fx->st, fx->s, &fx->d), SMTP_STEP_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(fx->d.rcpt[i].action, DELIVER_BOUNCED);
		assert_string_equal(fx->d.rcpt[i].dsn, "5.7.1");
		assert_non_null(strstr(VSTR_STR(fx->d.rcpt[i].log),
				       "(in reply to MAIL FROM command)"));
	}
	fx_free(fx);
}

static void
stuff(size_t limit, const char *const *pieces, const char *want)
{
	struct smtp_data sd = { .bol = true,
				.in_header = true,
				.limit = limit };
	VSTR		*out = vstr_alloc(10);

	for (; *pieces; pieces++)
		smtp_proto_stuff(&sd, out, *pieces, strlen(*pieces));
	assert_string_equal(VSTR_STR(out), want);
	vstr_free(out);
}

static void
test_smtp_proto_dot_stuffing_across_records(void **state)
{
	(void)state;
	stuff(0,
	      (const char *const[]){ ".a\r\n", ".", "b\r\n..c\r", "\n.", NULL },
	      "..a\r\n..b\r\n...c\r\n..");
	stuff(0, (const char *const[]){ "x.\r\n.\r\n", NULL }, "x.\r\n..\r\n");
}

/* Finding 1 of issue 9: a bare CR or LF never reaches the next hop. */
static void
test_smtp_proto_bare_cr_and_lf_leave_as_crlf_and_get_stuffed(void **state)
{
	struct smtp_data sd = { .bol = true, .in_header = true };
	VSTR		*out = vstr_alloc(10);

	(void)state;
	stuff(0, (const char *const[]){ "x\r.\rMAIL FROM:<s@x>\r\n", NULL },
	      "x\r\n..\r\nMAIL FROM:<s@x>\r\n");
	stuff(0, (const char *const[]){ "a\n.\nb\r\n\r\r\n", NULL },
	      "a\r\n..\r\nb\r\n\r\n\r\n");
	/* A CR at the end of a record: its LF (or not) is in the next. */
	stuff(0, (const char *const[]){ "a\r", ".\r", "\n.", "\r", "x", NULL },
	      "a\r\n..\r\n..\r\nx");
	/* The last line ends in CRLF whatever the file held. */
	smtp_proto_stuff(&sd, out, "h: v\n\nend\r", 10);
	smtp_proto_stuff_end(&sd, out);
	assert_string_equal(VSTR_STR(out), "h: v\r\n\r\nend\r\n");
	assert_false(sd.in_header);
	vstr_free(out);
}

static void
test_smtp_proto_folds_long_lines(void **state)
{
	char head[200];
	char want[300];

	(void)state;
	/* Header lines continue with a space, body lines just break. */
	memset(head, 'h', 100);
	memcpy(head + 100, "\r\n\r\n", 5);
	snprintf(want, sizeof(want), "%.80s\r\n %.20s\r\n\r\n", head,
		 head + 80);
	stuff(80, (const char *const[]){ head, NULL }, want);
	memset(head, 'b', 100);
	memcpy(head, "\r\n", 2);
	memcpy(head + 100, "\r\n", 3);
	snprintf(want, sizeof(want), "\r\n%.80s\r\n%.18s\r\n", head + 2,
		 head + 82);
	stuff(80, (const char *const[]){ head, NULL }, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtp_proto_pipelined_transaction),
		cmocka_unit_test(test_smtp_proto_helo_fallback_and_lockstep),
		cmocka_unit_test(test_smtp_proto_ehlo_only_for_esmtp_greeting),
		cmocka_unit_test(test_smtp_proto_greeting_421_is_soft),
		cmocka_unit_test(
		    test_smtp_proto_5xx_greeting_bounces_without_skip),
		cmocka_unit_test(
		    test_smtp_proto_size_limit_bounces_before_mail),
		cmocka_unit_test(
		    test_smtp_proto_lost_connection_keeps_recipients_pending),
		cmocka_unit_test(test_smtp_proto_rejected_mail_fails_everyone),
		cmocka_unit_test(test_smtp_proto_dot_stuffing_across_records),
		cmocka_unit_test(test_smtp_proto_folds_long_lines),
		cmocka_unit_test(
		    test_smtp_proto_bare_cr_and_lf_leave_as_crlf_and_get_stuffed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
