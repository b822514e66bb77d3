/*
 * Unit tests for util/sasl_dovecot_proto.c: Dovecot auth protocol reply
 * lines, the escaping of AUTH values, and the mechanism filter under the
 * smtpd_sasl_*security_options words.  The exchanges against a real
 * Dovecot are in tests/integration/test_dovecot_sasl.py.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sasl_dovecot_handshake_lines),
		cmocka_unit_test(test_sasl_dovecot_bad_lines_are_refused),
		cmocka_unit_test(test_sasl_dovecot_ok_cont_fail),
		cmocka_unit_test(test_sasl_dovecot_escape_values),
		cmocka_unit_test(test_sasl_dovecot_security_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
