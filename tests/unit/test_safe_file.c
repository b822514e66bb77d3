/*
 * Unit tests for util/safe_file: symlinks, fifos and hard links refused,
 * exclusive creation with exact modes, atomic writes that leave no
 * temporary behind, bounded reads, owned folders.
 *
 * SPDX-License-Identifier: ISC
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/safe_file.h"
#include "util/vstr.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_safe_file.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *
at(const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void
put(const char *name, const char *text)
{
	FILE *fp = fopen(at(name), "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static int
count_entries(const char *folder)
{
	DIR	      *dp = opendir(folder);
	struct dirent *de;
	int	       n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0
		    && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

static void
test_safe_file_read_refuses_symlink_fifo(void **state)
{
	char target[256];
	char buf[8];
	int  fd;

	(void)state;
	put("plain", "data");
	fd = safe_open_read(at("plain"));
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	/* O_NONBLOCK was only for the open. */
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	snprintf(target, sizeof(target), "%s", at("plain"));
	assert_int_equal(symlink(target, at("link")), 0);
	assert_int_equal(safe_open_read(at("link")), -1);
	assert_int_equal(errno, ELOOP);
	/* A fifo with no writer neither hangs nor opens. */
	assert_int_equal(mkfifo(at("fifo"), 0600), 0);
	assert_int_equal(safe_open_read(at("fifo")), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(safe_open_read(dir), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(safe_open_read(at("missing")), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_safe_file_create_excl(void **state)
{
	struct stat st;
	mode_t	    old = umask(077);
	int	    fd;

	(void)state;
	fd = safe_create_excl(at("new"), 0640);
	umask(old);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	/* The umask does not decide the mode. */
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(safe_create_excl(at("new"), 0600), -1);
	assert_int_equal(errno, EEXIST);
	/* A dangling symlink is not followed to create its target. */
	assert_int_equal(symlink("/tmp/test_safe_file_should_not_exist",
				 at("dangling")),
			 0);
	assert_int_equal(safe_create_excl(at("dangling"), 0600), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(access("/tmp/test_safe_file_should_not_exist", F_OK),
			 -1);
}

static void
test_safe_file_open_append(void **state)
{
	VSTR	   *vp = vstr_alloc(0);
	struct stat st;
	mode_t	    old;
	int	    fd;

	(void)state;
	old = umask(077);
	fd = safe_open_append(at("log"), 0640, (uid_t)-1);
	umask(old);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "one\n", 4), 4);
	close(fd);
	fd = safe_open_append(at("log"), 0600, getuid());
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "two\n", 4), 4);
	close(fd);
	assert_int_equal(read_file(at("log"), vp, 100), 0);
	assert_string_equal(VSTR_STR(vp), "one\ntwo\n");
	assert_int_equal(stat(at("log"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* Somebody else's file. */
	assert_int_equal(safe_open_append(at("log"), 0600, getuid() + 4242),
			 -1);
	assert_int_equal(errno, EPERM);
	vstr_free(vp);
}

static void
test_safe_file_append_refuses_links(void **state)
{
	char target[256];
	int  fd;

	(void)state;
	put("mbox", "");
	snprintf(target, sizeof(target), "%s", at("mbox"));
	assert_int_equal(link(target, at("hard")), 0);
	assert_int_equal(safe_open_append(at("hard"), 0600, (uid_t)-1), -1);
	assert_int_equal(errno, EMLINK);
	assert_int_equal(safe_open_append(target, 0600, (uid_t)-1), -1);
	assert_int_equal(errno, EMLINK);
	assert_int_equal(symlink(target, at("soft")), 0);
	assert_int_equal(safe_open_append(at("soft"), 0600, (uid_t)-1), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(unlink(at("hard")), 0);
	fd = safe_open_append(target, 0600, (uid_t)-1);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mkfifo(at("pipe"), 0600), 0);
	assert_int_equal(safe_open_append(at("pipe"), 0600, (uid_t)-1), -1);
}

static void
test_safe_file_append_creates_for_owner(void **state)
{
	struct stat st;
	int	    fd;

	(void)state;
	if (geteuid() != 0)
		skip();
	fd = safe_open_append(at("owned"), 0600, 4321);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_uid, 4321);
	close(fd);
	fd = safe_open_append(at("owned"), 0600, 4321);
	assert_true(fd >= 0);
	close(fd);
}

static void
test_safe_file_atomic_write_leaves_no_temp(void **state)
{
	char	    sub[160];
	char	    file[256];
	VSTR	   *vp = vstr_alloc(0);
	struct stat st;

	(void)state;
	snprintf(sub, sizeof(sub), "%s", at("atomic"));
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(file, sizeof(file), "%s/file", sub);
	assert_int_equal(write_file_atomic(file, "first", 5, 0644), 0);
	assert_int_equal(read_file(file, vp, 100), 0);
	assert_string_equal(VSTR_STR(vp), "first");
	assert_int_equal(write_file_atomic(file, "a\0b", 3, 0600), 0);
	assert_int_equal(read_file(file, vp, 100), 0);
	assert_int_equal(VSTR_LEN(vp), 3);
	assert_memory_equal(VSTR_STR(vp), "a\0b", 3);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_entries(sub), 1);
	/* A failure (folder in the way) leaves the old file and no temp. */
	snprintf(file, sizeof(file), "%s/dir", sub);
	assert_int_equal(mkdir(file, 0700), 0);
	assert_int_equal(write_file_atomic(file, "x", 1, 0600), -1);
	assert_int_equal(count_entries(sub), 2);
	snprintf(file, sizeof(file), "%s/missing/file", sub);
	assert_int_equal(write_file_atomic(file, "x", 1, 0600), -1);
	assert_int_equal(errno, ENOENT);
	vstr_free(vp);
}

static void
test_safe_file_read_file_bound(void **state)
{
	VSTR *vp = vstr_alloc(0);
	char  target[256];

	(void)state;
	put("hundred", "0123456789012345678901234567890123456789"
		       "0123456789012345678901234567890123456789"
		       "01234567890123456789");
	assert_int_equal(read_file(at("hundred"), vp, 100), 0);
	assert_int_equal(VSTR_LEN(vp), 100);
	assert_int_equal(read_file(at("hundred"), vp, 99), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(VSTR_LEN(vp), 0);
	put("empty", "");
	vstr_strcpy(vp, "old");
	assert_int_equal(read_file(at("empty"), vp, 0), 0);
	assert_int_equal(VSTR_LEN(vp), 0);
	snprintf(target, sizeof(target), "%s", at("hundred"));
	assert_int_equal(symlink(target, at("hlink")), 0);
	assert_int_equal(read_file(at("hlink"), vp, 1000), -1);
	assert_int_equal(errno, ELOOP);
	/* /proc files say size 0 but have content: the bound still holds. */
	assert_int_equal(read_file("/proc/self/status", vp, 10), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(read_file("/proc/self/status", vp, 1 << 20), 0);
	assert_true(VSTR_LEN(vp) > 10);
	vstr_free(vp);
}

static void
test_safe_file_mkdir_owned(void **state)
{
	char	    sub[160];
	char	    target[256];
	struct stat st;
	mode_t	    old = umask(077);

	(void)state;
	snprintf(sub, sizeof(sub), "%s", at("queue"));
	assert_int_equal(mkdir_owned(sub, 0755, (uid_t)-1, (gid_t)-1), 0);
	umask(old);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	/* Existing with the wrong mode: fixed. */
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(mkdir_owned(sub, 0730, (uid_t)-1, (gid_t)-1), 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0730);
	if (geteuid() == 0) {
		assert_int_equal(mkdir_owned(sub, 0700, 4321, 4322), 0);
		assert_int_equal(stat(sub, &st), 0);
		assert_int_equal(st.st_uid, 4321);
		assert_int_equal(st.st_gid, 4322);
		assert_int_equal(st.st_mode & 07777, 0700);
	}
	snprintf(target, sizeof(target), "%s", sub);
	assert_int_equal(symlink(target, at("qlink")), 0);
	assert_int_equal(mkdir_owned(at("qlink"), 0700, (uid_t)-1, (gid_t)-1),
			 -1);
	assert_int_equal(errno, ELOOP);
	put("afile", "");
	assert_int_equal(mkdir_owned(at("afile"), 0700, (uid_t)-1, (gid_t)-1),
			 -1);
	assert_int_equal(errno, ENOTDIR);
}

static void
test_safe_file_rename_and_fsync(void **state)
{
	char  from[256];
	char  to[256];
	char  sub[160];
	VSTR *vp = vstr_alloc(0);

	(void)state;
	snprintf(sub, sizeof(sub), "%s", at("incoming"));
	assert_int_equal(mkdir(sub, 0700), 0);
	put("msg", "queued");
	snprintf(from, sizeof(from), "%s", at("msg"));
	snprintf(to, sizeof(to), "%s/msg", sub);
	assert_int_equal(rename_durable(from, to), 0);
	assert_int_equal(access(from, F_OK), -1);
	assert_int_equal(read_file(to, vp, 100), 0);
	assert_string_equal(VSTR_STR(vp), "queued");
	assert_int_equal(rename_durable(from, to), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fsync_dir(dir), 0);
	assert_int_equal(fsync_dir(at("nothing")), -1);
	assert_int_equal(fsync_parent(to), 0);
	assert_int_equal(fsync_parent("relative-name"), 0);
	assert_int_equal(fsync_parent("/etc"), 0);
	vstr_free(vp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_safe_file_read_refuses_symlink_fifo),
		cmocka_unit_test(test_safe_file_create_excl),
		cmocka_unit_test(test_safe_file_open_append),
		cmocka_unit_test(test_safe_file_append_refuses_links),
		cmocka_unit_test(test_safe_file_append_creates_for_owner),
		cmocka_unit_test(test_safe_file_atomic_write_leaves_no_temp),
		cmocka_unit_test(test_safe_file_read_file_bound),
		cmocka_unit_test(test_safe_file_mkdir_owned),
		cmocka_unit_test(test_safe_file_rename_and_fsync),
	};

	return cmocka_run_group_tests_name("safe_file", tests, setup, teardown);
}
