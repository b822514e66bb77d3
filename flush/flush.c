/*
 * flush - the fast flush service, as Postfix's flush(8).
 *
 * For each destination eligible under fast_flush_domains the service
 * keeps a logfile of the IDs of messages deferred for it (flush.h for
 * the files).  qmgr sends "add" when it defers a recipient of such a
 * destination; smtpd's ETRN and postelqueue -s send "send_site", which
 * makes every message listed there due now and asks qmgr to look, then
 * empties the log (a message that is deferred again is added again by
 * qmgr, one delivered is forgotten).  Requests and their status replies
 * are in util/flush_client.h.
 *
 * "Due now" is what postelqueue -i does: the deferred file's mtime (its
 * next attempt time) becomes now; files are never moved, since only qmgr
 * moves queue files (DESIGN.md section 3).  Before a send_site the service
 * asks qmgr to forget dead destinations (IPC_TRIGGER_FLUSH_DEAD), as
 * Postfix's ETRN unthrottles them, then after the time stamps changed to
 * scan deferred/ (IPC_TRIGGER_SCAN_DEFERRED).
 *
 * "refresh" (also master's wakeup trigger, master.cf wakeup column) sends
 * every non-empty log not read (atime) for fast_flush_refresh_time, without
 * forgetting dead destinations, and deletes every empty log not updated
 * (mtime) for fast_flush_purge_time; "purge" does the same for every
 * non-empty log whatever its age (postelqueue -f, postel flush).
 *
 * Work is bounded: a log is read up to FLUSH_LOG_MAX bytes (what lies past
 * that is dropped with the rest; those messages are added again at their
 * next deferral) and each queue ID is handled once per send.  Logs are
 * locked (flock) while appended to or read and emptied, so no ID is lost
 * between the two.
 *
 * Errors: a malformed request gets FLUSH_STAT_BAD and a warning; a file
 * problem FLUSH_STAT_FAIL and a warning; bad lines in a log are skipped
 * with a warning.  Nothing here is fatal after start-up.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "flush/flush.h"
#include "util/domain_list.h"
#include "util/flush_client.h"
#include "util/ipc.h"
#include "util/master_proto.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/qid.h"
#include "util/safe_file.h"
#include "util/skel.h"
#include "util/strutil.h"

#define FLUSH_TRIGGER_MS 1000  /* bound on one trigger to qmgr */
#define FLUSH_PEEK_MS	 10000 /* first byte of a request */

struct flush_app {
	DOMAIN_LIST *domains;	   /* fast_flush_domains */
	long long    refresh_time; /* fast_flush_refresh_time */
	long long    purge_time;   /* fast_flush_purge_time */
	VSTR	    *qmgr_path;	   /* public/$qmgr_service_name */
	uid_t	     owner;	   /* of new logfiles */
};

/* The queue IDs of one log, sorted and without duplicates. */
struct flush_ids {
	char **ids;
	size_t n;
	size_t cap;
};

/* 1 eligible, 0 not, -1 a table failed. */
static int
flush_eligible(const struct flush_app *app, const char *site)
{
	char *lower = mystrdup(site);
	int   rc;

	str_lower(lower);
	rc = domain_list_match(app->domains, lower);
	myfree(lower);
	return rc;
}

static void
flush_trigger(const struct flush_app *app, int byte)
{
	if (ipc_trigger(VSTR_STR(app->qmgr_path), byte, FLUSH_TRIGGER_MS) < 0)
		msg_warn("trigger %s: %m", VSTR_STR(app->qmgr_path));
}

/* Append queue_id to the log of NAME. */
static int
flush_add_path(const struct flush_app *app, const char *name,
	       const char *queue_id)
{
	VSTR *path = vstr_alloc(64);
	VSTR *line = vstr_alloc(QID_MAXLEN + 2);
	int   ret = FLUSH_STAT_FAIL;
	int   fd;

	flush_log_path(name, path);
	if ((fd = safe_open_append(VSTR_STR(path), 0600, app->owner)) < 0
	    && errno == ENOENT) {
		/* The hashed subfolder is made on first use. */
		VSTR *dir = vstr_alloc(16);

		vstr_memcpy(dir, VSTR_STR(path), sizeof(FLUSH_DIR) + 1);
		if (mkdir(VSTR_STR(dir), 0700) < 0 && errno != EEXIST)
			msg_warn("mkdir %s: %m", VSTR_STR(dir));
		vstr_free(dir);
		fd = safe_open_append(VSTR_STR(path), 0600, app->owner);
	}
	if (fd < 0) {
		msg_warn("open fast flush logfile %s: %m", VSTR_STR(path));
		goto out;
	}
	vstr_sprintf(line, "%s\n", queue_id);
	if (flock(fd, LOCK_EX) < 0)
		msg_warn("lock %s: %m", VSTR_STR(path));
	else if (write_full(fd, VSTR_STR(line), VSTR_LEN(line),
			    IPC_WAIT_FOREVER)
		 != (ssize_t)VSTR_LEN(line))
		msg_warn("write fast flush logfile %s: %m", VSTR_STR(path));
	else
		ret = FLUSH_STAT_OK;
	close(fd);
out:
	vstr_free(line);
	vstr_free(path);
	return ret;
}

static int
flush_add_service(const struct flush_app *app, const char *site,
		  const char *queue_id)
{
	VSTR *name;
	int   ret;

	if (!qid_valid(queue_id))
		return FLUSH_STAT_BAD;
	if ((ret = flush_eligible(app, site)) <= 0)
		return ret < 0 ? FLUSH_STAT_FAIL : FLUSH_STAT_DENY;
	name = vstr_alloc(64);
	if (flush_log_name(site, name) < 0)
		ret = FLUSH_STAT_BAD;
	else
		ret = flush_add_path(app, VSTR_STR(name), queue_id);
	vstr_free(name);
	return ret;
}

static void
flush_ids_add(void *ctx, const char *queue_id)
{
	struct flush_ids *ids = ctx;

	if (ids->n == ids->cap) {
		ids->cap = ids->cap ? 2 * ids->cap : 32;
		ids->ids = myrealloc_array(ids->ids, ids->cap,
					   sizeof(*ids->ids));
	}
	ids->ids[ids->n++] = mystrdup(queue_id);
}

static int
flush_ids_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Make the deferred file of queue_id due; 1 done, 0 not deferred now. */
static int
flush_one_file(const char *queue_id, VSTR *path)
{
	char hash[QID_HASH_LEN + 1];

	vstr_sprintf(path, "deferred/%s/%s", qid_hash_dir(queue_id, hash),
		     queue_id);
	if (flush_make_due(VSTR_STR(path)) == 0)
		return 1;
	/* Gone (delivered), or active or on hold now: nothing to do. */
	if (errno != ENOENT)
		msg_warn("%s: update %s time stamps: %m", queue_id,
			 VSTR_STR(path));
	return 0;
}

/*
 * Send the log at path: every listed message that is deferred becomes
 * due, the log is emptied and marked read.  unthrottle: first ask qmgr to
 * forget dead destinations (ETRN), not for a refresh.
 */
static int
flush_send_path(const struct flush_app *app, const char *path, bool unthrottle)
{
	struct flush_ids ids = { 0 };
	char		*buf;
	VSTR		*qpath;
	size_t		 bad;
	size_t		 count = 0;
	ssize_t		 got;
	int		 fd;

	if ((fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return FLUSH_STAT_OK; /* nothing deferred */
		msg_warn("open fast flush logfile %s: %m", path);
		return FLUSH_STAT_FAIL;
	}
	if (flock(fd, LOCK_EX) < 0) {
		msg_warn("lock %s: %m", path);
		close(fd);
		return FLUSH_STAT_FAIL;
	}
	buf = mymalloc(FLUSH_LOG_MAX);
	got = read_full(fd, buf, FLUSH_LOG_MAX, IPC_WAIT_FOREVER);
	if (got < 0) {
		msg_warn("read fast flush logfile %s: %m", path);
		got = 0;
	}
	bad = flush_log_parse(buf, (size_t)got, flush_ids_add, &ids);
	if (bad > 0)
		msg_warn("%s: %zu malformed line%s skipped", path, bad,
			 bad == 1 ? "" : "s");
	if (ids.n > 1)
		qsort(ids.ids, ids.n, sizeof(*ids.ids), flush_ids_cmp);
	if (unthrottle && ids.n > 0)
		flush_trigger(app, IPC_TRIGGER_FLUSH_DEAD);
	qpath = vstr_alloc(64);
	for (size_t i = 0; i < ids.n; i++) {
		if (i == 0 || strcmp(ids.ids[i], ids.ids[i - 1]) != 0)
			count += (size_t)flush_one_file(ids.ids[i], qpath);
	}
	for (size_t i = 0; i < ids.n; i++)
		myfree(ids.ids[i]);
	myfree(ids.ids);
	vstr_free(qpath);
	myfree(buf);
	/* Emptied and marked read (atime) and changed (mtime). */
	if (ftruncate(fd, 0) < 0)
		msg_warn("truncate fast flush logfile %s: %m", path);
	if (futimens(fd, NULL) < 0)
		msg_warn("update %s time stamps: %m", path);
	close(fd);
	if (count > 0) {
		flush_trigger(app, IPC_TRIGGER_SCAN_DEFERRED);
		msg_info("%s: %zu deferred message%s scheduled for delivery",
			 path, count, count == 1 ? "" : "s");
	}
	return FLUSH_STAT_OK;
}

static int
flush_send_site_service(const struct flush_app *app, const char *site)
{
	VSTR *name;
	VSTR *path;
	int   ret;

	if ((ret = flush_eligible(app, site)) <= 0)
		return ret < 0 ? FLUSH_STAT_FAIL : FLUSH_STAT_DENY;
	name = vstr_alloc(64);
	path = vstr_alloc(64);
	if (flush_log_name(site, name) < 0) {
		ret = FLUSH_STAT_BAD;
	} else {
		flush_log_path(VSTR_STR(name), path);
		ret = flush_send_path(app, VSTR_STR(path), true);
	}
	vstr_free(name);
	vstr_free(path);
	return ret;
}

static int
flush_send_file_service(const struct flush_app *app, const char *queue_id)
{
	VSTR *path;

	if (!qid_valid(queue_id))
		return FLUSH_STAT_BAD;
	path = vstr_alloc(64);
	if (flush_one_file(queue_id, path) > 0)
		flush_trigger(app, IPC_TRIGGER_SCAN_DEFERRED);
	vstr_free(path);
	return FLUSH_STAT_OK;
}

/* One log found by a refresh scan. */
static void
flush_refresh_one(const struct flush_app *app, const char *path,
		  long long max_age, long long now)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			msg_warn("stat %s: %m", path);
		return;
	}
	if (!S_ISREG(st.st_mode))
		return;
	if (st.st_size == 0) {
		if ((long long)st.st_mtime + app->purge_time < now) {
			if (unlink(path) < 0 && errno != ENOENT)
				msg_warn("remove %s: %m", path);
			else if (msg_verbose)
				msg_info("removed empty logfile %s", path);
		}
	} else if (max_age == 0 || (long long)st.st_atime + max_age < now) {
		(void)flush_send_path(app, path, false);
	}
}

/* Refresh logs unread for max_age seconds (0: all); purge old empty ones. */
static int
flush_refresh_service(const struct flush_app *app, long long max_age)
{
	VSTR	 *path = vstr_alloc(64);
	long long now = (long long)time(NULL);

	for (const char *h = FLUSH_HASH_DIGITS; *h; h++) {
		struct dirent *de;
		DIR	      *dir;

		vstr_sprintf(path, "%s/%c", FLUSH_DIR, *h);
		if ((dir = opendir(VSTR_STR(path))) == NULL) {
			if (errno != ENOENT)
				msg_warn("open %s: %m", VSTR_STR(path));
			continue;
		}
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			vstr_sprintf(path, "%s/%c/%s", FLUSH_DIR, *h,
				     de->d_name);
			flush_refresh_one(app, VSTR_STR(path), max_age, now);
		}
		closedir(dir);
	}
	vstr_free(path);
	return FLUSH_STAT_OK;
}

static void
flush_request(struct skel_ctx *ctx, const void *arg, const ATTR *in, ATTR *out)
{
	const struct flush_app *app = ctx->app;
	const char	       *what = attr_get_str(in, "request");
	const char	       *site = attr_get_str(in, "site");
	const char	       *queue_id = attr_get_str(in, "queue_id");
	int			status = FLUSH_STAT_BAD;

	(void)arg;
	if (what == NULL) {
		/* status stays BAD */
	} else if (strcmp(what, "add") == 0 && site && queue_id) {
		status = flush_add_service(app, site, queue_id);
	} else if (strcmp(what, "send_site") == 0 && site) {
		status = flush_send_site_service(app, site);
	} else if (strcmp(what, "send_file") == 0 && queue_id) {
		status = flush_send_file_service(app, queue_id);
	} else if (strcmp(what, "refresh") == 0) {
		status = flush_refresh_service(app, app->refresh_time);
	} else if (strcmp(what, "purge") == 0) {
		status = flush_refresh_service(app, 0);
	}
	if (status == FLUSH_STAT_BAD)
		msg_warn("bad %s request%s%.100s", what ? what : "unnamed",
			 site ? " for site " : "", site ? site : "");
	attr_put_int(out, "status", status);
}

/*
 * A client sends request frames; master's wakeup timer sends the single
 * trigger byte MASTER_TRIG_WAKEUP, which means "refresh".
 */
static void
flush_service(struct skel_ctx *ctx, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char	      byte;

	if (poll(&pfd, 1, FLUSH_PEEK_MS) == 1
	    && recv(fd, &byte, 1, MSG_PEEK) == 1
	    && byte == MASTER_TRIG_WAKEUP) {
		const struct flush_app *app = ctx->app;

		(void)recv(fd, &byte, 1, 0);
		(void)flush_refresh_service(app, app->refresh_time);
		return;
	}
	skel_serve_frames(ctx, fd, flush_request, NULL);
}

static void
flush_pre_jail(struct skel_ctx *ctx)
{
	struct flush_app *app = mycalloc(1, sizeof(*app));
	VSTR		 *why = vstr_alloc(64);

	/* Tables are opened before the chroot. */
	if ((app->domains = domain_list_open_param(ctx->cfg,
						   "fast_flush_domains", why))
	    == NULL)
		msg_fatal("fast_flush_domains: %s", VSTR_STR(why));
	vstr_free(why);
	app->refresh_time = cfg_get_time(ctx->cfg, "fast_flush_refresh_time");
	app->purge_time = cfg_get_time(ctx->cfg, "fast_flush_purge_time");
	app->qmgr_path = vstr_alloc(32);
	vstr_sprintf(app->qmgr_path, "public/%s",
		     cfg_get_str(ctx->cfg, "qmgr_service_name"));
	ctx->app = app;
}

static void
flush_post_jail(struct skel_ctx *ctx)
{
	struct flush_app *app = ctx->app;

	app->owner = ctx->queue_owner;
}

static void
flush_pre_exit(struct skel_ctx *ctx)
{
	struct flush_app *app = ctx->app;

	if (app == NULL)
		return;
	domain_list_free(app->domains);
	vstr_free(app->qmgr_path);
	myfree(app);
	ctx->app = NULL;
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .pre_jail = flush_pre_jail,
				    .post_jail = flush_post_jail,
				    .service = flush_service,
				    .pre_exit = flush_pre_exit,
				});
}
