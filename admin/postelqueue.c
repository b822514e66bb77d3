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
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin_select.h"
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

struct pq_totals {
	long long   bytes;
	long long   count;
	bool	    json;
	const char *top;
	const char *queue;
	ADMIN_SEL  *sel;
	ADMIN_ENV  *env;
};

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
pq_print(const char *id, const ADMIN_ENV *m, struct pq_totals *t)
{
	char	  tbuf[64];
	time_t	  when = (time_t)m->arrival;
	struct tm tm;
	int	  mark = strcmp(t->queue, "active") == 0 ? '*'
			 : strcmp(t->queue, "hold") == 0 ? '!'
							 : ' ';

	if (t->json) {
		printf("{\"queue_name\": ");
		pq_json_str(t->queue);
		printf(", \"queue_id\": ");
		pq_json_str(id);
		printf(", \"arrival_time\": %lld, \"message_size\": %lld, "
		       "\"forced_expire\": %s, \"sender\": ",
		       m->arrival, m->size,
		       m->forced_expire ? "true" : "false");
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
	printf("%s%c%*s %8lld %-20s %s\n", id, mark,
	       (int)(QID_MAXLEN - 1 - strlen(id)), "", m->size, tbuf,
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

/* admin_walk callback: list one message if it is selected. */
static void
pq_one(void *ctx, const char *dirpath, const char *id)
{
	struct pq_totals *t = ctx;
	VSTR		 *path = vstr_alloc(100);
	VSTR		 *why = vstr_alloc(100);
	int		  fd;

	vstr_sprintf(path, "%s/%s", dirpath, id);
	if ((fd = admin_env_open(VSTR_STR(path))) < 0) {
		if (errno != ENOENT)
			msg_warn("%s: %m", VSTR_STR(path));
	} else {
		if (admin_env_read(fd, t->env, why) < 0) {
			msg_warn("%s: malformed queue file: %s", VSTR_STR(path),
				 VSTR_STR(why));
		} else {
			admin_env_reasons(t->top, id, t->env);
			if (admin_sel_match(t->sel, t->env)) {
				pq_print(id, t->env, t);
				t->bytes += t->env->size;
				t->count++;
			}
		}
		close(fd);
	}
	vstr_free(path);
	vstr_free(why);
}

static void
pq_list(const CFG *cfg, bool json, ADMIN_SEL *sel)
{
	static const char *const queues[] = {
		"maildrop", "incoming", "active", "deferred", "hold",
	};
	struct pq_totals t = { .json = json, .sel = sel };
	VSTR		*dir = vstr_alloc(100);

	t.top = cfg_get_str(cfg, "queue_directory");
	t.env = admin_env_alloc();
	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		vstr_sprintf(dir, "%s/%s", t.top, queues[i]);
		t.queue = queues[i];
		if (admin_walk(VSTR_STR(dir), pq_one, &t) < 0)
			msg_fatal_status(errno == EACCES ? EX_NOPERM
							 : EX_UNAVAILABLE,
					 "cannot read queue folder %s: %m",
					 VSTR_STR(dir));
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
	admin_env_free(t.env);
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
	msg_fatal_status(EX_USAGE,
			 "usage: postelqueue [-c confdir] [-v] "
			 "-p | -j [--recipient-domain D] [--sender ADDR|@D] "
			 "[--older-than T] [--younger-than T] [--reason RE] "
			 "| -f | -i queue_id | -s site");
}

int
main(int argc, char **argv)
{
	const char   *opt_c = NULL;
	char	     *confdir;
	CFG	     *cfg;
	VSTR	     *why;
	const char   *arg = NULL;
	ADMIN_SEL     sel;
	int	      mode = 0;
	int	      ch;
	int	      li;
	struct option longopts[6];

	sendmail_conf_std_fds();
	msg_set_progname("postelqueue");
	admin_sel_init(&sel, (long long)time(NULL));
	why = vstr_alloc(100);
	for (li = 0; admin_sel_names[li]; li++)
		longopts[li] = (struct option){ admin_sel_names[li],
						required_argument, NULL, 0 };
	longopts[li] = (struct option){ 0 };
	while ((ch = getopt_long(argc, argv, "c:fi:js:pv", longopts, &li))
	       != -1) {
		switch (ch) {
		case 0:
			if (admin_sel_option(&sel, longopts[li].name, optarg,
					     why)
			    < 0)
				msg_fatal_status(EX_USAGE, "%s", VSTR_STR(why));
			break;
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
	if (admin_sel_active(&sel) && mode != 'p' && mode != 'j')
		msg_fatal_status(EX_USAGE, "selectors go with -p or -j only");
	confdir = sendmail_conf_dir(opt_c);
	if (sendmail_conf_privileged())
		sendmail_conf_clean_env();
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
		pq_list(cfg, mode == 'j', &sel);
	admin_sel_free(&sel);
	cfg_free(cfg);
	vstr_free(why);
	myfree(confdir);
	return 0;
}
