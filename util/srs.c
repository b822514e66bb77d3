/*
 * srs - Sender Rewriting Scheme, compatible with libsrs2 and postsrsd.
 * See srs.h for the address forms and the rules.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/srs.h"
#include "util/strutil.h"

#define SRS_DAY	       86400
#define SRS_STAMP_BITS 5
#define SRS_STAMP_MOD  1024 /* two base32 digits */

static const char srs_base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char srs_base64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz0123456789+/";

struct SRS {
	char	 *domain;
	char	**secrets;
	size_t	  nsecrets;
	char	 *exclude; /* srs_exclude_domains, as given */
	int	  hash_length;
	long long max_days;
};

SRS *
srs_create(const char *domain, int hash_length, long long max_age)
{
	SRS *srs = mycalloc(1, sizeof(*srs));

	if (hash_length < 1 || hash_length > SRS_HASH_MAX)
		msg_panic("srs_create: hash length %d", hash_length);
	srs->domain = mystrdup(domain);
	srs->hash_length = hash_length;
	srs->max_days = max_age / SRS_DAY;
	srs->exclude = mystrdup("");
	return srs;
}

SRS *
srs_free(SRS *srs)
{
	if (srs == NULL)
		return NULL;
	for (size_t i = 0; i < srs->nsecrets; i++) {
		explicit_bzero(srs->secrets[i], strlen(srs->secrets[i]));
		myfree(srs->secrets[i]);
	}
	myfree(srs->secrets);
	myfree(srs->domain);
	myfree(srs->exclude);
	return myfree(srs);
}

void
srs_add_secret(SRS *srs, const char *secret, size_t len)
{
	char *copy = mymalloc(len + 1);

	memcpy(copy, secret, len);
	copy[len] = 0;
	srs->secrets = myrealloc_array(srs->secrets, srs->nsecrets + 1,
				       sizeof(*srs->secrets));
	srs->secrets[srs->nsecrets++] = copy;
}

int
srs_load_secrets(SRS *srs, const char *path, VSTR *why)
{
	VSTR	   *buf = vstr_alloc(256);
	char	    chunk[4096];
	ssize_t	    n;
	int	    fd, rc = 0;
	size_t	    before = srs->nsecrets;
	const char *p, *end, *nl;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		vstr_sprintf(why, "cannot open %s: %s", path, strerror(errno));
		vstr_free(buf);
		return -1;
	}
	vstr_set_limit(buf, 1024 * 1024);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || vstr_memcat(buf, chunk, (size_t)n) < 0) {
			vstr_sprintf(why, "cannot read %s: %s", path,
				     n < 0 ? strerror(errno) : "too large");
			rc = -1;
			break;
		}
	}
	close(fd);
	for (p = VSTR_STR(buf), end = p + VSTR_LEN(buf); rc == 0 && p < end;
	     p = nl + 1) {
		size_t len;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = strcspn(p, "\r\n");
		if (len > (size_t)(nl - p))
			len = (size_t)(nl - p);
		if (len > 0 && memchr(p, 0, len) == NULL)
			srs_add_secret(srs, p, len);
	}
	explicit_bzero(VSTR_STR(buf), VSTR_LEN(buf));
	vstr_free(buf);
	if (rc == 0 && srs->nsecrets == before) {
		vstr_sprintf(why, "%s holds no secret", path);
		rc = -1;
	}
	return rc;
}

void
srs_set_exclude(SRS *srs, const char *list)
{
	myfree(srs->exclude);
	srs->exclude = mystrdup(list);
}

SRS *
srs_open(const CFG *cfg)
{
	const char *domain = cfg_get_str(cfg, "srs_domain");
	const char *file = cfg_get_str(cfg, "srs_secret_file");
	SRS	   *srs;
	VSTR	   *why;

	if (*domain == 0)
		return NULL;
	if (*file == 0)
		msg_fatal("srs_domain is set but srs_secret_file is empty");
	srs = srs_create(domain, (int)cfg_get_int(cfg, "srs_hash_length"),
			 cfg_get_time(cfg, "srs_max_age"));
	why = vstr_alloc(64);
	if (srs_load_secrets(srs, file, why) < 0) {
		/* Released first: a fatal hook may carry on (tests). */
		char text[1024];

		/* A longer reason is cut: it only names the file. */
		snprintf(text, sizeof(text), "%.1000s", VSTR_STR(why));
		srs_free(srs);
		vstr_free(why);
		msg_fatal("srs_secret_file: %s", text);
	}
	vstr_free(why);
	srs_set_exclude(srs, cfg_get_str(cfg, "srs_exclude_domains"));
	return srs;
}

const char *
srs_domain(const SRS *srs)
{
	return srs->domain;
}

bool
srs_domain_listed(const char *list, const char *domain)
{
	size_t	    dlen = strlen(domain), len;
	const char *cp = list;

	for (;;) {
		cp += strspn(cp, STR_SEP_LIST);
		if ((len = strcspn(cp, STR_SEP_LIST)) == 0)
			return false;
		if (memchr(cp, ':', len) != NULL)
			; /* a type:table entry: not ours to open */
		else if (*cp == '.'
			     ? len < dlen
				   && strncasecmp(domain + dlen - len, cp, len)
					  == 0
			     : len == dlen && strncasecmp(domain, cp, len) == 0)
			return true;
		cp += len;
	}
}

bool
srs_excluded(const SRS *srs, const char *domain)
{
	return srs_domain_listed(srs->exclude, domain);
}

/* "SRS0" or "SRS1" (any case) and a separator; the tag digit or -1. */
static int
srs_tag(const char *local)
{
	if (strncasecmp(local, "SRS", 3) != 0
	    || (local[3] != '0' && local[3] != '1') || local[4] == 0
	    || strchr("=+-", local[4]) == NULL)
		return -1;
	return local[3] - '0';
}

bool
srs_is_srs(const char *addr)
{
	return srs_tag(addr) >= 0;
}

/* The first hash_length base64 characters of HMAC-SHA1(secret, parts). */
static void
srs_hash(const SRS *srs, const char *secret, const char *const *parts,
	 size_t nparts, char *out)
{
	VSTR	     *data = vstr_alloc(128);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int  mdlen = 0;
	unsigned int  bits = 0, nbits = 0;
	size_t	      i = 0, o = 0;

	for (size_t k = 0; k < nparts; k++)
		vstr_strcat(data, parts[k]);
	vstr_lower(data);
	if (HMAC(EVP_sha1(), secret, (int)strlen(secret),
		 (const unsigned char *)VSTR_STR(data), VSTR_LEN(data), md,
		 &mdlen)
	    == NULL)
		msg_fatal("srs: HMAC-SHA1 failed");
	/* Base64 of the digest, as many characters as asked for. */
	while ((int)o < srs->hash_length) {
		if (nbits < 6) {
			bits = (bits << 8) | (i < mdlen ? md[i] : 0);
			i++;
			nbits += 8;
		}
		out[o++] = srs_base64[(bits >> (nbits - 6)) & 0x3f];
		nbits -= 6;
	}
	out[o] = 0;
	vstr_free(data);
}

/* Does hash (its whole length) match one of the secrets' hashes? */
static bool
srs_hash_ok(const SRS *srs, const char *hash, size_t hlen,
	    const char *const *parts, size_t nparts)
{
	char want[SRS_HASH_MAX + 1];

	if (hlen != (size_t)srs->hash_length)
		return false;
	for (size_t i = 0; i < srs->nsecrets; i++) {
		srs_hash(srs, srs->secrets[i], parts, nparts, want);
		if (strncasecmp(want, hash, hlen) == 0)
			return true;
	}
	return false;
}

int
srs_forward(const SRS *srs, const char *sender, time_t now, VSTR *out,
	    VSTR *why)
{
	const char *at = strrchr(sender, '@');
	VSTR	   *local, *host, *user;
	char	    hash[SRS_HASH_MAX + 1], stamp[3];
	int	    tag, rc = 1;
	long long   day;

	/* A "=" in the domain could not be told from the separators. */
	if (at == NULL || at == sender || at[1] == 0 || strchr(at + 1, '=')
	    || strcasecmp(at + 1, srs->domain) == 0 || srs->nsecrets == 0)
		return 0;
	local = vstr_alloc(64);
	host = vstr_alloc(64);
	user = vstr_alloc(64);
	vstr_memcpy(local, sender, (size_t)(at - sender));
	tag = srs_tag(VSTR_STR(local));
	if (tag == 1) {
		/* SRS1=hash=host=rest: sign host and rest again. */
		const char *h = VSTR_STR(local) + 5;
		const char *eq1 = strchr(h, '=');
		const char *eq2 = eq1 ? strchr(eq1 + 1, '=') : NULL;

		/* The rest is an SRS0 address's tail: it starts with its
		 * separator. */
		if (eq1 == NULL || eq2 == NULL || eq2 == eq1 + 1 || eq2[1] == 0
		    || strchr("=+-", eq2[1]) == NULL) {
			vstr_sprintf(why, "malformed SRS1 address %s", sender);
			rc = -1;
			goto out;
		}
		vstr_memcpy(host, eq1 + 1, (size_t)(eq2 - eq1 - 1));
		vstr_strcpy(user, eq2 + 1);
	} else if (tag == 0) {
		/* SRS0 from another forwarder: its domain becomes the host. */
		vstr_strcpy(host, at + 1);
		vstr_strcpy(user, VSTR_STR(local) + 4);
	}
	if (tag >= 0) {
		const char *parts[] = { VSTR_STR(host), VSTR_STR(user) };

		srs_hash(srs, srs->secrets[0], parts, 2, hash);
		vstr_sprintf(out, "SRS1=%s=%s=%s@%s", hash, VSTR_STR(host),
			     VSTR_STR(user), srs->domain);
	} else {
		const char *parts[] = { stamp, at + 1, VSTR_STR(local) };

		day = (long long)(now / SRS_DAY) % SRS_STAMP_MOD;
		stamp[0] = srs_base32[(day >> SRS_STAMP_BITS) & 31];
		stamp[1] = srs_base32[day & 31];
		stamp[2] = 0;
		srs_hash(srs, srs->secrets[0], parts, 3, hash);
		vstr_sprintf(out, "SRS0=%s=%s=%s=%s@%s", hash, stamp, at + 1,
			     VSTR_STR(local), srs->domain);
	}
out:
	vstr_free(local);
	vstr_free(host);
	vstr_free(user);
	return rc;
}

/* Is the two-character base32 stamp at most max_days old at now? */
static bool
srs_stamp_ok(const SRS *srs, const char *stamp, time_t now)
{
	const char *c0 = strchr(srs_base32, toupper((unsigned char)stamp[0]));
	const char *c1 = strchr(srs_base32, toupper((unsigned char)stamp[1]));
	long long   then, today;

	if (stamp[0] == 0 || stamp[1] == 0 || c0 == NULL || c1 == NULL)
		return false;
	then = ((c0 - srs_base32) << SRS_STAMP_BITS) | (c1 - srs_base32);
	today = (long long)(now / SRS_DAY) % SRS_STAMP_MOD;
	if (today < then)
		today += SRS_STAMP_MOD;
	return today - then <= srs->max_days;
}

int
srs_reverse(const SRS *srs, const char *addr, time_t now, VSTR *out, VSTR *why)
{
	const char *at = strrchr(addr, '@');
	VSTR	   *local = vstr_alloc(64), *f[4];
	const char *p, *eq;
	int	    tag, rc = -1;
	size_t	    nf = 0, want;

	vstr_memcpy(local, addr, at ? (size_t)(at - addr) : strlen(addr));
	if ((tag = srs_tag(VSTR_STR(local))) < 0) {
		vstr_free(local);
		return 0;
	}
	/* SRS0: hash, stamp, host, user.  SRS1: hash, host, rest. */
	want = tag == 0 ? 4 : 3;
	for (p = VSTR_STR(local) + 5; nf < want; nf++) {
		f[nf] = vstr_alloc(32);
		eq = nf + 1 < want ? strchr(p, '=') : p + strlen(p);
		if (eq == NULL || eq == p) {
			nf++;
			vstr_sprintf(why, "malformed SRS%d address", tag);
			goto out;
		}
		vstr_memcpy(f[nf], p, (size_t)(eq - p));
		p = *eq ? eq + 1 : eq;
	}
	if (tag == 0) {
		const char *parts[] = { VSTR_STR(f[1]), VSTR_STR(f[2]),
					VSTR_STR(f[3]) };

		if (VSTR_LEN(f[1]) != 2
		    || !srs_stamp_ok(srs, VSTR_STR(f[1]), now)) {
			vstr_strcpy(why, VSTR_LEN(f[1]) == 2
					     ? "SRS address has expired"
					     : "bad SRS timestamp");
			goto out;
		}
		if (!srs_hash_ok(srs, VSTR_STR(f[0]), VSTR_LEN(f[0]), parts,
				 3)) {
			vstr_strcpy(why, "bad SRS hash");
			goto out;
		}
		vstr_sprintf(out, "%s@%s", VSTR_STR(f[3]), VSTR_STR(f[2]));
	} else {
		const char *parts[] = { VSTR_STR(f[1]), VSTR_STR(f[2]) };

		if (strchr("=+-", VSTR_STR(f[2])[0]) == NULL) {
			vstr_strcpy(why, "malformed SRS1 address");
			goto out;
		}
		if (!srs_hash_ok(srs, VSTR_STR(f[0]), VSTR_LEN(f[0]), parts,
				 2)) {
			vstr_strcpy(why, "bad SRS hash");
			goto out;
		}
		vstr_sprintf(out, "SRS0%s@%s", VSTR_STR(f[2]), VSTR_STR(f[1]));
	}
	rc = 1;
out:
	while (nf > 0)
		vstr_free(f[--nf]);
	vstr_free(local);
	return rc;
}
