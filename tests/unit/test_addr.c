/*
 * Unit tests for util/addr: SMTP paths and parameters (table-driven, with
 * the reply each bad input must get), header address lists, UTF-8 with
 * and without SMTPUTF8, and the relay-trick detectors.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/addr.h"
#include "util/vstr.h"

#define ALL \
	(ADDR_OPT_SMTPUTF8 | ADDR_OPT_8BITMIME | ADDR_OPT_DSN | ADDR_OPT_AUTH)
#define MAIL ADDR_CMD_MAIL
#define RCPT ADDR_CMD_RCPT

struct smtp_ok {
	enum addr_cmd cmd;
	int	      opts;
	const char   *arg;
	const char   *addr;  /* external form */
	const char   *local; /* unquoted */
	const char   *domain;
	int	      flags;
};

static const char long64[] =
    "a234567890123456789012345678901234567890123456789012345678901234";

static const struct smtp_ok smtp_ok[] = {
	{ MAIL, ALL, "<>", "", "", "", ADDR_F_NULL },
	{ MAIL, 0, "<user@example.com>", "user@example.com", "user",
	  "example.com", 0 },
	{ MAIL, 0, " <user@example.com>", "user@example.com", "user",
	  "example.com", 0 },
	{ MAIL, 0, "<First.Last+tag@sub.Example.co.uk>",
	  "First.Last+tag@sub.Example.co.uk", "First.Last+tag",
	  "sub.Example.co.uk", 0 },
	{ MAIL, 0, "<\"a b\"@x.example>", "\"a b\"@x.example", "a b",
	  "x.example", ADDR_F_QUOTED },
	{ MAIL, 0, "<\"a\\\"b\\\\c\"@x.example>", "\"a\\\"b\\\\c\"@x.example",
	  "a\"b\\c", "x.example", ADDR_F_QUOTED },
	{ MAIL, 0, "<\"plain\"@x.example>", "plain@x.example", "plain",
	  "x.example", ADDR_F_QUOTED },
	{ MAIL, 0, "<\"\"@x.example>", "\"\"@x.example", "", "x.example",
	  ADDR_F_QUOTED },
	{ MAIL, 0, "<\"u@remote\"@x.example>", "\"u@remote\"@x.example",
	  "u@remote", "x.example", ADDR_F_QUOTED },
	{ MAIL, 0, "<@r1.example,@r2.example:user@x.example>", "user@x.example",
	  "user", "x.example", ADDR_F_ROUTE },
	{ MAIL, 0, "<user@[192.0.2.1]>", "user@[192.0.2.1]", "user",
	  "[192.0.2.1]", ADDR_F_LITERAL },
	{ MAIL, 0, "<user@[IPv6:2001:db8::1]>", "user@[IPv6:2001:db8::1]",
	  "user", "[IPv6:2001:db8::1]", ADDR_F_LITERAL },
	{ MAIL, 0, "<!#$%&'*+-/=?^_`{|}~@x1-2.example>",
	  "!#$%&'*+-/=?^_`{|}~@x1-2.example", "!#$%&'*+-/=?^_`{|}~",
	  "x1-2.example", 0 },
	{ MAIL, 0, "<u@x.example> SIZE=1000", "u@x.example", "u", "x.example",
	  0 },
	{ MAIL, ALL, "<u@x.example>  SIZE=5 BODY=8bitmime  ", "u@x.example",
	  "u", "x.example", 0 },
	{ MAIL, ALL, "<u@x> RET=HDRS ENVID=QQ+2B1", "u@x", "u", "x", 0 },
	{ MAIL, ALL, "<u@x> AUTH=<>", "u@x", "u", "x", 0 },
	{ MAIL, ALL,
	  "<\xc3\xbcser@b\xc3\xbc"
	  "cher.example> SMTPUTF8",
	  "\xc3\xbcser@b\xc3\xbc"
	  "cher.example",
	  "\xc3\xbcser",
	  "b\xc3\xbc"
	  "cher.example",
	  ADDR_F_UTF8 },
	{ MAIL, ADDR_OPT_NOBRACKETS, "user@example.com", "user@example.com",
	  "user", "example.com", 0 },
	{ RCPT, 0, "<user@example.com>", "user@example.com", "user",
	  "example.com", 0 },
	{ RCPT, 0, "<Postmaster>", "Postmaster", "Postmaster", "",
	  ADDR_F_NODOMAIN },
	{ RCPT, 0, "<postmaster@example.com>", "postmaster@example.com",
	  "postmaster", "example.com", 0 },
	{ RCPT, 0, "<@a.example:u@b.example>", "u@b.example", "u", "b.example",
	  ADDR_F_ROUTE },
	{ RCPT, ALL, "<u@x> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u+40x", "u@x",
	  "u", "x", 0 },
	{ RCPT, ALL, "<u@x> NOTIFY=never", "u@x", "u", "x", 0 },
	{ RCPT, ADDR_OPT_SMTPUTF8,
	  "<\xc3\xbcser@b\xc3\xbc"
	  "cher.example>",
	  "\xc3\xbcser@b\xc3\xbc"
	  "cher.example",
	  "\xc3\xbcser",
	  "b\xc3\xbc"
	  "cher.example",
	  ADDR_F_UTF8 },
	{ RCPT, ADDR_OPT_SMTPUTF8, "<\"\xc3\xa9 x\"@x>", "\"\xc3\xa9 x\"@x",
	  "\xc3\xa9 x", "x", ADDR_F_QUOTED | ADDR_F_UTF8 },
};

struct smtp_bad {
	enum addr_cmd cmd;
	int	      opts;
	const char   *arg;
	size_t	      len; /* 0: strlen(arg) */
	int	      code;
	const char   *dsn;
	const char   *text; /* part of the reply */
};

static const struct smtp_bad smtp_bad[] = {
	{ MAIL, 0, "user@example.com", 0, 501, "5.1.7", "missing <>" },
	{ MAIL, 0, "", 0, 501, "5.1.7", "missing <>" },
	{ MAIL, 0, "<user@example.com", 0, 501, "5.1.7", "bad character" },
	{ MAIL, 0, "<user>", 0, 501, "5.1.7", "missing domain" },
	{ MAIL, 0, "<user@>", 0, 501, "5.1.7", "bad domain" },
	{ MAIL, 0, "<@example.com>", 0, 501, "5.1.7", "bad source route" },
	{ MAIL, 0, "<@a.example,b.example:u@x>", 0, 501, "5.1.7",
	  "bad source route" },
	{ MAIL, 0, "<.user@x>", 0, 501, "5.1.7", "bad local part" },
	{ MAIL, 0, "<user.@x>", 0, 501, "5.1.7", "bad local part" },
	{ MAIL, 0, "<us..er@x>", 0, 501, "5.1.7", "bad local part" },
	{ MAIL, 0, "<user@-x.com>", 0, 501, "5.1.7", "bad domain" },
	{ MAIL, 0, "<user@x-.com>", 0, 501, "5.1.7", "bad domain" },
	{ MAIL, 0, "<user@x..com>", 0, 501, "5.1.7", "bad domain" },
	{ MAIL, 0, "<user@x.com.>", 0, 501, "5.1.7", "bad domain" },
	{ MAIL, 0, "<user@exa_mple.com>", 0, 501, "5.1.7", "bad character" },
	{ MAIL, 0, "<user@[192.0.2.300]>", 0, 501, "5.1.7", "literal" },
	{ MAIL, 0, "<user@[IPv6:zz::1]>", 0, 501, "5.1.7", "IPv6" },
	{ MAIL, 0, "<user@[tag:general]>", 0, 501, "5.1.7", "literal" },
	{ MAIL, 0, "<user@[192.0.2.1>", 0, 501, "5.1.7", "unterminated" },
	{ MAIL, 0, "<\"unterminated@x>", 0, 501, "5.1.7", "unterminated" },
	{ MAIL, 0, "<\"a\rb\"@x>", 0, 501, "5.1.7", "quoted string" },
	{ MAIL, 0, "<\"a\\\x01\"@x>", 0, 501, "5.1.7", "quoted pair" },
	{ MAIL, 0, "<a b@x>", 0, 501, "5.1.7", "missing domain" },
	{ MAIL, 0, "<user@x>junk", 0, 501, "5.1.7", "garbage after" },
	{ MAIL, 0, "<u@x\0y>", 7, 501, "5.1.7", "bad character" },
	{ MAIL, 0, "<a@b>\0", 6, 501, "5.1.7", "garbage after" },
	{ MAIL, 0, "<u@[IPv6:2001:db8::\0q1]>", 24, 501, "5.1.7", "literal" },
	{ MAIL, 0, "<u@[192.0.2.1\0]>", 16, 501, "5.1.7", "literal" },
	{ MAIL, 0, "<\xc3\xbcser@x>", 0, 553, "5.6.7", "SMTPUTF8" },
	{ MAIL, ALL, "<\xc3\xbcser@x>", 0, 553, "5.6.7", "SMTPUTF8" },
	{ MAIL, ALL, "<\xff@x> SMTPUTF8", 0, 501, "5.1.7", "UTF-8" },
	{ MAIL, ALL, "<\xc0\xaf@x> SMTPUTF8", 0, 501, "5.1.7", "UTF-8" },
	{ MAIL, 0, "<u@x> FOO=bar", 0, 555, "5.5.4",
	  "Unsupported option: FOO" },
	{ MAIL, 0, "<u@x> SIZE=abc", 0, 501, "5.5.4", "Bad SIZE" },
	{ MAIL, 0, "<u@x> SIZE=", 0, 501, "5.5.4", "Bad SIZE" },
	{ MAIL, 0, "<u@x> SIZE", 0, 501, "5.5.4", "Bad SIZE" },
	{ MAIL, 0, "<u@x> SIZE=1 size=2", 0, 501, "5.5.4", "Duplicate SIZE" },
	{ MAIL, 0, "<u@x> =x", 0, 501, "5.5.4", "Bad parameter syntax" },
	{ MAIL, 0, "<u@x> -A=x", 0, 501, "5.5.4", "Bad parameter syntax" },
	{ MAIL, 0, "<u@x> A\x01=x", 0, 501, "5.5.4", "Bad parameter syntax" },
	{ MAIL, 0, "<u@x> X=a=b", 0, 501, "5.5.4", "Bad X parameter" },
	{ MAIL, 0, "<u@x> BODY=8BITMIME", 0, 555, "5.5.4", "BODY" },
	{ MAIL, ALL, "<u@x> BODY=BINARYMIME", 0, 555, "5.5.4", "BODY" },
	{ MAIL, ALL, "<u@x> RET=FOO", 0, 501, "5.5.4", "Bad RET" },
	{ MAIL, ALL, "<u@x> ENVID=a+ZZ", 0, 501, "5.5.4", "Bad ENVID" },
	{ MAIL, ALL, "<u@x> ENVID=a+0A", 0, 501, "5.5.4", "Bad ENVID" },
	{ MAIL, 0, "<u@x> RET=FULL", 0, 555, "5.5.4",
	  "Unsupported option: RET" },
	{ MAIL, 0, "<u@x> SMTPUTF8", 0, 555, "5.5.4", "SMTPUTF8" },
	{ MAIL, ALL, "<u@x> SMTPUTF8=yes", 0, 501, "5.5.4", "Bad SMTPUTF8" },
	{ MAIL, 0, "<u@x> AUTH=<>", 0, 555, "5.5.4", "AUTH" },
	{ MAIL, ALL, "<u@x> NOTIFY=NEVER", 0, 555, "5.5.4", "NOTIFY" },
	{ MAIL, ALL,
	  "<u@x> A=1 B=1 C=1 D=1 E=1 F=1 G=1 H=1 I=1 J=1 K=1 L=1 "
	  "M=1 N=1 O=1 P=1 Q=1",
	  0, 555, "5.5.4", "Unsupported option: A" },
	{ RCPT, 0, "<>", 0, 501, "5.1.3", "null recipient" },
	{ RCPT, 0, "<user>", 0, 501, "5.1.3", "missing domain" },
	{ RCPT, 0, "<\"postmaster\">", 0, 501, "5.1.3", "missing domain" },
	{ RCPT, 0, "<user@x", 0, 501, "5.1.3", "bad character" },
	{ RCPT, ALL, "<u@x> NOTIFY=NEVER,SUCCESS", 0, 501, "5.5.4", "NOTIFY" },
	{ RCPT, ALL, "<u@x> NOTIFY=SUCCESS,", 0, 501, "5.5.4", "NOTIFY" },
	{ RCPT, ALL, "<u@x> NOTIFY=DELAY,DELAY", 0, 501, "5.5.4", "NOTIFY" },
	{ RCPT, ALL, "<u@x> NOTIFY=", 0, 501, "5.5.4", "NOTIFY" },
	{ RCPT, ALL, "<u@x> ORCPT=rfc822", 0, 501, "5.5.4", "ORCPT" },
	{ RCPT, ALL, "<u@x> ORCPT=;u@x", 0, 501, "5.5.4", "ORCPT" },
	{ RCPT, ALL, "<u@x> ORCPT=rfc822;u+0Dx", 0, 501, "5.5.4", "ORCPT" },
	{ RCPT, ALL, "<u@x> SIZE=1", 0, 555, "5.5.4", "SIZE" },
	{ RCPT, 0, "<u@x> NOTIFY=NEVER", 0, 555, "5.5.4", "NOTIFY" },
	{ RCPT, 0, "<\xc3\xbcser@x>", 0, 553, "5.6.7", "recipient" },
};

static void
test_addr_smtp_valid_paths(void **state)
{
	ADDR_SMTP *res = addr_smtp_alloc();
	size_t	   i;

	(void)state;
	for (i = 0; i < sizeof(smtp_ok) / sizeof(smtp_ok[0]); i++) {
		const struct smtp_ok *c = &smtp_ok[i];

		if (addr_parse_smtp(res, c->cmd, c->arg, strlen(c->arg),
				    c->opts)
		    != 0)
			fail_msg("\"%s\": %d %s %s", c->arg, res->code,
				 res->dsn, VSTR_STR(res->reply));
		assert_string_equal(VSTR_STR(res->addr->addr), c->addr);
		assert_string_equal(VSTR_STR(res->addr->local), c->local);
		assert_string_equal(VSTR_STR(res->addr->domain), c->domain);
		if (res->addr->flags != c->flags)
			fail_msg("\"%s\": flags %#x, want %#x", c->arg,
				 res->addr->flags, c->flags);
	}
	addr_smtp_free(res);
}

static void
test_addr_smtp_invalid_paths_get_replies(void **state)
{
	ADDR_SMTP *res = addr_smtp_alloc();
	size_t	   i;
	size_t	   len;

	(void)state;
	for (i = 0; i < sizeof(smtp_bad) / sizeof(smtp_bad[0]); i++) {
		const struct smtp_bad *c = &smtp_bad[i];

		len = c->len ? c->len : strlen(c->arg);
		if (addr_parse_smtp(res, c->cmd, c->arg, len, c->opts) != -1)
			fail_msg("case %zu \"%s\": accepted", i, c->arg);
		if (res->code != c->code || strcmp(res->dsn, c->dsn) != 0
		    || strstr(VSTR_STR(res->reply), c->text) == NULL)
			fail_msg("case %zu \"%s\": got %d %s %s, want %d %s "
				 "*%s*",
				 i, c->arg, res->code, res->dsn,
				 VSTR_STR(res->reply), c->code, c->dsn,
				 c->text);
		/* No half result survives a failure. */
		assert_int_equal(VSTR_LEN(res->addr->addr), 0);
	}
	addr_smtp_free(res);
}

static void
test_addr_smtp_length_limits(void **state)
{
	ADDR_SMTP *res = addr_smtp_alloc();
	VSTR	  *arg = vstr_alloc(0);
	int	   i;

	(void)state;
	/* An SRS-style 65-octet local part passes; 201 octets do not. */
	vstr_sprintf(arg, "<%sx@x.example>", long64);
	assert_int_equal(addr_parse_smtp(res, MAIL, VSTR_STR(arg),
					 VSTR_LEN(arg), 0),
			 0);
	vstr_sprintf(arg, "<%s%s%s%.9s@x.example>", long64, long64, long64,
		     long64);
	assert_int_equal(addr_parse_smtp(res, MAIL, VSTR_STR(arg),
					 VSTR_LEN(arg), 0),
			 -1);
	assert_non_null(strstr(VSTR_STR(res->reply), "local part too long"));
	/* 63-octet label fine, 64 not. */
	vstr_sprintf(arg, "<u@%.63s.example>", long64);
	assert_int_equal(addr_parse_smtp(res, RCPT, VSTR_STR(arg),
					 VSTR_LEN(arg), 0),
			 0);
	vstr_sprintf(arg, "<u@%s.example>", long64);
	assert_int_equal(addr_parse_smtp(res, RCPT, VSTR_STR(arg),
					 VSTR_LEN(arg), 0),
			 -1);
	assert_string_equal(res->dsn, "5.1.3");
	/* Path of 256 octets with brackets passes, 257 fails. */
	vstr_strcpy(arg, "<u@");
	for (i = 0; i < 4; i++)
		vstr_sprintf_append(arg, "%.60s.", long64);
	vstr_sprintf_append(arg, "%.8s>", long64);
	assert_int_equal(VSTR_LEN(arg), 256);
	assert_int_equal(addr_parse_smtp(res, RCPT, VSTR_STR(arg),
					 VSTR_LEN(arg), 0),
			 0);
	vstr_truncate(arg, 255);
	vstr_strcat(arg, "z>");
	assert_int_equal(addr_parse_smtp(res, RCPT, VSTR_STR(arg),
					 VSTR_LEN(arg), 0),
			 -1);
	assert_non_null(strstr(VSTR_STR(res->reply), "path too long"));
	/* Without brackets, the same 256-octet bound (brackets counted). */
	vstr_erase_front(arg, 1);
	vstr_truncate(arg, VSTR_LEN(arg) - 1);
	assert_int_equal(addr_parse_smtp(res, RCPT, VSTR_STR(arg),
					 VSTR_LEN(arg), ADDR_OPT_NOBRACKETS),
			 -1);
	assert_non_null(strstr(VSTR_STR(res->reply), "path too long"));
	vstr_truncate(arg, VSTR_LEN(arg) - 1);
	assert_int_equal(addr_parse_smtp(res, RCPT, VSTR_STR(arg),
					 VSTR_LEN(arg), ADDR_OPT_NOBRACKETS),
			 0);
	vstr_free(arg);
	addr_smtp_free(res);
}

static void
test_addr_smtp_params_decoded(void **state)
{
	ADDR_SMTP  *res = addr_smtp_alloc();
	const char *mail = "<u@x> SIZE=99999999999999999999999 BODY=7BIT "
			   "RET=full ENVID=QQ+2B1+3D AUTH=a+2Bb@x SMTPUTF8";
	const char *rcpt = "<u@x> NOTIFY=failure,Delay ORCPT=rfc822;a+2Bb+40x";

	(void)state;
	assert_int_equal(addr_parse_smtp(res, MAIL, mail, strlen(mail), ALL),
			 0);
	assert_true(res->size_given);
	assert_true(res->size == ~0ULL); /* saturated */
	assert_int_equal(res->body, ADDR_BODY_7BIT);
	assert_int_equal(res->ret, ADDR_RET_FULL);
	assert_string_equal(VSTR_STR(res->envid), "QQ+1=");
	assert_string_equal(VSTR_STR(res->auth), "a+b@x");
	assert_true(res->smtputf8);
	assert_int_equal(res->param_count, 6);
	assert_string_equal(VSTR_STR(res->param_name[2]), "RET");
	assert_string_equal(VSTR_STR(res->param_value[2]), "full");
	assert_string_equal(VSTR_STR(res->param_name[5]), "SMTPUTF8");
	assert_string_equal(VSTR_STR(res->param_value[5]), "");

	assert_int_equal(addr_parse_smtp(res, RCPT, rcpt, strlen(rcpt), ALL),
			 0);
	assert_false(res->size_given);
	assert_int_equal(res->notify, ADDR_NOTIFY_FAILURE | ADDR_NOTIFY_DELAY);
	assert_true(res->orcpt_given);
	assert_string_equal(VSTR_STR(res->orcpt_type), "rfc822");
	assert_string_equal(VSTR_STR(res->orcpt_addr), "a+b@x");
	assert_int_equal(res->param_count, 2);
	addr_smtp_free(res);
}

/* RFC 8689: REQUIRETLS takes no value, once, only when offered. */
static void
test_addr_smtp_requiretls_param(void **state)
{
	ADDR_SMTP  *res = addr_smtp_alloc();
	const char *ok = "<u@x> requiretls SMTPUTF8";
	const char *val = "<u@x> REQUIRETLS=YES";
	const char *twice = "<u@x> REQUIRETLS REQUIRETLS";
	int	    opts = ALL | ADDR_OPT_REQUIRETLS;

	(void)state;
	assert_int_equal(addr_parse_smtp(res, MAIL, ok, strlen(ok), opts), 0);
	assert_true(res->requiretls);
	assert_string_equal(VSTR_STR(res->param_name[0]), "REQUIRETLS");
	assert_int_equal(addr_parse_smtp(res, MAIL, "<u@x>", 5, opts), 0);
	assert_false(res->requiretls);
	assert_int_equal(addr_parse_smtp(res, MAIL, val, strlen(val), opts),
			 -1);
	assert_int_equal(res->code, 501);
	assert_int_equal(addr_parse_smtp(res, MAIL, twice, strlen(twice), opts),
			 -1);
	assert_int_equal(res->code, 501);
	/* Not offered: an unknown parameter. */
	assert_int_equal(addr_parse_smtp(res, MAIL, ok, strlen(ok), ALL), -1);
	assert_int_equal(res->code, 555);
	assert_false(res->requiretls);
	/* Never a RCPT parameter. */
	assert_int_equal(addr_parse_smtp(res, RCPT, "<u@x> REQUIRETLS", 16,
					 opts),
			 -1);
	assert_int_equal(res->code, 555);
	addr_smtp_free(res);
}

static void
test_addr_smtp_route_reported(void **state)
{
	ADDR_SMTP  *res = addr_smtp_alloc();
	const char *arg = "<@hop1.example,@hop2.example:u%v@w.example>";

	(void)state;
	assert_int_equal(addr_parse_smtp(res, RCPT, arg, strlen(arg), 0), 0);
	assert_string_equal(VSTR_STR(res->addr->route),
			    "@hop1.example,@hop2.example");
	assert_int_equal(addr_relay_tricks(res->addr),
			 ADDR_TRICK_ROUTE | ADDR_TRICK_PERCENT);
	addr_smtp_free(res);
}

struct hdr_case {
	const char *text;
	size_t	    bad;
	const char *addrs[4]; /* external forms, NULL-terminated */
};

static const struct hdr_case hdr_cases[] = {
	{ "John Doe <jdoe@example.com>, \"Smith, Jane\" <jane@example.org>",
	  0,
	  { "jdoe@example.com", "jane@example.org" } },
	{ "undisclosed-recipients:;", 0, { NULL } },
	{ "friends: a@x, b@y;, c@z", 0, { "a@x", "b@y", "c@z" } },
	{ "a@x (comment), (c) b@y", 0, { "a@x", "b@y" } },
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	  0,
	  { "pete@silly.test" } },
	{ "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	  0,
	  { "mary@x.test", "jdoe@example.org", "one@y.test" } },
	{ "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	  0,
	  { "c@a.test", "joe@where.test", "jdoe@one.test" } },
	{ "<@route.example:user@x.example>", 0, { "user@x.example" } },
	{ "user . name @ example . com", 0, { "user.name@example.com" } },
	{ "jdoe", 0, { "jdoe" } },
	{ "John Doe", 1, { NULL } },
	{ "a@x, , b@y", 0, { "a@x", "b@y" } },
	{ "\"quoted user\"@x", 0, { "\"quoted user\"@x" } },
	{ "\"plain\"@x", 0, { "plain@x" } },
	{ "a@[192.0.2.1]", 0, { "a@[192.0.2.1]" } },
	{ "<a@x", 1, { NULL } },
	{ "a@x, @bad", 1, { "a@x" } },
	{ "(unterminated comment a@x", 1, { NULL } },
	{ "a@x,\r\n\tb@y", 0, { "a@x", "b@y" } },
	{ "a@x <b@y>", 0, { "b@y" } },
	{ "<a@x> trailing, c@d", 1, { "c@d" } },
	{ "a..b@x", 0, { "\"a..b\"@x" } },
	{ "a@x..y", 1, { NULL } },
	{ "a@\"x\"", 1, { NULL } },
	{ "J\xc3\xb6ran <j\xc3\xb6ran@b\xc3\xbc"
	  "cher.example>",
	  0,
	  { "j\xc3\xb6ran@b\xc3\xbc"
	    "cher.example" } },
	{ "\xff@x", 1, { NULL } },
	{ "a@x;", 1, { "a@x" } },
	{ "\"a\x01"
	  "b\"@x, c@d",
	  1,
	  { "c@d" } },
	{ "\"a\tb\"@x", 1, { NULL } },
	{ "\"a\\\x02"
	  "b\"@x",
	  1,
	  { NULL } },
	{ "\"folded\r\n user\"@x", 0, { "\"folded user\"@x" } },
	{ "a@[1.2.3.4\x7f]", 1, { NULL } },
	{ "<>, a@x", 0, { "a@x" } },
};

static void
test_addr_header_lists(void **state)
{
	ADDR_LIST *list = addr_list_alloc();
	size_t	   i;
	size_t	   n;

	(void)state;
	for (i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
		const struct hdr_case *c = &hdr_cases[i];

		addr_parse_header(list, c->text, strlen(c->text));
		for (n = 0; c->addrs[n]; n++)
			/* void */;
		if (list->count != n || list->bad != c->bad)
			fail_msg("\"%s\": %zu addresses %zu bad, want %zu %zu",
				 c->text, list->count, list->bad, n, c->bad);
		for (n = 0; n < list->count; n++)
			if (strcmp(VSTR_STR(list->addrs[n]->addr), c->addrs[n])
			    != 0)
				fail_msg("\"%s\" #%zu: \"%s\" != \"%s\"",
					 c->text, n,
					 VSTR_STR(list->addrs[n]->addr),
					 c->addrs[n]);
	}
	addr_parse_header(list, "x <a@b>", 7);
	assert_int_equal(list->addrs[0]->flags, 0);
	addr_parse_header(list, "\"a b\"@c", 7);
	assert_int_equal(list->addrs[0]->flags, ADDR_F_QUOTED);
	addr_parse_header(list, "<@r:a@b>", 8);
	assert_int_equal(list->addrs[0]->flags, ADDR_F_ROUTE);
	addr_parse_header(list, "j\xc3\xb6@x", 5);
	assert_int_equal(list->addrs[0]->flags, ADDR_F_UTF8);
	addr_list_free(list);
}

static void
test_addr_header_list_is_bounded(void **state)
{
	ADDR_LIST *list = addr_list_alloc();
	VSTR	  *big = vstr_alloc(0);
	int	   i;

	(void)state;
	for (i = 0; i < ADDR_LIST_MAX + 5; i++)
		vstr_strcat(big, "a@b,");
	addr_parse_header(list, VSTR_STR(big), VSTR_LEN(big));
	assert_int_equal(list->count, ADDR_LIST_MAX);
	assert_int_equal(list->bad, 5);
	/* Deep comment nesting is a counter, not recursion. */
	vstr_reset(big);
	for (i = 0; i < 100000; i++)
		vstr_addch(big, '(');
	for (i = 0; i < 100000; i++)
		vstr_addch(big, ')');
	vstr_strcat(big, "a@b");
	addr_parse_header(list, VSTR_STR(big), VSTR_LEN(big));
	assert_int_equal(list->count, 1);
	vstr_free(big);
	addr_list_free(list);
}

static void
test_addr_parse_mailbox_utf8_switch(void **state)
{
	ADDR	   *a = addr_alloc();
	const char *u = "\xc3\xbc@x.example";

	(void)state;
	assert_int_equal(addr_parse_mailbox(a, "u@x.example", 11, false), 0);
	assert_string_equal(VSTR_STR(a->addr), "u@x.example");
	assert_int_equal(addr_parse_mailbox(a, u, strlen(u), false), -1);
	assert_int_equal(VSTR_LEN(a->addr), 0);
	assert_int_equal(addr_parse_mailbox(a, u, strlen(u), true), 0);
	assert_int_equal(a->flags, ADDR_F_UTF8);
	assert_int_equal(addr_parse_mailbox(a, "<u@x>", 5, true), -1);
	assert_int_equal(addr_parse_mailbox(a, "u@x ", 4, true), -1);
	addr_free(a);
}

static void
test_addr_quote_local(void **state)
{
	static const char *cases[][2] = {
		{ "plain", "plain" },	  { "first.last", "first.last" },
		{ "a b", "\"a b\"" },	  { "a\"b", "\"a\\\"b\"" },
		{ "a\\b", "\"a\\\\b\"" }, { ".lead", "\".lead\"" },
		{ "a..b", "\"a..b\"" },	  { "u@remote", "\"u@remote\"" },
		{ "", "\"\"" },
	};
	VSTR  *out = vstr_alloc(0);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vstr_reset(out);
		assert_int_equal(addr_quote_local(out, cases[i][0],
						  strlen(cases[i][0])),
				 0);
		assert_string_equal(VSTR_STR(out), cases[i][1]);
	}
	vstr_free(out);
}

static void
test_addr_split_ext(void **state)
{
	VSTR *user = vstr_alloc(0);
	VSTR *ext = vstr_alloc(0);

	(void)state;
	assert_int_equal(addr_split_ext("user+box", "+", user, ext), '+');
	assert_string_equal(VSTR_STR(user), "user");
	assert_string_equal(VSTR_STR(ext), "box");
	assert_int_equal(addr_split_ext("user-a+b", "+-", user, ext), '-');
	assert_string_equal(VSTR_STR(user), "user");
	assert_string_equal(VSTR_STR(ext), "a+b");
	assert_int_equal(addr_split_ext("+lead", "+", user, ext), 0);
	assert_string_equal(VSTR_STR(user), "+lead");
	assert_string_equal(VSTR_STR(ext), "");
	assert_int_equal(addr_split_ext("plain", "+", user, ext), 0);
	assert_int_equal(addr_split_ext("user+", "+", user, ext), '+');
	assert_string_equal(VSTR_STR(ext), "");
	assert_int_equal(addr_split_ext("owner-list", "-", user, ext), 0);
	assert_int_equal(addr_split_ext("list-request", "-", user, ext), 0);
	assert_string_equal(VSTR_STR(user), "list-request");
	assert_int_equal(addr_split_ext("a-b", "-", user, ext), '-');
	assert_int_equal(addr_split_ext("user+x", "", user, ext), 0);
	assert_int_equal(addr_split_ext("user+x", NULL, user, ext), 0);
	vstr_free(user);
	vstr_free(ext);
}

static void
test_addr_lower_domain(void **state)
{
	ADDR *a = addr_alloc();

	(void)state;
	assert_int_equal(addr_parse_mailbox(a, "\"Mixed Case\"@EXAMPLE.Org", 24,
					    false),
			 0);
	addr_lower_domain(a);
	assert_string_equal(VSTR_STR(a->domain), "example.org");
	assert_string_equal(VSTR_STR(a->addr), "\"Mixed Case\"@example.org");
	assert_string_equal(VSTR_STR(a->local), "Mixed Case");
	addr_free(a);
}

static void
test_addr_relay_tricks_detected(void **state)
{
	static const struct {
		const char *arg;
		int	    bits;
	} cases[] = {
		{ "<user@local.example>", 0 },
		{ "<u%remote.example@local.example>", ADDR_TRICK_PERCENT },
		{ "<\"u@remote.example\"@local.example>", ADDR_TRICK_AT },
		{ "<remote.example!u@local.example>", ADDR_TRICK_BANG },
		{ "<@local.example:u@remote.example>", ADDR_TRICK_ROUTE },
		{ "<\"a%b!c@d\"@local.example>",
		  ADDR_TRICK_PERCENT | ADDR_TRICK_BANG | ADDR_TRICK_AT },
	};
	ADDR_SMTP *res = addr_smtp_alloc();
	size_t	   i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(addr_parse_smtp(res, RCPT, cases[i].arg,
						 strlen(cases[i].arg), 0),
				 0);
		assert_int_equal(addr_relay_tricks(res->addr), cases[i].bits);
	}
	addr_smtp_free(res);
}

static void
test_addr_xtext_round_trip(void **state)
{
	VSTR	  *enc = vstr_alloc(0);
	VSTR	  *dec = vstr_alloc(0);
	const char raw[] = "a+b=c d\x01\xff~";

	(void)state;
	assert_int_equal(addr_xtext_encode(enc, raw, sizeof(raw) - 1), 0);
	assert_string_equal(VSTR_STR(enc), "a+2Bb+3Dc+20d+01+FF~");
	assert_int_equal(addr_xtext_decode(dec, VSTR_STR(enc), VSTR_LEN(enc)),
			 0);
	assert_int_equal(VSTR_LEN(dec), sizeof(raw) - 1);
	assert_memory_equal(VSTR_STR(dec), raw, sizeof(raw) - 1);
	assert_int_equal(addr_xtext_decode(dec, "a+2", 3), -1);
	assert_int_equal(addr_xtext_decode(dec, "a+G0", 4), -1);
	assert_int_equal(addr_xtext_decode(dec, "a b", 3), -1);
	assert_int_equal(addr_xtext_decode(dec, "a=b", 3), -1);
	vstr_free(enc);
	vstr_free(dec);
}

static void
test_addr_utf8_validation(void **state)
{
	(void)state;
	assert_true(addr_utf8_valid("plain", 5));
	assert_true(addr_utf8_valid("\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	assert_false(addr_utf8_valid("\xc0\xaf", 2));	      /* overlong */
	assert_false(addr_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
	assert_false(addr_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(addr_utf8_valid("\xf4\x90\x80\x80", 4)); /* > 10FFFF */
	assert_false(addr_utf8_valid("\xc3", 1));	      /* truncated */
	assert_false(addr_utf8_valid("\x80", 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_smtp_valid_paths),
		cmocka_unit_test(test_addr_smtp_invalid_paths_get_replies),
		cmocka_unit_test(test_addr_smtp_length_limits),
		cmocka_unit_test(test_addr_smtp_params_decoded),
		cmocka_unit_test(test_addr_smtp_requiretls_param),
		cmocka_unit_test(test_addr_smtp_route_reported),
		cmocka_unit_test(test_addr_header_lists),
		cmocka_unit_test(test_addr_header_list_is_bounded),
		cmocka_unit_test(test_addr_parse_mailbox_utf8_switch),
		cmocka_unit_test(test_addr_quote_local),
		cmocka_unit_test(test_addr_split_ext),
		cmocka_unit_test(test_addr_lower_domain),
		cmocka_unit_test(test_addr_relay_tricks_detected),
		cmocka_unit_test(test_addr_xtext_round_trip),
		cmocka_unit_test(test_addr_utf8_validation),
	};

	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
