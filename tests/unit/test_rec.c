/*
 * Unit tests for util/rec: writer/reader round trips, the golden record
 * stream in tests/unit/data/rec, every class of malformed input, and the
 * in-place "recipient done" mark.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/rec.h"
#include "util/vstr.h"

static int
test_fd(void)
{
	int fd = memfd_create("rec", 0);

	assert_true(fd >= 0);
	return fd;
}

static void
put_bytes(int fd, const void *data, size_t len)
{
	assert_int_equal(write(fd, data, len), (ssize_t)len);
}

/* Raw record for hand-made (possibly malformed) files. */
static void
put_raw(int fd, int type, const char *data, size_t len)
{
	unsigned char hdr[2] = { (unsigned char)type, (unsigned char)len };

	assert_true(len < 128);
	put_bytes(fd, hdr, 2);
	put_bytes(fd, data, len);
}

#define PUT(fd, t, s) put_raw((fd), (t), (s), sizeof(s) - 1)

static const char zero_size[] =
    "000000000000000 000000000000000 000000000000000 000000000000000";

/* The valid minimal prefix S T F. */
static void
put_head(int fd)
{
	PUT(fd, 'S', zero_size);
	PUT(fd, 'T', "1700000000 5");
	PUT(fd, 'F', "a@b.example");
}

/* Read everything; return the last rec_get result. */
static int
read_all(int fd, size_t maxlen, VSTR *why)
{
	REC_READER *r = rec_reader_create(fd, 0);
	VSTR	   *data = vstr_alloc(0);
	int	    type;
	int	    ret;

	while ((ret = rec_get(r, &type, data, maxlen)) > 0)
		/* void */;
	vstr_strcpy(why, rec_reader_why(r));
	if (ret < 0)
		assert_int_equal(rec_get(r, &type, data, maxlen), -1);
	rec_reader_free(r);
	vstr_free(data);
	return ret;
}

static void
test_rec_round_trip_with_large_content(void **state)
{
	int		fd = test_fd();
	REC_WRITER     *w = rec_writer_create(fd);
	REC_READER     *r;
	VSTR	       *data = vstr_alloc(0);
	VSTR	       *content = vstr_alloc(0);
	VSTR	       *why = vstr_alloc(0);
	struct rec_size size;
	struct rec_size got;
	off_t		rcpt_off[3];
	char		line[80];
	int		type;
	int		nrcpt = 0;
	int		nchunks = 0;
	int		i;

	(void)state;
	assert_int_equal(rec_putf(w, REC_TYPE_TIME, "%d %d", 1700000000, 7), 0);
	assert_int_equal(rec_put(w, REC_TYPE_FROM, "", 0), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(rec_putf(w, REC_TYPE_RCPT, "r%d@x.example", i),
				 0);
		rcpt_off[i] = rec_writer_last_offset(w);
	}
	/* 200 KB in short lines: must leave as a few large records. */
	for (i = 0; i < 4000; i++) {
		snprintf(line, sizeof(line),
			 "line %06d of the body, "
			 "padded to fifty bytes..\r\n",
			 i);
		assert_int_equal(strlen(line), 50);
		vstr_strcat(content, line);
		assert_int_equal(rec_put_content(w, line, 50), 0);
	}
	assert_int_equal(rec_put(w, REC_TYPE_XTRA, "", 0), 0);
	assert_int_equal(rec_put(w, REC_TYPE_MSGID, "<m@x>", 5), 0);
	assert_int_equal(rec_writer_finish(w), 0);
	rec_writer_size(w, &size);
	assert_int_equal(size.message_size, 200000);
	assert_int_equal(size.rcpt_count, 3);
	rec_writer_free(w);

	assert_int_equal(rec_check_file(fd, why), 0);
	r = rec_reader_create(fd, 0);
	assert_int_equal(rec_get(r, &type, data, 0), 1);
	assert_int_equal(type, REC_TYPE_SIZE);
	assert_int_equal(rec_size_parse(VSTR_STR(data), VSTR_LEN(data), &got),
			 0);
	assert_memory_equal(&got, &size, sizeof(got));
	vstr_reset(why);
	while (rec_get(r, &type, data, 0) > 0) {
		if (type == REC_TYPE_RCPT) {
			assert_int_equal(rec_reader_offset(r), rcpt_off[nrcpt]);
			nrcpt++;
		}
		if (type == REC_TYPE_CONT) {
			assert_true(VSTR_LEN(data) <= REC_CONT_CHUNK);
			vstr_memcat(why, VSTR_STR(data), VSTR_LEN(data));
			nchunks++;
		}
	}
	assert_int_equal(nrcpt, 3);
	assert_int_equal(nchunks, 4); /* 200000 / 65536, rounded up */
	assert_int_equal(VSTR_LEN(why), VSTR_LEN(content));
	assert_memory_equal(VSTR_STR(why), VSTR_STR(content), VSTR_LEN(why));

	/* The queue manager skips the content through the S offsets. */
	assert_int_equal(rec_reader_seek(r, got.extract_offset, REC_TYPE_XTRA),
			 0);
	assert_int_equal(rec_get(r, &type, data, 0), 1);
	assert_int_equal(type, REC_TYPE_XTRA);
	assert_int_equal(rec_get(r, &type, data, 0), 1);
	assert_int_equal(type, REC_TYPE_MSGID);
	assert_string_equal(VSTR_STR(data), "<m@x>");
	assert_int_equal(rec_get(r, &type, data, 0), 1);
	assert_int_equal(type, REC_TYPE_END);
	assert_int_equal(rec_get(r, &type, data, 0), 0);
	rec_reader_free(r);
	vstr_free(data);
	vstr_free(content);
	vstr_free(why);
	close(fd);
}

static void
test_rec_mark_done_in_place(void **state)
{
	int		fd = test_fd();
	REC_WRITER     *w = rec_writer_create(fd);
	REC_READER     *r;
	VSTR	       *data = vstr_alloc(0);
	VSTR	       *why = vstr_alloc(0);
	off_t		off[2];
	off_t		len_before;
	struct rec_size size;
	char		ch;
	int		type;
	int		seen = 0;

	(void)state;
	rec_put(w, REC_TYPE_TIME, "1 2", 3);
	rec_put(w, REC_TYPE_FROM, "s@x", 3);
	rec_put(w, REC_TYPE_RCPT, "a@x", 3);
	off[0] = rec_writer_last_offset(w);
	rec_put(w, REC_TYPE_RCPT, "b@x", 3);
	off[1] = rec_writer_last_offset(w);
	rec_put_content(w, "R\r\n", 3);
	assert_int_equal(rec_writer_finish(w), 0);
	rec_writer_size(w, &size);
	rec_writer_free(w);
	len_before = lseek(fd, 0, SEEK_END);

	assert_int_equal(rec_mark_done(fd, off[1]), 0);
	assert_int_equal(rec_mark_done(fd, off[1]), 0); /* idempotent */
	assert_int_equal(lseek(fd, 0, SEEK_END), len_before);
	/* Not a recipient record: refused, file untouched. */
	assert_int_equal(rec_mark_done(fd, off[1] + 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(rec_mark_done(fd, 0), -1);
	assert_int_equal(rec_mark_done(fd, len_before + 10), -1);
	/* An 'R' in the content (after M and the C header) stays as it is. */
	assert_int_equal(rec_mark_done(fd, size.content_offset + 4), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(pread(fd, &ch, 1, size.content_offset + 4), 1);
	assert_int_equal(ch, 'R');
	assert_int_equal(rec_check_file(fd, why), 0);

	r = rec_reader_create(fd, 0);
	while (rec_get(r, &type, data, 0) > 0) {
		if (rec_reader_offset(r) == off[0]) {
			assert_int_equal(type, REC_TYPE_RCPT);
			seen++;
		} else if (rec_reader_offset(r) == off[1]) {
			assert_int_equal(type, REC_TYPE_DONE);
			assert_string_equal(VSTR_STR(data), "b@x");
			seen++;
		}
	}
	assert_int_equal(seen, 2);
	rec_reader_free(r);
	vstr_free(data);
	vstr_free(why);
	close(fd);
}

/* Each builder makes one malformed file; why must contain the text. */
struct bad_case {
	const char *name;
	void (*build)(int fd);
	size_t	    maxlen;
	const char *why;
};

static void
bad_empty(int fd)
{
	(void)fd;
}

static void
bad_unknown_type(int fd)
{
	put_head(fd);
	PUT(fd, 'Z', "x");
}

static void
bad_first_not_size(int fd)
{
	PUT(fd, 'T', "1 2");
}

static void
bad_past_bound(int fd)
{
	put_head(fd);
	PUT(fd, 'R',
	    "a-recipient-address-of-eighty-bytes-which-is-past-the-"
	    "test-bound@example.com");
}

static void
bad_header_truncated(int fd)
{
	put_head(fd);
	put_bytes(fd, "R", 1);
}

static void
bad_varint_too_long(int fd)
{
	put_head(fd);
	put_bytes(fd, "R\x80\x80\x80\x80\x01", 6);
}

static void
bad_varint_not_minimal(int fd)
{
	put_head(fd);
	put_bytes(fd,
		  "R\x83\x00"
		  "abc",
		  6);
}

static void
bad_eof_in_record(int fd)
{
	put_head(fd);
	put_bytes(fd,
		  "R\x7f"
		  "abc",
		  5);
}

static void
bad_huge_length_short_file(int fd)
{
	put_head(fd);
	put_bytes(fd,
		  "R\xff\xff\xff\x7f"
		  "abc",
		  8);
}

static void
bad_rcpt_in_content(int fd)
{
	put_head(fd);
	PUT(fd, 'M', "");
	PUT(fd, 'R', "late@x");
}

static void
bad_content_before_sender(int fd)
{
	PUT(fd, 'S', zero_size);
	PUT(fd, 'T', "1 2");
	PUT(fd, 'M', "");
}

static void
bad_duplicate_time(int fd)
{
	put_head(fd);
	PUT(fd, 'T', "1 2");
}

static void
bad_orphan_orig(int fd)
{
	put_head(fd);
	PUT(fd, 'O', "orig@x");
	PUT(fd, 'M', "");
}

static void
bad_data_after_end(int fd)
{
	put_head(fd);
	PUT(fd, 'M', "");
	PUT(fd, 'X', "");
	PUT(fd, 'E', "");
	PUT(fd, 'E', "");
}

static void
bad_no_end(int fd)
{
	put_head(fd);
	PUT(fd, 'M', "");
	PUT(fd, 'C', "body");
	PUT(fd, 'X', "");
}

static void
bad_nul_in_text(int fd)
{
	put_head(fd);
	PUT(fd, 'R', "a\0b@x");
}

static void
bad_time_syntax(int fd)
{
	PUT(fd, 'S', zero_size);
	PUT(fd, 'T', "-1 5");
}

static void
bad_size_syntax(int fd)
{
	PUT(fd, 'S',
	    "000000000000000 000000000000000 00000000000000x "
	    "000000000000000");
}

static void
bad_marker_payload(int fd)
{
	put_head(fd);
	PUT(fd, 'M', "x");
}

static void
bad_notify(int fd)
{
	put_head(fd);
	PUT(fd, 'N', "3"); /* NEVER with SUCCESS */
}

static void
bad_ret(int fd)
{
	put_head(fd);
	PUT(fd, 'K', "SOME");
}

static void
bad_size_mismatch(int fd)
{
	put_head(fd);
	PUT(fd, 'R', "a@x");
	PUT(fd, 'M', "");
	PUT(fd, 'X', "");
	PUT(fd, 'E', "");
}

static void
bad_prepend_in_envelope(int fd)
{
	put_head(fd);
	PUT(fd, 'H', "X-A: 1\r\n");
}

static void
bad_prepend_in_content(int fd)
{
	put_head(fd);
	PUT(fd, 'M', "");
	PUT(fd, 'C', "Subject: x\r\n\r\n");
	PUT(fd, 'H', "X-A: 1\r\n");
}

/* After X, where H belongs, but not one well-formed header field. */
static void
put_bad_prepend(int fd, const char *field, size_t len)
{
	put_head(fd);
	PUT(fd, 'M', "");
	PUT(fd, 'X', "");
	put_raw(fd, 'H', field, len);
	PUT(fd, 'E', "");
}

#define BAD_PREPEND(name, field) \
	static void name(int fd) \
	{ \
		put_bad_prepend(fd, field, sizeof(field) - 1); \
	}
BAD_PREPEND(bad_prepend_no_crlf, "X-A: 1")
BAD_PREPEND(bad_prepend_bare_lf, "X-A: 1\nX-B: 2\r\n")
BAD_PREPEND(bad_prepend_bare_cr, "X-A: 1\rX-B: 2\r\n")
BAD_PREPEND(bad_prepend_two_fields, "X-A: 1\r\nX-B: 2\r\n")
BAD_PREPEND(bad_prepend_no_colon, "X-A 1\r\n")
BAD_PREPEND(bad_prepend_empty_name, ": 1\r\n")
BAD_PREPEND(bad_prepend_space_in_name, "X A: 1\r\n")
BAD_PREPEND(bad_prepend_control, "X-A: 1\x01\r\n")
BAD_PREPEND(bad_prepend_empty, "")

static const struct bad_case bad_cases[] = {
	{ "H in envelope", bad_prepend_in_envelope, 0,
	  "prepended header record: record not allowed in the envelope" },
	{ "H in content", bad_prepend_in_content, 0,
	  "prepended header record: record not allowed in the content" },
	{ "H without CRLF", bad_prepend_no_crlf, 0,
	  "malformed prepended header" },
	{ "H bare LF", bad_prepend_bare_lf, 0, "malformed prepended header" },
	{ "H bare CR", bad_prepend_bare_cr, 0, "malformed prepended header" },
	{ "H two fields", bad_prepend_two_fields, 0,
	  "malformed prepended header" },
	{ "H no colon", bad_prepend_no_colon, 0, "malformed prepended header" },
	{ "H empty name", bad_prepend_empty_name, 0,
	  "malformed prepended header" },
	{ "H space in name", bad_prepend_space_in_name, 0,
	  "malformed prepended header" },
	{ "H control byte", bad_prepend_control, 0,
	  "malformed prepended header" },
	{ "H empty", bad_prepend_empty, 0, "malformed prepended header" },
	{ "empty", bad_empty, 0, "ends before the end record" },
	{ "unknown type", bad_unknown_type, 0, "unknown record type 0x5a" },
	{ "first not size", bad_first_not_size, 0, "not the size record" },
	{ "past bound", bad_past_bound, 64, "length 76 past bound 64" },
	{ "header truncated", bad_header_truncated, 0,
	  "inside a recipient "
	  "record header" },
	{ "varint too long", bad_varint_too_long, 0, "longer than 4 bytes" },
	{ "varint not minimal", bad_varint_not_minimal, 0, "non-minimal" },
	{ "eof in record", bad_eof_in_record, 0, "ends inside a recipient" },
	{ "huge length", bad_huge_length_short_file, 0, "ends inside" },
	{ "rcpt in content", bad_rcpt_in_content, 0,
	  "not allowed in the "
	  "content" },
	{ "content before sender", bad_content_before_sender, 0,
	  "before arrival time and sender" },
	{ "duplicate time", bad_duplicate_time, 0, "duplicate envelope" },
	{ "orphan orig", bad_orphan_orig, 0, "options without recipient" },
	{ "data after end", bad_data_after_end, 0, "after the end record" },
	{ "no end", bad_no_end, 0, "ends before the end record" },
	{ "nul in text", bad_nul_in_text, 0, "NUL byte" },
	{ "time syntax", bad_time_syntax, 0, "malformed time" },
	{ "size syntax", bad_size_syntax, 0, "malformed size" },
	{ "marker payload", bad_marker_payload, 0, "marker record with" },
	{ "notify", bad_notify, 0, "malformed NOTIFY" },
	{ "ret", bad_ret, 0, "malformed RET" },
};

static void
test_rec_rejects_every_malformed_class(void **state)
{
	VSTR  *why = vstr_alloc(0);
	size_t i;
	int    fd;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		fd = test_fd();
		bad_cases[i].build(fd);
		errno = 0;
		if (read_all(fd, bad_cases[i].maxlen, why) != -1)
			fail_msg("%s: accepted", bad_cases[i].name);
		assert_int_equal(errno, EBADMSG);
		if (strstr(VSTR_STR(why), bad_cases[i].why) == NULL)
			fail_msg("%s: why \"%s\" lacks \"%s\"",
				 bad_cases[i].name, VSTR_STR(why),
				 bad_cases[i].why);
		if (bad_cases[i].maxlen == 0) {
			assert_int_equal(rec_check_file(fd, why), -1);
			assert_int_equal(errno, EBADMSG);
			assert_non_null(
			    strstr(VSTR_STR(why), bad_cases[i].why));
		}
		close(fd);
	}
	vstr_free(why);
}

static void
test_rec_check_file_cross_checks_size_record(void **state)
{
	VSTR *why = vstr_alloc(0);
	int   fd = test_fd();

	(void)state;
	bad_size_mismatch(fd);
	assert_int_equal(read_all(fd, 0, why), 0); /* stream is fine */
	assert_int_equal(rec_check_file(fd, why), -1);
	assert_int_equal(errno, EBADMSG);
	assert_non_null(strstr(VSTR_STR(why), "does not match"));
	vstr_free(why);
	close(fd);
}

#define AR_FIELD \
	"Authentication-Results: mx.example;\r\n" \
	"\tspf=pass smtp.mailfrom=x\r\n"

/* A file with content, then H fields, written by the real writer. */
static void
write_with_prepend(int fd, const char *content, size_t len)
{
	REC_WRITER *w = rec_writer_create(fd);

	assert_int_equal(rec_put(w, REC_TYPE_TIME, "1 2", 3), 0);
	assert_int_equal(rec_put(w, REC_TYPE_FROM, "s@x", 3), 0);
	assert_int_equal(rec_put(w, REC_TYPE_RCPT, "r@x", 3), 0);
	assert_int_equal(rec_put_content(w, content, len), 0);
	assert_int_equal(rec_put(w, REC_TYPE_XTRA, "", 0), 0);
	assert_int_equal(rec_put(w, REC_TYPE_PREPEND, AR_FIELD,
				 sizeof(AR_FIELD) - 1),
			 0);
	assert_int_equal(rec_put(w, REC_TYPE_MSGID, "<m@x>", 5), 0);
	assert_int_equal(rec_put(w, REC_TYPE_PREPEND, "Received-SPF: pass\r\n",
				 20),
			 0);
	assert_int_equal(rec_writer_finish(w), 0);
	rec_writer_free(w);
}

static void
test_rec_prepend_written_read_and_counted(void **state)
{
	int		fd = test_fd();
	REC_WRITER     *w;
	REC_READER     *r;
	VSTR	       *data = vstr_alloc(0);
	VSTR	       *why = vstr_alloc(0);
	struct rec_size size;
	int		type;
	int		nprepend = 0;

	(void)state;
	write_with_prepend(fd, "Subject: x\r\n\r\nbody\r\n", 20);
	/* The size as delivered: 20 content + 64 + 20 prepended bytes. */
	assert_int_equal(rec_check_file(fd, why), 0);
	r = rec_reader_create(fd, 0);
	assert_int_equal(rec_get(r, &type, data, 0), 1);
	assert_int_equal(rec_size_parse(VSTR_STR(data), VSTR_LEN(data), &size),
			 0);
	assert_int_equal(size.message_size, 104);
	while (rec_get(r, &type, data, 0) > 0)
		if (type == REC_TYPE_PREPEND)
			nprepend++;
	assert_int_equal(nprepend, 2);
	assert_string_equal(rec_reader_why(r), "");
	rec_reader_free(r);
	close(fd);

	/* The writer's own count, before the file is finished, agrees. */
	fd = test_fd();
	w = rec_writer_create(fd);
	rec_put(w, REC_TYPE_TIME, "1 2", 3);
	rec_put(w, REC_TYPE_FROM, "", 0);
	rec_put_content(w, "a\r\n", 3);
	rec_put(w, REC_TYPE_XTRA, "", 0);
	rec_put(w, REC_TYPE_PREPEND, "X-A: 1\r\n", 8);
	rec_writer_size(w, &size);
	assert_int_equal(size.message_size, 11);
	rec_writer_free(w);
	close(fd);
	vstr_free(data);
	vstr_free(why);
}

/* An S record that counts only C payloads is wrong once H records exist. */
static void
test_rec_check_file_counts_prepend_in_size(void **state)
{
	static const char size_c_only[] =
	    "000000000000092 000000000000102 000000000000006 000000000000000";
	VSTR *why = vstr_alloc(0);
	int   fd = test_fd();

	(void)state;
	PUT(fd, 'S', size_c_only);
	PUT(fd, 'T', "1700000000 5");
	PUT(fd, 'F', "a@b.example");
	PUT(fd, 'M', "");
	PUT(fd, 'C', "body\r\n");
	PUT(fd, 'X', "");
	PUT(fd, 'H', "X-A: 1\r\n");
	PUT(fd, 'E', "");
	assert_int_equal(read_all(fd, 0, why), 0); /* the stream is fine */
	assert_int_equal(rec_check_file(fd, why), -1);
	assert_int_equal(errno, EBADMSG);
	assert_non_null(strstr(VSTR_STR(why), "(92 102 6 0) does not match "
					      "the file (92 102 14 0)"));
	vstr_free(why);
	close(fd);
}

static void
test_rec_writer_panics_on_prepend_before_extract(void **state)
{
	int	    fd = test_fd();
	REC_WRITER *w = rec_writer_create(fd);

	(void)state;
	rec_put(w, REC_TYPE_TIME, "1 2", 3);
	rec_put(w, REC_TYPE_FROM, "", 0);
	EXPECT_FATAL(rec_put(w, REC_TYPE_PREPEND, "X-A: 1\r\n", 8),
		     "not allowed in the envelope");
	rec_put_content(w, "a\r\n", 3);
	EXPECT_FATAL(rec_put(w, REC_TYPE_PREPEND, "X-A: 1\r\n", 8),
		     "not allowed in the content");
	rec_writer_free(w);
	close(fd);
}

/* All content as rec_content_get yields it, with each piece's type. */
static int
content_all(int fd, off_t offset, VSTR *out, VSTR *types, VSTR *why)
{
	REC_CONTENT *c = rec_content_create(fd, offset);
	VSTR	    *data = vstr_alloc(0);
	int	     type;
	int	     ret;

	vstr_reset(out);
	vstr_reset(types);
	while ((ret = rec_content_get(c, &type, data, 0)) > 0) {
		vstr_memcat(out, VSTR_STR(data), VSTR_LEN(data));
		vstr_addch(types, (char)type);
	}
	vstr_strcpy(why, rec_content_why(c));
	if (ret < 0) {
		/* Sticky, like rec_get. */
		assert_int_equal(rec_content_get(c, &type, data, 0), -1);
		assert_int_equal(errno, EBADMSG);
	} else {
		assert_int_equal(rec_content_get(c, &type, data, 0), 0);
	}
	rec_content_free(c);
	vstr_free(data);
	return ret;
}

static void
test_rec_content_yields_prepend_then_content(void **state)
{
	int		fd = test_fd();
	VSTR	       *content = vstr_alloc(0);
	VSTR	       *out = vstr_alloc(0);
	VSTR	       *types = vstr_alloc(0);
	VSTR	       *why = vstr_alloc(0);
	VSTR	       *want = vstr_alloc(0);
	struct rec_size size;
	char		sbuf[REC_SIZE_LEN];
	int		i;

	(void)state;
	/* 150 KB: three C chunks after the two H fields. */
	vstr_strcat(content, "Subject: big\r\n\r\n");
	for (i = 0; i < 3000; i++)
		vstr_strcat(content, "0123456789012345678901234567890123456789"
				     "012345678\r\n");
	write_with_prepend(fd, VSTR_STR(content), VSTR_LEN(content));
	assert_int_equal(pread(fd, sbuf, sizeof(sbuf), REC_SIZE_PAYLOAD_OFFSET),
			 (ssize_t)sizeof(sbuf));
	assert_int_equal(rec_size_parse(sbuf, sizeof(sbuf), &size), 0);

	/* First H record topmost, then the content byte for byte. */
	vstr_strcpy(want, AR_FIELD "Received-SPF: pass\r\n");
	vstr_memcat(want, VSTR_STR(content), VSTR_LEN(content));
	assert_int_equal(content_all(fd, size.content_offset, out, types, why),
			 0);
	assert_string_equal(VSTR_STR(types), "HHCCC");
	assert_int_equal(VSTR_LEN(out), VSTR_LEN(want));
	assert_memory_equal(VSTR_STR(out), VSTR_STR(want), VSTR_LEN(out));
	assert_int_equal((off_t)VSTR_LEN(out), size.message_size);
	/* -1: the offset comes from the size record. */
	assert_int_equal(content_all(fd, -1, out, types, why), 0);
	assert_string_equal(VSTR_STR(types), "HHCCC");
	/* A caller whose offset disagrees with the file is refused. */
	assert_int_equal(content_all(fd, size.content_offset + 1, out, types,
				     why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "does not match"));
	close(fd);

	/* No H records: the content alone, as before. */
	fd = test_fd();
	{
		REC_WRITER *w = rec_writer_create(fd);

		rec_put(w, REC_TYPE_TIME, "1 2", 3);
		rec_put(w, REC_TYPE_FROM, "", 0);
		rec_put_content(w, "a\r\n", 3);
		assert_int_equal(rec_writer_finish(w), 0);
		rec_writer_free(w);
	}
	assert_int_equal(content_all(fd, -1, out, types, why), 0);
	assert_string_equal(VSTR_STR(types), "C");
	assert_string_equal(VSTR_STR(out), "a\r\n");
	close(fd);
	vstr_free(content);
	vstr_free(out);
	vstr_free(types);
	vstr_free(why);
	vstr_free(want);
}

/* A corrupt H record fails the content reader before any content. */
static void
test_rec_content_rejects_corrupt_prepend(void **state)
{
	int   fd = test_fd();
	VSTR *out = vstr_alloc(0);
	VSTR *types = vstr_alloc(0);
	VSTR *why = vstr_alloc(0);

	(void)state;
	write_with_prepend(fd, "a\r\n", 3);
	/* Turn the fold of the first H field into a bare LF. */
	{
		struct rec_size size;
		char		sbuf[REC_SIZE_LEN];
		char		buf[256];
		char	       *cr;
		ssize_t		n;

		assert_int_equal(pread(fd, sbuf, sizeof(sbuf),
				       REC_SIZE_PAYLOAD_OFFSET),
				 (ssize_t)sizeof(sbuf));
		assert_int_equal(rec_size_parse(sbuf, sizeof(sbuf), &size), 0);
		n = pread(fd, buf, sizeof(buf), size.extract_offset);
		assert_true(n > 40);
		cr = memchr(buf, '\r', (size_t)n);
		assert_non_null(cr);
		assert_int_equal(pwrite(fd, " ", 1,
					size.extract_offset + (cr - buf)),
				 1);
	}
	assert_int_equal(content_all(fd, -1, out, types, why), -1);
	assert_int_equal(VSTR_LEN(out), 0);
	assert_non_null(strstr(VSTR_STR(why), "malformed prepended header"));
	assert_int_equal(rec_check_file(fd, why), -1);
	close(fd);

	/* An extract offset in S that points at a C record, not at X. */
	fd = test_fd();
	PUT(fd, 'S',
	    "000000000000092 000000000000094 000000000000003 000000000000000");
	PUT(fd, 'T', "1700000000 5");
	PUT(fd, 'F', "a@b.example");
	PUT(fd, 'M', "");
	PUT(fd, 'C', "a\r\n");
	PUT(fd, 'X', "");
	PUT(fd, 'E', "");
	assert_int_equal(content_all(fd, -1, out, types, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "no extracted start record"));
	close(fd);
	vstr_free(out);
	vstr_free(types);
	vstr_free(why);
}

static void
test_rec_prepend_ok_accepts_folded_utf8_fields(void **state)
{
	static const char *const good[] = {
		"X-A: 1\r\n",
		"X-A:\r\n",
		"Authentication-Results: mx.example;\r\n\tdkim=pass\r\n"
		" header.d=example.org\r\n",
		"Subject: gr\xc3\xbc\xc3\x9f"
		"e\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (rec_prepend_ok(good[i], strlen(good[i])) < 0)
			fail_msg("refused: %s", good[i]);
	assert_int_equal(rec_prepend_ok("X-\xc3\xbc: 1\r\n", 11), -1);
	assert_int_equal(rec_prepend_ok("X-A: 1\r\n\r\n", 10), -1);
	assert_int_equal(rec_prepend_ok("X-A: 1\r\n", 7), -1);
}

static void
test_rec_reader_respects_vstr_limit(void **state)
{
	int	    fd = test_fd();
	REC_READER *r = rec_reader_create(fd, 0);
	VSTR	   *data = vstr_alloc(0);
	int	    type;

	(void)state;
	put_head(fd);
	vstr_set_limit(data, 10);
	assert_int_equal(rec_get(r, &type, data, 0), -1);
	assert_int_equal(errno, EBADMSG);
	assert_non_null(strstr(rec_reader_why(r), "buffer limit"));
	rec_reader_free(r);
	vstr_free(data);
	close(fd);
}

static void
test_rec_writer_errors_are_sticky(void **state)
{
	int	    fd = open("/dev/null", O_RDONLY);
	REC_WRITER *w;
	char	    big[REC_CONT_CHUNK * 2];

	(void)state;
	assert_true(fd >= 0);
	memset(big, 'x', sizeof(big));
	w = rec_writer_create(fd);
	rec_put(w, REC_TYPE_TIME, "1 2", 3);
	rec_put(w, REC_TYPE_FROM, "", 0);
	/* Large content forces a write, which fails on a read-only fd. */
	assert_int_equal(rec_put_content(w, big, sizeof(big)), -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(rec_put(w, REC_TYPE_XTRA, "", 0), -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(rec_writer_finish(w), -1);
	assert_int_equal(errno, EBADF);
	rec_writer_free(w);
	close(fd);
}

static void
test_rec_writer_panics_on_layout_bug(void **state)
{
	int	    fd = test_fd();
	REC_WRITER *w = rec_writer_create(fd);

	(void)state;
	EXPECT_FATAL(rec_put(w, REC_TYPE_MSGID, "<x>", 3),
		     "not allowed in the envelope");
	rec_writer_free(w);
	close(fd);
}

/* Golden stream: "<type> <payload with \r \n \t \\ escapes>" per line. */
static size_t
unescape(const char *in, char *out)
{
	size_t n = 0;

	for (; *in; in++) {
		if (*in == '\\' && in[1]) {
			in++;
			out[n++] = *in == 'r'	? '\r'
				   : *in == 'n' ? '\n'
				   : *in == 't' ? '\t'
						: *in;
		} else {
			out[n++] = *in;
		}
	}
	return n;
}

static void
dump_record(VSTR *out, off_t off, int type, const VSTR *data)
{
	size_t	      i;
	unsigned char ch;

	vstr_sprintf_append(out, "%06jd %c %zu ", (intmax_t)off, type,
			    VSTR_LEN(data));
	for (i = 0; i < VSTR_LEN(data); i++) {
		ch = (unsigned char)VSTR_STR(data)[i];
		if (ch == '\\')
			vstr_strcat(out, "\\\\");
		else if (isprint(ch))
			vstr_addch(out, ch);
		else
			vstr_sprintf_append(out, "\\x%02x", ch);
	}
	vstr_addch(out, '\n');
}

static void
test_rec_golden_stream(void **state)
{
	char	    dir[512];
	char	    path[600];
	char	    line[1024];
	char	    payload[1024];
	off_t	    rcpt_off[16];
	int	    nrcpt = 0;
	FILE	   *fp;
	int	    fd = test_fd();
	REC_WRITER *w = rec_writer_create(fd);
	REC_READER *r;
	VSTR	   *dump = vstr_alloc(0);
	VSTR	   *data = vstr_alloc(0);
	VSTR	   *ref = vstr_alloc(0);
	size_t	    n;
	int	    type;
	char	   *slash;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", __FILE__);
	slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = 0;
	snprintf(path, sizeof(path), "%s/data/rec/basic.in", dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#' || line[0] == 0)
			continue;
		if (strncmp(line, "!done ", 6) == 0) {
			assert_int_equal(rec_writer_finish(w), 0);
			assert_int_equal(rec_mark_done(fd,
						       rcpt_off[atoi(line + 6)
								- 1]),
					 0);
			continue;
		}
		n = line[1] ? unescape(line + 2, payload) : 0;
		if (line[0] == 'M')
			continue; /* the writer starts content itself */
		assert_int_equal(rec_put(w, line[0], payload, n), 0);
		if (line[0] == REC_TYPE_RCPT)
			rcpt_off[nrcpt++] = rec_writer_last_offset(w);
	}
	fclose(fp);
	rec_writer_free(w);

	r = rec_reader_create(fd, 0);
	while (rec_get(r, &type, data, 0) > 0)
		dump_record(dump, rec_reader_offset(r), type, data);
	assert_string_equal(rec_reader_why(r), "");
	rec_reader_free(r);

	snprintf(path, sizeof(path), "%s/data/rec/basic.ref", dir);
	if (getenv("REC_GOLDEN_WRITE")) {
		fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(VSTR_STR(dump), fp);
		fclose(fp);
	}
	fp = fopen(path, "r");
	assert_non_null(fp);
	while ((n = fread(line, 1, sizeof(line), fp)) > 0)
		vstr_memcat(ref, line, n);
	fclose(fp);
	assert_string_equal(VSTR_STR(dump), VSTR_STR(ref));
	vstr_free(dump);
	vstr_free(data);
	vstr_free(ref);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_round_trip_with_large_content),
		cmocka_unit_test(test_rec_mark_done_in_place),
		cmocka_unit_test(test_rec_rejects_every_malformed_class),
		cmocka_unit_test(test_rec_check_file_cross_checks_size_record),
		cmocka_unit_test(test_rec_reader_respects_vstr_limit),
		cmocka_unit_test(test_rec_writer_errors_are_sticky),
		cmocka_unit_test(test_rec_writer_panics_on_layout_bug),
		cmocka_unit_test(test_rec_golden_stream),
		cmocka_unit_test(test_rec_prepend_written_read_and_counted),
		cmocka_unit_test(test_rec_check_file_counts_prepend_in_size),
		cmocka_unit_test(
		    test_rec_writer_panics_on_prepend_before_extract),
		cmocka_unit_test(test_rec_content_yields_prepend_then_content),
		cmocka_unit_test(test_rec_content_rejects_corrupt_prepend),
		cmocka_unit_test(
		    test_rec_prepend_ok_accepts_folded_utf8_fields),
	};

	return cmocka_run_group_tests_name("rec", tests, NULL, NULL);
}
