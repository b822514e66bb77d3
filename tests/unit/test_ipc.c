/*
 * Unit tests for util/ipc: frames over socketpairs and real Unix sockets,
 * streams of many frames, big frames, timeouts, peer close, triggers.
 *
 * Peers that must run concurrently are forked children; each test waits
 * for its children, and every wait is bounded by a timeout.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/attr.h"
#include "util/ipc.h"
#include "util/vstr.h"

static char tmpdir[64];

static int
setup_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ipc.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown_tmpdir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
make_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
}

/* Wait for a child, at most 10 s, and require exit status 0. */
static void
reap(pid_t pid)
{
	int status;
	int i;

	for (i = 0; i < 1000; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
			return;
		}
		poll(NULL, 0, 10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fail_msg("child %ld did not finish", (long)pid);
}

static char *
pattern(size_t n, unsigned seed)
{
	char  *p = malloc(n);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++)
		p[i] = (char)((i * 2654435761u + seed) >> 7);
	return p;
}

static void
test_ipc_send_recv_one_frame(void **state)
{
	int	  sv[2];
	ATTR	 *a = attr_alloc();
	ATTR	 *b = attr_alloc();
	VSTR	 *why = vstr_alloc(0);
	long long v;

	(void)state;
	make_pair(sv);
	attr_put_str(a, "request", "hello");
	attr_put_int(a, "n", 12345);
	attr_put_data(a, "bin", "a\0b,:", 5);
	assert_int_equal(ipc_send(sv[0], a, 1000), 0);
	assert_int_equal(ipc_recv(sv[1], b, 0, 1000, why), 0);
	assert_string_equal(attr_get_str(b, "request"), "hello");
	assert_int_equal(attr_get_int(b, "n", &v), 0);
	assert_int_equal(v, 12345);
	close(sv[0]);
	close(sv[1]);
	attr_free(a);
	attr_free(b);
	vstr_free(why);
}

/* Frames written back to back in one write: ipc_recv never over-reads. */
static void
test_ipc_recv_does_not_read_past_frame(void **state)
{
	int   sv[2];
	ATTR *a = attr_alloc();
	VSTR *buf = vstr_alloc(0);
	VSTR *why = vstr_alloc(0);
	char  rest[16];
	int   i;

	(void)state;
	make_pair(sv);
	for (i = 0; i < 3; i++) {
		attr_reset(a);
		attr_put_int(a, "i", i);
		attr_encode(a, buf);
	}
	vstr_strcat(buf, "tail");
	assert_int_equal(write_full(sv[0], VSTR_STR(buf), VSTR_LEN(buf), 1000),
			 (ssize_t)VSTR_LEN(buf));
	for (i = 0; i < 3; i++) {
		long long v;

		assert_int_equal(ipc_recv(sv[1], a, 0, 1000, why), 0);
		assert_int_equal(attr_get_int(a, "i", &v), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(read_full(sv[1], rest, 4, 1000), 4);
	assert_memory_equal(rest, "tail", 4);
	close(sv[0]);
	close(sv[1]);
	attr_free(a);
	vstr_free(buf);
	vstr_free(why);
}

/* Many frames in one burst, read through a stream: none lost or merged. */
static void
test_ipc_stream_many_frames(void **state)
{
	int	    sv[2];
	ATTR	   *a = attr_alloc();
	VSTR	   *buf = vstr_alloc(0);
	VSTR	   *why = vstr_alloc(0);
	IPC_STREAM *st;
	char	    val[64];
	int	    i;

	(void)state;
	make_pair(sv);
	for (i = 0; i < 500; i++) {
		attr_reset(a);
		attr_put_int(a, "seq", i);
		snprintf(val, sizeof(val), "value-%d", i * 7);
		attr_put_str(a, "v", val);
		attr_encode(a, buf);
	}
	assert_true(write_full(sv[0], VSTR_STR(buf), VSTR_LEN(buf), 1000) > 0);
	close(sv[0]);
	st = ipc_stream_open(sv[1]);
	for (i = 0; i < 500; i++) {
		long long v;

		assert_int_equal(ipc_stream_recv(st, a, 1000, why), 0);
		assert_int_equal(attr_get_int(a, "seq", &v), 0);
		assert_int_equal(v, i);
		snprintf(val, sizeof(val), "value-%d", i * 7);
		assert_string_equal(attr_get_str(a, "v"), val);
	}
	errno = 42;
	assert_int_equal(ipc_stream_recv(st, a, 1000, why), -1);
	assert_int_equal(errno, 0);
	assert_string_equal(VSTR_STR(why), "connection closed");
	ipc_stream_close(st);
	attr_free(a);
	vstr_free(buf);
	vstr_free(why);
}

/* A child echoes every frame; big frames cross in both directions. */
static void
echo_child(int fd)
{
	IPC_STREAM *st = ipc_stream_open(fd);
	ATTR	   *a = attr_alloc();
	VSTR	   *why = vstr_alloc(0);

	while (ipc_stream_recv(st, a, 10000, why) == 0) {
		attr_put_str(a, "echo", "yes");
		if (ipc_stream_send(st, a, 10000) < 0)
			_exit(2);
	}
	_exit(errno == 0 ? 0 : 3);
}

static void
test_ipc_stream_big_frames_round_trip(void **state)
{
	int	    sv[2];
	pid_t	    pid;
	IPC_STREAM *st;
	ATTR	   *a = attr_alloc();
	VSTR	   *why = vstr_alloc(0);
	size_t sizes[] = { 5 * 1024 * 1024 + 3, 1, 2 * 1024 * 1024, 70000 };
	size_t i;

	(void)state;
	make_pair(sv);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		echo_child(sv[1]);
	}
	assert_true(pid > 0);
	close(sv[1]);
	st = ipc_stream_open(sv[0]);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char	   *blob = pattern(sizes[i], (unsigned)i);
		const void *got;
		size_t	    len;

		attr_reset(a);
		attr_put_data(a, "content", blob, sizes[i]);
		assert_int_equal(ipc_stream_send(st, a, 10000), 0);
		attr_reset(a);
		assert_int_equal(ipc_stream_recv(st, a, 10000, why), 0);
		assert_string_equal(attr_get_str(a, "echo"), "yes");
		got = attr_get_data(a, "content", &len);
		assert_int_equal(len, sizes[i]);
		assert_memory_equal(got, blob, sizes[i]);
		free(blob);
	}
	ipc_stream_close(st);
	reap(pid);
	attr_free(a);
	vstr_free(why);
}

static void
test_ipc_timeouts_are_bounded(void **state)
{
	int	    sv[2];
	ATTR	   *a = attr_alloc();
	VSTR	   *why = vstr_alloc(0);
	IPC_STREAM *st;
	long long   t0;
	char	   *blob;
	size_t	    big = 8 * 1024 * 1024;

	(void)state;
	make_pair(sv);
	/* Nothing arrives. */
	t0 = now_ms();
	assert_int_equal(ipc_recv(sv[1], a, 0, 100, why), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_string_equal(VSTR_STR(why), "timeout");
	assert_true(now_ms() - t0 >= 90 && now_ms() - t0 < 2000);
	/* Half a frame arrives, the rest never does. */
	assert_int_equal(write_full(sv[0], "20:1:a,", 7, 100), 7);
	t0 = now_ms();
	assert_int_equal(ipc_recv(sv[1], a, 0, 100, why), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now_ms() - t0 < 2000);
	/* The same through a stream (fresh pair: the old one is mid-frame). */
	close(sv[0]);
	close(sv[1]);
	make_pair(sv);
	st = ipc_stream_open(sv[1]);
	t0 = now_ms();
	assert_int_equal(ipc_stream_recv(st, a, 100, why), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now_ms() - t0 >= 90 && now_ms() - t0 < 2000);
	/* Nobody reads: a big write times out on a blocking socket. */
	blob = pattern(big, 1);
	t0 = now_ms();
	assert_int_equal(write_full(sv[0], blob, big, 150), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now_ms() - t0 >= 140 && now_ms() - t0 < 2000);
	attr_reset(a);
	attr_put_data(a, "content", blob, big);
	assert_int_equal(ipc_send(sv[0], a, 50), -1);
	assert_int_equal(errno, ETIMEDOUT);
	/* A zero timeout never blocks. */
	t0 = now_ms();
	assert_int_equal(ipc_send(sv[0], a, 0), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now_ms() - t0 < 500);
	free(blob);
	ipc_stream_close(st);
	close(sv[0]);
	attr_free(a);
	vstr_free(why);
}

static void
test_ipc_peer_close(void **state)
{
	int	    sv[2];
	ATTR	   *a = attr_alloc();
	VSTR	   *why = vstr_alloc(0);
	IPC_STREAM *st;

	(void)state;
	/* Clean close before a frame. */
	make_pair(sv);
	close(sv[0]);
	errno = 99;
	assert_int_equal(ipc_recv(sv[1], a, 0, 1000, why), -1);
	assert_int_equal(errno, 0);
	assert_string_equal(VSTR_STR(why), "connection closed");
	close(sv[1]);
	/* Close in the middle of the length and of the payload. */
	make_pair(sv);
	assert_int_equal(write_full(sv[0], "1", 1, 100), 1);
	close(sv[0]);
	assert_int_equal(ipc_recv(sv[1], a, 0, 1000, why), -1);
	assert_int_equal(errno, EPROTO);
	assert_string_equal(VSTR_STR(why), "truncated frame");
	close(sv[1]);
	make_pair(sv);
	assert_int_equal(write_full(sv[0], "10:1:a,", 7, 100), 7);
	close(sv[0]);
	st = ipc_stream_open(sv[1]);
	assert_int_equal(ipc_stream_recv(st, a, 1000, why), -1);
	assert_int_equal(errno, EPROTO);
	assert_string_equal(VSTR_STR(why), "truncated frame");
	ipc_stream_close(st);
	/* Writing to a closed peer: EPIPE, no SIGPIPE. */
	make_pair(sv);
	close(sv[1]);
	attr_put_str(a, "x", "y");
	assert_int_equal(ipc_send(sv[0], a, 1000), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
	attr_free(a);
	vstr_free(why);
}

static void
test_ipc_rejects_oversized_and_malformed(void **state)
{
	int	    sv[2];
	ATTR	   *a = attr_alloc();
	VSTR	   *why = vstr_alloc(0);
	IPC_STREAM *st;
	char	    frame[64];

	(void)state;
	make_pair(sv);
	attr_put_str(a, "name", "a value longer than twenty bytes");
	assert_int_equal(ipc_send(sv[0], a, 1000), 0);
	assert_int_equal(ipc_recv(sv[1], a, 20, 1000, why), -1);
	assert_int_equal(errno, EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
	/* Above the hard cap, announced by the length alone. */
	make_pair(sv);
	snprintf(frame, sizeof(frame), "%d:", ATTR_FRAME_MAX + 1);
	write_full(sv[0], frame, strlen(frame), 100);
	assert_int_equal(ipc_recv(sv[1], a, 0, 1000, why), -1);
	assert_int_equal(errno, EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
	/* Streams: a cap, a bad prefix, a bad inner list. */
	make_pair(sv);
	st = ipc_stream_open(sv[1]);
	ipc_stream_set_max(st, 10);
	write_full(sv[0], "11:", 3, 100);
	assert_int_equal(ipc_stream_recv(st, a, 1000, why), -1);
	assert_int_equal(errno, EMSGSIZE);
	ipc_stream_close(st);
	close(sv[0]);
	make_pair(sv);
	st = ipc_stream_open(sv[1]);
	write_full(sv[0], "GET / HTTP/1.0\r\n", 16, 100);
	assert_int_equal(ipc_stream_recv(st, a, 1000, why), -1);
	assert_int_equal(errno, EPROTO);
	ipc_stream_close(st);
	close(sv[0]);
	make_pair(sv);
	st = ipc_stream_open(sv[1]);
	write_full(sv[0], "4:1:a,,", 7, 100);
	assert_int_equal(ipc_stream_recv(st, a, 1000, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "no value"));
	ipc_stream_close(st);
	close(sv[0]);
	attr_free(a);
	vstr_free(why);
}

/* Event-loop style: non-blocking fill/next with frames split anywhere. */
static void
test_ipc_stream_fill_next_partial(void **state)
{
	int	    sv[2];
	ATTR	   *a = attr_alloc();
	VSTR	   *buf = vstr_alloc(0);
	VSTR	   *why = vstr_alloc(0);
	IPC_STREAM *st;
	size_t	    i;
	int	    got = 0;

	(void)state;
	make_pair(sv);
	assert_int_equal(fd_set_nonblock(sv[1], true), 0);
	st = ipc_stream_open(sv[1]);
	attr_put_str(a, "k", "first");
	attr_encode(a, buf);
	attr_put_str(a, "k", "second");
	attr_encode(a, buf);
	assert_int_equal(ipc_stream_fill(st), -1);
	assert_int_equal(errno, EAGAIN);
	for (i = 0; i < VSTR_LEN(buf); i++) {
		assert_int_equal(write_full(sv[0], VSTR_STR(buf) + i, 1, 100),
				 1);
		assert_int_equal(ipc_stream_fill(st), 1);
		while (ipc_stream_next(st, a, why) == 1) {
			assert_string_equal(attr_get_str(a, "k"),
					    got == 0 ? "first" : "second");
			got++;
		}
	}
	assert_int_equal(got, 2);
	assert_int_equal(ipc_stream_buffered(st), 0);
	close(sv[0]);
	assert_int_equal(ipc_stream_fill(st), 0);
	ipc_stream_close(st);
	attr_free(a);
	vstr_free(buf);
	vstr_free(why);
}

static void
test_ipc_fd_flags(void **state)
{
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fd_set_cloexec(sv[0], true), 0);
	assert_true(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fd_set_cloexec(sv[0], false), 0);
	assert_false(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fd_set_nonblock(sv[0], true), 0);
	assert_true(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(fd_set_nonblock(sv[0], false), 0);
	assert_false(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(fd_set_nonblock(sv[0], true), -1);
	assert_int_equal(errno, EBADF);
}

/* A service child: answers each ipc_call with the request plus a reply. */
static void
service_child(int lfd, int calls)
{
	ATTR *a = attr_alloc();
	VSTR *why = vstr_alloc(0);
	int   i;

	for (i = 0; i < calls; i++) {
		int fd = ipc_accept(lfd);

		if (fd < 0 || ipc_recv(fd, a, 0, 5000, why) < 0)
			_exit(2);
		attr_put_str(a, "status", "ok");
		if (ipc_send(fd, a, 5000) < 0)
			_exit(3);
		close(fd);
	}
	_exit(0);
}

static void
test_ipc_unix_socket_call(void **state)
{
	char	    path[128];
	struct stat st;
	ATTR	   *req = attr_alloc();
	ATTR	   *reply = attr_alloc();
	VSTR	   *why = vstr_alloc(0);
	pid_t	    pid;
	int	    lfd;
	int	    i;

	(void)state;
	snprintf(path, sizeof(path), "%s/svc", tmpdir);
	lfd = ipc_listen_unix(path, 0620, 16);
	assert_true(lfd >= 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0620);
	assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
	if ((pid = fork()) == 0)
		service_child(lfd, 3);
	assert_true(pid > 0);
	close(lfd);
	for (i = 0; i < 3; i++) {
		long long v;

		attr_reset(req);
		attr_put_int(req, "call", i);
		assert_int_equal(ipc_call(path, req, reply, 5000, why), 0);
		assert_string_equal(attr_get_str(reply, "status"), "ok");
		assert_int_equal(attr_get_int(reply, "call", &v), 0);
		assert_int_equal(v, i);
	}
	reap(pid);
	/* The listener is gone: a call fails at once, saying why. */
	assert_int_equal(ipc_call(path, req, reply, 1000, why), -1);
	assert_int_equal(errno, ECONNREFUSED);
	assert_non_null(strstr(VSTR_STR(why), "connect"));
	/* A stale socket is replaced. */
	lfd = ipc_listen_unix(path, 0600, 16);
	assert_true(lfd >= 0);
	close(lfd);
	attr_free(req);
	attr_free(reply);
	vstr_free(why);
}

/* A service that never answers: the call ends at its deadline. */
static void
test_ipc_call_times_out_on_silent_service(void **state)
{
	char	  path[128];
	ATTR	 *req = attr_alloc();
	ATTR	 *reply = attr_alloc();
	VSTR	 *why = vstr_alloc(0);
	long long t0;
	int	  lfd;

	(void)state;
	snprintf(path, sizeof(path), "%s/silent", tmpdir);
	lfd = ipc_listen_unix(path, 0600, 4);
	assert_true(lfd >= 0);
	attr_put_str(req, "request", "ping");
	t0 = now_ms();
	assert_int_equal(ipc_call(path, req, reply, 150, why), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now_ms() - t0 >= 140 && now_ms() - t0 < 2000);
	assert_non_null(strstr(VSTR_STR(why), "receive from"));
	assert_non_null(strstr(VSTR_STR(why), "timeout"));
	close(lfd);
	attr_free(req);
	attr_free(reply);
	vstr_free(why);
}

static void
test_ipc_listen_unix_refuses_non_socket(void **state)
{
	char path[128];
	char longpath[200];
	int  fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/plain", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ipc_listen_unix(path, 0600, 1), -1);
	assert_int_equal(errno, EEXIST);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	assert_int_equal(ipc_listen_unix(longpath, 0600, 1), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	snprintf(path, sizeof(path), "%s/none", tmpdir);
	assert_int_equal(ipc_connect_unix(path, 100), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_ipc_trigger_socket_and_fifo(void **state)
{
	char path[128];
	char c = 0;
	int  lfd;
	int  fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/qmgr", tmpdir);
	lfd = ipc_listen_unix(path, 0600, 4);
	assert_true(lfd >= 0);
	/* The connection waits in the backlog: no server process needed. */
	assert_int_equal(ipc_trigger(path, IPC_TRIGGER_WAKEUP, 1000), 0);
	fd = ipc_accept(lfd);
	assert_true(fd >= 0);
	assert_int_equal(read_full(fd, &c, 1, 1000), 1);
	assert_int_equal(c, 'W');
	/* Exactly one byte, then end of file. */
	assert_int_equal(read_full(fd, &c, 1, 1000), 0);
	close(fd);
	close(lfd);
	/* A fifo with a reader gets the byte; without one it fails at once. */
	snprintf(path, sizeof(path), "%s/pickup", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(ipc_trigger(path, 'W', 100), -1);
	assert_int_equal(errno, ENXIO);
	fd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_int_equal(ipc_trigger(path, IPC_TRIGGER_SCAN_ALL, 100), 0);
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(c, 'A');
	close(fd);
	/* Neither a socket nor a fifo. */
	snprintf(path, sizeof(path), "%s", tmpdir);
	assert_int_equal(ipc_trigger(path, 'W', 100), -1);
	assert_int_equal(errno, EINVAL);
}

/* lfd has a connection from cfd waiting; a byte gets across. */
static void
assert_accepted_and_talks(int lfd, int cfd)
{
	char c = 0;
	int  fd = ipc_accept(lfd);

	assert_true(fd >= 0);
	assert_int_equal(write_full(cfd, "x", 1, 1000), 1);
	assert_int_equal(read_full(fd, &c, 1, 1000), 1);
	assert_int_equal(c, 'x');
	close(fd);
}

static void
test_ipc_listen_inet_loopback(void **state)
{
	struct sockaddr_storage ss;
	socklen_t		len = sizeof(ss);
	char			port[16];
	int			lfd;
	int			cfd;

	(void)state;
	lfd = ipc_listen_inet("127.0.0.1", "0", 4);
	assert_true(lfd >= 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	snprintf(port, sizeof(port), "%d",
		 ntohs(((struct sockaddr_in *)&ss)->sin_port));
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&ss, len), 0);
	assert_accepted_and_talks(lfd, cfd);
	close(cfd);
	/* The same port again fails (EADDRINUSE), SO_REUSEADDR or not. */
	assert_int_equal(ipc_listen_inet("127.0.0.1", port, 4), -1);
	assert_int_equal(errno, EADDRINUSE);
	close(lfd);
	/* IPv6 loopback, when the host has it. */
	lfd = ipc_listen_inet("[::1]", "0", 4);
	if (lfd >= 0) {
		len = sizeof(ss);
		assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len),
				 0);
		assert_int_equal(ss.ss_family, AF_INET6);
		close(lfd);
	}
	/* Every address. */
	lfd = ipc_listen_inet(NULL, "0", 4);
	assert_true(lfd >= 0);
	close(lfd);
	assert_int_equal(ipc_listen_inet("[::1", "0", 4), -1);
	assert_int_equal(ipc_listen_inet("192.0.2.1", "0", 4), -1);
}

/* The port an IPv4 socket is bound to, as text. */
static void
inet_port(int fd, char *buf, size_t size)
{
	struct sockaddr_in sin;
	socklen_t	   len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(buf, size, "%d", ntohs(sin.sin_port));
}

/*
 * ipc_connect_inet: a listening port answers with a non-blocking,
 * close-on-exec descriptor; a bound port nobody listens on refuses; a
 * name that cannot resolve says so with the getaddrinfo code.  No
 * timeout case: nothing local makes a TCP connect hang deterministically
 * (a full listen backlog does not, on Linux), and no test may reach out.
 */
static void
test_ipc_connect_inet(void **state)
{
	struct sockaddr_in ss;
	char		   port[16];
	int		   lfd;
	int		   fd;
	int		   gai = -1;

	(void)state;
	lfd = ipc_listen_inet("127.0.0.1", "0", 4);
	assert_true(lfd >= 0);
	inet_port(lfd, port, sizeof(port));
	fd = ipc_connect_inet("127.0.0.1", port, 1000, &gai);
	assert_true(fd >= 0);
	assert_int_equal(gai, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_accepted_and_talks(lfd, fd);
	close(fd);
	/* A name from the hosts file; gai_error may be NULL. */
	fd = ipc_connect_inet("localhost", port, 1000, NULL);
	assert_true(fd >= 0);
	close(fd);
	close(lfd);

	/* Bound but not listening: the port stays ours, and refuses. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	memset(&ss, 0, sizeof(ss));
	ss.sin_family = AF_INET;
	ss.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&ss, sizeof(ss)), 0);
	inet_port(lfd, port, sizeof(port));
	gai = -1;
	assert_int_equal(ipc_connect_inet("127.0.0.1", port, 1000, &gai), -1);
	assert_int_equal(errno, ECONNREFUSED);
	assert_int_equal(gai, 0);
	close(lfd);

	/*
	 * Resolver failure without asking DNS: a service name that does
	 * not exist fails in the services file.
	 */
	gai = 0;
	assert_int_equal(ipc_connect_inet("127.0.0.1", "no-such-service-x",
					  1000, &gai),
			 -1);
	assert_int_equal(errno, EHOSTUNREACH);
	assert_true(gai != 0);
}

/* A passed descriptor works, and a frame after it arrives whole. */
static void
test_ipc_fds_pass_then_frame(void **state)
{
	int	    sv[2], pp[2], got[4];
	size_t	    n = 0;
	char	    c = 0;
	ATTR	   *a = attr_alloc();
	IPC_STREAM *rs;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(pp), 0);
	assert_int_equal(ipc_send_fds(sv[0], &pp[1], 1, 1000), 0);
	attr_put_str(a, "request", "data");
	assert_int_equal(ipc_send(sv[0], a, 1000), 0);
	assert_int_equal(ipc_recv_fds(sv[1], got, 4, &n, 1000), 0);
	assert_int_equal(n, 1);
	assert_int_equal(write(got[0], "x", 1), 1);
	assert_int_equal(read(pp[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	rs = ipc_stream_open(sv[1]);
	attr_reset(a);
	assert_int_equal(ipc_stream_recv(rs, a, 1000, NULL), 0);
	assert_string_equal(attr_get_str(a, "request"), "data");
	/* a byte that is not 'M', without descriptors: refused */
	assert_int_equal(write(sv[0], "Z", 1), 1);
	assert_int_equal(ipc_recv_fds(ipc_stream_fd(rs), got + 1, 3, &n, 1000),
			 -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(n, 0);
	ipc_stream_close(rs);
	close(sv[0]);
	close(pp[0]);
	close(pp[1]);
	close(got[0]);
	attr_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipc_send_recv_one_frame),
		cmocka_unit_test(test_ipc_recv_does_not_read_past_frame),
		cmocka_unit_test(test_ipc_stream_many_frames),
		cmocka_unit_test(test_ipc_stream_big_frames_round_trip),
		cmocka_unit_test(test_ipc_timeouts_are_bounded),
		cmocka_unit_test(test_ipc_peer_close),
		cmocka_unit_test(test_ipc_rejects_oversized_and_malformed),
		cmocka_unit_test(test_ipc_stream_fill_next_partial),
		cmocka_unit_test(test_ipc_fd_flags),
		cmocka_unit_test(test_ipc_unix_socket_call),
		cmocka_unit_test(test_ipc_call_times_out_on_silent_service),
		cmocka_unit_test(test_ipc_listen_unix_refuses_non_socket),
		cmocka_unit_test(test_ipc_trigger_socket_and_fifo),
		cmocka_unit_test(test_ipc_listen_inet_loopback),
		cmocka_unit_test(test_ipc_connect_inet),
		cmocka_unit_test(test_ipc_fds_pass_then_frame),
	};

	return cmocka_run_group_tests_name("ipc", tests, setup_tmpdir,
					   teardown_tmpdir);
}
