/*
 * Unit tests for cleanup's address rewriting, virtual alias expansion,
 * header address rewriting and header/body check actions (the cleanup objects
 * linked without main).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "cleanup/cleanup.h"
#include "tests/unit/harness.h"
#include "util/mymalloc.h"

static CLEANUP_CONF *
conf_new(void)
{
	CLEANUP_CONF *c = mycalloc(1, sizeof(*c));

	c->myhostname = "mx.example.test";
	c->myorigin = "example.test";
	c->mydomain = "example.test";
	c->mydestination = "mx.example.test, localhost";
	c->masquerade_domains = "";
	c->masquerade_exceptions = "";
	c->append_at_myorigin = true;
	c->canonical_classes = CLEANUP_CLASS_ALL;
	c->sender_canonical_classes = CLEANUP_CLASS_ALL;
	c->recipient_canonical_classes = CLEANUP_CLASS_ALL;
	c->header_size_limit = 102400;
	c->hopcount_limit = 50;
	c->body_checks_size_limit = 51200;
	c->duplicate_filter_limit = 1000;
	c->virtual_alias_recursion_limit = 1000;
	c->virtual_alias_expansion_limit = 1000;
	c->qmgr_service = "qmgr";
	c->recipient_delimiter = "";
	return c;
}

static DICT_LIST *
maps(const char *spec)
{
	VSTR	  *why = vstr_alloc(10);
	DICT_LIST *l = dict_list_open(spec, DICT_FLAG_FOLD, why);

	if (l == NULL)
		fail_msg("%s", VSTR_STR(why));
	vstr_free(why);
	return l;
}

static const char *
rw(CLEANUP_CONF *c, const char *addr, int how)
{
	static VSTR *out;

	if (out == NULL)
		out = vstr_alloc(64);
	assert_int_equal(cleanup_rewrite(c, addr, how, out), 0);
	return VSTR_STR(out);
}

static void
test_cleanup_rewrite_qualifies_addresses(void **state)
{
	CLEANUP_CONF *c = conf_new();

	(void)state;
	assert_string_equal(rw(c, "alice", CLEANUP_REWRITE_SENDER),
			    "alice@example.test");
	assert_string_equal(rw(c, "", CLEANUP_REWRITE_SENDER), "");
	assert_string_equal(rw(c, "u@host", CLEANUP_REWRITE_RCPT), "u@host");
	c->append_dot_mydomain = true;
	assert_string_equal(rw(c, "u@host", CLEANUP_REWRITE_RCPT),
			    "u@host.example.test");
	assert_string_equal(rw(c, "u@[192.0.2.1]", CLEANUP_REWRITE_RCPT),
			    "u@[192.0.2.1]");
	c->append_at_myorigin = false;
	assert_string_equal(rw(c, "bob", CLEANUP_REWRITE_RCPT), "bob");
	myfree(c);
}

static const char *
route(CLEANUP_CONF *c, const char *addr)
{
	static VSTR *out;

	if (out == NULL)
		out = vstr_alloc(64);
	vstr_strcpy(out, addr);
	cleanup_route_local(c, out);
	return VSTR_STR(out);
}

static void
test_cleanup_rewrite_bang_path_and_percent_hack(void **state)
{
	CLEANUP_CONF *c = conf_new();

	(void)state;
	/* off (as calloc leaves them): nothing changes */
	assert_string_equal(rw(c, "site!user", CLEANUP_REWRITE_RCPT),
			    "site!user@example.test");
	assert_string_equal(route(c, "u%remote.test@localhost"),
			    "u%remote.test@localhost");
	c->swap_bangpath = true;
	c->allow_percent_hack = true;
	/* canonicalisation: only addresses without '@' */
	assert_string_equal(rw(c, "site!user", CLEANUP_REWRITE_SENDER),
			    "user@site");
	assert_string_equal(rw(c, "a!b!user", CLEANUP_REWRITE_RCPT),
			    "b!user@a");
	assert_string_equal(rw(c, "user%remote.test", CLEANUP_REWRITE_RCPT),
			    "user@remote.test");
	assert_string_equal(rw(c, "u%a%b", CLEANUP_REWRITE_RCPT), "u%a@b");
	assert_string_equal(rw(c, "site!u%x", CLEANUP_REWRITE_RCPT),
			    "u%x@site");
	assert_string_equal(rw(c, "u%x@remote.test", CLEANUP_REWRITE_RCPT),
			    "u%x@remote.test");
	assert_string_equal(rw(c, "\"a!b\"", CLEANUP_REWRITE_RCPT),
			    "\"a!b\"@example.test");
	c->append_dot_mydomain = true;
	assert_string_equal(rw(c, "host!user", CLEANUP_REWRITE_RCPT),
			    "user@host.example.test");
	c->append_dot_mydomain = false;
	/* resolution: only in $mydestination, repeatedly */
	assert_string_equal(route(c, "u%remote.test@localhost"),
			    "u@remote.test");
	assert_string_equal(route(c, "remote.test!u@mx.example.test"),
			    "u@remote.test");
	assert_string_equal(route(c, "u%remote.test%localhost@MX.example.test"),
			    "u@remote.test");
	assert_string_equal(route(c, "u%remote.test@other.test"),
			    "u%remote.test@other.test");
	assert_string_equal(route(c, "plain@localhost"), "plain@localhost");
	assert_string_equal(route(c, "\"u%x\"@localhost"), "\"u%x\"@localhost");
	assert_string_equal(route(c, "u%localhost@localhost"), "u@localhost");
	c->allow_percent_hack = false;
	assert_string_equal(route(c, "u%remote.test@localhost"),
			    "u%remote.test@localhost");
	assert_string_equal(rw(c, "u%x", CLEANUP_REWRITE_RCPT),
			    "u%x@example.test");
	myfree(c);
}

static void
test_cleanup_rewrite_canonical_classes(void **state)
{
	CLEANUP_CONF *c = conf_new();
	VSTR	     *why = vstr_alloc(10);
	int	      mask;

	(void)state;
	assert_int_equal(cleanup_parse_classes("envelope_sender, "
					       "envelope_recipient,header_sender"
					       " header_recipient",
					       &mask, why),
			 0);
	assert_int_equal(mask, CLEANUP_CLASS_ALL);
	assert_int_equal(cleanup_parse_classes("", &mask, why), 0);
	assert_int_equal(mask, 0);
	assert_int_equal(cleanup_parse_classes("Header_Sender", &mask, why), 0);
	assert_int_equal(mask, CLEANUP_CLASS_HDR_SENDER);
	assert_int_equal(cleanup_parse_classes("envelope_sender, bogus", &mask,
					       why),
			 -1);
	assert_string_equal(VSTR_STR(why), "unknown address class \"bogus\"");

	c->canonical = maps("inline:{ a@example.test=c@example.test }");
	c->sender_canonical = maps("inline:{ a@example.test=s@example.test }");
	c->recipient_canonical = maps(
	    "inline:{ a@example.test=r@example.test }");
	c->canonical_classes = CLEANUP_CLASS_ENV_RCPT;
	c->sender_canonical_classes = CLEANUP_CLASS_HDR_SENDER;
	c->recipient_canonical_classes = 0;
	assert_string_equal(rw(c, "a@example.test", CLEANUP_REWRITE_SENDER),
			    "a@example.test");
	assert_string_equal(rw(c, "a@example.test",
			       CLEANUP_REWRITE_SENDER | CLEANUP_REWRITE_HEADER),
			    "s@example.test");
	assert_string_equal(rw(c, "a@example.test", CLEANUP_REWRITE_RCPT),
			    "c@example.test");
	assert_string_equal(rw(c, "a@example.test",
			       CLEANUP_REWRITE_RCPT | CLEANUP_REWRITE_HEADER),
			    "a@example.test");
	c->recipient_canonical_classes = CLEANUP_CLASS_HDR_RCPT;
	assert_string_equal(rw(c, "a@example.test",
			       CLEANUP_REWRITE_RCPT | CLEANUP_REWRITE_HEADER),
			    "r@example.test");
	dict_list_close(c->canonical);
	dict_list_close(c->sender_canonical);
	dict_list_close(c->recipient_canonical);
	vstr_free(why);
	myfree(c);
}

/* Mail that Postel forwards (local) or generates (bounce) gets no BCC. */
static void
test_cleanup_bcc_only_for_new_mail(void **state)
{
	CLEANUP_CONF  *c = conf_new();
	CLEANUP_STATE *st = cleanup_state_alloc(c);

	(void)state;
	assert_true(cleanup_bcc_ok(st));
	st->origin = "smtpd";
	assert_true(cleanup_bcc_ok(st));
	st->origin = "pickup";
	assert_true(cleanup_bcc_ok(st));
	st->origin = "local";
	assert_false(cleanup_bcc_ok(st));
	st->origin = "bounce";
	assert_false(cleanup_bcc_ok(st));
	cleanup_state_free(st);
	myfree(c);
}

static void
test_cleanup_rewrite_canonical_order(void **state)
{
	CLEANUP_CONF *c = conf_new();

	(void)state;
	c->canonical = maps("inline:{ old@example.test=new@example.test, "
			    "@old.test=@new.test, root=admin }");
	c->sender_canonical = maps(
	    "inline:{ new@example.test=sender@example.test }");
	c->recipient_canonical = maps(
	    "inline:{ x@example.test=y@example.test }");
	/* sender_canonical first, then canonical (one pass each) */
	assert_string_equal(rw(c, "old@example.test", CLEANUP_REWRITE_SENDER),
			    "new@example.test");
	assert_string_equal(rw(c, "new@example.test", CLEANUP_REWRITE_SENDER),
			    "sender@example.test");
	assert_string_equal(rw(c, "x@example.test", CLEANUP_REWRITE_RCPT),
			    "y@example.test");
	assert_string_equal(rw(c, "x@example.test", CLEANUP_REWRITE_SENDER),
			    "x@example.test");
	/* @domain keeps the user; bare user only for local domains */
	assert_string_equal(rw(c, "Joe@OLD.test", CLEANUP_REWRITE_RCPT),
			    "Joe@new.test");
	assert_string_equal(rw(c, "root@mx.example.test", CLEANUP_REWRITE_RCPT),
			    "admin@example.test");
	assert_string_equal(rw(c, "root@remote.test", CLEANUP_REWRITE_RCPT),
			    "root@remote.test");
	dict_list_close(c->canonical);
	dict_list_close(c->sender_canonical);
	dict_list_close(c->recipient_canonical);
	myfree(c);
}

static void
test_cleanup_rewrite_masquerade(void **state)
{
	CLEANUP_CONF *c = conf_new();

	(void)state;
	c->masquerade_domains = "!keep.example.test, example.test";
	c->masquerade_exceptions = "root";
	assert_string_equal(rw(c, "u@a.b.example.test", CLEANUP_REWRITE_SENDER),
			    "u@example.test");
	assert_string_equal(rw(c, "u@keep.example.test",
			       CLEANUP_REWRITE_SENDER),
			    "u@keep.example.test");
	assert_string_equal(rw(c, "root@a.example.test",
			       CLEANUP_REWRITE_SENDER),
			    "root@a.example.test");
	assert_string_equal(rw(c, "u@notexample.test", CLEANUP_REWRITE_SENDER),
			    "u@notexample.test");
	/* envelope recipients are not masqueraded */
	assert_string_equal(rw(c, "u@a.example.test", CLEANUP_REWRITE_RCPT),
			    "u@a.example.test");
	assert_string_equal(rw(c, "u@a.example.test",
			       CLEANUP_REWRITE_RCPT | CLEANUP_REWRITE_HEADER),
			    "u@example.test");
	myfree(c);
}

static int
expand(CLEANUP_CONF *c, const char *addr, VSTR *joined)
{
	char **v;
	size_t n, i;
	VSTR  *why = vstr_alloc(10);
	int    ret = cleanup_virtual(c, addr, &v, &n, why);

	vstr_reset(joined);
	if (ret < 0)
		vstr_strcpy(joined, VSTR_STR(why));
	for (i = 0; i < n; i++)
		vstr_sprintf_append(joined, "%s%s", i ? " " : "", v[i]);
	cleanup_argv_free(v, n);
	vstr_free(why);
	return ret;
}

static void
test_cleanup_virtual_expansion_and_limits(void **state)
{
	CLEANUP_CONF *c = conf_new();
	VSTR	     *out = vstr_alloc(100);

	(void)state;
	c->virtual_alias = maps(
	    "inline:{ {list@example.test=a@x.test, "
	    "b@x.test, list2}, list2@example.test=c@x.test, "
	    "{self@example.test=self@example.test other@x.test}, "
	    "l1@example.test=l2@example.test, "
	    "l2@example.test=l1@example.test, "
	    "@catch.test=@x.test, d1@x.test=d2@x.test, "
	    "d2@x.test=d3@x.test, d3@x.test=d4@x.test }");
	assert_int_equal(expand(c, "list@example.test", out), 0);
	assert_string_equal(VSTR_STR(out), "a@x.test b@x.test c@x.test");
	assert_int_equal(expand(c, "self@example.test", out), 0);
	assert_string_equal(VSTR_STR(out), "self@example.test other@x.test");
	assert_int_equal(expand(c, "nobody@example.test", out), 0);
	assert_string_equal(VSTR_STR(out), "nobody@example.test");
	assert_int_equal(expand(c, "joe@catch.test", out), 0);
	assert_string_equal(VSTR_STR(out), "joe@x.test");
	assert_int_equal(expand(c, "l1@example.test", out), -2);
	assert_non_null(strstr(VSTR_STR(out), "loop"));
	c->virtual_alias_recursion_limit = 2;
	assert_int_equal(expand(c, "d1@x.test", out), -2);
	assert_non_null(strstr(VSTR_STR(out), "recursion"));
	c->virtual_alias_recursion_limit = 3;
	assert_int_equal(expand(c, "d1@x.test", out), 0);
	assert_string_equal(VSTR_STR(out), "d4@x.test");
	c->virtual_alias_expansion_limit = 2;
	assert_int_equal(expand(c, "list@example.test", out), -2);
	assert_non_null(strstr(VSTR_STR(out), "expansion"));
	dict_list_close(c->virtual_alias);
	vstr_free(out);
	myfree(c);
}

static void
test_cleanup_unmatched_extensions_propagate_per_class(void **state)
{
	CLEANUP_CONF *c = conf_new();
	VSTR	     *out = vstr_alloc(100);

	(void)state;
	c->recipient_delimiter = "+";
	c->virtual_alias = maps("inline:{ joe@v.test=jim@x.test, "
				"joe+hit@v.test=exact@x.test }");
	c->canonical = maps("inline:{ ann@c.test=bea@y.test }");
	c->propagate = CLEANUP_PROPAGATE_CANONICAL | CLEANUP_PROPAGATE_VIRTUAL;
	assert_int_equal(expand(c, "joe+lists@v.test", out), 0);
	assert_string_equal(VSTR_STR(out), "jim+lists@x.test");
	/* The exact entry wins and keeps nothing. */
	assert_int_equal(expand(c, "joe+hit@v.test", out), 0);
	assert_string_equal(VSTR_STR(out), "exact@x.test");
	assert_string_equal(rw(c, "ann+x@c.test", CLEANUP_REWRITE_RCPT),
			    "bea+x@y.test");
	/* Classes not named: the table matched, the extension is dropped. */
	c->propagate = 0;
	assert_int_equal(expand(c, "joe+lists@v.test", out), 0);
	assert_string_equal(VSTR_STR(out), "jim@x.test");
	assert_string_equal(rw(c, "ann+x@c.test", CLEANUP_REWRITE_RCPT),
			    "bea@y.test");
	dict_list_close(c->virtual_alias);
	dict_list_close(c->canonical);
	vstr_free(out);
	myfree(c);
}

static void
test_cleanup_parse_action(void **state)
{
	const char *text;

	(void)state;
	assert_int_equal(cleanup_parse_action("REJECT go away", &text),
			 CLEANUP_ACT_REJECT);
	assert_string_equal(text, "go away");
	assert_int_equal(cleanup_parse_action("  hold", &text),
			 CLEANUP_ACT_HOLD);
	assert_string_equal(text, "");
	assert_int_equal(cleanup_parse_action("PREPEND X-A: b", &text),
			 CLEANUP_ACT_PREPEND);
	assert_string_equal(text, "X-A: b");
	assert_int_equal(cleanup_parse_action("DUNNO", &text),
			 CLEANUP_ACT_NONE);
	assert_int_equal((int)cleanup_parse_action("FROB x", &text), -1);
}

static void
test_cleanup_header_address_rewrite_keeps_display_names(void **state)
{
	CLEANUP_CONF  *c = conf_new();
	CLEANUP_STATE *st;
	VSTR	      *f = vstr_alloc(100);

	(void)state;
	c->canonical = maps("inline:{ old@example.test=new@example.test }");
	st = cleanup_state_alloc(c);
	vstr_strcpy(
	    f,
	    "To: \"Old, Person\" <old@example.test>, bob,\r\n\tcarol@x.test");
	cleanup_rewrite_header_addrs(st, f, 2);
	assert_string_equal(VSTR_STR(f),
			    "To: \"Old, Person\" <new@example.test>, "
			    "bob@example.test,\r\n\tcarol@x.test");
	/* a display name equal to the user is not touched */
	vstr_strcpy(f, "From: bob <bob>");
	cleanup_rewrite_header_addrs(st, f, 4);
	assert_string_equal(VSTR_STR(f), "From: bob <bob@example.test>");
	cleanup_state_free(st);
	dict_list_close(c->canonical);
	vstr_free(f);
	myfree(c);
}

static void
test_cleanup_check_actions_set_state(void **state)
{
	CLEANUP_CONF  *c = conf_new();
	CLEANUP_STATE *st;
	VSTR	      *res = vstr_alloc(10);

	(void)state;
	c->header_checks = maps("inline:{ {Subject: a=REJECT no thanks}, "
				"{Subject: b=HOLD}, {Subject: c=DISCARD}, "
				"{Subject: d=REJECT 4.7.1 later}, "
				"{Subject: e=REPLACE} }");
	st = cleanup_state_alloc(c);
	vstr_strcpy(st->qid, "QID");
	assert_int_equal(cleanup_check(st, c->header_checks, "header",
				       "Subject: b", 10, res),
			 CLEANUP_ACT_HOLD);
	assert_true(st->hold);
	assert_int_equal(cleanup_check(st, c->header_checks, "header",
				       "Subject: c", 10, res),
			 CLEANUP_ACT_DISCARD);
	assert_true(st->discard);
	assert_int_equal(cleanup_check(st, c->header_checks, "header",
				       "Subject: e", 10, res),
			 CLEANUP_ACT_NONE);
	assert_int_equal(cleanup_check(st, c->header_checks, "header",
				       "Subject: a", 10, res),
			 CLEANUP_ACT_REJECT);
	assert_int_equal(st->status, CLEANUP_REJECT);
	assert_string_equal(VSTR_STR(st->reply), "550 5.7.1 no thanks");
	cleanup_state_free(st);

	st = cleanup_state_alloc(c);
	vstr_strcpy(st->qid, "QID");
	assert_int_equal(cleanup_check(st, c->header_checks, "header",
				       "Subject: d", 10, res),
			 CLEANUP_ACT_REJECT);
	assert_int_equal(st->status, CLEANUP_TEMPFAIL);
	assert_string_equal(VSTR_STR(st->reply), "451 4.7.1 later");
	cleanup_state_free(st);
	dict_list_close(c->header_checks);
	vstr_free(res);
	myfree(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cleanup_rewrite_qualifies_addresses),
		cmocka_unit_test(
		    test_cleanup_rewrite_bang_path_and_percent_hack),
		cmocka_unit_test(test_cleanup_rewrite_canonical_classes),
		cmocka_unit_test(test_cleanup_bcc_only_for_new_mail),
		cmocka_unit_test(test_cleanup_rewrite_canonical_order),
		cmocka_unit_test(test_cleanup_rewrite_masquerade),
		cmocka_unit_test(test_cleanup_virtual_expansion_and_limits),
		cmocka_unit_test(
		    test_cleanup_unmatched_extensions_propagate_per_class),
		cmocka_unit_test(test_cleanup_parse_action),
		cmocka_unit_test(
		    test_cleanup_header_address_rewrite_keeps_display_names),
		cmocka_unit_test(test_cleanup_check_actions_set_state),
	};

	return cmocka_run_group_tests_name("cleanup_rewrite", tests, NULL,
					   NULL);
}
