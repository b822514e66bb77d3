/*
 * cleanup_dkim_sign - DKIM signing of outbound mail (RFC 6376, RFC 8463)
 * with libopendkim; the one file that includes its header for signing.
 *
 * Who: messages whose envelope carries CLEANUP_FLAG_SIGN (smtpd for
 * mynetworks and SASL clients, pickup, bounce), when dkim_signing_table
 * is set.  Which keys: the address of the first From: field of the final
 * header (after every rewrite) is looked up in dkim_signing_table as the
 * address, its domain, then ".parent" domains (util/dkim_sign_conf);
 * each key name of the value is looked up in dkim_key_table
 * ("domain:selector:/path/key.pem") and gives one signature.  The
 * algorithm follows the key: rsa-sha256 (RSA of 1024 bits or more) or
 * ed25519-sha256.
 *
 * What: at the end of the header (cleanup_dkim_sign_begin) the signer
 * taps the queue file writer, so it sees exactly the header fields and
 * body bytes cleanup writes to the file, after every rewrite, in the
 * order they are written; cleanup_dkim_sign_end computes the signatures
 * and prepends them with cleanup_prepend_header (the first key's
 * signature ends up topmost).  What later programs add above the content
 * (Received by the next hop, Return-Path, Delivered-To) is outside every
 * signature, as in any signing MTA.
 *
 * Keys are read when a message needs them, by this (chrooted,
 * unprivileged) process, and kept in a small per-process cache that is
 * refreshed when the file changes (inode, size, mtime or ctime).  When
 * cleanup runs chrooted in queue_directory, a key file below
 * queue_directory is opened relative to it; any other path is a
 * configuration error, since it cannot be reached.
 *
 * Errors: a table that cannot be opened or a bad dkim_sign_headers /
 * dkim_canonicalization value is fatal at start-up, as for cleanup's
 * other tables.  Per message, a lookup failure, a key table entry that is
 * missing or malformed, a key file that cannot be read or parsed, or a
 * libopendkim failure is logged (naming the table, key name, file and
 * reason) and defers the message with 451 4.3.0: it is never sent
 * unsigned when the tables say to sign it.  A From: that matches no
 * entry is not signed.
 *
 * Ownership: the signing configuration and key cache hang off
 * CLEANUP_CONF (cleanup_dkim_sign_free); a message's signer hangs off
 * CLEANUP_STATE (cleanup_dkim_sign_done).  Key text is wiped when freed.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cleanup/cleanup.h"
#include "util/addr.h"
#include "util/dkim_sign_conf.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define CLEANUP_DKIM_KEY_FILE_MAX (64 * 1024) /* bytes in a key file */
#define CLEANUP_DKIM_KEY_CACHE	  32	      /* keys kept per process */
#define CLEANUP_DKIM_RSA_MIN	  1024	      /* bits */
#define CLEANUP_DKIM_SIG_MAX	  (16 * 1024) /* one DKIM-Signature field */

/* One key file as last read. */
struct cleanup_dkim_key {
	char	       *path; /* as opened */
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime, ctime;
	VSTR	       *pem; /* the file, NUL-terminated */
	dkim_alg_t	alg;
	int		bits;
};

struct cleanup_dkim_sign {
	DICT_LIST	       *signing_table;
	DICT_LIST	       *key_table;
	const char	       *signing_spec, *key_spec;
	DKIM_SIGN_LIST	       *headers;
	const char	      **sign_hdrs; /* NULL-terminated, for the lib */
	const char	      **over_hdrs; /* NULL-terminated, for the lib */
	dkim_canon_t		hdr_canon, body_canon;
	VSTR		       *queue_dir; /* without trailing '/' */
	bool			chrooted;
	struct cleanup_dkim_key keys[CLEANUP_DKIM_KEY_CACHE];
	size_t			nkeys;
};

/* The signatures of one message in progress. */
struct cleanup_dkim_signer {
	DKIM  *dkim[DKIM_SIGN_KEYS_MAX];
	VSTR  *desc[DKIM_SIGN_KEYS_MAX]; /* "s=..., d=..., a=..." for logs */
	VSTR  *key[DKIM_SIGN_KEYS_MAX];	 /* the handle's own copy of the key:
					  * the cache may change under it */
	size_t count;
	bool   in_body;
	bool   failed;	 /* a libopendkim call failed: defer */
	size_t line_max; /* longest header line cleanup writes */
	VSTR  *line;	 /* header phase: the partial line */
	VSTR  *field;	 /* header phase: the field so far */
	VSTR  *why;
};

/* The library's allocations come from mymalloc: out of memory dies. */
static void *
cleanup_dkim_malloc(void *closure, size_t n)
{
	(void)closure;
	return mymalloc(n ? n : 1);
}

static void
cleanup_dkim_free(void *closure, void *p)
{
	(void)closure;
	myfree(p);
}

static DICT_LIST *
cleanup_dkim_open(const CFG *cfg, const char *name, const char **spec)
{
	DICT_LIST *l;
	VSTR	  *why;

	*spec = cfg_get_str(cfg, name);
	if (*spec == NULL || (*spec)[strspn(*spec, " \t\r\n,")] == 0)
		return NULL;
	why = vstr_alloc(100);
	if ((l = dict_list_open(*spec, DICT_FLAG_FOLD, why)) == NULL)
		msg_fatal("%s: %s", name, VSTR_STR(why));
	vstr_free(why);
	return l;
}

void
cleanup_dkim_sign_load(CLEANUP_CONF *c, const CFG *cfg)
{
	struct cleanup_dkim_sign *s;
	VSTR			 *why;
	int			  hc, bc;
	size_t			  n = 0;
	uint64_t		  ttl;
	const char		 *spec;

	if ((spec = cfg_get_str(cfg, "dkim_signing_table")) == NULL
	    || spec[strspn(spec, " \t\r\n,")] == 0)
		return;
	s = mycalloc(1, sizeof(*s));
	why = vstr_alloc(100);
	s->signing_table = cleanup_dkim_open(cfg, "dkim_signing_table",
					     &s->signing_spec);
	if ((s->key_table = cleanup_dkim_open(cfg, "dkim_key_table",
					      &s->key_spec))
	    == NULL)
		msg_fatal("dkim_signing_table is set but dkim_key_table is "
			  "empty: no key to sign with");
	s->headers = dkim_sign_list_alloc();
	if (dkim_sign_headers_parse(s->headers,
				    cfg_get_str(cfg, "dkim_sign_headers"), why)
	    < 0)
		msg_fatal("dkim_sign_headers: %s", VSTR_STR(why));
	if (dkim_sign_canon_parse(cfg_get_str(cfg, "dkim_canonicalization"),
				  &hc, &bc, why)
	    < 0)
		msg_fatal("dkim_canonicalization: %s", VSTR_STR(why));
	s->hdr_canon = hc == DKIM_SIGN_CANON_RELAXED ? DKIM_CANON_RELAXED
						     : DKIM_CANON_SIMPLE;
	s->body_canon = bc == DKIM_SIGN_CANON_RELAXED ? DKIM_CANON_RELAXED
						      : DKIM_CANON_SIMPLE;
	s->sign_hdrs = mycalloc(s->headers->count + 1, sizeof(char *));
	s->over_hdrs = mycalloc(s->headers->count + 1, sizeof(char *));
	for (size_t i = 0; i < s->headers->count; i++) {
		s->sign_hdrs[i] = s->headers->item[i];
		if (s->headers->over[i])
			s->over_hdrs[n++] = s->headers->item[i];
	}
	s->queue_dir = vstr_alloc(64);
	vstr_strcpy(s->queue_dir, cfg_get_str(cfg, "queue_directory"));
	while (VSTR_LEN(s->queue_dir) > 1
	       && VSTR_STR(s->queue_dir)[VSTR_LEN(s->queue_dir) - 1] == '/')
		vstr_truncate(s->queue_dir, VSTR_LEN(s->queue_dir) - 1);

	if ((c->dkim_sign_lib = dkim_init(cleanup_dkim_malloc,
					  cleanup_dkim_free))
	    == NULL)
		msg_fatal("dkim_signing_table: libopendkim: dkim_init failed");
	ttl = (uint64_t)cfg_get_time(cfg, "dkim_signature_expiration");
	if (dkim_options(c->dkim_sign_lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS,
			 s->sign_hdrs, sizeof(s->sign_hdrs))
		!= DKIM_STAT_OK
	    || dkim_options(c->dkim_sign_lib, DKIM_OP_SETOPT,
			    DKIM_OPTS_OVERSIGNHDRS, s->over_hdrs,
			    sizeof(s->over_hdrs))
		   != DKIM_STAT_OK
	    || (ttl > 0
		&& dkim_options(c->dkim_sign_lib, DKIM_OP_SETOPT,
				DKIM_OPTS_SIGNATURETTL, &ttl, sizeof(ttl))
		       != DKIM_STAT_OK))
		msg_fatal("dkim_sign_headers: libopendkim refused the "
			  "header list or expiration");
	if (!dkim_libfeature(c->dkim_sign_lib, DKIM_FEATURE_ED25519))
		msg_warn("libopendkim was built without Ed25519: Ed25519 keys "
			 "in dkim_key_table cannot be used");
	c->dkim_sign = s;
	vstr_free(why);
}

static void
cleanup_dkim_key_clear(struct cleanup_dkim_key *k)
{
	myfree(k->path);
	if (k->pem) {
		explicit_bzero(VSTR_STR(k->pem), VSTR_LEN(k->pem));
		vstr_free(k->pem);
	}
	memset(k, 0, sizeof(*k));
}

void
cleanup_dkim_sign_free(CLEANUP_CONF *c)
{
	struct cleanup_dkim_sign *s = c->dkim_sign;

	if (c->dkim_sign_lib) {
		dkim_close(c->dkim_sign_lib);
		c->dkim_sign_lib = NULL;
	}
	if (s == NULL)
		return;
	dict_list_close(s->signing_table);
	dict_list_close(s->key_table);
	dkim_sign_list_free(s->headers);
	myfree(s->sign_hdrs);
	myfree(s->over_hdrs);
	vstr_free(s->queue_dir);
	for (size_t i = 0; i < s->nkeys; i++)
		cleanup_dkim_key_clear(&s->keys[i]);
	myfree(s);
	c->dkim_sign = NULL;
}

void
cleanup_dkim_sign_jail(CLEANUP_CONF *c, bool chrooted)
{
	if (c->dkim_sign)
		c->dkim_sign->chrooted = chrooted;
}

/*
 * Where this process opens a key file: inside the chroot, a path below
 * queue_directory becomes relative to it (our working directory is the
 * queue folder); anything else cannot be reached.
 */
static int
cleanup_dkim_key_where(const struct cleanup_dkim_sign *s, const char *path,
		       VSTR *out, VSTR *why)
{
	size_t qlen = VSTR_LEN(s->queue_dir);

	if (!s->chrooted) {
		vstr_strcpy(out, path);
		return 0;
	}
	if (strncmp(path, VSTR_STR(s->queue_dir), qlen) == 0
	    && path[qlen] == '/') {
		path += qlen;
		path += strspn(path, "/");
		if (*path) {
			vstr_strcpy(out, path);
			return 0;
		}
	}
	vstr_sprintf(why,
		     "the file is outside queue_directory %s, which cleanup "
		     "is chrooted into (master.cf): keep keys below it, or "
		     "run cleanup with chroot n",
		     VSTR_STR(s->queue_dir));
	return -1;
}

/* No passphrase prompts: an encrypted key is an error. */
static int
cleanup_dkim_no_pass(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

/* Check the PEM text and learn the algorithm; 0, or -1 with why. */
static int
cleanup_dkim_key_check(struct cleanup_dkim_key *k, VSTR *why)
{
	BIO *bio = BIO_new_mem_buf(VSTR_STR(k->pem), (int)VSTR_LEN(k->pem));
	EVP_PKEY *pkey = NULL;
	int	  ret = -1;

	if (bio == NULL
	    || (pkey = PEM_read_bio_PrivateKey(bio, NULL, cleanup_dkim_no_pass,
					       NULL))
		   == NULL) {
		vstr_strcpy(why, "not a PEM private key (or an encrypted one)");
	} else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
		k->bits = EVP_PKEY_get_bits(pkey);
		k->alg = DKIM_SIGN_RSASHA256;
		if (k->bits < CLEANUP_DKIM_RSA_MIN)
			vstr_sprintf(why,
				     "RSA key of %d bits: at least %d "
				     "needed",
				     k->bits, CLEANUP_DKIM_RSA_MIN);
		else
			ret = 0;
	} else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
		k->bits = 256;
		k->alg = DKIM_SIGN_ED25519SHA256;
		ret = 0;
	} else {
		vstr_strcpy(why, "unsupported key type: RSA or Ed25519 "
				 "expected");
	}
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return ret;
}

static bool
cleanup_dkim_same(const struct cleanup_dkim_key *k, const struct stat *sb)
{
	return k->dev == sb->st_dev && k->ino == sb->st_ino
	       && k->size == sb->st_size
	       && k->mtime.tv_sec == sb->st_mtim.tv_sec
	       && k->mtime.tv_nsec == sb->st_mtim.tv_nsec
	       && k->ctime.tv_sec == sb->st_ctim.tv_sec
	       && k->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

/* Read path into k; 0, or -1 with why. */
static int
cleanup_dkim_key_read(struct cleanup_dkim_key *k, const char *path, VSTR *why)
{
	struct stat sb;
	ssize_t	    n;
	int	    fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		vstr_sprintf(why, "open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)
	    || sb.st_size > CLEANUP_DKIM_KEY_FILE_MAX) {
		vstr_strcpy(why, S_ISREG(sb.st_mode) ? "file too large"
						     : "not a regular file");
		(void)close(fd);
		return -1;
	}
	k->path = mystrdup(path);
	k->dev = sb.st_dev;
	k->ino = sb.st_ino;
	k->size = sb.st_size;
	k->mtime = sb.st_mtim;
	k->ctime = sb.st_ctim;
	k->pem = vstr_alloc((size_t)sb.st_size + 1);
	vstr_space(k->pem, (size_t)sb.st_size + 1);
	n = read(fd, VSTR_STR(k->pem), (size_t)sb.st_size);
	(void)close(fd);
	if (n != sb.st_size) {
		vstr_sprintf(why, "read: %s",
			     n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	vstr_set_len(k->pem, (size_t)n);
	return cleanup_dkim_key_check(k, why);
}

/* The cached key for path, read again when the file changed. */
static const struct cleanup_dkim_key *
cleanup_dkim_key(struct cleanup_dkim_sign *s, const char *path, VSTR *why)
{
	struct cleanup_dkim_key *k = NULL;
	struct stat		 sb;
	size_t			 i;

	for (i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i].path, path) == 0) {
			k = &s->keys[i];
			break;
		}
	if (stat(path, &sb) < 0) {
		vstr_sprintf(why, "%s", strerror(errno));
		return NULL;
	}
	if (k && cleanup_dkim_same(k, &sb))
		return k;
	if (k == NULL) {
		if (s->nkeys == CLEANUP_DKIM_KEY_CACHE) {
			/* Full: drop the oldest entry. */
			cleanup_dkim_key_clear(&s->keys[0]);
			memmove(&s->keys[0], &s->keys[1],
				(s->nkeys - 1) * sizeof(s->keys[0]));
			memset(&s->keys[s->nkeys - 1], 0, sizeof(s->keys[0]));
			s->nkeys--;
		}
		k = &s->keys[s->nkeys++];
	} else {
		cleanup_dkim_key_clear(k);
	}
	if (cleanup_dkim_key_read(k, path, why) < 0) {
		/* Keep the cache dense: move the last entry here. */
		cleanup_dkim_key_clear(k);
		*k = s->keys[s->nkeys - 1];
		memset(&s->keys[s->nkeys - 1], 0, sizeof(s->keys[0]));
		s->nkeys--;
		return NULL;
	}
	return k;
}

/*
 * The address of the first From: field in hdr (fields as cleanup writes
 * them, CRLF line ends) into addr; 0, or -1 when there is none.
 */
static int
cleanup_dkim_from(const VSTR *hdr, VSTR *addr)
{
	const char *cp = VSTR_STR(hdr), *end = cp + VSTR_LEN(hdr), *nl, *f;
	ADDR_LIST  *list;
	size_t	    flen;
	int	    ret = -1;

	for (f = NULL; cp < end && f == NULL; cp = nl + 1) {
		if (end - cp > 5 && strncasecmp(cp, "From", 4) == 0
		    && (cp[4] == ':' || cp[4] == ' ' || cp[4] == '\t')) {
			f = cp + 4 + strspn(cp + 4, " \t");
			f = *f == ':' ? f + 1 : NULL;
		}
		if ((nl = memchr(cp, '\n', (size_t)(end - cp))) == NULL)
			break;
	}
	if (f == NULL)
		return -1;
	/* the field runs to the first line that is not a continuation */
	for (nl = f; (nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL
		     && nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t');
	     nl++)
		;
	flen = nl ? (size_t)(nl - f) : (size_t)(end - f);
	list = addr_list_alloc();
	addr_parse_header(list, f, flen);
	if (list->count > 0 && VSTR_LEN(list->addrs[0]->addr) > 0) {
		vstr_strcpy(addr, VSTR_STR(list->addrs[0]->addr));
		ret = 0;
	}
	addr_list_free(list);
	return ret;
}

static void
cleanup_dkim_signer_free(struct cleanup_dkim_signer *g)
{
	for (size_t i = 0; i < g->count; i++) {
		dkim_free(g->dkim[i]);
		vstr_free(g->desc[i]);
		explicit_bzero(VSTR_STR(g->key[i]), VSTR_LEN(g->key[i]));
		vstr_free(g->key[i]);
	}
	vstr_free(g->line);
	vstr_free(g->field);
	vstr_free(g->why);
	myfree(g);
}

void
cleanup_dkim_sign_done(CLEANUP_STATE *st)
{
	if (st->dkim_signer) {
		if (st->writer)
			rec_writer_tap(st->writer, NULL, NULL);
		cleanup_dkim_signer_free(st->dkim_signer);
		st->dkim_signer = NULL;
	}
}

/*
 * A configuration problem: logged in full, the message deferred.  The
 * reply names the key and a short cause, never a path: it reaches the
 * client, and a local submission's reason shows in postelqueue -p.
 */
static void cleanup_dkim_config_error(CLEANUP_STATE *st, const char *key,
				      const char *cause, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
cleanup_dkim_config_error(CLEANUP_STATE *st, const char *key, const char *cause,
			  const char *fmt, ...)
{
	VSTR   *text = vstr_alloc(128);
	va_list ap;

	va_start(ap, fmt);
	vstr_vsprintf_append(text, fmt, ap);
	va_end(ap);
	msg_warn("%s: dkim-sign: configuration error: %s; message deferred",
		 VSTR_STR(st->qid), VSTR_STR(text));
	if (key)
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: DKIM signing key \"%.100s\": "
			     "%.200s",
			     key, cause);
	else
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: DKIM signing configuration "
			     "error");
	vstr_free(text);
}

/* Add one signature for key `name` to the signer; 0 or -1 (failed). */
static int
cleanup_dkim_add_key(CLEANUP_STATE *st, struct cleanup_dkim_signer *g,
		     const char *name)
{
	struct cleanup_dkim_sign      *s = st->conf->dkim_sign;
	const struct cleanup_dkim_key *k;
	const char		      *value;
	VSTR *dom = vstr_alloc(64), *sel = vstr_alloc(32),
	     *path = vstr_alloc(64), *where = vstr_alloc(64), *copy = NULL;
	DKIM	 *d = NULL;
	DKIM_STAT stat;
	int	  ret = -1;

	switch (dict_list_lookup(s->key_table, name, &value)) {
	case -1:
		msg_warn("%s: dkim-sign: dkim_key_table %s: lookup of \"%s\" "
			 "failed; message deferred",
			 VSTR_STR(st->qid), s->key_spec, name);
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: dkim_key_table lookup failure");
		goto out;
	case 0:
		cleanup_dkim_config_error(st, name, "no dkim_key_table entry",
					  "dkim_key_table %s: no entry for "
					  "key name \"%s\"",
					  s->key_spec, name);
		goto out;
	}
	if (dkim_sign_key_parse(value, dom, sel, path, g->why) < 0) {
		cleanup_dkim_config_error(st, name,
					  "malformed dkim_key_table entry",
					  "dkim_key_table %s: key \"%s\": %s",
					  s->key_spec, name, VSTR_STR(g->why));
		goto out;
	}
	if (cleanup_dkim_key_where(s, VSTR_STR(path), where, g->why) < 0) {
		cleanup_dkim_config_error(st, name,
					  "key file outside the chroot",
					  "dkim_key_table %s: key \"%s\": "
					  "file %s: %s",
					  s->key_spec, name, VSTR_STR(path),
					  VSTR_STR(g->why));
		goto out;
	}
	if ((k = cleanup_dkim_key(s, VSTR_STR(where), g->why)) == NULL) {
		cleanup_dkim_config_error(st, name, VSTR_STR(g->why),
					  "dkim_key_table %s: key \"%s\": "
					  "file %s: %s",
					  s->key_spec, name, VSTR_STR(path),
					  VSTR_STR(g->why));
		goto out;
	}
	copy = vstr_alloc(VSTR_LEN(k->pem) + 1);
	vstr_memcpy(copy, VSTR_STR(k->pem), VSTR_LEN(k->pem));
	d = dkim_sign(st->conf->dkim_sign_lib,
		      (const unsigned char *)VSTR_STR(st->qid), NULL,
		      (unsigned char *)VSTR_STR(copy),
		      (const unsigned char *)VSTR_STR(sel),
		      (const unsigned char *)VSTR_STR(dom), s->hdr_canon,
		      s->body_canon, k->alg, -1, &stat);
	if (d == NULL) {
		cleanup_dkim_config_error(st, name, dkim_getresultstr(stat),
					  "dkim_key_table %s: key \"%s\": "
					  "file %s: libopendkim: %s",
					  s->key_spec, name, VSTR_STR(path),
					  dkim_getresultstr(stat));
		goto out;
	}
	g->key[g->count] = copy;
	copy = NULL;
	g->desc[g->count] = vstr_alloc(64);
	vstr_sprintf(g->desc[g->count], "s=%s, d=%s, a=%s", VSTR_STR(sel),
		     VSTR_STR(dom),
		     k->alg == DKIM_SIGN_ED25519SHA256 ? "ed25519-sha256"
						       : "rsa-sha256");
	g->dkim[g->count++] = d;
	ret = 0;
out:
	vstr_free(dom);
	vstr_free(sel);
	vstr_free(path);
	vstr_free(where);
	if (copy) {
		explicit_bzero(VSTR_STR(copy), VSTR_LEN(copy));
		vstr_free(copy);
	}
	return ret;
}

static void
cleanup_dkim_check(struct cleanup_dkim_signer *g, DKIM_STAT stat,
		   const char *what)
{
	if (stat != DKIM_STAT_OK && !g->failed) {
		g->failed = true;
		vstr_sprintf(g->why, "%s: %s", what, dkim_getresultstr(stat));
	}
}

static void
cleanup_dkim_header_done(struct cleanup_dkim_signer *g)
{
	size_t len = VSTR_LEN(g->field);

	if (len == 0)
		return;
	while (len > 0
	       && (VSTR_STR(g->field)[len - 1] == '\n'
		   || VSTR_STR(g->field)[len - 1] == '\r'))
		len--;
	for (size_t i = 0; i < g->count; i++) {
		DKIM_STAT stat =
		    dkim_header(g->dkim[i], (unsigned char *)VSTR_STR(g->field),
				len);

		/*
		 * libopendkim refuses a field whose name holds ';' (it could
		 * not be named in h=); such a field is never signed, so the
		 * signature does not depend on it: leave it out.
		 */
		if (stat != DKIM_STAT_SYNTAX)
			cleanup_dkim_check(g, stat, "header");
	}
	vstr_reset(g->field);
}

static void
cleanup_dkim_body(struct cleanup_dkim_signer *g, const char *data, size_t len)
{
	for (size_t i = 0; i < g->count && len > 0; i++)
		cleanup_dkim_check(g,
				   dkim_body(g->dkim[i], (unsigned char *)data,
					     len),
				   "body");
}

static void
cleanup_dkim_eoh(struct cleanup_dkim_signer *g)
{
	cleanup_dkim_header_done(g);
	for (size_t i = 0; i < g->count; i++)
		cleanup_dkim_check(g, dkim_eoh(g->dkim[i]), "end of header");
	g->in_body = true;
}

/* A field name: ftext up to ':' (RFC 5322), white space before ':'. */
static bool
cleanup_dkim_is_field(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
		i++;
	if (i == 0)
		return false;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':';
}

/*
 * One complete header-phase line (with its line end).  The empty line
 * ends the header; so does a line that is not a field (cleanup then
 * wrote the body right after the header), which is body.
 */
static void
cleanup_dkim_header_line(struct cleanup_dkim_signer *g, const char *line,
			 size_t len)
{
	if ((len == 2 && line[0] == '\r') || (len == 1 && line[0] == '\n')) {
		cleanup_dkim_eoh(g);
	} else if ((line[0] == ' ' || line[0] == '\t')
		   && VSTR_LEN(g->field) > 0) {
		vstr_memcat(g->field, line, len);
	} else if (cleanup_dkim_is_field(line, len)) {
		cleanup_dkim_header_done(g);
		vstr_memcat(g->field, line, len);
	} else {
		cleanup_dkim_eoh(g);
		cleanup_dkim_body(g, line, len);
	}
}

/* The writer tap: every content byte cleanup puts in the queue file. */
static void
cleanup_dkim_feed(void *ctx, const void *data, size_t len)
{
	struct cleanup_dkim_signer *g = ctx;
	const char		   *cp = data, *nl;
	size_t			    take;

	while (len > 0 && !g->in_body) {
		nl = memchr(cp, '\n', len);
		take = nl ? (size_t)(nl - cp) + 1 : len;
		vstr_memcat(g->line, cp, take);
		/*
		 * cleanup cuts header lines at header_size_limit: a longer
		 * line is the body's first (after a header that ended
		 * without an empty line), and need not be held whole.
		 */
		if (nl) {
			cleanup_dkim_header_line(g, VSTR_STR(g->line),
						 VSTR_LEN(g->line));
			vstr_reset(g->line);
		} else if (VSTR_LEN(g->line) > g->line_max) {
			cleanup_dkim_eoh(g);
			cleanup_dkim_body(g, VSTR_STR(g->line),
					  VSTR_LEN(g->line));
			vstr_reset(g->line);
		}
		cp += take;
		len -= take;
	}
	if (len > 0)
		cleanup_dkim_body(g, cp, len);
}

void
cleanup_dkim_sign_begin(CLEANUP_STATE *st)
{
	struct cleanup_dkim_sign   *s = st->conf->dkim_sign;
	struct cleanup_dkim_signer *g;
	DKIM_SIGN_LIST		   *keys, *names;
	VSTR			   *from;
	const char		   *value = NULL;
	size_t			    i;
	int			    found = 0;

	if (s == NULL || !(st->flags & CLEANUP_FLAG_SIGN)
	    || st->status != CLEANUP_OK || st->writer == NULL)
		return;
	from = vstr_alloc(64);
	keys = dkim_sign_list_alloc();
	names = dkim_sign_list_alloc();
	g = mycalloc(1, sizeof(*g));
	g->line = vstr_alloc(256);
	g->field = vstr_alloc(256);
	g->why = vstr_alloc(64);
	g->line_max = (size_t)st->conf->header_size_limit + 2;
	if (cleanup_dkim_from(st->hdr_out, from) < 0) {
		if (msg_verbose)
			msg_info("%s: dkim-sign: no From: address, not signed",
				 VSTR_STR(st->qid));
		goto out;
	}
	dkim_sign_lookup_keys(keys, VSTR_STR(from));
	for (i = 0; i < keys->count && found == 0; i++)
		found = dict_list_lookup(s->signing_table, keys->item[i],
					 &value);
	if (found < 0) {
		msg_warn("%s: dkim-sign: dkim_signing_table %s: lookup of "
			 "\"%s\" failed; message deferred",
			 VSTR_STR(st->qid), s->signing_spec, keys->item[i - 1]);
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: dkim_signing_table lookup "
			     "failure");
		goto out;
	}
	if (found == 0) {
		if (msg_verbose)
			msg_info("%s: dkim-sign: From: <%s> is in no "
				 "dkim_signing_table entry, not signed",
				 VSTR_STR(st->qid), VSTR_STR(from));
		goto out;
	}
	if (dkim_sign_names_parse(names, value, g->why) < 0) {
		cleanup_dkim_config_error(st, NULL, NULL,
					  "dkim_signing_table %s: entry "
					  "\"%s\": %s",
					  s->signing_spec, keys->item[i - 1],
					  VSTR_STR(g->why));
		goto out;
	}
	for (i = 0; i < names->count; i++)
		if (cleanup_dkim_add_key(st, g, names->item[i]) < 0)
			goto out;
	rec_writer_tap(st->writer, cleanup_dkim_feed, g);
	st->dkim_signer = g;
	g = NULL;
out:
	if (g)
		cleanup_dkim_signer_free(g);
	dkim_sign_list_free(keys);
	dkim_sign_list_free(names);
	vstr_free(from);
}

/* "DKIM-Signature: ..." with CRLF line ends inside, no final CRLF. */
static int
cleanup_dkim_field(DKIM *d, VSTR *out)
{
	unsigned char *buf;
	size_t	       len;
	const size_t   name_len = strlen(DKIM_SIGNHEADER) + 2;

	if (dkim_getsighdr_d(d, name_len, &buf, &len) != DKIM_STAT_OK
	    || len > CLEANUP_DKIM_SIG_MAX)
		return -1;
	vstr_sprintf(out, "%s: ", DKIM_SIGNHEADER);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r')
			continue;
		/* line ends the way the queue file holds them */
		if (buf[i] == '\n')
			vstr_addch(out, '\r');
		vstr_addch(out, buf[i]);
	}
	return 0;
}

void
cleanup_dkim_sign_end(CLEANUP_STATE *st)
{
	struct cleanup_dkim_signer *g = st->dkim_signer;
	VSTR			   *field;
	size_t			    i;

	if (g == NULL || st->status != CLEANUP_OK) {
		cleanup_dkim_sign_done(st);
		return;
	}
	rec_writer_tap(st->writer, NULL, NULL);
	if (!g->in_body) {
		if (VSTR_LEN(g->line) > 0)
			cleanup_dkim_header_line(g, VSTR_STR(g->line),
						 VSTR_LEN(g->line));
		if (!g->in_body)
			cleanup_dkim_eoh(g);
	}
	for (i = 0; i < g->count; i++)
		cleanup_dkim_check(g, dkim_eom(g->dkim[i], NULL),
				   "end of message");
	field = vstr_alloc(512);
	/* The stack puts the last call on top: first key topmost. */
	for (i = g->count; i-- > 0 && !g->failed;) {
		if (cleanup_dkim_field(g->dkim[i], field) < 0) {
			g->failed = true;
			vstr_strcpy(g->why, "cannot format the signature");
			break;
		}
		cleanup_prepend_header(st, VSTR_STR(field));
	}
	if (g->failed) {
		msg_warn("%s: dkim-sign: libopendkim: %s; message deferred",
			 VSTR_STR(st->qid), VSTR_STR(g->why));
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: DKIM signing failed");
	} else {
		for (i = 0; i < g->count; i++)
			msg_info("%s: DKIM-Signature field added (%s)",
				 VSTR_STR(st->qid), VSTR_STR(g->desc[i]));
	}
	vstr_free(field);
	cleanup_dkim_sign_done(st);
}
