/*
 * sendmail_conv - submitted text to CRLF wire form.  See sendmail_conv.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "sendmail/sendmail_conv.h"

void
sendmail_conv_init(struct sendmail_conv *cv, bool dot_ends, bool unstuff,
		   sendmail_conv_out out, void *ctx)
{
	memset(cv, 0, sizeof(*cv));
	cv->dot_ends = dot_ends;
	cv->unstuff = unstuff;
	cv->bol = true;
	cv->out = out;
	cv->ctx = ctx;
}

static void
sendmail_conv_eol(struct sendmail_conv *cv)
{
	if (cv->pend_dot) {
		cv->pend_dot = false;
		if (cv->dot_ends) {
			cv->done = true;
			return;
		}
		cv->out(cv->ctx, ".", 1);
	}
	cv->out(cv->ctx, "\r\n", 2);
	cv->bol = true;
}

size_t
sendmail_conv_feed(struct sendmail_conv *cv, const char *buf, size_t len)
{
	size_t i = 0;
	size_t run;
	char   c;

	while (i < len && !cv->done) {
		c = buf[i];
		if (cv->pend_cr) {
			cv->pend_cr = false;
			sendmail_conv_eol(cv);
			if (c == '\n') {
				i++;
				continue;
			}
			if (cv->done)
				break; /* c is not ours */
		}
		if (c == '\r') {
			cv->pend_cr = true;
			i++;
			continue;
		}
		if (c == '\n') {
			sendmail_conv_eol(cv);
			i++;
			continue;
		}
		if (cv->pend_dot) {
			cv->pend_dot = false;
			if (!cv->unstuff)
				cv->out(cv->ctx, ".", 1);
		} else if (cv->bol && c == '.'
			   && (cv->dot_ends || cv->unstuff)) {
			cv->pend_dot = true;
			cv->bol = false;
			i++;
			continue;
		}
		/* The rest of the line in one piece. */
		for (run = i; run < len && buf[run] != '\r' && buf[run] != '\n';
		     run++)
			;
		cv->out(cv->ctx, buf + i, run - i);
		cv->bol = false;
		i = run;
	}
	return i;
}

bool
sendmail_conv_eof(struct sendmail_conv *cv)
{
	if (cv->done)
		return true;
	if (cv->pend_cr) {
		cv->pend_cr = false;
		sendmail_conv_eol(cv);
		if (cv->done)
			return true;
	}
	if (cv->pend_dot) {
		cv->pend_dot = false;
		/* ".<EOF>" ends the data where a dot line would. */
		if (cv->dot_ends)
			return false;
		cv->out(cv->ctx, ".", 1);
		cv->bol = false;
	}
	if (!cv->bol)
		cv->out(cv->ctx, "\r\n", 2);
	cv->bol = true;
	return false;
}
