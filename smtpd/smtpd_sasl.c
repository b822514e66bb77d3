/*
 * smtpd_sasl - the AUTH command (RFC 4954) of the SMTP server.
 *
 * AUTH is offered in the EHLO reply when smtpd_sasl_auth_enable is on,
 * the client is not in smtpd_sasl_exceptions_networks and, with
 * smtpd_tls_auth_only, TLS is up, and the backend (smtpd_sasl_type:
 * Cyrus or Dovecot, through util/sasl.h's sasl_srv_*) lists at least
 * one mechanism for the session's security options; when it cannot (the
 * Dovecot socket is unreachable) EHLO leaves AUTH out and logs why, and
 * an AUTH command tries again and gets 454 4.7.0.  Each AUTH gets a fresh
 * exchange with the plain or the TLS security options, so a failed
 * attempt leaves nothing behind.  The wire format
 * (base64, "*" to cancel) is util/sasl_proto.c's.
 *
 * Failures are logged the way fail2ban's postfix-sasl filter expects
 * ("warning: name[addr]: SASL PLAIN authentication failed: ...").  As in
 * Postfix a failed AUTH is one more session error (smtpd_cmd.c), so from
 * smtpd_soft_error_limit errors on every reply, challenges included,
 * waits smtpd_error_sleep_time; Postel's own smtpd_sasl_auth_failure_limit
 * ends the session with 421 after that many failures, whatever the error
 * count.  A success sets the sasl_method and
 * sasl_username that the policy checks (permit_sasl_authenticated,
 * reject_sender_login_mismatch), the cleanup request and the client=
 * log line use.
 *
 * Errors: protocol errors are replies; nothing here dies but allocators.
 *
 * Ownership: st->sasl belongs to the session (smtpd_sasl_reset).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <strings.h>

#include "smtpd/smtpd.h"
#include "util/metrics.h"
#include "util/msg.h"
#include "util/sasl.h"
#include "util/vstr.h"

void
smtpd_sasl_params_load(struct smtpd_sasl_params *par, const CFG *cfg)
{
	par->enable = cfg_get_bool(cfg, "smtpd_sasl_auth_enable");
	par->tls_only = cfg_get_bool(cfg, "smtpd_tls_auth_only");
	par->service = cfg_get_str(cfg, "smtpd_sasl_service");
	par->realm = cfg_get_str(cfg, "smtpd_sasl_local_domain");
	par->security = cfg_get_str(cfg, "smtpd_sasl_security_options");
	par->tls_security = cfg_get_str(cfg, "smtpd_sasl_tls_security_options");
	par->exceptions = cfg_get_str(cfg, "smtpd_sasl_exceptions_networks");
	par->failure_limit = cfg_get_int(cfg, "smtpd_sasl_auth_failure_limit");
	par->auth_header = cfg_get_bool(cfg, "smtpd_sasl_authenticated_header");
}

int
smtpd_sasl_init(const CFG *cfg, VSTR *why)
{
	struct sasl_srv_conf conf = {
		.type = cfg_get_str(cfg, "smtpd_sasl_type"),
		.path = cfg_get_str(cfg, "smtpd_sasl_path"),
		.cyrus_config_path = cfg_get_str(cfg, "cyrus_sasl_config_path"),
		.security = cfg_get_str(cfg, "smtpd_sasl_security_options"),
		.tls_security = cfg_get_str(cfg,
					    "smtpd_sasl_tls_security_options"),
	};

	if (!cfg_get_bool(cfg, "smtpd_sasl_auth_enable"))
		return 0;
	return sasl_srv_init(&conf, why);
}

const char *
smtpd_sasl_user(const SMTPD_STATE *st)
{
	return st->sasl_username && VSTR_LEN(st->sasl_username)
		   ? VSTR_STR(st->sasl_username)
		   : NULL;
}

void
smtpd_sasl_reset(SMTPD_STATE *st)
{
	st->sasl = sasl_srv_free(st->sasl);
	if (st->sasl_method)
		vstr_reset(st->sasl_method);
	if (st->sasl_username)
		vstr_reset(st->sasl_username);
}

/* Is AUTH available to this client at all (TLS aside)? */
static bool
smtpd_sasl_enabled(const SMTPD_STATE *st)
{
	const struct smtpd_sasl_params *p = &st->par->sasl;

	return p->enable
	       && !(p->exceptions && *p->exceptions
		    && smtpd_peer_match_list(p->exceptions, st->peer.addr));
}

/* A fresh backend exchange for this session's TLS state, or NULL. */
static SASL_SRV *
smtpd_sasl_open(SMTPD_STATE *st, VSTR *why)
{
	const struct smtpd_sasl_params *p = &st->par->sasl;
	struct sasl_srv_info		info = {
			   .service = p->service,
			   .hostname = st->par->myhostname,
			   .realm = p->realm,
			   .security = st->tls ? p->tls_security : p->security,
			   .client_addr = st->peer.addr,
			   .client_port = st->peer.port,
			   .server_addr = st->peer.server_addr,
			   .server_port = st->peer.server_port,
			   .tls = st->tls,
			   .client_cert_verified = st->tls && st->tls_cert.trusted,
	};

	return sasl_srv_create(&info, why);
}

void
smtpd_sasl_ehlo(SMTPD_STATE *st)
{
	VSTR	   *why;
	const char *mechs;
	SASL_SRV   *s;

	if (!smtpd_sasl_enabled(st) || (st->par->sasl.tls_only && !st->tls))
		return;
	why = vstr_alloc(64);
	if ((s = smtpd_sasl_open(st, why)) == NULL
	    || (mechs = sasl_srv_mechs(s, why)) == NULL)
		msg_warn("%s[%s]: AUTH not offered: %s", st->peer.name,
			 st->peer.addr, VSTR_STR(why));
	else
		smtpd_reply(st, "250-AUTH %s", mechs);
	sasl_srv_free(s);
	vstr_free(why);
}

int
smtpd_sasl_can_auth(SMTPD_STATE *st, const char *args)
{
	(void)args;
	if (!smtpd_sasl_enabled(st)) {
		smtpd_reply(st, "503 5.5.1 Error: authentication not enabled");
		return -1;
	}
	if (st->par->sasl.tls_only && !st->tls) {
		smtpd_reply(st, "538 5.7.11 Encryption required for requested "
				"authentication mechanism");
		return -1;
	}
	if (!st->esmtp) {
		smtpd_reply(st, "503 5.5.1 Error: send EHLO first");
		return -1;
	}
	if (smtpd_sasl_user(st) != NULL) {
		smtpd_reply(st, "503 5.5.1 Error: already authenticated");
		return -1;
	}
	if (st->stage >= SMTPD_ST_MAIL) {
		smtpd_reply(st, "503 5.5.1 Error: MAIL transaction in "
				"progress");
		return -1;
	}
	return 0;
}

/* Is mech one of the space-separated names in list? */
static bool
smtpd_sasl_listed(const char *list, const char *mech)
{
	size_t len = strlen(mech);

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, " ");

		if (n == len && strncasecmp(p, mech, len) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

/* Send "334 challenge" and read the answer into resp: 0 or -1 (replied). */
static int
smtpd_sasl_challenge(SMTPD_STATE *st, const VSTR *challenge, VSTR *resp)
{
	VSTR		      *line = vstr_alloc(64);
	enum smtpd_line_status status;
	int		       ret = -1;

	vstr_strcpy(line, "334 ");
	sasl_proto_base64_encode(line, VSTR_STR(challenge),
				 VSTR_LEN(challenge));
	smtpd_reply_raw(st, VSTR_STR(line), VSTR_LEN(line));
	status = smtpd_io_get_line(st);
	if (status == SMTPD_LINE_EOF || status == SMTPD_LINE_TIMEOUT)
		goto out;
	if (status == SMTPD_LINE_TOO_LONG) {
		smtpd_reply(st, "500 5.5.6 Authentication exchange line is "
				"too long");
		goto out;
	}
	switch (sasl_proto_decode_response(VSTR_STR(st->line),
					   VSTR_LEN(st->line), resp)) {
	case SASL_RESP_OK:
		ret = 0;
		break;
	case SASL_RESP_CANCEL:
		smtpd_reply(st, "501 5.7.0 Authentication aborted");
		break;
	case SASL_RESP_BAD:
	default:
		smtpd_reply(st, "501 5.5.2 Cannot decode response");
		break;
	}
out:
	vstr_free(line);
	return ret;
}

/* One more failed or abandoned AUTH; past the limit the session ends. */
static void
smtpd_sasl_count_failure(SMTPD_STATE *st)
{
	if (++st->auth_failures < st->par->sasl.failure_limit || st->io_error)
		return;
	msg_info("too many failed authentications after AUTH from %s[%s]",
		 st->peer.name, st->peer.addr);
	smtpd_reply(st,
		    "421 4.7.0 %s Error: too many failed "
		    "authentications",
		    st->par->myhostname);
	smtpd_state_set(st, SMTPD_ST_QUIT);
}

/*
 * The login goes into log lines and the Received: header: refuse names
 * with control characters (a CR LF there would forge lines).
 */
static bool
smtpd_sasl_printable(const char *user)
{
	if (*user == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static void
smtpd_sasl_failed(SMTPD_STATE *st, const char *mech, const char *why)
{
	msg_warn("%s[%s]: SASL %s authentication failed: %s", st->peer.name,
		 st->peer.addr, mech, why);
	smtpd_reply(st, "535 5.7.8 Error: authentication failed: %s", why);
	metrics_smtpd_reject("AUTH", "535");
	smtpd_sasl_count_failure(st);
}

int
smtpd_sasl_auth(SMTPD_STATE *st, const char *args)
{
	VSTR	      *mech = vstr_alloc(24);
	VSTR	      *in = vstr_alloc(128);
	VSTR	      *out = vstr_alloc(128);
	VSTR	      *why = vstr_alloc(64);
	const char    *mechs;
	const char    *user;
	bool	       has_in;
	enum sasl_step step;
	int	       status;
	int	       ret = -1;

	if (smtpd_anvil_auth(st) < 0)
		goto out;
	if (sasl_proto_parse_auth(args, mech, in, &has_in, why) < 0) {
		smtpd_reply_raw(st, VSTR_STR(why), VSTR_LEN(why));
		goto out;
	}
	st->sasl = sasl_srv_free(st->sasl);
	if ((st->sasl = smtpd_sasl_open(st, why)) == NULL
	    || (mechs = sasl_srv_mechs(st->sasl, why)) == NULL) {
		msg_warn("%s[%s]: AUTH: %s", st->peer.name, st->peer.addr,
			 VSTR_STR(why));
		smtpd_reply(st, "454 4.7.0 Temporary authentication failure");
		goto out;
	}
	if (!smtpd_sasl_listed(mechs, VSTR_STR(mech))) {
		smtpd_reply(st, "504 5.5.4 Unsupported authentication "
				"mechanism");
		goto out;
	}
	step = sasl_srv_start(st->sasl, VSTR_STR(mech), VSTR_STR(in),
			      VSTR_LEN(in), has_in, out, why);
	while (step == SASL_STEP_CONTINUE) {
		status = smtpd_sasl_challenge(st, out, in);
		explicit_bzero(VSTR_STR(st->line), VSTR_LEN(st->line));
		if (status < 0) {
			/* Cancelled or garbled: a failure for the limit. */
			smtpd_sasl_count_failure(st);
			goto out;
		}
		step = sasl_srv_step(st->sasl, VSTR_STR(in), VSTR_LEN(in), out,
				     why);
	}

	/*
	 * RFC 4954 4: a mechanism that ends with data for the client (the
	 * SCRAM server signature) sends it as one more challenge, which the
	 * client answers with an empty line.
	 */
	if (step == SASL_STEP_DONE && VSTR_LEN(out) > 0) {
		if (smtpd_sasl_challenge(st, out, in) < 0) {
			smtpd_sasl_count_failure(st);
			goto out;
		}
		if (VSTR_LEN(in) != 0) {
			step = SASL_STEP_FAIL;
			vstr_strcpy(why, "unexpected data after the final "
					 "challenge");
		}
	}
	if (step == SASL_STEP_TEMP) {
		/* Not the client's fault: no failure counted, no delay. */
		msg_warn("%s[%s]: SASL %s authentication aborted: %s",
			 st->peer.name, st->peer.addr, VSTR_STR(mech),
			 VSTR_STR(why));
		smtpd_reply(st, "454 4.7.0 Temporary authentication failure");
		goto out;
	}
	if (step == SASL_STEP_FAIL
	    || (user = sasl_srv_username(st->sasl)) == NULL
	    || !smtpd_sasl_printable(user)) {
		if (step != SASL_STEP_FAIL)
			vstr_strcpy(why, "unusable user name");
		smtpd_sasl_failed(st, VSTR_STR(mech), VSTR_STR(why));
		goto out;
	}
	vstr_strcpy(st->sasl_method, VSTR_STR(mech));
	vstr_strcpy(st->sasl_username, user);
	/* RFC 3848: ESMTPA, ESMTPSA in Received: headers. */
	if (strcmp(st->protocol, "ESMTP") == 0)
		st->protocol = "ESMTPA";
	else if (strcmp(st->protocol, "ESMTPS") == 0)
		st->protocol = "ESMTPSA";
	smtpd_reply(st, "235 2.7.0 Authentication successful");
	ret = 0;
out:
	st->sasl = sasl_srv_free(st->sasl);
	/* The AUTH line and the decoded responses may hold a password. */
	explicit_bzero(VSTR_STR(st->line), VSTR_LEN(st->line));
	explicit_bzero(VSTR_STR(in), VSTR_LEN(in));
	vstr_free(mech);
	vstr_free(in);
	vstr_free(out);
	vstr_free(why);
	return ret;
}
