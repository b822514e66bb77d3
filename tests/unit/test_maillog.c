/*
 * Unit tests for util/maillog: lines reach the postlog socket as one
 * datagram each, in syslog layout, and fall back when it is absent.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/maillog.h"
#include "util/vstr.h"

static char dir[] = "/tmp/test_maillog.XXXXXX";

static int
bind_postlog(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int		   fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/public/postlog", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static CFG *
make_cfg(const char *extra)
{
	VSTR *text = vstr_alloc(0);
	VSTR *why = vstr_alloc(0);
	CFG  *cfg;

	vstr_sprintf(text,
		     "queue_directory = %s\nmyhostname = mx.example\n"
		     "syslog_name = postel-test\n%s",
		     dir, extra);
	cfg = cfg_open_buffer(dir, "main.cf", VSTR_STR(text), VSTR_LEN(text),
			      why);
	assert_non_null(cfg);
	vstr_free(text);
	vstr_free(why);
	return cfg;
}

static void
test_maillog_sends_one_datagram_per_line(void **state)
{
	CFG    *cfg = make_cfg("maillog_file = /dev/null\n");
	int	fd = bind_postlog();
	char	buf[9000];
	ssize_t n;
	char	expect[128];

	(void)state;
	maillog_init(cfg, "smtpd", 0);
	msg_info("ABC123: from=<a@b>, size=1, nrcpt=1 (queue active)");
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = 0;
	snprintf(expect, sizeof(expect),
		 " mx.example postel-test/smtpd[%ld]: "
		 "ABC123: from=<a@b>",
		 (long)getpid());
	assert_non_null(strstr(buf, expect));
	assert_null(strchr(buf, '\n'));
	msg_warn("disk %s", "full");
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = 0;
	assert_non_null(strstr(buf, "]: warning: disk full"));
	close(fd);
	msg_output_reset();
	cfg_free(cfg);
}

static void
test_maillog_stderr_only_needs_no_socket(void **state)
{
	CFG *cfg = make_cfg("");

	(void)state;
	maillog_init(cfg, "postel", MAILLOG_STDERR_ONLY);
	assert_string_equal(msg_progname(), "postel-test/postel");
	msg_info("to standard error only");
	msg_output_reset();
	cfg_free(cfg);
}

static int
setup(void **state)
{
	char path[256];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/public", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	return 0;
}

static int
teardown(void **state)
{
	char path[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/public/postlog", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/public", dir);
	rmdir(path);
	rmdir(dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maillog_sends_one_datagram_per_line),
		cmocka_unit_test(test_maillog_stderr_only_needs_no_socket),
	};

	return cmocka_run_group_tests_name("maillog", tests, setup, teardown);
}
