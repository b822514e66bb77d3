/*
 * bounce_append - add one recipient's status to a per-message log.
 *
 * The line is formatted by util/bounce_client (bounce_log_format) and
 * written with a single write() on an O_APPEND descriptor, then fsynced
 * before the client hears success: qmgr marks a bounced recipient done
 * only after that, so a crash can never lose the reason of a bounce.
 * The hashed subfolder is created on demand (mode 0700).
 *
 * Errors: 0, or -1 with a reason in why (logged by the caller).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounce/bounce.h"
#include "util/bounce_client.h"
#include "util/deliver_proto.h"
#include "util/msg.h"
#include "util/qid.h"
#include "util/safe_file.h"

static bool
bounce_service_known(const char *service)
{
	return strcmp(service, BOUNCE_SERVICE_BOUNCE) == 0
	       || strcmp(service, BOUNCE_SERVICE_DEFER) == 0
	       || strcmp(service, BOUNCE_SERVICE_TRACE) == 0;
}

/* Create service/ and service/X/ when missing. */
static int
bounce_make_dirs(const char *service, const char *queue_id)
{
	char hash[QID_HASH_LEN + 1];
	char path[64];

	if (mkdir(service, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", service,
		 qid_hash_dir(queue_id, hash));
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
bounce_do_append(const BOUNCE_CONF *conf, const ATTR *req, VSTR *why)
{
	struct bounce_log_entry e = { 0 };
	const char	       *service = attr_get_str(req, "service");
	const char	       *qid = attr_get_str(req, "queue_id");
	VSTR		       *path = vstr_alloc(64), *line = vstr_alloc(256);
	struct stat		sb;
	long long		num;
	ssize_t			n = 0;
	int			fd = -1, ret = -1;

	(void)conf;
	if (service == NULL || !bounce_service_known(service) || qid == NULL
	    || !qid_valid(qid)) {
		vstr_strcpy(why, "bad service or queue_id");
		goto out;
	}
	e.action = attr_get_str(req, "action");
	e.dsn = attr_get_str(req, "dsn");
	e.rcpt = attr_get_str(req, "rcpt");
	e.reply = attr_get_str(req, "reply");
	if (e.action == NULL || e.dsn == NULL || !deliver_dsn_valid(e.dsn)
	    || e.rcpt == NULL || *e.rcpt == 0 || e.reply == NULL) {
		vstr_sprintf(why, "%s: malformed append request", qid);
		goto out;
	}
	if (strcmp(e.action, "failed") != 0 && strcmp(e.action, "delayed") != 0
	    && strcmp(e.action, "delivered") != 0
	    && strcmp(e.action, "relayed") != 0) {
		vstr_sprintf(why, "%s: unknown action", qid);
		goto out;
	}
	e.orig = attr_get_str(req, "orig");
	e.orcpt = attr_get_str(req, "orcpt");
	e.relay = attr_get_str(req, "relay");
	e.diag_type = attr_get_str(req, "diag_type");
	e.remote_mta = attr_get_str(req, "remote_mta");
	e.notify = attr_get_int(req, "notify", &num) == 0 ? (int)(num & 0xf)
							  : 0;
	e.time = attr_get_int(req, "time", &num) == 0 && num > 0
		     ? num
		     : (long long)time(NULL);
	bounce_log_format(line, &e);
	if (VSTR_LEN(line) > BOUNCE_LINE_MAX) {
		vstr_sprintf(why, "%s: status too long to log", qid);
		goto out;
	}
	bounce_log_path(path, service, qid);
	if (bounce_make_dirs(service, qid) < 0
	    || (fd = safe_open_append(VSTR_STR(path), 0600, (uid_t)-1)) < 0) {
		vstr_sprintf(why, "open %s: %s", VSTR_STR(path),
			     strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) < 0) {
		vstr_sprintf(why, "fstat %s: %s", VSTR_STR(path),
			     strerror(errno));
		goto out;
	}
	/* One write per record: a crash leaves whole lines only. */
	if ((n = write(fd, VSTR_STR(line), VSTR_LEN(line))) < 0
	    || (size_t)n != VSTR_LEN(line) || fsync(fd) < 0
	    || (sb.st_size == 0 && fsync_parent(VSTR_STR(path)) < 0)) {
		vstr_sprintf(why, "write %s: %s", VSTR_STR(path),
			     n >= 0 && (size_t)n != VSTR_LEN(line)
				 ? "short write"
				 : strerror(errno));
		/* Never leave half a line for the next record to follow. */
		if (n > 0 && (size_t)n != VSTR_LEN(line)
		    && ftruncate(fd, sb.st_size) < 0)
			msg_warn("truncate %s: %m", VSTR_STR(path));
		goto out;
	}
	if (msg_verbose)
		msg_info("%s: %s log: <%s> %s", qid, service, e.rcpt, e.dsn);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	vstr_free(path);
	vstr_free(line);
	return ret;
}
