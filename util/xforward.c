/*
 * xforward - XFORWARD command parsing and formatting (see the header).
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/addr.h"
#include "util/mymalloc.h"
#include "util/xforward.h"

#define XFORWARD_ITEMS_MAX 32 /* attribute=value items per command */

static const char *const xforward_names[XFORWARD_COUNT] = {
	"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE",
};

const char *
xforward_attr_name(enum xforward_attr attr)
{
	return attr < XFORWARD_COUNT ? xforward_names[attr] : "?";
}

XFORWARD *
xforward_alloc(void)
{
	return mycalloc(1, sizeof(XFORWARD));
}

void
xforward_reset(XFORWARD *xf)
{
	for (int i = 0; i < XFORWARD_COUNT; i++) {
		xf->value[i] = myfree(xf->value[i]);
		xf->given[i] = false;
	}
	xf->active = false;
}

XFORWARD *
xforward_free(XFORWARD *xf)
{
	if (xf != NULL) {
		xforward_reset(xf);
		myfree(xf);
	}
	return NULL;
}

/* Letters, digits, '-', '_' and dots: what a reverse name may hold. */
static bool
xforward_hostname_ok(const char *s)
{
	if (*s == 0 || *s == '.' || *s == '-')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr("-._", *s) == NULL)
			return false;
	return true;
}

static bool
xforward_addr_ok(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1
	       || inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * Check one decoded value; 0 with *out (allocated, or NULL for
 * unknown), or -1 with the reply.
 */
static int
xforward_value(enum xforward_attr a, const char *v, char **out, VSTR *reply)
{
	const char *name = xforward_names[a];
	size_t	    i;

	*out = NULL;
	if (strcmp(v, XFORWARD_UNAVAILABLE) == 0
	    || strcmp(v, XFORWARD_TEMPUNAVAIL) == 0)
		return 0;
	for (i = 0; v[i]; i++) {
		if ((unsigned char)v[i] < 32 || v[i] == 127) {
			vstr_sprintf(reply, "501 5.5.4 Bad %s syntax", name);
			return -1;
		}
	}
	switch (a) {
	case XFORWARD_NAME:
		/* Postfix: a name that is no host name is "unknown". */
		if (!xforward_hostname_ok(v))
			return 0;
		break;
	case XFORWARD_ADDR:
		if (strncasecmp(v, "IPv6:", 5) == 0)
			v += 5;
		if (!xforward_addr_ok(v)) {
			vstr_sprintf(reply, "501 5.5.4 Bad %s syntax", name);
			return -1;
		}
		break;
	case XFORWARD_PORT:
		if (*v == 0 || strlen(v) > 5
		    || strspn(v, "0123456789") != strlen(v)
		    || strtol(v, NULL, 10) > 65535) {
			vstr_sprintf(reply, "501 5.5.4 Bad %s syntax", name);
			return -1;
		}
		break;
	case XFORWARD_PROTO:
		if (*v == 0 || strlen(v) > 64 || strchr(v, ' ') != NULL) {
			vstr_sprintf(reply, "501 5.5.4 Bad %s syntax", name);
			return -1;
		}
		break;
	case XFORWARD_SOURCE:
		if (strcasecmp(v, "LOCAL") != 0
		    && strcasecmp(v, "REMOTE") != 0) {
			vstr_sprintf(reply, "501 5.5.4 Bad %s syntax", name);
			return -1;
		}
		*out = mystrdup(toupper((unsigned char)*v) == 'L' ? "LOCAL"
								  : "REMOTE");
		return 0;
	case XFORWARD_HELO:
	case XFORWARD_IDENT:
	default:
		if (*v == 0)
			return 0;
		break;
	}
	*out = mystrdup(v);
	return 0;
}

int
xforward_update(XFORWARD *xf, const char *args, VSTR *reply)
{
	char	   *val[XFORWARD_COUNT] = { 0 };
	bool	    seen[XFORWARD_COUNT] = { 0 };
	VSTR	   *dec = vstr_alloc(64);
	const char *p = args;
	int	    items = 0, ret = -1, a;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == 0) {
		vstr_strcpy(reply,
			    "501 5.5.4 Syntax: XFORWARD attribute=value...");
		goto out;
	}
	while (*p) {
		size_t	    len = strcspn(p, " \t");
		const char *eq = memchr(p, '=', len);

		if (++items > XFORWARD_ITEMS_MAX) {
			vstr_strcpy(reply,
				    "501 5.5.4 Too many XFORWARD attributes");
			goto out;
		}
		if (eq == NULL || eq == p) {
			vstr_strcpy(reply, "501 5.5.4 Syntax: XFORWARD "
					   "attribute=value...");
			goto out;
		}
		for (a = 0; a < XFORWARD_COUNT; a++)
			if (strlen(xforward_names[a]) == (size_t)(eq - p)
			    && strncasecmp(p, xforward_names[a],
					   (size_t)(eq - p))
				   == 0)
				break;
		if (a == XFORWARD_COUNT) {
			vstr_sprintf(reply,
				     "501 5.5.4 Bad XFORWARD attribute name: "
				     "%.*s",
				     (int)((eq - p) > 30 ? 30 : (eq - p)), p);
			goto out;
		}
		if ((size_t)(p + len - eq - 1) > 3 * XFORWARD_VALUE_MAX
		    || addr_xtext_decode(dec, eq + 1,
					 (size_t)(p + len - eq - 1))
			   < 0
		    || VSTR_LEN(dec) > XFORWARD_VALUE_MAX
		    || memchr(VSTR_STR(dec), 0, VSTR_LEN(dec)) != NULL) {
			vstr_sprintf(reply, "501 5.5.4 Bad %s syntax",
				     xforward_names[a]);
			goto out;
		}
		val[a] = myfree(val[a]);
		if (xforward_value((enum xforward_attr)a, VSTR_STR(dec),
				   &val[a], reply)
		    < 0)
			goto out;
		seen[a] = true;
		p += len;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	for (a = 0; a < XFORWARD_COUNT; a++) {
		if (!seen[a])
			continue;
		myfree(xf->value[a]);
		xf->value[a] = val[a];
		val[a] = NULL;
		xf->given[a] = true;
	}
	xf->active = true;
	ret = 0;
out:
	for (a = 0; a < XFORWARD_COUNT; a++)
		myfree(val[a]);
	vstr_free(dec);
	return ret;
}

void
xforward_item(VSTR *line, const char *attr, const char *value)
{
	VSTR *enc;

	if (value == NULL || *value == 0) {
		vstr_sprintf_append(line, " %s=%s", attr, XFORWARD_UNAVAILABLE);
		return;
	}
	enc = vstr_alloc(64);
	if (addr_xtext_encode(enc, value, strlen(value)) == 0)
		vstr_sprintf_append(line, " %s=%s", attr, VSTR_STR(enc));
	else
		vstr_sprintf_append(line, " %s=%s", attr, XFORWARD_UNAVAILABLE);
	vstr_free(enc);
}
