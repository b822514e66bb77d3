/*
 * dict_socketmap - "socketmap:inet:host:port:name" and
 * "socketmap:unix:/path:name": Sendmail's socketmap protocol as Postfix's
 * socketmap_table(5) speaks it.
 *
 * A lookup sends the netstring "name key" (util/netstring) and reads one
 * netstring reply: "OK value" (found), "NOTFOUND " (not found), or
 * "TEMP reason", "TIMEOUT reason", "PERM reason" (the server could not
 * answer).  Anything but OK and NOTFOUND, and a server that cannot be
 * reached, times out or answers nonsense, is a table error: -1 with a
 * warning naming the table and the server's text, so the caller defers;
 * it is never "not found".
 *
 * The connection is kept for the next lookup (util/dict_conn: reused
 * while idle at most DICT_SOCKMAP_MAX_IDLE seconds and for at most
 * DICT_SOCKMAP_MAX_TTL, sent once more on a new connection when a kept
 * one was found dead).  Postfix's fixed limits apply: replies of at most
 * DICT_SOCKMAP_MAX_REPLY bytes; each lookup is bounded by
 * socketmap_timeout (dict_socketmap_configure; 100 s as Postfix's until
 * then).  The table is read-only.
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
#include "util/netstring.h"
#include "util/vstr.h"

#define DICT_SOCKMAP_MAX_REPLY 100000 /* bytes of one reply's payload */
#define DICT_SOCKMAP_MAX_IDLE  10     /* seconds */
#define DICT_SOCKMAP_MAX_TTL   100    /* seconds */

static long long dict_socketmap_timeout = 100; /* seconds */

typedef struct DICT_SOCKMAP {
	DICT	   dict;
	char	  *map; /* the name sent with each request */
	DICT_CONN *conn;
	VSTR	  *req;
	VSTR	  *reply;
	VSTR	  *value;
	VSTR	  *why;
} DICT_SOCKMAP;

void
dict_socketmap_configure(long long timeout_s)
{
	if (timeout_s > 0 && timeout_s <= 86400)
		dict_socketmap_timeout = timeout_s;
}

static int
dict_socketmap_framing(const char *buf, size_t len, size_t max, size_t *used,
		       VSTR *why)
{
	const char *data;
	size_t	    dlen;

	return netstring_get(buf, len, max, &data, &dlen, used, why);
}

/* Status word of a reply and what follows its space. */
static bool
dict_socketmap_is(const char *data, size_t len, const char *word,
		  const char **rest, size_t *rlen)
{
	size_t wlen = strlen(word);

	if (len < wlen || memcmp(data, word, wlen) != 0)
		return false;
	if (len == wlen) {
		*rest = data + len;
		*rlen = 0;
		return true;
	}
	if (data[wlen] != ' ')
		return false;
	*rest = data + wlen + 1;
	*rlen = len - wlen - 1;
	return true;
}

static int
dict_socketmap_lookup(DICT *d, const char *key, const char **value)
{
	DICT_SOCKMAP *dm = (DICT_SOCKMAP *)d;
	const char   *data, *rest;
	size_t	      dlen, rlen, used;

	vstr_reset(dm->req);
	vstr_strcpy(dm->value, dm->map);
	vstr_addch(dm->value, ' ');
	vstr_strcat(dm->value, key);
	netstring_put(dm->req, VSTR_STR(dm->value), VSTR_LEN(dm->value));
	if (dict_conn_call(dm->conn, VSTR_STR(dm->req), VSTR_LEN(dm->req),
			   dict_socketmap_framing, dm->reply, dm->why)
	    < 0) {
		int saved = errno;

		msg_warn("%s: lookup of \"%s\": %s", d->spec, key,
			 VSTR_STR(dm->why));
		errno = saved;
		return -1;
	}
	if (netstring_get(VSTR_STR(dm->reply), VSTR_LEN(dm->reply),
			  DICT_SOCKMAP_MAX_REPLY, &data, &dlen, &used, NULL)
	    != 1)
		msg_panic("%s: framed reply does not parse", d->spec);
	if (dict_socketmap_is(data, dlen, "OK", &rest, &rlen)) {
		if (memchr(rest, 0, rlen) != NULL) {
			msg_warn("%s: lookup of \"%s\": socketmap server %s "
				 "sent a value with a NUL byte",
				 d->spec, key, dict_conn_name(dm->conn));
			errno = EPROTO;
			return -1;
		}
		vstr_memcpy(dm->value, rest, rlen);
		*value = VSTR_STR(dm->value);
		return 1;
	}
	if (dict_socketmap_is(data, dlen, "NOTFOUND", &rest, &rlen))
		return 0;
	if (dict_socketmap_is(data, dlen, "TEMP", &rest, &rlen)
	    || dict_socketmap_is(data, dlen, "TIMEOUT", &rest, &rlen)
	    || dict_socketmap_is(data, dlen, "PERM", &rest, &rlen)) {
		/* The status word ends where its reason starts. */
		msg_warn("%s: lookup of \"%s\": socketmap server %s error: "
			 "%.*s",
			 d->spec, key, dict_conn_name(dm->conn),
			 (int)(dlen > 200 ? 200 : dlen), data);
		errno = EAGAIN;
		return -1;
	}
	msg_warn("%s: lookup of \"%s\": socketmap server %s: malformed reply: "
		 "\"%.*s\"",
		 d->spec, key, dict_conn_name(dm->conn),
		 (int)(dlen > 100 ? 100 : dlen), data);
	errno = EPROTO;
	return -1;
}

static void
dict_socketmap_close(DICT *d)
{
	DICT_SOCKMAP *dm = (DICT_SOCKMAP *)d;

	myfree(dm->map);
	dict_conn_free(dm->conn);
	vstr_free(dm->req);
	vstr_free(dm->reply);
	vstr_free(dm->value);
	vstr_free(dm->why);
}

DICT *
dict_socketmap_open(const char *name, int flags, VSTR *why)
{
	struct dict_conn_limits lim = {
		.timeout_ms = (int)dict_socketmap_timeout * 1000,
		.max_reply = DICT_SOCKMAP_MAX_REPLY,
		.max_idle = DICT_SOCKMAP_MAX_IDLE,
		.max_ttl = DICT_SOCKMAP_MAX_TTL,
	};
	const char   *colon = strrchr(name, ':');
	char	     *endpoint;
	DICT_CONN    *conn;
	DICT_SOCKMAP *dm;

	if (colon == NULL || colon[1] == 0 || strchr(colon + 1, ' ') != NULL
	    || (strncmp(name, "inet:", 5) != 0
		&& strncmp(name, "unix:", 5) != 0)) {
		vstr_sprintf(why,
			     "table \"socketmap:%s\": expected "
			     "socketmap:inet:host:port:name or "
			     "socketmap:unix:/path:name",
			     name);
		errno = EINVAL;
		return NULL;
	}
	endpoint = mystrndup(name, (size_t)(colon - name));
	conn = dict_conn_create(endpoint, &lim, why);
	myfree(endpoint);
	if (conn == NULL) {
		VSTR *tmp = vstr_alloc(64);

		vstr_sprintf(tmp, "table \"socketmap:%s\": %s", name,
			     VSTR_STR(why));
		vstr_strcpy(why, VSTR_STR(tmp));
		vstr_free(tmp);
		errno = EINVAL;
		return NULL;
	}
	dm = (DICT_SOCKMAP *)dict_alloc(sizeof(*dm), "socketmap", name, flags);
	dm->map = mystrdup(colon + 1);
	dm->conn = conn;
	dm->req = vstr_alloc(64);
	dm->reply = vstr_alloc(64);
	dm->value = vstr_alloc(64);
	dm->why = vstr_alloc(64);
	dm->dict.lookup = dict_socketmap_lookup;
	dm->dict.close = dict_socketmap_close;
	return &dm->dict;
}
