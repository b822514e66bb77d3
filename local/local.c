/*
 * local - the local delivery agent (local(8)): aliases, .forward,
 * mailboxes (mbox and Maildir), files and commands for the recipients
 * of mydestination.
 *
 * qmgr connects to private/local and sends delivery requests
 * (util/deliver_proto.h); each gets one reply with a status per
 * recipient.  local runs as root (master.cf unpriv=n, no chroot) and does
 * every delivery in a child that has become the recipient (local_priv.c);
 * local_expand.c decides what a recipient means.
 *
 * Errors: a request that does not parse gets a whole-request failure; a
 * queue file that cannot be read defers every recipient.  Configuration
 * errors (a bad alias_maps) are fatal at start.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "local/local.h"
#include "util/deliver_serve.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"

/* "alias, forward, include" -> LOCAL_FROM_* bits. */
static int
local_classes(const char *text)
{
	int bits = 0;

	if (strstr(text, "alias"))
		bits |= LOCAL_FROM_ALIAS;
	if (strstr(text, "forward"))
		bits |= LOCAL_FROM_FORWARD;
	if (strstr(text, "include"))
		bits |= LOCAL_FROM_INCLUDE;
	return bits;
}

static void
local_post_jail(struct skel_ctx *ctx)
{
	LOCAL_STATE *st = mycalloc(1, sizeof(*st));
	VSTR	    *why = vstr_alloc(64);
	const char  *maps;

	st->cfg = ctx->cfg;
	st->service = ctx->service;
	st->myhostname = cfg_get_str(ctx->cfg, "myhostname");
	st->myorigin = cfg_get_str(ctx->cfg, "myorigin");
	st->delims = cfg_get_str(ctx->cfg, "recipient_delimiter");
	st->home_mailbox = cfg_get_str(ctx->cfg, "home_mailbox");
	st->spool_dir = cfg_get_str(ctx->cfg, "mail_spool_directory");
	/*
	 * As in Postfix, mailbox_command is not subject to $name expansion:
	 * "$SENDER" and "$RECIPIENT" are for the shell, from the environment.
	 */
	st->mailbox_command = cfg_get_text(ctx->cfg, "mailbox_command");
	st->forward_path = cfg_get_text(ctx->cfg, "forward_path");
	st->luser_relay = cfg_get_text(ctx->cfg, "luser_relay");
	st->default_privs = cfg_get_str(ctx->cfg, "default_privs");
	st->allow_commands = local_classes(
	    cfg_get_str(ctx->cfg, "allow_mail_to_commands"));
	st->allow_files = local_classes(
	    cfg_get_str(ctx->cfg, "allow_mail_to_files"));
	st->size_limit = cfg_get_size(ctx->cfg, "mailbox_size_limit");
	st->time_limit = cfg_get_time(ctx->cfg, "command_time_limit");
	st->strict_owner = cfg_get_bool(ctx->cfg, "strict_mailbox_ownership");
	st->file_limit = cfg_get_size(ctx->cfg, "forward_file_size_limit");
	st->fwd_filter = cfg_get_str(ctx->cfg, "forward_expansion_filter");
	st->cmd_filter = cfg_get_str(ctx->cfg, "command_expansion_filter");
	st->export_env = cfg_get_str(ctx->cfg, "export_environment");
	st->mailbox_transport = cfg_get_str(ctx->cfg, "mailbox_transport");
	st->fallback_transport = cfg_get_str(ctx->cfg, "fallback_transport");
	st->expand_owner = cfg_get_bool(ctx->cfg, "expand_owner_alias");
	st->owner_request = cfg_get_bool(ctx->cfg, "owner_request_special");
	st->propagate = local_classes(
	    cfg_get_str(ctx->cfg, "propagate_unmatched_extensions"));
	if (st->time_limit <= 0)
		st->time_limit = 1000;
	maps = cfg_get_str(ctx->cfg, "alias_maps");
	if (*maps
	    && (st->aliases = dict_list_open(maps, DICT_FLAG_FOLD, why))
		   == NULL)
		msg_fatal("alias_maps: %s", VSTR_STR(why));
	st->mydestination = cfg_get_str(ctx->cfg, "mydestination");
	st->srs = srs_open(ctx->cfg);
	if (geteuid() != 0)
		msg_warn("not running as root: deliveries to other users "
			 "will be deferred");
	vstr_free(why);
	ctx->app = st;
}

/* One recipient; local_recipient() does the work as the right user. */
static void
local_rcpt(struct skel_ctx *ctx, const struct deliver_request *req, size_t i,
	   VSTR *content, struct deliver_status *sts, VSTR *text)
{
	struct local_msg m = {
		.req = req,
		.content = content,
		.sender = req->sender,
	};
	struct local_result res;

	local_result_init(&res);
	local_recipient(ctx->app, &m, &req->rcpts[i], &res);
	vstr_memcpy(text, VSTR_STR(res.text), VSTR_LEN(res.text));
	deliver_status_set(sts, res.action, res.dsn, VSTR_STR(text), "local");
	local_result_free(&res);
}

static void
local_service(struct skel_ctx *ctx, int fd)
{
	deliver_serve(ctx, fd,
		      &(const struct deliver_serve_ops){
			  .relay = "local",
			  .content = true,
			  .rcpt = local_rcpt,
		      });
}

static void
local_pre_exit(struct skel_ctx *ctx)
{
	LOCAL_STATE *st = ctx->app;

	if (st) {
		dict_list_close(st->aliases);
		st->srs = srs_free(st->srs);
		myfree(st);
		ctx->app = NULL;
	}
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .post_jail = local_post_jail,
				    .service = local_service,
				    .pre_exit = local_pre_exit,
				});
}
