/*
 * proxymap - read-only table lookups for daemons that cannot open the
 * table themselves (chrooted smtpd and the password database).
 *
 * Runs unchrooted as mail_owner (master.cf: proxymap unix - - n - - ...).
 * A client ("proxy:type:name", util/dict_proxy.c) sends one request frame
 * per connection (util/proxy_proto.h): open checks that the table may be
 * and can be opened, lookup answers one key.  Only tables that
 * proxy_read_maps names as "proxy:type:name" are served; any other
 * request is refused (DENY) with a warning that says how to approve it,
 * as Postfix's proxymap does.  Requests never write.
 *
 * Tables stay open between requests (at most PROXYMAP_TABLES_MAX, keyed
 * by name and flags); a file-backed table that was rebuilt is reopened
 * before the next lookup.
 *
 * Errors: a malformed request gets BAD and a warning; a table that cannot
 * be opened or read gets RETRY (the client defers) and a warning.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "util/attr.h"
#include "util/cfg.h"
#include "util/dict.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/proxy_proto.h"
#include "util/skel.h"
#include "util/vstr.h"

#define PROXYMAP_TABLES_MAX 256 /* open tables kept per process */

struct proxymap_table {
	char *name; /* "type:name" */
	int   flags;
	DICT *dict;
};

struct proxymap {
	char		    **allowed; /* proxy_read_maps, "proxy:" removed */
	size_t		      nallowed;
	struct proxymap_table tables[PROXYMAP_TABLES_MAX];
	size_t		      ntables;
	VSTR		     *item;
	VSTR		     *why;
};

static void
proxymap_allow(const char *item, size_t len, void *ctx)
{
	struct proxymap *pm = ctx;

	/* Only "proxy:type:name" entries approve a table. */
	if (len <= 6 || strncmp(item, "proxy:", 6) != 0)
		return;
	vstr_memcpy(pm->item, item + 6, len - 6);
	for (size_t i = 0; i < pm->nallowed; i++)
		if (strcmp(pm->allowed[i], VSTR_STR(pm->item)) == 0)
			return;
	pm->allowed = myrealloc(pm->allowed,
				(pm->nallowed + 1) * sizeof(*pm->allowed));
	pm->allowed[pm->nallowed++] = mystrdup(VSTR_STR(pm->item));
}

static bool
proxymap_allowed(const struct proxymap *pm, const char *table)
{
	for (size_t i = 0; i < pm->nallowed; i++)
		if (strcmp(pm->allowed[i], table) == 0)
			return true;
	return false;
}

/* The open table for a request, opening (or reopening) it; NULL + why. */
static DICT *
proxymap_table(struct proxymap *pm, const struct proxy_request *req)
{
	struct proxymap_table *t = NULL;

	for (size_t i = 0; i < pm->ntables; i++)
		if (pm->tables[i].flags == req->flags
		    && strcmp(pm->tables[i].name, req->table) == 0)
			t = &pm->tables[i];
	if (t != NULL && t->dict != NULL && dict_changed(t->dict))
		t->dict = dict_close(t->dict);
	if (t == NULL) {
		/* Full: forget the oldest table (it is reopened on demand). */
		if (pm->ntables == PROXYMAP_TABLES_MAX) {
			dict_close(pm->tables[0].dict);
			myfree(pm->tables[0].name);
			memmove(&pm->tables[0], &pm->tables[1],
				(PROXYMAP_TABLES_MAX - 1) * sizeof(*t));
			pm->ntables--;
		}
		t = &pm->tables[pm->ntables];
		t->dict = NULL;
		t->name = NULL;
	}
	if (t->dict == NULL) {
		vstr_reset(pm->why);
		if ((t->dict = dict_open(req->table, req->flags, pm->why))
		    == NULL)
			return NULL;
		if (t->name == NULL) {
			t->name = mystrdup(req->table);
			t->flags = req->flags;
			pm->ntables++;
		}
	}
	return t->dict;
}

static void
proxymap_request(struct skel_ctx *ctx, const void *arg, const ATTR *in,
		 ATTR *out)
{
	struct proxymap	    *pm = ctx->app;
	struct proxy_request req;
	struct proxy_reply   rep = { .status = PROXY_STAT_OK };
	VSTR		    *reason = vstr_alloc(64);
	const char	    *value;
	DICT		    *d;

	(void)arg;
	if (proxy_request_decode(in, &req, pm->why) < 0) {
		msg_warn("bad request: %s", VSTR_STR(pm->why));
		rep.status = PROXY_STAT_BAD;
		rep.reason = VSTR_STR(pm->why);
	} else if (!proxymap_allowed(pm, req.table)) {
		msg_warn("request for unapproved table: \"%s\"", req.table);
		msg_warn("to approve this table for read-only access, list "
			 "proxy:%s in main.cf:proxy_read_maps",
			 req.table);
		vstr_sprintf(reason,
			     "table %s is not listed in "
			     "proxy_read_maps",
			     req.table);
		rep.status = PROXY_STAT_DENY;
		rep.reason = VSTR_STR(reason);
	} else if ((d = proxymap_table(pm, &req)) == NULL) {
		msg_warn("%s", VSTR_STR(pm->why));
		vstr_strcpy(reason, VSTR_STR(pm->why));
		rep.status = PROXY_STAT_RETRY;
		rep.reason = VSTR_STR(reason);
	} else if (strcmp(req.request, PROXY_REQ_LOOKUP) == 0) {
		switch (dict_lookup(d, req.key, &value)) {
		case 1:
			rep.value = value;
			break;
		case 0:
			rep.status = PROXY_STAT_NOKEY;
			break;
		default:
			vstr_sprintf(reason, "table %s: lookup failed",
				     req.table);
			rep.status = PROXY_STAT_RETRY;
			rep.reason = VSTR_STR(reason);
		}
	}
	proxy_reply_encode(&rep, out);
	vstr_free(reason);
}

static void
proxymap_pre_jail(struct skel_ctx *ctx)
{
	struct proxymap *pm = mycalloc(1, sizeof(*pm));

	pm->item = vstr_alloc(64);
	pm->why = vstr_alloc(64);
	if (dict_list_split(cfg_get_str(ctx->cfg, "proxy_read_maps"),
			    proxymap_allow, pm, pm->why)
	    < 0)
		msg_fatal("proxy_read_maps: %s", VSTR_STR(pm->why));
	ctx->app = pm;
}

static void
proxymap_service(struct skel_ctx *ctx, int fd)
{
	skel_serve_frames(ctx, fd, proxymap_request, NULL);
}

static void
proxymap_pre_exit(struct skel_ctx *ctx)
{
	struct proxymap *pm = ctx->app;

	if (pm == NULL)
		return;
	for (size_t i = 0; i < pm->ntables; i++) {
		dict_close(pm->tables[i].dict);
		myfree(pm->tables[i].name);
	}
	for (size_t i = 0; i < pm->nallowed; i++)
		myfree(pm->allowed[i]);
	myfree(pm->allowed);
	vstr_free(pm->item);
	vstr_free(pm->why);
	myfree(pm);
	ctx->app = NULL;
}

int
main(int argc, char **argv)
{
	return skel_single_main(argc, argv,
				&(const struct skel_ops){
				    .pre_jail = proxymap_pre_jail,
				    .service = proxymap_service,
				    .pre_exit = proxymap_pre_exit,
				});
}
