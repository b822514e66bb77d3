/*
 * Unit tests for util/anvil_client: a forked fake anvil on a Unix socket
 * in a temporary folder answers with what each test scripted, and counts
 * the connections it accepted.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/anvil_client.h"
#include "util/attr.h"
#include "util/ipc.h"
#include "util/vstr.h"

static char tmpdir[64];
static char sock_path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_anvil_client.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/anvil", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return harness_rmtree(tmpdir);
}

/* How the fake answers. */
enum fake_mode {
	FAKE_OK,	   /* every request on one kept connection */
	FAKE_ONE_PER_CONN, /* answers one request, then closes */
	FAKE_GARBLE,	   /* a reply that is not anvil's */
	FAKE_FAIL,	   /* status FAIL */
};

/*
 * The fake: accepts `conns` connections one after the other and serves
 * each; exits with the number of requests it answered.
 */
static pid_t
fake_anvil(enum fake_mode mode, int conns)
{
	int   lfd = ipc_listen_unix(sock_path, 0600, 5);
	pid_t pid;

	assert_true(lfd >= 0);
	if ((pid = fork()) != 0) {
		close(lfd);
		return pid;
	}
	int   answered = 0;
	ATTR *in = attr_alloc();
	ATTR *out = attr_alloc();

	for (int c = 0; c < conns; c++) {
		int	    fd = ipc_accept(lfd);
		IPC_STREAM *st = ipc_stream_open(fd);

		while (ipc_stream_recv(st, in, 5000, NULL) == 0) {
			struct anvil_request rq;
			struct anvil_reply   rp = { .status = ANVIL_STAT_OK,
						    .count = 7,
						    .rate = 9 };

			if (anvil_request_decode(in, &rq, NULL) < 0)
				_exit(100);
			if (mode == FAKE_FAIL)
				rp.status = ANVIL_STAT_FAIL;
			anvil_reply_encode(rq.req, &rp, out);
			if (mode == FAKE_GARBLE)
				attr_put_str(out, "surprise", "1");
			if (ipc_stream_send(st, out, 5000) < 0)
				_exit(101);
			answered++;
			if (mode == FAKE_ONE_PER_CONN)
				break;
		}
		ipc_stream_close(st);
	}
	_exit(answered);
}

static int
fake_wait(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
test_anvil_client_keeps_one_connection(void **state)
{
	pid_t		   pid = fake_anvil(FAKE_OK, 1);
	ANVIL_CLIENT	  *c = anvil_client_create(sock_path, 5000);
	VSTR		  *why = vstr_alloc(10);
	struct anvil_reply rp;

	(void)state;
	assert_int_equal(anvil_client_request(c, ANVIL_REQ_CONNECT,
					      "smtp:127.0.0.1", &rp, why),
			 0);
	assert_int_equal(rp.count, 7);
	assert_int_equal(rp.rate, 9);
	assert_int_equal(anvil_client_request(c, ANVIL_REQ_MESSAGE,
					      "smtp:127.0.0.1", &rp, why),
			 0);
	assert_int_equal(rp.count, 0);
	assert_int_equal(rp.rate, 9);
	assert_int_equal(anvil_client_request(c, ANVIL_REQ_DISCONNECT,
					      "smtp:127.0.0.1", &rp, why),
			 0);
	anvil_client_free(c);
	/* three requests, one connection (the fake accepts only one) */
	assert_int_equal(fake_wait(pid), 3);
	vstr_free(why);
}

static void
test_anvil_client_reconnects_once(void **state)
{
	pid_t		   pid = fake_anvil(FAKE_ONE_PER_CONN, 3);
	ANVIL_CLIENT	  *c = anvil_client_create(sock_path, 5000);
	VSTR		  *why = vstr_alloc(10);
	struct anvil_reply rp;

	(void)state;
	/* each request finds the kept connection closed and makes a new one */
	for (int i = 0; i < 3; i++)
		assert_int_equal(anvil_client_request(c, ANVIL_REQ_AUTH,
						      "smtp:127.0.0.1", &rp,
						      why),
				 0);
	assert_int_equal(fake_wait(pid), 3);
	/* anvil gone: the kept connection fails, and so does the new one */
	assert_int_equal(anvil_client_request(c, ANVIL_REQ_AUTH,
					      "smtp:127.0.0.1", &rp, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "connect to "));
	assert_non_null(strstr(VSTR_STR(why), "/anvil: Connection refused"));
	anvil_client_free(c);
	vstr_free(why);
}

static void
test_anvil_client_unreachable(void **state)
{
	ANVIL_CLIENT	  *c = anvil_client_create(sock_path, 1000);
	VSTR		  *why = vstr_alloc(10);
	VSTR		  *want = vstr_alloc(10);
	struct anvil_reply rp;

	(void)state;
	vstr_sprintf(want, "connect to %s: No such file or directory",
		     sock_path);
	assert_int_equal(anvil_client_request(c, ANVIL_REQ_CONNECT,
					      "smtp:127.0.0.1", &rp, why),
			 -1);
	assert_string_equal(VSTR_STR(why), VSTR_STR(want));
	/* no why wanted */
	assert_int_equal(anvil_client_request(c, ANVIL_REQ_CONNECT,
					      "smtp:127.0.0.1", &rp, NULL),
			 -1);
	anvil_client_free(c);
	vstr_free(why);
	vstr_free(want);
}

static void
test_anvil_client_bad_replies(void **state)
{
	ANVIL_CLIENT	  *c = anvil_client_create(sock_path, 5000);
	VSTR		  *why = vstr_alloc(10);
	struct anvil_reply rp;
	pid_t		   pid;

	(void)state;
	pid = fake_anvil(FAKE_GARBLE, 1);
	assert_int_equal(anvil_client_request(c, ANVIL_REQ_CONNECT,
					      "smtp:127.0.0.1", &rp, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "malformed reply"));
	/* the client dropped the connection, so the fake is done */
	assert_int_equal(fake_wait(pid), 1);
	pid = fake_anvil(FAKE_FAIL, 1);
	assert_int_equal(anvil_client_request(c, ANVIL_REQ_CONNECT,
					      "smtp:127.0.0.1", &rp, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "request refused"));
	anvil_client_free(c);
	assert_int_equal(fake_wait(pid), 1);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_anvil_client_keeps_one_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anvil_client_reconnects_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_anvil_client_unreachable,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_anvil_client_bad_replies,
						setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
