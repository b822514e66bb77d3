/*
 * cleanup_send - hand one message to a running cleanup service, for the
 * integration tests (util/cleanup_client from the outside).
 *
 *   cleanup_send -c CONFDIR [-f sender] [-F flags] [-C name -A addr]
 *	[-H helo] [-P proto] [-u uid] [-l] [-N notify] [-O orcpt]
 *	[-p bytes -s secs] [-M milter]... rcpt... < message
 *
 * The message on standard input is sent as is (the test supplies CRLF
 * lines).  -p/-s pause for secs seconds after the first bytes, so a test
 * can kill cleanup in the middle of the content.  Prints one line,
 * "status queue_id reply" (queue_id "-" when empty), and exits 0 when
 * the conversation completed (whatever the reply), 1 otherwise.
 *
 * -M inet:host:port (repeatable) plays smtpd's part of the milter
 * handoff: it opens the milter, takes it through connect, HELO, MAIL,
 * RCPT and DATA with util/milter, and hands it to cleanup with the
 * envelope for the content stages; after cleanup's reply it ends the
 * message on the same connection (SMFIC_ABORT, then SMFIC_QUIT), as
 * smtpd does before its next transaction.  A verdict other than
 * continue before DATA is printed as "milter VERDICT" and ends the run.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cfg.h"
#include "util/cleanup_client.h"
#include "util/milter.h"
#include "util/msg.h"
#include "util/mymalloc.h"

static const char *
cleanup_send_macro(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "j") == 0)
		return "smtpd.test";
	if (strcmp(name, "{client_addr}") == 0)
		return "192.0.2.7";
	return NULL;
}

/* smtpd's part: connect .. DATA.  0, or -1 when a milter said no. */
static int
cleanup_send_milters(MILTER **m, size_t n, const struct cleanup_req *req)
{
	MILTER_REPLY *r = milter_reply_alloc();
	char	      from[512];
	const char   *args[2] = { from, NULL };

	for (size_t i = 0; i < n; i++) {
		enum milter_verdict v;

		milter_set_macros(m[i], cleanup_send_macro, NULL);
		(void)milter_open(m[i]);
		v = milter_connect(m[i],
				   req->client_name ? req->client_name
						    : "localhost",
				   '4',
				   req->client_addr ? req->client_addr
						    : "127.0.0.1",
				   25, r);
		if (v == MILTER_CONTINUE)
			v = milter_helo(m[i], req->helo ? req->helo : "x", r);
		snprintf(from, sizeof(from), "<%s>", req->sender);
		if (v == MILTER_CONTINUE)
			v = milter_mail(m[i], args, r);
		for (size_t j = 0; v == MILTER_CONTINUE && j < req->nrcpt;
		     j++) {
			snprintf(from, sizeof(from), "<%s>",
				 req->rcpts[j].addr);
			v = milter_rcpt(m[i], args, r);
		}
		if (v == MILTER_CONTINUE)
			v = milter_data(m[i], r);
		if (v != MILTER_CONTINUE) {
			printf("milter %d %s\n", (int)v, VSTR_STR(r->text));
			milter_reply_free(r);
			return -1;
		}
	}
	milter_reply_free(r);
	return 0;
}

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
	MILTER		     *milters[8];
	ATTR		     *macros = NULL;
	size_t		      nmilters = 0;
	MILTER_CONF	      mconf;

	msg_set_progname("cleanup_send");
	while ((ch = getopt(argc, argv, "c:f:F:C:A:H:P:u:lN:O:p:s:M:")) > 0) {
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
		case 'M':
			if (nmilters == sizeof(milters) / sizeof(milters[0]))
				msg_fatal("too many -M");
			memset(&mconf, 0, sizeof(mconf));
			mconf.name = optarg;
			mconf.connect_timeout = 5;
			mconf.command_timeout = 5;
			mconf.content_timeout = 5;
			mconf.protocol = 6;
			/* smtpd's defaults for the content stages */
			mconf.macros[MILTER_STAGE_EOH] = (char *)"i";
			mconf.macros[MILTER_STAGE_EOM] =
			    (char *)"i {daemon_name}";
			milters[nmilters++] = milter_alloc(&mconf);
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
	if (nmilters > 0) {
		if (cleanup_send_milters(milters, nmilters, &req) < 0)
			return 0;
		macros = attr_alloc();
		attr_put_str(macros, "{daemon_name}", "smtpd-handoff");
		req.milters = milters;
		req.nmilters = nmilters;
		req.milter_macros = macros;
	}
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
	/* smtpd's connection lives on: end the message, then the session */
	for (size_t k = 0; k < nmilters; k++) {
		milter_abort(milters[k]);
		milter_free(milters[k]);
	}
	if (macros != NULL)
		attr_free(macros);
	myfree(rcpts);
	cfg_free(cfg);
	vstr_free(why);
	return ret < 0 ? 1 : 0;
}
