/*
 * smtp_xforward - the client half of XFORWARD (Postfix's
 * smtp_send_xforward_command): tell an after-queue filter's re-injection
 * listener who the original client was, from the queue file's envelope
 * attributes (client_name, client_address, client_port, protocol_name,
 * helo_name, rewrite_context) and the queue ID.
 *
 * Errors: smtp_xforward_lines returns -1 with why when the queue file
 * cannot be read; unknown values go as [UNAVAILABLE].
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp.h"
#include "util/mymalloc.h"
#include "util/rec.h"
#include "util/xforward.h"

#define SMTP_XFORWARD_LINE_MAX 500 /* RFC 5321 command line is 512 */
#define SMTP_XFORWARD_REC_MAX  4096

void
smtp_xforward_features(SMTP_SESSION *s)
{
	const char *val = smtp_reply_ehlo_find(s->reply, "XFORWARD");
	char	   *copy, *cp, *word;

	s->xforward = 0;
	if (val == NULL)
		return;
	s->features |= SMTP_FEATURE_XFORWARD;
	copy = mystrdup(val);
	cp = copy;
	while ((word = strsep(&cp, " \t")) != NULL)
		for (int a = 0; a < XFORWARD_COUNT; a++)
			if (strcasecmp(word, xforward_attr_name(a)) == 0)
				s->xforward |= 1 << a;
	myfree(copy);
}

/* The envelope attributes XFORWARD needs, from the records before M. */
static int
smtp_xforward_read(int fd, char *val[XFORWARD_COUNT], VSTR *why)
{
	static const struct {
		const char *name;
		int	    attr;
	} names[] = {
		{ "client_name=", XFORWARD_NAME },
		{ "client_address=", XFORWARD_ADDR },
		{ "client_port=", XFORWARD_PORT },
		{ "protocol_name=", XFORWARD_PROTO },
		{ "helo_name=", XFORWARD_HELO },
		{ "rewrite_context=", XFORWARD_SOURCE },
	};
	REC_READER *r = rec_reader_create(fd, 0);
	VSTR	   *buf = vstr_alloc(256);
	int	    type, rc, ret = -1;

	while ((rc = rec_get(r, &type, buf, SMTP_XFORWARD_REC_MAX)) > 0) {
		if (type == REC_TYPE_MESG) {
			ret = 0;
			break;
		}
		if (type != REC_TYPE_ATTR)
			continue;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			size_t n = strlen(names[i].name);

			if (strncmp(VSTR_STR(buf), names[i].name, n) == 0) {
				myfree(val[names[i].attr]);
				val[names[i].attr] = mystrdup(VSTR_STR(buf)
							      + n);
			}
		}
	}
	if (ret < 0)
		vstr_sprintf(why, "queue file read error: %s",
			     rc < 0 && errno == EBADMSG ? rec_reader_why(r)
			     : rc < 0			? strerror(errno)
							: "no content");
	rec_reader_free(r);
	vstr_free(buf);
	return ret;
}

int
smtp_xforward_lines(const SMTP_SESSION *s, const SMTP_DELIVERY *d, VSTR *out,
		    VSTR *why)
{
	char *val[XFORWARD_COUNT] = { 0 };
	VSTR *line = vstr_alloc(SMTP_XFORWARD_LINE_MAX);
	VSTR *item = vstr_alloc(64);
	int   a;

	vstr_reset(out);
	if (d->qfd < 0 || smtp_xforward_read(d->qfd, val, why) < 0) {
		if (d->qfd < 0)
			vstr_strcpy(why, "queue file is not open");
		for (a = 0; a < XFORWARD_COUNT; a++)
			myfree(val[a]);
		vstr_free(line);
		vstr_free(item);
		return -1;
	}
	val[XFORWARD_IDENT] = mystrdup(d->req->queue_id);
	/* Postfix: the rewrite context says where the mail came from. */
	if (val[XFORWARD_SOURCE]) {
		const char *src = strcmp(val[XFORWARD_SOURCE], "local") == 0
				      ? "LOCAL"
				      : "REMOTE";

		myfree(val[XFORWARD_SOURCE]);
		val[XFORWARD_SOURCE] = mystrdup(src);
	}
	for (a = 0; a < XFORWARD_COUNT; a++) {
		if (!(s->xforward & (1 << a)))
			continue;
		vstr_reset(item);
		xforward_item(item, xforward_attr_name(a), val[a]);
		/* One value can never fill a line: each is bounded. */
		if (VSTR_LEN(line) > 0
		    && VSTR_LEN(line) + VSTR_LEN(item)
			   > SMTP_XFORWARD_LINE_MAX) {
			vstr_sprintf_append(out, "XFORWARD%s\n",
					    VSTR_STR(line));
			vstr_reset(line);
		}
		if (VSTR_LEN(item) <= SMTP_XFORWARD_LINE_MAX)
			vstr_strcat(line, VSTR_STR(item));
	}
	if (VSTR_LEN(line) > 0)
		vstr_sprintf_append(out, "XFORWARD%s\n", VSTR_STR(line));
	for (a = 0; a < XFORWARD_COUNT; a++)
		myfree(val[a]);
	vstr_free(line);
	vstr_free(item);
	return 0;
}
