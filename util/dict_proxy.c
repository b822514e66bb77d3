/*
 * dict_proxy - "proxy:type:name": a table read through the proxymap(8)
 * service, and written through the proxywrite service, for daemons that a
 * chroot or the loss of privileges keeps from using it themselves (the
 * password database, files outside queue_directory, databases whose
 * connections proxymap keeps open).
 *
 * Connections: one per service and process, shared by every proxy: table
 * of the process and kept for the next request (util/proxy_proto.h), as
 * Postfix's clients do: closed before a request when it was idle longer
 * than ipc_idle or is older than ipc_ttl, so a proxymap process is not
 * held by an idle client and can retire.  When a kept connection turns
 * out to be dead (proxymap exited after max_use or max_idle, a reload, or
 * it closed the idle connection itself) the request is sent once more on
 * a new connection; a new connection that fails is not retried.  A child
 * process (fork) never uses its parent's connection.  Lookups, updates
 * and deletes are idempotent, so a resent request does no harm.
 *
 * The socket is "private/SERVICE" relative to the working directory when
 * it exists there (master's children: the queue folder, or the chroot),
 * else under queue_directory (commands).
 *
 * Open asks the service to approve and open the table, so a table that
 * proxy_read_maps does not list, or that cannot be opened, fails dict_open
 * with a reason; so does an unreachable service.  A table opened with
 * DICT_FLAG_WRITE talks only to proxywrite, for lookups too, and must be
 * listed in proxy_write_maps.  A lookup or update that the service cannot
 * answer is a table error (-1, the caller defers), never "not found".
 * Keys are folded by the service's own table (flags travel with each
 * request).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/proxy_proto.h"
#include "util/vstr.h"

/* Bound on one request: connect, proxymap start-up and the answer. */
#define DICT_PROXY_TIMEOUT_MS (60 * 1000)

/* The kept connection to one service. */
struct dict_proxy_conn {
	const char *def_service; /* when not configured */
	char	   *service;	 /* master.cf service name */
	IPC_STREAM *stream;	 /* NULL: not connected */
	pid_t	    pid;	 /* process that connected */
	time_t	    connected;
	time_t	    used;
	long	    connections; /* made so far */
};

static char		     *dict_proxy_queue; /* absolute queue_directory */
static long long	      dict_proxy_idle = 5;   /* ipc_idle */
static long long	      dict_proxy_ttl = 1000; /* ipc_ttl */
static struct dict_proxy_conn dict_proxy_read = { "proxymap", NULL, NULL, 0,
						  0,	      0,    0 };
static struct dict_proxy_conn dict_proxy_write = {
	"proxywrite", NULL, NULL, 0, 0, 0, 0
};

typedef struct DICT_PROXY {
	DICT			dict;
	struct dict_proxy_conn *conn;
	ATTR		       *req;
	ATTR		       *reply;
	VSTR		       *value; /* last value, borrowed by callers */
	VSTR		       *why;
} DICT_PROXY;

static void
dict_proxy_disconnect(struct dict_proxy_conn *c)
{
	c->stream = ipc_stream_close(c->stream);
}

void
dict_proxy_configure(const char *queue_dir, const char *service)
{
	myfree(dict_proxy_queue);
	myfree(dict_proxy_read.service);
	dict_proxy_queue = queue_dir && *queue_dir ? mystrdup(queue_dir) : NULL;
	dict_proxy_read.service = service && *service ? mystrdup(service)
						      : NULL;
	dict_proxy_disconnect(&dict_proxy_read);
	dict_proxy_disconnect(&dict_proxy_write);
}

void
dict_proxy_configure_write(const char *service, long long idle_s,
			   long long ttl_s)
{
	myfree(dict_proxy_write.service);
	dict_proxy_write.service = service && *service ? mystrdup(service)
						       : NULL;
	if (idle_s > 0)
		dict_proxy_idle = idle_s;
	if (ttl_s > 0)
		dict_proxy_ttl = ttl_s;
	dict_proxy_disconnect(&dict_proxy_write);
}

static void
dict_proxy_path(const struct dict_proxy_conn *c, VSTR *path)
{
	const char *svc = c->service ? c->service : c->def_service;

	vstr_sprintf(path, "private/%s", svc);
	if (access(VSTR_STR(path), F_OK) < 0 && dict_proxy_queue != NULL)
		vstr_sprintf(path, "%s/private/%s", dict_proxy_queue, svc);
}

/* Put "proxymap service PATH: " before why. */
static void
dict_proxy_why(VSTR *why, const VSTR *path, const char *what, int err)
{
	VSTR *tmp = vstr_alloc(64);

	vstr_sprintf(tmp, "proxymap service %s: %s%s", VSTR_STR(path), what,
		     VSTR_LEN(why) ? VSTR_STR(why) : strerror(err));
	vstr_strcpy(why, VSTR_STR(tmp));
	vstr_free(tmp);
}

/*
 * One request and its reply on the kept connection: the PROXY_STAT_*
 * status, or -1 when the service could not be reached or answered
 * nonsense (why says so).
 */
static int
dict_proxy_call(DICT_PROXY *dp, const struct proxy_request *req,
		struct proxy_reply *rep)
{
	struct dict_proxy_conn *c = dp->conn;
	VSTR		       *path = vstr_alloc(64);
	time_t			now = time(NULL);
	int			attempt, reused, fd, err;

	proxy_request_encode(req, dp->req);
	dict_proxy_path(c, path);
	if (c->stream != NULL && c->pid != getpid()) {
		/* Inherited over fork: the parent's.  Drop our copy. */
		c->stream = ipc_stream_close(c->stream);
	}
	if (c->stream != NULL
	    && (now - c->used >= dict_proxy_idle
		|| now - c->connected >= dict_proxy_ttl))
		dict_proxy_disconnect(c);
	for (attempt = 0; attempt < 2; attempt++) {
		reused = c->stream != NULL;
		vstr_reset(dp->why);
		if (!reused) {
			fd = ipc_connect_unix(VSTR_STR(path),
					      DICT_PROXY_TIMEOUT_MS);
			if (fd < 0) {
				err = errno;
				dict_proxy_why(dp->why, path, "", err);
				errno = err;
				break;
			}
			c->stream = ipc_stream_open(fd);
			c->pid = getpid();
			c->connected = time(NULL);
			c->connections++;
		}
		if (ipc_stream_send(c->stream, dp->req, DICT_PROXY_TIMEOUT_MS)
			== 0
		    && ipc_stream_recv(c->stream, dp->reply,
				       DICT_PROXY_TIMEOUT_MS, dp->why)
			   == 0) {
			c->used = time(NULL);
			if (proxy_reply_decode(dp->reply, rep, dp->why) < 0) {
				dict_proxy_why(dp->why, path, "bad reply: ", 0);
				dict_proxy_disconnect(c);
				errno = EPROTO;
				break;
			}
			vstr_free(path);
			return rep->status;
		}
		err = errno;
		dict_proxy_disconnect(c);
		/* Closed, reset or broken before the reply: it went away. */
		if (reused && err != ETIMEDOUT && err != EPROTO
		    && err != EMSGSIZE)
			continue;
		dict_proxy_why(dp->why, path, "", err ? err : EPROTO);
		errno = err ? err : EPROTO;
		break;
	}
	vstr_free(path);
	return -1;
}

static int
dict_proxy_status(DICT_PROXY *dp, const char *what, const char *key, int status,
		  const struct proxy_reply *rep)
{
	DICT *d = &dp->dict;

	if (status < 0) {
		int saved = errno;

		msg_warn("%s: %s of \"%s\": %s", d->spec, what, key,
			 VSTR_STR(dp->why));
		errno = saved;
		return -1;
	}
	msg_warn("%s: %s of \"%s\": proxymap: %s", d->spec, what, key,
		 rep->reason ? rep->reason : "table error");
	errno = status == PROXY_STAT_DENY ? EACCES : EIO;
	return -1;
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
	struct proxy_reply rep = { 0 };
	int		   status = dict_proxy_call(dp, &req, &rep);

	switch (status) {
	case PROXY_STAT_OK:
		vstr_strcpy(dp->value, rep.value ? rep.value : "");
		*value = VSTR_STR(dp->value);
		return 1;
	case PROXY_STAT_NOKEY:
		return 0;
	default:
		return dict_proxy_status(dp, "lookup", key, status, &rep);
	}
}

static int
dict_proxy_update(DICT *d, const char *key, const char *value)
{
	DICT_PROXY	    *dp = (DICT_PROXY *)d;
	struct proxy_request req = {
		.request = PROXY_REQ_UPDATE,
		.table = d->name,
		.flags = d->flags & PROXY_FLAGS_ALLOWED,
		.key = key,
		.value = value,
	};
	struct proxy_reply rep = { 0 };
	int		   status;

	if (strlen(value) > PROXY_VALUE_MAX) {
		msg_warn("%s: update of \"%s\": value longer than %d bytes",
			 d->spec, key, PROXY_VALUE_MAX);
		errno = EFBIG;
		return -1;
	}
	if ((status = dict_proxy_call(dp, &req, &rep)) == PROXY_STAT_OK)
		return 0;
	return dict_proxy_status(dp, "update", key, status, &rep);
}

static int
dict_proxy_delete(DICT *d, const char *key)
{
	DICT_PROXY	    *dp = (DICT_PROXY *)d;
	struct proxy_request req = {
		.request = PROXY_REQ_DELETE,
		.table = d->name,
		.flags = d->flags & PROXY_FLAGS_ALLOWED,
		.key = key,
	};
	struct proxy_reply rep = { 0 };
	int		   status = dict_proxy_call(dp, &req, &rep);

	switch (status) {
	case PROXY_STAT_OK:
		return 1;
	case PROXY_STAT_NOKEY:
		return 0;
	default:
		return dict_proxy_status(dp, "delete", key, status, &rep);
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
	if (flags & DICT_FLAG_CREATE) {
		vstr_sprintf(why,
			     "table \"proxy:%s\": a proxy table cannot be "
			     "created; build the table itself",
			     name);
		errno = EINVAL;
		return NULL;
	}
	dp = (DICT_PROXY *)dict_alloc(sizeof(*dp), "proxy", name, flags);
	dp->conn = (flags & DICT_FLAG_WRITE) ? &dict_proxy_write
					     : &dict_proxy_read;
	dp->req = attr_alloc();
	dp->reply = attr_alloc();
	dp->value = vstr_alloc(64);
	dp->why = vstr_alloc(64);
	dp->dict.lookup = dict_proxy_lookup;
	if (flags & DICT_FLAG_WRITE) {
		dp->dict.update = dict_proxy_update;
		dp->dict.del = dict_proxy_delete;
	}
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
