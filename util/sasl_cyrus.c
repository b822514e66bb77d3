/*
 * sasl_cyrus - the one glue file for Cyrus libsasl2 (server and client).
 *
 * The server side reads <smtpd_sasl_path>.conf from cyrus_sasl_config_path
 * (or Cyrus's own default folders) and so uses whatever the admin set up
 * there: pwcheck_method auxprop with sasldb, or saslauthd; mech_list
 * limits the mechanisms.  No SASL security layer is ever negotiated
 * (max_ssf 0): the SMTP streams carry no SASL framing, TLS protects them.
 *
 * The client side answers Cyrus's user and password callbacks from the
 * strings given to sasl_client_create, never interactively.
 *
 * Cyrus's own log lines go to msg_info/msg_warn.
 *
 * Errors: see util/sasl.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sasl.h"
#include "util/strutil.h"
#include "util/vstr.h"

/*
 * Cyrus keeps every callback as int (*)(void); going through void (*)(void)
 * is the cast that C allows and compilers accept without a warning.
 */
#define SASL_CYRUS_CB(fn) ((int (*)(void))(void (*)(void))(fn))

/* Kept for the GETCONFPATH callback; set once in pre_jail. */
static char *sasl_cyrus_conf_path;
static bool  sasl_cyrus_server_ready;
static bool  sasl_cyrus_client_ready;

struct SASL_CYRUS_SERVER {
	sasl_conn_t *conn;
	VSTR	    *mechs;
};

struct SASL_CLIENT {
	sasl_conn_t    *conn;
	char	       *user;
	char	       *pass;
	sasl_secret_t  *secret;
	sasl_callback_t cb[4];
	const char     *mech;
};

int
sasl_cyrus_security_parse(const char *words, unsigned *flags, VSTR *why)
{
	/* noauthenticated is Postfix's, for its smtp client; Cyrus has no bit. */
	static const struct sasl_sec_word opts[] = {
		{ "noplaintext", SASL_SEC_NOPLAINTEXT },
		{ "noactive", SASL_SEC_NOACTIVE },
		{ "nodictionary", SASL_SEC_NODICTIONARY },
		{ "noanonymous", SASL_SEC_NOANONYMOUS },
		{ "forward_secrecy", SASL_SEC_FORWARD_SECRECY },
		{ "mutual_auth", SASL_SEC_MUTUAL_AUTH },
		{ "noauthenticated", 0 },
	};

	return sasl_proto_security_parse(words, opts,
					 sizeof(opts) / sizeof(opts[0]), "",
					 flags, why);
}

static int
sasl_cyrus_log(void *context, int level, const char *message)
{
	(void)context;
	switch (level) {
	case SASL_LOG_ERR:
	case SASL_LOG_FAIL:
	case SASL_LOG_WARN:
		msg_warn("SASL: %s", message);
		break;
	case SASL_LOG_NOTE:
		msg_info("SASL: %s", message);
		break;
	default:
		if (msg_verbose)
			msg_info("SASL: %s", message);
		break;
	}
	return SASL_OK;
}

static int
sasl_cyrus_conf(void *context, const char **path)
{
	(void)context;
	*path = sasl_cyrus_conf_path;
	return SASL_OK;
}

static void
sasl_cyrus_why(VSTR *why, sasl_conn_t *conn, int rc, const char *what)
{
	vstr_sprintf(why, "%s: %s", what,
		     conn ? sasl_errdetail(conn)
			  : sasl_errstring(rc, NULL, NULL));
}

static int
sasl_cyrus_props(sasl_conn_t *conn, const char *sec, VSTR *why)
{
	sasl_security_properties_t props;
	unsigned		   flags;

	if (sasl_cyrus_security_parse(sec, &flags, why) < 0)
		return -1;
	memset(&props, 0, sizeof(props));
	props.min_ssf = 0;
	props.max_ssf = 0; /* no security layer (see above) */
	props.maxbufsize = 0;
	props.security_flags = flags;
	if (sasl_setprop(conn, SASL_SEC_PROPS, &props) != SASL_OK) {
		sasl_cyrus_why(why, conn, SASL_FAIL, "set SASL properties");
		return -1;
	}
	return 0;
}

int
sasl_cyrus_server_init(const char *app, const char *config_path, VSTR *why)
{
	static sasl_callback_t cb[3];
	int		       n = 0;
	int		       rc;

	if (sasl_cyrus_server_ready)
		return 0;
	cb[n++] = (sasl_callback_t){ SASL_CB_LOG, SASL_CYRUS_CB(sasl_cyrus_log),
				     NULL };
	if (config_path && *config_path) {
		sasl_cyrus_conf_path = mystrdup(config_path);
		cb[n++] = (sasl_callback_t){ SASL_CB_GETCONFPATH,
					     SASL_CYRUS_CB(sasl_cyrus_conf),
					     NULL };
	}
	cb[n] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
	if ((rc = sasl_server_init(cb, app)) != SASL_OK) {
		vstr_sprintf(why, "SASL server initialization failed: %s",
			     sasl_errstring(rc, NULL, NULL));
		return -1;
	}
	sasl_cyrus_server_ready = true;
	return 0;
}

SASL_CYRUS_SERVER *
sasl_cyrus_server_create(const char *service, const char *hostname,
			 const char *realm, const char *sec, VSTR *why)
{
	SASL_CYRUS_SERVER *s;
	sasl_conn_t	  *conn = NULL;
	int		   rc;

	if (!sasl_cyrus_server_ready) {
		vstr_strcpy(why, "SASL server library not initialized");
		return NULL;
	}
	rc = sasl_server_new(service, hostname, realm && *realm ? realm : NULL,
			     NULL, NULL, NULL, 0, &conn);
	if (rc != SASL_OK) {
		sasl_cyrus_why(why, NULL, rc, "SASL server connection");
		return NULL;
	}
	if (sasl_cyrus_props(conn, sec, why) < 0) {
		sasl_dispose(&conn);
		return NULL;
	}
	s = mycalloc(1, sizeof(*s));
	s->conn = conn;
	s->mechs = vstr_alloc(64);
	return s;
}

SASL_CYRUS_SERVER *
sasl_cyrus_server_free(SASL_CYRUS_SERVER *s)
{
	if (s == NULL)
		return NULL;
	sasl_dispose(&s->conn);
	vstr_free(s->mechs);
	myfree(s);
	return NULL;
}

const char *
sasl_cyrus_server_mechs(SASL_CYRUS_SERVER *s, VSTR *why)
{
	const char *list;
	unsigned    len;
	int	    count;
	int	    rc;

	rc = sasl_listmech(s->conn, NULL, "", " ", "", &list, &len, &count);
	if (rc != SASL_OK || count == 0 || len == 0) {
		sasl_cyrus_why(why, s->conn, rc, "no SASL mechanisms");
		return NULL;
	}
	vstr_memcpy(s->mechs, list, len);
	return VSTR_STR(s->mechs);
}

static enum sasl_step
sasl_cyrus_server_result(SASL_CYRUS_SERVER *s, int rc, const char *data,
			 unsigned len, VSTR *out, VSTR *why)
{
	vstr_reset(out);
	if (rc != SASL_OK && rc != SASL_CONTINUE) {
		/* The generic text only: the detail is not the client's. */
		if (msg_verbose)
			msg_info("SASL: %s", sasl_errdetail(s->conn));
		/* "user not found" would tell a guesser which names exist. */
		vstr_strcpy(why, sasl_errstring(rc == SASL_NOUSER ? SASL_BADAUTH
								  : rc,
						NULL, NULL));
		return SASL_STEP_FAIL;
	}
	if (data && len)
		vstr_memcpy(out, data, len);
	return rc == SASL_OK ? SASL_STEP_DONE : SASL_STEP_CONTINUE;
}

enum sasl_step
sasl_cyrus_server_start(SASL_CYRUS_SERVER *s, const char *mech, const void *in,
			size_t inlen, bool has_in, VSTR *out, VSTR *why)
{
	const char *data = NULL;
	unsigned    len = 0;
	int	    rc;

	if (inlen > UINT_MAX) {
		vstr_strcpy(why, "authentication failed: response too long");
		return SASL_STEP_FAIL;
	}
	rc = sasl_server_start(s->conn, mech, has_in ? in : NULL,
			       (unsigned)inlen, &data, &len);
	return sasl_cyrus_server_result(s, rc, data, len, out, why);
}

enum sasl_step
sasl_cyrus_server_step(SASL_CYRUS_SERVER *s, const void *in, size_t inlen,
		       VSTR *out, VSTR *why)
{
	const char *data = NULL;
	unsigned    len = 0;
	int	    rc;

	if (inlen > UINT_MAX) {
		vstr_strcpy(why, "authentication failed: response too long");
		return SASL_STEP_FAIL;
	}
	rc = sasl_server_step(s->conn, in, (unsigned)inlen, &data, &len);
	return sasl_cyrus_server_result(s, rc, data, len, out, why);
}

const char *
sasl_cyrus_server_username(SASL_CYRUS_SERVER *s)
{
	const void *user = NULL;

	if (sasl_getprop(s->conn, SASL_USERNAME, &user) != SASL_OK)
		return NULL;
	return user;
}

/* Client */

int
sasl_cyrus_client_init(VSTR *why)
{
	static sasl_callback_t cb[] = {
		{ SASL_CB_LOG, SASL_CYRUS_CB(sasl_cyrus_log), NULL },
		{ SASL_CB_LIST_END, NULL, NULL },
	};
	int rc;

	if (sasl_cyrus_client_ready)
		return 0;
	if ((rc = sasl_client_init(cb)) != SASL_OK) {
		vstr_sprintf(why, "SASL client initialization failed: %s",
			     sasl_errstring(rc, NULL, NULL));
		return -1;
	}
	sasl_cyrus_client_ready = true;
	return 0;
}

static int
sasl_cyrus_client_simple(void *context, int id, const char **result,
			 unsigned *len)
{
	SASL_CLIENT *c = context;

	if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
		return SASL_BADPARAM;
	*result = c->user;
	if (len)
		*len = (unsigned)strlen(c->user);
	return SASL_OK;
}

static int
sasl_cyrus_client_secret(sasl_conn_t *conn, void *context, int id,
			 sasl_secret_t **psecret)
{
	SASL_CLIENT *c = context;

	(void)conn;
	if (id != SASL_CB_PASS)
		return SASL_BADPARAM;
	*psecret = c->secret;
	return SASL_OK;
}

SASL_CLIENT *
sasl_cyrus_client_create(const char *service, const char *hostname,
			 const char *user, const char *pass, const char *sec,
			 VSTR *why)
{
	SASL_CLIENT *c;
	size_t	     plen = strlen(pass);
	int	     rc;

	if (!sasl_cyrus_client_ready) {
		vstr_strcpy(why, "SASL client library not initialized");
		return NULL;
	}
	if (plen > UINT_MAX / 2) {
		vstr_strcpy(why, "SASL password too long");
		return NULL;
	}
	c = mycalloc(1, sizeof(*c));
	c->user = mystrdup(user);
	c->pass = mystrdup(pass);
	c->secret = mycalloc(1, sizeof(sasl_secret_t) + plen + 1);
	c->secret->len = (unsigned long)plen;
	memcpy(c->secret->data, pass, plen);
	c->cb[0] = (sasl_callback_t){ SASL_CB_USER,
				      SASL_CYRUS_CB(sasl_cyrus_client_simple),
				      c };
	c->cb[1] = (sasl_callback_t){ SASL_CB_AUTHNAME,
				      SASL_CYRUS_CB(sasl_cyrus_client_simple),
				      c };
	c->cb[2] = (sasl_callback_t){ SASL_CB_PASS,
				      SASL_CYRUS_CB(sasl_cyrus_client_secret),
				      c };
	c->cb[3] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
	rc = sasl_client_new(service, hostname, NULL, NULL, c->cb, 0, &c->conn);
	if (rc != SASL_OK) {
		sasl_cyrus_why(why, NULL, rc, "SASL client connection");
		return sasl_cyrus_client_free(c);
	}
	if (sasl_cyrus_props(c->conn, sec, why) < 0)
		return sasl_cyrus_client_free(c);
	return c;
}

SASL_CLIENT *
sasl_cyrus_client_free(SASL_CLIENT *c)
{
	if (c == NULL)
		return NULL;
	if (c->conn)
		sasl_dispose(&c->conn);
	explicit_bzero(c->pass, strlen(c->pass));
	explicit_bzero(c->secret->data, c->secret->len);
	myfree(c->pass);
	myfree(c->secret);
	myfree(c->user);
	myfree(c);
	return NULL;
}

static enum sasl_step
sasl_cyrus_client_result(SASL_CLIENT *c, int rc, const char *data, unsigned len,
			 VSTR *out, VSTR *why)
{
	vstr_reset(out);
	if (rc != SASL_OK && rc != SASL_CONTINUE) {
		sasl_cyrus_why(why, c->conn, rc, "SASL client");
		return SASL_STEP_FAIL;
	}
	if (data && len)
		vstr_memcpy(out, data, len);
	return rc == SASL_OK ? SASL_STEP_DONE : SASL_STEP_CONTINUE;
}

enum sasl_step
sasl_cyrus_client_start(SASL_CLIENT *c, const char *mechs, const char **mech,
			VSTR *out, bool *has_out, VSTR *why)
{
	const char *data = NULL;
	unsigned    len = 0;
	int	    rc;

	c->mech = NULL;
	rc = sasl_client_start(c->conn, mechs, NULL, &data, &len, &c->mech);
	*mech = c->mech;
	*has_out = data != NULL;
	return sasl_cyrus_client_result(c, rc, data, len, out, why);
}

enum sasl_step
sasl_cyrus_client_step(SASL_CLIENT *c, const void *in, size_t inlen, VSTR *out,
		       VSTR *why)
{
	const char *data = NULL;
	unsigned    len = 0;
	int	    rc;

	if (inlen > UINT_MAX) {
		vstr_strcpy(why, "SASL client: challenge too long");
		return SASL_STEP_FAIL;
	}
	rc = sasl_client_step(c->conn, in, (unsigned)inlen, NULL, &data, &len);
	return sasl_cyrus_client_result(c, rc, data, len, out, why);
}
