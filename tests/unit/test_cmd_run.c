/*
 * Unit tests for util/cmd_run: input reaches the command, output and exit
 * status come back, the time limit kills, sysexits map to results.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/cmd_run.h"

static void
run_sh(void *ctx)
{
	execl("/bin/sh", "sh", "-c", (const char *)ctx, (char *)NULL);
	_exit(EX_OSERR);
}

static void
test_cmd_run_feeds_input_and_keeps_output_and_status(void **state)
{
	struct cmd_run_result res;

	(void)state;
	assert_int_equal(cmd_run("hello\nworld\n", 12, 10, run_sh,
				 "tr a-z A-Z; exit 75", &res),
			 0);
	assert_false(res.timed_out);
	assert_true(WIFEXITED(res.status));
	assert_int_equal(WEXITSTATUS(res.status), EX_TEMPFAIL);
	/* Output goes into log lines: newlines become spaces. */
	assert_string_equal(res.output, "HELLO WORLD ");
}

static void
test_cmd_run_bounds_output_and_survives_a_command_that_ignores_input(
    void **state)
{
	static char	      big[300000];
	struct cmd_run_result res;

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(cmd_run(big, sizeof(big), 10, run_sh,
				 "head -c 5000 /dev/zero | tr '\\0' y", &res),
			 0);
	assert_true(WIFEXITED(res.status));
	assert_int_equal(WEXITSTATUS(res.status), 0);
	assert_int_equal(res.out_len, CMD_RUN_OUTPUT_MAX);
	assert_int_equal(strlen(res.output), CMD_RUN_OUTPUT_MAX);
}

static void
test_cmd_run_kills_at_the_time_limit(void **state)
{
	struct cmd_run_result res;
	time_t		      start = time(NULL);

	(void)state;
	assert_int_equal(cmd_run("", 0, 1, run_sh, "sleep 30", &res), 0);
	assert_true(res.timed_out);
	assert_true(time(NULL) - start < 10);
	assert_true(WIFSIGNALED(res.status));
}

static void
test_cmd_run_time_limit_holds_after_the_command_closes_its_output(void **state)
{
	struct cmd_run_result res;
	time_t		      start = time(NULL);

	(void)state;
	assert_int_equal(cmd_run("", 0, 1, run_sh,
				 "exec >/dev/null 2>&1; sleep 30", &res),
			 0);
	assert_true(res.timed_out);
	assert_true(time(NULL) - start < 10);
	assert_true(WIFSIGNALED(res.status));
}

static void
test_cmd_run_environ_keeps_only_exported_names(void **state)
{
	pid_t pid;
	int   status;

	(void)state;
	/* In a child: the environment change must not leak into the tests. */
	if ((pid = fork()) == 0) {
		setenv("CMD_RUN_KEEP", "k", 1);
		setenv("CMD_RUN_DROP", "d", 1);
		setenv("PATH", "/nowhere", 1);
		if (cmd_run_environ("TZ, CMD_RUN_KEEP UNSET_NAME") < 0)
			_exit(2);
		_exit(getenv("CMD_RUN_DROP") == NULL
			      && getenv("CMD_RUN_KEEP") != NULL
			      && strcmp(getenv("CMD_RUN_KEEP"), "k") == 0
			      && getenv("UNSET_NAME") == NULL
			      && strcmp(getenv("PATH"), CMD_RUN_PATH) == 0
			  ? 0
			  : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_cmd_run_maps_sysexits(void **state)
{
	enum deliver_action action;
	const char	   *dsn, *text;

	(void)state;
	assert_true(cmd_run_sysexit(EX_TEMPFAIL, &action, &dsn, &text));
	assert_int_equal(action, DELIVER_DEFERRED);
	assert_string_equal(dsn, "4.3.0");
	assert_true(cmd_run_sysexit(EX_NOUSER, &action, &dsn, &text));
	assert_int_equal(action, DELIVER_BOUNCED);
	assert_string_equal(dsn, "5.1.1");
	assert_string_equal(text, "user unknown");
	assert_false(cmd_run_sysexit(1, &action, &dsn, &text));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_cmd_run_feeds_input_and_keeps_output_and_status),
		cmocka_unit_test(
		    test_cmd_run_bounds_output_and_survives_a_command_that_ignores_input),
		cmocka_unit_test(test_cmd_run_kills_at_the_time_limit),
		cmocka_unit_test(
		    test_cmd_run_time_limit_holds_after_the_command_closes_its_output),
		cmocka_unit_test(
		    test_cmd_run_environ_keeps_only_exported_names),
		cmocka_unit_test(test_cmd_run_maps_sysexits),
	};

	return cmocka_run_group_tests_name("cmd_run", tests, NULL, NULL);
}
