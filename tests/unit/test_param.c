/*
 * Unit tests for util/param (the parameter table).
 *
 * SPDX-License-Identifier: ISC
 */
#include <limits.h>

#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/param.h"

static void
test_param_table_is_sorted_and_unique(void **state)
{
	size_t			count = 0;
	const struct param_def *defs = param_table(&count);
	size_t			i;

	(void)state;
	assert_true(count > 200);
	for (i = 1; i < count; i++)
		if (strcmp(defs[i - 1].name, defs[i].name) >= 0)
			fail_msg("table out of order at %s, %s",
				 defs[i - 1].name, defs[i].name);
}

static void
test_param_lookup_finds_every_entry(void **state)
{
	size_t			count = 0;
	const struct param_def *defs = param_table(&count);
	size_t			i;

	(void)state;
	for (i = 0; i < count; i++)
		assert_ptr_equal(param_lookup(defs[i].name), &defs[i]);
	assert_null(param_lookup("no_such_parameter"));
	assert_null(param_lookup(""));
	assert_null(param_lookup(NULL));
}

static void
test_param_entries_are_well_formed(void **state)
{
	size_t			count = 0;
	const struct param_def *defs = param_table(&count);
	size_t			i;

	(void)state;
	for (i = 0; i < count; i++) {
		const struct param_def *d = &defs[i];

		assert_non_null(d->defval);
		assert_non_null(d->doc);
		if (d->doc[0] == 0)
			fail_msg("%s has no description", d->name);
		if (d->min > d->max)
			fail_msg("%s: min > max", d->name);
		if (d->type == PARAM_TIME && d->defval[0] != '$') {
			size_t len = strlen(d->defval);

			if (len == 0
			    || strchr("smhdw", d->defval[len - 1]) == NULL)
				fail_msg("%s: time default lacks a unit",
					 d->name);
		}
	}
}

/* Every default of a typed parameter converts and fits its bounds. */
static void
test_param_defaults_pass_their_own_checks(void **state)
{
	VSTR  *why = vstr_alloc(64);
	CFG   *cfg = cfg_open_buffer(NULL, "main.cf", "", 0, why);
	size_t count = 0;
	const struct param_def *defs = param_table(&count);
	size_t			i;

	(void)state;
	assert_non_null(cfg);
	for (i = 0; i < count; i++) {
		switch (defs[i].type) {
		case PARAM_STR:
			(void)cfg_get_str(cfg, defs[i].name);
			break;
		case PARAM_INT:
			(void)cfg_get_int(cfg, defs[i].name);
			break;
		case PARAM_BOOL:
			(void)cfg_get_bool(cfg, defs[i].name);
			break;
		case PARAM_TIME:
			(void)cfg_get_time(cfg, defs[i].name);
			break;
		case PARAM_SIZE:
			(void)cfg_get_size(cfg, defs[i].name);
			break;
		}
	}
	assert_int_equal(cfg_check(cfg, why), 0);
	cfg_free(cfg);
	vstr_free(why);
}

static void
test_param_postfix_defaults(void **state)
{
	static const struct {
		const char *name;
		const char *defval;
	} want[] = {
		{ "message_size_limit", "10240000" },
		{ "smtpd_recipient_limit", "1000" },
		{ "queue_directory", "/var/spool/postel" },
		{ "daemon_directory", POSTEL_DAEMON_DIR },
		{ "command_directory", POSTEL_PREFIX "/sbin" },
		{ "mail_version", POSTEL_VERSION },
		{ "mail_owner", "postel" },
		{ "setgid_group", "postdrop" },
		{ "myorigin", "$myhostname" },
		{ "mydestination",
		  "$myhostname, localhost.$mydomain, localhost" },
		{ "mynetworks", "" }, /* computed: mynetworks_style */
		{ "relay_domains", "" },
		{ "inet_interfaces", "all" },
		{ "default_process_limit", "100" },
		{ "max_idle", "100s" },
		{ "ipc_timeout", "3600s" },
		{ "maximal_queue_lifetime", "5d" },
		{ "delay_warning_time", "0h" },
		{ "local_transport", "local:$myhostname" },
		{ "smtpd_banner", "$myhostname ESMTP $mail_name" },
		{ "smtpd_relay_restrictions",
		  "permit_mynetworks, "
		  "permit_sasl_authenticated, defer_unauth_destination" },
		{ "smtpd_sasl_type", "cyrus" },
		{ "smtpd_sasl_path", "smtpd" },
		{ "smtpd_forbid_bare_newline", "normalize" },
		{ "smtpd_forbid_bare_newline_exclusions", "$mynetworks" },
		{ "notify_classes", "resource, software" },
		{ "alias_maps", "hash:/etc/aliases" },
		{ "mail_spool_directory", "/var/mail" },
		{ "syslog_name", "postel" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct param_def *d = param_lookup(want[i].name);

		if (d == NULL)
			fail_msg("%s missing from the table", want[i].name);
		assert_string_equal(d->defval, want[i].defval);
	}
	assert_int_equal(param_lookup("message_size_limit")->type, PARAM_SIZE);
	assert_int_equal(param_lookup("max_idle")->type, PARAM_TIME);
	assert_int_equal(param_lookup("disable_vrfy_command")->type,
			 PARAM_BOOL);
	assert_int_equal(param_lookup("max_use")->type, PARAM_INT);
	assert_string_equal(param_type_name(PARAM_TIME), "time");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_param_table_is_sorted_and_unique),
		cmocka_unit_test(test_param_lookup_finds_every_entry),
		cmocka_unit_test(test_param_entries_are_well_formed),
		cmocka_unit_test(test_param_defaults_pass_their_own_checks),
		cmocka_unit_test(test_param_postfix_defaults),
	};

	return cmocka_run_group_tests_name("param", tests, NULL, NULL);
}
