/*
 * Unit tests for the tlsrpt daemon's store (tlsrpt/tlsrpt_store.c):
 * counting per (day, domain, policy, MX), failure details, groups by
 * domain and day, the RFC 8460 JSON, the durable file (save, load,
 * refusal of a damaged file) and removal of sent groups.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "tlsrpt/tlsrpt.h"
#include "util/mymalloc.h"
#include "util/safe_file.h"
#include "util/vstr.h"

static const struct tlsrpt_conf conf = {
	.organization = "Org \"Q\"",
	.contact = "c@x.test",
	.submitter = "x.test",
	.sender = "r@x.test",
	.cafile = "",
	.myhostname = "mta.x.test",
};

static void
add(TLSRPT_STORE *st, const char *day, const char *domain, const char *type,
    const char *text, const char *result)
{
	struct tlsrpt_note n = {
		.domain = domain,
		.policy_type = type,
		.policy_text = text,
		.result = result,
		.detail = result ? "why" : NULL,
		.mx_host = "mx1.r.test",
		.sending_ip = "127.0.0.1",
		.receiving_ip = "127.0.0.51",
	};

	tlsrpt_store_add(st, day, &n);
}

static void
fill(TLSRPT_STORE *st)
{
	add(st, "2026-12-06", "r.test", "tlsa", "3 1 1 ab", NULL);
	add(st, "2026-12-06", "r.test", "tlsa", "3 1 1 ab", NULL);
	add(st, "2026-12-06", "r.test", "tlsa", "3 1 1 ab",
	    "certificate-not-trusted");
	add(st, "2026-12-06", "r.test", "no-policy-found", NULL, NULL);
	add(st, "2026-12-07", "r.test", "no-policy-found", NULL,
	    "starttls-not-supported");
	add(st, "2026-12-06", "s.test", "sts",
	    "version: STSv1\nmode: enforce\nmx: *.s.test\nmax_age: 86400",
	    NULL);
}

static void
report(TLSRPT_STORE *st, const char *domain, const char *day, VSTR *json)
{
	struct tlsrpt_group g;

	snprintf(g.domain, sizeof(g.domain), "%s", domain);
	snprintf(g.day, sizeof(g.day), "%s", day);
	tlsrpt_store_report(st, &g, &conf, "id-1", 1796515200LL, 1796601599LL,
			    json);
}

static void
has(const VSTR *json, const char *want)
{
	if (strstr(VSTR_STR(json), want) == NULL)
		fail_msg("report lacks %s:\n%s", want, VSTR_STR(json));
}

static void
test_tlsrpt_store_groups_and_report(void **state)
{
	TLSRPT_STORE	    *st = tlsrpt_store_create("/nonexistent/state");
	struct tlsrpt_group *g;
	VSTR		    *json = vstr_alloc(256);

	(void)state;
	fill(st);
	assert_true(tlsrpt_store_dirty(st));
	assert_int_equal(tlsrpt_store_groups(st, NULL, &g), 3);
	assert_string_equal(g[0].domain, "r.test");
	assert_string_equal(g[0].day, "2026-12-06");
	assert_string_equal(g[1].day, "2026-12-07");
	assert_string_equal(g[2].domain, "s.test");
	myfree(g);
	assert_int_equal(tlsrpt_store_groups(st, "2026-12-06", &g), 2);
	myfree(g);

	report(st, "r.test", "2026-12-06", json);
	has(json, "\"organization-name\": \"Org \\\"Q\\\"\"");
	has(json, "\"date-range\": {\"start-datetime\": "
		  "\"2026-12-06T00:00:00Z\", \"end-datetime\": "
		  "\"2026-12-06T23:59:59Z\"}");
	has(json, "\"contact-info\": \"c@x.test\"");
	has(json, "\"report-id\": \"id-1\"");
	has(json, "{\"policy-type\": \"tlsa\", \"policy-string\": "
		  "[\"3 1 1 ab\"], \"policy-domain\": \"r.test\", "
		  "\"mx-host\": [\"mx1.r.test\"]}");
	has(json, "\"total-successful-session-count\": 2, "
		  "\"total-failure-session-count\": 1");
	has(json, "{\"result-type\": \"certificate-not-trusted\", "
		  "\"sending-mta-ip\": \"127.0.0.1\", \"receiving-ip\": "
		  "\"127.0.0.51\", \"receiving-mx-hostname\": \"mx1.r.test\", "
		  "\"failed-session-count\": 1, \"failure-reason-code\": "
		  "\"why\"}");
	has(json, "{\"policy-type\": \"no-policy-found\", \"policy-domain\": "
		  "\"r.test\"");
	/* The other day's failure is not in this report. */
	assert_null(strstr(VSTR_STR(json), "starttls-not-supported"));
	/* sts: the policy lines, and mx-host from its "mx:" lines. */
	report(st, "s.test", "2026-12-06", json);
	has(json, "\"policy-string\": [\"version: STSv1\", \"mode: enforce\", "
		  "\"mx: *.s.test\", \"max_age: 86400\"]");
	has(json, "\"mx-host\": [\"*.s.test\"]");
	tlsrpt_store_free(st);
	vstr_free(json);
}

static void
test_tlsrpt_store_save_load_remove(void **state)
{
	char		     dir[] = "/tmp/test_tlsrpt_store.XXXXXX";
	VSTR		    *path = vstr_alloc(64);
	VSTR		    *why = vstr_alloc(64);
	VSTR		    *a = vstr_alloc(256);
	VSTR		    *b = vstr_alloc(256);
	TLSRPT_STORE	    *st;
	TLSRPT_STORE	    *st2;
	struct tlsrpt_group  g = { "r.test", "2026-12-06" };
	struct tlsrpt_group *gs;

	(void)state;
	assert_non_null(mkdtemp(dir));
	vstr_sprintf(path, "%s/state", dir);
	st = tlsrpt_store_create(VSTR_STR(path));
	/* No file yet: an empty store. */
	assert_int_equal(tlsrpt_store_load(st, why), 0);
	fill(st);
	assert_int_equal(tlsrpt_store_save(st, why), 0);
	assert_false(tlsrpt_store_dirty(st));
	st2 = tlsrpt_store_create(VSTR_STR(path));
	assert_int_equal(tlsrpt_store_load(st2, why), 0);
	report(st, "r.test", "2026-12-06", a);
	report(st2, "r.test", "2026-12-06", b);
	assert_string_equal(VSTR_STR(a), VSTR_STR(b));
	report(st, "s.test", "2026-12-06", a);
	report(st2, "s.test", "2026-12-06", b);
	assert_string_equal(VSTR_STR(a), VSTR_STR(b));
	/* Sent: gone, and gone from the file once saved. */
	tlsrpt_store_remove(st2, &g);
	assert_true(tlsrpt_store_dirty(st2));
	assert_int_equal(tlsrpt_store_groups(st2, NULL, &gs), 2);
	myfree(gs);
	assert_int_equal(tlsrpt_store_save(st2, why), 0);
	assert_int_equal(tlsrpt_store_load(st, why), 0);
	assert_int_equal(tlsrpt_store_groups(st, NULL, &gs), 2);
	myfree(gs);
	/* A damaged file is refused whole. */
	assert_int_equal(write_file_atomic(VSTR_STR(path), "12:garbage", 10,
					   0600),
			 0);
	assert_int_equal(tlsrpt_store_load(st, why), -1);
	assert_non_null(strstr(VSTR_STR(why), VSTR_STR(path)));
	assert_int_equal(tlsrpt_store_groups(st, NULL, &gs), 0);
	myfree(gs);
	tlsrpt_store_free(st);
	tlsrpt_store_free(st2);
	assert_int_equal(harness_rmtree(dir), 0);
	vstr_free(path);
	vstr_free(why);
	vstr_free(a);
	vstr_free(b);
}

static void
test_tlsrpt_store_failure_limit_folds(void **state)
{
	TLSRPT_STORE *st = tlsrpt_store_create("/nonexistent/state");
	VSTR	     *json = vstr_alloc(256);
	VSTR	     *ip = vstr_alloc(32);

	(void)state;
	for (int i = 0; i < TLSRPT_FAILURES_MAX + 10; i++) {
		struct tlsrpt_note n = { .domain = "r.test",
					 .policy_type = "no-policy-found",
					 .result = "validation-failure",
					 .mx_host = "mx.r.test",
					 .receiving_ip = VSTR_STR(ip) };

		vstr_sprintf(ip, "127.0.%d.%d", i / 200, i % 200 + 1);
		tlsrpt_store_add(st, "2026-12-06", &n);
	}
	report(st, "r.test", "2026-12-06", json);
	has(json, "\"total-failure-session-count\": 110");
	tlsrpt_store_free(st);
	vstr_free(json);
	vstr_free(ip);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlsrpt_store_groups_and_report),
		cmocka_unit_test(test_tlsrpt_store_save_load_remove),
		cmocka_unit_test(test_tlsrpt_store_failure_limit_folds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
