/*
 * bounce - the bounce, defer and trace services.
 *
 * One process serves one client at a time; a client (qmgr) may send any
 * number of requests on one connection, each answered with one frame
 * {status=0} or {status=-1, reason=...}.  The service name from master.cf
 * only matters to clients: every request names the log it is about.
 *
 * Errors: a malformed request is answered with status=-1 and logged;
 * configuration problems are fatal at start.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounce/bounce.h"
#include "util/attr.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"

BOUNCE_CONF *
bounce_conf_load(const CFG *cfg)
{
	BOUNCE_CONF *conf = mycalloc(1, sizeof(*conf));
	const char  *dbs = cfg_get_str(cfg, "double_bounce_sender");
	const char  *tmpl = cfg_get_str(cfg, "bounce_template_file");
	long long    limit = cfg_get_int(cfg, "bounce_size_limit");

	conf->cfg = cfg;
	conf->myhostname = cfg_get_str(cfg, "myhostname");
	conf->mail_name = cfg_get_str(cfg, "mail_name");
	if (strchr(dbs, '@') != NULL) {
		conf->double_bounce_sender = mystrdup(dbs);
	} else {
		size_t len = strlen(dbs) + strlen(cfg_get_str(cfg, "myorigin"))
			     + 2;

		conf->double_bounce_sender = mymalloc(len);
		snprintf(conf->double_bounce_sender, len, "%s@%s", dbs,
			 cfg_get_str(cfg, "myorigin"));
	}
	conf->bounce_notice_recipient = cfg_get_str(cfg,
						    "bounce_notice_recipient");
	conf->twobounce_notice_recipient =
	    cfg_get_str(cfg, "2bounce_notice_recipient");
	conf->delay_notice_recipient = cfg_get_str(cfg,
						   "delay_notice_recipient");
	conf->notify_classes = cfg_get_str(cfg, "notify_classes");
	conf->size_limit = limit > 0 ? (size_t)limit : 50000;
	conf->max_lifetime = cfg_get_time(cfg, "maximal_queue_lifetime");
	if (*tmpl != 0)
		msg_warn("bounce_template_file is not supported; "
			 "using the built-in texts");
	return conf;
}

BOUNCE_CONF *
bounce_conf_free(BOUNCE_CONF *conf)
{
	if (conf != NULL) {
		myfree(conf->double_bounce_sender);
		myfree(conf);
	}
	return NULL;
}

/* One request: {status=0} or {status=-1, reason=...}. */
static void
bounce_request(struct skel_ctx *ctx, const void *arg, const ATTR *req,
	       ATTR *reply)
{
	const BOUNCE_CONF *conf = ctx->app;
	const char	  *what = attr_get_str(req, "request");
	VSTR		  *why = vstr_alloc(128);
	int		   ret;

	(void)arg;
	if (what != NULL && strcmp(what, "append") == 0) {
		ret = bounce_do_append(conf, req, why);
	} else if (what != NULL && strcmp(what, "flush") == 0) {
		ret = bounce_do_flush(conf, req, why);
	} else {
		vstr_strcpy(why, "unknown request");
		ret = -1;
	}
	if (ret < 0)
		msg_warn("%s request: %s", what ? what : "bad", VSTR_STR(why));
	attr_put_int(reply, "status", ret < 0 ? -1 : 0);
	if (ret < 0)
		attr_put_str(reply, "reason", VSTR_STR(why));
	vstr_free(why);
}

static void
bounce_service(struct skel_ctx *ctx, int fd)
{
	skel_serve_frames(ctx, fd, bounce_request, NULL);
}

static void
bounce_pre_jail(struct skel_ctx *ctx)
{
	ctx->app = bounce_conf_load(ctx->cfg);
}

static void
bounce_pre_exit(struct skel_ctx *ctx)
{
	ctx->app = bounce_conf_free(ctx->app);
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .pre_jail = bounce_pre_jail,
				    .service = bounce_service,
				    .pre_exit = bounce_pre_exit,
				});
}
