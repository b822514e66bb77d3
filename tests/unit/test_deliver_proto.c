/*
 * Unit tests for util/deliver_proto: request and reply round trips through
 * the wire frame, and rejection of malformed or inconsistent frames.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/addr.h"
#include "util/attr.h"
#include "util/deliver_proto.h"
#include "util/rec.h"
#include "util/vstr.h"

static struct deliver_rcpt test_rcpts[] = {
	{ "a@example.com", "A@Example.com", "rfc822;a@example.com",
	  REC_NOTIFY_SUCCESS | REC_NOTIFY_FAILURE, 123 },
	{ "b@example.com", NULL, NULL, 0, 456 },
};

static void
test_request_fill(struct deliver_request *req)
{
	memset(req, 0, sizeof(*req));
	req->queue_name = "active";
	req->queue_id = "2Bm4xPW8kQz3hJ";
	req->transport = "smtp";
	req->nexthop = "[127.0.0.2]:2525";
	req->sender = "";
	req->envid = "env 1";
	req->ret = ADDR_RET_HDRS;
	req->smtputf8 = true;
	req->body_type = ADDR_BODY_8BITMIME;
	req->arrival_sec = 1700000000;
	req->arrival_usec = 42;
	req->message_size = 1000;
	req->content_offset = 300;
	req->qmgr_time = 1700000005;
	req->client_addr = "192.0.2.1";
	req->rcpts = test_rcpts;
	req->nrcpt = 2;
}

/* Encode, put on the wire, decode the wire. */
static void
test_wire(const ATTR *in, ATTR *out)
{
	VSTR *buf = vstr_alloc(100);

	attr_encode(in, buf);
	assert_int_equal(attr_decode(VSTR_STR(buf), VSTR_LEN(buf), out, NULL),
			 0);
	vstr_free(buf);
}

static void
test_deliver_proto_request_round_trip(void **state)
{
	struct deliver_request req, got;
	ATTR		      *a = attr_alloc();
	ATTR		      *b = attr_alloc();
	VSTR		      *why = vstr_alloc(10);

	(void)state;
	test_request_fill(&req);
	assert_int_equal(deliver_request_encode(&req, a), 0);
	test_wire(a, b);
	assert_int_equal(deliver_request_decode(b, &got, why), 0);
	assert_string_equal(got.queue_id, req.queue_id);
	assert_string_equal(got.nexthop, "[127.0.0.2]:2525");
	assert_string_equal(got.sender, "");
	assert_string_equal(got.envid, "env 1");
	assert_null(got.client_name);
	assert_string_equal(got.client_addr, "192.0.2.1");
	assert_int_equal(got.ret, ADDR_RET_HDRS);
	assert_true(got.smtputf8);
	assert_false(got.requiretls); /* absent from the frame: 0 */
	assert_int_equal(got.body_type, ADDR_BODY_8BITMIME);
	assert_int_equal(got.arrival_sec, 1700000000);
	assert_int_equal(got.arrival_usec, 42);
	assert_int_equal(got.content_offset, 300);
	assert_int_equal(got.qmgr_time, 1700000005);
	assert_int_equal(got.nrcpt, 2);
	assert_string_equal(got.rcpts[0].addr, "a@example.com");
	assert_string_equal(got.rcpts[0].orig, "A@Example.com");
	assert_string_equal(got.rcpts[0].orcpt, "rfc822;a@example.com");
	assert_int_equal(got.rcpts[0].notify,
			 REC_NOTIFY_SUCCESS | REC_NOTIFY_FAILURE);
	assert_int_equal(got.rcpts[0].offset, 123);
	assert_null(got.rcpts[1].orig);
	assert_null(got.rcpts[1].orcpt);
	assert_int_equal(got.rcpts[1].offset, 456);
	deliver_request_release(&got);
	assert_null(got.rcpts);
	deliver_request_release(&got); /* twice is harmless */
	/* requiretls (RFC 8689) travels when set. */
	req.requiretls = true;
	attr_free(a);
	attr_free(b);
	a = attr_alloc();
	b = attr_alloc();
	assert_int_equal(deliver_request_encode(&req, a), 0);
	test_wire(a, b);
	assert_int_equal(deliver_request_decode(b, &got, why), 0);
	assert_true(got.requiretls);
	deliver_request_release(&got);
	attr_free(a);
	attr_free(b);
	vstr_free(why);
}

static void
test_deliver_proto_request_rejects_bad_frames(void **state)
{
	struct deliver_request req, got;
	ATTR		      *a = attr_alloc();
	VSTR		      *why = vstr_alloc(10);

	(void)state;
	test_request_fill(&req);

	assert_int_equal(deliver_request_encode(&req, a), 0);
	attr_del(a, "rcpt.1.addr");
	assert_int_equal(deliver_request_decode(a, &got, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "rcpt.1.addr"));
	assert_null(got.rcpts);

	assert_int_equal(deliver_request_encode(&req, a), 0);
	attr_put_str(a, "nrcpt", "1001");
	assert_int_equal(deliver_request_decode(a, &got, why), -1);

	assert_int_equal(deliver_request_encode(&req, a), 0);
	attr_put_str(a, "ret", "7");
	assert_int_equal(deliver_request_decode(a, &got, why), -1);

	assert_int_equal(deliver_request_encode(&req, a), 0);
	attr_put_data(a, "sender", "a\0b", 3);
	assert_int_equal(deliver_request_decode(a, &got, why), -1);

	assert_int_equal(deliver_request_encode(&req, a), 0);
	attr_put_str(a, "request", "other");
	assert_int_equal(deliver_request_decode(a, &got, why), -1);

	assert_int_equal(deliver_request_encode(&req, a), 0);
	attr_put_str(a, "rcpt.0.notify", "16");
	assert_int_equal(deliver_request_decode(a, &got, why), -1);

	assert_int_equal(deliver_request_encode(&req, a), 0);
	attr_put_str(a, "rcpt.0.offset", "-1");
	assert_int_equal(deliver_request_decode(a, &got, why), -1);

	req.nrcpt = 0;
	assert_int_equal(deliver_request_encode(&req, a), -1);
	attr_free(a);
	vstr_free(why);
}

static void
test_deliver_proto_reply_round_trip(void **state)
{
	struct deliver_status st[3], got[3];
	ATTR		     *a = attr_alloc();
	ATTR		     *b = attr_alloc();
	VSTR		     *why = vstr_alloc(10);

	(void)state;
	deliver_status_set(st + 0, DELIVER_SENT, "2.0.0",
			   "250 2.0.0 Ok: queued as X", "mx[192.0.2.1]:25");
	st[0].diag_type = "smtp";
	st[0].remote_mta = "mx.example.com";
	deliver_status_set(st + 1, DELIVER_DEFERRED, "4.4.1",
			   "connect to x: Connection refused", NULL);
	deliver_status_set(st + 2, DELIVER_BOUNCED, "5.1.10", "null MX",
			   "none");
	assert_int_equal(deliver_reply_encode(st, 3, a), 0);
	test_wire(a, b);
	assert_int_equal(deliver_reply_decode(b, got, 3, why), 0);
	assert_int_equal(got[0].action, DELIVER_SENT);
	assert_string_equal(got[0].dsn, "2.0.0");
	assert_string_equal(got[0].reply, "250 2.0.0 Ok: queued as X");
	assert_string_equal(got[0].relay, "mx[192.0.2.1]:25");
	assert_string_equal(got[0].diag_type, "smtp");
	assert_string_equal(got[0].remote_mta, "mx.example.com");
	assert_int_equal(got[1].action, DELIVER_DEFERRED);
	assert_string_equal(got[1].relay, "none");
	assert_null(got[1].diag_type);
	assert_int_equal(got[2].action, DELIVER_BOUNCED);
	assert_string_equal(got[2].dsn, "5.1.10");
	/* Count mismatch */
	assert_int_equal(deliver_reply_decode(b, got, 2, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "expected 2"));
	attr_free(a);
	attr_free(b);
	vstr_free(why);
}

static void
test_deliver_proto_reply_rejects_inconsistent_status(void **state)
{
	struct deliver_status st, got;
	ATTR		     *a = attr_alloc();
	VSTR		     *why = vstr_alloc(10);

	(void)state;
	deliver_status_set(&st, DELIVER_SENT, "2.0.0", "ok", "r");
	st.action = DELIVER_BOUNCED; /* 2.x.x with bounced */
	assert_int_equal(deliver_reply_encode(&st, 1, a), -1);

	deliver_status_set(&st, DELIVER_SENT, "2.0.0", "ok", "r");
	assert_int_equal(deliver_reply_encode(&st, 1, a), 0);
	attr_put_str(a, "st.0.dsn", "5.0.0");
	assert_int_equal(deliver_reply_decode(a, &got, 1, why), -1);
	attr_put_str(a, "st.0.dsn", "2.0.0");
	attr_put_str(a, "st.0.action", "maybe");
	assert_int_equal(deliver_reply_decode(a, &got, 1, why), -1);
	attr_put_str(a, "st.0.action", "sent");
	assert_int_equal(deliver_reply_decode(a, &got, 1, why), 0);

	deliver_reply_encode_error("cannot parse", a);
	assert_int_equal(deliver_reply_decode(a, &got, 1, why), -1);
	assert_string_equal(VSTR_STR(why), "cannot parse");
	attr_free(a);
	vstr_free(why);
}

static void
test_deliver_proto_dsn_syntax(void **state)
{
	(void)state;
	assert_true(deliver_dsn_valid("2.0.0"));
	assert_true(deliver_dsn_valid("5.1.10"));
	assert_true(deliver_dsn_valid("4.999.999"));
	assert_false(deliver_dsn_valid("3.0.0"));
	assert_false(deliver_dsn_valid("5.0"));
	assert_false(deliver_dsn_valid("5..0"));
	assert_false(deliver_dsn_valid("5.1000.0"));
	assert_false(deliver_dsn_valid("5.0.0 "));
	assert_false(deliver_dsn_valid(""));
	assert_int_equal(deliver_dsn_class("4.4.1"), 4);
	assert_int_equal(deliver_dsn_class("x"), -1);
	EXPECT_FATAL(deliver_status_set(&(struct deliver_status){ 0 },
					DELIVER_SENT, "bad", "", NULL),
		     "bad dsn");
}

static void
test_deliver_proto_action_names(void **state)
{
	enum deliver_action a;

	(void)state;
	assert_string_equal(deliver_action_name(DELIVER_SENT), "sent");
	assert_string_equal(deliver_action_name(DELIVER_DEFERRED), "deferred");
	assert_string_equal(deliver_action_name(DELIVER_BOUNCED), "bounced");
	assert_null(deliver_action_name((enum deliver_action)9));
	assert_int_equal(deliver_action_parse("bounced", &a), 0);
	assert_int_equal(a, DELIVER_BOUNCED);
	assert_int_equal(deliver_action_parse("expired", &a), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deliver_proto_request_round_trip),
		cmocka_unit_test(test_deliver_proto_request_rejects_bad_frames),
		cmocka_unit_test(test_deliver_proto_reply_round_trip),
		cmocka_unit_test(
		    test_deliver_proto_reply_rejects_inconsistent_status),
		cmocka_unit_test(test_deliver_proto_dsn_syntax),
		cmocka_unit_test(test_deliver_proto_action_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
