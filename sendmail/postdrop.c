/*
 * postdrop - write a local submission into the maildrop folder.
 *
 * Usage: postdrop [-c confdir] [-v]
 *
 * Installed setgid setgid_group (postel set-permissions): that group may
 * write maildrop/ (mode 0730), nobody else may.  Standard input is the
 * stream sendmail writes (sendmail/postdrop_proto.h); postdrop checks it,
 * adds the real uid and the arrival time, writes maildrop/t<pid>.<n>,
 * fsyncs it, renames it to maildrop/<queue ID> and fsyncs the folder,
 * then wakes pickup through public/pickup.  It prints nothing on success.
 *
 * The environment is emptied first; the configuration folder follows
 * sendmail_conf_dir() (a non-default folder from a non-root user must be
 * listed in alternate_config_directories).
 *
 * Content must be CRLF wire form: a bare CR or LF (possible only in a
 * stream written by hand) makes the stream malformed.
 *
 * With allow_min_user = no (the default) a sender or recipient that
 * begins with "-" is refused (EX_NOUSER).  Content over
 * message_size_limit, or an envelope over POSTDROP_ENV_MAX, is refused
 * (EX_DATAERR); so is any message when the queue file system has less
 * free space than queue_minfree or 1.5 times message_size_limit
 * (EX_TEMPFAIL, before anything is written).
 *
 * Errors (sysexits): EX_USAGE bad options, EX_DATAERR a malformed input
 * stream or a message too large, EX_NOUSER an address refused,
 * EX_TEMPFAIL the queue is short of space, not writable, or a write
 * failed (the temporary file is removed on every failure and on SIGHUP,
 * SIGINT, SIGQUIT, SIGTERM), EX_NOPERM an untrusted configuration
 * folder, EX_CONFIG a bad main.cf.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include "sendmail/postdrop_proto.h"
#include "sendmail/postdrop_read.h"
#include "util/sendmail_conf.h"
#include "util/addr.h"
#include "util/attr.h"
#include "util/cfg.h"
#include "util/ipc.h"
#include "util/maildrop.h"
#include "util/maillog.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/qid.h"
#include "util/queue_space.h"
#include "util/rec.h"
#include "util/safe_file.h"
#include "util/vstr.h"

/* The temporary file to remove when we die (fatal error or signal). */
static char *postdrop_tmp;

static void
postdrop_cleanup(void)
{
	if (postdrop_tmp != NULL)
		(void)unlink(postdrop_tmp);
}

static void
postdrop_fatal_hook(enum msg_level level, const char *text)
{
	(void)level;
	(void)text;
	postdrop_cleanup();
}

static void
postdrop_sig(int sig)
{
	(void)sig;
	postdrop_cleanup();
	_exit(EX_TEMPFAIL);
}

static void
postdrop_signals(void)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigfillset(&sa.sa_mask);
	sa.sa_handler = postdrop_sig;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Create maildrop/t<pid>.<n>; the name is not a queue ID, so pickup
 * ignores it until the rename. */
static int
postdrop_create(const char *queue, VSTR *path)
{
	struct timeval tv;
	int	       fd;

	for (int i = 0; i < 10; i++) {
		gettimeofday(&tv, NULL);
		vstr_sprintf(path, "%s/maildrop/t%ld.%ld%d", queue,
			     (long)getpid(), (long)tv.tv_usec, i);
		if ((fd = safe_create_excl(VSTR_STR(path), 0644)) >= 0
		    || errno != EEXIST)
			return fd;
	}
	return -1;
}

static void
postdrop_write_failed(const char *path)
{
	msg_fatal_status(EX_TEMPFAIL, "write maildrop file %s: %m", path);
}

/*
 * What main allocates hangs off this global, not main's stack: most of
 * postdrop's errors end in a fatal exit, and memory reachable from a
 * global is no leak to LeakSanitizer (under make SAN=1 a pointer the
 * compiler had dropped turned postdrop's sysexits code into 1).
 */
static struct {
	char	     *confdir;
	CFG	     *cfg;
	VSTR	     *why;
	VSTR	     *path;
	VSTR	     *final;
	MAILDROP_ENV *env;
	IPC_STREAM   *in;
	REC_WRITER   *w;
} pd;

int
main(int argc, char **argv)
{
	const char		 *opt_c = NULL;
	const char		 *queue;
	struct stat		  st;
	struct timeval		  tv;
	struct postdrop_read_opts opts;
	int			  status;
	int			  fd;
	int			  ch;

	sendmail_conf_std_fds();
	msg_set_progname("postdrop");
	umask(022);
	while ((ch = getopt(argc, argv, "c:rv")) != -1) {
		switch (ch) {
		case 'c':
			opt_c = optarg;
			break;
		case 'r':
			/* Postfix's "internal protocol" flag: the only one. */
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			msg_fatal_status(EX_USAGE, "usage: postdrop "
						   "[-c confdir] [-v]");
		}
	}
	if (optind != argc)
		msg_fatal_status(EX_USAGE, "usage: postdrop [-c confdir] [-v]");
	pd.confdir = sendmail_conf_dir(opt_c);
	sendmail_conf_clean_env();
	pd.why = vstr_alloc(100);
	if ((pd.cfg = cfg_open(pd.confdir, pd.why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(pd.why));
	maillog_init(pd.cfg, "postdrop", MAILLOG_STDERR);
	msg_fatal_hook_set(postdrop_fatal_hook);
	postdrop_signals();

	queue = cfg_get_str(pd.cfg, "queue_directory");
	opts.allow_min_user = cfg_get_bool(pd.cfg, "allow_min_user");
	opts.size_limit = cfg_get_size(pd.cfg, "message_size_limit");
	pd.path = vstr_alloc(100);
	/* A local user must not be able to fill the queue file system. */
	vstr_sprintf(pd.path, "%s/maildrop", queue);
	if (queue_space_check(VSTR_STR(pd.path),
			      cfg_get_size(pd.cfg, "queue_minfree"),
			      opts.size_limit, 0, pd.why)
	    < 0) {
		if (errno == ENOSPC)
			msg_fatal_status(EX_TEMPFAIL,
					 "not enough free space "
					 "in the queue file system: %s "
					 "(queue_minfree, message_size_limit)",
					 VSTR_STR(pd.why));
		msg_fatal_status(EX_TEMPFAIL, "statvfs %s: %m",
				 VSTR_STR(pd.path));
	}
	if ((fd = postdrop_create(queue, pd.path)) < 0)
		msg_fatal_status(EX_TEMPFAIL,
				 "cannot create a file in "
				 "%s/maildrop: %m",
				 queue);
	postdrop_tmp = mystrdup(VSTR_STR(pd.path));

	pd.env = maildrop_env_alloc();
	pd.in = ipc_stream_open(0);
	ipc_stream_set_max(pd.in, POSTDROP_FRAME_MAX);
	pd.w = rec_writer_create(fd);
	if ((status = postdrop_read(pd.in, pd.w, pd.env, &opts, pd.why)) != 0) {
		if (status == EX_TEMPFAIL)
			msg_fatal_status(status, "maildrop file %s: %s",
					 VSTR_STR(pd.path), VSTR_STR(pd.why));
		msg_fatal_status(status, "%s", VSTR_STR(pd.why));
	}
	if (rec_writer_finish(pd.w) < 0 || fsync(fd) < 0 || fstat(fd, &st) < 0)
		postdrop_write_failed(VSTR_STR(pd.path));
	tv.tv_sec = (time_t)pd.env->arrival_sec;
	tv.tv_usec = (suseconds_t)pd.env->arrival_usec;
	if (qid_make(pd.why, &tv, st.st_ino) < 0)
		msg_fatal_status(EX_SOFTWARE, "cannot make a queue ID: %m");
	pd.final = vstr_alloc(100);
	vstr_sprintf(pd.final, "%s/maildrop/%s", queue, VSTR_STR(pd.why));
	if (rename(VSTR_STR(pd.path), VSTR_STR(pd.final)) < 0)
		msg_fatal_status(EX_TEMPFAIL, "rename %s to %s: %m",
				 VSTR_STR(pd.path), VSTR_STR(pd.final));
	postdrop_tmp = myfree(postdrop_tmp);
	postdrop_tmp = mystrdup(VSTR_STR(pd.final));

	/*
	 * Make the new name durable.  maildrop/ is 0730: the setgid group
	 * may not open it for reading, so fsync of the folder fails for
	 * ordinary users; syncfs() on the file then commits the folder too.
	 */
	if (fsync_parent(VSTR_STR(pd.final)) < 0
	    && (errno != EACCES || syncfs(fd) < 0))
		msg_fatal_status(EX_TEMPFAIL, "fsync %s/maildrop: %m", queue);
	if (close(fd) < 0)
		postdrop_write_failed(VSTR_STR(pd.final));
	postdrop_tmp = myfree(postdrop_tmp);
	if (msg_verbose)
		msg_info("queued as maildrop/%s", VSTR_STR(pd.why));

	vstr_sprintf(pd.path, "%s/public/%s", queue,
		     cfg_get_str(pd.cfg, "pickup_service_name"));
	if (ipc_trigger(VSTR_STR(pd.path), IPC_TRIGGER_WAKEUP,
			(int)cfg_get_time(pd.cfg, "trigger_timeout") * 1000)
	    < 0)
		msg_warn("unable to wake up %s: %m", VSTR_STR(pd.path));

	rec_writer_free(pd.w);
	ipc_stream_close(pd.in);
	maildrop_env_free(pd.env);
	vstr_free(pd.final);
	vstr_free(pd.path);
	vstr_free(pd.why);
	cfg_free(pd.cfg);
	myfree(pd.confdir);
	return 0;
}
