/*
 * mta_sts - MTA-STS TXT record, policy file, MX matching and cache
 * record.  See mta_sts.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/msg.h"
#include "util/mta_sts.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

static int
mta_sts_fail(VSTR *why, const char *text)
{
	if (why)
		vstr_strcpy(why, text);
	return -1;
}

int
mta_sts_mode_parse(const char *name)
{
	if (strcmp(name, "enforce") == 0)
		return MTA_STS_MODE_ENFORCE;
	if (strcmp(name, "testing") == 0)
		return MTA_STS_MODE_TESTING;
	if (strcmp(name, "none") == 0)
		return MTA_STS_MODE_NONE;
	return -1;
}

const char *
mta_sts_mode_name(enum mta_sts_mode mode)
{
	switch (mode) {
	case MTA_STS_MODE_ENFORCE:
		return "enforce";
	case MTA_STS_MODE_TESTING:
		return "testing";
	case MTA_STS_MODE_NONE:
		return "none";
	}
	msg_panic("mta_sts_mode_name: bad mode %d", (int)mode);
}

static bool
mta_sts_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static bool
mta_sts_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	       || (c >= '0' && c <= '9');
}

/* RFC 8461 3.1 sts-ext-name / sts-ext-value. */
static bool
mta_sts_ext_ok(const char *p, size_t len)
{
	size_t eq;

	for (eq = 0; eq < len && p[eq] != '='; eq++)
		;
	if (eq == 0 || eq > 32 || eq + 1 >= len || !mta_sts_alnum(p[0]))
		return false;
	for (size_t i = 1; i < eq; i++)
		if (!mta_sts_alnum(p[i]) && p[i] != '_' && p[i] != '-'
		    && p[i] != '.')
			return false;
	for (size_t i = eq + 1; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x21 || c > 0x7e || c == ';' || c == '=')
			return false;
	}
	return true;
}

int
mta_sts_txt_parse(const char *txt, size_t len, VSTR *id, VSTR *why)
{
	static const char version[] = "v=STSv1";
	size_t		  vlen = sizeof(version) - 1;
	size_t		  pos;
	int		  ids = 0;

	if (len < vlen || memcmp(txt, version, vlen) != 0
	    || (len > vlen && txt[vlen] != ';' && !mta_sts_wsp(txt[vlen])))
		return 0;
	pos = vlen;
	while (pos < len) {
		size_t start;
		size_t end;

		/* sts-sep = *WSP ";" *WSP */
		while (pos < len && mta_sts_wsp(txt[pos]))
			pos++;
		if (pos >= len)
			break;
		if (txt[pos] != ';')
			return mta_sts_fail(why, "missing \";\" between "
						 "fields");
		pos++;
		while (pos < len && mta_sts_wsp(txt[pos]))
			pos++;
		if (pos >= len)
			break; /* a final separator is allowed */
		start = pos;
		while (pos < len && txt[pos] != ';' && !mta_sts_wsp(txt[pos]))
			pos++;
		end = pos;
		if (end - start > 3 && memcmp(txt + start, "id=", 3) == 0) {
			if (++ids > 1)
				return mta_sts_fail(why, "more than one id");
			if (end - start - 3 > MTA_STS_ID_MAX)
				return mta_sts_fail(why, "id is longer than "
							 "32 characters");
			for (size_t i = start + 3; i < end; i++)
				if (!mta_sts_alnum(txt[i]))
					return mta_sts_fail(why, "id is not "
								 "letters and "
								 "digits");
			if (id)
				vstr_memcpy(id, txt + start + 3,
					    end - start - 3);
		} else if (!mta_sts_ext_ok(txt + start, end - start)) {
			return mta_sts_fail(why, "malformed field");
		}
	}
	if (ids == 0)
		return mta_sts_fail(why, "no id");
	return 1;
}

int
mta_sts_txt_select(const char *const *txt, const size_t *len, size_t n,
		   VSTR *id, VSTR *why)
{
	size_t found = 0;
	size_t which = 0;

	for (size_t i = 0; i < n; i++) {
		/* RFC 8461 3.1: records not beginning so are discarded. */
		if (len[i] < 7 || memcmp(txt[i], "v=STSv1", 7) != 0)
			continue;
		found++;
		which = i;
	}
	if (found == 0)
		return mta_sts_fail(why, "no v=STSv1 TXT record");
	if (found > 1)
		return mta_sts_fail(why, "more than one v=STSv1 TXT record");
	switch (mta_sts_txt_parse(txt[which], len[which], id, why)) {
	case 1:
		return 0;
	case 0:
		return mta_sts_fail(why, "no v=STSv1 TXT record");
	default:
		return -1;
	}
}

void
mta_sts_policy_free(MTA_STS_POLICY *p)
{
	for (size_t i = 0; i < p->nmx; i++)
		myfree(p->mx[i]);
	memset(p, 0, sizeof(*p));
}

void
mta_sts_policy_copy(MTA_STS_POLICY *dst, const MTA_STS_POLICY *src)
{
	mta_sts_policy_free(dst);
	dst->mode = src->mode;
	dst->max_age = src->max_age;
	for (size_t i = 0; i < src->nmx; i++)
		dst->mx[i] = mystrdup(src->mx[i]);
	dst->nmx = src->nmx;
}

/* A host name: dot-separated labels of letters, digits, '-'. */
static bool
mta_sts_host_ok(const char *host)
{
	size_t len = strlen(host);
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	for (const char *p = host; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!mta_sts_alnum(*p) && *p != '-')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

bool
mta_sts_mx_pattern_ok(const char *pattern)
{
	if (strncmp(pattern, "*.", 2) == 0)
		pattern += 2;
	return mta_sts_host_ok(pattern);
}

bool
mta_sts_mx_match(const char *pattern, const char *host)
{
	size_t hlen = strlen(host);
	size_t plen;

	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (strncmp(pattern, "*.", 2) == 0) {
		const char *dot = memchr(host, '.', hlen);

		pattern += 1; /* ".example.com" */
		plen = strlen(pattern);
		/* One label, then exactly the rest of the pattern. */
		return dot != NULL && dot != host
		       && (size_t)(host + hlen - dot) == plen
		       && strncasecmp(dot, pattern, plen) == 0;
	}
	plen = strlen(pattern);
	return plen == hlen && strncasecmp(host, pattern, hlen) == 0;
}

bool
mta_sts_policy_match(const MTA_STS_POLICY *p, const char *host)
{
	for (size_t i = 0; i < p->nmx; i++)
		if (mta_sts_mx_match(p->mx[i], host))
			return true;
	return false;
}

static int
mta_sts_add_mx(MTA_STS_POLICY *p, const char *pattern, size_t len, VSTR *why)
{
	char *copy;

	if (p->nmx >= MTA_STS_MX_MAX)
		return mta_sts_fail(why, "too many mx patterns");
	copy = mymalloc(len + 1);
	memcpy(copy, pattern, len);
	copy[len] = 0;
	str_lower(copy);
	if (!mta_sts_mx_pattern_ok(copy)) {
		myfree(copy);
		return mta_sts_fail(why, "malformed mx pattern");
	}
	p->mx[p->nmx++] = copy;
	return 0;
}

/* max_age: 1 to 10 digits, at most MTA_STS_MAX_AGE_MAX. */
static int
mta_sts_max_age(const char *v, size_t len, long long *out)
{
	long long n = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	if (n > MTA_STS_MAX_AGE_MAX)
		return -1;
	*out = n;
	return 0;
}

/* One "key: value" line (without its end). */
static int
mta_sts_policy_line(const char *line, size_t len, MTA_STS_POLICY *p,
		    unsigned *seen, VSTR *why)
{
	const char *colon = memchr(line, ':', len);
	const char *k = line;
	const char *v;
	size_t	    klen;
	size_t	    vlen;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return mta_sts_fail(why, "control character in a "
						 "policy line");
	}
	if (colon == NULL)
		return mta_sts_fail(why, "policy line without \":\"");
	while (k < colon && mta_sts_wsp(*k))
		k++;
	klen = (size_t)(colon - k);
	while (klen > 0 && mta_sts_wsp(k[klen - 1]))
		klen--;
	v = colon + 1;
	vlen = (size_t)(line + len - v);
	while (vlen > 0 && mta_sts_wsp(*v))
		v++, vlen--;
	while (vlen > 0 && mta_sts_wsp(v[vlen - 1]))
		vlen--;
	if (klen == 0)
		return mta_sts_fail(why, "policy line without a key");
	for (size_t i = 0; i < klen; i++)
		if (!mta_sts_alnum(k[i]) && k[i] != '_' && k[i] != '-'
		    && k[i] != '.')
			return mta_sts_fail(why, "malformed policy key");
#define KEY(name) (klen == sizeof(name) - 1 && memcmp(k, name, klen) == 0)
#define ONCE(bit, name) \
	do { \
		if (*seen & (bit)) \
			return mta_sts_fail(why, "\"" name "\" appears " \
						 "more than once"); \
		*seen |= (bit); \
	} while (0)
	if (KEY("version")) {
		ONCE(1, "version");
		if (vlen != 5 || memcmp(v, "STSv1", 5) != 0)
			return mta_sts_fail(why, "version is not STSv1");
	} else if (KEY("mode")) {
		ONCE(2, "mode");
		if (vlen == 7 && memcmp(v, "enforce", 7) == 0)
			p->mode = MTA_STS_MODE_ENFORCE;
		else if (vlen == 7 && memcmp(v, "testing", 7) == 0)
			p->mode = MTA_STS_MODE_TESTING;
		else if (vlen == 4 && memcmp(v, "none", 4) == 0)
			p->mode = MTA_STS_MODE_NONE;
		else
			return mta_sts_fail(why, "unknown mode");
	} else if (KEY("max_age")) {
		ONCE(4, "max_age");
		if (mta_sts_max_age(v, vlen, &p->max_age) < 0)
			return mta_sts_fail(why, "bad max_age");
	} else if (KEY("mx")) {
		return mta_sts_add_mx(p, v, vlen, why);
	}
#undef KEY
#undef ONCE
	return 0;
}

int
mta_sts_policy_parse(const char *text, size_t len, MTA_STS_POLICY *p, VSTR *why)
{
	unsigned seen = 0;
	size_t	 pos = 0;

	mta_sts_policy_free(p);
	if (len > MTA_STS_POLICY_MAX)
		return mta_sts_fail(why, "policy larger than 64 KiB");
	if (memchr(text, 0, len) != NULL)
		return mta_sts_fail(why, "NUL in the policy");
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t	    end = nl ? (size_t)(nl - text) : len;
		size_t	    llen = end - pos;

		if (llen > 0 && text[end - 1] == '\r')
			llen--;
		if (llen > MTA_STS_LINE_MAX) {
			mta_sts_policy_free(p);
			return mta_sts_fail(why, "policy line too long");
		}
		/* Empty lines (a final one, say) say nothing. */
		if (llen > 0
		    && mta_sts_policy_line(text + pos, llen, p, &seen, why)
			   < 0) {
			mta_sts_policy_free(p);
			return -1;
		}
		pos = end + 1;
	}
	if (!(seen & 1) || !(seen & 2) || !(seen & 4)) {
		mta_sts_policy_free(p);
		return mta_sts_fail(why, !(seen & 1)   ? "no version"
					 : !(seen & 2) ? "no mode"
						       : "no max_age");
	}
	if (p->nmx == 0 && p->mode != MTA_STS_MODE_NONE) {
		mta_sts_policy_free(p);
		return mta_sts_fail(why, "no mx pattern");
	}
	return 0;
}

void
mta_sts_policy_mx_list(const MTA_STS_POLICY *p, const char *sep, VSTR *out)
{
	vstr_reset(out);
	for (size_t i = 0; i < p->nmx; i++) {
		if (i > 0)
			vstr_strcat(out, sep);
		vstr_strcat(out, p->mx[i]);
	}
}

void
mta_sts_policy_text(const MTA_STS_POLICY *p, VSTR *out)
{
	vstr_sprintf(out, "version: STSv1\nmode: %s\n",
		     mta_sts_mode_name(p->mode));
	for (size_t i = 0; i < p->nmx; i++)
		vstr_sprintf_append(out, "mx: %s\n", p->mx[i]);
	vstr_sprintf_append(out, "max_age: %lld\n", p->max_age);
}

int
mta_sts_policy_mx_parse(MTA_STS_POLICY *p, const char *list, VSTR *why)
{
	char *copy = mystrdup(list);
	char *cp = copy;
	char *tok;

	for (size_t i = 0; i < p->nmx; i++)
		myfree(p->mx[i]);
	p->nmx = 0;
	while ((tok = str_token(&cp, ", \t")) != NULL)
		if (mta_sts_add_mx(p, tok, strlen(tok), why) < 0) {
			myfree(copy);
			return -1;
		}
	myfree(copy);
	return 0;
}

void
mta_sts_cache_encode(const struct mta_sts_cache_entry *e, VSTR *out)
{
	VSTR *mx = vstr_alloc(64);

	mta_sts_policy_mx_list(&e->policy, ",", mx);
	vstr_sprintf(out,
		     "id=%s fetched=%lld expires=%lld checked=%lld mode=%s "
		     "max_age=%lld mx=%s",
		     VSTR_STR(e->id), e->fetched, e->expires, e->checked,
		     mta_sts_mode_name(e->policy.mode), e->policy.max_age,
		     VSTR_STR(mx));
	vstr_free(mx);
}

static int
mta_sts_cache_time(const char *v, long long *out)
{
	if (str_to_ll(v, out) < 0 || *out < 0)
		return -1;
	return 0;
}

int
mta_sts_cache_decode(const char *text, struct mta_sts_cache_entry *e, VSTR *why)
{
	char	*copy = mystrdup(text);
	char	*cp = copy;
	char	*tok;
	unsigned seen = 0;
	int	 ret = 0;
	int	 mode;

	mta_sts_policy_free(&e->policy);
	vstr_reset(e->id);
	while (ret == 0 && (tok = str_token(&cp, " ")) != NULL) {
		char	*eq = strchr(tok, '=');
		unsigned bit;

		if (eq == NULL) {
			ret = mta_sts_fail(why, "field without \"=\"");
			break;
		}
		*eq++ = 0;
		if (strcmp(tok, "id") == 0) {
			bit = 1;
			if (*eq == 0 || strlen(eq) > MTA_STS_ID_MAX)
				ret = -1;
			for (const char *p = eq; *p; p++)
				if (!mta_sts_alnum(*p))
					ret = -1;
			vstr_strcpy(e->id, eq);
		} else if (strcmp(tok, "fetched") == 0) {
			bit = 2;
			ret = mta_sts_cache_time(eq, &e->fetched);
		} else if (strcmp(tok, "expires") == 0) {
			bit = 4;
			ret = mta_sts_cache_time(eq, &e->expires);
		} else if (strcmp(tok, "checked") == 0) {
			bit = 8;
			ret = mta_sts_cache_time(eq, &e->checked);
		} else if (strcmp(tok, "mode") == 0) {
			bit = 16;
			if ((mode = mta_sts_mode_parse(eq)) < 0)
				ret = -1;
			else
				e->policy.mode = (enum mta_sts_mode)mode;
		} else if (strcmp(tok, "max_age") == 0) {
			bit = 32;
			ret = mta_sts_max_age(eq, strlen(eq),
					      &e->policy.max_age);
		} else if (strcmp(tok, "mx") == 0) {
			bit = 64;
			ret = mta_sts_policy_mx_parse(&e->policy, eq, NULL);
		} else {
			ret = mta_sts_fail(why, "unknown field");
			break;
		}
		if (ret < 0) {
			mta_sts_fail(why, "bad field value");
			break;
		}
		if (seen & bit) {
			ret = mta_sts_fail(why, "field appears twice");
			break;
		}
		seen |= bit;
	}
	myfree(copy);
	if (ret == 0 && seen != 127)
		ret = mta_sts_fail(why, "missing field");
	if (ret == 0 && e->policy.nmx == 0
	    && e->policy.mode != MTA_STS_MODE_NONE)
		ret = mta_sts_fail(why, "no mx pattern");
	if (ret < 0) {
		mta_sts_policy_free(&e->policy);
		vstr_reset(e->id);
	}
	return ret;
}
