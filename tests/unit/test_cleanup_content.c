/*
 * Unit tests for cleanup's content path (header/body split, size limit,
 * queue file commit) with the queue in a temporary folder: the same
 * message cut into pieces of every small size must give the same file.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup/cleanup.h"
#include "tests/unit/harness.h"
#include "util/mymalloc.h"
#include "util/qid.h"
#include "util/safe_file.h"

static char dir[64];
static char oldcwd[4096];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_cleanup_content.XXXXXX");
	if (mkdtemp(dir) == NULL || getcwd(oldcwd, sizeof(oldcwd)) == NULL
	    || chdir(dir) < 0 || mkdir("incoming", 0700) < 0
	    || mkdir("hold", 0700) < 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (chdir(oldcwd) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static CLEANUP_CONF *
conf_new(void)
{
	CLEANUP_CONF *c = mycalloc(1, sizeof(*c));

	c->myhostname = "mx.example.test";
	c->myorigin = "example.test";
	c->mydomain = "example.test";
	c->mydestination = "";
	c->masquerade_domains = "";
	c->masquerade_exceptions = "";
	c->append_at_myorigin = true;
	c->canonical_classes = CLEANUP_CLASS_ALL;
	c->sender_canonical_classes = CLEANUP_CLASS_ALL;
	c->recipient_canonical_classes = CLEANUP_CLASS_ALL;
	c->header_size_limit = 40;
	c->hopcount_limit = 50;
	c->message_size_limit = 100000;
	c->body_checks_size_limit = 51200;
	c->duplicate_filter_limit = 1000;
	c->virtual_alias_recursion_limit = 1000;
	c->virtual_alias_expansion_limit = 1000;
	c->qmgr_service = "qmgr";
	return c;
}

static ATTR *
envelope(void)
{
	ATTR *a = attr_alloc(), *r = attr_alloc();

	attr_put_str(a, "request", "envelope");
	attr_put_str(a, "sender", "s@example.org");
	attr_put_str(a, "client_addr", "192.0.2.1");
	attr_put_str(a, "client_name", "c.example.org");
	attr_put_str(a, "helo", "c.example.org");
	attr_put_str(a, "protocol", "ESMTP");
	attr_put_int(a, "nrcpt", 1);
	attr_put_str(r, "addr", "r@example.test");
	attr_put_attr(a, "rcpt0", r);
	attr_free(r);
	return a;
}

/*
 * Run msg through cleanup in pieces of `piece` bytes; returns the status
 * and puts the committed content (after cleanup's Received) in content.
 */
static enum cleanup_status
run(const CLEANUP_CONF *c, const char *msg, size_t len, size_t piece,
    VSTR *content, VSTR *reply)
{
	CLEANUP_STATE	   *st = cleanup_state_alloc(c);
	enum cleanup_status status;
	char		    path[128];
	VSTR		   *data = vstr_alloc(100);
	REC_READER	   *r;
	int		    fd, type;
	size_t		    off;

	assert_int_equal(cleanup_queue_create(st), 0);
	cleanup_header_begin(st);
	assert_int_equal(cleanup_envelope(st, envelope()), 0);
	for (off = 0; off < len; off += piece)
		cleanup_content(st, msg + off,
				len - off < piece ? len - off : piece);
	cleanup_content_end(st);
	vstr_reset(content);
	if (st->status == CLEANUP_OK) {
		rec_put(st->writer, REC_TYPE_XTRA, "", 0);
		assert_int_equal(cleanup_queue_commit(st), 0);
		snprintf(path, sizeof(path), "incoming/%s", VSTR_STR(st->qid));
		assert_true((fd = open(path, O_RDONLY)) >= 0);
		r = rec_reader_create(fd, 0);
		while (rec_get(r, &type, data, 1 << 20) == 1)
			if (type == REC_TYPE_CONT)
				vstr_memcat(content, VSTR_STR(data),
					    VSTR_LEN(data));
		rec_reader_free(r);
		close(fd);
		unlink(path);
		/* drop cleanup's Received field (3 lines) */
		const char *cp = strstr(VSTR_STR(content), "\r\nSubject");

		if (cp)
			vstr_erase_front(content,
					 (size_t)(cp + 2 - VSTR_STR(content)));
	}
	vstr_strcpy(reply, VSTR_STR(st->reply));
	status = st->status;
	cleanup_state_free(st);
	vstr_free(data);
	return status;
}

static void
test_cleanup_content_any_chunking_same_file(void **state)
{
	static const char msg[] =
	    "Subject: a folded\r\n subject line\r\n"
	    "X-Long: 0123456789012345678901234567890123456789\r\n"
	    "Return-Path: <x@y>\r\n"
	    "To: r@example.test\r\n"
	    "\r\n"
	    "body\r\n\r\nSubject: not a header\r\nno final newline";
	static const char want[] =
	    "Subject: a folded\r\n subject line\r\n"
	    "X-Long: 01234567890123456789012345678901\r\n"
	    "To: r@example.test\r\n"
	    "\r\n"
	    "body\r\n\r\nSubject: not a header\r\nno final newline";
	CLEANUP_CONF *c = conf_new();
	VSTR	     *content = vstr_alloc(100), *reply = vstr_alloc(100);
	size_t	      piece;

	(void)state;
	for (piece = 1; piece <= sizeof(msg); piece++) {
		assert_int_equal(run(c, msg, sizeof(msg) - 1, piece, content,
				     reply),
				 CLEANUP_OK);
		assert_string_equal(VSTR_STR(content), want);
	}
	vstr_free(content);
	vstr_free(reply);
	myfree(c);
}

static void
test_cleanup_content_header_without_body_and_non_header_line(void **state)
{
	CLEANUP_CONF *c = conf_new();
	VSTR	     *content = vstr_alloc(100), *reply = vstr_alloc(100);

	(void)state;
	assert_int_equal(run(c, "Subject: x", 10, 3, content, reply),
			 CLEANUP_OK);
	assert_string_equal(VSTR_STR(content), "Subject: x\r\n");
	assert_int_equal(run(c, "Subject: x\r\nplain text\r\n", 24, 5, content,
			     reply),
			 CLEANUP_OK);
	assert_string_equal(VSTR_STR(content), "Subject: x\r\nplain text\r\n");
	vstr_free(content);
	vstr_free(reply);
	myfree(c);
}

static void
test_cleanup_content_size_limit_and_no_file_left(void **state)
{
	CLEANUP_CONF *c = conf_new();
	VSTR	     *content = vstr_alloc(100), *reply = vstr_alloc(100);
	char	     *big = mymalloc(200000);

	(void)state;
	memset(big, 'x', 200000);
	memcpy(big, "Subject: x\r\n\r\n", 14);
	assert_int_equal(run(c, big, 200000, 65536, content, reply),
			 CLEANUP_REJECT);
	assert_string_equal(VSTR_STR(reply),
			    "552 5.3.4 Message size exceeds fixed limit");
	/* nothing is left in incoming/, not even the temporary */
	assert_int_equal(rmdir("incoming"), 0);
	assert_int_equal(mkdir("incoming", 0700), 0);
	myfree(big);
	vstr_free(content);
	vstr_free(reply);
	myfree(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_cleanup_content_any_chunking_same_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cleanup_content_header_without_body_and_non_header_line,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cleanup_content_size_limit_and_no_file_left, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("cleanup_content", tests, NULL,
					   NULL);
}
