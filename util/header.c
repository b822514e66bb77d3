/*
 * header - a streaming RFC 5322 message header parser.
 *
 * One logical field is held at a time (bounded by size_limit), so memory
 * does not grow with the number of fields.  Errors and ownership: see
 * util/header.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util/header.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

enum header_state {
	HEADER_ST_HEAD, /* reading fields */
	HEADER_ST_DONE, /* section over (or stopped) */
};

struct HEADER_PARSER {
	size_t		  size_limit;
	size_t		  count_limit;
	HEADER_FIELD_FN	  fn;
	void		 *ctx;
	VSTR		 *field; /* pending logical field */
	bool		  pending;
	bool		  truncated;
	size_t		  count;
	enum header_state state;
	int		  final; /* code returned once done */
};

HEADER_PARSER *
header_parser_create(size_t size_limit, size_t count_limit, HEADER_FIELD_FN fn,
		     void *ctx)
{
	HEADER_PARSER *p = mycalloc(1, sizeof(*p));

	p->size_limit = size_limit ? size_limit : 1;
	p->count_limit = count_limit;
	p->fn = fn;
	p->ctx = ctx;
	p->field = vstr_alloc(256);
	p->state = HEADER_ST_HEAD;
	return p;
}

HEADER_PARSER *
header_parser_free(HEADER_PARSER *p)
{
	if (p) {
		vstr_free(p->field);
		myfree(p);
	}
	return NULL;
}

size_t
header_parser_count(const HEADER_PARSER *p)
{
	return p->count;
}

size_t
header_name_len(const char *line, size_t len)
{
	size_t i, name_len;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch == ':' || ch <= 32 || ch >= 127)
			break;
	}
	if (i == 0 || i == len)
		return 0;
	name_len = i;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':' ? name_len : 0;
}

bool
header_is(const struct header_field *f, const char *name)
{
	return strlen(name) == f->name_len
	       && strncasecmp(f->text, name, f->name_len) == 0;
}

/* Strip the line ending: CRLF, LF, or a bare CR at the very end. */
static size_t
header_chomp(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len;
}

static void
header_append(HEADER_PARSER *p, const char *data, size_t len)
{
	size_t room = p->size_limit > VSTR_LEN(p->field)
			  ? p->size_limit - VSTR_LEN(p->field)
			  : 0;

	if (len > room) {
		len = room;
		p->truncated = true;
	}
	vstr_memcat(p->field, data, len);
}

static int
header_emit(HEADER_PARSER *p)
{
	struct header_field f;
	const char	   *text;
	size_t		    i;

	if (!p->pending)
		return 0;
	p->pending = false;
	/* Truncation may have cut a CRLF in half. */
	while (VSTR_LEN(p->field) > 0
	       && (VSTR_END(p->field)[-1] == '\r'
		   || VSTR_END(p->field)[-1] == '\n'))
		vstr_truncate(p->field, VSTR_LEN(p->field) - 1);
	text = VSTR_STR(p->field);
	f.text = text;
	f.len = VSTR_LEN(p->field);
	f.name_len = header_name_len(text, f.len);
	f.truncated = p->truncated;
	for (i = f.name_len; i < f.len && text[i] != ':'; i++)
		/* void */;
	for (i++; i < f.len
		  && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'
		      || text[i] == '\n');
	     i++)
		/* void */;
	if (i > f.len)
		i = f.len;
	f.value = text + i;
	f.value_len = f.len - i;
	p->count++;
	return p->fn(p->ctx, &f) < 0 ? -1 : 0;
}

static int
header_done(HEADER_PARSER *p, int code)
{
	p->state = HEADER_ST_DONE;
	p->final = code;
	return code;
}

int
header_parser_line(HEADER_PARSER *p, const char *line, size_t len)
{
	size_t body_len;

	if (p->state == HEADER_ST_DONE)
		return p->final < 0 ? p->final : HEADER_END_BODY;
	body_len = header_chomp(line, len);

	if (body_len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		if (!p->pending)
			return header_done(p, HEADER_END_BODY);
		header_append(p, "\r\n", 2);
		header_append(p, line, body_len);
		return HEADER_MORE;
	}
	if (header_emit(p) < 0)
		return header_done(p, HEADER_STOP);
	if (body_len == 0)
		return header_done(p, HEADER_END_EMPTY);
	if (header_name_len(line, body_len) == 0)
		return header_done(p, HEADER_END_BODY);
	if (p->count_limit && p->count >= p->count_limit)
		return header_done(p, HEADER_TOO_MANY);
	vstr_reset(p->field);
	p->truncated = false;
	p->pending = true;
	header_append(p, line, body_len);
	return HEADER_MORE;
}

int
header_parser_eof(HEADER_PARSER *p)
{
	if (p->state == HEADER_ST_DONE)
		return p->final < 0 ? p->final : 0;
	if (header_emit(p) < 0)
		return header_done(p, HEADER_STOP);
	header_done(p, HEADER_END_EMPTY);
	return 0;
}
