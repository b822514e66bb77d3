/*
 * cleanup_queue - the queue file: create, commit, remove (docs/QUEUE.md).
 *
 * The file is created as incoming/t<pid>.<n>, a name that is never a
 * queue ID, so nothing else picks it up; its inode and the arrival time
 * make the queue ID.  Commit: rec_writer_finish, fsync, rename_durable
 * to incoming/<ID> (or hold/<ID>), which fsyncs the folder.  Only then
 * does cleanup answer.  Any failure unlinks the temporary file, so a
 * kill -9 at any moment leaves at most a temporary, which the start-up
 * sweep removes once it is an hour old.
 *
 * Errors: 0 / -1; failures are recorded in the state with cleanup_fail
 * (451 4.3.0, or 452 4.3.1 for a full disk or quota).
 *
 * SPDX-License-Identifier: ISC
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup/cleanup.h"
#include "util/msg.h"
#include "util/qid.h"
#include "util/safe_file.h"

#define CLEANUP_TEMP_PREFIX "t"

void
cleanup_io_error(CLEANUP_STATE *st, const char *what, int err)
{
	msg_warn("%s: %s %s: %s",
		 VSTR_LEN(st->qid) ? VSTR_STR(st->qid) : "cleanup", what,
		 VSTR_LEN(st->temp_path) ? VSTR_STR(st->temp_path)
					 : "queue file",
		 strerror(err));
	if (err == ENOSPC || err == EDQUOT)
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "452 4.3.1 Insufficient system storage");
	else
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: queue file write error");
}

int
cleanup_queue_create(CLEANUP_STATE *st)
{
	static unsigned long counter;
	struct stat	     sb;

	vstr_sprintf(st->temp_path, "incoming/" CLEANUP_TEMP_PREFIX "%ld.%lu",
		     (long)getpid(), counter++);
	if ((st->fd = safe_create_excl(VSTR_STR(st->temp_path), 0600)) < 0) {
		int err = errno;

		cleanup_io_error(st, "create", err);
		vstr_reset(st->temp_path);
		return -1;
	}
	gettimeofday(&st->arrival, NULL);
	if (fstat(st->fd, &sb) < 0
	    || qid_make(st->qid, &st->arrival, sb.st_ino) < 0) {
		cleanup_io_error(st, "fstat", errno);
		cleanup_queue_remove(st);
		return -1;
	}
	st->writer = rec_writer_create(st->fd);
	return 0;
}

void
cleanup_queue_remove(CLEANUP_STATE *st)
{
	if (st->writer)
		st->writer = rec_writer_free(st->writer);
	if (st->fd >= 0) {
		(void)close(st->fd);
		st->fd = -1;
	}
	if (VSTR_LEN(st->temp_path) > 0) {
		if (unlink(VSTR_STR(st->temp_path)) < 0 && errno != ENOENT)
			msg_warn("%s: remove %s: %m", VSTR_STR(st->qid),
				 VSTR_STR(st->temp_path));
		vstr_reset(st->temp_path);
	}
}

/*
 * The extracted section, written once the content is complete: X, the
 * content filter route (A filter=), the header fields to prepend (known
 * only now), the Message-ID.
 */
void
cleanup_queue_extracted(CLEANUP_STATE *st)
{
	rec_put(st->writer, REC_TYPE_XTRA, "", 0);
	/*
	 * Here rather than with the envelope: body_checks may still say
	 * FILTER after the envelope is written.  qmgr reads both sections.
	 */
	if (VSTR_LEN(st->filter) > 0)
		rec_putf(st->writer, REC_TYPE_ATTR, "filter=%s",
			 VSTR_STR(st->filter));
	cleanup_prepend_write(st);
	/* Postfix drops a milter's quarantine reason; Postel keeps it. */
	if (st->milter_quarantine)
		rec_putf(st->writer, REC_TYPE_ATTR, "milter_quarantine=%s",
			 VSTR_STR(st->milter_quarantine));
	if (VSTR_LEN(st->msgid))
		rec_put(st->writer, REC_TYPE_MSGID, VSTR_STR(st->msgid),
			VSTR_LEN(st->msgid));
}

int
cleanup_queue_commit(CLEANUP_STATE *st)
{
	VSTR *path;
	int   err;

	if (rec_writer_finish(st->writer) < 0 || fsync(st->fd) < 0) {
		cleanup_io_error(st, "write", errno);
		cleanup_queue_remove(st);
		return -1;
	}
	st->writer = rec_writer_free(st->writer);
	path = vstr_alloc(64);
	vstr_sprintf(path, "%s/%s", st->hold ? "hold" : "incoming",
		     VSTR_STR(st->qid));
	if (close(st->fd) < 0) {
		st->fd = -1;
		cleanup_io_error(st, "close", errno);
		cleanup_queue_remove(st);
		vstr_free(path);
		return -1;
	}
	st->fd = -1;
	if (rename_durable(VSTR_STR(st->temp_path), VSTR_STR(path)) < 0) {
		err = errno;
		/*
		 * If the rename happened but a folder fsync failed, the file
		 * is visible under its ID without the promised durability:
		 * take it back rather than answer 250.
		 */
		if (access(VSTR_STR(st->temp_path), F_OK) < 0)
			(void)unlink(VSTR_STR(path));
		cleanup_io_error(st, "commit", err);
		cleanup_queue_remove(st);
		vstr_free(path);
		return -1;
	}
	vstr_reset(st->temp_path);
	vstr_free(path);
	return 0;
}

/*
 * Remove temporaries left by a killed cleanup.  Only names that cannot
 * be queue IDs and look like ours, and only old ones: a young one may
 * belong to another cleanup process at work right now.
 */
void
cleanup_queue_sweep(const char *dir, long long max_age)
{
	DIR	      *dp;
	struct dirent *de;
	struct stat    sb;
	char	       path[1024];
	time_t	       now = time(NULL);

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, CLEANUP_TEMP_PREFIX,
			    strlen(CLEANUP_TEMP_PREFIX))
			!= 0
		    || strchr(de->d_name, '.') == NULL || qid_valid(de->d_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     de->d_name)
		    >= sizeof(path))
			continue;
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode)
		    || now - sb.st_mtime < max_age)
			continue;
		if (unlink(path) == 0)
			msg_info("removed stale temporary file %s", path);
		else
			msg_warn("remove stale temporary file %s: %m", path);
	}
	closedir(dp);
}

/* RFC 5322 date-time in local time, e.g. "Mon, 23 Nov 2026 10:02:02 +0000". */
void
cleanup_date(VSTR *out, time_t when)
{
	struct tm tm;
	char	  buf[64];

	localtime_r(&when, &tm);
	if (strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		buf[0] = 0;
	vstr_strcpy(out, buf);
}
