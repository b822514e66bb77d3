/*
 * dict_tcp - "tcp:host:port": Postfix's tcp_table(5) client, the protocol
 * postsrsd 1.x (and other table servers) speak.
 *
 * A lookup sends "get KEY\n" and reads one line back: "200 VALUE" (found),
 * "500 TEXT" (not found), "400 TEXT" (the server could not answer).  In
 * both directions KEY and VALUE are %XX-encoded: '%', white space,
 * control characters and bytes above 126 travel as %XX, so neither can
 * carry a space or a newline; the reply is decoded, and a %-sequence that
 * is not two hex digits, or one that decodes to NUL, is a malformed
 * reply.  A 400 reply, any other code, a server that cannot be reached,
 * times out or sends more than DICT_TCP_MAX_REPLY bytes is a table error:
 * -1 with a warning naming the table and the server's text, so the caller
 * defers; it is never "not found".
 *
 * The connection is kept for the next lookup and made again once when a
 * kept one was found dead (util/dict_conn); each lookup is bounded by
 * DICT_TCP_TIMEOUT (Postfix's tcp client has no setting for it either).
 * The table is read-only (Postfix's client never sends "put").
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_conn.h"
#include "util/dict_impl.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

#define DICT_TCP_MAX_REPLY 100000 /* bytes of one reply line */
#define DICT_TCP_TIMEOUT   100	  /* seconds, one lookup */
#define DICT_TCP_MAX_IDLE  10	  /* seconds */
#define DICT_TCP_MAX_TTL   100	  /* seconds */

typedef struct DICT_TCP {
	DICT	   dict;
	DICT_CONN *conn;
	VSTR	  *req;
	VSTR	  *reply;
	VSTR	  *value;
	VSTR	  *why;
} DICT_TCP;

static int
dict_tcp_framing(const char *buf, size_t len, size_t max, size_t *used,
		 VSTR *why)
{
	const char *nl = memchr(buf, '\n', len);
	size_t	    line = nl ? (size_t)(nl - buf) : len;

	if (line > max) {
		vstr_sprintf(why, "reply longer than the limit of %zu bytes",
			     max);
		return -1;
	}
	if (nl == NULL)
		return 0;
	*used = line + 1;
	return 1;
}

static void
dict_tcp_encode(VSTR *out, const char *s)
{
	static const char    hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p == '%' || *p > '~') {
			vstr_addch(out, '%');
			vstr_addch(out, hex[*p >> 4]);
			vstr_addch(out, hex[*p & 15]);
		} else
			vstr_addch(out, *p);
	}
}

static int
dict_tcp_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX into out; -1 for a broken sequence or a NUL. */
static int
dict_tcp_decode(VSTR *out, const char *s, size_t len)
{
	size_t i;

	vstr_reset(out);
	for (i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] != '%') {
			if (s[i] == 0)
				return -1;
			vstr_addch(out, s[i]);
			continue;
		}
		if (len - i < 3 || (hi = dict_tcp_hex(s[i + 1])) < 0
		    || (lo = dict_tcp_hex(s[i + 2])) < 0 || (hi | lo) == 0)
			return -1;
		vstr_addch(out, hi << 4 | lo);
		i += 2;
	}
	return 0;
}

/*
 * One reply line without its newline (util/dict_impl.h).  Whatever the
 * line holds, the status is judged from at most its first four bytes and
 * the value is decoded within len.
 */
int
dict_tcp_reply(const char *line, size_t len, VSTR *value, const char **text,
	       size_t *tlen)
{
	int code;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len < 3 || memchr("245", line[0], 3) == NULL || line[1] != '0'
	    || line[2] != '0' || (len > 3 && line[3] != ' '))
		return -1;
	code = line[0] - '0';
	*text = line + (len > 3 ? 4 : 3);
	*tlen = len - (len > 3 ? 4 : 3);
	if (code == 2 && dict_tcp_decode(value, *text, *tlen) < 0)
		return -1;
	return code;
}

static int
dict_tcp_lookup(DICT *d, const char *key, const char **value)
{
	DICT_TCP   *dt = (DICT_TCP *)d;
	const char *text;
	size_t	    len;

	vstr_strcpy(dt->req, "get ");
	dict_tcp_encode(dt->req, key);
	vstr_addch(dt->req, '\n');
	if (dict_conn_call(dt->conn, VSTR_STR(dt->req), VSTR_LEN(dt->req),
			   dict_tcp_framing, dt->reply, dt->why)
	    < 0) {
		int saved = errno;

		msg_warn("%s: lookup of \"%s\": %s", d->spec, key,
			 VSTR_STR(dt->why));
		errno = saved;
		return -1;
	}
	/* The framing leaves exactly one line with its newline. */
	switch (dict_tcp_reply(VSTR_STR(dt->reply), VSTR_LEN(dt->reply) - 1,
			       dt->value, &text, &len)) {
	case 2:
		*value = VSTR_STR(dt->value);
		return 1;
	case 5:
		return 0;
	case 4:
		msg_warn("%s: lookup of \"%s\": tcp server %s error: 400 %.*s",
			 d->spec, key, dict_conn_name(dt->conn),
			 (int)(len > 200 ? 200 : len), text);
		errno = EAGAIN;
		return -1;
	default:
		break;
	}
	len = VSTR_LEN(dt->reply) - 1;
	msg_warn("%s: lookup of \"%s\": tcp server %s: malformed reply: "
		 "\"%.*s\"",
		 d->spec, key, dict_conn_name(dt->conn),
		 (int)(len > 100 ? 100 : len), VSTR_STR(dt->reply));
	errno = EPROTO;
	return -1;
}

static void
dict_tcp_close(DICT *d)
{
	DICT_TCP *dt = (DICT_TCP *)d;

	dict_conn_free(dt->conn);
	vstr_free(dt->req);
	vstr_free(dt->reply);
	vstr_free(dt->value);
	vstr_free(dt->why);
}

DICT *
dict_tcp_open(const char *name, int flags, VSTR *why)
{
	struct dict_conn_limits lim = {
		.timeout_ms = DICT_TCP_TIMEOUT * 1000,
		.max_reply = DICT_TCP_MAX_REPLY,
		.max_idle = DICT_TCP_MAX_IDLE,
		.max_ttl = DICT_TCP_MAX_TTL,
	};
	VSTR	   *endpoint = vstr_alloc(64);
	DICT_CONN  *conn;
	DICT_TCP   *dt;
	const char *colon = strrchr(name, ':');

	if (colon == NULL || colon == name || colon[1] == 0
	    || strncmp(name, "inet:", 5) == 0
	    || strncmp(name, "unix:", 5) == 0) {
		vstr_sprintf(why, "table \"tcp:%s\": expected tcp:host:port",
			     name);
		vstr_free(endpoint);
		errno = EINVAL;
		return NULL;
	}
	vstr_sprintf(endpoint, "inet:%s", name);
	conn = dict_conn_create(VSTR_STR(endpoint), &lim, why);
	vstr_free(endpoint);
	if (conn == NULL) {
		VSTR *tmp = vstr_alloc(64);

		vstr_sprintf(tmp, "table \"tcp:%s\": %s", name, VSTR_STR(why));
		vstr_strcpy(why, VSTR_STR(tmp));
		vstr_free(tmp);
		errno = EINVAL;
		return NULL;
	}
	dt = (DICT_TCP *)dict_alloc(sizeof(*dt), "tcp", name, flags);
	dt->conn = conn;
	dt->req = vstr_alloc(64);
	dt->reply = vstr_alloc(64);
	dt->value = vstr_alloc(64);
	dt->why = vstr_alloc(64);
	dt->dict.lookup = dict_tcp_lookup;
	dt->dict.close = dict_tcp_close;
	return &dt->dict;
}
