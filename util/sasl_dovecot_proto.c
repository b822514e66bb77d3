/*
 * sasl_dovecot_proto - Dovecot's auth client protocol, without I/O.
 *
 * Everything Dovecot's auth server sends passes through
 * sasl_dovecot_proto_parse() before sasl_dovecot.c acts on it, so this is
 * what fuzz_dovecot_auth exercises.  A line is tab-separated fields; the
 * first names the command.  Values are tab-escaped: \001 followed by 1,
 * t, r, n or 0 stands for \001, TAB, CR, LF or NUL.  Commands this client
 * does not know are reported as SASL_DOVECOT_OTHER and ignored, as the
 * protocol asks; unknown parameters of known commands likewise.
 *
 * The mechanism filter is Postfix's: a "private" mechanism is never
 * offered, noplaintext/noanonymous/nodictionary/noactive drop the
 * mechanisms with that flag, forward_secrecy and mutual_auth keep only
 * those that have it.
 *
 * Errors: 0 / -1 with why.
 *
 * Ownership: the caller owns every VSTR (sasl_dovecot_reply_init/done).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <strings.h>

#include "util/mymalloc.h"
#include "util/sasl.h"
#include "util/sasl_dovecot.h"
#include "util/strutil.h"
#include "util/vstr.h"

void
sasl_dovecot_reply_init(struct sasl_dovecot_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->text = vstr_alloc(32);
	r->data = vstr_alloc(64);
	r->user = vstr_alloc(32);
	r->reason = vstr_alloc(32);
}

void
sasl_dovecot_reply_done(struct sasl_dovecot_reply *r)
{
	explicit_bzero(VSTR_STR(r->data), VSTR_LEN(r->data));
	r->text = vstr_free(r->text);
	r->data = vstr_free(r->data);
	r->user = vstr_free(r->user);
	r->reason = vstr_free(r->reason);
}

static void
sasl_dovecot_reply_clear(struct sasl_dovecot_reply *r)
{
	r->kind = SASL_DOVECOT_OTHER;
	r->major = r->minor = 0;
	r->mech_flags = 0;
	r->id = 0;
	r->temp = false;
	r->has_data = false;
	vstr_reset(r->text);
	explicit_bzero(VSTR_STR(r->data), VSTR_LEN(r->data));
	vstr_reset(r->data);
	vstr_reset(r->user);
	vstr_reset(r->reason);
}

/* Unescape field [p, p+len) into out; -1 on a bad escape. */
static int
sasl_dovecot_unescape(VSTR *out, const char *p, size_t len)
{
	vstr_reset(out);
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (c == '\001') {
			if (++i >= len)
				return -1;
			switch (p[i]) {
			case '1':
				c = '\001';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'n':
				c = '\n';
				break;
			case '0':
				c = 0;
				break;
			default:
				return -1;
			}
		}
		if (vstr_addch(out, c) < 0)
			return -1;
	}
	return 0;
}

void
sasl_dovecot_proto_escape(VSTR *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\001':
			vstr_strcat(out, "\0011");
			break;
		case '\t':
			vstr_strcat(out, "\001t");
			break;
		case '\r':
			vstr_strcat(out, "\001r");
			break;
		case '\n':
			vstr_strcat(out, "\001n");
			break;
		default:
			vstr_addch(out, *s);
			break;
		}
	}
}

/* A decimal number of 1-10 digits; -1 otherwise. */
static int
sasl_dovecot_number(const char *p, size_t len, unsigned long *val)
{
	unsigned long v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	*val = v;
	return 0;
}

static const struct {
	const char *name;
	unsigned    bit;
} sasl_dovecot_mech_flags[] = {
	{ "anonymous", SASL_DOVECOT_MECH_ANONYMOUS },
	{ "plaintext", SASL_DOVECOT_MECH_PLAINTEXT },
	{ "dictionary", SASL_DOVECOT_MECH_DICTIONARY },
	{ "active", SASL_DOVECOT_MECH_ACTIVE },
	{ "forward-secrecy", SASL_DOVECOT_MECH_FORWARD_SECRECY },
	{ "mutual-auth", SASL_DOVECOT_MECH_MUTUAL_AUTH },
	{ "private", SASL_DOVECOT_MECH_PRIVATE },
};

static const struct {
	const char	      *name;
	enum sasl_dovecot_kind kind;
} sasl_dovecot_cmds[] = {
	{ "VERSION", SASL_DOVECOT_VERSION }, { "MECH", SASL_DOVECOT_MECH },
	{ "SPID", SASL_DOVECOT_SPID },	     { "CUID", SASL_DOVECOT_CUID },
	{ "COOKIE", SASL_DOVECOT_COOKIE },   { "DONE", SASL_DOVECOT_DONE },
	{ "OK", SASL_DOVECOT_OK },	     { "CONT", SASL_DOVECOT_CONT },
	{ "FAIL", SASL_DOVECOT_FAIL },
};

/* "name=value" or "name" parameters of OK and FAIL. */
static int
sasl_dovecot_param(struct sasl_dovecot_reply *r, const char *f, size_t len,
		   VSTR *tmp, VSTR *why)
{
	const char *eq = memchr(f, '=', len);
	size_t	    nlen = eq ? (size_t)(eq - f) : len;
	const char *v = eq ? eq + 1 : f + len;
	size_t	    vlen = eq ? len - nlen - 1 : 0;

	if (nlen == 4 && memcmp(f, "temp", 4) == 0 && eq == NULL) {
		r->temp = true;
	} else if (nlen == 4 && memcmp(f, "user", 4) == 0 && eq) {
		if (sasl_dovecot_unescape(r->user, v, vlen) < 0)
			goto bad;
	} else if (nlen == 6 && memcmp(f, "reason", 6) == 0 && eq) {
		if (sasl_dovecot_unescape(r->reason, v, vlen) < 0)
			goto bad;
	} else if (nlen == 4 && memcmp(f, "resp", 4) == 0 && eq
		   && r->kind == SASL_DOVECOT_OK) {
		if (sasl_dovecot_unescape(tmp, v, vlen) < 0
		    || sasl_proto_base64_decode(r->data, VSTR_STR(tmp),
						VSTR_LEN(tmp))
			   < 0) {
			vstr_strcpy(why, "OK resp= is not base64");
			return -1;
		}
		r->has_data = true;
	}
	return 0;
bad:
	vstr_sprintf(why, "bad escape in the %.*s parameter", (int)nlen, f);
	return -1;
}

/* The next tab-separated field of [*pp, end): 1, or 0 at the end. */
static int
sasl_dovecot_field(const char **pp, const char *end, const char **f,
		   size_t *flen)
{
	const char *tab;

	if (*pp == NULL)
		return 0;
	tab = memchr(*pp, '\t', (size_t)(end - *pp));
	*f = *pp;
	*flen = tab ? (size_t)(tab - *pp) : (size_t)(end - *pp);
	*pp = tab ? tab + 1 : NULL;
	return 1;
}

/* MECH name [flags...]: the name is what goes into the EHLO reply. */
static int
sasl_dovecot_mech(struct sasl_dovecot_reply *r, const char *p, const char *end,
		  VSTR *why)
{
	const char *f;
	size_t	    fl;

	if (!sasl_dovecot_field(&p, end, &f, &fl) || fl == 0 || fl > 64) {
		vstr_strcpy(why, "bad MECH line");
		return -1;
	}
	/* RFC 4422 3.1 name characters only, unescaped. */
	for (size_t i = 0; i < fl; i++)
		if (!((f[i] >= 'A' && f[i] <= 'Z')
		      || (f[i] >= 'a' && f[i] <= 'z')
		      || (f[i] >= '0' && f[i] <= '9') || f[i] == '-'
		      || f[i] == '_')) {
			vstr_strcpy(why, "bad MECH name");
			return -1;
		}
	vstr_memcpy(r->text, f, fl);
	while (sasl_dovecot_field(&p, end, &f, &fl))
		for (size_t i = 0; i < sizeof(sasl_dovecot_mech_flags)
					   / sizeof(sasl_dovecot_mech_flags[0]);
		     i++)
			if (strlen(sasl_dovecot_mech_flags[i].name) == fl
			    && memcmp(sasl_dovecot_mech_flags[i].name, f, fl)
				   == 0)
				r->mech_flags |= sasl_dovecot_mech_flags[i].bit;
	return 0;
}

int
sasl_dovecot_proto_parse(const char *line, size_t len,
			 struct sasl_dovecot_reply *r, VSTR *why)
{
	const char *p = line;
	const char *end = line + len;
	const char *f;
	size_t	    fl;
	VSTR	   *tmp;
	int	    ret = -1;

	sasl_dovecot_reply_clear(r);
	if (memchr(line, 0, len) != NULL || memchr(line, '\n', len) != NULL) {
		vstr_strcpy(why, "NUL or LF inside a line");
		return -1;
	}
	if (len > SASL_DOVECOT_LINE_MAX) {
		vstr_strcpy(why, "line too long");
		return -1;
	}
	(void)sasl_dovecot_field(&p, end, &f, &fl);
	for (size_t i = 0;
	     i < sizeof(sasl_dovecot_cmds) / sizeof(sasl_dovecot_cmds[0]); i++)
		if (strlen(sasl_dovecot_cmds[i].name) == fl
		    && memcmp(sasl_dovecot_cmds[i].name, f, fl) == 0)
			r->kind = sasl_dovecot_cmds[i].kind;
	tmp = vstr_alloc(64);
	switch (r->kind) {
	case SASL_DOVECOT_OTHER:
	case SASL_DOVECOT_DONE:
		ret = 0;
		break;
	case SASL_DOVECOT_VERSION:
		if (!sasl_dovecot_field(&p, end, &f, &fl)
		    || sasl_dovecot_number(f, fl, &r->major) < 0
		    || !sasl_dovecot_field(&p, end, &f, &fl)
		    || sasl_dovecot_number(f, fl, &r->minor) < 0) {
			vstr_strcpy(why, "bad VERSION line");
			break;
		}
		ret = 0;
		break;
	case SASL_DOVECOT_SPID:
	case SASL_DOVECOT_CUID:
	case SASL_DOVECOT_COOKIE:
		if (!sasl_dovecot_field(&p, end, &f, &fl) || fl == 0
		    || sasl_dovecot_unescape(r->text, f, fl) < 0) {
			vstr_strcpy(why, "bad SPID, CUID or COOKIE line");
			break;
		}
		ret = 0;
		break;
	case SASL_DOVECOT_MECH:
		ret = sasl_dovecot_mech(r, p, end, why);
		break;
	case SASL_DOVECOT_CONT:
		if (!sasl_dovecot_field(&p, end, &f, &fl)
		    || sasl_dovecot_number(f, fl, &r->id) < 0) {
			vstr_strcpy(why, "bad CONT id");
			break;
		}
		r->has_data = true;
		if (sasl_dovecot_field(&p, end, &f, &fl)
		    && (sasl_dovecot_unescape(tmp, f, fl) < 0
			|| sasl_proto_base64_decode(r->data, VSTR_STR(tmp),
						    VSTR_LEN(tmp))
			       < 0)) {
			vstr_strcpy(why, "CONT data is not base64");
			break;
		}
		ret = 0;
		break;
	case SASL_DOVECOT_OK:
	case SASL_DOVECOT_FAIL:
		if (!sasl_dovecot_field(&p, end, &f, &fl)
		    || sasl_dovecot_number(f, fl, &r->id) < 0) {
			vstr_strcpy(why, r->kind == SASL_DOVECOT_OK
					     ? "bad OK id"
					     : "bad FAIL id");
			break;
		}
		ret = 0;
		while (ret == 0 && sasl_dovecot_field(&p, end, &f, &fl))
			ret = sasl_dovecot_param(r, f, fl, tmp, why);
		break;
	}
	explicit_bzero(VSTR_STR(tmp), VSTR_LEN(tmp));
	vstr_free(tmp);
	return ret;
}

int
sasl_dovecot_security_parse(const char *words, unsigned *sec, VSTR *why)
{
	static const struct sasl_sec_word opts[] = {
		{ "noplaintext", SASL_DOVECOT_SEC_NOPLAINTEXT },
		{ "noactive", SASL_DOVECOT_SEC_NOACTIVE },
		{ "nodictionary", SASL_DOVECOT_SEC_NODICTIONARY },
		{ "noanonymous", SASL_DOVECOT_SEC_NOANONYMOUS },
		{ "forward_secrecy", SASL_DOVECOT_SEC_FORWARD_SECRECY },
		{ "mutual_auth", SASL_DOVECOT_SEC_MUTUAL_AUTH },
	};

	return sasl_proto_security_parse(words, opts,
					 sizeof(opts) / sizeof(opts[0]),
					 " for smtpd_sasl_type dovecot", sec,
					 why);
}

bool
sasl_dovecot_mech_allowed(unsigned mf, unsigned sec)
{
	if (mf & SASL_DOVECOT_MECH_PRIVATE)
		return false;
	if (((sec & SASL_DOVECOT_SEC_NOPLAINTEXT)
	     && (mf & SASL_DOVECOT_MECH_PLAINTEXT))
	    || ((sec & SASL_DOVECOT_SEC_NOANONYMOUS)
		&& (mf & SASL_DOVECOT_MECH_ANONYMOUS))
	    || ((sec & SASL_DOVECOT_SEC_NODICTIONARY)
		&& (mf & SASL_DOVECOT_MECH_DICTIONARY))
	    || ((sec & SASL_DOVECOT_SEC_NOACTIVE)
		&& (mf & SASL_DOVECOT_MECH_ACTIVE)))
		return false;
	if ((sec & SASL_DOVECOT_SEC_FORWARD_SECRECY)
	    && !(mf & SASL_DOVECOT_MECH_FORWARD_SECRECY))
		return false;
	if ((sec & SASL_DOVECOT_SEC_MUTUAL_AUTH)
	    && !(mf & SASL_DOVECOT_MECH_MUTUAL_AUTH))
		return false;
	return true;
}
