/*
 * cleanup_body_mime - the body when cleanup follows its MIME structure
 * (conf->mime_scan: MIME input processing on and a content check set).
 *
 * cleanup_mime cuts the body into header fields of body parts and
 * attached messages, which get header checks (cleanup_part_header), and
 * body lines, which get body_checks within body_checks_size_limit, as
 * in Postfix: body_checks never see the header fields of a part.  Every
 * piece is written as it comes out of the scanner, so memory stays
 * bounded whatever the message size.  Nesting deeper than
 * mime_nesting_limit multipart levels is refused with 550 5.6.0 when a
 * header check is configured (Postfix reports it in that case only).
 *
 * Errors: recorded with cleanup_fail.
 *
 * SPDX-License-Identifier: ISC
 */
#include "cleanup/cleanup.h"
#include "util/msg.h"

static void
cleanup_body_mime_piece(void *ctx, const char *data, size_t len, int flags)
{
	CLEANUP_STATE *st = ctx;

	if (st->status != CLEANUP_OK)
		return;
	if (flags & CLEANUP_MIME_START) {
		st->mime_drop = false;
		if (st->conf->body_checks
		    && st->mime_body_seen < st->conf->body_checks_size_limit)
			st->mime_drop = cleanup_body_line(st, data, len);
		else
			rec_put_content(st->writer, data, len);
	} else if (!st->mime_drop) {
		rec_put_content(st->writer, data, len);
	}
	st->mime_body_seen += (long long)len;
}

static void
cleanup_body_mime_error(void *ctx, int err, const char *text, size_t len)
{
	CLEANUP_STATE *st = ctx;

	if (err != CLEANUP_MIME_ERR_NESTING || !st->conf->mime_report_nesting
	    || st->status != CLEANUP_OK)
		return;
	cleanup_log_action(st, "reject",
			   "mime-error MIME nesting exceeds "
			   "safety limit:",
			   text, len, NULL);
	cleanup_fail(st, CLEANUP_REJECT,
		     "550 5.6.0 MIME nesting exceeds safety limit");
}

static const struct cleanup_mime_ops cleanup_body_mime_ops = {
	.header = cleanup_part_header,
	.body = cleanup_body_mime_piece,
	.error = cleanup_body_mime_error,
};

void
cleanup_body_mime_init(CLEANUP_STATE *st)
{
	if (st->conf->mime_scan && st->mime == NULL)
		st->mime =
		    cleanup_mime_alloc((size_t)st->conf->header_size_limit,
				       st->conf->mime_nesting_limit,
				       &cleanup_body_mime_ops, st);
}

void
cleanup_body_mime_begin(CLEANUP_STATE *st, bool separator)
{
	if (st->mime)
		cleanup_mime_body_begin(st->mime, separator);
}

void
cleanup_body_mime(CLEANUP_STATE *st, const char *data, size_t len)
{
	cleanup_mime_feed(st->mime, data, len);
}

void
cleanup_body_mime_end(CLEANUP_STATE *st)
{
	if (st->mime)
		cleanup_mime_end(st->mime);
}
