/*
 * libFuzzer target for cleanup_mime, cleanup's MIME structure scanner.
 * The first three bytes choose the piece size, the header field bound and
 * the nesting limit; the rest is a message: its header goes through
 * util/header into cleanup_mime_primary_field, its body into the scanner.
 * Oracles: the scanner's output (part header fields and body pieces, in
 * order) is the same whether the body comes whole or in pieces; the body
 * bytes it hands out never exceed the input; the nesting error comes at
 * most once.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup/cleanup_mime.h"
#include "util/msg.h"
#include "util/vstr.h"

struct trace {
	VSTR  *out;
	size_t body_bytes;
	int    errors;
};

static void
fz_header(void *ctx, enum cleanup_mime_class cls, const struct header_field *f)
{
	struct trace *t = ctx;

	vstr_addch(t->out, cls == CLEANUP_MIME_NESTED ? 'N' : 'M');
	vstr_memcat(t->out, f->text, f->len);
	vstr_addch(t->out, 0);
}

static void
fz_body(void *ctx, const char *data, size_t len, int flags)
{
	struct trace *t = ctx;

	if (flags & CLEANUP_MIME_START)
		vstr_addch(t->out, 'S');
	vstr_memcat(t->out, data, len);
	t->body_bytes += len;
}

static void
fz_error(void *ctx, int err, const char *text, size_t len)
{
	struct trace *t = ctx;

	(void)err;
	(void)text;
	(void)len;
	t->errors++;
}

static const struct cleanup_mime_ops fz_ops = { fz_header, fz_body, fz_error };

static int
fz_primary(void *ctx, const struct header_field *f)
{
	cleanup_mime_primary_field(ctx, f);
	return 0;
}

/* The trace of data scanned in pieces of `piece` bytes, into t. */
static void
fz_run(const char *data, size_t len, size_t piece, size_t hlimit,
       long long nesting, struct trace *t)
{
	CLEANUP_MIME  *m = cleanup_mime_alloc(hlimit, nesting, &fz_ops, t);
	HEADER_PARSER *hp = header_parser_create(hlimit, 1000, fz_primary, m);
	const char    *nl;
	size_t	       take;
	int	       r = HEADER_MORE;

	while (len > 0 && r == HEADER_MORE) {
		nl = memchr(data, '\n', len);
		take = nl ? (size_t)(nl - data) + 1 : len;
		r = header_parser_line(hp, data, take);
		if (r == HEADER_MORE || r == HEADER_END_EMPTY) {
			data += take;
			len -= take;
		}
	}
	if (r == HEADER_MORE)
		(void)header_parser_eof(hp);
	cleanup_mime_body_begin(m, r == HEADER_END_EMPTY);
	while (len > 0) {
		take = len < piece ? len : piece;
		cleanup_mime_feed(m, data, take);
		data += take;
		len -= take;
	}
	cleanup_mime_end(m);
	header_parser_free(hp);
	cleanup_mime_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	struct trace whole = { NULL, 0, 0 }, parts = { NULL, 0, 0 };
	size_t	     piece, hlimit;
	long long    nesting;

	if (size < 3)
		return 0;
	whole.out = vstr_alloc(size + 64);
	parts.out = vstr_alloc(size + 64);
	piece = 1 + buf[0] % 64;
	hlimit = 1 + buf[1];
	nesting = buf[2] % 8;
	fz_run((const char *)buf + 3, size - 3, size, hlimit, nesting, &whole);
	fz_run((const char *)buf + 3, size - 3, piece, hlimit, nesting, &parts);
	if (VSTR_LEN(whole.out) != VSTR_LEN(parts.out)
	    || memcmp(VSTR_STR(whole.out), VSTR_STR(parts.out),
		      VSTR_LEN(whole.out))
		   != 0
	    || whole.errors != parts.errors || whole.errors > 1
	    || whole.body_bytes > size)
		abort();
	vstr_free(whole.out);
	vstr_free(parts.out);
	return 0;
}
