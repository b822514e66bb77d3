/*
 * admin_select - queue message selectors and the streaming queue walk.
 * See admin_select.h.
 *
 * SPDX-License-Identifier: ISC
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <dirent.h>
#include <pcre2.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin_select.h"
#include "util/bounce_client.h"
#include "util/cfg.h"
#include "util/mymalloc.h"
#include "util/qid.h"
#include "util/rec.h"
#include "util/strutil.h"

const char *const admin_sel_names[] = {
	"recipient-domain", "sender", "older-than",
	"younger-than",	    "reason", NULL,
};

void
admin_sel_init(ADMIN_SEL *sel, long long now)
{
	memset(sel, 0, sizeof(*sel));
	sel->older_than = sel->younger_than = -1;
	sel->now = now;
}

void
admin_sel_free(ADMIN_SEL *sel)
{
	myfree(sel->rcpt_domain);
	myfree(sel->sender);
	if (sel->have_reason) {
		pcre2_match_data_free(sel->reason_match);
		pcre2_match_context_free(sel->reason_mctx);
		pcre2_code_free(sel->reason);
	}
	memset(sel, 0, sizeof(*sel));
}

int
admin_sel_duration(const char *text, long long *secs, VSTR *why)
{
	if (*text == 0) {
		vstr_strcpy(why, "empty duration");
		return -1;
	}
	return cfg_parse_time(text, 's', secs, why);
}

/* A domain selector: no '@', no white space or control characters. */
static int
admin_sel_domain(const char *value, VSTR *why)
{
	const char *cp = *value == '.' ? value + 1 : value;

	if (*cp == 0) {
		vstr_sprintf(why, "empty domain \"%s\"", value);
		return -1;
	}
	for (; *cp; cp++) {
		if ((unsigned char)*cp <= ' ' || *cp == 0x7f || *cp == '@') {
			vstr_sprintf(why, "bad domain \"%s\"", value);
			return -1;
		}
	}
	return 0;
}

int
admin_sel_option(ADMIN_SEL *sel, const char *name, const char *value, VSTR *why)
{
	long long   secs;
	char	    err[200];
	int	    rc;
	PCRE2_SIZE  erroff;
	pcre2_code *code;

	if (strcmp(name, "recipient-domain") == 0) {
		if (sel->rcpt_domain)
			goto twice;
		if (admin_sel_domain(value, why) < 0)
			return -1;
		sel->rcpt_domain = str_lower(mystrdup(value));
	} else if (strcmp(name, "sender") == 0) {
		if (sel->have_sender)
			goto twice;
		if (strcmp(value, "<>") == 0)
			value = "";
		if (*value == '@' && admin_sel_domain(value + 1, why) < 0)
			return -1;
		for (const char *cp = value; *cp; cp++) {
			if ((unsigned char)*cp < ' ' || *cp == 0x7f) {
				vstr_strcpy(why, "control character in "
						 "--sender");
				return -1;
			}
		}
		sel->sender = str_lower(mystrdup(value));
		sel->have_sender = true;
	} else if (strcmp(name, "older-than") == 0
		   || strcmp(name, "younger-than") == 0) {
		long long *dst = *name == 'o' ? &sel->older_than
					      : &sel->younger_than;

		if (*dst >= 0)
			goto twice;
		if (admin_sel_duration(value, &secs, why) < 0)
			return -1;
		*dst = secs;
	} else if (strcmp(name, "reason") == 0) {
		if (sel->have_reason)
			goto twice;
		if (strlen(value) > ADMIN_SEL_REGEX_MAX) {
			vstr_sprintf(why, "--reason: longer than %d bytes",
				     ADMIN_SEL_REGEX_MAX);
			return -1;
		}
		code = pcre2_compile((PCRE2_SPTR)value, PCRE2_ZERO_TERMINATED,
				     PCRE2_CASELESS, &rc, &erroff, NULL);
		if (code == NULL) {
			pcre2_get_error_message(rc, (PCRE2_UCHAR *)err,
						sizeof(err));
			vstr_sprintf(why, "--reason \"%s\": %s at offset %zu",
				     value, err, (size_t)erroff);
			return -1;
		}
		sel->reason = code;
		sel->reason_match = pcre2_match_data_create_from_pattern(code,
									 NULL);
		sel->reason_mctx = pcre2_match_context_create(NULL);
		pcre2_set_match_limit(sel->reason_mctx, ADMIN_SEL_MATCH_LIMIT);
		sel->have_reason = true;
	} else {
		vstr_sprintf(why, "unknown selector --%s", name);
		return -1;
	}
	return 0;
twice:
	vstr_sprintf(why, "--%s given twice", name);
	return -1;
}

bool
admin_sel_active(const ADMIN_SEL *sel)
{
	return sel->rcpt_domain || sel->have_sender || sel->older_than >= 0
	       || sel->younger_than >= 0 || sel->have_reason;
}

bool
admin_sel_needs_reasons(const ADMIN_SEL *sel)
{
	return sel->have_reason;
}

/* Does the domain of addr (after the last '@') match the selector? */
static bool
admin_sel_domain_match(const char *want, const char *addr)
{
	const char *at = strrchr(addr, '@');
	const char *dom = at ? at + 1 : "";
	size_t	    dlen = strlen(dom);
	size_t	    wlen;

	if (*want != '.')
		return strcasecmp(dom, want) == 0;
	wlen = strlen(want);
	return dlen > wlen && strcasecmp(dom + dlen - wlen, want) == 0;
}

bool
admin_sel_match(const ADMIN_SEL *sel, const ADMIN_ENV *env)
{
	long long age = sel->now - env->arrival;
	size_t	  i;

	if (sel->older_than >= 0 && !(age > sel->older_than))
		return false;
	if (sel->younger_than >= 0 && !(age < sel->younger_than))
		return false;
	if (sel->have_sender) {
		const char *s = VSTR_STR(env->sender);

		if (*sel->sender == '@') {
			if (*s == 0
			    || !admin_sel_domain_match(sel->sender + 1, s)
			    || strchr(s, '@') == NULL)
				return false;
		} else if (strcasecmp(s, sel->sender) != 0) {
			return false;
		}
	}
	if (sel->rcpt_domain) {
		for (i = 0; i < env->nrcpt; i++)
			if (admin_sel_domain_match(sel->rcpt_domain,
						   env->rcpt[i]))
				break;
		if (i == env->nrcpt)
			return false;
	}
	if (sel->have_reason) {
		for (i = 0; i < env->nrcpt; i++)
			/* A match that hits the limit is no match. */
			if (env->reason[i]
			    && pcre2_match(sel->reason,
					   (PCRE2_SPTR)env->reason[i],
					   strlen(env->reason[i]), 0, 0,
					   sel->reason_match, sel->reason_mctx)
				   >= 0)
				break;
		if (i == env->nrcpt)
			return false;
	}
	return true;
}

ADMIN_ENV *
admin_env_alloc(void)
{
	ADMIN_ENV *env = mycalloc(1, sizeof(*env));

	env->sender = vstr_alloc(64);
	return env;
}

void
admin_env_reset(ADMIN_ENV *env)
{
	for (size_t i = 0; i < env->nrcpt; i++) {
		myfree(env->rcpt[i]);
		myfree(env->reason[i]);
	}
	env->nrcpt = 0;
	vstr_reset(env->sender);
	env->arrival = env->size = 0;
	env->forced_expire = false;
}

void
admin_env_free(ADMIN_ENV *env)
{
	if (env == NULL)
		return;
	admin_env_reset(env);
	myfree(env->rcpt);
	myfree(env->reason);
	vstr_free(env->sender);
	myfree(env);
}

int
admin_env_open(const char *path)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	int fd;

	/* O_NOATIME: a deferred file's atime is qmgr's last attempt. */
	if ((fd = open(path, flags | O_NOATIME)) < 0 && errno == EPERM)
		fd = open(path, flags);
	return fd;
}

int
admin_env_read(int fd, ADMIN_ENV *env, VSTR *why)
{
	REC_READER     *r;
	VSTR	       *data;
	struct rec_size size;
	struct stat	st;
	int		type;
	int		ret;

	admin_env_reset(env);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		vstr_strcpy(why, "not a regular file");
		return -1;
	}
	env->forced_expire = (st.st_mode & S_IXUSR) != 0;
	r = rec_reader_create(fd, 0);
	data = vstr_alloc(256);
	while ((ret = rec_get(r, &type, data, ADMIN_ENV_TEXT_MAX)) > 0) {
		if (type == REC_TYPE_SIZE) {
			if (rec_size_parse(VSTR_STR(data), VSTR_LEN(data),
					   &size)
			    == 0)
				env->size = size.message_size;
		} else if (type == REC_TYPE_TIME) {
			env->arrival = strtoll(VSTR_STR(data), NULL, 10);
		} else if (type == REC_TYPE_FROM) {
			vstr_strcpy(env->sender, VSTR_STR(data));
		} else if (type == REC_TYPE_RCPT) {
			if (env->nrcpt == env->cap) {
				env->cap = env->cap ? 2 * env->cap : 8;
				env->rcpt = myrealloc_array(env->rcpt, env->cap,
							    sizeof(*env->rcpt));
				env->reason =
				    myrealloc_array(env->reason, env->cap,
						    sizeof(*env->reason));
			}
			env->reason[env->nrcpt] = NULL;
			env->rcpt[env->nrcpt++] = mystrdup(VSTR_STR(data));
		} else if (type == REC_TYPE_MESG) {
			break;
		}
	}
	if (ret < 0)
		vstr_strcpy(why, rec_reader_why(r));
	rec_reader_free(r);
	vstr_free(data);
	return ret < 0 ? -1 : 0;
}

/* bounce_log_read callback: the latest reason of each pending recipient. */
static void
admin_env_reason(void *ctx, const char *rcpt, const char *dsn,
		 const char *reason)
{
	ADMIN_ENV *env = ctx;

	(void)dsn;
	for (size_t i = 0; i < env->nrcpt; i++) {
		if (strcmp(env->rcpt[i], rcpt) == 0) {
			myfree(env->reason[i]);
			env->reason[i] = mystrdup(reason);
		}
	}
}

void
admin_env_reasons(const char *top, const char *id, ADMIN_ENV *env)
{
	VSTR *rel;
	VSTR *path;
	VSTR *why;

	if (env->nrcpt == 0)
		return;
	rel = vstr_alloc(64);
	path = vstr_alloc(100);
	why = vstr_alloc(64);
	if (bounce_log_path(rel, "defer", id) == 0) {
		vstr_sprintf(path, "%s/%s", top, VSTR_STR(rel));
		/* A malformed line ends the reading; what came before stays. */
		(void)bounce_log_read(VSTR_STR(path), admin_env_reason, env,
				      why);
	}
	vstr_free(rel);
	vstr_free(path);
	vstr_free(why);
}

static int
admin_walk_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One flat folder, batch by batch. */
static int
admin_walk_flat(const char *dirpath,
		void (*fn)(void *ctx, const char *dirpath, const char *id),
		void *ctx)
{
	struct dirent *de;
	char	     **names;
	size_t	       n;
	bool	       more = true;
	DIR	      *dir;

	if ((dir = opendir(dirpath)) == NULL)
		return errno == ENOENT ? 0 : -1;
	names = mycalloc(ADMIN_WALK_BATCH, sizeof(*names));
	while (more) {
		n = 0;
		while (n < ADMIN_WALK_BATCH) {
			if ((de = readdir(dir)) == NULL) {
				more = false;
				break;
			}
			if (qid_valid(de->d_name))
				names[n++] = mystrdup(de->d_name);
		}
		if (n > 1)
			qsort(names, n, sizeof(*names), admin_walk_cmp);
		for (size_t i = 0; i < n; i++) {
			fn(ctx, dirpath, names[i]);
			myfree(names[i]);
		}
	}
	myfree(names);
	closedir(dir);
	return 0;
}

int
admin_walk(const char *dirpath,
	   void (*fn)(void *ctx, const char *dirpath, const char *id),
	   void *ctx)
{
	static const char hash_digits[] =
	    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
	size_t	    len = strlen(dirpath);
	VSTR	   *sub;
	struct stat st;
	int	    ret = 0;

	/* Is the last name of dirpath (trailing slashes aside) "deferred"? */
	while (len > 1 && dirpath[len - 1] == '/')
		len--;
	if (len < 8 || strncmp(dirpath + len - 8, "deferred", 8) != 0
	    || (len > 8 && dirpath[len - 9] != '/'))
		return admin_walk_flat(dirpath, fn, ctx);
	/* The folder itself must be readable; its missing hashes are empty. */
	if (stat(dirpath, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (access(dirpath, R_OK | X_OK) < 0)
		return -1;
	sub = vstr_alloc(100);
	for (const char *h = hash_digits; *h && ret == 0; h++) {
		vstr_sprintf(sub, "%.*s/%c", (int)len, dirpath, *h);
		ret = admin_walk_flat(VSTR_STR(sub), fn, ctx);
	}
	vstr_free(sub);
	return ret;
}
