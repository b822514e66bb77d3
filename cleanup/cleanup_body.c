/*
 * cleanup_body - the content stream: line splitting, the size limit, the
 * switch from header to body, and body_checks.
 *
 * Content arrives in wire form (CRLF lines) in arbitrary pieces.  While
 * in the header, pieces are cut into lines for util/header; a line longer
 * than header_size_limit keeps its first part only (the field is then
 * truncated anyway).  In the body, pieces go to the queue file as they
 * come, in large records; when body_checks is set, the first
 * body_checks_size_limit bytes are cut into lines instead, each checked
 * (on at most CLEANUP_BODY_LINE_MAX bytes) and written as the action
 * leaves it: IGNORE drops the line, REPLACE writes the replacement text,
 * PREPEND writes its text as a line before it.  When cleanup follows the
 * body's MIME structure (a content check is set, cleanup_body_mime.c),
 * the body goes to the MIME scanner instead, which gives body_checks
 * the body lines and header checks the header fields of parts.
 *
 * message_size_limit counts the content bytes received; past it the
 * message fails with 552 5.3.4 and the rest is read and dropped.
 *
 * Errors: recorded with cleanup_fail; write errors are sticky in the
 * record writer and reported at commit.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "cleanup/cleanup.h"
#include "util/msg.h"

/*
 * Check one body line (or the first CLEANUP_BODY_LINE_MAX bytes of a longer
 * one) and write what the action leaves of it.  Returns true when the rest
 * of the line, not yet seen, must be dropped (IGNORE, REPLACE).
 */
bool
cleanup_body_line(CLEANUP_STATE *st, const char *line, size_t len)
{
	VSTR		*result = vstr_alloc(64);
	enum cleanup_act act;
	size_t		 text_len = len;
	bool		 drop = false;

	while (text_len > 0
	       && (line[text_len - 1] == '\n' || line[text_len - 1] == '\r'))
		text_len--;
	act = cleanup_check(st, st->conf->body_checks, "body", line, text_len,
			    result);
	switch (act) {
	case CLEANUP_ACT_IGNORE:
		drop = true;
		break;
	case CLEANUP_ACT_REPLACE:
		vstr_strcat(result, "\r\n");
		rec_put_content(st->writer, VSTR_STR(result), VSTR_LEN(result));
		drop = true;
		break;
	case CLEANUP_ACT_PREPEND:
		vstr_strcat(result, "\r\n");
		rec_put_content(st->writer, VSTR_STR(result), VSTR_LEN(result));
		rec_put_content(st->writer, line, len);
		break;
	default:
		rec_put_content(st->writer, line, len);
		break;
	}
	vstr_free(result);
	return drop;
}

/*
 * Body bytes under body_checks: cut into lines, each checked and written
 * (possibly changed) before the next.  A line longer than the check bound
 * is decided on its first part; its rest streams through (or is dropped).
 * Past body_checks_size_limit everything streams unchanged.
 */
static void
cleanup_body_scan(CLEANUP_STATE *st, const char *data, size_t len)
{
	const char *nl;
	size_t	    take;
	size_t	    room;

	while (len > 0) {
		if (!st->line_skip && VSTR_LEN(st->line) == 0
		    && st->body_seen >= st->conf->body_checks_size_limit) {
			rec_put_content(st->writer, data, len);
			return;
		}
		nl = memchr(data, '\n', len);
		take = nl ? (size_t)(nl - data) + 1 : len;
		st->body_seen += (long long)take;
		if (st->line_skip) {
			if (!st->line_drop)
				rec_put_content(st->writer, data, take);
		} else if (take <= (room = CLEANUP_BODY_LINE_MAX
					   - VSTR_LEN(st->line))) {
			vstr_memcat(st->line, data, take);
			if (nl) {
				cleanup_body_line(st, VSTR_STR(st->line),
						  VSTR_LEN(st->line));
				vstr_reset(st->line);
			}
		} else {
			vstr_memcat(st->line, data, room);
			st->line_drop = cleanup_body_line(st,
							  VSTR_STR(st->line),
							  VSTR_LEN(st->line));
			vstr_reset(st->line);
			if (!st->line_drop)
				rec_put_content(st->writer, data + room,
						take - room);
			st->line_skip = true;
		}
		if (nl)
			st->line_skip = st->line_drop = false;
		data += take;
		len -= take;
	}
}

static void
cleanup_body(CLEANUP_STATE *st, const char *data, size_t len)
{
	if (st->status != CLEANUP_OK || len == 0)
		return;
	if (st->mime)
		cleanup_body_mime(st, data, len);
	else if (st->conf->body_checks)
		cleanup_body_scan(st, data, len);
	else
		rec_put_content(st->writer, data, len);
}

/* One complete header-phase line is in st->line. */
static void
cleanup_header_line(CLEANUP_STATE *st)
{
	int   ret = header_parser_line(st->hp, VSTR_STR(st->line),
				       VSTR_LEN(st->line));
	VSTR *first;

	switch (ret) {
	case HEADER_MORE:
		break;
	case HEADER_END_EMPTY:
		cleanup_header_end(st);
		cleanup_body_mime_begin(st, true);
		if (st->status == CLEANUP_OK)
			rec_put_content(st->writer, VSTR_STR(st->line),
					VSTR_LEN(st->line));
		break;
	case HEADER_END_BODY:
		cleanup_header_end(st);
		cleanup_body_mime_begin(st, false);
		/* The body scanner collects lines in st->line: hand it a copy. */
		first = st->line;
		st->line = vstr_alloc(VSTR_LEN(first));
		cleanup_body(st, VSTR_STR(first), VSTR_LEN(first));
		vstr_free(first);
		break;
	case HEADER_TOO_MANY:
	default:
		st->phase = CLEANUP_PH_BODY;
		cleanup_fail(st, CLEANUP_REJECT,
			     "552 5.6.0 Message header has too many lines");
		break;
	}
	vstr_reset(st->line);
	st->line_skip = false;
}

void
cleanup_content(CLEANUP_STATE *st, const char *data, size_t len)
{
	const long long limit = st->conf->message_size_limit;
	const size_t	line_max = (size_t)st->conf->header_size_limit + 2;
	const char     *nl;
	size_t		take, room;

	cleanup_authres_input(st, data, len);
	st->size += (long long)len;
	if (limit > 0 && st->size > limit && st->status == CLEANUP_OK) {
		msg_info("%s: reject: size %lld exceeds message_size_limit",
			 VSTR_STR(st->qid), st->size);
		cleanup_fail(st, CLEANUP_REJECT,
			     "552 5.3.4 Message size exceeds fixed limit");
	}
	if (st->status != CLEANUP_OK)
		return;
	while (len > 0 && st->phase == CLEANUP_PH_HEADER) {
		nl = memchr(data, '\n', len);
		take = nl ? (size_t)(nl - data) + 1 : len;
		if (!st->line_skip) {
			room = line_max - VSTR_LEN(st->line);
			vstr_memcat(st->line, data, take < room ? take : room);
			if (take > room)
				st->line_skip = true;
		}
		if (nl) {
			if (st->line_skip)
				vstr_strcat(st->line, "\r\n");
			cleanup_header_line(st);
		}
		data += take;
		len -= take;
	}
	cleanup_body(st, data, len);
}

void
cleanup_content_end(CLEANUP_STATE *st)
{
	if (st->status != CLEANUP_OK)
		return;
	if (st->phase == CLEANUP_PH_HEADER) {
		if (VSTR_LEN(st->line) > 0)
			cleanup_header_line(st);
		if (st->phase == CLEANUP_PH_HEADER) {
			(void)header_parser_eof(st->hp);
			cleanup_header_end(st);
		}
	} else if (st->mime) {
		cleanup_body_mime_end(st);
	} else if (VSTR_LEN(st->line) > 0 && st->conf->body_checks) {
		cleanup_body_line(st, VSTR_STR(st->line), VSTR_LEN(st->line));
		vstr_reset(st->line);
	}
}
