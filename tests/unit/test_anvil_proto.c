/*
 * Unit tests for util/anvil_proto (anvil(8) request and reply frames).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/anvil_proto.h"
#include "util/attr.h"
#include "util/vstr.h"

/* Encode, frame, decode the frame: what a peer would read. */
static void
wire(const ATTR *a, ATTR *back)
{
	VSTR *buf = vstr_alloc(64);

	attr_encode(a, buf);
	assert_int_equal(attr_decode(VSTR_STR(buf), VSTR_LEN(buf), back, NULL),
			 0);
	vstr_free(buf);
}

static void
test_anvil_proto_request_round_trip(void **state)
{
	ATTR		    *a = attr_alloc();
	ATTR		    *b = attr_alloc();
	struct anvil_request rq;

	(void)state;
	for (int i = 0; i < ANVIL_REQ_COUNT; i++) {
		anvil_request_encode(
		    &(struct anvil_request){ .req = (enum anvil_req)i,
					     .ident = "smtp:192.0.2.1" },
		    a);
		wire(a, b);
		assert_int_equal(anvil_request_decode(b, &rq, NULL), 0);
		assert_int_equal(rq.req, i);
		assert_string_equal(rq.ident, "smtp:192.0.2.1");
		assert_string_equal(attr_get_str(b, "request"),
				    anvil_req_name((enum anvil_req)i));
	}
	assert_string_equal(anvil_req_name(ANVIL_REQ_NEWTLS_REPORT),
			    "newtls_report");
	assert_null(anvil_req_name(ANVIL_REQ_COUNT));
	attr_free(a);
	attr_free(b);
}

static void
test_anvil_proto_request_rejects(void **state)
{
	ATTR		    *a = attr_alloc();
	VSTR		    *why = vstr_alloc(10);
	struct anvil_request rq;

	(void)state;
	assert_int_equal(anvil_request_decode(a, &rq, why), -1);
	assert_string_equal(VSTR_STR(why), "missing request");
	attr_put_str(a, "request", "explode");
	attr_put_str(a, "ident", "smtp:1.2.3.4");
	assert_int_equal(anvil_request_decode(a, &rq, why), -1);
	assert_string_equal(VSTR_STR(why), "unknown request");
	attr_put_str(a, "request", "connect");
	assert_int_equal(anvil_request_decode(a, &rq, why), 0);
	attr_put_str(a, "extra", "x");
	assert_int_equal(anvil_request_decode(a, &rq, why), -1);
	assert_string_equal(VSTR_STR(why), "unexpected attributes");
	attr_del(a, "extra");
	const char *bad[] = { "",      "smtp",		":1.2.3.4",
			      "smtp:", "sm tp:1.2.3.4", "smtp:1.2.3.4\n",
			      "a:" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		attr_put_str(a, "ident", bad[i]);
		assert_int_equal(anvil_request_decode(a, &rq, why), -1);
		assert_false(anvil_ident_ok(bad[i]));
	}
	attr_del(a, "ident");
	assert_int_equal(anvil_request_decode(a, &rq, why), -1);
	assert_string_equal(VSTR_STR(why), "missing or malformed ident");
	/* an ident with a NUL is not a string */
	attr_put_data(a, "ident", "smtp:1\0x", 8);
	assert_int_equal(anvil_request_decode(a, &rq, why), -1);
	/* IPv6 keys have colons of their own */
	assert_true(anvil_ident_ok("smtp:2001:db8::/84"));
	assert_true(anvil_ident_ok("127.0.0.1:2525:127.0.0.1"));
	attr_free(a);
	vstr_free(why);
}

static void
test_anvil_proto_reply_shapes(void **state)
{
	ATTR		  *a = attr_alloc();
	ATTR		  *b = attr_alloc();
	struct anvil_reply rp;
	struct anvil_reply full = { .status = ANVIL_STAT_OK,
				    .count = 1,
				    .rate = 2,
				    .message = 3,
				    .recipient = 4,
				    .newtls = 5,
				    .auth = 6 };

	(void)state;
	anvil_reply_encode(ANVIL_REQ_CONNECT, &full, a);
	assert_int_equal(attr_count(a), 3);
	wire(a, b);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_CONNECT, b, &rp, NULL),
			 0);
	assert_int_equal(rp.count, 1);
	assert_int_equal(rp.rate, 2);
	assert_int_equal(rp.message, 0);
	/* a connect reply is not a lookup reply, nor a message reply */
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_LOOKUP, b, &rp, NULL),
			 -1);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_MESSAGE, b, &rp, NULL),
			 -1);

	anvil_reply_encode(ANVIL_REQ_LOOKUP, &full, a);
	assert_int_equal(attr_count(a), 7);
	wire(a, b);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_LOOKUP, b, &rp, NULL), 0);
	assert_int_equal(rp.status, full.status);
	assert_int_equal(rp.count, full.count);
	assert_int_equal(rp.rate, full.rate);
	assert_int_equal(rp.message, full.message);
	assert_int_equal(rp.recipient, full.recipient);
	assert_int_equal(rp.newtls, full.newtls);
	assert_int_equal(rp.auth, full.auth);

	anvil_reply_encode(ANVIL_REQ_DISCONNECT, &full, a);
	assert_int_equal(attr_count(a), 1);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_DISCONNECT, a, &rp, NULL),
			 0);

	anvil_reply_encode(ANVIL_REQ_AUTH, &full, a);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_AUTH, a, &rp, NULL), 0);
	assert_int_equal(rp.rate, 2);
	assert_int_equal(rp.auth, 0);

	/* FAIL carries nothing */
	full.status = ANVIL_STAT_FAIL;
	anvil_reply_encode(ANVIL_REQ_CONNECT, &full, a);
	assert_int_equal(attr_count(a), 1);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_CONNECT, a, &rp, NULL),
			 0);
	assert_int_equal(rp.status, ANVIL_STAT_FAIL);
	attr_free(a);
	attr_free(b);
}

static void
test_anvil_proto_reply_rejects(void **state)
{
	ATTR		  *a = attr_alloc();
	VSTR		  *why = vstr_alloc(10);
	struct anvil_reply rp;

	(void)state;
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_CONNECT, a, &rp, why),
			 -1);
	attr_put_int(a, "status", 7);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_CONNECT, a, &rp, why),
			 -1);
	assert_string_equal(VSTR_STR(why), "missing or unknown status");
	attr_put_int(a, "status", ANVIL_STAT_OK);
	attr_put_int(a, "count", 1);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_CONNECT, a, &rp, why),
			 -1);
	assert_string_equal(VSTR_STR(why), "missing or bad rate");
	attr_put_int(a, "rate", -1);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_CONNECT, a, &rp, why),
			 -1);
	attr_put_str(a, "rate", "12x");
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_CONNECT, a, &rp, why),
			 -1);
	attr_put_int(a, "rate", ANVIL_COUNT_MAX + 1);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_CONNECT, a, &rp, why),
			 -1);
	attr_put_int(a, "rate", 3);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_CONNECT, a, &rp, why), 0);
	attr_put_int(a, "auth", 3);
	assert_int_equal(anvil_reply_decode(ANVIL_REQ_CONNECT, a, &rp, why),
			 -1);
	assert_string_equal(VSTR_STR(why), "unexpected attributes");
	attr_free(a);
	vstr_free(why);
}

static void
test_anvil_proto_ident(void **state)
{
	VSTR *out = vstr_alloc(10);
	VSTR *why = vstr_alloc(10);

	(void)state;
	assert_int_equal(anvil_ident("smtp", "127.0.0.2", 84, out, why), 0);
	assert_string_equal(VSTR_STR(out), "smtp:127.0.0.2");
	assert_int_equal(anvil_ident("smtp", "2001:db8::7", 84, out, why), 0);
	assert_string_equal(VSTR_STR(out), "smtp:2001:db8::/84");
	assert_int_equal(anvil_ident("smtp", "unknown", 84, out, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "client address unknown"));
	assert_int_equal(anvil_ident("", "127.0.0.1", 84, out, why), -1);
	assert_int_equal(anvil_ident("a b", "127.0.0.1", 84, out, why), -1);
	vstr_free(out);
	vstr_free(why);
}

static void
test_anvil_proto_encode_nonsense_panics(void **state)
{
	ATTR *a = attr_alloc();

	(void)state;
	EXPECT_FATAL(anvil_request_encode(
			 &(struct anvil_request){ .req = ANVIL_REQ_COUNT,
						  .ident = "smtp:1.2.3.4" },
			 a),
		     "bad request");
	EXPECT_FATAL(anvil_request_encode(
			 &(struct anvil_request){ .req = ANVIL_REQ_CONNECT,
						  .ident = "x" },
			 a),
		     "bad request");
	EXPECT_FATAL(anvil_reply_encode(ANVIL_REQ_CONNECT,
					&(struct anvil_reply){ .status = 0,
							       .count = -1 },
					a),
		     "count out of range");
	attr_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anvil_proto_request_round_trip),
		cmocka_unit_test(test_anvil_proto_request_rejects),
		cmocka_unit_test(test_anvil_proto_reply_shapes),
		cmocka_unit_test(test_anvil_proto_reply_rejects),
		cmocka_unit_test(test_anvil_proto_ident),
		cmocka_unit_test(test_anvil_proto_encode_nonsense_panics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
