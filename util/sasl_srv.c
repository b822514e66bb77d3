/*
 * sasl_srv - the one interface smtpd uses for SASL, in front of the
 * backend smtpd_sasl_type names: Cyrus libsasl2 (util/sasl_cyrus.c, the
 * default) or Dovecot's auth server (util/sasl_dovecot.c).
 *
 * A table of operations per backend; the process picks one in
 * sasl_srv_init (pre_jail) and every SASL_SRV it makes uses it.
 * Neither backend sees the other's code or options: Cyrus gets the
 * service, host name, realm and security words; Dovecot the service, the
 * session's addresses and ports, its TLS state and the security words.
 *
 * Errors: see util/sasl.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <strings.h>

#include "util/mymalloc.h"
#include "util/sasl.h"
#include "util/sasl_dovecot.h"
#include "util/vstr.h"

struct sasl_srv_ops {
	const char *type;
	int (*init)(const struct sasl_srv_conf *conf, VSTR *why);
	void *(*create)(const struct sasl_srv_info *info, VSTR *why);
	void *(*free)(void *impl);
	const char *(*mechs)(void *impl, VSTR *why);
	enum sasl_step (*start)(void *impl, const char *mech, const void *in,
				size_t inlen, bool has_in, VSTR *out,
				VSTR *why);
	enum sasl_step (*step)(void *impl, const void *in, size_t inlen,
			       VSTR *out, VSTR *why);
	const char *(*username)(void *impl);
};

struct SASL_SRV {
	const struct sasl_srv_ops *ops;
	void			  *impl;
};

/* Cyrus */

static int
sasl_srv_cyrus_init(const struct sasl_srv_conf *conf, VSTR *why)
{
	unsigned flags;

	if (sasl_cyrus_security_parse(conf->security, &flags, why) < 0
	    || sasl_cyrus_security_parse(conf->tls_security, &flags, why) < 0)
		return -1;
	return sasl_cyrus_server_init(conf->path, conf->cyrus_config_path, why);
}

static void *
sasl_srv_cyrus_create(const struct sasl_srv_info *info, VSTR *why)
{
	return sasl_cyrus_server_create(info->service, info->hostname,
					info->realm, info->security, why);
}

static void *
sasl_srv_cyrus_free(void *impl)
{
	return sasl_cyrus_server_free(impl);
}

static const char *
sasl_srv_cyrus_mechs(void *impl, VSTR *why)
{
	return sasl_cyrus_server_mechs(impl, why);
}

static enum sasl_step
sasl_srv_cyrus_start(void *impl, const char *mech, const void *in, size_t inlen,
		     bool has_in, VSTR *out, VSTR *why)
{
	return sasl_cyrus_server_start(impl, mech, in, inlen, has_in, out, why);
}

static enum sasl_step
sasl_srv_cyrus_step(void *impl, const void *in, size_t inlen, VSTR *out,
		    VSTR *why)
{
	return sasl_cyrus_server_step(impl, in, inlen, out, why);
}

static const char *
sasl_srv_cyrus_username(void *impl)
{
	return sasl_cyrus_server_username(impl);
}

/* Dovecot */

static int
sasl_srv_dovecot_init(const struct sasl_srv_conf *conf, VSTR *why)
{
	unsigned sec;

	if (sasl_dovecot_security_parse(conf->security, &sec, why) < 0
	    || sasl_dovecot_security_parse(conf->tls_security, &sec, why) < 0)
		return -1;
	return sasl_dovecot_server_init(conf->path, why);
}

static void *
sasl_srv_dovecot_create(const struct sasl_srv_info *info, VSTR *why)
{
	return sasl_dovecot_server_create(info, why);
}

static void *
sasl_srv_dovecot_free(void *impl)
{
	return sasl_dovecot_server_free(impl);
}

static const char *
sasl_srv_dovecot_mechs(void *impl, VSTR *why)
{
	return sasl_dovecot_server_mechs(impl, why);
}

static enum sasl_step
sasl_srv_dovecot_start(void *impl, const char *mech, const void *in,
		       size_t inlen, bool has_in, VSTR *out, VSTR *why)
{
	return sasl_dovecot_server_start(impl, mech, in, inlen, has_in, out,
					 why);
}

static enum sasl_step
sasl_srv_dovecot_step(void *impl, const void *in, size_t inlen, VSTR *out,
		      VSTR *why)
{
	return sasl_dovecot_server_step(impl, in, inlen, out, why);
}

static const char *
sasl_srv_dovecot_username(void *impl)
{
	return sasl_dovecot_server_username(impl);
}

static const struct sasl_srv_ops sasl_srv_backends[] = {
	{
	    .type = "cyrus",
	    .init = sasl_srv_cyrus_init,
	    .create = sasl_srv_cyrus_create,
	    .free = sasl_srv_cyrus_free,
	    .mechs = sasl_srv_cyrus_mechs,
	    .start = sasl_srv_cyrus_start,
	    .step = sasl_srv_cyrus_step,
	    .username = sasl_srv_cyrus_username,
	},
	{
	    .type = "dovecot",
	    .init = sasl_srv_dovecot_init,
	    .create = sasl_srv_dovecot_create,
	    .free = sasl_srv_dovecot_free,
	    .mechs = sasl_srv_dovecot_mechs,
	    .start = sasl_srv_dovecot_start,
	    .step = sasl_srv_dovecot_step,
	    .username = sasl_srv_dovecot_username,
	},
};

/* The backend chosen by sasl_srv_init. */
static const struct sasl_srv_ops *sasl_srv_backend;

int
sasl_srv_init(const struct sasl_srv_conf *conf, VSTR *why)
{
	for (size_t i = 0;
	     i < sizeof(sasl_srv_backends) / sizeof(sasl_srv_backends[0]);
	     i++) {
		const struct sasl_srv_ops *ops = &sasl_srv_backends[i];

		if (strcasecmp(conf->type, ops->type) != 0)
			continue;
		if (ops->init(conf, why) < 0)
			return -1;
		sasl_srv_backend = ops;
		return 0;
	}
	vstr_sprintf(why,
		     "unsupported smtpd_sasl_type \"%s\" (cyrus or dovecot)",
		     conf->type);
	return -1;
}

SASL_SRV *
sasl_srv_create(const struct sasl_srv_info *info, VSTR *why)
{
	SASL_SRV *s;
	void	 *impl;

	if (sasl_srv_backend == NULL) {
		vstr_strcpy(why, "SASL server not initialized");
		return NULL;
	}
	if ((impl = sasl_srv_backend->create(info, why)) == NULL)
		return NULL;
	s = mycalloc(1, sizeof(*s));
	s->ops = sasl_srv_backend;
	s->impl = impl;
	return s;
}

SASL_SRV *
sasl_srv_free(SASL_SRV *s)
{
	if (s == NULL)
		return NULL;
	s->ops->free(s->impl);
	myfree(s);
	return NULL;
}

const char *
sasl_srv_mechs(SASL_SRV *s, VSTR *why)
{
	return s->ops->mechs(s->impl, why);
}

enum sasl_step
sasl_srv_start(SASL_SRV *s, const char *mech, const void *in, size_t inlen,
	       bool has_in, VSTR *out, VSTR *why)
{
	return s->ops->start(s->impl, mech, in, inlen, has_in, out, why);
}

enum sasl_step
sasl_srv_step(SASL_SRV *s, const void *in, size_t inlen, VSTR *out, VSTR *why)
{
	return s->ops->step(s->impl, in, inlen, out, why);
}

const char *
sasl_srv_username(SASL_SRV *s)
{
	return s->ops->username(s->impl);
}
