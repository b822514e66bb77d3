/*
 * Unit tests for util/pass_proto: a client descriptor and its info frame
 * handed over a real Unix socket (the sender connects, writes and closes
 * before the receiver accepts, as postscreen does with a busy smtpd), and
 * every way a hand-off can be broken: no descriptor, garbage, a truncated
 * or oversized frame, a descriptor that is no socket, silence, a missing
 * service and a full listen queue.
 *
 * The "client" is one end of a socketpair; whether the receiver got it
 * (or closed it on failure) is seen from the other end.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/attr.h"
#include "util/ipc.h"
#include "util/pass_proto.h"
#include "util/vstr.h"

static char tmpdir[64];
static char sockpath[128];

static int
setup_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_pass.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(sockpath, sizeof(sockpath), "%s/smtpd", tmpdir);
	return 0;
}

static int
teardown_tmpdir(void **state)
{
	(void)state;
	return harness_rmtree(tmpdir);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A fresh listener at sockpath. */
static int
listener(int backlog)
{
	int fd = ipc_listen_unix(sockpath, 0600, backlog);

	assert_true(fd >= 0);
	return fd;
}

/* A connection to the listener on which the test writes raw bytes. */
static int
raw_sender(void)
{
	int fd = ipc_connect_unix(sockpath, 1000);

	assert_true(fd >= 0);
	return fd;
}

/* The other end of a client whose last copy is gone reads end of file. */
static void
assert_peer_closed(int peer)
{
	char	c;
	ssize_t n;

	assert_int_equal(fd_set_nonblock(peer, true), 0);
	n = read(peer, &c, 1);
	assert_int_equal(n, 0);
}

static void
test_pass_proto_descriptor_and_info_arrive(void **state)
{
	ATTR *info = attr_alloc();
	ATTR *got = attr_alloc();
	VSTR *why = vstr_alloc(100);
	int   lfd = listener(16);
	int   client[2];
	int   conn;
	int   fd = -1;
	char  buf[16];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, client), 0);
	/* as an event-driven sender has it */
	assert_int_equal(fd_set_nonblock(client[1], true), 0);
	attr_put_str(info, "client_addr", "192.0.2.7");
	attr_put_str(info, "client_port", "4711");
	attr_put_str(info, "postscreen", "pass-new");
	/* Nobody accepts yet: the hand-off waits in the listen queue. */
	assert_int_equal(pass_send(sockpath, client[1], info, 1000, why), 0);
	close(client[1]);
	assert_true((conn = ipc_accept(lfd)) >= 0);
	assert_int_equal(pass_recv(conn, &fd, got, 1000, why), 0);
	close(conn);
	assert_true(fd >= 0);
	assert_string_equal(attr_get_str(got, "client_addr"), "192.0.2.7");
	assert_string_equal(attr_get_str(got, "client_port"), "4711");
	assert_string_equal(attr_get_str(got, "postscreen"), "pass-new");
	assert_int_equal(attr_count(got), 3);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	/* It is the client: both directions work. */
	assert_int_equal(write(fd, "220 hi\r\n", 8), 8);
	assert_int_equal(read(client[0], buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "220 hi\r\n", 8);
	assert_int_equal(write(client[0], "QUIT\r\n", 6), 6);
	assert_int_equal(read(fd, buf, sizeof(buf)), 6);
	close(fd);
	assert_peer_closed(client[0]);
	close(client[0]);
	close(lfd);
	attr_free(info);
	attr_free(got);
	vstr_free(why);
}

static void
test_pass_proto_null_info_is_an_empty_frame(void **state)
{
	ATTR *got = attr_alloc();
	VSTR *why = vstr_alloc(100);
	int   lfd = listener(16);
	int   client[2];
	int   conn;
	int   fd = -1;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, client), 0);
	attr_put_str(got, "stale", "x");
	assert_int_equal(pass_send(sockpath, client[1], NULL, 1000, why), 0);
	assert_true((conn = ipc_accept(lfd)) >= 0);
	assert_int_equal(pass_recv(conn, &fd, got, 1000, why), 0);
	assert_int_equal(attr_count(got), 0);
	close(conn);
	close(fd);
	close(client[0]);
	close(client[1]);
	close(lfd);
	attr_free(got);
	vstr_free(why);
}

/* Run pass_recv on what the test wrote; it must fail with text in why. */
static void
expect_refused(int conn, int err, const char *text)
{
	ATTR *got = attr_alloc();
	VSTR *why = vstr_alloc(100);
	int   fd = 4711;

	attr_put_str(got, "stale", "x");
	assert_int_equal(pass_recv(conn, &fd, got, 1000, why), -1);
	assert_int_equal(errno, err);
	assert_int_equal(fd, -1);
	assert_int_equal(attr_count(got), 0);
	if (strstr(VSTR_STR(why), text) == NULL)
		fail_msg("why \"%s\" lacks \"%s\"", VSTR_STR(why), text);
	attr_free(got);
	vstr_free(why);
}

static void
test_pass_proto_refuses_a_frame_without_descriptor(void **state)
{
	int   lfd = listener(16);
	int   s = raw_sender();
	int   conn;
	ATTR *a = attr_alloc();

	(void)state;
	attr_put_str(a, "client_addr", "192.0.2.7");
	assert_int_equal(ipc_send(s, a, 1000), 0);
	assert_true((conn = ipc_accept(lfd)) >= 0);
	expect_refused(conn, EPROTO,
		       "no descriptor received: data without a descriptor");
	close(conn);
	close(s);
	close(lfd);
	attr_free(a);
}

static void
test_pass_proto_refuses_garbage_and_silence(void **state)
{
	int lfd = listener(16);
	int s;
	int conn;

	(void)state;
	/* garbage */
	s = raw_sender();
	assert_int_equal(write(s, "GET / HTTP/1.0\r\n", 16), 16);
	assert_true((conn = ipc_accept(lfd)) >= 0);
	expect_refused(conn, EPROTO, "no descriptor received");
	close(conn);
	close(s);
	/* the hand-off byte alone */
	s = raw_sender();
	assert_int_equal(write(s, "M0:,", 4), 4);
	assert_true((conn = ipc_accept(lfd)) >= 0);
	expect_refused(conn, EPROTO, "hand-off byte without a descriptor");
	close(conn);
	close(s);
	/* connect and close */
	s = raw_sender();
	close(s);
	assert_true((conn = ipc_accept(lfd)) >= 0);
	expect_refused(conn, ECONNRESET,
		       "no descriptor received: connection closed");
	close(conn);
	/* connect and say nothing: bounded by the timeout */
	{
		ATTR	 *got = attr_alloc();
		VSTR	 *why = vstr_alloc(100);
		int	  fd;
		long long t0;

		s = raw_sender();
		assert_true((conn = ipc_accept(lfd)) >= 0);
		t0 = now_ms();
		assert_int_equal(pass_recv(conn, &fd, got, 200, why), -1);
		assert_int_equal(errno, ETIMEDOUT);
		assert_true(now_ms() - t0 < 5000);
		assert_int_equal(fd, -1);
		close(conn);
		close(s);
		attr_free(got);
		vstr_free(why);
	}
	close(lfd);
}

/* A descriptor followed by raw bytes (or nothing); the client is closed. */
static void
descriptor_then(const char *bytes, size_t len, int err, const char *text)
{
	int lfd = listener(16);
	int s = raw_sender();
	int client[2];
	int conn;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, client), 0);
	assert_int_equal(ipc_send_fds(s, &client[1], 1, 1000), 0);
	close(client[1]);
	if (len)
		assert_int_equal(write(s, bytes, len), (ssize_t)len);
	close(s);
	assert_true((conn = ipc_accept(lfd)) >= 0);
	expect_refused(conn, err, text);
	close(conn);
	/* pass_recv closed the copy it received: the client is gone. */
	assert_peer_closed(client[0]);
	close(client[0]);
	close(lfd);
}

static void
test_pass_proto_refuses_a_bad_info_frame(void **state)
{
	(void)state;
	descriptor_then("31:7:request", 12, EPROTO,
			"info frame: truncated frame");
	descriptor_then("xx:,", 4, EPROTO, "info frame: bad frame length");
	descriptor_then("4:1:a,,,", 8, EPROTO, "info frame:");
	descriptor_then("", 0, EPROTO, "info frame: connection closed");
	descriptor_then("99999999:", 9, EMSGSIZE, "info frame:");
}

static void
test_pass_proto_refuses_a_descriptor_that_is_no_socket(void **state)
{
	int lfd = listener(16);
	int s = raw_sender();
	int pp[2];
	int conn;

	(void)state;
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(ipc_send_fds(s, &pp[0], 1, 1000), 0);
	assert_int_equal(write(s, "0:,", 3), 3);
	assert_true((conn = ipc_accept(lfd)) >= 0);
	expect_refused(conn, EPROTO,
		       "descriptor received: not a stream socket");
	close(conn);
	close(s);
	close(pp[0]);
	close(pp[1]);
	close(lfd);
}

static void
test_pass_proto_send_fails_with_a_reason(void **state)
{
	VSTR	 *why = vstr_alloc(100);
	VSTR	 *want = vstr_alloc(100);
	int	  client[2];
	int	  lfd;
	int	  held[64];
	int	  nheld = 0;
	long long t0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, client), 0);
	/* no such service */
	unlink(sockpath);
	assert_int_equal(pass_send(sockpath, client[1], NULL, 1000, why), -1);
	assert_int_equal(errno, ENOENT);
	vstr_sprintf(want, "connect %s: %s", sockpath, strerror(ENOENT));
	assert_string_equal(VSTR_STR(why), VSTR_STR(want));

	/* a full listen queue fails at once, not after the timeout */
	lfd = listener(1);
	for (;;) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		assert_true(s >= 0);
		memcpy(sun.sun_path, sockpath, strlen(sockpath) + 1);
		if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			assert_int_equal(errno, EAGAIN);
			close(s);
			break;
		}
		assert_true(nheld < 64);
		held[nheld++] = s;
	}
	t0 = now_ms();
	assert_int_equal(pass_send(sockpath, client[1], NULL, 10000, why), -1);
	assert_int_equal(errno, EAGAIN);
	/* generous: "at once" against a 10 s timeout */
	assert_true(now_ms() - t0 < 5000);
	vstr_sprintf(want, "connect %s: listen queue full", sockpath);
	assert_string_equal(VSTR_STR(why), VSTR_STR(want));
	/* the caller's descriptor is still its own */
	assert_true(fcntl(client[1], F_GETFD) >= 0);
	for (int i = 0; i < nheld; i++)
		close(held[i]);
	close(lfd);

	/* a name that does not fit a socket address */
	vstr_reset(want);
	for (int i = 0; i < 200; i++)
		vstr_addch(want, 'x');
	assert_int_equal(pass_send(VSTR_STR(want), client[1], NULL, 1000, why),
			 -1);
	assert_int_equal(errno, ENAMETOOLONG);
	close(client[0]);
	close(client[1]);
	vstr_free(why);
	vstr_free(want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_proto_descriptor_and_info_arrive),
		cmocka_unit_test(test_pass_proto_null_info_is_an_empty_frame),
		cmocka_unit_test(
		    test_pass_proto_refuses_a_frame_without_descriptor),
		cmocka_unit_test(test_pass_proto_refuses_garbage_and_silence),
		cmocka_unit_test(test_pass_proto_refuses_a_bad_info_frame),
		cmocka_unit_test(
		    test_pass_proto_refuses_a_descriptor_that_is_no_socket),
		cmocka_unit_test(test_pass_proto_send_fails_with_a_reason),
	};

	return cmocka_run_group_tests_name("pass_proto", tests, setup_tmpdir,
					   teardown_tmpdir);
}
