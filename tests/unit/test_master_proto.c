/*
 * Unit tests for util/master_proto (status channel, pid file lock) and
 * util/user (lookups, refusal to "drop" to root).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/master_proto.h"
#include "util/user.h"
#include "util/vstr.h"

static void
test_master_proto_status_records_round_trip(void **state)
{
	struct master_status rec;
	int		     fds[2];

	(void)state;
	assert_int_equal(master_status_pair(fds), 0);
	assert_int_equal(master_status_send(fds[1], MASTER_STAT_TAKEN), 0);
	assert_int_equal(master_status_send(fds[1], MASTER_STAT_AVAIL), 0);
	assert_int_equal(master_status_recv(fds[0], &rec), 1);
	assert_int_equal(rec.pid, getpid());
	assert_int_equal(rec.status, MASTER_STAT_TAKEN);
	assert_int_equal(master_status_recv(fds[0], &rec), 1);
	assert_int_equal(rec.status, MASTER_STAT_AVAIL);
	/* Master's end never blocks. */
	assert_int_equal(master_status_recv(fds[0], &rec), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	close(fds[0]);
	close(fds[1]);
}

static void
test_master_proto_short_record_is_a_protocol_error(void **state)
{
	struct master_status rec;
	int		     fds[2];

	(void)state;
	assert_int_equal(master_status_pair(fds), 0);
	assert_int_equal(send(fds[1], "abc", 3, 0), 3);
	assert_int_equal(master_status_recv(fds[0], &rec), -1);
	assert_int_equal(errno, EPROTO);
	close(fds[0]);
	close(fds[1]);
}

static void
test_master_proto_child_sees_master_go_away(void **state)
{
	int fds[2];

	(void)state;
	assert_int_equal(master_status_pair(fds), 0);
	assert_false(master_status_gone(fds[1]));
	close(fds[0]);
	assert_true(master_status_gone(fds[1]));
	/* And a report then fails instead of killing the child (SIGPIPE). */
	assert_int_equal(master_status_send(fds[1], MASTER_STAT_AVAIL), -1);
	assert_int_equal(errno, EPIPE);
	close(fds[1]);
}

static void
test_master_proto_pid_path_follows_process_id_directory(void **state)
{
	VSTR *path = vstr_alloc(10);

	(void)state;
	master_pid_path("/var/spool/postel", "pid", path);
	assert_string_equal(VSTR_STR(path), "/var/spool/postel/pid/master.pid");
	master_pid_path("/var/spool/postel", "/run/postel", path);
	assert_string_equal(VSTR_STR(path), "/run/postel/master.pid");
	vstr_free(path);
}

static void
test_master_proto_pid_lock_is_exclusive_and_names_the_holder(void **state)
{
	char  dir[] = "/tmp/test_master_proto.XXXXXX";
	char  path[100];
	char  buf[32] = { 0 };
	int   ready[2];
	pid_t pid;
	pid_t holder;
	int   fd;
	int   status;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/master.pid", dir);
	assert_int_equal(master_pid_check(path), 0); /* no file yet */
	assert_int_equal(pipe(ready), 0);
	/* fcntl locks are per process: the holder must be another one. */
	if ((pid = fork()) == 0) {
		if (master_pid_lock(path, &holder) < 0)
			_exit(1);
		if (write(ready[1], "k", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], buf, 1), 1);
	assert_int_equal(master_pid_check(path), pid);
	assert_int_equal(master_pid_lock(path, &holder), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(holder, pid);
	fd = open(path, O_RDONLY);
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	assert_int_equal(atol(buf), pid);
	close(fd);

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	/* A stale file fools nobody. */
	assert_int_equal(master_pid_check(path), 0);
	fd = master_pid_lock(path, &holder);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	rmdir(dir);
	close(ready[0]);
	close(ready[1]);
}

static void
test_user_lookup_knows_root_and_not_nonsense(void **state)
{
	uid_t uid;
	gid_t gid;

	(void)state;
	assert_int_equal(user_lookup("root", &uid, &gid), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(user_lookup("no-such-user-postel", &uid, &gid), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(user_group_lookup("no-such-group-postel", &gid), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_user_jail_refuses_uid_0(void **state)
{
	VSTR *why = vstr_alloc(10);

	(void)state;
	assert_int_equal(user_jail(NULL, 0, 0, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "uid 0"));
	vstr_free(why);
}

static void
test_user_jail_drop_holds(void **state)
{
	pid_t pid;
	int   status;

	(void)state;
	if (geteuid() != 0)
		skip();
	/* In a child: the drop cannot be undone in this process. */
	if ((pid = fork()) == 0) {
		VSTR *why = vstr_alloc(10);

		if (user_jail("/", 65534, 65534, why) < 0)
			_exit(2);
		_exit(getuid() == 65534 && geteuid() == 65534
			      && getgid() == 65534 && setuid(0) < 0
			  ? 0
			  : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_master_proto_status_records_round_trip),
		cmocka_unit_test(
		    test_master_proto_short_record_is_a_protocol_error),
		cmocka_unit_test(test_master_proto_child_sees_master_go_away),
		cmocka_unit_test(
		    test_master_proto_pid_path_follows_process_id_directory),
		cmocka_unit_test(
		    test_master_proto_pid_lock_is_exclusive_and_names_the_holder),
		cmocka_unit_test(test_user_lookup_knows_root_and_not_nonsense),
		cmocka_unit_test(test_user_jail_refuses_uid_0),
		cmocka_unit_test(test_user_jail_drop_holds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
