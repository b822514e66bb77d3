/*
 * addr - RFC 5321 / RFC 5322 address parsing.  See addr.h for the API,
 * the error replies and ownership.
 *
 * The SMTP path parser is a single left-to-right scan with a cursor: every
 * byte is looked at a bounded number of times, so hostile input costs
 * linear time.  The header parser first splits the text into tokens
 * (atoms, quoted strings, domain literals, specials; comments dropped) and
 * then walks the token list once.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util/addr.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* ASCII only, whatever the locale. */
static bool
addr_alnum(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
	       || (ch >= '0' && ch <= '9');
}

/* RFC 5322 atext, ASCII part. */
static bool
addr_atext(int ch)
{
	return addr_alnum(ch)
	       || (ch > 0 && ch < 0x80 && strchr("!#$%&'*+-/=?^_`{|}~", ch));
}

/* Well-formed UTF-8: no overlongs, no surrogates, nothing past U+10FFFF. */
bool
addr_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t		     i = 0;
	size_t		     n;
	size_t		     k;
	uint32_t	     cp;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 3;
			cp = s[i] & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
		    || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static bool
addr_has_8bit(const char *str, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)str[i] >= 0x80)
			return true;
	return false;
}

/* Object life cycle. */

ADDR *
addr_alloc(void)
{
	ADDR *a = mymalloc(sizeof(*a));

	a->local = vstr_alloc(32);
	a->domain = vstr_alloc(32);
	a->addr = vstr_alloc(64);
	a->route = vstr_alloc(0);
	a->flags = 0;
	return a;
}

ADDR *
addr_free(ADDR *a)
{
	if (a) {
		vstr_free(a->local);
		vstr_free(a->domain);
		vstr_free(a->addr);
		vstr_free(a->route);
		myfree(a);
	}
	return NULL;
}

static void
addr_reset(ADDR *a)
{
	vstr_reset(a->local);
	vstr_reset(a->domain);
	vstr_reset(a->addr);
	vstr_reset(a->route);
	a->flags = 0;
}

ADDR_SMTP *
addr_smtp_alloc(void)
{
	ADDR_SMTP *res = mycalloc(1, sizeof(*res));

	res->addr = addr_alloc();
	res->envid = vstr_alloc(0);
	res->orcpt_type = vstr_alloc(0);
	res->orcpt_addr = vstr_alloc(0);
	res->auth = vstr_alloc(0);
	res->reply = vstr_alloc(64);
	return res;
}

ADDR_SMTP *
addr_smtp_free(ADDR_SMTP *res)
{
	size_t i;

	if (res) {
		addr_free(res->addr);
		vstr_free(res->envid);
		vstr_free(res->orcpt_type);
		vstr_free(res->orcpt_addr);
		vstr_free(res->auth);
		vstr_free(res->reply);
		for (i = 0; i < ADDR_PARAM_MAX; i++) {
			vstr_free(res->param_name[i]);
			vstr_free(res->param_value[i]);
		}
		myfree(res);
	}
	return NULL;
}

ADDR_LIST *
addr_list_alloc(void)
{
	return mycalloc(1, sizeof(ADDR_LIST));
}

ADDR_LIST *
addr_list_free(ADDR_LIST *list)
{
	size_t i;

	if (list) {
		for (i = 0; i < list->cap; i++)
			addr_free(list->addrs[i]);
		myfree(list->addrs);
		myfree(list);
	}
	return NULL;
}

/* External forms. */

static bool
addr_is_dot_atom(const char *s, size_t len)
{
	size_t i;
	bool   prev_dot = true;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (prev_dot)
				return false;
			prev_dot = true;
		} else if (addr_atext((unsigned char)s[i])
			   || (unsigned char)s[i] >= 0x80) {
			prev_dot = false;
		} else {
			return false;
		}
	}
	return !prev_dot;
}

/* Append the local part in the form it must take on the wire. */
int
addr_quote_local(VSTR *out, const char *local, size_t len)
{
	size_t i;

	if (addr_is_dot_atom(local, len))
		return vstr_memcat(out, local, len);
	if (vstr_addch(out, '"') < 0)
		return -1;
	for (i = 0; i < len; i++) {
		if ((local[i] == '"' || local[i] == '\\')
		    && vstr_addch(out, '\\') < 0)
			return -1;
		if (vstr_addch(out, local[i]) < 0)
			return -1;
	}
	return vstr_addch(out, '"');
}

static void
addr_make_external(ADDR *a)
{
	vstr_reset(a->addr);
	if (a->flags & ADDR_F_NULL)
		return;
	addr_quote_local(a->addr, VSTR_STR(a->local), VSTR_LEN(a->local));
	if (!(a->flags & ADDR_F_NODOMAIN)) {
		vstr_addch(a->addr, '@');
		vstr_memcat(a->addr, VSTR_STR(a->domain), VSTR_LEN(a->domain));
	}
}

void
addr_lower_domain(ADDR *a)
{
	if (a->flags & ADDR_F_NODOMAIN)
		return;
	vstr_lower(a->domain);
	addr_make_external(a);
}

/*
 * Split user+ext by the first recipient_delimiter character, as Postfix
 * does: never at the first byte, and with '-' never for owner-list or
 * list-request.  Returns the delimiter used, or 0 when there was no split.
 */
int
addr_split_ext(const char *local, const char *delims, VSTR *user, VSTR *ext)
{
	size_t len = strlen(local);
	size_t pos;

	vstr_reset(ext);
	vstr_strcpy(user, local);
	if (delims == NULL || *delims == 0 || len < 2)
		return 0;
	pos = 1 + strcspn(local + 1, delims);
	if (pos >= len)
		return 0;
	if (local[pos] == '-'
	    && (strncasecmp(local, "owner-", 6) == 0
		|| (len > 8 && strcasecmp(local + len - 8, "-request") == 0)))
		return 0;
	vstr_truncate(user, pos);
	vstr_strcpy(ext, local + pos + 1);
	return (unsigned char)local[pos];
}

int
addr_relay_tricks(const ADDR *a)
{
	const char *l = VSTR_STR(a->local);
	size_t	    n = VSTR_LEN(a->local);
	int	    bits = 0;

	if (memchr(l, '%', n))
		bits |= ADDR_TRICK_PERCENT;
	if (memchr(l, '!', n))
		bits |= ADDR_TRICK_BANG;
	if (memchr(l, '@', n))
		bits |= ADDR_TRICK_AT;
	if (a->flags & ADDR_F_ROUTE)
		bits |= ADDR_TRICK_ROUTE;
	return bits;
}

/* xtext (RFC 3461 section 4). */

static int
addr_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* -1 (EINVAL) for bytes outside xtext or a broken "+HH". */
int
addr_xtext_decode(VSTR *out, const char *in, size_t len)
{
	size_t	      i;
	int	      hi;
	int	      lo;
	unsigned char ch;

	vstr_reset(out);
	for (i = 0; i < len; i++) {
		ch = (unsigned char)in[i];
		if (ch == '+') {
			if (len - i < 3 || (hi = addr_hexval(in[i + 1])) < 0
			    || (lo = addr_hexval(in[i + 2])) < 0) {
				errno = EINVAL;
				return -1;
			}
			ch = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (ch < 33 || ch > 126 || ch == '=') {
			errno = EINVAL;
			return -1;
		}
		if (vstr_addch(out, ch) < 0)
			return -1;
	}
	return 0;
}

int
addr_xtext_encode(VSTR *out, const char *in, size_t len)
{
	size_t	      i;
	unsigned char ch;

	vstr_reset(out);
	for (i = 0; i < len; i++) {
		ch = (unsigned char)in[i];
		if (ch < 33 || ch > 126 || ch == '+' || ch == '=') {
			if (vstr_sprintf_append(out, "+%02X", ch) < 0)
				return -1;
		} else if (vstr_addch(out, ch) < 0) {
			return -1;
		}
	}
	return 0;
}

/* SMTP path scanner. */

struct addr_scan {
	const char *p; /* cursor */
	const char *end;
	bool	    utf8; /* non-ASCII bytes allowed (decided
					 * later for MAIL) */
	const char *why;  /* reason for the reply text */
};

#define AT_END(s) ((s)->p >= (s)->end)
#define PEEK(s)	  (AT_END(s) ? -1 : (unsigned char)*(s)->p)

static int
addr_fail(struct addr_scan *s, const char *why)
{
	if (s->why == NULL)
		s->why = why;
	return -1;
}

/*
 * One domain: LDH labels (U-labels' bytes when utf8), at most 63 octets
 * each, 255 in all, no empty label, no hyphen at either end of a label.
 */
static int
addr_scan_domain(struct addr_scan *s, VSTR *out)
{
	const char *start = s->p;
	size_t	    label = 0;
	int	    ch;
	int	    prev = '.';

	while (!AT_END(s)) {
		ch = PEEK(s);
		if (ch == '.') {
			if (prev == '.' || prev == '-')
				return addr_fail(s, "bad domain name");
			label = 0;
		} else if (addr_alnum(ch) || (ch >= 0x80 && s->utf8)) {
			label++;
		} else if (ch == '-') {
			if (prev == '.')
				return addr_fail(s, "bad domain name");
			label++;
		} else {
			break;
		}
		if (label > 63)
			return addr_fail(s, "domain label too long");
		prev = ch;
		s->p++;
	}
	if (s->p == start || prev == '.' || prev == '-')
		return addr_fail(s, "bad domain name");
	if ((size_t)(s->p - start) > ADDR_DOMAIN_MAX)
		return addr_fail(s, "domain name too long");
	if (out && vstr_memcpy(out, start, (size_t)(s->p - start)) < 0)
		return addr_fail(s, "domain name too long");
	return 0;
}

/* [IPv4] or [IPv6:...]; general address literals are not supported. */
static int
addr_scan_literal(struct addr_scan *s, VSTR *out)
{
	const char   *start = s->p;
	const char   *close;
	char	      buf[64];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t	      n;
	size_t	      i;

	s->p++; /* '[' */
	close = memchr(s->p, ']', (size_t)(s->end - s->p));
	if (close == NULL)
		return addr_fail(s, "unterminated address literal");
	n = (size_t)(close - s->p);
	if (n == 0 || n >= sizeof(buf))
		return addr_fail(s, "bad address literal");
	/* inet_pton stops at a NUL: check every byte before trusting it. */
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s->p[i];

		if (ch < 33 || ch > 126)
			return addr_fail(s, "bad address literal");
	}
	memcpy(buf, s->p, n);
	buf[n] = 0;
	if (n > 5 && strncasecmp(buf, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, buf + 5, bin) != 1)
			return addr_fail(s, "bad IPv6 address literal");
	} else if (inet_pton(AF_INET, buf, bin) != 1) {
		return addr_fail(s, "bad address literal");
	}
	s->p = close + 1;
	return vstr_memcpy(out, start, (size_t)(s->p - start));
}

/* Local part: dot-string or quoted string, into a->local unquoted. */
static int
addr_scan_local(struct addr_scan *s, ADDR *a)
{
	int ch;
	int prev = '.';

	if (PEEK(s) == '"') {
		a->flags |= ADDR_F_QUOTED;
		s->p++;
		for (;;) {
			if (AT_END(s))
				return addr_fail(s, "unterminated quoted "
						    "string");
			ch = PEEK(s);
			s->p++;
			if (ch == '"')
				break;
			if (ch == '\\') {
				if (AT_END(s) || PEEK(s) < 32 || PEEK(s) > 126)
					return addr_fail(s, "bad quoted pair");
				ch = PEEK(s);
				s->p++;
			} else if (ch < 32 || ch == 127
				   || (ch >= 0x80 && !s->utf8)) {
				return addr_fail(s, "bad character in quoted "
						    "string");
			}
			if (vstr_addch(a->local, ch) < 0)
				return addr_fail(s, "local part too long");
		}
	} else {
		while (!AT_END(s)) {
			ch = PEEK(s);
			if (ch == '.') {
				if (prev == '.')
					return addr_fail(s, "bad local part");
			} else if (!addr_atext(ch)
				   && !(ch >= 0x80 && s->utf8)) {
				break;
			}
			if (vstr_addch(a->local, ch) < 0)
				return addr_fail(s, "local part too long");
			prev = ch;
			s->p++;
		}
		if (VSTR_LEN(a->local) == 0 || prev == '.')
			return addr_fail(s, "bad local part");
	}
	if (VSTR_LEN(a->local) > ADDR_LOCAL_MAX)
		return addr_fail(s, "local part too long");
	return 0;
}

/*
 * Mailbox (and, for paths, the optional route before it).  Stops at the
 * first byte that cannot continue the mailbox; the caller checks what it
 * is.  rcpt_postmaster allows RFC 5321's bare <Postmaster>.
 */
static int
addr_scan_mailbox(struct addr_scan *s, ADDR *a, bool route_ok,
		  bool rcpt_postmaster)
{
	if (route_ok && PEEK(s) == '@') {
		a->flags |= ADDR_F_ROUTE;
		for (;;) {
			if (PEEK(s) != '@')
				return addr_fail(s, "bad source route");
			s->p++;
			if (addr_scan_domain(s, NULL) < 0)
				return -1;
			/* The domain just scanned ends at s->p. */
			if (PEEK(s) == ',') {
				s->p++;
				continue;
			}
			if (PEEK(s) == ':') {
				s->p++;
				break;
			}
			return addr_fail(s, "bad source route");
		}
	}
	if (addr_scan_local(s, a) < 0)
		return -1;
	if (PEEK(s) != '@') {
		if (rcpt_postmaster && !(a->flags & ADDR_F_QUOTED)
		    && strcasecmp(VSTR_STR(a->local), "postmaster") == 0) {
			a->flags |= ADDR_F_NODOMAIN;
			return 0;
		}
		return addr_fail(s, "missing domain");
	}
	s->p++;
	if (PEEK(s) == '[') {
		a->flags |= ADDR_F_LITERAL;
		return addr_scan_literal(s, a->domain);
	}
	return addr_scan_domain(s, a->domain);
}

/* Keep only the route text: the domains between '@'s, for policy logs. */
static void
addr_copy_route(ADDR *a, const char *start, const char *end)
{
	const char *colon = memchr(start, ':', (size_t)(end - start));

	if (colon)
		vstr_memcpy(a->route, start, (size_t)(colon - start));
}

/* Finish flags and the external form after a successful scan. */
static int
addr_finish(ADDR *a)
{
	if (addr_has_8bit(VSTR_STR(a->local), VSTR_LEN(a->local))
	    || addr_has_8bit(VSTR_STR(a->domain), VSTR_LEN(a->domain))) {
		if (!addr_utf8_valid(VSTR_STR(a->local), VSTR_LEN(a->local))
		    || !addr_utf8_valid(VSTR_STR(a->domain),
					VSTR_LEN(a->domain)))
			return -1;
		a->flags |= ADDR_F_UTF8;
	}
	addr_make_external(a);
	return 0;
}

int
addr_parse_mailbox(ADDR *a, const char *str, size_t len, bool utf8)
{
	struct addr_scan s = { str, str + len, utf8, NULL };

	addr_reset(a);
	if (addr_scan_mailbox(&s, a, false, false) < 0 || !AT_END(&s)
	    || addr_finish(a) < 0) {
		addr_reset(a);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* ESMTP parameters. */

static int
addr_reply(ADDR_SMTP *res, int code, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
addr_reply(ADDR_SMTP *res, int code, const char *dsn, const char *fmt, ...)
{
	va_list ap;

	res->code = code;
	res->dsn = dsn;
	vstr_reset(res->reply);
	va_start(ap, fmt);
	(void)vstr_vsprintf_append(res->reply, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

static int
addr_bad_param(ADDR_SMTP *res, const char *name)
{
	return addr_reply(res, 501, "5.5.4", "Bad %s parameter syntax", name);
}

/* Decoded xtext must be printable ASCII (it ends up in logs and DSNs). */
static int
addr_xtext_printable(VSTR *out, const char *in, size_t len, size_t max)
{
	size_t i;

	if (len == 0 || len > max || addr_xtext_decode(out, in, len) < 0)
		return -1;
	for (i = 0; i < VSTR_LEN(out); i++)
		if (VSTR_STR(out)[i] < 32 || VSTR_STR(out)[i] > 126)
			return -1;
	return 0;
}

static int
addr_param_notify(ADDR_SMTP *res, const char *v, size_t len)
{
	static const struct {
		const char *name;
		int	    bit;
	} words[] = {
		{ "NEVER", ADDR_NOTIFY_NEVER },
		{ "SUCCESS", ADDR_NOTIFY_SUCCESS },
		{ "FAILURE", ADDR_NOTIFY_FAILURE },
		{ "DELAY", ADDR_NOTIFY_DELAY },
	};
	const char *end = v + len;
	const char *comma;
	size_t	    n;
	size_t	    i;
	int	    bit;

	res->notify = 0;
	while (v < end) {
		comma = memchr(v, ',', (size_t)(end - v));
		n = (size_t)((comma ? comma : end) - v);
		for (bit = 0, i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i].name) == n
			    && strncasecmp(v, words[i].name, n) == 0)
				bit = words[i].bit;
		if (bit == 0 || (res->notify & bit))
			return -1;
		res->notify |= bit;
		v += n + (comma ? 1 : 0);
		if (comma && v == end)
			return -1;
	}
	if (res->notify == 0
	    || ((res->notify & ADDR_NOTIFY_NEVER)
		&& res->notify != ADDR_NOTIFY_NEVER))
		return -1;
	return 0;
}

static int
addr_param_orcpt(ADDR_SMTP *res, const char *v, size_t len, bool utf8)
{
	const char *semi = memchr(v, ';', len);
	size_t	    i;
	size_t	    tlen;

	if (semi == NULL || semi == v || len > ADDR_ORCPT_MAX)
		return -1;
	tlen = (size_t)(semi - v);
	for (i = 0; i < tlen; i++)
		if (!addr_atext((unsigned char)v[i]))
			return -1;
	vstr_memcpy(res->orcpt_type, v, tlen);
	/* utf-8-addr-xtext (RFC 6533) is xtext plus raw UTF-8. */
	if (addr_xtext_decode(res->orcpt_addr, semi + 1, len - tlen - 1) < 0
	    && !(utf8 && addr_utf8_valid(semi + 1, len - tlen - 1)
		 && vstr_memcpy(res->orcpt_addr, semi + 1, len - tlen - 1)
			== 0))
		return -1;
	if (VSTR_LEN(res->orcpt_addr) == 0)
		return -1;
	for (i = 0; i < VSTR_LEN(res->orcpt_addr); i++)
		if ((unsigned char)VSTR_STR(res->orcpt_addr)[i] < 32
		    || VSTR_STR(res->orcpt_addr)[i] == 127)
			return -1;
	return 0;
}

/* One "KEYWORD[=value]"; name is upper-cased, known valid keyword text. */
static int
addr_param_one(ADDR_SMTP *res, enum addr_cmd cmd, int opts, const char *name,
	       const char *v, size_t vlen, bool has_value)
{
	unsigned long long size = 0;
	size_t		   i;

	if (cmd == ADDR_CMD_MAIL && strcmp(name, "SIZE") == 0) {
		if (!has_value || vlen == 0 || res->size_given)
			return addr_bad_param(res, name);
		for (i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				return addr_bad_param(res, name);
			/* Saturate: the caller answers 552 for "too big". */
			if (size > (ULLONG_MAX - 9) / 10)
				size = ULLONG_MAX;
			else
				size = size * 10 + (unsigned)(v[i] - '0');
		}
		res->size = size;
		res->size_given = true;
		return 0;
	}
	if (cmd == ADDR_CMD_MAIL && strcmp(name, "BODY") == 0) {
		if (!has_value || res->body != ADDR_BODY_NONE)
			return addr_bad_param(res, name);
		if (vlen == 4 && strncasecmp(v, "7BIT", 4) == 0)
			res->body = ADDR_BODY_7BIT;
		else if (vlen == 8 && strncasecmp(v, "8BITMIME", 8) == 0
			 && (opts & ADDR_OPT_8BITMIME))
			res->body = ADDR_BODY_8BITMIME;
		else
			return addr_reply(res, 555, "5.5.4",
					  "Unsupported "
					  "BODY type");
		return 0;
	}
	if (cmd == ADDR_CMD_MAIL && strcmp(name, "SMTPUTF8") == 0
	    && (opts & ADDR_OPT_SMTPUTF8)) {
		if (has_value || res->smtputf8)
			return addr_bad_param(res, name);
		res->smtputf8 = true;
		return 0;
	}
	if (cmd == ADDR_CMD_MAIL && strcmp(name, "REQUIRETLS") == 0
	    && (opts & ADDR_OPT_REQUIRETLS)) {
		if (has_value || res->requiretls)
			return addr_bad_param(res, name);
		res->requiretls = true;
		return 0;
	}
	if (cmd == ADDR_CMD_MAIL && strcmp(name, "AUTH") == 0
	    && (opts & ADDR_OPT_AUTH)) {
		if (!has_value || res->auth_given)
			return addr_bad_param(res, name);
		if (vlen == 2 && memcmp(v, "<>", 2) == 0)
			vstr_strcpy(res->auth, "<>");
		else if (addr_xtext_printable(res->auth, v, vlen, 500) < 0)
			return addr_bad_param(res, name);
		res->auth_given = true;
		return 0;
	}
	if ((opts & ADDR_OPT_DSN) && cmd == ADDR_CMD_MAIL
	    && strcmp(name, "RET") == 0) {
		if (!has_value || res->ret != ADDR_RET_NONE)
			return addr_bad_param(res, name);
		if (vlen == 4 && strncasecmp(v, "FULL", 4) == 0)
			res->ret = ADDR_RET_FULL;
		else if (vlen == 4 && strncasecmp(v, "HDRS", 4) == 0)
			res->ret = ADDR_RET_HDRS;
		else
			return addr_bad_param(res, name);
		return 0;
	}
	if ((opts & ADDR_OPT_DSN) && cmd == ADDR_CMD_MAIL
	    && strcmp(name, "ENVID") == 0) {
		if (!has_value || res->envid_given
		    || addr_xtext_printable(res->envid, v, vlen, ADDR_ENVID_MAX)
			   < 0)
			return addr_bad_param(res, name);
		res->envid_given = true;
		return 0;
	}
	if ((opts & ADDR_OPT_DSN) && cmd == ADDR_CMD_RCPT
	    && strcmp(name, "NOTIFY") == 0) {
		if (!has_value || res->notify != 0
		    || addr_param_notify(res, v, vlen) < 0)
			return addr_bad_param(res, name);
		return 0;
	}
	if ((opts & ADDR_OPT_DSN) && cmd == ADDR_CMD_RCPT
	    && strcmp(name, "ORCPT") == 0) {
		if (!has_value || res->orcpt_given
		    || addr_param_orcpt(res, v, vlen,
					(opts & ADDR_OPT_SMTPUTF8) != 0)
			   < 0)
			return addr_bad_param(res, name);
		res->orcpt_given = true;
		return 0;
	}
	return addr_reply(res, 555, "5.5.4", "Unsupported option: %s", name);
}

/* Space-separated parameters after the path. */
static int
addr_parse_params(ADDR_SMTP *res, enum addr_cmd cmd, int opts, const char *p,
		  const char *end)
{
	char	    name[32];
	const char *tok;
	const char *eq;
	size_t	    nlen;
	size_t	    i;

	while (p < end) {
		if (*p == ' ') {
			p++;
			continue;
		}
		tok = p;
		while (p < end && *p != ' ')
			p++;
		eq = memchr(tok, '=', (size_t)(p - tok));
		nlen = (size_t)((eq ? eq : p) - tok);
		if (nlen == 0 || nlen >= sizeof(name)
		    || !addr_alnum((unsigned char)tok[0]))
			return addr_reply(res, 501, "5.5.4",
					  "Bad parameter "
					  "syntax");
		for (i = 0; i < nlen; i++) {
			if (!addr_alnum((unsigned char)tok[i]) && tok[i] != '-')
				return addr_reply(res, 501, "5.5.4",
						  "Bad parameter syntax");
			name[i] = (char)toupper((unsigned char)tok[i]);
		}
		name[nlen] = 0;
		/* esmtp-value: no '=', no controls; UTF-8 with SMTPUTF8. */
		if (eq) {
			if (eq + 1 == p)
				return addr_bad_param(res, name);
			for (tok = eq + 1; tok < p; tok++) {
				unsigned char ch = (unsigned char)*tok;

				if (ch < 33 || ch == '=' || ch == 127
				    || (ch >= 0x80 && !res->smtputf8
					&& !(opts & ADDR_OPT_SMTPUTF8)))
					return addr_bad_param(res, name);
			}
			if (!addr_utf8_valid(eq + 1, (size_t)(p - eq - 1)))
				return addr_bad_param(res, name);
		}
		for (i = 0; i < res->param_count; i++)
			if (strcmp(VSTR_STR(res->param_name[i]), name) == 0)
				return addr_reply(res, 501, "5.5.4",
						  "Duplicate %s parameter",
						  name);
		if (res->param_count == ADDR_PARAM_MAX)
			return addr_reply(res, 501, "5.5.4",
					  "Too many parameters");
		if (addr_param_one(res, cmd, opts, name, eq ? eq + 1 : p,
				   eq ? (size_t)(p - eq - 1) : 0, eq != NULL)
		    < 0)
			return -1;
		i = res->param_count++;
		if (res->param_name[i] == NULL) {
			res->param_name[i] = vstr_alloc(16);
			res->param_value[i] = vstr_alloc(16);
		}
		vstr_strcpy(res->param_name[i], name);
		vstr_reset(res->param_value[i]);
		if (eq)
			vstr_memcat(res->param_value[i], eq + 1,
				    (size_t)(p - eq - 1));
	}
	return 0;
}

static void
addr_smtp_reset(ADDR_SMTP *res)
{
	addr_reset(res->addr);
	res->size_given = false;
	res->size = 0;
	res->body = ADDR_BODY_NONE;
	res->ret = ADDR_RET_NONE;
	res->envid_given = false;
	vstr_reset(res->envid);
	res->notify = 0;
	res->orcpt_given = false;
	vstr_reset(res->orcpt_type);
	vstr_reset(res->orcpt_addr);
	res->smtputf8 = false;
	res->requiretls = false;
	res->auth_given = false;
	vstr_reset(res->auth);
	res->param_count = 0;
	res->code = 0;
	res->dsn = NULL;
	vstr_reset(res->reply);
}

/*
 * arg is what follows "MAIL FROM:" / "RCPT TO:" (no CRLF).  The path is
 * scanned with UTF-8 allowed; whether it was allowed is decided once the
 * parameters (SMTPUTF8) are known.
 */
int
addr_parse_smtp(ADDR_SMTP *res, enum addr_cmd cmd, const char *arg, size_t len,
		int opts)
{
	struct addr_scan s = { arg, arg + len, true, NULL };
	ADDR		*a = res->addr;
	const char	*path_start;
	const char	*route_start;
	const char	*what = cmd == ADDR_CMD_MAIL ? "sender" : "recipient";
	const char	*dsn = cmd == ADDR_CMD_MAIL ? "5.1.7" : "5.1.3";
	bool		 bracket;

	addr_smtp_reset(res);
	while (!AT_END(&s) && (*s.p == ' ' || *s.p == '\t'))
		s.p++;
	path_start = s.p;
	bracket = PEEK(&s) == '<';
	if (!bracket && !(opts & ADDR_OPT_NOBRACKETS)) {
		s.why = "missing <>";
	} else if (bracket && s.p + 1 < s.end && s.p[1] == '>') {
		s.p += 2;
		a->flags |= ADDR_F_NULL;
		if (cmd == ADDR_CMD_RCPT)
			s.why = "null recipient";
	} else {
		if (bracket)
			s.p++;
		route_start = s.p;
		if (addr_scan_mailbox(&s, a, true, cmd == ADDR_CMD_RCPT) == 0) {
			if (a->flags & ADDR_F_ROUTE)
				addr_copy_route(a, route_start, s.p);
			if (bracket && PEEK(&s) != '>')
				s.why = "bad character in address";
			else if (bracket)
				s.p++;
		}
	}
	/* The limit counts the brackets, even when the client left them out. */
	if (s.why == NULL
	    && (size_t)(s.p - path_start) + (bracket ? 0 : 2) > ADDR_PATH_MAX)
		s.why = "path too long";
	if (s.why == NULL && !AT_END(&s) && *s.p != ' ')
		s.why = "garbage after the address";
	if (s.why == NULL && addr_finish(a) < 0)
		s.why = "malformed UTF-8";
	if (s.why) {
		addr_reset(a);
		return addr_reply(res, 501, dsn, "Bad %s address syntax (%s)",
				  what, s.why);
	}
	if (addr_parse_params(res, cmd, opts, s.p, s.end) < 0) {
		addr_reset(a);
		return -1;
	}
	if ((a->flags & ADDR_F_UTF8)
	    && !((opts & ADDR_OPT_SMTPUTF8)
		 && (cmd == ADDR_CMD_RCPT || res->smtputf8))) {
		addr_reset(a);
		return addr_reply(res, 553, "5.6.7",
				  "Non-ASCII %s address "
				  "needs SMTPUTF8",
				  what);
	}
	return 0;
}

/* RFC 5322 header address lists. */

enum addr_tok_type {
	ADDR_TOK_WORD,	  /* atom or quoted string */
	ADDR_TOK_DLIT,	  /* [domain literal] */
	ADDR_TOK_SPECIAL, /* one of <>@,;:. */
	ADDR_TOK_JUNK,	  /* anything that makes it no address */
};

struct addr_tok {
	enum addr_tok_type type;
	int		   ch; /* ADDR_TOK_SPECIAL */
	bool		   quoted;
	size_t		   off; /* text in the tokenizer's VSTR */
	size_t		   len;
};

struct addr_toks {
	struct addr_tok *v;
	size_t		 n;
	size_t		 cap;
	VSTR		*text;
};

static void
addr_tok_add(struct addr_toks *t, enum addr_tok_type type, int ch, bool quoted,
	     size_t off)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->v = myrealloc_array(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n].type = type;
	t->v[t->n].ch = ch;
	t->v[t->n].quoted = quoted;
	t->v[t->n].off = off;
	t->v[t->n].len = VSTR_LEN(t->text) - off;
	t->n++;
}

/* Comments vanish; folding (CR, LF) counts as white space. */
static void
addr_tokenize(struct addr_toks *t, const char *p, const char *end)
{
	int    ch;
	size_t off;
	size_t depth;
	bool   ok;
	bool   ctl;

	while (p < end) {
		ch = (unsigned char)*p;
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			p++;
		} else if (ch == '(') {
			for (depth = 0; p < end; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				else if (*p == '(')
					depth++;
				else if (*p == ')' && --depth == 0)
					break;
			}
			if (p < end)
				p++;
			else
				addr_tok_add(t, ADDR_TOK_JUNK, 0, false,
					     VSTR_LEN(t->text));
		} else if (ch == '"' || ch == '[') {
			int close = ch == '"' ? '"' : ']';

			off = VSTR_LEN(t->text);
			if (ch == '[')
				vstr_addch(t->text, '[');
			for (ok = false, ctl = false, p++; p < end; p++) {
				if (*p == close) {
					ok = true;
					p++;
					break;
				}
				if (*p == '\r' || *p == '\n')
					continue; /* unfolding */
				if (*p == '\\' && p + 1 < end)
					p++;
				/* No control byte may reach an address. */
				if ((unsigned char)*p < 32 || *p == 127)
					ctl = true;
				if (ch == '['
				    && (*p == '[' || *p == ' ' || *p == '\\'))
					ctl = true;
				vstr_addch(t->text, *p);
			}
			if (ctl)
				ok = false;
			if (ch == '[')
				vstr_addch(t->text, ']');
			addr_tok_add(t,
				     !ok	 ? ADDR_TOK_JUNK
				     : ch == '"' ? ADDR_TOK_WORD
						 : ADDR_TOK_DLIT,
				     0, ch == '"', off);
		} else if (strchr("<>@,;:.", ch)) {
			addr_tok_add(t, ADDR_TOK_SPECIAL, ch, false,
				     VSTR_LEN(t->text));
			p++;
		} else if (addr_atext(ch) || ch >= 0x80) {
			off = VSTR_LEN(t->text);
			while (p < end
			       && (addr_atext((unsigned char)*p)
				   || (unsigned char)*p >= 0x80))
				vstr_addch(t->text, *p++);
			addr_tok_add(t, ADDR_TOK_WORD, 0, false, off);
		} else {
			addr_tok_add(t, ADDR_TOK_JUNK, 0, false,
				     VSTR_LEN(t->text));
			p++;
		}
	}
}

#define TOK_IS(tk, c) ((tk)->type == ADDR_TOK_SPECIAL && (tk)->ch == (c))

/* addr-spec (after any route) from tokens [i, e); -1 when it is none. */
static int
addr_from_tokens(ADDR *a, const struct addr_toks *t, size_t i, size_t e)
{
	const struct addr_tok *tk;
	const char	      *text = VSTR_STR(t->text);
	bool		       want_word = true;
	bool		       words = false;

	addr_reset(a);
	if (i < e && TOK_IS(&t->v[i], '@')) {
		while (i < e && !TOK_IS(&t->v[i], ':'))
			i++;
		if (i == e)
			return -1;
		a->flags |= ADDR_F_ROUTE;
		i++;
	}
	/* local-part: word *("." word), tolerating stray dots (obs). */
	for (; i < e && !TOK_IS(&t->v[i], '@'); i++) {
		tk = &t->v[i];
		if (TOK_IS(tk, '.')) {
			vstr_addch(a->local, '.');
			want_word = true;
		} else if (tk->type == ADDR_TOK_WORD && want_word) {
			vstr_memcat(a->local, text + tk->off, tk->len);
			if (tk->quoted)
				a->flags |= ADDR_F_QUOTED;
			want_word = false;
			words = true;
		} else {
			return -1;
		}
	}
	if (!words || VSTR_LEN(a->local) > ADDR_LOCAL_MAX)
		return -1;
	if (i == e) {
		a->flags |= ADDR_F_NODOMAIN;
		return addr_finish(a);
	}
	i++; /* '@' */
	if (i + 1 == e && t->v[i].type == ADDR_TOK_DLIT) {
		a->flags |= ADDR_F_LITERAL;
		vstr_memcpy(a->domain, text + t->v[i].off, t->v[i].len);
		return addr_finish(a);
	}
	for (want_word = true; i < e; i++) {
		tk = &t->v[i];
		if (TOK_IS(tk, '.') && !want_word) {
			vstr_addch(a->domain, '.');
			want_word = true;
		} else if (tk->type == ADDR_TOK_WORD && !tk->quoted
			   && want_word) {
			vstr_memcat(a->domain, text + tk->off, tk->len);
			want_word = false;
		} else {
			return -1;
		}
	}
	if (want_word || VSTR_LEN(a->domain) > ADDR_DOMAIN_MAX)
		return -1;
	return addr_finish(a);
}

/* One element [s, e) of the list: name-addr or addr-spec. */
static void
addr_list_element(ADDR_LIST *list, const struct addr_toks *t, size_t s,
		  size_t e, size_t lt, size_t gt)
{
	ADDR *a;

	if (s == e)
		return; /* empty element (obs) */
	if (lt != SIZE_MAX) {
		if (gt == SIZE_MAX) {
			list->bad++;
			return;
		}
		s = lt + 1;
		e = gt;
		if (s == e)
			return; /* <> */
	}
	if (list->count == ADDR_LIST_MAX) {
		list->bad++;
		return;
	}
	if (list->count == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 8;
		list->addrs = myrealloc_array(list->addrs, list->cap,
					      sizeof(*list->addrs));
		for (size_t i = list->count; i < list->cap; i++)
			list->addrs[i] = NULL;
	}
	if (list->addrs[list->count] == NULL)
		list->addrs[list->count] = addr_alloc();
	a = list->addrs[list->count];
	if (addr_from_tokens(a, t, s, e) < 0) {
		addr_reset(a);
		list->bad++;
		return;
	}
	list->count++;
}

void
addr_parse_header(ADDR_LIST *list, const char *str, size_t len)
{
	struct addr_toks       t = { NULL, 0, 0, vstr_alloc(len + 1) };
	size_t		       i;
	size_t		       start = 0;
	size_t		       lt = SIZE_MAX;
	size_t		       gt = SIZE_MAX;
	bool		       in_group = false;
	bool		       junk = false;
	const struct addr_tok *tk;

	list->count = 0;
	list->bad = 0;
	addr_tokenize(&t, str, str + len);
	for (i = 0; i <= t.n; i++) {
		tk = i < t.n ? &t.v[i] : NULL;
		if (tk && lt != SIZE_MAX && gt == SIZE_MAX) {
			/* Inside <...>: only '>' ends it. */
			if (TOK_IS(tk, '>'))
				gt = i;
			else if (tk->type == ADDR_TOK_JUNK || TOK_IS(tk, '<'))
				junk = true;
			continue;
		}
		if (tk == NULL || TOK_IS(tk, ',') || TOK_IS(tk, ';')) {
			if (junk)
				list->bad++;
			else
				addr_list_element(list, &t, start, i, lt, gt);
			if (tk && TOK_IS(tk, ';')) {
				if (!in_group)
					list->bad++;
				in_group = false;
			}
			start = i + 1;
			lt = gt = SIZE_MAX;
			junk = false;
		} else if (TOK_IS(tk, ':') && !in_group) {
			/* Group display name is dropped: members follow. */
			in_group = true;
			start = i + 1;
			lt = gt = SIZE_MAX;
			junk = false;
		} else if (TOK_IS(tk, '<')) {
			if (gt != SIZE_MAX)
				junk = true;
			lt = i;
		} else if (tk->type == ADDR_TOK_JUNK || TOK_IS(tk, '>')
			   || gt != SIZE_MAX) {
			junk = true;
		}
	}
	myfree(t.v);
	vstr_free(t.text);
}

bool
addr_min_user(const ADDR *a)
{
	return VSTR_LEN(a->local) > 0 && VSTR_STR(a->local)[0] == '-';
}

bool
addr_text_min_user(const char *addr)
{
	if (*addr == '"') {
		addr++;
		if (*addr == '\\')
			addr++;
	}
	return *addr == '-';
}
