/*
 * postelsuper - queue maintenance, like postsuper(1).
 *
 * Usage: postelsuper [-c confdir] [-v] [-n] [-p] [-s] [-d ID] [-h ID]
 *	[-H ID] [-r ID] [-e ID] [-f ID] [selectors] ... [queue]
 *
 * Each of -d (delete), -h (put on hold), -H (release from hold), -r
 * (requeue), -e (force expiry) and -f (force expiry and release from
 * hold) may be given several times; ID is a queue ID, ALL (every message
 * in the folders the operation applies to), or "-" (queue IDs one per
 * line on standard input).  The optional queue name (incoming, active,
 * deferred, hold) restricts the folders searched.  -s checks every queue
 * file with rec_check_file and moves bad ones to corrupt/; -p removes
 * temporary files (names that are not queue IDs) not modified for a day,
 * left by crashed programs.  -p and -s run before the other operations.
 *
 * Selectors (admin/admin_select.h: --recipient-domain, --sender,
 * --older-than, --younger-than, --reason) restrict every operation to
 * the messages that match them all; with -n nothing is changed and the
 * queue ID of every message an operation would affect is printed on
 * standard output, one per line (ready for "postelsuper -d -").
 *
 * Not racing qmgr (DESIGN.md section 3): postelsuper moves only files
 * qmgr does not hold, i.e. never in active/.  Every change is one rename
 * or unlink, so if qmgr takes a file from incoming/ or deferred/ at the
 * same moment exactly one of the two wins: qmgr ignores a file that
 * vanished under it, and postelsuper reports a message that went active
 * as "being delivered" and leaves it alone.  Selection reads a message's
 * envelope first and acts on the same path afterwards, so a message qmgr
 * took in between is left alone the same way.  ALL walks the folders as
 * a stream (admin_walk: batches of at most ADMIN_WALK_BATCH names), never
 * holding the whole queue in memory.
 *
 *	-d	unlink the file and its bounce/defer/trace logs
 *	-h	incoming/ or deferred/ -> hold/
 *	-H	hold/ -> deferred/X/ with the retry time now, then ask qmgr
 *		to scan deferred/ for due files
 *	-r	deferred/ or hold/ -> incoming/, then ask qmgr to scan
 *		incoming/ (unlike postsuper the message is not run through
 *		cleanup again; other deferred mail keeps its retry time)
 *	-e	set the queue file's owner execute bit (also in active/: a
 *		mode change, not a move, that survives qmgr's renames); qmgr
 *		returns the message to its sender as "message is
 *		administratively expired" when it next takes the file
 *	-f	-e, and a held message is released as with -H
 *
 * Errors: reported on standard error; exit 0, EX_USAGE for bad options,
 * EX_CONFIG for main.cf errors, 1 when an operation failed.
 *
 * SPDX-License-Identifier: ISC
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin_select.h"
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
#define PS_ACTIVE   (1 << 3)

#define PS_PATH_MAX 600
#define PS_TEMP_AGE (24 * 3600) /* -p: temporary files older than this */

struct ps_op {
	int	    op; /* 'd' 'h' 'H' 'r' 'e' 'f' */
	const char *arg;
};

struct ps_state {
	int	   restrict_to; /* PS_* or 0 for no restriction */
	long	   count[128];
	int	   status;
	bool	   wake_incoming; /* qmgr triggers to send */
	bool	   wake_deferred;
	bool	   chown; /* run by root: new folders go to mail_owner */
	bool	   dry_run;
	uid_t	   uid;
	gid_t	   gid;
	int	   op; /* of the ALL walk in progress */
	int	   folder;
	ADMIN_SEL  sel;
	ADMIN_ENV *env;
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
	case 'e':
	case 'f':
		return PS_INCOMING | PS_ACTIVE | PS_DEFERRED | PS_HOLD;
	default:
		return PS_DEFERRED | PS_HOLD;
	}
}

static const char *
ps_folder_name(int folder)
{
	switch (folder) {
	case PS_INCOMING:
		return "incoming";
	case PS_ACTIVE:
		return "active";
	case PS_DEFERRED:
		return "deferred";
	default:
		return "hold";
	}
}

/* queue folder path of id in one folder kind. */
static void
ps_path(char *buf, size_t len, int folder, const char *id)
{
	char hash[QID_HASH_LEN + 1];

	if (folder == PS_DEFERRED)
		snprintf(buf, len, "deferred/%s/%s", qid_hash_dir(id, hash),
			 id);
	else
		snprintf(buf, len, "%s/%s", ps_folder_name(folder), id);
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

/*
 * Do the selectors pick the message at path?  Without selectors every
 * message is picked; an unreadable or vanished file is not (errno tells).
 */
static bool
ps_selected(struct ps_state *st, const char *id, const char *path)
{
	VSTR *why;
	int   fd;
	bool  ok;

	if (!admin_sel_active(&st->sel))
		return true;
	if ((fd = admin_env_open(path)) < 0)
		return false;
	why = vstr_alloc(64);
	if (admin_env_read(fd, st->env, why) < 0) {
		msg_warn("%s: %s: not selected: %s", id, path, VSTR_STR(why));
		ok = false;
	} else {
		if (admin_sel_needs_reasons(&st->sel))
			admin_env_reasons(".", id, st->env);
		ok = admin_sel_match(&st->sel, st->env);
	}
	close(fd);
	vstr_free(why);
	errno = 0;
	return ok;
}

/* -e: the owner execute bit marks the file for forced expiry. */
static int
ps_expire(const char *path)
{
	struct stat sb;
	int	    fd;
	int	    ret = -1;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC))
	    < 0)
		return -1;
	if (fstat(fd, &sb) == 0) {
		if (!S_ISREG(sb.st_mode))
			errno = EINVAL;
		else
			ret = fchmod(fd, (sb.st_mode & 07777) | S_IXUSR);
	}
	close(fd);
	return ret;
}

/* hold/id -> deferred/X/id, due now. */
static int
ps_release(struct ps_state *st, const char *id, const char *path)
{
	char		to[PS_PATH_MAX];
	char		hash[QID_HASH_LEN + 1];
	struct timespec ts[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };

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
	st->count['H']++;
	st->wake_deferred = true;
	return 0;
}

/* Do op on id found in folder at path; 0 / -1. */
static int
ps_apply(struct ps_state *st, int op, const char *id, int folder,
	 const char *path)
{
	char to[PS_PATH_MAX];

	if (op == 'r' && folder == PS_INCOMING)
		return 0;
	if (!ps_selected(st, id, path))
		return errno ? -1 : 0;
	if (st->dry_run) {
		printf("%s\n", id);
		st->count[op]++;
		return 0;
	}
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
		return ps_release(st, id, path);
	case 'r':
		snprintf(to, sizeof(to), "incoming/%s", id);
		if (rename(path, to) < 0)
			return -1;
		msg_info("%s: requeued", id);
		st->wake_incoming = true;
		break;
	case 'e':
	case 'f':
		if (ps_expire(path) < 0)
			return -1;
		msg_info("%s: forced to expire", id);
		st->count['e']++;
		if (op == 'f' && folder == PS_HOLD)
			return ps_release(st, id, path);
		return 0;
	}
	st->count[op]++;
	return 0;
}

/* One queue ID. */
static void
ps_one(struct ps_state *st, int op, const char *id)
{
	static const int kinds[] = { PS_INCOMING, PS_ACTIVE, PS_DEFERRED,
				     PS_HOLD };
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
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
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
	if (!(folders & PS_ACTIVE) && lstat(path, &sb) == 0)
		msg_warn("%s: is being delivered (active queue): not changed",
			 id);
	else
		msg_warn("%s: no such message in the queue folders", id);
}

/* admin_walk callback of ALL: one message of the folder walked. */
static void
ps_all_one(void *ctx, const char *dirpath, const char *id)
{
	struct ps_state *st = ctx;
	char		 path[PS_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dirpath, id);
	if (ps_apply(st, st->op, id, st->folder, path) < 0 && errno != ENOENT) {
		msg_warn("%s: %s: %m", id, path);
		st->status = 1;
	}
}

/*
 * ALL, streaming.  An operation never creates names in a folder it
 * walks (-H and -f move hold/ to deferred/, which is walked before
 * hold/), so the walk sees every message once.
 */
static void
ps_all(struct ps_state *st, int op)
{
	static const int kinds[] = { PS_INCOMING, PS_ACTIVE, PS_DEFERRED,
				     PS_HOLD };
	int		 folders = ps_op_folders(op);
	size_t		 i;

	if (st->restrict_to)
		folders &= st->restrict_to;
	st->op = op;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!(folders & kinds[i]))
			continue;
		st->folder = kinds[i];
		if (admin_walk(ps_folder_name(kinds[i]), ps_all_one, st) < 0) {
			msg_warn("cannot read queue folder %s: %m",
				 ps_folder_name(kinds[i]));
			st->status = 1;
		}
	}
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
ps_check_one(void *ctx, const char *dirpath, const char *id)
{
	struct ps_state *st = ctx;
	char		 path[PS_PATH_MAX];
	char		 to[PS_PATH_MAX];
	VSTR		*why = vstr_alloc(64);
	int		 fd;

	snprintf(path, sizeof(path), "%s/%s", dirpath, id);
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

/* -p in one folder: old regular files whose names are not queue IDs. */
static void
ps_purge_dir(struct ps_state *st, const char *dirpath, time_t now)
{
	char	       path[PS_PATH_MAX];
	struct dirent *de;
	struct stat    sb;
	DIR	      *d;

	if ((d = opendir(dirpath)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (*de->d_name == '.' || qid_valid(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode)
		    || sb.st_mtime > now - PS_TEMP_AGE)
			continue;
		if (st->dry_run) {
			printf("%s\n", path);
		} else if (unlink(path) < 0) {
			if (errno != ENOENT)
				msg_warn("remove %s: %m", path);
			continue;
		} else {
			msg_info("removed temporary file %s", path);
		}
		st->count['p']++;
	}
	closedir(d);
}

static void
ps_purge(struct ps_state *st)
{
	static const char *const dirs[] = { "maildrop", "incoming", "active",
					    "hold" };
	static const char	 hash_digits[] =
	    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
	char   sub[32];
	time_t now = time(NULL);

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		ps_purge_dir(st, dirs[i], now);
	ps_purge_dir(st, "deferred", now);
	for (const char *h = hash_digits; *h; h++) {
		snprintf(sub, sizeof(sub), "deferred/%c", *h);
		ps_purge_dir(st, sub, now);
	}
}

static void
ps_usage(void)
{
	msg_fatal_status(EX_USAGE,
			 "usage: postelsuper [-c confdir] [-v] [-n] [-p] [-s] "
			 "[-d ID|ALL|-] [-h ID|ALL|-] [-H ID|ALL|-] [-r ID|ALL|-] "
			 "[-e ID|ALL|-] [-f ID|ALL|-] [--recipient-domain D] "
			 "[--sender ADDR|@D] [--older-than T] [--younger-than T] "
			 "[--reason RE] [incoming|active|deferred|hold]");
}

/* The summary line of one counter. */
static void
ps_report(const struct ps_state *st, int op, const char *done,
	  const char *would)
{
	if (st->count[op])
		msg_info("%s: %ld message%s", st->dry_run ? would : done,
			 st->count[op], st->count[op] == 1 ? "" : "s");
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
	bool		purge = false;
	CFG	       *cfg;
	VSTR	       *why = vstr_alloc(100);
	VSTR	       *trig = vstr_alloc(100);
	struct option	longopts[6];
	size_t		i;
	int		li;
	int		ch;

	msg_set_progname("postelsuper");
	admin_sel_init(&st.sel, (long long)time(NULL));
	for (li = 0; admin_sel_names[li]; li++)
		longopts[li] = (struct option){ admin_sel_names[li],
						required_argument, NULL, 0 };
	longopts[li] = (struct option){ 0 };
	ops = mycalloc((size_t)argc + 1, sizeof(*ops));
	while (
	    (ch = getopt_long(argc, argv, "c:d:e:f:h:H:nr:psv", longopts, &li))
	    != -1) {
		switch (ch) {
		case 0:
			if (admin_sel_option(&st.sel, longopts[li].name, optarg,
					     why)
			    < 0)
				msg_fatal_status(EX_USAGE, "%s", VSTR_STR(why));
			break;
		case 'c':
			opt_c = optarg;
			break;
		case 'd':
		case 'e':
		case 'f':
		case 'h':
		case 'H':
		case 'r':
			ops[nops].op = ch;
			ops[nops++].arg = optarg;
			break;
		case 'n':
			st.dry_run = true;
			break;
		case 'p':
			purge = true;
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
		else if (strcmp(argv[optind], "active") == 0)
			st.restrict_to = PS_ACTIVE;
		else if (strcmp(argv[optind], "deferred") == 0)
			st.restrict_to = PS_DEFERRED;
		else if (strcmp(argv[optind], "hold") == 0)
			st.restrict_to = PS_HOLD;
		else
			msg_fatal_status(EX_USAGE,
					 "unsupported queue name: %s "
					 "(incoming, active, deferred or hold)",
					 argv[optind]);
	}
	if (nops == 0 && !check && !purge)
		ps_usage();
	if (admin_sel_active(&st.sel) && nops == 0)
		msg_fatal_status(EX_USAGE, "selectors need -d, -h, -H, -r, -e "
					   "or -f");
	if (st.dry_run && check)
		msg_fatal_status(EX_USAGE, "-n does not go with -s");
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
	st.env = admin_env_alloc();
	if (purge)
		ps_purge(&st);
	if (check) {
		(void)admin_walk("incoming", ps_check_one, &st);
		(void)admin_walk("deferred", ps_check_one, &st);
		(void)admin_walk("hold", ps_check_one, &st);
	}
	for (i = 0; i < nops; i++) {
		if (strcmp(ops[i].arg, "ALL") == 0)
			ps_all(&st, ops[i].op);
		else if (strcmp(ops[i].arg, "-") == 0)
			ps_stdin(&st, ops[i].op);
		else
			ps_one(&st, ops[i].op, ops[i].arg);
	}
	if (fflush(stdout) != 0)
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	ps_report(&st, 'p', "Removed temporary files",
		  "Would remove temporary files");
	ps_report(&st, 's', "Moved to corrupt", "Would move to corrupt");
	ps_report(&st, 'd', "Deleted", "Would delete");
	ps_report(&st, 'h', "Placed on hold", "Would place on hold");
	ps_report(&st, 'e', "Forced to expire", "Would force to expire");
	ps_report(&st, 'f', "Forced to expire", "Would force to expire");
	ps_report(&st, 'H', "Released from hold", "Would release from hold");
	ps_report(&st, 'r', "Requeued", "Would requeue");
	vstr_sprintf(trig, "public/%s", cfg_get_str(cfg, "qmgr_service_name"));
	/*
	 * Not fatal (the change is made; qmgr's next periodic scan finds
	 * it), but said: otherwise a released message that sits for
	 * queue_run_delay looks lost.
	 */
	if (((st.wake_incoming
	      && ipc_trigger(VSTR_STR(trig), IPC_TRIGGER_SCAN_INCOMING, 1000)
		     < 0)
	     || (st.wake_deferred
		 && ipc_trigger(VSTR_STR(trig), IPC_TRIGGER_SCAN_DEFERRED, 1000)
			< 0)))
		msg_warn("cannot wake up qmgr (%s): %m; the change takes "
			 "effect at its next queue scan",
			 VSTR_STR(trig));
	admin_env_free(st.env);
	admin_sel_free(&st.sel);
	myfree(ops);
	vstr_free(why);
	vstr_free(trig);
	cfg_free(cfg);
	return st.status;
}
