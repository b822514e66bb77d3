/*
 * smtpd_check_policy - check_policy_service: ask a policy server (Postfix's
 * SMTP Access Policy Delegation) and carry out its action as an access
 * table's (smtpd_check_access_action), so every access(5) action Postel
 * knows works the same from a table and from a server.
 *
 * The request holds every attribute Postfix 3.7 sends, in its order;
 * what Postel does not know is sent empty (ccert_*, stress, queue_id
 * before the queue file exists).
 *
 * Errors: a server that cannot be reached, hangs or answers garbage gets
 * the default action (util/policy.c logs it); policy_create's errors make
 * the restriction list invalid (smtpd_check_create fails).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "smtpd/smtpd_check.h"
#include "smtpd/smtpd_check_priv.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/policy.h"
#include "util/vstr.h"

/* What Postel answers for Postfix's compatibility_level / mail_version. */
#define POLICY_COMPAT_LEVEL "3.6"
#define POLICY_MAIL_VERSION "postel"

/* One client per distinct spec, so restrictions naming it share it. */
POLICY *
smtpd_check_policy_open(SMTPD_CHECK *c, const char *spec, VSTR *why)
{
	POLICY *p;
	VSTR   *name;

	for (size_t i = 0; i < c->policy_count; i++)
		if (strcmp(c->policy_specs[i], spec) == 0)
			return c->policies[i];
	name = vstr_alloc(64);
	p = policy_create(c->cfg, spec, name);
	if (p == NULL) {
		vstr_sprintf(why, "check_policy_service: %s", VSTR_STR(name));
		vstr_free(name);
		return NULL;
	}
	vstr_free(name);
	c->policies = myrealloc(c->policies,
				(c->policy_count + 1) * sizeof(*c->policies));
	c->policy_specs = myrealloc(c->policy_specs,
				    (c->policy_count + 1) * sizeof(char *));
	c->policies[c->policy_count] = p;
	c->policy_specs[c->policy_count] = mystrdup(spec);
	c->policy_count++;
	return p;
}

static const char *
chk_policy_state(const struct chk_ctx *x)
{
	const struct smtpd_check_facts *f = x->f;

	if (f->protocol_state)
		return f->protocol_state;
	switch (x->stage) {
	case SMTPD_CHECK_CONNECT:
		return "CONNECT";
	case SMTPD_CHECK_HELO:
		return "HELO";
	case SMTPD_CHECK_MAIL:
		return "MAIL";
	case SMTPD_CHECK_RCPT:
		return "RCPT";
	case SMTPD_CHECK_DATA:
		return "DATA";
	case SMTPD_CHECK_ETRN:
		return "ETRN";
	case SMTPD_CHECK_VRFY:
		return "VRFY";
	case SMTPD_CHECK_EOD:
		return "END-OF-MESSAGE";
	}
	return "";
}

int
smtpd_check_policy(struct chk_ctx *x, const struct restr *r)
{
	const struct smtpd_check_facts *f = x->f;
	bool				etrn = x->stage == SMTPD_CHECK_ETRN;
	VSTR			       *req = vstr_alloc(512);
	VSTR			       *action = vstr_alloc(128);
	VSTR			       *label = vstr_alloc(64);
	char				num[32];
	int				rc;

#define ADD(n, v) policy_request_add(req, (n), (v))
	ADD("request", "smtpd_access_policy");
	ADD("protocol_state", chk_policy_state(x));
	ADD("protocol_name", f->protocol_name ? f->protocol_name : "SMTP");
	ADD("helo_name", f->helo);
	ADD("queue_id", f->queue_id);
	ADD("sender", f->sender);
	ADD("recipient", etrn ? NULL : f->recipient);
	snprintf(num, sizeof(num), "%d", f->rcpt_count);
	ADD("recipient_count", num);
	ADD("client_address", f->client_addr);
	ADD("client_name", f->client_name);
	ADD("reverse_client_name", f->client_name);
	ADD("instance", f->instance);
	ADD("sasl_method", f->sasl_username ? f->sasl_method : NULL);
	ADD("sasl_username", f->sasl_username);
	ADD("sasl_sender", f->sasl_sender);
	snprintf(num, sizeof(num), "%lld", f->size);
	ADD("size", num);
	ADD("ccert_subject", f->ccert_subject);
	ADD("ccert_issuer", f->ccert_issuer);
	ADD("ccert_fingerprint", f->ccert_fingerprint);
	ADD("ccert_pubkey_fingerprint", f->ccert_pkey_fingerprint);
	ADD("encryption_protocol", f->tls_protocol);
	ADD("encryption_cipher", f->tls_cipher);
	if (f->tls_protocol)
		snprintf(num, sizeof(num), "%d", f->tls_keysize);
	else
		snprintf(num, sizeof(num), "0");
	ADD("encryption_keysize", num);
	ADD("etrn_domain", etrn ? f->recipient : NULL);
	ADD("stress", NULL);
	ADD("client_port", f->client_port);
	ADD("policy_context", policy_context(r->policy));
	ADD("server_address", f->server_addr);
	ADD("server_port", f->server_port);
	ADD("compatibility_level", POLICY_COMPAT_LEVEL);
	ADD("mail_version", POLICY_MAIL_VERSION);
#undef ADD
	(void)policy_query(r->policy, req, action);
	if (msg_verbose)
		msg_info("policy server %s: action=%s", policy_name(r->policy),
			 VSTR_STR(action));
	vstr_sprintf(label, "check_policy_service %s", policy_name(r->policy));
	rc = smtpd_check_access_action(x, VSTR_STR(label), VSTR_STR(action));
	vstr_free(req);
	vstr_free(action);
	vstr_free(label);
	return rc;
}
