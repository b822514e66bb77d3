/*
 * cleanup_state - one message's state: allocation, release, and the
 * first-error-wins failure record that decides the reply.
 *
 * Errors: none (allocation failures die in mymalloc).
 *
 * Ownership: cleanup_state_free releases everything the state holds,
 * removing a temporary queue file that was not committed.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdarg.h>

#include "cleanup/cleanup.h"
#include "util/mymalloc.h"

void
cleanup_fail(CLEANUP_STATE *st, enum cleanup_status status, const char *fmt,
	     ...)
{
	va_list ap;

	if (st->status != CLEANUP_OK)
		return;
	st->status = status;
	vstr_reset(st->reply);
	va_start(ap, fmt);
	vstr_vsprintf_append(st->reply, fmt, ap);
	va_end(ap);
}

CLEANUP_STATE *
cleanup_state_alloc(const CLEANUP_CONF *conf)
{
	CLEANUP_STATE *st = mycalloc(1, sizeof(*st));

	st->conf = conf;
	st->fd = -1;
	st->sender = "";
	st->sender_buf = vstr_alloc(64);
	st->qid = vstr_alloc(32);
	st->temp_path = vstr_alloc(64);
	st->line = vstr_alloc(256);
	st->hdr_out = vstr_alloc(4096);
	st->scratch = vstr_alloc(256);
	st->msgid = vstr_alloc(64);
	st->reply = vstr_alloc(64);
	st->filter = vstr_alloc(32);
	st->bcc = vstr_alloc(64);
	st->status = CLEANUP_OK;
	st->phase = CLEANUP_PH_HEADER;
	return st;
}

CLEANUP_STATE *
cleanup_state_free(CLEANUP_STATE *st)
{
	size_t i;

	if (st == NULL)
		return NULL;
	cleanup_dkim_sign_done(st);
	cleanup_queue_remove(st);
	for (i = 0; i < st->nrcpt; i++) {
		myfree(st->rcpts[i].orig);
		myfree(st->rcpts[i].orcpt);
		myfree(st->rcpts[i].addr);
	}
	myfree(st->rcpts);
	cleanup_prepend_free(st);
	header_parser_free(st->hp);
	cleanup_mime_free(st->mime);
	cleanup_authres_free(st);
	attr_free(st->env);
	vstr_free(st->sender_buf);
	vstr_free(st->qid);
	vstr_free(st->temp_path);
	vstr_free(st->line);
	vstr_free(st->hdr_out);
	vstr_free(st->scratch);
	vstr_free(st->msgid);
	vstr_free(st->filter);
	vstr_free(st->reply);
	vstr_free(st->bcc);
	vstr_free(st->milter_quarantine);
	cleanup_milter_free(st);
	myfree(st);
	return NULL;
}
