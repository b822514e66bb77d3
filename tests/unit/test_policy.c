/*
 * Unit tests for util/policy: the reply parser, the service spec forms,
 * and queries against a policy server forked by the test on a Unix
 * socket (connection reuse, request_limit, timeout, default action).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/ipc.h"
#include "util/policy.h"
#include "util/vstr.h"

static char sock_path[256];

static int
parse(const char *text, VSTR *action, VSTR *why)
{
	return policy_reply_parse(text, strlen(text), action, why);
}

static void
test_policy_reply_parse_accepts_postfix_replies(void **state)
{
	VSTR *a = vstr_alloc(16), *why = vstr_alloc(16);

	(void)state;
	assert_int_equal(parse("action=DUNNO\n\n", a, why), 14);
	assert_string_equal(VSTR_STR(a), "DUNNO");
	/* Other attributes are ignored; CRLF is fine; the value trimmed. */
	assert_int_equal(parse("foo=bar\r\naction= REJECT no way \r\n\r\n", a,
			       why),
			 35);
	assert_string_equal(VSTR_STR(a), "REJECT no way");
	/* Not complete yet. */
	assert_int_equal(parse("", a, why), 0);
	assert_int_equal(parse("action=OK", a, why), 0);
	assert_int_equal(parse("action=OK\n", a, why), 0);
	/* The reply ends at the first empty line: the rest is not ours. */
	assert_int_equal(parse("action=OK\n\naction=DUNNO\n\n", a, why), 11);
	assert_string_equal(VSTR_STR(a), "OK");
	vstr_free(a);
	vstr_free(why);
}

static void
test_policy_reply_parse_refuses_garbage(void **state)
{
	static const struct {
		const char *text;
		const char *why;
	} bad[] = {
		{ "hello\n\n", "not name=value" },
		{ "=x\n\n", "not name=value" },
		{ "\n", "without action" },
		{ "foo=bar\n\n", "without action" },
		{ "action=OK\naction=DUNNO\n\n", "two actions" },
		{ "action=\n\n", "empty action" },
		{ "action=  \n\n", "empty action" },
		{ "action=OK\x01\n\n", "control character" },
		{ "action=OK\rx\n\n", "control character" },
	};
	VSTR *a = vstr_alloc(16), *why = vstr_alloc(16);
	VSTR *big = vstr_alloc(POLICY_REPLY_MAX + 16);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		vstr_reset(why);
		assert_int_equal(parse(bad[i].text, a, why), -1);
		if (strstr(VSTR_STR(why), bad[i].why) == NULL)
			fail_msg("\"%s\": why \"%s\"", bad[i].text,
				 VSTR_STR(why));
	}
	/* Bounded: POLICY_REPLY_MAX bytes without the end is an error. */
	vstr_strcpy(big, "x=");
	while (VSTR_LEN(big) < POLICY_REPLY_MAX)
		vstr_addch(big, 'y');
	assert_int_equal(policy_reply_parse(VSTR_STR(big), VSTR_LEN(big) - 1, a,
					    why),
			 0);
	assert_int_equal(policy_reply_parse(VSTR_STR(big), VSTR_LEN(big), a,
					    why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "longer than"));
	vstr_free(a);
	vstr_free(why);
	vstr_free(big);
}

static CFG *
cfg_text(const char *text)
{
	VSTR *why = vstr_alloc(32);
	CFG  *cfg = cfg_open_buffer(NULL, "main.cf", text, strlen(text), why);

	if (cfg == NULL)
		fail_msg("cfg: %s", VSTR_STR(why));
	vstr_free(why);
	return cfg;
}

static void
test_policy_create_spec_forms(void **state)
{
	static const struct {
		const char *spec;
		const char *why;
	} bad[] = {
		{ "tcp:127.0.0.1:1", "need inet:host:port or unix:path" },
		{ "inet:127.0.0.1", "need inet:host:port" },
		{ "unix:", "need inet:host:port or unix:path" },
		{ "{ inet:127.0.0.1:1, bogus=1 }", "unknown or zero setting" },
		{ "{ inet:127.0.0.1:1, timeout=soon }", "bad timeout" },
		{ "{ inet:127.0.0.1:1, try_limit=0 }", "bad try_limit" },
		{ "{ inet:127.0.0.1:1, timeout }", "is not name=value" },
		{ "{ }", "no endpoint" },
	};
	CFG    *cfg = cfg_text("smtpd_policy_service_policy_context = all\n");
	VSTR   *why = vstr_alloc(32);
	POLICY *p;

	(void)state;
	p = policy_create(cfg, "inet:127.0.0.1:9998", why);
	assert_non_null(p);
	assert_string_equal(policy_name(p), "inet:127.0.0.1:9998");
	assert_string_equal(policy_context(p), "all");
	policy_free(p);
	p = policy_create(cfg,
			  "{ unix:private/policy, timeout=10s, max_idle=1m, "
			  "max_ttl=1h, request_limit=5, try_limit=3, "
			  "retry_delay=0, policy_context=submission, "
			  "{ default_action = 450 4.7.1 busy } }",
			  why);
	if (p == NULL)
		fail_msg("create: %s", VSTR_STR(why));
	assert_string_equal(policy_name(p), "unix:private/policy");
	assert_string_equal(policy_context(p), "submission");
	policy_free(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		vstr_reset(why);
		assert_null(policy_create(cfg, bad[i].spec, why));
		if (strstr(VSTR_STR(why), bad[i].why) == NULL)
			fail_msg("\"%s\": why \"%s\"", bad[i].spec,
				 VSTR_STR(why));
	}
	vstr_free(why);
	cfg_free(cfg);
}

/*
 * The test's policy server: answers "action=OK conn=N req=M" where N
 * counts connections and M the requests on this one; mode 'h' never
 * answers, mode 'c' closes each connection after reading.
 */
static pid_t
server_start(int mode)
{
	int   lfd;
	pid_t pid;

	unlink(sock_path);
	lfd = ipc_listen_unix(sock_path, 0600, 8);
	assert_true(lfd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		close(lfd);
		return pid;
	}
	for (int conn = 1;; conn++) {
		int   fd = ipc_accept(lfd);
		char  buf[4096];
		int   req = 0;
		VSTR *in = vstr_alloc(256);

		if (fd < 0)
			_exit(1);
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));
			char   *end;

			if (n <= 0)
				break;
			vstr_memcat(in, buf, (size_t)n);
			while ((end = strstr(VSTR_STR(in), "\n\n")) != NULL) {
				char out[128];
				int  len;

				vstr_erase_front(in, (size_t)(end + 2
							      - VSTR_STR(in)));
				if (mode == 'h')
					continue;
				if (mode == 'c') {
					close(fd);
					goto next;
				}
				len = snprintf(out, sizeof(out),
					       "action=OK conn=%d req=%d\n\n",
					       conn, ++req);
				if (write(fd, out, (size_t)len) != len)
					_exit(1);
			}
		}
		close(fd);
next:
		vstr_free(in);
	}
}

static void
server_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unlink(sock_path);
}

static POLICY *
client(CFG *cfg, const char *settings)
{
	VSTR   *spec = vstr_alloc(64), *why = vstr_alloc(64);
	POLICY *p;

	vstr_sprintf(spec, "{ unix:%s, %s }", sock_path, settings);
	p = policy_create(cfg, VSTR_STR(spec), why);
	if (p == NULL)
		fail_msg("create: %s", VSTR_STR(why));
	vstr_free(spec);
	vstr_free(why);
	return p;
}

static void
ask(POLICY *p, int want_rc, const char *want_action)
{
	VSTR *req = vstr_alloc(64), *action = vstr_alloc(64);

	policy_request_add(req, "request", "smtpd_access_policy");
	policy_request_add(req, "sender", "a\nb@example.org");
	assert_int_equal(policy_query(p, req, action), want_rc);
	assert_string_equal(VSTR_STR(action), want_action);
	vstr_free(req);
	vstr_free(action);
}

static void
test_policy_query_reuses_the_connection(void **state)
{
	CFG    *cfg = cfg_text("");
	pid_t	pid = server_start('a');
	POLICY *p = client(cfg, "timeout=5s");
	POLICY *q;

	(void)state;
	ask(p, 0, "OK conn=1 req=1");
	ask(p, 0, "OK conn=1 req=2");
	ask(p, 0, "OK conn=1 req=3");
	policy_free(p);
	/* request_limit=2: the third request goes on a new connection. */
	q = client(cfg, "request_limit=2");
	ask(q, 0, "OK conn=2 req=1");
	ask(q, 0, "OK conn=2 req=2");
	ask(q, 0, "OK conn=3 req=1");
	policy_free(q);
	server_stop(pid);
	cfg_free(cfg);
}

/* max_idle and max_ttl: checked when the next request comes. */
static void
test_policy_query_idle_and_old_connections_are_replaced(void **state)
{
	CFG    *cfg = cfg_text("");
	pid_t	pid = server_start('a');
	POLICY *p = client(cfg, "max_idle=1s");
	POLICY *q;

	(void)state;
	ask(p, 0, "OK conn=1 req=1");
	sleep(2);
	ask(p, 0, "OK conn=2 req=1");
	policy_free(p);
	q = client(cfg, "max_ttl=2s");
	ask(q, 0, "OK conn=3 req=1");
	sleep(1);
	ask(q, 0, "OK conn=3 req=2");
	sleep(2);
	ask(q, 0, "OK conn=4 req=1");
	policy_free(q);
	server_stop(pid);
	cfg_free(cfg);
}

static void
test_policy_query_newline_in_a_value_cannot_end_the_request(void **state)
{
	VSTR *req = vstr_alloc(64);

	(void)state;
	policy_request_add(req, "sender", "a\n\nb\r");
	assert_string_equal(VSTR_STR(req), "sender=a??b?\n");
	vstr_free(req);
}

static void
test_policy_query_hang_gets_the_default_action(void **state)
{
	CFG    *cfg = cfg_text("");
	pid_t	pid = server_start('h');
	POLICY *p = client(cfg, "timeout=1s, try_limit=2, retry_delay=0, "
				"{ default_action = 450 4.7.1 busy }");
	time_t	t0 = time(NULL);

	(void)state;
	ask(p, -1, "450 4.7.1 busy");
	assert_true(time(NULL) - t0 >= 1);
	assert_true(time(NULL) - t0 <= 4);
	policy_free(p);
	server_stop(pid);
	cfg_free(cfg);
}

static void
test_policy_query_closed_or_absent_server_gets_the_default(void **state)
{
	CFG    *cfg = cfg_text("");
	pid_t	pid = server_start('c');
	POLICY *p = client(cfg, "timeout=2s, retry_delay=0");

	(void)state;
	ask(p, -1, "451 4.3.5 Server configuration problem");
	server_stop(pid);
	/* Nobody listens any more. */
	ask(p, -1, "451 4.3.5 Server configuration problem");
	policy_free(p);
	cfg_free(cfg);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(sock_path, sizeof(sock_path), "/tmp/test_policy.%ld.sock",
		 (long)getpid());
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_policy_reply_parse_accepts_postfix_replies),
		cmocka_unit_test(test_policy_reply_parse_refuses_garbage),
		cmocka_unit_test(test_policy_create_spec_forms),
		cmocka_unit_test(test_policy_query_reuses_the_connection),
		cmocka_unit_test(
		    test_policy_query_idle_and_old_connections_are_replaced),
		cmocka_unit_test(
		    test_policy_query_newline_in_a_value_cannot_end_the_request),
		cmocka_unit_test(
		    test_policy_query_hang_gets_the_default_action),
		cmocka_unit_test(
		    test_policy_query_closed_or_absent_server_gets_the_default),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
