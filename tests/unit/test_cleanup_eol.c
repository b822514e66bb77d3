/*
 * Unit tests for cleanup_eol: every bare CR and bare LF of the content
 * becomes CRLF before cleanup_content sees it, whatever the pieces the
 * content arrives in (a CR at the end of one frame and its LF at the
 * start of the next is one CRLF).  The queue is a temporary folder; the
 * committed content is read back from the queue file.
 *
 * SPDX-License-Identifier: ISC
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup/cleanup.h"
#include "tests/unit/harness.h"
#include "util/mymalloc.h"

static char dir[64];
static char oldcwd[4096];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_cleanup_eol.XXXXXX");
	if (mkdtemp(dir) == NULL || getcwd(oldcwd, sizeof(oldcwd)) == NULL
	    || chdir(dir) < 0 || mkdir("incoming", 0700) < 0)
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
	c->header_size_limit = 1000;
	c->hopcount_limit = 50;
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
	attr_put_str(a, "origin", "pickup");
	attr_put_str(a, "sender", "s@example.org");
	attr_put_int(a, "nrcpt", 1);
	attr_put_str(r, "addr", "r@example.test");
	attr_put_attr(a, "rcpt0", r);
	attr_free(r);
	return a;
}

/* msg through cleanup_eol in pieces of `piece` bytes; the body back. */
static void
run(const CLEANUP_CONF *c, const char *msg, size_t len, size_t piece,
    VSTR *body)
{
	CLEANUP_STATE	  *st = cleanup_state_alloc(c);
	struct cleanup_eol eol;
	char		   path[128];
	VSTR		  *data = vstr_alloc(100);
	REC_READER	  *r;
	const char	  *cp;
	int		   fd, type;

	cleanup_eol_init(&eol);
	assert_int_equal(cleanup_queue_create(st), 0);
	cleanup_header_begin(st);
	assert_int_equal(cleanup_envelope(st, envelope()), 0);
	for (size_t off = 0; off < len; off += piece)
		cleanup_eol_content(st, &eol, msg + off,
				    len - off < piece ? len - off : piece);
	cleanup_eol_end(st, &eol);
	cleanup_content_end(st);
	assert_int_equal(st->status, CLEANUP_OK);
	rec_put(st->writer, REC_TYPE_XTRA, "", 0);
	assert_int_equal(cleanup_queue_commit(st), 0);
	snprintf(path, sizeof(path), "incoming/%s", VSTR_STR(st->qid));
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	r = rec_reader_create(fd, 0);
	vstr_reset(body);
	while (rec_get(r, &type, data, 1 << 20) == 1)
		if (type == REC_TYPE_CONT)
			vstr_memcat(body, VSTR_STR(data), VSTR_LEN(data));
	rec_reader_free(r);
	close(fd);
	unlink(path);
	/* The body: what follows the first empty line. */
	cp = strstr(VSTR_STR(body), "\r\n\r\n");
	assert_non_null(cp);
	vstr_erase_front(body, (size_t)(cp + 4 - VSTR_STR(body)));
	cleanup_eol_free(&eol);
	cleanup_state_free(st);
	vstr_free(data);
}

static void
test_cleanup_eol_bare_cr_and_lf_become_crlf_in_any_pieces(void **state)
{
	static const char msg[] =
	    "Subject: s\r\n\r\nx\r.\rMAIL FROM:<spoof@evil.test>\r"
	    "y\n.\nz\r\n\r\r\n\n.\r";
	static const char want[] = "x\r\n.\r\nMAIL FROM:<spoof@evil.test>\r\n"
				   "y\r\n.\r\nz\r\n\r\n\r\n\r\n.\r\n";
	CLEANUP_CONF	 *c = conf_new();
	VSTR		 *body = vstr_alloc(100);

	(void)state;
	for (size_t piece = 1; piece <= sizeof(msg); piece++) {
		run(c, msg, sizeof(msg) - 1, piece, body);
		assert_string_equal(VSTR_STR(body), want);
	}
	vstr_free(body);
	myfree(c);
}

static void
test_cleanup_eol_crlf_content_passes_unchanged(void **state)
{
	static const char msg[] = "Subject: s\r\n\r\na\r\n.b\r\n\r\nc\r\n";
	CLEANUP_CONF	 *c = conf_new();
	VSTR		 *body = vstr_alloc(100);

	(void)state;
	for (size_t piece = 1; piece <= sizeof(msg); piece++) {
		run(c, msg, sizeof(msg) - 1, piece, body);
		assert_string_equal(VSTR_STR(body), "a\r\n.b\r\n\r\nc\r\n");
	}
	vstr_free(body);
	myfree(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_cleanup_eol_bare_cr_and_lf_become_crlf_in_any_pieces),
		cmocka_unit_test(
		    test_cleanup_eol_crlf_content_passes_unchanged),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
