/*
 * proxymap - table lookups for daemons that cannot open the table
 * themselves (chrooted smtpd and the password database), and, as the
 * proxywrite service, updates of the tables Postel itself writes.
 *
 * Runs unchrooted as mail_owner (master.cf: proxymap unix - - n - - and
 * proxywrite unix - - n - 1 proxymap).  A client ("proxy:type:name",
 * util/dict_proxy.c) keeps its connection and sends request after request
 * on it (util/proxy_proto.h); proxymap answers until the client closes,
 * or lets it go after ipc_idle without a request so that an idle client
 * does not hold a process (the client then connects again).  open checks
 * that the table may be and can be opened, lookup answers one key.
 *
 * Read-only service (any name but proxywrite_service_name): only tables
 * that proxy_read_maps names as "proxy:type:name" are served, and update
 * and delete are refused.  proxywrite: only tables that proxy_write_maps
 * names are served, for lookups too, and update and delete open the table
 * for writing, change it and publish the change (dict_commit) before they
 * answer, so the next lookup anywhere sees it (a file table that does not
 * exist yet is created empty first, as for postscreen_cache_map); master.cf
 * runs one
 * proxywrite process, so writers never race.  Any other request is
 * refused (DENY) with a warning that says how to approve the table, as
 * Postfix's proxymap does.
 *
 * Tables stay open between requests and clients (at most
 * PROXYMAP_TABLES_MAX, keyed by name and flags), so a database table
 * (pgsql:, ldap:, socketmap:, ...) keeps its server connection for the
 * life of the process; only a file-backed table that was rebuilt is
 * reopened, before the next lookup.
 *
 * Errors: a malformed request gets BAD and a warning; a table that cannot
 * be opened, read or written gets RETRY (the client defers) and a
 * warning.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
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
	bool		      write;   /* the proxywrite service */
	const char	     *list;    /* proxy_read_maps or proxy_write_maps */
	char		    **allowed; /* that list, "proxy:" removed */
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

/* Create an empty table (a file that does not exist yet): 0 / -1. */
static int
proxymap_create(const char *table, VSTR *why)
{
	DICT *d = dict_open(table, DICT_FLAG_CREATE, why);

	if (d == NULL)
		return -1;
	if (dict_commit(d) < 0) {
		vstr_sprintf(why, "%s: cannot create: %m", table);
		dict_discard(d);
		return -1;
	}
	dict_close(d);
	msg_info("%s: created an empty table", table);
	return 0;
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
		t->dict = dict_open(req->table, req->flags, pm->why);
		/* proxywrite tables (a cache) may start out missing. */
		if (t->dict == NULL && errno == ENOENT && pm->write
		    && proxymap_create(req->table, pm->why) == 0)
			t->dict = dict_open(req->table, req->flags, pm->why);
		if (t->dict == NULL)
			return NULL;
		if (t->name == NULL) {
			t->name = mystrdup(req->table);
			t->flags = req->flags;
			pm->ntables++;
		}
	}
	return t->dict;
}

/* Change the table for an update or delete; a PROXY_STAT_*. */
static int
proxymap_write(struct proxymap *pm, const struct proxy_request *req,
	       VSTR *reason)
{
	DICT *d;
	int   flags;
	int   ret;

	vstr_reset(pm->why);
	/*
	 * The client checked for a duplicate already (postelmap's rules);
	 * an update replaces unless it asked to keep the old value.
	 */
	flags = req->flags | DICT_FLAG_WRITE;
	if (!(flags & DICT_FLAG_DUP_IGNORE))
		flags |= DICT_FLAG_DUP_REPLACE;
	if ((d = dict_open(req->table, flags, pm->why)) == NULL) {
		msg_warn("%s", VSTR_STR(pm->why));
		vstr_strcpy(reason, VSTR_STR(pm->why));
		return PROXY_STAT_RETRY;
	}
	if (strcmp(req->request, PROXY_REQ_UPDATE) == 0)
		ret = dict_update(d, req->key, req->value);
	else
		ret = dict_delete(d, req->key);
	if (ret < 0 || dict_commit(d) < 0) {
		vstr_sprintf(reason, "table %s: %s of \"%s\" failed: %m",
			     req->table, req->request, req->key);
		msg_warn("%s", VSTR_STR(reason));
		dict_discard(d);
		return PROXY_STAT_RETRY;
	}
	dict_close(d);
	return ret == 0 && strcmp(req->request, PROXY_REQ_DELETE) == 0
		   ? PROXY_STAT_NOKEY
		   : PROXY_STAT_OK;
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
	bool		     writing;

	(void)arg;
	if (proxy_request_decode(in, &req, pm->why) < 0) {
		msg_warn("bad request: %s", VSTR_STR(pm->why));
		rep.status = PROXY_STAT_BAD;
		rep.reason = VSTR_STR(pm->why);
		goto reply;
	}
	writing = strcmp(req.request, PROXY_REQ_UPDATE) == 0
		  || strcmp(req.request, PROXY_REQ_DELETE) == 0;
	if (!proxymap_allowed(pm, req.table)) {
		msg_warn("request for unapproved table: \"%s\"", req.table);
		msg_warn("to approve this table for %s access, list "
			 "proxy:%s in main.cf:%s",
			 pm->write ? "read-write" : "read-only", req.table,
			 pm->list);
		vstr_sprintf(reason, "table %s is not listed in %s", req.table,
			     pm->list);
		rep.status = PROXY_STAT_DENY;
		rep.reason = VSTR_STR(reason);
	} else if (writing && !pm->write) {
		msg_warn("%s request for table \"%s\" on the read-only %s "
			 "service",
			 req.request, req.table, ctx->service);
		vstr_sprintf(reason,
			     "%s is read-only: tables are written through "
			     "proxywrite",
			     ctx->service);
		rep.status = PROXY_STAT_DENY;
		rep.reason = VSTR_STR(reason);
	} else if (writing) {
		rep.status = proxymap_write(pm, &req, reason);
		if (rep.status == PROXY_STAT_RETRY)
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
reply:
	proxy_reply_encode(&rep, out);
	vstr_free(reason);
}

static void
proxymap_pre_jail(struct skel_ctx *ctx)
{
	struct proxymap *pm = mycalloc(1, sizeof(*pm));

	pm->item = vstr_alloc(64);
	pm->why = vstr_alloc(64);
	pm->write = strcmp(ctx->service,
			   cfg_get_str(ctx->cfg, "proxywrite_service_name"))
		    == 0;
	pm->list = pm->write ? "proxy_write_maps" : "proxy_read_maps";
	if (dict_list_split(cfg_get_str(ctx->cfg, pm->list), proxymap_allow, pm,
			    pm->why)
	    < 0)
		msg_fatal("%s: %s", pm->list, VSTR_STR(pm->why));
	ctx->app = pm;
}

static void
proxymap_service(struct skel_ctx *ctx, int fd)
{
	long long idle = cfg_get_time(ctx->cfg, "ipc_idle");

	skel_serve_frames_idle(ctx, fd, proxymap_request, NULL,
			       idle > 0 && idle < 86400 ? (int)idle * 1000
							: 5000);
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
