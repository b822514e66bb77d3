/*
 * anvil_client - a kept connection to anvil(8).  See anvil_client.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>

#include "util/anvil_client.h"
#include "util/attr.h"
#include "util/ipc.h"
#include "util/mymalloc.h"

struct ANVIL_CLIENT {
	char	   *path;
	int	    timeout_ms;
	IPC_STREAM *stream; /* NULL: not connected */
	ATTR	   *req;
	ATTR	   *rep;
	VSTR	   *err;
};

/* Small frames only: a reply is a handful of numbers. */
#define ANVIL_CLIENT_FRAME_MAX 4096

ANVIL_CLIENT *
anvil_client_create(const char *path, int timeout_ms)
{
	ANVIL_CLIENT *c = mycalloc(1, sizeof(*c));

	c->path = mystrdup(path);
	c->timeout_ms = timeout_ms;
	c->req = attr_alloc();
	c->rep = attr_alloc();
	c->err = vstr_alloc(64);
	return c;
}

ANVIL_CLIENT *
anvil_client_free(ANVIL_CLIENT *c)
{
	if (c == NULL)
		return NULL;
	c->stream = ipc_stream_close(c->stream);
	attr_free(c->req);
	attr_free(c->rep);
	vstr_free(c->err);
	myfree(c->path);
	return myfree(c);
}

static int
anvil_client_fail(VSTR *why, const char *fmt, const char *path,
		  const char *text)
{
	if (why)
		vstr_sprintf(why, fmt, path, text);
	return -1;
}

int
anvil_client_request(ANVIL_CLIENT *c, enum anvil_req req, const char *ident,
		     struct anvil_reply *rp, VSTR *why)
{
	anvil_request_encode(&(struct anvil_request){ .req = req,
						      .ident = ident },
			     c->req);
	for (int attempt = 0;; attempt++) {
		bool fresh = c->stream == NULL;

		if (fresh) {
			int fd = ipc_connect_unix(c->path, c->timeout_ms);

			if (fd < 0)
				return anvil_client_fail(why,
							 "connect to %s: %s",
							 c->path,
							 strerror(errno));
			c->stream = ipc_stream_open(fd);
			ipc_stream_set_max(c->stream, ANVIL_CLIENT_FRAME_MAX);
		}
		vstr_reset(c->err);
		if (ipc_stream_send(c->stream, c->req, c->timeout_ms) < 0)
			vstr_sprintf(c->err, "write: %s", strerror(errno));
		else if (ipc_stream_recv(c->stream, c->rep, c->timeout_ms,
					 c->err)
			 == 0)
			break;
		c->stream = ipc_stream_close(c->stream);
		/* A kept connection may have gone stale: one new try. */
		if (fresh || attempt > 0)
			return anvil_client_fail(why, "%s: %s", c->path,
						 VSTR_STR(c->err));
	}
	if (anvil_reply_decode(req, c->rep, rp, c->err) < 0) {
		c->stream = ipc_stream_close(c->stream);
		return anvil_client_fail(why, "%s: malformed reply: %s",
					 c->path, VSTR_STR(c->err));
	}
	if (rp->status != ANVIL_STAT_OK)
		return anvil_client_fail(why, "%s: %s", c->path,
					 "request refused");
	return 0;
}
