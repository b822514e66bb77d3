/*
 * mtasts - the MTA-STS (RFC 8461) policy daemon: main(), the client
 * connections, policy discovery, HTTPS fetches and the durable cache.
 *
 * One process (master.cf maxproc 1, not chrooted: it reads the CA store
 * and writes smtp_mta_sts_cache_map) under the multiplexing skeleton.
 * Clients (smtp, `postel tls-policy`) connect to private/mtasts and ask
 * "policy for DOMAIN" (util/mta_sts_proto.h).  For each request:
 *
 *   1. _mta-sts.DOMAIN TXT is looked up with util/dns (dns_nameservers
 *      honoured; the lookup blocks the loop for at most dns_timeout x
 *      dns_attempts, as a lookup does in every Postel daemon).
 *   2. A cached, unexpired policy whose id equals the TXT id is answered
 *      at once.  A cached policy is also answered when the TXT lookup
 *      failed or the record is gone (RFC 8461 5.1: a valid cached policy
 *      applies until it expires).
 *   3. Otherwise (new or changed id, nothing cached, cache expired) the
 *      policy is fetched from https://mta-sts.DOMAIN/.well-known/
 *      mta-sts.txt and the client waits for the fetch; several clients
 *      asking for one domain share one fetch.  On success the policy is
 *      stored with its id, fetch time and expiry (fetch + max_age) and
 *      answered; on failure the cached policy (even one of an older id)
 *      is answered while it has not expired, else "no policy", in both
 *      cases with the RFC 8460 failure type for TLS-RPT.
 *
 * Concurrency: fetches run in libcurl's multi interface driven by the
 * skeleton's event loop (curl's sockets and timer are events here), so
 * a slow web server never holds up other clients; at most
 * MTASTS_FETCH_MAX fetches run at once, and a request that would need
 * one more is answered from the cache (or as "no policy", failure
 * sts-policy-fetch-error).  Only the DNS lookups (TXT, and A/AAAA of
 * mta-sts.DOMAIN) block, bounded as said.
 *
 * Fetch rules (RFC 8461 3.3): HTTPS only, the host name resolved with
 * util/dns and pinned with CURLOPT_RESOLVE (port 443), the certificate
 * verified (smtp_mta_sts_CAfile / smtp_mta_sts_CApath, else the
 * system's store) against mta-sts.DOMAIN, no redirects, no proxies,
 * smtp_mta_sts_fetch_timeout for the whole fetch, HTTP 200 only,
 * Content-Type text/plain, at most MTA_STS_POLICY_MAX bytes.
 *
 * Refresh: a timer (started with the first client, as every timer of a
 * multiplexing daemon) walks the cache every MTASTS_REFRESH_SCAN seconds
 * or sooner and refetches, without a client waiting, each policy whose
 * remaining life is under a quarter of its max_age (RFC 8461 10.2:
 * refresh before expiry); a failed refresh keeps the cached policy.
 * Bounds: at most MTASTS_CACHE_MAX domains are cached; expired entries
 * are dropped when that is reached, and past it new policies are used
 * but not stored.
 *
 * Errors: a malformed request frame disconnects its client; a bad
 * request gets status FAIL.  The cache's folder is made for mail_owner
 * when missing (as postscreen does).  A cache that cannot be opened is
 * logged at start-up and mtasts works on without one,
 * fetching every policy it is asked for; a failing cache update is
 * logged and the policy still answered.
 *
 * SPDX-License-Identifier: ISC
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/dict.h"
#include "util/dns.h"
#include "util/msg.h"
#include "util/mta_sts.h"
#include "util/mta_sts_proto.h"
#include "util/mymalloc.h"
#include "util/skel.h"
#include "util/skel_conn.h"
#include "util/safe_file.h"
#include "util/strutil.h"
#include "util/user.h"
#include "util/vstr.h"

#define MTASTS_FETCH_MAX	16    /* concurrent HTTPS fetches */
#define MTASTS_CACHE_MAX	10000 /* domains in the cache */
#define MTASTS_REFRESH_SCAN	3600  /* seconds between cache walks */
#define MTASTS_REPLY_TIMEOUT_MS 10000
#define MTASTS_FRAME_MAX	4096

/* One HTTPS fetch in progress. */
struct mtasts_fetch {
	struct mtasts_fetch *next;
	char		    *domain;
	VSTR		    *id;   /* the TXT id it is fetched for */
	VSTR		    *body; /* what arrived so far */
	CURL		    *easy;
	struct curl_slist   *resolve;
	bool		     too_big;
	SKEL_CONN	   **waiting; /* clients to answer */
	size_t		     nwaiting;
};

struct mtasts_app {
	struct skel_ctx	    *ctx;
	DNS		    *dns;
	DNS_REPLY	    *reply;
	DICT		    *cache;
	long long	     timeout; /* smtp_mta_sts_fetch_timeout */
	const char	    *CAfile;
	const char	    *CApath;
	CURLM		    *multi;
	struct mtasts_fetch *fetches;
	size_t		     nfetches;
	long long	     ncached; /* entries in the cache */
	bool		     started;
	ATTR		    *rep;
	VSTR		    *why;
	VSTR		    *buf;
};

/* The outcome of a look at DNS and the cache for one domain. */
struct mtasts_state {
	int			   txt; /* 1 record, 0 none, -1 tempfail */
	VSTR			  *id;	/* TXT id when txt == 1 */
	VSTR			  *txt_why;
	bool			   cached; /* entry holds a cache record */
	struct mta_sts_cache_entry entry;
};

static struct mtasts_app *mtasts_app;

static void mtasts_refresh(EVENTS *ev, void *context);

static void
mtasts_state_init(struct mtasts_state *st)
{
	memset(st, 0, sizeof(*st));
	st->id = vstr_alloc(40);
	st->txt_why = vstr_alloc(64);
	st->entry.id = vstr_alloc(40);
}

static void
mtasts_state_free(struct mtasts_state *st)
{
	vstr_free(st->id);
	vstr_free(st->txt_why);
	vstr_free(st->entry.id);
	mta_sts_policy_free(&st->entry.policy);
}

/* _mta-sts.DOMAIN TXT: 1 with id, 0 no usable record, -1 lookup failed. */
static int
mtasts_txt(struct mtasts_app *app, const char *domain, VSTR *id, VSTR *why)
{
	VSTR	       *qname = vstr_alloc(64);
	const char     *txt[DNS_RR_MAX];
	size_t		len[DNS_RR_MAX];
	size_t		n = 0;
	enum dns_status ds;

	vstr_sprintf(qname, "_mta-sts.%s", domain);
	ds = dns_lookup(app->dns, VSTR_STR(qname), DNS_TYPE_TXT, app->reply,
			why);
	vstr_free(qname);
	if (ds == DNS_TEMPFAIL)
		return -1;
	if (ds == DNS_NOTFOUND) {
		vstr_strcpy(why, "no _mta-sts TXT record");
		return 0;
	}
	for (size_t i = 0; i < app->reply->count; i++) {
		const DNS_RR *rr = &app->reply->rr[i];

		if (rr->type != DNS_TYPE_TXT)
			continue;
		txt[n] = VSTR_STR(rr->data);
		len[n] = VSTR_LEN(rr->data);
		n++;
	}
	return mta_sts_txt_select(txt, len, n, id, why) == 0 ? 1 : 0;
}

static void
mtasts_cache_read(struct mtasts_app *app, const char *domain,
		  struct mtasts_state *st)
{
	const char *value;

	st->cached = false;
	if (app->cache != NULL
	    && dict_lookup(app->cache, domain, &value) == 1) {
		if (mta_sts_cache_decode(value, &st->entry, app->why) == 0)
			st->cached = true;
		else
			msg_warn("%s: bad cache entry for %s: %s; ignored",
				 dict_spec(app->cache), domain,
				 VSTR_STR(app->why));
	}
}

/* Drop expired entries; count what is left. */
static void
mtasts_cache_sweep(struct mtasts_app *app)
{
	struct mta_sts_cache_entry e;
	const char		  *key;
	const char		  *value;
	char			 **dead = NULL;
	size_t			   ndead = 0;
	long long		   now = (long long)time(NULL);
	int			   ret;

	app->ncached = 0;
	if (app->cache == NULL)
		return;
	memset(&e, 0, sizeof(e));
	e.id = vstr_alloc(40);
	for (ret = dict_first(app->cache, &key, &value); ret == 1;
	     ret = dict_next(app->cache, &key, &value)) {
		if (mta_sts_cache_decode(value, &e, NULL) < 0
		    || e.expires <= now) {
			dead = myrealloc(dead, (ndead + 1) * sizeof(*dead));
			dead[ndead++] = mystrdup(key);
		} else {
			app->ncached++;
		}
	}
	for (size_t i = 0; i < ndead; i++) {
		(void)dict_delete(app->cache, dead[i]);
		myfree(dead[i]);
	}
	myfree(dead);
	mta_sts_policy_free(&e.policy);
	vstr_free(e.id);
}

static void
mtasts_cache_store(struct mtasts_app *app, const char *domain,
		   const struct mta_sts_cache_entry *e, bool is_new)
{
	if (app->cache == NULL)
		return;
	if (is_new && app->ncached >= MTASTS_CACHE_MAX) {
		mtasts_cache_sweep(app);
		if (app->ncached >= MTASTS_CACHE_MAX) {
			msg_warn("%s: full (%d domains); policy of %s not "
				 "stored",
				 dict_spec(app->cache), MTASTS_CACHE_MAX,
				 domain);
			return;
		}
	}
	mta_sts_cache_encode(e, app->buf);
	if (dict_update(app->cache, domain, VSTR_STR(app->buf)) < 0) {
		msg_warn("%s: cannot store the policy of %s: %m",
			 dict_spec(app->cache), domain);
		return;
	}
	if (is_new)
		app->ncached++;
}

/* Make sure the refresh timer runs by time `at` (seconds). */
static void
mtasts_refresh_at(struct mtasts_app *app, long long at)
{
	long long delay = at - (long long)time(NULL);
	long	  left;

	if (!app->started)
		return;
	if (delay < 1)
		delay = 1;
	left = events_timer_left(app->ctx->events, mtasts_refresh, app);
	if (left < 0 || delay * 1000 < left)
		events_timer(app->ctx->events, mtasts_refresh, app,
			     delay * 1000);
}

/* Answer one waiting client (a failed write closes it). */
static void
mtasts_answer(SKEL_CONN *c, const struct mta_sts_reply *rp)
{
	struct mtasts_app *app = mtasts_app;

	mta_sts_reply_encode(rp, app->rep);
	(void)skel_conn_reply(c, app->rep);
}

/* Reply from a cache entry, with the failure of a refresh if any. */
static void
mtasts_reply_entry(struct mta_sts_reply		    *rp,
		   const struct mta_sts_cache_entry *e, const char *failure,
		   const char *detail)
{
	memset(rp, 0, sizeof(*rp));
	rp->status = MTA_STS_STAT_POLICY;
	rp->id = VSTR_STR(e->id);
	rp->fetched = e->fetched;
	rp->expires = e->expires;
	rp->policy = e->policy; /* borrowed: not freed through rp */
	rp->failure = failure;
	rp->detail = detail;
}

static size_t
mtasts_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct mtasts_fetch *f = userdata;
	size_t		     len = size * nmemb;

	if (VSTR_LEN(f->body) + len > MTA_STS_POLICY_MAX) {
		f->too_big = true;
		return 0;
	}
	vstr_memcat(f->body, ptr, len);
	return len;
}

/*
 * The addresses of mta-sts.DOMAIN as a CURLOPT_RESOLVE entry into out.
 * 0, or -1 (why).
 */
static int
mtasts_resolve(struct mtasts_app *app, const char *host, VSTR *out, VSTR *why)
{
	static const int types[] = { DNS_TYPE_A, DNS_TYPE_AAAA };
	size_t		 naddr = 0;
	bool		 tempfail = false;

	vstr_sprintf(out, "%s:443:", host);
	for (size_t t = 0; t < 2; t++) {
		enum dns_status ds = dns_lookup(app->dns, host, types[t],
						app->reply, why);

		if (ds == DNS_TEMPFAIL)
			tempfail = true;
		if (ds != DNS_OK)
			continue;
		for (size_t i = 0; i < app->reply->count && naddr < 8; i++) {
			const DNS_RR *rr = &app->reply->rr[i];

			if (rr->type != types[t])
				continue;
			vstr_sprintf_append(out,
					    rr->type == DNS_TYPE_AAAA ? "%s[%s]"
								      : "%s%s",
					    naddr ? "," : "",
					    VSTR_STR(rr->data));
			naddr++;
		}
	}
	if (naddr == 0) {
		vstr_sprintf(why, "%s: %s", host,
			     tempfail ? "address lookup failed"
				      : "host not found");
		return -1;
	}
	return 0;
}

static struct mtasts_fetch *
mtasts_fetch_find(struct mtasts_app *app, const char *domain)
{
	for (struct mtasts_fetch *f = app->fetches; f; f = f->next)
		if (strcmp(f->domain, domain) == 0)
			return f;
	return NULL;
}

static void
mtasts_fetch_free(struct mtasts_app *app, struct mtasts_fetch *f)
{
	struct mtasts_fetch **pp;

	for (pp = &app->fetches; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	app->nfetches--;
	if (f->easy) {
		curl_multi_remove_handle(app->multi, f->easy);
		curl_easy_cleanup(f->easy);
	}
	curl_slist_free_all(f->resolve);
	myfree(f->domain);
	vstr_free(f->id);
	vstr_free(f->body);
	myfree(f->waiting);
	myfree(f);
}

/*
 * Start fetching the policy of domain for id.  NULL (why, failure)
 * when it cannot start.
 */
static struct mtasts_fetch *
mtasts_fetch_start(struct mtasts_app *app, const char *domain, const char *id,
		   VSTR *why)
{
	struct mtasts_fetch *f;
	VSTR		    *host = vstr_alloc(64);
	VSTR		    *url = vstr_alloc(100);
	VSTR		    *res = vstr_alloc(100);
	CURL		    *e;

	if (app->nfetches >= MTASTS_FETCH_MAX) {
		vstr_sprintf(why, "too many policy fetches at once (%d)",
			     MTASTS_FETCH_MAX);
		goto fail;
	}
	vstr_sprintf(host, "mta-sts.%s", domain);
	if (mtasts_resolve(app, VSTR_STR(host), res, why) < 0)
		goto fail;
	vstr_sprintf(url, "https://%s/.well-known/mta-sts.txt", VSTR_STR(host));
	if ((e = curl_easy_init()) == NULL) {
		vstr_strcpy(why, "curl_easy_init failed");
		goto fail;
	}
	f = mycalloc(1, sizeof(*f));
	f->domain = mystrdup(domain);
	f->id = vstr_alloc(40);
	vstr_strcpy(f->id, id);
	f->body = vstr_alloc(1024);
	f->easy = e;
	f->resolve = curl_slist_append(NULL, VSTR_STR(res));
	curl_easy_setopt(e, CURLOPT_URL, VSTR_STR(url));
	curl_easy_setopt(e, CURLOPT_RESOLVE, f->resolve);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (*app->CAfile)
		curl_easy_setopt(e, CURLOPT_CAINFO, app->CAfile);
	if (*app->CApath)
		curl_easy_setopt(e, CURLOPT_CAPATH, app->CApath);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, app->timeout * 1000L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, app->timeout * 1000L);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)MTA_STS_POLICY_MAX);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "Postel-mtasts/1");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, mtasts_curl_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(e, CURLOPT_PRIVATE, f);
	f->next = app->fetches;
	app->fetches = f;
	app->nfetches++;
	if (curl_multi_add_handle(app->multi, e) != CURLM_OK) {
		vstr_strcpy(why, "curl_multi_add_handle failed");
		mtasts_fetch_free(app, f);
		goto fail;
	}
	if (msg_verbose)
		msg_info("fetching %s (id %s)", VSTR_STR(url), id);
	vstr_free(host);
	vstr_free(url);
	vstr_free(res);
	return f;
fail:
	vstr_free(host);
	vstr_free(url);
	vstr_free(res);
	return NULL;
}

/* Is the Content-Type text/plain (parameters allowed)? */
static bool
mtasts_text_plain(const char *type)
{
	size_t n = sizeof("text/plain") - 1;

	return type != NULL && strncasecmp(type, "text/plain", n) == 0
	       && (type[n] == 0 || type[n] == ';' || type[n] == ' ');
}

/* A fetch ended (result): store, then answer everyone waiting. */
static void
mtasts_fetch_done(struct mtasts_app *app, struct mtasts_fetch *f,
		  CURLcode result)
{
	struct mtasts_state  st;
	struct mta_sts_reply rp;
	MTA_STS_POLICY	     policy;
	const char	    *failure = NULL;
	long		     code = 0;
	char		    *type = NULL;
	long long	     now = (long long)time(NULL);
	SKEL_CONN	   **waiting;
	size_t		     nwaiting;

	memset(&policy, 0, sizeof(policy));
	vstr_reset(app->why);
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &type);
	if (result != CURLE_OK) {
		failure = "sts-policy-fetch-error";
		vstr_sprintf(app->why, "%s",
			     f->too_big || result == CURLE_FILESIZE_EXCEEDED
				 ? "policy larger than 64 KiB"
				 : curl_easy_strerror(result));
	} else if (code != 200) {
		failure = "sts-policy-fetch-error";
		vstr_sprintf(app->why, "HTTP status %ld", code);
	} else if (!mtasts_text_plain(type)) {
		failure = "sts-policy-fetch-error";
		vstr_sprintf(app->why, "Content-Type is %s, not text/plain",
			     type ? type : "missing");
	} else if (mta_sts_policy_parse(VSTR_STR(f->body), VSTR_LEN(f->body),
					&policy, app->why)
		   < 0) {
		failure = "sts-policy-invalid";
	}
	mtasts_state_init(&st);
	mtasts_cache_read(app, f->domain, &st);
	if (failure == NULL) {
		bool is_new = !st.cached;

		vstr_strcpy(st.entry.id, VSTR_STR(f->id));
		st.entry.fetched = now;
		st.entry.expires = now + policy.max_age;
		st.entry.checked = now;
		mta_sts_policy_copy(&st.entry.policy, &policy);
		st.cached = true;
		msg_info("%s: MTA-STS policy id %s fetched: mode %s, "
			 "max_age %lld",
			 f->domain, VSTR_STR(f->id),
			 mta_sts_mode_name(policy.mode), policy.max_age);
		mtasts_cache_store(app, f->domain, &st.entry, is_new);
		mtasts_refresh_at(app, st.entry.expires
					   - st.entry.policy.max_age / 4);
	} else {
		msg_warn("%s: MTA-STS policy fetch from mta-sts.%s failed: "
			 "%s (%s)%s",
			 f->domain, f->domain, VSTR_STR(app->why), failure,
			 st.cached && st.entry.expires > now
			     ? "; the cached policy still applies"
			     : "");
	}
	if (st.cached && st.entry.expires > now)
		mtasts_reply_entry(&rp, &st.entry, failure ? failure : "",
				   failure ? VSTR_STR(app->why) : "");
	else
		rp = (struct mta_sts_reply){ .status = MTA_STS_STAT_NONE,
					     .failure = failure,
					     .detail = VSTR_STR(app->why) };
	/*
	 * Answering may close connections, whose close hook looks for them
	 * in f->waiting: take the list out first.  Never frees the fetch.
	 */
	waiting = f->waiting;
	nwaiting = f->nwaiting;
	f->waiting = NULL;
	f->nwaiting = 0;
	for (size_t i = 0; i < nwaiting; i++)
		mtasts_answer(waiting[i], &rp);
	myfree(waiting);
	mta_sts_policy_free(&policy);
	mtasts_state_free(&st);
	mtasts_fetch_free(app, f);
}

static void
mtasts_curl_check(struct mtasts_app *app)
{
	CURLMsg *m;
	int	 left;

	while ((m = curl_multi_info_read(app->multi, &left)) != NULL) {
		struct mtasts_fetch *f = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &f);
		if (f != NULL)
			mtasts_fetch_done(app, f, m->data.result);
	}
}

static void
mtasts_curl_fd_event(EVENTS *ev, int fd, int what, void *context)
{
	struct mtasts_app *app = context;
	int		   flags = 0;
	int		   running;

	(void)ev;
	if (what & EVENTS_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EVENTS_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (what & EVENTS_ERROR)
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(app->multi, fd, flags, &running);
	mtasts_curl_check(app);
}

static void
mtasts_curl_timer_event(EVENTS *ev, void *context)
{
	struct mtasts_app *app = context;
	int		   running;

	(void)ev;
	curl_multi_socket_action(app->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	mtasts_curl_check(app);
}

static int
mtasts_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp,
		   void *socketp)
{
	struct mtasts_app *app = userp;
	int		   want = 0;

	(void)easy;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		events_unwatch(app->ctx->events, s);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		want |= EVENTS_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		want |= EVENTS_WRITE;
	if (events_watch(app->ctx->events, s, want, mtasts_curl_fd_event, app)
	    < 0) {
		msg_warn("watch curl socket: %m");
		return -1;
	}
	return 0;
}

static int
mtasts_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct mtasts_app *app = userp;

	(void)multi;
	if (timeout_ms < 0)
		events_timer_cancel(app->ctx->events, mtasts_curl_timer_event,
				    app);
	else
		events_timer(app->ctx->events, mtasts_curl_timer_event, app,
			     timeout_ms);
	return 0;
}

/*
 * Serve one request: answer now, or queue the client on a fetch.
 * 0, or -1 to disconnect.
 */
static int
mtasts_serve(SKEL_CONN *c, const ATTR *req)
{
	struct mtasts_app     *app = skel_conn_ctx(c)->app;
	struct mta_sts_request rq;
	struct mta_sts_reply   rp;
	struct mtasts_state    st;
	struct mtasts_fetch   *f;
	VSTR		      *domain;
	long long	       now = (long long)time(NULL);
	bool		       fresh;

	if (mta_sts_request_decode(req, &rq, app->why) < 0) {
		msg_warn("bad request: %s", VSTR_STR(app->why));
		rp = (struct mta_sts_reply){ .status = MTA_STS_STAT_FAIL,
					     .detail = "bad request" };
		mta_sts_reply_encode(&rp, app->rep);
		return skel_conn_reply(c, app->rep);
	}
	domain = vstr_alloc(64);
	vstr_strcpy(domain, rq.domain);
	vstr_lower(domain);
	if (VSTR_LEN(domain) > 0 && VSTR_END(domain)[-1] == '.')
		vstr_truncate(domain, VSTR_LEN(domain) - 1);
	mtasts_state_init(&st);
	st.txt = mtasts_txt(app, VSTR_STR(domain), st.id, st.txt_why);
	mtasts_cache_read(app, VSTR_STR(domain), &st);
	fresh = st.cached && st.entry.expires > now;
	if (msg_verbose)
		msg_info("%s: txt=%d (%s) cached=%d fresh=%d", VSTR_STR(domain),
			 st.txt,
			 st.txt == 1 ? VSTR_STR(st.id) : VSTR_STR(st.txt_why),
			 st.cached, fresh);
	if (fresh
	    && (st.txt != 1
		|| strcmp(VSTR_STR(st.id), VSTR_STR(st.entry.id)) == 0)) {
		mtasts_reply_entry(&rp, &st.entry, "", "");
		goto answer;
	}
	if (st.txt != 1) {
		rp = (struct mta_sts_reply){ .status = MTA_STS_STAT_NONE,
					     .failure = "",
					     .detail = VSTR_STR(st.txt_why) };
		goto answer;
	}
	/* New or changed id, or nothing usable cached: fetch. */
	if ((f = mtasts_fetch_find(app, VSTR_STR(domain))) == NULL)
		f = mtasts_fetch_start(app, VSTR_STR(domain), VSTR_STR(st.id),
				       app->why);
	if (f == NULL) {
		msg_warn("%s: MTA-STS policy fetch not started: %s",
			 VSTR_STR(domain), VSTR_STR(app->why));
		if (fresh)
			mtasts_reply_entry(&rp, &st.entry,
					   "sts-policy-fetch-error",
					   VSTR_STR(app->why));
		else
			rp = (struct mta_sts_reply){
				.status = MTA_STS_STAT_NONE,
				.failure = "sts-policy-fetch-error",
				.detail = VSTR_STR(app->why)
			};
		goto answer;
	}
	f->waiting = myrealloc(f->waiting,
			       (f->nwaiting + 1) * sizeof(*f->waiting));
	f->waiting[f->nwaiting++] = c;
	skel_conn_later(c);
	mtasts_state_free(&st);
	vstr_free(domain);
	return 0;

answer:
	mta_sts_reply_encode(&rp, app->rep);
	mtasts_state_free(&st);
	vstr_free(domain);
	return skel_conn_reply(c, app->rep);
}

/* A client is gone: it no longer waits for a fetch. */
static void
mtasts_conn_close(SKEL_CONN *c)
{
	struct mtasts_app *app = skel_conn_ctx(c)->app;

	if (!skel_conn_waiting(c))
		return;
	for (struct mtasts_fetch *f = app->fetches; f; f = f->next)
		for (size_t i = 0; i < f->nwaiting; i++)
			if (f->waiting[i] == c) {
				f->waiting[i] = f->waiting[--f->nwaiting];
				return;
			}
}

static const struct skel_conn_ops mtasts_conn_ops = {
	.serve = mtasts_serve,
	.close = mtasts_conn_close,
	.frame_max = MTASTS_FRAME_MAX,
	.reply_timeout_ms = MTASTS_REPLY_TIMEOUT_MS,
};

/*
 * Refresh policies before they expire: refetch those with less than a
 * quarter of their max_age left, then look again when the next one is
 * due (at most MTASTS_REFRESH_SCAN seconds later).
 */
static void
mtasts_refresh(EVENTS *ev, void *context)
{
	struct mtasts_app	  *app = context;
	struct mta_sts_cache_entry e;
	const char		  *key;
	const char		  *value;
	char			 **due = NULL;
	size_t			   ndue = 0;
	long long		   now = (long long)time(NULL);
	long long		   next = MTASTS_REFRESH_SCAN;
	int			   ret;

	if (app->cache == NULL)
		return;
	memset(&e, 0, sizeof(e));
	e.id = vstr_alloc(40);
	for (ret = dict_first(app->cache, &key, &value); ret == 1;
	     ret = dict_next(app->cache, &key, &value)) {
		long long at;

		if (mta_sts_cache_decode(value, &e, NULL) < 0
		    || e.expires <= now)
			continue;
		at = e.expires - e.policy.max_age / 4;
		if (at <= now && (e.checked < at || now - e.checked >= 300)) {
			due = myrealloc(due, (ndue + 1) * sizeof(*due));
			due[ndue++] = mystrdup(key);
		} else if (at > now && at - now < next) {
			next = at - now;
		} else if (at <= now && 300 - (now - e.checked) < next) {
			next = 300 - (now - e.checked);
		}
	}
	for (size_t i = 0; i < ndue; i++) {
		struct mtasts_state st;

		mtasts_state_init(&st);
		st.txt = mtasts_txt(app, due[i], st.id, st.txt_why);
		mtasts_cache_read(app, due[i], &st);
		if (st.cached) {
			/* Checked now: the next attempt in 5 minutes. */
			st.entry.checked = now;
			mtasts_cache_store(app, due[i], &st.entry, false);
		}
		if (st.txt == 1 && mtasts_fetch_find(app, due[i]) == NULL) {
			msg_info("%s: refreshing the MTA-STS policy before "
				 "it expires",
				 due[i]);
			if (mtasts_fetch_start(app, due[i], VSTR_STR(st.id),
					       app->why)
			    == NULL)
				msg_warn("%s: MTA-STS policy refresh not "
					 "started: %s",
					 due[i], VSTR_STR(app->why));
		}
		mtasts_state_free(&st);
		myfree(due[i]);
	}
	myfree(due);
	mta_sts_policy_free(&e.policy);
	vstr_free(e.id);
	if (next < 1)
		next = 1;
	events_timer(ev, mtasts_refresh, app, next * 1000);
}

static void
mtasts_accept(struct skel_ctx *ctx, int fd)
{
	struct mtasts_app *app = ctx->app;

	if (!app->started) {
		app->started = true;
		app->ctx = ctx;
		curl_multi_setopt(app->multi, CURLMOPT_SOCKETFUNCTION,
				  mtasts_curl_socket);
		curl_multi_setopt(app->multi, CURLMOPT_SOCKETDATA, app);
		curl_multi_setopt(app->multi, CURLMOPT_TIMERFUNCTION,
				  mtasts_curl_timer);
		curl_multi_setopt(app->multi, CURLMOPT_TIMERDATA, app);
		events_timer(ctx->events, mtasts_refresh, app, 1000);
	}
	(void)skel_conn_open(ctx, fd, &mtasts_conn_ops, NULL);
}

/*
 * As postscreen does for its cache: the cache's folder (data_directory
 * by default) is created for mail_owner when it is missing, while we
 * are still root; the table itself is opened after the drop.
 */
static void
mtasts_cache_folder(const CFG *cfg)
{
	const char *spec = cfg_get_str(cfg, "smtp_mta_sts_cache_map");
	const char *name = strchr(spec, ':');
	const char *slash;
	char	   *folder;
	uid_t	    uid;
	gid_t	    gid;

	if (geteuid() != 0 || name == NULL || strncmp(spec, "proxy:", 6) == 0
	    || (slash = strrchr(name + 1, '/')) == NULL || slash == name + 1)
		return;
	if (user_lookup(cfg_get_str(cfg, "mail_owner"), &uid, &gid) < 0)
		msg_fatal("mail_owner %s: unknown user",
			  cfg_get_str(cfg, "mail_owner"));
	folder = mystrndup(name + 1, (size_t)(slash - name - 1));
	if (access(folder, F_OK) < 0 && mkdir_owned(folder, 0700, uid, gid) < 0)
		msg_warn("cannot create %s: %m", folder);
	myfree(folder);
}

static void
mtasts_pre_jail(struct skel_ctx *ctx)
{
	struct mtasts_app *app = mycalloc(1, sizeof(*app));

	if (ctx->argc > 0)
		msg_fatal("unexpected command-line argument: %s", ctx->argv[0]);
	if ((app->dns = dns_open(ctx->cfg)) == NULL)
		msg_fatal_status(78, "bad dns_nameservers setting");
	mtasts_cache_folder(ctx->cfg);
	app->reply = dns_reply_alloc();
	app->timeout = cfg_get_time(ctx->cfg, "smtp_mta_sts_fetch_timeout");
	app->CAfile = cfg_get_str(ctx->cfg, "smtp_mta_sts_CAfile");
	app->CApath = cfg_get_str(ctx->cfg, "smtp_mta_sts_CApath");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		msg_fatal("cannot initialise libcurl");
	if ((app->multi = curl_multi_init()) == NULL)
		msg_fatal("cannot initialise libcurl (multi)");
	app->rep = attr_alloc();
	app->why = vstr_alloc(64);
	app->buf = vstr_alloc(256);
	ctx->app = app;
	mtasts_app = app;
}

static void
mtasts_post_jail(struct skel_ctx *ctx)
{
	struct mtasts_app *app = ctx->app;
	const char *spec = cfg_get_str(ctx->cfg, "smtp_mta_sts_cache_map");
	VSTR	   *why = vstr_alloc(64);

	/* Opened as mail_owner, so the files it creates are ours. */
	if ((app->cache = dict_open(spec,
				    DICT_FLAG_WRITE | DICT_FLAG_DUP_REPLACE
					| DICT_FLAG_SYNC_UPDATE,
				    why))
	    == NULL)
		msg_warn("smtp_mta_sts_cache_map: %s; policies are not "
			 "kept across restarts",
			 VSTR_STR(why));
	mtasts_cache_sweep(app);
	vstr_free(why);
}

static void
mtasts_pre_exit(struct skel_ctx *ctx)
{
	struct mtasts_app *app = ctx->app;

	if (app == NULL)
		return;
	while (app->fetches)
		mtasts_fetch_free(app, app->fetches);
	curl_multi_cleanup(app->multi);
	curl_global_cleanup();
	app->cache = dict_close(app->cache);
	dns_close(app->dns);
	dns_reply_free(app->reply);
	attr_free(app->rep);
	vstr_free(app->why);
	vstr_free(app->buf);
	myfree(app);
	ctx->app = NULL;
	mtasts_app = NULL;
}

int
main(int argc, char **argv)
{
	return skel_multi_main(argc, argv,
			       &(const struct skel_ops){
				   .pre_jail = mtasts_pre_jail,
				   .post_jail = mtasts_post_jail,
				   .accept = mtasts_accept,
				   .pre_exit = mtasts_pre_exit,
				   .unlimited = true,
			       });
}
