/*
 * mbox - mailbox locking, appending and formatting (see mbox.h).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/ipc.h"
#include "util/mbox.h"
#include "util/qid.h"
#include "util/rec.h"

#define MBOX_STALE_SECS 300

static int
mbox_dotlock(const char *path, int secs, VSTR *why)
{
	VSTR	   *lock = vstr_alloc(64);
	struct stat sb;
	int	    fd, tries;

	vstr_sprintf(lock, "%s.lock", path);
	for (tries = 0;; tries++) {
		fd = open(VSTR_STR(lock),
			  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600);
		if (fd >= 0) {
			close(fd);
			vstr_free(lock);
			return 0;
		}
		if (errno != EEXIST) {
			vstr_sprintf(why, "create %s: %s", VSTR_STR(lock),
				     strerror(errno));
			break;
		}
		if (lstat(VSTR_STR(lock), &sb) == 0
		    && time(NULL) - sb.st_mtime > MBOX_STALE_SECS) {
			(void)unlink(VSTR_STR(lock));
			continue;
		}
		if (tries >= secs) {
			vstr_sprintf(why, "%s is locked by another process",
				     VSTR_STR(lock));
			errno = EAGAIN;
			break;
		}
		sleep(1);
	}
	vstr_free(lock);
	return -1;
}

static void
mbox_dotunlock(const char *path)
{
	VSTR *lock = vstr_alloc(64);

	vstr_sprintf(lock, "%s.lock", path);
	(void)unlink(VSTR_STR(lock));
	vstr_free(lock);
}

int
mbox_lock(int fd, const char *path, int flags, int secs, VSTR *why)
{
	struct flock fl;
	int	     tries;

	if ((flags & MBOX_LOCK_DOTLOCK) && mbox_dotlock(path, secs, why) < 0)
		return -1;
	if ((flags & MBOX_LOCK_FCNTL) == 0)
		return 0;
	for (tries = 0;; tries++) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if ((errno != EAGAIN && errno != EACCES) || tries >= secs) {
			int saved = errno;

			vstr_sprintf(why, "%s: fcntl lock: %s", path,
				     saved == EACCES || saved == EAGAIN
					 ? "locked by another process"
					 : strerror(saved));
			if (flags & MBOX_LOCK_DOTLOCK)
				mbox_dotunlock(path);
			errno = saved == EACCES ? EAGAIN : saved;
			return -1;
		}
		sleep(1);
	}
}

void
mbox_unlock(int fd, const char *path, int flags)
{
	struct flock fl;

	if (flags & MBOX_LOCK_FCNTL) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_UNLCK;
		fl.l_whence = SEEK_SET;
		(void)fcntl(fd, F_SETLK, &fl);
	}
	if (flags & MBOX_LOCK_DOTLOCK)
		mbox_dotunlock(path);
}

int
mbox_append(const char *path, const char *data, size_t len, long long limit,
	    int lock_wait, uid_t owner, VSTR *why)
{
	struct stat sb;
	int	    fd, flags = MBOX_LOCK_FCNTL, err = 0;
	const char *slash = strrchr(path, '/');
	VSTR	   *dir = vstr_alloc(64);

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		err = errno;
		vstr_sprintf(why, "cannot open mailbox %s: %s", path,
			     strerror(err));
		goto out;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1) {
		err = EINVAL;
		vstr_sprintf(why,
			     "mailbox %s is not a regular file with one "
			     "link",
			     path);
		goto out;
	}
	if (owner != (uid_t)-1 && sb.st_uid != owner) {
		err = EPERM;
		vstr_sprintf(why,
			     "destination %s is not owned by recipient "
			     "(owner uid %ld, recipient uid %ld)",
			     path, (long)sb.st_uid, (long)owner);
		goto out;
	}
	vstr_memcpy(dir, path, slash ? (size_t)(slash - path) + 1 : 1);
	if (access(slash ? VSTR_STR(dir) : ".", W_OK) == 0)
		flags |= MBOX_LOCK_DOTLOCK;
	if (mbox_lock(fd, path, flags, lock_wait, why) < 0) {
		err = errno;
		goto out;
	}
	if (fstat(fd, &sb) < 0) {
		err = errno;
		vstr_sprintf(why, "fstat %s: %s", path, strerror(err));
	} else if (limit > 0
		   && (long long)sb.st_size + (long long)len > limit) {
		err = EFBIG;
		vstr_sprintf(why,
			     "cannot update mailbox %s: mailbox size "
			     "limit (%lld bytes) exceeded",
			     path, limit);
	} else {
		if (write_full(fd, data, len, -1) < 0)
			err = errno;
		if (err == 0 && fsync(fd) < 0)
			err = errno;
		if (err) {
			vstr_sprintf(why, "cannot update mailbox %s: %s", path,
				     strerror(err));
			/* Leave no half message for the reader to choke on. */
			if (ftruncate(fd, sb.st_size) < 0)
				vstr_sprintf_append(why, " (truncate: %s)",
						    strerror(errno));
		}
	}
	mbox_unlock(fd, path, flags);
out:
	if (fd >= 0)
		close(fd);
	vstr_free(dir);
	errno = err;
	return err ? -1 : 0;
}

void
mbox_format(VSTR *out, const char *sender, const char *delivered_to,
	    const char *content, size_t len, int flags)
{
	const char *p = content;
	const char *end = content + len;
	char	    date[64];
	time_t	    now = time(NULL);
	struct tm   tm;

	vstr_reset(out);
	if (flags & MBOX_FMT_FROM) {
		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
		vstr_sprintf_append(out, "From %s  %s\n",
				    *sender ? sender : "MAILER-DAEMON", date);
	}
	vstr_sprintf_append(out, "Return-Path: <%s>\n", sender);
	if (delivered_to)
		vstr_sprintf_append(out, "Delivered-To: %s\n", delivered_to);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t	    n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if ((flags & MBOX_FMT_QUOTE) && n >= 5
		    && memcmp(p, "From ", 5) == 0)
			vstr_addch(out, '>');
		vstr_memcat(out, p, n);
		p += n;
	}
	if (VSTR_LEN(out) > 0 && VSTR_STR(out)[VSTR_LEN(out) - 1] != '\n')
		vstr_addch(out, '\n');
	if (flags & MBOX_FMT_BLANK)
		vstr_addch(out, '\n');
}

int
mbox_read_queue(int qfd, long long content_offset, VSTR *out, VSTR *why)
{
	REC_CONTENT *rc = rec_content_create(qfd, (off_t)content_offset);
	VSTR	    *data = vstr_alloc(REC_CONT_CHUNK);
	int	     type, got;
	bool	     cr = false;

	vstr_reset(out);
	/* Prepended header fields first, then the content chunks. */
	while ((got = rec_content_get(rc, &type, data, REC_LEN_MAX)) > 0) {
		/* CR LF -> LF, even when a chunk ends between them. */
		const char *p = VSTR_STR(data);
		const char *end = p + VSTR_LEN(data);

		if (cr && p < end) {
			if (*p == '\n')
				p++;
			vstr_addch(out, p > VSTR_STR(data) ? '\n' : '\r');
			cr = false;
		}
		while (p < end) {
			const char *q = memchr(p, '\r', (size_t)(end - p));

			if (q == NULL) {
				vstr_memcat(out, p, (size_t)(end - p));
				break;
			}
			vstr_memcat(out, p, (size_t)(q - p));
			if (q + 1 == end) {
				cr = true;
				break;
			}
			vstr_addch(out, q[1] == '\n' ? '\n' : '\r');
			p = q[1] == '\n' ? q + 2 : q + 1;
		}
	}
	if (cr)
		vstr_addch(out, '\r');
	if (got < 0)
		vstr_sprintf(why, "error reading queue file: %s",
			     rec_content_why(rc));
	rec_content_free(rc);
	vstr_free(data);
	return got < 0 ? -1 : 0;
}

/*
 * The only queue a delivery agent is asked to read: qmgr hands out
 * messages from active/ alone (a message elsewhere is not being
 * delivered, and maildrop/ holds files that local users wrote).
 */
static const char *const mbox_queue_names[] = { "active", NULL };

static bool
mbox_queue_name_ok(const char *name)
{
	for (const char *const *q = mbox_queue_names; *q; q++)
		if (strcmp(name, *q) == 0)
			return true;
	return false;
}

int
mbox_load_queue_file(const char *queue_dir, const char *queue_name,
		     const char *queue_id, uid_t owner,
		     long long content_offset, VSTR *out, VSTR *why)
{
	struct stat st;
	VSTR	   *path;
	int	    qfd;
	int	    ret = -1;

	/*
	 * The names come from qmgr over IPC, and local and pipe read them as
	 * root: accept only a known queue and a well-formed queue ID, so the
	 * path cannot leave the queue or name a file qmgr did not schedule.
	 */
	vstr_reset(out);
	if (!mbox_queue_name_ok(queue_name)) {
		vstr_strcpy(why, "bad queue name in delivery request");
		return -1;
	}
	if (!qid_valid(queue_id)) {
		vstr_strcpy(why, "bad queue ID in delivery request");
		return -1;
	}
	path = vstr_alloc(128);
	vstr_sprintf(path, "%s/%s/%s", queue_dir, queue_name, queue_id);
	/* O_NONBLOCK: a FIFO planted in the queue must not hang the open. */
	if ((qfd = open(VSTR_STR(path),
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC))
	    < 0) {
		vstr_sprintf(why, "open queue file %s: %s", VSTR_STR(path),
			     strerror(errno));
		goto out;
	}
	if (fstat(qfd, &st) < 0) {
		vstr_sprintf(why, "fstat queue file %s: %s", VSTR_STR(path),
			     strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		vstr_sprintf(why, "queue file %s is not a regular file",
			     VSTR_STR(path));
	} else if (st.st_uid != owner) {
		/* Only cleanup (as mail_owner) writes what qmgr schedules. */
		vstr_sprintf(why,
			     "queue file %s is owned by uid %ld, not by "
			     "the mail system owner (uid %ld)",
			     VSTR_STR(path), (long)st.st_uid, (long)owner);
	} else {
		ret = mbox_read_queue(qfd, content_offset, out, why);
	}
	close(qfd);
out:
	vstr_free(path);
	return ret;
}
