/*
 * Unit tests for util/mta_sts (MTA-STS TXT record, policy file, MX
 * matching, cache record) and util/mta_sts_proto (mtasts(8) frames).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/attr.h"
#include "util/mta_sts.h"
#include "util/mta_sts_proto.h"
#include "util/vstr.h"

static int
txt(const char *s, VSTR *id)
{
	return mta_sts_txt_parse(s, strlen(s), id, NULL);
}

static void
test_mta_sts_txt_record(void **state)
{
	VSTR *id = vstr_alloc(10);

	(void)state;
	assert_int_equal(txt("v=STSv1; id=20160831085700Z;", id), 1);
	assert_string_equal(VSTR_STR(id), "20160831085700Z");
	assert_int_equal(txt("v=STSv1;id=abc", id), 1);
	assert_string_equal(VSTR_STR(id), "abc");
	assert_int_equal(txt("v=STSv1 ;  id=x1 ; ext_1=va/lue", id), 1);
	assert_string_equal(VSTR_STR(id), "x1");
	/* Not an STS record at all. */
	assert_int_equal(txt("v=spf1 -all", id), 0);
	assert_int_equal(txt("v=STSv10; id=1", id), 0);
	assert_int_equal(txt("", id), 0);
	/* STSv1 but malformed. */
	assert_int_equal(txt("v=STSv1", id), -1);
	assert_int_equal(txt("v=STSv1;", id), -1);
	assert_int_equal(txt("v=STSv1; id=", id), -1);
	assert_int_equal(txt("v=STSv1; id=a-b", id), -1);
	assert_int_equal(txt("v=STSv1; id=1; id=2", id), -1);
	assert_int_equal(txt("v=STSv1; id=123456789012345678901234567890123",
			     id),
			 -1);
	assert_int_equal(txt("v=STSv1; id=1 x", id), -1);
	assert_int_equal(txt("v=STSv1; id=1; =x", id), -1);
	assert_int_equal(txt("v=STSv1; id=1; a=b=c", id), -1);
	vstr_free(id);
}

static void
test_mta_sts_txt_select(void **state)
{
	VSTR	   *id = vstr_alloc(10);
	VSTR	   *why = vstr_alloc(10);
	const char *one[] = { "v=spf1 -all", "v=STSv1; id=A1" };
	size_t	    one_len[] = { 11, 14 };
	const char *two[] = { "v=STSv1; id=A1", "v=STSv1; id=B2" };
	size_t	    two_len[] = { 14, 14 };
	const char *bad[] = { "v=STSv1; id=!" };
	size_t	    bad_len[] = { 13 };

	(void)state;
	assert_int_equal(mta_sts_txt_select(one, one_len, 2, id, why), 0);
	assert_string_equal(VSTR_STR(id), "A1");
	assert_int_equal(mta_sts_txt_select(two, two_len, 2, id, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "more than one"));
	assert_int_equal(mta_sts_txt_select(one, one_len, 1, id, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "no v=STSv1"));
	assert_int_equal(mta_sts_txt_select(bad, bad_len, 1, id, why), -1);
	vstr_free(id);
	vstr_free(why);
}

static int
policy(const char *s, MTA_STS_POLICY *p, VSTR *why)
{
	return mta_sts_policy_parse(s, strlen(s), p, why);
}

static void
test_mta_sts_policy_parse(void **state)
{
	MTA_STS_POLICY p;
	VSTR	      *why = vstr_alloc(10);
	VSTR	      *out = vstr_alloc(10);

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(policy("version: STSv1\r\nmode: enforce\r\n"
				"mx: mail.example.com\r\nmx: *.Example.NET\r\n"
				"max_age: 604800\r\n",
				&p, why),
			 0);
	assert_int_equal(p.mode, MTA_STS_MODE_ENFORCE);
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.nmx, 2);
	assert_string_equal(p.mx[1], "*.example.net");
	mta_sts_policy_text(&p, out);
	assert_string_equal(VSTR_STR(out),
			    "version: STSv1\nmode: enforce\n"
			    "mx: mail.example.com\nmx: *.example.net\n"
			    "max_age: 604800\n");
	/* LF lines, blanks, unknown keys, no final line end. */
	assert_int_equal(policy("version:STSv1\n  mode :  testing \n"
				"future_key: anything goes here\n"
				"mx: mx1.example.org\nmax_age: 31557600",
				&p, why),
			 0);
	assert_int_equal(p.mode, MTA_STS_MODE_TESTING);
	assert_int_equal(p.max_age, 31557600);
	/* none needs no mx. */
	assert_int_equal(policy("version: STSv1\nmode: none\nmax_age: 0\n", &p,
				why),
			 0);
	assert_int_equal(p.mode, MTA_STS_MODE_NONE);

	assert_int_equal(policy("version: STSv2\nmode: enforce\nmx: a.b\n"
				"max_age: 1\n",
				&p, why),
			 -1);
	assert_int_equal(policy("mode: enforce\nmx: a.b\nmax_age: 1\n", &p,
				why),
			 -1);
	assert_string_equal(VSTR_STR(why), "no version");
	assert_int_equal(policy("version: STSv1\nmode: enforce\n"
				"max_age: 1\n",
				&p, why),
			 -1);
	assert_string_equal(VSTR_STR(why), "no mx pattern");
	assert_int_equal(policy("version: STSv1\nmode: enforce\nmx: a.b\n"
				"max_age: 31557601\n",
				&p, why),
			 -1);
	assert_int_equal(policy("version: STSv1\nmode: enforce\nmx: a.b\n"
				"max_age: -1\n",
				&p, why),
			 -1);
	assert_int_equal(policy("version: STSv1\nmode: Enforce\nmx: a.b\n"
				"max_age: 1\n",
				&p, why),
			 -1);
	assert_int_equal(policy("version: STSv1\nmode: enforce\nmode: none\n"
				"mx: a.b\nmax_age: 1\n",
				&p, why),
			 -1);
	assert_int_equal(policy("version: STSv1\nmode: enforce\nmx: a..b\n"
				"max_age: 1\n",
				&p, why),
			 -1);
	assert_int_equal(policy("version: STSv1\nmode: enforce\nmx: *.*.b\n"
				"max_age: 1\n",
				&p, why),
			 -1);
	assert_int_equal(policy("version: STSv1\nmode enforce\nmx: a.b\n"
				"max_age: 1\n",
				&p, why),
			 -1);
	assert_int_equal(mta_sts_policy_parse("version: STSv1\0", 15, &p, why),
			 -1);
	assert_int_equal(p.nmx, 0);
	mta_sts_policy_free(&p);
	vstr_free(why);
	vstr_free(out);
}

static void
test_mta_sts_policy_limits(void **state)
{
	MTA_STS_POLICY p;
	VSTR	      *text = vstr_alloc(10);

	(void)state;
	memset(&p, 0, sizeof(p));
	vstr_strcpy(text, "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (int i = 0; i < MTA_STS_MX_MAX; i++)
		vstr_sprintf_append(text, "mx: mx%d.example.com\n", i);
	assert_int_equal(policy(VSTR_STR(text), &p, NULL), 0);
	assert_int_equal(p.nmx, MTA_STS_MX_MAX);
	vstr_strcat(text, "mx: one.too.many\n");
	assert_int_equal(policy(VSTR_STR(text), &p, NULL), -1);
	vstr_strcpy(text, "version: STSv1\nmode: enforce\nmx: a.b\n"
			  "max_age: 1\nx: ");
	while (VSTR_LEN(text) < MTA_STS_LINE_MAX + 100)
		vstr_addch(text, 'y');
	assert_int_equal(policy(VSTR_STR(text), &p, NULL), -1);
	vstr_reset(text);
	while (VSTR_LEN(text) <= MTA_STS_POLICY_MAX)
		vstr_strcat(text, "\n");
	assert_int_equal(policy(VSTR_STR(text), &p, NULL), -1);
	vstr_free(text);
}

static void
test_mta_sts_mx_match(void **state)
{
	(void)state;
	assert_true(mta_sts_mx_match("mail.example.com", "mail.example.com"));
	assert_true(mta_sts_mx_match("mail.example.com", "MAIL.example.com."));
	assert_false(mta_sts_mx_match("mail.example.com", "mail.example.co"));
	assert_true(mta_sts_mx_match("*.example.com", "mx1.example.com"));
	assert_true(mta_sts_mx_match("*.example.com", "mx1.EXAMPLE.com."));
	assert_false(mta_sts_mx_match("*.example.com", "example.com"));
	assert_false(mta_sts_mx_match("*.example.com", "a.b.example.com"));
	assert_false(mta_sts_mx_match("*.example.com", ".example.com"));
	assert_false(mta_sts_mx_match("*.example.com", "mx1.xexample.com"));
	assert_true(mta_sts_mx_pattern_ok("*.example.com"));
	assert_false(mta_sts_mx_pattern_ok("*example.com"));
	assert_false(mta_sts_mx_pattern_ok("a.*.example.com"));
	assert_false(mta_sts_mx_pattern_ok(""));
}

static void
test_mta_sts_cache_round_trip(void **state)
{
	struct mta_sts_cache_entry e, back;
	VSTR			  *text = vstr_alloc(10);

	(void)state;
	memset(&e, 0, sizeof(e));
	memset(&back, 0, sizeof(back));
	e.id = vstr_alloc(10);
	back.id = vstr_alloc(10);
	vstr_strcpy(e.id, "abc123");
	e.fetched = 100;
	e.expires = 200;
	e.checked = 150;
	e.policy.mode = MTA_STS_MODE_TESTING;
	e.policy.max_age = 100;
	assert_int_equal(mta_sts_policy_mx_parse(&e.policy,
						 "a.example, *.b.example",
						 NULL),
			 0);
	mta_sts_cache_encode(&e, text);
	assert_string_equal(VSTR_STR(text),
			    "id=abc123 fetched=100 expires=200 checked=150 "
			    "mode=testing max_age=100 mx=a.example,*.b.example");
	assert_int_equal(mta_sts_cache_decode(VSTR_STR(text), &back, NULL), 0);
	assert_string_equal(VSTR_STR(back.id), "abc123");
	assert_int_equal(back.expires, 200);
	assert_int_equal(back.policy.nmx, 2);
	assert_true(mta_sts_policy_match(&back.policy, "x.b.example"));
	assert_int_equal(mta_sts_cache_decode("id=a fetched=1", &back, NULL),
			 -1);
	assert_int_equal(back.policy.nmx, 0);
	assert_int_equal(
	    mta_sts_cache_decode("id=a fetched=1 expires=2 checked=1 "
				 "mode=enforce max_age=1 mx=a.b extra=1",
				 &back, NULL),
	    -1);
	assert_int_equal(mta_sts_cache_decode("id=a fetched=1 expires=2 checked=1 "
					      "mode=enforce max_age=1 mx= ",
					      &back, NULL),
			 -1);
	mta_sts_policy_free(&e.policy);
	mta_sts_policy_free(&back.policy);
	vstr_free(e.id);
	vstr_free(back.id);
	vstr_free(text);
}

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
test_mta_sts_proto_round_trip(void **state)
{
	ATTR		      *a = attr_alloc();
	ATTR		      *b = attr_alloc();
	struct mta_sts_reply   rp;
	struct mta_sts_reply   back;
	struct mta_sts_request rq;
	VSTR		      *why = vstr_alloc(10);

	(void)state;
	mta_sts_request_encode(&(struct mta_sts_request){ .domain = "Ex.Org" },
			       a);
	wire(a, b);
	assert_int_equal(mta_sts_request_decode(b, &rq, why), 0);
	assert_string_equal(rq.domain, "Ex.Org");
	attr_put_str(b, "extra", "1");
	assert_int_equal(mta_sts_request_decode(b, &rq, why), -1);
	attr_reset(b);
	attr_put_str(b, "request", "policy");
	attr_put_str(b, "domain", "a b");
	assert_int_equal(mta_sts_request_decode(b, &rq, why), -1);

	memset(&rp, 0, sizeof(rp));
	memset(&back, 0, sizeof(back));
	rp.status = MTA_STS_STAT_POLICY;
	rp.id = "id1";
	rp.fetched = 5;
	rp.expires = 10;
	rp.policy.mode = MTA_STS_MODE_ENFORCE;
	rp.policy.max_age = 5;
	assert_int_equal(mta_sts_policy_mx_parse(&rp.policy, "mx.ex.org", NULL),
			 0);
	rp.failure = "";
	rp.detail = "";
	mta_sts_reply_encode(&rp, a);
	wire(a, b);
	assert_int_equal(mta_sts_reply_decode(b, &back, why), 0);
	assert_int_equal(back.status, MTA_STS_STAT_POLICY);
	assert_string_equal(back.id, "id1");
	assert_int_equal(back.policy.mode, MTA_STS_MODE_ENFORCE);
	assert_string_equal(back.policy.mx[0], "mx.ex.org");
	attr_put_str(b, "status", "7");
	assert_int_equal(mta_sts_reply_decode(b, &back, why), -1);

	mta_sts_policy_free(&rp.policy);
	memset(&rp, 0, sizeof(rp));
	rp.status = MTA_STS_STAT_NONE;
	rp.failure = "sts-policy-fetch-error";
	rp.detail = "HTTP 404";
	mta_sts_reply_encode(&rp, a);
	wire(a, b);
	assert_int_equal(mta_sts_reply_decode(b, &back, why), 0);
	assert_int_equal(back.status, MTA_STS_STAT_NONE);
	assert_string_equal(back.failure, "sts-policy-fetch-error");
	assert_string_equal(back.detail, "HTTP 404");
	mta_sts_policy_free(&back.policy);
	attr_free(a);
	attr_free(b);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mta_sts_txt_record),
		cmocka_unit_test(test_mta_sts_txt_select),
		cmocka_unit_test(test_mta_sts_policy_parse),
		cmocka_unit_test(test_mta_sts_policy_limits),
		cmocka_unit_test(test_mta_sts_mx_match),
		cmocka_unit_test(test_mta_sts_cache_round_trip),
		cmocka_unit_test(test_mta_sts_proto_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
