/*
 * Unit tests for util/mastercf (master.cf).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/mastercf.h"
#include "util/vstr.h"

static MASTERCF *
parse(const char *text, const CFG *cfg)
{
	VSTR	 *why = vstr_alloc(64);
	MASTERCF *m = mastercf_open_buffer("master.cf", text, strlen(text), cfg,
					   why);

	if (m == NULL)
		fail_msg("parse failed: %s", VSTR_STR(why));
	vstr_free(why);
	return m;
}

static const char *
parse_error(const char *text, const CFG *cfg)
{
	static char reason[512];
	VSTR	   *why = vstr_alloc(64);
	MASTERCF *m = mastercf_open_buffer("master.cf", text, strlen(text), cfg,
					   why);

	assert_null(m);
	snprintf(reason, sizeof(reason), "%s", VSTR_STR(why));
	vstr_free(why);
	return reason;
}

static CFG *
main_cf(const char *text)
{
	VSTR *why = vstr_alloc(64);
	CFG  *cfg = cfg_open_buffer(NULL, "main.cf", text, strlen(text), why);

	assert_non_null(cfg);
	vstr_free(why);
	return cfg;
}

static void
test_mastercf_defaults(void **state)
{
	MASTERCF *m = parse("# service type private unpriv chroot wakeup "
			    "maxproc command\n"
			    "smtp      inet  n       -       -       -       -"
			    "       smtpd\n"
			    "cleanup   unix  -       -       y       -       0"
			    "       cleanup\n"
			    "pickup    fifo  n       -       n       60      1"
			    "       pickup\n"
			    "qmgr      unix  n       n       -       300?    1"
			    "       qmgr\n",
			    NULL);
	const struct mastercf_service *s;

	(void)state;
	assert_int_equal(mastercf_count(m), 4);
	s = mastercf_at(m, 0);
	assert_string_equal(s->name, "smtp");
	assert_int_equal(s->type, MASTERCF_INET);
	assert_false(s->private_);
	assert_true(s->unpriv);
	assert_false(s->chroot);
	assert_int_equal(s->wakeup, 0);
	assert_false(s->wakeup_conditional);
	assert_int_equal(s->maxproc, 100);
	assert_string_equal(s->command, "smtpd");
	assert_int_equal(s->argc, 1);
	assert_null(s->argv[1]);
	assert_int_equal(s->noverrides, 0);
	assert_null(s->overrides[0]);
	assert_int_equal(s->line, 2);
	s = mastercf_find(m, "cleanup", MASTERCF_UNIX);
	assert_non_null(s);
	assert_true(s->private_);
	assert_true(s->chroot);
	assert_int_equal(s->maxproc, 0);
	s = mastercf_find(m, "pickup", MASTERCF_FIFO);
	assert_int_equal(s->wakeup, 60);
	assert_false(s->chroot);
	s = mastercf_find(m, "qmgr", MASTERCF_UNIX);
	assert_false(s->unpriv);
	assert_int_equal(s->wakeup, 300);
	assert_true(s->wakeup_conditional);
	assert_null(mastercf_find(m, "qmgr", MASTERCF_INET));
	assert_null(mastercf_at(m, 4));
	assert_string_equal(mastercf_type_name(MASTERCF_UNIX_DGRAM),
			    "unix-dgram");
	mastercf_free(m);
}

static void
test_mastercf_maxproc_default_from_main_cf(void **state)
{
	CFG	 *cfg = main_cf("default_process_limit = 7\n");
	MASTERCF *m = parse("smtp inet n - - - - smtpd\n", cfg);

	(void)state;
	assert_int_equal(mastercf_at(m, 0)->maxproc, 7);
	mastercf_free(m);
	cfg_free(cfg);
	cfg = main_cf("default_process_limit = lots\n");
	assert_non_null(strstr(parse_error("smtp inet n - - - - smtpd\n", cfg),
			       "master.cf:1: bad default_process_limit"));
	cfg_free(cfg);
}

static void
test_mastercf_overrides_all_forms(void **state)
{
	MASTERCF *m = parse("submission inet n - n - - smtpd\n"
			    "  -o syslog_name=postel/submission\n"
			    "  -o smtpd_tls_security_level=encrypt\n"
			    "# a comment inside the entry\n"
			    "  -o { smtpd_client_restrictions = "
			    "permit_sasl_authenticated, reject }\n"
			    "  -osmtpd_sasl_auth_enable=yes\n"
			    "  -o milter_macro_daemon_name=ORIGINATING\n"
			    "  -v\n",
			    NULL);
	const struct mastercf_service *s = mastercf_at(m, 0);

	(void)state;
	assert_int_equal(s->noverrides, 5);
	assert_string_equal(s->overrides[0], "syslog_name=postel/submission");
	assert_string_equal(s->overrides[1],
			    "smtpd_tls_security_level=encrypt");
	assert_string_equal(s->overrides[2],
			    "smtpd_client_restrictions="
			    "permit_sasl_authenticated, reject");
	assert_string_equal(s->overrides[3], "smtpd_sasl_auth_enable=yes");
	assert_null(s->overrides[5]);
	assert_int_equal(s->argc, 2);
	assert_string_equal(s->argv[0], "smtpd");
	assert_string_equal(s->argv[1], "-v");
	assert_null(s->argv[2]);
	assert_string_equal(s->raw, "submission inet n - n - - smtpd -o "
				    "syslog_name=postel/submission -o "
				    "smtpd_tls_security_level=encrypt -o { "
				    "smtpd_client_restrictions = "
				    "permit_sasl_authenticated, reject } "
				    "-osmtpd_sasl_auth_enable=yes -o "
				    "milter_macro_daemon_name=ORIGINATING -v");
	mastercf_free(m);
}

static void
test_mastercf_args_expand_known_names_only(void **state)
{
	CFG	 *cfg = main_cf("myhostname = h.example\n"
				     "my_user = vmail\n");
	MASTERCF *m = parse("maildrop unix - n n - - pipe\n"
			    "  flags=DRhu user=$my_user argv=/usr/bin/maildrop"
			    " -d ${recipient} -o keep $myhostname\n"
			    "127.0.0.1:2525 inet n - - - - smtpd "
			    "-o myhostname=$mydomain\n"
			    "[::1]:25 inet n - - - - smtpd\n",
			    cfg);
	const struct mastercf_service *s = mastercf_at(m, 0);

	(void)state;
	assert_int_equal(s->argc, 9);
	assert_string_equal(s->argv[1], "flags=DRhu");
	assert_string_equal(s->argv[2], "user=vmail");
	assert_string_equal(s->argv[5], "${recipient}");
	/* after the first non-option word, -o belongs to the command */
	assert_string_equal(s->argv[6], "-o");
	assert_string_equal(s->argv[8], "h.example");
	assert_int_equal(s->noverrides, 0);
	s = mastercf_find(m, "127.0.0.1:2525", MASTERCF_INET);
	assert_non_null(s);
	/* overrides stay unexpanded: the daemon expands them */
	assert_string_equal(s->overrides[0], "myhostname=$mydomain");
	assert_non_null(mastercf_find(m, "[::1]:25", MASTERCF_INET));
	mastercf_free(m);
	cfg_free(cfg);
}

static void
test_mastercf_duplicates_name_both_lines(void **state)
{
	(void)state;
	assert_string_equal(parse_error("smtp inet n - - - - smtpd\n"
					"# x\n"
					"smtp unix - - - - - smtp\n"
					"smtp inet n - - - - smtpd -v\n",
					NULL),
			    "master.cf:4: duplicate service smtp/inet (first "
			    "defined at line 1)");
}

static void
test_mastercf_bad_fields_name_line(void **state)
{
	(void)state;
	assert_string_equal(parse_error("a unix - - - - -\n", NULL),
			    "master.cf:1: missing command name");
	assert_string_equal(parse_error("\n\na unix - -\n", NULL),
			    "master.cf:3: missing command field (need 8 "
			    "fields)");
	assert_string_equal(parse_error("a tcp - - - - - x\n", NULL),
			    "master.cf:1: bad service type \"tcp\" (inet, "
			    "unix, unix-dgram, fifo, pass)");
	assert_string_equal(parse_error("a unix yes - - - - x\n", NULL),
			    "master.cf:1: bad private field \"yes\" (y, n, -)");
	assert_string_equal(parse_error("a unix - 1 - - - x\n", NULL),
			    "master.cf:1: bad unpriv field \"1\" (y, n, -)");
	assert_string_equal(parse_error("a unix - - Y - - x\n", NULL),
			    "master.cf:1: bad chroot field \"Y\" (y, n, -)");
	assert_string_equal(parse_error("a unix - - - 6s - x\n", NULL),
			    "master.cf:1: bad wakeup field \"6s\"");
	assert_string_equal(parse_error("a unix - - - ? - x\n", NULL),
			    "master.cf:1: bad wakeup field \"?\"");
	assert_string_equal(parse_error("a unix - - - - -1 x\n", NULL),
			    "master.cf:1: bad maxproc field \"-1\"");
	assert_string_equal(parse_error("a unix - - - - 99999999999 x\n", NULL),
			    "master.cf:1: bad maxproc field \"99999999999\"");
	assert_string_equal(parse_error("../x unix - - - - - x\n", NULL),
			    "master.cf:1: bad service name \"../x\"");
	assert_string_equal(parse_error("a unix - - - - - x -o\n", NULL),
			    "master.cf:1: -o without name=value");
	assert_string_equal(parse_error("a unix - - - - - x -o novalue\n",
					NULL),
			    "master.cf:1: bad -o argument \"novalue\" (need "
			    "name=value)");
	assert_string_equal(parse_error("a unix - - - - - x\n"
					"  -o { a = b\n",
					NULL),
			    "master.cf:1: missing '}' in command arguments");
	assert_string_equal(parse_error("  a unix - - - - - x\n", NULL),
			    "master.cf:1: continuation line without a service "
			    "before it");
	assert_string_equal(parse_error("a unix - - - - - x\nb\0", NULL),
			    "master.cf:2: missing command field (need 8 "
			    "fields)");
}

static void
test_mastercf_open_file(void **state)
{
	char	  path[] = "/tmp/test_mastercf.XXXXXX";
	VSTR	 *why = vstr_alloc(64);
	MASTERCF *m;
	int	  fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "smtp inet n - - - - smtpd\n", 26), 26);
	close(fd);
	m = mastercf_open(path, NULL, why);
	assert_non_null(m);
	assert_int_equal(mastercf_count(m), 1);
	m = mastercf_free(m);
	assert_null(m);
	unlink(path);
	assert_null(mastercf_open(path, NULL, why));
	assert_non_null(strstr(VSTR_STR(why), "open /tmp/test_mastercf."));
	vstr_free(why);
}

static void
test_mastercf_nul_byte_rejected(void **state)
{
	VSTR *why = vstr_alloc(64);

	(void)state;
	assert_null(mastercf_open_buffer("master.cf",
					 "a unix - - - - - x\n"
					 "b unix - - - - - \0y\n",
					 40, NULL, why));
	assert_string_equal(VSTR_STR(why), "master.cf:2: NUL byte in file");
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mastercf_defaults),
		cmocka_unit_test(test_mastercf_maxproc_default_from_main_cf),
		cmocka_unit_test(test_mastercf_overrides_all_forms),
		cmocka_unit_test(test_mastercf_args_expand_known_names_only),
		cmocka_unit_test(test_mastercf_duplicates_name_both_lines),
		cmocka_unit_test(test_mastercf_bad_fields_name_line),
		cmocka_unit_test(test_mastercf_open_file),
		cmocka_unit_test(test_mastercf_nul_byte_rejected),
	};

	return cmocka_run_group_tests_name("mastercf", tests, NULL, NULL);
}
