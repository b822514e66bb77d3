/*
 * smtpd_check_addr - address classes for the restriction engine: domain
 * and network lists (mydestination, relay_domains, virtual_*_domains,
 * mynetworks), interface address literals, relay authorization with the
 * routing tricks, and the valid-recipient tables of
 * reject_unlisted_recipient.
 *
 * Errors: matches return 1 / 0 / -1 (a table failed; the caller defers).
 * Lists are compiled in pre_jail; tables come from the smtpd_check cache.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpd/smtpd_check.h"
#include "smtpd/smtpd_check_priv.h"
#include "util/addr.h"
#include "util/dict.h"
#include "util/dns.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/own_addr.h"
#include "util/strutil.h"
#include "util/vstr.h"

void
smtpd_check_addr_list_free(struct match_list *m)
{
	for (size_t i = 0; i < m->count; i++) {
		myfree(m->items[i].pattern);
		dict_close(m->items[i].cidr);
	}
	myfree(m->items);
	m->items = NULL;
	m->count = 0;
}

/* True when text looks like an address or network, not a domain. */
static bool
chk_is_network(const char *text)
{
	return text[0] == '[' || strchr(text, ':') != NULL
	       || strchr(text, '/') != NULL
	       || strspn(text, "0123456789.") == strlen(text);
}

/* Compile a domain list (networks too when `networks`). */
int
smtpd_check_addr_compile(SMTPD_CHECK *c, const char *param, bool networks,
			 bool parent, struct match_list *m, VSTR *why)
{
	struct smtpd_check_words w = { NULL, 0 };
	VSTR			*text = vstr_alloc(64);
	int			 rc = -1;

	m->parent = parent;
	if (dict_list_split(cfg_get_str(c->cfg, param), smtpd_check_word, &w,
			    why)
	    < 0)
		goto out;
	for (size_t i = 0; i < w.n; i++) {
		struct match_item it = { 0 };
		const char	 *p = w.v[i];

		if (*p == '!') {
			it.negate = true;
			p++;
		}
		if (*p == 0)
			continue;
		if (*p == '/') {
			vstr_sprintf(why,
				     "%s: file patterns (\"%s\") are not "
				     "supported; use a table",
				     param, p);
			goto out;
		}
		if (networks && chk_is_network(p) && !strstr(p, ":/")
		    && strncmp(p, "cidr:", 5) != 0) {
			vstr_sprintf(text, "%s x\n", p);
			it.cidr = dict_open_buffer("cidr", param,
						   VSTR_STR(text),
						   VSTR_LEN(text), 0, why);
			if (it.cidr == NULL)
				goto out;
		} else if (strchr(p, ':') != NULL && p[0] != '[') {
			it.table = smtpd_check_table(c, p, &it.broken);
		} else {
			it.pattern = mystrdup(p);
			str_lower(it.pattern);
		}
		m->items = myrealloc(m->items, (m->count + 1) * sizeof(it));
		m->items[m->count++] = it;
	}
	rc = 0;
out:
	vstr_free(text);
	smtpd_check_words_free(&w);
	return rc;
}

/*
 * Does domain (lower case) match pattern?  ".d" matches subdomains of d;
 * "d" matches d, and its subdomains when parent matching is on.
 */
static bool
chk_domain_pattern(const char *domain, const char *pattern, bool parent)
{
	size_t dl = strlen(domain);
	size_t pl = strlen(pattern);

	if (pattern[0] == '.')
		return dl > pl && strcmp(domain + dl - pl, pattern) == 0;
	if (strcmp(domain, pattern) == 0)
		return true;
	return parent && dl > pl && domain[dl - pl - 1] == '.'
	       && strcmp(domain + dl - pl, pattern) == 0;
}

/*
 * Look a domain up in a table: the name, then each parent ("parent" or
 * ".parent" as Postfix does).  1 found (value), 0 not, -1 error.
 */
static int
chk_domain_lookup(DICT *d, const char *domain, bool parent, const char **value)
{
	const char *cp;
	int	    rc;

	if ((rc = dict_lookup(d, domain, value)) != 0)
		return rc;
	for (cp = strchr(domain, '.'); cp != NULL; cp = strchr(cp + 1, '.')) {
		if (cp[1] == 0)
			break;
		rc = dict_lookup(d, parent ? cp + 1 : cp, value);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* 1 the domain matches the list, 0 not, -1 table error. */
static int
chk_match_domain(const struct match_list *m, const char *domain)
{
	const char *value;

	for (size_t i = 0; i < m->count; i++) {
		const struct match_item *it = &m->items[i];
		int			 rc = 0;

		if (it->broken)
			rc = -1;
		else if (it->pattern)
			rc = chk_domain_pattern(domain, it->pattern, m->parent);
		else if (it->table)
			rc = chk_domain_lookup(it->table, domain, m->parent,
					       &value);
		if (rc < 0)
			return -1;
		if (rc > 0)
			return it->negate ? 0 : 1;
	}
	return 0;
}

/* 1 the client matches the network list, 0 not, -1 table error. */
int
smtpd_check_addr_client(const struct match_list *m, const char *addr,
			const char *name)
{
	const char *value;

	for (size_t i = 0; i < m->count; i++) {
		const struct match_item *it = &m->items[i];
		int			 rc = 0;

		if (it->broken)
			rc = -1;
		else if (it->cidr && addr)
			rc = dict_lookup(it->cidr, addr, &value);
		else if (it->table && addr)
			rc = dict_lookup(it->table, addr, &value);
		else if (it->pattern && name && strcmp(name, "unknown") != 0)
			rc = chk_domain_pattern(name, it->pattern, m->parent);
		if (rc < 0)
			return -1;
		if (rc > 0)
			return it->negate ? 0 : 1;
	}
	return 0;
}

bool
smtpd_check_addr_pdms(const CFG *cfg, const char *feature)
{
	const char *pdms = cfg_get_str(cfg, "parent_domain_matches_subdomains");
	char	   *copy = mystrdup(pdms);
	char	   *cp = copy;
	char	   *item;
	bool	    found = false;

	while ((item = str_token(&cp, STR_SEP_LIST)) != NULL)
		if (strcmp(item, feature) == 0)
			found = true;
	myfree(copy);
	return found;
}

/* Normalise an IP address (brackets, IPv6: prefix); false if not one. */
bool
smtpd_check_addr_norm(const char *text, char *out, size_t size)
{
	return own_addr_norm(text, out, size);
}

/*
 * inet_interfaces and proxy_interfaces as address literals: the one
 * answer that qmgr gives too (util/own_addr.c).
 */
void
smtpd_check_addr_interfaces(SMTPD_CHECK *c)
{
	c->own_addr = own_addr_open(c->cfg);
}

/* Open a recipient table list; a failure is logged, as in smtpd_check_table. */
void
smtpd_check_addr_maps_open(SMTPD_CHECK *c, const char *param,
			   struct chk_maps *m)
{
	const char *text = cfg_get_str(c->cfg, param);
	VSTR	   *why;

	if (strspn(text, " \t\r\n,") == strlen(text))
		return;
	why = vstr_alloc(64);
	if ((m->list = dict_list_open(text, DICT_FLAG_FOLD, why)) == NULL) {
		msg_warn("%s: %s; recipients that need it will be deferred",
			 param, VSTR_STR(why));
		m->broken = true;
	}
	vstr_free(why);
}

static bool
chk_maps_used(const struct chk_maps *m)
{
	return m->list != NULL || m->broken;
}

/* Address classes. */
/* The domain an address is routed by: its own, or myorigin's. */
static const char *
chk_addr_domain(SMTPD_CHECK *c, const ADDR *a)
{
	if (a->flags & ADDR_F_NODOMAIN)
		return c->myorigin;
	return VSTR_STR(a->domain);
}

/* Classify a lower-case domain; -1 on table error. */
int
smtpd_check_addr_class(SMTPD_CHECK *c, const char *domain, enum addr_class *ac)
{
	VSTR *d = vstr_alloc(64);
	int   rc;

	/* One trailing dot names the same domain. */
	vstr_strcpy(d, domain);
	if (VSTR_LEN(d) > 1 && VSTR_STR(d)[VSTR_LEN(d) - 1] == '.')
		vstr_truncate(d, VSTR_LEN(d) - 1);
	vstr_lower(d);
	domain = VSTR_STR(d);
	*ac = AC_FOREIGN;
	if (domain[0] == '[') {
		if (own_addr_literal(c->own_addr, domain))
			*ac = AC_LOCAL;
		vstr_free(d);
		return 0;
	}
	if ((rc = chk_match_domain(&c->mydestination, domain)) > 0)
		*ac = AC_LOCAL;
	else if (rc == 0
		 && (rc = chk_match_domain(&c->valias_domains, domain)) > 0)
		*ac = AC_VALIAS;
	else if (rc == 0
		 && (rc = chk_match_domain(&c->vmbox_domains, domain)) > 0)
		*ac = AC_VMBOX;
	else if (rc == 0
		 && (rc = chk_match_domain(&c->relay_domains, domain)) > 0)
		*ac = AC_RELAY;
	vstr_free(d);
	return rc < 0 ? -1 : 0;
}

bool
smtpd_check_local_domain(SMTPD_CHECK *c, const char *domain)
{
	enum addr_class ac;

	return smtpd_check_addr_class(c, domain, &ac) == 0 && ac == AC_LOCAL;
}

bool
smtpd_check_mynetworks(SMTPD_CHECK *c, const char *client_addr)
{
	return smtpd_check_addr_client(&c->mynetworks, client_addr, NULL) > 0;
}

/*
 * 1 when the recipient may be accepted from anyone (a domain we serve,
 * without sender-specified routing), 0 not, -1 table error.
 */
int
smtpd_check_addr_auth_dest(struct chk_ctx *x)
{
	enum addr_class ac;
	const char     *domain;

	if (!x->c->untrusted_routing && addr_relay_tricks(x->rcpt) != 0)
		return 0;
	domain = chk_addr_domain(x->c, x->rcpt);
	if (smtpd_check_addr_class(x->c, domain, &ac) < 0)
		return -1;
	return ac != AC_FOREIGN;
}

/* Valid recipients. */

/*
 * 1 when addr (or user, or @domain for virtual tables) is in the maps,
 * 0 not, -1 error.
 */
static int
chk_in_maps(SMTPD_CHECK *c, const struct chk_maps *m, const ADDR *a,
	    bool by_user, bool catchall)
{
	DICT_LIST  *maps = m->list;
	VSTR	   *key = vstr_alloc(64);
	VSTR	   *user = vstr_alloc(64);
	VSTR	   *ext = vstr_alloc(16);
	const char *value;
	const char *domain = chk_addr_domain(c, a);
	int	    rc = -1;

	if (m->broken)
		goto out;
	addr_split_ext(VSTR_STR(a->local), c->delims, user, ext);
	vstr_sprintf(key, "%s@%s", VSTR_STR(a->local), domain);
	if ((rc = dict_list_lookup(maps, VSTR_STR(key), &value)) != 0)
		goto out;
	if (VSTR_LEN(ext) > 0) {
		vstr_sprintf(key, "%s@%s", VSTR_STR(user), domain);
		if ((rc = dict_list_lookup(maps, VSTR_STR(key), &value)) != 0)
			goto out;
	}
	if (by_user) {
		if ((rc = dict_list_lookup(maps, VSTR_STR(a->local), &value))
		    != 0)
			goto out;
		if (VSTR_LEN(ext) > 0
		    && (rc = dict_list_lookup(maps, VSTR_STR(user), &value))
			   != 0)
			goto out;
	}
	if (catchall) {
		vstr_sprintf(key, "@%s", domain);
		rc = dict_list_lookup(maps, VSTR_STR(key), &value);
	}
out:
	vstr_free(key);
	vstr_free(user);
	vstr_free(ext);
	return rc < 0 ? -1 : rc;
}

/*
 * relocated_maps (relocated(5)): user@domain, then user when the domain
 * is local, then @domain; the address extension is tried and then
 * stripped.  1 with the new contact information in `where`, 0 not
 * listed, -1 table error.
 */
static int
chk_relocated(SMTPD_CHECK *c, const ADDR *a, enum addr_class ac, VSTR *where)
{
	VSTR	   *user = vstr_alloc(64);
	VSTR	   *ext = vstr_alloc(16);
	VSTR	   *key = vstr_alloc(64);
	const char *domain = chk_addr_domain(c, a);
	const char *value = NULL;
	int	    rc = -1;

	if (c->relocated_maps.broken)
		goto out;
	addr_split_ext(VSTR_STR(a->local), c->delims, user, ext);
	vstr_sprintf(key, "%s@%s", VSTR_STR(a->local), domain);
	if ((rc = dict_list_lookup(c->relocated_maps.list, VSTR_STR(key),
				   &value))
	    != 0)
		goto out;
	if (VSTR_LEN(ext) > 0) {
		vstr_sprintf(key, "%s@%s", VSTR_STR(user), domain);
		if ((rc = dict_list_lookup(c->relocated_maps.list,
					   VSTR_STR(key), &value))
		    != 0)
			goto out;
	}
	if (ac == AC_LOCAL) {
		if ((rc = dict_list_lookup(c->relocated_maps.list,
					   VSTR_STR(a->local), &value))
		    != 0)
			goto out;
		if (VSTR_LEN(ext) > 0
		    && (rc = dict_list_lookup(c->relocated_maps.list,
					      VSTR_STR(user), &value))
			   != 0)
			goto out;
	}
	vstr_sprintf(key, "@%s", domain);
	rc = dict_list_lookup(c->relocated_maps.list, VSTR_STR(key), &value);
out:
	if (rc > 0) {
		vstr_reset(where);
		smtpd_check_printable(where, value);
	}
	vstr_free(user);
	vstr_free(ext);
	vstr_free(key);
	return rc < 0 ? -1 : rc;
}

/*
 * canonical_maps, and sender_canonical_maps or recipient_canonical_maps
 * by class: 1 the address is mapped (so it is known), 0 not, -1 error.
 */
static int
chk_canonical_known(SMTPD_CHECK *c, enum chk_class class, const ADDR *a,
		    enum addr_class ac)
{
	const struct chk_maps *own = class == CLASS_SENDER
					 ? &c->sender_canonical_maps
					 : &c->rcpt_canonical_maps;
	int		       rc = 0;

	if (chk_maps_used(own))
		rc = chk_in_maps(c, own, a, ac == AC_LOCAL, true);
	if (rc == 0 && chk_maps_used(&c->canonical_maps))
		rc = chk_in_maps(c, &c->canonical_maps, a, ac == AC_LOCAL,
				 true);
	return rc;
}

int
smtpd_check_addr_unlisted(struct chk_ctx *x, enum chk_class class,
			  const ADDR	 *a)
{
	SMTPD_CHECK    *c = x->c;
	enum addr_class ac;
	int		rc = 1;
	int		code = 0;
	const char     *table = NULL;

	if (a == NULL)
		return CHK_DUNNO;
	/* receive_override_options: the filter's smtpd took them already. */
	if (class == CLASS_RCPT && c->no_unknown_rcpt)
		return CHK_DUNNO;
	if (smtpd_check_addr_class(c, chk_addr_domain(c, a), &ac) < 0)
		return smtpd_check_error(x);
	/* A recipient who has moved is told so, as Postfix does. */
	if (class == CLASS_RCPT && ac != AC_FOREIGN
	    && chk_maps_used(&c->relocated_maps)) {
		VSTR *where = vstr_alloc(64);

		rc = chk_relocated(c, a, ac, where);
		if (rc > 0) {
			vstr_sprintf(c->scratch, "User has moved to %s",
				     VSTR_STR(where));
			rc = smtpd_check_reject(x, class, 550, "5.1.6",
						VSTR_STR(c->scratch));
		}
		vstr_free(where);
		if (rc < 0)
			return smtpd_check_error(x);
		if (rc == CHK_REJECT)
			return rc;
		rc = 1;
	}
	/* An address that a canonical table maps is known (Postfix). */
	if (ac != AC_FOREIGN) {
		rc = chk_canonical_known(c, class, a, ac);
		if (rc < 0)
			return smtpd_check_error(x);
		if (rc > 0)
			return CHK_DUNNO;
		rc = 1;
	}
	switch (ac) {
	case AC_LOCAL:
		if (!chk_maps_used(&c->local_rcpt_maps))
			return CHK_DUNNO;
		rc = chk_in_maps(c, &c->local_rcpt_maps, a, true, false);
		if (rc == 0 && chk_maps_used(&c->valias_maps))
			rc = chk_in_maps(c, &c->valias_maps, a, false, true);
		code = c->unknown_local_code;
		table = "local recipient table";
		break;
	case AC_VALIAS:
		if (chk_maps_used(&c->valias_maps))
			rc = chk_in_maps(c, &c->valias_maps, a, false, true);
		code = c->unknown_valias_code;
		table = "virtual alias table";
		break;
	case AC_VMBOX:
		if (chk_maps_used(&c->vmbox_maps))
			rc = chk_in_maps(c, &c->vmbox_maps, a, false, true);
		if (rc == 0 && chk_maps_used(&c->valias_maps))
			rc = chk_in_maps(c, &c->valias_maps, a, false, true);
		code = c->unknown_vmbox_code;
		table = "virtual mailbox table";
		break;
	case AC_RELAY:
		if (chk_maps_used(&c->relay_rcpt_maps))
			rc = chk_in_maps(c, &c->relay_rcpt_maps, a, false,
					 true);
		code = c->unknown_relay_code;
		table = "relay recipient table";
		break;
	case AC_FOREIGN:
		return CHK_DUNNO;
	}
	if (rc < 0)
		return smtpd_check_error(x);
	if (rc > 0)
		return CHK_DUNNO;
	vstr_sprintf(c->scratch, "User unknown in %s", table);
	return smtpd_check_reject(x, class, code,
				  class == CLASS_SENDER ? "5.1.0" : "5.1.1",
				  VSTR_STR(c->scratch));
}
