/*
 * Unit tests for smtpd/smtpd_spf: the libspf2 DNS layer's glue (util/dns
 * answers into libspf2 RR sets and herrno codes), whole checks against a
 * fake resolver (every result, the HELO identity, loopback clients, no
 * type 99 queries), the Received-SPF writer and the domain check.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>

#include <spf2/spf.h>

#include "smtpd/smtpd_spf.h"
#include "tests/unit/harness.h"
#include "util/dns.h"
#include "util/vstr.h"

/* A fake zone: name, type, and either text/address or a status. */
struct zrec {
	const char     *name;
	int		type;
	const char     *data; /* TXT text, A/AAAA address, MX/PTR host */
	enum dns_status status;
	int		rcode;
};

static const struct zrec zone[] = {
	{ "pass.test", DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.5 -all", DNS_OK, 0 },
	{ "fail.test", DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.1 -all", DNS_OK, 0 },
	{ "soft.test", DNS_TYPE_TXT, "v=spf1 ~all", DNS_OK, 0 },
	{ "neutral.test", DNS_TYPE_TXT, "v=spf1 ?all", DNS_OK, 0 },
	{ "bare.test", DNS_TYPE_TXT, "v=spf1", DNS_OK, 0 },
	{ "other.test", DNS_TYPE_TXT, "v=spf10 -all", DNS_OK, 0 },
	{ "temp.test", DNS_TYPE_TXT, NULL, DNS_TEMPFAIL, 2 },
	{ "syntax.test", DNS_TYPE_TXT, "v=spf1 foo:bar -all", DNS_OK, 0 },
	{ "twice.test", DNS_TYPE_TXT, "v=spf1 -all", DNS_OK, 0 },
	{ "twice.test", DNS_TYPE_TXT, "v=spf1 +all", DNS_OK, 0 },
	{ "mx.test", DNS_TYPE_TXT, "v=spf1 mx -all", DNS_OK, 0 },
	{ "mx.test", DNS_TYPE_MX, "mail.mx.test", DNS_OK, 0 },
	{ "mail.mx.test", DNS_TYPE_A, "192.0.2.5", DNS_OK, 0 },
	{ "v6.test", DNS_TYPE_TXT, "v=spf1 a -all", DNS_OK, 0 },
	{ "v6.test", DNS_TYPE_AAAA, "2001:db8::5", DNS_OK, 0 },
	{ "inc.test", DNS_TYPE_TXT, "v=spf1 include:temp.test -all", DNS_OK,
	  0 },
	{ "incnone.test", DNS_TYPE_TXT, "v=spf1 include:nx.test -all", DNS_OK,
	  0 },
	{ "loop.test", DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.1 -all", DNS_OK, 0 },
	{ "helo.test", DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.5 -all", DNS_OK, 0 },
	{ "exp.test", DNS_TYPE_TXT, "v=spf1 -all exp=why.exp.test", DNS_OK, 0 },
	{ "why.exp.test", DNS_TYPE_TXT, "%{i} may not send for %{d}", DNS_OK,
	  0 },
};

static int queries;
static int type99;

static enum dns_status
fake_lookup(void *ctx, const char *name, int type, DNS_REPLY *r, VSTR *why)
{
	bool seen = false;

	(void)ctx;
	queries++;
	if (type == 99)
		type99++;
	r->count = 0;
	r->rcode = 0;
	vstr_strcpy(why, "fake");
	for (size_t i = 0; i < sizeof(zone) / sizeof(*zone); i++) {
		const struct zrec *z = &zone[i];
		DNS_RR		  *rr;

		if (strcmp(z->name, name) != 0)
			continue;
		seen = true;
		if (z->status != DNS_OK) {
			r->rcode = z->rcode;
			return z->status;
		}
		if (z->type != type)
			continue;
		rr = &r->rr[r->count++];
		rr->type = type;
		rr->ttl = 60;
		vstr_strcpy(rr->name, name);
		vstr_strcpy(rr->data, z->data);
		if (type == DNS_TYPE_A)
			assert_int_equal(inet_pton(AF_INET, z->data, rr->addr),
					 1);
		if (type == DNS_TYPE_AAAA)
			assert_int_equal(inet_pton(AF_INET6, z->data, rr->addr),
					 1);
	}
	if (r->count)
		return DNS_OK;
	r->rcode = seen ? 0 : 3;
	return DNS_NOTFOUND;
}

struct fixture {
	SMTPD_SPF		*spf;
	struct smtpd_spf_outcome o;
};

static int
setup(void **state)
{
	static struct fixture f;
	VSTR		     *why = vstr_alloc(32);

	f.spf = smtpd_spf_create("mx.local.test", fake_lookup, NULL, why);
	assert_non_null(f.spf);
	vstr_free(why);
	smtpd_spf_outcome_init(&f.o);
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	f->spf = smtpd_spf_free(f->spf);
	smtpd_spf_outcome_free(&f->o);
	return 0;
}

static const char *
check(void **state, const char *ip, const char *helo, const char *sender)
{
	struct fixture	      *f = *state;
	struct smtpd_spf_query q = { ip, helo, sender };

	queries = 0;
	assert_int_equal(smtpd_spf_check(f->spf, &q, &f->o), 0);
	assert_non_null(f->o.result);
	return f->o.result;
}

/* The glue: one util/dns answer into a libspf2 RR set. */

static void
test_smtpd_spf_dns_rr_maps_statuses(void **state)
{
	DNS_REPLY    *r = dns_reply_alloc();
	SPF_dns_rr_t *rr;

	(void)state;
	r->rcode = 3;
	rr = smtpd_spf_dns_rr(NULL, "nx.test", DNS_TYPE_TXT, DNS_NOTFOUND, r);
	assert_int_equal(rr->herrno, HOST_NOT_FOUND);
	assert_int_equal(rr->num_rr, 0);
	SPF_dns_rr_free(rr);
	r->rcode = 0;
	rr = smtpd_spf_dns_rr(NULL, "nodata.test", DNS_TYPE_TXT, DNS_NOTFOUND,
			      r);
	assert_int_equal(rr->herrno, NO_DATA);
	SPF_dns_rr_free(rr);
	rr = smtpd_spf_dns_rr(NULL, "x.test", DNS_TYPE_A, DNS_TEMPFAIL, r);
	assert_int_equal(rr->herrno, TRY_AGAIN);
	SPF_dns_rr_free(rr);
	/* No reply at all (a type the layer never asks for). */
	rr = smtpd_spf_dns_rr(NULL, "x.test", 99, DNS_NOTFOUND, NULL);
	assert_int_equal(rr->herrno, NO_DATA);
	SPF_dns_rr_free(rr);
	dns_reply_free(r);
}

static void
test_smtpd_spf_dns_rr_copies_records(void **state)
{
	DNS_REPLY    *r = dns_reply_alloc();
	SPF_dns_rr_t *rr;

	(void)state;
	r->count = 3;
	r->rr[0].type = DNS_TYPE_A;
	r->rr[0].ttl = 300;
	inet_pton(AF_INET, "192.0.2.1", r->rr[0].addr);
	r->rr[1].type = DNS_TYPE_AAAA; /* not the type asked: skipped */
	r->rr[2].type = DNS_TYPE_A;
	r->rr[2].ttl = 60;
	inet_pton(AF_INET, "192.0.2.2", r->rr[2].addr);
	rr = smtpd_spf_dns_rr(NULL, "a.test", DNS_TYPE_A, DNS_OK, r);
	assert_int_equal(rr->herrno, NETDB_SUCCESS);
	assert_int_equal(rr->num_rr, 2);
	assert_int_equal(rr->ttl, 60);
	assert_memory_equal(&rr->rr[0]->a, r->rr[0].addr, 4);
	assert_memory_equal(&rr->rr[1]->a, r->rr[2].addr, 4);
	assert_string_equal(rr->domain, "a.test");
	SPF_dns_rr_free(rr);

	/* MX: a null MX names no host; TXT: an embedded NUL ends it. */
	r->count = 2;
	r->rr[0].type = DNS_TYPE_MX;
	vstr_reset(r->rr[0].data);
	r->rr[1].type = DNS_TYPE_MX;
	vstr_strcpy(r->rr[1].data, "mail.test");
	rr = smtpd_spf_dns_rr(NULL, "m.test", DNS_TYPE_MX, DNS_OK, r);
	assert_int_equal(rr->num_rr, 1);
	assert_string_equal(rr->rr[0]->mx, "mail.test");
	SPF_dns_rr_free(rr);
	r->count = 1;
	r->rr[0].type = DNS_TYPE_TXT;
	vstr_memcpy(r->rr[0].data, "v=spf1\0 +all", 12);
	rr = smtpd_spf_dns_rr(NULL, "t.test", DNS_TYPE_TXT, DNS_OK, r);
	assert_string_equal(rr->rr[0]->txt, "v=spf1");
	SPF_dns_rr_free(rr);
	/* Nothing of the asked type left: NO_DATA, as RFC 7208 expects. */
	r->rr[0].type = DNS_TYPE_A;
	rr = smtpd_spf_dns_rr(NULL, "t.test", DNS_TYPE_TXT, DNS_OK, r);
	assert_int_equal(rr->herrno, NO_DATA);
	SPF_dns_rr_free(rr);
	dns_reply_free(r);
}

/* Whole checks. */

static void
test_smtpd_spf_check_every_result(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(check(state, "192.0.2.5", "h.test", "a@pass.test"),
			    "pass");
	assert_string_equal(f->o.identity, "mailfrom");
	assert_string_equal(VSTR_STR(f->o.domain), "pass.test");
	assert_string_equal(check(state, "192.0.2.5", "h.test", "a@fail.test"),
			    "fail");
	assert_string_equal(VSTR_STR(f->o.explanation),
			    "192.0.2.5 is not a designated mail server for "
			    "fail.test");
	assert_string_equal(check(state, "192.0.2.5", NULL, "a@soft.test"),
			    "softfail");
	assert_string_equal(check(state, "192.0.2.5", NULL, "a@neutral.test"),
			    "neutral");
	assert_string_equal(check(state, "192.0.2.5", NULL, "a@bare.test"),
			    "neutral");
	assert_string_equal(check(state, "192.0.2.5", NULL, "a@nx.test"),
			    "none");
	assert_string_equal(check(state, "192.0.2.5", NULL, "a@other.test"),
			    "none");
	assert_string_equal(check(state, "192.0.2.5", NULL, "a@temp.test"),
			    "temperror");
	assert_string_equal(check(state, "192.0.2.5", NULL, "a@inc.test"),
			    "temperror");
	assert_string_equal(check(state, "192.0.2.5", NULL, "a@syntax.test"),
			    "permerror");
	assert_string_equal(check(state, "192.0.2.5", NULL, "a@twice.test"),
			    "permerror");
	assert_string_equal(check(state, "192.0.2.5", NULL, "a@incnone.test"),
			    "permerror");
	assert_string_equal(check(state, "192.0.2.5", NULL, "a@mx.test"),
			    "pass");
	assert_string_equal(check(state, "2001:db8::5", NULL, "a@v6.test"),
			    "pass");
	assert_string_equal(check(state, "::ffff:192.0.2.5", NULL,
				  "a@pass.test"),
			    "pass");
	assert_int_equal(type99, 0);
}

static void
test_smtpd_spf_check_loopback_gets_its_real_result(void **state)
{
	/* libspf2's query functions would say "pass (localhost)". */
	assert_string_equal(check(state, "127.0.0.1", NULL, "a@loop.test"),
			    "fail");
}

static void
test_smtpd_spf_check_helo_for_null_sender(void **state)
{
	struct fixture	      *f = *state;
	struct smtpd_spf_query q = { "192.0.2.5", NULL, "" };

	assert_string_equal(check(state, "192.0.2.5", "helo.test", ""), "pass");
	assert_string_equal(f->o.identity, "helo");
	assert_string_equal(VSTR_STR(f->o.domain), "helo.test");
	assert_string_equal(check(state, "192.0.2.9", "helo.test", ""), "fail");
	/* No HELO name: no identity to check. */
	assert_int_equal(smtpd_spf_check(f->spf, &q, &f->o), -1);
	assert_null(f->o.result);
}

static void
test_smtpd_spf_check_bad_domain_is_none_without_queries(void **state)
{
	assert_string_equal(check(state, "192.0.2.5", NULL, "postmaster"),
			    "none");
	assert_int_equal(queries, 0);
	assert_string_equal(check(state, "192.0.2.5", "[192.0.2.5]", ""),
			    "none");
	assert_string_equal(check(state, "192.0.2.5", "localhost", ""), "none");
	assert_int_equal(queries, 0);
}

static void
test_smtpd_spf_check_explanation_from_exp(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(check(state, "192.0.2.5", NULL, "a@exp.test"),
			    "fail");
	assert_string_equal(VSTR_STR(f->o.explanation),
			    "192.0.2.5 may not send for exp.test");
}

static void
test_smtpd_spf_check_header(void **state)
{
	struct fixture *f = *state;

	check(state, "192.0.2.5", "h.test", "a@fail.test");
	assert_string_equal(
	    VSTR_STR(f->o.header),
	    "Received-SPF: fail\r\n"
	    "\t(mx.local.test: domain of a@fail.test does not designate "
	    "192.0.2.5 as permitted sender)\r\n"
	    "\tclient-ip=192.0.2.5; envelope-from=\"a@fail.test\"; "
	    "helo=h.test;\r\n"
	    "\treceiver=mx.local.test; identity=mailfrom;");
	/* ?all matched; only "v=spf1" alone runs off its end. */
	check(state, "192.0.2.5", NULL, "a@neutral.test");
	assert_null(strstr(VSTR_STR(f->o.header), "mechanism="));
	check(state, "192.0.2.5", NULL, "a@bare.test");
	assert_non_null(strstr(VSTR_STR(f->o.header), "mechanism=default;"));
	check(state, "192.0.2.5", NULL, "a@syntax.test");
	assert_non_null(strstr(VSTR_STR(f->o.header), "problem="));
}

/* The writer on its own. */

static void
test_smtpd_spf_header_quotes_and_folds(void **state)
{
	VSTR		    *out = vstr_alloc(64);
	struct smtpd_spf_hdr h = {
		.result = "pass",
		.comment = "a (b) \\ c\r\nd",
		.client_ip = "2001:db8::1",
		.envelope_from = "\"odd\\\"\"@x.test",
		.helo = "h.test",
		.receiver = "mx.test",
	};
	size_t line = 0;

	(void)state;
	smtpd_spf_header(out, &h);
	assert_string_equal(VSTR_STR(out),
			    "Received-SPF: pass (a \\(b\\) \\\\ c??d) "
			    "client-ip=\"2001:db8::1\";\r\n"
			    "\tenvelope-from=\"\\\"odd\\\\\\\"\\\"@x.test\"; "
			    "helo=h.test; receiver=mx.test;");
	for (const char *cp = VSTR_STR(out); *cp; cp++, line++) {
		if (*cp == '\n')
			line = 0;
		assert_true(line <= 78);
	}
	h.result = "not a result";
	h.comment = NULL;
	smtpd_spf_header(out, &h);
	assert_true(strncmp(VSTR_STR(out), "Received-SPF: permerror ", 24)
		    == 0);
	vstr_free(out);
}

static void
test_smtpd_spf_domain_ok(void **state)
{
	(void)state;
	assert_true(smtpd_spf_domain_ok("example.com"));
	assert_true(smtpd_spf_domain_ok("example.com."));
	assert_false(smtpd_spf_domain_ok("localhost"));
	assert_false(smtpd_spf_domain_ok(""));
	assert_false(smtpd_spf_domain_ok(NULL));
	assert_false(smtpd_spf_domain_ok("a..b"));
	assert_false(smtpd_spf_domain_ok(".a.b"));
	assert_false(smtpd_spf_domain_ok("[192.0.2.1]"));
	assert_false(smtpd_spf_domain_ok("a b.test"));
	assert_false(smtpd_spf_domain_ok(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "test"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtpd_spf_dns_rr_maps_statuses),
		cmocka_unit_test(test_smtpd_spf_dns_rr_copies_records),
		cmocka_unit_test_setup_teardown(test_smtpd_spf_check_every_result,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_spf_check_loopback_gets_its_real_result, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_spf_check_helo_for_null_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_spf_check_bad_domain_is_none_without_queries,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_smtpd_spf_check_explanation_from_exp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smtpd_spf_check_header,
						setup, teardown),
		cmocka_unit_test(test_smtpd_spf_header_quotes_and_folds),
		cmocka_unit_test(test_smtpd_spf_domain_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
