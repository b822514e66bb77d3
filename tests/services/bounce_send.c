/*
 * bounce_send - drive the bounce, error and discard services from the
 * integration tests (util/bounce_client and util/deliver_proto from the
 * outside).
 *
 *   bounce_send -c CONFDIR [-o orig] [-P orcpt] [-N notify]
 *	[-r remote_mta] [-d diag_type]
 *	append SERVICE QUEUE_ID RCPT sent|deferred|bounced DSN REPLY
 *   bounce_send -c CONFDIR flush bounce|delay|trace QUEUE QUEUE_ID
 *   bounce_send -c CONFDIR deliver TRANSPORT QUEUE_ID NEXTHOP SENDER RCPT...
 *
 * append and flush print "ok" or "error: reason"; deliver prints one
 * line per recipient, "action dsn reply", or "error: reason".  Exit 0
 * when the request got an answer that says success, 1 otherwise.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/bounce_client.h"
#include "util/cfg.h"
#include "util/deliver_proto.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"

static int
do_deliver(const CFG *cfg, int argc, char **argv, VSTR *why)
{
	struct deliver_request req = { 0 };
	struct deliver_status *st = NULL;
	ATTR		      *out = attr_alloc(), *in = attr_alloc();
	VSTR		      *path = vstr_alloc(100);
	size_t		       i, n;
	int		       ret = 1;

	if (argc < 5)
		msg_fatal(
		    "usage: deliver TRANSPORT QID NEXTHOP SENDER RCPT...");
	n = (size_t)argc - 4;
	req.queue_name = "active";
	req.transport = argv[0];
	req.queue_id = argv[1];
	req.nexthop = argv[2];
	req.sender = argv[3];
	req.arrival_sec = (long long)time(NULL);
	req.qmgr_time = req.arrival_sec;
	req.rcpts = mycalloc(n, sizeof(*req.rcpts));
	req.nrcpt = n;
	for (i = 0; i < n; i++)
		req.rcpts[i].addr = argv[4 + i];
	if (deliver_request_encode(&req, out) < 0)
		msg_fatal("bad request");
	vstr_sprintf(path, "%s/private/%s", cfg_get_str(cfg, "queue_directory"),
		     argv[0]);
	st = mycalloc(n, sizeof(*st));
	if (ipc_call(VSTR_STR(path), out, in, 30000, why) < 0
	    || deliver_reply_decode(in, st, n, why) < 0) {
		printf("error: %s\n", VSTR_STR(why));
	} else {
		for (i = 0; i < n; i++)
			printf("%s %s %s\n", deliver_action_name(st[i].action),
			       st[i].dsn, st[i].reply ? st[i].reply : "");
		ret = 0;
	}
	myfree(st);
	myfree(req.rcpts);
	attr_free(out);
	attr_free(in);
	vstr_free(path);
	return ret;
}

int
main(int argc, char **argv)
{
	struct deliver_rcpt   rcpt = { 0 };
	struct deliver_status st = { 0 };
	const char *confdir = NULL, *cmd, *remote_mta = NULL, *diag = NULL;
	VSTR	   *why = vstr_alloc(100);
	enum deliver_action action;
	CFG		   *cfg;
	int		    ch, ret, kind;

	msg_set_progname("bounce_send");
	while ((ch = getopt(argc, argv, "c:o:P:N:r:d:")) > 0) {
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		case 'o':
			rcpt.orig = optarg;
			break;
		case 'P':
			rcpt.orcpt = optarg;
			break;
		case 'N':
			rcpt.notify = atoi(optarg);
			break;
		case 'r':
			remote_mta = optarg;
			break;
		case 'd':
			diag = optarg;
			break;
		default:
			msg_fatal("usage: bounce_send -c confdir command ...");
		}
	}
	if ((cfg = cfg_open(confdir, why)) == NULL)
		msg_fatal("%s", VSTR_STR(why));
	if (optind >= argc)
		msg_fatal("missing command");
	cmd = argv[optind++];
	if (strcmp(cmd, "deliver") == 0) {
		ret = do_deliver(cfg, argc - optind, argv + optind, why);
		cfg_free(cfg);
		vstr_free(why);
		return ret;
	}
	if (strcmp(cmd, "append") == 0) {
		if (argc - optind != 6
		    || deliver_action_parse(argv[optind + 3], &action) < 0)
			msg_fatal("usage: append SERVICE QID RCPT ACTION DSN "
				  "REPLY");
		rcpt.addr = argv[optind + 2];
		deliver_status_set(&st, action, argv[optind + 4],
				   argv[optind + 5], "none");
		st.remote_mta = remote_mta;
		st.diag_type = diag;
		ret = bounce_append(cfg, argv[optind], argv[optind + 1], &rcpt,
				    &st, why);
	} else if (strcmp(cmd, "flush") == 0) {
		if (argc - optind != 3)
			msg_fatal("usage: flush KIND QUEUE QID");
		kind = strcmp(argv[optind], "delay") == 0 ? BOUNCE_FLUSH_DELAY
		       : strcmp(argv[optind], "trace") == 0
			   ? BOUNCE_FLUSH_TRACE
			   : BOUNCE_FLUSH_BOUNCE;
		ret = bounce_flush(cfg, kind, argv[optind + 1],
				   argv[optind + 2], why);
	} else {
		msg_fatal("unknown command %s", cmd);
	}
	if (ret < 0)
		printf("error: %s\n", VSTR_STR(why));
	else
		printf("ok\n");
	cfg_free(cfg);
	vstr_free(why);
	return ret < 0 ? 1 : 0;
}
