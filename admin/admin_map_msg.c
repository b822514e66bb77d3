/*
 * admin_map_msg - lookup keys from an email message for postelmap -b, -h
 * and -m.  See admin_map_msg.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_map_msg.h"
#include "cleanup/cleanup_mime.h"
#include "util/header.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

#define ADMIN_MAP_MSG_FIELDS_MAX 100000 /* primary header fields */

struct admin_map_msg {
	int		 flags;
	ADMIN_MAP_MSG_FN fn;
	void		*ctx;
	CLEANUP_MIME	*mime;
	VSTR		*key;	/* a field's text or a body line */
	VSTR		*piece; /* a body line being put together */
	bool		 stop;	/* the callback said so */
};

static void
admin_map_msg_key(struct admin_map_msg *st, const char *text, size_t len)
{
	if (st->stop)
		return;
	vstr_memcpy(st->key, text, len);
	if (st->fn(st->ctx, VSTR_STR(st->key), VSTR_LEN(st->key)) < 0)
		st->stop = true;
}

/* A header field: folded lines joined with "\n", as Postfix's keys are. */
static void
admin_map_msg_field_key(struct admin_map_msg *st, const struct header_field *f)
{
	size_t i;

	if (st->stop)
		return;
	vstr_reset(st->key);
	for (i = 0; i < f->len; i++)
		if (!(f->text[i] == '\r' && i + 1 < f->len
		      && f->text[i + 1] == '\n'))
			vstr_addch(st->key, f->text[i]);
	if (st->fn(st->ctx, VSTR_STR(st->key), VSTR_LEN(st->key)) < 0)
		st->stop = true;
}

/* A field of the primary header. */
static int
admin_map_msg_field(void *ctx, const struct header_field *f)
{
	struct admin_map_msg *st = ctx;

	if (st->mime != NULL)
		cleanup_mime_primary_field(st->mime, f);
	if (st->flags & ADMIN_MAP_MSG_HEADER)
		admin_map_msg_field_key(st, f);
	return st->stop ? -1 : 0;
}

/* A field of a body part or an attached message (MIME parsing). */
static void
admin_map_msg_mime_field(void *ctx, enum cleanup_mime_class cls,
			 const struct header_field *f)
{
	struct admin_map_msg *st = ctx;

	(void)cls;
	if (st->flags & ADMIN_MAP_MSG_HEADER)
		admin_map_msg_field_key(st, f);
}

/* A body line without its line ending. */
static void
admin_map_msg_body_line(struct admin_map_msg *st, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	admin_map_msg_key(st, line, len);
}

static void
admin_map_msg_mime_body(void *ctx, const char *data, size_t len, int flags)
{
	struct admin_map_msg *st = ctx;

	if (!(st->flags & ADMIN_MAP_MSG_BODY))
		return;
	if (flags & CLEANUP_MIME_START)
		vstr_reset(st->piece);
	vstr_memcat(st->piece, data, len);
	if (flags & CLEANUP_MIME_END)
		admin_map_msg_body_line(st, VSTR_STR(st->piece),
					VSTR_LEN(st->piece));
}

static void
admin_map_msg_mime_error(void *ctx, int err, const char *text, size_t len)
{
	/* Too deep a nesting: that level is body, as in cleanup. */
	(void)ctx;
	(void)err;
	(void)text;
	(void)len;
}

static const struct cleanup_mime_ops admin_map_msg_ops = {
	admin_map_msg_mime_field,
	admin_map_msg_mime_body,
	admin_map_msg_mime_error,
};

/* One body line (with its LF) after the primary header. */
static void
admin_map_msg_body(struct admin_map_msg *st, const char *line, size_t len)
{
	if (st->mime != NULL)
		cleanup_mime_feed(st->mime, line, len);
	else if (st->flags & ADMIN_MAP_MSG_BODY)
		admin_map_msg_body_line(st, line, len);
}

int
admin_map_msg_keys(FILE *in, int flags, size_t header_limit,
		   long long nesting_limit, ADMIN_MAP_MSG_FN fn, void *ctx,
		   VSTR *why)
{
	struct admin_map_msg st = { flags, fn, ctx, NULL, NULL, NULL, false };
	HEADER_PARSER	    *hp;
	VSTR		    *line = vstr_alloc(256);
	char		    *buf = NULL;
	size_t		     cap = 0;
	ssize_t		     n;
	bool		     in_header = true;
	bool		     wanted_after = true;
	int		     ret = 0;
	int		     r;

	vstr_reset(why);
	st.key = vstr_alloc(256);
	st.piece = vstr_alloc(256);
	if (flags & ADMIN_MAP_MSG_MIME)
		st.mime = cleanup_mime_alloc(header_limit, nesting_limit,
					     &admin_map_msg_ops, &st);
	hp = header_parser_create(header_limit, ADMIN_MAP_MSG_FIELDS_MAX,
				  admin_map_msg_field, &st);
	/* Header mode alone, without MIME, ends with the primary header. */
	if (!(flags & ADMIN_MAP_MSG_BODY) && !(flags & ADMIN_MAP_MSG_MIME))
		wanted_after = false;
	errno = 0;
	while (!st.stop && (n = getline(&buf, &cap, in)) > 0) {
		size_t len = (size_t)n;

		/* One line ending, LF, whatever the input had. */
		if (buf[len - 1] == '\n')
			len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
		vstr_memcpy(line, buf, len);
		vstr_addch(line, '\n');
		if (!in_header) {
			admin_map_msg_body(&st, VSTR_STR(line), VSTR_LEN(line));
			continue;
		}
		r = header_parser_line(hp, VSTR_STR(line), VSTR_LEN(line));
		if (r == HEADER_MORE)
			continue;
		if (r == HEADER_STOP)
			break;
		if (r == HEADER_TOO_MANY) {
			vstr_sprintf(why,
				     "message format error: more than %d "
				     "header fields",
				     ADMIN_MAP_MSG_FIELDS_MAX);
			ret = -1;
			break;
		}
		in_header = false;
		if (!wanted_after)
			break;
		if (st.mime != NULL)
			cleanup_mime_body_begin(st.mime, r == HEADER_END_EMPTY);
		if (r == HEADER_END_BODY)
			admin_map_msg_body(&st, VSTR_STR(line), VSTR_LEN(line));
	}
	if (ret == 0 && ferror(in)) {
		vstr_sprintf(why, "read standard input: %s", strerror(errno));
		ret = -1;
	}
	if (ret == 0 && in_header && !st.stop)
		(void)header_parser_eof(hp);
	if (st.mime != NULL && !in_header && !st.stop)
		cleanup_mime_end(st.mime);
	if (ret == 0 && st.stop)
		ret = -1;
	free(buf);
	header_parser_free(hp);
	cleanup_mime_free(st.mime);
	vstr_free(st.key);
	vstr_free(st.piece);
	vstr_free(line);
	return ret;
}
