/*
 * tlsrpt_store - TLS session counts per policy domain and UTC day, kept
 * durably, and the RFC 8460 reports built from them.
 *
 * An entry is one policy as one day saw it: (day, policy domain, policy
 * type, policy text, MX host) with its success count and its failures,
 * each (result type, sending IP, receiving IP, MX host) with a count and
 * the first free-text detail seen.  The file ($data_directory/tlsrpt/
 * state) is the whole store as util/attr frames, one per entry,
 * rewritten by util/safe_file's write_file_atomic (temporary file,
 * fsync, rename, fsync of the folder), so a crash leaves the old or the
 * new state, never a mix.
 *
 * Errors: a malformed state file is refused whole (load returns -1 and
 * the daemon moves it aside); limits (TLSRPT_POLICIES_MAX,
 * TLSRPT_FAILURES_MAX) fold the excess into existing counts.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tlsrpt/tlsrpt.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_file.h"
#include "util/tlsrpt.h"

#define TLSRPT_STATE_MAX (256 * 1024 * 1024)

struct tlsrpt_fail {
	char	 *result;
	char	 *sip; /* "" when unknown */
	char	 *rip;
	char	 *mx;
	char	 *detail; /* "" when none */
	long long count;
};

struct tlsrpt_entry {
	char		   *day;
	char		   *domain;
	char		   *type;
	char		   *text; /* "" for none */
	char		   *mx;
	long long	    ok;
	struct tlsrpt_fail *fail;
	size_t		    nfail;
	size_t		    capfail;
};

struct TLSRPT_STORE {
	char		     *path;
	struct tlsrpt_entry **v;
	size_t		      n;
	size_t		      cap;
	bool		      dirty;
};

static const char *
tlsrpt_or(const char *s)
{
	return s ? s : "";
}

TLSRPT_STORE *
tlsrpt_store_create(const char *path)
{
	TLSRPT_STORE *st = mycalloc(1, sizeof(*st));

	st->path = mystrdup(path);
	return st;
}

static void
tlsrpt_entry_free(struct tlsrpt_entry *e)
{
	for (size_t i = 0; i < e->nfail; i++) {
		myfree(e->fail[i].result);
		myfree(e->fail[i].sip);
		myfree(e->fail[i].rip);
		myfree(e->fail[i].mx);
		myfree(e->fail[i].detail);
	}
	myfree(e->fail);
	myfree(e->day);
	myfree(e->domain);
	myfree(e->type);
	myfree(e->text);
	myfree(e->mx);
	myfree(e);
}

static void
tlsrpt_store_clear(TLSRPT_STORE *st)
{
	for (size_t i = 0; i < st->n; i++)
		tlsrpt_entry_free(st->v[i]);
	st->n = 0;
}

TLSRPT_STORE *
tlsrpt_store_free(TLSRPT_STORE *st)
{
	if (st == NULL)
		return NULL;
	tlsrpt_store_clear(st);
	myfree(st->v);
	myfree(st->path);
	myfree(st);
	return NULL;
}

bool
tlsrpt_store_dirty(const TLSRPT_STORE *st)
{
	return st->dirty;
}

static struct tlsrpt_entry *
tlsrpt_entry_find(TLSRPT_STORE *st, const char *day, const char *domain,
		  const char *type, const char *text, const char *mx)
{
	for (size_t i = 0; i < st->n; i++) {
		struct tlsrpt_entry *e = st->v[i];

		if (strcmp(e->day, day) == 0 && strcmp(e->domain, domain) == 0
		    && strcmp(e->type, type) == 0 && strcmp(e->text, text) == 0
		    && strcmp(e->mx, mx) == 0)
			return e;
	}
	return NULL;
}

static struct tlsrpt_entry *
tlsrpt_entry_add(TLSRPT_STORE *st, const char *day, const char *domain,
		 const char *type, const char *text, const char *mx)
{
	struct tlsrpt_entry *e = mycalloc(1, sizeof(*e));

	e->day = mystrdup(day);
	e->domain = mystrdup(domain);
	e->type = mystrdup(type);
	e->text = mystrdup(text);
	e->mx = mystrdup(mx);
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 16;
		st->v = myrealloc_array(st->v, st->cap, sizeof(*st->v));
	}
	st->v[st->n++] = e;
	return e;
}

static struct tlsrpt_fail *
tlsrpt_fail_get(struct tlsrpt_entry *e, const char *result, const char *sip,
		const char *rip, const char *mx, const char *detail)
{
	struct tlsrpt_fail *f;

	for (size_t i = 0; i < e->nfail; i++) {
		f = e->fail + i;
		if (strcmp(f->result, result) == 0 && strcmp(f->sip, sip) == 0
		    && strcmp(f->rip, rip) == 0 && strcmp(f->mx, mx) == 0)
			return f;
	}
	if (e->nfail >= TLSRPT_FAILURES_MAX) {
		/* Full: count it with the first failure of that type. */
		for (size_t i = 0; i < e->nfail; i++)
			if (strcmp(e->fail[i].result, result) == 0)
				return e->fail + i;
		return e->fail;
	}
	if (e->nfail == e->capfail) {
		e->capfail = e->capfail ? e->capfail * 2 : 4;
		e->fail = myrealloc_array(e->fail, e->capfail,
					  sizeof(*e->fail));
	}
	f = e->fail + e->nfail++;
	memset(f, 0, sizeof(*f));
	f->result = mystrdup(result);
	f->sip = mystrdup(sip);
	f->rip = mystrdup(rip);
	f->mx = mystrdup(mx);
	f->detail = mystrndup(detail, strnlen(detail, TLSRPT_DETAIL_MAX));
	return f;
}

void
tlsrpt_store_add(TLSRPT_STORE *st, const char *day, const struct tlsrpt_note *n)
{
	const char	    *text = tlsrpt_or(n->policy_text);
	struct tlsrpt_entry *e;

	e = tlsrpt_entry_find(st, day, n->domain, n->policy_type, text,
			      n->mx_host);
	if (e == NULL) {
		if (st->n >= TLSRPT_POLICIES_MAX) {
			msg_warn("TLS-RPT: %d policies recorded: not counting "
				 "more until reports are sent",
				 TLSRPT_POLICIES_MAX);
			return;
		}
		e = tlsrpt_entry_add(st, day, n->domain, n->policy_type, text,
				     n->mx_host);
	}
	if (n->result == NULL)
		e->ok++;
	else
		tlsrpt_fail_get(e, n->result, tlsrpt_or(n->sending_ip),
				tlsrpt_or(n->receiving_ip), n->mx_host,
				tlsrpt_or(n->detail))
		    ->count++;
	st->dirty = true;
}

/* -- persistence ------------------------------------------------------ */

static void
tlsrpt_entry_encode(const struct tlsrpt_entry *e, ATTR *a, VSTR *name)
{
	attr_reset(a);
	attr_put_str(a, "day", e->day);
	attr_put_str(a, "domain", e->domain);
	attr_put_str(a, "type", e->type);
	attr_put_str(a, "text", e->text);
	attr_put_str(a, "mx", e->mx);
	attr_put_int(a, "ok", e->ok);
	attr_put_int(a, "nfail", (long long)e->nfail);
	for (size_t i = 0; i < e->nfail; i++) {
		const struct tlsrpt_fail *f = e->fail + i;

#define PUT_F(field, fn, val) \
	do { \
		vstr_sprintf(name, "f%zu_%s", i, field); \
		fn(a, VSTR_STR(name), val); \
	} while (0)
		PUT_F("result", attr_put_str, f->result);
		PUT_F("sip", attr_put_str, f->sip);
		PUT_F("rip", attr_put_str, f->rip);
		PUT_F("mx", attr_put_str, f->mx);
		PUT_F("detail", attr_put_str, f->detail);
		PUT_F("count", attr_put_int, f->count);
#undef PUT_F
	}
}

static int
tlsrpt_entry_decode(TLSRPT_STORE *st, const ATTR *a, VSTR *name, VSTR *why)
{
	const char	    *day = attr_get_str(a, "day");
	const char	    *domain = attr_get_str(a, "domain");
	const char	    *type = attr_get_str(a, "type");
	const char	    *text = attr_get_str(a, "text");
	const char	    *mx = attr_get_str(a, "mx");
	long long	     ok, nfail;
	struct tlsrpt_entry *e;

	if (day == NULL || domain == NULL || type == NULL || text == NULL
	    || mx == NULL || attr_get_int(a, "ok", &ok) < 0
	    || attr_get_int(a, "nfail", &nfail) < 0 || ok < 0 || nfail < 0
	    || nfail > TLSRPT_FAILURES_MAX || !tlsrpt_policy_type_valid(type)
	    || st->n >= TLSRPT_POLICIES_MAX) {
		vstr_strcpy(why, "malformed entry");
		return -1;
	}
	if ((e = tlsrpt_entry_find(st, day, domain, type, text, mx)) == NULL)
		e = tlsrpt_entry_add(st, day, domain, type, text, mx);
	e->ok += ok;
	for (long long i = 0; i < nfail; i++) {
		const char *r, *sip, *rip, *fmx, *detail;
		long long   count;

#define GET_F(field) \
	(vstr_sprintf(name, "f%lld_%s", i, field), \
	 attr_get_str(a, VSTR_STR(name)))
		r = GET_F("result");
		sip = GET_F("sip");
		rip = GET_F("rip");
		fmx = GET_F("mx");
		detail = GET_F("detail");
#undef GET_F
		vstr_sprintf(name, "f%lld_count", i);
		if (r == NULL || sip == NULL || rip == NULL || fmx == NULL
		    || detail == NULL || !tlsrpt_result_valid(r)
		    || attr_get_int(a, VSTR_STR(name), &count) < 0
		    || count < 0) {
			vstr_strcpy(why, "malformed failure entry");
			return -1;
		}
		tlsrpt_fail_get(e, r, sip, rip, fmx, detail)->count += count;
	}
	return 0;
}

int
tlsrpt_store_load(TLSRPT_STORE *st, VSTR *why)
{
	VSTR	   *buf = vstr_alloc(4096);
	VSTR	   *name = vstr_alloc(32);
	ATTR	   *a = attr_alloc();
	const char *p;
	size_t	    left;
	int	    ret = 0;

	tlsrpt_store_clear(st);
	if (read_file(st->path, buf, TLSRPT_STATE_MAX) < 0) {
		if (errno != ENOENT) {
			vstr_sprintf(why, "read %s: %s", st->path,
				     strerror(errno));
			ret = -1;
		}
		goto out;
	}
	p = VSTR_STR(buf);
	left = VSTR_LEN(buf);
	while (left > 0) {
		size_t plen;
		int    n = attr_parse_len(p, left, ATTR_FRAME_MAX, &plen);

		if (n <= 0 || plen + 1 > left - (size_t)n
		    || attr_decode(p, (size_t)n + plen + 1, a, why) < 0
		    || tlsrpt_entry_decode(st, a, name, why) < 0) {
			if (n <= 0 || plen + 1 > left - (size_t)n)
				vstr_strcpy(why, "truncated frame");
			vstr_sprintf_append(why, " in %s", st->path);
			tlsrpt_store_clear(st);
			ret = -1;
			goto out;
		}
		p += (size_t)n + plen + 1;
		left -= (size_t)n + plen + 1;
	}
out:
	st->dirty = false;
	attr_free(a);
	vstr_free(name);
	vstr_free(buf);
	return ret;
}

int
tlsrpt_store_save(TLSRPT_STORE *st, VSTR *why)
{
	VSTR *buf = vstr_alloc(4096);
	VSTR *name = vstr_alloc(32);
	ATTR *a = attr_alloc();
	int   ret = 0;

	for (size_t i = 0; i < st->n; i++) {
		tlsrpt_entry_encode(st->v[i], a, name);
		attr_encode(a, buf);
	}
	if (write_file_atomic(st->path, VSTR_STR(buf), VSTR_LEN(buf), 0600)
	    < 0) {
		vstr_sprintf(why, "write %s: %s", st->path, strerror(errno));
		ret = -1;
	} else {
		st->dirty = false;
	}
	attr_free(a);
	vstr_free(name);
	vstr_free(buf);
	return ret;
}

/* -- reports ------------------------------------------------------------ */

size_t
tlsrpt_store_groups(const TLSRPT_STORE *st, const char *last_day,
		    struct tlsrpt_group **out)
{
	struct tlsrpt_group *g = NULL;
	size_t		     n = 0;

	for (size_t i = 0; i < st->n; i++) {
		const struct tlsrpt_entry *e = st->v[i];
		bool			   seen = false;

		if (last_day && strcmp(e->day, last_day) > 0)
			continue;
		for (size_t j = 0; j < n && !seen; j++)
			seen = strcmp(g[j].domain, e->domain) == 0
			       && strcmp(g[j].day, e->day) == 0;
		if (seen)
			continue;
		g = myrealloc_array(g, n + 1, sizeof(*g));
		snprintf(g[n].domain, sizeof(g[n].domain), "%s", e->domain);
		snprintf(g[n].day, sizeof(g[n].day), "%s", e->day);
		n++;
	}
	*out = g;
	return n;
}

static void
tlsrpt_json_time(VSTR *out, long long t)
{
	time_t	  tt = (time_t)t;
	struct tm tm;
	char	  buf[32];

	if (gmtime_r(&tt, &tm) == NULL
	    || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, sizeof(buf), "1970-01-01T00:00:00Z");
	tlsrpt_json_str(out, buf);
}

/* The "policy-string" lines, and the mx-host list (sts: "mx:" lines). */
static void
tlsrpt_json_policy(VSTR *json, const struct tlsrpt_entry *e)
{
	char *copy = mystrdup(e->text);
	char *line;
	char *cp = copy;
	bool  first = true;
	bool  any_mx = false;

	vstr_strcat(json, "{\"policy-type\": ");
	tlsrpt_json_str(json, e->type);
	if (*e->text) {
		vstr_strcat(json, ", \"policy-string\": [");
		while ((line = strsep(&cp, "\n")) != NULL) {
			if (!first)
				vstr_strcat(json, ", ");
			tlsrpt_json_str(json, line);
			first = false;
		}
		vstr_strcat(json, "]");
	}
	vstr_strcat(json, ", \"policy-domain\": ");
	tlsrpt_json_str(json, e->domain);
	vstr_strcat(json, ", \"mx-host\": [");
	if (strcmp(e->type, "sts") == 0) {
		snprintf(copy, strlen(e->text) + 1, "%s", e->text);
		cp = copy;
		while ((line = strsep(&cp, "\n")) != NULL) {
			char *v;

			if (strncmp(line, "mx:", 3) != 0)
				continue;
			for (v = line + 3; *v == ' ' || *v == '\t'; v++)
				;
			if (any_mx)
				vstr_strcat(json, ", ");
			tlsrpt_json_str(json, v);
			any_mx = true;
		}
	}
	if (!any_mx)
		tlsrpt_json_str(json, e->mx);
	vstr_strcat(json, "]}");
	myfree(copy);
}

void
tlsrpt_store_report(const TLSRPT_STORE *st, const struct tlsrpt_group *g,
		    const struct tlsrpt_conf *conf, const char *report_id,
		    long long start, long long end, VSTR *json)
{
	bool first = true;

	vstr_reset(json);
	vstr_strcat(json, "{\"organization-name\": ");
	tlsrpt_json_str(json, conf->organization);
	vstr_strcat(json, ", \"date-range\": {\"start-datetime\": ");
	tlsrpt_json_time(json, start);
	vstr_strcat(json, ", \"end-datetime\": ");
	tlsrpt_json_time(json, end);
	vstr_strcat(json, "}, \"contact-info\": ");
	tlsrpt_json_str(json, conf->contact);
	vstr_strcat(json, ", \"report-id\": ");
	tlsrpt_json_str(json, report_id);
	vstr_strcat(json, ", \"policies\": [");
	for (size_t i = 0; i < st->n; i++) {
		const struct tlsrpt_entry *e = st->v[i];
		long long		   failed = 0;

		if (strcmp(e->domain, g->domain) != 0
		    || strcmp(e->day, g->day) != 0)
			continue;
		for (size_t j = 0; j < e->nfail; j++)
			failed += e->fail[j].count;
		vstr_strcat(json,
			    first ? "\n  {\"policy\": " : ",\n  {\"policy\": ");
		first = false;
		tlsrpt_json_policy(json, e);
		vstr_sprintf_append(json,
				    ", \"summary\": {"
				    "\"total-successful-session-count\": %lld, "
				    "\"total-failure-session-count\": %lld}, "
				    "\"failure-details\": [",
				    e->ok, failed);
		for (size_t j = 0; j < e->nfail; j++) {
			const struct tlsrpt_fail *f = e->fail + j;

			vstr_strcat(json, j ? ", {" : "{");
			vstr_strcat(json, "\"result-type\": ");
			tlsrpt_json_str(json, f->result);
			if (*f->sip) {
				vstr_strcat(json, ", \"sending-mta-ip\": ");
				tlsrpt_json_str(json, f->sip);
			}
			if (*f->rip) {
				vstr_strcat(json, ", \"receiving-ip\": ");
				tlsrpt_json_str(json, f->rip);
			}
			vstr_strcat(json, ", \"receiving-mx-hostname\": ");
			tlsrpt_json_str(json, f->mx);
			vstr_sprintf_append(json,
					    ", \"failed-session-count\": %lld",
					    f->count);
			if (*f->detail) {
				vstr_strcat(json,
					    ", \"failure-reason-code\": ");
				tlsrpt_json_str(json, f->detail);
			}
			vstr_strcat(json, "}");
		}
		vstr_strcat(json, "]}");
	}
	vstr_strcat(json, "]}\n");
}

void
tlsrpt_store_remove(TLSRPT_STORE *st, const struct tlsrpt_group *g)
{
	size_t k = 0;

	for (size_t i = 0; i < st->n; i++) {
		struct tlsrpt_entry *e = st->v[i];

		if (strcmp(e->domain, g->domain) == 0
		    && strcmp(e->day, g->day) == 0) {
			tlsrpt_entry_free(e);
			st->dirty = true;
			continue;
		}
		st->v[k++] = e;
	}
	st->n = k;
}
