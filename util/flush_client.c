/*
 * flush_client - talk to the fast flush service.  See flush_client.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/flush_client.h"
#include "util/ipc.h"

/* Queue-relative socket when we are in the queue, else absolute. */
static void
flush_socket_path(const CFG *cfg, VSTR *path)
{
	const char *name = cfg_get_str(cfg, "flush_service_name");

	vstr_sprintf(path, "public/%s", name);
	if (access(VSTR_STR(path), F_OK) < 0)
		vstr_sprintf(path, "%s/public/%s",
			     cfg_get_str(cfg, "queue_directory"), name);
}

int
flush_call(const char *sock_path, const ATTR *req, int timeout_ms, VSTR *why)
{
	ATTR	 *reply = attr_alloc();
	VSTR	 *tmp = vstr_alloc(64);
	long long status;
	int	  ret;

	if (ipc_call(sock_path, req, reply, timeout_ms, tmp) < 0) {
		int saved = errno;

		if (why)
			vstr_sprintf(why, "%s: %s", sock_path, VSTR_STR(tmp));
		errno = saved ? saved : EPROTO;
		ret = FLUSH_STAT_FAIL;
	} else if (attr_get_int(reply, "status", &status) < 0
		   || (status != FLUSH_STAT_OK && status != FLUSH_STAT_BAD
		       && status != FLUSH_STAT_DENY
		       && status != FLUSH_STAT_FAIL)) {
		if (why)
			vstr_sprintf(why, "%s: malformed reply", sock_path);
		errno = EPROTO;
		ret = FLUSH_STAT_FAIL;
	} else {
		ret = (int)status;
		if (ret == FLUSH_STAT_FAIL && why)
			vstr_sprintf(why, "%s: service failure", sock_path);
	}
	attr_free(reply);
	vstr_free(tmp);
	return ret;
}

/* One request with up to two string arguments. */
static int
flush_request(const char *request, const CFG *cfg, const char *site,
	      const char *queue_id, int timeout_ms, VSTR *why)
{
	ATTR *req = attr_alloc();
	VSTR *path = vstr_alloc(100);
	int   ret;

	attr_put_str(req, "request", request);
	if (site != NULL)
		attr_put_str(req, "site", site);
	if (queue_id != NULL)
		attr_put_str(req, "queue_id", queue_id);
	flush_socket_path(cfg, path);
	ret = flush_call(VSTR_STR(path), req, timeout_ms, why);
	vstr_free(path);
	attr_free(req);
	return ret;
}

int
flush_add(const CFG *cfg, const char *site, const char *queue_id, VSTR *why)
{
	return flush_request("add", cfg, site, queue_id, FLUSH_ADD_TIMEOUT_MS,
			     why);
}

int
flush_send_site(const CFG *cfg, const char *site, VSTR *why)
{
	return flush_request("send_site", cfg, site, NULL,
			     FLUSH_SEND_TIMEOUT_MS, why);
}

int
flush_send_file(const CFG *cfg, const char *queue_id, VSTR *why)
{
	return flush_request("send_file", cfg, NULL, queue_id,
			     FLUSH_SEND_TIMEOUT_MS, why);
}

int
flush_refresh(const CFG *cfg, VSTR *why)
{
	return flush_request("refresh", cfg, NULL, NULL, FLUSH_SEND_TIMEOUT_MS,
			     why);
}

int
flush_purge(const CFG *cfg, VSTR *why)
{
	return flush_request("purge", cfg, NULL, NULL, FLUSH_SEND_TIMEOUT_MS,
			     why);
}

int
flush_make_due(const char *path)
{
	const struct timespec ts[2] = {
		{ .tv_nsec = UTIME_OMIT },
		{ .tv_nsec = UTIME_NOW },
	};

	return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}
