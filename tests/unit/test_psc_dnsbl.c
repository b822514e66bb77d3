/*
 * Unit tests for postscreen/postscreen_dnsbl: postscreen's client side of
 * the dnsblog protocol.  The peer is a dnsblog stand-in in the same event
 * loop: it listens on private/<dnsblog_service_name> in a temporary
 * folder (the module's paths are queue-relative, as in the daemon),
 * accepts, reads each request frame with the real frame code and answers
 * from a table, or misbehaves on purpose (silent, hangs up, garbage, a
 * reply for another request).  Checked: scores and the naming site,
 * done() never from inside the request call and exactly once, the
 * timeout, an unreachable dnsblog, a full listen queue, cancel and free
 * with queries in flight, the reply map and a bad site list.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "postscreen/postscreen_dnsbl.h"
#include "tests/unit/harness.h"
#include "util/attr.h"
#include "util/cfg.h"
#include "util/events.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

/* ---- the dnsblog stand-in ------------------------------------------- */

#define PEER_CONNS 32

struct pconn {
	struct peer *p;
	int	     fd;
	IPC_STREAM  *st;
};

struct peer {
	EVENTS	    *ev;
	int	     lfd;
	int	     requests;
	char	     last_addr[64];
	char	     last_id[32];
	struct pconn conns[PEER_CONNS];
};

/* What a well-behaved dnsblog would find: domain, addr -> result. */
static const struct {
	const char *domain, *addr, *result;
} peer_zone[] = {
	{ "zen.ok.test", "127.0.0.2", "127.0.0.4" },
	{ "bl.ok.test", "127.0.0.2", "127.0.0.2 127.0.0.3" },
	{ "bl.ok.test", "127.0.0.7", "127.0.0.12" },
	{ "wl.ok.test", "127.0.0.9", "127.0.5.2" },
	{ "zen.ok.test", "2001:db8::1", "127.0.0.3" },
};

static void
peer_drop(struct pconn *c)
{
	events_unwatch(c->p->ev, c->fd);
	c->st = ipc_stream_close(c->st);
	c->fd = -1;
}

static void
peer_answer(struct pconn *c, const ATTR *in)
{
	const char *domain = attr_get_str(in, "domain");
	const char *addr = attr_get_str(in, "addr");
	const char *id = attr_get_str(in, "id");
	const char *result = "";
	ATTR	   *out;

	assert_non_null(domain);
	assert_non_null(addr);
	assert_non_null(id);
	c->p->requests++;
	snprintf(c->p->last_addr, sizeof(c->p->last_addr), "%s", addr);
	snprintf(c->p->last_id, sizeof(c->p->last_id), "%s", id);
	if (strcmp(domain, "silent.test") == 0)
		return; /* keeps the connection, never answers */
	if (strcmp(domain, "close.test") == 0) {
		peer_drop(c);
		return;
	}
	if (strcmp(domain, "garbage.test") == 0) {
		assert_int_equal(write(c->fd, "3:abc;", 6), 6);
		peer_drop(c);
		return;
	}
	for (size_t i = 0; i < sizeof(peer_zone) / sizeof(peer_zone[0]); i++)
		if (strcmp(peer_zone[i].domain, domain) == 0
		    && strcmp(peer_zone[i].addr, addr) == 0)
			result = peer_zone[i].result;
	out = attr_alloc();
	attr_put_str(out, "domain", domain);
	attr_put_str(out, "addr", addr);
	attr_put_str(out, "id",
		     strcmp(domain, "wrongid.test") == 0 ? "999" : id);
	attr_put_str(out, "result",
		     strcmp(domain, "wrongid.test") == 0 ? "127.0.0.2"
							 : result);
	attr_put_int(out, "ttl", 60);
	assert_int_equal(ipc_stream_send(c->st, out, 1000), 0);
	attr_free(out);
	peer_drop(c);
}

static void
peer_read(EVENTS *ev, int fd, int what, void *ctx)
{
	struct pconn *c = ctx;
	ATTR	     *in = attr_alloc();
	VSTR	     *why = vstr_alloc(32);
	ssize_t	      n;

	(void)ev;
	(void)fd;
	(void)what;
	n = ipc_stream_fill(c->st);
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		peer_drop(c); /* the client gave up */
	} else if (n > 0 && ipc_stream_next(c->st, in, why) == 1) {
		peer_answer(c, in);
	}
	attr_free(in);
	vstr_free(why);
}

static void
peer_accept(EVENTS *ev, int lfd, int what, void *ctx)
{
	struct peer *p = ctx;
	int	     fd;

	(void)what;
	if ((fd = ipc_accept(lfd)) < 0)
		return;
	for (int i = 0; i < PEER_CONNS; i++) {
		struct pconn *c = &p->conns[i];

		if (c->fd >= 0)
			continue;
		c->p = p;
		c->fd = fd;
		c->st = ipc_stream_open(fd);
		assert_int_equal(fd_set_nonblock(fd, true), 0);
		assert_int_equal(events_watch(ev, fd, EVENTS_READ, peer_read,
					      c),
				 0);
		return;
	}
	fail_msg("peer: too many connections");
}

static void
peer_start(struct peer *p, EVENTS *ev, const char *service, int backlog)
{
	char path[128];

	memset(p, 0, sizeof(*p));
	p->ev = ev;
	for (int i = 0; i < PEER_CONNS; i++)
		p->conns[i].fd = -1;
	snprintf(path, sizeof(path), "private/%s", service);
	p->lfd = ipc_listen_unix(path, 0600, backlog);
	assert_true(p->lfd >= 0);
	assert_int_equal(events_watch(ev, p->lfd, EVENTS_READ, peer_accept, p),
			 0);
}

static int
peer_open_conns(const struct peer *p)
{
	int n = 0;

	for (int i = 0; i < PEER_CONNS; i++)
		n += p->conns[i].fd >= 0;
	return n;
}

static void
peer_stop(struct peer *p)
{
	for (int i = 0; i < PEER_CONNS; i++)
		if (p->conns[i].fd >= 0)
			peer_drop(&p->conns[i]);
	events_unwatch(p->ev, p->lfd);
	close(p->lfd);
}

/* ---- fixtures and helpers ------------------------------------------- */

struct fixture {
	char	dir[64];
	char	oldcwd[PATH_MAX];
	EVENTS *ev;
};

static VSTR *warnings;

static void
capture(enum msg_level level, const char *text)
{
	if (level == MSG_WARN) {
		vstr_strcat(warnings, text);
		vstr_addch(warnings, '\n');
	}
}

static int
setup(void **state)
{
	struct fixture *f = mycalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_psc_dnsbl.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_non_null(getcwd(f->oldcwd, sizeof(f->oldcwd)));
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(mkdir("private", 0700), 0);
	f->ev = events_alloc();
	warnings = vstr_alloc(256);
	msg_output_reset();
	msg_output_add(capture);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	msg_output_reset();
	warnings = vstr_free(warnings);
	events_free(f->ev);
	assert_int_equal(chdir(f->oldcwd), 0);
	harness_rmtree(f->dir);
	myfree(f);
	return 0;
}

static CFG *
config(const char *text)
{
	VSTR *why = vstr_alloc(64);
	CFG  *cfg = cfg_open_buffer(NULL, "main.cf", text, strlen(text), why);

	assert_non_null(cfg);
	vstr_free(why);
	return cfg;
}

struct result {
	int   calls;
	int   score;
	char *site; /* copy, or NULL */
};

static void
on_done(void *ctx, int score, const char *site)
{
	struct result *r = ctx;

	r->calls++;
	r->score = score;
	myfree(r->site);
	r->site = site ? mystrdup(site) : NULL;
}

/* Run the loop until *calls is non-zero or max_ms passed; elapsed ms. */
static long long
run_until(EVENTS *ev, const int *calls, long max_ms)
{
	long long start = events_now_ms();

	while (*calls == 0 && events_now_ms() - start < max_ms)
		assert_true(events_run_once(ev, 20) >= 0);
	return events_now_ms() - start;
}

/* Run the loop for ms milliseconds, whatever happens. */
static void
run_for(EVENTS *ev, long ms)
{
	long long start = events_now_ms();

	while (events_now_ms() - start < ms)
		assert_true(events_run_once(ev, 10) >= 0);
}

/* ---- tests ------------------------------------------------------------ */

static void
test_psc_dnsbl_scores_dnsblog_replies(void **state)
{
	struct fixture	     *f = *state;
	struct peer	      p;
	struct result	      res = { 0 };
	CFG		     *cfg;
	PSC_DNSBL	     *d;
	struct psc_dnsbl_req *r;

	peer_start(&p, f->ev, "dnsblog", 16);
	cfg = config("postscreen_dnsbl_sites = zen.ok.test*3, "
		     "bl.ok.test=127.0.0.[2..11]*2, "
		     "wl.ok.test=127.0.[0..255].[1;2;3]*-2 none.ok.test "
		     "bl.ok.test=127.0.0.3*1\n");
	d = psc_dnsbl_create(cfg, f->ev);
	assert_true(psc_dnsbl_enabled(d));
	r = psc_dnsbl_request(d, "127.0.0.2", on_done, &res);
	assert_non_null(r);
	assert_int_equal(res.calls, 0); /* never from inside the call */
	run_until(f->ev, &res.calls, 5000);
	assert_int_equal(res.calls, 1);
	/* zen 3, bl 2 (once for two records) + bl=127.0.0.3 1, wl none */
	assert_int_equal(res.score, 6);
	assert_string_equal(res.site, "zen.ok.test");
	/* one connection and request per distinct domain */
	assert_int_equal(p.requests, 4);
	assert_string_equal(p.last_addr, "127.0.0.2");
	assert_string_equal(p.last_id, "1");
	assert_string_equal(VSTR_STR(warnings), "");
	run_for(f->ev, 50);
	assert_int_equal(res.calls, 1); /* exactly once */
	assert_int_equal(peer_open_conns(&p), 0);

	/* an allow-listed client, then an IPv6 one, with fresh ids */
	res.calls = 0;
	psc_dnsbl_request(d, "127.0.0.9", on_done, &res);
	run_until(f->ev, &res.calls, 5000);
	assert_int_equal(res.score, -2);
	assert_null(res.site);
	assert_string_equal(p.last_id, "2");
	res.calls = 0;
	psc_dnsbl_request(d, "2001:db8::1", on_done, &res);
	run_until(f->ev, &res.calls, 5000);
	assert_int_equal(res.score, 3);
	assert_string_equal(res.site, "zen.ok.test");
	/* a filter that does not match counts nothing */
	res.calls = 0;
	psc_dnsbl_request(d, "127.0.0.7", on_done, &res);
	run_until(f->ev, &res.calls, 5000);
	assert_int_equal(res.score, 0);
	assert_null(res.site);
	myfree(res.site);
	psc_dnsbl_free(d);
	cfg_free(cfg);
	peer_stop(&p);
}

static void
test_psc_dnsbl_concurrent_requests_keep_apart(void **state)
{
	struct fixture *f = *state;
	struct peer	p;
	struct result	a = { 0 }, b = { 0 }, c = { 0 };
	CFG	       *cfg;
	PSC_DNSBL      *d;

	peer_start(&p, f->ev, "dnsblog", 16);
	cfg = config("postscreen_dnsbl_sites = zen.ok.test*3 wl.ok.test*-5\n");
	d = psc_dnsbl_create(cfg, f->ev);
	psc_dnsbl_request(d, "127.0.0.2", on_done, &a);
	psc_dnsbl_request(d, "127.0.0.9", on_done, &b);
	psc_dnsbl_request(d, "127.0.0.1", on_done, &c);
	run_until(f->ev, &a.calls, 5000);
	run_until(f->ev, &b.calls, 5000);
	run_until(f->ev, &c.calls, 5000);
	assert_int_equal(a.calls + b.calls + c.calls, 3);
	assert_int_equal(a.score, 3);
	assert_string_equal(a.site, "zen.ok.test");
	assert_int_equal(b.score, -5);
	assert_null(b.site);
	assert_int_equal(c.score, 0);
	assert_null(c.site);
	assert_int_equal(p.requests, 6);
	myfree(a.site);
	psc_dnsbl_free(d);
	cfg_free(cfg);
	peer_stop(&p);
}

static void
test_psc_dnsbl_timeout_gives_partial_score(void **state)
{
	struct fixture *f = *state;
	struct peer	p;
	struct result	res = { 0 };
	CFG	       *cfg;
	PSC_DNSBL      *d;
	long long	ms;

	peer_start(&p, f->ev, "dnsblog", 16);
	cfg = config("postscreen_dnsbl_sites = zen.ok.test*3 silent.test*5\n"
		     "postscreen_dnsbl_timeout = 1s\n");
	d = psc_dnsbl_create(cfg, f->ev);
	psc_dnsbl_request(d, "127.0.0.2", on_done, &res);
	ms = run_until(f->ev, &res.calls, 10000);
	assert_int_equal(res.calls, 1);
	assert_true(ms >= 900);
	assert_int_equal(res.score, 3);
	assert_string_equal(res.site, "zen.ok.test");
	assert_non_null(strstr(VSTR_STR(warnings),
			       "dnsblog reply timeout 1s for silent.test"));
	/* the silent connection was closed by the client */
	run_for(f->ev, 50);
	assert_int_equal(peer_open_conns(&p), 0);
	assert_int_equal(res.calls, 1);
	myfree(res.site);
	psc_dnsbl_free(d);
	cfg_free(cfg);
	peer_stop(&p);
}

static void
test_psc_dnsbl_unreachable_dnsblog_counts_zero(void **state)
{
	struct fixture *f = *state;
	struct result	res = { 0 };
	CFG	       *cfg;
	PSC_DNSBL      *d;

	cfg = config("postscreen_dnsbl_sites = zen.ok.test*3 bl.ok.test\n");
	d = psc_dnsbl_create(cfg, f->ev);
	/* nothing listens on private/dnsblog */
	psc_dnsbl_request(d, "127.0.0.2", on_done, &res);
	assert_int_equal(res.calls, 0);
	run_until(f->ev, &res.calls, 5000);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.score, 0);
	assert_null(res.site);
	assert_non_null(
	    strstr(VSTR_STR(warnings), "connect to private/dnsblog service: "));
	psc_dnsbl_free(d);
	cfg_free(cfg);
}

static void
test_psc_dnsbl_misbehaving_dnsblog_counts_zero(void **state)
{
	struct fixture *f = *state;
	struct peer	p;
	struct result	res = { 0 };
	CFG	       *cfg;
	PSC_DNSBL      *d;

	peer_start(&p, f->ev, "dnsblog", 16);
	cfg = config("postscreen_dnsbl_sites = zen.ok.test*3 close.test*5 "
		     "garbage.test*7 wrongid.test*9\n");
	d = psc_dnsbl_create(cfg, f->ev);
	psc_dnsbl_request(d, "127.0.0.2", on_done, &res);
	run_until(f->ev, &res.calls, 5000);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.score, 3);
	assert_string_equal(res.site, "zen.ok.test");
	assert_non_null(strstr(VSTR_STR(warnings),
			       "private/dnsblog closed the connection without "
			       "a reply for close.test"));
	assert_non_null(strstr(VSTR_STR(warnings),
			       "malformed reply from private/dnsblog for "
			       "garbage.test"));
	assert_non_null(strstr(VSTR_STR(warnings), "does not match the request "
						   "for domain wrongid.test"));
	myfree(res.site);
	psc_dnsbl_free(d);
	cfg_free(cfg);
	peer_stop(&p);
}

static void
test_psc_dnsbl_full_listen_queue_is_retried(void **state)
{
	struct fixture *f = *state;
	struct peer	p;
	struct result	res = { 0 };
	CFG	       *cfg;
	PSC_DNSBL      *d;

	/* backlog 0 holds one connection; the others must wait and retry */
	peer_start(&p, f->ev, "dnsblog", 0);
	events_unwatch(f->ev, p.lfd); /* connections stay queued */
	cfg = config("postscreen_dnsbl_sites = zen.ok.test*3 bl.ok.test*2 "
		     "none.ok.test wl.ok.test\n");
	d = psc_dnsbl_create(cfg, f->ev);
	psc_dnsbl_request(d, "127.0.0.2", on_done, &res);
	run_for(f->ev, 100);
	assert_int_equal(res.calls, 0);
	assert_int_equal(events_watch(f->ev, p.lfd, EVENTS_READ, peer_accept,
				      &p),
			 0);
	run_until(f->ev, &res.calls, 5000);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.score, 5);
	assert_int_equal(p.requests, 4);
	assert_string_equal(VSTR_STR(warnings), "");
	myfree(res.site);
	psc_dnsbl_free(d);
	cfg_free(cfg);
	peer_stop(&p);
}

static void
test_psc_dnsbl_cancel_and_free_in_flight(void **state)
{
	struct fixture	     *f = *state;
	struct peer	      p;
	struct result	      res = { 0 }, other = { 0 };
	CFG		     *cfg;
	PSC_DNSBL	     *d;
	struct psc_dnsbl_req *r;

	peer_start(&p, f->ev, "dnsblog", 16);
	cfg = config("postscreen_dnsbl_sites = zen.ok.test*3 silent.test\n"
		     "postscreen_dnsbl_timeout = 1s\n");
	d = psc_dnsbl_create(cfg, f->ev);
	r = psc_dnsbl_request(d, "127.0.0.2", on_done, &res);
	psc_dnsbl_request(d, "127.0.0.2", on_done, &other);
	run_for(f->ev, 50);
	assert_int_equal(peer_open_conns(&p), 2); /* the silent ones */
	psc_dnsbl_cancel(d, r);
	run_for(f->ev, 50);
	assert_int_equal(peer_open_conns(&p), 1);
	/* the other request still ends, at its timeout */
	run_until(f->ev, &other.calls, 5000);
	assert_int_equal(other.calls, 1);
	assert_int_equal(other.score, 3);
	run_for(f->ev, 1200);
	assert_int_equal(res.calls, 0); /* cancelled: never called */
	/* free with a request in flight: no call, connections closed */
	psc_dnsbl_request(d, "127.0.0.2", on_done, &res);
	run_for(f->ev, 50);
	psc_dnsbl_cancel(d, NULL); /* harmless */
	psc_dnsbl_free(d);
	run_for(f->ev, 1200);
	assert_int_equal(res.calls, 0);
	assert_int_equal(peer_open_conns(&p), 0);
	myfree(other.site);
	cfg_free(cfg);
	peer_stop(&p);
}

static void
test_psc_dnsbl_empty_list_and_service_name(void **state)
{
	struct fixture *f = *state;
	struct peer	p;
	struct result	res = { 0 };
	CFG	       *cfg;
	PSC_DNSBL      *d;

	cfg = config("postscreen_dnsbl_sites =\n");
	d = psc_dnsbl_create(cfg, f->ev);
	assert_false(psc_dnsbl_enabled(d));
	psc_dnsbl_request(d, "127.0.0.2", on_done, &res);
	assert_int_equal(res.calls, 0);
	run_until(f->ev, &res.calls, 1000);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.score, 0);
	assert_null(res.site);
	psc_dnsbl_free(d);
	cfg_free(cfg);

	/* dnsblog_service_name picks the socket */
	peer_start(&p, f->ev, "mydnsbl", 16);
	cfg = config("postscreen_dnsbl_sites = zen.ok.test\n"
		     "dnsblog_service_name = mydnsbl\n");
	d = psc_dnsbl_create(cfg, f->ev);
	res.calls = 0;
	psc_dnsbl_request(d, "127.0.0.2", on_done, &res);
	run_until(f->ev, &res.calls, 5000);
	assert_int_equal(res.score, 1);
	assert_int_equal(p.requests, 1);
	myfree(res.site);
	psc_dnsbl_free(d);
	cfg_free(cfg);
	peer_stop(&p);
}

static void
test_psc_dnsbl_reply_map_names_the_site(void **state)
{
	struct fixture *f = *state;
	CFG	       *cfg;
	PSC_DNSBL      *d;

	cfg = config("postscreen_dnsbl_sites = secret.zen.ok.test*2 "
		     "bl.ok.test\n"
		     "postscreen_dnsbl_reply_map = inline:{ "
		     "secret.zen.ok.test=zen.public.test, "
		     "other.test=other.public.test }\n");
	d = psc_dnsbl_create(cfg, f->ev);
	assert_string_equal(psc_dnsbl_reply_name(d, "secret.zen.ok.test"),
			    "zen.public.test");
	assert_string_equal(psc_dnsbl_reply_name(d, "SECRET.zen.ok.test"),
			    "zen.public.test");
	assert_string_equal(psc_dnsbl_reply_name(d, "bl.ok.test"),
			    "bl.ok.test");
	assert_string_equal(psc_dnsbl_reply_name(d, "other.test"),
			    "other.public.test");
	assert_string_equal(psc_dnsbl_reply_name(d, "unknown.test"),
			    "unknown.test");
	psc_dnsbl_free(d);
	cfg_free(cfg);
	/* without a map: the site itself */
	cfg = config("postscreen_dnsbl_sites = zen.ok.test\n");
	d = psc_dnsbl_create(cfg, f->ev);
	assert_string_equal(psc_dnsbl_reply_name(d, "zen.ok.test"),
			    "zen.ok.test");
	psc_dnsbl_free(d);
	cfg_free(cfg);
}

static void
test_psc_dnsbl_bad_configuration_is_fatal(void **state)
{
	struct fixture *f = *state;
	CFG	       *cfg;

	cfg = config("postscreen_dnsbl_sites = ok.test, bad..test*2\n");
	EXPECT_FATAL(psc_dnsbl_create(cfg, f->ev),
		     "postscreen_dnsbl_sites: entry \"bad..test*2\"");
	cfg_free(cfg);
	cfg = config("postscreen_dnsbl_sites = ok.test=127.0.0.[9..1]\n");
	EXPECT_FATAL(psc_dnsbl_create(cfg, f->ev), "runs backwards");
	cfg_free(cfg);
	cfg = config("postscreen_dnsbl_sites = ok.test\n"
		     "postscreen_dnsbl_reply_map = nosuchtype:/x\n");
	EXPECT_FATAL(psc_dnsbl_create(cfg, f->ev),
		     "postscreen_dnsbl_reply_map: ");
	cfg_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_psc_dnsbl_scores_dnsblog_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_psc_dnsbl_concurrent_requests_keep_apart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_psc_dnsbl_timeout_gives_partial_score, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_psc_dnsbl_unreachable_dnsblog_counts_zero, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_psc_dnsbl_misbehaving_dnsblog_counts_zero, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_psc_dnsbl_full_listen_queue_is_retried, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_psc_dnsbl_cancel_and_free_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_psc_dnsbl_empty_list_and_service_name, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_psc_dnsbl_reply_map_names_the_site, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_psc_dnsbl_bad_configuration_is_fatal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
