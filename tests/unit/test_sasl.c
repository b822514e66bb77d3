/*
 * Unit tests for util/sasl_proto (RFC 4954 wire format) and the client
 * half of util/sasl_cyrus (mechanism choice under the security options).
 * The server half needs a sasldb; tests/integration/test_sasl.py has it.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/sasl.h"
#include "util/vstr.h"

static void
test_sasl_base64_rfc4648_vectors(void **state)
{
	static const char *const vec[][2] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	VSTR *enc = vstr_alloc(8);
	VSTR *dec = vstr_alloc(8);

	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		vstr_reset(enc);
		sasl_proto_base64_encode(enc, vec[i][0], strlen(vec[i][0]));
		assert_string_equal(VSTR_STR(enc), vec[i][1]);
		assert_int_equal(sasl_proto_base64_decode(dec, vec[i][1],
							  strlen(vec[i][1])),
				 0);
		assert_int_equal(VSTR_LEN(dec), strlen(vec[i][0]));
		assert_memory_equal(VSTR_STR(dec), vec[i][0], VSTR_LEN(dec));
	}
	/* Binary with NULs survives the round trip. */
	vstr_reset(enc);
	sasl_proto_base64_encode(enc, "\0a\0\xff", 4);
	assert_int_equal(sasl_proto_base64_decode(dec, VSTR_STR(enc),
						  VSTR_LEN(enc)),
			 0);
	assert_memory_equal(VSTR_STR(dec), "\0a\0\xff", 4);
	vstr_free(enc);
	vstr_free(dec);
}

static void
test_sasl_base64_rejects_non_canonical(void **state)
{
	static const char *const bad[] = {
		"Zg",	 "Zg=",	   "Z===", "Zg==Zg==", "Zh==",	"Zm9=",
		"Zm 9v", "Zm9v\r", "=Zm9", "Zm=v",     "Zm9v!", "Zg==\n",
	};
	VSTR *dec = vstr_alloc(8);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sasl_proto_base64_decode(dec, bad[i],
							  strlen(bad[i])),
				 -1);
	vstr_free(dec);
}

static void
test_sasl_parse_auth_command(void **state)
{
	VSTR *mech = vstr_alloc(8);
	VSTR *resp = vstr_alloc(8);
	VSTR *why = vstr_alloc(8);
	bool  has;

	(void)state;
	assert_int_equal(sasl_proto_parse_auth("plain", mech, resp, &has, why),
			 0);
	assert_string_equal(VSTR_STR(mech), "PLAIN");
	assert_false(has);
	assert_int_equal(sasl_proto_parse_auth("PLAIN AGFsaWNlAHB3", mech, resp,
					       &has, why),
			 0);
	assert_true(has);
	assert_int_equal(VSTR_LEN(resp), 9);
	assert_memory_equal(VSTR_STR(resp), "\0alice\0pw", 9);
	/* "=" is an empty initial response (RFC 4954 4). */
	assert_int_equal(sasl_proto_parse_auth("CRAM-MD5 =", mech, resp, &has,
					       why),
			 0);
	assert_true(has);
	assert_int_equal(VSTR_LEN(resp), 0);
	assert_int_equal(sasl_proto_parse_auth("", mech, resp, &has, why), -1);
	assert_string_equal(VSTR_STR(why), "501 5.5.4 Syntax: AUTH mechanism");
	assert_int_equal(sasl_proto_parse_auth("PL@IN", mech, resp, &has, why),
			 -1);
	assert_int_equal(sasl_proto_parse_auth("ABCDEFGHIJKLMNOPQRSTU", mech,
					       resp, &has, why),
			 -1);
	assert_int_equal(sasl_proto_parse_auth("PLAIN !!", mech, resp, &has,
					       why),
			 -1);
	assert_string_equal(VSTR_STR(why),
			    "501 5.5.2 Cannot decode AUTH parameter");
	assert_int_equal(sasl_proto_parse_auth("PLAIN Zg== Zg==", mech, resp,
					       &has, why),
			 -1);
	vstr_free(mech);
	vstr_free(resp);
	vstr_free(why);
}

static void
test_sasl_decode_response_cancel_and_garbage(void **state)
{
	VSTR *out = vstr_alloc(8);

	(void)state;
	assert_int_equal(sasl_proto_decode_response("*", 1, out),
			 SASL_RESP_CANCEL);
	assert_int_equal(sasl_proto_decode_response("", 0, out), SASL_RESP_OK);
	assert_int_equal(VSTR_LEN(out), 0);
	assert_int_equal(sasl_proto_decode_response("YWxpY2U=", 8, out),
			 SASL_RESP_OK);
	assert_string_equal(VSTR_STR(out), "alice");
	assert_int_equal(sasl_proto_decode_response("YW\0pY2U=", 8, out),
			 SASL_RESP_BAD);
	assert_int_equal(sasl_proto_decode_response("**", 2, out),
			 SASL_RESP_BAD);
	vstr_free(out);
}

static void
test_sasl_security_options_parse(void **state)
{
	VSTR	*why = vstr_alloc(8);
	unsigned flags;
	unsigned plain_flags;

	(void)state;
	assert_int_equal(sasl_cyrus_security_parse("", &flags, why), 0);
	assert_int_equal(flags, 0);
	assert_int_equal(sasl_cyrus_security_parse("noplaintext", &plain_flags,
						   why),
			 0);
	assert_int_equal(sasl_cyrus_security_parse("noplaintext, noanonymous",
						   &flags, why),
			 0);
	assert_true(flags & plain_flags);
	assert_true(flags != plain_flags);
	assert_int_equal(sasl_cyrus_security_parse("noplaintext bogus", &flags,
						   why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "bogus"));
	vstr_free(why);
}

/* Which mechanism the client picks from "PLAIN LOGIN" under sec. */
static const char *
pick(const char *sec, VSTR *out, bool *has_out, enum sasl_step *step)
{
	static char  chosen[32];
	VSTR	    *why = vstr_alloc(8);
	SASL_CLIENT *c;
	const char  *mech = NULL;

	c = sasl_cyrus_client_create("smtp", "relay.test", "alice", "pw", sec,
				     why);
	assert_non_null(c);
	*step = sasl_cyrus_client_start(c, "PLAIN LOGIN", &mech, out, has_out,
					why);
	snprintf(chosen, sizeof(chosen), "%s", mech ? mech : "");
	sasl_cyrus_client_free(c);
	vstr_free(why);
	return chosen;
}

static void
test_sasl_client_refuses_plaintext_mechanisms(void **state)
{
	VSTR	      *why = vstr_alloc(8);
	VSTR	      *out = vstr_alloc(8);
	bool	       has_out;
	enum sasl_step step;

	(void)state;
	assert_int_equal(sasl_cyrus_client_init(why), 0);
	/* Postfix's default: PLAIN and LOGIN are not allowed. */
	pick("noplaintext, noanonymous", out, &has_out, &step);
	assert_int_equal(step, SASL_STEP_FAIL);
	/* Allowed: PLAIN with its initial response "authz\0user\0pw". */
	assert_string_equal(pick("noanonymous", out, &has_out, &step), "PLAIN");
	assert_int_not_equal(step, SASL_STEP_FAIL);
	assert_true(has_out);
	assert_true(VSTR_LEN(out) >= 9);
	assert_memory_equal(VSTR_END(out) - 9, "\0alice\0pw", 9);
	vstr_free(why);
	vstr_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sasl_base64_rfc4648_vectors),
		cmocka_unit_test(test_sasl_base64_rejects_non_canonical),
		cmocka_unit_test(test_sasl_parse_auth_command),
		cmocka_unit_test(test_sasl_decode_response_cancel_and_garbage),
		cmocka_unit_test(test_sasl_security_options_parse),
		cmocka_unit_test(test_sasl_client_refuses_plaintext_mechanisms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
