/*
 * Unit tests for cleanup_mime, the MIME structure scanner: which lines are
 * part or attached-message header fields and which are body, the
 * Content-Type parser, the nesting limit, long lines, and that any cutting
 * of the input into pieces gives the same result.
 *
 * The scanner's callbacks write a trace: "[M:field]" / "[N:field]" for a
 * header field of a body part / attached message, "|" before a piece that
 * starts a body line, then the piece's bytes, "[E:text]" for the nesting
 * error.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "cleanup/cleanup_mime.h"
#include "tests/unit/harness.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

static void
trace_header(void *ctx, enum cleanup_mime_class cls,
	     const struct header_field *f)
{
	VSTR *t = ctx;

	vstr_strcat(t, cls == CLEANUP_MIME_MULTIPART ? "[M:"
		       : cls == CLEANUP_MIME_NESTED  ? "[N:"
						     : "[P:");
	vstr_memcat(t, f->text, f->len);
	vstr_strcat(t, "]");
}

static void
trace_body(void *ctx, const char *data, size_t len, int flags)
{
	VSTR *t = ctx;

	if (flags & CLEANUP_MIME_START)
		vstr_addch(t, '|');
	vstr_memcat(t, data, len);
}

static void
trace_error(void *ctx, int err, const char *text, size_t len)
{
	VSTR *t = ctx;

	assert_int_equal(err, CLEANUP_MIME_ERR_NESTING);
	vstr_strcat(t, "[E:");
	vstr_memcat(t, text, len);
	vstr_strcat(t, "]");
}

static const struct cleanup_mime_ops trace_ops = {
	trace_header,
	trace_body,
	trace_error,
};

/*
 * Scan msg (a primary header, an empty line, a body) fed in pieces of
 * `piece` bytes; the primary header is split here with util/header, as
 * cleanup does, and is not part of the trace.
 */
static char *
scan(const char *msg, size_t piece, size_t header_limit, long long nesting)
{
	VSTR	     *t = vstr_alloc(256);
	CLEANUP_MIME *m = cleanup_mime_alloc(header_limit, nesting, &trace_ops,
					     t);
	const char   *body = strstr(msg, "\r\n\r\n");
	const char   *cp, *nl;
	size_t	      len, off;
	char	     *out;

	assert_non_null(body);
	for (cp = msg; cp < body + 2; cp = nl + 1) {
		struct header_field f = { 0 };

		nl = strchr(cp, '\n');
		/* one-line fields only in these tests' primary headers */
		f.text = cp;
		f.len = (size_t)(nl - 1 - cp);
		f.name_len = header_name_len(cp, f.len);
		f.value = cp + f.name_len + 2;
		f.value_len = f.len - f.name_len - 2;
		cleanup_mime_primary_field(m, &f);
	}
	cleanup_mime_body_begin(m, true);
	body += 4;
	len = strlen(body);
	for (off = 0; off < len; off += piece)
		cleanup_mime_feed(m, body + off,
				  len - off < piece ? len - off : piece);
	cleanup_mime_end(m);
	cleanup_mime_free(m);
	out = mystrdup(VSTR_STR(t));
	vstr_free(t);
	return out;
}

static const char structured[] =
    "Subject: x\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: text/plain\r\n"
    "X-Folded: a\r\n"
    "\tb\r\n"
    "\r\n"
    "Subject: not a header, body text\r\n"
    "--outer  trailing cruft\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: someone@example.org\r\n"
    "Subject: attached\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Disposition: inline\r\n"
    "\r\n"
    "alt 1\r\n"
    "--inner--\r\n"
    "inner epilogue\r\n"
    "--outer\r\n"
    "no header here\r\n"
    "--outer\r\n"
    "--outer--\r\n"
    "Content-Type: epilogue, body\r\n";

static const char structured_trace[] =
    "|preamble\r\n"
    "|--outer\r\n"
    "[M:Content-Type: text/plain]"
    "[M:X-Folded: a\r\n\tb]"
    "|\r\n"
    "|Subject: not a header, body text\r\n"
    "|--outer  trailing cruft\r\n"
    "[M:Content-Type: message/rfc822]"
    "|\r\n"
    "[N:From: someone@example.org]"
    "[N:Subject: attached]"
    "[N:Content-Type: multipart/alternative; boundary=inner]"
    "|\r\n"
    "|--inner\r\n"
    "[M:Content-Disposition: inline]"
    "|\r\n"
    "|alt 1\r\n"
    "|--inner--\r\n"
    "|inner epilogue\r\n"
    "|--outer\r\n"
    "|no header here\r\n"
    "|--outer\r\n"
    "|--outer--\r\n"
    "|Content-Type: epilogue, body\r\n";

static void
test_cleanup_mime_parts_nested_message_and_epilogue(void **state)
{
	char *t = scan(structured, 1 << 20, 1000, 100);

	(void)state;
	assert_string_equal(t, structured_trace);
	myfree(t);
}

static void
test_cleanup_mime_any_chunking_same_result(void **state)
{
	size_t piece;
	char  *t;

	(void)state;
	for (piece = 1; piece <= sizeof(structured); piece++) {
		t = scan(structured, piece, 1000, 100);
		assert_string_equal(t, structured_trace);
		myfree(t);
	}
}

struct bounds {
	char list[512];
	int  n;
};

static void
collect(void *ctx, const char *b, size_t len)
{
	struct bounds *bs = ctx;
	size_t	       used = strlen(bs->list);

	snprintf(bs->list + used, sizeof(bs->list) - used, "<%.*s>", (int)len,
		 b);
	bs->n++;
}

static void
ctype(const char *v, enum cleanup_mime_type want_t,
      enum cleanup_mime_subtype want_s, const char *want_b)
{
	struct bounds		  bs = { "", 0 };
	enum cleanup_mime_type	  t;
	enum cleanup_mime_subtype s;

	cleanup_mime_parse_ctype(v, strlen(v), &t, &s, collect, &bs);
	assert_int_equal(t, want_t);
	assert_int_equal(s, want_s);
	assert_string_equal(bs.list, want_b);
}

static void
test_cleanup_mime_content_type_parser(void **state)
{
	(void)state;
	ctype("text/plain; charset=us-ascii", CLEANUP_MIME_T_TEXT,
	      CLEANUP_MIME_S_PLAIN, "");
	ctype("TEXT/HTML", CLEANUP_MIME_T_TEXT, CLEANUP_MIME_S_OTHER, "");
	ctype("Multipart/Mixed; BOUNDARY=\"a b\\\"c\"",
	      CLEANUP_MIME_T_MULTIPART, CLEANUP_MIME_S_OTHER, "<a b\"c>");
	ctype("multipart/mixed (comment (nested) here);\r\n\tcharset=x;"
	      "\r\n boundary = simple ; boundary=second",
	      CLEANUP_MIME_T_MULTIPART, CLEANUP_MIME_S_OTHER,
	      "<simple><second>");
	ctype("multipart/digest; boundary=d", CLEANUP_MIME_T_MULTIPART,
	      CLEANUP_MIME_S_DIGEST, "<d>");
	ctype("message/rfc822", CLEANUP_MIME_T_MESSAGE, CLEANUP_MIME_S_RFC822,
	      "");
	ctype("message/global", CLEANUP_MIME_T_MESSAGE, CLEANUP_MIME_S_RFC822,
	      "");
	ctype("message/partial; id=x", CLEANUP_MIME_T_MESSAGE,
	      CLEANUP_MIME_S_OTHER, "");
	/* a boundary outside multipart is no boundary */
	ctype("text/plain; boundary=x", CLEANUP_MIME_T_TEXT,
	      CLEANUP_MIME_S_PLAIN, "");
	ctype("", CLEANUP_MIME_T_OTHER, CLEANUP_MIME_S_OTHER, "");
	ctype("multipart/mixed; boundary=; =x; boundary",
	      CLEANUP_MIME_T_MULTIPART, CLEANUP_MIME_S_OTHER, "");
	ctype("multipart/mixed; boundary=\"unterminated",
	      CLEANUP_MIME_T_MULTIPART, CLEANUP_MIME_S_OTHER, "<unterminated>");
	/* fuzzer finding: a control character made the lexer stand still */
	ctype("multipart/mixed; boundary=1\r\002; boundary=2\001",
	      CLEANUP_MIME_T_MULTIPART, CLEANUP_MIME_S_OTHER, "<1><2>");
	ctype("(unterminated comment", CLEANUP_MIME_T_OTHER,
	      CLEANUP_MIME_S_OTHER, "");
}

static void
test_cleanup_mime_digest_parts_are_messages(void **state)
{
	static const char msg[] =
	    "Content-Type: multipart/digest; boundary=d\r\n\r\n"
	    "--d\r\n"
	    "\r\n"
	    "Subject: first\r\n"
	    "\r\n"
	    "one\r\n"
	    "--d\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "Subject: plain text\r\n"
	    "--d--\r\n";
	char *t = scan(msg, 7, 1000, 100);

	(void)state;
	assert_string_equal(t, "|--d\r\n|\r\n[N:Subject: first]|\r\n|one\r\n"
			       "|--d\r\n[M:Content-Type: text/plain]|\r\n"
			       "|Subject: plain text\r\n|--d--\r\n");
	myfree(t);
}

static void
test_cleanup_mime_nesting_limit_reported_once(void **state)
{
	static const char msg[] =
	    "Content-Type: multipart/mixed; boundary=l1\r\n\r\n"
	    "--l1\r\n"
	    "Content-Type: multipart/mixed; boundary=l2\r\n\r\n"
	    "--l2\r\n"
	    "Content-Type: multipart/mixed; boundary=l3\r\n\r\n"
	    "--l3\r\n"
	    "Content-Type: multipart/mixed; boundary=l4\r\n\r\n"
	    "--l4\r\n"
	    "X-Deep: 1\r\n"
	    "--l2--\r\n"
	    "--l1--\r\n";
	char *t = scan(msg, 3, 1000, 2);

	(void)state;
	/* level 3 is not entered: its boundary lines are plain body */
	assert_string_equal(t,
			    "|--l1\r\n"
			    "[M:Content-Type: multipart/mixed; boundary=l2]|\r\n"
			    "|--l2\r\n"
			    "[E:Content-Type: multipart/mixed; boundary=l3]"
			    "[M:Content-Type: multipart/mixed; boundary=l3]|\r\n"
			    "|--l3\r\n"
			    "|Content-Type: multipart/mixed; boundary=l4\r\n|\r\n"
			    "|--l4\r\n|X-Deep: 1\r\n|--l2--\r\n|--l1--\r\n");
	myfree(t);
	t = scan(msg, 3, 1000, 4);
	assert_null(strstr(t, "[E:"));
	assert_non_null(strstr(t, "[M:X-Deep: 1]"));
	myfree(t);
}

static void
test_cleanup_mime_long_lines(void **state)
{
	VSTR  *msg = vstr_alloc(100000), *want = vstr_alloc(100000);
	size_t i, piece;
	char  *t;

	(void)state;
	vstr_strcat(msg, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			 "--b\r\nX-Long: ");
	for (i = 0; i < 100; i++)
		vstr_strcat(msg, "0123456789");
	vstr_strcat(msg, "\r\n\r\n--b");
	for (i = 0; i < 1000; i++)
		vstr_strcat(msg, "0123456789");
	vstr_strcat(msg, "\r\n--b\r\n");
	for (i = 0; i < 100; i++)
		vstr_strcat(msg, "abcdefghij");
	vstr_strcat(msg, "\r\nContent-Type: text/plain\r\n--b--\r\n");

	/* the field keeps header_limit (50) bytes */
	vstr_strcat(want, "|--b\r\n[M:X-Long: ");
	vstr_strcat(want,
		    "012345678901234567890123456789012345678901]|\r\n|--b");
	for (i = 0; i < 1000; i++)
		vstr_strcat(want, "0123456789");
	/* a long non-field line ends the part header: body, whole */
	vstr_strcat(want, "\r\n|--b\r\n|");
	for (i = 0; i < 100; i++)
		vstr_strcat(want, "abcdefghij");
	vstr_strcat(want, "\r\n|Content-Type: text/plain\r\n|--b--\r\n");
	for (piece = 1; piece < 20000; piece = piece * 3 + 1) {
		t = scan(VSTR_STR(msg), piece, 50, 100);
		assert_string_equal(t, VSTR_STR(want));
		myfree(t);
	}
	vstr_free(msg);
	vstr_free(want);
}

static void
test_cleanup_mime_message_without_mime_is_all_body(void **state)
{
	static const char msg[] =
	    "Subject: plain\r\n\r\n--x\r\nContent-Type: text/plain\r\n"
	    "last line without newline";
	char *t = scan(msg, 5, 1000, 100);

	(void)state;
	assert_string_equal(t, "|--x\r\n|Content-Type: text/plain\r\n"
			       "|last line without newline");
	myfree(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_cleanup_mime_parts_nested_message_and_epilogue),
		cmocka_unit_test(test_cleanup_mime_any_chunking_same_result),
		cmocka_unit_test(test_cleanup_mime_content_type_parser),
		cmocka_unit_test(test_cleanup_mime_digest_parts_are_messages),
		cmocka_unit_test(test_cleanup_mime_nesting_limit_reported_once),
		cmocka_unit_test(test_cleanup_mime_long_lines),
		cmocka_unit_test(
		    test_cleanup_mime_message_without_mime_is_all_body),
	};

	return cmocka_run_group_tests_name("cleanup_mime", tests, NULL, NULL);
}
