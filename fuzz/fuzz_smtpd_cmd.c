/*
 * libFuzzer target for smtpd's command side: arbitrary bytes as a whole
 * client session (commands, DATA, BDAT, pipelining) through the real
 * state machine, with the in-memory world of tests/unit/smtpd_fake.h (no
 * sockets, fake policy and cleanup).  The first two bytes pick the read
 * piece size and a few limits so that bound-crossing paths are reached.
 * Invariants checked: every reply line is CRLF-terminated and starts with
 * three digits; a message is queued only when a 250 "queued as" was sent;
 * queued content never holds a bare CR or LF.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/smtpd_fake.h"
#include "util/msg.h"

static void
quiet(enum msg_level level, const char *text)
{
	(void)level;
	(void)text;
}

static void
check_replies(const VSTR *out)
{
	const char *p = VSTR_STR(out);
	const char *end = VSTR_END(out);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL || nl - p < 4 || nl[-1] != '\r')
			abort();
		for (int i = 0; i < 3; i++)
			if (p[i] < '0' || p[i] > '9')
				abort();
		for (const char *q = p; q < nl - 1; q++)
			if ((unsigned char)*q < 0x20)
				abort();
		p = nl + 1;
	}
}

static void
check_content(const VSTR *content)
{
	const char *p = VSTR_STR(content);

	for (size_t i = 0; i < VSTR_LEN(content); i++) {
		if (p[i] == '\r'
		    && (i + 1 >= VSTR_LEN(content) || p[i + 1] != '\n'))
			abort();
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool	    init;
	struct smtpd_params par;
	struct fake	    f;
	size_t		    queued_replies = 0;

	if (!init) {
		msg_output_reset();
		msg_output_add(quiet);
		init = true;
	}
	if (size < 2)
		return 0;
	fake_params(&par);
	par.line_limit = 512 + (data[0] & 0x0f) * 16;
	par.size_limit = (data[0] & 0x10) ? 64 : 200000;
	par.bare_reject = (data[0] & 0x20) != 0;
	par.forbid_unauth_pipelining = (data[0] & 0x40) != 0;
	par.recipient_limit = (data[0] & 0x80) ? 2 : 1000;
	fake_init(&f, (const char *)data + 2, size - 2);
	f.piece = data[1] ? data[1] : 0;
	f.fail_begin = (data[1] & 0x03) == 0x03;
	fake_session(&f, &par, (data[1] & 0x04) ? "127.0.0.1" : "192.0.2.1");
	check_replies(f.out);
	for (const char *p = VSTR_STR(f.out);
	     (p = strstr(p, "250 2.0.0 Ok: queued as ")) != NULL; p++)
		if (p == VSTR_STR(f.out) || p[-1] == '\n')
			queued_replies++;
	if (queued_replies != (size_t)f.queued)
		abort();
	if (f.queued)
		check_content(f.content);
	fake_done(&f);
	return 0;
}
