/*
 * fake_transport - a delivery transport for qmgr's tests.
 *
 * master.cf: `NAME unix - - n - - /path/fake_transport SCRIPT RESULTS`.
 * For every delivery request (util/deliver_proto) it re-reads SCRIPT, whose
 * lines are
 *
 *	delay MS			wait MS milliseconds before replying
 *	relay none			report relay "none" (nothing reached)
 *	PATTERN ACTION DSN TEXT...	first line whose PATTERN ("*" or a
 *					substring of the recipient) matches
 *					decides: sent|deferred|bounced
 *	# comment
 *
 * (no matching line: sent 2.0.0 "250 2.0.0 Ok"), logs the Postfix delivery
 * line per recipient and appends one line per recipient to RESULTS:
 *
 *	START_MS END_MS PID QUEUE_ID TRANSPORT NEXTHOP RCPT ACTION N
 *
 * (N: the request's number on its connection, 1 for a new connection) *
 * so a test can count deliveries, duplicates and overlapping sessions per
 * next hop.  RESULTS is opened before the privilege drop; SCRIPT must be
 * readable by mail_owner.  Several requests may come on one connection.
 *
 * Errors: a request that does not decode gets a status=-1 reply.
 *
 * SPDX-License-Identifier: ISC
 */
#include <fcntl.h>
#include <stdlib.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/deliver_proto.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/skel.h"
#include "util/strutil.h"

static int	   results_fd = -1;
static const char *script_path;

static long long
fake_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
fake_pre_jail(struct skel_ctx *ctx)
{
	if (ctx->argc < 2)
		msg_fatal("usage: fake_transport [options] -- script results");
	script_path = ctx->argv[0];
	results_fd = open(ctx->argv[1],
			  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC
			      | O_NOFOLLOW,
			  0644);
	if (results_fd < 0)
		msg_fatal("open %s: %m", ctx->argv[1]);
}

struct fake_rule {
	char pattern[256];
	char action[32];
	char dsn[DELIVER_DSN_MAX];
	char text[512];
};

/* Find the rule for rcpt; *delay_ms gets the script's delay. */
static void
fake_lookup(const char *rcpt, struct fake_rule *rule, long *delay_ms,
	    bool *no_relay)
{
	char  line[1024];
	FILE *fp;
	bool  found = false;

	snprintf(rule->action, sizeof(rule->action), "sent");
	snprintf(rule->dsn, sizeof(rule->dsn), "2.0.0");
	snprintf(rule->text, sizeof(rule->text), "250 2.0.0 Ok");
	*delay_ms = 0;
	if ((fp = fopen(script_path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *cp = line;
		char *pat, *act, *dsn;

		cp[strcspn(cp, "\n")] = 0;
		if ((pat = str_token(&cp, " \t")) == NULL || *pat == '#')
			continue;
		if (strcmp(pat, "relay") == 0) {
			*no_relay = true;
			continue;
		}
		if (strcmp(pat, "delay") == 0) {
			if ((act = str_token(&cp, " \t")) != NULL)
				*delay_ms = atol(act);
			continue;
		}
		if (found || (act = str_token(&cp, " \t")) == NULL
		    || (dsn = str_token(&cp, " \t")) == NULL)
			continue;
		if (strcmp(pat, "*") != 0 && strstr(rcpt, pat) == NULL)
			continue;
		snprintf(rule->action, sizeof(rule->action), "%s", act);
		snprintf(rule->dsn, sizeof(rule->dsn), "%s", dsn);
		snprintf(rule->text, sizeof(rule->text), "%s", cp ? cp : "");
		found = true;
	}
	fclose(fp);
}

static void
fake_deliver(const struct deliver_request *req, ATTR *reply, int seq)
{
	struct deliver_status *st = mycalloc(req->nrcpt, sizeof(*st));
	struct fake_rule      *rules = mycalloc(req->nrcpt, sizeof(*rules));
	enum deliver_action    action;
	long long	       start = fake_now_ms();
	long		       delay_ms = 0, d;
	bool		       no_relay = false;
	char		       line[2048];
	size_t		       i;
	int		       n;

	for (i = 0; i < req->nrcpt; i++) {
		fake_lookup(req->rcpts[i].addr, rules + i, &d, &no_relay);
		if (d > delay_ms)
			delay_ms = d;
	}
	if (delay_ms > 0)
		poll(NULL, 0, (int)delay_ms);
	for (i = 0; i < req->nrcpt; i++) {
		if (deliver_action_parse(rules[i].action, &action) < 0
		    || !deliver_dsn_valid(rules[i].dsn)) {
			action = DELIVER_DEFERRED;
			snprintf(rules[i].dsn, sizeof(rules[i].dsn), "4.3.0");
		}
		deliver_status_set(st + i, action, rules[i].dsn, rules[i].text,
				   no_relay ? "none" : "fake[127.0.0.1]:25");
		msg_info("%s: to=<%s>, relay=fake[127.0.0.1]:25, delay=0, "
			 "delays=0/0/0/0, dsn=%s, status=%s (%s)",
			 req->queue_id, req->rcpts[i].addr, st[i].dsn,
			 deliver_action_name(action), st[i].reply);
		n = snprintf(line, sizeof(line),
			     "%lld %lld %ld %s %s %s %s %s %d\n", start,
			     fake_now_ms(), (long)getpid(), req->queue_id,
			     req->transport, req->nexthop, req->rcpts[i].addr,
			     deliver_action_name(action), seq);
		if (n > 0 && (size_t)n < sizeof(line)
		    && write(results_fd, line, (size_t)n) != n)
			msg_warn("write results: %m");
	}
	if (deliver_reply_encode(st, req->nrcpt, reply) < 0)
		deliver_reply_encode_error("bad script", reply);
	myfree(st);
	myfree(rules);
}

static void
fake_service(struct skel_ctx *ctx, int fd)
{
	ATTR		      *in = attr_alloc();
	ATTR		      *out = attr_alloc();
	VSTR		      *why = vstr_alloc(100);
	struct deliver_request req;
	int		       seq = 0;

	(void)ctx;
	while (ipc_recv(fd, in, 0, 60 * 1000, why) == 0) {
		seq++;
		if (deliver_request_decode(in, &req, why) < 0) {
			msg_warn("bad request: %s", VSTR_STR(why));
			deliver_reply_encode_error(VSTR_STR(why), out);
		} else {
			fake_deliver(&req, out, seq);
			deliver_request_release(&req);
		}
		if (ipc_send(fd, out, 10 * 1000) < 0)
			break;
	}
	attr_free(in);
	attr_free(out);
	vstr_free(why);
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .pre_jail = fake_pre_jail,
				    .service = fake_service,
				});
}
