/*
 * local_mailbox - delivery into a UNIX mailbox (mbox) or a Maildir, for
 * a user's own mailbox and for /file/name members of aliases and
 * .forward files.
 *
 * The mailbox is $home/$home_mailbox when home_mailbox is set, else
 * mail_spool_directory/user; a name that ends in "/" is a Maildir.
 * Everything runs in a local_priv child as the recipient, so the kernel
 * checks every access as for the user.  The one exception: a missing
 * mailbox in mail_spool_directory is created by the root parent (owned by
 * the user, mode 0600, O_EXCL and O_NOFOLLOW), because the spool folder
 * is usually not writable by users.  The dot-lock is taken only when the
 * user may write the mailbox's folder; the fcntl lock always.
 *
 * mbox: "From " line, Return-Path, Delivered-To, ">From " quoting, a
 * blank line after the message; locked, size-checked against
 * mailbox_size_limit (bounce 5.2.2), fsync()ed, and truncated back when
 * a write fails.  Maildir: Return-Path and Delivered-To, written to
 * tmp/ under a unique name (time.MusecPpid.host), fsync()ed, renamed
 * into new/, and the folder fsync()ed.
 *
 * Errors: recorded in the struct local_result.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local/local.h"
#include "util/maildir.h"
#include "util/mbox.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define LOCAL_LOCK_WAIT	10		/* seconds for a busy mailbox */

struct local_box_job {
	LOCAL_STATE *st;
	struct local_msg *m;
	const char *path;
	const char *delivered_to;
};

/* Map a util/mbox or util/maildir failure to a delivery status. */
static void
local_box_failed(struct local_result *r, int err, const char *why)
{
	if (err == EFBIG || err == EDQUOT)
		local_result_set(r, DELIVER_BOUNCED, "5.2.2", "%s", why);
	else if (err == EACCES || err == ELOOP || err == EINVAL)
		local_result_set(r, DELIVER_BOUNCED, "5.2.0", "%s", why);
	else if (err == ENOSPC)
		local_result_set(r, DELIVER_DEFERRED, "4.3.4", "%s", why);
	else
		local_result_set(r, DELIVER_DEFERRED, "4.2.0", "%s", why);
}

static void
local_mbox_job(void *ctx, struct local_result *r)
{
	struct local_box_job *j = ctx;
	VSTR   *out = vstr_alloc(VSTR_LEN(j->m->content) + 256);
	VSTR   *why = vstr_alloc(64);

	local_copy_format(out, j->m, j->delivered_to, LOCAL_COPY_MBOX);
	if (mbox_append(j->path, VSTR_STR(out), VSTR_LEN(out),
			j->st->size_limit, LOCAL_LOCK_WAIT, why) < 0)
		local_box_failed(r, errno, VSTR_STR(why));
	else
		local_result_set(r, DELIVER_SENT, "2.0.0",
				 "delivered to mailbox");
	vstr_free(out);
	vstr_free(why);
}

static void
local_maildir_job(void *ctx, struct local_result *r)
{
	struct local_box_job *j = ctx;
	VSTR   *out = vstr_alloc(VSTR_LEN(j->m->content) + 256);
	VSTR   *why = vstr_alloc(64);

	local_copy_format(out, j->m, j->delivered_to, 0);
	if (maildir_deliver(j->path, VSTR_STR(out), VSTR_LEN(out),
			    j->st->size_limit, why) < 0)
		local_box_failed(r, errno, VSTR_STR(why));
	else
		local_result_set(r, DELIVER_SENT, "2.0.0",
				 "delivered to maildir");
	vstr_free(out);
	vstr_free(why);
}

/* Root creates a missing spool mailbox for the user (see above). */
static void
local_spool_create(const char *path, const struct local_user *u)
{
	int	fd;

	if (geteuid() != 0)
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
		       | O_CLOEXEC, 0600)) < 0)
		return;
	if (fchown(fd, u->uid, u->gid) < 0) {
		msg_warn("chown %s: %m", path);
		(void)unlink(path);
	}
	close(fd);
}

static void
local_box(LOCAL_STATE *st, struct local_msg *m, const char *path,
	  const char *delivered_to, const struct local_user *u,
	  struct local_result *r)
{
	struct local_box_job j = {.st = st, .m = m, .path = path,
	.delivered_to = delivered_to};
	size_t	len = strlen(path);

	if (len > 0 && path[len - 1] == '/')
		local_priv_run(u, 0, local_maildir_job, &j, r);
	else
		local_priv_run(u, 0, local_mbox_job, &j, r);
}

void
local_mailbox(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
	      const struct local_user *u, struct local_result *r)
{
	VSTR   *path = vstr_alloc(64);

	if (*st->mailbox_command) {
		local_command(st, m, rc, u, st->mailbox_command, r);
		vstr_free(path);
		return;
	}
	if (*st->home_mailbox) {
		vstr_sprintf(path, "%s/%s", u->home, st->home_mailbox);
	} else {
		vstr_sprintf(path, "%s/%s", st->spool_dir, u->name);
		if (st->spool_dir[0] && st->spool_dir[strlen(st->spool_dir) - 1]
		    == '/')
			vstr_addch(path, '/');
		else
			local_spool_create(VSTR_STR(path), u);
	}
	local_box(st, m, VSTR_STR(path), rc->addr, u, r);
	vstr_free(path);
}

void
local_file(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
	   const struct local_user *u, const char *path,
	   struct local_result *r)
{
	local_box(st, m, path, rc->addr, u, r);
	if (r->action == DELIVER_SENT)
		local_result_set(r, DELIVER_SENT, "2.0.0",
				 "delivered to file: %s", path);
}
