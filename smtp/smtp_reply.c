/*
 * smtp_reply - parse SMTP server replies; see smtp_reply.h.
 *
 * Errors: -1 from smtp_reply_line() for a malformed line; nothing logs.
 * Ownership: the SMTP_REPLY is the caller's.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_reply.h"
#include "util/mymalloc.h"

SMTP_REPLY *
smtp_reply_alloc(void)
{
	SMTP_REPLY *r = mycalloc(1, sizeof(*r));

	r->text = vstr_alloc(128);
	r->lines = vstr_alloc(128);
	return r;
}

SMTP_REPLY *
smtp_reply_free(SMTP_REPLY *r)
{
	if (r) {
		vstr_free(r->text);
		vstr_free(r->lines);
		myfree(r);
	}
	return NULL;
}

void
smtp_reply_reset(SMTP_REPLY *r)
{
	r->code = 0;
	r->dsn[0] = 0;
	r->has_dsn = false;
	r->done = false;
	r->nlines = 0;
	vstr_reset(r->text);
	vstr_reset(r->lines);
}

static size_t
smtp_reply_digits(const char *s, size_t len, size_t max)
{
	size_t n = 0;

	while (n < len && n <= max && isdigit((unsigned char)s[n]))
		n++;
	return n;
}

size_t
smtp_reply_dsn_parse(const char *text, size_t len, char *dsn, size_t dsn_size)
{
	size_t pos;
	size_t n;

	if (len < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5')
	    || text[1] != '.')
		return 0;
	pos = 2;
	n = smtp_reply_digits(text + pos, len - pos, 3);
	if (n < 1 || n > 3 || pos + n >= len || text[pos + n] != '.')
		return 0;
	pos += n + 1;
	n = smtp_reply_digits(text + pos, len - pos, 3);
	if (n < 1 || n > 3)
		return 0;
	pos += n;
	if (pos < len && text[pos] != ' ' && text[pos] != '\t')
		return 0;
	if (pos >= dsn_size)
		return 0;
	memcpy(dsn, text, pos);
	dsn[pos] = 0;
	return pos;
}

int
smtp_reply_line(SMTP_REPLY *r, const char *line, size_t len)
{
	int	    code;
	bool	    last;
	const char *rest;
	size_t	    rest_len;

	if (r->done)
		smtp_reply_reset(r);
	if (len < 3 || !isdigit((unsigned char)line[0])
	    || !isdigit((unsigned char)line[1])
	    || !isdigit((unsigned char)line[2]) || line[0] < '2'
	    || line[0] > '5')
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len == 3)
		last = true;
	else if (line[3] == ' ')
		last = true;
	else if (line[3] == '-')
		last = false;
	else
		return -1;
	if (r->nlines > 0 && code != r->code)
		return -1;
	r->code = code;
	rest = len > 4 ? line + 4 : "";
	rest_len = len > 4 ? len - 4 : 0;
	if (rest_len > SMTP_REPLY_LINE_MAX)
		rest_len = SMTP_REPLY_LINE_MAX;

	if (r->nlines == 0)
		r->has_dsn = smtp_reply_dsn_parse(rest, rest_len, r->dsn,
						  sizeof(r->dsn))
				 > 0
			     && r->dsn[0] == line[0];
	if (r->nlines < SMTP_REPLY_LINES_MAX) {
		/* NUL bytes from a peer would split a keyword: drop them. */
		for (size_t i = 0; i < rest_len; i++)
			if (rest[i] != 0)
				(void)vstr_addch(r->lines, rest[i]);
		(void)vstr_addch(r->lines, 0);
		r->nlines++;
		if (VSTR_LEN(r->text) < SMTP_REPLY_TEXT_MAX) {
			size_t n = 4 + rest_len < len ? 4 + rest_len : len;

			if (VSTR_LEN(r->text) > 0)
				(void)vstr_addch(r->text, ' ');
			if (n > SMTP_REPLY_TEXT_MAX - VSTR_LEN(r->text))
				n = SMTP_REPLY_TEXT_MAX - VSTR_LEN(r->text);
			for (size_t i = 0; i < n; i++) {
				int ch = (unsigned char)line[i];

				/* Diagnostics end up in logs and DSNs. */
				if (ch < 32 || ch == 127)
					ch = '?';
				(void)vstr_addch(r->text, ch);
			}
		}
	}
	if (!last)
		return 0;
	if (!r->has_dsn) {
		r->dsn[0] = line[0];
		memcpy(r->dsn + 1, ".0.0", 5);
	}
	r->done = true;
	return 1;
}

const char *
smtp_reply_line_at(const SMTP_REPLY *r, size_t i)
{
	const char *p = VSTR_STR(r->lines);

	if (i >= r->nlines)
		return "";
	while (i-- > 0)
		p += strlen(p) + 1;
	return p;
}

const char *
smtp_reply_detail(const SMTP_REPLY *r)
{
	const char *p = VSTR_STR(r->text);

	p += strspn(p, "0123456789");
	p += strspn(p, " -");
	if (r->has_dsn && strncmp(p, r->dsn, strlen(r->dsn)) == 0) {
		p += strlen(r->dsn);
		p += strspn(p, " \t");
	}
	return p;
}

const char *
smtp_reply_ehlo_find(const SMTP_REPLY *r, const char *keyword)
{
	size_t klen = strlen(keyword);

	/* Line 0 is the server's greeting name, not a keyword. */
	for (size_t i = 1; i < r->nlines; i++) {
		const char *p = smtp_reply_line_at(r, i);

		if (strncasecmp(p, keyword, klen) == 0
		    && (p[klen] == 0 || p[klen] == ' ' || p[klen] == '='))
			return p[klen] ? p + klen + 1 : p + klen;
	}
	return NULL;
}
