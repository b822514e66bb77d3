/*
 * smtpd_check - the restriction engine: restriction lists, access maps,
 * evaluation.  Address classes live in smtpd_check_addr.c, DNS-based
 * restrictions in smtpd_check_dns.c.
 *
 * smtpd_check_create() compiles every restriction list into an array of
 * restrictions and opens each table once (a cache keyed by the spec), so
 * the lookups after the chroot touch only open tables.  Evaluation follows
 * Postfix: a list stops at the first permit or reject; with
 * smtpd_delay_reject the client, HELO and sender lists run at RCPT time;
 * at RCPT the relay list runs first, then the recipient list, and a
 * recipient passes only if neither rejects; smtpd_reject_unlisted_recipient
 * then applies unless a list rejected.
 *
 * Errors: create returns NULL with why; a table that fails during a lookup
 * turns the answer into "451 4.3.0 Server configuration error" (never "not
 * found").  Peer text is made printable before it goes into a reply.
 *
 * Ownership: see smtpd_check.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smtpd/smtpd_check.h"
#include "smtpd/smtpd_check_priv.h"
#include "util/addr.h"
#include "util/dict.h"
#include "util/dns.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/receive_override.h"
#include "util/strutil.h"
#include "util/vstr.h"

/* How many words a restriction takes: 0 or 1 (table or zone). */
static const struct restr_name {
	const char     *name;
	enum restr_kind kind;
	int		args;
} restr_names[] = {
	{ "permit", R_PERMIT, 0 },
	{ "ok", R_PERMIT, 0 },
	{ "reject", R_REJECT, 0 },
	{ "defer", R_DEFER, 0 },
	{ "permit_mynetworks", R_PERMIT_MYNETWORKS, 0 },
	{ "permit_sasl_authenticated", R_PERMIT_SASL, 0 },
	{ "permit_auth_destination", R_PERMIT_AUTH_DEST, 0 },
	{ "reject_unauth_destination", R_REJECT_UNAUTH_DEST, 0 },
	{ "defer_unauth_destination", R_DEFER_UNAUTH_DEST, 0 },
	{ "check_client_access", R_CHECK_CLIENT, 1 },
	{ "check_helo_access", R_CHECK_HELO, 1 },
	{ "check_sender_access", R_CHECK_SENDER, 1 },
	{ "check_recipient_access", R_CHECK_RCPT, 1 },
	{ "reject_non_fqdn_helo_hostname", R_NONFQDN_HELO, 0 },
	{ "reject_non_fqdn_hostname", R_NONFQDN_HELO, 0 },
	{ "reject_invalid_helo_hostname", R_INVALID_HELO, 0 },
	{ "reject_invalid_hostname", R_INVALID_HELO, 0 },
	{ "reject_unknown_helo_hostname", R_UNKNOWN_HELO, 0 },
	{ "reject_unknown_hostname", R_UNKNOWN_HELO, 0 },
	{ "reject_non_fqdn_sender", R_NONFQDN_SENDER, 0 },
	{ "reject_non_fqdn_recipient", R_NONFQDN_RCPT, 0 },
	{ "reject_unknown_sender_domain", R_UNKNOWN_SENDER_DOMAIN, 0 },
	{ "reject_unknown_recipient_domain", R_UNKNOWN_RCPT_DOMAIN, 0 },
	{ "reject_unlisted_recipient", R_UNLISTED_RCPT, 0 },
	{ "reject_unlisted_sender", R_UNLISTED_SENDER, 0 },
	{ "reject_unknown_reverse_client_hostname", R_UNKNOWN_REVERSE_CLIENT,
	  0 },
	{ "reject_unknown_client_hostname", R_UNKNOWN_REVERSE_CLIENT, 0 },
	{ "reject_unknown_client", R_UNKNOWN_REVERSE_CLIENT, 0 },
	{ "reject_rbl_client", R_RBL_CLIENT, 1 },
	{ "reject_rhsbl_client", R_RHSBL_CLIENT, 1 },
	{ "reject_rhsbl_helo", R_RHSBL_HELO, 1 },
	{ "reject_rhsbl_sender", R_RHSBL_SENDER, 1 },
	{ "reject_rhsbl_recipient", R_RHSBL_RCPT, 1 },
	{ "reject_sender_login_mismatch", R_SENDER_LOGIN_MISMATCH, 0 },
	{ "check_policy_service", R_POLICY, 1 },
	{ "reject_spf_fail", R_SPF_FAIL, 0 },
	{ "reject_spf_softfail", R_SPF_SOFTFAIL, 0 },
	{ "defer_spf_temperror", R_SPF_TEMPERROR, 0 },
	{ "reject_spf_permerror", R_SPF_PERMERROR, 0 },
};

/* Reply building. */

/* Copy peer text, bounded, with anything unprintable as '?'. */
void
smtpd_check_printable(VSTR *out, const char *text)
{
	size_t n = 0;

	for (const char *cp = text; *cp && n < CHK_TEXT_MAX; cp++, n++) {
		unsigned char ch = (unsigned char)*cp;

		vstr_addch(out, ch >= ' ' && ch < 0x7f ? ch : '?');
	}
}

/*
 * Fill res with "code d.s.n text"; the DSN class digit follows the code.
 * A text that starts with its own d.d.d replaces the default detail.
 */
int
smtpd_check_reply(struct chk_ctx *x, int code, const char *dsn, const char *fmt,
		  ...)
{
	va_list ap;
	VSTR   *r = x->res->reply;

	x->res->action = code >= 500 ? SMTPD_ACT_REJECT : SMTPD_ACT_DEFER;
	vstr_sprintf(r, "%d %c%s ", code, code >= 500 ? '5' : '4', dsn + 1);
	va_start(ap, fmt);
	vstr_vsprintf_append(r, fmt, ap);
	va_end(ap);
	return CHK_REJECT;
}

/* "<name[addr]>: Client host rejected: " and friends. */
static void
chk_subject(struct chk_ctx *x, VSTR *out)
{
	const struct smtpd_check_facts *f = x->f;

	vstr_reset(out);
	switch (x->class) {
	case CLASS_CLIENT:
		vstr_strcat(out, "<");
		smtpd_check_printable(out, f->client_name ? f->client_name
							  : "unknown");
		vstr_strcat(out, "[");
		smtpd_check_printable(out,
				      f->client_addr ? f->client_addr : "");
		vstr_strcat(out, "]>: Client host rejected: ");
		break;
	case CLASS_HELO:
		vstr_strcat(out, "<");
		smtpd_check_printable(out, f->helo ? f->helo : "");
		vstr_strcat(out, ">: Helo command rejected: ");
		break;
	case CLASS_SENDER:
		vstr_strcat(out, "<");
		smtpd_check_printable(out, f->sender ? f->sender : "");
		vstr_strcat(out, ">: Sender address rejected: ");
		break;
	case CLASS_RCPT:
		vstr_strcat(out, "<");
		smtpd_check_printable(out, f->recipient ? f->recipient : "");
		vstr_strcat(out, ">: Recipient address rejected: ");
		break;
	case CLASS_DATA:
		vstr_strcat(out, "<DATA>: Data command rejected: ");
		break;
	case CLASS_ETRN:
		vstr_strcat(out, "<");
		smtpd_check_printable(out, f->recipient ? f->recipient : "");
		vstr_strcat(out, ">: Etrn command rejected: ");
		break;
	case CLASS_EOD:
		vstr_strcat(out, "<END-OF-MESSAGE>: End-of-data rejected: ");
		break;
	}
}

int
smtpd_check_reject(struct chk_ctx *x, enum chk_class class, int code,
		   const char *dsn, const char *text)
{
	enum chk_class saved = x->class;
	VSTR	      *subj = vstr_alloc(128);
	int	       rc;

	x->class = class;
	chk_subject(x, subj);
	x->class = saved;
	rc = smtpd_check_reply(x, code, dsn, "%s%s", VSTR_STR(subj), text);
	vstr_free(subj);
	return rc;
}

int
smtpd_check_error(struct chk_ctx *x)
{
	x->res->action = SMTPD_ACT_DEFER;
	vstr_strcpy(x->res->reply, "451 4.3.0 Server configuration error");
	return CHK_ERROR;
}

/* Table cache and list compilation. */

/*
 * Open (once) a table named in a list.  A table that cannot be opened
 * does not stop the server, as in Postfix: it is logged now and every
 * request that needs it is deferred with 451 4.3.0, so a missing file
 * (say /etc/aliases.db before newaliases) costs only those requests.
 */
DICT *
smtpd_check_table(SMTPD_CHECK *c, const char *spec, bool *broken)
{
	DICT *d;
	VSTR *why;

	*broken = false;
	for (size_t i = 0; i < c->table_count; i++)
		if (strcmp(c->table_specs[i], spec) == 0)
			return c->tables[i];
	why = vstr_alloc(64);
	d = dict_open(spec, DICT_FLAG_FOLD, why);
	if (d == NULL) {
		msg_warn("%s: %s; requests that need it will be deferred", spec,
			 VSTR_STR(why));
		*broken = true;
	}
	vstr_free(why);
	if (d == NULL)
		return NULL;
	c->tables = myrealloc(c->tables, (c->table_count + 1) * sizeof(DICT *));
	c->table_specs = myrealloc(c->table_specs,
				   (c->table_count + 1) * sizeof(char *));
	c->tables[c->table_count] = d;
	c->table_specs[c->table_count] = mystrdup(spec);
	c->table_count++;
	return d;
}

void
smtpd_check_word(const char *item, size_t len, void *ctx)
{
	struct smtpd_check_words *w = ctx;

	w->v = myrealloc(w->v, (w->n + 1) * sizeof(char *));
	w->v[w->n++] = mystrndup(item, len);
}

void
smtpd_check_words_free(struct smtpd_check_words *w)
{
	for (size_t i = 0; i < w->n; i++)
		myfree(w->v[i]);
	myfree(w->v);
	w->v = NULL;
	w->n = 0;
}

static void
chk_restr_list_free(struct restr_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		myfree(l->items[i].zone);
		myfree(l->items[i].spec);
		myfree(l->items[i].filter);
	}
	myfree(l->items);
	l->items = NULL;
	l->count = 0;
}

/* Restrictions that need the resolver. */
static bool
chk_kind_uses_dns(enum restr_kind kind)
{
	switch (kind) {
	case R_UNKNOWN_HELO:
	case R_UNKNOWN_SENDER_DOMAIN:
	case R_UNKNOWN_RCPT_DOMAIN:
	case R_RBL_CLIENT:
	case R_RHSBL_CLIENT:
	case R_RHSBL_HELO:
	case R_RHSBL_SENDER:
	case R_RHSBL_RCPT:
		return true;
	default:
		return false;
	}
}

static bool
chk_list_uses_dns(const struct restr_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		if (chk_kind_uses_dns(l->items[i].kind))
			return true;
	return false;
}

/*
 * Compile text into l.  With `opening` false (a list found in an access
 * table after the chroot) only tables already in the cache are used.
 */
static int
chk_restr_compile(SMTPD_CHECK *c, const char *param, const char *text,
		  struct restr_list *l, bool opening, VSTR *why)
{
	struct smtpd_check_words w = { NULL, 0 };
	int			 rc = -1;

	if (dict_list_split(text, smtpd_check_word, &w, why) < 0)
		goto out;
	for (size_t i = 0; i < w.n; i++) {
		const struct restr_name *rn = NULL;
		struct restr		 r = { 0 };

		for (size_t k = 0;
		     k < sizeof(restr_names) / sizeof(*restr_names); k++)
			if (strcasecmp(w.v[i], restr_names[k].name) == 0)
				rn = &restr_names[k];
		if (rn == NULL) {
			vstr_sprintf(why, "%s: unknown restriction \"%s\"",
				     param, w.v[i]);
			goto out;
		}
		r.kind = rn->kind;
		/* The resolver is set up in pre_jail only when a list needs it. */
		if (!opening && c->dns == NULL && chk_kind_uses_dns(r.kind)) {
			vstr_sprintf(why,
				     "%s: %s needs DNS; name it in a main.cf "
				     "restriction list too",
				     param, rn->name);
			goto out;
		}
		if (rn->args) {
			if (i + 1 >= w.n) {
				vstr_sprintf(why, "%s: %s needs an argument",
					     param, rn->name);
				goto out;
			}
			i++;
			if (r.kind == R_POLICY) {
				r.policy = smtpd_check_policy_open(c, w.v[i],
								   why);
				if (r.policy == NULL)
					goto out;
			} else if (r.kind >= R_RBL_CLIENT) {
				char *eq = strchr(w.v[i], '=');

				if (eq) {
					*eq = 0;
					r.filter = mystrdup(eq + 1);
				}
				r.zone = mystrdup(w.v[i]);
			} else if (opening) {
				r.table = smtpd_check_table(c, w.v[i],
							    &r.broken);
				if (r.broken)
					r.spec = mystrdup(w.v[i]);
			} else {
				for (size_t t = 0; t < c->table_count; t++)
					if (!strcmp(c->table_specs[t], w.v[i]))
						r.table = c->tables[t];
				if (r.table == NULL) {
					vstr_sprintf(why,
						     "%s: table %s was not "
						     "opened at startup",
						     param, w.v[i]);
					goto out;
				}
			}
		}
		l->items = myrealloc(l->items, (l->count + 1) * sizeof(r));
		l->items[l->count++] = r;
	}
	rc = 0;
out:
	smtpd_check_words_free(&w);
	return rc;
}

/* Does the list hold something that refuses unauthorized relaying? */
static bool
chk_list_guards_relay(const struct restr_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		switch (l->items[i].kind) {
		case R_REJECT:
		case R_DEFER:
		case R_REJECT_UNAUTH_DEST:
		case R_DEFER_UNAUTH_DEST:
			return true;
		default:
			break;
		}
	return false;
}

SMTPD_CHECK *
smtpd_check_create(const CFG *cfg, VSTR *why)
{
	SMTPD_CHECK *c = mycalloc(1, sizeof(*c));
	const struct {
		const char	  *param;
		struct restr_list *list;
	} lists[] = {
		{ "smtpd_client_restrictions", &c->client },
		{ "smtpd_helo_restrictions", &c->helo },
		{ "smtpd_sender_restrictions", &c->sender },
		{ "smtpd_relay_restrictions", &c->relay },
		{ "smtpd_recipient_restrictions", &c->rcpt },
		{ "smtpd_data_restrictions", &c->data },
		{ "smtpd_etrn_restrictions", &c->etrn },
		{ "smtpd_end_of_data_restrictions", &c->eod },
	};
	bool dns = false;

	c->cfg = cfg;
	c->scratch = vstr_alloc(128);
	c->memo_key = vstr_alloc(128);
	c->memo_reply = vstr_alloc(128);
	c->memo_filter = vstr_alloc(64);
	for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++) {
		if (chk_restr_compile(c, lists[i].param,
				      cfg_get_str(cfg, lists[i].param),
				      lists[i].list, true, why)
		    < 0)
			return smtpd_check_free(c);
		dns |= chk_list_uses_dns(lists[i].list);
	}
	/* A policy server's verdict may differ per recipient: no memo. */
	for (size_t i = 0; i < 3; i++)
		for (size_t k = 0; k < lists[i].list->count; k++)
			c->delayed_policy |= lists[i].list->items[k].kind
					     == R_POLICY;
	/* DESIGN.md §5: no configuration may turn into an open relay. */
	if (!chk_list_guards_relay(&c->relay)
	    && !chk_list_guards_relay(&c->rcpt)) {
		vstr_strcpy(why, "smtpd_relay_restrictions or "
				 "smtpd_recipient_restrictions must hold "
				 "reject_unauth_destination, "
				 "defer_unauth_destination, reject or defer "
				 "(open relay refused)");
		return smtpd_check_free(c);
	}
	{
		const struct {
			const char	  *param;
			bool		   networks;
			struct match_list *list;
		} dlists[] = {
			{ "mynetworks", true, &c->mynetworks },
			{ "mydestination", false, &c->mydestination },
			{ "relay_domains", false, &c->relay_domains },
			{ "virtual_alias_domains", false, &c->valias_domains },
			{ "virtual_mailbox_domains", false, &c->vmbox_domains },
		};

		for (size_t i = 0; i < sizeof(dlists) / sizeof(*dlists); i++)
			if (smtpd_check_addr_compile(
				c, dlists[i].param, dlists[i].networks,
				smtpd_check_addr_pdms(cfg, dlists[i].param),
				dlists[i].list, why)
			    < 0)
				return smtpd_check_free(c);
	}
	smtpd_check_addr_interfaces(c);
	smtpd_check_addr_maps_open(c, "local_recipient_maps",
				   &c->local_rcpt_maps);
	smtpd_check_addr_maps_open(c, "virtual_alias_maps", &c->valias_maps);
	smtpd_check_addr_maps_open(c, "virtual_mailbox_maps", &c->vmbox_maps);
	smtpd_check_addr_maps_open(c, "relay_recipient_maps",
				   &c->relay_rcpt_maps);
	smtpd_check_addr_maps_open(c, "smtpd_sender_login_maps",
				   &c->sender_login_maps);
	smtpd_check_addr_maps_open(c, "relocated_maps", &c->relocated_maps);
	smtpd_check_addr_maps_open(c, "canonical_maps", &c->canonical_maps);
	smtpd_check_addr_maps_open(c, "sender_canonical_maps",
				   &c->sender_canonical_maps);
	smtpd_check_addr_maps_open(c, "recipient_canonical_maps",
				   &c->rcpt_canonical_maps);
	if (dns) {
		if ((c->dns = dns_open(cfg)) == NULL) {
			vstr_strcpy(why, "DNS resolver setup failed "
					 "(see dns_nameservers)");
			return smtpd_check_free(c);
		}
		c->dns_reply = dns_reply_alloc();
	}
	c->delay_reject = cfg_get_bool(cfg, "smtpd_delay_reject");
	c->access_parent = smtpd_check_addr_pdms(cfg, "smtpd_access_maps");
	c->untrusted_routing = cfg_get_bool(cfg, "allow_untrusted_routing");
	c->no_unknown_rcpt = (receive_override_bits(cfg)
			      & RECEIVE_NO_UNKNOWN_RCPT_CHECKS)
			     != 0;
	c->reject_unlisted_rcpt =
	    cfg_get_bool(cfg, "smtpd_reject_unlisted_recipient");
	c->reject_unlisted_sender =
	    cfg_get_bool(cfg, "smtpd_reject_unlisted_sender");
	c->null_key = cfg_get_str(cfg, "smtpd_null_access_lookup_key");
	c->delims = cfg_get_str(cfg, "recipient_delimiter");
	c->myorigin = cfg_get_str(cfg, "myorigin");
	c->reject_code = (int)cfg_get_int(cfg, "reject_code");
	c->defer_code = (int)cfg_get_int(cfg, "defer_code");
	c->access_reject_code = (int)cfg_get_int(cfg, "access_map_reject_code");
	c->access_defer_code = (int)cfg_get_int(cfg, "access_map_defer_code");
	c->relay_code = (int)cfg_get_int(cfg, "relay_domains_reject_code");
	c->unknown_addr_code = (int)cfg_get_int(cfg,
						"unknown_address_reject_code");
	c->unknown_client_code = (int)cfg_get_int(cfg,
						  "unknown_client_reject_code");
	c->unknown_local_code = (int)
	    cfg_get_int(cfg, "unknown_local_recipient_reject_code");
	c->unknown_valias_code = (int)
	    cfg_get_int(cfg, "unknown_virtual_alias_reject_code");
	c->unknown_vmbox_code = (int)
	    cfg_get_int(cfg, "unknown_virtual_mailbox_reject_code");
	c->unknown_relay_code = (int)
	    cfg_get_int(cfg, "unknown_relay_recipient_reject_code");
	c->non_fqdn_code = (int)cfg_get_int(cfg, "non_fqdn_reject_code");
	c->invalid_host_code = (int)cfg_get_int(cfg,
						"invalid_hostname_reject_code");
	c->unknown_host_code = (int)cfg_get_int(cfg,
						"unknown_hostname_reject_code");
	c->rbl_code = (int)cfg_get_int(cfg, "maps_rbl_reject_code");
	/* Before the chroot: the secret file is usually root's. */
	c->srs = srs_open(cfg);
	return c;
}

SMTPD_CHECK *
smtpd_check_free(SMTPD_CHECK *c)
{
	if (c == NULL)
		return NULL;
	c->srs = srs_free(c->srs);
	chk_restr_list_free(&c->client);
	chk_restr_list_free(&c->helo);
	chk_restr_list_free(&c->sender);
	chk_restr_list_free(&c->relay);
	chk_restr_list_free(&c->rcpt);
	chk_restr_list_free(&c->data);
	chk_restr_list_free(&c->etrn);
	chk_restr_list_free(&c->eod);
	smtpd_check_addr_list_free(&c->mynetworks);
	smtpd_check_addr_list_free(&c->mydestination);
	smtpd_check_addr_list_free(&c->relay_domains);
	smtpd_check_addr_list_free(&c->valias_domains);
	smtpd_check_addr_list_free(&c->vmbox_domains);
	c->own_addr = own_addr_free(c->own_addr);
	for (size_t i = 0; i < c->table_count; i++) {
		dict_close(c->tables[i]);
		myfree(c->table_specs[i]);
	}
	myfree(c->tables);
	myfree(c->table_specs);
	dict_list_close(c->local_rcpt_maps.list);
	dict_list_close(c->valias_maps.list);
	dict_list_close(c->vmbox_maps.list);
	dict_list_close(c->relay_rcpt_maps.list);
	dict_list_close(c->sender_login_maps.list);
	dict_list_close(c->relocated_maps.list);
	dict_list_close(c->canonical_maps.list);
	dict_list_close(c->sender_canonical_maps.list);
	dict_list_close(c->rcpt_canonical_maps.list);
	for (size_t i = 0; i < c->policy_count; i++) {
		policy_free(c->policies[i]);
		myfree(c->policy_specs[i]);
	}
	myfree(c->policies);
	myfree(c->policy_specs);
	dns_close(c->dns);
	dns_reply_free(c->dns_reply);
	vstr_free(c->scratch);
	vstr_free(c->memo_key);
	vstr_free(c->memo_reply);
	vstr_free(c->memo_filter);
	myfree(c);
	return NULL;
}

/* Access maps. */

bool
smtpd_check_is_code(const char *w, size_t len)
{
	return len == 3 && (w[0] == '4' || w[0] == '5')
	       && isdigit((unsigned char)w[1]) && isdigit((unsigned char)w[2]);
}

/* "d.ddd.ddd" with class 2, 4 or 5 (RFC 3463). */
static bool
chk_is_dsn(const char *t, size_t len)
{
	size_t i = 2;
	size_t n;

	if (len < 5 || (t[0] != '2' && t[0] != '4' && t[0] != '5')
	    || t[1] != '.')
		return false;
	for (int part = 0; part < 2; part++) {
		n = 0;
		while (i < len && isdigit((unsigned char)t[i]) && n < 3) {
			i++;
			n++;
		}
		if (n == 0)
			return false;
		if (part == 0) {
			if (i >= len || t[i] != '.')
				return false;
			i++;
		}
	}
	return i == len;
}

static int chk_eval_list(struct chk_ctx *x, const struct restr_list *l);

/*
 * PREPEND "name: value": the field goes to cleanup, which puts it above
 * the message.  After the content it is too late (Postfix refuses it in
 * smtpd_end_of_data_restrictions too).
 */
static int
chk_prepend(struct chk_ctx *x, const char *table, const char *text)
{
	size_t nl = strcspn(text, ": \t");

	if (nl == 0 || text[nl] != ':' || strlen(text) > 998) {
		msg_warn("%s: PREPEND needs \"name: value\" (at most 998 "
			 "bytes), got \"%.100s\"",
			 table, text);
		return smtpd_check_error(x);
	}
	for (const char *cp = text; *cp; cp++)
		if ((unsigned char)*cp < ' ' || *cp == 127) {
			msg_warn("%s: PREPEND text holds a control character",
				 table);
			return smtpd_check_error(x);
		}
	if (x->stage == SMTPD_CHECK_EOD || x->res->prepend == NULL) {
		msg_warn("%s: action PREPEND is not available at %s; ignored",
			 table,
			 x->stage == SMTPD_CHECK_EOD ? "END-OF-MESSAGE"
						     : "this stage");
		return CHK_DUNNO;
	}
	vstr_strcat(x->res->prepend, text);
	vstr_addch(x->res->prepend, '\n');
	return CHK_DUNNO;
}

/*
 * FILTER transport:nexthop: not final (DUNNO), the last one wins; smtpd
 * hands it to cleanup with the message (A filter= in the queue file).
 * A value without a transport is logged and ignored, as Postfix does.
 */
static int
chk_access_filter(struct chk_ctx *x, const char *table, const char *arg)
{
	const char *f = arg + strspn(arg, " \t");
	size_t	    len = strcspn(f, " \t");
	size_t	    i;

	for (i = 0; i < len; i++)
		if ((unsigned char)f[i] < 33 || (unsigned char)f[i] > 126)
			break;
	if (len == 0 || len > 255 || i < len || f[0] == ':'
	    || memchr(f, ':', len) == NULL || f[len + strspn(f + len, " \t")]) {
		msg_warn("access table %s: bad FILTER action \"%.100s\": "
			 "need transport:nexthop",
			 table, f);
		return CHK_DUNNO;
	}
	vstr_memcpy(x->filter, f, len);
	msg_info("%s: filter: %s", table, VSTR_STR(x->filter));
	return CHK_DUNNO;
}

/*
 * Carry out the action an access table gave for this class.
 */
static int
chk_access_action(struct chk_ctx *x, const char *table, const char *value)
{
	const char *v = value + strspn(value, " \t");
	size_t	    wlen = strcspn(v, " \t");
	const char *text = v + wlen + strspn(v + wlen, " \t");
	VSTR	   *subj = vstr_alloc(128);
	VSTR	   *t = vstr_alloc(128);
	char	    dsn[16] = "5.7.1";
	int	    code;
	int	    rc;

	chk_subject(x, subj);
	/* A leading d.d.d in the text is the DSN the admin wants. */
	if (isdigit((unsigned char)text[0]) && text[1] == '.') {
		size_t dl = strcspn(text, " \t");

		if (chk_is_dsn(text, dl) && dl < sizeof(dsn)) {
			memcpy(dsn, text, dl);
			dsn[dl] = 0;
			text += dl;
			text += strspn(text, " \t");
		}
	}
	smtpd_check_printable(t, *text ? text : "Access denied");
	if ((wlen == 2 && strncasecmp(v, "OK", 2) == 0)
	    || (wlen == 6 && strncasecmp(v, "PERMIT", 6) == 0)
	    || (wlen > 0 && strspn(v, "0123456789") == wlen
		&& !smtpd_check_is_code(v, wlen))) {
		rc = CHK_OK;
	} else if (wlen == 6 && strncasecmp(v, "REJECT", 6) == 0) {
		rc = smtpd_check_reply(x, x->c->access_reject_code, dsn, "%s%s",
				       VSTR_STR(subj), VSTR_STR(t));
	} else if (wlen == 5 && strncasecmp(v, "DEFER", 5) == 0) {
		rc = smtpd_check_reply(x, x->c->access_defer_code, dsn, "%s%s",
				       VSTR_STR(subj), VSTR_STR(t));
	} else if (smtpd_check_is_code(v, wlen)) {
		code = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
		rc = smtpd_check_reply(x, code, dsn, "%s%s", VSTR_STR(subj),
				       VSTR_STR(t));
	} else if (wlen == 7 && strncasecmp(v, "DISCARD", 7) == 0) {
		msg_info("%s: discard: %s%s", table, VSTR_STR(subj),
			 VSTR_STR(t));
		x->discard = true;
		rc = CHK_OK;
	} else if (wlen == 4 && strncasecmp(v, "HOLD", 4) == 0) {
		msg_info("%s: hold: %s%s", table, VSTR_STR(subj), VSTR_STR(t));
		x->hold = true;
		rc = CHK_DUNNO;
	} else if (wlen == 6 && strncasecmp(v, "FILTER", 6) == 0) {
		rc = chk_access_filter(x, table, v + wlen);
	} else if (wlen == 5 && strncasecmp(v, "DUNNO", 5) == 0) {
		rc = CHK_DUNNO;
	} else if (wlen == 7 && strncasecmp(v, "PREPEND", 7) == 0) {
		rc = chk_prepend(x, table, text);
	} else if ((wlen == 15 && strncasecmp(v, "DEFER_IF_PERMIT", 15) == 0)
		   || (wlen == 15
		       && strncasecmp(v, "DEFER_IF_REJECT", 15) == 0)) {
		VSTR *d = v[9] == 'P' || v[9] == 'p' ? x->defer_if_permit
						     : x->defer_if_reject;

		/* The first one wins, as in Postfix. */
		if (d != NULL && VSTR_LEN(d) == 0) {
			if (dsn[0] != '4')
				memcpy(dsn, "4.7.1", 6);
			vstr_sprintf(d, "%d %s %s%s", x->c->defer_code, dsn,
				     VSTR_STR(subj),
				     *text ? VSTR_STR(t)
					   : "Service is unavailable");
		}
		rc = CHK_DUNNO;
	} else if ((wlen == 8 && strncasecmp(v, "REDIRECT", 8) == 0)
		   || (wlen == 3 && strncasecmp(v, "BCC", 3) == 0)) {
		/* Ignoring it would deliver the mail elsewhere: defer. */
		msg_warn("%s: action %.*s is not supported by Postel; request "
			 "deferred",
			 table, (int)wlen, v);
		rc = smtpd_check_error(x);
	} else if ((wlen == 4 && strncasecmp(v, "WARN", 4) == 0)
		   || (wlen == 4 && strncasecmp(v, "INFO", 4) == 0)) {
		msg_info("%s: warn: %s%s", table, VSTR_STR(subj), VSTR_STR(t));
		rc = CHK_DUNNO;
	} else if (x->depth < CHK_DEPTH_MAX) {
		struct restr_list l = { NULL, 0 };
		VSTR		 *why = vstr_alloc(64);

		/* A restriction list as the value (Postfix allows it). */
		if (chk_restr_compile(x->c, table, v, &l, false, why) < 0) {
			msg_warn("access table %s: bad action \"%s\": %s",
				 table, v, VSTR_STR(why));
			rc = smtpd_check_error(x);
		} else {
			x->depth++;
			rc = chk_eval_list(x, &l);
			x->depth--;
		}
		chk_restr_list_free(&l);
		vstr_free(why);
	} else {
		msg_warn("access table %s: restriction lists nested too deep",
			 table);
		rc = smtpd_check_error(x);
	}
	vstr_free(subj);
	vstr_free(t);
	return rc;
}

int
smtpd_check_access_action(struct chk_ctx *x, const char *table,
			  const char *value)
{
	return chk_access_action(x, table, value);
}

/* One key; CHK_* or -2 (not found, go on). */
static int
chk_access_key(struct chk_ctx *x, DICT *d, const char *key)
{
	const char *value;
	int	    rc = dict_lookup(d, key, &value);

	if (rc < 0)
		return smtpd_check_error(x);
	if (rc == 0)
		return -2;
	return chk_access_action(x, dict_spec(d), value);
}

/* A domain and its parents, as access(5) describes. */
static int
chk_access_domain(struct chk_ctx *x, DICT *d, const char *domain)
{
	VSTR	   *key = vstr_alloc(64);
	const char *cp;
	int	    rc;

	if ((rc = chk_access_key(x, d, domain)) != -2)
		goto out;
	for (cp = strchr(domain, '.'); cp != NULL; cp = strchr(cp + 1, '.')) {
		if (cp[1] == 0)
			break;
		vstr_strcpy(key, x->c->access_parent ? cp + 1 : cp);
		if ((rc = chk_access_key(x, d, VSTR_STR(key))) != -2)
			goto out;
	}
out:
	vstr_free(key);
	return rc;
}

static int
chk_access_client(struct chk_ctx *x, DICT *d)
{
	const struct smtpd_check_facts *f = x->f;
	VSTR			       *key = vstr_alloc(64);
	int				rc = -2;
	char			       *sep;

	if (f->client_name && strcmp(f->client_name, "unknown") != 0
	    && (rc = chk_access_domain(x, d, f->client_name)) != -2)
		goto out;
	if (f->client_addr == NULL || *f->client_addr == 0)
		goto out;
	/* 1.2.3.4, 1.2.3, 1.2, 1 (and the same at ':' for IPv6). */
	vstr_strcpy(key, f->client_addr);
	for (;;) {
		if ((rc = chk_access_key(x, d, VSTR_STR(key))) != -2)
			goto out;
		if ((sep = strrchr(VSTR_STR(key),
				   strchr(f->client_addr, ':') ? ':' : '.'))
		    == NULL)
			break;
		vstr_truncate(key, (size_t)(sep - VSTR_STR(key)));
		if (VSTR_LEN(key) == 0)
			break;
	}
out:
	vstr_free(key);
	return rc == -2 ? CHK_DUNNO : rc;
}

static int
chk_access_addr(struct chk_ctx *x, DICT *d, const ADDR *a, bool is_null)
{
	VSTR	   *key = vstr_alloc(64);
	VSTR	   *user = vstr_alloc(64);
	VSTR	   *ext = vstr_alloc(16);
	const char *local;
	bool	    split;
	int	    rc = -2;

	if (is_null) {
		rc = chk_access_key(x, d, x->c->null_key);
		goto out;
	}
	if (a == NULL)
		goto out;
	local = VSTR_STR(a->local);
	split = addr_split_ext(local, x->c->delims, user, ext) != 0;
	if (!(a->flags & ADDR_F_NODOMAIN)) {
		vstr_sprintf(key, "%s@%s", local, VSTR_STR(a->domain));
		if ((rc = chk_access_key(x, d, VSTR_STR(key))) != -2)
			goto out;
		if (split) {
			vstr_sprintf(key, "%s@%s", VSTR_STR(user),
				     VSTR_STR(a->domain));
			if ((rc = chk_access_key(x, d, VSTR_STR(key))) != -2)
				goto out;
		}
		vstr_strcpy(key, VSTR_STR(a->domain));
		vstr_lower(key);
		if ((rc = chk_access_domain(x, d, VSTR_STR(key))) != -2)
			goto out;
	}
	vstr_sprintf(key, "%s@", local);
	if ((rc = chk_access_key(x, d, VSTR_STR(key))) != -2)
		goto out;
	if (split) {
		vstr_sprintf(key, "%s@", VSTR_STR(user));
		rc = chk_access_key(x, d, VSTR_STR(key));
	}
out:
	vstr_free(key);
	vstr_free(user);
	vstr_free(ext);
	return rc == -2 ? CHK_DUNNO : rc;
}

/* HELO name checks. */

static bool
chk_valid_hostname(const char *name)
{
	size_t len = strlen(name);
	size_t label = 0;
	bool   alpha = false;

	if (len == 0 || len > 255 || name[0] == '.')
		return false;
	for (const char *cp = name; *cp; cp++) {
		unsigned char ch = (unsigned char)*cp;

		if (ch == '.') {
			if (label == 0 && cp[1] != 0)
				return false;
			if (cp[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(ch) && ch != '-' && ch != '_')
			return false;
		if (label == 0 && ch == '-')
			return false;
		if (!isdigit(ch))
			alpha = true;
		if (++label > 63)
			return false;
	}
	/* All-numeric names must be addresses. */
	return alpha;
}

/* Evaluation. */

static bool
chk_fqdn(const ADDR *a)
{
	if (a->flags & ADDR_F_NODOMAIN)
		return false;
	if (a->flags & ADDR_F_LITERAL)
		return true;
	return strchr(VSTR_STR(a->domain), '.') != NULL;
}

/* Is login among the owners ("a, b c") in list? */
static bool
chk_login_listed(const char *list, const char *login)
{
	size_t len = strlen(login);

	for (const char *p = list; *p;) {
		size_t n;

		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == len && n > 0 && strncasecmp(p, login, n) == 0)
			return true;
		p += n;
	}
	return false;
}

/*
 * reject_sender_login_mismatch: smtpd_sender_login_maps names the SASL
 * logins that own an address (keys user@domain, then user, then
 * @domain).  An owned address needs one of its owners logged in; a
 * logged-in client may send only as addresses it owns.
 */
static int
smtpd_check_login(struct chk_ctx *x)
{
	SMTPD_CHECK *c = x->c;
	const char  *login = x->f->sasl_username;
	const char  *owners = NULL;
	int	     rc = 0;

	if (x->sender == NULL || c->sender_login_maps.broken)
		return c->sender_login_maps.broken ? smtpd_check_error(x)
						   : CHK_DUNNO;
	if (c->sender_login_maps.list) {
		const char *keys[3];
		VSTR	   *at = vstr_alloc(64);

		vstr_sprintf(at, "@%s", VSTR_STR(x->sender->domain));
		keys[0] = VSTR_STR(x->sender->addr);
		keys[1] = VSTR_STR(x->sender->local);
		keys[2] = VSTR_STR(at);
		for (int i = 0; i < 3 && rc == 0; i++)
			rc = dict_list_lookup(c->sender_login_maps.list,
					      keys[i], &owners);
		vstr_free(at);
		if (rc < 0)
			return smtpd_check_error(x);
	}
	if (login && *login) {
		if (rc > 0 && chk_login_listed(owners, login))
			return CHK_DUNNO;
		vstr_strcpy(c->scratch, "not owned by user ");
		smtpd_check_printable(c->scratch, login);
		return smtpd_check_reject(x, CLASS_SENDER, 553, "5.7.1",
					  VSTR_STR(c->scratch));
	}
	if (rc > 0)
		return smtpd_check_reject(x, CLASS_SENDER, 553, "5.7.1",
					  "not logged in");
	return CHK_DUNNO;
}

/*
 * reject_spf_fail and friends: refuse when smtpd's SPF check at MAIL
 * FROM gave `result`.  Unchecked mail (outbound, spf_enable = no) has
 * no result, so the restriction has no opinion.  The text names the
 * result and the domain, with the domain's explanation (RFC 7208 6.2)
 * or the problem found.
 */
static int
chk_spf(struct chk_ctx *x, const char *result, int code, const char *dsn)
{
	const struct smtpd_check_facts *f = x->f;
	VSTR			       *text;
	int				rc;

	if (f->spf_result == NULL || strcmp(f->spf_result, result) != 0)
		return CHK_DUNNO;
	text = vstr_alloc(128);
	vstr_sprintf(text, "SPF %s for ", result);
	smtpd_check_printable(text, f->spf_domain ? f->spf_domain : "");
	if (f->spf_explanation && *f->spf_explanation) {
		vstr_strcat(text, " (");
		smtpd_check_printable(text, f->spf_explanation);
		vstr_strcat(text, ")");
	}
	rc = smtpd_check_reject(x, CLASS_SENDER, code, dsn, VSTR_STR(text));
	vstr_free(text);
	return rc;
}

static int
chk_eval_one(struct chk_ctx *x, const struct restr *r)
{
	SMTPD_CHECK		       *c = x->c;
	const struct smtpd_check_facts *f = x->f;
	const char		       *helo = f->helo;
	int				rc;

	if (r->broken) {
		msg_warn("%s could not be opened: request deferred", r->spec);
		return smtpd_check_error(x);
	}
	switch (r->kind) {
	case R_PERMIT:
		return CHK_OK;
	case R_REJECT:
		return smtpd_check_reject(x, x->class, c->reject_code, "5.7.1",
					  "Access denied");
	case R_DEFER:
		return smtpd_check_reject(x, x->class, c->defer_code, "4.7.1",
					  "Access denied");
	case R_PERMIT_MYNETWORKS:
		rc = smtpd_check_addr_client(&c->mynetworks, f->client_addr,
					     f->client_name);
		if (rc < 0)
			return smtpd_check_error(x);
		return rc > 0 ? CHK_OK : CHK_DUNNO;
	case R_PERMIT_SASL:
		return f->sasl_username && *f->sasl_username ? CHK_OK
							     : CHK_DUNNO;
	case R_PERMIT_AUTH_DEST:
	case R_REJECT_UNAUTH_DEST:
	case R_DEFER_UNAUTH_DEST:
		if (x->rcpt == NULL)
			return CHK_DUNNO;
		if ((rc = smtpd_check_addr_auth_dest(x)) < 0)
			return smtpd_check_error(x);
		if (r->kind == R_PERMIT_AUTH_DEST)
			return rc ? CHK_OK : CHK_DUNNO;
		if (rc)
			return CHK_DUNNO;
		vstr_reset(c->scratch);
		smtpd_check_printable(c->scratch,
				      f->recipient ? f->recipient
						   : VSTR_STR(x->rcpt->addr));
		return smtpd_check_reply(x,
					 r->kind == R_DEFER_UNAUTH_DEST
					     ? 454
					     : c->relay_code,
					 "5.7.1", "<%s>: Relay access denied",
					 VSTR_STR(c->scratch));
	case R_CHECK_CLIENT:
		return chk_access_client(x, r->table);
	case R_CHECK_HELO:
		if (helo == NULL || *helo == 0)
			return CHK_DUNNO;
		vstr_strcpy(c->scratch, helo);
		vstr_lower(c->scratch);
		{
			char *h = mystrdup(VSTR_STR(c->scratch));

			rc = chk_access_domain(x, r->table, h);
			myfree(h);
		}
		return rc == -2 ? CHK_DUNNO : rc;
	case R_CHECK_SENDER:
		if (f->sender == NULL)
			return CHK_DUNNO;
		return chk_access_addr(x, r->table, x->sender, x->null_sender);
	case R_CHECK_RCPT:
		return chk_access_addr(x, r->table, x->rcpt, false);
	case R_NONFQDN_HELO:
		if (helo == NULL || helo[0] == '[' || helo[0] == 0)
			return CHK_DUNNO;
		if (strchr(helo, '.') != NULL && helo[strlen(helo) - 1] != '.')
			return CHK_DUNNO;
		return smtpd_check_reject(x, CLASS_HELO, c->non_fqdn_code,
					  "5.5.2",
					  "need fully-qualified hostname");
	case R_INVALID_HELO:
		if (helo == NULL)
			return CHK_DUNNO;
		{
			char norm[INET6_ADDRSTRLEN];
			bool ok;

			if (helo[0] == '[')
				ok = smtpd_check_addr_norm(helo, norm,
							   sizeof(norm));
			else
				ok = chk_valid_hostname(helo)
				     || smtpd_check_addr_norm(helo, norm,
							      sizeof(norm));
			if (ok)
				return CHK_DUNNO;
		}
		return smtpd_check_reject(x, CLASS_HELO, c->invalid_host_code,
					  "5.5.2", "Invalid name");
	case R_UNKNOWN_HELO:
		if (helo == NULL || helo[0] == '[' || !chk_valid_hostname(helo))
			return CHK_DUNNO;
		{
			bool		nullmx;
			enum dns_status st;

			st = smtpd_check_dns_domain(c, helo, true, &nullmx);
			switch (st) {
			case DNS_OK:
				return CHK_DUNNO;
			case DNS_NOTFOUND:
				return smtpd_check_reject(x, CLASS_HELO,
							  c->unknown_host_code,
							  "5.7.1",
							  "Host not found");
			case DNS_TEMPFAIL:
				return smtpd_check_reject(
				    x, CLASS_HELO, 450, "4.7.1",
				    "Host not found "
				    "(temporary DNS failure)");
			}
		}
		return CHK_DUNNO;
	case R_NONFQDN_SENDER:
		if (x->sender == NULL || chk_fqdn(x->sender))
			return CHK_DUNNO;
		return smtpd_check_reject(x, CLASS_SENDER, c->non_fqdn_code,
					  "5.5.2",
					  "need fully-qualified address");
	case R_NONFQDN_RCPT:
		if (x->rcpt == NULL || chk_fqdn(x->rcpt))
			return CHK_DUNNO;
		return smtpd_check_reject(x, CLASS_RCPT, c->non_fqdn_code,
					  "5.5.2",
					  "need fully-qualified address");
	case R_UNKNOWN_SENDER_DOMAIN:
		return smtpd_check_dns_unknown(x, CLASS_SENDER, x->sender,
					       "1.8");
	case R_UNKNOWN_RCPT_DOMAIN:
		return smtpd_check_dns_unknown(x, CLASS_RCPT, x->rcpt, "1.2");
	case R_UNLISTED_RCPT:
		return smtpd_check_addr_unlisted(x, CLASS_RCPT, x->rcpt);
	case R_UNLISTED_SENDER:
		return smtpd_check_addr_unlisted(x, CLASS_SENDER, x->sender);
	case R_UNKNOWN_REVERSE_CLIENT:
		if (f->client_name && strcmp(f->client_name, "unknown") != 0)
			return CHK_DUNNO;
		vstr_reset(c->scratch);
		smtpd_check_printable(c->scratch,
				      f->client_addr ? f->client_addr : "");
		return smtpd_check_reply(x, c->unknown_client_code, "4.7.1",
					 "Client host rejected: cannot find your "
					 "reverse hostname, [%s]",
					 VSTR_STR(c->scratch));
	case R_RBL_CLIENT:
		if (f->client_addr == NULL)
			return CHK_DUNNO;
		return smtpd_check_dns_rbl(x, r, f->client_addr, true,
					   "Client host");
	case R_RHSBL_CLIENT:
		if (f->client_name == NULL
		    || strcmp(f->client_name, "unknown") == 0)
			return CHK_DUNNO;
		return smtpd_check_dns_rbl(x, r, f->client_name, false,
					   "Client host");
	case R_RHSBL_HELO:
		if (helo == NULL || helo[0] == '[' || !chk_valid_hostname(helo))
			return CHK_DUNNO;
		return smtpd_check_dns_rbl(x, r, helo, false, "Helo command");
	case R_RHSBL_SENDER:
		if (x->sender == NULL
		    || (x->sender->flags & (ADDR_F_NODOMAIN | ADDR_F_LITERAL)))
			return CHK_DUNNO;
		return smtpd_check_dns_rbl(x, r, VSTR_STR(x->sender->domain),
					   false, "Sender address");
	case R_RHSBL_RCPT:
		if (x->rcpt == NULL
		    || (x->rcpt->flags & (ADDR_F_NODOMAIN | ADDR_F_LITERAL)))
			return CHK_DUNNO;
		return smtpd_check_dns_rbl(x, r, VSTR_STR(x->rcpt->domain),
					   false, "Recipient address");
	case R_SENDER_LOGIN_MISMATCH:
		return smtpd_check_login(x);
	case R_SPF_FAIL:
		return chk_spf(x, "fail", 550, "5.7.23");
	case R_SPF_SOFTFAIL:
		return chk_spf(x, "softfail", 550, "5.7.23");
	case R_SPF_TEMPERROR:
		return chk_spf(x, "temperror", 451, "4.7.24");
	case R_SPF_PERMERROR:
		return chk_spf(x, "permerror", 550, "5.7.24");
	case R_POLICY:
		return smtpd_check_policy(x, r);
	}
	return CHK_DUNNO;
}

static int
chk_eval_list(struct chk_ctx *x, const struct restr_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		int rc = chk_eval_one(x, &l->items[i]);

		if (rc != CHK_DUNNO)
			return rc;
	}
	return CHK_DUNNO;
}

static int
chk_eval_class(struct chk_ctx	       *x, enum chk_class class,
	       const struct restr_list *l)
{
	x->class = class;
	return chk_eval_list(x, l);
}

/*
 * Parse an address the caller gave only as text (or <>).  The ADDR is
 * the caller's.
 */
static ADDR *
chk_parse_text(const char *text, ADDR **keep)
{
	ADDR  *a = addr_alloc();
	size_t len = strlen(text);

	if (len >= 2 && text[0] == '<' && text[len - 1] == '>') {
		text++;
		len -= 2;
	}
	if (addr_parse_mailbox(a, text, len, true) < 0) {
		/* A bare local part (<postmaster>). */
		addr_free(a);
		a = addr_alloc();
		vstr_memcpy(a->local, text, len);
		vstr_memcpy(a->addr, text, len);
		a->flags |= ADDR_F_NODOMAIN;
	}
	addr_lower_domain(a);
	*keep = a;
	return a;
}

/* Our own lower-cased copy of a parsed path. */
static ADDR *
chk_copy_addr(const ADDR *src, ADDR **keep)
{
	ADDR *a = addr_alloc();

	vstr_memcpy(a->local, VSTR_STR(src->local), VSTR_LEN(src->local));
	vstr_memcpy(a->domain, VSTR_STR(src->domain), VSTR_LEN(src->domain));
	vstr_memcpy(a->addr, VSTR_STR(src->addr), VSTR_LEN(src->addr));
	vstr_memcpy(a->route, VSTR_STR(src->route), VSTR_LEN(src->route));
	a->flags = src->flags;
	if (!(a->flags & ADDR_F_NODOMAIN))
		vstr_lower(a->domain);
	*keep = a;
	return a;
}

static void
chk_key_add(VSTR *key, const char *text)
{
	vstr_strcat(key, text ? text : "\1");
	vstr_addch(key, 0);
}

/*
 * smtpd_reject_unlisted_sender: after the sender list, unless it rejected
 * (a permit does not exempt the sender, as in Postfix), a sender in a
 * domain we serve must be a known recipient there.  <> is exempt.
 */
static int
chk_unlisted_sender(struct chk_ctx *x, int rc)
{
	int u;

	if (!x->c->reject_unlisted_sender || rc == CHK_REJECT || rc == CHK_ERROR
	    || x->sender == NULL || x->discard)
		return rc;
	u = smtpd_check_addr_unlisted(x, CLASS_SENDER, x->sender);
	return u == CHK_DUNNO ? rc : u;
}

/*
 * The client, HELO and sender lists at RCPT time (smtpd_delay_reject).
 * Their verdict depends only on these facts, so the next recipient with
 * the same facts reuses it for a short while.
 */
static int
chk_delayed(struct chk_ctx *x)
{
	SMTPD_CHECK		       *c = x->c;
	const struct smtpd_check_facts *f = x->f;
	VSTR			       *key = vstr_alloc(128);
	time_t				now = time(NULL);
	int				rc;

	chk_key_add(key, f->client_addr);
	chk_key_add(key, f->client_name);
	chk_key_add(key, f->helo);
	chk_key_add(key, f->sender);
	chk_key_add(key, f->sasl_username);
	chk_key_add(key, f->spf_result);
	vstr_addch(key, f->tls ? 'T' : 'P');
	if (VSTR_LEN(key) == VSTR_LEN(c->memo_key)
	    && memcmp(VSTR_STR(key), VSTR_STR(c->memo_key), VSTR_LEN(key)) == 0
	    && now >= c->memo_time && now - c->memo_time < CHK_MEMO_TIME) {
		vstr_free(key);
		x->hold |= c->memo_hold;
		x->discard |= c->memo_discard;
		if (VSTR_LEN(c->memo_filter) > 0)
			vstr_memcpy(x->filter, VSTR_STR(c->memo_filter),
				    VSTR_LEN(c->memo_filter));
		if (c->memo_rc == CHK_REJECT) {
			x->res->action = c->memo_action;
			vstr_memcpy(x->res->reply, VSTR_STR(c->memo_reply),
				    VSTR_LEN(c->memo_reply));
		}
		return c->memo_rc;
	}
	rc = chk_eval_class(x, CLASS_CLIENT, &c->client);
	if (rc == CHK_DUNNO || rc == CHK_OK)
		rc = chk_eval_class(x, CLASS_HELO, &c->helo);
	if (rc == CHK_DUNNO || rc == CHK_OK)
		rc = chk_eval_class(x, CLASS_SENDER, &c->sender);
	rc = chk_unlisted_sender(x, rc);
	if (rc == CHK_ERROR || c->delayed_policy || VSTR_LEN(x->defer_if_permit)
	    || VSTR_LEN(x->defer_if_reject)) {
		vstr_reset(c->memo_key);
	} else {
		vstr_memcpy(c->memo_key, VSTR_STR(key), VSTR_LEN(key));
		c->memo_time = now;
		c->memo_rc = rc;
		c->memo_action = x->res->action;
		vstr_memcpy(c->memo_reply, VSTR_STR(x->res->reply),
			    VSTR_LEN(x->res->reply));
		c->memo_hold = x->hold;
		c->memo_discard = x->discard;
		vstr_memcpy(c->memo_filter, VSTR_STR(x->filter),
			    VSTR_LEN(x->filter));
	}
	vstr_free(key);
	return rc;
}

/*
 * A recipient at srs_domain whose local part is an SRS address must carry
 * a hash made with one of our secrets and a timestamp within srs_max_age
 * (550 5.1.1 otherwise: the address does not exist, and accepting a
 * forged one would make us a relay).  A good one is marked so that the
 * unlisted-recipient check lets it pass: cleanup rewrites it to the
 * original sender (docs/SRS.md).
 */
static int
chk_srs(struct chk_ctx *x)
{
	VSTR *addr, *out, *why;
	int   rc, ret = CHK_DUNNO;

	if (strcasecmp(VSTR_STR(x->rcpt->domain), srs_domain(x->c->srs)) != 0
	    || !srs_is_srs(VSTR_STR(x->rcpt->local)))
		return CHK_DUNNO;
	addr = vstr_alloc(64);
	out = vstr_alloc(64);
	why = vstr_alloc(64);
	vstr_sprintf(addr, "%s@%s", VSTR_STR(x->rcpt->local),
		     VSTR_STR(x->rcpt->domain));
	rc = srs_reverse(x->c->srs, VSTR_STR(addr), time(NULL), out, why);
	if (rc > 0)
		x->srs_valid = true;
	else if (rc < 0) {
		vstr_sprintf(out, "invalid SRS address (%s)", VSTR_STR(why));
		ret = smtpd_check_reject(x, CLASS_RCPT, 550, "5.1.1",
					 VSTR_STR(out));
	}
	vstr_free(addr);
	vstr_free(out);
	vstr_free(why);
	return ret;
}

int
smtpd_check(SMTPD_CHECK *c, enum smtpd_check_stage stage,
	    const struct smtpd_check_facts *f, struct smtpd_check_result *res)
{
	struct chk_ctx x = { .c = c,
			     .f = f,
			     .res = res,
			     .class = CLASS_CLIENT,
			     .stage = stage,
			     .defer_if_permit = vstr_alloc(64),
			     .defer_if_reject = vstr_alloc(64) };
	ADDR	      *own_sender = NULL;
	ADDR	      *own_rcpt = NULL;
	int	       rc = CHK_DUNNO;

	res->action = SMTPD_ACT_OK;
	vstr_reset(res->reply);
	x.filter = res->filter ? res->filter : vstr_alloc(16);
	vstr_reset(x.filter);

	if (f->sender != NULL) {
		if (f->sender_path && f->sender_path->addr
		    && !(f->sender_path->addr->flags & ADDR_F_NULL))
			x.sender = chk_copy_addr(f->sender_path->addr,
						 &own_sender);
		else if (f->sender_path == NULL && *f->sender != 0)
			x.sender = chk_parse_text(f->sender, &own_sender);
		x.null_sender = x.sender == NULL;
	}
	if (f->recipient != NULL && stage != SMTPD_CHECK_ETRN) {
		if (f->rcpt_path && f->rcpt_path->addr)
			x.rcpt = chk_copy_addr(f->rcpt_path->addr, &own_rcpt);
		else
			x.rcpt = chk_parse_text(f->recipient, &own_rcpt);
	}

	switch (stage) {
	case SMTPD_CHECK_CONNECT:
		if (!c->delay_reject)
			rc = chk_eval_class(&x, CLASS_CLIENT, &c->client);
		break;
	case SMTPD_CHECK_HELO:
		if (!c->delay_reject)
			rc = chk_eval_class(&x, CLASS_HELO, &c->helo);
		break;
	case SMTPD_CHECK_MAIL:
		if (!c->delay_reject)
			rc = chk_unlisted_sender(&x,
						 chk_eval_class(&x,
								CLASS_SENDER,
								&c->sender));
		break;
	case SMTPD_CHECK_RCPT:
	case SMTPD_CHECK_VRFY:
		if (c->srs && x.rcpt && (rc = chk_srs(&x)) != CHK_DUNNO)
			break;
		if (c->delay_reject) {
			rc = chk_delayed(&x);
			if (rc != CHK_DUNNO && rc != CHK_OK)
				break;
		}
		rc = chk_eval_class(&x, CLASS_RCPT, &c->relay);
		if (rc == CHK_DUNNO || rc == CHK_OK)
			rc = chk_eval_class(&x, CLASS_RCPT, &c->rcpt);
		if (rc != CHK_REJECT && rc != CHK_ERROR && x.rcpt
		    && c->reject_unlisted_rcpt && !x.discard && !x.srs_valid)
			rc = smtpd_check_addr_unlisted(&x, CLASS_RCPT, x.rcpt);
		break;
	case SMTPD_CHECK_DATA:
		rc = chk_eval_class(&x, CLASS_DATA, &c->data);
		break;
	case SMTPD_CHECK_ETRN:
		rc = chk_eval_class(&x, CLASS_ETRN, &c->etrn);
		break;
	case SMTPD_CHECK_EOD:
		rc = chk_eval_class(&x, CLASS_EOD, &c->eod);
		break;
	}
	addr_free(own_sender);
	addr_free(own_rcpt);
	/* DEFER_IF_REJECT / DEFER_IF_PERMIT, decided by the outcome. */
	if (rc == CHK_REJECT && res->action == SMTPD_ACT_REJECT
	    && VSTR_LEN(x.defer_if_reject)) {
		res->action = SMTPD_ACT_DEFER;
		vstr_memcpy(res->reply, VSTR_STR(x.defer_if_reject),
			    VSTR_LEN(x.defer_if_reject));
	} else if ((rc == CHK_OK || rc == CHK_DUNNO)
		   && VSTR_LEN(x.defer_if_permit)) {
		rc = CHK_REJECT;
		res->action = SMTPD_ACT_DEFER;
		vstr_memcpy(res->reply, VSTR_STR(x.defer_if_permit),
			    VSTR_LEN(x.defer_if_permit));
	}
	vstr_free(x.defer_if_permit);
	vstr_free(x.defer_if_reject);
	if (x.filter != res->filter)
		vstr_free(x.filter);
	if (rc == CHK_ERROR) {
		res->action = SMTPD_ACT_DEFER;
		vstr_strcpy(res->reply, "451 4.3.0 Server configuration error");
		return -1;
	}
	if (rc == CHK_REJECT)
		return 0;
	res->action = x.discard ? SMTPD_ACT_DISCARD
		      : x.hold	? SMTPD_ACT_HOLD
				: SMTPD_ACT_OK;
	return 0;
}
