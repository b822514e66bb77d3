/*
 * bounce_client - requests to the bounce/defer/trace services, and the
 * per-message log format they keep.
 *
 * The log format is described in util/bounce_client.h.  The reader is
 * strict: exactly BOUNCE_LOG_FIELDS fields separated by one space, valid
 * xtext, decoded text without NUL bytes, a known action, a valid dsn,
 * lines of at most BOUNCE_LINE_MAX bytes.  A final line without its
 * newline is a write that never completed and is ignored.
 *
 * Errors: 0 / -1 with errno and a reason in `why`; nothing logs.
 *
 * Ownership: see util/bounce_client.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/addr.h"
#include "util/attr.h"
#include "util/bounce_client.h"
#include "util/deliver_proto.h"
#include "util/ipc.h"
#include "util/mymalloc.h"
#include "util/qid.h"
#include "util/safe_file.h"
#include "util/strutil.h"

static const char *const bounce_actions[] = {
	"failed", "delayed", "delivered", "relayed", NULL,
};

static void
bounce_why(VSTR *why, const char *fmt, const char *arg)
{
	if (why != NULL)
		vstr_sprintf(why, fmt, arg);
}

const char *
bounce_action_name(int deliver_action, const char *remote_mta)
{
	switch (deliver_action) {
	case DELIVER_BOUNCED:
		return "failed";
	case DELIVER_DEFERRED:
		return "delayed";
	default:
		return remote_mta && *remote_mta ? "relayed" : "delivered";
	}
}

int
bounce_log_path(VSTR *out, const char *service, const char *queue_id)
{
	char hash[QID_HASH_LEN + 1];

	if (!qid_valid(queue_id) || strchr(service, '/') != NULL) {
		errno = EINVAL;
		return -1;
	}
	vstr_sprintf(out, "%s/%s/%s", service, qid_hash_dir(queue_id, hash),
		     queue_id);
	return 0;
}

/* One field: "-" when absent, "+2D" for a literal "-", else xtext. */
static void
bounce_log_field(VSTR *out, VSTR *tmp, const char *value)
{
	vstr_addch(out, ' ');
	if (value == NULL || *value == 0) {
		vstr_addch(out, '-');
	} else if (strcmp(value, "-") == 0) {
		vstr_strcat(out, "+2D");
	} else {
		addr_xtext_encode(tmp, value, strlen(value));
		vstr_memcat(out, VSTR_STR(tmp), VSTR_LEN(tmp));
	}
}

void
bounce_log_format(VSTR *out, const struct bounce_log_entry *e)
{
	VSTR *tmp = vstr_alloc(128);

	vstr_sprintf(out, "%lld %s %s %d", e->time, e->action, e->dsn,
		     e->notify & 0xf);
	bounce_log_field(out, tmp, e->rcpt);
	bounce_log_field(out, tmp, e->orig);
	bounce_log_field(out, tmp, e->orcpt);
	bounce_log_field(out, tmp, e->relay);
	bounce_log_field(out, tmp, e->diag_type);
	bounce_log_field(out, tmp, e->remote_mta);
	bounce_log_field(out, tmp, e->reply);
	vstr_addch(out, '\n');
	vstr_free(tmp);
}

static bool
bounce_action_known(const char *action)
{
	const char *const *p;

	for (p = bounce_actions; *p; p++)
		if (strcmp(*p, action) == 0)
			return true;
	return false;
}

/* Decode field i into fields[i]; NULL for "-". */
static int
bounce_log_decode(VSTR *field, const char *text, size_t len, const char **res)
{
	if (len == 1 && text[0] == '-') {
		*res = NULL;
		return 0;
	}
	if (addr_xtext_decode(field, text, len) < 0
	    || memchr(VSTR_STR(field), 0, VSTR_LEN(field)) != NULL)
		return -1;
	*res = VSTR_STR(field);
	return 0;
}

int
bounce_log_parse_line(const char *line, size_t len, VSTR **fields,
		      struct bounce_log_entry *e, VSTR *why)
{
	const char *start[BOUNCE_LOG_FIELDS];
	size_t	    flen[BOUNCE_LOG_FIELDS];
	const char *p = line, *end = line + len, *sp;
	const char *val[BOUNCE_LOG_FIELDS];
	long long   num;
	size_t	    n;

	for (n = 0; n < BOUNCE_LOG_FIELDS; n++) {
		sp = memchr(p, ' ', (size_t)(end - p));
		if (n == BOUNCE_LOG_FIELDS - 1) {
			if (sp != NULL)
				goto bad;
			sp = end;
		} else if (sp == NULL) {
			goto bad;
		}
		if (sp == p)
			goto bad;
		start[n] = p;
		flen[n] = (size_t)(sp - p);
		p = sp + 1;
	}
	for (n = 0; n < BOUNCE_LOG_FIELDS; n++)
		if (bounce_log_decode(fields[n], start[n], flen[n], &val[n])
		    < 0)
			goto bad;
	memset(e, 0, sizeof(*e));
	if (val[0] == NULL || str_to_ll(val[0], &num) < 0 || num < 0)
		goto bad;
	e->time = num;
	if (val[1] == NULL || !bounce_action_known(val[1]))
		goto bad;
	e->action = val[1];
	if (val[2] == NULL || !deliver_dsn_valid(val[2]))
		goto bad;
	e->dsn = val[2];
	if (val[3] == NULL || str_to_ll(val[3], &num) < 0 || num < 0
	    || num > 15)
		goto bad;
	e->notify = (int)num;
	if (val[4] == NULL)
		goto bad;
	e->rcpt = val[4];
	e->orig = val[5];
	e->orcpt = val[6];
	e->relay = val[7];
	e->diag_type = val[8];
	e->remote_mta = val[9];
	e->reply = val[10] ? val[10] : "";
	return 0;
bad:
	errno = EBADMSG;
	bounce_why(why, "%s", "malformed log line");
	return -1;
}

int
bounce_log_walk_mem(const char *buf, size_t len,
		    void (*fn)(void *ctx, const struct bounce_log_entry *e),
		    void *ctx, VSTR *why)
{
	VSTR		       *fields[BOUNCE_LOG_FIELDS];
	struct bounce_log_entry e;
	const char	       *p = buf, *end = buf + len, *nl;
	int			ret = 0;
	size_t			i;

	for (i = 0; i < BOUNCE_LOG_FIELDS; i++)
		fields[i] = vstr_alloc(64);
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if ((size_t)(nl - p) > BOUNCE_LINE_MAX
		    || bounce_log_parse_line(p, (size_t)(nl - p), fields, &e,
					     why)
			   < 0) {
			errno = EBADMSG;
			bounce_why(why, "%s", "malformed log line");
			ret = -1;
			break;
		}
		fn(ctx, &e);
		p = nl + 1;
	}
	for (i = 0; i < BOUNCE_LOG_FIELDS; i++)
		vstr_free(fields[i]);
	return ret;
}

/* The whole file; logs are small (one line per recipient and attempt). */
#define BOUNCE_LOG_FILE_MAX (64 * 1024 * 1024)

int
bounce_log_walk(const char *path,
		void (*fn)(void *ctx, const struct bounce_log_entry *e),
		void *ctx, VSTR *why)
{
	VSTR *buf = vstr_alloc(4096);
	int   ret, saved;

	if (read_file(path, buf, BOUNCE_LOG_FILE_MAX) < 0) {
		saved = errno;
		vstr_free(buf);
		if (saved == ENOENT)
			return 0;
		if (why)
			vstr_sprintf(why, "read %s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	ret = bounce_log_walk_mem(VSTR_STR(buf), VSTR_LEN(buf), fn, ctx, why);
	saved = errno;
	if (ret < 0 && why)
		vstr_sprintf(why, "%s: malformed log line", path);
	vstr_free(buf);
	errno = saved;
	return ret;
}

struct bounce_read_ctx {
	void (*fn)(void *, const char *, const char *, const char *);
	void *ctx;
};

static void
bounce_read_one(void *ctx, const struct bounce_log_entry *e)
{
	struct bounce_read_ctx *rc = ctx;

	rc->fn(rc->ctx, e->rcpt, e->dsn, e->reply);
}

int
bounce_log_read(const char *path,
		void (*fn)(void *ctx, const char *rcpt, const char *dsn,
			   const char *reason),
		void *ctx, VSTR *why)
{
	struct bounce_read_ctx rc = { .fn = fn, .ctx = ctx };

	return bounce_log_walk(path, bounce_read_one, &rc, why);
}

/* Client side. */

static const char *
bounce_socket_name(const CFG *cfg, const char *service)
{
	if (strcmp(service, BOUNCE_SERVICE_DEFER) == 0)
		return cfg_get_str(cfg, "defer_service_name");
	if (strcmp(service, BOUNCE_SERVICE_TRACE) == 0)
		return cfg_get_str(cfg, "trace_service_name");
	return cfg_get_str(cfg, "bounce_service_name");
}

/* Queue-relative socket when we are in the queue, else absolute. */
static void
bounce_socket_path(const CFG *cfg, const char *service, VSTR *path)
{
	const char *name = bounce_socket_name(cfg, service);

	vstr_sprintf(path, "private/%s", name);
	if (access(VSTR_STR(path), F_OK) < 0)
		vstr_sprintf(path, "%s/private/%s",
			     cfg_get_str(cfg, "queue_directory"), name);
}

static int
bounce_call(const char *sock_path, const ATTR *req, VSTR *why)
{
	ATTR	   *reply = attr_alloc();
	VSTR	   *tmp = vstr_alloc(64);
	long long   status;
	const char *reason;
	int	    ret = 0;

	if (ipc_call(sock_path, req, reply, BOUNCE_TIMEOUT_MS, tmp) < 0) {
		int saved = errno;

		if (why)
			vstr_sprintf(why, "%s: %s", sock_path, VSTR_STR(tmp));
		errno = saved ? saved : EPROTO;
		ret = -1;
	} else if (attr_get_int(reply, "status", &status) < 0 || status != 0) {
		reason = attr_get_str(reply, "reason");
		if (why)
			vstr_sprintf(why, "%s: %s", sock_path,
				     reason ? reason : "malformed reply");
		errno = EIO;
		ret = -1;
	}
	attr_free(reply);
	vstr_free(tmp);
	return ret;
}

static void
bounce_put_opt(ATTR *a, const char *name, const char *value)
{
	if (value != NULL)
		attr_put_str(a, name, value);
}

int
bounce_append_path(const char *sock_path, const char *service,
		   const char *queue_id, const struct deliver_rcpt *rcpt,
		   const struct deliver_status *st, VSTR *why)
{
	ATTR *req = attr_alloc();
	int   ret;

	attr_put_str(req, "request", "append");
	attr_put_str(req, "service", service);
	attr_put_str(req, "queue_id", queue_id);
	attr_put_str(req, "rcpt", rcpt->addr);
	bounce_put_opt(req, "orig", rcpt->orig);
	bounce_put_opt(req, "orcpt", rcpt->orcpt);
	attr_put_int(req, "notify", rcpt->notify);
	attr_put_int(req, "offset", rcpt->offset);
	attr_put_str(req, "action",
		     bounce_action_name(st->action, st->remote_mta));
	attr_put_str(req, "dsn", st->dsn);
	attr_put_str(req, "reply", st->reply ? st->reply : "");
	bounce_put_opt(req, "relay", st->relay);
	bounce_put_opt(req, "diag_type", st->diag_type);
	bounce_put_opt(req, "remote_mta", st->remote_mta);
	attr_put_int(req, "time", (long long)time(NULL));
	ret = bounce_call(sock_path, req, why);
	attr_free(req);
	return ret;
}

int
bounce_append(const CFG *cfg, const char *service, const char *queue_id,
	      const struct deliver_rcpt *rcpt, const struct deliver_status *st,
	      VSTR *why)
{
	VSTR *path = vstr_alloc(100);
	int   ret;

	bounce_socket_path(cfg, service, path);
	ret = bounce_append_path(VSTR_STR(path), service, queue_id, rcpt, st,
				 why);
	vstr_free(path);
	return ret;
}

int
bounce_flush_path(const char *sock_path, int kind, const char *queue_name,
		  const char *queue_id, VSTR *why)
{
	ATTR *req = attr_alloc();
	int   ret;

	attr_put_str(req, "request", "flush");
	attr_put_int(req, "kind", kind);
	attr_put_str(req, "queue_name", queue_name);
	attr_put_str(req, "queue_id", queue_id);
	ret = bounce_call(sock_path, req, why);
	attr_free(req);
	return ret;
}

int
bounce_flush(const CFG *cfg, int kind, const char *queue_name,
	     const char *queue_id, VSTR *why)
{
	VSTR	   *path = vstr_alloc(100);
	const char *service = kind == BOUNCE_FLUSH_DELAY ? BOUNCE_SERVICE_DEFER
			      : kind == BOUNCE_FLUSH_TRACE
				  ? BOUNCE_SERVICE_TRACE
				  : BOUNCE_SERVICE_BOUNCE;
	int	    ret;

	bounce_socket_path(cfg, service, path);
	ret = bounce_flush_path(VSTR_STR(path), kind, queue_name, queue_id,
				why);
	vstr_free(path);
	return ret;
}
