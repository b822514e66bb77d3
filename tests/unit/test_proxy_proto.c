/*
 * Unit tests for util/proxy_proto: proxymap request and reply frames
 * survive the wire, and malformed, nested or over-privileged requests are
 * rejected by the decoder (and refused by the encoder).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/attr.h"
#include "util/dict.h"
#include "util/proxy_proto.h"
#include "util/vstr.h"

/* Encode, put through the wire format, decode into `in`. */
static void
wire(const ATTR *out, ATTR *in)
{
	VSTR *buf = vstr_alloc(64);

	attr_encode(out, buf);
	assert_int_equal(attr_decode(VSTR_STR(buf), VSTR_LEN(buf), in, NULL),
			 0);
	vstr_free(buf);
}

static void
test_proxy_proto_request_round_trip(void **state)
{
	ATTR		    *out = attr_alloc(), *in = attr_alloc();
	struct proxy_request req = { PROXY_REQ_LOOKUP, "unix:passwd.byname",
				     DICT_FLAG_FOLD, "Alice", NULL };
	struct proxy_request got;

	(void)state;
	proxy_request_encode(&req, out);
	wire(out, in);
	assert_int_equal(proxy_request_decode(in, &got, NULL), 0);
	assert_string_equal(got.request, "lookup");
	assert_string_equal(got.table, "unix:passwd.byname");
	assert_int_equal(got.flags, DICT_FLAG_FOLD);
	assert_string_equal(got.key, "Alice");

	req = (struct proxy_request){ PROXY_REQ_OPEN, "hash:/etc/aliases", 0,
				      NULL, NULL };
	proxy_request_encode(&req, out);
	wire(out, in);
	assert_int_equal(proxy_request_decode(in, &got, NULL), 0);
	assert_string_equal(got.request, "open");
	assert_null(got.key);
	attr_free(out);
	attr_free(in);
}

static void
expect_bad_request(ATTR *a, const char *reason)
{
	struct proxy_request got;
	VSTR		    *why = vstr_alloc(16);

	assert_int_equal(proxy_request_decode(a, &got, why), -1);
	assert_non_null(strstr(VSTR_STR(why), reason));
	vstr_free(why);
}

static void
test_proxy_proto_request_rejects_bad_frames(void **state)
{
	ATTR *a = attr_alloc();
	VSTR *big = vstr_alloc(DICT_KEY_MAX + 2);

	(void)state;
	expect_bad_request(a, "missing request");
	attr_put_str(a, "request", "put");
	expect_bad_request(a, "unknown request");
	attr_put_str(a, "request", "lookup");
	attr_put_str(a, "table", "proxy:unix:passwd.byname");
	expect_bad_request(a, "table");
	attr_put_str(a, "table", "nocolon");
	expect_bad_request(a, "table");
	attr_put_str(a, "table", "hash:");
	expect_bad_request(a, "table");
	attr_put_str(a, "table", "hash:/etc/aliases");
	expect_bad_request(a, "flags");
	/* A write flag is never served. */
	attr_put_int(a, "flags", DICT_FLAG_CREATE);
	expect_bad_request(a, "flags");
	attr_put_str(a, "flags", "1x");
	expect_bad_request(a, "flags");
	attr_put_int(a, "flags", -1);
	expect_bad_request(a, "flags");
	attr_put_int(a, "flags", DICT_FLAG_FOLD | DICT_FLAG_NUL);
	expect_bad_request(a, "without a key");
	attr_put_data(a, "key", "a\0b", 3);
	expect_bad_request(a, "without a key");
	for (int i = 0; i <= DICT_KEY_MAX; i++)
		vstr_addch(big, 'k');
	attr_put_str(a, "key", VSTR_STR(big));
	expect_bad_request(a, "too long");
	attr_put_str(a, "key", "k");
	attr_put_str(a, "extra", "x");
	expect_bad_request(a, "unexpected");
	attr_del(a, "extra");
	attr_put_str(a, "request", "open");
	expect_bad_request(a, "unexpected");
	/* update needs a value; lookup and delete must not have one. */
	attr_put_str(a, "request", "update");
	expect_bad_request(a, "without a value");
	attr_put_str(a, "value", "v");
	assert_int_equal(proxy_request_decode(a, &(struct proxy_request){ 0 },
					      NULL),
			 0);
	attr_put_str(a, "request", "delete");
	expect_bad_request(a, "unexpected");
	attr_put_str(a, "request", "lookup");
	expect_bad_request(a, "unexpected");
	attr_del(a, "key");
	attr_put_str(a, "request", "delete");
	expect_bad_request(a, "without a key");
	vstr_free(big);
	attr_free(a);
}

static void
test_proxy_proto_write_requests_round_trip(void **state)
{
	ATTR		    *out = attr_alloc(), *in = attr_alloc();
	struct proxy_request req = { PROXY_REQ_UPDATE, "btree:/var/cache", 0,
				     "1.2.3.4", "PASS 1700000000" };
	struct proxy_request got;

	(void)state;
	proxy_request_encode(&req, out);
	wire(out, in);
	assert_int_equal(proxy_request_decode(in, &got, NULL), 0);
	assert_string_equal(got.request, "update");
	assert_string_equal(got.key, "1.2.3.4");
	assert_string_equal(got.value, "PASS 1700000000");

	req = (struct proxy_request){ PROXY_REQ_DELETE, "btree:/var/cache", 0,
				      "1.2.3.4", NULL };
	proxy_request_encode(&req, out);
	wire(out, in);
	assert_int_equal(proxy_request_decode(in, &got, NULL), 0);
	assert_string_equal(got.request, "delete");
	assert_string_equal(got.key, "1.2.3.4");
	assert_null(got.value);
	attr_free(out);
	attr_free(in);
}

static void
test_proxy_proto_reply_round_trip(void **state)
{
	ATTR		  *out = attr_alloc(), *in = attr_alloc();
	struct proxy_reply rep = { PROXY_STAT_OK, "root:x:0:0::/root:/bin/sh",
				   NULL };
	struct proxy_reply got;

	(void)state;
	proxy_reply_encode(&rep, out);
	wire(out, in);
	assert_int_equal(proxy_reply_decode(in, &got, NULL), 0);
	assert_int_equal(got.status, PROXY_STAT_OK);
	assert_string_equal(got.value, "root:x:0:0::/root:/bin/sh");
	assert_null(got.reason);

	rep = (struct proxy_reply){ PROXY_STAT_DENY, NULL, "not listed" };
	proxy_reply_encode(&rep, out);
	wire(out, in);
	assert_int_equal(proxy_reply_decode(in, &got, NULL), 0);
	assert_int_equal(got.status, PROXY_STAT_DENY);
	assert_null(got.value);
	assert_string_equal(got.reason, "not listed");
	attr_free(out);
	attr_free(in);
}

static void
test_proxy_proto_reply_rejects_bad_frames(void **state)
{
	ATTR		  *a = attr_alloc();
	struct proxy_reply got;

	(void)state;
	assert_int_equal(proxy_reply_decode(a, &got, NULL), -1);
	attr_put_int(a, "status", 9);
	assert_int_equal(proxy_reply_decode(a, &got, NULL), -1);
	/* A value with a failure status is inconsistent. */
	attr_put_int(a, "status", PROXY_STAT_NOKEY);
	attr_put_str(a, "value", "v");
	assert_int_equal(proxy_reply_decode(a, &got, NULL), -1);
	attr_put_int(a, "status", PROXY_STAT_OK);
	assert_int_equal(proxy_reply_decode(a, &got, NULL), 0);
	attr_put_str(a, "other", "x");
	assert_int_equal(proxy_reply_decode(a, &got, NULL), -1);
	attr_free(a);
}

static void
test_proxy_proto_encoder_refuses_nested_and_write_requests(void **state)
{
	ATTR		    *a = attr_alloc();
	struct proxy_request nested = { PROXY_REQ_OPEN, "proxy:hash:/x", 0,
					NULL, NULL };
	struct proxy_request write = { PROXY_REQ_OPEN, "hash:/x",
				       DICT_FLAG_WRITE, NULL, NULL };

	(void)state;
	EXPECT_FATAL(proxy_request_encode(&nested, a), "bad request");
	EXPECT_FATAL(proxy_request_encode(&write, a), "bad request");
	EXPECT_FATAL(proxy_request_encode(&(struct proxy_request){ PROXY_REQ_UPDATE,
								   "hash:/x", 0,
								   "k", NULL },
					  a),
		     "bad value");
	EXPECT_FATAL(proxy_request_encode(&(struct proxy_request){ PROXY_REQ_LOOKUP,
								   "hash:/x", 0,
								   "k", "v" },
					  a),
		     "bad value");
	attr_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proxy_proto_request_round_trip),
		cmocka_unit_test(test_proxy_proto_request_rejects_bad_frames),
		cmocka_unit_test(test_proxy_proto_write_requests_round_trip),
		cmocka_unit_test(test_proxy_proto_reply_round_trip),
		cmocka_unit_test(test_proxy_proto_reply_rejects_bad_frames),
		cmocka_unit_test(
		    test_proxy_proto_encoder_refuses_nested_and_write_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
