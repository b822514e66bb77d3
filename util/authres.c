/*
 * authres - Authentication-Results fields: writer, authserv-id parser and
 * From: domain (see authres.h).
 *
 * Errors: authres_servid and authres_from_domain return -1 (see the
 * header); nothing dies but the allocators.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util/addr.h"
#include "util/authres.h"
#include "util/vstr.h"

/* RFC 2045 token character (8-bit bytes allowed: RFC 8616 UTF-8 ids). */
static bool
authres_token_ch(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if (c <= ' ' || c == 0x7f)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* RFC 5322 atext. */
static bool
authres_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool
authres_is_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!authres_token_ch((unsigned char)s[i]))
			return false;
	return true;
}

/* A domain-name of letters, digits, '-', '_' labels separated by dots. */
static bool
authres_is_domain(const char *s, size_t len)
{
	size_t i, label = 0;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			   || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			label++;
		} else {
			return false;
		}
	}
	return label > 0;
}

/* [ [ local-part ] "@" ] domain-name, the local part a dot-atom. */
static bool
authres_is_addr(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	size_t	    i, llen;

	if (at == NULL)
		return authres_is_domain(s, len);
	llen = (size_t)(at - s);
	for (i = 0; i < llen; i++)
		if (!authres_atext((unsigned char)s[i])
		    && !(s[i] == '.' && i > 0 && i + 1 < llen
			 && s[i - 1] != '.'))
			return false;
	return authres_is_domain(at + 1, len - llen - 1);
}

static bool
authres_keyword(const char *s)
{
	size_t i;

	if (s == NULL || *s == 0)
		return false;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z')
		      || (s[i] >= 'A' && s[i] <= 'Z')
		      || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'
		      || s[i] == '_' || (s[i] == '.' && i > 0)))
			return false;
	return i <= 64;
}

/*
 * A value as it may appear after "=" (addr true: a pvalue, which may be
 * an addr-spec; false: an authserv-id, a token): raw when safe, else a
 * quoted-string.
 */
static void
authres_put_value(VSTR *out, const char *value, bool addr)
{
	size_t len = strlen(value);
	VSTR  *v;
	size_t i;

	if (len > AUTHRES_VALUE_MAX)
		len = AUTHRES_VALUE_MAX;
	v = vstr_alloc(len + 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		vstr_addch(v, c < ' ' || c == 0x7f ? '?' : c);
	}
	if (authres_is_token(VSTR_STR(v), VSTR_LEN(v))
	    || (addr && authres_is_addr(VSTR_STR(v), VSTR_LEN(v)))) {
		vstr_memcat(out, VSTR_STR(v), VSTR_LEN(v));
	} else {
		vstr_addch(out, '"');
		for (i = 0; i < VSTR_LEN(v); i++) {
			if (VSTR_STR(v)[i] == '"' || VSTR_STR(v)[i] == '\\')
				vstr_addch(out, '\\');
			vstr_addch(out, VSTR_STR(v)[i]);
		}
		vstr_addch(out, '"');
	}
	vstr_free(v);
}

static void
authres_put_comment(VSTR *out, const char *text)
{
	size_t i;

	vstr_strcat(out, " (");
	for (i = 0; text[i] && i < AUTHRES_VALUE_MAX; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c >= ' ' && c != 0x7f && c != '(' && c != ')' && c != '\\')
			vstr_addch(out, c);
	}
	vstr_addch(out, ')');
}

void
authres_write(VSTR *out, const char *servid, const struct authres_item *items,
	      size_t n)
{
	size_t i, j, written = 0;

	vstr_strcpy(out, "Authentication-Results: ");
	authres_put_value(out, servid && *servid ? servid : "localhost", false);
	for (i = 0; i < n; i++) {
		const struct authres_item *it = &items[i];

		if (!authres_keyword(it->method)
		    || !authres_keyword(it->result))
			continue;
		vstr_sprintf_append(out, ";\r\n\t%s=%s", it->method,
				    it->result);
		if (it->comment && *it->comment)
			authres_put_comment(out, it->comment);
		for (j = 0; j < it->nprops && j < AUTHRES_PROPS_MAX; j++) {
			const struct authres_prop *p = &it->props[j];

			if (p->value == NULL || !authres_keyword(p->name))
				continue;
			vstr_sprintf_append(out, " %s=", p->name);
			authres_put_value(out, p->value, true);
		}
		written++;
	}
	if (written == 0)
		vstr_strcat(out, "; none");
}

/* Past CFWS from p; NULL for an unterminated or too deep comment. */
static const char *
authres_skip_cfws(const char *p, const char *end)
{
	int depth = 0;

	while (p < end) {
		if (depth == 0
		    && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
			p++;
		} else if (*p == '(') {
			if (++depth > AUTHRES_COMMENT_DEPTH)
				return NULL;
			p++;
		} else if (depth > 0 && *p == ')') {
			depth--;
			p++;
		} else if (depth > 0 && *p == '\\') {
			p += p + 1 < end ? 2 : 1;
		} else if (depth > 0) {
			p++;
		} else {
			break;
		}
	}
	return depth == 0 ? p : NULL;
}

int
authres_servid(const char *value, size_t len, VSTR *out)
{
	const char *p = value, *end = value + len;

	vstr_reset(out);
	if ((p = authres_skip_cfws(p, end)) == NULL || p == end)
		return -1;
	if (*p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			if (*p == '\r' || *p == '\n')
				continue; /* folding inside the quotes */
			vstr_addch(out, *p);
		}
		if (p == end)
			return -1;
		p++;
	} else {
		for (; p < end && authres_token_ch((unsigned char)*p); p++)
			vstr_addch(out, *p);
	}
	if (VSTR_LEN(out) == 0)
		return -1;
	/* Whatever follows (version, ';') does not change whose it is. */
	return 0;
}

int
authres_from_domain(const char *value, size_t len, VSTR *out)
{
	ADDR_LIST *list = addr_list_alloc();
	VSTR	  *d = vstr_alloc(64);
	size_t	   i;
	int	   ret = 0;

	vstr_reset(out);
	addr_parse_header(list, value, len);
	for (i = 0; i < list->count && ret >= 0; i++) {
		const VSTR *dom = list->addrs[i]->domain;

		vstr_memcpy(d, VSTR_STR(dom), VSTR_LEN(dom));
		while (VSTR_LEN(d) > 0 && VSTR_STR(d)[VSTR_LEN(d) - 1] == '.')
			vstr_truncate(d, VSTR_LEN(d) - 1);
		vstr_lower(d);
		if (VSTR_LEN(d) == 0 || VSTR_STR(d)[0] == '[')
			continue;
		if (ret == 0) {
			vstr_memcpy(out, VSTR_STR(d), VSTR_LEN(d));
			ret = 1;
		} else if (strcmp(VSTR_STR(out), VSTR_STR(d)) != 0) {
			ret = -1;
		}
	}
	if (ret < 0)
		vstr_reset(out);
	addr_list_free(list);
	vstr_free(d);
	return ret;
}
