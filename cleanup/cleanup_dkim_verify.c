/*
 * cleanup_dkim_verify - DKIM verification of inbound mail with
 * libopendkim (RFC 6376, RFC 8463): the only file of the verifying side
 * that includes the library.
 *
 * The library is fed the message as received (cleanup_authres.c hands
 * over each header field, then the body bytes).  Key records are fetched
 * through util/dns from libopendkim's key-lookup callback, so
 * dns_nameservers holds for DKIM as for everything else and the library's
 * own resolver is never used.  At most dkim_verify_signature_limit
 * signatures are processed (the prescreen callback marks the rest as
 * ignored, like OpenDKIM's MaximumSignaturesToVerify).
 *
 * Results per signature, as OpenDKIM reports them: pass (signature and
 * body hash verified), fail (either did not), temperror (the key lookup
 * failed temporarily: the message is accepted), permerror (anything that
 * makes the signature unverifiable for good: syntax, no key, revoked or
 * unusable key).
 *
 * Errors: none reach the caller; a library failure turns into per-
 * signature results.  A DKIM_LIB that cannot be created is fatal at
 * start-up (cleanup_dkim_verify_conf).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdbool.h>
#include <string.h>

#include "cleanup/cleanup_authres.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define CLEANUP_DKIM_SIGS_MAX 100 /* dkim_verify_signature_limit bound */

struct cleanup_dkim_verify {
	CLEANUP_STATE		   *st;
	DNS			   *dns;
	DNS_REPLY		   *reply;
	VSTR			   *name;
	VSTR			   *why;
	DKIM			   *dkim; /* NULL: gave up */
	DKIM_STAT		    status;
	bool			    eoh;
	bool			    nosig;   /* no signature to verify */
	bool			    signed_; /* a DKIM-Signature was seen */
	DKIM_SIGINFO		   *tempfail[CLEANUP_DKIM_SIGS_MAX];
	size_t			    ntempfail;
	struct cleanup_dkim_result *res;
	size_t			    nres;
};

/* Key records through util/dns: "<s>._domainkey.<d>" TXT. */
static DKIM_CBSTAT
cleanup_dkim_key(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	CLEANUP_DKIM_VERIFY *v = dkim_get_user_context(dkim);
	const char	    *d = (const char *)dkim_sig_getdomain(sig);
	const char	    *s = (const char *)dkim_sig_getselector(sig);
	const VSTR	    *txt;

	if (v == NULL || d == NULL || s == NULL || buflen == 0)
		return DKIM_CBSTAT_ERROR;
	vstr_sprintf(v->name, "%s._domainkey.%s", s, d);
	if (VSTR_LEN(v->name) > DNS_NAME_MAX)
		return DKIM_CBSTAT_NOTFOUND;
	switch (dns_lookup(v->dns, VSTR_STR(v->name), DNS_TYPE_TXT, v->reply,
			   v->why)) {
	case DNS_OK:
		/* RFC 6376 3.6.2.2: with several records, use one. */
		txt = v->reply->rr[0].data;
		if (VSTR_LEN(txt) >= buflen)
			return DKIM_CBSTAT_ERROR;
		memcpy(buf, VSTR_STR(txt), VSTR_LEN(txt));
		buf[VSTR_LEN(txt)] = 0;
		return DKIM_CBSTAT_CONTINUE;
	case DNS_NOTFOUND:
		return DKIM_CBSTAT_NOTFOUND;
	default:
		msg_info("%s: DKIM key %s: %s", VSTR_STR(v->st->qid),
			 VSTR_STR(v->name), VSTR_STR(v->why));
		if (v->ntempfail < CLEANUP_DKIM_SIGS_MAX)
			v->tempfail[v->ntempfail++] = sig;
		/*
		 * Not TRYAGAIN: that makes libopendkim stop at this
		 * signature and leave the others unverified.  "No key"
		 * lets it go on; the list above makes this one temperror.
		 */
		return DKIM_CBSTAT_NOTFOUND;
	}
}

/* Verify the first dkim_verify_signature_limit signatures only. */
static DKIM_CBSTAT
cleanup_dkim_prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
	CLEANUP_DKIM_VERIFY *v = dkim_get_user_context(dkim);
	long long limit = v ? v->st->conf->dkim_verify_signature_limit : 0;
	int	  i;

	for (i = 0; i < nsigs; i++)
		if (i >= limit)
			dkim_sig_ignore(sigs[i]);
	return DKIM_CBSTAT_CONTINUE;
}

void
cleanup_dkim_verify_conf(CLEANUP_CONF *c, const CFG *cfg)
{
	unsigned int flags;

	c->dkim_verify_signature_limit =
	    cfg_get_int(cfg, "dkim_verify_signature_limit");
	if (c->dkim_verify_signature_limit > CLEANUP_DKIM_SIGS_MAX)
		c->dkim_verify_signature_limit = CLEANUP_DKIM_SIGS_MAX;
	if (!cfg_get_bool(cfg, "dkim_verify_enable"))
		return;
	if ((c->dkim_verify_lib = dkim_init(NULL, NULL)) == NULL)
		msg_fatal("dkim_verify_enable: cannot initialize libopendkim");
	/* Keep handles of unusable signatures: they are reported too. */
	flags = DKIM_LIBFLAGS_BADSIGHANDLES;
	(void)dkim_options(c->dkim_verify_lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS,
			   &flags, sizeof(flags));
	(void)dkim_set_key_lookup(c->dkim_verify_lib, cleanup_dkim_key);
	(void)dkim_set_prescreen(c->dkim_verify_lib, cleanup_dkim_prescreen);
}

CLEANUP_DKIM_VERIFY *
cleanup_dkim_verify_begin(CLEANUP_STATE *st, DNS *dns)
{
	CLEANUP_DKIM_VERIFY *v;
	DKIM_STAT	     status;

	if (st->conf->dkim_verify_lib == NULL)
		return NULL;
	v = mycalloc(1, sizeof(*v));
	v->st = st;
	v->dns = dns;
	v->reply = dns_reply_alloc();
	v->name = vstr_alloc(64);
	v->why = vstr_alloc(64);
	v->dkim = dkim_verify(st->conf->dkim_verify_lib,
			      (const unsigned char *)VSTR_STR(st->qid), NULL,
			      &status);
	v->status = status;
	if (v->dkim != NULL)
		(void)dkim_set_user_context(v->dkim, v);
	else
		msg_warn("%s: dkim_verify: %s", VSTR_STR(st->qid),
			 dkim_getresultstr(status));
	return v;
}

void
cleanup_dkim_verify_header(CLEANUP_DKIM_VERIFY *v, const struct header_field *f)
{
	DKIM_STAT status;

	if (v == NULL || v->dkim == NULL || v->eoh)
		return;
	if (header_is(f, "DKIM-Signature"))
		v->signed_ = true;
	status = dkim_header(v->dkim, (u_char *)f->text, f->len);
	if (status != DKIM_STAT_OK && v->status == DKIM_STAT_OK)
		v->status = status;
}

void
cleanup_dkim_verify_eoh(CLEANUP_DKIM_VERIFY *v)
{
	DKIM_STAT status;

	if (v == NULL || v->dkim == NULL || v->eoh)
		return;
	v->eoh = true;
	status = dkim_eoh(v->dkim);
	if (status == DKIM_STAT_NOSIG)
		v->nosig = true;
	else if (status != DKIM_STAT_OK && v->status == DKIM_STAT_OK)
		v->status = status;
}

void
cleanup_dkim_verify_body(CLEANUP_DKIM_VERIFY *v, const char *data, size_t len)
{
	if (v == NULL || v->dkim == NULL || !v->eoh || v->nosig
	    || v->status != DKIM_STAT_OK)
		return;
	if ((v->status = dkim_body(v->dkim, (u_char *)data, len))
	    != DKIM_STAT_OK)
		msg_info("%s: DKIM body: %s", VSTR_STR(v->st->qid),
			 dkim_getresultstr(v->status));
}

static bool
cleanup_dkim_was_tempfail(const CLEANUP_DKIM_VERIFY *v, DKIM_SIGINFO *sig)
{
	size_t i;

	for (i = 0; i < v->ntempfail; i++)
		if (v->tempfail[i] == sig)
			return true;
	return false;
}

/* One signature's RFC 8601 result. */
static const char *
cleanup_dkim_result_of(const CLEANUP_DKIM_VERIFY *v, DKIM_SIGINFO *sig)
{
	unsigned int flags = dkim_sig_getflags(sig);
	int	     err = dkim_sig_geterror(sig);

	if (cleanup_dkim_was_tempfail(v, sig) || err == DKIM_SIGERROR_KEYFAIL)
		return "temperror";
	if ((flags & DKIM_SIGFLAG_PASSED) != 0
	    && dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH)
		return "pass";
	if (err == DKIM_SIGERROR_BADSIG
	    || ((flags & DKIM_SIGFLAG_PROCESSED) != 0
		&& (err == DKIM_SIGERROR_OK || err == DKIM_SIGERROR_UNKNOWN)))
		return "fail";
	if (err == DKIM_SIGERROR_UNKNOWN && v->status == DKIM_STAT_CBTRYAGAIN)
		return "temperror";
	return "permerror";
}

/* The first 8 characters of b=, folding white space removed. */
static void
cleanup_dkim_short_b(DKIM_SIGINFO *sig, char *out, size_t size)
{
	const u_char *b = dkim_sig_gettagvalue(sig, 0, (u_char *)"b");
	size_t	      n = 0;

	out[0] = 0;
	for (; b && *b && n + 1 < size; b++)
		if (*b > ' ' && *b < 0x7f)
			out[n++] = (char)*b;
	out[n] = 0;
}

size_t
cleanup_dkim_verify_end(CLEANUP_DKIM_VERIFY		  *v,
			const struct cleanup_dkim_result **res)
{
	DKIM_SIGINFO **sigs = NULL;
	int	       nsigs = 0, i;
	DKIM_STAT      status;

	*res = NULL;
	if (v == NULL)
		return 0;
	if (v->dkim == NULL) {
		/* The library refused the message: one unusable result. */
		v->res = mycalloc(1, sizeof(*v->res));
		v->res[0].result = "permerror";
		v->nres = 1;
		*res = v->res;
		return v->nres;
	}
	if (!v->eoh)
		cleanup_dkim_verify_eoh(v);
	if (!v->nosig && v->status == DKIM_STAT_OK) {
		status = dkim_eom(v->dkim, NULL);
		if (status != DKIM_STAT_OK && status != DKIM_STAT_NOSIG)
			v->status = status;
	}
	if (dkim_getsiglist(v->dkim, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	v->res = mycalloc((size_t)nsigs + 1, sizeof(*v->res));
	for (i = 0; i < nsigs && i < CLEANUP_DKIM_SIGS_MAX; i++) {
		struct cleanup_dkim_result *r = &v->res[v->nres];

		if (dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE)
			continue;
		r->result = cleanup_dkim_result_of(v, sigs[i]);
		r->domain = (const char *)dkim_sig_getdomain(sigs[i]);
		r->selector = (const char *)dkim_sig_getselector(sigs[i]);
		cleanup_dkim_short_b(sigs[i], r->b, sizeof(r->b));
		v->nres++;
	}
	if (v->nres == 0 && v->signed_) {
		/* Signed, but no signature libopendkim could even list. */
		v->res[0].result = v->status == DKIM_STAT_CBTRYAGAIN
				       ? "temperror"
				       : "permerror";
		v->nres = 1;
	}
	*res = v->res;
	return v->nres;
}

CLEANUP_DKIM_VERIFY *
cleanup_dkim_verify_free(CLEANUP_DKIM_VERIFY *v)
{
	if (v == NULL)
		return NULL;
	if (v->dkim)
		(void)dkim_free(v->dkim);
	dns_reply_free(v->reply);
	vstr_free(v->name);
	vstr_free(v->why);
	myfree(v->res);
	myfree(v);
	return NULL;
}
