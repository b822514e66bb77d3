/*
 * dict_ldap - ldap: tables, "ldap:/path/to/file.cf" with the parameters
 * of Postfix's ldap_table(5), on OpenLDAP's libldap.
 *
 * A lookup expands query_filter (and search_base) for the key, searches,
 * and joins the values of result_attribute (and, per entry, of
 * leaf_result_attribute / terminal_result_attribute) with ",", each
 * through result_format.  special_result_attribute values are DNs (or
 * LDAP URLs) whose entries are read in turn, up to recursion_limit deep:
 * group expansion.  Substituted key pieces are escaped: RFC 4515 in the
 * filter (dict_query_quote_ldap), RFC 4514 in search_base, so a key
 * cannot change the shape of either.
 *
 * server_host lists LDAP URLs (ldap://, ldaps://, ldapi://) or
 * host[:port] items (port default server_port), tried in order until one
 * answers.  The connection is kept and reused.  When a search on it finds
 * the server gone, the connection is dropped and one new connection is
 * made starting with the next server_host; when no server answers the
 * lookup fails with -1 and errno EAGAIN (a temporary failure, never "not
 * found").  The connection is made lazily at the first lookup, so a
 * table opens while the directory is down; everything libldap reads from
 * files (ldap.conf, tls_ca_cert_file) is read at open, before a daemon's
 * chroot.  Host names are resolved, and ldapi:// sockets reached, when
 * connecting: inside the chroot (proxy:ldap: avoids that).  A group that
 * contains itself is not read again; recursion_limit and a count of
 * searches bound the rest.
 *
 * Errors: open fails with why naming the file and parameter.  Lookups:
 * 1 found (value borrowed until the next call), 0 not found (also when
 * the search base does not exist), -1 with errno and msg_warn naming the
 * table: EAGAIN no server / server gone / timeout, EFBIG size_limit or
 * expansion_limit exceeded, ELOOP recursion_limit exceeded, EIO other
 * LDAP errors.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <ldap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/dict_query.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

/* Postfix's ldap_table(5) defaults. */
#define LDAP_DEF_FILTER	   "(mailacceptinggeneralid=%s)"
#define LDAP_DEF_RESULT	   "maildrop"
#define LDAP_DEF_HOST	   "localhost"
#define LDAP_DEF_PORT	   389
#define LDAP_DEF_TIMEOUT   10
#define LDAP_DEF_VERSION   2
#define LDAP_DEF_RECURSION 1000

#define LDAP_MAX_SERVERS 64 /* server_host items */
/*
 * recursion_limit's ceiling keeps the C stack of dict_ldap_follow small;
 * the search count bounds one lookup however the groups nest.
 */
#define LDAP_MAX_RECURSION 1000
#define LDAP_MAX_SEARCHES  100000
#define LDAP_MAX_ATTRS	   64 /* attribute names over all four lists */
#define LDAP_ALL_FILTER	   "(objectclass=*)"

/*
 * ldap_get_option(LDAP_OPT_X_TLS_CTX) hands back a reference to the TLS
 * context that only libldap's ldap_pvt_tls_ctx_free drops.  libldap
 * exports it but does not install its header (ldap_pvt.h), so it is
 * declared here; weak, so that a libldap without it still links (the
 * context then outlives the table).
 */
extern void ldap_pvt_tls_ctx_free(void *ctx) __attribute__((weak));

/* The four attribute lists, in the order they sit in attrs[]. */
enum ldap_attr_kind {
	LA_TERMINAL,
	LA_RESULT,
	LA_LEAF,
	LA_SPECIAL,
	LA_KINDS,
};

typedef struct DICT_LDAP {
	DICT		       dict;
	struct dict_query_conf qc;
	char		     **servers; /* URLs */
	size_t		       nservers;
	size_t		       next; /* where the next connect starts */
	size_t		       cur;  /* the server ld talks to */
	char		      *search_base;
	int		       scope;
	int		       bind;
	char		      *bind_dn;
	char		      *bind_pw;
	int		       start_tls;
	int		       require_cert;
	int		       version;
	long		       timeout;
	int		       deref;
	int		       chase_referrals;
	long		       recursion_limit;
	long		       size_limit;
	char		      *attrs[LDAP_MAX_ATTRS + 1]; /* NULL-terminated */
	size_t		       nkind[LA_KINDS];
	void		      *tls_ctx; /* our reference */
	LDAP		      *ld;
	VSTR		      *filter;
	VSTR		      *base;
	VSTR		      *result;
	size_t		       count;
	VSTR		      *why;
	const char	     **path;	 /* DNs being expanded, per depth */
	long		       searches; /* in this lookup */
} DICT_LDAP;

/*
 * RFC 4514 escaping for a key piece substituted into search_base: the
 * characters that end or restructure an RDN value, and the leading or
 * trailing ones that would be dropped, become \XX.
 */
static void
dict_ldap_quote_dn(VSTR *out, const char *s, size_t len, void *ctx)
{
	static const char hex[] = "0123456789abcdef";
	size_t		  i;

	(void)ctx;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0 || strchr("\"+,;<>\\=", c) != NULL
		    || ((c == ' ' || c == '#') && i == 0)
		    || (c == ' ' && i == len - 1)) {
			vstr_addch(out, '\\');
			vstr_addch(out, hex[c >> 4]);
			vstr_addch(out, hex[c & 15]);
		} else
			vstr_addch(out, c);
	}
}

/* Split a list on space, tab, newline and comma; calls fn per item. */
static int
dict_ldap_split(const char *list,
		int (*fn)(DICT_LDAP *, const char *, size_t, int, VSTR *),
		DICT_LDAP *dl, int kind, VSTR *why)
{
	const char *p = list;
	size_t	    n;

	for (;;) {
		p += strspn(p, " \t\r\n,");
		if (*p == 0)
			return 0;
		n = strcspn(p, " \t\r\n,");
		if (fn(dl, p, n, kind, why) < 0)
			return -1;
		p += n;
	}
}

/* One server_host item: an LDAP URL, or host[:port]. */
static int
dict_ldap_add_server(DICT_LDAP *dl, const char *item, size_t len, int port,
		     VSTR *why)
{
	char	     *text = mystrndup(item, len);
	VSTR	     *url = vstr_alloc(64);
	const char   *colon;
	LDAPURLDesc  *lud = NULL;
	char	     *end;
	unsigned long p;

	if (dl->nservers >= LDAP_MAX_SERVERS) {
		vstr_sprintf(why, "server_host: more than %d servers",
			     LDAP_MAX_SERVERS);
		goto fail;
	}
	if (strstr(text, "://") != NULL) {
		if (ldap_url_parse(text, &lud) != LDAP_URL_SUCCESS
		    || (strcmp(lud->lud_scheme, "ldap") != 0
			&& strcmp(lud->lud_scheme, "ldaps") != 0
			&& strcmp(lud->lud_scheme, "ldapi") != 0)) {
			vstr_sprintf(why,
				     "server_host: \"%s\" is not an "
				     "ldap://, ldaps:// or ldapi:// URL",
				     text);
			goto fail;
		}
		if (strcmp(lud->lud_scheme, "ldaps") == 0 && dl->start_tls) {
			vstr_sprintf(why,
				     "server_host: \"%s\": start_tls = yes "
				     "with an ldaps:// URL",
				     text);
			goto fail;
		}
		ldap_free_urldesc(lud);
		vstr_strcpy(url, text);
	} else {
		/* host[:port]; a bare IPv6 address needs the URL form. */
		colon = strchr(text, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			vstr_sprintf(why,
				     "server_host: \"%s\": write an IPv6 "
				     "address as ldap://[addr]:port",
				     text);
			goto fail;
		}
		if (colon != NULL) {
			errno = 0;
			p = strtoul(colon + 1, &end, 10);
			if (colon == text || colon[1] == 0 || *end != 0
			    || errno != 0 || p == 0 || p > 65535) {
				vstr_sprintf(why,
					     "server_host: bad host:port "
					     "\"%s\"",
					     text);
				goto fail;
			}
			vstr_sprintf(url, "ldap://%s", text);
		} else
			vstr_sprintf(url, "ldap://%s:%d", text, port);
	}
	dl->servers = myrealloc_array(dl->servers, dl->nservers + 1,
				      sizeof(char *));
	dl->servers[dl->nservers++] = vstr_export(url);
	myfree(text);
	return 0;

fail:
	vstr_free(url);
	myfree(text);
	return -1;
}

static int
dict_ldap_add_attr(DICT_LDAP *dl, const char *item, size_t len, int kind,
		   VSTR *why)
{
	size_t total = 0;
	size_t k;

	for (k = 0; k < LA_KINDS; k++)
		total += dl->nkind[k];
	if (total >= LDAP_MAX_ATTRS) {
		vstr_sprintf(why, "more than %d result attributes",
			     LDAP_MAX_ATTRS);
		return -1;
	}
	/* attrs[] is ordered by kind: later kinds are appended in turn. */
	dl->attrs[total] = mystrndup(item, len);
	dl->nkind[kind]++;
	return 0;
}

/* Index range of kind in attrs[]. */
static void
dict_ldap_range(const DICT_LDAP *dl, int kind, size_t *from, size_t *to)
{
	size_t k;

	*from = 0;
	for (k = 0; k < (size_t)kind; k++)
		*from += dl->nkind[k];
	*to = *from + dl->nkind[kind];
}

static void
dict_ldap_drop(DICT_LDAP *dl)
{
	if (dl->ld != NULL) {
		ldap_unbind_ext_s(dl->ld, NULL, NULL);
		dl->ld = NULL;
	}
}

/* Options every handle gets. 0, or -1 with the failing option in why. */
static int
dict_ldap_options(DICT_LDAP *dl, LDAP *ld, VSTR *why)
{
	struct timeval tv = { .tv_sec = dl->timeout, .tv_usec = 0 };

	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &dl->version)
	    != LDAP_OPT_SUCCESS) {
		vstr_sprintf(why, "cannot set LDAP protocol version %d",
			     dl->version);
		return -1;
	}
	if (ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv)
		!= LDAP_OPT_SUCCESS
	    || ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS
	    || ldap_set_option(ld, LDAP_OPT_DEREF, &dl->deref)
		   != LDAP_OPT_SUCCESS
	    || ldap_set_option(ld, LDAP_OPT_REFERRALS,
			       dl->chase_referrals ? LDAP_OPT_ON : LDAP_OPT_OFF)
		   != LDAP_OPT_SUCCESS
	    /* A broken connection is ours to see, not libldap's to redo. */
	    || ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_OFF)
		   != LDAP_OPT_SUCCESS) {
		vstr_strcpy(why, "cannot set LDAP connection options");
		return -1;
	}
	if (dl->tls_ctx != NULL
	    && (ldap_set_option(ld, LDAP_OPT_X_TLS_CTX, dl->tls_ctx)
		    != LDAP_OPT_SUCCESS
		|| ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT,
				   &dl->require_cert)
		       != LDAP_OPT_SUCCESS)) {
		vstr_strcpy(why, "cannot set the LDAP TLS context");
		return -1;
	}
	return 0;
}

/* Connect, STARTTLS and bind to one server; 0 or -1 with why. */
static int
dict_ldap_connect_one(DICT_LDAP *dl, const char *url, VSTR *why)
{
	struct berval cred;
	LDAP	     *ld = NULL;
	int	      rc;

	if ((rc = ldap_initialize(&ld, url)) != LDAP_SUCCESS) {
		vstr_sprintf(why, "%s", ldap_err2string(rc));
		return -1;
	}
	if (dict_ldap_options(dl, ld, why) < 0)
		goto fail;
	if (dl->start_tls
	    && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		vstr_sprintf(why, "STARTTLS: %s", ldap_err2string(rc));
		goto fail;
	}
	if (dl->bind) {
		cred.bv_val = dl->bind_pw;
		cred.bv_len = strlen(dl->bind_pw);
		rc = ldap_sasl_bind_s(ld, dl->bind_dn, LDAP_SASL_SIMPLE, &cred,
				      NULL, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			vstr_sprintf(why, "bind as \"%s\": %s", dl->bind_dn,
				     ldap_err2string(rc));
			goto fail;
		}
	} else if ((rc = ldap_connect(ld)) != LDAP_SUCCESS) {
		vstr_sprintf(why, "%s", ldap_err2string(rc));
		goto fail;
	}
	dl->ld = ld;
	return 0;

fail:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return -1;
}

/* Connect to the first server that answers, from dl->next on. */
static int
dict_ldap_connect(DICT_LDAP *dl)
{
	size_t i;
	size_t idx;

	for (i = 0; i < dl->nservers; i++) {
		idx = (dl->next + i) % dl->nservers;
		vstr_reset(dl->why);
		if (dict_ldap_connect_one(dl, dl->servers[idx], dl->why) == 0) {
			dl->cur = idx;
			return 0;
		}
		msg_warn("%s: server %s: %s", dict_spec(&dl->dict),
			 dl->servers[idx], VSTR_STR(dl->why));
	}
	msg_warn("%s: no LDAP server answered", dict_spec(&dl->dict));
	errno = EAGAIN;
	return -1;
}

/* The result codes that mean the connection is gone or useless. */
static int
dict_ldap_conn_error(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT
	       || rc == LDAP_CONNECT_ERROR || rc == LDAP_UNAVAILABLE
	       || rc == LDAP_BUSY || rc == LDAP_TIMELIMIT_EXCEEDED;
}

static int dict_ldap_entries(DICT_LDAP *dl, LDAPMessage *res, const char *key,
			     long depth, int *lrc);

/*
 * One search and the expansion of what it found.  0 done, -1 failed
 * (errno set, *lrc the LDAP code when the failure came from the server,
 * LDAP_SUCCESS otherwise).
 */
static int
dict_ldap_search(DICT_LDAP *dl, const char *base, int scope, const char *filter,
		 const char *key, long depth, int *lrc)
{
	struct timeval tv = { .tv_sec = dl->timeout, .tv_usec = 0 };
	LDAPMessage   *res = NULL;
	int	       rc;
	int	       ret;

	*lrc = LDAP_SUCCESS;
	if (++dl->searches > LDAP_MAX_SEARCHES) {
		msg_warn("%s: lookup of \"%s\": more than %d searches",
			 dict_spec(&dl->dict), key, LDAP_MAX_SEARCHES);
		errno = EFBIG;
		return -1;
	}
	rc = ldap_search_ext_s(dl->ld, base, scope, filter, dl->attrs, 0, NULL,
			       NULL, &tv, (int)dl->size_limit, &res);
	/*
	 * LDAPv2 servers report a referral inside the subtree this way; the
	 * entries that came are the answer, as LDAPv3's continuation
	 * references are skipped when referrals are not chased.
	 */
	if (rc == LDAP_PARTIAL_RESULTS)
		rc = LDAP_SUCCESS;
	if (rc == LDAP_NO_SUCH_OBJECT) {
		/* A base that does not exist (ou=%d for another domain, a
		 * group member that was removed) holds nothing. */
		ldap_msgfree(res);
		return 0;
	}
	if (rc == LDAP_SIZELIMIT_EXCEEDED) {
		ldap_msgfree(res);
		msg_warn("%s: search base \"%s\" filter \"%s\": more than "
			 "size_limit=%ld entries",
			 dict_spec(&dl->dict), base, filter, dl->size_limit);
		errno = EFBIG;
		return -1;
	}
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(res);
		*lrc = rc;
		msg_warn("%s: search base \"%s\" filter \"%s\" on %s: %s",
			 dict_spec(&dl->dict), base, filter,
			 dl->servers[dl->cur], ldap_err2string(rc));
		errno = dict_ldap_conn_error(rc) ? EAGAIN : EIO;
		return -1;
	}
	ret = dict_ldap_entries(dl, res, key, depth, lrc);
	ldap_msgfree(res);
	return ret;
}

/* Add the values of attrs[from..to) of entry e; 0 or -1 (errno). */
static int
dict_ldap_values(DICT_LDAP *dl, LDAPMessage *e, const char *key, size_t from,
		 size_t to)
{
	struct berval **vals;
	size_t		i;
	size_t		j;
	int		rc = 0;

	for (i = from; i < to && rc == 0; i++) {
		if ((vals = ldap_get_values_len(dl->ld, e, dl->attrs[i]))
		    == NULL)
			continue;
		for (j = 0; vals[j] != NULL && rc == 0; j++)
			if (dict_query_result(&dl->qc, dl->result, &dl->count,
					      key, vals[j]->bv_val,
					      vals[j]->bv_len)
			    < 0) {
				msg_warn("%s: lookup of \"%s\": more than "
					 "expansion_limit=%ld results",
					 dict_spec(&dl->dict), key,
					 dl->qc.expansion_limit);
				errno = EFBIG;
				rc = -1;
			}
		ldap_value_free_len(vals);
	}
	return rc;
}

/* Whether entry e has a value for any of attrs[from..to). */
static int
dict_ldap_has(DICT_LDAP *dl, LDAPMessage *e, size_t from, size_t to)
{
	struct berval **vals;
	size_t		i;
	int		found = 0;

	for (i = from; i < to && !found; i++)
		if ((vals = ldap_get_values_len(dl->ld, e, dl->attrs[i]))
		    != NULL) {
			found = vals[0] != NULL;
			ldap_value_free_len(vals);
		}
	return found;
}

/* Read the entry a special_result_attribute value names (DN or URL). */
static int
dict_ldap_follow(DICT_LDAP *dl, const struct berval *v, const char *key,
		 long depth, int *lrc)
{
	LDAPURLDesc *lud = NULL;
	char	    *ref = mystrndup(v->bv_val, v->bv_len);
	int	     ret;
	long	     i;

	/* A group that contains itself (through others) is read once. */
	for (i = 0; i <= depth; i++)
		if (strcasecmp(dl->path[i], ref) == 0) {
			msg_warn("%s: lookup of \"%s\": %s contains itself; "
				 "skipped",
				 dict_spec(&dl->dict), key, ref);
			myfree(ref);
			return 0;
		}
	if (depth >= dl->recursion_limit) {
		msg_warn("%s: lookup of \"%s\": %s is deeper than "
			 "recursion_limit=%ld",
			 dict_spec(&dl->dict), key, ref, dl->recursion_limit);
		myfree(ref);
		errno = ELOOP;
		return -1;
	}
	dl->path[depth + 1] = ref;
	if (ldap_is_ldap_url(ref)) {
		/* Only the URL's DN, scope and filter count: the search stays
		 * on this table's connection. */
		if (ldap_url_parse(ref, &lud) != LDAP_URL_SUCCESS) {
			msg_warn("%s: lookup of \"%s\": bad LDAP URL \"%s\"",
				 dict_spec(&dl->dict), key, ref);
			myfree(ref);
			errno = EIO;
			return -1;
		}
		ret = dict_ldap_search(dl, lud->lud_dn ? lud->lud_dn : "",
				       lud->lud_scope == LDAP_SCOPE_DEFAULT
					   ? LDAP_SCOPE_BASE
					   : lud->lud_scope,
				       lud->lud_filter ? lud->lud_filter
						       : LDAP_ALL_FILTER,
				       key, depth + 1, lrc);
		ldap_free_urldesc(lud);
	} else
		ret = dict_ldap_search(dl, ref, LDAP_SCOPE_BASE,
				       LDAP_ALL_FILTER, key, depth + 1, lrc);
	myfree(ref);
	return ret;
}

/*
 * Expand the entries of one search (ldap_table(5)): an entry with a
 * terminal attribute gives those values only; otherwise its
 * result_attribute values, its leaf_result_attribute values when it has
 * no special attribute, and the entries its special attributes name.
 */
static int
dict_ldap_entries(DICT_LDAP *dl, LDAPMessage *res, const char *key, long depth,
		  int *lrc)
{
	LDAPMessage    *e;
	struct berval **vals;
	char	       *dn;
	size_t		from[LA_KINDS];
	size_t		to[LA_KINDS];
	size_t		i;
	size_t		j;
	int		k;
	int		rc = 0;

	for (k = 0; k < LA_KINDS; k++)
		dict_ldap_range(dl, k, &from[k], &to[k]);
	for (e = ldap_first_entry(dl->ld, res); e != NULL && rc == 0;
	     e = ldap_next_entry(dl->ld, e)) {
		if (dl->nkind[LA_TERMINAL] > 0
		    && dict_ldap_has(dl, e, from[LA_TERMINAL],
				     to[LA_TERMINAL])) {
			rc = dict_ldap_values(dl, e, key, from[LA_TERMINAL],
					      to[LA_TERMINAL]);
			continue;
		}
		rc = dict_ldap_values(dl, e, key, from[LA_RESULT],
				      to[LA_RESULT]);
		if (rc == 0
		    && !dict_ldap_has(dl, e, from[LA_SPECIAL], to[LA_SPECIAL]))
			rc = dict_ldap_values(dl, e, key, from[LA_LEAF],
					      to[LA_LEAF]);
		if (rc != 0 || dl->nkind[LA_SPECIAL] == 0)
			continue;
		/* Deeper entries are named by the DN that led to them. */
		dn = depth == 0 ? ldap_get_dn(dl->ld, e) : NULL;
		if (depth == 0)
			dl->path[0] = dn != NULL ? dn : "";
		for (i = from[LA_SPECIAL]; i < to[LA_SPECIAL] && rc == 0; i++) {
			vals = ldap_get_values_len(dl->ld, e, dl->attrs[i]);
			for (j = 0; vals != NULL && vals[j] != NULL && rc == 0;
			     j++)
				rc = dict_ldap_follow(dl, vals[j], key, depth,
						      lrc);
			ldap_value_free_len(vals);
		}
		ldap_memfree(dn);
	}
	return rc;
}

static int
dict_ldap_lookup(DICT *d, const char *key, const char **value)
{
	DICT_LDAP *dl = (DICT_LDAP *)d;
	int	   fresh = 0;
	int	   saved;
	int	   lrc;
	int	   rc;

	/* An empty key names nothing; do not ask for it. */
	if (*key == 0)
		return 0;
	switch (dict_query_domain_ok(&dl->qc, key)) {
	case 0:
		return 0;
	case -1:
		msg_warn("%s: domain table lookup of \"%s\" failed",
			 dict_spec(d), key);
		return -1;
	}
	vstr_reset(dl->filter);
	vstr_reset(dl->base);
	vstr_reset(dl->why);
	/* The templates were checked at open; 0 is "%d of a bare user". */
	if ((rc = dict_query_expand(dl->filter, dl->qc.query, key,
				    dict_query_quote_ldap, NULL, dl->why))
		<= 0
	    || (rc = dict_query_expand(dl->base, dl->search_base, key,
				       dict_ldap_quote_dn, NULL, dl->why))
		   <= 0) {
		if (rc < 0) {
			msg_warn("%s: %s", dict_spec(d), VSTR_STR(dl->why));
			errno = EINVAL;
		}
		return rc;
	}
	for (;;) {
		if (dl->ld == NULL) {
			if (dict_ldap_connect(dl) < 0)
				return -1;
			fresh = 1;
		}
		vstr_reset(dl->result);
		dl->count = 0;
		dl->searches = 0;
		rc = dict_ldap_search(dl, VSTR_STR(dl->base), dl->scope,
				      VSTR_STR(dl->filter), key, 0, &lrc);
		if (rc == 0 || !dict_ldap_conn_error(lrc))
			break;
		/* The server went away: next time start with the next one,
		 * and try that now once if this connection was an old one
		 * (servers close idle connections), so at most twice. */
		saved = errno;
		dict_ldap_drop(dl);
		errno = saved;
		dl->next = (dl->cur + 1) % dl->nservers;
		if (fresh)
			break;
	}
	if (rc < 0)
		return -1;
	if (dl->count == 0)
		return 0;
	*value = VSTR_STR(dl->result);
	return 1;
}

static void
dict_ldap_close(DICT *d)
{
	DICT_LDAP *dl = (DICT_LDAP *)d;
	size_t	   i;

	dict_ldap_drop(dl);
	if (dl->tls_ctx != NULL && ldap_pvt_tls_ctx_free != NULL)
		ldap_pvt_tls_ctx_free(dl->tls_ctx);
	dict_query_conf_free(&dl->qc);
	for (i = 0; i < dl->nservers; i++)
		myfree(dl->servers[i]);
	myfree(dl->servers);
	for (i = 0; dl->attrs[i] != NULL; i++)
		myfree(dl->attrs[i]);
	myfree(dl->search_base);
	myfree(dl->path);
	myfree(dl->bind_dn);
	if (dl->bind_pw != NULL) {
		explicit_bzero(dl->bind_pw, strlen(dl->bind_pw));
		myfree(dl->bind_pw);
	}
	vstr_free(dl->filter);
	vstr_free(dl->base);
	vstr_free(dl->result);
	vstr_free(dl->why);
}

/*
 * A new handle starts without the TLS file settings of ldap.conf
 * (TLS_CACERT, TLS_CACERTDIR, or LDAPTLS_* in the environment); copy them
 * so that an empty tls_ca_cert_file means libldap's usual CAs.  1 or 0.
 */
static int
dict_ldap_tls_default_ca(LDAP *ld)
{
	static const int opts[] = { LDAP_OPT_X_TLS_CACERTFILE,
				    LDAP_OPT_X_TLS_CACERTDIR };
	char		*val;
	int		 ok = 1;
	size_t		 i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]) && ok; i++) {
		val = NULL;
		if (ldap_get_option(NULL, opts[i], &val) != LDAP_OPT_SUCCESS)
			return 0;
		if (val != NULL) {
			ok = ldap_set_option(ld, opts[i], val)
			     == LDAP_OPT_SUCCESS;
			ldap_memfree(val);
		}
	}
	return ok;
}

/*
 * The TLS context for start_tls and ldaps:// servers, made now so that
 * tls_ca_cert_file is read before a chroot; each connection shares it.
 */
static int
dict_ldap_tls_setup(DICT_LDAP *dl, const char *ca_file, VSTR *why)
{
	LDAP  *tmpl = NULL;
	int    need = dl->start_tls;
	int    zero = 0;
	int    ok;
	size_t i;

	for (i = 0; i < dl->nservers; i++)
		if (strncmp(dl->servers[i], "ldaps://", 8) == 0)
			need = 1;
	if (!need) {
		if (*ca_file) {
			vstr_strcpy(why, "tls_ca_cert_file is set but no "
					 "server uses TLS (start_tls = no, "
					 "no ldaps:// URL)");
			return -1;
		}
		return 0;
	}
	/* A handle that only makes the context; we keep a reference. */
	ok = ldap_initialize(&tmpl, NULL) == LDAP_SUCCESS
	     && (*ca_file == 0
		     ? dict_ldap_tls_default_ca(tmpl)
		     : ldap_set_option(tmpl, LDAP_OPT_X_TLS_CACERTFILE, ca_file)
			   == LDAP_OPT_SUCCESS)
	     && ldap_set_option(tmpl, LDAP_OPT_X_TLS_REQUIRE_CERT,
				&dl->require_cert)
		    == LDAP_OPT_SUCCESS
	     && ldap_set_option(tmpl, LDAP_OPT_X_TLS_NEWCTX, &zero)
		    == LDAP_OPT_SUCCESS
	     && ldap_get_option(tmpl, LDAP_OPT_X_TLS_CTX, &dl->tls_ctx)
		    == LDAP_OPT_SUCCESS
	     && dl->tls_ctx != NULL;
	if (tmpl != NULL)
		ldap_unbind_ext_s(tmpl, NULL, NULL);
	if (!ok) {
		vstr_sprintf(why, "cannot set up TLS%s%s",
			     *ca_file ? " with tls_ca_cert_file " : "",
			     ca_file);
		return -1;
	}
	return 0;
}

/* Read the parameters; 0 or -1 with why (without the file name). */
static int
dict_ldap_configure(DICT_LDAP *dl, DICT_CF *cf, VSTR *why)
{
	static const char *const attr_params[LA_KINDS] = {
		[LA_TERMINAL] = "terminal_result_attribute",
		[LA_RESULT] = "result_attribute",
		[LA_LEAF] = "leaf_result_attribute",
		[LA_SPECIAL] = "special_result_attribute",
	};
	const char *s;
	long	    port;
	long	    val;
	int	    k;
	VSTR	   *probe;
	int	    rc;

	if (dict_query_conf_read(cf, "query_filter", LDAP_DEF_FILTER, &dl->qc,
				 why)
	    < 0)
		return -1;
	if (dict_cf_bool(cf, "start_tls", 0, &dl->start_tls, why) < 0
	    || dict_cf_bool(cf, "tls_require_cert", 0, &dl->require_cert, why)
		   < 0
	    || dict_cf_int(cf, "server_port", LDAP_DEF_PORT, 1, 65535, &port,
			   why)
		   < 0
	    || dict_cf_int(cf, "version", LDAP_DEF_VERSION, 2, 3, &val, why)
		   < 0)
		return -1;
	dl->version = (int)val;
	dl->require_cert = dl->require_cert ? LDAP_OPT_X_TLS_HARD
					    : LDAP_OPT_X_TLS_NEVER;
	if (dl->start_tls && dl->version < 3) {
		vstr_strcpy(why, "start_tls = yes needs version = 3");
		return -1;
	}
	s = dict_cf_str(cf, "server_host", LDAP_DEF_HOST);
	if (dict_ldap_split(s, dict_ldap_add_server, dl, (int)port, why) < 0)
		return -1;
	if (dl->nservers == 0) {
		vstr_strcpy(why, "server_host is empty");
		return -1;
	}
	dl->search_base = mystrdup(dict_cf_str(cf, "search_base", ""));
	s = dict_cf_str(cf, "scope", "sub");
	if (strcmp(s, "sub") == 0)
		dl->scope = LDAP_SCOPE_SUBTREE;
	else if (strcmp(s, "one") == 0)
		dl->scope = LDAP_SCOPE_ONELEVEL;
	else if (strcmp(s, "base") == 0)
		dl->scope = LDAP_SCOPE_BASE;
	else {
		vstr_sprintf(why, "scope = \"%s\": expected sub, one or base",
			     s);
		return -1;
	}
	s = dict_cf_str(cf, "bind", "yes");
	if (strcasecmp(s, "sasl") == 0) {
		vstr_strcpy(why, "bind = sasl is not supported (use bind = "
				 "yes with bind_dn and bind_pw, or bind = no)");
		return -1;
	}
	if (dict_cf_bool(cf, "bind", 1, &dl->bind, why) < 0)
		return -1;
	dl->bind_dn = mystrdup(dict_cf_str(cf, "bind_dn", ""));
	dl->bind_pw = mystrdup(dict_cf_str(cf, "bind_pw", ""));
	if (dict_cf_int(cf, "timeout", LDAP_DEF_TIMEOUT, 1, 3600, &dl->timeout,
			why)
		< 0
	    || dict_cf_int(cf, "dereference", 0, 0, 3, &val, why) < 0)
		return -1;
	/* Postfix's 0..3 are libldap's LDAP_DEREF_NEVER..ALWAYS. */
	dl->deref = (int)val;
	if (dict_cf_bool(cf, "chase_referrals", 0, &dl->chase_referrals, why)
		< 0
	    || dict_cf_int(cf, "recursion_limit", LDAP_DEF_RECURSION, 1,
			   LDAP_MAX_RECURSION, &dl->recursion_limit, why)
		   < 0
	    || dict_cf_int(cf, "size_limit", dl->qc.expansion_limit, 0, 1000000,
			   &dl->size_limit, why)
		   < 0)
		return -1;
	for (k = 0; k < LA_KINDS; k++) {
		s = dict_cf_str(cf, attr_params[k],
				k == LA_RESULT ? LDAP_DEF_RESULT : "");
		if (dict_ldap_split(s, dict_ldap_add_attr, dl, k, why) < 0)
			return -1;
	}
	if (dl->nkind[LA_TERMINAL] + dl->nkind[LA_RESULT] + dl->nkind[LA_LEAF]
	    == 0) {
		vstr_strcpy(why, "result_attribute, leaf_result_attribute and "
				 "terminal_result_attribute are all empty");
		return -1;
	}
	dl->path = mycalloc((size_t)dl->recursion_limit + 2, sizeof(char *));
	if (dict_ldap_tls_setup(dl, dict_cf_str(cf, "tls_ca_cert_file", ""),
				why)
	    < 0)
		return -1;
	if (dict_cf_check_unused(cf, why) < 0)
		return -1;
	/* A bad % sequence in search_base fails now, not at each lookup. */
	probe = vstr_alloc(64);
	rc = dict_query_expand(probe, dl->search_base, "user@example.com",
			       dict_ldap_quote_dn, NULL, why);
	vstr_free(probe);
	if (rc < 0)
		return -1;
	return 0;
}

DICT *
dict_ldap_open(const char *name, int flags, VSTR *why)
{
	DICT_LDAP *dl;
	DICT_CF	  *cf;
	VSTR	  *tmp;
	int	   saved;

	if ((cf = dict_cf_read(name, why)) == NULL)
		return NULL;
	/* libldap reads ldap.conf at its first use: make that now, before a
	 * daemon's chroot hides the file. */
	(void)ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &saved);
	dl = (DICT_LDAP *)dict_alloc(sizeof(*dl), "ldap", name, flags);
	dl->filter = vstr_alloc(128);
	dl->base = vstr_alloc(128);
	dl->result = vstr_alloc(128);
	dl->why = vstr_alloc(128);
	dl->dict.lookup = dict_ldap_lookup;
	dl->dict.close = dict_ldap_close;
	tmp = vstr_alloc(128);
	if (dict_ldap_configure(dl, cf, tmp) < 0) {
		saved = errno;
		/* dict_cf's own messages already name the file. */
		if (strncmp(VSTR_STR(tmp), name, strlen(name)) == 0)
			vstr_strcpy(why, VSTR_STR(tmp));
		else
			vstr_sprintf(why, "%s: %s", name, VSTR_STR(tmp));
		vstr_free(tmp);
		dict_cf_free(cf);
		dict_close(&dl->dict);
		errno = saved == ENOENT ? ENOENT : EINVAL;
		return NULL;
	}
	vstr_free(tmp);
	dict_cf_free(cf);
	return &dl->dict;
}
