/*
 * postelqueue - the user's view of the mail queue, like postqueue(1).
 *
 * Usage: postelqueue [-c confdir] [-v] -p | -j | -f | -i queue_id | -s site
 *
 * -p prints the queue in mailq format, -j one JSON object per message
 * (Postfix's fields: queue_name, queue_id, arrival_time, message_size,
 * forced_expire, sender, recipients[] with address and delay_reason).
 * Both read the queue files directly: maildrop, incoming, active,
 * deferred (hashed), hold, in that order, each folder in queue ID (arrival)
 * order.  Only pending recipients are listed; the delay reason of each is
 * the last entry for it in the message's defer log.
 *
 * -f asks qmgr to forget dead destinations and retry all deferred mail
 * now, after asking the fast flush service to purge its logs (a warning
 * when it cannot).  -i makes the named deferred message due now: a deferred file's
 * mtime is its next attempt time (docs/QMGR.md), so it sets it to now,
 * without moving the file, and asks qmgr to scan deferred/.  -s asks the
 * fast flush service (flush(8)) to do the same for the messages it logged
 * as deferred for the site, which must be listed in fast_flush_domains.
 *
 * The configuration folder follows sendmail_conf_dir(): installed setgid,
 * a non-default folder from a non-root user must be listed in
 * alternate_config_directories.  Reading queue folders needs the rights
 * of mail_owner (or root) for now.
 *
 * Errors: a malformed queue file is skipped with a warning naming it; an
 * unreadable queue folder is fatal (EX_NOPERM / EX_UNAVAILABLE); bad
 * options EX_USAGE.
 *
 * SPDX-License-Identifier: ISC
 */
#include <dirent.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "util/sendmail_conf.h"
#include "util/bounce_client.h"
#include "util/cfg.h"
#include "util/flush_client.h"
#include "util/ipc.h"
#include "util/maillog.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/qid.h"
#include "util/rec.h"
#include "util/safe_file.h"
#include "util/vstr.h"

#define PQ_TEXT_MAX 4096 /* envelope record bound */

/* One message's listing data. */
struct pq_msg {
	const char *queue;
	const char *id;
	long long   arrival;
	long long   size;
	VSTR	   *sender;
	size_t	    nrcpt;
	size_t	    cap;
	char	  **rcpt;
	char	  **reason; /* delay reason per recipient or NULL */
};

struct pq_totals {
	long long bytes;
	long long count;
	bool	  json;
};

static void
pq_msg_reset(struct pq_msg *m)
{
	for (size_t i = 0; i < m->nrcpt; i++) {
		myfree(m->rcpt[i]);
		myfree(m->reason[i]);
	}
	m->nrcpt = 0;
	vstr_reset(m->sender);
	m->arrival = m->size = 0;
}

/* Read the envelope of fd into m; 0, or -1 with why. */
static int
pq_read(int fd, struct pq_msg *m, VSTR *why)
{
	REC_READER     *r = rec_reader_create(fd, 0);
	VSTR	       *data = vstr_alloc(256);
	struct rec_size size;
	int		type;
	int		ret;

	while ((ret = rec_get(r, &type, data, PQ_TEXT_MAX)) > 0) {
		if (type == REC_TYPE_SIZE) {
			if (rec_size_parse(VSTR_STR(data), VSTR_LEN(data),
					   &size)
			    == 0)
				m->size = size.message_size;
		} else if (type == REC_TYPE_TIME) {
			m->arrival = strtoll(VSTR_STR(data), NULL, 10);
		} else if (type == REC_TYPE_FROM) {
			vstr_strcpy(m->sender, VSTR_STR(data));
		} else if (type == REC_TYPE_RCPT) {
			if (m->nrcpt == m->cap) {
				m->cap = m->cap ? 2 * m->cap : 8;
				m->rcpt = myrealloc_array(m->rcpt, m->cap,
							  sizeof(*m->rcpt));
				m->reason = myrealloc_array(m->reason, m->cap,
							    sizeof(*m->reason));
			}
			m->reason[m->nrcpt] = NULL;
			m->rcpt[m->nrcpt++] = mystrdup(VSTR_STR(data));
		} else if (type == REC_TYPE_MESG) {
			break;
		}
	}
	if (ret < 0)
		vstr_strcpy(why, rec_reader_why(r));
	rec_reader_free(r);
	vstr_free(data);
	return ret < 0 ? -1 : 0;
}

/* bounce_log_read callback: the latest reason of each pending recipient. */
static void
pq_reason(void *ctx, const char *rcpt, const char *dsn, const char *reason)
{
	struct pq_msg *m = ctx;

	(void)dsn;
	for (size_t i = 0; i < m->nrcpt; i++) {
		if (strcmp(m->rcpt[i], rcpt) == 0) {
			myfree(m->reason[i]);
			m->reason[i] = mystrdup(reason);
		}
	}
}

/* Attach the delay reasons from the message's defer log, if any. */
static void
pq_reasons(const char *top, struct pq_msg *m)
{
	VSTR *rel = vstr_alloc(64);
	VSTR *path = vstr_alloc(100);
	VSTR *why = vstr_alloc(64);

	if (m->nrcpt > 0 && bounce_log_path(rel, "defer", m->id) == 0) {
		vstr_sprintf(path, "%s/%s", top, VSTR_STR(rel));
		if (bounce_log_read(VSTR_STR(path), pq_reason, m, why) < 0)
			msg_warn("%s: %s", VSTR_STR(path), VSTR_STR(why));
	}
	vstr_free(rel);
	vstr_free(path);
	vstr_free(why);
}

static void
pq_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
pq_print(const struct pq_msg *m, struct pq_totals *t)
{
	char	  tbuf[64];
	time_t	  when = (time_t)m->arrival;
	struct tm tm;
	int	  mark = strcmp(m->queue, "active") == 0 ? '*'
			 : strcmp(m->queue, "hold") == 0 ? '!'
							 : ' ';

	if (t->json) {
		printf("{\"queue_name\": ");
		pq_json_str(m->queue);
		printf(", \"queue_id\": ");
		pq_json_str(m->id);
		printf(", \"arrival_time\": %lld, \"message_size\": %lld, "
		       "\"forced_expire\": false, \"sender\": ",
		       m->arrival, m->size);
		pq_json_str(VSTR_STR(m->sender));
		printf(", \"recipients\": [");
		for (size_t i = 0; i < m->nrcpt; i++) {
			printf("%s{\"address\": ", i ? ", " : "");
			pq_json_str(m->rcpt[i]);
			if (m->reason[i]) {
				printf(", \"delay_reason\": ");
				pq_json_str(m->reason[i]);
			}
			putchar('}');
		}
		printf("]}\n");
		return;
	}
	if (t->count == 0)
		printf("%-*s %8s %-20s %s\n", QID_MAXLEN, "-Queue ID-",
		       "--Size--", "----Arrival Time----",
		       "-Sender/Recipient-------");
	if (localtime_r(&when, &tm) == NULL
	    || strftime(tbuf, sizeof(tbuf), "%a %b %e %H:%M:%S", &tm) == 0)
		tbuf[0] = 0;
	printf("%s%c%*s %8lld %-20s %s\n", m->id, mark,
	       (int)(QID_MAXLEN - 1 - strlen(m->id)), "", m->size, tbuf,
	       VSTR_LEN(m->sender) ? VSTR_STR(m->sender) : "MAILER-DAEMON");
	/* As mailq: a "(reason)" line before each run of recipients. */
	for (size_t i = 0; i < m->nrcpt; i++) {
		if (m->reason[i]
		    && (i == 0 || m->reason[i - 1] == NULL
			|| strcmp(m->reason[i], m->reason[i - 1])))
			printf("(%s)\n", m->reason[i]);
		printf("%*s%s\n", QID_MAXLEN + 31, "", m->rcpt[i]);
	}
	putchar('\n');
}

static int
pq_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List one folder (not recursive); missing folders are empty. */
static void
pq_folder(const char *top, const char *queue, const char *dirpath,
	  struct pq_totals *t)
{
	struct pq_msg  m = { .queue = queue };
	VSTR	      *path = vstr_alloc(100);
	VSTR	      *why = vstr_alloc(100);
	struct dirent *de;
	char	     **names = NULL;
	size_t	       count = 0;
	size_t	       cap = 0;
	DIR	      *dir;
	int	       fd;

	if ((dir = opendir(dirpath)) == NULL) {
		if (errno == ENOENT)
			goto out;
		msg_fatal_status(errno == EACCES ? EX_NOPERM : EX_UNAVAILABLE,
				 "cannot read queue folder %s: %m", dirpath);
	}
	while ((de = readdir(dir)) != NULL) {
		if (!qid_valid(de->d_name))
			continue;
		if (count == cap) {
			cap = cap ? 2 * cap : 64;
			names = myrealloc_array(names, cap, sizeof(*names));
		}
		names[count++] = mystrdup(de->d_name);
	}
	closedir(dir);
	if (count > 1)
		qsort(names, count, sizeof(*names), pq_name_cmp);
	m.sender = vstr_alloc(64);
	for (size_t i = 0; i < count; i++) {
		vstr_sprintf(path, "%s/%s", dirpath, names[i]);
		pq_msg_reset(&m);
		m.id = names[i];
		if ((fd = safe_open_read(VSTR_STR(path))) < 0) {
			if (errno != ENOENT)
				msg_warn("%s: %m", VSTR_STR(path));
		} else {
			if (pq_read(fd, &m, why) < 0)
				msg_warn("%s: malformed queue file: %s",
					 VSTR_STR(path), VSTR_STR(why));
			else {
				pq_reasons(top, &m);
				pq_print(&m, t);
				t->bytes += m.size;
				t->count++;
			}
			close(fd);
		}
		myfree(names[i]);
	}
	pq_msg_reset(&m);
	myfree(m.rcpt);
	myfree(m.reason);
	vstr_free(m.sender);
	myfree(names);
out:
	vstr_free(path);
	vstr_free(why);
}

static void
pq_list(const CFG *cfg, bool json)
{
	static const char *const queues[] = {
		"maildrop", "incoming", "active", "deferred", "hold",
	};
	static const char hash_digits[] =
	    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
	const char	*top = cfg_get_str(cfg, "queue_directory");
	struct pq_totals t = { .json = json };
	VSTR		*dir = vstr_alloc(100);

	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		vstr_sprintf(dir, "%s/%s", top, queues[i]);
		pq_folder(top, queues[i], VSTR_STR(dir), &t);
		if (strcmp(queues[i], "deferred") != 0)
			continue;
		for (const char *h = hash_digits; *h; h++) {
			vstr_sprintf(dir, "%s/deferred/%c", top, *h);
			pq_folder(top, queues[i], VSTR_STR(dir), &t);
		}
	}
	if (!json) {
		if (t.count == 0)
			printf("Mail queue is empty\n");
		else
			printf("-- %lld Kbytes in %lld Request%s.\n",
			       (t.bytes + 1023) / 1024, t.count,
			       t.count == 1 ? "" : "s");
	}
	if (fflush(stdout) != 0)
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	vstr_free(dir);
}

/* Send trigger bytes to qmgr's public socket. */
static void
pq_trigger(const CFG *cfg, const char *bytes)
{
	VSTR *path = vstr_alloc(100);

	vstr_sprintf(path, "%s/public/%s", cfg_get_str(cfg, "queue_directory"),
		     cfg_get_str(cfg, "qmgr_service_name"));
	for (; *bytes; bytes++)
		if (ipc_trigger(VSTR_STR(path), *bytes, 10000) < 0)
			msg_fatal_status(EX_UNAVAILABLE,
					 "cannot reach the queue "
					 "manager at %s: %m (is Postel running?)",
					 VSTR_STR(path));
	vstr_free(path);
}

/* -i: the deferred message queue_id is due now. */
static void
pq_flush_id(const CFG *cfg, const char *qid)
{
	const char *top = cfg_get_str(cfg, "queue_directory");
	VSTR	   *path = vstr_alloc(100);
	char	    hash[QID_HASH_LEN + 1];

	if (!qid_valid(qid))
		msg_fatal_status(EX_USAGE, "%s: not a queue ID", qid);
	vstr_sprintf(path, "%s/deferred/%s/%s", top, qid_hash_dir(qid, hash),
		     qid);
	if (flush_make_due(VSTR_STR(path)) < 0) {
		if (errno == ENOENT)
			msg_fatal_status(EX_NOINPUT,
					 "%s: no such message in the "
					 "deferred queue",
					 qid);
		msg_fatal_status(errno == EACCES || errno == EPERM ? EX_NOPERM
								   : EX_IOERR,
				 "%s: %m", VSTR_STR(path));
	}
	pq_trigger(cfg, (const char[]){ IPC_TRIGGER_SCAN_DEFERRED, 0 });
	vstr_free(path);
}

/*
 * -s: ask the fast flush service to deliver the mail deferred for site,
 * as postqueue -s does; errors and exit codes are postqueue's.
 */
static void
pq_flush_site(const CFG *cfg, const char *site)
{
	VSTR *why = vstr_alloc(100);
	int   status = flush_send_site(cfg, site, why);

	switch (status) {
	case FLUSH_STAT_OK:
		break;
	case FLUSH_STAT_BAD:
		msg_fatal_status(EX_USAGE, "Invalid request: \"%s\"", site);
	case FLUSH_STAT_FAIL:
		msg_fatal_status(EX_UNAVAILABLE,
				 "Cannot flush mail queue - mail system is "
				 "down (%s)",
				 VSTR_STR(why));
	case FLUSH_STAT_DENY:
		msg_fatal_status(EX_UNAVAILABLE,
				 "Flush service is not configured for "
				 "destination \"%s\"",
				 site);
	default:
		msg_fatal_status(EX_SOFTWARE,
				 "Unknown flush server reply status %d",
				 status);
	}
	vstr_free(why);
}

static _Noreturn void
pq_usage(void)
{
	msg_fatal_status(EX_USAGE, "usage: postelqueue [-c confdir] [-v] "
				   "-p | -j | -f | -i queue_id | -s site");
}

int
main(int argc, char **argv)
{
	const char *opt_c = NULL;
	char	   *confdir;
	CFG	   *cfg;
	VSTR	   *why;
	const char *arg = NULL;
	int	    mode = 0;
	int	    ch;

	sendmail_conf_std_fds();
	msg_set_progname("postelqueue");
	while ((ch = getopt(argc, argv, "c:fi:js:pv")) != -1) {
		switch (ch) {
		case 'c':
			opt_c = optarg;
			break;
		case 'p':
		case 'j':
		case 'f':
			mode = ch;
			break;
		case 'i':
		case 's':
			mode = ch;
			arg = optarg;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			pq_usage();
		}
	}
	if (mode == 0 || optind != argc)
		pq_usage();
	confdir = sendmail_conf_dir(opt_c);
	if (sendmail_conf_privileged())
		sendmail_conf_clean_env();
	why = vstr_alloc(100);
	if ((cfg = cfg_open(confdir, why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	maillog_init(cfg, "postelqueue", MAILLOG_STDERR);
	if (mode == 'f') {
		/* As postqueue -f: the fast flush logs are purged too. */
		if (flush_purge(cfg, why) != FLUSH_STAT_OK)
			msg_warn("cannot purge the fast flush logs: %s",
				 VSTR_STR(why));
		pq_trigger(cfg, (const char[]){ IPC_TRIGGER_FLUSH_DEAD,
						IPC_TRIGGER_SCAN_ALL, 0 });
	} else if (mode == 'i')
		pq_flush_id(cfg, arg);
	else if (mode == 's')
		pq_flush_site(cfg, arg);
	else
		pq_list(cfg, mode == 'j');
	cfg_free(cfg);
	vstr_free(why);
	myfree(confdir);
	return 0;
}
