/*
 * psc_dnsbl_probe - drive postscreen's DNSBL client (postscreen/
 * postscreen_dnsbl.c) against a running instance's dnsblog service, for
 * the integration tests, until postscreen itself calls it.
 *
 *   psc_dnsbl_probe -c CONFDIR ADDR...
 *
 * Reads main.cf (postscreen_dnsbl_sites, postscreen_dnsbl_timeout,
 * postscreen_dnsbl_reply_map, dnsblog_service_name), works in
 * queue_directory as the daemons do, starts one request per address at
 * once in one event loop and prints, in the order the requests end,
 * "ADDR SCORE SITE NAME" (SITE and NAME "-" when no positive weight
 * matched; NAME is psc_dnsbl_reply_name of SITE).  Warnings go to
 * standard error.  Exit 0 when every request ended, 1 otherwise.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "postscreen/postscreen_dnsbl.h"
#include "util/cfg.h"
#include "util/events.h"
#include "util/msg.h"
#include "util/vstr.h"

struct probe {
	PSC_DNSBL  *d;
	const char *addr;
	int	   *left;
};

static void
probe_done(void *ctx, int score, const char *site)
{
	struct probe *p = ctx;

	printf("%s %d %s %s\n", p->addr, score, site ? site : "-",
	       site ? psc_dnsbl_reply_name(p->d, site) : "-");
	fflush(stdout);
	--*p->left;
}

int
main(int argc, char **argv)
{
	const char   *confdir = NULL;
	VSTR	     *why = vstr_alloc(64);
	CFG	     *cfg;
	EVENTS	     *ev;
	PSC_DNSBL    *d;
	struct probe *probes;
	int	      left, ch, n;
	long long     deadline;

	msg_set_progname("psc_dnsbl_probe");
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c') {
			fprintf(stderr, "usage: %s -c CONFDIR ADDR...\n",
				argv[0]);
			return 2;
		}
		confdir = optarg;
	}
	if (confdir == NULL || optind >= argc) {
		fprintf(stderr, "usage: %s -c CONFDIR ADDR...\n", argv[0]);
		return 2;
	}
	if ((cfg = cfg_open(confdir, why)) == NULL)
		msg_fatal("%s", VSTR_STR(why));
	if (chdir(cfg_get_str(cfg, "queue_directory")) < 0)
		msg_fatal("chdir %s: %m", cfg_get_str(cfg, "queue_directory"));
	ev = events_alloc();
	d = psc_dnsbl_create(cfg, ev);
	n = argc - optind;
	left = n;
	probes = calloc((size_t)n, sizeof(*probes));
	if (probes == NULL)
		msg_fatal("out of memory");
	for (int i = 0; i < n; i++) {
		probes[i].d = d;
		probes[i].addr = argv[optind + i];
		probes[i].left = &left;
		psc_dnsbl_request(d, probes[i].addr, probe_done, &probes[i]);
	}
	/* The module's own timeout ends every request; this is a backstop. */
	deadline = events_now_ms()
		   + cfg_get_time(cfg, "postscreen_dnsbl_timeout") * 1000
		   + 5000;
	while (left > 0 && events_now_ms() < deadline)
		if (events_run_once(ev, 100) < 0)
			msg_fatal("event loop: %m");
	psc_dnsbl_free(d);
	events_free(ev);
	cfg_free(cfg);
	vstr_free(why);
	free(probes);
	return left == 0 ? 0 : 1;
}
