/*
 * postelqshape - the queue's domain and age distribution, like Postfix's
 * qshape(1).
 *
 * Usage: postelqshape [-c confdir] [-s] [-p] [-m min_subdomains]
 *	[-b bucket_count] [-t bucket_time] [-l] [-w terminal_width]
 *	[queue_name ...]
 *
 * One row per domain (of each pending recipient, or with -s of each
 * message's sender, "MAILER-DAEMON" for <>) and one column per age
 * bucket, preceded by the total ("T") and a TOTAL row.  The age is the
 * time since the message arrived (its T record).  The first bucket
 * holds messages younger than bucket_time minutes (-t, default 5), each
 * next one reaches twice as far (-l: one bucket_time further), and the
 * last of the bucket_count (-b, default 10) buckets has no limit: its
 * heading is the previous limit with a "+".  -p adds rows for parent
 * domains (".example.com", never a top-level domain) that have at least
 * min_subdomains (-m, default 5) subdomain rows.  Rows are sorted by
 * their total, largest first, then shorter names first, then by name;
 * TOTAL comes first.  -w (only values above 80 count) is the line width
 * the table is right-aligned to; a domain name that does not fit shows
 * its last characters after a "+".  Domains are lowercased, the part up
 * to the last '@' removed, ".." made ".", one leading and one trailing
 * dot dropped, as qshape does.
 *
 * Queues: incoming and active unless named; a relative name is a folder
 * of queue_directory, an absolute one is used as it is.  deferred is
 * walked through its hashed subfolders.  Messages without a pending
 * recipient are not counted.  The queue is streamed (admin_walk): the
 * memory used is the domain table, not the number of messages.
 *
 * Errors: bad options EX_USAGE, main.cf errors EX_CONFIG, an unreadable
 * queue folder EX_NOPERM / EX_UNAVAILABLE; a malformed queue file is
 * skipped with a warning.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin_select.h"
#include "util/cfg.h"
#include "util/maillog.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

#define QS_DOMAIN_WIDTH 18 /* narrowest domain column */
#define QS_MAX_BUCKETS	1000

struct qs_row {
	char	  *name;
	long long *count; /* [0] total, [1..nbuckets] */
	long long  sub;	  /* -p: subdomain rows counted into this one */
};

struct qs {
	/* options */
	bool	  by_sender;
	bool	  parents;
	bool	  linear;
	long long min_sub;
	long long nbuckets;
	long long tick; /* minutes */
	long long width;
	/* state */
	long long	now;
	const char     *dirpath;
	ADMIN_ENV      *env;
	void	       *rows; /* tsearch tree of struct qs_row, by name */
	size_t		used;
	struct qs_row **order; /* qs_collect: the rows to print */
	size_t		nrows;
	long long      *total;
};

static int
qs_row_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct qs_row *)a)->name,
		      ((const struct qs_row *)b)->name);
}

/* The row of name, made when new (*created set). */
static struct qs_row *
qs_row(struct qs *q, const char *name, bool *created)
{
	struct qs_row	key = { .name = (char *)name };
	struct qs_row **found = tfind(&key, &q->rows, qs_row_name_cmp);
	struct qs_row  *row;

	if ((*created = found == NULL)) {
		row = mycalloc(1, sizeof(*row));
		row->name = mystrdup(name);
		row->count = mycalloc((size_t)q->nbuckets + 1,
				      sizeof(long long));
		if ((found = tsearch(row, &q->rows, qs_row_name_cmp)) == NULL)
			msg_fatal("out of memory");
		q->used++;
	}
	return *found;
}

static void
qs_row_free(void *node)
{
	struct qs_row *row = node;

	myfree(row->name);
	myfree(row->count);
	myfree(row);
}

/* Bucket 1..nbuckets of a message that arrived at arrival. */
static long long
qs_bucket(const struct qs *q, long long arrival)
{
	long long age = q->now - arrival;
	long long unit = 60 * q->tick;
	long long b;
	long long limit;

	if (age < unit)
		return 1;
	if (q->linear) {
		b = age / unit + 1;
	} else {
		/* 2 + floor(log2(age / unit)), in integers */
		b = 2;
		for (limit = 2 * unit; limit <= age && b < q->nbuckets;
		     limit *= 2)
			b++;
	}
	return b < q->nbuckets ? b : q->nbuckets;
}

/* qshape's domain of one address, in buf. */
static void
qs_domain(VSTR *buf, const char *addr)
{
	const char *at = strrchr(addr, '@');
	const char *cp = at ? at + 1 : addr;
	size_t	    len;
	char	   *s;

	vstr_reset(buf);
	if (*addr == 0) {
		vstr_strcpy(buf, "MAILER-DAEMON");
		return;
	}
	/* ".." -> "." left to right, as s/\.\././g */
	for (; *cp; cp++) {
		vstr_addch(buf, (char)*cp);
		if (cp[0] == '.' && cp[1] == '.')
			cp++;
	}
	s = str_lower(VSTR_STR(buf));
	len = VSTR_LEN(buf);
	if (len > 1 && s[len - 1] == '.')
		vstr_truncate(buf, --len);
	if (len > 1 && s[0] == '.')
		vstr_erase_front(buf, 1);
}

/* Parent of a domain row name ("a.b.c" -> ".b.c"), or NULL. */
static const char *
qs_parent(const char *name)
{
	const char *cp = *name == '.' ? name + 1 : name;
	const char *dot = strchr(cp, '.');

	if (dot == NULL || dot == cp || strchr(dot + 1, '.') == NULL)
		return NULL;
	return dot + 1;
}

static void
qs_count(struct qs *q, const char *addr, long long b)
{
	VSTR	      *dom = vstr_alloc(64);
	VSTR	      *parent = vstr_alloc(64);
	struct qs_row *row;
	bool	       created;
	bool	       child_new = false;
	const char    *p;

	q->total[0]++;
	q->total[b]++;
	qs_domain(dom, addr);
	for (;;) {
		row = qs_row(q, VSTR_STR(dom), &created);
		row->count[0]++;
		row->count[b]++;
		if (child_new)
			row->sub++;
		child_new = created;
		if (!q->parents || (p = qs_parent(VSTR_STR(dom))) == NULL)
			break;
		vstr_sprintf(parent, ".%s", p);
		vstr_strcpy(dom, VSTR_STR(parent));
	}
	vstr_free(dom);
	vstr_free(parent);
}

static void
qs_message(void *ctx, const char *dirpath, const char *id)
{
	struct qs *q = ctx;
	VSTR	  *path = vstr_alloc(100);
	VSTR	  *why = vstr_alloc(64);
	long long  b;
	int	   fd;

	vstr_sprintf(path, "%s/%s", dirpath, id);
	if ((fd = admin_env_open(VSTR_STR(path))) < 0) {
		if (errno != ENOENT)
			msg_warn("%s: %m", VSTR_STR(path));
		goto out;
	}
	if (admin_env_read(fd, q->env, why) < 0) {
		msg_warn("%s: malformed queue file: %s", VSTR_STR(path),
			 VSTR_STR(why));
	} else if (q->env->nrcpt > 0) {
		b = qs_bucket(q, q->env->arrival);
		if (q->by_sender)
			qs_count(q, VSTR_STR(q->env->sender), b);
		else
			for (size_t i = 0; i < q->env->nrcpt; i++)
				qs_count(q, q->env->rcpt[i], b);
	}
	close(fd);
out:
	vstr_free(path);
	vstr_free(why);
}

static int
qs_row_cmp(const void *a, const void *b)
{
	const struct qs_row *x = *(const struct qs_row *const *)a;
	const struct qs_row *y = *(const struct qs_row *const *)b;
	size_t		     xl = strlen(x->name);
	size_t		     yl = strlen(y->name);

	if (x->count[0] != y->count[0])
		return x->count[0] > y->count[0] ? -1 : 1;
	if (xl != yl)
		return xl < yl ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* twalk_r callback: each row once, but parents with few subdomains. */
static void
qs_collect(const void *node, VISIT which, void *ctx)
{
	struct qs     *q = ctx;
	struct qs_row *r = *(struct qs_row *const *)node;

	if (which != postorder && which != leaf)
		return;
	if (*r->name == '.' && r->sub < q->min_sub)
		return;
	q->order[q->nrows++] = r;
}

static void
qs_print_row(const char *name, char **cells, const int *cw, long long n,
	     long long dw)
{
	size_t len = strlen(name);

	if ((long long)len > dw) {
		if (*name == '.')
			printf(".+%s", name + len - (size_t)(dw - 2));
		else
			printf("+%s", name + len - (size_t)(dw - 1));
	} else {
		printf("%*s", (int)dw, name);
	}
	for (long long i = 0; i <= n; i++)
		printf("%*s", cw[i], cells[i]);
	putchar('\n');
}

static void
qs_print(struct qs *q)
{
	long long	n = q->nbuckets;
	char	      **heads = mycalloc((size_t)n + 1, sizeof(*heads));
	char	      **cells = mycalloc((size_t)n + 1, sizeof(*cells));
	int	       *cw = mycalloc((size_t)n + 1, sizeof(*cw));
	struct qs_row **order = mycalloc(q->used ? q->used : 1, sizeof(*order));
	struct qs_row	total = { .name = "TOTAL", .count = q->total };
	long long	dw = q->width;
	long long	t = 0;
	size_t		nrows = 0;
	char		num[32];
	int		l;

	for (long long i = 0; i <= n; i++) {
		if (i == 0)
			heads[i] = mystrdup("T");
		else if (i < n)
			heads[i] = mystrdup(
			    (snprintf(num, sizeof(num), "%lld", t), num));
		else
			heads[i] = mystrdup(
			    (snprintf(num, sizeof(num), "%lld+", t), num));
		l = snprintf(num, sizeof(num), "%lld", q->total[i]);
		if ((int)strlen(heads[i]) >= l)
			l = (int)strlen(heads[i]);
		cw[i] = l > 2 ? l + 1 : 3;
		dw -= cw[i];
		if (i + 1 < n)
			t += t && !q->linear ? t : q->tick;
	}
	if (dw < QS_DOMAIN_WIDTH)
		dw = QS_DOMAIN_WIDTH;
	qs_print_row("", heads, cw, n, dw);
	q->order = order;
	q->nrows = 0;
	twalk_r(q->rows, qs_collect, q);
	nrows = q->nrows;
	qsort(order, nrows, sizeof(*order), qs_row_cmp);
	for (size_t i = 0; i <= nrows; i++) {
		const struct qs_row *r = i == 0 ? &total : order[i - 1];

		for (long long j = 0; j <= n; j++)
			cells[j] = mystrdup(
			    (snprintf(num, sizeof(num), "%lld", r->count[j]),
			     num));
		qs_print_row(r->name, cells, cw, n, dw);
		for (long long j = 0; j <= n; j++)
			myfree(cells[j]);
	}
	for (long long i = 0; i <= n; i++)
		myfree(heads[i]);
	myfree(heads);
	myfree(cells);
	myfree(cw);
	myfree(order);
}

static _Noreturn void
qs_usage(void)
{
	msg_fatal_status(EX_USAGE, "usage: postelqshape [-c confdir] [-s] [-p] "
				   "[-m min_subdomains] [-b bucket_count] "
				   "[-t bucket_time] [-l] [-w terminal_width] "
				   "[queue_name ...]");
}

/* A number option: qshape ignores values that are not above floor. */
static void
qs_number(const char *opt, const char *text, long long floor, long long max,
	  long long *value)
{
	long long v;

	if (str_to_ll(text, &v) < 0 || v > max)
		msg_fatal_status(EX_USAGE,
				 "-%s %s: not a number (at most %lld)", opt,
				 text, max);
	if (v > floor)
		*value = v;
}

int
main(int argc, char **argv)
{
	static const char *const defaults[] = { "incoming", "active" };
	struct qs q = { .min_sub = 5, .nbuckets = 10, .tick = 5, .width = 80 };
	const char	  *opt_c = NULL;
	const char *const *queues;
	size_t		   nqueues;
	const char	  *top;
	CFG		  *cfg;
	VSTR		  *why = vstr_alloc(100);
	VSTR		  *dir = vstr_alloc(100);
	int		   ch;

	msg_set_progname("postelqshape");
	while ((ch = getopt(argc, argv, "b:c:lm:pst:w:")) != -1) {
		switch (ch) {
		case 'b':
			qs_number("b", optarg, 0, QS_MAX_BUCKETS, &q.nbuckets);
			break;
		case 'c':
			opt_c = optarg;
			break;
		case 'l':
			q.linear = true;
			break;
		case 'm':
			qs_number("m", optarg, 0, 1000000, &q.min_sub);
			break;
		case 'p':
			q.parents = true;
			break;
		case 's':
			q.by_sender = true;
			break;
		case 't':
			qs_number("t", optarg, 0, 1000000, &q.tick);
			break;
		case 'w':
			qs_number("w", optarg, 80, 100000, &q.width);
			break;
		default:
			qs_usage();
		}
	}
	if (optind < argc) {
		queues = (const char *const *)argv + optind;
		nqueues = (size_t)(argc - optind);
	} else {
		queues = defaults;
		nqueues = 2;
	}
	if ((cfg = cfg_open(cfg_confdir_from_env(opt_c), why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	maillog_init(cfg, "postelqshape", MAILLOG_STDERR);
	top = cfg_get_str(cfg, "queue_directory");
	q.now = (long long)time(NULL);
	q.env = admin_env_alloc();
	q.total = mycalloc((size_t)q.nbuckets + 1, sizeof(*q.total));
	for (size_t i = 0; i < nqueues; i++) {
		if (*queues[i] == '/')
			vstr_strcpy(dir, queues[i]);
		else
			vstr_sprintf(dir, "%s/%s", top, queues[i]);
		if (admin_walk(VSTR_STR(dir), qs_message, &q) < 0)
			msg_fatal_status(errno == EACCES ? EX_NOPERM
							 : EX_UNAVAILABLE,
					 "cannot read queue folder %s: %m",
					 VSTR_STR(dir));
	}
	qs_print(&q);
	if (fflush(stdout) != 0)
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	tdestroy(q.rows, qs_row_free);
	myfree(q.total);
	admin_env_free(q.env);
	vstr_free(why);
	vstr_free(dir);
	cfg_free(cfg);
	return 0;
}
