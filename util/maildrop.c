/*
 * maildrop - the envelope of a maildrop file.  See maildrop.h for the
 * layout, the error conventions and ownership.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"
#include "util/maildrop.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

MAILDROP_ENV *
maildrop_env_alloc(void)
{
	MAILDROP_ENV *env = mycalloc(1, sizeof(*env));

	env->sender = vstr_alloc(64);
	env->fullname = vstr_alloc(64);
	env->envid = vstr_alloc(64);
	env->uid = -1;
	return env;
}

void
maildrop_env_reset(MAILDROP_ENV *env)
{
	for (size_t i = 0; i < env->nrcpt; i++)
		myfree(env->rcpt[i]);
	env->nrcpt = 0;
	env->uid = -1;
	env->arrival_sec = env->arrival_usec = 0;
	vstr_reset(env->sender);
	vstr_reset(env->fullname);
	vstr_reset(env->envid);
	env->envid_given = false;
	env->extract = false;
	env->ret = ADDR_RET_NONE;
}

MAILDROP_ENV *
maildrop_env_free(MAILDROP_ENV *env)
{
	if (env) {
		maildrop_env_reset(env);
		myfree(env->rcpt);
		myfree(env->notify);
		vstr_free(env->sender);
		vstr_free(env->fullname);
		vstr_free(env->envid);
		myfree(env);
	}
	return NULL;
}

void
maildrop_env_add_rcpt(MAILDROP_ENV *env, const char *addr, int notify)
{
	if (env->nrcpt == env->cap) {
		env->cap = env->cap ? env->cap * 2 : 8;
		env->rcpt = myrealloc_array(env->rcpt, env->cap,
					    sizeof(*env->rcpt));
		env->notify = myrealloc_array(env->notify, env->cap,
					      sizeof(*env->notify));
	}
	env->rcpt[env->nrcpt] = mystrdup(addr);
	env->notify[env->nrcpt] = notify;
	env->nrcpt++;
}

/* UTF-8 and printable ASCII pass; control characters never do. */
bool
maildrop_text_ok(const char *str, size_t len)
{
	if (len > MAILDROP_TEXT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)str[i];

		if (ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

static bool
maildrop_vstr_ok(const VSTR *v)
{
	return maildrop_text_ok(VSTR_STR(v), VSTR_LEN(v));
}

int
maildrop_put_envelope(REC_WRITER *w, const MAILDROP_ENV *env)
{
	if (env->uid < 0 || !maildrop_vstr_ok(env->sender)
	    || !maildrop_vstr_ok(env->fullname)
	    || (env->envid_given
		&& (VSTR_LEN(env->envid) == 0
		    || !maildrop_vstr_ok(env->envid)))) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < env->nrcpt; i++) {
		if (env->rcpt[i][0] == 0
		    || !maildrop_text_ok(env->rcpt[i], strlen(env->rcpt[i]))
		    || env->notify[i] < 0 || env->notify[i] > 15) {
			errno = EINVAL;
			return -1;
		}
	}
	(void)rec_putf(w, REC_TYPE_TIME, "%lld %lld", env->arrival_sec,
		       env->arrival_usec);
	(void)rec_put(w, REC_TYPE_FROM, VSTR_STR(env->sender),
		      VSTR_LEN(env->sender));
	(void)rec_putf(w, REC_TYPE_ATTR, "uid=%lld", env->uid);
	if (VSTR_LEN(env->fullname))
		(void)rec_putf(w, REC_TYPE_ATTR, "fullname=%s",
			       VSTR_STR(env->fullname));
	if (env->extract)
		(void)rec_putf(w, REC_TYPE_ATTR, "extract=yes");
	if (env->envid_given)
		(void)rec_put(w, REC_TYPE_ENVID, VSTR_STR(env->envid),
			      VSTR_LEN(env->envid));
	if (env->ret == ADDR_RET_FULL || env->ret == ADDR_RET_HDRS)
		(void)rec_put(w, REC_TYPE_RET,
			      env->ret == ADDR_RET_FULL ? "FULL" : "HDRS", 4);
	for (size_t i = 0; i < env->nrcpt; i++) {
		if (env->notify[i])
			(void)rec_putf(w, REC_TYPE_NOTIFY, "%d",
				       env->notify[i]);
		(void)rec_put(w, REC_TYPE_RCPT, env->rcpt[i],
			      strlen(env->rcpt[i]));
	}
	/* Errors are sticky in the writer: one check covers every put. */
	return rec_flush(w);
}

static int
maildrop_bad(VSTR *why, const char *reason)
{
	vstr_strcpy(why, reason);
	errno = EBADMSG;
	return -1;
}

/* A decimal without sign or blanks, 1-18 digits. */
static int
maildrop_number(const char *str, long long *val)
{
	size_t len = strlen(str);

	if (len == 0 || len > 18 || strspn(str, "0123456789") != len)
		return -1;
	return str_to_ll(str, val);
}

static int
maildrop_attr(MAILDROP_ENV *env, const char *data, VSTR *why)
{
	const char *eq = strchr(data, '=');
	const char *value = eq + 1;
	size_t	    nlen = (size_t)(eq - data);

	if (nlen == 3 && strncmp(data, "uid", 3) == 0) {
		if (env->uid >= 0)
			return maildrop_bad(why, "duplicate uid attribute");
		if (maildrop_number(value, &env->uid) < 0)
			return maildrop_bad(why, "malformed uid attribute");
	} else if (nlen == 8 && strncmp(data, "fullname", 8) == 0) {
		if (VSTR_LEN(env->fullname))
			return maildrop_bad(why, "duplicate fullname "
						 "attribute");
		if (*value == 0 || !maildrop_text_ok(value, strlen(value)))
			return maildrop_bad(why, "malformed fullname "
						 "attribute");
		vstr_strcpy(env->fullname, value);
	} else if (nlen == 7 && strncmp(data, "extract", 7) == 0) {
		if (strcmp(value, "yes") != 0 || env->extract)
			return maildrop_bad(why, "malformed extract "
						 "attribute");
		env->extract = true;
	} else {
		return maildrop_bad(why, "unknown attribute");
	}
	return 0;
}

int
maildrop_get_envelope(REC_READER *r, MAILDROP_ENV *env, VSTR *why)
{
	VSTR	   *data = vstr_alloc(256);
	const char *str;
	long long   notify = 0;
	int	    type;
	int	    ret;

	maildrop_env_reset(env);
	vstr_reset(why);
	while ((ret = rec_get(r, &type, data, MAILDROP_TEXT_MAX + 100)) > 0) {
		str = VSTR_STR(data);
		if (type != REC_TYPE_SIZE && type != REC_TYPE_MESG
		    && type != REC_TYPE_TIME && type != REC_TYPE_NOTIFY
		    && !maildrop_vstr_ok(data)) {
			ret = maildrop_bad(why,
					   "control character or "
					   "over-long text in the envelope");
			break;
		}
		switch (type) {
		case REC_TYPE_SIZE:
			continue;
		case REC_TYPE_TIME:
			/* The reader checked "sec usec" syntax already. */
			env->arrival_sec = strtoll(str, NULL, 10);
			env->arrival_usec = strtoll(strchr(str, ' ') + 1, NULL,
						    10);
			continue;
		case REC_TYPE_FROM:
			vstr_memcpy(env->sender, str, VSTR_LEN(data));
			continue;
		case REC_TYPE_ATTR:
			if ((ret = maildrop_attr(env, str, why)) < 0)
				break;
			continue;
		case REC_TYPE_ENVID:
			if (VSTR_LEN(data) == 0) {
				ret = maildrop_bad(why, "empty ENVID record");
				break;
			}
			env->envid_given = true;
			vstr_memcpy(env->envid, str, VSTR_LEN(data));
			continue;
		case REC_TYPE_RET:
			env->ret = strcmp(str, "FULL") == 0 ? ADDR_RET_FULL
							    : ADDR_RET_HDRS;
			continue;
		case REC_TYPE_NOTIFY:
			(void)str_to_ll(str, &notify);
			continue;
		case REC_TYPE_RCPT:
			maildrop_env_add_rcpt(env, str, (int)notify);
			notify = 0;
			continue;
		case REC_TYPE_MESG:
			if (env->uid < 0) {
				ret = maildrop_bad(why, "no uid attribute");
				break;
			}
			vstr_free(data);
			return 0;
		default:
			/* O, P and D records have no place in a maildrop. */
			ret = maildrop_bad(why, "record not allowed in a "
						"maildrop envelope");
			break;
		}
		break;
	}
	if (ret == 0)
		ret = maildrop_bad(why, "no content");
	else if (ret > 0)
		ret = -1;
	else if (VSTR_LEN(why) == 0)
		vstr_strcpy(why, rec_reader_why(r));
	vstr_free(data);
	return ret;
}
