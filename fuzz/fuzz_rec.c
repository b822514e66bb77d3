/*
 * libFuzzer target for util/rec: arbitrary bytes as a queue file, read
 * record by record with a small and a large bound, walked by the
 * whole-file checker and read as delivered by the content reader.  All
 * must return, never crash; a file the checker accepts must also read
 * cleanly to EOF and survive a "done" mark, and its content must come out
 * whole: every H field before any C chunk, as many bytes as S says.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/msg.h"
#include "util/rec.h"
#include "util/vstr.h"

static int
read_all(int fd, size_t maxlen, bool valid)
{
	REC_READER     *r = rec_reader_create(fd, 0);
	VSTR	       *data = vstr_alloc(0);
	struct rec_size size;
	int		type;
	int		ret;
	int		n = 0;

	while ((ret = rec_get(r, &type, data, maxlen)) > 0) {
		if (type == REC_TYPE_SIZE
		    && rec_size_parse(VSTR_STR(data), VSTR_LEN(data), &size)
			   < 0)
			abort(); /* reader passed a bad S */
		/* Marks need a truthful S record: only in checked files. */
		if (type == REC_TYPE_RCPT
		    && rec_mark_done(fd, rec_reader_offset(r)) < 0 && valid)
			abort();
		n++;
	}
	if (ret < 0 && errno != EBADMSG)
		abort(); /* memfd reads do not fail */
	rec_reader_free(r);
	vstr_free(data);
	return ret;
}

/* The content reader; with valid, it must agree with the S record. */
static void
read_content(int fd, bool valid)
{
	REC_CONTENT    *c = rec_content_create(fd, -1);
	VSTR	       *data = vstr_alloc(0);
	char		sbuf[REC_SIZE_LEN];
	struct rec_size size;
	off_t		total = 0;
	bool		seen_c = false;
	int		type;
	int		ret;

	while ((ret = rec_content_get(c, &type, data, 0)) > 0) {
		if (type == REC_TYPE_CONT)
			seen_c = true;
		else if (type != REC_TYPE_PREPEND || seen_c)
			abort(); /* only H, then C */
		total += (off_t)VSTR_LEN(data);
	}
	if (ret < 0 && (errno != EBADMSG || valid))
		abort();
	if (valid
	    && (pread(fd, sbuf, sizeof(sbuf), REC_SIZE_PAYLOAD_OFFSET)
		    != (ssize_t)sizeof(sbuf)
		|| rec_size_parse(sbuf, sizeof(sbuf), &size) < 0
		|| size.message_size != total))
		abort();
	rec_content_free(c);
	vstr_free(data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static int fd = -1;
	VSTR	  *why = vstr_alloc(0);
	int	   checked;
	int	   ret;

	if (fd < 0) {
		msg_stderr_enable(false);
		fd = memfd_create("fuzz_rec", 0);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, len, 0) != (ssize_t)len)
		abort();
	checked = rec_check_file(fd, why);
	read_content(fd, checked == 0);
	(void)read_all(fd, 64, checked == 0);
	/* The first pass marked recipients done: the file stays valid. */
	ret = read_all(fd, 0, checked == 0);
	if (checked == 0 && ret != 0)
		abort();
	if (checked == 0 && rec_check_file(fd, why) != 0)
		abort();
	vstr_free(why);
	return 0;
}
