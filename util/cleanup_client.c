/*
 * cleanup_client - the client half of the cleanup protocol.
 *
 * The conversation (docs/CLEANUP.md): one envelope frame
 * {request=envelope, ...}, any number of {request=data, data=bytes}
 * frames of at least CLEANUP_CLIENT_CHUNK bytes (except the last), then
 * {request=end}; cleanup answers one frame {status, queue_id, reply}.
 * {request=abort} (or closing the socket) makes cleanup drop the file.
 * cleanup says {ready=cleanup} when it takes the connection; the client
 * waits for that frame, at most CLEANUP_CLIENT_READY_MS, before it sends
 * its envelope, so a service that nobody serves fails at once (451
 * 4.3.0) instead of after ipc_timeout.  Nothing else is read back before
 * the end.
 *
 * Errors: see util/cleanup_client.h.  A write failure is remembered; the
 * caller learns it from cleanup_write (-1) and cleanup_finish (451).
 *
 * Ownership: CLEANUP_CLIENT is freed by cleanup_finish / cleanup_abort.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/attr.h"
#include "util/cleanup_client.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define CLEANUP_CLIENT_CHUNK (256 * 1024) /* bytes per data frame */

/*
 * How long a connect and cleanup's ready frame may take.  A Unix socket
 * connect succeeds as soon as the listener exists, even when no cleanup
 * process will ever accept (master throttles a service that keeps failing
 * at start); without this bound the client would wait ipc_timeout for a
 * reply that never comes.  A healthy cleanup answers in milliseconds.
 */
#define CLEANUP_CLIENT_READY_MS (10 * 1000)
#define CLEANUP_TEMPFAIL_REPLY	"451 4.3.0 Error: queue file write error"

struct CLEANUP_CLIENT {
	IPC_STREAM *st;
	ATTR	   *frame;
	VSTR	   *buf; /* content not yet sent */
	int	    timeout_ms;
	int	    err;       /* errno of the first failure, or 0 */
	int	    end_flags; /* cleanup_add_flags */
};

static void
cleanup_put_opt(ATTR *a, const char *name, const char *value)
{
	if (value != NULL)
		attr_put_str(a, name, value);
}

/* The envelope frame: every field of the request under its own name. */
static void
cleanup_envelope_frame(ATTR *a, const struct cleanup_req *req)
{
	ATTR  *r = attr_alloc();
	char   name[32];
	size_t i;

	attr_put_str(a, "request", "envelope");
	attr_put_int(a, "flags", req->flags);
	cleanup_put_opt(a, "origin", req->origin);
	attr_put_str(a, "sender", req->sender ? req->sender : "");
	cleanup_put_opt(a, "envid", req->envid);
	attr_put_int(a, "ret", req->ret);
	attr_put_int(a, "body_type", req->body_type);
	attr_put_int(a, "smtputf8", req->smtputf8);
	attr_put_int(a, "requiretls", req->requiretls);
	attr_put_int(a, "declared_size", req->declared_size);
	cleanup_put_opt(a, "client_name", req->client_name);
	cleanup_put_opt(a, "client_addr", req->client_addr);
	cleanup_put_opt(a, "client_port", req->client_port);
	cleanup_put_opt(a, "helo", req->helo);
	cleanup_put_opt(a, "protocol", req->protocol);
	cleanup_put_opt(a, "tls_info", req->tls_info);
	cleanup_put_opt(a, "sasl_method", req->sasl_method);
	cleanup_put_opt(a, "sasl_username", req->sasl_username);
	cleanup_put_opt(a, "auth_header", req->auth_header);
	cleanup_put_opt(a, "local_uid", req->local_uid);
	cleanup_put_opt(a, "fullname", req->fullname);
	attr_put_int(a, "rewrite_local", req->rewrite_local);
	cleanup_put_opt(a, "spf_result", req->spf_result);
	cleanup_put_opt(a, "spf_identity", req->spf_identity);
	cleanup_put_opt(a, "spf_domain", req->spf_domain);
	cleanup_put_opt(a, "spf_header", req->spf_header);
	/* PREPEND fields: a nested list "0", "1", ... in order. */
	if (req->prepend != NULL) {
		const char *cp = req->prepend;

		attr_reset(r);
		for (i = 0; *cp; i++) {
			size_t len = strcspn(cp, "\n");

			snprintf(name, sizeof(name), "%zu", i);
			attr_put_data(r, name, cp, len);
			cp += len + (cp[len] == '\n');
		}
		attr_put_attr(a, "prepend", r);
	}
	cleanup_put_opt(a, "filter", req->filter);
	if (req->receive_override)
		attr_put_int(a, "receive_override", req->receive_override);
	attr_put_int(a, "nrcpt", (long long)req->nrcpt);
	for (i = 0; i < req->nrcpt; i++) {
		attr_reset(r);
		attr_put_str(r, "addr", req->rcpts[i].addr);
		cleanup_put_opt(r, "orcpt", req->rcpts[i].orcpt);
		attr_put_int(r, "notify", req->rcpts[i].notify);
		snprintf(name, sizeof(name), "rcpt%zu", i);
		attr_put_attr(a, name, r);
	}
	/* milters: state in the frame, sockets passed after it */
	if (req->nmilters > 0) {
		long long nfd = 0;

		attr_put_int(a, "milters", (long long)req->nmilters);
		for (i = 0; i < req->nmilters; i++) {
			int fd;

			attr_reset(r);
			fd = milter_export(req->milters[i], r);
			attr_put_int(r, "fd_index",
				     fd >= 0 && nfd < IPC_FDS_MAX ? nfd++ : -1);
			snprintf(name, sizeof(name), "milter%zu", i);
			attr_put_attr(a, name, r);
		}
		if (req->milter_macros)
			attr_put_attr(a, "milter_macros", req->milter_macros);
	}
	attr_free(r);
}

/*
 * After an envelope with milters: cleanup asks for the sockets when it
 * has read the envelope and nothing more (request=milter_fds), and gets
 * them with one byte, so no frame is mixed with the descriptors.
 */
static int
cleanup_pass_milters(CLEANUP_CLIENT *cc, const struct cleanup_req *req,
		     VSTR *why)
{
	int	    fds[IPC_FDS_MAX];
	size_t	    n = 0;
	const char *r;
	ATTR	   *scratch = attr_alloc();

	for (size_t i = 0; i < req->nmilters && n < IPC_FDS_MAX; i++) {
		int fd = milter_export(req->milters[i], scratch);

		attr_reset(scratch);
		if (fd >= 0)
			fds[n++] = fd;
	}
	attr_free(scratch);
	attr_reset(cc->frame);
	if (ipc_stream_recv(cc->st, cc->frame, cc->timeout_ms, why) < 0
	    || (r = attr_get_str(cc->frame, "request")) == NULL
	    || strcmp(r, "milter_fds") != 0) {
		if (why && VSTR_LEN(why) == 0)
			vstr_strcpy(why, "cleanup did not ask for milters");
		return -1;
	}
	if (n > 0
	    && ipc_send_fds(ipc_stream_fd(cc->st), fds, n, cc->timeout_ms)
		   < 0) {
		if (why)
			vstr_sprintf(why, "pass milters: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The queue-relative socket first (master children, chrooted or not),
 * then under queue_directory (commands).  private/ is where issue 3 puts
 * the service; public/ is tried too because Postfix's master.cf makes
 * cleanup public and an admin may copy that line.
 */
static int
cleanup_connect(const CFG *cfg, int timeout_ms, VSTR *path)
{
	static const char *const fmts[] = {
		"private/%s%s",
		"public/%s%s",
		"%s/private/%s",
		"%s/public/%s",
	};
	const char *svc = cfg_get_str(cfg, "cleanup_service_name");
	const char *queue = cfg_get_str(cfg, "queue_directory");
	int	    fd = -1, first_errno = 0;
	size_t	    i;

	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		if (i < 2)
			vstr_sprintf(path, fmts[i], svc, "");
		else
			vstr_sprintf(path, fmts[i], queue, svc);
		if ((fd = ipc_connect_unix(VSTR_STR(path), timeout_ms)) >= 0)
			return fd;
		if (first_errno == 0 || first_errno == ENOENT)
			first_errno = errno;
	}
	errno = first_errno;
	return -1;
}

/* Wait for cleanup's {ready} frame: 0, or -1 with the reason in why. */
static int
cleanup_ready(CLEANUP_CLIENT *cc, const char *path, VSTR *why)
{
	VSTR	   *err = vstr_alloc(64);
	const char *ready;
	int	    ret = -1;

	if (ipc_stream_recv(cc->st, cc->frame, CLEANUP_CLIENT_READY_MS, err)
	    < 0) {
		if (why)
			vstr_sprintf(why, "%s did not answer within %d s%s%s",
				     path, CLEANUP_CLIENT_READY_MS / 1000,
				     VSTR_LEN(err) ? ": " : "", VSTR_STR(err));
	} else if ((ready = attr_get_str(cc->frame, "ready")) == NULL
		   || strcmp(ready, "cleanup") != 0) {
		if (why)
			vstr_sprintf(why, "%s: malformed ready frame", path);
	} else {
		ret = 0;
	}
	vstr_free(err);
	return ret;
}

CLEANUP_CLIENT *
cleanup_begin(const CFG *cfg, const struct cleanup_req *req, VSTR *why)
{
	CLEANUP_CLIENT *cc;
	VSTR	       *path = vstr_alloc(100);
	long long	secs = cfg_get_time(cfg, "ipc_timeout");
	int		fd;

	if ((fd = cleanup_connect(cfg, CLEANUP_CLIENT_READY_MS, path)) < 0) {
		if (why)
			vstr_sprintf(why, "connect to %s: %s", VSTR_STR(path),
				     strerror(errno));
		vstr_free(path);
		return NULL;
	}
	cc = mycalloc(1, sizeof(*cc));
	cc->st = ipc_stream_open(fd);
	cc->frame = attr_alloc();
	cc->buf = vstr_alloc(CLEANUP_CLIENT_CHUNK + 1024);
	cc->timeout_ms = secs > 0 && secs < 86400 ? (int)secs * 1000 : 3600000;
	/*
	 * Ready first: an envelope larger than the socket buffer would
	 * otherwise block its sender for ipc_timeout on an unserved socket.
	 */
	if (cleanup_ready(cc, VSTR_STR(path), why) < 0)
		goto fail;
	cleanup_envelope_frame(cc->frame, req);
	if (ipc_stream_send(cc->st, cc->frame, cc->timeout_ms) < 0) {
		if (why)
			vstr_sprintf(why, "send envelope to %s: %s",
				     VSTR_STR(path), strerror(errno));
		goto fail;
	}
	if (req->nmilters > 0 && cleanup_pass_milters(cc, req, why) < 0)
		goto fail;
	vstr_free(path);
	return cc;
fail:
	cc->st = ipc_stream_close(cc->st);
	attr_free(cc->frame);
	vstr_free(cc->buf);
	myfree(cc);
	vstr_free(path);
	return NULL;
}

static int
cleanup_send_data(CLEANUP_CLIENT *cc)
{
	if (cc->err)
		return -1;
	attr_reset(cc->frame);
	attr_put_str(cc->frame, "request", "data");
	attr_put_data(cc->frame, "data", VSTR_STR(cc->buf), VSTR_LEN(cc->buf));
	vstr_reset(cc->buf);
	if (ipc_stream_send(cc->st, cc->frame, cc->timeout_ms) < 0) {
		cc->err = errno ? errno : EPIPE;
		return -1;
	}
	return 0;
}

int
cleanup_write(CLEANUP_CLIENT *cc, const void *data, size_t len)
{
	const char *cp = data;
	size_t	    room;

	if (cc->err) {
		errno = cc->err;
		return -1;
	}
	while (len > 0) {
		room = CLEANUP_CLIENT_CHUNK - VSTR_LEN(cc->buf);
		if (room > len)
			room = len;
		vstr_memcat(cc->buf, cp, room);
		cp += room;
		len -= room;
		if (VSTR_LEN(cc->buf) >= CLEANUP_CLIENT_CHUNK
		    && cleanup_send_data(cc) < 0)
			return -1;
	}
	return 0;
}

static void
cleanup_client_free(CLEANUP_CLIENT *cc)
{
	ipc_stream_close(cc->st);
	attr_free(cc->frame);
	vstr_free(cc->buf);
	myfree(cc);
}

static void
cleanup_tempfail(struct cleanup_result *res)
{
	res->status = CLEANUP_TEMPFAIL;
	res->queue_id[0] = 0;
	snprintf(res->reply, sizeof(res->reply), "%s", CLEANUP_TEMPFAIL_REPLY);
}

void
cleanup_add_flags(CLEANUP_CLIENT *cc, int flags)
{
	cc->end_flags |= flags & (CLEANUP_FLAG_HOLD | CLEANUP_FLAG_DISCARD);
}

int
cleanup_finish(CLEANUP_CLIENT *cc, struct cleanup_result *res)
{
	VSTR	   *why = vstr_alloc(100);
	const char *qid, *reply;
	long long   status;
	int	    ret = -1;

	if (VSTR_LEN(cc->buf) > 0)
		(void)cleanup_send_data(cc);
	if (cc->err == 0) {
		attr_reset(cc->frame);
		attr_put_str(cc->frame, "request", "end");
		if (cc->end_flags)
			attr_put_int(cc->frame, "flags", cc->end_flags);
		if (ipc_stream_send(cc->st, cc->frame, cc->timeout_ms) < 0)
			cc->err = errno ? errno : EPIPE;
	}

	/*
	 * Even after a failed send, the reply may already be waiting: cleanup
	 * answers early when it gave up on the message.
	 */
	if (ipc_stream_recv(cc->st, cc->frame, cc->timeout_ms, why) < 0) {
		msg_warn("cleanup service: %s",
			 VSTR_LEN(why) ? VSTR_STR(why) : "no reply");
		cleanup_tempfail(res);
	} else if (attr_get_int(cc->frame, "status", &status) < 0
		   || status < CLEANUP_OK || status > CLEANUP_DISCARDED
		   || (reply = attr_get_str(cc->frame, "reply")) == NULL
		   || strlen(reply) >= sizeof(res->reply)) {
		msg_warn("cleanup service: malformed reply");
		cleanup_tempfail(res);
	} else {
		res->status = (enum cleanup_status)status;
		qid = attr_get_str(cc->frame, "queue_id");
		snprintf(res->queue_id, sizeof(res->queue_id), "%s",
			 qid ? qid : "");
		snprintf(res->reply, sizeof(res->reply), "%s", reply);
		ret = 0;
	}
	vstr_free(why);
	cleanup_client_free(cc);
	return ret;
}

void
cleanup_abort(CLEANUP_CLIENT *cc)
{
	if (cc->err == 0) {
		attr_reset(cc->frame);
		attr_put_str(cc->frame, "request", "abort");
		(void)ipc_stream_send(cc->st, cc->frame, 1000);
	}
	cleanup_client_free(cc);
}
