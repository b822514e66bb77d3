/*
 * dkim_sign_conf - parsers for the DKIM signing tables and parameters
 * (see dkim_sign_conf.h for the syntax).
 *
 * Errors: 0 / -1 with a reason in why; nothing logs.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <strings.h>

#include "util/dkim_sign_conf.h"
#include "util/mymalloc.h"

#define DKIM_SIGN_DOMAIN_MAX 253
#define DKIM_SIGN_PATH_MAX   4095
#define DKIM_SIGN_SEP	     ", \t\r\n"

DKIM_SIGN_LIST *
dkim_sign_list_alloc(void)
{
	return mycalloc(1, sizeof(DKIM_SIGN_LIST));
}

void
dkim_sign_list_reset(DKIM_SIGN_LIST *l)
{
	for (size_t i = 0; i < l->count; i++)
		myfree(l->item[i]);
	l->count = 0;
}

DKIM_SIGN_LIST *
dkim_sign_list_free(DKIM_SIGN_LIST *l)
{
	if (l) {
		dkim_sign_list_reset(l);
		myfree(l->item);
		myfree(l->over);
		myfree(l);
	}
	return NULL;
}

static void
dkim_sign_list_add(DKIM_SIGN_LIST *l, const char *s, size_t len, bool over)
{
	char *copy;

	if (l->count == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->item = myrealloc_array(l->item, l->cap, sizeof(*l->item));
		l->over = myrealloc_array(l->over, l->cap, sizeof(*l->over));
	}
	copy = mymalloc(len + 1);
	memcpy(copy, s, len);
	copy[len] = 0;
	l->item[l->count] = copy;
	l->over[l->count++] = over;
}

/* Index of the name (case-insensitive) in l, or -1. */
static long
dkim_sign_list_find(const DKIM_SIGN_LIST *l, const char *s, size_t len)
{
	for (size_t i = 0; i < l->count; i++)
		if (strlen(l->item[i]) == len
		    && strncasecmp(l->item[i], s, len) == 0)
			return (long)i;
	return -1;
}

/* Letters, digits, '-', '_' and '.' between labels. */
static bool
dkim_sign_dns_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (s[i + 1] == '.')
				return false;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		      || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Leading and trailing white space of [*s, *s + *len). */
static void
dkim_sign_trim(const char **s, size_t *len)
{
	while (*len > 0 && strchr(" \t\r\n", (*s)[0]) != NULL) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && strchr(" \t\r\n", (*s)[*len - 1]) != NULL)
		(*len)--;
}

int
dkim_sign_key_parse(const char *value, VSTR *domain, VSTR *selector, VSTR *path,
		    VSTR *why)
{
	const char *s = value, *c1, *c2;
	size_t	    len = strlen(value);

	vstr_reset(domain);
	vstr_reset(selector);
	vstr_reset(path);
	if (len > DKIM_SIGN_VALUE_MAX) {
		vstr_sprintf(why, "value longer than %d bytes",
			     DKIM_SIGN_VALUE_MAX);
		return -1;
	}
	dkim_sign_trim(&s, &len);
	if ((c1 = memchr(s, ':', len)) == NULL
	    || (c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - s))) == NULL) {
		vstr_strcpy(why, "expected domain:selector:/path/to/key");
		return -1;
	}
	if (!dkim_sign_dns_ok(s, (size_t)(c1 - s), DKIM_SIGN_DOMAIN_MAX)) {
		vstr_sprintf(why, "bad signing domain \"%.*s\"", (int)(c1 - s),
			     s);
		return -1;
	}
	if (!dkim_sign_dns_ok(c1 + 1, (size_t)(c2 - c1 - 1),
			      DKIM_SIGN_DOMAIN_MAX)) {
		vstr_sprintf(why, "bad selector \"%.*s\"", (int)(c2 - c1 - 1),
			     c1 + 1);
		return -1;
	}
	len -= (size_t)(c2 + 1 - s);
	if (len == 0 || c2[1] != '/') {
		vstr_strcpy(why, "the key file must be an absolute path");
		return -1;
	}
	if (len > DKIM_SIGN_PATH_MAX) {
		vstr_strcpy(why, "key file path too long");
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)c2[1 + i] < 32 || c2[1 + i] == 127) {
			vstr_strcpy(why, "control character in key file path");
			return -1;
		}
	vstr_memcpy(domain, s, (size_t)(c1 - s));
	vstr_lower(domain);
	vstr_memcpy(selector, c1 + 1, (size_t)(c2 - c1 - 1));
	vstr_memcpy(path, c2 + 1, len);
	return 0;
}

/*
 * Split text into items at commas and white space; check(item) decides
 * each.  At most max items after duplicates are dropped.
 */
static int
dkim_sign_split(DKIM_SIGN_LIST *l, const char *value, size_t max, bool plus,
		const char *what, VSTR *why)
{
	const char *cp = value;
	size_t	    len;
	long	    at;
	bool	    over;

	dkim_sign_list_reset(l);
	if (strlen(value) > DKIM_SIGN_VALUE_MAX) {
		vstr_sprintf(why, "%s longer than %d bytes", what,
			     DKIM_SIGN_VALUE_MAX);
		return -1;
	}
	for (;;) {
		cp += strspn(cp, DKIM_SIGN_SEP);
		if (*cp == 0)
			break;
		len = strcspn(cp, DKIM_SIGN_SEP);
		over = plus && cp[0] == '+';
		if (over) {
			cp++;
			len--;
		}
		/* "++Name" is a typo, not a field named "+Name" */
		if (over && len > 0 && cp[0] == '+') {
			vstr_sprintf(why, "%s: \"+%.*s\": one + only", what,
				     (int)(len > 100 ? 100 : len), cp);
			return -1;
		}
		if (len == 0 || len > DKIM_SIGN_NAME_MAX) {
			vstr_sprintf(why, "%s: empty or over-long name", what);
			return -1;
		}
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)cp[i];

			/* RFC 5322 ftext; ';' would break h= (libopendkim) */
			if (c < 33 || c > 126
			    || (plus && (c == ':' || c == ';'))) {
				vstr_sprintf(why,
					     "%s: bad character in \"%.*s\"",
					     what, (int)len, cp);
				return -1;
			}
		}
		if ((at = dkim_sign_list_find(l, cp, len)) >= 0) {
			l->over[at] |= over;
		} else if (l->count >= max) {
			vstr_sprintf(why, "%s: more than %zu names", what, max);
			return -1;
		} else {
			dkim_sign_list_add(l, cp, len, over);
		}
		cp += len;
	}
	if (l->count == 0) {
		vstr_sprintf(why, "%s: no names", what);
		return -1;
	}
	return 0;
}

int
dkim_sign_names_parse(DKIM_SIGN_LIST *l, const char *value, VSTR *why)
{
	return dkim_sign_split(l, value, DKIM_SIGN_KEYS_MAX, false, "key list",
			       why);
}

int
dkim_sign_headers_parse(DKIM_SIGN_LIST *l, const char *value, VSTR *why)
{
	return dkim_sign_split(l, value, DKIM_SIGN_HEADERS_MAX, true,
			       "header list", why);
}

static int
dkim_sign_canon_word(const char *s, size_t len, int *out)
{
	if (len == 6 && strncasecmp(s, "simple", 6) == 0)
		*out = DKIM_SIGN_CANON_SIMPLE;
	else if (len == 7 && strncasecmp(s, "relaxed", 7) == 0)
		*out = DKIM_SIGN_CANON_RELAXED;
	else
		return -1;
	return 0;
}

int
dkim_sign_canon_parse(const char *value, int *header, int *body, VSTR *why)
{
	const char *s = value, *slash;
	size_t	    len = strlen(value);

	dkim_sign_trim(&s, &len);
	slash = memchr(s, '/', len);
	*body = DKIM_SIGN_CANON_SIMPLE;
	if (dkim_sign_canon_word(s, slash ? (size_t)(slash - s) : len, header)
		< 0
	    || (slash
		&& dkim_sign_canon_word(slash + 1,
					len - (size_t)(slash + 1 - s), body)
		       < 0)) {
		vstr_sprintf(why,
			     "\"%.*s\": expected simple or relaxed, "
			     "optionally /simple or /relaxed",
			     (int)(len > 100 ? 100 : len), s);
		return -1;
	}
	return 0;
}

size_t
dkim_sign_lookup_keys(DKIM_SIGN_LIST *l, const char *addr)
{
	const char *at = strrchr(addr, '@'), *dom, *cp;
	size_t	    dlen;

	dkim_sign_list_reset(l);
	if (at == NULL || at == addr)
		return 0;
	dom = at + 1;
	dlen = strlen(dom);
	while (dlen > 0 && dom[dlen - 1] == '.')
		dlen--;
	if (dlen == 0 || dlen > DKIM_SIGN_DOMAIN_MAX
	    || strlen(addr) > DKIM_SIGN_VALUE_MAX)
		return 0;
	dkim_sign_list_add(l, addr, (size_t)(dom - addr) + dlen, false);
	dkim_sign_list_add(l, dom, dlen, false);
	if (dom[0] == '[')
		return l->count;
	/* ".parent" for every dot that has a label after it */
	for (cp = dom; cp < dom + dlen; cp++)
		if (*cp == '.' && cp + 1 < dom + dlen && cp > dom)
			dkim_sign_list_add(l, cp, (size_t)(dom + dlen - cp),
					   false);
	return l->count;
}
