/*
 * libFuzzer target for sendmail/sendmail_conv: arbitrary input in each
 * mode (-bm, -bm -i, SMTP DATA).  Checks that the output is strict CRLF
 * wire form (no bare CR or LF ever), that the result does not depend on
 * how the input is split, and that without dot handling every byte is
 * used and every input line becomes exactly one output line.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sendmail/sendmail_conv.h"
#include "util/vstr.h"

static void
collect(void *ctx, const char *data, size_t len)
{
	vstr_memcat(ctx, data, len);
}

/* Feed buf in pieces of `step` bytes (0: all at once); bytes used. */
static size_t
run(const uint8_t *buf, size_t len, bool dot_ends, bool unstuff, size_t step,
    VSTR *out, bool *ended)
{
	struct sendmail_conv cv;
	size_t		     used = 0;
	size_t		     n;
	size_t		     got;

	vstr_reset(out);
	sendmail_conv_init(&cv, dot_ends, unstuff, collect, out);
	while (used < len && !cv.done) {
		n = step && len - used > step ? step : len - used;
		got = sendmail_conv_feed(&cv, (const char *)buf + used, n);
		if (got > n || (got < n && !cv.done))
			abort();
		used += got;
	}
	*ended = sendmail_conv_eof(&cv);
	return used;
}

static void
check_wire(const VSTR *out)
{
	const char *s = VSTR_STR(out);
	size_t	    len = VSTR_LEN(out);

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n'))
			abort();
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			abort();
	}
	if (len > 0 && (len < 2 || s[len - 1] != '\n'))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static const bool modes[3][2] = { { false, false },
					  { true, false },
					  { true, true } };
	VSTR		 *a = vstr_alloc(len * 2 + 16);
	VSTR		 *b = vstr_alloc(len * 2 + 16);
	size_t		  step = len ? 1 + buf[0] % 7 : 1;
	bool		  ea, eb;
	size_t		  ua, ub;
	size_t		  lines = 0;

	for (int m = 0; m < 3; m++) {
		ua = run(buf, len, modes[m][0], modes[m][1], 0, a, &ea);
		ub = run(buf, len, modes[m][0], modes[m][1], step, b, &eb);
		if (ua != ub || ea != eb || VSTR_LEN(a) != VSTR_LEN(b)
		    || memcmp(VSTR_STR(a), VSTR_STR(b), VSTR_LEN(a)) != 0)
			abort();
		check_wire(a);
		if (!modes[m][0] && (ua != len || ea))
			abort();
	}
	/* Plain mode: one CRLF per input line end, plus a partial line. */
	(void)run(buf, len, false, false, 0, a, &ea);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n'
		    || (buf[i] == '\r' && (i + 1 == len || buf[i + 1] != '\n')))
			lines++;
	if (len > 0 && buf[len - 1] != '\n' && buf[len - 1] != '\r')
		lines++;
	for (size_t i = 0; i + 1 < VSTR_LEN(a); i++)
		if (VSTR_STR(a)[i] == '\r')
			lines--;
	if (lines != 0)
		abort();
	vstr_free(a);
	vstr_free(b);
	return 0;
}
