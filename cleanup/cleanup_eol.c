/*
 * cleanup_eol - line ends of the content stream, before anything else
 * looks at it.
 *
 * The queue file holds content in wire form: every line ends in CRLF.
 * smtpd's filter already guarantees that for SMTP mail; a local
 * submission normally does too (sendmail converts, postdrop refuses a
 * stream with a bare CR or LF), but a maildrop file written by other
 * means reaches cleanup through pickup unchecked.  So cleanup turns every
 * bare CR and bare LF into CRLF, as smtpd does (DESIGN.md section 5):
 * "x<CR>.<CR>MAIL FROM:..." becomes three ordinary lines that the smtp
 * client dot-stuffs, never an end of data at the next hop.  The work is
 * done for every origin; content that is already CRLF passes unchanged.
 *
 * A CR that ends one data frame waits in the state for the next byte.
 * The first bare line end of a message is logged once, with its origin.
 *
 * Errors: none of its own; cleanup_content records failures.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "cleanup/cleanup.h"
#include "util/msg.h"
#include "util/vstr.h"

void
cleanup_eol_init(struct cleanup_eol *e)
{
	e->cr = false;
	e->bare = false;
	e->buf = vstr_alloc(1024);
}

void
cleanup_eol_free(struct cleanup_eol *e)
{
	e->buf = vstr_free(e->buf);
}

static void
cleanup_eol_bare(CLEANUP_STATE *st, struct cleanup_eol *e)
{
	if (e->bare)
		return;
	e->bare = true;
	msg_info("%s: bare <CR> or <LF> in content from %s: replaced with "
		 "<CR><LF>",
		 VSTR_STR(st->qid), st->origin ? st->origin : "client");
}

void
cleanup_eol_content(CLEANUP_STATE *st, struct cleanup_eol *e, const char *data,
		    size_t len)
{
	size_t i = 0;
	size_t j;

	vstr_reset(e->buf);
	while (i < len) {
		if (e->cr) {
			e->cr = false;
			vstr_memcat(e->buf, "\r\n", 2);
			if (data[i] == '\n') {
				i++;
				continue;
			}
			cleanup_eol_bare(st, e);
		}
		for (j = i; j < len && data[j] != '\r' && data[j] != '\n'; j++)
			;
		vstr_memcat(e->buf, data + i, j - i);
		if (j == len)
			break;
		if (data[j] == '\r') {
			e->cr = true;
		} else {
			vstr_memcat(e->buf, "\r\n", 2);
			cleanup_eol_bare(st, e);
		}
		i = j + 1;
	}
	if (VSTR_LEN(e->buf) > 0)
		cleanup_content(st, VSTR_STR(e->buf), VSTR_LEN(e->buf));
}

void
cleanup_eol_end(CLEANUP_STATE *st, struct cleanup_eol *e)
{
	if (!e->cr)
		return;
	e->cr = false;
	cleanup_eol_bare(st, e);
	cleanup_content(st, "\r\n", 2);
}
