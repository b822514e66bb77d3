/*
 * Unit tests for smtpd/smtpd_check: every restriction and access action
 * that needs no DNS, relay decisions and the open-relay tricks, address
 * classes, smtpd_delay_reject ordering, access-map lookup order, and
 * configuration errors.  DNS-based restrictions are covered by
 * tests/integration/test_relay_policy.py against a test DNS server.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "smtpd/smtpd_check.h"
#include "util/addr.h"
#include "util/cfg.h"
#include "util/vstr.h"

static char tmpdir[] = "/tmp/test_smtpd_check.XXXXXX";
static int  table_seq;

/* Write a texthash table; returns its "texthash:path" spec. */
static const char *
table(const char *text)
{
	static char spec[8][256];
	char	   *s = spec[table_seq % 8];
	FILE	   *fp;

	snprintf(s, 256, "%s/t%d", tmpdir, table_seq++);
	fp = fopen(s, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	memmove(s + 9, s, strlen(s) + 1);
	memcpy(s, "texthash:", 9);
	return s;
}

#define BASE_CF \
	"myhostname = mx.local.test\n" \
	"mydomain = local.test\n" \
	"myorigin = local.test\n" \
	"mydestination = local.test, localhost\n" \
	"mynetworks = 127.0.0.1/32, [::1]/128\n" \
	"inet_interfaces = 127.0.0.1\n" \
	"relay_domains = relay.test\n" \
	"alias_maps =\n" \
	"local_recipient_maps = inline:{ user=1, postmaster=1, u=1 }\n" \
	"virtual_alias_maps = inline:{ known@valias.test=x }\n" \
	"virtual_alias_domains = valias.test\n" \
	"virtual_mailbox_domains =\n"

struct fx {
	CFG			 *cfg;
	SMTPD_CHECK		 *chk;
	ADDR_SMTP		 *mail;
	ADDR_SMTP		 *rcpt;
	struct smtpd_check_facts  f;
	struct smtpd_check_result res;
	VSTR			 *why;
};

static void
fx_open(struct fx *x, const char *extra)
{
	VSTR *text = vstr_alloc(512);

	memset(x, 0, sizeof(*x));
	x->why = vstr_alloc(64);
	vstr_sprintf(text, "%s%s", BASE_CF, extra ? extra : "");
	x->cfg = cfg_open_buffer(NULL, "main.cf", VSTR_STR(text),
				 VSTR_LEN(text), x->why);
	assert_non_null(x->cfg);
	x->chk = smtpd_check_create(x->cfg, x->why);
	if (x->chk == NULL)
		fail_msg("create: %s", VSTR_STR(x->why));
	x->mail = addr_smtp_alloc();
	x->rcpt = addr_smtp_alloc();
	x->res.reply = vstr_alloc(64);
	x->f.client_addr = "127.0.0.5";
	x->f.client_name = "unknown";
	x->f.helo = "client.example.test";
	vstr_free(text);
}

static void
fx_close(struct fx *x)
{
	smtpd_check_free(x->chk);
	cfg_free(x->cfg);
	addr_smtp_free(x->mail);
	addr_smtp_free(x->rcpt);
	vstr_free(x->res.reply);
	vstr_free(x->why);
}

static void
fx_mail(struct fx *x, const char *path)
{
	assert_int_equal(addr_parse_smtp(x->mail, ADDR_CMD_MAIL, path,
					 strlen(path), 0),
			 0);
	x->f.sender = VSTR_STR(x->mail->addr->addr);
	x->f.sender_path = x->mail;
}

/* Run the RCPT stage for path; returns the action. */
static enum smtpd_check_action
fx_rcpt(struct fx *x, const char *path)
{
	if (x->f.sender == NULL)
		fx_mail(x, "<s@sender.test>");
	if (addr_parse_smtp(x->rcpt, ADDR_CMD_RCPT, path, strlen(path), 0) != 0)
		fail_msg("cannot parse %s", path);
	x->f.recipient = VSTR_STR(x->rcpt->addr->addr);
	x->f.rcpt_path = x->rcpt;
	assert_int_equal(smtpd_check(x->chk, SMTPD_CHECK_RCPT, &x->f, &x->res),
			 0);
	return x->res.action;
}

#define REPLY(x) VSTR_STR((x)->res.reply)

/* The same for a request that ends in a configuration error (-1). */
static enum smtpd_check_action
fx_rcpt_error(struct fx *x, const char *path)
{
	if (addr_parse_smtp(x->rcpt, ADDR_CMD_RCPT, path, strlen(path), 0) != 0)
		fail_msg("cannot parse %s", path);
	x->f.recipient = VSTR_STR(x->rcpt->addr->addr);
	x->f.rcpt_path = x->rcpt;
	assert_int_equal(smtpd_check(x->chk, SMTPD_CHECK_RCPT, &x->f, &x->res),
			 -1);
	return x->res.action;
}

static void
test_smtpd_check_default_relay_defers_foreign(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, NULL);
	assert_int_equal(fx_rcpt(&x, "<u@remote.test>"), SMTPD_ACT_DEFER);
	assert_string_equal(REPLY(&x),
			    "454 4.7.1 <u@remote.test>: Relay access denied");
	fx_close(&x);
}

static void
test_smtpd_check_reject_unauth_destination(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, "smtpd_relay_restrictions = permit_mynetworks, "
		    "permit_sasl_authenticated, reject_unauth_destination\n");
	assert_int_equal(fx_rcpt(&x, "<u@remote.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x),
			    "554 5.7.1 <u@remote.test>: Relay access denied");
	/* Domains we serve are fine from anywhere. */
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_OK);
	assert_int_equal(fx_rcpt(&x, "<USER@LOCAL.TEST>"), SMTPD_ACT_OK);
	assert_int_equal(fx_rcpt(&x, "<any@relay.test>"), SMTPD_ACT_OK);
	assert_int_equal(fx_rcpt(&x, "<any@sub.relay.test>"), SMTPD_ACT_OK);
	assert_int_equal(fx_rcpt(&x, "<known@valias.test>"), SMTPD_ACT_OK);
	assert_int_equal(fx_rcpt(&x, "<user@[127.0.0.1]>"), SMTPD_ACT_OK);
	assert_int_equal(fx_rcpt(&x, "<postmaster>"), SMTPD_ACT_OK);
	/* mydestination does not match subdomains by default. */
	assert_int_equal(fx_rcpt(&x, "<user@sub.local.test>"),
			 SMTPD_ACT_REJECT);
	assert_int_equal(fx_rcpt(&x, "<user@[127.0.0.9]>"), SMTPD_ACT_REJECT);
	/* The client in mynetworks, or authenticated, may relay. */
	x.f.client_addr = "127.0.0.1";
	assert_int_equal(fx_rcpt(&x, "<u@remote.test>"), SMTPD_ACT_OK);
	x.f.client_addr = "::1";
	assert_int_equal(fx_rcpt(&x, "<u@remote.test>"), SMTPD_ACT_OK);
	x.f.client_addr = "127.0.0.5";
	x.f.sasl_username = "alice";
	assert_int_equal(fx_rcpt(&x, "<u@remote.test>"), SMTPD_ACT_OK);
	fx_close(&x);
}

static void
test_smtpd_check_relay_tricks_are_foreign(void **state)
{
	static const char *const tricks[] = {
		"<u%remote.test@local.test>",	  "<@a.test:u@remote.test>",
		"<@local.test:u@local.test>",	  "<remote.test!u@local.test>",
		"<\"u@remote.test\"@local.test>", "<u%remote.test@relay.test>",
	};
	struct fx x;

	(void)state;
	fx_open(&x, "smtpd_relay_restrictions = permit_mynetworks, "
		    "reject_unauth_destination\n"
		    "local_recipient_maps =\n");
	for (size_t i = 0; i < sizeof(tricks) / sizeof(*tricks); i++) {
		assert_int_equal(fx_rcpt(&x, tricks[i]), SMTPD_ACT_REJECT);
		assert_non_null(strstr(REPLY(&x), "554 5.7.1 <"));
		assert_non_null(strstr(REPLY(&x), ">: Relay access denied"));
	}
	/* Trusted clients keep the right to route. */
	x.f.client_addr = "127.0.0.1";
	assert_int_equal(fx_rcpt(&x, tricks[0]), SMTPD_ACT_OK);
	fx_close(&x);

	fx_open(&x, "allow_untrusted_routing = yes\n"
		    "local_recipient_maps =\n");
	assert_int_equal(fx_rcpt(&x, tricks[0]), SMTPD_ACT_OK);
	fx_close(&x);
}

static void
test_smtpd_check_unlisted_recipient(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, "recipient_delimiter = +\n");
	assert_int_equal(fx_rcpt(&x, "<nobody@local.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x),
			    "550 5.1.1 <nobody@local.test>: "
			    "Recipient address rejected: User unknown in "
			    "local recipient table");
	/* Also for trusted clients (smtpd_reject_unlisted_recipient). */
	x.f.client_addr = "127.0.0.1";
	assert_int_equal(fx_rcpt(&x, "<nobody@local.test>"), SMTPD_ACT_REJECT);
	assert_int_equal(fx_rcpt(&x, "<user+ext@local.test>"), SMTPD_ACT_OK);
	assert_int_equal(fx_rcpt(&x, "<nobody@valias.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x),
			    "550 5.1.1 <nobody@valias.test>: "
			    "Recipient address rejected: User unknown in "
			    "virtual alias table");
	assert_int_equal(fx_rcpt(&x, "<x@remote.test>"), SMTPD_ACT_OK);
	fx_close(&x);

	fx_open(&x, "smtpd_reject_unlisted_recipient = no\n"
		    "smtpd_recipient_restrictions = reject_unlisted_recipient\n"
		    "unknown_local_recipient_reject_code = 450\n"
		    "relay_recipient_maps = inline:{ ok@relay.test=1 }\n");
	assert_int_equal(fx_rcpt(&x, "<nobody@local.test>"), SMTPD_ACT_DEFER);
	assert_non_null(strstr(REPLY(&x), "450 4.1.1 "));
	assert_int_equal(fx_rcpt(&x, "<ok@relay.test>"), SMTPD_ACT_OK);
	assert_int_equal(fx_rcpt(&x, "<no@relay.test>"), SMTPD_ACT_REJECT);
	assert_non_null(strstr(REPLY(&x), "relay recipient table"));
	fx_close(&x);

	/* Empty local_recipient_maps: every local user is accepted. */
	fx_open(&x, "local_recipient_maps =\n");
	assert_int_equal(fx_rcpt(&x, "<nobody@local.test>"), SMTPD_ACT_OK);
	fx_close(&x);
}

static void
test_smtpd_check_access_actions(void **state)
{
	struct fx   x;
	char	    cf[1024];
	const char *t = table("ok@local.test OK\n"
			      "rej@local.test REJECT\n"
			      "rejtext@local.test REJECT go away\n"
			      "def@local.test DEFER try later\n"
			      "num@local.test 550 5.7.0 custom text\n"
			      "num4@local.test 421 busy\n"
			      "disc@local.test DISCARD\n"
			      "hold@local.test HOLD\n"
			      "dunno@local.test DUNNO\n"
			      "list@local.test permit_mynetworks, reject\n"
			      "bogus@local.test no_such_restriction\n"
			      "dnsval@local.test reject_rbl_client bl.test\n"
			      "local.test REJECT domain\n");

	(void)state;
	snprintf(cf, sizeof(cf),
		 "smtpd_recipient_restrictions = "
		 "check_recipient_access %s\nlocal_recipient_maps =\n",
		 t);
	fx_open(&x, cf);
	assert_int_equal(fx_rcpt(&x, "<ok@local.test>"), SMTPD_ACT_OK);
	assert_int_equal(fx_rcpt(&x, "<rej@local.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x),
			    "554 5.7.1 <rej@local.test>: "
			    "Recipient address rejected: Access denied");
	assert_int_equal(fx_rcpt(&x, "<rejtext@local.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x), "554 5.7.1 <rejtext@local.test>: "
				       "Recipient address rejected: go away");
	assert_int_equal(fx_rcpt(&x, "<def@local.test>"), SMTPD_ACT_DEFER);
	assert_string_equal(REPLY(&x), "450 4.7.1 <def@local.test>: "
				       "Recipient address rejected: try later");
	assert_int_equal(fx_rcpt(&x, "<num@local.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x),
			    "550 5.7.0 <num@local.test>: "
			    "Recipient address rejected: custom text");
	assert_int_equal(fx_rcpt(&x, "<num4@local.test>"), SMTPD_ACT_DEFER);
	assert_string_equal(REPLY(&x), "421 4.7.1 <num4@local.test>: "
				       "Recipient address rejected: busy");
	assert_int_equal(fx_rcpt(&x, "<disc@local.test>"), SMTPD_ACT_DISCARD);
	assert_int_equal(fx_rcpt(&x, "<hold@local.test>"), SMTPD_ACT_HOLD);
	/* DUNNO ends the search of this table: the domain entry is unused. */
	assert_int_equal(fx_rcpt(&x, "<dunno@local.test>"), SMTPD_ACT_OK);
	assert_int_equal(fx_rcpt(&x, "<other@local.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x), "554 5.7.1 <other@local.test>: "
				       "Recipient address rejected: domain");
	/* A restriction list as the value. */
	assert_int_equal(fx_rcpt(&x, "<list@local.test>"), SMTPD_ACT_REJECT);
	x.f.client_addr = "127.0.0.1";
	assert_int_equal(fx_rcpt(&x, "<list@local.test>"), SMTPD_ACT_OK);
	/* A broken action is a configuration error, never a pass. */
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_RCPT, &x.f, &x.res), 0);
	fx_rcpt(&x, "<ok@local.test>");
	assert_int_equal(addr_parse_smtp(x.rcpt, ADDR_CMD_RCPT,
					 "<bogus@local.test>", 18, 0),
			 0);
	x.f.recipient = "bogus@local.test";
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_RCPT, &x.f, &x.res),
			 -1);
	assert_int_equal(x.res.action, SMTPD_ACT_DEFER);
	assert_string_equal(REPLY(&x), "451 4.3.0 Server configuration error");
	/* A DNS restriction in a value, with no resolver set up: deferred. */
	assert_int_equal(addr_parse_smtp(x.rcpt, ADDR_CMD_RCPT,
					 "<dnsval@local.test>", 19, 0),
			 0);
	x.f.recipient = "dnsval@local.test";
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_RCPT, &x.f, &x.res),
			 -1);
	fx_close(&x);
}

/* The actions a policy server needs, from an access table. */
static void
test_smtpd_check_prepend_and_conditional_defer(void **state)
{
	struct fx   x;
	char	    cf[1024];
	const char *t = table("pre@local.test PREPEND X-Tag: one two\n"
			      "badpre@local.test PREPEND no colon here\n"
			      "dip@local.test DEFER_IF_PERMIT not yet\n"
			      "dir@local.test DEFER_IF_REJECT later\n"
			      "dirdip@local.test DEFER_IF_REJECT\n"
			      "redir@local.test REDIRECT x@elsewhere.test\n"
			      "bcc@local.test BCC x@elsewhere.test\n");
	const char *r = table("dir@local.test REJECT\n");

	(void)state;
	snprintf(cf, sizeof(cf),
		 "smtpd_recipient_restrictions = check_recipient_access %s, "
		 "check_recipient_access %s\nlocal_recipient_maps =\n",
		 t, r);
	fx_open(&x, cf);
	x.res.prepend = vstr_alloc(16);
	assert_int_equal(fx_rcpt(&x, "<pre@local.test>"), SMTPD_ACT_OK);
	assert_string_equal(VSTR_STR(x.res.prepend), "X-Tag: one two\n");
	vstr_reset(x.res.prepend);
	assert_int_equal(fx_rcpt_error(&x, "<badpre@local.test>"),
			 SMTPD_ACT_DEFER);
	assert_string_equal(REPLY(&x), "451 4.3.0 Server configuration error");
	assert_int_equal(VSTR_LEN(x.res.prepend), 0);
	/* DEFER_IF_PERMIT: nothing rejects later, so the request defers. */
	assert_int_equal(fx_rcpt(&x, "<dip@local.test>"), SMTPD_ACT_DEFER);
	assert_string_equal(REPLY(&x), "450 4.7.1 <dip@local.test>: "
				       "Recipient address rejected: not yet");
	/* DEFER_IF_REJECT turns the later REJECT into its 450. */
	assert_int_equal(fx_rcpt(&x, "<dir@local.test>"), SMTPD_ACT_DEFER);
	assert_string_equal(REPLY(&x), "450 4.7.1 <dir@local.test>: "
				       "Recipient address rejected: later");
	/* ... and without a later reject it changes nothing. */
	assert_int_equal(fx_rcpt(&x, "<dirdip@local.test>"), SMTPD_ACT_OK);
	/* Not carried out: never silently ignored. */
	assert_int_equal(fx_rcpt_error(&x, "<redir@local.test>"),
			 SMTPD_ACT_DEFER);
	assert_int_equal(fx_rcpt_error(&x, "<bcc@local.test>"),
			 SMTPD_ACT_DEFER);
	vstr_free(x.res.prepend);
	fx_close(&x);
}

static void
test_smtpd_check_sender_access_lookup_order(void **state)
{
	struct fx   x;
	char	    cf[1024];
	const char *t = table("full@sender.test REJECT full\n"
			      "plus@sender.test REJECT base\n"
			      "sub.parent.test REJECT parent-domain\n"
			      "parent.test REJECT parent\n"
			      "onlyuser@ REJECT user-at\n"
			      "<> REJECT null\n");

	(void)state;
	snprintf(cf, sizeof(cf),
		 "smtpd_sender_restrictions = "
		 "check_sender_access %s\nrecipient_delimiter = +\n",
		 t);
	fx_open(&x, cf);
	fx_mail(&x, "<full@sender.test>");
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x), "554 5.7.1 <full@sender.test>: "
				       "Sender address rejected: full");
	fx_mail(&x, "<plus+tag@sender.test>");
	fx_rcpt(&x, "<user@local.test>");
	assert_non_null(strstr(REPLY(&x), ": base"));
	fx_mail(&x, "<a@deep.sub.parent.test>");
	fx_rcpt(&x, "<user@local.test>");
	assert_non_null(strstr(REPLY(&x), ": parent-domain"));
	fx_mail(&x, "<a@x.parent.test>");
	fx_rcpt(&x, "<user@local.test>");
	assert_non_null(strstr(REPLY(&x), ": parent"));
	fx_mail(&x, "<onlyuser@anywhere.test>");
	fx_rcpt(&x, "<user@local.test>");
	assert_non_null(strstr(REPLY(&x), ": user-at"));
	fx_mail(&x, "<>");
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x), "554 5.7.1 <>: Sender address "
				       "rejected: null");
	fx_mail(&x, "<fine@sender.test>");
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_OK);
	fx_close(&x);

	/* Without smtpd_access_maps in pdms only .parent matches children. */
	t = table("parent.test REJECT bare\n.parent.test REJECT dotted\n");
	snprintf(cf, sizeof(cf),
		 "smtpd_sender_restrictions = "
		 "check_sender_access %s\n"
		 "parent_domain_matches_subdomains =\n",
		 t);
	fx_open(&x, cf);
	fx_mail(&x, "<a@x.parent.test>");
	fx_rcpt(&x, "<user@local.test>");
	assert_non_null(strstr(REPLY(&x), ": dotted"));
	fx_mail(&x, "<a@parent.test>");
	fx_rcpt(&x, "<user@local.test>");
	assert_non_null(strstr(REPLY(&x), ": bare"));
	fx_close(&x);
}

static void
test_smtpd_check_client_access_lookup_order(void **state)
{
	struct fx   x;
	char	    cf[1024];
	const char *t = table("bad.example.test REJECT by-name\n"
			      "example.test REJECT by-parent\n"
			      "192.0.2.1 REJECT by-addr\n"
			      "192.0.2 DEFER by-net3\n"
			      "198.51 REJECT by-net2\n"
			      "203.0.113.7 OK\n"
			      "203 REJECT by-net1\n"
			      "2001:db8:1 REJECT by-v6\n");

	(void)state;
	snprintf(cf, sizeof(cf),
		 "smtpd_client_restrictions = "
		 "check_client_access %s\n",
		 t);
	fx_open(&x, cf);
	x.f.client_name = "bad.example.test";
	x.f.client_addr = "192.0.2.1";
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x),
			    "554 5.7.1 <bad.example.test[192.0.2.1]>:"
			    " Client host rejected: by-name");
	x.f.client_name = "other.example.test";
	fx_rcpt(&x, "<user@local.test>");
	assert_non_null(strstr(REPLY(&x), ": by-parent"));
	x.f.client_name = "unknown";
	fx_rcpt(&x, "<user@local.test>");
	assert_non_null(strstr(REPLY(&x), ": by-addr"));
	x.f.client_addr = "192.0.2.99";
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_DEFER);
	assert_non_null(strstr(REPLY(&x), "450 4.7.1 <unknown[192.0.2.99]>: "
					  "Client host rejected: by-net3"));
	x.f.client_addr = "198.51.100.1";
	fx_rcpt(&x, "<user@local.test>");
	assert_non_null(strstr(REPLY(&x), ": by-net2"));
	x.f.client_addr = "203.0.113.8";
	fx_rcpt(&x, "<user@local.test>");
	assert_non_null(strstr(REPLY(&x), ": by-net1"));
	x.f.client_addr = "203.0.113.7";
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_OK);
	x.f.client_addr = "2001:db8:1:2::5";
	fx_rcpt(&x, "<user@local.test>");
	assert_non_null(strstr(REPLY(&x), ": by-v6"));
	fx_close(&x);
}

static void
test_smtpd_check_delay_reject_ordering(void **state)
{
	struct fx   x;
	char	    cf[1024];
	const char *t = table("127.0.0.5 REJECT client says no\n");

	(void)state;
	snprintf(cf, sizeof(cf),
		 "smtpd_client_restrictions = "
		 "check_client_access %s\n"
		 "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n",
		 t);
	fx_open(&x, cf);
	/* Delayed: CONNECT, HELO and MAIL pass, RCPT carries the reject. */
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_CONNECT, &x.f, &x.res),
			 0);
	assert_int_equal(x.res.action, SMTPD_ACT_OK);
	x.f.helo = "nodots";
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_HELO, &x.f, &x.res), 0);
	assert_int_equal(x.res.action, SMTPD_ACT_OK);
	fx_mail(&x, "<s@sender.test>");
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_MAIL, &x.f, &x.res), 0);
	assert_int_equal(x.res.action, SMTPD_ACT_OK);
	/* The client list runs first, so its reply wins. */
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x), "554 5.7.1 <unknown[127.0.0.5]>: "
				       "Client host rejected: client says no");
	x.f.client_addr = "127.0.0.6";
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x),
			    "504 5.5.2 <nodots>: Helo command "
			    "rejected: need fully-qualified hostname");
	fx_close(&x);

	snprintf(cf, sizeof(cf),
		 "smtpd_delay_reject = no\n"
		 "smtpd_client_restrictions = check_client_access %s\n",
		 t);
	fx_open(&x, cf);
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_CONNECT, &x.f, &x.res),
			 0);
	assert_int_equal(x.res.action, SMTPD_ACT_REJECT);
	assert_non_null(strstr(REPLY(&x), "client says no"));
	/* Not delayed: RCPT runs only the relay and recipient lists. */
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_OK);
	fx_close(&x);
}

static void
test_smtpd_check_relay_then_recipient_list(void **state)
{
	struct fx x;

	(void)state;
	/* The relay list permits, the recipient list still rejects. */
	fx_open(&x, "smtpd_recipient_restrictions = reject_non_fqdn_recipient, "
		    "reject\n");
	x.f.client_addr = "127.0.0.1";
	assert_int_equal(fx_rcpt(&x, "<u@remote.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x),
			    "554 5.7.1 <u@remote.test>: "
			    "Recipient address rejected: Access denied");
	fx_close(&x);
	/* A permit in the recipient list cannot undo a relay reject. */
	fx_open(&x, "smtpd_relay_restrictions = reject_unauth_destination\n"
		    "smtpd_recipient_restrictions = permit\n");
	assert_int_equal(fx_rcpt(&x, "<u@remote.test>"), SMTPD_ACT_REJECT);
	fx_close(&x);
}

static void
test_smtpd_check_helo_and_fqdn_restrictions(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, "smtpd_helo_restrictions = reject_invalid_helo_hostname, "
		    "reject_non_fqdn_helo_hostname\n"
		    "smtpd_sender_restrictions = reject_non_fqdn_sender\n"
		    "smtpd_recipient_restrictions = reject_non_fqdn_recipient\n"
		    "local_recipient_maps =\n");
	x.f.helo = "bad_host!name";
	fx_rcpt(&x, "<user@local.test>");
	assert_string_equal(REPLY(&x), "501 5.5.2 <bad_host!name>: Helo "
				       "command rejected: Invalid name");
	x.f.helo = "bad\r\nname";
	fx_rcpt(&x, "<user@local.test>");
	assert_string_equal(REPLY(&x), "501 5.5.2 <bad??name>: Helo "
				       "command rejected: Invalid name");
	x.f.helo = "[192.0.2.1]";
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_OK);
	x.f.helo = "[300.1.1.1]";
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_REJECT);
	x.f.helo = "localhost";
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_REJECT);
	assert_non_null(strstr(REPLY(&x), "need fully-qualified hostname"));
	x.f.helo = "host.example.test";
	/* A sender given only as text (no parsed path). */
	x.f.sender = "sender";
	x.f.sender_path = NULL;
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x),
			    "504 5.5.2 <sender>: Sender address "
			    "rejected: need fully-qualified address");
	fx_mail(&x, "<s@nodot>");
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_REJECT);
	fx_mail(&x, "<>");
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_OK);
	assert_int_equal(fx_rcpt(&x, "<user@localhost>"), SMTPD_ACT_REJECT);
	assert_string_equal(REPLY(&x),
			    "504 5.5.2 <user@localhost>: Recipient "
			    "address rejected: need fully-qualified address");
	fx_close(&x);
}

static void
test_smtpd_check_plain_actions_and_classes(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, "smtpd_client_restrictions = "
		    "reject_unknown_reverse_client_hostname\n");
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_DEFER);
	assert_string_equal(REPLY(&x),
			    "450 4.7.1 Client host rejected: cannot "
			    "find your reverse hostname, [127.0.0.5]");
	x.f.client_name = "named.example.test";
	assert_int_equal(fx_rcpt(&x, "<user@local.test>"), SMTPD_ACT_OK);
	fx_close(&x);

	fx_open(&x, "smtpd_data_restrictions = defer\n"
		    "smtpd_etrn_restrictions = permit_mynetworks, reject\n");
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_DATA, &x.f, &x.res), 0);
	assert_int_equal(x.res.action, SMTPD_ACT_DEFER);
	assert_string_equal(REPLY(&x), "450 4.7.1 <DATA>: Data command "
				       "rejected: Access denied");
	x.f.recipient = "relay.test";
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_ETRN, &x.f, &x.res), 0);
	assert_int_equal(x.res.action, SMTPD_ACT_REJECT);
	x.f.client_addr = "127.0.0.1";
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_ETRN, &x.f, &x.res), 0);
	assert_int_equal(x.res.action, SMTPD_ACT_OK);
	fx_close(&x);
}

static void
test_smtpd_check_mynetworks_forms(void **state)
{
	struct fx   x;
	char	    cf[512];
	const char *t = table("10.1.1.1 OK\n");

	(void)state;
	snprintf(cf, sizeof(cf),
		 "mynetworks = 192.0.2.0/24 [2001:db8::]/32 "
		 "!10.9.9.9 10.0.0.0/8 %s .trusted.test\n",
		 t);
	fx_open(&x, cf);
	assert_true(smtpd_check_mynetworks(x.chk, "192.0.2.44"));
	assert_true(smtpd_check_mynetworks(x.chk, "2001:db8:ffff::1"));
	assert_true(smtpd_check_mynetworks(x.chk, "10.2.3.4"));
	assert_false(smtpd_check_mynetworks(x.chk, "10.9.9.9"));
	assert_false(smtpd_check_mynetworks(x.chk, "127.0.0.1"));
	assert_false(smtpd_check_mynetworks(x.chk, "2001:db9::1"));
	x.f.client_addr = "198.51.100.1";
	x.f.client_name = "host.trusted.test";
	assert_int_equal(fx_rcpt(&x, "<u@remote.test>"), SMTPD_ACT_OK);
	assert_true(smtpd_check_local_domain(x.chk, "LOCAL.test"));
	assert_false(smtpd_check_local_domain(x.chk, "relay.test"));
	fx_close(&x);
}

/* Address literals of our own interfaces are local domains. */
static void
test_smtpd_check_interface_literals(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, "inet_interfaces = all\nproxy_interfaces = 192.0.2.25\n"
		    "local_recipient_maps =\n");
	assert_true(smtpd_check_local_domain(x.chk, "[127.0.0.1]"));
	assert_true(smtpd_check_local_domain(x.chk, "[192.0.2.25]"));
	assert_false(smtpd_check_local_domain(x.chk, "[192.0.2.26]"));
	assert_int_equal(fx_rcpt(&x, "<u@[192.0.2.25]>"), SMTPD_ACT_OK);
	fx_close(&x);
	fx_open(&x, "inet_interfaces = loopback-only\n");
	assert_true(smtpd_check_local_domain(x.chk, "[IPv6:::1]"));
	assert_true(smtpd_check_local_domain(x.chk, "[127.0.0.1]"));
	fx_close(&x);
}

static void
test_smtpd_check_create_errors(void **state)
{
	VSTR	   *why = vstr_alloc(64);
	const char *bad[] = {
		"smtpd_recipient_restrictions = no_such_thing\n",
		"smtpd_client_restrictions = check_client_access\n",
		"smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = "
		"permit_mynetworks\n",
		"mynetworks = 10.0.0.1/8\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		VSTR *text = vstr_alloc(256);
		CFG  *cfg;

		vstr_sprintf(text, "%s%s", BASE_CF, bad[i]);
		cfg = cfg_open_buffer(NULL, "main.cf", VSTR_STR(text),
				      VSTR_LEN(text), why);
		assert_non_null(cfg);
		vstr_reset(why);
		assert_null(smtpd_check_create(cfg, why));
		assert_true(VSTR_LEN(why) > 0);
		cfg_free(cfg);
		vstr_free(text);
	}
	vstr_free(why);
}

/* A table that cannot be opened defers what needs it, nothing else. */
static void
test_smtpd_check_missing_table_defers(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, "smtpd_sender_restrictions = check_sender_access "
		    "texthash:/nonexistent/table\n"
		    "local_recipient_maps = hash:/nonexistent/aliases\n");
	fx_mail(&x, "<s@sender.test>");
	if (addr_parse_smtp(x.rcpt, ADDR_CMD_RCPT, "<user@local.test>", 17, 0)
	    != 0)
		fail();
	x.f.recipient = "user@local.test";
	x.f.rcpt_path = x.rcpt;
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_RCPT, &x.f, &x.res),
			 -1);
	assert_int_equal(x.res.action, SMTPD_ACT_DEFER);
	assert_string_equal(REPLY(&x), "451 4.3.0 Server configuration error");
	fx_close(&x);

	fx_open(&x, "local_recipient_maps = hash:/nonexistent/aliases\n");
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_DATA, &x.f, &x.res), 0);
	assert_int_equal(x.res.action, SMTPD_ACT_OK);
	/* Relaying decisions still work; the local user lookup defers. */
	x.f.client_addr = "127.0.0.1";
	assert_int_equal(fx_rcpt(&x, "<u@remote.test>"), SMTPD_ACT_OK);
	x.f.client_addr = "127.0.0.5";
	assert_int_equal(fx_rcpt(&x, "<u@remote.test>"), SMTPD_ACT_DEFER);
	assert_non_null(strstr(REPLY(&x), "Relay access denied"));
	if (addr_parse_smtp(x.rcpt, ADDR_CMD_RCPT, "<user@local.test>", 17, 0)
	    != 0)
		fail();
	x.f.recipient = "user@local.test";
	assert_int_equal(smtpd_check(x.chk, SMTPD_CHECK_RCPT, &x.f, &x.res),
			 -1);
	assert_string_equal(REPLY(&x), "451 4.3.0 Server configuration error");
	fx_close(&x);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char path[512];

	(void)state;
	for (int i = 0; i < table_seq; i++) {
		snprintf(path, sizeof(path), "%s/t%d", tmpdir, i);
		unlink(path);
	}
	return rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtpd_check_default_relay_defers_foreign),
		cmocka_unit_test(test_smtpd_check_reject_unauth_destination),
		cmocka_unit_test(test_smtpd_check_relay_tricks_are_foreign),
		cmocka_unit_test(test_smtpd_check_unlisted_recipient),
		cmocka_unit_test(test_smtpd_check_access_actions),
		cmocka_unit_test(
		    test_smtpd_check_prepend_and_conditional_defer),
		cmocka_unit_test(test_smtpd_check_sender_access_lookup_order),
		cmocka_unit_test(test_smtpd_check_client_access_lookup_order),
		cmocka_unit_test(test_smtpd_check_delay_reject_ordering),
		cmocka_unit_test(test_smtpd_check_relay_then_recipient_list),
		cmocka_unit_test(test_smtpd_check_helo_and_fqdn_restrictions),
		cmocka_unit_test(test_smtpd_check_plain_actions_and_classes),
		cmocka_unit_test(test_smtpd_check_mynetworks_forms),
		cmocka_unit_test(test_smtpd_check_interface_literals),
		cmocka_unit_test(test_smtpd_check_create_errors),
		cmocka_unit_test(test_smtpd_check_missing_table_defers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
