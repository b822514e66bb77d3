/*
 * smtp_sasl - SASL AUTH in the SMTP client (RFC 4954).
 *
 * With smtp_sasl_auth_enable, after EHLO (and STARTTLS, when the TLS code
 * did it) the client looks for credentials in smtp_sasl_password_maps
 * ("user:password") under the request's next hop as written
 * ("[relay.example]:587"), then the server's name, "[name]:port" and
 * "[name]".  No entry, or a server without AUTH: mail goes out without
 * AUTH, as in Postfix.
 *
 * Credentials never cross a plaintext connection by accident: outside
 * TLS the smtp_sasl_security_options apply (default noplaintext,
 * noanonymous), which rule out PLAIN and LOGIN; inside TLS the
 * smtp_sasl_tls_security_options do.  When the server's mechanisms and
 * those options leave nothing, the recipients are deferred (4.7.0) and
 * the next server is tried, rather than sending mail unauthenticated to
 * a relay that wants AUTH.  The AUTH lines are written without the
 * verbose trace so that no secret reaches the log.
 *
 * Errors: configuration problems are fatal in pre_jail; everything else
 * becomes a recipient result.
 *
 * Ownership: st->sasl is released by smtp_sasl_free.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp.h"
#include "util/dict.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sasl.h"
#include "util/strutil.h"
#include "util/vstr.h"

#define SMTP_SASL_ROUNDS 10

struct smtp_sasl {
	DICT_LIST  *passwords; /* NULL: none configured */
	const char *security;
	const char *tls_security;
	const char *filter; /* smtp_sasl_mechanism_filter */
};

/* The name of an smtp_X parameter for this client (smtp_param.c). */
#define P(name) smtp_param(st->conf.lmtp, (name))

void
smtp_sasl_init(SMTP_STATE *st, const CFG *cfg)
{
	struct smtp_sasl *sa;
	const char	 *maps;
	const char	 *type;
	VSTR		 *why;
	unsigned	  flags;

	if (!cfg_get_bool(cfg, P("smtp_sasl_auth_enable")))
		return;
	why = vstr_alloc(64);
	type = cfg_get_str(cfg, P("smtp_sasl_type"));
	if (strcasecmp(type, "cyrus") != 0)
		msg_fatal_status(78, "unsupported %s \"%s\" (only cyrus)",
				 P("smtp_sasl_type"), type);
	sa = mycalloc(1, sizeof(*sa));
	sa->security = cfg_get_str(cfg, P("smtp_sasl_security_options"));
	sa->tls_security = cfg_get_str(cfg,
				       P("smtp_sasl_tls_security_options"));
	sa->filter = cfg_get_str(cfg, P("smtp_sasl_mechanism_filter"));
	if (sasl_cyrus_security_parse(sa->security, &flags, why) < 0
	    || sasl_cyrus_security_parse(sa->tls_security, &flags, why) < 0)
		msg_fatal_status(78, "%s: %s",
				 st->conf.lmtp ? "lmtp_sasl_*security_options"
					       : "smtp_sasl_*security_options",
				 VSTR_STR(why));
	maps = cfg_get_str(cfg, P("smtp_sasl_password_maps"));
	if (strspn(maps, " \t\r\n,") != strlen(maps)
	    && (sa->passwords = dict_list_open(maps, DICT_FLAG_FOLD, why))
		   == NULL)
		msg_fatal_status(78, "%s: %s", P("smtp_sasl_password_maps"),
				 VSTR_STR(why));
	if (sasl_cyrus_client_init(why) < 0)
		msg_fatal_status(78, "%s", VSTR_STR(why));
	vstr_free(why);
	st->sasl = sa;
}

void
smtp_sasl_free(SMTP_STATE *st)
{
	if (st->sasl == NULL)
		return;
	dict_list_close(st->sasl->passwords);
	myfree(st->sasl);
	st->sasl = NULL;
}

/* "user:password" for this server: 1 found, 0 none, -1 table error. */
static int
smtp_sasl_lookup(struct smtp_sasl *sa, SMTP_SESSION *s, const char **value)
{
	VSTR *key = vstr_alloc(64);
	int   rc = 0;

	if (sa->passwords == NULL)
		goto out;
	rc = dict_list_lookup(sa->passwords, VSTR_STR(s->nexthop), value);
	if (rc == 0)
		rc = dict_list_lookup(sa->passwords, VSTR_STR(s->host), value);
	if (rc == 0) {
		vstr_sprintf(key, "[%s]:%d", VSTR_STR(s->host), s->port);
		rc = dict_list_lookup(sa->passwords, VSTR_STR(key), value);
	}
	if (rc == 0) {
		vstr_sprintf(key, "[%s]", VSTR_STR(s->host));
		rc = dict_list_lookup(sa->passwords, VSTR_STR(key), value);
	}
out:
	vstr_free(key);
	return rc;
}

/* The server's mechanisms that smtp_sasl_mechanism_filter lets through. */
static void
smtp_sasl_filter(const char *filter, const char *offered, VSTR *out)
{
	char *copy = mystrdup(offered);
	char *cp = copy;
	char *mech;

	vstr_reset(out);
	while ((mech = str_token(&cp, " \t")) != NULL) {
		bool  ok = *filter == 0;
		char *fcopy = mystrdup(filter);
		char *fp = fcopy;
		char *word;

		while (!ok && (word = str_token(&fp, STR_SEP_LIST)) != NULL)
			ok = strcasecmp(word, mech) == 0;
		myfree(fcopy);
		if (ok) {
			if (VSTR_LEN(out))
				vstr_addch(out, ' ');
			vstr_strcat(out, mech);
		}
	}
	myfree(copy);
}

static enum smtp_step
smtp_sasl_failed(SMTP_SESSION *s, SMTP_DELIVERY *d, const SMTP_REPLY *r,
		 const char *why)
{
	if (r)
		smtp_rcpt_all(d, false, DELIVER_DEFERRED, "4.7.0", s, r,
			      "SASL authentication failed; server %s said: "
			      "%d %s",
			      VSTR_STR(s->namaddr), r->code, VSTR_STR(r->text));
	else
		smtp_rcpt_all(d, false, DELIVER_DEFERRED, "4.7.0", s, NULL,
			      "SASL authentication failed; cannot "
			      "authenticate to server %s: %s",
			      VSTR_STR(s->namaddr), why);
	return SMTP_STEP_NEXT;
}

/* Write one AUTH line (no trace: it carries secrets); 0 or -1. */
static int
smtp_sasl_send(SMTP_STATE *st, SMTP_SESSION *s, VSTR *line)
{
	int ret;

	vstr_memcat(line, "\r\n", 2);
	ret = smtp_session_write(s, VSTR_STR(line), VSTR_LEN(line),
				 st->conf.helo_timeout);
	explicit_bzero(VSTR_STR(line), VSTR_LEN(line));
	vstr_reset(line);
	return ret;
}

enum smtp_step
smtp_sasl_auth(SMTP_STATE *st, SMTP_SESSION *s, SMTP_DELIVERY *d)
{
	struct smtp_sasl *sa = st->sasl;
	const char	 *offered;
	const char	 *cred;
	const char	 *mech;
	const char	 *colon;
	char		 *user = NULL;
	SASL_CLIENT	 *c = NULL;
	VSTR		 *mechs = NULL;
	VSTR		 *out = NULL;
	VSTR		 *in = NULL;
	VSTR		 *line = NULL;
	VSTR		 *why = NULL;
	enum sasl_step	  step;
	enum smtp_step	  ret = SMTP_STEP_OK;
	bool		  has_out;
	int		  rc;

	if (sa == NULL || !(s->features & SMTP_FEATURE_AUTH)
	    || (offered = smtp_reply_ehlo_find(s->reply, "AUTH")) == NULL)
		return SMTP_STEP_OK;
	if ((rc = smtp_sasl_lookup(sa, s, &cred)) <= 0) {
		if (rc < 0) {
			smtp_rcpt_all(d, false, DELIVER_DEFERRED, "4.3.0", s,
				      NULL, "%s lookup error for %s",
				      P("smtp_sasl_password_maps"),
				      VSTR_STR(s->namaddr));
			return SMTP_STEP_NEXT;
		}
		return SMTP_STEP_OK;
	}
	mechs = vstr_alloc(64);
	out = vstr_alloc(128);
	in = vstr_alloc(128);
	line = vstr_alloc(128);
	why = vstr_alloc(64);
	smtp_sasl_filter(sa->filter, offered, mechs);
	colon = strchr(cred, ':');
	user = mystrndup(cred, colon ? (size_t)(colon - cred) : strlen(cred));
	c = sasl_cyrus_client_create("smtp", VSTR_STR(s->host), user,
				     colon ? colon + 1 : "",
				     s->tls ? sa->tls_security : sa->security,
				     why);
	if (c == NULL) {
		ret = smtp_sasl_failed(s, d, NULL, VSTR_STR(why));
		goto out;
	}
	/* Cyrus picks the strongest mechanism that the options allow. */
	step = sasl_cyrus_client_start(c, VSTR_STR(mechs), &mech, out, &has_out,
				       why);
	if (step == SASL_STEP_FAIL || mech == NULL) {
		ret = smtp_sasl_failed(s, d, NULL, "no mechanism available");
		goto out;
	}
	vstr_sprintf(line, "AUTH %s", mech);
	if (has_out) {
		vstr_addch(line, ' ');
		if (VSTR_LEN(out) == 0)
			vstr_addch(line, '=');
		else
			sasl_proto_base64_encode(line, VSTR_STR(out),
						 VSTR_LEN(out));
	}
	for (int round = 0;; round++) {
		if (smtp_sasl_send(st, s, line) < 0
		    || smtp_session_read(s, st->conf.helo_timeout) < 0) {
			s->broken = true;
			smtp_rcpt_all(d, false, DELIVER_DEFERRED,
				      errno == ETIMEDOUT ? "4.4.2" : "4.4.1", s,
				      NULL,
				      "lost connection with %s "
				      "while performing SASL authentication",
				      VSTR_STR(s->namaddr));
			ret = SMTP_STEP_NEXT;
			goto out;
		}
		if (s->reply->code != 334)
			break;
		/* Every mechanism we use ends in a few rounds. */
		if (round >= SMTP_SASL_ROUNDS) {
			vstr_strcpy(line, "*");
			if (round > SMTP_SASL_ROUNDS) {
				ret = smtp_sasl_failed(s, d, NULL,
						       "the server "
						       "does not end the "
						       "exchange");
				s->broken = true;
				goto out;
			}
			continue;
		}
		if (sasl_proto_decode_response(smtp_reply_line_at(s->reply, 0),
					       strlen(
						   smtp_reply_line_at(s->reply,
								      0)),
					       in)
			!= SASL_RESP_OK
		    || sasl_cyrus_client_step(c, VSTR_STR(in), VSTR_LEN(in),
					      out, why)
			   == SASL_STEP_FAIL) {
			/* Tell the server we give up, then read its answer. */
			vstr_strcpy(line, "*");
			continue;
		}
		sasl_proto_base64_encode(line, VSTR_STR(out), VSTR_LEN(out));
	}
	if (s->reply->code / 100 != 2) {
		ret = smtp_sasl_failed(s, d, s->reply, NULL);
		goto out;
	}
	if (msg_verbose)
		msg_info("%s: authenticated as %s with %s",
			 VSTR_STR(s->namaddr), user, mech);
out:
	sasl_cyrus_client_free(c);
	myfree(user);
	vstr_free(mechs);
	if (out)
		explicit_bzero(VSTR_STR(out), VSTR_LEN(out));
	vstr_free(out);
	vstr_free(in);
	vstr_free(line);
	vstr_free(why);
	return ret;
}
