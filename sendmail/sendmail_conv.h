/*
 * sendmail_conv - turn submitted text into the queue's wire form.
 *
 * Input lines end at LF; a CR right before the LF is dropped, and a CR
 * on its own also ends a line (it never travels on as a bare CR,
 * DESIGN.md section 5).  Every line leaves with CRLF.  With dot_ends a
 * line holding only "." ends the data (sendmail without -i, SMTP DATA);
 * with unstuff a leading "." of any other line is dropped (RFC 5321
 * 4.5.2 transparency).  The result does not depend on how the input is
 * split into pieces; memory use is constant.
 *
 * Errors: none.  Output goes to the caller's callback.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef SENDMAIL_SENDMAIL_CONV_H
#define SENDMAIL_SENDMAIL_CONV_H

#include <stdbool.h>
#include <stddef.h>

typedef void (*sendmail_conv_out)(void *ctx, const char *data, size_t len);

struct sendmail_conv {
	bool		  dot_ends;
	bool		  unstuff;
	bool		  bol;	    /* at the start of a line */
	bool		  pend_cr;  /* a CR waiting for its LF */
	bool		  pend_dot; /* a line-initial '.' held back */
	bool		  done;	    /* the end-of-data line was seen */
	sendmail_conv_out out;
	void		 *ctx;
};

void sendmail_conv_init(struct sendmail_conv *cv, bool dot_ends, bool unstuff,
			sendmail_conv_out out, void *ctx);

/*
 * Convert up to len bytes; returns how many were used.  Fewer than len
 * only once the end-of-data line was seen (cv->done): the rest belongs to
 * whatever follows (the next SMTP command).
 */
size_t
sendmail_conv_feed(struct sendmail_conv *cv, const char *buf, size_t len);

/* End of input: finish a partial line.  true when the data had ended. */
bool sendmail_conv_eof(struct sendmail_conv *cv);

#endif
