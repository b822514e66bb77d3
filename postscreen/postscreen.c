/*
 * postscreen - the zombie blocker in front of smtpd: one event-driven
 * process (skel_multi) that takes every connection to the SMTP port,
 * keeps the clients that talk before their turn, are DNS-listed or break
 * the protocol away from smtpd, and hands the others' descriptors to
 * smtpd through the master.cf pass service (util/pass_proto.h), as
 * Postfix's postscreen(8) does.  man/man8/postscreen.8 describes the
 * behaviour, the parameters and the log lines.
 *
 * Behind a load balancer (postscreen_upstream_proxy_protocol = haproxy)
 * a session starts by reading the PROXY header (util/haproxy.h) within
 * postscreen_upstream_proxy_timeout, taking no byte after it; the
 * addresses it names are the client's and ours for everything below
 * (CONNECT, limits, access list, cache, DNSBL, pregreet, the hand-off to
 * smtpd).  A missing or bad header is logged as "warning: haproxy read:
 * ..." and the connection closed, as by Postfix; a version 2 LOCAL
 * header (the proxy's own health check) leaves the connection's own
 * addresses in place.
 *
 * A session: CONNECT is logged; the per-client and queue limits may
 * refuse it with 421; postscreen_access_list may allow-list it (handed
 * over at once) or deny-list it; a client whose cached test results are
 * all still valid is PASS OLD and handed over at once; otherwise the
 * early tests run (postscreen_early.c) and, when deep tests are due or a
 * test failed under enforce, postscreen's own SMTP engine takes over
 * (postscreen_smtpd.c).  psc_conclude() logs PASS NEW / PASS OLD, updates
 * the cache and hands the client over, or answers it and logs
 * DISCONNECT.
 *
 * Memory per client is bounded: the input buffer by PSC_LINE_MAX plus
 * one read, the output by PSC_OUT_MAX; no thread or process per client.
 *
 * Errors: configuration errors are fatal at start-up; everything about a
 * client is logged and ends that client's session only.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "postscreen/postscreen.h"
#include "postscreen/postscreen_line.h"
#include "util/attr.h"
#include "util/cfg_compat.h"
#include "util/inet_prefix.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/pass_proto.h"
#include "util/peer_list.h"
#include "util/safe_file.h"
#include "util/user.h"

/* Replies waiting for a slow reader beyond this end the session. */
#define PSC_OUT_MAX 8192

/* How long one hand-off may take, and how often a full smtpd is tried. */
#define PSC_PASS_TIMEOUT_MS 1000
#define PSC_PASS_RETRY_MS   100
#define PSC_PASS_TRIES	    300

/* Per-client connection counts (the key is inet_prefix_key()). */
#define PSC_COUNT_BUCKETS 4096

struct psc_count_entry {
	char		       *key;
	int			count;
	struct psc_count_entry *next;
};

struct PSC_COUNT {
	struct psc_count_entry *bucket[PSC_COUNT_BUCKETS];
};

static unsigned
psc_count_hash(const char *key)
{
	unsigned h = 5381;

	while (*key)
		h = h * 33 + (unsigned char)*key++;
	return h % PSC_COUNT_BUCKETS;
}

/* Add delta to key's count; the new count. */
static int
psc_count_add(PSC_COUNT *pc, const char *key, int delta)
{
	struct psc_count_entry **pp = &pc->bucket[psc_count_hash(key)];
	struct psc_count_entry	*e;
	int			 count;

	for (; (e = *pp) != NULL; pp = &e->next)
		if (strcmp(e->key, key) == 0)
			break;
	if (e == NULL) {
		if (delta <= 0)
			msg_panic("psc_count_add: no count for %s", key);
		e = mycalloc(1, sizeof(*e));
		e->key = mystrdup(key);
		e->next = *pp;
		*pp = e;
	}
	count = e->count += delta;
	if (count <= 0) {
		*pp = e->next;
		myfree(e->key);
		myfree(e);
	}
	return count;
}

static enum psc_action
psc_action(const CFG *cfg, const char *name)
{
	const char *value = cfg_get_str(cfg, name);

	if (strcasecmp(value, "ignore") == 0
	    || strcasecmp(value, "continue") == 0)
		return PSC_ACT_IGNORE;
	if (strcasecmp(value, "enforce") == 0)
		return PSC_ACT_ENFORCE;
	if (strcasecmp(value, "drop") == 0)
		return PSC_ACT_DROP;
	msg_fatal("bad %s value: %s (use ignore, enforce or drop)", name,
		  value);
}

/* Formatted like Postfix's delays: 0.09, 1.1, 17. */
void
psc_delta(VSTR *out, long long since_ms)
{
	long long ms = events_now_ms() - since_ms;

	if (ms < 0)
		ms = 0;
	if (ms >= 10000) {
		vstr_sprintf(out, "%lld", ms / 1000);
	} else if (ms >= 1000) {
		if ((ms % 1000) / 100 == 0)
			vstr_sprintf(out, "%lld", ms / 1000);
		else
			vstr_sprintf(out, "%lld.%lld", ms / 1000,
				     (ms % 1000) / 100);
	} else {
		long long cs = ms / 10;

		if (cs == 0)
			vstr_sprintf(out, "0");
		else if (cs % 10 == 0)
			vstr_sprintf(out, "0.%lld", cs / 10);
		else
			vstr_sprintf(out, "0.%02lld", cs);
	}
}

static void psc_event(EVENTS *ev, int fd, int what, void *context);
static void psc_haproxy_read(PSC_STATE *state);
static void psc_haproxy_timer(EVENTS *ev, void *context);

/* Watch the client for what the session waits for. */
void
psc_watch(PSC_STATE *state, bool want_read)
{
	int what = 0;

	state->want_read = want_read;
	if (want_read)
		what |= EVENTS_READ;
	if (VSTR_LEN(state->out) > 0)
		what |= EVENTS_WRITE;
	if (what == 0)
		events_unwatch(state->psc->ev, state->fd);
	else if (events_watch(state->psc->ev, state->fd, what, psc_event, state)
		 < 0)
		msg_warn("events_watch [%s]:%s: %m", state->addr, state->port);
}

/* Write what is pending: 0, or -1 when the client is gone. */
static int
psc_flush(PSC_STATE *state)
{
	ssize_t n;

	while (VSTR_LEN(state->out) > 0) {
		n = send(state->fd, VSTR_STR(state->out), VSTR_LEN(state->out),
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return -1;
		vstr_erase_front(state->out, (size_t)n);
	}
	return 0;
}

int
psc_send(PSC_STATE *state, const char *text)
{
	if (state->flags & PSC_FLAG_HANGUP)
		return -1;
	if (VSTR_LEN(state->out) + strlen(text) > PSC_OUT_MAX) {
		errno = ENOBUFS;
		return -1;
	}
	vstr_strcat(state->out, text);
	if (psc_flush(state) < 0)
		return -1;
	if (VSTR_LEN(state->out) > 0)
		psc_watch(state, state->want_read);
	return 0;
}

static void
psc_event(EVENTS *ev, int fd, int what, void *context)
{
	PSC_STATE *state = context;

	(void)ev;
	(void)fd;
	if (what & EVENTS_WRITE) {
		if (psc_flush(state) < 0) {
			psc_hangup(state);
			return;
		}
		if (VSTR_LEN(state->out) == 0)
			psc_watch(state, state->want_read);
	}
	if (what & (EVENTS_READ | EVENTS_ERROR)) {
		if (!state->want_read) {
			if (what & EVENTS_ERROR)
				psc_hangup(state);
			return;
		}
		if (state->haproxy != NULL)
			psc_haproxy_read(state);
		else if (state->in_smtpd)
			psc_smtpd_read(state);
		else
			psc_early_read(state);
	}
}

void
psc_pass(PSC_STATE *state, int test)
{
	state->flags |= PSC_PASS(test);
	state->expire[test] = time(NULL) + state->psc->ttl[test];
}

void
psc_fail(PSC_STATE *state, int test)
{
	state->flags |= PSC_FAIL(test);
}

/* Answer with reply, disconnect, no further tests. */
void
psc_drop(PSC_STATE *state, const char *reply)
{
	state->flags |= PSC_FLAG_NOFORWARD;
	state->final_reply = reply;
	psc_conclude(state);
}

/* Go on testing, then refuse every RCPT with rcpt_reply. */
void
psc_enforce(PSC_STATE *state, const char *rcpt_reply)
{
	state->flags |= PSC_FLAG_NOFORWARD;
	vstr_strcpy(state->rcpt_reply, rcpt_reply);
}

static void psc_post_retry(EVENTS *ev, void *context);

static void
psc_free(PSC_STATE *state)
{
	PSC *psc = state->psc;

	psc_early_cancel(state);
	psc_smtpd_cancel(state);
	events_timer_cancel(psc->ev, psc_post_retry, state);
	events_timer_cancel(psc->ev, psc_haproxy_timer, state);
	state->haproxy = haproxy_free(state->haproxy);
	if (state->in_post_queue)
		psc->post_count--;
	else
		psc->check_count--;
	if (state->key != NULL)
		(void)psc_count_add(psc->per_client, state->key, -1);
	skel_multi_disconnect(psc->ctx, state->fd);
	myfree(state->addr);
	myfree(state->port);
	myfree(state->saddr);
	myfree(state->sport);
	myfree(state->key);
	myfree(state->dnsbl_site);
	myfree(state->helo);
	myfree(state->sender);
	myfree(state->last_cmd);
	vstr_free(state->rcpt_reply);
	vstr_free(state->final_buf);
	vstr_free(state->in);
	vstr_free(state->out);
	myfree(state);
}

/* Hand the client to smtpd: 0 done, 1 try again later, -1 failed. */
static int
psc_pass_on(PSC_STATE *state)
{
	PSC  *psc = state->psc;
	ATTR *info = attr_alloc();
	int   ret;

	attr_put_str(info, "client_addr", state->addr);
	attr_put_str(info, "client_port", state->port);
	attr_put_str(info, "server_addr", state->saddr);
	attr_put_str(info, "server_port", state->sport);
	attr_put_str(info, "postscreen",
		     (state->flags & PSC_FLAG_NEW) ? "pass-new" : "pass-old");
	ret = pass_send(psc->smtpd_path, state->fd, info, PSC_PASS_TIMEOUT_MS,
			psc->tmp);
	attr_free(info);
	if (ret == 0)
		return 0;
	if (errno == EAGAIN || errno == ETIMEDOUT)
		return 1;
	msg_warn("cannot hand [%s]:%s to %s: %s", state->addr, state->port,
		 psc->smtpd_path, VSTR_STR(psc->tmp));
	return -1;
}

static void
psc_hand_off(PSC_STATE *state)
{
	PSC *psc = state->psc;

	events_unwatch(psc->ev, state->fd);
	switch (psc_pass_on(state)) {
	case 0:
		psc_free(state);
		return;
	case 1:
		if (++state->pass_tries < PSC_PASS_TRIES) {
			if (!state->in_post_queue) {
				state->in_post_queue = true;
				psc->check_count--;
				psc->post_count++;
			}
			events_timer(psc->ev, psc_post_retry, state,
				     PSC_PASS_RETRY_MS);
			return;
		}
		msg_warn("cannot hand [%s]:%s to %s: %s", state->addr,
			 state->port, psc->smtpd_path, VSTR_STR(psc->tmp));
		break;
	default:
		break;
	}
	(void)psc_send(state, "421 4.3.2 All server ports are busy\r\n");
	psc_free(state);
}

static void
psc_post_retry(EVENTS *ev, void *context)
{
	(void)ev;
	psc_hand_off(context);
}

/*
 * Closing a socket with unread input makes the kernel reset the
 * connection, and the client may then never see our last reply: read
 * what is there (bounded) and send our FIN first.
 */
static void
psc_discard_input(PSC_STATE *state)
{
	char buf[4096];
	int  i;

	for (i = 0; i < 16; i++)
		if (recv(state->fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
	(void)shutdown(state->fd, SHUT_WR);
}

void
psc_conclude(PSC_STATE *state)
{
	PSC	*psc = state->psc;
	unsigned todo;
	unsigned passed;

	/* A client that failed a test, or is deny-listed, has not passed. */
	if (state->flags & (PSC_MASK_FAIL | PSC_FLAG_DNLIST_FAIL))
		state->flags &= ~PSC_MASK_PASS;
	todo = state->flags & PSC_MASK_TODO;
	passed = (state->flags & PSC_MASK_PASS) >> 8;
	if (passed != 0 && passed == todo)
		msg_info("PASS %s [%s]:%s",
			 (state->flags & PSC_FLAG_NEW) ? "NEW" : "OLD",
			 state->addr, state->port);
	if (passed != 0 && psc->cache != NULL)
		psc_cache_update(psc->cache, state->addr, state->expire);
	if ((state->flags & PSC_FLAG_NOFORWARD) == 0) {
		psc_hand_off(state);
		return;
	}
	if ((state->flags & PSC_FLAG_HANGUP) == 0 && state->final_reply) {
		(void)psc_send(state, state->final_reply);
		psc_discard_input(state);
	}
	msg_info("DISCONNECT [%s]:%s", state->addr, state->port);
	psc_free(state);
}

void
psc_hangup(PSC_STATE *state)
{
	psc_delta(state->psc->tmp, state->start_ms);
	msg_info("HANGUP after %s from [%s]:%s in %s",
		 VSTR_STR(state->psc->tmp), state->addr, state->port,
		 state->test_name);
	state->flags |= PSC_FLAG_HANGUP | PSC_FLAG_NOFORWARD;
	psc_conclude(state);
}

/* Numeric address and port of a socket address; IPv4-mapped as IPv4. */
static void
psc_endpoint(const struct sockaddr_storage *ss, socklen_t len, char **addr,
	     char **port)
{
	char host[NI_MAXHOST];
	char serv[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host),
			serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV)
	    != 0) {
		*addr = mystrdup("unknown");
		*port = mystrdup("unknown");
		return;
	}
	*addr = mystrdup(strncasecmp(host, "::ffff:", 7) == 0
				 && strchr(host + 7, '.') != NULL
			     ? host + 7
			     : host);
	*port = mystrdup(serv);
}

/* The client is too much: reply, log DISCONNECT, close. */
static void
psc_refuse(PSC_STATE *state, const char *why, const char *reply)
{
	msg_info("%s", why);
	psc_drop(state, reply);
}

static bool
psc_allowed_interface(const PSC *psc, const char *saddr)
{
	return psc->allow_if == NULL
	       || peer_list_match(psc->allow_if, NULL, saddr, false);
}

static void psc_cleanup_timer(EVENTS *ev, void *context);
static void psc_screen(PSC_STATE *state);

static void
psc_start(PSC *psc)
{
	psc->ev = psc->ctx->events;
	psc->dnsbl = psc_dnsbl_create(psc->cfg, psc->ev);
	if (psc_dnsbl_enabled(psc->dnsbl))
		psc->enabled |= PSC_TODO(PSC_TEST_DNSBL);
	/* The first cleanup at once, as Postfix's postscreen does. */
	if (psc->cache != NULL && psc->cache_interval_ms > 0)
		events_timer(psc->ev, psc_cleanup_timer, psc, 0);
}

static void
psc_cleanup_timer(EVENTS *ev, void *context)
{
	PSC *psc = context;

	if (psc_cache_cleanup(psc->cache, time(NULL), psc->cache_retention,
			      psc->enabled)
	    < 0) {
		msg_warn("cache %s: cannot be walked: no cleanup",
			 psc_cache_spec(psc->cache));
		return;
	}
	events_timer(ev, psc_cleanup_timer, psc, psc->cache_interval_ms);
}

static void
psc_accept(struct skel_ctx *ctx, int fd)
{
	PSC		       *psc = ctx->app;
	PSC_STATE	       *state;
	struct sockaddr_storage ss;
	socklen_t		len;

	if (psc->ev == NULL)
		psc_start(psc);
	state = mycalloc(1, sizeof(*state));
	state->psc = psc;
	state->fd = fd;
	state->start_ms = events_now_ms();
	state->rcpt_reply = vstr_alloc(64);
	vstr_strcpy(state->rcpt_reply,
		    "450 4.3.2 Service currently unavailable\r\n");
	state->final_reply = "421 4.3.2 Service currently unavailable\r\n";
	state->final_buf = vstr_alloc(64);
	state->in = vstr_alloc(256);
	state->out = vstr_alloc(256);
	state->test_name = "tests before SMTP handshake";
	state->dnsbl_score = 0;
	psc->check_count++;
	(void)fd_set_nonblock(fd, true);

	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
		state->addr = mystrdup("unknown");
		state->port = mystrdup("unknown");
	} else {
		psc_endpoint(&ss, len, &state->addr, &state->port);
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		state->saddr = mystrdup("unknown");
		state->sport = mystrdup("unknown");
	} else {
		psc_endpoint(&ss, len, &state->saddr, &state->sport);
	}
	if (psc->upstream_haproxy) {
		state->haproxy = haproxy_alloc();
		events_timer(psc->ev, psc_haproxy_timer, state,
			     psc->upstream_timeout_ms);
		psc_watch(state, true);
		return;
	}
	psc_screen(state);
}

/* The PROXY header did not come in time. */
static void
psc_haproxy_timer(EVENTS *ev, void *context)
{
	PSC_STATE *state = context;

	(void)ev;
	msg_warn("haproxy read: time limit exceeded");
	psc_free(state);
}

/* Bytes of the PROXY header, or the end of the connection. */
static void
psc_haproxy_read(PSC_STATE *state)
{
	PSC			    *psc = state->psc;
	const struct haproxy_result *res;

	switch (haproxy_recv(state->haproxy, state->fd, psc->tmp)) {
	case HAPROXY_MORE:
		return;
	case HAPROXY_BAD:
		msg_warn("haproxy read: %s", VSTR_STR(psc->tmp));
		psc_free(state);
		return;
	case HAPROXY_DONE:
		break;
	}
	res = haproxy_result(state->haproxy);
	if (res->local && res->version == 1) {
		/* As Postfix: it would bypass address-based access control. */
		msg_warn("haproxy read: PROXY UNKNOWN refused: the client's "
			 "address is needed for access control");
		psc_free(state);
		return;
	}
	if (!res->local) {
		myfree(state->addr);
		myfree(state->port);
		myfree(state->saddr);
		myfree(state->sport);
		state->addr = mystrdup(res->client.addr);
		state->port = mystrdup(res->client.port);
		state->saddr = mystrdup(res->server.addr);
		state->sport = mystrdup(res->server.port);
	}
	state->haproxy = haproxy_free(state->haproxy);
	events_timer_cancel(psc->ev, psc_haproxy_timer, state);
	psc_watch(state, false);
	psc_screen(state);
}

/* The client's addresses are known: limits, lists, cache and tests. */
static void
psc_screen(PSC_STATE *state)
{
	PSC	*psc = state->psc;
	time_t	 now = time(NULL);
	time_t	 cached[PSC_TEST_COUNT];
	unsigned todo;
	int	 t;

	msg_info("CONNECT from [%s]:%s to [%s]:%s", state->addr, state->port,
		 state->saddr, state->sport);

	if (inet_prefix_key(state->addr, psc->v6_prefix_len, psc->tmp) == 0)
		state->key = mystrdup(VSTR_STR(psc->tmp));
	else
		state->key = mystrdup(state->addr);
	if (psc_count_add(psc->per_client, state->key, 1) > psc->cconn_limit
	    && psc->cconn_limit > 0) {
		vstr_sprintf(psc->tmp,
			     "NOQUEUE: reject: CONNECT from [%s]:%s: too many "
			     "connections",
			     state->addr, state->port);
		psc_refuse(state, VSTR_STR(psc->tmp),
			   "421 4.7.0 Error: too many connections\r\n");
		return;
	}
	if (psc->post_count >= psc->post_queue_limit) {
		vstr_sprintf(psc->tmp,
			     "NOQUEUE: reject: CONNECT from [%s]:%s: all "
			     "server ports busy",
			     state->addr, state->port);
		psc_refuse(state, VSTR_STR(psc->tmp),
			   "421 4.3.2 All server ports are busy\r\n");
		return;
	}

	/* The permanent allow/deny list comes first. */
	switch (psc_acl_eval(psc->acl, state->addr)) {
	case PSC_ACL_PERMIT:
		msg_info("ALLOWLISTED [%s]:%s", state->addr, state->port);
		psc_conclude(state);
		return;
	case PSC_ACL_REJECT:
		msg_info("DENYLISTED [%s]:%s", state->addr, state->port);
		state->flags |= PSC_FLAG_DNLIST_FAIL;
		switch (psc->dnlist_action) {
		case PSC_ACT_DROP:
			psc_drop(state, "521 5.3.2 Service currently "
					"unavailable\r\n");
			return;
		case PSC_ACT_ENFORCE:
			psc_enforce(state, "550 5.3.2 Service currently "
					   "unavailable\r\n");
			break;
		case PSC_ACT_IGNORE:
			state->flags &= ~PSC_FLAG_DNLIST_FAIL;
			break;
		}
		break;
	case PSC_ACL_DUNNO:
		break;
	}

	/* Then the cache: tests still valid need not be done again. */
	for (t = 0; t < PSC_TEST_COUNT; t++)
		state->expire[t] = 0;
	if (psc->cache != NULL
	    && psc_cache_lookup(psc->cache, state->addr, cached)) {
		memcpy(state->expire, cached, sizeof(cached));
	} else {
		state->flags |= PSC_FLAG_NEW;
	}
	todo = 0;
	for (t = 0; t < PSC_TEST_COUNT; t++)
		if ((psc->enabled & PSC_TODO(t)) && state->expire[t] <= now)
			todo |= PSC_TODO(t);
	state->flags |= todo;
	if (todo == 0 && (state->flags & PSC_FLAG_NEW) == 0
	    && (state->flags & PSC_FLAG_DNLIST_FAIL) == 0) {
		msg_info("PASS OLD [%s]:%s", state->addr, state->port);
		if (!psc_allowed_interface(psc, state->saddr)) {
			msg_info("ALLOWLIST VETO [%s]:%s", state->addr,
				 state->port);
			state->flags |= PSC_FLAG_NOFORWARD;
			psc_smtpd_tests(state);
			return;
		}
		psc_conclude(state);
		return;
	}
	if (!psc_allowed_interface(psc, state->saddr)) {
		msg_info("ALLOWLIST VETO [%s]:%s", state->addr, state->port);
		state->flags |= PSC_FLAG_NOFORWARD;
	}

	/* Room to test one more? */
	if (psc->check_count - 1 >= psc->pre_queue_limit) {
		vstr_sprintf(psc->tmp,
			     "reject: connect from [%s]:%s: all screening "
			     "ports busy",
			     state->addr, state->port);
		psc_refuse(state, VSTR_STR(psc->tmp),
			   "421 4.3.2 All screening ports are busy\r\n");
		return;
	}
	if (state->flags & PSC_EARLY_TESTS)
		psc_early_tests(state);
	else if (state->flags & (PSC_DEEP_TESTS | PSC_FLAG_NOFORWARD))
		psc_smtpd_tests(state);
	else
		psc_conclude(state);
}

/*
 * The cache holds what clients sent us: as in Postfix, root opens it
 * as mail_owner, so the file it creates belongs to mail_owner, in a
 * folder (data_directory) that is created for mail_owner when missing.
 */
static PSC_CACHE *
psc_open_cache(const CFG *cfg, const char *spec, VSTR *why)
{
	PSC_CACHE  *cache;
	const char *name = strchr(spec, ':');
	const char *slash;
	char	   *folder;
	uid_t	    uid;
	gid_t	    gid;

	if (geteuid() != 0 || strncmp(spec, "proxy:", 6) == 0 || name == NULL)
		return psc_cache_open(spec, why);
	if (user_lookup(cfg_get_str(cfg, "mail_owner"), &uid, &gid) < 0)
		msg_fatal("mail_owner %s: unknown user",
			  cfg_get_str(cfg, "mail_owner"));
	if ((slash = strrchr(name + 1, '/')) != NULL && slash > name + 1) {
		folder = mystrndup(name + 1, (size_t)(slash - name - 1));
		if (access(folder, F_OK) < 0
		    && mkdir_owned(folder, 0700, uid, gid) < 0)
			msg_warn("cannot create %s: %m", folder);
		myfree(folder);
	}
	if (setegid(gid) < 0 || seteuid(uid) < 0)
		msg_fatal("cannot set effective user to mail_owner: %m");
	cache = psc_cache_open(spec, why);
	if (seteuid(0) < 0 || setegid(0) < 0)
		msg_fatal("cannot restore the effective user: %m");
	return cache;
}

/* Read every parameter; everything that can fail fails here. */
static void
psc_pre_jail(struct skel_ctx *ctx)
{
	CFG	     *cfg = ctx->cfg;
	PSC	     *psc = mycalloc(1, sizeof(*psc));
	VSTR	     *why = vstr_alloc(100);
	const char   *name;
	const char   *value;
	struct rlimit rl;

	ctx->app = psc;
	psc->ctx = ctx;
	psc->cfg = cfg;
	psc->tmp = vstr_alloc(256);
	psc->per_client = mycalloc(1, sizeof(*psc->per_client));

	/* Thousands of clients: use every descriptor we may have. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}

	psc->greet_wait_ms = cfg_get_time(cfg, "postscreen_greet_wait") * 1000;
	psc->cmd_time_ms = cfg_get_time(cfg, "postscreen_command_time_limit")
			   * 1000;
	psc->cmd_count_limit = cfg_get_int(cfg,
					   "postscreen_command_count_limit");
	psc->cconn_limit =
	    cfg_get_int(cfg, "postscreen_client_connection_count_limit");
	psc->pre_queue_limit = cfg_get_int(cfg, "postscreen_pre_queue_limit");
	psc->post_queue_limit = cfg_get_int(cfg, "postscreen_post_queue_limit");
	psc->v6_prefix_len = (int)
	    cfg_get_int(cfg, "postscreen_client_ipv6_prefix_length");
	psc->greet_action = psc_action(cfg, "postscreen_greet_action");
	psc->dnlist_action =
	    psc_action(cfg,
		       cfg_compat_renamed(cfg, "postscreen_denylist_action",
					  "postscreen_blacklist_action", true));
	psc->dnsbl_action = psc_action(cfg, "postscreen_dnsbl_action");
	psc->pipel_action = psc_action(cfg, "postscreen_pipelining_action");
	psc->nsmtp_action = psc_action(cfg,
				       "postscreen_non_smtp_command_action");
	psc->barlf_action = psc_action(cfg, "postscreen_bare_newline_action");
	psc->dnsbl_threshold = cfg_get_int(cfg, "postscreen_dnsbl_threshold");
	psc->dnsbl_allow_threshold =
	    cfg_get_int(cfg,
			cfg_compat_renamed(cfg,
					   "postscreen_dnsbl_allowlist_threshold",
					   "postscreen_dnsbl_whitelist_threshold",
					   true));

	psc->enabled = PSC_TODO(PSC_TEST_PREGR);
	if (cfg_get_bool(cfg, "postscreen_pipelining_enable"))
		psc->enabled |= PSC_TODO(PSC_TEST_PIPEL);
	if (cfg_get_bool(cfg, "postscreen_non_smtp_command_enable"))
		psc->enabled |= PSC_TODO(PSC_TEST_NSMTP);
	if (cfg_get_bool(cfg, "postscreen_bare_newline_enable"))
		psc->enabled |= PSC_TODO(PSC_TEST_BARLF);
	psc->ttl[PSC_TEST_PREGR] = cfg_get_time(cfg, "postscreen_greet_ttl");
	psc->ttl[PSC_TEST_DNSBL] = cfg_get_time(cfg, "postscreen_dnsbl_ttl");
	psc->ttl[PSC_TEST_PIPEL] = cfg_get_time(cfg,
						"postscreen_pipelining_ttl");
	psc->ttl[PSC_TEST_NSMTP] =
	    cfg_get_time(cfg, "postscreen_non_smtp_command_ttl");
	psc->ttl[PSC_TEST_BARLF] = cfg_get_time(cfg,
						"postscreen_bare_newline_ttl");

	value = cfg_get_str(cfg, "postscreen_greet_banner");
	if (*value) {
		vstr_sprintf(psc->tmp, "220-%s\r\n", value);
		psc->teaser = mystrdup(VSTR_STR(psc->tmp));
	}
	psc->banner = mystrdup(cfg_get_str(cfg, "smtpd_banner"));
	psc->hostname = mystrdup(cfg_get_str(cfg, "myhostname"));
	psc->forbidden = mystrdup(
	    cfg_get_str(cfg, "postscreen_forbidden_commands"));
	vstr_sprintf(psc->tmp, "private/%s",
		     cfg_get_str(cfg, "smtpd_service_name"));
	psc->smtpd_path = mystrdup(VSTR_STR(psc->tmp));
	name = cfg_compat_renamed(cfg, "postscreen_allowlist_interfaces",
				  "postscreen_whitelist_interfaces", true);
	value = cfg_get_str(cfg, name);
	if (strcasecmp(value, "static:all") != 0)
		psc->allow_if = mystrdup(value);

	value = cfg_get_str(cfg, "postscreen_upstream_proxy_protocol");
	if (*value && strcmp(value, "haproxy") != 0)
		msg_fatal("unsupported postscreen_upstream_proxy_protocol "
			  "value: \"%s\" (empty or haproxy)",
			  value);
	psc->upstream_haproxy = *value != 0;
	psc->upstream_timeout_ms =
	    cfg_get_time(cfg, "postscreen_upstream_proxy_timeout") * 1000;

	psc->acl = psc_acl_open(cfg,
				cfg_get_str(cfg, "postscreen_access_list"));
	psc->cache_retention = cfg_get_time(cfg,
					    "postscreen_cache_retention_time");
	psc->cache_interval_ms =
	    cfg_get_time(cfg, "postscreen_cache_cleanup_interval") * 1000;
	value = cfg_get_str(cfg, "postscreen_cache_map");
	if (*value && (psc->cache = psc_open_cache(cfg, value, why)) == NULL)
		msg_fatal("postscreen_cache_map: %s", VSTR_STR(why));
	vstr_free(why);
}

static void
psc_pre_exit(struct skel_ctx *ctx)
{
	PSC		       *psc = ctx->app;
	struct psc_count_entry *e;
	struct psc_count_entry *next;
	int			i;

	if (psc == NULL)
		return;
	if (psc->ev != NULL)
		events_timer_cancel(psc->ev, psc_cleanup_timer, psc);
	psc->cache = psc_cache_close(psc->cache);
	if (psc->dnsbl != NULL)
		psc_dnsbl_free(psc->dnsbl);
	psc->acl = psc_acl_free(psc->acl);
	for (i = 0; i < PSC_COUNT_BUCKETS; i++)
		for (e = psc->per_client->bucket[i]; e != NULL; e = next) {
			next = e->next;
			myfree(e->key);
			myfree(e);
		}
	myfree(psc->per_client);
	myfree(psc->teaser);
	myfree(psc->banner);
	myfree(psc->hostname);
	myfree(psc->forbidden);
	myfree(psc->smtpd_path);
	myfree(psc->allow_if);
	vstr_free(psc->tmp);
	myfree(psc);
	ctx->app = NULL;
}

int
main(int argc, char **argv)
{
	return skel_multi_main(argc, argv,
			       &(const struct skel_ops){
				   .pre_jail = psc_pre_jail,
				   .accept = psc_accept,
				   .pre_exit = psc_pre_exit,
				   .unlimited = true,
			       });
}
