/*
 * dict_query - configuration files, the domain filter and the %
 * expansions shared by the sqlite:, pgsql: and ldap: tables.  See
 * dict_query.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/dict.h"
#include "util/dict_query.h"
#include "util/dict_src.h"
#include "util/lline.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

/* A configuration file rarely has more than a dozen settings. */
#define DICT_CF_MAX_ITEMS 1000

struct dict_cf_item {
	char *name;
	char *value;
	int   lineno;
	int   used;
};

struct DICT_CF {
	char		    *path;
	struct dict_cf_item *items;
	size_t		     count;
};

static struct dict_cf_item *
dict_cf_find(const DICT_CF *cf, const char *name)
{
	size_t i;

	for (i = 0; i < cf->count; i++)
		if (strcmp(cf->items[i].name, name) == 0)
			return &cf->items[i];
	return NULL;
}

static int
dict_cf_name_ok(const char *name)
{
	const char *p;

	if (*name == 0)
		return 0;
	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return 0;
	return 1;
}

/* Parse one logical line "name = value"; 0 or -1 with why. */
static int
dict_cf_line(DICT_CF *cf, char *line, int lineno, VSTR *why)
{
	struct dict_cf_item *item;
	char		    *eq = strchr(line, '=');
	char		    *name;
	char		    *value;

	if (eq == NULL) {
		vstr_sprintf(why, "%s:%d: missing '=' after parameter name",
			     cf->path, lineno);
		return -1;
	}
	*eq = 0;
	name = str_trim(line);
	value = str_trim(eq + 1);
	if (!dict_cf_name_ok(name)) {
		vstr_sprintf(why, "%s:%d: bad parameter name \"%s\"", cf->path,
			     lineno, name);
		return -1;
	}
	/* A later setting wins, as in main.cf. */
	if ((item = dict_cf_find(cf, name)) != NULL) {
		explicit_bzero(item->value, strlen(item->value));
		myfree(item->value);
		item->value = mystrdup(value);
		item->lineno = lineno;
		return 0;
	}
	if (cf->count >= DICT_CF_MAX_ITEMS) {
		vstr_sprintf(why, "%s:%d: more than %d parameters", cf->path,
			     lineno, DICT_CF_MAX_ITEMS);
		return -1;
	}
	cf->items = myrealloc_array(cf->items, cf->count + 1,
				    sizeof(cf->items[0]));
	item = &cf->items[cf->count++];
	item->name = mystrdup(name);
	item->value = mystrdup(value);
	item->lineno = lineno;
	item->used = 0;
	return 0;
}

DICT_CF *
dict_cf_read(const char *path, VSTR *why)
{
	DICT_CF *cf = mycalloc(1, sizeof(*cf));
	VSTR	*text = vstr_alloc(1024);
	VSTR	*line = vstr_alloc(256);
	LLINE	 ll;
	int	 lineno;
	int	 ret;

	cf->path = mystrdup(path);
	if (dict_src_read_file(path, text, why) < 0) {
		cf = dict_cf_free(cf);
		goto out;
	}
	lline_init(&ll, path, VSTR_STR(text), VSTR_LEN(text), LLINE_JOIN_SPACE,
		   "continuation line without a parameter before it");
	while ((ret = lline_next(&ll, line, &lineno, why)) > 0)
		if (dict_cf_line(cf, VSTR_STR(line), lineno, why) < 0) {
			ret = -1;
			break;
		}
	if (ret < 0) {
		errno = EINVAL;
		cf = dict_cf_free(cf);
	}
out:
	/* The file may hold a password. */
	explicit_bzero(VSTR_STR(text), VSTR_LEN(text));
	explicit_bzero(VSTR_STR(line), VSTR_LEN(line));
	vstr_free(text);
	vstr_free(line);
	return cf;
}

DICT_CF *
dict_cf_free(DICT_CF *cf)
{
	size_t i;

	if (cf == NULL)
		return NULL;
	for (i = 0; i < cf->count; i++) {
		explicit_bzero(cf->items[i].value, strlen(cf->items[i].value));
		myfree(cf->items[i].value);
		myfree(cf->items[i].name);
	}
	myfree(cf->items);
	myfree(cf->path);
	myfree(cf);
	return NULL;
}

const char *
dict_cf_path(const DICT_CF *cf)
{
	return cf->path;
}

const char *
dict_cf_str(DICT_CF *cf, const char *name, const char *def)
{
	struct dict_cf_item *item = dict_cf_find(cf, name);

	if (item == NULL)
		return def;
	item->used = 1;
	return item->value;
}

int
dict_cf_int(DICT_CF *cf, const char *name, long def, long min, long max,
	    long *val, VSTR *why)
{
	const char *text = dict_cf_str(cf, name, NULL);
	long long   n;

	if (text == NULL) {
		*val = def;
		return 0;
	}
	if (str_to_ll(text, &n) < 0 || n < min || n > max) {
		vstr_sprintf(why,
			     "%s: parameter \"%s\": bad value \"%s\" "
			     "(expected a number from %ld to %ld)",
			     cf->path, name, text, min, max);
		errno = EINVAL;
		return -1;
	}
	*val = (long)n;
	return 0;
}

int
dict_cf_bool(DICT_CF *cf, const char *name, int def, int *val, VSTR *why)
{
	const char *text = dict_cf_str(cf, name, NULL);

	if (text == NULL)
		*val = def;
	else if (strcasecmp(text, "yes") == 0)
		*val = 1;
	else if (strcasecmp(text, "no") == 0)
		*val = 0;
	else {
		vstr_sprintf(why,
			     "%s: parameter \"%s\": bad value \"%s\" "
			     "(expected yes or no)",
			     cf->path, name, text);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
dict_cf_check_unused(const DICT_CF *cf, VSTR *why)
{
	size_t i;

	for (i = 0; i < cf->count; i++)
		if (!cf->items[i].used) {
			vstr_sprintf(why, "%s:%d: unknown parameter \"%s\"",
				     cf->path, cf->items[i].lineno,
				     cf->items[i].name);
			errno = EINVAL;
			return -1;
		}
	return 0;
}

/*
 * Expansions.
 */

/*
 * The part of s[0..len) that % code c names: 1 with *part and *plen, 0 when s
 * has no such part (the expansion is suppressed), -1 for an unknown code.
 */
static int
dict_query_part(int c, const char *s, size_t len, const char **part,
		size_t *plen)
{
	const char *at = NULL;
	const char *p;
	const char *dom;
	const char *end;
	size_t	    dlen;
	int	    n;

	for (p = s + len; p > s; p--)
		if (p[-1] == '@') {
			at = p - 1;
			break;
		}
	switch (c) {
	case 's':
	case 'S':
		*part = s;
		*plen = len;
		return 1;
	case 'u':
	case 'U':
		if (at == NULL) {
			*part = s;
			*plen = len;
			return 1;
		}
		*part = s;
		*plen = (size_t)(at - s);
		return *plen > 0;
	case 'd':
	case 'D':
		if (at == NULL || at + 1 == s + len)
			return 0;
		*part = at + 1;
		*plen = (size_t)(s + len - at - 1);
		return 1;
	default:
		if (c < '1' || c > '9')
			return -1;
		if (at == NULL || at + 1 == s + len)
			return 0;
		dom = at + 1;
		dlen = (size_t)(s + len - dom);
		/* Label n counted from the right: %1 is the top level. */
		end = dom + dlen;
		for (n = c - '0'; n > 0; n--) {
			for (p = end; p > dom && p[-1] != '.'; p--)
				;
			if (n == 1) {
				if (p == end)
					return 0;
				*part = p;
				*plen = (size_t)(end - p);
				return 1;
			}
			if (p == dom)
				return 0;
			end = p - 1;
		}
		return 0;
	}
}

int
dict_query_expand(VSTR *out, const char *tmpl, const char *key,
		  DICT_QUOTE_FN quote, void *ctx, VSTR *why)
{
	size_t	    start = VSTR_LEN(out);
	size_t	    klen = strlen(key);
	const char *p;
	const char *part;
	size_t	    plen;
	int	    ret;

	for (p = tmpl; *p; p++) {
		if (*p != '%') {
			vstr_addch(out, *p);
			continue;
		}
		if (p[1] == '%') {
			vstr_addch(out, '%');
			p++;
			continue;
		}
		if (p[1] == 0) {
			vstr_sprintf(why, "template \"%s\": '%%' at the end",
				     tmpl);
			vstr_truncate(out, start);
			errno = EINVAL;
			return -1;
		}
		ret = dict_query_part((unsigned char)p[1], key, klen, &part,
				      &plen);
		if (ret < 0) {
			vstr_sprintf(why,
				     "template \"%s\": unknown expansion "
				     "\"%%%c\"",
				     tmpl, p[1]);
			vstr_truncate(out, start);
			errno = EINVAL;
			return -1;
		}
		if (ret == 0) {
			vstr_truncate(out, start);
			return 0;
		}
		if (quote != NULL)
			quote(out, part, plen, ctx);
		else
			vstr_memcat(out, part, plen);
		p++;
	}
	return 1;
}

void
dict_query_quote_ldap(VSTR *out, const char *s, size_t len, void *ctx)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '*':
		case '(':
		case ')':
		case '\\':
		case 0:
			vstr_sprintf_append(out, "\\%02x", (unsigned char)s[i]);
			break;
		default:
			vstr_addch(out, s[i]);
		}
	}
}

int
dict_query_result(const struct dict_query_conf *qc, VSTR *out, size_t *count,
		  const char *key, const char *value, size_t len)
{
	size_t	    start = VSTR_LEN(out);
	size_t	    klen = strlen(key);
	const char *fmt = qc->result_format ? qc->result_format : "%s";
	const char *p;
	const char *part;
	size_t	    plen;
	int	    ret;

	/* pgsql_table(5): an empty result is skipped. */
	if (len == 0)
		return 0;
	if (start > 0)
		vstr_addch(out, ',');
	for (p = fmt; *p; p++) {
		if (*p != '%') {
			vstr_addch(out, *p);
			continue;
		}
		if (p[1] == '%') {
			vstr_addch(out, '%');
			p++;
			continue;
		}
		/* Lower case: the value; upper case and digits: the key. */
		if (p[1] == 's' || p[1] == 'u' || p[1] == 'd')
			ret = dict_query_part((unsigned char)p[1], value, len,
					      &part, &plen);
		else
			ret = dict_query_part((unsigned char)p[1], key, klen,
					      &part, &plen);
		/* Bad templates fail at open; keep a stray '%' as is. */
		if (ret < 0) {
			vstr_addch(out, '%');
			continue;
		}
		if (ret == 0) {
			vstr_truncate(out, start);
			return 0;
		}
		vstr_memcat(out, part, plen);
		p++;
	}
	/* Only a value that would be returned counts against the limit. */
	if (qc->expansion_limit > 0 && *count >= (size_t)qc->expansion_limit) {
		vstr_truncate(out, start);
		errno = EFBIG;
		return -1;
	}
	*count += 1;
	return 1;
}

/*
 * Configuration and the domain filter.
 */

struct domain_ctx {
	struct dict_query_conf *qc;
	VSTR		       *tables;
	const char	       *path;
	VSTR		       *why;
	int			failed;
};

static void
dict_query_add_name(struct dict_query_conf *qc, const char *name, size_t len)
{
	char *copy = mystrndup(name, len);

	str_lower(copy);
	qc->domain_names = myrealloc_array(qc->domain_names,
					   qc->domain_count + 1,
					   sizeof(char *));
	qc->domain_names[qc->domain_count++] = copy;
}

/* A "/file" item of domain =: its words are domain names; # comments. */
static int
dict_query_domain_file(struct domain_ctx *dc, const char *file)
{
	VSTR *text = vstr_alloc(256);
	char *p;
	char *end;
	char *word;

	if (dict_src_read_file(file, text, dc->why) < 0) {
		vstr_free(text);
		return -1;
	}
	p = VSTR_STR(text);
	end = p + VSTR_LEN(text);
	while (p < end) {
		if (*p == '#') {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		if (isspace((unsigned char)*p) || *p == ',' || *p == 0) {
			p++;
			continue;
		}
		word = p;
		while (p < end && *p && *p != ','
		       && !isspace((unsigned char)*p))
			p++;
		dict_query_add_name(dc->qc, word, (size_t)(p - word));
	}
	vstr_free(text);
	return 0;
}

static void
dict_query_domain_item(const char *item, size_t len, void *ctx)
{
	struct domain_ctx *dc = ctx;
	char		  *copy;

	if (dc->failed)
		return;
	copy = mystrndup(item, len);
	if (*copy == '/') {
		if (dict_query_domain_file(dc, copy) < 0)
			dc->failed = 1;
	} else if (strchr(copy, ':') != NULL) {
		if (VSTR_LEN(dc->tables) > 0)
			vstr_addch(dc->tables, ' ');
		vstr_strcat(dc->tables, copy);
	} else if (*copy == '!') {
		vstr_sprintf(dc->why,
			     "%s: parameter \"domain\": negation \"%s\" "
			     "is not supported",
			     dc->path, copy);
		dc->failed = 1;
	} else
		dict_query_add_name(dc->qc, copy, len);
	myfree(copy);
}

static int
dict_query_check_tmpl(DICT_CF *cf, const char *name, const char *tmpl,
		      VSTR *why)
{
	VSTR *tmp = vstr_alloc(64);
	VSTR *err = vstr_alloc(64);
	int   ret;

	ret = dict_query_expand(tmp, tmpl, "u@a.b.c.d.e.f.g.h.i", NULL, NULL,
				err);
	if (ret < 0)
		vstr_sprintf(why, "%s: parameter \"%s\": %s", dict_cf_path(cf),
			     name, VSTR_STR(err));
	vstr_free(tmp);
	vstr_free(err);
	return ret < 0 ? -1 : 0;
}

int
dict_query_conf_read(DICT_CF *cf, const char *query_name,
		     const char *query_default, struct dict_query_conf *qc,
		     VSTR *why)
{
	const char	 *query = dict_cf_str(cf, query_name, query_default);
	struct domain_ctx dc;
	int		  ret = 0;

	memset(qc, 0, sizeof(*qc));
	if (query == NULL || *query == 0) {
		vstr_sprintf(why, "%s: missing parameter \"%s\"",
			     dict_cf_path(cf), query_name);
		errno = EINVAL;
		return -1;
	}
	qc->query = mystrdup(query);
	qc->result_format = mystrdup(dict_cf_str(cf, "result_format", "%s"));
	qc->domain = mystrdup(dict_cf_str(cf, "domain", ""));
	if (dict_cf_int(cf, "expansion_limit", 0, 0, 1000000,
			&qc->expansion_limit, why)
		< 0
	    || dict_query_check_tmpl(cf, query_name, qc->query, why) < 0
	    || dict_query_check_tmpl(cf, "result_format", qc->result_format,
				     why)
		   < 0)
		goto fail;
	if (*qc->domain) {
		dc.qc = qc;
		dc.tables = vstr_alloc(64);
		dc.path = dict_cf_path(cf);
		dc.why = why;
		dc.failed = 0;
		if (dict_list_split(qc->domain, dict_query_domain_item, &dc,
				    why)
			< 0
		    || dc.failed)
			ret = -1;
		else if (VSTR_LEN(dc.tables) > 0
			 && (qc->domain_tables =
				 dict_list_open(VSTR_STR(dc.tables),
						DICT_FLAG_FOLD, why))
				== NULL)
			ret = -1;
		vstr_free(dc.tables);
		if (ret < 0)
			goto fail;
	}
	return 0;
fail:
	errno = EINVAL;
	dict_query_conf_free(qc);
	return -1;
}

void
dict_query_conf_free(struct dict_query_conf *qc)
{
	size_t i;

	qc->query = myfree(qc->query);
	qc->result_format = myfree(qc->result_format);
	qc->domain = myfree(qc->domain);
	qc->domain_tables = dict_list_close(qc->domain_tables);
	for (i = 0; i < qc->domain_count; i++)
		myfree(qc->domain_names[i]);
	qc->domain_names = myfree(qc->domain_names);
	qc->domain_count = 0;
}

int
dict_query_domain_ok(const struct dict_query_conf *qc, const char *key)
{
	const char *at;
	const char *dom;
	const char *value;
	size_t	    i;

	if (qc->domain == NULL || *qc->domain == 0)
		return 1;
	/* Only user@domain with both parts is looked up. */
	if ((at = strrchr(key, '@')) == NULL || at == key || at[1] == 0)
		return 0;
	dom = at + 1;
	for (i = 0; i < qc->domain_count; i++)
		if (strcasecmp(qc->domain_names[i], dom) == 0)
			return 1;
	if (qc->domain_tables == NULL)
		return 0;
	return dict_list_lookup(qc->domain_tables, dom, &value);
}
