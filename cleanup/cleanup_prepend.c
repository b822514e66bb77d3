/*
 * cleanup_prepend - header fields that go above the message.
 *
 * Results that cleanup learns only once the content is written (SPF from
 * smtpd, DKIM verification, DMARC, signatures) must still reach the top
 * of the header.  The content is streamed to the queue file as it
 * arrives, so such fields are kept here and written at commit as H
 * records after X (util/rec.h); every reader puts them before the first
 * content byte.  Each call stacks its field above the ones before it, as
 * a MTA that adds a trace field above the others would.
 *
 * Errors: a field that is not one well-formed header field, or more than
 * CLEANUP_PREPEND_MAX bytes in all, fails the message with 451 4.3.0 and a
 * log line (the callers build the fields; a bad one is our bug, and mail
 * is deferred rather than written with a broken header).
 *
 * Ownership: the fields are copied into the state and freed with it.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "cleanup/cleanup.h"
#include "util/msg.h"
#include "util/mymalloc.h"

void
cleanup_prepend_header(CLEANUP_STATE *st, const char *field)
{
	const char *qid = VSTR_LEN(st->qid) ? VSTR_STR(st->qid) : "cleanup";
	size_t	    len = strlen(field) + 2;
	char	   *copy;

	if (st->status != CLEANUP_OK)
		return;
	if (len > CLEANUP_PREPEND_MAX - st->prepend_len) {
		msg_warn("%s: header fields to prepend exceed %d bytes -- "
			 "message not accepted",
			 qid, CLEANUP_PREPEND_MAX);
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: too many added header fields");
		return;
	}
	copy = mymalloc(len + 1);
	memcpy(copy, field, len - 2);
	memcpy(copy + len - 2, "\r\n", 3);
	if (rec_prepend_ok(copy, len) < 0) {
		msg_warn("%s: malformed header field to prepend -- message "
			 "not accepted",
			 qid);
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: internal header field error");
		myfree(copy);
		return;
	}
	if (st->nprepend == st->prepend_cap) {
		st->prepend_cap = st->prepend_cap ? 2 * st->prepend_cap : 4;
		st->prepend = myrealloc(st->prepend,
					st->prepend_cap * sizeof(*st->prepend));
	}
	st->prepend[st->nprepend++] = copy;
	st->prepend_len += len;
}

/* After X: the last field prepended is the topmost, so it comes first. */
void
cleanup_prepend_write(CLEANUP_STATE *st)
{
	for (size_t i = st->nprepend; i > 0; i--)
		rec_put(st->writer, REC_TYPE_PREPEND, st->prepend[i - 1],
			strlen(st->prepend[i - 1]));
}

void
cleanup_prepend_free(CLEANUP_STATE *st)
{
	for (size_t i = 0; i < st->nprepend; i++)
		myfree(st->prepend[i]);
	myfree(st->prepend);
	st->prepend = NULL;
	st->nprepend = st->prepend_cap = st->prepend_len = 0;
}
