/*
 * smtp_generic - smtp_generic_maps: address mapping on output, as
 * Postfix's generic(5).
 *
 * The envelope sender, each envelope recipient and the addresses in the
 * message's address header fields (util/header_addrs.h) are looked up,
 * Postfix's order: user@domain (then without the address extension),
 * user (then without the extension) when the domain is this host's
 * ($myorigin, a name in $mydestination, or an [address] of
 * $inet_interfaces or $proxy_interfaces), then @domain.  A result
 * "@other" keeps the local part; any other result replaces the address.
 * The null sender is never mapped.
 *
 * Errors: a table that cannot be opened is fatal at start-up; a lookup
 * that fails returns -1 (the delivery is deferred).
 *
 * Ownership: the tables belong to SMTP_STATE (smtp_generic_free).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <strings.h>

#include "smtp/smtp.h"
#include "util/addr.h"
#include "util/dict.h"
#include "util/header_addrs.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

struct smtp_generic {
	DICT_LIST  *maps;
	const char *delims; /* recipient_delimiter */
	const char *myorigin;
	const char *mydestination;
	const char *interfaces; /* inet_interfaces proxy_interfaces */
	VSTR	   *ifaces;
};

/* The name of an smtp_X parameter for this client (smtp_param.c). */
#define P(name) smtp_param(st->conf.lmtp, (name))

void
smtp_generic_init(SMTP_STATE *st, const CFG *cfg)
{
	const char	    *text = cfg_get_str(cfg, P("smtp_generic_maps"));
	struct smtp_generic *g;
	VSTR		    *why;

	if (strspn(text, STR_SEP_LIST) == strlen(text))
		return;
	g = mycalloc(1, sizeof(*g));
	why = vstr_alloc(64);
	if ((g->maps = dict_list_open(text, DICT_FLAG_FOLD, why)) == NULL)
		msg_fatal_status(78, "%s: %s", P("smtp_generic_maps"),
				 VSTR_STR(why));
	vstr_free(why);
	g->delims = cfg_get_str(cfg, "recipient_delimiter");
	g->myorigin = cfg_get_str(cfg, "myorigin");
	g->mydestination = cfg_get_str(cfg, "mydestination");
	g->ifaces = vstr_alloc(64);
	vstr_sprintf(g->ifaces, "%s %s", cfg_get_str(cfg, "inet_interfaces"),
		     cfg_get_str(cfg, "proxy_interfaces"));
	g->interfaces = VSTR_STR(g->ifaces);
	st->generic = g;
}

void
smtp_generic_free(SMTP_STATE *st)
{
	struct smtp_generic *g = st->generic;

	if (g == NULL)
		return;
	dict_list_close(g->maps);
	vstr_free(g->ifaces);
	myfree(g);
	st->generic = NULL;
}

static bool
smtp_generic_listed(const char *list, const char *word, size_t len)
{
	char *copy = mystrdup(list);
	char *cp = copy;
	char *tok;
	bool  found = false;

	while (!found && (tok = str_token(&cp, STR_SEP_LIST)) != NULL)
		found = strlen(tok) == len && strncasecmp(tok, word, len) == 0;
	myfree(copy);
	return found;
}

/* Is domain this host's, for the bare "user" lookup? */
static bool
smtp_generic_local(const struct smtp_generic *g, const char *domain)
{
	size_t len = strlen(domain);

	if (strcasecmp(domain, g->myorigin) == 0
	    || smtp_generic_listed(g->mydestination, domain, len))
		return true;
	if (len > 2 && domain[0] == '[' && domain[len - 1] == ']')
		return smtp_generic_listed(g->interfaces, domain + 1, len - 2);
	return false;
}

int
smtp_generic_addr(SMTP_STATE *st, const char *addr, VSTR *out)
{
	struct smtp_generic *g = st->generic;
	const char	    *at;
	const char	    *domain;
	const char	    *val = NULL;
	VSTR		    *local, *user, *ext, *key;
	int		     rc;

	if (g == NULL || *addr == 0)
		return 0;
	at = strrchr(addr, '@');
	domain = at ? at + 1 : "";
	local = vstr_alloc(64);
	user = vstr_alloc(64);
	ext = vstr_alloc(16);
	key = vstr_alloc(64);
	vstr_memcpy(local, addr, at ? (size_t)(at - addr) : strlen(addr));
	addr_split_ext(VSTR_STR(local), g->delims, user, ext);
	if ((rc = dict_list_lookup(g->maps, addr, &val)) != 0)
		goto done;
	if (VSTR_LEN(ext) > 0 && at) {
		vstr_sprintf(key, "%s@%s", VSTR_STR(user), domain);
		if ((rc = dict_list_lookup(g->maps, VSTR_STR(key), &val)) != 0)
			goto done;
	}
	if (at == NULL || smtp_generic_local(g, domain)) {
		if ((rc = dict_list_lookup(g->maps, VSTR_STR(local), &val))
		    != 0)
			goto done;
		if (VSTR_LEN(ext) > 0
		    && (rc = dict_list_lookup(g->maps, VSTR_STR(user), &val))
			   != 0)
			goto done;
	}
	if (at) {
		vstr_sprintf(key, "@%s", domain);
		rc = dict_list_lookup(g->maps, VSTR_STR(key), &val);
	}
done:
	if (rc > 0) {
		vstr_reset(out);
		if (*val == '@')
			vstr_strcat(out, VSTR_STR(local));
		vstr_strcat(out, val);
	}
	vstr_free(local);
	vstr_free(user);
	vstr_free(ext);
	vstr_free(key);
	return rc < 0 ? -1 : rc > 0;
}

static int
smtp_generic_header_fn(void *ctx, const char *addr, VSTR *out)
{
	return smtp_generic_addr(ctx, addr, out);
}

/*
 * Rewrite the address fields of a complete header section in hdr (CRLF
 * lines, without the empty line).  0, or -1 on a table error.
 */
int
smtp_generic_header(SMTP_STATE *st, VSTR *hdr)
{
	VSTR	   *out = vstr_alloc(VSTR_LEN(hdr) + 256);
	VSTR	   *field = vstr_alloc(256);
	const char *p = VSTR_STR(hdr);
	const char *end = p + VSTR_LEN(hdr);
	int	    ret = 0;

	while (p < end) {
		const char *q = p;
		const char *colon;
		size_t	    flen;

		/* One logical field: its line and the continuation lines. */
		do {
			const char *nl = memchr(q, '\n', (size_t)(end - q));

			q = nl ? nl + 1 : end;
		} while (q < end && (*q == ' ' || *q == '\t'));
		flen = (size_t)(q - p);
		if (flen >= 2 && p[flen - 2] == '\r' && p[flen - 1] == '\n')
			flen -= 2;
		colon = memchr(p, ':', flen);
		if (colon && colon > p
		    && header_addrs_field(p, (size_t)(colon - p))) {
			vstr_memcpy(field, p, flen);
			if (header_addrs_rewrite(field, (size_t)(colon - p),
						 smtp_generic_header_fn, st)
			    < 0) {
				ret = -1;
				break;
			}
			vstr_memcat(out, VSTR_STR(field), VSTR_LEN(field));
			vstr_memcat(out, p + flen, (size_t)(q - p) - flen);
		} else {
			vstr_memcat(out, p, (size_t)(q - p));
		}
		p = q;
	}
	if (ret == 0)
		vstr_memcpy(hdr, VSTR_STR(out), VSTR_LEN(out));
	vstr_free(out);
	vstr_free(field);
	return ret;
}
