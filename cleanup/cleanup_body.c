/*
 * cleanup_body - the content stream: line splitting, the size limit, the
 * switch from header to body, and body_checks.
 *
 * Content arrives in wire form (CRLF lines) in arbitrary pieces.  While
 * in the header, pieces are cut into lines for util/header; a line longer
 * than header_size_limit keeps its first part only (the field is then
 * truncated anyway).  In the body, pieces go to the queue file as they
 * come, in large records; when body_checks is set, the first
 * body_checks_size_limit bytes are also cut into lines (each checked on
 * at most CLEANUP_BODY_LINE_MAX bytes).  Body lines are never changed:
 * body_checks IGNORE, REPLACE and PREPEND are logged and ignored.
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

static void
cleanup_body_line(CLEANUP_STATE *st, const char *line, size_t len)
{
	VSTR   *result;
	enum cleanup_act act;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	result = vstr_alloc(64);
	act = cleanup_check(st, st->conf->body_checks, "body", line, len,
			    result);
	if (act == CLEANUP_ACT_IGNORE || act == CLEANUP_ACT_REPLACE
	    || act == CLEANUP_ACT_PREPEND)
		msg_warn("%s: body_checks: only REJECT, DISCARD, HOLD and WARN "
			 "apply to body lines: action ignored",
			 VSTR_STR(st->qid));
	vstr_free(result);
}

/* Cut body bytes into lines for body_checks, within the size bound. */
static void
cleanup_body_scan(CLEANUP_STATE *st, const char *data, size_t len)
{
	const char *nl;
	size_t	take;

	while (len > 0 && st->status == CLEANUP_OK
	       && st->body_seen < st->conf->body_checks_size_limit) {
		nl = memchr(data, '\n', len);
		take = nl ? (size_t)(nl - data) + 1 : len;
		st->body_seen += (long long)take;
		if (!st->line_skip) {
			size_t	room = CLEANUP_BODY_LINE_MAX
			    - VSTR_LEN(st->line);

			vstr_memcat(st->line, data, take < room ? take : room);
			if (take > room)
				st->line_skip = true;
		}
		if (nl) {
			cleanup_body_line(st, VSTR_STR(st->line),
					  VSTR_LEN(st->line));
			vstr_reset(st->line);
			st->line_skip = false;
		}
		data += take;
		len -= take;
	}
}

static void
cleanup_body(CLEANUP_STATE *st, const char *data, size_t len)
{
	if (st->status != CLEANUP_OK || len == 0)
		return;
	rec_put_content(st->writer, data, len);
	if (st->conf->body_checks)
		cleanup_body_scan(st, data, len);
}

/* One complete header-phase line is in st->line. */
static void
cleanup_header_line(CLEANUP_STATE *st)
{
	int	ret = header_parser_line(st->hp, VSTR_STR(st->line),
					 VSTR_LEN(st->line));

	switch (ret) {
	case HEADER_MORE:
		break;
	case HEADER_END_EMPTY:
		cleanup_header_end(st);
		if (st->status == CLEANUP_OK)
			rec_put_content(st->writer, VSTR_STR(st->line),
					VSTR_LEN(st->line));
		break;
	case HEADER_END_BODY:
		cleanup_header_end(st);
		cleanup_body(st, VSTR_STR(st->line), VSTR_LEN(st->line));
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
	const size_t line_max = (size_t)st->conf->header_size_limit + 2;
	const char *nl;
	size_t	take, room;

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
			(void) header_parser_eof(st->hp);
			cleanup_header_end(st);
		}
	} else if (VSTR_LEN(st->line) > 0 && st->conf->body_checks
		   && st->status == CLEANUP_OK) {
		cleanup_body_line(st, VSTR_STR(st->line), VSTR_LEN(st->line));
	}
}
