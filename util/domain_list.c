/*
 * domain_list - Postfix-style lists of domains.  See domain_list.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "util/dict.h"
#include "util/domain_list.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

struct DOMAIN_LIST {
	char **names; /* lower case, plain or ".domain" */
	size_t nnames;
	DICT **tables;
	size_t ntables;
	bool   parent_match;
};

struct domain_list_build {
	DOMAIN_LIST *l;
	VSTR	    *item;
	VSTR	    *why;
	int	     error;
};

static void
domain_list_item(const char *item, size_t len, void *ctx)
{
	struct domain_list_build *b = ctx;
	DOMAIN_LIST		 *l = b->l;
	const char		 *s;
	DICT			 *d;

	vstr_memcpy(b->item, item, len);
	s = VSTR_STR(b->item);
	if (*s == 0 || b->error)
		return;
	if (strchr(s, ':') != NULL && *s != '[') {
		if ((d = dict_open(s, DICT_FLAG_FOLD, b->why)) == NULL) {
			b->error = -1;
			return;
		}
		l->tables = myrealloc(l->tables,
				      (l->ntables + 1) * sizeof(*l->tables));
		l->tables[l->ntables++] = d;
		return;
	}
	l->names = myrealloc(l->names, (l->nnames + 1) * sizeof(*l->names));
	l->names[l->nnames] = mystrdup(s);
	str_lower(l->names[l->nnames]);
	l->nnames++;
}

DOMAIN_LIST *
domain_list_open(const char *text, bool parent_match, VSTR *why)
{
	DOMAIN_LIST		*l = mycalloc(1, sizeof(*l));
	VSTR			*own_why = why ? NULL : vstr_alloc(64);
	struct domain_list_build b = { .l = l, .why = why ? why : own_why };

	l->parent_match = parent_match;
	b.item = vstr_alloc(64);
	if (dict_list_split(text, domain_list_item, &b, b.why) < 0)
		b.error = -1;
	vstr_free(b.item);
	vstr_free(own_why);
	if (b.error < 0)
		return domain_list_free(l);
	return l;
}

DOMAIN_LIST *
domain_list_free(DOMAIN_LIST *l)
{
	size_t i;

	if (l == NULL)
		return NULL;
	for (i = 0; i < l->nnames; i++)
		myfree(l->names[i]);
	for (i = 0; i < l->ntables; i++)
		dict_close(l->tables[i]);
	myfree(l->names);
	myfree(l->tables);
	myfree(l);
	return NULL;
}

/* Does one name match domain (which is lower case)? */
static bool
domain_list_name(const DOMAIN_LIST *l, const char *name, const char *domain)
{
	size_t dlen = strlen(domain);
	size_t nlen;

	if (*name == '.') {
		nlen = strlen(name);
		return dlen > nlen && strcmp(domain + dlen - nlen, name) == 0;
	}
	if (strcmp(name, domain) == 0)
		return true;
	if (!l->parent_match)
		return false;
	nlen = strlen(name);
	return dlen > nlen && domain[dlen - nlen - 1] == '.'
	       && strcmp(domain + dlen - nlen, name) == 0;
}

int
domain_list_match(DOMAIN_LIST *l, const char *domain)
{
	const char *val;
	const char *cp;
	size_t	    i;
	int	    rc;

	if (l == NULL || *domain == 0)
		return 0;
	for (i = 0; i < l->nnames; i++)
		if (domain_list_name(l, l->names[i], domain))
			return 1;
	for (i = 0; i < l->ntables; i++) {
		/* The domain itself, then parents (".parent" keys too). */
		if ((rc = dict_lookup(l->tables[i], domain, &val)) != 0)
			return rc;
		for (cp = strchr(domain, '.'); cp; cp = strchr(cp + 1, '.')) {
			if ((rc = dict_lookup(l->tables[i], cp, &val)) != 0)
				return rc;
			if (l->parent_match
			    && (rc = dict_lookup(l->tables[i], cp + 1, &val))
				   != 0)
				return rc;
		}
	}
	return 0;
}

bool
domain_list_parent_match(const CFG *cfg, const char *feature)
{
	char *copy = mystrdup(
	    cfg_get_str(cfg, "parent_domain_matches_subdomains"));
	char *cp = copy;
	char *tok;
	bool  found = false;

	while (!found && (tok = str_token(&cp, STR_SEP_LIST)) != NULL)
		found = strcmp(tok, feature) == 0;
	myfree(copy);
	return found;
}

DOMAIN_LIST *
domain_list_open_param(const CFG *cfg, const char *param, VSTR *why)
{
	return domain_list_open(cfg_get_str(cfg, param),
				domain_list_parent_match(cfg, param), why);
}
