/*
 * Unit tests for qmgr/qmgr_resolve: transport and next hop of a recipient
 * from transport_maps, the address class and relayhost; domain lists.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "qmgr/qmgr.h"
#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/vstr.h"

struct fixture {
	QMGR		     q;
	struct qmgr_resolved res;
};

static struct fixture *
fixture_open(const char *maincf)
{
	struct fixture *f = calloc(1, sizeof(*f));
	VSTR	       *why = vstr_alloc(10);

	f->q.cfg = cfg_open_buffer(NULL, "main.cf", maincf, strlen(maincf),
				   why);
	assert_non_null(f->q.cfg);
	assert_int_equal(qmgr_resolve_init(&f->q, why), 0);
	f->res.transport = vstr_alloc(10);
	f->res.nexthop = vstr_alloc(10);
	vstr_free(why);
	return f;
}

static void
fixture_close(struct fixture *f)
{
	qmgr_resolve_free(&f->q);
	cfg_free(f->q.cfg);
	vstr_free(f->res.transport);
	vstr_free(f->res.nexthop);
	free(f);
}

static void
expect(struct fixture *f, const char *addr, const char *transport,
       const char *nexthop)
{
	assert_int_equal(qmgr_resolve(&f->q, addr, &f->res), 0);
	assert_string_equal(VSTR_STR(f->res.transport), transport);
	assert_string_equal(VSTR_STR(f->res.nexthop), nexthop);
}

static void
test_qmgr_resolve_address_classes(void **state)
{
	struct fixture *f = fixture_open(
	    "myhostname = mx.example.com\n"
	    "mydomain = example.com\n"
	    "relay_domains = relay.example\n"
	    "virtual_mailbox_domains = vbox.example\n"
	    "virtual_alias_domains = valias.example\n");

	(void)state;
	expect(f, "u@mx.example.com", "local", "mx.example.com");
	expect(f, "u@LOCALHOST.", "local", "mx.example.com");
	expect(f, "u@localhost.example.com", "local", "mx.example.com");
	expect(f, "u@relay.example", "relay", "relay.example");
	/* relay_domains is in parent_domain_matches_subdomains */
	expect(f, "u@a.b.relay.example", "relay", "a.b.relay.example");
	expect(f, "u@notrelay.example", "smtp", "notrelay.example");
	expect(f, "u@vbox.example", "virtual", "vbox.example");
	expect(f, "u@valias.example", "error",
	       "5.1.1 User unknown in virtual alias table");
	expect(f, "u@Other.Example", "smtp", "other.example");
	expect(f, "\"a@b\"@other.example", "smtp", "other.example");
	fixture_close(f);
}

/*
 * Address literals of this host are local, as smtpd decides (security
 * finding 4); other literals are relayed like any remote domain.
 */
static void
test_qmgr_resolve_own_address_literals_are_local(void **state)
{
	struct fixture *f = fixture_open("myhostname = mx.example.com\n"
					 "inet_interfaces = 127.0.0.1, [::1]\n"
					 "proxy_interfaces = 192.0.2.25\n"
					 "relayhost = [198.51.100.1]:2525\n");

	(void)state;
	expect(f, "u@[127.0.0.1]", "local", "mx.example.com");
	expect(f, "u@[IPv6:0:0::1]", "local", "mx.example.com");
	expect(f, "u@[192.0.2.25]", "local", "mx.example.com");
	expect(f, "u@[192.0.2.26]", "smtp", "[198.51.100.1]:2525");
	expect(f, "u@[127.0.0.2]", "smtp", "[198.51.100.1]:2525");
	expect(f, "u@[not-an-ip]", "smtp", "[198.51.100.1]:2525");
	fixture_close(f);

	f = fixture_open("myhostname = mx.example.com\n"
			 "inet_interfaces = loopback-only\n");
	expect(f, "u@[::1]", "local", "mx.example.com");
	expect(f, "u@[127.0.0.9]", "smtp", "[127.0.0.9]");
	fixture_close(f);
}

static void
test_qmgr_resolve_relayhost(void **state)
{
	struct fixture *f = fixture_open("myhostname = mx.example.com\n"
					 "relayhost = [127.0.0.2]:2525\n"
					 "relay_domains = relay.example\n");

	(void)state;
	expect(f, "u@far.example", "smtp", "[127.0.0.2]:2525");
	expect(f, "u@relay.example", "relay", "[127.0.0.2]:2525");
	expect(f, "u@mx.example.com", "local", "mx.example.com");
	fixture_close(f);
}

static void
expect_from(struct fixture *f, const char *sender, const char *addr,
	    const char *transport, const char *nexthop)
{
	assert_int_equal(qmgr_resolve_from(&f->q, sender, addr, &f->res), 0);
	assert_string_equal(VSTR_STR(f->res.transport), transport);
	assert_string_equal(VSTR_STR(f->res.nexthop), nexthop);
}

static void
test_qmgr_resolve_sender_dependent_relayhost(void **state)
{
	struct fixture *f = fixture_open(
	    "myhostname = mx.example.com\n"
	    "recipient_delimiter = +\n"
	    "relayhost = [127.0.0.2]:2525\n"
	    "relay_domains = relay.example\n"
	    "default_transport = smtp\n"
	    "sender_dependent_relayhost_maps = inline:{ "
	    "a@one.example=[127.0.0.3]:25, @two.example=[127.0.0.4], "
	    "boss@two.example=DUNNO }\n");

	(void)state;
	expect_from(f, "A@One.Example", "u@far.example", "smtp",
		    "[127.0.0.3]:25");
	/* Without the extension, then @domain; DUNNO keeps relayhost. */
	expect_from(f, "a+list@one.example", "u@far.example", "smtp",
		    "[127.0.0.3]:25");
	expect_from(f, "x@two.example", "u@relay.example", "relay",
		    "[127.0.0.4]");
	expect_from(f, "boss@two.example", "u@far.example", "smtp",
		    "[127.0.0.2]:2525");
	expect_from(f, "b@one.example", "u@far.example", "smtp",
		    "[127.0.0.2]:2525");
	expect_from(f, "", "u@far.example", "smtp", "[127.0.0.2]:2525");
	/* Local mail is not relayed. */
	expect_from(f, "a@one.example", "u@mx.example.com", "local",
		    "mx.example.com");
	fixture_close(f);
}

static void
test_qmgr_resolve_relocated(void **state)
{
	struct fixture *f = fixture_open(
	    "myhostname = mx.example.com\n"
	    "recipient_delimiter = +\n"
	    "transport_maps = inline:{ moved.example=smtp:[10.0.0.1] }\n"
	    "relocated_maps = inline:{ old@mx.example.com=new@else.example, "
	    "{ gone = call 555 0101 }, @moved.example=info@moved.test }\n");

	(void)state;
	expect(f, "old@mx.example.com", "error",
	       "5.1.6 User has moved to new@else.example");
	expect(f, "Gone+Ext@MX.example.com", "error",
	       "5.1.6 User has moved to call 555 0101");
	/* A bare user name counts in local domains only. */
	expect(f, "gone@far.example", "smtp", "far.example");
	/* After transport_maps, whatever the class. */
	expect(f, "x@moved.example", "error",
	       "5.1.6 User has moved to info@moved.test");
	expect(f, "stays@mx.example.com", "local", "mx.example.com");
	fixture_close(f);
}

static void
test_qmgr_resolve_transport_maps(void **state)
{
	struct fixture *f = fixture_open(
	    "myhostname = mx.example.com\n"
	    "relayhost = smarthost.example\n"
	    "transport_maps = inline:{ user@special.example=lmtp:[10.0.0.1]:24,"
	    " special.example=smtp:[10.0.0.2], .sub.example=relay:,"
	    " { bad.example = error:5.1.2 no such domain },"
	    " nexthop.example=:[10.0.0.3]:2525 }\n");

	(void)state;
	expect(f, "User@Special.Example", "lmtp", "[10.0.0.1]:24");
	expect(f, "other@special.example", "smtp", "[10.0.0.2]");
	expect(f, "u@a.sub.example", "relay", "smarthost.example");
	expect(f, "u@sub.example", "smtp", "smarthost.example");
	expect(f, "u@bad.example", "error", "5.1.2 no such domain");
	expect(f, "u@nexthop.example", "smtp", "[10.0.0.3]:2525");
	fixture_close(f);
}

static void
test_qmgr_resolve_transport_param_nexthop(void **state)
{
	struct fixture *f = fixture_open(
	    "myhostname = mx.example.com\n"
	    "default_transport = smtp:[127.0.0.5]:26\n"
	    "transport_maps = inline:{ *=fallback: }\n");

	(void)state;
	/* "*" matches last; an empty next hop keeps the class's. */
	expect(f, "u@x.example", "fallback", "[127.0.0.5]:26");
	fixture_close(f);
}

static void
test_qmgr_resolve_split(void **state)
{
	VSTR *t = vstr_alloc(10);
	VSTR *n = vstr_alloc(10);

	(void)state;
	qmgr_resolve_split("local:$myhostname", t, n);
	assert_string_equal(VSTR_STR(t), "local");
	assert_string_equal(VSTR_STR(n), "$myhostname");
	qmgr_resolve_split("smtp:[::1]:25", t, n);
	assert_string_equal(VSTR_STR(t), "smtp");
	assert_string_equal(VSTR_STR(n), "[::1]:25");
	qmgr_resolve_split("relay", t, n);
	assert_string_equal(VSTR_STR(t), "relay");
	assert_string_equal(VSTR_STR(n), "");
	vstr_free(t);
	vstr_free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qmgr_resolve_address_classes),
		cmocka_unit_test(
		    test_qmgr_resolve_own_address_literals_are_local),
		cmocka_unit_test(test_qmgr_resolve_relayhost),
		cmocka_unit_test(test_qmgr_resolve_sender_dependent_relayhost),
		cmocka_unit_test(test_qmgr_resolve_relocated),
		cmocka_unit_test(test_qmgr_resolve_transport_maps),
		cmocka_unit_test(test_qmgr_resolve_transport_param_nexthop),
		cmocka_unit_test(test_qmgr_resolve_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
