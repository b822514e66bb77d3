/*
 * fuzz_smtp_reply - libFuzzer target for the SMTP client's reply parser.
 *
 * The input is split into lines at LF (a CR before it is dropped, as the
 * client's reader does) and fed to one SMTP_REPLY; every accessor is then
 * exercised on whatever the parser holds.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smtp/smtp_reply.h"

static void
fuzz_use(const SMTP_REPLY *r)
{
	size_t total = 0;

	for (size_t i = 0; i < r->nlines; i++)
		total += strlen(smtp_reply_line_at(r, i));
	total += strlen(smtp_reply_detail(r));
	(void)smtp_reply_ehlo_find(r, "SIZE");
	if (total > SMTP_REPLY_LINES_MAX * (SMTP_REPLY_LINE_MAX + 1)
			+ SMTP_REPLY_TEXT_MAX)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SMTP_REPLY *r = smtp_reply_alloc();
	const char *p = (const char *)data;
	const char *end = p + size;
	char	    dsn[SMTP_DSN_MAX];

	(void)smtp_reply_dsn_parse(p, size, dsn, sizeof(dsn));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t	    len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int	    ret;

		if (len > 0 && p[len - 1] == '\r')
			len--;
		ret = smtp_reply_line(r, p, len);
		if (ret < 0)
			smtp_reply_reset(r);
		else
			fuzz_use(r);
		if (ret == 1 && (r->code < 200 || r->code > 599))
			__builtin_trap();
		p = nl ? nl + 1 : end;
	}
	smtp_reply_free(r);
	return 0;
}
