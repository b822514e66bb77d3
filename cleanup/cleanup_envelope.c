/*
 * cleanup_envelope - the envelope frame and the envelope records.
 *
 * The envelope frame (docs/CLEANUP.md) is checked field by field; text
 * that will end up in records or headers may not hold control
 * characters.  The sender is qualified, canonicalised and masqueraded;
 * each recipient is qualified, canonicalised and expanded through
 * virtual_alias_maps, keeping the address the client gave as the
 * original recipient (O record, for DSN).  Duplicates (same final
 * address) are dropped, remembering up to duplicate_filter_limit.
 *
 * Errors: cleanup_envelope returns -1 for a malformed frame; rewriting
 * failures are recorded with cleanup_fail (451 4.3.0 table error, 451
 * 4.6.0 alias expansion) and return -1.
 *
 * Ownership: the state takes the frame (st->env) and owns the recipient
 * array.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cleanup/cleanup.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/receive_override.h"

#define CLEANUP_RCPT_MAX 100000 /* recipients in one envelope frame */

static bool
cleanup_text_ok(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 32 || *s == 127)
			return false;
	return true;
}

/* An optional text field: NULL when absent, "bad" when malformed. */
static const char *
cleanup_opt(const ATTR *a, const char *name, bool *bad)
{
	const char *v = attr_get_str(a, name);

	if (v == NULL && attr_has(a, name))
		*bad = true;
	if (!cleanup_text_ok(v))
		*bad = true;
	return v;
}

/*
 * smtpd's SPF fields: a known result and identity, and a header field
 * that is one Received-SPF field (printable, folded only with CRLF +
 * SP/HTAB, bounded), so nothing from the envelope can smuggle a second
 * field or a bare line end into the message.
 */
#define CLEANUP_SPF_HEADER_MAX 4096

static bool
cleanup_spf_ok(const CLEANUP_STATE *st, const ATTR *frame)
{
	static const char *const results[] = {
		"pass", "fail",	     "softfail",  "neutral",
		"none", "temperror", "permerror",
	};
	const char *h = st->spf_header;
	bool	    known = false;

	if (st->spf_result == NULL)
		return st->spf_header == NULL && !attr_has(frame, "spf_header");
	for (size_t i = 0; i < sizeof(results) / sizeof(*results); i++)
		known |= strcmp(st->spf_result, results[i]) == 0;
	if (!known || st->spf_identity == NULL
	    || (strcmp(st->spf_identity, "mailfrom") != 0
		&& strcmp(st->spf_identity, "helo") != 0))
		return false;
	if (h == NULL)
		return !attr_has(frame, "spf_header");
	if (strncasecmp(h, "Received-SPF:", 13) != 0
	    || strlen(h) > CLEANUP_SPF_HEADER_MAX)
		return false;
	for (; *h; h++) {
		unsigned char ch = (unsigned char)*h;

		if (ch == '\r') {
			if (h[1] != '\n' || (h[2] != ' ' && h[2] != '\t'))
				return false;
			h++;
		} else if (ch == '\n' || (ch < ' ' && ch != '\t')
			   || ch == 127) {
			return false;
		}
	}
	return true;
}

/*
 * smtpd's PREPEND fields (PLUGIN-API: attribute "prepend", a nested list
 * "0", "1", ... in order): each one "name: value" on one line.  The
 * first is to end up topmost, and the last cleanup_prepend_header call
 * is on top, so they go in backwards.
 */
#define CLEANUP_PREPEND_FIELDS 100

static int
cleanup_smtpd_prepend(CLEANUP_STATE *st, const ATTR *frame)
{
	ATTR  *r = attr_alloc();
	VSTR  *why = vstr_alloc(64);
	size_t n;
	int    ret = -1;

	if (attr_get_attr(frame, "prepend", r, why) < 0
	    || (n = attr_count(r)) > CLEANUP_PREPEND_FIELDS)
		goto out;
	for (size_t i = 0; i < n; i++) {
		size_t	    len;
		const char *f = attr_value_at(r, i, &len);
		size_t	    nl = strcspn(f, ": \t");

		if (len == 0 || len > 998 || strlen(f) != len || nl == 0
		    || f[nl] != ':' || !cleanup_text_ok(f))
			goto out;
	}
	for (size_t i = n; i > 0; i--)
		cleanup_prepend_header(st, attr_value_at(r, i - 1, NULL));
	ret = 0;
out:
	attr_free(r);
	vstr_free(why);
	return ret;
}

/* user%domain@local, site!user@local: where Postfix's resolver sends it. */
static void
cleanup_route_rcpt(const CLEANUP_CONF *conf, char **addr)
{
	VSTR *v;

	if (!conf->swap_bangpath && !conf->allow_percent_hack)
		return;
	v = vstr_alloc(64);
	vstr_strcpy(v, *addr);
	cleanup_route_local(conf, v);
	if (strcmp(VSTR_STR(v), *addr) != 0) {
		myfree(*addr);
		*addr = mystrdup(VSTR_STR(v));
	}
	vstr_free(v);
}

/*
 * A recipient that is a good SRS address at srs_domain (a bounce coming
 * back to mail we forwarded) becomes the address it encodes, before any
 * other rewriting, as postsrsd does through recipient_canonical_maps.  A
 * bad one stays as it is (smtpd refuses it at RCPT; mail submitted
 * locally then bounces as an unknown user).  The result is in out, or
 * addr itself.
 */
static const char *
cleanup_srs_rcpt(CLEANUP_STATE *st, const char *addr, VSTR *out)
{
	const SRS  *srs = st->conf->srs;
	const char *at = strrchr(addr, '@');
	VSTR	   *why;
	int	    rc;

	if (srs == NULL || at == NULL
	    || strcasecmp(at + 1, srs_domain(srs)) != 0 || !srs_is_srs(addr))
		return addr;
	why = vstr_alloc(64);
	rc = srs_reverse(srs, addr, time(NULL), out, why);
	if (rc > 0)
		msg_info("%s: srs: <%s> reversed to <%s>", VSTR_STR(st->qid),
			 addr, VSTR_STR(out));
	else if (rc < 0)
		msg_info("%s: srs: <%s> not reversed: %s", VSTR_STR(st->qid),
			 addr, VSTR_STR(why));
	vstr_free(why);
	return rc > 0 ? VSTR_STR(out) : addr;
}

int
cleanup_add_rcpt(CLEANUP_STATE *st, const char *addr, const char *orcpt,
		 int notify)
{
	const CLEANUP_CONF	*conf = st->conf;
	VSTR			*rw = vstr_alloc(64), *why = vstr_alloc(64);
	char		       **list;
	size_t			 n, i, j;
	int			 ret;
	struct cleanup_out_rcpt *r;
	VSTR			*srs = vstr_alloc(64);

	if ((ret = cleanup_rewrite(conf, cleanup_srs_rcpt(st, addr, srs),
				   CLEANUP_REWRITE_RCPT, rw))
	    < 0) {
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: canonical table lookup failure");
	} else if ((ret = cleanup_bcc_lookup(st, conf->recipient_bcc,
					     "recipient_bcc_maps",
					     VSTR_STR(rw)))
		   < 0) {
		/* deferred: cleanup_bcc_lookup said why */
	} else if ((ret = cleanup_virtual(conf, VSTR_STR(rw), &list, &n, why))
		   < 0) {
		msg_warn("%s: %s -- message not accepted", VSTR_STR(st->qid),
			 VSTR_STR(why));
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     ret == -1
				 ? "451 4.3.0 Error: virtual_alias_maps lookup "
				   "failure"
				 : "451 4.6.0 Alias expansion error");
	} else {
		for (i = 0; i < n; i++) {
			cleanup_route_rcpt(conf, &list[i]);
			for (j = 0;
			     j < st->nrcpt
			     && (long long)j < conf->duplicate_filter_limit;
			     j++)
				if (strcasecmp(st->rcpts[j].addr, list[i]) == 0)
					break;
			if (j < st->nrcpt
			    && (long long)j < conf->duplicate_filter_limit)
				continue;
			if (st->nrcpt == st->rcpt_cap) {
				st->rcpt_cap = st->rcpt_cap ? 2 * st->rcpt_cap
							    : 8;
				st->rcpts = myrealloc(st->rcpts,
						      st->rcpt_cap
							  * sizeof(*st->rcpts));
			}
			r = &st->rcpts[st->nrcpt++];
			r->orig = mystrdup(addr);
			r->orcpt = orcpt ? mystrdup(orcpt) : NULL;
			r->notify = notify;
			r->addr = list[i];
			list[i] = NULL;
			/* orig strings never move, even when rcpts does */
			if (st->first_rcpt == NULL)
				st->first_rcpt = r->orig;
		}
		for (i = 0; i < n; i++)
			myfree(list[i]);
		myfree(list);
	}
	vstr_free(rw);
	vstr_free(why);
	vstr_free(srs);
	return ret < 0 ? -1 : 0;
}

/*
 * The after-queue filter smtpd or pickup chose (content_filter or an
 * access table's FILTER), and receive_override_options: what they turn
 * off is taken out of a per-message copy of the configuration, so the
 * code that reads the tables needs no test of its own.  -1: malformed.
 */
static int
cleanup_envelope_filter(CLEANUP_STATE *st, const ATTR *frame)
{
	const char *f = attr_get_str(frame, "filter");
	long long   v;

	if (f != NULL) {
		if (!cleanup_filter_ok(f, strlen(f)))
			return -1;
		vstr_strcpy(st->filter, f);
	} else if (attr_has(frame, "filter")) {
		return -1;
	}
	if (attr_get_int(frame, "receive_override", &v) == 0) {
		if (v < 0 || v > RECEIVE_CLEANUP_BITS)
			return -1;
		st->receive_override = (int)v & RECEIVE_CLEANUP_BITS;
	}
	if (st->receive_override
	    & (RECEIVE_NO_HEADER_BODY_CHECKS | RECEIVE_NO_ADDRESS_MAPPINGS)) {
		CLEANUP_CONF *c = &st->conf_override;

		*c = *st->conf;
		if (st->receive_override & RECEIVE_NO_HEADER_BODY_CHECKS) {
			c->header_checks = c->body_checks = NULL;
			c->mime_header_checks = c->nested_header_checks = NULL;
			c->mime_report_nesting = false;
			c->mime_scan = false;
			st->mime = cleanup_mime_free(st->mime);
		}
		if (st->receive_override & RECEIVE_NO_ADDRESS_MAPPINGS) {
			c->canonical = c->sender_canonical = NULL;
			c->recipient_canonical = c->virtual_alias = NULL;
			c->masquerade_domains = "";
			c->always_bcc = "";
			c->sender_bcc = c->recipient_bcc = NULL;
		}
		st->conf = c;
	}
	if (msg_verbose && st->receive_override)
		msg_info("%s: receive_override:%s%s%s", VSTR_STR(st->qid),
			 (st->receive_override & RECEIVE_NO_HEADER_BODY_CHECKS)
			     ? " no_header_body_checks"
			     : "",
			 (st->receive_override & RECEIVE_NO_MILTERS)
			     ? " no_milters"
			     : "",
			 (st->receive_override & RECEIVE_NO_ADDRESS_MAPPINGS)
			     ? " no_address_mappings"
			     : "");
	return 0;
}

int
cleanup_envelope(CLEANUP_STATE *st, ATTR *frame)
{
	const char *req = attr_get_str(frame, "request"), *sender;
	long long   v, nrcpt, notify;
	ATTR	   *r;
	VSTR	   *why;
	char	    name[32];
	bool	    bad = false;
	long long   i;

	st->env = frame;
	if (req == NULL || strcmp(req, "envelope") != 0
	    || (sender = attr_get_str(frame, "sender")) == NULL
	    || !cleanup_text_ok(sender)
	    || attr_get_int(frame, "nrcpt", &nrcpt) < 0 || nrcpt < 0
	    || nrcpt > CLEANUP_RCPT_MAX)
		return -1;
	if (attr_get_int(frame, "flags", &v) == 0)
		st->flags = (int)v;
	st->origin = cleanup_opt(frame, "origin", &bad);
	st->client_name = cleanup_opt(frame, "client_name", &bad);
	st->client_addr = cleanup_opt(frame, "client_addr", &bad);
	st->client_port = cleanup_opt(frame, "client_port", &bad);
	st->helo = cleanup_opt(frame, "helo", &bad);
	st->protocol = cleanup_opt(frame, "protocol", &bad);
	st->tls_info = cleanup_opt(frame, "tls_info", &bad);
	st->auth_header = cleanup_opt(frame, "auth_header", &bad);
	st->local_uid = cleanup_opt(frame, "local_uid", &bad);
	st->fullname = cleanup_opt(frame, "fullname", &bad);
	st->spf_result = cleanup_opt(frame, "spf_result", &bad);
	st->spf_identity = cleanup_opt(frame, "spf_identity", &bad);
	st->spf_domain = cleanup_opt(frame, "spf_domain", &bad);
	st->spf_header = attr_get_str(frame, "spf_header");
	if (!cleanup_spf_ok(st, frame))
		bad = true;
	(void)cleanup_opt(frame, "envid", &bad);
	(void)cleanup_opt(frame, "sasl_method", &bad);
	(void)cleanup_opt(frame, "sasl_username", &bad);
	st->rewrite_local = attr_get_int(frame, "rewrite_local", &v) == 0 && v;
	if (cleanup_envelope_filter(st, frame) < 0)
		bad = true;
	if (bad)
		return -1;
	if (msg_verbose)
		msg_info("%s: origin=%s role=%s", VSTR_STR(st->qid),
			 st->origin ? st->origin : "unknown",
			 (st->flags & CLEANUP_FLAG_SIGN)
			     ? ((st->flags & CLEANUP_FLAG_VERIFY) ? "both"
								  : "outbound")
			 : (st->flags & CLEANUP_FLAG_VERIFY) ? "inbound"
							     : "none");
	/* AUTH-API 3: below what is prepended later (Authentication-Results). */
	if (st->spf_header)
		cleanup_prepend_header(st, st->spf_header);
	if (attr_has(frame, "prepend") && cleanup_smtpd_prepend(st, frame) < 0)
		return -1;
	if (st->flags & CLEANUP_FLAG_HOLD)
		st->hold = true;
	if (st->flags & CLEANUP_FLAG_DISCARD)
		st->discard = true;
	if (cleanup_rewrite(st->conf, sender, CLEANUP_REWRITE_SENDER,
			    st->sender_buf)
	    < 0)
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: canonical table lookup failure");
	st->sender = VSTR_STR(st->sender_buf);

	r = attr_alloc();
	why = vstr_alloc(64);
	for (i = 0; i < nrcpt && !bad; i++) {
		const char *addr, *orcpt;

		snprintf(name, sizeof(name), "rcpt%lld", i);
		if (attr_get_attr(frame, name, r, why) < 0
		    || (addr = attr_get_str(r, "addr")) == NULL || *addr == 0
		    || !cleanup_text_ok(addr)) {
			bad = true;
			break;
		}
		orcpt = cleanup_opt(r, "orcpt", &bad);
		if (attr_get_int(r, "notify", &notify) < 0)
			notify = 0;
		if (!bad && st->status == CLEANUP_OK)
			(void)cleanup_add_rcpt(st, addr, orcpt, (int)notify);
	}
	attr_free(r);
	vstr_free(why);
	return bad ? -1 : 0;
}

static void
cleanup_put_attr(CLEANUP_STATE *st, const char *name, const char *value)
{
	if (value != NULL)
		rec_putf(st->writer, REC_TYPE_ATTR, "%s=%s", name, value);
}

int
cleanup_write_envelope(CLEANUP_STATE *st)
{
	const ATTR *e = st->env;
	REC_WRITER *w = st->writer;
	const char *envid = attr_get_str(e, "envid");
	long long   v;
	size_t	    i;

	rec_putf(w, REC_TYPE_TIME, "%lld %ld", (long long)st->arrival.tv_sec,
		 (long)st->arrival.tv_usec);
	rec_put(w, REC_TYPE_FROM, st->sender, strlen(st->sender));
	if (envid)
		rec_put(w, REC_TYPE_ENVID, envid, strlen(envid));
	if (attr_get_int(e, "ret", &v) == 0 && v != 0)
		rec_putf(w, REC_TYPE_RET, "%s", v == 2 ? "HDRS" : "FULL");
	cleanup_put_attr(st, "client_name", st->client_name);
	cleanup_put_attr(st, "client_address", st->client_addr);
	cleanup_put_attr(st, "client_port", st->client_port);
	cleanup_put_attr(st, "helo_name", st->helo);
	cleanup_put_attr(st, "protocol_name", st->protocol);
	cleanup_put_attr(st, "sasl_method", attr_get_str(e, "sasl_method"));
	cleanup_put_attr(st, "sasl_username", attr_get_str(e, "sasl_username"));
	cleanup_put_attr(st, "origin", st->origin);
	cleanup_put_attr(st, "local_uid", st->local_uid);
	cleanup_put_attr(st, "rewrite_context",
			 st->rewrite_local ? "local" : "remote");
	if (attr_get_int(e, "body_type", &v) == 0 && v != 0)
		cleanup_put_attr(st, "body_type", v == 2 ? "8BITMIME" : "7BIT");
	if (attr_get_int(e, "smtputf8", &v) == 0 && v != 0)
		cleanup_put_attr(st, "smtputf8", "yes");
	/* RFC 8689: the message must leave only over verified TLS. */
	if (attr_get_int(e, "requiretls", &v) == 0 && v != 0)
		cleanup_put_attr(st, "requiretls", "yes");
	for (i = 0; i < st->nrcpt; i++) {
		const struct cleanup_out_rcpt *r = &st->rcpts[i];

		rec_put(w, REC_TYPE_ORIG, r->orig, strlen(r->orig));
		if (r->orcpt)
			rec_put(w, REC_TYPE_ORCPT, r->orcpt, strlen(r->orcpt));
		if (r->notify)
			rec_putf(w, REC_TYPE_NOTIFY, "%d", r->notify);
		rec_put(w, REC_TYPE_RCPT, r->addr, strlen(r->addr));
	}
	return 0;
}
