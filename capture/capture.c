/*
 * capture - a delivery agent that keeps mail instead of sending it: point
 * default_transport and relay_transport at it (staging and test set-ups)
 * and every non-local message lands in capture_directory, a Maildir.
 *
 * One delivery request (one message, the recipients qmgr grouped for one
 * transport and next hop) becomes one Maildir file: a "Return-Path:
 * <sender>" line, one "X-Original-To: address" line per recipient of the
 * request (the envelope recipient as qmgr handed it), then the message as
 * local delivery writes it (LF line ends).  The file is fsync()ed and
 * renamed into new/ (util/maildir.c) before any recipient is reported
 * sent; a write that fails defers every recipient of the request (4.3.0
 * with the reason), and nothing half-written is left in new/.  Logs are
 * the usual delivery lines with relay=capture and "captured in DIR".
 *
 * Privileges: master.cf runs it as `capture unix - n n - - capture`, so it
 * starts as root like local (unprivileged "n", no chroot): capture_directory
 * usually lives under data_directory, outside the queue.  In post_jail it
 * creates capture_directory when missing (mode 0700, owned by mail_owner;
 * missing parents root's, 0755),
 * then drops to mail_owner itself with util/user.c's user_jail (the same
 * checked drop the skeleton does, which leaves "n" services root) before
 * any request is served; every file it writes is mail_owner's.  Started by
 * an unprivileged user it runs as that user (and makes the folders as
 * that user).
 *
 * Errors: a capture_directory that cannot be created or a failed drop is
 * fatal at start; per request as above.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/deliver_serve.h"
#include "util/maildir.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"
#include "util/user.h"

typedef struct CAPTURE_STATE {
	const char	   *dir;  /* capture_directory */
	VSTR		   *text; /* result of the current request */
	char		    dsn[DELIVER_DSN_MAX];
	enum deliver_action action;
} CAPTURE_STATE;

/* Create the missing parents of dir (root's, 0755), as mkdir -p would. */
static void
capture_mkparents(const char *dir)
{
	char *path = mystrdup(dir);

	for (char *cp = strchr(path + 1, '/'); cp; cp = strchr(cp + 1, '/')) {
		*cp = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			msg_fatal("capture_directory: mkdir %s: %m", path);
		*cp = '/';
	}
	myfree(path);
}

static void
capture_post_jail(struct skel_ctx *ctx)
{
	CAPTURE_STATE *st = mycalloc(1, sizeof(*st));
	const char    *owner = cfg_get_str(ctx->cfg, "mail_owner");
	uid_t	       uid;
	gid_t	       gid;
	VSTR	      *why;
	bool	       made;

	st->dir = cfg_get_str(ctx->cfg, "capture_directory");
	st->text = vstr_alloc(128);
	if (*st->dir != '/')
		msg_fatal("capture_directory \"%s\" is not an absolute path",
			  st->dir);
	ctx->app = st;
	capture_mkparents(st->dir);
	if (!(made = mkdir(st->dir, 0700) == 0) && errno != EEXIST)
		msg_fatal("capture_directory: mkdir %s: %m", st->dir);
	if (geteuid() != 0)
		return;
	if (user_lookup(owner, &uid, &gid) < 0)
		msg_fatal("mail_owner %s: unknown user", owner);
	if (made && chown(st->dir, uid, gid) < 0)
		msg_fatal("chown %s: %m", st->dir);
	why = vstr_alloc(64);
	if (user_jail(NULL, uid, gid, why) < 0)
		msg_fatal("cannot drop privileges to %s: %s", owner,
			  VSTR_STR(why));
	vstr_free(why);
	ctx->jailed = true;
}

/* Write the request's message once; its result for every recipient. */
static void
capture_write(CAPTURE_STATE *st, const struct deliver_request *req,
	      const VSTR *content)
{
	VSTR *out = vstr_alloc(VSTR_LEN(content) + 256);
	VSTR *why = vstr_alloc(64);

	vstr_sprintf(out, "Return-Path: <%s>\n", req->sender);
	for (size_t i = 0; i < req->nrcpt; i++)
		vstr_sprintf_append(out, "X-Original-To: %s\n",
				    req->rcpts[i].addr);
	vstr_memcat(out, VSTR_STR(content), VSTR_LEN(content));
	if (VSTR_LEN(out) > 0 && VSTR_STR(out)[VSTR_LEN(out) - 1] != '\n')
		vstr_addch(out, '\n');
	if (maildir_deliver(st->dir, VSTR_STR(out), VSTR_LEN(out), 0, why)
	    < 0) {
		st->action = DELIVER_DEFERRED;
		snprintf(st->dsn, sizeof(st->dsn), "4.3.0");
		vstr_sprintf(st->text, "cannot capture: %s", VSTR_STR(why));
		msg_warn("%s: capture_directory %s: %s", req->queue_id, st->dir,
			 VSTR_STR(why));
	} else {
		st->action = DELIVER_SENT;
		snprintf(st->dsn, sizeof(st->dsn), "2.0.0");
		vstr_sprintf(st->text, "captured in %s", st->dir);
	}
	vstr_free(out);
	vstr_free(why);
}

static void
capture_rcpt(struct skel_ctx *ctx, const struct deliver_request *req, size_t i,
	     VSTR *content, struct deliver_status *s, VSTR *text)
{
	CAPTURE_STATE *st = ctx->app;

	if (i == 0)
		capture_write(st, req, content);
	vstr_strcpy(text, VSTR_STR(st->text));
	deliver_status_set(s, st->action, st->dsn, VSTR_STR(text), "capture");
}

static void
capture_service(struct skel_ctx *ctx, int fd)
{
	deliver_serve(ctx, fd,
		      &(const struct deliver_serve_ops){
			  .relay = "capture",
			  .content = true,
			  .rcpt = capture_rcpt,
		      });
}

static void
capture_pre_exit(struct skel_ctx *ctx)
{
	CAPTURE_STATE *st = ctx->app;

	if (st) {
		vstr_free(st->text);
		myfree(st);
		ctx->app = NULL;
	}
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .post_jail = capture_post_jail,
				    .service = capture_service,
				    .pre_exit = capture_pre_exit,
				});
}
