/*
 * smtpd_io - the session's bounded input buffer, command lines and
 * replies.
 *
 * Input is read in large chunks into one buffer per session.  A command
 * line is taken from the buffer without further system calls, so
 * pipelined commands cost one read for many.  Replies are collected in
 * st->out and sent in one write just before the session would block for
 * input (RFC 2920: the server may hold replies until its input is empty),
 * and by the loop before it ends.
 *
 * Postfix's tarpit lives here too: once the session's error count has
 * reached smtpd_soft_error_limit, every reply (whatever its code; a reply
 * of several lines once) waits smtpd_error_sleep_time before it is
 * queued, and what was queued before goes out first, so the client sees
 * each reply only after its own delay.
 *
 * The buffer never holds more than par->line_limit plus one read: a line
 * longer than the limit is skipped up to its LF and reported as
 * SMTPD_LINE_TOO_LONG, after which the session carries on.  A line ends in
 * LF; a CR before it is removed.
 *
 * Errors: end of file and timeouts set st->io_error and are returned as
 * line statuses; write failures set st->io_error.  Nothing dies.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "smtpd/smtpd.h"
#include "util/msg.h"
#include "util/vstr.h"

/* One read; DATA and BDAT content streams through in pieces this big. */
#define SMTPD_READ_CHUNK (64 * 1024)

size_t
smtpd_io_avail(const SMTPD_STATE *st)
{
	return VSTR_LEN(st->in) - st->in_pos;
}

const char *
smtpd_io_peek(const SMTPD_STATE *st)
{
	return VSTR_STR(st->in) + st->in_pos;
}

void
smtpd_io_consume(SMTPD_STATE *st, size_t n)
{
	if (n > smtpd_io_avail(st))
		msg_panic("smtpd_io_consume: %zu > %zu", n, smtpd_io_avail(st));
	st->in_pos += n;
	if (st->in_pos == VSTR_LEN(st->in)) {
		vstr_reset(st->in);
		st->in_pos = 0;
	}
}

/*
 * Read more input: 1 bytes were added, 0 end of file, -1 error or
 * timeout (errno).  Pending replies go out first: the client may be
 * waiting for them before it sends more.
 */
int
smtpd_io_fill(SMTPD_STATE *st)
{
	ssize_t n;

	if (smtpd_io_flush(st) < 0)
		return -1;
	/* Keep the unread tail at the front; the buffer stays bounded. */
	if (st->in_pos > 0) {
		vstr_erase_front(st->in, st->in_pos);
		st->in_pos = 0;
	}
	if (vstr_space(st->in, SMTPD_READ_CHUNK) < 0)
		msg_panic("smtpd_io_fill: no space");
	n = st->hooks->read(st->io, VSTR_END(st->in), SMTPD_READ_CHUNK,
			    st->par->timeout * 1000);
	if (n < 0) {
		if (errno == ETIMEDOUT)
			st->timed_out = true;
		return -1;
	}
	if (n == 0)
		return 0;
	vstr_set_len(st->in, VSTR_LEN(st->in) + (size_t)n);
	return 1;
}

static enum smtpd_line_status
smtpd_io_fill_status(SMTPD_STATE *st)
{
	int ret = smtpd_io_fill(st);

	if (ret > 0)
		return SMTPD_LINE_OK;
	st->io_error = true;
	if (ret < 0 && errno == ETIMEDOUT)
		return SMTPD_LINE_TIMEOUT;
	return SMTPD_LINE_EOF;
}

enum smtpd_line_status
smtpd_io_get_line(SMTPD_STATE *st)
{
	enum smtpd_line_status status;
	bool		       too_long = false;
	const char	      *start;
	const char	      *nl;
	size_t		       avail;
	size_t		       len;

	for (;;) {
		start = smtpd_io_peek(st);
		avail = smtpd_io_avail(st);
		if ((nl = memchr(start, '\n', avail)) != NULL)
			break;
		/* Past the bound: drop what we have and remember. */
		if (avail > st->par->line_limit + 1) {
			too_long = true;
			smtpd_io_consume(st, avail);
		}
		if ((status = smtpd_io_fill_status(st)) != SMTPD_LINE_OK)
			return status;
	}
	len = (size_t)(nl - start);
	if (too_long || len > st->par->line_limit + 1) {
		smtpd_io_consume(st, len + 1);
		return SMTPD_LINE_TOO_LONG;
	}
	if (len > 0 && start[len - 1] == '\r')
		len--;
	if (len > st->par->line_limit) {
		smtpd_io_consume(st, (size_t)(nl - start) + 1);
		return SMTPD_LINE_TOO_LONG;
	}
	vstr_memcpy(st->line, start, len);
	smtpd_io_consume(st, (size_t)(nl - start) + 1);
	return SMTPD_LINE_OK;
}

/* Make the reply from `start` on safe: control bytes become '?'. */
static void
smtpd_reply_end(SMTPD_STATE *st, size_t start)
{
	char  *line = VSTR_STR(st->out) + start;
	size_t len = VSTR_LEN(st->out) - start;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (msg_verbose)
		msg_info("> %s[%s]: %.*s", st->peer.name, st->peer.addr,
			 (int)len, line);
	vstr_memcat(st->out, "\r\n", 2);
	st->reply_open = len > 3 && line[3] == '-';
}

/*
 * Called before a reply starts (not before the further lines of one):
 * the smtpd_soft_error_limit delay.  The errors are counted after each
 * command's reply, so the reply that makes the count reach the limit is
 * not delayed yet, the next one is.
 */
static void
smtpd_reply_delay(SMTPD_STATE *st)
{
	if (st->reply_open || st->errors < st->par->soft_error_limit
	    || st->par->error_sleep <= 0 || st->io_error
	    || st->hooks->sleep == NULL)
		return;
	if (smtpd_io_flush(st) == 0)
		st->hooks->sleep(st->par->error_sleep);
}

/* $client_address and friends in smtpd_reject_footer, as Postfix has them. */
static void
smtpd_footer_expand(const SMTPD_STATE *st, const char *text, VSTR *out)
{
	static const char *const names[] = {
		"client_address", "client_name", "client_port",
		"localtime",	  "server_name",
	};
	char	  stamp[64];
	time_t	  now = time(NULL);
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL
	    || strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm) == 0)
		stamp[0] = 0;
	vstr_reset(out);
	while (*text) {
		const char *value = NULL;
		size_t	    skip = 0;

		if (*text == '$') {
			bool	    brace = text[1] == '{';
			const char *name = text + 1 + brace;

			for (size_t i = 0; i < sizeof(names) / sizeof(*names);
			     i++) {
				size_t n = strlen(names[i]);

				if (strncmp(name, names[i], n) != 0
				    || (brace && name[n] != '}')
				    || (!brace
					&& (isalnum((unsigned char)name[n])
					    || name[n] == '_')))
					continue;
				value = i == 0	 ? st->peer.addr
					: i == 1 ? st->peer.name
					: i == 2 ? st->peer.port
					: i == 3 ? stamp
						 : st->par->myhostname;
				if (value == NULL)
					value = "";
				skip = 1 + brace + n + brace;
				break;
			}
		}
		if (value != NULL) {
			vstr_strcat(out, value);
			text += skip;
		} else {
			vstr_addch(out, *text++);
		}
	}
}

/*
 * smtpd_reject_footer: the final line of a 4xx or 5xx reply is followed
 * by the footer, as more lines with the same code and enhanced status
 * code ("\n" in the footer starts another line); a footer that starts
 * with "\c" continues the reply's own line instead.
 */
static void
smtpd_reply_footer(SMTPD_STATE *st, size_t start)
{
	const char *footer = st->par->reject_footer;
	VSTR	   *text;
	VSTR	   *prefix;
	char	   *line = VSTR_STR(st->out) + start;
	size_t	    len = VSTR_LEN(st->out) - start;
	const char *seg;
	const char *next;
	size_t	    dsn = 0;
	char	    code[4];

	if (footer == NULL || *footer == 0 || len < 4
	    || (line[0] != '4' && line[0] != '5')
	    || !isdigit((unsigned char)line[1])
	    || !isdigit((unsigned char)line[2]) || line[3] != ' ') {
		smtpd_reply_end(st, start);
		return;
	}
	/* "5.7.1 " after the code is repeated on the footer's lines. */
	if (len > 5 && line[4] == line[0] && line[5] == '.') {
		dsn = strspn(line + 4, "0123456789.");
		if (line[4 + dsn] == ' ')
			dsn++;
		else
			dsn = 0;
	}
	memcpy(code, line, 3);
	code[3] = 0;
	prefix = vstr_alloc(16);
	vstr_memcpy(prefix, line + 4, dsn);
	text = vstr_alloc(128);
	smtpd_footer_expand(st, footer, text);
	seg = VSTR_STR(text);
	if (strncmp(seg, "\\c", 2) == 0) {
		seg += 2;
		next = strstr(seg, "\\n");
		vstr_memcat(st->out, seg,
			    next ? (size_t)(next - seg) : strlen(seg));
		seg = next ? next + 2 : NULL;
	}
	while (seg != NULL) {
		next = strstr(seg, "\\n");
		/* The line so far is not the last one after all. */
		VSTR_STR(st->out)[start + 3] = '-';
		smtpd_reply_end(st, start);
		start = VSTR_LEN(st->out);
		vstr_sprintf_append(st->out, "%s %s%.*s", code,
				    VSTR_STR(prefix),
				    (int)(next ? (size_t)(next - seg)
					       : strlen(seg)),
				    seg);
		seg = next ? next + 2 : NULL;
	}
	smtpd_reply_end(st, start);
	vstr_free(text);
	vstr_free(prefix);
}

static void
smtpd_reply_text(SMTPD_STATE *st, const char *line, size_t len)
{
	size_t start = VSTR_LEN(st->out);

	vstr_memcat(st->out, line, len);
	smtpd_reply_footer(st, start);
}

/* Append one reply line (without CRLF). */
void
smtpd_reply_raw(SMTPD_STATE *st, const char *line, size_t len)
{
	smtpd_reply_delay(st);
	smtpd_reply_text(st, line, len);
}

/*
 * A reply of several lines separated by CRLF (a milter's multi-line
 * reply): each line made safe, the footer after the last one only.
 */
void
smtpd_reply_lines(SMTPD_STATE *st, const char *text, size_t len)
{
	const char *end = text + len;
	const char *nl;

	smtpd_reply_delay(st);
	while ((nl = memmem(text, (size_t)(end - text), "\r\n", 2)) != NULL) {
		size_t start = VSTR_LEN(st->out);

		vstr_memcat(st->out, text, (size_t)(nl - text));
		smtpd_reply_end(st, start);
		text = nl + 2;
	}
	/* A text cut short (cleanup's reply is bounded) still ends. */
	if (end - text > 3 && text[3] == '-') {
		size_t start = VSTR_LEN(st->out);

		smtpd_reply_text(st, text, (size_t)(end - text));
		VSTR_STR(st->out)[start + 3] = ' ';
		st->reply_open = false;
		return;
	}
	smtpd_reply_text(st, text, (size_t)(end - text));
}

void
smtpd_reply(SMTPD_STATE *st, const char *fmt, ...)
{
	size_t	start;
	va_list ap;

	smtpd_reply_delay(st);
	start = VSTR_LEN(st->out);
	va_start(ap, fmt);
	vstr_vsprintf_append(st->out, fmt, ap);
	va_end(ap);
	smtpd_reply_footer(st, start);
}

int
smtpd_io_flush(SMTPD_STATE *st)
{
	int ret = 0;

	if (VSTR_LEN(st->out) == 0)
		return 0;
	if (!st->io_error
	    && st->hooks->write(st->io, VSTR_STR(st->out), VSTR_LEN(st->out),
				st->par->timeout * 1000)
		   < 0) {
		st->io_error = true;
		ret = -1;
	}
	vstr_reset(st->out);
	return ret;
}
