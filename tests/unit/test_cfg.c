/*
 * Unit tests for util/cfg (main.cf).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/msg.h"
#include "util/vstr.h"

static CFG *
parse(const char *text)
{
	VSTR *why = vstr_alloc(64);
	CFG *cfg = cfg_open_buffer("/etc/postel", "main.cf", text, strlen(text),
				   why);

	if (cfg == NULL)
		fail_msg("parse failed: %s", VSTR_STR(why));
	vstr_free(why);
	return cfg;
}

/* Parse text that must fail; return the reason (static buffer). */
static const char *
parse_error(const char *text, size_t len)
{
	static char reason[512];
	VSTR	   *why = vstr_alloc(64);
	CFG	   *cfg = cfg_open_buffer(NULL, "main.cf", text, len, why);

	assert_null(cfg);
	snprintf(reason, sizeof(reason), "%s", VSTR_STR(why));
	vstr_free(why);
	return reason;
}

/*
 * The expansion of a user-defined name: cfg_get_str() takes table names
 * only.  Dies like the getters on an error so that EXPECT_FATAL works.
 */
static const char *
expand(CFG *cfg, const char *name)
{
	/* Static: the fatal path must not leak (LeakSanitizer builds). */
	static VSTR *out;
	static VSTR *text;
	static VSTR *why;

	if (out == NULL) {
		out = vstr_alloc(64);
		text = vstr_alloc(64);
		why = vstr_alloc(64);
	}
	vstr_sprintf(text, "${%s}", name);
	if (cfg_expand(cfg, VSTR_STR(text), out, why) < 0)
		msg_fatal("parameter %s: %s", name, VSTR_STR(why));
	return VSTR_STR(out);
}

static void
test_cfg_basic_settings_and_last_wins(void **state)
{
	CFG *cfg = parse("# a comment\n"
			 "\n"
			 "myhostname = mail.example.org\n"
			 "relayhost=[relay.example.net]:587\n"
			 "  # indented comment\n"
			 "relayhost =   [other.example.net]  \n"
			 "empty =\n");

	(void)state;
	assert_string_equal(cfg_get_str(cfg, "myhostname"), "mail.example.org");
	assert_string_equal(cfg_get_str(cfg, "relayhost"),
			    "[other.example.net]");
	assert_int_equal(cfg_line(cfg, "relayhost"), 6);
	assert_string_equal(cfg_get_raw(cfg, "empty"), "");
	assert_null(cfg_get_raw(cfg, "mydomain"));
	assert_int_equal(cfg_count(cfg), 3);
	assert_string_equal(cfg_name_at(cfg, 0), "myhostname");
	assert_string_equal(cfg_name_at(cfg, 1), "relayhost");
	assert_string_equal(cfg_name_at(cfg, 2), "empty");
	assert_null(cfg_name_at(cfg, 3));
	cfg_free(cfg);
}

static void
test_cfg_continuation_lines(void **state)
{
	CFG *cfg = parse("mynetworks = 10.0.0.0/8\n"
			 "\t192.168.0.0/16\n"
			 "# a comment does not end the setting\n"
			 "\n"
			 "    172.16.0.0/12\n"
			 "next = x\n");

	(void)state;
	assert_string_equal(cfg_get_str(cfg, "mynetworks"),
			    "10.0.0.0/8 192.168.0.0/16 172.16.0.0/12");
	assert_int_equal(cfg_line(cfg, "mynetworks"), 1);
	assert_int_equal(cfg_line(cfg, "next"), 6);
	cfg_free(cfg);
}

static void
test_cfg_expansion_forms(void **state)
{
	CFG *cfg = parse("a = alpha\n"
			 "b = <$a>\n"
			 "c = <${a}>\n"
			 "d = <$(a)>\n"
			 "e = ${a?set}${unset?set}\n"
			 "f = ${a:empty}${unset:empty}\n"
			 "g = ${a?${b}/$(c)}\n"
			 "h = $$a costs $ 5 $\n"
			 "i = $unset-$a\n"
			 "j = ${empty?x}${empty:y}\n"
			 "empty =\n"
			 "k = $(a?{braces})\n"
			 "l = ${a?{x:y}:{no}}${empty?{x}:{ ${a} }}\n"
			 "m = ${a:{x}}${empty:{is empty}}\n"
			 "n = ${a ? {yes} : {no}}\n");

	(void)state;
	assert_string_equal(expand(cfg, "b"), "<alpha>");
	assert_string_equal(expand(cfg, "c"), "<alpha>");
	assert_string_equal(expand(cfg, "d"), "<alpha>");
	assert_string_equal(expand(cfg, "e"), "set");
	assert_string_equal(expand(cfg, "f"), "empty");
	assert_string_equal(expand(cfg, "g"), "<alpha>/<alpha>");
	assert_string_equal(expand(cfg, "h"), "$a costs $ 5 $");
	assert_string_equal(expand(cfg, "i"), "-alpha");
	assert_string_equal(expand(cfg, "j"), "y");
	assert_string_equal(expand(cfg, "k"), "braces");
	assert_string_equal(expand(cfg, "l"), "x:y alpha ");
	assert_string_equal(expand(cfg, "m"), "is empty");
	EXPECT_FATAL(expand(cfg, "n"), "bad parameter name");
	/* unknown and unset */
	assert_string_equal(expand(cfg, "nothing_here"), "");
	cfg_free(cfg);
}

static void
test_cfg_defaults_expand_through_settings(void **state)
{
	CFG *cfg = parse("myhostname = mx1.example.org\n");

	(void)state;
	assert_string_equal(cfg_get_str(cfg, "mydomain"), "example.org");
	assert_string_equal(cfg_get_str(cfg, "myorigin"), "mx1.example.org");
	assert_string_equal(cfg_get_str(cfg, "mydestination"),
			    "mx1.example.org, localhost.example.org, localhost");
	assert_string_equal(cfg_get_str(cfg, "smtpd_banner"),
			    "mx1.example.org ESMTP Postel");
	assert_string_equal(cfg_get_default(cfg, "myorigin"), "$myhostname");
	assert_null(cfg_get_default(cfg, "bogus"));
	assert_string_equal(cfg_get_text(cfg, "myhostname"), "mx1.example.org");
	assert_string_equal(cfg_get_text(cfg, "myorigin"), "$myhostname");
	assert_string_equal(cfg_get_str(cfg, "config_directory"),
			    "/etc/postel");
	cfg_free(cfg);
}

static void
test_cfg_computed_defaults(void **state)
{
	CFG	   *cfg = parse("");
	CFG	   *flat = parse("myhostname = standalone\n");
	const char *host;

	(void)state;
	host = cfg_get_str(cfg, "myhostname");
	assert_true(strlen(host) > 0);
	assert_non_null(strchr(host, '.'));
	assert_string_equal(cfg_get_str(cfg, "mydomain"),
			    strchr(host, '.') + 1);
	assert_string_equal(cfg_get_str(flat, "mydomain"), "localdomain");
	cfg_free(cfg);
	cfg_free(flat);
}

static void
test_cfg_expansion_loop_is_fatal_and_named(void **state)
{
	CFG  *cfg = parse("a = x$b\n"
			   "b = ${c?y}\n"
			   "c = $a\n"
			   "self = $self\n"
			   "ok = fine\n");
	VSTR *why = vstr_alloc(64);

	(void)state;
	EXPECT_FATAL(expand(cfg, "a"), "a -> b -> c -> a");
	EXPECT_FATAL(expand(cfg, "self"), "self -> self");
	/* The CFG is still usable after a failed expansion. */
	assert_string_equal(expand(cfg, "ok"), "fine");
	assert_int_equal(cfg_check(cfg, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "main.cf:1: parameter a"));
	assert_non_null(strstr(VSTR_STR(why), "loop"));
	cfg_free(cfg);
	vstr_free(why);
}

static void
test_cfg_loop_through_mydomain_default(void **state)
{
	CFG *cfg = parse("myhostname = host.$mydomain\n");

	(void)state;
	/*
	 * mydomain's default comes from myhostname, which needs mydomain:
	 * the computed default falls back to localdomain instead of looping.
	 */
	assert_string_equal(cfg_get_str(cfg, "myhostname"), "host.localdomain");
	assert_string_equal(cfg_get_str(cfg, "mydomain"), "localdomain");
	cfg_free(cfg);
}

static void
test_cfg_exponential_expansion_is_bounded(void **state)
{
	VSTR *text = vstr_alloc(1024);
	CFG  *cfg;
	int   i;

	(void)state;
	for (i = 0; i < 40; i++)
		vstr_sprintf_append(text, "p%d = $p%d$p%d\n", i, i + 1, i + 1);
	vstr_strcat(text, "p40 = xxxxxxxxxxxxxxxx\n");
	cfg = parse(VSTR_STR(text));
	EXPECT_FATAL(expand(cfg, "p0"), "longer than");
	assert_int_equal(strlen(expand(cfg, "p30")), 16 << 10);
	cfg_free(cfg);
	vstr_free(text);
}

static void
test_cfg_overrides_win_and_flush_cache(void **state)
{
	CFG *cfg = parse("myhostname = a.example\n"
			 "smtpd_tls_security_level = may\n");

	(void)state;
	assert_string_equal(cfg_get_str(cfg, "myorigin"), "a.example");
	cfg_override(cfg, "myhostname", "b.example");
	assert_string_equal(cfg_get_str(cfg, "myorigin"), "b.example");
	assert_string_equal(cfg_get_raw(cfg, "myhostname"), "b.example");
	assert_int_equal(cfg_line(cfg, "myhostname"), 0);
	assert_int_equal(cfg_set_from_arg(cfg,
					  " smtpd_tls_security_level = encrypt "),
			 0);
	assert_string_equal(cfg_get_str(cfg, "smtpd_tls_security_level"),
			    "encrypt");
	assert_int_equal(cfg_set_from_arg(cfg, "syslog_name=$mail_name-sub"),
			 0);
	assert_string_equal(cfg_get_str(cfg, "syslog_name"), "Postel-sub");
	assert_int_equal(cfg_set_from_arg(cfg, "novalue"), -1);
	assert_int_equal(cfg_set_from_arg(cfg, "=x"), -1);
	assert_int_equal(cfg_set_from_arg(cfg, "bad name=x"), -1);
	/* overrides are not main.cf settings */
	assert_int_equal(cfg_count(cfg), 2);
	cfg_free(cfg);
}

static void
test_cfg_typed_getters(void **state)
{
	CFG *cfg = parse("max_use = 7\n"
			 "disable_vrfy_command = yes\n"
			 "soft_bounce = False\n"
			 "max_idle = 2m\n"
			 "ipc_timeout = 90\n"
			 "delay_warning_time = 4\n"
			 "maximal_queue_lifetime = 1w\n"
			 "message_size_limit = 20m\n"
			 "mailbox_size_limit = 512k\n"
			 "queue_minfree = 1G\n"
			 "header_size_limit = 4096\n"
			 "my_limit = $max_use\n");

	(void)state;
	assert_int_equal(cfg_get_int(cfg, "max_use"), 7);
	assert_true(cfg_get_bool(cfg, "disable_vrfy_command"));
	assert_false(cfg_get_bool(cfg, "soft_bounce"));
	assert_false(cfg_get_bool(cfg, "smtpd_sasl_auth_enable"));
	assert_int_equal(cfg_get_time(cfg, "max_idle"), 120);
	assert_int_equal(cfg_get_time(cfg, "ipc_timeout"), 90);
	/* a bare number takes the unit of the default (0h) */
	assert_int_equal(cfg_get_time(cfg, "delay_warning_time"), 4 * 3600);
	assert_int_equal(cfg_get_time(cfg, "maximal_queue_lifetime"),
			 7 * 86400);
	assert_int_equal(cfg_get_time(cfg, "bounce_queue_lifetime"), 5 * 86400);
	assert_int_equal(cfg_get_size(cfg, "message_size_limit"),
			 20 * 1024 * 1024);
	assert_int_equal(cfg_get_size(cfg, "mailbox_size_limit"), 512 * 1024);
	assert_int_equal(cfg_get_size(cfg, "queue_minfree"), 1LL << 30);
	assert_int_equal(cfg_get_size(cfg, "header_size_limit"), 4096);
	/* a name outside the table is a bug in the caller, not 0 */
	EXPECT_FATAL(cfg_get_int(cfg, "my_limit"),
		     "parameter \"my_limit\" is not in util/param_table.c");
	EXPECT_FATAL(cfg_get_str(cfg, "mesage_size_limit"), "not in util/");
	EXPECT_FATAL(cfg_get_text(cfg, "my_limit"), "not in util/");
	/* so is a getter of the wrong type */
	EXPECT_FATAL(cfg_get_int(cfg, "max_idle"),
		     "max_idle is a time, read as a integer");
	assert_string_equal(expand(cfg, "my_limit"), "7");
	/* a default that refers to another parameter */
	assert_int_equal(cfg_get_int(cfg, "smtp_destination_concurrency_limit"),
			 20);
	cfg_free(cfg);
}

static void
test_cfg_typed_getters_fatal_messages(void **state)
{
	CFG *cfg = parse("max_use = 7x\n"
			 "default_process_limit = 0\n"
			 "disable_vrfy_command = maybe\n"
			 "max_idle = 5y\n"
			 "message_size_limit = 10q\n"
			 "smtpd_error_sleep_time = 2m\n"
			 "ipc_timeout = 99999999999999999999\n"
			 "access_map_reject_code = 250\n");

	(void)state;
	EXPECT_FATAL(cfg_get_int(cfg, "max_use"),
		     "main.cf:1: parameter max_use: bad numerical value \"7x\"");
	EXPECT_FATAL(cfg_get_int(cfg, "default_process_limit"),
		     "main.cf:2: parameter default_process_limit: value \"0\" "
		     "is out of range [1, 100000]");
	EXPECT_FATAL(cfg_get_bool(cfg, "disable_vrfy_command"),
		     "main.cf:3: parameter disable_vrfy_command: bad boolean");
	EXPECT_FATAL(cfg_get_time(cfg, "max_idle"),
		     "main.cf:4: parameter max_idle: bad time value \"5y\"");
	EXPECT_FATAL(cfg_get_size(cfg, "message_size_limit"),
		     "main.cf:5: parameter message_size_limit: bad size value");
	EXPECT_FATAL(cfg_get_time(cfg, "smtpd_error_sleep_time"),
		     "out of range [0, 60]");
	EXPECT_FATAL(cfg_get_time(cfg, "ipc_timeout"), "parameter ipc_timeout");
	EXPECT_FATAL(cfg_get_int(cfg, "access_map_reject_code"),
		     "out of range [400, 599]");
	cfg_override(cfg, "max_use", "0");
	EXPECT_FATAL(cfg_get_int(cfg, "max_use"),
		     "parameter max_use: value \"0\" is below the minimum 1");
	cfg_free(cfg);
}

static void
test_cfg_bad_lines_name_file_and_line(void **state)
{
	(void)state;
	assert_string_equal(parse_error("a = 1\n\nfoo bar\n", 15),
			    "main.cf:3: missing '=' after parameter name "
			    "\"foo\"");
	assert_string_equal(parse_error("# x\n  indented = 1\n", 19),
			    "main.cf:2: continuation line without a setting "
			    "before it");
	assert_string_equal(parse_error("= 1\n", 4),
			    "main.cf:1: missing parameter name");
	assert_string_equal(parse_error("a@b = 1\n", 8),
			    "main.cf:1: bad character in parameter name");
	assert_string_equal(parse_error("a = 1\nb = \0\n", 12),
			    "main.cf:2: NUL byte in file");
	/* the error names the first line of a continued setting */
	assert_string_equal(parse_error("a = 1\nbad\n  more\n", 17),
			    "main.cf:2: missing '=' after parameter name "
			    "\"bad\"");
}

static void
test_cfg_loop_through_table_names_names_the_line(void **state)
{
	CFG *cfg = parse("myorigin = $myhostname\n"
			 "myhostname = $myorigin\n");

	(void)state;
	EXPECT_FATAL(cfg_get_str(cfg, "myorigin"),
		     "main.cf:1: parameter myorigin: expansion loop: "
		     "myorigin -> myhostname -> myorigin");
	cfg_free(cfg);
}

static void
test_cfg_transport_int_families(void **state)
{
	CFG  *cfg = parse("default_destination_concurrency_limit = 7\n"
			   "relay_destination_concurrency_limit = 3\n"
			   "local_destination_recipient_limit = 9\n"
			   "slow_destination_recipient_limit = lots\n"
			   "big_destination_concurrency_limit = 0\n");
	VSTR *why = vstr_alloc(64);

	(void)state;
	/* set for the transport */
	assert_int_equal(cfg_get_transport_int(cfg, "relay",
					       "destination_concurrency_limit"),
			 3);
	/* a table entry with its own default ($default_...) */
	assert_int_equal(cfg_get_transport_int(cfg, "smtp",
					       "destination_concurrency_limit"),
			 7);
	/* a table entry with a fixed default (local: 2) */
	assert_int_equal(cfg_get_transport_int(cfg, "local",
					       "destination_concurrency_limit"),
			 2);
	assert_int_equal(cfg_get_transport_int(cfg, "local",
					       "destination_recipient_limit"),
			 9);
	/* no setting, no table entry: default_<suffix> */
	assert_int_equal(cfg_get_transport_int(cfg, "other",
					       "destination_recipient_limit"),
			 50);
	/* checked like the default: type and bounds, naming the line */
	EXPECT_FATAL(cfg_get_transport_int(cfg, "slow",
					   "destination_recipient_limit"),
		     "main.cf:4: parameter slow_destination_recipient_limit: "
		     "bad numerical value");
	EXPECT_FATAL(cfg_get_transport_int(cfg, "big",
					   "destination_concurrency_limit"),
		     "main.cf:5: parameter big_destination_concurrency_limit");
	/* a suffix that is no family is a bug */
	EXPECT_FATAL(cfg_get_transport_int(cfg, "relay",
					   "destination_rate_delay"),
		     "no per-transport family");
	assert_int_equal(cfg_check(cfg, why), -1);
	assert_non_null(strstr(VSTR_STR(why),
			       "main.cf:4: parameter "
			       "slow_destination_recipient_limit"));
	assert_int_equal(cfg_transport_prefix_len("relay_destination_"
						  "concurrency_limit"),
			 5);
	assert_int_equal(cfg_transport_prefix_len("default_destination_"
						  "concurrency_limit"),
			 0);
	assert_int_equal(cfg_transport_prefix_len("_destination_"
						  "concurrency_limit"),
			 0);
	assert_int_equal(cfg_transport_prefix_len("relay_destination_"
						  "rate_delay"),
			 0);
	cfg_free(cfg);
	vstr_free(why);
}

static void
test_cfg_check_reports_bad_values(void **state)
{
	CFG  *cfg = parse("myhostname = ok\n"
			   "max_idle = 10\n"
			   "smtpd_timeout = soon\n");
	VSTR *why = vstr_alloc(64);

	(void)state;
	assert_int_equal(cfg_check(cfg, why), -1);
	assert_string_equal(VSTR_STR(why),
			    "main.cf:3: parameter smtpd_timeout: "
			    "bad time value \"soon\"");
	cfg_free(cfg);
	cfg = parse("a = ${b\n");
	assert_int_equal(cfg_check(cfg, why), -1);
	assert_non_null(
	    strstr(VSTR_STR(why), "main.cf:1: parameter a: missing"));
	cfg_free(cfg);
	vstr_free(why);
}

static void
test_cfg_expand_known_keeps_foreign_macros(void **state)
{
	CFG  *cfg = parse("myhostname = h.example\n"
			   "mine = value\n");
	VSTR *out = vstr_alloc(64);
	VSTR *why = vstr_alloc(64);

	(void)state;
	assert_int_equal(cfg_expand_known(cfg,
					  "argv=/bin/x ${recipient} "
					  "$sender $myhostname ${mine}",
					  out, why),
			 0);
	assert_string_equal(VSTR_STR(out), "argv=/bin/x ${recipient} $sender "
					   "h.example value");
	assert_int_equal(cfg_expand(cfg, "${recipient}<$mine>", out, why), 0);
	assert_string_equal(VSTR_STR(out), "<value>");
	assert_int_equal(cfg_expand(cfg, "$(mine", out, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "missing ')'"));
	assert_int_equal(cfg_expand(cfg, "${bad name}", out, why), -1);
	assert_int_equal(cfg_expand(cfg, "${mine?{a}{b}}", out, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "bad conditional"));
	assert_int_equal(cfg_expand(cfg, "${mine:{a}:{b}}", out, why), -1);
	assert_int_equal(cfg_expand(cfg, "${mine?{a}:b}", out, why), -1);
	assert_int_equal(cfg_expand(cfg, "${mine?{a}:{b}c}", out, why), -1);
	assert_int_equal(cfg_expand(cfg, "${mine?{a}:{b}}", out, why), 0);
	assert_string_equal(VSTR_STR(out), "a");
	cfg_free(cfg);
	vstr_free(out);
	vstr_free(why);
}

static void
test_cfg_open_reads_files(void **state)
{
	char  dir[] = "/tmp/test_cfg.XXXXXX";
	char  path[256];
	VSTR *why = vstr_alloc(64);
	FILE *fp;
	CFG  *cfg;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* no main.cf: all defaults */
	cfg = cfg_open(dir, why);
	assert_non_null(cfg);
	assert_string_equal(cfg_confdir(cfg), dir);
	assert_string_equal(cfg_get_str(cfg, "config_directory"), dir);
	assert_string_equal(cfg_get_str(cfg, "mail_owner"), "postel");
	cfg_free(cfg);
	snprintf(path, sizeof(path), "%s/main.cf", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("mail_owner = mailer\nbroken line\n", fp);
	fclose(fp);
	assert_null(cfg_open(dir, why));
	snprintf(path, sizeof(path), "%s/main.cf:2: missing '='", dir);
	assert_non_null(strstr(VSTR_STR(why), path));
	snprintf(path, sizeof(path), "%s/main.cf", dir);
	fp = fopen(path, "w");
	fputs("mail_owner = mailer\n", fp);
	fclose(fp);
	cfg = cfg_open(dir, why);
	assert_non_null(cfg);
	assert_string_equal(cfg_get_str(cfg, "mail_owner"), "mailer");
	assert_string_equal(cfg_path(cfg), path);
	cfg_free(cfg);
	unlink(path);
	/* a main.cf that is a folder cannot be read */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_null(cfg_open(dir, why));
	assert_non_null(strstr(VSTR_STR(why), "not a regular file"));
	rmdir(path);
	rmdir(dir);
	vstr_free(why);
}

static void
test_cfg_confdir_from_env(void **state)
{
	(void)state;
	unsetenv("MAIL_CONFIG");
	assert_string_equal(cfg_default_confdir(), "/etc/postel");
	assert_string_equal(cfg_confdir_from_env("/opt/x"), "/opt/x");
	setenv("MAIL_CONFIG", "/srv/postel", 1);
	assert_string_equal(cfg_default_confdir(), "/srv/postel");
	assert_string_equal(cfg_confdir_from_env("/opt/x"), "/opt/x");
	assert_string_equal(cfg_confdir_from_env(NULL), "/srv/postel");
	setenv("MAIL_CONFIG", "", 1);
	assert_string_equal(cfg_default_confdir(), "/etc/postel");
	unsetenv("MAIL_CONFIG");
}

static void
test_cfg_value_parsers(void **state)
{
	VSTR	 *why = vstr_alloc(64);
	long long v;
	bool	  b;

	(void)state;
	assert_int_equal(cfg_parse_time("3", 'd', &v, why), 0);
	assert_int_equal(v, 3 * 86400);
	assert_int_equal(cfg_parse_time("3H", 's', &v, why), 0);
	assert_int_equal(v, 3 * 3600);
	assert_int_equal(cfg_parse_time("", 's', &v, why), -1);
	assert_int_equal(cfg_parse_time("1hs", 's', &v, why), -1);
	assert_int_equal(cfg_parse_time("-1", 's', &v, why), -1);
	assert_int_equal(cfg_parse_time("9223372036854775807w", 's', &v, why),
			 -1);
	assert_int_equal(cfg_parse_size("0", &v, why), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cfg_parse_size("9223372036854775807g", &v, why), -1);
	assert_int_equal(cfg_parse_size("12 k", &v, why), -1);
	assert_int_equal(cfg_parse_bool("TRUE", &b), 0);
	assert_true(b);
	assert_int_equal(cfg_parse_bool("No", &b), 0);
	assert_false(b);
	assert_int_equal(cfg_parse_bool("1", &b), -1);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cfg_basic_settings_and_last_wins),
		cmocka_unit_test(test_cfg_continuation_lines),
		cmocka_unit_test(test_cfg_expansion_forms),
		cmocka_unit_test(test_cfg_defaults_expand_through_settings),
		cmocka_unit_test(test_cfg_computed_defaults),
		cmocka_unit_test(test_cfg_expansion_loop_is_fatal_and_named),
		cmocka_unit_test(test_cfg_loop_through_mydomain_default),
		cmocka_unit_test(test_cfg_exponential_expansion_is_bounded),
		cmocka_unit_test(test_cfg_overrides_win_and_flush_cache),
		cmocka_unit_test(test_cfg_typed_getters),
		cmocka_unit_test(test_cfg_typed_getters_fatal_messages),
		cmocka_unit_test(test_cfg_bad_lines_name_file_and_line),
		cmocka_unit_test(
		    test_cfg_loop_through_table_names_names_the_line),
		cmocka_unit_test(test_cfg_transport_int_families),
		cmocka_unit_test(test_cfg_check_reports_bad_values),
		cmocka_unit_test(test_cfg_expand_known_keeps_foreign_macros),
		cmocka_unit_test(test_cfg_open_reads_files),
		cmocka_unit_test(test_cfg_confdir_from_env),
		cmocka_unit_test(test_cfg_value_parsers),
	};

	return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}
