/*
 * pickup - move local submissions from maildrop/ into the queue.
 *
 * A trigger server (util/skel.h): master wakes it every `wakeup` seconds
 * and postdrop wakes it through public/pickup after each new file.  On
 * every wake-up it lists maildrop/, takes the names that are queue IDs
 * (others are postdrop's temporary files) in arrival order, and for each:
 *
 *   1. opens it with safe_open_read (no symlink, regular file), checks it
 *      has exactly one link and a well-formed record stream
 *      (rec_check_file) with a maildrop envelope (util/maildrop.h);
 *   2. checks that the file's owner is the uid recorded inside it;
 *   3. hands envelope and content to cleanup (origin "pickup", the
 *      submitter's uid, local header rewriting) and, only after cleanup
 *      said the queue file is committed, removes the maildrop file.
 *
 * A file that fails 1 or 2 is moved to corrupt/ and logged, never queued.
 * A message cleanup rejects for good (size, hop count, content checks) is
 * returned to its sender as a non-delivery notification (util/dsn), since
 * sendmail already reported success; only if that cannot be queued does
 * the file go to corrupt/.  When cleanup answers 4xx the file
 * stays for the next wake-up, and the reason goes to the defer log under
 * the file's name, where postelqueue -p reads the reasons of waiting mail
 * (written again only when the reason changes, removed with the file);
 * when cleanup cannot be reached at all the scan stops there.
 *
 * Logs (Postfix's format): "QUEUEID: uid=1000 from=<user>" per message;
 * warnings start with "uid=N from=<x>:" or the maildrop file name.
 *
 * SPDX-License-Identifier: ISC
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/bounce_client.h"
#include "util/cfg.h"
#include "util/cleanup_client.h"
#include "util/deliver_proto.h"
#include "util/dsn.h"
#include "util/maildrop.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/qid.h"
#include "util/rec.h"
#include "util/receive_override.h"
#include "util/safe_file.h"
#include "util/skel.h"
#include "util/vstr.h"

enum pickup_result {
	PICKUP_DONE,  /* queued, discarded or set aside */
	PICKUP_KEPT,  /* cleanup said 4xx: try it later */
	PICKUP_RETRY, /* left in place; stop scanning */
};

/* Move a file that must never be queued out of the way, for the admin. */
static void
pickup_set_aside(const char *name)
{
	VSTR *from = vstr_alloc(64);
	VSTR *to = vstr_alloc(64);

	vstr_sprintf(from, "maildrop/%s", name);
	vstr_sprintf(to, "corrupt/%s", name);
	if (rename_durable(VSTR_STR(from), VSTR_STR(to)) < 0
	    && access(VSTR_STR(from), F_OK) == 0)
		msg_warn("%s: cannot move to corrupt/: %m", VSTR_STR(from));
	vstr_free(from);
	vstr_free(to);
}

/* Feed the content records of r to cleanup; -1 on a read error. */
static int
pickup_copy(REC_READER *r, CLEANUP_CLIENT *cc, VSTR *data)
{
	int type;
	int ret;

	while ((ret = rec_get(r, &type, data, REC_LEN_MAX)) > 0
	       && type == REC_TYPE_CONT)
		if (cleanup_write(cc, VSTR_STR(data), VSTR_LEN(data)) < 0)
			return 0; /* cleanup_finish says why */
	return ret < 0 ? -1 : 0;
}

/* The file is gone from maildrop: so is the delay reason noted for it. */
static int
pickup_unlink(const char *name)
{
	VSTR *path = vstr_alloc(64);
	int   ret;

	vstr_sprintf(path, "maildrop/%s", name);
	ret = unlink(VSTR_STR(path));
	if (ret == 0 && bounce_log_path(path, BOUNCE_SERVICE_DEFER, name) == 0
	    && unlink(VSTR_STR(path)) < 0 && errno != ENOENT)
		msg_warn("maildrop/%s: remove %s: %m", name, VSTR_STR(path));
	vstr_free(path);
	return ret;
}

struct pickup_last {
	const char *want; /* the reply cleanup gave now */
	bool	    same; /* the log's latest line says the same */
};

static void
pickup_last_reason(void *ctx, const char *rcpt, const char *dsn,
		   const char *reason)
{
	struct pickup_last *last = ctx;

	(void)rcpt;
	(void)dsn;
	last->same = reason != NULL && strcmp(reason, last->want) == 0;
}

/*
 * Note why cleanup keeps refusing a maildrop file (its 4xx reply) in the
 * defer log under the file's name, one entry per envelope recipient, so
 * postelqueue -p shows the reason next to the waiting message as it does
 * for deferred mail.  Written only when the reason is new, so a file
 * retried every minute does not grow its log.
 */
static void
pickup_note_delay(struct skel_ctx *ctx, const char *name,
		  const MAILDROP_ENV *env, const char *reply)
{
	struct pickup_last    last = { reply, false };
	struct deliver_status st;
	VSTR		     *path = vstr_alloc(64), *why = vstr_alloc(64);
	char		      dsn[DELIVER_DSN_MAX] = "4.0.0";
	const char	     *sp = strchr(reply, ' ');

	if (env->nrcpt == 0
	    || bounce_log_path(path, BOUNCE_SERVICE_DEFER, name) < 0)
		goto out;
	if (bounce_log_read(VSTR_STR(path), pickup_last_reason, &last, why) == 0
	    && last.same)
		goto out;
	if (sp && sp[1] == '4') {
		snprintf(dsn, sizeof(dsn), "%.*s", (int)strcspn(sp + 1, " "),
			 sp + 1);
		if (!deliver_dsn_valid(dsn))
			snprintf(dsn, sizeof(dsn), "4.0.0");
	}
	deliver_status_set(&st, DELIVER_DEFERRED, dsn, reply, "none");
	for (size_t i = 0; i < env->nrcpt; i++) {
		/* a note for postelqueue only: no DSN is made from it */
		struct deliver_rcpt r = { .addr = env->rcpt[i] };

		if (bounce_append(ctx->cfg, BOUNCE_SERVICE_DEFER, name, &r, &st,
				  why)
		    < 0) {
			msg_warn("maildrop/%s: cannot record the delay "
				 "reason: %s",
				 name, VSTR_STR(why));
			break;
		}
	}
out:
	vstr_free(path);
	vstr_free(why);
}

/*
 * cleanup refused a local submission for good (size, hop count, content
 * checks): sendmail already said yes, so the sender gets a non-delivery
 * notification, queued like any bounce (null sender).  0 when it is
 * queued (or the sender is <> and nobody is told), -1 otherwise.
 */
static int
pickup_bounce(struct skel_ctx *ctx, const char *name, const MAILDROP_ENV *env,
	      const char *reply)
{
	struct dsn_rcpt	     *drcpts;
	struct dsn_request    dreq = { 0 };
	struct cleanup_rcpt   to = { 0 };
	struct cleanup_req    req = { 0 };
	struct cleanup_result res;
	CLEANUP_CLIENT	     *cc;
	VSTR		     *text = vstr_alloc(4096);
	VSTR		     *why = vstr_alloc(100);
	char		      status[16] = "5.0.0";
	char		      boundary[128];
	const char	     *sp;
	int		      ret = -1;

	if (VSTR_LEN(env->sender) == 0) {
		msg_info("maildrop/%s: from=<>: %s: not returned to the null "
			 "sender",
			 name, reply);
		ret = 0;
		goto out;
	}
	/* "550 5.7.1 text": the enhanced code when there is one. */
	if ((sp = strchr(reply, ' ')) != NULL && sp[1] == '5' && sp[2] == '.')
		snprintf(status, sizeof(status), "%.*s",
			 (int)strcspn(sp + 1, " "), sp + 1);
	drcpts = mycalloc(env->nrcpt ? env->nrcpt : 1, sizeof(*drcpts));
	for (size_t i = 0; i < env->nrcpt; i++) {
		drcpts[i].addr = env->rcpt[i];
		drcpts[i].action = "failed";
		drcpts[i].status = status;
		drcpts[i].reply = reply;
	}
	snprintf(boundary, sizeof(boundary), "%s.%lld/%s", name,
		 (long long)time(NULL), cfg_get_str(ctx->cfg, "myhostname"));
	dreq.kind = DSN_KIND_FAILED;
	dreq.myhostname = cfg_get_str(ctx->cfg, "myhostname");
	dreq.mail_name = cfg_get_str(ctx->cfg, "mail_name");
	dreq.queue_id = name;
	dreq.sender = VSTR_STR(env->sender);
	dreq.to = VSTR_STR(env->sender);
	dreq.boundary = boundary;
	dreq.arrival = env->arrival_sec;
	dreq.now = time(NULL);
	dreq.ret = env->ret;
	dreq.size_limit = (size_t)cfg_get_int(ctx->cfg, "bounce_size_limit");
	dreq.rcpts = drcpts;
	dreq.nrcpt = env->nrcpt;
	dsn_build(text, &dreq);
	myfree(drcpts);

	to.addr = VSTR_STR(env->sender);
	req.flags = CLEANUP_FLAG_SIGN; /* our own notification */
	req.origin = "pickup";
	req.sender = "";
	req.rcpts = &to;
	req.nrcpt = 1;
	if ((cc = cleanup_begin(ctx->cfg, &req, why)) == NULL) {
		msg_warn("maildrop/%s: cleanup service: %s", name,
			 VSTR_STR(why));
		goto out;
	}
	if (cleanup_write(cc, VSTR_STR(text), VSTR_LEN(text)) < 0) {
		cleanup_abort(cc);
		goto out;
	}
	(void)cleanup_finish(cc, &res);
	if (res.status == CLEANUP_OK) {
		msg_info("%s: sender non-delivery notification for maildrop/%s "
			 "(uid=%lld from=<%s>): %s",
			 res.queue_id, name, env->uid, VSTR_STR(env->sender),
			 reply);
		ret = 0;
	} else
		msg_warn("maildrop/%s: non-delivery notification: %s", name,
			 res.reply);
out:
	vstr_free(text);
	vstr_free(why);
	return ret;
}

/* r is positioned after the M record (maildrop_get_envelope). */
static enum pickup_result
pickup_deliver(struct skel_ctx *ctx, const char *name, REC_READER *r,
	       MAILDROP_ENV *env)
{
	struct cleanup_rcpt  *rcpts;
	struct cleanup_req    req = { 0 };
	struct cleanup_result res;
	CLEANUP_CLIENT	     *cc;
	VSTR		     *data = vstr_alloc(REC_CONT_CHUNK);
	VSTR		     *why = vstr_alloc(100);
	char		      uid[32];
	enum pickup_result    ret = PICKUP_DONE;
	const char	     *filter;
	static int	      override_bits = -1; /* parsed once */

	snprintf(uid, sizeof(uid), "%lld", env->uid);
	rcpts = mycalloc(env->nrcpt ? env->nrcpt : 1, sizeof(*rcpts));
	for (size_t i = 0; i < env->nrcpt; i++) {
		rcpts[i].addr = env->rcpt[i];
		rcpts[i].notify = env->notify[i];
	}
	/*
	 * Local submission is outbound mail: signed, never verified; it
	 * goes through non_smtpd_milters (not pickup's own notices).
	 */
	req.flags = CLEANUP_FLAG_SIGN | CLEANUP_FLAG_MILTER
		    | (env->extract ? CLEANUP_FLAG_EXTRACT : 0);
	req.origin = "pickup";
	req.sender = VSTR_STR(env->sender);
	req.envid = env->envid_given ? VSTR_STR(env->envid) : NULL;
	req.ret = env->ret;
	req.local_uid = uid;
	req.fullname = VSTR_LEN(env->fullname) ? VSTR_STR(env->fullname) : NULL;
	req.rewrite_local = true;
	/* content_filter and receive_override_options, as in Postfix. */
	filter = cfg_get_str(ctx->cfg, "content_filter");
	req.filter = filter && *filter ? filter : NULL;
	if (override_bits < 0)
		override_bits = receive_override_bits(ctx->cfg);
	req.receive_override = override_bits & RECEIVE_CLEANUP_BITS;
	req.rcpts = rcpts;
	req.nrcpt = env->nrcpt;

	if ((cc = cleanup_begin(ctx->cfg, &req, why)) == NULL) {
		msg_warn("maildrop/%s: cleanup service: %s; will retry", name,
			 VSTR_STR(why));
		ret = PICKUP_RETRY;
		goto out;
	}
	if (pickup_copy(r, cc, data) < 0) {
		msg_warn("maildrop/%s: read: %m; will retry", name);
		cleanup_abort(cc);
		ret = PICKUP_RETRY;
		goto out;
	}
	(void)cleanup_finish(cc, &res);
	switch (res.status) {
	case CLEANUP_OK:
		msg_info("%s: uid=%s from=<%s>", res.queue_id, uid,
			 VSTR_STR(env->sender));
		/* The queue file is durable: now the copy may go. */
		if (pickup_unlink(name) < 0)
			msg_warn("maildrop/%s: remove: %m", name);
		break;
	case CLEANUP_DISCARDED:
		msg_info("%s: uid=%s from=<%s>: discarded", res.queue_id, uid,
			 VSTR_STR(env->sender));
		if (pickup_unlink(name) < 0)
			msg_warn("maildrop/%s: remove: %m", name);
		break;
	case CLEANUP_REJECT:
		msg_warn("uid=%s from=<%s>: maildrop/%s rejected: %s", uid,
			 VSTR_STR(env->sender), name, res.reply);
		if (pickup_bounce(ctx, name, env, res.reply) == 0) {
			if (pickup_unlink(name) < 0)
				msg_warn("maildrop/%s: remove: %m", name);
		} else {
			msg_warn("maildrop/%s: moved to corrupt/", name);
			pickup_set_aside(name);
		}
		break;
	case CLEANUP_TEMPFAIL:
	default:
		/* One file cleanup cannot take must not block the others. */
		msg_warn("uid=%s from=<%s>: maildrop/%s: %s; will retry", uid,
			 VSTR_STR(env->sender), name, res.reply);
		pickup_note_delay(ctx, name, env, res.reply);
		ret = PICKUP_KEPT;
		break;
	}
out:
	myfree(rcpts);
	vstr_free(why);
	vstr_free(data);
	return ret;
}

/* One maildrop file: check it, then queue it or set it aside. */
static enum pickup_result
pickup_file(struct skel_ctx *ctx, const char *name)
{
	MAILDROP_ENV	  *env;
	REC_READER	  *r;
	VSTR		  *path = vstr_alloc(64);
	VSTR		  *why = vstr_alloc(100);
	struct stat	   st;
	enum pickup_result ret = PICKUP_DONE;
	int		   fd;

	vstr_sprintf(path, "maildrop/%s", name);
	if ((fd = safe_open_read(VSTR_STR(path))) < 0) {
		if (errno == ELOOP || errno == EINVAL) {
			msg_warn("%s: not a regular file; moved to corrupt/",
				 VSTR_STR(path));
			pickup_set_aside(name);
		} else if (errno != ENOENT) {
			msg_warn("%s: open: %m", VSTR_STR(path));
		}
		vstr_free(why);
		vstr_free(path);
		return PICKUP_DONE;
	}
	env = maildrop_env_alloc();
	r = rec_reader_create(fd, 0);
	if (fstat(fd, &st) < 0) {
		msg_warn("%s: fstat: %m", VSTR_STR(path));
	} else if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		msg_warn("uid=%ld: %s: file has %ld links; moved to corrupt/",
			 (long)st.st_uid, VSTR_STR(path), (long)st.st_nlink);
		pickup_set_aside(name);
	} else if (rec_check_file(fd, why) < 0
		   || maildrop_get_envelope(r, env, why) < 0) {
		if (errno == EBADMSG) {
			msg_warn("uid=%ld: %s: malformed maildrop file: %s; "
				 "moved to corrupt/",
				 (long)st.st_uid, VSTR_STR(path),
				 VSTR_STR(why));
			pickup_set_aside(name);
		} else {
			msg_warn("%s: read: %s", VSTR_STR(path), VSTR_STR(why));
		}
	} else if ((long long)st.st_uid != env->uid) {
		msg_warn("uid=%lld from=<%s>: %s: wrong owner (file uid=%ld); "
			 "moved to corrupt/",
			 env->uid, VSTR_STR(env->sender), VSTR_STR(path),
			 (long)st.st_uid);
		pickup_set_aside(name);
	} else {
		ret = pickup_deliver(ctx, name, r, env);
	}
	rec_reader_free(r);
	maildrop_env_free(env);
	close(fd);
	vstr_free(why);
	vstr_free(path);
	return ret;
}

static int
pickup_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything in maildrop/ now, oldest first (queue IDs sort by time). */
static void
pickup_scan(struct skel_ctx *ctx)
{
	DIR	      *dir;
	struct dirent *de;
	char	     **names = NULL;
	size_t	       count = 0;
	size_t	       cap = 0;

	if ((dir = opendir("maildrop")) == NULL) {
		msg_warn("open folder maildrop: %m");
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (!qid_valid(de->d_name))
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			names = myrealloc_array(names, cap, sizeof(*names));
		}
		names[count++] = mystrdup(de->d_name);
	}
	closedir(dir);
	if (count > 1)
		qsort(names, count, sizeof(*names), pickup_name_cmp);
	for (size_t i = 0; i < count; i++) {
		if (pickup_file(ctx, names[i]) == PICKUP_RETRY) {
			for (; i < count; i++)
				myfree(names[i]);
			break;
		}
		myfree(names[i]);
	}
	myfree(names);
}

static void
pickup_trigger(struct skel_ctx *ctx, const char *buf, size_t len)
{
	/* Every request means "look": 'W' from master and postdrop. */
	(void)buf;
	(void)len;
	pickup_scan(ctx);
}

int
main(int argc, char **argv)
{
	return skel_trigger_main(argc, argv,
				 &(const struct skel_ops){
				     .trigger = pickup_trigger,
				     .unlimited = true,
				 });
}
