/*
 * local_mailbox - delivery into a UNIX mailbox (mbox) or a Maildir, for
 * a user's own mailbox and for /file/name members of aliases and
 * .forward files.
 *
 * The mailbox is $home/$home_mailbox when home_mailbox is set, else
 * mail_spool_directory/user; a name that ends in "/" is a Maildir.
 * Everything runs in a local_priv child as the recipient (root's own
 * mailbox as root; file members of root's aliases or .forward as
 * default_privs), so the kernel checks every access as for the user.
 * strict_mailbox_ownership (default yes, as Postfix): an existing mbox
 * that is not owned by the recipient is not touched; the delivery
 * defers (4.2.0) with a warning naming the file and both uids.  The
 * one exception to "as the recipient": a missing
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
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local/local.h"
#include "util/maildir.h"
#include "util/mbox.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define LOCAL_LOCK_WAIT 10 /* seconds for a busy mailbox */

struct local_box_job {
	LOCAL_STATE	 *st;
	struct local_msg *m;
	const char	 *path;
	const char	 *delivered_to;
	bool		  own_mailbox; /* recipient's mailbox, no file */
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
	VSTR		     *out = vstr_alloc(VSTR_LEN(j->m->content) + 256);
	VSTR		     *why = vstr_alloc(64);

	/*
	 * strict_mailbox_ownership: the child already is the recipient, so
	 * an existing mailbox must be ours; one owned by somebody else is
	 * left alone until the administrator looks (Postfix defers too).
	 */
	uid_t owner = j->own_mailbox && j->st->strict_owner ? geteuid()
							    : (uid_t)-1;

	local_copy_format(out, j->m, j->delivered_to, LOCAL_COPY_MBOX);
	if (mbox_append(j->path, VSTR_STR(out), VSTR_LEN(out),
			j->st->size_limit, LOCAL_LOCK_WAIT, owner, why)
	    < 0) {
		if (errno == EPERM && owner != (uid_t)-1) {
			msg_warn("%s: %s; specify \"strict_mailbox_ownership "
				 "= no\" to ignore mailbox ownership mismatch",
				 j->m->req->queue_id, VSTR_STR(why));
			local_result_set(r, DELIVER_DEFERRED, "4.2.0", "%s",
					 VSTR_STR(why));
		} else {
			local_box_failed(r, errno, VSTR_STR(why));
		}
	} else
		local_result_set(r, DELIVER_SENT, "2.0.0",
				 "delivered to mailbox");
	vstr_free(out);
	vstr_free(why);
}

static void
local_maildir_job(void *ctx, struct local_result *r)
{
	struct local_box_job *j = ctx;
	VSTR		     *out = vstr_alloc(VSTR_LEN(j->m->content) + 256);
	VSTR		     *why = vstr_alloc(64);

	local_copy_format(out, j->m, j->delivered_to, 0);
	/*
	 * As Postfix: a Maildir that cannot be written defers (the mail stays
	 * queued while the owner fixes it); only size refusals bounce.
	 */
	if (maildir_deliver(j->path, VSTR_STR(out), VSTR_LEN(out),
			    j->st->size_limit, why)
	    < 0)
		local_box_failed(r,
				 errno == EFBIG || errno == EDQUOT
					 || errno == ENOSPC
				     ? errno
				     : EIO,
				 VSTR_STR(why));
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
	int fd;

	if (geteuid() != 0)
		return;
	if ((fd = open(path,
		       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       0600))
	    < 0)
		return;
	if (fchown(fd, u->owner_uid, u->owner_gid) < 0) {
		msg_warn("chown %s: %m", path);
		(void)unlink(path);
	}
	close(fd);
}

/*
 * own_mailbox: path is u's mailbox, written as its owner (root for
 * root); else a file member, written with u's delivery privileges.
 */
static void
local_box(LOCAL_STATE *st, struct local_msg *m, const char *path,
	  const char *delivered_to, const struct local_user *u,
	  bool own_mailbox, struct local_result *r)
{
	struct local_box_job j = { .st = st,
				   .m = m,
				   .path = path,
				   .delivered_to = delivered_to,
				   .own_mailbox = own_mailbox };
	struct local_user    as = *u;
	size_t		     len = strlen(path);

	if (own_mailbox) {
		as.uid = u->owner_uid;
		as.gid = u->owner_gid;
		as.mailbox = true;
	}
	if (len > 0 && path[len - 1] == '/')
		local_priv_run(&as, 0, local_maildir_job, &j, r);
	else
		local_priv_run(&as, 0, local_mbox_job, &j, r);
}

void
local_mailbox(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
	      const struct local_user *u, struct local_result *r)
{
	VSTR *path;

	/* Postfix's precedence: mailbox_transport, then mailbox_command. */
	if (*st->mailbox_transport) {
		local_pass(st, m, rc, st->mailbox_transport, r);
		return;
	}
	path = vstr_alloc(64);
	if (*st->mailbox_command) {
		local_command(st, m, rc, u, st->mailbox_command, r);
		vstr_free(path);
		return;
	}
	if (*st->home_mailbox) {
		vstr_sprintf(path, "%s/%s", u->home, st->home_mailbox);
	} else {
		size_t dlen = strlen(st->spool_dir);
		bool   maildir = dlen > 0 && st->spool_dir[dlen - 1] == '/';

		/* "/var/mail/" + user + "/": no "//" in the path. */
		while (dlen > 1 && st->spool_dir[dlen - 1] == '/')
			dlen--;
		vstr_memcpy(path, st->spool_dir, dlen);
		vstr_sprintf_append(path, "/%s", u->name);
		if (maildir)
			vstr_addch(path, '/');
		else
			local_spool_create(VSTR_STR(path), u);
	}
	local_box(st, m, VSTR_STR(path), rc->addr, u, true, r);
	vstr_free(path);
}

void
local_file(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
	   const struct local_user *u, const char *path, struct local_result *r)
{
	local_box(st, m, path, rc->addr, u, false, r);
	if (r->action == DELIVER_SENT)
		local_result_set(r, DELIVER_SENT, "2.0.0",
				 "delivered to file: %s", path);
}
