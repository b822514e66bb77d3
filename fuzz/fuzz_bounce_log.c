/*
 * libFuzzer target for the bounce/defer/trace log reader: arbitrary
 * bytes as a log.  The reader must return, never crash; every entry it
 * accepts must format back into a line that parses to the same entry
 * (so what bounce writes is always what bounce reads), and a DSN built
 * from it (peer text in every field) must keep CRLF-only line ends and
 * never have a line starting with the MIME boundary except those the
 * builder wrote.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/bounce_client.h"
#include "util/dsn.h"
#include "util/vstr.h"

static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

#define BOUNDARY "QID.1/fuzz.example"

static void
check_dsn(const struct bounce_log_entry *e)
{
	struct dsn_rcpt r = {
		.addr = e->rcpt,
		.orig = e->orig,
		.orcpt = e->orcpt,
		.action = e->action,
		.status = e->dsn,
		.remote_mta = e->remote_mta,
		.diag_type = e->diag_type,
		.reply = e->reply,
		.last_attempt = e->time,
	};
	struct dsn_request req = {
		.kind = DSN_KIND_FAILED,
		.myhostname = "fuzz.example",
		.mail_name = "Postel",
		.queue_id = "QID",
		.sender = e->rcpt,
		.to = e->rcpt,
		.envid = e->orcpt,
		.boundary = BOUNDARY,
		.arrival = e->time,
		.now = e->time,
		.rcpts = &r,
		.nrcpt = 1,
		.size_limit = 100,
		.content = "Subject: x\r\n\r\nbody\r\n",
		.content_len = 20,
	};
	VSTR	   *out = vstr_alloc(1024);
	const char *p, *s;
	size_t	    i, n = 0;

	dsn_build(out, &req);
	s = VSTR_STR(out);
	for (i = 0; i < VSTR_LEN(out); i++) {
		if (s[i] == '\r'
		    && (i + 1 >= VSTR_LEN(out) || s[i + 1] != '\n'))
			abort();
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			abort();
	}
	/* Delimiter lines: three part starts and the close, no more. */
	for (p = s; (p = memmem(p, (size_t)(s + VSTR_LEN(out) - p),
				"\n--" BOUNDARY, strlen("\n--" BOUNDARY)))
		    != NULL;
	     p++)
		n++;
	if (n != 4)
		abort();
	vstr_free(out);
}

static void
check_entry(void *ctx, const struct bounce_log_entry *e)
{
	VSTR		       *line = vstr_alloc(256);
	VSTR		       *fields[BOUNCE_LOG_FIELDS];
	struct bounce_log_entry d;
	size_t			i;

	(void)ctx;
	for (i = 0; i < BOUNCE_LOG_FIELDS; i++)
		fields[i] = vstr_alloc(16);
	bounce_log_format(line, e);
	if (bounce_log_parse_line(VSTR_STR(line), VSTR_LEN(line) - 1, fields,
				  &d, NULL)
	    < 0)
		abort();
	/* An empty optional field is written as absent. */
	if (d.time != e->time || !same(d.action, e->action)
	    || !same(d.dsn, e->dsn) || d.notify != e->notify
	    || !same(d.rcpt, e->rcpt) || !same(d.reply, e->reply)
	    || !same(d.orig, e->orig && *e->orig ? e->orig : NULL)
	    || !same(d.orcpt, e->orcpt && *e->orcpt ? e->orcpt : NULL)
	    || !same(d.relay, e->relay && *e->relay ? e->relay : NULL))
		abort();
	for (i = 0; i < BOUNCE_LOG_FIELDS; i++)
		vstr_free(fields[i]);
	vstr_free(line);
	check_dsn(e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bounce_log_walk_mem((const char *)data, size, check_entry, NULL, NULL);
	return 0;
}
