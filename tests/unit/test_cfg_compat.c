/*
 * Unit tests for util/cfg_compat (unused and legacy parameter names).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/cfg_compat.h"
#include "util/mastercf.h"
#include "util/msg.h"
#include "util/vstr.h"

static char warnings[8192];

static void
capture(enum msg_level level, const char *text)
{
	if (level == MSG_WARN) {
		size_t len = strlen(warnings);

		snprintf(warnings + len, sizeof(warnings) - len, "%s\n", text);
	}
}

static CFG *
parse(const char *text)
{
	VSTR *why = vstr_alloc(64);
	CFG  *cfg = cfg_open_buffer("/etc/postel", "/etc/postel/main.cf", text,
				    strlen(text), why);

	if (cfg == NULL)
		fail_msg("main.cf: %s", VSTR_STR(why));
	vstr_free(why);
	return cfg;
}

static MASTERCF *
parse_master(const char *text, const CFG *cfg)
{
	VSTR	 *why = vstr_alloc(64);
	MASTERCF *m = mastercf_open_buffer("/etc/postel/master.cf", text,
					   strlen(text), cfg, why);

	if (m == NULL)
		fail_msg("master.cf: %s", VSTR_STR(why));
	vstr_free(why);
	return m;
}

static size_t
check(const CFG *cfg, const MASTERCF *mcf)
{
	size_t n;

	warnings[0] = 0;
	msg_output_add(capture);
	n = cfg_compat_check(cfg, mcf, "/etc/postel/master.cf");
	msg_output_reset();
	return n;
}

static void
test_cfg_compat_unused_names_in_main_cf_and_master_cf(void **state)
{
	CFG	 *cfg = parse("myhostname = x.example\n"
				   "mesage_size_limit = 1\n"
				   "mua_client_restrictions = permit_sasl_authenticated,"
				   " reject\n"
				   "relay_destination_concurrency_limit = 5\n"
				   "nosuch_destination_recipient_limit = 5\n"
				   "relay_destination_rate_delay = 1s\n"
				   "smtpd_banner = ${tagged?{x}}\n"
				   "tagged = yes\n");
	MASTERCF *mcf =
	    parse_master("smtp inet n - n - - smtpd\n"
			 "submission inet n - n - - smtpd\n"
			 "  -o smtpd_client_restrictions=$mua_client_restrictions\n"
			 "  -o smtpd_tls_securty_level=encrypt\n"
			 "relay unix - - n - - smtp\n",
			 cfg);

	(void)state;
	assert_int_equal(check(cfg, mcf), 4);
	assert_non_null(strstr(warnings, "/etc/postel/main.cf, line 2: unused "
					 "parameter: mesage_size_limit=1\n"));
	/* no master.cf service "nosuch" */
	assert_non_null(strstr(warnings,
			       "/etc/postel/main.cf, line 5: unused "
			       "parameter: nosuch_destination_recipient_limit="
			       "5\n"));
	/* a family no program reads */
	assert_non_null(strstr(warnings,
			       "/etc/postel/main.cf, line 6: unused "
			       "parameter: relay_destination_rate_delay=1s\n"));
	assert_non_null(strstr(warnings,
			       "/etc/postel/master.cf, line 2: unused "
			       "parameter: -o smtpd_tls_securty_level="
			       "encrypt\n"));
	/* used by master.cf -o, by a conditional form, by a service */
	assert_null(strstr(warnings, "mua_client_restrictions"));
	assert_null(strstr(warnings, "tagged"));
	assert_null(strstr(warnings, "relay_destination_concurrency"));
	mastercf_free(mcf);
	/* Without master.cf any service name is accepted. */
	assert_int_equal(check(cfg, NULL), 3);
	assert_null(strstr(warnings, "nosuch"));
	assert_non_null(strstr(warnings, "mua_client_restrictions"));
	cfg_free(cfg);
}

static void
test_cfg_compat_legacy_names_warn_but_are_not_unused(void **state)
{
	CFG	 *cfg = parse("smtpd_use_tls = yes\n"
				   "smtp_enforce_tls = yes\n");
	MASTERCF *mcf = parse_master("submission inet n - n - - smtpd\n"
				     "  -o smtpd_enforce_tls=yes\n",
				     cfg);

	(void)state;
	assert_int_equal(check(cfg, mcf), 3);
	assert_null(strstr(warnings, "unused"));
	assert_non_null(strstr(warnings,
			       "/etc/postel/main.cf, line 1: obsolete "
			       "parameter: smtpd_use_tls=yes: use "
			       "smtpd_tls_security_level instead\n"));
	assert_non_null(strstr(warnings, "main.cf, line 2: obsolete parameter: "
					 "smtp_enforce_tls=yes: use "
					 "smtp_tls_security_level instead\n"));
	assert_non_null(strstr(warnings,
			       "/etc/postel/master.cf, line 1: "
			       "obsolete parameter: -o smtpd_enforce_tls=yes"));
	mastercf_free(mcf);
	cfg_free(cfg);
}

static const char *
level(const char *text, enum cfg_compat_side side)
{
	static char out[64];
	CFG	   *cfg = parse(text);

	warnings[0] = 0;
	msg_output_add(capture);
	snprintf(out, sizeof(out), "%s", cfg_compat_tls_level(cfg, side, true));
	msg_output_reset();
	cfg_free(cfg);
	return out;
}

static void
test_cfg_compat_tls_level_follows_postfix(void **state)
{
	(void)state;
	assert_string_equal(level("", CFG_COMPAT_SMTPD), "");
	assert_string_equal(warnings, "");
	assert_string_equal(level("smtpd_use_tls = yes\n", CFG_COMPAT_SMTPD),
			    "may");
	assert_non_null(strstr(warnings,
			       "main.cf, line 1: obsolete parameter "
			       "smtpd_use_tls=yes: using smtpd_tls_security_"
			       "level = may; set smtpd_tls_security_level "
			       "instead"));
	assert_string_equal(level("smtpd_use_tls = yes\n"
				  "smtpd_enforce_tls = yes\n",
				  CFG_COMPAT_SMTPD),
			    "encrypt");
	assert_string_equal(level("smtpd_use_tls = no\n", CFG_COMPAT_SMTPD),
			    "");
	assert_string_equal(warnings, "");
	/* the modern name wins, and the legacy one is called moot */
	assert_string_equal(level("smtpd_enforce_tls = yes\n"
				  "smtpd_tls_security_level = may\n",
				  CFG_COMPAT_SMTPD),
			    "may");
	assert_non_null(strstr(warnings,
			       "obsolete parameter smtpd_enforce_tls="
			       "yes is ignored: smtpd_tls_security_level is "
			       "set"));
	/* the client: enforce means verify unless the peer name is not */
	assert_string_equal(level("smtp_use_tls = yes\n", CFG_COMPAT_SMTP),
			    "may");
	assert_string_equal(level("smtp_enforce_tls = yes\n", CFG_COMPAT_SMTP),
			    "verify");
	assert_string_equal(level("smtp_enforce_tls = yes\n"
				  "smtp_tls_enforce_peername = no\n",
				  CFG_COMPAT_SMTP),
			    "encrypt");
	assert_string_equal(level("smtp_use_tls = yes\n"
				  "smtp_tls_security_level = none\n",
				  CFG_COMPAT_SMTP),
			    "none");
}

static void
test_cfg_compat_renamed_reads_the_old_name_with_a_warning(void **state)
{
	CFG *cfg;

	(void)state;
	cfg = parse("postscreen_blacklist_action = drop\n");
	warnings[0] = 0;
	msg_output_add(capture);
	assert_string_equal(cfg_compat_renamed(cfg,
					       "postscreen_denylist_action",
					       "postscreen_blacklist_action",
					       true),
			    "postscreen_blacklist_action");
	msg_output_reset();
	assert_non_null(strstr(warnings,
			       "main.cf, line 1: obsolete parameter "
			       "postscreen_blacklist_action=drop: use "
			       "postscreen_denylist_action instead"));
	cfg_free(cfg);

	/* The new name, when set, wins without a word. */
	cfg = parse("postscreen_blacklist_action = drop\n"
		    "postscreen_denylist_action = enforce\n");
	warnings[0] = 0;
	msg_output_add(capture);
	assert_string_equal(cfg_compat_renamed(cfg,
					       "postscreen_denylist_action",
					       "postscreen_blacklist_action",
					       true),
			    "postscreen_denylist_action");
	msg_output_reset();
	assert_string_equal(warnings, "");
	cfg_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_cfg_compat_unused_names_in_main_cf_and_master_cf),
		cmocka_unit_test(
		    test_cfg_compat_legacy_names_warn_but_are_not_unused),
		cmocka_unit_test(test_cfg_compat_tls_level_follows_postfix),
		cmocka_unit_test(
		    test_cfg_compat_renamed_reads_the_old_name_with_a_warning),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
