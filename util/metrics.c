/*
 * metrics - the shared counter table and its Prometheus text.  See
 * util/metrics.h.
 *
 * Errors: set-up problems are logged with msg_warn and leave metrics off
 * in this process; the event helpers never fail or block.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/metrics.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define METRICS_MAGIC	  "PSTLMTR1"
#define METRICS_VERSION	  1
#define METRICS_SLOTS_MAX 65536	 /* a reader's bound on an image's claim */
#define METRICS_SPIN	  100000 /* waits for a slot being filled in */

enum {
	SLOT_EMPTY,
	SLOT_FILLING,
	SLOT_READY
};

struct metrics_head {
	char		 magic[8];
	uint32_t	 version;
	uint32_t	 nslots;
	uint32_t	 slot_size;
	uint32_t	 labels_max;
	_Atomic uint64_t overflow;
};

struct metrics_slot {
	_Atomic uint32_t state;
	uint32_t	 family;
	char		 labels[METRICS_LABELS_MAX];
	_Atomic uint64_t v[METRICS_VALUES];
};

/* Histogram bounds; the last bucket (+Inf) is implicit. */
static const double delay_bounds[] = { 0.1, 0.5, 1,   5,    10,	   30,
				       60,  300, 900, 3600, 14400, 86400 };
static const double size_bounds[] = { 1024,    4096,	 16384,
				      65536,   262144,	 1048576,
				      4194304, 16777216, 67108864 };

struct metrics_fam {
	const char   *name;
	const char   *type;
	const char   *help;
	const char   *labels[3]; /* the label names, in order */
	const double *bounds;	 /* histogram: finite upper bounds */
	size_t	      nbounds;
	unsigned      scale; /* histogram: sum stored in 1/scale units */
};

#define NB(a) (sizeof(a) / sizeof((a)[0]))

#define COUNTER(fam, n, h, ...) \
	[fam] = { .name = n, \
		  .type = "counter", \
		  .help = h, \
		  .labels = { __VA_ARGS__ } }

static const struct metrics_fam metrics_fams[METRICS_NFAMILIES] = {
	COUNTER(METRICS_SMTPD_CONNECTIONS, "postel_smtpd_connections_total",
		"SMTP client connections that smtpd accepted.", NULL),
	COUNTER(METRICS_SMTPD_REJECTS, "postel_smtpd_rejects_total",
		"4xx and 5xx replies that smtpd logged as reject, by the "
		"stage of the SMTP dialogue and the reply code.",
		"stage", "code", NULL),
	COUNTER(METRICS_MESSAGES_RECEIVED, "postel_messages_received_total",
		"Messages that cleanup committed to the queue, by origin "
		"(smtp: from smtpd; local: all others).",
		"origin", NULL),
	COUNTER(METRICS_DELIVERIES, "postel_deliveries_total",
		"Recipient delivery attempts, by transport and the status "
		"logged (sent, deferred, bounced).",
		"transport", "status", NULL),
	COUNTER(METRICS_TLS_SESSIONS, "postel_tls_sessions_total",
		"Completed TLS handshakes: in for smtpd, out for the smtp "
		"and lmtp clients, by protocol version.",
		"direction", "protocol", NULL),
	[METRICS_DELIVERY_DELAY] = {
		.name = "postel_delivery_delay_seconds",
		.type = "histogram",
		.help = "Time from arrival to a successful delivery, per "
			"recipient, by transport.",
		.labels = { "transport", NULL },
		.bounds = delay_bounds,
		.nbounds = NB(delay_bounds),
		.scale = 1000,
	},
	[METRICS_MESSAGE_SIZE] = {
		.name = "postel_message_size_bytes",
		.type = "histogram",
		.help = "Size of the messages cleanup committed.",
		.labels = { NULL },
		.bounds = size_bounds,
		.nbounds = NB(size_bounds),
		.scale = 1,
	},
	[METRICS_PROCESSES] = {
		.name = "postel_processes",
		.type = "gauge",
		.help = "Processes master is running now, by master.cf "
			"service.",
		.labels = { "service", NULL },
	},
};

static struct metrics_head *metrics_map;
static size_t		    metrics_map_len;

size_t
metrics_image_size(unsigned nslots)
{
	return sizeof(struct metrics_head)
	       + (size_t)nslots * sizeof(struct metrics_slot);
}

void
metrics_image_init(void *buf, unsigned nslots)
{
	struct metrics_head *h = buf;

	memcpy(h->magic, METRICS_MAGIC, sizeof(h->magic));
	h->version = METRICS_VERSION;
	h->nslots = nslots;
	h->slot_size = sizeof(struct metrics_slot);
	h->labels_max = METRICS_LABELS_MAX;
	atomic_store(&h->overflow, 0);
}

static size_t
metrics_file_size(void)
{
	return metrics_image_size(METRICS_SLOTS);
}

static struct metrics_slot *
metrics_slots(const struct metrics_head *h)
{
	return (struct metrics_slot *)(void *)((char *)(uintptr_t)h
					       + sizeof(*h));
}

char *
metrics_path(const CFG *cfg)
{
	VSTR *p = vstr_alloc(100);

	vstr_sprintf(p, "%s/%s", cfg_get_str(cfg, "data_directory"),
		     METRICS_FILE);
	return vstr_export(p);
}

int
metrics_create(const char *path, uid_t uid, gid_t gid, VSTR *why)
{
	struct metrics_head head;
	VSTR		   *tmp = vstr_alloc(100);
	int		    fd;

	memset(&head, 0, sizeof(head));
	metrics_image_init(&head, METRICS_SLOTS);
	vstr_sprintf(tmp, "%s.new", path);
	(void)unlink(VSTR_STR(tmp));
	fd = open(VSTR_STR(tmp), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		vstr_sprintf(why, "create %s: %s", VSTR_STR(tmp),
			     strerror(errno));
		vstr_free(tmp);
		return -1;
	}
	if (ftruncate(fd, (off_t)metrics_file_size()) < 0
	    || pwrite(fd, &head, sizeof(head), 0) != (ssize_t)sizeof(head)
	    || (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
	    || rename(VSTR_STR(tmp), path) < 0) {
		vstr_sprintf(why, "write %s: %s", VSTR_STR(tmp),
			     strerror(errno));
		close(fd);
		(void)unlink(VSTR_STR(tmp));
		vstr_free(tmp);
		return -1;
	}
	close(fd);
	vstr_free(tmp);
	if (metrics_attach(path) < 0) {
		vstr_sprintf(why, "cannot map %s", path);
		return -1;
	}
	return 0;
}

int
metrics_attach(const char *path)
{
	struct metrics_head *h;
	struct stat	     st;
	size_t		     len = metrics_file_size();
	int		     fd;

	metrics_detach();
	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno != ENOENT)
			msg_warn("metrics: open %s: %m", path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)
	    || (size_t)st.st_size != len) {
		msg_warn("metrics: %s is not a metrics table of this version; "
			 "metrics are off (master makes it at start)",
			 path);
		close(fd);
		return -1;
	}
	h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (h == MAP_FAILED) {
		msg_warn("metrics: mmap %s: %m", path);
		return -1;
	}
	if (memcmp(h->magic, METRICS_MAGIC, sizeof(h->magic)) != 0
	    || h->version != METRICS_VERSION || h->nslots != METRICS_SLOTS
	    || h->slot_size != sizeof(struct metrics_slot)
	    || h->labels_max != METRICS_LABELS_MAX) {
		msg_warn("metrics: %s has a bad header; metrics are off", path);
		munmap(h, len);
		return -1;
	}
	metrics_map = h;
	metrics_map_len = len;
	return 0;
}

void
metrics_path_attach(const CFG *cfg)
{
	char *path = metrics_path(cfg);

	(void)metrics_attach(path);
	myfree(path);
}

void
metrics_detach(void)
{
	if (metrics_map != NULL)
		munmap(metrics_map, metrics_map_len);
	metrics_map = NULL;
	metrics_map_len = 0;
}

const void *
metrics_image(size_t *len)
{
	*len = metrics_map_len;
	return metrics_map;
}

/* FNV-1a over the family number and the label text. */
static uint32_t
metrics_hash(enum metrics_family family, const char *labels)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;

	h *= 16777619u;
	for (const unsigned char *p = (const unsigned char *)labels; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

static void
metrics_overflow(void)
{
	atomic_fetch_add_explicit(&metrics_map->overflow, 1,
				  memory_order_relaxed);
}

/*
 * Find the series, or claim an empty slot for it.  A slot that another
 * process is filling in is waited for a bounded number of spins (it
 * takes a memcpy); a writer that died meanwhile leaves it unfinished,
 * and we probe on past it.
 */
static struct metrics_slot *
metrics_find(enum metrics_family family, const char *labels)
{
	struct metrics_slot *slots;
	size_t		     len = strlen(labels);
	uint32_t	     h;

	if (metrics_map == NULL)
		return NULL;
	if (len >= METRICS_LABELS_MAX) {
		metrics_overflow();
		return NULL;
	}
	slots = metrics_slots(metrics_map);
	h = metrics_hash(family, labels);
	for (uint32_t i = 0; i < METRICS_SLOTS; i++) {
		struct metrics_slot *s = &slots[(h + i) % METRICS_SLOTS];
		uint32_t	     state = atomic_load_explicit(&s->state,
								  memory_order_acquire);

		if (state == SLOT_EMPTY) {
			if (atomic_compare_exchange_strong_explicit(
				&s->state, &state, SLOT_FILLING,
				memory_order_acquire, memory_order_acquire)) {
				s->family = (uint32_t)family;
				memcpy(s->labels, labels, len + 1);
				atomic_store_explicit(&s->state, SLOT_READY,
						      memory_order_release);
				return s;
			}
		}
		for (int spin = 0; state == SLOT_FILLING && spin < METRICS_SPIN;
		     spin++)
			state = atomic_load_explicit(&s->state,
						     memory_order_acquire);
		if (state == SLOT_READY && s->family == (uint32_t)family
		    && strcmp(s->labels, labels) == 0)
			return s;
	}
	metrics_overflow();
	return NULL;
}

void
metrics_add(enum metrics_family family, const char *labels, size_t idx,
	    unsigned long long delta)
{
	struct metrics_slot *s;

	if (idx >= METRICS_VALUES)
		msg_panic("metrics_add: value index %zu", idx);
	if ((s = metrics_find(family, labels)) != NULL)
		atomic_fetch_add_explicit(&s->v[idx], delta,
					  memory_order_relaxed);
}

void
metrics_gauge_set(enum metrics_family family, const char *labels,
		  long long value)
{
	struct metrics_slot *s;

	if ((s = metrics_find(family, labels)) != NULL)
		atomic_store_explicit(&s->v[0], (uint64_t)value,
				      memory_order_relaxed);
}

void
metrics_observe(enum metrics_family family, const char *labels, double value)
{
	const struct metrics_fam *f = &metrics_fams[family];
	struct metrics_slot	 *s;
	size_t			  b = 0;
	double			  scaled;

	if (f->bounds == NULL)
		msg_panic("metrics_observe: %s is no histogram", f->name);
	if (metrics_map == NULL || (s = metrics_find(family, labels)) == NULL)
		return;
	if (!(value >= 0)) /* NaN and clock steps back */
		value = 0;
	while (b < f->nbounds && value > f->bounds[b])
		b++;
	atomic_fetch_add_explicit(&s->v[b], 1, memory_order_relaxed);
	scaled = value * f->scale + 0.5;
	atomic_fetch_add_explicit(&s->v[f->nbounds + 1],
				  scaled < 1e18 ? (uint64_t)scaled : 0,
				  memory_order_relaxed);
}

int
metrics_labels(VSTR *out, const char *const *kv, size_t nlabels)
{
	vstr_reset(out);
	for (size_t i = 0; i < nlabels; i++) {
		const char *v = kv[2 * i + 1] ? kv[2 * i + 1] : "";

		vstr_sprintf_append(out, "%s%s=\"", i ? "," : "", kv[2 * i]);
		for (; *v; v++) {
			if (*v == '\\' || *v == '"')
				vstr_addch(out, '\\');
			if (*v == '\n')
				vstr_strcat(out, "\\n");
			else if ((unsigned char)*v < 0x20 || *v == 0x7f)
				vstr_addch(out, '?');
			else
				vstr_addch(out, *v);
		}
		vstr_addch(out, '"');
	}
	return VSTR_LEN(out) < METRICS_LABELS_MAX ? 0 : -1;
}

enum metrics_op {
	METRICS_OP_ADD,
	METRICS_OP_SET,
	METRICS_OP_OBSERVE
};

/*
 * One event on the series of family with the n label pairs in kv: add
 * one, set a gauge to value, or count value into a histogram.  A label
 * set too long for the table is counted as overflow.
 */
static void
metrics_labelled(enum metrics_family family, enum metrics_op op, double value,
		 const char *const *kv, size_t n)
{
	VSTR *buf;

	if (metrics_map == NULL)
		return;
	buf = vstr_alloc(64);
	if (metrics_labels(buf, kv, n) < 0)
		metrics_overflow();
	else if (op == METRICS_OP_ADD)
		metrics_add(family, VSTR_STR(buf), 0, 1);
	else if (op == METRICS_OP_SET)
		metrics_gauge_set(family, VSTR_STR(buf), (long long)value);
	else
		metrics_observe(family, VSTR_STR(buf), value);
	vstr_free(buf);
}

void
metrics_smtpd_connection(void)
{
	metrics_add(METRICS_SMTPD_CONNECTIONS, "", 0, 1);
}

static const char *
metrics_stage(const char *where)
{
	static const struct {
		const char *where, *stage;
	} map[] = {
		{ "CONNECT", "connect" }, { "HELO", "helo" },
		{ "EHLO", "helo" },	  { "MAIL", "mail" },
		{ "RCPT", "rcpt" },	  { "DATA", "data" },
		{ "BDAT", "data" },	  { "END-OF-MESSAGE", "end_of_data" },
		{ "AUTH", "auth" },
	};

	for (size_t i = 0; i < NB(map); i++)
		if (strcasecmp(where, map[i].where) == 0)
			return map[i].stage;
	return NULL;
}

void
metrics_smtpd_reject(const char *where, const char *reply)
{
	const char *stage;
	char	    code[4];

	if (metrics_map == NULL || (stage = metrics_stage(where)) == NULL)
		return;
	if ((reply[0] != '4' && reply[0] != '5') || reply[1] < '0'
	    || reply[1] > '9' || reply[2] < '0' || reply[2] > '9')
		return;
	memcpy(code, reply, 3);
	code[3] = 0;
	metrics_labelled(METRICS_SMTPD_REJECTS, METRICS_OP_ADD, 0,
			 (const char *const[]){ "stage", stage, "code", code },
			 2);
}

void
metrics_received(const char *origin, long long size)
{
	metrics_labelled(METRICS_MESSAGES_RECEIVED, METRICS_OP_ADD, 0,
			 (const char *const[]){ "origin", origin }, 1);
	metrics_observe(METRICS_MESSAGE_SIZE, "",
			size > 0 ? (double)size : 0.0);
}

void
metrics_delivery(const char *transport, enum deliver_action action,
		 double delay)
{
	const char *status = deliver_action_name(action);

	if (status == NULL)
		return;
	metrics_labelled(METRICS_DELIVERIES, METRICS_OP_ADD, 0,
			 (const char *const[]){ "transport", transport,
						"status", status },
			 2);
	if (action == DELIVER_SENT)
		metrics_labelled(METRICS_DELIVERY_DELAY, METRICS_OP_OBSERVE,
				 delay,
				 (const char *const[]){ "transport",
							transport },
				 1);
}

void
metrics_tls(const char *direction, const char *protocol)
{
	metrics_labelled(METRICS_TLS_SESSIONS, METRICS_OP_ADD, 0,
			 (const char *const[]){ "direction", direction,
						"protocol", protocol },
			 2);
}

void
metrics_processes(const char *service, long long count)
{
	metrics_labelled(METRICS_PROCESSES, METRICS_OP_SET, (double)count,
			 (const char *const[]){ "service", service }, 1);
}

/* ---- the reader: the image is untrusted ---- */

struct metrics_copy {
	uint32_t family;
	char	 labels[METRICS_LABELS_MAX];
	uint64_t v[METRICS_VALUES];
};

/* Does text hold exactly the family's label names, in order, well formed? */
static bool
metrics_labels_valid(const struct metrics_fam *f, const char *text)
{
	const char *p = text;

	for (size_t i = 0; f->labels[i] != NULL; i++) {
		size_t n = strlen(f->labels[i]);

		if (i > 0 && *p++ != ',')
			return false;
		if (strncmp(p, f->labels[i], n) != 0 || p[n] != '=')
			return false;
		p += n + 1;
		if (*p++ != '"')
			return false;
		for (;;) {
			unsigned char c = (unsigned char)*p;

			if (c == 0 || c < 0x20 || c == 0x7f)
				return false;
			if (c == '"')
				break;
			if (c == '\\') {
				if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
					return false;
				p++;
			}
			p++;
		}
		p++;
	}
	return *p == 0;
}

static int
metrics_copy_cmp(const void *a, const void *b)
{
	const struct metrics_copy *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return strcmp(x->labels, y->labels);
}

static void
metrics_render_sum(VSTR *out, uint64_t sum, unsigned scale)
{
	if (scale == 1000)
		vstr_sprintf_append(out, "%llu.%03llu",
				    (unsigned long long)(sum / 1000),
				    (unsigned long long)(sum % 1000));
	else
		vstr_sprintf_append(out, "%llu", (unsigned long long)sum);
}

static void
metrics_render_series(VSTR *out, const struct metrics_fam *f,
		      const struct metrics_copy *c)
{
	const char *sep = c->labels[0] ? "," : "";
	uint64_t    cum = 0;

	if (f->bounds == NULL) {
		vstr_strcat(out, f->name);
		if (c->labels[0])
			vstr_sprintf_append(out, "{%s}", c->labels);
		if (strcmp(f->type, "gauge") == 0)
			vstr_sprintf_append(out, " %lld\n", (long long)c->v[0]);
		else
			vstr_sprintf_append(out, " %llu\n",
					    (unsigned long long)c->v[0]);
		return;
	}
	for (size_t b = 0; b <= f->nbounds; b++) {
		cum += c->v[b];
		vstr_sprintf_append(out, "%s_bucket{%s%sle=\"", f->name,
				    c->labels, sep);
		if (b < f->nbounds)
			vstr_sprintf_append(out, "%.15g", f->bounds[b]);
		else
			vstr_strcat(out, "+Inf");
		vstr_sprintf_append(out, "\"} %llu\n", (unsigned long long)cum);
	}
	vstr_sprintf_append(out, "%s_sum", f->name);
	if (c->labels[0])
		vstr_sprintf_append(out, "{%s}", c->labels);
	vstr_addch(out, ' ');
	metrics_render_sum(out, c->v[f->nbounds + 1], f->scale);
	vstr_sprintf_append(out, "\n%s_count", f->name);
	if (c->labels[0])
		vstr_sprintf_append(out, "{%s}", c->labels);
	vstr_sprintf_append(out, " %llu\n", (unsigned long long)cum);
}

int
metrics_render(const void *image, size_t len, VSTR *out, size_t *skipped)
{
	const struct metrics_head *h = image;
	const struct metrics_slot *slots;
	struct metrics_copy	  *copies;
	size_t			   n = 0, bad = 0, written = 0;
	uint32_t		   nslots;

	if (skipped)
		*skipped = 0;
	if (image == NULL || len < sizeof(*h))
		return -1;
	/* Read once: another process may write the image meanwhile. */
	nslots = *(const volatile uint32_t *)&h->nslots;
	if (memcmp(h->magic, METRICS_MAGIC, sizeof(h->magic)) != 0
	    || h->version != METRICS_VERSION
	    || h->slot_size != sizeof(struct metrics_slot)
	    || h->labels_max != METRICS_LABELS_MAX || nslots == 0
	    || nslots > METRICS_SLOTS_MAX
	    || (len - sizeof(*h)) / sizeof(struct metrics_slot) < nslots)
		return -1;
	slots = metrics_slots(h);
	copies = mymalloc_array(nslots, sizeof(*copies));
	for (uint32_t i = 0; i < nslots; i++) {
		const struct metrics_slot *s = &slots[i];
		struct metrics_copy	  *c = &copies[n];

		if (atomic_load_explicit(&s->state, memory_order_acquire)
		    != SLOT_READY)
			continue;
		c->family = s->family;
		memcpy(c->labels, s->labels, sizeof(c->labels));
		for (size_t v = 0; v < METRICS_VALUES; v++)
			c->v[v] = atomic_load_explicit(&s->v[v],
						       memory_order_relaxed);
		if (c->family >= METRICS_NFAMILIES
		    || memchr(c->labels, 0, sizeof(c->labels)) == NULL
		    || !metrics_labels_valid(&metrics_fams[c->family],
					     c->labels)) {
			bad++;
			continue;
		}
		n++;
	}
	qsort(copies, n, sizeof(*copies), metrics_copy_cmp);
	for (int fam = 0; fam < METRICS_NFAMILIES; fam++) {
		const struct metrics_fam *f = &metrics_fams[fam];
		bool			  any = false;

		vstr_sprintf_append(out, "# HELP %s %s\n# TYPE %s %s\n",
				    f->name, f->help, f->name, f->type);
		for (size_t i = 0; i < n; i++) {
			struct metrics_copy *c = &copies[i];

			if (c->family != (uint32_t)fam)
				continue;
			/* A duplicate (a writer died mid-claim): merge. */
			if (i + 1 < n
			    && metrics_copy_cmp(c, &copies[i + 1]) == 0) {
				for (size_t v = 0; v < METRICS_VALUES; v++)
					copies[i + 1].v[v] += c->v[v];
				continue;
			}
			metrics_render_series(out, f, c);
			any = true;
			written++;
		}
		/* A family without labels reads 0 before its first event. */
		if (!any && f->labels[0] == NULL) {
			struct metrics_copy zero = { .family = (uint32_t)fam };

			metrics_render_series(out, f, &zero);
			written++;
		}
	}
	vstr_sprintf_append(
	    out,
	    "# HELP postel_metrics_overflow_total Events not "
	    "counted because the metrics table was full or a "
	    "label set too long.\n"
	    "# TYPE postel_metrics_overflow_total counter\n"
	    "postel_metrics_overflow_total %llu\n",
	    (unsigned long long)(atomic_load_explicit(&h->overflow,
						      memory_order_relaxed)
				 + bad));
	myfree(copies);
	if (skipped)
		*skipped = bad;
	return (int)written;
}
