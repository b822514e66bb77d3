/*
 * test_mbox - mailbox locking: fcntl and dot-lock, contention, stale
 * dot-locks.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "tests/unit/harness.h"
#include "util/mbox.h"
#include "util/rec.h"
#include "util/vstr.h"

static char dir[] = "/tmp/test_mbox.XXXXXX";
static char path[256], lockpath[300];

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/box", dir);
	snprintf(lockpath, sizeof(lockpath), "%s/box.lock", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(lockpath);
	unlink(path);
	rmdir(dir);
	return 0;
}

static void
test_mbox_lock_takes_and_releases_both_locks(void **state)
{
	VSTR *why = vstr_alloc(16);
	int   fd = open(path, O_RDWR | O_CREAT, 0600);
	int   flags = MBOX_LOCK_FCNTL | MBOX_LOCK_DOTLOCK;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(mbox_lock(fd, path, flags, 0, why), 0);
	assert_int_equal(access(lockpath, F_OK), 0);
	mbox_unlock(fd, path, flags);
	assert_int_equal(access(lockpath, F_OK), -1);
	close(fd);
	vstr_free(why);
}

static void
test_mbox_lock_fails_with_eagain_while_another_process_holds_it(void **state)
{
	VSTR *why = vstr_alloc(16);
	int   fd = open(path, O_RDWR | O_CREAT, 0600);
	int   pfd[2];
	pid_t pid;
	char  c;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	if ((pid = fork()) == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int	     cfd = open(path, O_RDWR);

		if (fcntl(cfd, F_SETLK, &fl) < 0)
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(pfd[0], &c, 1), 1);
	assert_int_equal(mbox_lock(fd, path,
				   MBOX_LOCK_FCNTL | MBOX_LOCK_DOTLOCK, 1, why),
			 -1);
	assert_int_equal(errno, EAGAIN);
	assert_non_null(strstr(VSTR_STR(why), "locked"));
	/* A failed fcntl lock gives the dot-lock back. */
	assert_int_equal(access(lockpath, F_OK), -1);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	assert_int_equal(mbox_lock(fd, path, MBOX_LOCK_FCNTL, 0, why), 0);
	mbox_unlock(fd, path, MBOX_LOCK_FCNTL);
	close(fd);
	close(pfd[0]);
	close(pfd[1]);
	vstr_free(why);
}

static void
test_mbox_lock_waits_for_fresh_dotlock_and_breaks_stale_one(void **state)
{
	VSTR	      *why = vstr_alloc(16);
	int	       fd = open(path, O_RDWR | O_CREAT, 0600);
	int	       lfd = open(lockpath, O_WRONLY | O_CREAT, 0600);
	struct utimbuf old = { .actime = time(NULL) - 3600,
			       .modtime = time(NULL) - 3600 };

	(void)state;
	close(lfd);
	assert_int_equal(mbox_lock(fd, path, MBOX_LOCK_DOTLOCK, 0, why), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(utime(lockpath, &old), 0);
	assert_int_equal(mbox_lock(fd, path, MBOX_LOCK_DOTLOCK, 0, why), 0);
	mbox_unlock(fd, path, MBOX_LOCK_DOTLOCK);
	assert_int_equal(access(lockpath, F_OK), -1);
	close(fd);
	vstr_free(why);
}

static void
test_mbox_lock_refuses_symlinked_dotlock(void **state)
{
	VSTR *why = vstr_alloc(16);
	int   fd = open(path, O_RDWR | O_CREAT, 0600);

	(void)state;
	assert_int_equal(symlink("/nonexistent/target", lockpath), 0);
	assert_int_equal(mbox_lock(fd, path, MBOX_LOCK_DOTLOCK, 0, why), -1);
	unlink(lockpath);
	close(fd);
	vstr_free(why);
}

/* Content records cut anywhere, CR LF split across them included. */
static void
test_mbox_read_queue_turns_crlf_into_lf_across_records(void **state)
{
	static const char *const chunks[] = {
		"a\r\nb\r",
		"\nc\rd\r",
		"\r\ne\r\n",
		"x\r",
	};
	char		qpath[300];
	struct rec_size size;
	REC_WRITER     *w;
	VSTR	       *out = vstr_alloc(64), *why = vstr_alloc(64);
	int		fd;

	(void)state;
	snprintf(qpath, sizeof(qpath), "%s/QUEUEID", dir);
	fd = open(qpath, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	w = rec_writer_create(fd);
	rec_put(w, REC_TYPE_TIME, "1 2", 3);
	rec_put(w, REC_TYPE_FROM, "s@x", 3);
	rec_put(w, REC_TYPE_RCPT, "r@x", 3);
	rec_put(w, REC_TYPE_MESG, "", 0);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		rec_put(w, REC_TYPE_CONT, chunks[i], strlen(chunks[i]));
	rec_put(w, REC_TYPE_XTRA, "", 0);
	assert_int_equal(rec_writer_finish(w), 0);
	rec_writer_size(w, &size);
	rec_writer_free(w);
	assert_int_equal(mbox_read_queue(fd, size.content_offset, out, why), 0);
	assert_int_equal(VSTR_LEN(out), strlen("a\nb\nc\rd\r\ne\nx\r"));
	assert_memory_equal(VSTR_STR(out), "a\nb\nc\rd\r\ne\nx\r",
			    VSTR_LEN(out));
	close(fd);

	unlink(qpath);
	vstr_free(out);
	vstr_free(why);
}

/*
 * Finding 14: the queue file a delivery request names is read only from
 * active/, with a well-formed queue ID, as a regular file owned by the
 * mail system.  Everything else is refused before a byte is read.
 */
static void
test_mbox_load_queue_file_refuses_what_qmgr_would_not_send(void **state)
{
	static const char qid[] = "0000000000z1";
	char		  qdir[300], qpath[400], other[400], fifo[400];
	struct rec_size	  size;
	REC_WRITER	 *w;
	VSTR		 *out = vstr_alloc(64), *why = vstr_alloc(64);
	int		  fd;

	(void)state;
	snprintf(qdir, sizeof(qdir), "%s/active", dir);
	assert_int_equal(mkdir(qdir, 0700), 0);
	snprintf(qpath, sizeof(qpath), "%s/%s", qdir, qid);
	fd = open(qpath, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	w = rec_writer_create(fd);
	rec_put(w, REC_TYPE_TIME, "1 2", 3);
	rec_put(w, REC_TYPE_FROM, "s@x", 3);
	rec_put(w, REC_TYPE_RCPT, "r@x", 3);
	rec_put(w, REC_TYPE_MESG, "", 0);
	rec_put(w, REC_TYPE_CONT, "secret\r\n", 8);
	rec_put(w, REC_TYPE_XTRA, "", 0);
	assert_int_equal(rec_writer_finish(w), 0);
	rec_writer_size(w, &size);
	rec_writer_free(w);
	close(fd);

	/* The good case: active/, a real ID, owned by the expected uid. */
	assert_int_equal(mbox_load_queue_file(dir, "active", qid, geteuid(),
					      size.content_offset, out, why),
			 0);
	assert_memory_equal(VSTR_STR(out), "secret\n", 7);

	/* Another queue, even one that exists, is not for delivery agents. */
	static const char *const queues[] = {
		"incoming", "maildrop", "deferred",	      "hold", "..", ".",
		"",	    "active/",	"incoming/../active",
	};
	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		vstr_strcpy(out, "untouched");
		assert_int_equal(mbox_load_queue_file(dir, queues[i], qid,
						      geteuid(), 0, out, why),
				 -1);
		assert_string_equal(VSTR_STR(why),
				    "bad queue name in delivery request");
		assert_int_equal(VSTR_LEN(out), 0);
	}
	/* IDs that are paths or not queue IDs at all. */
	static const char *const ids[] = {
		"../../../etc/passwd",
		"..",
		".",
		"",
		"0000000000z1/",
		"../active/0000000000z1",
		"QUEUEID",
		"0000000000z1.tmp",
		"0000000000z01",
	};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		assert_int_equal(mbox_load_queue_file(dir, "active", ids[i],
						      geteuid(), 0, out, why),
				 -1);
		assert_string_equal(VSTR_STR(why),
				    "bad queue ID in delivery request");
	}
	/* A file somebody else owns (here: we are not its owner). */
	assert_int_equal(mbox_load_queue_file(dir, "active", qid, geteuid() + 1,
					      size.content_offset, out, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "is owned by uid"));
	assert_int_equal(VSTR_LEN(out), 0);
	/* A symlink to a file we own, and a FIFO (must not block). */
	snprintf(other, sizeof(other), "%s/active/0000000000z2", dir);
	assert_int_equal(symlink(qpath, other), 0);
	assert_int_equal(mbox_load_queue_file(dir, "active", "0000000000z2",
					      geteuid(), 0, out, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "open queue file"));
	unlink(other);
	snprintf(fifo, sizeof(fifo), "%s/active/0000000000z3", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mbox_load_queue_file(dir, "active", "0000000000z3",
					      geteuid(), 0, out, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "not a regular file"));
	unlink(fifo);
	unlink(qpath);
	rmdir(qdir);
	vstr_free(out);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mbox_lock_takes_and_releases_both_locks),
		cmocka_unit_test(
		    test_mbox_lock_fails_with_eagain_while_another_process_holds_it),
		cmocka_unit_test(
		    test_mbox_lock_waits_for_fresh_dotlock_and_breaks_stale_one),
		cmocka_unit_test(test_mbox_lock_refuses_symlinked_dotlock),
		cmocka_unit_test(
		    test_mbox_read_queue_turns_crlf_into_lf_across_records),
		cmocka_unit_test(
		    test_mbox_load_queue_file_refuses_what_qmgr_would_not_send),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
