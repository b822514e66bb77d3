/*
 * anvil_table - anvil(8)'s counters.  See anvil_table.h.
 *
 * Entries live in a chained hash table keyed by ident.  Entries without
 * a connection are also on an idle list in the order they became idle,
 * so expiry looks only at the ones due.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "anvil/anvil_table.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

struct anvil_entry {
	char		   *ident;
	long long	    count; /* connections open now */
	long long	    rate;  /* connections this unit */
	long long	    message;
	long long	    recipient;
	long long	    newtls;
	long long	    auth;
	time_t		    start;	/* when this unit began */
	time_t		    idle_since; /* count == 0: since when */
	struct anvil_entry *hash_next;
	struct anvil_entry *idle_prev; /* on the idle list iff count == 0 */
	struct anvil_entry *idle_next;
};

/* One peak: value, whose, when. */
struct anvil_max {
	long long value;
	char	 *ident;
	time_t	  when;
};

enum anvil_peak {
	PEAK_CONN_RATE,
	PEAK_CONN_COUNT,
	PEAK_MESSAGE,
	PEAK_RECIPIENT,
	PEAK_NEWTLS,
	PEAK_AUTH,
	PEAK_COUNT,
};

struct ANVIL_TABLE {
	long long	     unit;
	struct anvil_entry **buckets;
	size_t		     nbuckets; /* a power of two */
	size_t		     size;
	struct anvil_entry  *idle_head; /* oldest idle */
	struct anvil_entry  *idle_tail;
	struct anvil_max     peak[PEAK_COUNT];
	size_t		     peak_size;
	time_t		     peak_size_when;
	size_t		     owners;
};

struct ANVIL_OWNER {
	struct anvil_entry **conns; /* one element per open connection */
	size_t		     n;
	size_t		     cap;
};

static size_t
anvil_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return (size_t)h;
}

ANVIL_TABLE *
anvil_table_create(long long unit)
{
	ANVIL_TABLE *t = mycalloc(1, sizeof(*t));

	if (unit < 1)
		msg_panic("anvil_table_create: bad unit %lld", unit);
	t->unit = unit;
	t->nbuckets = 64;
	t->buckets = mycalloc(t->nbuckets, sizeof(*t->buckets));
	return t;
}

static void
anvil_idle_unlink(ANVIL_TABLE *t, struct anvil_entry *e)
{
	if (e->idle_prev)
		e->idle_prev->idle_next = e->idle_next;
	else
		t->idle_head = e->idle_next;
	if (e->idle_next)
		e->idle_next->idle_prev = e->idle_prev;
	else
		t->idle_tail = e->idle_prev;
	e->idle_prev = e->idle_next = NULL;
}

static void
anvil_idle_append(ANVIL_TABLE *t, struct anvil_entry *e, time_t now)
{
	e->idle_since = now;
	e->idle_next = NULL;
	e->idle_prev = t->idle_tail;
	if (t->idle_tail)
		t->idle_tail->idle_next = e;
	else
		t->idle_head = e;
	t->idle_tail = e;
}

ANVIL_TABLE *
anvil_table_free(ANVIL_TABLE *t)
{
	if (t == NULL)
		return NULL;
	if (t->owners)
		msg_panic("anvil_table_free: %zu owners left", t->owners);
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct anvil_entry *e = t->buckets[i];

		while (e) {
			struct anvil_entry *next = e->hash_next;

			myfree(e->ident);
			myfree(e);
			e = next;
		}
	}
	for (int i = 0; i < PEAK_COUNT; i++)
		myfree(t->peak[i].ident);
	myfree(t->buckets);
	return myfree(t);
}

static struct anvil_entry *
anvil_find(const ANVIL_TABLE *t, const char *ident)
{
	struct anvil_entry *e;

	for (e = t->buckets[anvil_hash(ident) & (t->nbuckets - 1)]; e;
	     e = e->hash_next)
		if (strcmp(e->ident, ident) == 0)
			return e;
	return NULL;
}

static void
anvil_grow(ANVIL_TABLE *t)
{
	size_t		     n = t->nbuckets * 2;
	struct anvil_entry **b = mycalloc(n, sizeof(*b));

	for (size_t i = 0; i < t->nbuckets; i++) {
		struct anvil_entry *e = t->buckets[i];

		while (e) {
			struct anvil_entry *next = e->hash_next;
			size_t		    h = anvil_hash(e->ident) & (n - 1);

			e->hash_next = b[h];
			b[h] = e;
			e = next;
		}
	}
	myfree(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

/* A new entry, idle until its first connection is counted. */
static struct anvil_entry *
anvil_add(ANVIL_TABLE *t, const char *ident, time_t now)
{
	struct anvil_entry *e = mycalloc(1, sizeof(*e));
	size_t		    h;

	if (t->size >= t->nbuckets)
		anvil_grow(t);
	e->ident = mystrdup(ident);
	e->start = now;
	h = anvil_hash(ident) & (t->nbuckets - 1);
	e->hash_next = t->buckets[h];
	t->buckets[h] = e;
	anvil_idle_append(t, e, now);
	if (++t->size > t->peak_size) {
		t->peak_size = t->size;
		t->peak_size_when = now;
	}
	return e;
}

static void
anvil_remove(ANVIL_TABLE *t, struct anvil_entry *e)
{
	struct anvil_entry **pp =
	    &t->buckets[anvil_hash(e->ident) & (t->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	anvil_idle_unlink(t, e);
	t->size--;
	myfree(e->ident);
	myfree(e);
}

static void
anvil_peak(ANVIL_TABLE *t, enum anvil_peak which, long long value,
	   const struct anvil_entry *e, time_t now)
{
	struct anvil_max *m = &t->peak[which];

	if (value <= m->value)
		return;
	m->value = value;
	if (m->ident == NULL || strcmp(m->ident, e->ident) != 0) {
		myfree(m->ident);
		m->ident = mystrdup(e->ident);
	}
	m->when = now;
}

/* Has the unit of e's rates run out at now? */
static bool
anvil_stale(const ANVIL_TABLE *t, const struct anvil_entry *e, time_t now)
{
	return now - e->start >= t->unit || now < e->start;
}

static long long
anvil_incr(ANVIL_TABLE *t, struct anvil_entry *e, long long *what, time_t now)
{
	if (anvil_stale(t, e, now)) {
		e->rate = e->message = e->recipient = e->newtls = e->auth = 0;
		e->start = now;
	}
	if (*what < ANVIL_COUNT_MAX)
		(*what)++;
	return *what;
}

static void
anvil_owner_drop_at(ANVIL_TABLE *t, ANVIL_OWNER *o, size_t i, time_t now)
{
	struct anvil_entry *e = o->conns[i];

	memmove(&o->conns[i], &o->conns[i + 1],
		(o->n - i - 1) * sizeof(*o->conns));
	o->n--;
	if (e->count > 0 && --e->count == 0)
		anvil_idle_append(t, e, now);
}

/* A connection of o to e. */
static void
anvil_connect(ANVIL_TABLE *t, ANVIL_OWNER *o, struct anvil_entry *e, time_t now)
{
	if (o->n == ANVIL_OWNER_MAX)
		anvil_owner_drop_at(t, o, 0, now);
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 4;
		o->conns = myrealloc_array(o->conns, o->cap, sizeof(*o->conns));
	}
	o->conns[o->n++] = e;
	if (e->count++ == 0)
		anvil_idle_unlink(t, e);
	(void)anvil_incr(t, e, &e->rate, now);
	anvil_peak(t, PEAK_CONN_RATE, e->rate, e, now);
	anvil_peak(t, PEAK_CONN_COUNT, e->count, e, now);
}

ANVIL_OWNER *
anvil_owner_create(ANVIL_TABLE *t)
{
	t->owners++;
	return mycalloc(1, sizeof(ANVIL_OWNER));
}

ANVIL_OWNER *
anvil_owner_free(ANVIL_TABLE *t, ANVIL_OWNER *o, time_t now)
{
	if (o == NULL)
		return NULL;
	while (o->n > 0)
		anvil_owner_drop_at(t, o, o->n - 1, now);
	myfree(o->conns);
	t->owners--;
	return myfree(o);
}

/*
 * The entry an event counts for.  Like Postfix's anvil, an event for a
 * client anvil does not know (anvil restarted after the connect) counts
 * that connection first, so the owner's disconnect later balances it.
 */
static struct anvil_entry *
anvil_event_entry(ANVIL_TABLE *t, ANVIL_OWNER *o, const char *ident, time_t now)
{
	struct anvil_entry *e = anvil_find(t, ident);

	if (e == NULL) {
		e = anvil_add(t, ident, now);
		anvil_connect(t, o, e, now);
	}
	return e;
}

/* The rate counter of event req in e, and the peak it feeds. */
static long long *
anvil_event_count(struct anvil_entry *e, enum anvil_req req,
		  enum anvil_peak *which)
{
	switch (req) {
	case ANVIL_REQ_MESSAGE:
		*which = PEAK_MESSAGE;
		return &e->message;
	case ANVIL_REQ_RECIPIENT:
		*which = PEAK_RECIPIENT;
		return &e->recipient;
	case ANVIL_REQ_NEWTLS:
		*which = PEAK_NEWTLS;
		return &e->newtls;
	default: /* ANVIL_REQ_AUTH */
		*which = PEAK_AUTH;
		return &e->auth;
	}
}

void
anvil_table_request(ANVIL_TABLE *t, ANVIL_OWNER *o,
		    const struct anvil_request *rq, time_t now,
		    struct anvil_reply *rp)
{
	struct anvil_entry *e;

	memset(rp, 0, sizeof(*rp));
	rp->status = ANVIL_STAT_OK;
	switch (rq->req) {
	case ANVIL_REQ_CONNECT:
		if ((e = anvil_find(t, rq->ident)) == NULL)
			e = anvil_add(t, rq->ident, now);
		anvil_connect(t, o, e, now);
		rp->count = e->count;
		rp->rate = e->rate;
		break;
	case ANVIL_REQ_DISCONNECT:
		if ((e = anvil_find(t, rq->ident)) == NULL)
			break;
		/* The newest connection of this owner to e. */
		for (size_t i = o->n; i-- > 0;)
			if (o->conns[i] == e) {
				anvil_owner_drop_at(t, o, i, now);
				break;
			}
		break;
	case ANVIL_REQ_MESSAGE:
	case ANVIL_REQ_RECIPIENT:
	case ANVIL_REQ_NEWTLS:
	case ANVIL_REQ_AUTH: {
		enum anvil_peak which;
		long long      *count;

		e = anvil_event_entry(t, o, rq->ident, now);
		count = anvil_event_count(e, rq->req, &which);
		rp->rate = anvil_incr(t, e, count, now);
		anvil_peak(t, which, *count, e, now);
		break;
	}
	case ANVIL_REQ_NEWTLS_REPORT:
		/* A check only: stale numbers are reported as zero. */
		if ((e = anvil_find(t, rq->ident)) != NULL
		    && !anvil_stale(t, e, now))
			rp->rate = e->newtls;
		break;
	case ANVIL_REQ_LOOKUP:
		if ((e = anvil_find(t, rq->ident)) == NULL)
			break;
		rp->count = e->count;
		if (anvil_stale(t, e, now))
			break;
		rp->rate = e->rate;
		rp->message = e->message;
		rp->recipient = e->recipient;
		rp->newtls = e->newtls;
		rp->auth = e->auth;
		break;
	default:
		msg_panic("anvil_table_request: bad request %d", (int)rq->req);
	}
}

void
anvil_table_expire(ANVIL_TABLE *t, time_t now)
{
	while (t->idle_head && now - t->idle_head->idle_since >= t->unit)
		anvil_remove(t, t->idle_head);
}

size_t
anvil_table_size(const ANVIL_TABLE *t)
{
	return t->size;
}

/* "Dec  7 16:02:03", as Postfix prints ctime() + 4. */
static void
anvil_when(time_t when, char *buf, size_t len)
{
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL
	    || strftime(buf, len, "%b %e %H:%M:%S", &tm) == 0)
		(void)snprintf(buf, len, "%lld", (long long)when);
}

void
anvil_table_stats(ANVIL_TABLE *t, anvil_stats_fn fn, void *ctx)
{
	static const struct {
		enum anvil_peak which;
		const char     *name;
		bool		rate;
	} report[] = {
		/* Postfix's order and words. */
		{ PEAK_CONN_RATE, "connection", true },
		{ PEAK_CONN_COUNT, "connection", false },
		{ PEAK_MESSAGE, "message", true },
		{ PEAK_RECIPIENT, "recipient", true },
		{ PEAK_NEWTLS, "newtls", true },
		{ PEAK_AUTH, "auth", true },
	};
	VSTR *line = vstr_alloc(128);
	char  when[64];

	for (size_t i = 0; i < sizeof(report) / sizeof(report[0]); i++) {
		struct anvil_max *m = &t->peak[report[i].which];

		if (m->value <= 0)
			continue;
		anvil_when(m->when, when, sizeof(when));
		if (report[i].rate)
			vstr_sprintf(line,
				     "statistics: max %s rate %lld/%llds for "
				     "(%s) at %s",
				     report[i].name, m->value, t->unit,
				     m->ident, when);
		else
			vstr_sprintf(line,
				     "statistics: max %s count %lld for (%s) "
				     "at %s",
				     report[i].name, m->value, m->ident, when);
		fn(ctx, VSTR_STR(line));
		m->value = 0;
	}
	if (t->peak_size > 0) {
		anvil_when(t->peak_size_when, when, sizeof(when));
		vstr_sprintf(line, "statistics: max cache size %zu at %s",
			     t->peak_size, when);
		fn(ctx, VSTR_STR(line));
		t->peak_size = 0;
	}
	vstr_free(line);
}
