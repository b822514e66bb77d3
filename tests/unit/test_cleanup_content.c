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

/*
 * One message with header fields prepended along the way; the committed
 * file as delivered (rec_content_get) goes into out, and the order of its
 * record types after X into xtra.
 */
static enum cleanup_status
run_prepend(const CLEANUP_CONF *c, const char *const *fields, size_t n,
	    VSTR *out, VSTR *xtra, VSTR *reply)
{
	CLEANUP_STATE	   *st = cleanup_state_alloc(c);
	enum cleanup_status status;
	static const char   msg[] = "Subject: x\r\n\r\nbody\r\n";
	char		    path[128];
	VSTR		   *data = vstr_alloc(100);
	REC_CONTENT	   *rc;
	REC_READER	   *r;
	bool		    in_xtra = false;
	int		    fd, type;

	assert_int_equal(cleanup_queue_create(st), 0);
	cleanup_header_begin(st);
	assert_int_equal(cleanup_envelope(st, envelope()), 0);
	/* Between the envelope and the end: before, in and after content. */
	for (size_t i = 0; i < n && i < 1; i++)
		cleanup_prepend_header(st, fields[i]);
	cleanup_content(st, msg, sizeof(msg) - 1);
	cleanup_content_end(st);
	for (size_t i = 1; i < n; i++)
		cleanup_prepend_header(st, fields[i]);
	vstr_reset(out);
	vstr_reset(xtra);
	if (st->status == CLEANUP_OK) {
		cleanup_queue_extracted(st);
		assert_int_equal(cleanup_queue_commit(st), 0);
		snprintf(path, sizeof(path), "incoming/%s", VSTR_STR(st->qid));
		assert_true((fd = open(path, O_RDONLY)) >= 0);
		assert_int_equal(rec_check_file(fd, data), 0);
		r = rec_reader_create(fd, 0);
		while (rec_get(r, &type, data, 1 << 20) == 1) {
			if (type == REC_TYPE_XTRA)
				in_xtra = true;
			else if (in_xtra)
				vstr_addch(xtra, (char)type);
		}
		rec_reader_free(r);
		rc = rec_content_create(fd, -1);
		while (rec_content_get(rc, &type, data, 1 << 20) == 1)
			vstr_memcat(out, VSTR_STR(data), VSTR_LEN(data));
		rec_content_free(rc);
		close(fd);
		unlink(path);
	}
	vstr_strcpy(reply, VSTR_STR(st->reply));
	status = st->status;
	cleanup_state_free(st);
	vstr_free(data);
	return status;
}

static void
test_cleanup_prepend_stacks_fields_above_the_message(void **state)
{
	static const char *const fields[] = {
		"X-First: 1",
		"Received-SPF: pass (example.org)\r\n\tclient-ip=192.0.2.1",
		"Authentication-Results: mx.example.test; spf=pass",
	};
	CLEANUP_CONF *c = conf_new();
	VSTR	     *out = vstr_alloc(100), *xtra = vstr_alloc(10);
	VSTR	     *reply = vstr_alloc(100);

	(void)state;
	assert_int_equal(run_prepend(c, fields, 3, out, xtra, reply),
			 CLEANUP_OK);
	/* The last call is the topmost line; cleanup's Received comes next. */
	assert_true(strncmp(VSTR_STR(out),
			    "Authentication-Results: mx.example.test; "
			    "spf=pass\r\n"
			    "Received-SPF: pass (example.org)\r\n"
			    "\tclient-ip=192.0.2.1\r\n"
			    "X-First: 1\r\n"
			    "Received: from ",
			    strlen("Authentication-Results: mx.example.test; "
				   "spf=pass\r\n"
				   "Received-SPF: pass (example.org)\r\n"
				   "\tclient-ip=192.0.2.1\r\n"
				   "X-First: 1\r\n"
				   "Received: from "))
		    == 0);
	assert_non_null(
	    strstr(VSTR_STR(out), "\r\nSubject: x\r\n\r\nbody\r\n"));
	/* Written after X (this message has no Message-ID to extract). */
	assert_string_equal(VSTR_STR(xtra), "HHHE");
	vstr_free(out);
	vstr_free(xtra);
	vstr_free(reply);
	myfree(c);
}

static void
test_cleanup_prepend_bound_and_bad_field_defer(void **state)
{
	CLEANUP_CONF *c = conf_new();
	VSTR	     *out = vstr_alloc(100), *xtra = vstr_alloc(10);
	VSTR	     *reply = vstr_alloc(100);
	VSTR	     *big = vstr_alloc(CLEANUP_PREPEND_MAX);
	const char   *fields[3];

	(void)state;
	/* Exactly 64 KiB with the CRLFs: accepted. */
	vstr_strcpy(big, "X-Big: ");
	while (VSTR_LEN(big) < CLEANUP_PREPEND_MAX / 2 - 2)
		vstr_addch(big, 'x');
	fields[0] = fields[1] = VSTR_STR(big);
	assert_int_equal(run_prepend(c, fields, 2, out, xtra, reply),
			 CLEANUP_OK);
	assert_int_equal(VSTR_LEN(out) > CLEANUP_PREPEND_MAX, true);
	/* One byte more: 451, no file. */
	fields[2] = "X: y";
	assert_int_equal(run_prepend(c, fields, 3, out, xtra, reply),
			 CLEANUP_TEMPFAIL);
	assert_string_equal(VSTR_STR(reply),
			    "451 4.3.0 Error: too many added header fields");
	assert_int_equal(rmdir("incoming"), 0);
	assert_int_equal(mkdir("incoming", 0700), 0);
	/* Not one header field: 451 rather than a broken queue file. */
	fields[0] = "X-A: 1\r\nX-B: 2";
	assert_int_equal(run_prepend(c, fields, 1, out, xtra, reply),
			 CLEANUP_TEMPFAIL);
	assert_string_equal(VSTR_STR(reply),
			    "451 4.3.0 Error: internal header field error");
	fields[0] = "No colon";
	assert_int_equal(run_prepend(c, fields, 1, out, xtra, reply),
			 CLEANUP_TEMPFAIL);
	assert_int_equal(rmdir("incoming"), 0);
	assert_int_equal(mkdir("incoming", 0700), 0);
	vstr_free(big);
	vstr_free(out);
	vstr_free(xtra);
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
		cmocka_unit_test_setup_teardown(
		    test_cleanup_prepend_stacks_fields_above_the_message, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_cleanup_prepend_bound_and_bad_field_defer, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("cleanup_content", tests, NULL,
					   NULL);
}
