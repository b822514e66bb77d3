/*
 * local_result - the outcome of one local delivery (or of one member of
 * an alias expansion) and how outcomes combine.
 *
 * A recipient whose expansion has several members gets the worst
 * outcome: one deferred member defers the recipient (qmgr retries it
 * later, as Postfix does), else one bounced member bounces it.
 *
 * Errors: none.  Ownership: the VSTRs belong to the result.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "local/local.h"
#include "util/mymalloc.h"

void
local_result_init(struct local_result *r)
{
	memset(r, 0, sizeof(*r));
	r->action = DELIVER_SENT;
	snprintf(r->dsn, sizeof(r->dsn), "2.0.0");
	r->text = vstr_alloc(64);
	r->forward = vstr_alloc(64);
	r->owner = vstr_alloc(16);
}

void
local_result_free(struct local_result *r)
{
	r->text = vstr_free(r->text);
	r->forward = vstr_free(r->forward);
	r->owner = vstr_free(r->owner);
}

void
local_result_set(struct local_result *r, enum deliver_action a, const char *dsn,
		 const char *fmt, ...)
{
	va_list ap;
	VSTR   *tmp = vstr_alloc(64);

	va_start(ap, fmt);
	vstr_vsprintf_append(tmp, fmt, ap);
	va_end(ap);
	/* A worse outcome already recorded stays. */
	if ((r->action == DELIVER_DEFERRED && a != DELIVER_DEFERRED)
	    || (r->action == DELIVER_BOUNCED && a == DELIVER_SENT)) {
		vstr_free(tmp);
		return;
	}
	r->action = a;
	snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
	vstr_strcpy(r->text, VSTR_STR(tmp));
	vstr_free(tmp);
}

void
local_result_merge(struct local_result *into, const struct local_result *from)
{
	local_result_set(into, from->action, from->dsn, "%s",
			 VSTR_STR(from->text));
}
