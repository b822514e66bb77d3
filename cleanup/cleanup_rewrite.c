/*
 * cleanup_rewrite - address rewriting: qualification, canonical maps,
 * masquerading and virtual alias expansion.
 *
 * Order, as in Postfix: an address without a domain has its bang path
 * or percent hack turned into a domain (cleanup_route.c), else gets @$myorigin
 * (append_at_myorigin), a domain without a dot gets .$mydomain
 * (append_dot_mydomain, off by default as in Postfix 3); then the
 * sender_/recipient_canonical_maps and canonical_maps, each for the address
 * classes its *_canonical_classes names (each table looked up with the full
 * address, then user@domain without the address extension
 * (recipient_delimiter), then the bare user+ext and user for local domains,
 * then @domain; one pass, no recursion); then masquerade_domains for senders
 * and header addresses.  Virtual alias expansion runs last, on envelope
 * recipients only, recursively with loop and size limits.  When a table matched
 * only without the extension, the extension is put back into the result's local
 * part if propagate_unmatched_extensions names the table's class (canonical or
 * virtual), as in Postfix.
 *
 * Errors: 0, or -1 when a table could not be read (the caller defers the
 * message).  cleanup_virtual adds -2 for a loop or an exceeded limit,
 * with the reason in why.
 *
 * Ownership: results are written into caller VSTRs; cleanup_virtual's
 * array and strings are the caller's (cleanup_argv_free).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <strings.h>

#include "cleanup/cleanup.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

/* Is domain one of the plain names in a Postfix list (tables skipped)? */
bool
cleanup_domain_in_list(const char *domain, const char *list)
{
	const char *cp = list;
	size_t	    len, dlen = strlen(domain);

	while (cp && *cp) {
		cp += strspn(cp, STR_SEP_LIST);
		len = strcspn(cp, STR_SEP_LIST);
		if (len == 0)
			break;
		if (len == dlen && memchr(cp, ':', len) == NULL
		    && strncasecmp(cp, domain, len) == 0)
			return true;
		cp += len;
	}
	return false;
}

static bool
cleanup_local_domain(const CLEANUP_CONF *conf, const char *domain)
{
	return strcasecmp(domain, conf->myorigin) == 0
	       || cleanup_domain_in_list(domain, conf->mydestination);
}

/* Qualify addr in place per append_at_myorigin / append_dot_mydomain. */
static void
cleanup_qualify(const CLEANUP_CONF *conf, VSTR *addr)
{
	const char *at;

	if (VSTR_LEN(addr) == 0)
		return;
	/* site!user and user%domain first, as Postfix's rewrite_tree */
	(void)cleanup_route_unqualified(conf, addr);
	at = strrchr(VSTR_STR(addr), '@');
	if (at == NULL) {
		if (conf->append_at_myorigin && *conf->myorigin) {
			vstr_addch(addr, '@');
			vstr_strcat(addr, conf->myorigin);
		}
		return;
	}
	if (conf->append_dot_mydomain && *conf->mydomain && at[1] != 0
	    && at[1] != '[' && strchr(at + 1, '.') == NULL) {
		vstr_addch(addr, '.');
		vstr_strcat(addr, conf->mydomain);
	}
}

/*
 * Where the address extension of addr starts (at its delimiter
 * character), 0 when it has none.  "owner-x" and "x-request" and a
 * leading delimiter are never split.
 */
static size_t
cleanup_ext_offset(const CLEANUP_CONF *conf, const char *addr, size_t llen)
{
	size_t i;

	if (conf->recipient_delimiter == NULL || *conf->recipient_delimiter == 0
	    || llen < 2 || strncasecmp(addr, "owner-", 6) == 0
	    || (llen > 8 && strncasecmp(addr + llen - 8, "-request", 8) == 0))
		return 0;
	for (i = 1; i < llen; i++)
		if (strchr(conf->recipient_delimiter, addr[i]))
			return i;
	return 0;
}

/*
 * Look addr up in maps: full address, user@domain without the extension,
 * then for local domains user+ext and user, then @domain.  1 with the
 * raw table value in *value (and in ext the "+ext" that the match left
 * out, when ext is not NULL), 0 no match, -1 error.
 */
int
cleanup_map_lookup(const CLEANUP_CONF *conf, DICT_LIST *maps, const char *addr,
		   const char **value, VSTR *ext)
{
	const char *at = strrchr(addr, '@');
	VSTR	   *key;
	size_t	    xoff;
	int	    ret;

	if (ext)
		vstr_reset(ext);
	if ((ret = dict_list_lookup(maps, addr, value)) != 0 || at == NULL)
		return ret;
	key = vstr_alloc(64);
	xoff = cleanup_ext_offset(conf, addr, (size_t)(at - addr));
	if (xoff) {
		vstr_memcpy(key, addr, xoff);
		vstr_strcat(key, at);
		if ((ret = dict_list_lookup(maps, VSTR_STR(key), value)) == 1
		    && ext)
			vstr_memcpy(ext, addr + xoff,
				    (size_t)(at - addr) - xoff);
	}
	if (ret == 0 && cleanup_local_domain(conf, at + 1)) {
		vstr_memcpy(key, addr, (size_t)(at - addr));
		ret = dict_list_lookup(maps, VSTR_STR(key), value);
		if (ret == 0 && xoff) {
			vstr_memcpy(key, addr, xoff);
			if ((ret = dict_list_lookup(maps, VSTR_STR(key), value))
				== 1
			    && ext)
				vstr_memcpy(ext, addr + xoff,
					    (size_t)(at - addr) - xoff);
		}
	}
	if (ret == 0) {
		vstr_strcpy(key, at);
		ret = dict_list_lookup(maps, VSTR_STR(key), value);
	}
	vstr_free(key);
	return ret;
}

/*
 * Turn one table result item for addr into an address in out: "@domain"
 * keeps the local part, anything without a domain is qualified.
 */
static void
cleanup_map_result(const CLEANUP_CONF *conf, const char *addr, const char *item,
		   size_t len, const VSTR *ext, VSTR *out)
{
	const char *at = strrchr(addr, '@');

	if (item[0] == '@') {
		vstr_memcpy(out, addr, at ? (size_t)(at - addr) : strlen(addr));
		vstr_memcat(out, item, len);
	} else {
		vstr_memcpy(out, item, len);
	}
	cleanup_qualify(conf, out);
	/* propagate_unmatched_extensions: user@x -> user+ext@x. */
	if (item[0] != '@' && ext && VSTR_LEN(ext)) {
		const char *oat = strrchr(VSTR_STR(out), '@');
		size_t	    llen = oat ? (size_t)(oat - VSTR_STR(out))
				       : VSTR_LEN(out);
		VSTR	   *tmp = vstr_alloc(VSTR_LEN(out) + VSTR_LEN(ext) + 1);

		vstr_memcpy(tmp, VSTR_STR(out), llen);
		vstr_memcat(tmp, VSTR_STR(ext), VSTR_LEN(ext));
		vstr_strcat(tmp, VSTR_STR(out) + llen);
		vstr_memcpy(out, VSTR_STR(tmp), VSTR_LEN(tmp));
		vstr_free(tmp);
	}
}

/* Rewrite addr in place through maps (first item of the result). */
static int
cleanup_map_addr(const CLEANUP_CONF *conf, DICT_LIST *maps, VSTR *addr,
		 VSTR *tmp)
{
	const char *value;
	VSTR	   *ext;
	int	    ret;

	if (maps == NULL || VSTR_LEN(addr) == 0)
		return 0;
	ext = vstr_alloc(16);
	if ((ret = cleanup_map_lookup(conf, maps, VSTR_STR(addr), &value, ext))
	    != 1)
		goto out;
	value += strspn(value, STR_SEP_LIST);
	if (*value == 0) {
		ret = 0;
		goto out;
	}
	cleanup_map_result(conf, VSTR_STR(addr), value,
			   strcspn(value, STR_SEP_LIST),
			   conf->propagate & CLEANUP_PROPAGATE_CANONICAL ? ext
									 : NULL,
			   tmp);
	vstr_memcpy(addr, VSTR_STR(tmp), VSTR_LEN(tmp));
out:
	vstr_free(ext);
	return ret;
}

int
cleanup_masquerade(const CLEANUP_CONF *conf, VSTR *addr)
{
	const char *cp = conf->masquerade_domains, *at, *domain;
	size_t	    len, dlen, local_len;
	bool	    negate;
	VSTR	   *tmp;

	if (cp == NULL || *cp == 0
	    || (at = strrchr(VSTR_STR(addr), '@')) == NULL)
		return 0;
	domain = at + 1;
	dlen = strlen(domain);
	local_len = (size_t)(at - VSTR_STR(addr));
	tmp = vstr_alloc(64);
	vstr_memcpy(tmp, VSTR_STR(addr), local_len);
	if (cleanup_domain_in_list(VSTR_STR(tmp),
				   conf->masquerade_exceptions)) {
		vstr_free(tmp);
		return 0;
	}
	while (*cp) {
		cp += strspn(cp, STR_SEP_LIST);
		len = strcspn(cp, STR_SEP_LIST);
		if (len == 0)
			break;
		negate = cp[0] == '!';
		if (negate) {
			cp++;
			len--;
		}
		if (len > 0 && dlen >= len
		    && strncasecmp(domain + dlen - len, cp, len) == 0
		    && (dlen == len || domain[dlen - len - 1] == '.')) {
			if (!negate && dlen > len) {
				vstr_addch(tmp, '@');
				vstr_memcat(tmp, cp, len);
				vstr_memcpy(addr, VSTR_STR(tmp), VSTR_LEN(tmp));
			}
			break;
		}
		cp += len;
	}
	vstr_free(tmp);
	return 0;
}

static const struct {
	const char *name;
	int	    bit;
} cleanup_classes[] = {
	{ "envelope_sender", CLEANUP_CLASS_ENV_SENDER },
	{ "envelope_recipient", CLEANUP_CLASS_ENV_RCPT },
	{ "header_sender", CLEANUP_CLASS_HDR_SENDER },
	{ "header_recipient", CLEANUP_CLASS_HDR_RCPT },
};

/* A *_canonical_classes value: 0 and the bits, or -1 + why. */
int
cleanup_parse_classes(const char *value, int *mask, VSTR *why)
{
	const char *cp = value;
	size_t	    len, i;

	*mask = 0;
	while (cp && *cp) {
		cp += strspn(cp, STR_SEP_LIST);
		if ((len = strcspn(cp, STR_SEP_LIST)) == 0)
			break;
		for (i = 0;
		     i < sizeof(cleanup_classes) / sizeof(cleanup_classes[0]);
		     i++)
			if (strlen(cleanup_classes[i].name) == len
			    && strncasecmp(cp, cleanup_classes[i].name, len)
				   == 0)
				break;
		if (i == sizeof(cleanup_classes) / sizeof(cleanup_classes[0])) {
			vstr_sprintf(why, "unknown address class \"%.*s\"",
				     (int)(len > 100 ? 100 : len), cp);
			return -1;
		}
		*mask |= cleanup_classes[i].bit;
		cp += len;
	}
	return 0;
}

int
cleanup_rewrite(const CLEANUP_CONF *conf, const char *addr, int how, VSTR *out)
{
	VSTR	  *tmp;
	DICT_LIST *first = NULL;
	int	   ret = 0, cls;

	vstr_strcpy(out, addr);
	if (VSTR_LEN(out) == 0)
		return 0;
	cleanup_qualify(conf, out);
	tmp = vstr_alloc(64);
	if (how & CLEANUP_REWRITE_SENDER) {
		cls = (how & CLEANUP_REWRITE_HEADER) ? CLEANUP_CLASS_HDR_SENDER
						     : CLEANUP_CLASS_ENV_SENDER;
		if (conf->sender_canonical_classes & cls)
			first = conf->sender_canonical;
	} else {
		cls = (how & CLEANUP_REWRITE_HEADER) ? CLEANUP_CLASS_HDR_RCPT
						     : CLEANUP_CLASS_ENV_RCPT;
		if (conf->recipient_canonical_classes & cls)
			first = conf->recipient_canonical;
	}
	if (cleanup_map_addr(conf, first, out, tmp) < 0
	    || ((conf->canonical_classes & cls)
		&& cleanup_map_addr(conf, conf->canonical, out, tmp) < 0))
		ret = -1;
	vstr_free(tmp);
	if (ret == 0
	    && (how & (CLEANUP_REWRITE_SENDER | CLEANUP_REWRITE_HEADER)))
		cleanup_masquerade(conf, out);
	return ret;
}

void
cleanup_argv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		myfree(v[i]);
	myfree(v);
}

struct cleanup_node {
	char	 *addr;
	size_t	  parent; /* index, or (size_t)-1 */
	long long depth;
};

static bool
cleanup_in_chain(const struct cleanup_node *nodes, size_t i, const char *addr)
{
	for (; i != (size_t)-1; i = nodes[i].parent)
		if (strcasecmp(nodes[i].addr, addr) == 0)
			return true;
	return false;
}

static void
cleanup_push(char ***v, size_t *n, size_t *cap, const char *addr)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcasecmp((*v)[i], addr) == 0)
			return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*v = myrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = mystrdup(addr);
}

/*
 * Expand addr through virtual_alias_maps.  Nodes are processed in order
 * (breadth first); a result equal to its own key ends that branch, as in
 * Postfix, and a result equal to an ancestor is a loop.
 */
int
cleanup_virtual(const CLEANUP_CONF *conf, const char *addr, char ***out,
		size_t *count, VSTR *why)
{
	struct cleanup_node *nodes = NULL;
	size_t		     nnodes = 0, ncap = 0, i, cap = 0, len;
	VSTR		    *tmp = vstr_alloc(64), *ext = vstr_alloc(16);
	const char	    *value, *cp;
	char		    *copy;
	int		     ret = 0, found;

	*out = NULL;
	*count = 0;
	if (conf->virtual_alias == NULL) {
		cleanup_push(out, count, &cap, addr);
		goto done;
	}
	nodes = mymalloc(sizeof(*nodes) * (ncap = 16));
	nodes[nnodes++] = (struct cleanup_node){ mystrdup(addr), (size_t)-1,
						 0 };
	for (i = 0; i < nnodes && ret == 0; i++) {
		if ((found = cleanup_map_lookup(conf, conf->virtual_alias,
						nodes[i].addr, &value, ext))
		    < 0) {
			vstr_sprintf(why, "virtual_alias_maps lookup failure");
			ret = -1;
			break;
		}
		if (found == 0) {
			cleanup_push(out, count, &cap, nodes[i].addr);
			continue;
		}
		copy = mystrdup(value);
		for (cp = copy; *cp && ret == 0; cp += len) {
			cp += strspn(cp, STR_SEP_LIST);
			if ((len = strcspn(cp, STR_SEP_LIST)) == 0)
				break;
			cleanup_map_result(conf, nodes[i].addr, cp, len,
					   conf->propagate
						   & CLEANUP_PROPAGATE_VIRTUAL
					       ? ext
					       : NULL,
					   tmp);
			if (strcasecmp(VSTR_STR(tmp), nodes[i].addr) == 0) {
				cleanup_push(out, count, &cap, VSTR_STR(tmp));
				continue;
			}
			if (cleanup_in_chain(nodes, i, VSTR_STR(tmp))) {
				vstr_sprintf(why, "virtual alias loop for %s",
					     addr);
				ret = -2;
			} else if (nodes[i].depth + 1
				   > conf->virtual_alias_recursion_limit) {
				vstr_sprintf(why,
					     "virtual alias recursion "
					     "limit exceeded for %s",
					     addr);
				ret = -2;
			} else if ((long long)(nnodes - i + *count)
				   > conf->virtual_alias_expansion_limit) {
				vstr_sprintf(why,
					     "virtual alias expansion "
					     "limit exceeded for %s",
					     addr);
				ret = -2;
			} else {
				if (nnodes == ncap)
					nodes = myrealloc(nodes,
							  sizeof(*nodes)
							      * (ncap *= 2));
				nodes[nnodes++] = (struct cleanup_node){
					mystrdup(VSTR_STR(tmp)), i,
					nodes[i].depth + 1
				};
			}
		}
		myfree(copy);
	}
	if (ret == 0
	    && (long long)*count > conf->virtual_alias_expansion_limit) {
		vstr_sprintf(why,
			     "virtual alias expansion limit exceeded "
			     "for %s",
			     addr);
		ret = -2;
	}
done:
	for (i = 0; i < nnodes; i++)
		myfree(nodes[i].addr);
	myfree(nodes);
	vstr_free(tmp);
	vstr_free(ext);
	if (ret < 0) {
		cleanup_argv_free(*out, *count);
		*out = NULL;
		*count = 0;
	}
	return ret;
}
