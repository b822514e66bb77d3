/*
 * cleanup_send - hand one message to a running cleanup service, for the
 * integration tests (util/cleanup_client from the outside).
 *
 *   cleanup_send -c CONFDIR [-f sender] [-F flags] [-C name -A addr]
 *	[-H helo] [-P proto] [-u uid] [-l] [-N notify] [-O orcpt]
 *	[-p bytes -s secs] rcpt... < message
 *
 * The message on standard input is sent as is (the test supplies CRLF
 * lines).  -p/-s pause for secs seconds after the first bytes, so a test
 * can kill cleanup in the middle of the content.  Prints one line,
 * "status queue_id reply" (queue_id "-" when empty), and exits 0 when
 * the conversation completed (whatever the reply), 1 otherwise.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cfg.h"
#include "util/cleanup_client.h"
#include "util/msg.h"
#include "util/mymalloc.h"

int
main(int argc, char **argv)
{
	struct cleanup_req    req = { .sender = "", .origin = "cleanup_send" };
	struct cleanup_result res;
	struct cleanup_rcpt  *rcpts;
	const char	     *confdir = NULL, *orcpt = NULL;
	long		      pause_at = -1, pause_secs = 0, sent = 0;
	int		      notify = 0, ch, i, ret;
	char		      buf[65536];
	ssize_t		      n;
	VSTR		     *why = vstr_alloc(100);
	CFG		     *cfg;
	CLEANUP_CLIENT	     *cc;

	msg_set_progname("cleanup_send");
	while ((ch = getopt(argc, argv, "c:f:F:C:A:H:P:u:lN:O:p:s:")) > 0) {
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		case 'f':
			req.sender = optarg;
			break;
		case 'F':
			req.flags = atoi(optarg);
			break;
		case 'C':
			req.client_name = optarg;
			break;
		case 'A':
			req.client_addr = optarg;
			break;
		case 'H':
			req.helo = optarg;
			break;
		case 'P':
			req.protocol = optarg;
			break;
		case 'u':
			req.local_uid = optarg;
			break;
		case 'l':
			req.rewrite_local = true;
			break;
		case 'N':
			notify = atoi(optarg);
			break;
		case 'O':
			orcpt = optarg;
			break;
		case 'p':
			pause_at = atol(optarg);
			break;
		case 's':
			pause_secs = atol(optarg);
			break;
		default:
			msg_fatal("usage: cleanup_send -c confdir ... rcpt...");
		}
	}
	if ((cfg = cfg_open(confdir, why)) == NULL)
		msg_fatal("%s", VSTR_STR(why));
	rcpts = mycalloc((size_t)(argc - optind) + 1, sizeof(*rcpts));
	for (i = optind; i < argc; i++) {
		rcpts[i - optind].addr = argv[i];
		rcpts[i - optind].orcpt = orcpt;
		rcpts[i - optind].notify = notify;
	}
	req.rcpts = rcpts;
	req.nrcpt = (size_t)(argc - optind);
	if ((cc = cleanup_begin(cfg, &req, why)) == NULL)
		msg_fatal("%s", VSTR_STR(why));
	while ((n = read(0, buf, sizeof(buf))) > 0) {
		if (cleanup_write(cc, buf, (size_t)n) < 0)
			msg_warn("cleanup_write failed");
		sent += n;
		if (pause_at >= 0 && sent >= pause_at) {
			printf("paused\n");
			fflush(stdout);
			sleep((unsigned)pause_secs);
			pause_at = -1;
		}
	}
	ret = cleanup_finish(cc, &res);
	printf("%d %s %s\n", (int)res.status,
	       res.queue_id[0] ? res.queue_id : "-", res.reply);
	myfree(rcpts);
	cfg_free(cfg);
	vstr_free(why);
	return ret < 0 ? 1 : 0;
}
