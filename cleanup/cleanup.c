/*
 * cleanup - turn an envelope and a content stream into a queue file.
 *
 * One client at a time (smtpd, pickup): an envelope frame, content
 * frames, an end frame; cleanup writes the queue file as the content
 * arrives, commits it durably (docs/QUEUE.md), answers one reply frame
 * and wakes qmgr.  The protocol and every rewriting step are described in
 * docs/CLEANUP.md; the other files of this folder do the work.
 *
 * Errors: a failed message gets a 4xx/5xx reply and leaves no file; a
 * client that goes away or sends a malformed frame gets its temporary
 * file removed and no reply.  Nothing here is fatal after start-up.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup/cleanup.h"
#include "util/ipc.h"
#include "util/metrics.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"

#define CLEANUP_STALE_AGE 3600 /* seconds: a temporary is stale */

/* After the end frame: commit (or drop) and set the final reply. */
static void
cleanup_finish_message(CLEANUP_STATE *st)
{
	cleanup_content_end(st);
	cleanup_milter_run(st);
	cleanup_authres_finish(st);
	cleanup_dkim_sign_end(st);
	if (st->status == CLEANUP_OK && st->discard) {
		msg_info("%s: discarded", VSTR_STR(st->qid));
		cleanup_queue_remove(st);
		st->status = CLEANUP_DISCARDED;
		vstr_sprintf(st->reply, "250 2.0.0 Ok: queued as %s",
			     VSTR_STR(st->qid));
		return;
	}
	if (st->status != CLEANUP_OK) {
		cleanup_queue_remove(st);
		return;
	}
	cleanup_queue_extracted(st);
	if (cleanup_queue_commit(st) < 0)
		return;
	metrics_received(st->origin && strcmp(st->origin, "smtpd") == 0
			     ? "smtp"
			     : "local",
			 st->size);
	vstr_sprintf(st->reply, "250 2.0.0 Ok: queued as %s",
		     VSTR_STR(st->qid));
	if (st->hold)
		msg_info("%s: held in hold/", VSTR_STR(st->qid));
}

static void
cleanup_reply(IPC_STREAM *ipc, const CLEANUP_STATE *st, int timeout_ms)
{
	ATTR *a = attr_alloc();

	attr_put_int(a, "status", st->status);
	attr_put_str(a, "queue_id", VSTR_STR(st->qid));
	attr_put_str(a, "reply", VSTR_STR(st->reply));
	if (ipc_stream_send(ipc, a, timeout_ms) < 0)
		msg_warn("%s: send reply: %m",
			 VSTR_LEN(st->qid) ? VSTR_STR(st->qid) : "cleanup");
	attr_free(a);
}

static void
cleanup_wake_qmgr(const CLEANUP_CONF *conf)
{
	char path[256];

	snprintf(path, sizeof(path), "public/%s", conf->qmgr_service);
	/*
	 * Never wait: when qmgr's backlog is full it has wake-ups pending
	 * already and will find this file too; waiting here only keeps this
	 * process busy and makes master fork more.
	 */
	if (ipc_trigger(path, IPC_TRIGGER_SCAN_INCOMING, 0) < 0 && msg_verbose)
		msg_info("trigger %s: %m", path);
}

/* One message: a reply is sent only after a complete request. */
static void
cleanup_service(struct skel_ctx *ctx, int fd)
{
	const CLEANUP_CONF *conf = ctx->app;
	long long	    secs = cfg_get_time(ctx->cfg, "ipc_timeout");
	int timeout_ms = secs > 0 && secs < 86400 ? (int)secs * 1000 : 3600000;
	IPC_STREAM	  *ipc;
	CLEANUP_STATE	  *st;
	ATTR		  *frame;
	VSTR		  *why;
	const char	  *req, *data;
	size_t		   len;
	bool		   done = false, committed;
	struct cleanup_eol eol;

	/* The skeleton closes fd itself: the stream gets a copy. */
	if ((fd = dup(fd)) < 0) {
		msg_warn("cleanup: dup: %m");
		return;
	}
	ipc = ipc_stream_open(fd);
	cleanup_eol_init(&eol);
	st = cleanup_state_alloc(conf);
	frame = attr_alloc();
	why = vstr_alloc(64);
	/* The client waits for this briefly: nobody serving means 451 now. */
	attr_put_str(frame, "ready", "cleanup");
	if (ipc_stream_send(ipc, frame, timeout_ms) < 0) {
		msg_warn("cleanup: send ready: %m");
		goto out;
	}
	attr_reset(frame);
	if (ipc_stream_recv(ipc, frame, timeout_ms, why) < 0) {
		if (errno != 0)
			msg_warn("cleanup: envelope: %s", VSTR_STR(why));
		goto out;
	}
	if (cleanup_queue_create(st) == 0)
		cleanup_header_begin(st);
	if (cleanup_envelope(st, frame) < 0) {
		msg_warn("%s: malformed envelope frame",
			 VSTR_LEN(st->qid) ? VSTR_STR(st->qid) : "cleanup");
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: malformed request");
	}
	/* smtpd's milters: their sockets come right after the envelope */
	if (cleanup_milter_receive(st, ipc, timeout_ms) < 0)
		goto out_no_frame;
	frame = attr_alloc();
	while (!done) {
		if (ipc_stream_recv(ipc, frame, timeout_ms, why) < 0) {
			msg_warn("%s: lost connection with client: %s",
				 VSTR_LEN(st->qid) ? VSTR_STR(st->qid)
						   : "cleanup",
				 VSTR_LEN(why) ? VSTR_STR(why) : "");
			goto out;
		}
		req = attr_get_str(frame, "request");
		if (req && strcmp(req, "data") == 0
		    && (data = attr_get_data(frame, "data", &len)) != NULL) {
			cleanup_eol_content(st, &eol, data, len);
		} else if (req && strcmp(req, "end") == 0) {
			long long flags = 0;

			cleanup_eol_end(st, &eol);
			/* smtpd_end_of_data_restrictions: HOLD or DISCARD. */
			(void)attr_get_int(frame, "flags", &flags);
			if (flags & CLEANUP_FLAG_HOLD)
				st->hold = true;
			if (flags & CLEANUP_FLAG_DISCARD)
				st->discard = true;
			done = true;
		} else if (req && strcmp(req, "abort") == 0) {
			if (msg_verbose)
				msg_info("%s: aborted by client",
					 VSTR_STR(st->qid));
			goto out;
		} else {
			msg_warn("%s: malformed request from client",
				 VSTR_STR(st->qid));
			goto out;
		}
	}
	cleanup_finish_message(st);
	committed = st->status == CLEANUP_OK;
	cleanup_reply(ipc, st, timeout_ms);
	if (committed)
		cleanup_wake_qmgr(conf);
out:
	attr_free(frame);
out_no_frame:
	cleanup_eol_free(&eol);
	cleanup_state_free(st);
	vstr_free(why);
	/* The stream owns a dup; the skeleton closes the original fd. */
	ipc_stream_close(ipc);
}

static void
cleanup_pre_jail(struct skel_ctx *ctx)
{
	ctx->app = cleanup_conf_load(ctx->cfg);
}

static void
cleanup_post_jail(struct skel_ctx *ctx)
{
	cleanup_dkim_sign_jail(ctx->app, ctx->chrooted);
	/* The skeleton has put us in the queue folder. */
	cleanup_queue_sweep("incoming", CLEANUP_STALE_AGE);
}

static void
cleanup_pre_exit(struct skel_ctx *ctx)
{
	ctx->app = cleanup_conf_free(ctx->app);
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .pre_jail = cleanup_pre_jail,
				    .post_jail = cleanup_post_jail,
				    .service = cleanup_service,
				    .pre_exit = cleanup_pre_exit,
				});
}
