/*
 * qmgr_resolve - choose the transport and next hop of a recipient.
 *
 * Order, as Postfix's trivial-rewrite resolves:
 *  1. transport_maps: the full address, then the domain, then each parent
 *     ".parent.domain", then "*"; the value is "transport:nexthop" where
 *     either half may be empty (empty keeps what steps 2-3 chose).
 *     "error:text" sends the recipient to the error transport with the
 *     text as its reason.
 *  2. the address class: mydestination, or an address literal of this
 *     host ("[ip]" of inet_interfaces / proxy_interfaces, as smtpd
 *     decides it: util/own_addr.c) -> local_transport, next hop
 *     $myhostname; virtual_alias_domains -> error (a virtual alias domain
 *     recipient that survived virtual aliasing does not exist);
 *     virtual_mailbox_domains -> virtual_transport; relay_domains ->
 *     relay_transport; anything else -> default_transport.
 *  3. the next hop for relay and default: the transport parameter's own
 *     ":nexthop" part, else sender_dependent_relayhost_maps (the sender
 *     address, the same without its extension, then "@domain"; DUNNO
 *     ends the search), else relayhost, else the recipient domain.
 *  4. relocated_maps, whatever the class (last, as Postfix does, so that
 *     transport_maps cannot bypass it): user@domain, user (local domains
 *     only) and @domain, with and then without the address extension; a
 *     match goes to the error transport with "5.1.6 User has moved to
 *     NEW".
 * A next hop "[host]:port" or "[ip]" tells smtp to skip the MX lookup.
 *
 * Domain lists (mydestination, relay_domains, virtual_*_domains) are
 * util/domain_list.h lists: a list named in
 * parent_domain_matches_subdomains also matches the subdomains of a plain
 * domain name (relay_domains by default).
 *
 * Errors: qmgr_resolve returns -1 when a table cannot be read (the
 * recipient is deferred).  Ownership: the resolved VSTRs are the caller's.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "qmgr/qmgr.h"
#include "util/addr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

/* "transport:nexthop" -> both halves (either may come out empty). */
int
qmgr_resolve_split(const char *spec, VSTR *transport, VSTR *nexthop)
{
	const char *colon = strchr(spec, ':');

	if (colon == NULL) {
		vstr_strcpy(transport, spec);
		vstr_reset(nexthop);
		return 0;
	}
	vstr_memcpy(transport, spec, (size_t)(colon - spec));
	vstr_strcpy(nexthop, colon + 1);
	return 0;
}

/* The tables that depend on the sender or override the class. */
static int
qmgr_resolve_init_maps(QMGR *q, VSTR *why)
{
	const char *srm = cfg_get_str(q->cfg,
				      "sender_dependent_relayhost_maps");
	const char *rel = cfg_get_str(q->cfg, "relocated_maps");

	if (strspn(srm, STR_SEP_LIST) != strlen(srm)
	    && (q->sender_relay_maps = dict_list_open(srm, DICT_FLAG_FOLD, why))
		   == NULL)
		return -1;
	if (strspn(rel, STR_SEP_LIST) != strlen(rel)
	    && (q->relocated_maps = dict_list_open(rel, DICT_FLAG_FOLD, why))
		   == NULL)
		return -1;
	return 0;
}

int
qmgr_resolve_init(QMGR *q, VSTR *why)
{
	const char *tm = cfg_get_str(q->cfg, "transport_maps");

	if (*tm
	    && (q->transport_maps = dict_list_open(tm, DICT_FLAG_FOLD, why))
		   == NULL)
		return -1;
	if ((q->mydestination = domain_list_open_param(q->cfg, "mydestination",
						       why))
		== NULL
	    || (q->relay_domains = domain_list_open_param(q->cfg,
							  "relay_domains", why))
		   == NULL
	    || (q->virtual_alias_domains =
		    domain_list_open(cfg_get_str(q->cfg,
						 "virtual_alias_domains"),
				     false, why))
		   == NULL
	    || (q->virtual_mailbox_domains =
		    domain_list_open(cfg_get_str(q->cfg,
						 "virtual_mailbox_domains"),
				     false, why))
		   == NULL)
		return -1;
	q->own_addr = own_addr_open(q->cfg);
	return qmgr_resolve_init_maps(q, why);
}

void
qmgr_resolve_free(QMGR *q)
{
	q->transport_maps = dict_list_close(q->transport_maps);
	q->mydestination = domain_list_free(q->mydestination);
	q->relay_domains = domain_list_free(q->relay_domains);
	q->virtual_alias_domains = domain_list_free(q->virtual_alias_domains);
	q->virtual_mailbox_domains = domain_list_free(
	    q->virtual_mailbox_domains);
	q->sender_relay_maps = dict_list_close(q->sender_relay_maps);
	q->relocated_maps = dict_list_close(q->relocated_maps);
	q->own_addr = own_addr_free(q->own_addr);
}

/*
 * Postfix's mail_addr_find order for addr ("local@domain", lower case):
 * the address, the address without its extension, with by_user the
 * local part (and without extension), then "@domain".  1 found (*val),
 * 0 not, -1 table error.
 */
static int
qmgr_resolve_addr_find(QMGR *q, DICT_LIST *maps, const char *addr, bool by_user,
		       const char **val)
{
	const char *at = strrchr(addr, '@');
	VSTR	   *local = vstr_alloc(64);
	VSTR	   *user = vstr_alloc(64);
	VSTR	   *ext = vstr_alloc(16);
	VSTR	   *key = vstr_alloc(64);
	const char *domain = at ? at + 1 : "";
	int	    rc;

	vstr_memcpy(local, addr, at ? (size_t)(at - addr) : strlen(addr));
	addr_split_ext(VSTR_STR(local),
		       cfg_get_str(q->cfg, "recipient_delimiter"), user, ext);
	if ((rc = dict_list_lookup(maps, addr, val)) != 0)
		goto out;
	if (VSTR_LEN(ext) > 0) {
		vstr_sprintf(key, "%s@%s", VSTR_STR(user), domain);
		if ((rc = dict_list_lookup(maps, VSTR_STR(key), val)) != 0)
			goto out;
	}
	if (by_user) {
		if ((rc = dict_list_lookup(maps, VSTR_STR(local), val)) != 0)
			goto out;
		if (VSTR_LEN(ext) > 0
		    && (rc = dict_list_lookup(maps, VSTR_STR(user), val)) != 0)
			goto out;
	}
	rc = 0;
	if (*domain) {
		vstr_sprintf(key, "@%s", domain);
		rc = dict_list_lookup(maps, VSTR_STR(key), val);
	}
out:
	vstr_free(local);
	vstr_free(user);
	vstr_free(ext);
	vstr_free(key);
	return rc;
}

/*
 * The relay host for mail from sender: sender_dependent_relayhost_maps,
 * else relayhost.  Borrowed result (table or CFG), or NULL on a table
 * error.  DUNNO (or an empty value) keeps relayhost, as in Postfix.
 */
static const char *
qmgr_resolve_relayhost(QMGR *q, const char *sender)
{
	const char *relayhost = cfg_get_str(q->cfg, "relayhost");
	const char *val = NULL;
	VSTR	   *lower;
	int	    rc;

	if (q->sender_relay_maps == NULL || sender == NULL || *sender == 0)
		return relayhost;
	lower = vstr_alloc(64);
	vstr_strcpy(lower, sender);
	vstr_lower(lower);
	rc = qmgr_resolve_addr_find(q, q->sender_relay_maps, VSTR_STR(lower),
				    false, &val);
	vstr_free(lower);
	if (rc < 0)
		return NULL;
	if (rc == 0 || *val == 0 || strcasecmp(val, "DUNNO") == 0)
		return relayhost;
	return val;
}

/* relocated_maps: 1 the recipient moved (res says error 5.1.6), 0, -1. */
static int
qmgr_resolve_relocated(QMGR *q, const char *addr, bool local,
		       struct qmgr_resolved *res)
{
	const char *val;
	int	    rc;

	if (q->relocated_maps == NULL)
		return 0;
	if ((rc = qmgr_resolve_addr_find(q, q->relocated_maps, addr, local,
					 &val))
	    <= 0)
		return rc;
	vstr_strcpy(res->transport, cfg_get_str(q->cfg, "error_service_name"));
	vstr_sprintf(res->nexthop, "5.1.6 User has moved to %s", val);
	return 1;
}

/*
 * Is the (lower case) domain local: mydestination, or an address literal
 * of this host?  Literals are never looked up in mydestination: smtpd
 * accepted "user@[own-ip]" as local, and relaying it would send it back
 * to this host (or to relayhost).  1 local, 0 not, -1 table error.
 */
static int
qmgr_resolve_local(QMGR *q, const char *domain)
{
	if (*domain == 0)
		return 1;
	if (*domain == '[')
		return own_addr_literal(q->own_addr, domain) ? 1 : 0;
	return domain_list_match(q->mydestination, domain);
}

/* transport_maps: 1 found (value in *val), 0 not, -1 table error. */
static int
qmgr_resolve_maps(QMGR *q, const char *addr, const char *domain,
		  const char **val)
{
	const char *cp;
	int	    rc;

	if (q->transport_maps == NULL)
		return 0;
	if ((rc = dict_list_lookup(q->transport_maps, addr, val)) != 0)
		return rc;
	if (*domain) {
		if ((rc = dict_list_lookup(q->transport_maps, domain, val))
		    != 0)
			return rc;
		for (cp = strchr(domain, '.'); cp; cp = strchr(cp + 1, '.'))
			if ((rc = dict_list_lookup(q->transport_maps, cp, val))
			    != 0)
				return rc;
	}
	return dict_list_lookup(q->transport_maps, "*", val);
}

int
qmgr_resolve(QMGR *q, const char *addr, struct qmgr_resolved *res)
{
	return qmgr_resolve_from(q, NULL, addr, res);
}

int
qmgr_resolve_from(QMGR *q, const char *sender, const char *addr,
		  struct qmgr_resolved *res)
{
	const char *at = strrchr(addr, '@');
	VSTR	   *domain = vstr_alloc(64);
	VSTR	   *lower_addr = vstr_alloc(64);
	VSTR	   *mt = NULL, *mn = NULL;
	const char *val;
	const char *relayhost;
	bool	    local = false;
	int	    ret = -1;
	int	    rc;

	vstr_strcpy(domain, at ? at + 1 : "");
	while (VSTR_LEN(domain)
	       && VSTR_STR(domain)[VSTR_LEN(domain) - 1] == '.')
		vstr_truncate(domain, VSTR_LEN(domain) - 1);
	vstr_lower(domain);
	vstr_strcpy(lower_addr, addr);
	vstr_lower(lower_addr);

	/* Class first: transport_maps may keep either half of it. */
	if ((rc = qmgr_resolve_local(q, VSTR_STR(domain))) == 1) {
		local = true;
		qmgr_resolve_split(cfg_get_str(q->cfg, "local_transport"),
				   res->transport, res->nexthop);
		if (VSTR_LEN(res->nexthop) == 0)
			vstr_strcpy(res->nexthop,
				    cfg_get_str(q->cfg, "myhostname"));
	} else if (rc < 0) {
		goto out;
	} else if ((rc = domain_list_match(q->virtual_alias_domains,
					   VSTR_STR(domain)))
		   != 0) {
		if (rc < 0)
			goto out;
		vstr_strcpy(res->transport,
			    cfg_get_str(q->cfg, "error_service_name"));
		vstr_strcpy(res->nexthop, "5.1.1 User unknown in virtual "
					  "alias table");
	} else if ((rc = domain_list_match(q->virtual_mailbox_domains,
					   VSTR_STR(domain)))
		   != 0) {
		if (rc < 0)
			goto out;
		qmgr_resolve_split(cfg_get_str(q->cfg, "virtual_transport"),
				   res->transport, res->nexthop);
		if (VSTR_LEN(res->nexthop) == 0)
			vstr_strcpy(res->nexthop, VSTR_STR(domain));
	} else {
		if ((rc = domain_list_match(q->relay_domains, VSTR_STR(domain)))
		    < 0)
			goto out;
		qmgr_resolve_split(cfg_get_str(q->cfg,
					       rc ? "relay_transport"
						  : "default_transport"),
				   res->transport, res->nexthop);
		if (VSTR_LEN(res->nexthop) == 0) {
			if ((relayhost = qmgr_resolve_relayhost(q, sender))
			    == NULL)
				goto out;
			vstr_strcpy(res->nexthop,
				    *relayhost ? relayhost : VSTR_STR(domain));
		}
	}

	if ((rc = qmgr_resolve_maps(q, VSTR_STR(lower_addr), VSTR_STR(domain),
				    &val))
	    < 0)
		goto out;
	if (rc > 0) {
		mt = vstr_alloc(32);
		mn = vstr_alloc(64);
		qmgr_resolve_split(val, mt, mn);
		if (VSTR_LEN(mt))
			vstr_strcpy(res->transport, VSTR_STR(mt));
		if (VSTR_LEN(mn))
			vstr_strcpy(res->nexthop, VSTR_STR(mn));
	}
	if (VSTR_LEN(res->transport) == 0)
		vstr_strcpy(res->transport,
			    cfg_get_str(q->cfg, "default_transport"));
	if (VSTR_LEN(res->nexthop) == 0)
		vstr_strcpy(res->nexthop, VSTR_STR(domain));
	if (qmgr_resolve_relocated(q, VSTR_STR(lower_addr), local, res) < 0)
		goto out;
	ret = 0;
out:
	vstr_free(mt);
	vstr_free(mn);
	vstr_free(domain);
	vstr_free(lower_addr);
	return ret;
}
