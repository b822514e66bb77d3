/*
 * Unit tests for util/tlsrpt: the `_smtp._tls` TXT record (RFC 8460 3:
 * version first, several rua URIs, white space, extensions, refusals),
 * mailto: addresses, RFC 8460 names, the verdict mapping, JSON quoting
 * and UTC days.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/tlsrpt.h"
#include "util/vstr.h"

static void
parse_ok(const char *txt, TLSRPT_RUA *rua)
{
	VSTR *why = vstr_alloc(64);

	if (tlsrpt_txt_parse(txt, rua, why) < 0)
		fail_msg("\"%s\" refused: %s", txt, VSTR_STR(why));
	vstr_free(why);
}

static void
parse_bad(const char *txt, const char *want)
{
	VSTR	  *why = vstr_alloc(64);
	TLSRPT_RUA rua = { 0 };

	if (tlsrpt_txt_parse(txt, &rua, why) == 0)
		fail_msg("\"%s\" accepted", txt);
	assert_int_equal(rua.count, 0);
	if (strstr(VSTR_STR(why), want) == NULL)
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", txt,
			 VSTR_STR(why), want);
	vstr_free(why);
}

static void
test_tlsrpt_txt_single_mailto(void **state)
{
	TLSRPT_RUA rua = { 0 };

	(void)state;
	parse_ok("v=TLSRPTv1; rua=mailto:tlsrpt@reports.test", &rua);
	assert_int_equal(rua.count, 1);
	assert_string_equal(rua.uri[0], "mailto:tlsrpt@reports.test");
	tlsrpt_rua_reset(&rua);
	assert_int_equal(rua.count, 0);
}

static void
test_tlsrpt_txt_several_uris_and_white_space(void **state)
{
	TLSRPT_RUA rua = { 0 };

	(void)state;
	parse_ok("v=TLSRPTv1 ;\trua=mailto:a@b.test , https://r.test/v1 ,"
		 "mailto:c@d.test ; ext-1.x=val ;",
		 &rua);
	assert_int_equal(rua.count, 3);
	assert_string_equal(rua.uri[0], "mailto:a@b.test");
	assert_string_equal(rua.uri[1], "https://r.test/v1");
	assert_string_equal(rua.uri[2], "mailto:c@d.test");
	tlsrpt_rua_reset(&rua);
	/* Extension before rua=, no space at all. */
	parse_ok("v=TLSRPTv1;x=1;rua=HTTPS://r.test/", &rua);
	assert_int_equal(rua.count, 1);
	tlsrpt_rua_reset(&rua);
}

static void
test_tlsrpt_txt_other_schemes_skipped(void **state)
{
	TLSRPT_RUA rua = { 0 };

	(void)state;
	parse_ok("v=TLSRPTv1; rua=http://plain.test/,mailto:a@b.test", &rua);
	assert_int_equal(rua.count, 1);
	assert_string_equal(rua.uri[0], "mailto:a@b.test");
	tlsrpt_rua_reset(&rua);
	parse_bad("v=TLSRPTv1; rua=http://plain.test/", "no mailto: or https:");
}

static void
test_tlsrpt_txt_refusals(void **state)
{
	(void)state;
	parse_bad("", "v=TLSRPTv1");
	parse_bad("v=TLSRPTv2; rua=mailto:a@b.test", "v=TLSRPTv1");
	parse_bad("v=tlsrptv1; rua=mailto:a@b.test", "v=TLSRPTv1");
	parse_bad("rua=mailto:a@b.test; v=TLSRPTv1", "v=TLSRPTv1");
	parse_bad("v=TLSRPTv1", "no rua=");
	parse_bad("v=TLSRPTv1; x=y", "no rua=");
	parse_bad("v=TLSRPTv1 rua=mailto:a@b.test", "\";\"");
	parse_bad("v=TLSRPTv1; rua=mailto:a@b.test; rua=mailto:c@d.test",
		  "twice");
	parse_bad("v=TLSRPTv1; rua=", "empty URI");
	parse_bad("v=TLSRPTv1; rua=mailto:a@b.test,", "empty URI");
	parse_bad("v=TLSRPTv1; rua=mailto:a!b@c.test", "bad character");
	parse_bad("v=TLSRPTv1; rua=nocolon", "scheme");
	parse_bad("v=TLSRPTv1; =x; rua=mailto:a@b.test", "field name");
	parse_bad("v=TLSRPTv1; x=a=b; rua=mailto:a@b.test", "field value");
	parse_bad("v=TLSRPTv1; x=; rua=mailto:a@b.test", "empty");
	parse_bad("v=TLSRPTv1; "
		  "abcdefghijabcdefghijabcdefghijabc=1; rua=mailto:a@b.test",
		  "field name");
	assert_false(tlsrpt_txt_is_tlsrpt("v=TLSRPTv10; rua=mailto:a@b"));
	assert_true(tlsrpt_txt_is_tlsrpt("v=TLSRPTv1"));
	assert_true(tlsrpt_txt_is_tlsrpt("v=TLSRPTv1 ;"));
}

static void
test_tlsrpt_txt_keeps_at_most_max(void **state)
{
	TLSRPT_RUA rua = { 0 };
	VSTR	  *txt = vstr_alloc(64);

	(void)state;
	vstr_strcpy(txt, "v=TLSRPTv1; rua=mailto:a0@b.test");
	for (int i = 1; i < TLSRPT_RUA_MAX + 5; i++)
		vstr_sprintf_append(txt, ",mailto:a%d@b.test", i);
	parse_ok(VSTR_STR(txt), &rua);
	assert_int_equal(rua.count, TLSRPT_RUA_MAX);
	tlsrpt_rua_reset(&rua);
	vstr_free(txt);
}

static void
test_tlsrpt_mailto_addr(void **state)
{
	VSTR *a = vstr_alloc(32);
	VSTR *why = vstr_alloc(32);

	(void)state;
	assert_int_equal(tlsrpt_mailto_addr("mailto:x@y.test", a, why), 0);
	assert_string_equal(VSTR_STR(a), "x@y.test");
	assert_int_equal(tlsrpt_mailto_addr("MAILTO:x%2By@y.test?subject=hi", a,
					    why),
			 0);
	assert_string_equal(VSTR_STR(a), "x+y@y.test");
	assert_int_equal(tlsrpt_mailto_addr("https://x@y", a, why), -1);
	assert_int_equal(tlsrpt_mailto_addr("mailto:nobody", a, why), -1);
	assert_int_equal(tlsrpt_mailto_addr("mailto:@y.test", a, why), -1);
	assert_int_equal(tlsrpt_mailto_addr("mailto:x@", a, why), -1);
	assert_int_equal(tlsrpt_mailto_addr("mailto:x@a@b", a, why), -1);
	assert_int_equal(tlsrpt_mailto_addr("mailto:x%0a@b.test", a, why), -1);
	assert_int_equal(tlsrpt_mailto_addr("mailto:x%zz@b.test", a, why), -1);
	assert_int_equal(tlsrpt_mailto_addr("mailto:<x@b.test>", a, why), -1);
	vstr_free(a);
	vstr_free(why);
}

static void
test_tlsrpt_names_and_verdicts(void **state)
{
	(void)state;
	assert_true(tlsrpt_result_valid("starttls-not-supported"));
	assert_true(tlsrpt_result_valid("sts-webpki-invalid"));
	assert_true(tlsrpt_result_valid("dane-required"));
	assert_false(tlsrpt_result_valid("success"));
	assert_true(tlsrpt_policy_type_valid("no-policy-found"));
	assert_false(tlsrpt_policy_type_valid("dane"));
	assert_string_equal(tlsrpt_result_from_verdict(
				"certificate not trusted: "
				"certificate has expired"),
			    "certificate-expired");
	assert_string_equal(tlsrpt_result_from_verdict(
				"certificate name mismatch: subject "
				"CN=\"x\" does not match \"y\""),
			    "certificate-host-mismatch");
	assert_string_equal(tlsrpt_result_from_verdict(
				"certificate not trusted: No matching "
				"DANE TLSA records"),
			    "certificate-not-trusted");
	assert_string_equal(tlsrpt_result_from_verdict(
				"the server sent no certificate"),
			    "validation-failure");
}

static void
test_tlsrpt_json_and_day(void **state)
{
	VSTR *j = vstr_alloc(32);
	char  day[11];

	(void)state;
	tlsrpt_json_str(j, "a\"b\\c\nd\x01\xc3");
	assert_string_equal(VSTR_STR(j), "\"a\\\"b\\\\c\\nd\\u0001\\u00c3\"");
	tlsrpt_day(0, day);
	assert_string_equal(day, "1970-01-01");
	tlsrpt_day(1796601599LL, day); /* 2026-12-06T23:59:59Z */
	assert_string_equal(day, "2026-12-06");
	tlsrpt_day(1796601600LL, day);
	assert_string_equal(day, "2026-12-07");
	vstr_free(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlsrpt_txt_single_mailto),
		cmocka_unit_test(test_tlsrpt_txt_several_uris_and_white_space),
		cmocka_unit_test(test_tlsrpt_txt_other_schemes_skipped),
		cmocka_unit_test(test_tlsrpt_txt_refusals),
		cmocka_unit_test(test_tlsrpt_txt_keeps_at_most_max),
		cmocka_unit_test(test_tlsrpt_mailto_addr),
		cmocka_unit_test(test_tlsrpt_names_and_verdicts),
		cmocka_unit_test(test_tlsrpt_json_and_day),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
