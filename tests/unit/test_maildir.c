/*
 * test_maildir - Maildir delivery: folders made, file in new/ with the
 * exact bytes, nothing left in tmp/, unique names, the size limit.
 *
 * SPDX-License-Identifier: ISC
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/maildir.h"

static char dir[] = "/tmp/test_maildir.XXXXXX";

/* Names in sub, how many; the first one's path in first. */
static int
maildir_count(const char *sub, char *first, size_t len)
{
	char	       path[512];
	DIR	      *d;
	struct dirent *e;
	int	       n = 0;

	snprintf(path, sizeof(path), "%s/box/%s", dir, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n++ == 0 && first
		    && snprintf(first, len, "%s/%.200s", path, e->d_name)
			   >= (int)len)
			first[0] = 0;
	}
	closedir(d);
	return n;
}

static void
test_maildir_deliver_writes_new_file_and_leaves_tmp_empty(void **state)
{
	VSTR   *why = vstr_alloc(16);
	char	box[300], first[1024], buf[64];
	int	fd;
	ssize_t n;

	(void)state;
	snprintf(box, sizeof(box), "%s/box/", dir);
	assert_int_equal(maildir_deliver(box, "Subject: a\n\nbody\n", 17, 0,
					 why),
			 0);
	assert_int_equal(maildir_count("new", first, sizeof(first)), 1);
	assert_int_equal(maildir_count("tmp", NULL, 0), 0);
	assert_int_equal(maildir_count("cur", NULL, 0), 0);
	fd = open(first, O_RDONLY);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, 17);
	assert_memory_equal(buf, "Subject: a\n\nbody\n", 17);
	/* A second delivery gets its own name. */
	assert_int_equal(maildir_deliver(box, "x\n", 2, 0, why), 0);
	assert_int_equal(maildir_count("new", NULL, 0), 2);
	vstr_free(why);
}

static void
test_maildir_deliver_refuses_message_over_limit(void **state)
{
	VSTR *why = vstr_alloc(16);
	char  box[300];

	(void)state;
	snprintf(box, sizeof(box), "%s/box", dir);
	assert_int_equal(maildir_deliver(box, "0123456789", 10, 9, why), -1);
	assert_int_equal(errno, EFBIG);
	assert_non_null(strstr(VSTR_STR(why), "size limit"));
	assert_int_equal(maildir_count("new", NULL, 0), 2);
	assert_int_equal(maildir_count("tmp", NULL, 0), 0);
	vstr_free(why);
}

static void
test_maildir_deliver_fails_when_folder_cannot_be_made(void **state)
{
	VSTR *why = vstr_alloc(16);

	(void)state;
	assert_int_equal(maildir_deliver("/proc/nope/Maildir/", "x\n", 2, 0,
					 why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "create maildir"));
	vstr_free(why);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_maildir_deliver_writes_new_file_and_leaves_tmp_empty),
		cmocka_unit_test(
		    test_maildir_deliver_refuses_message_over_limit),
		cmocka_unit_test(
		    test_maildir_deliver_fails_when_folder_cannot_be_made),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
