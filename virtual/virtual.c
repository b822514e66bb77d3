/*
 * virtual - the virtual mailbox delivery agent (virtual(8)): mail for
 * virtual_mailbox_domains goes into Maildirs or mboxes under
 * virtual_mailbox_base, owned by the uid/gid that virtual_uid_maps and
 * virtual_gid_maps give, as Postfix's virtual does.
 *
 * For each recipient user+ext@domain the tables are searched for
 * user+ext@domain, then user@domain (recipient_delimiter), then
 * @domain.  The mailbox value is a path relative to virtual_mailbox_base;
 * one that ends in "/" is a Maildir.  The uid must be at least
 * virtual_minimum_uid (and never 0).  The delivery runs in a child that
 * has become that uid/gid; it writes Return-Path and Delivered-To (and
 * for an mbox the "From " line, ">From " quoting and locks), fsync()s,
 * and reports through a pipe.  A Delivered-To header naming the
 * recipient bounces the mail as a loop (5.4.6); a message over
 * virtual_mailbox_limit bounces with 5.2.2; an unknown recipient with
 * 5.1.1; a table that cannot be read or a bad uid defers.  With
 * strict_mailbox_ownership (default yes) an existing mbox that the
 * mapped uid does not own is left alone: 4.2.0 and a warning naming the
 * file and both uids.  A Maildir that cannot be written defers (4.2.0).
 *
 * Errors: as above per recipient; a request that does not parse gets a
 * whole-request failure.  Bad tables are fatal at start.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/deliver_proto.h"
#include "util/dict.h"
#include "util/deliver_serve.h"
#include "util/ipc.h"
#include "util/maildir.h"
#include "util/mbox.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"

#define VIRTUAL_LOCK_WAIT 10
#define VIRTUAL_TEXT_MAX  2048

typedef struct VIRTUAL_STATE {
	DICT_LIST  *mailbox_maps, *uid_maps, *gid_maps;
	const char *base, *delims;
	long long   limit, min_uid;
	bool	    strict_owner; /* strict_mailbox_ownership */
} VIRTUAL_STATE;

static DICT_LIST *
virtual_open(CFG *cfg, const char *name)
{
	const char *spec = cfg_get_str(cfg, name);
	DICT_LIST  *l;
	VSTR	   *why = vstr_alloc(64);

	if (*spec == 0)
		msg_fatal("%s is empty", name);
	if ((l = dict_list_open(spec, DICT_FLAG_FOLD, why)) == NULL)
		msg_fatal("%s: %s", name, VSTR_STR(why));
	vstr_free(why);
	return l;
}

static void
virtual_post_jail(struct skel_ctx *ctx)
{
	VIRTUAL_STATE *st = mycalloc(1, sizeof(*st));

	st->mailbox_maps = virtual_open(ctx->cfg, "virtual_mailbox_maps");
	st->uid_maps = virtual_open(ctx->cfg, "virtual_uid_maps");
	st->gid_maps = virtual_open(ctx->cfg, "virtual_gid_maps");
	st->base = cfg_get_str(ctx->cfg, "virtual_mailbox_base");
	st->delims = cfg_get_str(ctx->cfg, "recipient_delimiter");
	st->limit = cfg_get_size(ctx->cfg, "virtual_mailbox_limit");
	st->min_uid = cfg_get_int(ctx->cfg, "virtual_minimum_uid");
	st->strict_owner = cfg_get_bool(ctx->cfg, "strict_mailbox_ownership");
	ctx->app = st;
}

/*
 * Search l for addr, addr without its extension, then @domain.  1 with
 * a copy of the value in out, 0 not found, -1 table error.
 */
static int
virtual_lookup(VIRTUAL_STATE *st, DICT_LIST *l, const char *addr, VSTR *out)
{
	const char *at = strrchr(addr, '@');
	const char *val;
	VSTR	   *key = vstr_alloc(64);
	int	    rc;

	if ((rc = dict_list_lookup(l, addr, &val)) == 0 && at && *st->delims) {
		size_t i, llen = (size_t)(at - addr);

		for (i = 1; i < llen; i++)
			if (strchr(st->delims, addr[i]))
				break;
		if (i < llen) {
			vstr_memcpy(key, addr, i);
			vstr_strcat(key, at);
			rc = dict_list_lookup(l, VSTR_STR(key), &val);
		}
	}
	if (rc == 0 && at)
		rc = dict_list_lookup(l, at, &val);
	if (rc > 0)
		vstr_strcpy(out, val);
	vstr_free(key);
	return rc;
}

/* Is there a "Delivered-To: addr" header? */
static bool
virtual_looped(const VSTR *content, const char *addr)
{
	const char *p = VSTR_STR(content), *end = p + VSTR_LEN(content);
	size_t	    alen = strlen(addr);

	while (p < end && *p != '\n') {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *v = p + 13, *eol = nl ? nl : end;

		if (eol - p > 13 && strncasecmp(p, "Delivered-To:", 13) == 0) {
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			while (eol > v && (eol[-1] == ' ' || eol[-1] == '\t'))
				eol--;
			if ((size_t)(eol - v) == alen
			    && strncasecmp(v, addr, alen) == 0)
				return true;
		}
		p = nl ? nl + 1 : end;
	}
	return false;
}

/* In a child as uid/gid: write the message; the status comes back. */
static void
virtual_write(VIRTUAL_STATE *st, const char *qid, const char *path, uid_t uid,
	      gid_t gid, const char *sender, const char *rcpt,
	      const VSTR *content, struct deliver_status *s, VSTR *text)
{
	int	pfd[2], status;
	pid_t	pid;
	char	buf[VIRTUAL_TEXT_MAX + 32];
	ssize_t n;
	size_t	got = 0;
	bool	maildir = path[strlen(path) - 1] == '/';

	if (pipe2(pfd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		vstr_sprintf(text, "cannot start delivery: %s",
			     strerror(errno));
		deliver_status_set(s, DELIVER_DEFERRED, "4.3.0", VSTR_STR(text),
				   "virtual");
		return;
	}
	if (pid == 0) {
		VSTR	   *out = vstr_alloc(VSTR_LEN(content) + 256);
		VSTR	   *why = vstr_alloc(64);
		int	    rc;
		const char *dsn = "2.0.0";

		close(pfd[0]);
		if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0
		    || setuid(0) == 0) {
			vstr_sprintf(why, "cannot switch to uid %ld",
				     (long)uid);
			dsn = "4.3.0";
		} else {
			mbox_format(out, sender, rcpt, VSTR_STR(content),
				    VSTR_LEN(content),
				    maildir ? 0 : MBOX_FMT_MBOX);
			rc = maildir ? maildir_deliver(path, VSTR_STR(out),
						       VSTR_LEN(out), st->limit,
						       why)
				     : mbox_append(path, VSTR_STR(out),
						   VSTR_LEN(out), st->limit,
						   VIRTUAL_LOCK_WAIT,
						   st->strict_owner ? uid
								    : (uid_t)-1,
						   why);
			if (rc < 0 && !maildir && errno == EPERM
			    && st->strict_owner)
				msg_warn("%s: %s; specify \"strict_mailbox_"
					 "ownership = no\" to ignore mailbox "
					 "ownership mismatch",
					 qid, VSTR_STR(why));
			if (rc < 0)
				dsn = errno == EFBIG || errno == EDQUOT
					  ? "5.2.2"
				      : errno == EPERM ? "4.2.0"
				      : !maildir
					      && (errno == EACCES
						  || errno == EINVAL)
					  ? "5.2.0"
					  : "4.2.0";
			else
				vstr_sprintf(why, "delivered to %s",
					     maildir ? "maildir" : "mailbox");
		}
		vstr_sprintf(out, "%s %.*s", dsn, VIRTUAL_TEXT_MAX,
			     VSTR_STR(why));
		(void)write_full(pfd[1], VSTR_STR(out), VSTR_LEN(out), 10000);
		/* Freed so a leak checker sees the delivery child end clean. */
		vstr_free(out);
		vstr_free(why);
		_exit(0);
	}
	close(pfd[1]);
	while (got < sizeof(buf) - 1) {
		n = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf[got] = 0;
	if (got > 6 && buf[5] == ' ') {
		buf[5] = 0;
		if (deliver_dsn_valid(buf)) {
			vstr_strcpy(text, buf + 6);
			deliver_status_set(s,
					   buf[0] == '2'   ? DELIVER_SENT
					   : buf[0] == '5' ? DELIVER_BOUNCED
							   : DELIVER_DEFERRED,
					   buf, VSTR_STR(text), "virtual");
			return;
		}
	}
	vstr_strcpy(text, "delivery process failed");
	deliver_status_set(s, DELIVER_DEFERRED, "4.3.0", VSTR_STR(text),
			   "virtual");
}

static void
virtual_rcpt(VIRTUAL_STATE *st, const struct deliver_request *req,
	     const char *addr, const VSTR *content, struct deliver_status *s,
	     VSTR *text)
{
	VSTR	 *box = vstr_alloc(64), *uidv = vstr_alloc(16);
	VSTR	 *gidv = vstr_alloc(16), *path = vstr_alloc(64);
	long long uid, gid;
	char	 *end;
	int	  rc;

	if (virtual_looped(content, addr)) {
		vstr_sprintf(text, "mail forwarding loop for %s", addr);
		deliver_status_set(s, DELIVER_BOUNCED, "5.4.6", VSTR_STR(text),
				   "virtual");
		goto out;
	}
	if ((rc = virtual_lookup(st, st->mailbox_maps, addr, box)) <= 0) {
		vstr_sprintf(text,
			     rc < 0 ? "virtual_mailbox_maps unavailable"
				    : "unknown user: \"%s\"",
			     addr);
		deliver_status_set(s,
				   rc < 0 ? DELIVER_DEFERRED : DELIVER_BOUNCED,
				   rc < 0 ? "4.3.0" : "5.1.1", VSTR_STR(text),
				   "virtual");
		goto out;
	}
	if (virtual_lookup(st, st->uid_maps, addr, uidv) <= 0
	    || virtual_lookup(st, st->gid_maps, addr, gidv) <= 0
	    || (uid = strtoll(VSTR_STR(uidv), &end, 10), *end != 0)
	    || (gid = strtoll(VSTR_STR(gidv), &end, 10), *end != 0) || uid <= 0
	    || uid < st->min_uid || gid <= 0 || strstr(VSTR_STR(box), "..")
	    || VSTR_STR(box)[0] == '/' || VSTR_LEN(box) == 0) {
		vstr_sprintf(text,
			     "mail system configuration error: bad "
			     "uid, gid or mailbox for %s",
			     addr);
		deliver_status_set(s, DELIVER_DEFERRED, "4.3.5", VSTR_STR(text),
				   "virtual");
		goto out;
	}
	vstr_sprintf(path, "%s/%s", st->base, VSTR_STR(box));
	virtual_write(st, req->queue_id, VSTR_STR(path), (uid_t)uid, (gid_t)gid,
		      req->sender, addr, content, s, text);
out:
	vstr_free(box);
	vstr_free(uidv);
	vstr_free(gidv);
	vstr_free(path);
}

static void
virtual_deliver_rcpt(struct skel_ctx *ctx, const struct deliver_request *req,
		     size_t i, VSTR *content, struct deliver_status *sts,
		     VSTR *text)
{
	virtual_rcpt(ctx->app, req, req->rcpts[i].addr, content, sts, text);
}

static void
virtual_service(struct skel_ctx *ctx, int fd)
{
	deliver_serve(ctx, fd,
		      &(const struct deliver_serve_ops){
			  .relay = "virtual",
			  .content = true,
			  .rcpt = virtual_deliver_rcpt,
		      });
}

static void
virtual_pre_exit(struct skel_ctx *ctx)
{
	VIRTUAL_STATE *st = ctx->app;

	if (st) {
		dict_list_close(st->mailbox_maps);
		dict_list_close(st->uid_maps);
		dict_list_close(st->gid_maps);
		myfree(st);
		ctx->app = NULL;
	}
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .post_jail = virtual_post_jail,
				    .service = virtual_service,
				    .pre_exit = virtual_pre_exit,
				});
}
