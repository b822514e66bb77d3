/*
 * local_copy - the message as local writes it: read once from the queue
 * file (CRLF turned into LF), then formatted per destination with the
 * envelope lines Postfix's local adds:
 *
 *	From sender  Mon Nov 23 10:41:47 2026	(mbox, files, commands)
 *	Return-Path: <sender>
 *	Delivered-To: recipient
 *	message, with ">From " quoting in mboxes, and a final blank line
 *
 * The content itself is loaded with mbox_load_queue_file (util/mbox).
 * Ownership: the caller's VSTRs.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "local/local.h"
#include "util/mbox.h"

void
local_copy_format(VSTR *out, const struct local_msg *m,
		  const char *delivered_to, int flags)
{
	/* LOCAL_COPY_* and MBOX_FMT_* share their values. */
	mbox_format(out, m->sender, delivered_to, VSTR_STR(m->content),
		    VSTR_LEN(m->content), flags);
}

/* Is there a "Delivered-To: addr" header (case-insensitive)? */
bool
local_copy_has_delivered_to(const VSTR *content, const char *addr)
{
	const char *p = VSTR_STR(content);
	const char *end = p + VSTR_LEN(content);
	size_t	    alen = strlen(addr);

	while (p < end && *p != '\n') {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if ((size_t)(eol - p) > 13
		    && strncasecmp(p, "Delivered-To:", 13) == 0) {
			const char *v = p + 13;

			while (v < eol && isspace((unsigned char)*v))
				v++;
			while (eol > v && isspace((unsigned char)eol[-1]))
				eol--;
			if ((size_t)(eol - v) == alen
			    && strncasecmp(v, addr, alen) == 0)
				return true;
		}
		p = nl ? nl + 1 : end;
	}
	return false;
}
