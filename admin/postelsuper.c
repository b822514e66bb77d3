/*
 * postelsuper - queue maintenance, like postsuper(1).
 *
 * Usage: postelsuper [-c confdir] [-v] [-s] [-d ID] [-h ID] [-H ID]
 *	[-r ID] ... [queue]
 *
 * Each of -d (delete), -h (put on hold), -H (release from hold) and -r
 * (requeue) may be given several times; ID is a queue ID, ALL (every
 * message in the folders the operation applies to), or "-" (queue IDs
 * one per line on standard input).  The optional queue name (incoming,
 * deferred, hold) restricts the folders searched.  -s checks every queue
 * file with rec_check_file and moves bad ones to corrupt/.
 *
 * Not racing qmgr (DESIGN.md section 3): postelsuper only touches files
 * qmgr does not hold, i.e. never active/.  Every change is one rename or
 * unlink, so if qmgr takes a file from incoming/ or deferred/ at the same
 * moment exactly one of the two wins: qmgr ignores a file that vanished
 * under it, and postelsuper reports a message that went active as "being
 * delivered" and leaves it alone.
 *
 *	-d	unlink the file and its bounce/defer/trace logs
 *	-h	incoming/ or deferred/ -> hold/
 *	-H	hold/ -> deferred/X/ with the retry time now, then wake qmgr
 *	-r	deferred/ or hold/ -> incoming/, then wake qmgr (unlike
 *		postsuper the message is not run through cleanup again)
 *
 * Errors: reported on standard error; exit 0, EX_USAGE for bad options,
 * EX_CONFIG for main.cf errors, 1 when an operation failed.
 *
 * SPDX-License-Identifier: ISC
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "util/bounce_client.h"
#include "util/cfg.h"
#include "util/ipc.h"
#include "util/maillog.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/qid.h"
#include "util/rec.h"
#include "util/safe_file.h"
#include "util/user.h"
#include "util/vstr.h"

#define PS_INCOMING (1 << 0)
#define PS_DEFERRED (1 << 1)
#define PS_HOLD	    (1 << 2)

#define PS_PATH_MAX 600

struct ps_op {
	int	    op; /* 'd' 'h' 'H' 'r' */
	const char *arg;
};

struct ps_state {
	int   restrict_to; /* PS_* or 0 for no restriction */
	long  count[128];
	int   status;
	int   trigger; /* qmgr trigger byte to send, or 0 */
	bool  chown;   /* run by root: new folders go to mail_owner */
	uid_t uid;
	gid_t gid;
};

static int
ps_op_folders(int op)
{
	switch (op) {
	case 'd':
		return PS_INCOMING | PS_DEFERRED | PS_HOLD;
	case 'h':
		return PS_INCOMING | PS_DEFERRED;
	case 'H':
		return PS_HOLD;
	default:
		return PS_DEFERRED | PS_HOLD;
	}
}

/* queue folder path of id in one folder kind. */
static void
ps_path(char *buf, size_t len, int folder, const char *id)
{
	char hash[QID_HASH_LEN + 1];

	switch (folder) {
	case PS_INCOMING:
		snprintf(buf, len, "incoming/%s", id);
		break;
	case PS_DEFERRED:
		snprintf(buf, len, "deferred/%s/%s", qid_hash_dir(id, hash),
			 id);
		break;
	default:
		snprintf(buf, len, "hold/%s", id);
		break;
	}
}

static void
ps_remove_logs(const char *id)
{
	static const char *const services[] = { "bounce", "defer", "trace" };
	VSTR			*path = vstr_alloc(64);
	size_t			 i;

	for (i = 0; i < 3; i++)
		if (bounce_log_path(path, services[i], id) == 0
		    && unlink(VSTR_STR(path)) < 0 && errno != ENOENT)
			msg_warn("%s: remove %s: %m", id, VSTR_STR(path));
	vstr_free(path);
}

/* Do op on id found in folder at path; 0 / -1. */
static int
ps_apply(struct ps_state *st, int op, const char *id, int folder,
	 const char *path)
{
	char		to[PS_PATH_MAX];
	char		hash[QID_HASH_LEN + 1];
	struct timespec ts[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };

	switch (op) {
	case 'd':
		if (unlink(path) < 0)
			return -1;
		ps_remove_logs(id);
		msg_info("%s: removed", id);
		break;
	case 'h':
		snprintf(to, sizeof(to), "hold/%s", id);
		if (rename(path, to) < 0)
			return -1;
		msg_info("%s: placed on hold", id);
		break;
	case 'H':
		snprintf(to, sizeof(to), "deferred/%s", qid_hash_dir(id, hash));
		if (mkdir(to, 0700) == 0) {
			/* A root-owned 0700 folder would hide it from qmgr. */
			if (st->chown && chown(to, st->uid, st->gid) < 0)
				return -1;
		} else if (errno != EEXIST) {
			return -1;
		}
		snprintf(to, sizeof(to), "deferred/%s/%s", hash, id);
		/* Due now: qmgr's next deferred scan takes it. */
		(void)utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
		if (rename(path, to) < 0)
			return -1;
		msg_info("%s: released from hold", id);
		st->trigger = st->trigger ? st->trigger
					  : IPC_TRIGGER_SCAN_DEFERRED;
		break;
	case 'r':
		if (folder == PS_INCOMING)
			return 0;
		snprintf(to, sizeof(to), "incoming/%s", id);
		if (rename(path, to) < 0)
			return -1;
		msg_info("%s: requeued", id);
		st->trigger = IPC_TRIGGER_SCAN_ALL;
		break;
	}
	st->count[op]++;
	return 0;
}

/* One queue ID. */
static void
ps_one(struct ps_state *st, int op, const char *id)
{
	static const int kinds[] = { PS_INCOMING, PS_DEFERRED, PS_HOLD };
	int		 folders = ps_op_folders(op);
	char		 path[PS_PATH_MAX];
	struct stat	 sb;
	size_t		 i;

	if (!qid_valid(id)) {
		msg_warn("%s: not a queue ID", id);
		st->status = 1;
		return;
	}
	if (st->restrict_to)
		folders &= st->restrict_to;
	for (i = 0; i < 3; i++) {
		if (!(folders & kinds[i]))
			continue;
		ps_path(path, sizeof(path), kinds[i], id);
		if (lstat(path, &sb) < 0)
			continue;
		if (ps_apply(st, op, id, kinds[i], path) == 0)
			return;
		if (errno != ENOENT) {
			msg_warn("%s: %s: %m", id, path);
			st->status = 1;
			return;
		}
	}
	snprintf(path, sizeof(path), "active/%s", id);
	if (lstat(path, &sb) == 0)
		msg_warn("%s: is being delivered (active queue): not changed",
			 id);
	else
		msg_warn("%s: no such message in the queue folders", id);
}

/* Call fn for every queue ID in one folder (deferred: all hashes). */
static void
ps_walk(int   folder, void (*fn)(const char *id, int folder, void *ctx),
	void *ctx)
{
	const char    *name = folder == PS_INCOMING   ? "incoming"
			      : folder == PS_DEFERRED ? "deferred"
						      : "hold";
	char	       sub[PS_PATH_MAX];
	struct dirent *de, *se;
	DIR	      *d, *s;

	if ((d = opendir(name)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (folder != PS_DEFERRED) {
			if (qid_valid(de->d_name))
				fn(de->d_name, folder, ctx);
			continue;
		}
		if (strlen(de->d_name) != QID_HASH_LEN || *de->d_name == '.')
			continue;
		snprintf(sub, sizeof(sub), "deferred/%s", de->d_name);
		if ((s = opendir(sub)) == NULL)
			continue;
		while ((se = readdir(s)) != NULL)
			if (qid_valid(se->d_name))
				fn(se->d_name, folder, ctx);
		closedir(s);
	}
	closedir(d);
}

struct ps_all {
	struct ps_state *st;
	int		 op;
	char	       **ids;
	int		*folders;
	size_t		 n, alloc;
};

static void
ps_collect(const char *id, int folder, void *ctx)
{
	struct ps_all *a = ctx;

	if (a->n == a->alloc) {
		a->alloc = a->alloc ? 2 * a->alloc : 64;
		a->ids = myrealloc(a->ids, a->alloc * sizeof(*a->ids));
		a->folders = myrealloc(a->folders, a->alloc * sizeof(int));
	}
	a->ids[a->n] = mystrdup(id);
	a->folders[a->n++] = folder;
}

static void
ps_all(struct ps_state *st, int op)
{
	static const int kinds[] = { PS_INCOMING, PS_DEFERRED, PS_HOLD };
	int		 folders = ps_op_folders(op);
	struct ps_all	 a = { .st = st, .op = op };
	char		 path[PS_PATH_MAX];
	size_t		 i;

	if (st->restrict_to)
		folders &= st->restrict_to;
	/* Collect first: renames must not disturb the directory walk. */
	for (i = 0; i < 3; i++)
		if (folders & kinds[i])
			ps_walk(kinds[i], ps_collect, &a);
	for (i = 0; i < a.n; i++) {
		ps_path(path, sizeof(path), a.folders[i], a.ids[i]);
		if (ps_apply(st, op, a.ids[i], a.folders[i], path) < 0
		    && errno != ENOENT) {
			msg_warn("%s: %s: %m", a.ids[i], path);
			st->status = 1;
		}
		myfree(a.ids[i]);
	}
	myfree(a.ids);
	myfree(a.folders);
}

static void
ps_stdin(struct ps_state *st, int op)
{
	char line[256];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, " \t\r\n")] = 0;
		if (*line)
			ps_one(st, op, line);
	}
}

static void
ps_check_one(const char *id, int folder, void *ctx)
{
	struct ps_state *st = ctx;
	char		 path[PS_PATH_MAX];
	char		 to[PS_PATH_MAX];
	VSTR		*why = vstr_alloc(64);
	int		 fd;

	ps_path(path, sizeof(path), folder, id);
	if ((fd = safe_open_read(path)) < 0) {
		vstr_free(why);
		return;
	}
	if (rec_check_file(fd, why) < 0 && errno == EBADMSG) {
		snprintf(to, sizeof(to), "corrupt/%s", id);
		if (rename(path, to) == 0) {
			(void)chmod(to, 0400);
			msg_warn("%s: %s: moved to %s", id, VSTR_STR(why), to);
			st->count['s']++;
		}
	}
	close(fd);
	vstr_free(why);
}

static void
ps_usage(void)
{
	msg_fatal_status(EX_USAGE, "usage: postelsuper [-c confdir] [-v] [-s] "
				   "[-d ID|ALL|-] [-h ID|ALL|-] [-H ID|ALL|-] "
				   "[-r ID|ALL|-] [incoming|deferred|hold]");
}

int
main(int argc, char **argv)
{
	struct ps_state st = { 0 };
	struct ps_op   *ops;
	size_t		nops = 0;
	const char     *opt_c = NULL;
	const char     *queue;
	bool		check = false;
	CFG	       *cfg;
	VSTR	       *why = vstr_alloc(100);
	VSTR	       *trig = vstr_alloc(100);
	size_t		i;
	int		ch;

	msg_set_progname("postelsuper");
	ops = mycalloc((size_t)argc + 1, sizeof(*ops));
	while ((ch = getopt(argc, argv, "c:d:h:H:r:sv")) != -1) {
		switch (ch) {
		case 'c':
			opt_c = optarg;
			break;
		case 'd':
		case 'h':
		case 'H':
		case 'r':
			ops[nops].op = ch;
			ops[nops++].arg = optarg;
			break;
		case 's':
			check = true;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			ps_usage();
		}
	}
	if (optind < argc) {
		if (optind + 1 < argc)
			ps_usage();
		if (strcmp(argv[optind], "incoming") == 0)
			st.restrict_to = PS_INCOMING;
		else if (strcmp(argv[optind], "deferred") == 0)
			st.restrict_to = PS_DEFERRED;
		else if (strcmp(argv[optind], "hold") == 0)
			st.restrict_to = PS_HOLD;
		else
			msg_fatal_status(EX_USAGE,
					 "unsupported queue name: %s "
					 "(incoming, deferred or hold)",
					 argv[optind]);
	}
	if (nops == 0 && !check)
		ps_usage();
	if ((cfg = cfg_open(cfg_confdir_from_env(opt_c), why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	maillog_init(cfg, "postelsuper", MAILLOG_STDERR);
	queue = cfg_get_str(cfg, "queue_directory");
	if (geteuid() == 0
	    && user_lookup(cfg_get_str(cfg, "mail_owner"), &st.uid, &st.gid)
		   == 0)
		st.chown = true;
	if (chdir(queue) < 0)
		msg_fatal("chdir %s: %m", queue);
	if (check) {
		ps_walk(PS_INCOMING, ps_check_one, &st);
		ps_walk(PS_DEFERRED, ps_check_one, &st);
		ps_walk(PS_HOLD, ps_check_one, &st);
	}
	for (i = 0; i < nops; i++) {
		if (strcmp(ops[i].arg, "ALL") == 0)
			ps_all(&st, ops[i].op);
		else if (strcmp(ops[i].arg, "-") == 0)
			ps_stdin(&st, ops[i].op);
		else
			ps_one(&st, ops[i].op, ops[i].arg);
	}
	if (st.count['s'])
		msg_info("Moved to corrupt: %ld message%s", st.count['s'],
			 st.count['s'] == 1 ? "" : "s");
	if (st.count['d'])
		msg_info("Deleted: %ld message%s", st.count['d'],
			 st.count['d'] == 1 ? "" : "s");
	if (st.count['h'])
		msg_info("Placed on hold: %ld message%s", st.count['h'],
			 st.count['h'] == 1 ? "" : "s");
	if (st.count['H'])
		msg_info("Released from hold: %ld message%s", st.count['H'],
			 st.count['H'] == 1 ? "" : "s");
	if (st.count['r'])
		msg_info("Requeued: %ld message%s", st.count['r'],
			 st.count['r'] == 1 ? "" : "s");
	if (st.trigger) {
		vstr_sprintf(trig, "public/%s",
			     cfg_get_str(cfg, "qmgr_service_name"));
		/*
		 * Not fatal (the change is made; qmgr's next periodic scan
		 * finds it), but said: otherwise a released message that sits
		 * for queue_run_delay looks lost.
		 */
		if (ipc_trigger(VSTR_STR(trig), st.trigger, 1000) < 0)
			msg_warn("cannot wake up qmgr (%s): %m; the change "
				 "takes effect at its next queue scan",
				 VSTR_STR(trig));
	}
	myfree(ops);
	vstr_free(why);
	vstr_free(trig);
	cfg_free(cfg);
	return st.status;
}
