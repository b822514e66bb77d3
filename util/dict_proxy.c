/*
 * dict_proxy - "proxy:type:name": a table read through the proxymap(8)
 * service, for daemons that a chroot or the loss of privileges keeps
 * from reading it themselves (the password database, files outside
 * queue_directory).
 *
 * Every request is one connection to proxymap's socket with one request
 * and one reply frame (util/proxy_proto.h), so a proxymap process that
 * exits (max_idle, max_use, reload) costs nothing but a new connection.
 * The socket is "private/SERVICE" relative to the working directory when
 * it exists there (master's children: the queue folder, or the chroot),
 * else under the queue_directory given to dict_proxy_configure (commands).
 *
 * Open asks proxymap to open the table, so a table that proxy_read_maps
 * does not list, or that cannot be opened, fails dict_open with a reason;
 * so does an unreachable service.  A lookup that proxymap cannot answer
 * is a table error (-1, the caller defers), never "not found".  Keys are
 * folded by proxymap's own table (flags travel with each request).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/proxy_proto.h"
#include "util/vstr.h"

/* Bound on one request: connect, proxymap start-up and the lookup. */
#define DICT_PROXY_TIMEOUT_MS (60 * 1000)

static char *dict_proxy_queue;	 /* absolute queue_directory */
static char *dict_proxy_service; /* master.cf service name */

typedef struct DICT_PROXY {
	DICT  dict;
	ATTR *req;
	ATTR *reply;
	VSTR *value; /* last value, borrowed by callers */
	VSTR *why;
} DICT_PROXY;

void
dict_proxy_configure(const char *queue_dir, const char *service)
{
	myfree(dict_proxy_queue);
	myfree(dict_proxy_service);
	dict_proxy_queue = queue_dir && *queue_dir ? mystrdup(queue_dir) : NULL;
	dict_proxy_service = service && *service ? mystrdup(service) : NULL;
}

static void
dict_proxy_path(VSTR *path)
{
	const char *svc = dict_proxy_service ? dict_proxy_service : "proxymap";

	vstr_sprintf(path, "private/%s", svc);
	if (access(VSTR_STR(path), F_OK) < 0 && dict_proxy_queue != NULL)
		vstr_sprintf(path, "%s/private/%s", dict_proxy_queue, svc);
}

/*
 * One request and its reply: the PROXY_STAT_* status, or -1 when the
 * service could not be reached or answered nonsense (why says so).
 */
static int
dict_proxy_call(DICT_PROXY *dp, const struct proxy_request *req,
		struct proxy_reply *rep)
{
	VSTR *path = vstr_alloc(64);
	int   ret = -1;

	proxy_request_encode(req, dp->req);
	dict_proxy_path(path);
	if (ipc_call(VSTR_STR(path), dp->req, dp->reply, DICT_PROXY_TIMEOUT_MS,
		     dp->why)
	    < 0) {
		int   saved = errno;
		VSTR *tmp = vstr_alloc(64);

		vstr_sprintf(tmp, "proxymap service %s: %s", VSTR_STR(path),
			     VSTR_LEN(dp->why) ? VSTR_STR(dp->why)
					       : strerror(saved));
		vstr_strcpy(dp->why, VSTR_STR(tmp));
		vstr_free(tmp);
		errno = saved ? saved : EPROTO;
	} else if (proxy_reply_decode(dp->reply, rep, dp->why) < 0) {
		VSTR *tmp = vstr_alloc(64);

		vstr_sprintf(tmp, "proxymap service %s: bad reply: %s",
			     VSTR_STR(path), VSTR_STR(dp->why));
		vstr_strcpy(dp->why, VSTR_STR(tmp));
		vstr_free(tmp);
		errno = EPROTO;
	} else {
		ret = rep->status;
	}
	vstr_free(path);
	return ret;
}

static int
dict_proxy_lookup(DICT *d, const char *key, const char **value)
{
	DICT_PROXY	    *dp = (DICT_PROXY *)d;
	struct proxy_request req = {
		.request = PROXY_REQ_LOOKUP,
		.table = d->name,
		.flags = d->flags & PROXY_FLAGS_ALLOWED,
		.key = key,
	};
	struct proxy_reply rep;

	switch (dict_proxy_call(dp, &req, &rep)) {
	case PROXY_STAT_OK:
		vstr_strcpy(dp->value, rep.value ? rep.value : "");
		*value = VSTR_STR(dp->value);
		return 1;
	case PROXY_STAT_NOKEY:
		return 0;
	case -1:
		msg_warn("%s: lookup of \"%s\": %s", d->spec, key,
			 VSTR_STR(dp->why));
		return -1;
	default:
		msg_warn("%s: lookup of \"%s\": proxymap: %s", d->spec, key,
			 rep.reason ? rep.reason : "table error");
		errno = rep.status == PROXY_STAT_DENY ? EACCES : EIO;
		return -1;
	}
}

static void
dict_proxy_close(DICT *d)
{
	DICT_PROXY *dp = (DICT_PROXY *)d;

	attr_free(dp->req);
	attr_free(dp->reply);
	vstr_free(dp->value);
	vstr_free(dp->why);
}

DICT *
dict_proxy_open(const char *name, int flags, VSTR *why)
{
	DICT_PROXY	    *dp;
	struct proxy_request req = {
		.request = PROXY_REQ_OPEN,
		.table = name,
		.flags = flags & PROXY_FLAGS_ALLOWED,
	};
	struct proxy_reply rep;
	const char	  *colon = strchr(name, ':');
	int		   status;

	if (colon == NULL || colon == name || colon[1] == 0
	    || strlen(name) > PROXY_TABLE_MAX) {
		vstr_sprintf(why,
			     "table \"proxy:%s\": expected "
			     "proxy:type:name",
			     name);
		errno = EINVAL;
		return NULL;
	}
	if (colon - name == 5 && strncmp(name, "proxy", 5) == 0) {
		vstr_sprintf(why,
			     "table \"proxy:%s\": a proxy table cannot "
			     "name another proxy table",
			     name);
		errno = EINVAL;
		return NULL;
	}
	dp = (DICT_PROXY *)dict_alloc(sizeof(*dp), "proxy", name, flags);
	dp->req = attr_alloc();
	dp->reply = attr_alloc();
	dp->value = vstr_alloc(64);
	dp->why = vstr_alloc(64);
	dp->dict.lookup = dict_proxy_lookup;
	dp->dict.close = dict_proxy_close;
	status = dict_proxy_call(dp, &req, &rep);
	if (status == PROXY_STAT_OK)
		return &dp->dict;
	if (status < 0) {
		vstr_sprintf(why, "proxy:%s: %s", name, VSTR_STR(dp->why));
	} else {
		vstr_sprintf(why, "proxy:%s: %s", name,
			     rep.reason ? rep.reason : "refused by proxymap");
		errno = status == PROXY_STAT_DENY ? EACCES : EIO;
	}
	status = errno;
	dict_close(&dp->dict);
	errno = status;
	return NULL;
}
