/*
 * fuzz_postscreen - libFuzzer target for what postscreen reads from a
 * client before and after its own greeting (postscreen/postscreen_line.c:
 * the command line classifier of the deep tests and the SMTP engine, the
 * PREGREET escape, the MAIL/RCPT address) and for its cache values
 * (postscreen/postscreen_cache.c).
 *
 * The input is walked line by line as the engine does.  Invariants: no
 * crash; a line lies inside the input and ends in LF; its verb and
 * argument lie inside the line; an escape is printable and within its
 * bound; an address is printable and within its bound; a cache value
 * formats and parses back to the same times.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "postscreen/postscreen_cache.h"
#include "postscreen/postscreen_line.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_printable(const VSTR *v, size_t max)
{
	size_t i;

	if (VSTR_LEN(v) > max)
		abort();
	for (i = 0; i < VSTR_LEN(v); i++)
		if (VSTR_STR(v)[i] < ' ' || VSTR_STR(v)[i] > '~')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static VSTR *out;
	const char  *buf = (const char *)data;
	size_t	     off = 0;
	PSC_LINE     line;
	time_t	     expire[PSC_TEST_COUNT];
	time_t	     back[PSC_TEST_COUNT];
	char	    *text;

	if (out == NULL)
		out = vstr_alloc(64);
	psc_line_escape(out, buf, size, 100);
	check_printable(out, 100);
	while (off < size) {
		enum psc_line_status st = psc_line_next(buf + off, size - off,
							"CONNECT GET POST",
							&line);

		if (st != PSC_LINE_OK)
			break;
		if (line.consumed == 0 || line.consumed > size - off
		    || buf[off + line.consumed - 1] != '\n'
		    || line.pending != size - off - line.consumed
		    || line.verb < buf + off
		    || line.verb + line.verb_len > buf + off + line.consumed
		    || line.arg < buf + off
		    || line.arg + line.arg_len > buf + off + line.consumed)
			abort();
		if (psc_line_addr(line.arg, line.arg_len, "FROM:", out, 256)
		    == 0)
			check_printable(out, 256);
		if (psc_line_addr(line.arg, line.arg_len, "TO:", out, 256) == 0)
			check_printable(out, 256);
		off += line.consumed;
	}

	text = mymemdup(buf, size);
	text = myrealloc(text, size + 1);
	text[size] = 0;
	psc_cache_parse(text, expire);
	myfree(text);
	psc_cache_format(out, expire);
	psc_cache_parse(VSTR_STR(out), back);
	if (memcmp(expire, back, sizeof(back)) != 0)
		abort();
	return 0;
}
