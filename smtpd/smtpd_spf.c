/*
 * smtpd_spf - libspf2 glue: the DNS layer over util/dns, one SPF check,
 * the Received-SPF field.  The only file that includes libspf2.
 *
 * libspf2 is driven below its query entry points on purpose: those give
 * every loopback client an automatic "pass" (SPF_REASON_LOCALHOST), but
 * smtpd checks only inbound clients, and an inbound client on loopback
 * (a proxy, a test) deserves its real result.  So the check fetches the
 * record (through this layer's get_spf) and runs SPF_record_interpret
 * itself.  get_spf also fixes two details of libspf2's own record
 * selection: no query for the obsolete type 99 (RFC 7208 3.1), and a
 * record that is just "v=spf1" counts (RFC 7208 4.5).
 *
 * Errors: see smtpd_spf.h.  libspf2's own messages go to the log
 * (warnings as warnings, the rest under -v); its "impossible" errors are
 * fatal for the process, as an allocator failure is.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <spf2/spf.h>

#include "smtpd/smtpd_spf.h"
#include "util/dns.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

/*
 * Bounds.  libspf2 limits mechanisms (10), MX and PTR names (10 each);
 * this caps the queries of one check on top, so a hostile record cannot
 * keep a session busy for longer than this many resolver timeouts.
 */
#define SPF_QUERY_MAX 120
#define SPF_RR_MAX    DNS_RR_MAX
#define SPF_VALUE_MAX 400 /* a value quoted in the header or a reply */
#define SPF_FOLD_AT   78

/* The explanation when a domain gives none (a macro-string, RFC 7208 7). */
#define SPF_DEFAULT_EXPLANATION \
	"%{i}%_is%_not%_a%_designated%_mail%_server%_for%_%{d}"

struct SMTPD_SPF {
	SPF_server_t	   *server;
	SPF_dns_server_t   *layer; /* ours: libspf2 does not free it */
	smtpd_spf_lookup_fn lookup;
	void		   *ctx;
	DNS_REPLY	   *reply;
	VSTR		   *why;
	char		   *receiver;
	int		    queries; /* this check's, up to SPF_QUERY_MAX */
	SPF_request_t	   *req;     /* the check under way (get_exp) */
	SPF_response_t	   *resp;
};

/* libspf2's messages. */

/* libspf2's handler type carries the attribute: _Noreturn is not enough. */
static void spf_log_error(const char *file, int line, const char *text)
    __attribute__((noreturn));

static void
spf_log_error(const char *file, int line, const char *text)
{
	msg_fatal("libspf2: %s:%d: %s", file ? file : "?", line,
		  text ? text : "");
}

static void
spf_log_warning(const char *file, int line, const char *text)
{
	(void)file;
	(void)line;
	msg_warn("libspf2: %s", text ? text : "");
}

static void
spf_log_info(const char *file, int line, const char *text)
{
	(void)file;
	(void)line;
	if (msg_verbose)
		msg_info("libspf2: %s", text ? text : "");
}

static void
spf_log_debug(const char *file, int line, const char *text)
{
	(void)file;
	(void)line;
	if (msg_verbose > 1)
		msg_info("libspf2 debug: %s", text ? text : "");
}

/* Names. */

static const char *
spf_result_name(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_PASS:
		return "pass";
	case SPF_RESULT_FAIL:
		return "fail";
	case SPF_RESULT_SOFTFAIL:
		return "softfail";
	case SPF_RESULT_NEUTRAL:
		return "neutral";
	case SPF_RESULT_NONE:
		return "none";
	case SPF_RESULT_PERMERROR:
		return "permerror";
	case SPF_RESULT_TEMPERROR:
	case SPF_RESULT_INVALID:
	default:
		return "temperror";
	}
}

bool
smtpd_spf_domain_ok(const char *domain)
{
	size_t len = domain ? strlen(domain) : 0;
	size_t label = 0;
	int    labels = 1;

	if (len == 0 || len > 253 || domain[0] == '.' || domain[0] == '[')
		return false;
	for (const char *cp = domain; *cp; cp++) {
		unsigned char ch = (unsigned char)*cp;

		if (ch == '.') {
			if (label == 0)
				return false;
			if (cp[1] == 0)
				break; /* one final dot */
			label = 0;
			labels++;
			continue;
		}
		if (ch <= ' ' || ch >= 0x7f || ++label > 63)
			return false;
	}
	return labels >= 2;
}

/* The DNS layer. */

struct SPF_dns_rr_struct *
smtpd_spf_dns_rr(struct SPF_dns_server_struct *layer, const char *domain,
		 int type, enum dns_status status, const DNS_REPLY *reply)
{
	SPF_dns_rr_t *rr;
	int	      herrno;
	unsigned      ttl = 0;
	int	      n = 0;

	switch (status) {
	case DNS_OK:
		herrno = NETDB_SUCCESS;
		break;
	case DNS_NOTFOUND:
		/* RCODE 3 is "no such domain", anything else "no records". */
		herrno = reply != NULL && reply->rcode == 3 ? HOST_NOT_FOUND
							    : NO_DATA;
		break;
	case DNS_TEMPFAIL:
	default:
		herrno = TRY_AGAIN;
		break;
	}
	rr = SPF_dns_rr_new_init(layer, domain, (ns_type)type, 0, herrno);
	if (rr == NULL || status != DNS_OK || reply == NULL)
		return rr;
	for (size_t i = 0; i < reply->count && n < SPF_RR_MAX; i++) {
		const DNS_RR *r = &reply->rr[i];
		size_t	      len = VSTR_LEN(r->data);

		if (r->type != type)
			continue;
		switch (type) {
		case DNS_TYPE_A:
		case DNS_TYPE_AAAA:
			if (SPF_dns_rr_buf_realloc(rr, n,
						   sizeof(SPF_dns_rr_data_t))
			    != SPF_E_SUCCESS)
				goto nomem;
			if (type == DNS_TYPE_A)
				memcpy(&rr->rr[n]->a, r->addr, 4);
			else
				memcpy(&rr->rr[n]->aaaa, r->addr, 16);
			break;
		case DNS_TYPE_MX:
		case DNS_TYPE_PTR:
		case DNS_TYPE_TXT:
			/* A null MX names no host: nothing to match. */
			if (type != DNS_TYPE_TXT && len == 0)
				continue;
			if (SPF_dns_rr_buf_realloc(rr, n, len + 1)
			    != SPF_E_SUCCESS)
				goto nomem;
			/* An embedded NUL ends the text, never overruns. */
			memcpy(rr->rr[n]->txt, VSTR_STR(r->data), len);
			rr->rr[n]->txt[len] = 0;
			break;
		default:
			continue;
		}
		if (n == 0 || r->ttl < ttl)
			ttl = r->ttl;
		n++;
	}
	rr->num_rr = n;
	rr->ttl = (time_t)ttl;
	if (n == 0)
		rr->herrno = NO_DATA;
	return rr;
nomem:
	SPF_dns_rr_free(rr);
	return NULL;
}

static SPF_dns_rr_t *
spf_layer_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type,
		 int should_cache)
{
	SMTPD_SPF      *spf = layer->hook;
	enum dns_status st;
	SPF_dns_rr_t   *rr;

	(void)should_cache;
	switch ((int)type) {
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
	case DNS_TYPE_MX:
	case DNS_TYPE_TXT:
	case DNS_TYPE_PTR:
		break;
	default:
		/* Type 99 and anything else: no such records, no query. */
		return smtpd_spf_dns_rr(layer, domain, (int)type, DNS_NOTFOUND,
					NULL);
	}
	if (domain == NULL || *domain == 0) {
		st = DNS_NOTFOUND;
		spf->reply->rcode = 3;
	} else if (spf->queries >= SPF_QUERY_MAX) {
		if (spf->queries++ == SPF_QUERY_MAX)
			msg_warn("SPF: more than %d DNS queries for one check; "
				 "the rest fail as temporary errors",
				 SPF_QUERY_MAX);
		st = DNS_TEMPFAIL;
	} else {
		spf->queries++;
		st = spf->lookup(spf->ctx, domain, (int)type, spf->reply,
				 spf->why);
		if (msg_verbose > 1)
			msg_info("SPF: %s type %d: %s", domain, (int)type,
				 st == DNS_OK ? "found" : VSTR_STR(spf->why));
	}
	rr = smtpd_spf_dns_rr(layer, domain, (int)type, st, spf->reply);
	if (rr == NULL)
		msg_fatal("SPF: out of memory");
	return rr;
}

/* RFC 7208 4.5: "v=spf1" followed by a space or the end. */
static bool
spf_is_record(const char *txt)
{
	return strncasecmp(txt, "v=spf1", 6) == 0
	       && (txt[6] == 0 || txt[6] == ' ');
}

static SPF_errcode_t
spf_layer_get_spf(SPF_server_t *server, SPF_request_t *req,
		  SPF_response_t *resp, SPF_record_t **recp)
{
	const char   *domain = req->cur_dom;
	SPF_dns_rr_t *rr;
	SPF_errcode_t err;
	int	      found = 0, idx = 0;

	*recp = NULL;
	/* RFC 7208 4.3: no valid domain, no record (include: permerror). */
	if (!smtpd_spf_domain_ok(domain))
		return SPF_response_add_error(resp, SPF_E_NOT_SPF,
					      "not a valid domain name");
	rr = spf_layer_lookup(server->resolver, domain, ns_t_txt, 1);
	if (rr->herrno == TRY_AGAIN) {
		SPF_dns_rr_free(rr);
		return SPF_response_add_error(resp, SPF_E_DNS_ERROR,
					      "temporary DNS failure for '%s'",
					      domain);
	}
	for (int i = 0; i < rr->num_rr; i++)
		if (spf_is_record(rr->rr[i]->txt)) {
			found++;
			idx = i;
		}
	if (found != 1) {
		SPF_dns_rr_free(rr);
		return SPF_response_add_error(resp,
					      found ? SPF_E_MULTIPLE_RECORDS
						    : SPF_E_NOT_SPF,
					      "%s SPF records for '%s'",
					      found ? "multiple" : "no",
					      domain);
	}
	err = SPF_record_compile(server, resp, recp, rr->rr[idx]->txt);
	SPF_dns_rr_free(rr);
	if (err != SPF_E_SUCCESS) {
		if (*recp)
			SPF_record_free(*recp);
		*recp = NULL;
		/* Those two mean "none" and "temperror" to the caller. */
		if (err == SPF_E_NOT_SPF || err == SPF_E_DNS_ERROR)
			err = SPF_E_SYNTAX;
		return SPF_response_add_error(resp, err,
					      "invalid SPF record for '%s'",
					      domain);
	}
	return SPF_E_SUCCESS;
}

/* The explanation macro's data follows its header (spf_record.h). */
static SPF_errcode_t
spf_expand_macro(SMTPD_SPF *spf, SPF_macro_t *macro, char **bufp,
		 size_t *buflenp)
{
	SPF_data_t *data = (SPF_data_t *)(void *)((char *)macro
						  + sizeof(*macro));

	return SPF_record_expand_data(spf->server, spf->req, spf->resp, data,
				      macro->macro_len, bufp, buflenp);
}

/*
 * exp= (RFC 7208 6.2): the TXT record at the named domain, macros
 * expanded.  libspf2's own path mangles an explanation with spaces (SP
 * is not a macro-literal, but explain-string allows it), so spaces
 * become "%_" before it is compiled.  No single record, or one that does
 * not compile: the default explanation.
 */
static SPF_errcode_t
spf_layer_get_exp(SPF_server_t *server, const char *domain, char **bufp,
		  size_t *buflenp)
{
	SMTPD_SPF    *spf = server->resolver->hook;
	SPF_dns_rr_t *rr;
	SPF_macro_t  *macro = NULL;
	SPF_errcode_t err = SPF_E_NOT_SPF;
	VSTR	     *text;

	if (spf->req == NULL || spf->resp == NULL)
		return SPF_E_NOT_CONFIG;
	rr = spf_layer_lookup(server->resolver, domain, ns_t_txt, 1);
	if (rr->herrno == NETDB_SUCCESS && rr->num_rr == 1) {
		text = vstr_alloc(128);
		for (const char *cp = rr->rr[0]->txt;
		     *cp && VSTR_LEN(text) < 2 * SPF_VALUE_MAX; cp++) {
			if (*cp == ' ')
				vstr_strcat(text, "%_");
			else
				vstr_addch(text, *cp);
		}
		err = SPF_record_compile_macro(server, spf->resp, &macro,
					       VSTR_STR(text));
		vstr_free(text);
	}
	SPF_dns_rr_free(rr);
	if (err == SPF_E_SUCCESS)
		err = spf_expand_macro(spf, macro, bufp, buflenp);
	else if (server->explanation)
		err = spf_expand_macro(spf, server->explanation, bufp, buflenp);
	if (macro)
		SPF_macro_free(macro);
	return err;
}

/* Set-up. */

SMTPD_SPF *
smtpd_spf_create(const char *receiver, smtpd_spf_lookup_fn lookup, void *ctx,
		 VSTR *why)
{
	SMTPD_SPF      *spf = mycalloc(1, sizeof(*spf));
	SPF_response_t *resp = NULL;

	SPF_error_handler = spf_log_error;
	SPF_warning_handler = spf_log_warning;
	SPF_info_handler = spf_log_info;
	SPF_debug_handler = spf_log_debug;

	spf->lookup = lookup;
	spf->ctx = ctx;
	spf->reply = dns_reply_alloc();
	spf->why = vstr_alloc(64);
	spf->receiver = mystrdup(receiver && *receiver ? receiver : "unknown");
	spf->layer = mycalloc(1, sizeof(*spf->layer));
	spf->layer->destroy = NULL; /* ours, see smtpd_spf_free */
	spf->layer->lookup = spf_layer_lookup;
	spf->layer->get_spf = spf_layer_get_spf;
	spf->layer->get_exp = spf_layer_get_exp;
	spf->layer->name = "postel";
	spf->layer->hook = spf;
	if ((spf->server = SPF_server_new_dns(spf->layer, 0)) == NULL
	    || SPF_server_set_rec_dom(spf->server, spf->receiver)
		   != SPF_E_SUCCESS
	    || SPF_server_set_explanation(spf->server, SPF_DEFAULT_EXPLANATION,
					  &resp)
		   != SPF_E_SUCCESS) {
		vstr_strcpy(why, "SPF: cannot set up libspf2");
		if (resp)
			SPF_response_free(resp);
		return smtpd_spf_free(spf);
	}
	if (resp)
		SPF_response_free(resp);
	return spf;
}

SMTPD_SPF *
smtpd_spf_free(SMTPD_SPF *spf)
{
	if (spf == NULL)
		return NULL;
	if (spf->server)
		SPF_server_free(spf->server);
	myfree(spf->layer);
	dns_reply_free(spf->reply);
	vstr_free(spf->why);
	myfree(spf->receiver);
	myfree(spf);
	return NULL;
}

void
smtpd_spf_outcome_init(struct smtpd_spf_outcome *o)
{
	o->result = NULL;
	o->identity = NULL;
	o->domain = vstr_alloc(64);
	o->explanation = vstr_alloc(64);
	o->header = vstr_alloc(256);
}

void
smtpd_spf_outcome_reset(struct smtpd_spf_outcome *o)
{
	o->result = NULL;
	o->identity = NULL;
	vstr_reset(o->domain);
	vstr_reset(o->explanation);
	vstr_reset(o->header);
}

void
smtpd_spf_outcome_free(struct smtpd_spf_outcome *o)
{
	o->domain = vstr_free(o->domain);
	o->explanation = vstr_free(o->explanation);
	o->header = vstr_free(o->header);
	o->result = o->identity = NULL;
}

/* The Received-SPF field. */

/* Peer text, bounded, with anything unprintable as '?'. */
static void
spf_printable(VSTR *out, const char *text, bool comment)
{
	size_t n = 0;

	for (const char *cp = text; *cp && n < SPF_VALUE_MAX; cp++, n++) {
		unsigned char ch = (unsigned char)*cp;

		if (ch < ' ' || ch >= 0x7f)
			ch = '?';
		/* RFC 5322 ccontent: parentheses and backslash are quoted. */
		if (comment && (ch == '(' || ch == ')' || ch == '\\'))
			vstr_addch(out, '\\');
		vstr_addch(out, ch);
	}
}

static bool
spf_atext(unsigned char ch)
{
	return isalnum(ch) || (ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch));
}

/* RFC 5322 dot-atom-text. */
static bool
spf_dot_atom(const char *s)
{
	bool prev_dot = true;

	if (*s == 0)
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (prev_dot)
				return false;
			prev_dot = true;
		} else if (spf_atext((unsigned char)*s)) {
			prev_dot = false;
		} else {
			return false;
		}
	}
	return !prev_dot;
}

/* value = dot-atom / quoted-string, from printable text. */
static void
spf_value(VSTR *out, const char *text)
{
	VSTR *v = vstr_alloc(64);

	spf_printable(v, text, false);
	if (spf_dot_atom(VSTR_STR(v))) {
		vstr_strcat(out, VSTR_STR(v));
	} else {
		vstr_addch(out, '"');
		for (const char *cp = VSTR_STR(v); *cp; cp++) {
			if (*cp == '"' || *cp == '\\')
				vstr_addch(out, '\\');
			vstr_addch(out, *cp);
		}
		vstr_addch(out, '"');
	}
	vstr_free(v);
}

/* Append a part, folding before it when the line would grow too long. */
static void
spf_part(VSTR *out, size_t *line_start, const char *part)
{
	size_t plen = strlen(part);

	if (VSTR_LEN(out) - *line_start + 1 + plen > SPF_FOLD_AT) {
		vstr_strcat(out, "\r\n\t");
		*line_start = VSTR_LEN(out) - 1;
	} else {
		vstr_addch(out, ' ');
	}
	vstr_strcat(out, part);
}

void
smtpd_spf_header(VSTR *out, const struct smtpd_spf_hdr *h)
{
	static const char *const keys[] = {
		"client-ip", "envelope-from", "helo",	   "problem",
		"receiver",  "identity",      "mechanism",
	};
	const char *vals[] = {
		h->client_ip, h->envelope_from, h->helo,      h->problem,
		h->receiver,  h->identity,	h->mechanism,
	};
	VSTR  *part = vstr_alloc(128);
	size_t line_start = 0;

	vstr_strcpy(out, "Received-SPF:");
	vstr_reset(part);
	if (h->result && spf_dot_atom(h->result) && strlen(h->result) < 16)
		vstr_strcat(part, h->result);
	else
		vstr_strcat(part, "permerror");
	spf_part(out, &line_start, VSTR_STR(part));
	if (h->comment && *h->comment) {
		vstr_strcpy(part, "(");
		spf_printable(part, h->comment, true);
		vstr_strcat(part, ")");
		spf_part(out, &line_start, VSTR_STR(part));
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		if (vals[i] == NULL)
			continue;
		vstr_sprintf(part, "%s=", keys[i]);
		spf_value(part, vals[i]);
		vstr_addch(part, ';');
		spf_part(out, &line_start, VSTR_STR(part));
	}
	vstr_free(part);
}

/* One check. */

static void
spf_comment(VSTR *out, const char *receiver, const char *result,
	    const char *who, const char *ip)
{
	vstr_sprintf(out, "%s: ", receiver);
	if (strcmp(result, "pass") == 0)
		vstr_sprintf_append(out, "%s designates %s as permitted sender",
				    who, ip);
	else if (strcmp(result, "fail") == 0)
		vstr_sprintf_append(out,
				    "%s does not designate %s as permitted "
				    "sender",
				    who, ip);
	else if (strcmp(result, "softfail") == 0)
		vstr_sprintf_append(out,
				    "transitioning %s does not designate %s "
				    "as permitted sender",
				    who, ip);
	else if (strcmp(result, "neutral") == 0)
		vstr_sprintf_append(out,
				    "%s is neither permitted nor denied by %s",
				    ip, who);
	else if (strcmp(result, "none") == 0)
		vstr_sprintf_append(out, "%s does not provide an SPF record",
				    who);
	else if (strcmp(result, "temperror") == 0)
		vstr_sprintf_append(out,
				    "temporary error during SPF processing "
				    "of %s",
				    who);
	else
		vstr_sprintf_append(out,
				    "permanent error in processing during "
				    "lookup of %s",
				    who);
}

/* Client address into the request; IPv4-mapped IPv6 counts as IPv4. */
static int
spf_set_ip(SPF_request_t *req, const char *addr)
{
	struct in_addr	a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return SPF_request_set_ipv4(req, a4) == SPF_E_SUCCESS ? 0 : -1;
	if (inet_pton(AF_INET6, addr, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, a6.s6_addr + 12, 4);
		return SPF_request_set_ipv4(req, a4) == SPF_E_SUCCESS ? 0 : -1;
	}
	return SPF_request_set_ipv6(req, a6) == SPF_E_SUCCESS ? 0 : -1;
}

int
smtpd_spf_check(SMTPD_SPF *spf, const struct smtpd_spf_query *q,
		struct smtpd_spf_outcome *o)
{
	bool		     null_sender = q->sender == NULL || *q->sender == 0;
	const char	    *helo = q->helo && *q->helo ? q->helo : NULL;
	const char	    *domain, *at;
	const char	    *mechanism = NULL, *problem = NULL;
	SPF_request_t	    *req = NULL;
	SPF_response_t	    *resp = NULL;
	SPF_record_t	    *rec = NULL;
	SPF_errcode_t	     err;
	SPF_result_t	     res = SPF_RESULT_NONE;
	VSTR		    *who = vstr_alloc(64), *comment = vstr_alloc(128);
	struct smtpd_spf_hdr h;

	smtpd_spf_outcome_reset(o);
	if ((null_sender && helo == NULL) || q->client_addr == NULL) {
		vstr_free(who);
		vstr_free(comment);
		return -1;
	}
	if (null_sender) {
		o->identity = "helo";
		domain = helo;
	} else {
		o->identity = "mailfrom";
		at = strrchr(q->sender, '@');
		domain = at ? at + 1 : "";
	}
	spf_printable(o->domain, domain, false);
	vstr_lower(o->domain);
	if (VSTR_LEN(o->domain) && VSTR_END(o->domain)[-1] == '.')
		vstr_truncate(o->domain, VSTR_LEN(o->domain) - 1);
	vstr_strcpy(who, "domain of ");
	spf_printable(who, null_sender ? helo : q->sender, false);
	spf->queries = 0;

	req = SPF_request_new(spf->server);
	if (req == NULL)
		msg_fatal("SPF: out of memory");
	if (!smtpd_spf_domain_ok(VSTR_STR(o->domain))) {
		/* RFC 7208 4.3: a malformed domain gives "none". */
		res = SPF_RESULT_NONE;
		problem = "not a valid domain name";
	} else if (spf_set_ip(req, q->client_addr) < 0) {
		res = SPF_RESULT_PERMERROR;
		problem = "bad client address";
	} else if ((helo && SPF_request_set_helo_dom(req, helo) != 0)
		   || SPF_request_set_env_from(req,
					       null_sender ? "" : q->sender)
			  != 0
		   || (resp = SPF_response_new(req)) == NULL) {
		res = SPF_RESULT_TEMPERROR;
		problem = "out of memory";
	} else {
		req->use_helo = null_sender;
		req->cur_dom = VSTR_STR(o->domain);
		spf->req = req;
		spf->resp = resp;
		err = SPF_server_get_record(spf->server, req, resp, &rec);
		if (err == SPF_E_SUCCESS) {
			resp->spf_record_exp = rec;
			(void)SPF_record_interpret(rec, req, resp, 0);
			SPF_record_free(rec);
			resp->spf_record_exp = NULL;
			res = SPF_response_result(resp);
			if (res == SPF_RESULT_INVALID)
				res = SPF_RESULT_TEMPERROR;
			if (SPF_response_reason(resp) == SPF_REASON_DEFAULT)
				mechanism = "default";
			if (res == SPF_RESULT_PERMERROR)
				problem = SPF_strerror(
				    SPF_response_errcode(resp));
		} else if (err == SPF_E_DNS_ERROR) {
			res = SPF_RESULT_TEMPERROR;
		} else if (err == SPF_E_NOT_SPF) {
			res = SPF_RESULT_NONE;
		} else {
			res = SPF_RESULT_PERMERROR;
			problem = SPF_strerror(err);
		}
	}
	spf->req = NULL;
	spf->resp = NULL;
	o->result = spf_result_name(res);
	switch (res) {
	case SPF_RESULT_FAIL:
	case SPF_RESULT_SOFTFAIL:
		if (resp && SPF_response_get_explanation(resp))
			spf_printable(o->explanation,
				      SPF_response_get_explanation(resp),
				      false);
		break;
	case SPF_RESULT_PERMERROR:
		vstr_strcpy(o->explanation, problem ? problem : "permerror");
		break;
	case SPF_RESULT_TEMPERROR:
		vstr_strcpy(o->explanation, "temporary DNS failure");
		break;
	default:
		break;
	}
	spf_comment(comment, spf->receiver, o->result, VSTR_STR(who),
		    q->client_addr);
	memset(&h, 0, sizeof(h));
	h.result = o->result;
	h.comment = VSTR_STR(comment);
	h.client_ip = q->client_addr;
	h.envelope_from = q->sender ? q->sender : "";
	h.helo = helo;
	h.problem = res == SPF_RESULT_PERMERROR ? problem : NULL;
	h.receiver = spf->receiver;
	h.identity = o->identity;
	h.mechanism = mechanism;
	smtpd_spf_header(o->header, &h);
	if (resp)
		SPF_response_free(resp);
	SPF_request_free(req);
	vstr_free(who);
	vstr_free(comment);
	return 0;
}
