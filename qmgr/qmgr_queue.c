/*
 * qmgr_queue - the queue folders: recovery at start, scans of incoming/
 * and deferred/, and the moves between folders (only qmgr moves files).
 *
 * Crash contract (DESIGN.md section 3, docs/QMGR.md): at start every file
 * left in active/ was being delivered when qmgr died; it goes back to
 * incoming/ and is scheduled again (its 'D' recipients are skipped).  A
 * message is taken into memory by renaming it to active/ first, so a file
 * is in exactly one folder at any time.  Scans stop at
 * qmgr_message_active_limit messages or qmgr_message_recipient_limit
 * recipients in memory and resume when a message leaves.
 *
 * A deferred file's mtime is its next attempt time and its atime the time
 * of its last deferral (see qmgr_bounce.c); a deferred scan takes the
 * files whose time has come, or all of them for a flush.
 *
 * Errors: logged and skipped; a file that cannot be read as a queue file
 * goes to corrupt/ (mode 0400).
 *
 * SPDX-License-Identifier: ISC
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qmgr/qmgr.h"
#include "util/msg.h"
#include "util/qid.h"

bool
qmgr_queue_has_room(const QMGR *q)
{
	return q->nmessages < q->active_limit && q->nrcpt_mem < q->rcpt_limit;
}

void
qmgr_queue_corrupt(QMGR *q, const char *queue_name, const char *queue_id)
{
	char from[QMGR_PATH_MAX];
	char to[QMGR_PATH_MAX];

	(void)q;
	snprintf(from, sizeof(from), "%s/%s", queue_name, queue_id);
	snprintf(to, sizeof(to), "corrupt/%s", queue_id);
	if (rename(from, to) < 0) {
		msg_warn("%s: rename %s to %s: %m", queue_id, from, to);
		return;
	}
	(void)chmod(to, 0400);
	msg_warn("%s: corrupt queue file moved to %s", queue_id, to);
}

/* Move queue_name/id to active/ and schedule it. */
static void
qmgr_queue_take(QMGR *q, const char *from, const char *queue_id,
		long long prev_attempt)
{
	char	      to[QMGR_PATH_MAX];
	QMGR_MESSAGE *m;
	bool	      corrupt;

	snprintf(to, sizeof(to), "active/%s", queue_id);
	if (rename(from, to) < 0) {
		if (errno != ENOENT)
			msg_warn("%s: rename %s to %s: %m", queue_id, from, to);
		return;
	}
	if ((m = qmgr_message_load(q, queue_id, &corrupt)) == NULL) {
		if (corrupt)
			qmgr_queue_corrupt(q, "active", queue_id);
		return;
	}
	m->prev_attempt = prev_attempt;
	qmgr_message_schedule(m);
}

void
qmgr_queue_recover(QMGR *q)
{
	char	       from[QMGR_PATH_MAX];
	char	       to[QMGR_PATH_MAX];
	struct dirent *de;
	DIR	      *d;

	(void)q;
	if ((d = opendir("active")) == NULL) {
		msg_warn("open active: %m");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!qid_valid(de->d_name))
			continue;
		snprintf(from, sizeof(from), "active/%s", de->d_name);
		snprintf(to, sizeof(to), "incoming/%s", de->d_name);
		if (rename(from, to) < 0)
			msg_warn("%s: rename %s to %s: %m", de->d_name, from,
				 to);
		else if (msg_verbose)
			msg_info("%s: back to incoming after a restart",
				 de->d_name);
	}
	closedir(d);
}

void
qmgr_queue_scan_incoming(QMGR *q)
{
	char	       from[QMGR_PATH_MAX];
	struct dirent *de;
	DIR	      *d;

	q->incoming_backlog = false;
	if ((d = opendir("incoming")) == NULL) {
		msg_warn("open incoming: %m");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!qid_valid(de->d_name))
			continue;
		if (!qmgr_queue_has_room(q)) {
			q->incoming_backlog = true;
			break;
		}
		snprintf(from, sizeof(from), "incoming/%s", de->d_name);
		qmgr_queue_take(q, from, de->d_name, 0);
	}
	closedir(d);
}

/* One hashed folder deferred/X; false when the limits stopped it. */
static bool
qmgr_queue_scan_hash(QMGR *q, const char *hash, bool all, long long now)
{
	char	       dir[QMGR_PATH_MAX / 2];
	char	       from[QMGR_PATH_MAX];
	struct dirent *de;
	struct stat    st;
	DIR	      *d;
	bool	       room = true;

	snprintf(dir, sizeof(dir), "deferred/%s", hash);
	if ((d = opendir(dir)) == NULL)
		return true;
	while ((de = readdir(d)) != NULL) {
		if (!qid_valid(de->d_name))
			continue;
		if (!qmgr_queue_has_room(q)) {
			room = false;
			break;
		}
		snprintf(from, sizeof(from), "%s/%s", dir, de->d_name);
		if (lstat(from, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!all && st.st_mtime > now)
			continue;
		qmgr_queue_take(q, from, de->d_name, (long long)st.st_atime);
	}
	closedir(d);
	return room;
}

void
qmgr_queue_scan_deferred(QMGR *q, bool all)
{
	long long      now = qmgr_now();
	struct dirent *de;
	DIR	      *d;

	q->deferred_backlog = false;
	if ((d = opendir("deferred")) == NULL) {
		msg_warn("open deferred: %m");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != QID_HASH_LEN || *de->d_name == '.')
			continue;
		if (!qmgr_queue_scan_hash(q, de->d_name, all, now)) {
			q->deferred_backlog = true;
			q->flush_all = q->flush_all || all;
			break;
		}
	}
	closedir(d);
	if (!q->deferred_backlog)
		q->flush_all = false;
}

int
qmgr_queue_move_deferred(QMGR *q, const char *queue_id, int fd,
			 long long next_time)
{
	char		hash[QID_HASH_LEN + 1];
	char		dir[QMGR_PATH_MAX / 2];
	char		from[QMGR_PATH_MAX];
	char		to[QMGR_PATH_MAX];
	struct timespec ts[2];

	(void)q;
	if (qid_hash_dir(queue_id, hash) == NULL) {
		msg_warn("%s: bad queue ID", queue_id);
		return -1;
	}
	snprintf(dir, sizeof(dir), "deferred/%s", hash);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		msg_warn("%s: mkdir %s: %m", queue_id, dir);
		return -1;
	}
	ts[0].tv_sec = (time_t)qmgr_now(); /* atime: this deferral */
	ts[0].tv_nsec = 0;
	ts[1].tv_sec = (time_t)next_time; /* mtime: next attempt */
	ts[1].tv_nsec = 0;
	if (futimens(fd, ts) < 0)
		msg_warn("%s: set the retry time: %m", queue_id);
	snprintf(from, sizeof(from), "active/%s", queue_id);
	snprintf(to, sizeof(to), "%s/%s", dir, queue_id);
	if (rename(from, to) < 0) {
		msg_warn("%s: rename %s to %s: %m", queue_id, from, to);
		return -1;
	}
	return 0;
}

static void
qmgr_queue_scan_timer(EVENTS *ev, void *ctx)
{
	QMGR *q = ctx;

	(void)ev;
	if (q->incoming_backlog)
		qmgr_queue_scan_incoming(q);
	if (q->deferred_backlog)
		qmgr_queue_scan_deferred(q, q->flush_all);
}

void
qmgr_queue_request_scan(QMGR *q)
{
	if ((q->incoming_backlog || q->deferred_backlog)
	    && qmgr_queue_has_room(q))
		events_timer(q->events, qmgr_queue_scan_timer, q, 0);
}
