/*
 * Unit tests for util/flush_client: the requests against a forked fake
 * flush service on queue_directory/public/flush, and flush_make_due.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/attr.h"
#include "util/cfg.h"
#include "util/flush_client.h"
#include "util/ipc.h"
#include "util/vstr.h"

static char tmpdir[64];
static char sock_path[128];
static CFG *cfg;

static int
setup(void **state)
{
	VSTR *text = vstr_alloc(64);
	VSTR *why = vstr_alloc(64);

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_flush_client.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/public", tmpdir);
	if (mkdir(sock_path, 0700) < 0)
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/public/flush", tmpdir);
	vstr_sprintf(text, "queue_directory = %s\n", tmpdir);
	cfg = cfg_open_buffer(NULL, "main.cf", VSTR_STR(text), VSTR_LEN(text),
			      why);
	vstr_free(text);
	vstr_free(why);
	return cfg ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	cfg_free(cfg);
	return harness_rmtree(tmpdir);
}

/*
 * The fake: answers one request with {status=reply} (or a reply without
 * a status when reply is 99) and exits 0 when the request was `want`
 * with the arguments given (NULL: absent).
 */
static pid_t
fake_flush(const char *want, const char *site, const char *queue_id, int reply)
{
	int   lfd = ipc_listen_unix(sock_path, 0600, 5);
	pid_t pid;

	assert_true(lfd >= 0);
	if ((pid = fork()) != 0) {
		close(lfd);
		return pid;
	}
	ATTR	   *in = attr_alloc();
	ATTR	   *out = attr_alloc();
	int	    fd = ipc_accept(lfd);
	const char *v;
	int	    ok = 1;

	if (ipc_recv(fd, in, 0, 5000, NULL) < 0)
		_exit(100);
	v = attr_get_str(in, "request");
	ok = ok && v && strcmp(v, want) == 0;
	v = attr_get_str(in, "site");
	ok = ok && (site ? v && strcmp(v, site) == 0 : v == NULL);
	v = attr_get_str(in, "queue_id");
	ok = ok && (queue_id ? v && strcmp(v, queue_id) == 0 : v == NULL);
	if (reply == 99)
		attr_put_str(out, "surprise", "1");
	else
		attr_put_int(out, "status", reply);
	if (ipc_send(fd, out, 5000) < 0)
		_exit(101);
	_exit(ok ? 0 : 1);
}

static int
fake_wait(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	unlink(sock_path);
	return WEXITSTATUS(status);
}

static void
test_flush_client_requests_carry_their_arguments(void **state)
{
	VSTR *why = vstr_alloc(16);
	pid_t pid;

	(void)state;
	pid = fake_flush("add", "example.com", "QID1", FLUSH_STAT_OK);
	assert_int_equal(flush_add(cfg, "example.com", "QID1", why),
			 FLUSH_STAT_OK);
	assert_int_equal(fake_wait(pid), 0);
	pid = fake_flush("send_site", "example.com", NULL, FLUSH_STAT_DENY);
	assert_int_equal(flush_send_site(cfg, "example.com", why),
			 FLUSH_STAT_DENY);
	assert_int_equal(fake_wait(pid), 0);
	pid = fake_flush("send_file", NULL, "QID2", FLUSH_STAT_BAD);
	assert_int_equal(flush_send_file(cfg, "QID2", why), FLUSH_STAT_BAD);
	assert_int_equal(fake_wait(pid), 0);
	pid = fake_flush("refresh", NULL, NULL, FLUSH_STAT_OK);
	assert_int_equal(flush_refresh(cfg, why), FLUSH_STAT_OK);
	assert_int_equal(fake_wait(pid), 0);
	pid = fake_flush("purge", NULL, NULL, FLUSH_STAT_FAIL);
	assert_int_equal(flush_purge(cfg, why), FLUSH_STAT_FAIL);
	assert_non_null(strstr(VSTR_STR(why), "service failure"));
	assert_int_equal(fake_wait(pid), 0);
	vstr_free(why);
}

static void
test_flush_client_failures(void **state)
{
	VSTR *why = vstr_alloc(16);
	pid_t pid;

	(void)state;
	/* no service: FAIL with the socket named */
	assert_int_equal(flush_send_site(cfg, "example.com", why),
			 FLUSH_STAT_FAIL);
	assert_non_null(strstr(VSTR_STR(why), "public/flush"));
	/* a reply without a known status */
	pid = fake_flush("add", "a.test", "Q", 99);
	assert_int_equal(flush_add(cfg, "a.test", "Q", why), FLUSH_STAT_FAIL);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(VSTR_STR(why), "malformed reply"));
	assert_int_equal(fake_wait(pid), 0);
	pid = fake_flush("add", "a.test", "Q", 7);
	assert_int_equal(flush_add(cfg, "a.test", "Q", why), FLUSH_STAT_FAIL);
	assert_int_equal(fake_wait(pid), 0);
	vstr_free(why);
}

static void
test_flush_make_due_sets_mtime_keeps_atime(void **state)
{
	char		path[128];
	struct timespec ts[2] = { { .tv_sec = 1000000 },
				  { .tv_sec = 2000000000 } };
	struct stat	st;
	time_t		before = time(NULL);
	int		fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/f", tmpdir);
	assert_true((fd = open(path, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_int_equal(flush_make_due(path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_atime, 1000000);
	assert_true(st.st_mtime >= before && st.st_mtime <= time(NULL));
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_int_equal(flush_make_due(path), -1);
	assert_int_equal(errno, ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_flush_client_requests_carry_their_arguments),
		cmocka_unit_test(test_flush_client_failures),
		cmocka_unit_test(test_flush_make_due_sets_mtime_keeps_atime),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
