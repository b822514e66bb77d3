/*
 * postel - control the Postel mail system.
 *
 * Usage: postel [-c confdir] [-v] command
 *   check		main.cf and master.cf parse and validate, each service
 *			program exists, queue folders exist with their owners
 *			and modes (created or repaired)
 *   start		check, then start master in the background; returns
 *			once master runs (or reports why it could not)
 *   start-fg		check, then run master in the foreground, logging to
 *			standard error; stops on SIGTERM or Ctrl-C
 *   stop		SIGTERM to master, wait until it and its children are
 *			gone (bounded)
 *   reload		SIGHUP to master
 *   status		exit 0 when master runs, 1 when not
 *   flush		ask qmgr to retry every deferred message now (and
 *			flush(8) to purge its logs)
 *   tls-report show	print the pending TLS-RPT reports as JSON (asks the
 *			tlsrpt service; the current UTC day included)
 *   tls-report send	make the tlsrpt service send every pending report
 *			now, the current day included, and print what it did
 *   set-permissions	create mail_owner and setgid_group when missing (as
 *			root), repair the queue, set the setgid bits of
 *			postdrop and postelqueue
 *   tls-policy DOMAIN[:PORT]
 *			the DANE and MTA-STS policy the SMTP client would
 *			apply to DOMAIN, and why (admin/admin_tls_policy.h)
 *
 * Errors: diagnostics name the file or parameter at fault; exit codes
 * follow sysexits.h (EX_CONFIG for a bad configuration, EX_NOUSER for a
 * missing account, EX_CANTCREAT for a queue folder that cannot be made,
 * EX_UNAVAILABLE when
 * master does not start, EX_TEMPFAIL when it does not stop in time); for
 * "status" and "stop" of a stopped system the exit code is 1.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "admin/admin_dkim.h"
#include "admin/admin_queue.h"
#include "admin/admin_tls_policy.h"
#include "util/attr.h"
#include "util/cfg.h"
#include "util/flush_client.h"
#include "util/cfg_compat.h"
#include "util/ipc.h"
#include "util/maillog.h"
#include "util/master_proto.h"
#include "util/mastercf.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/user.h"
#include "util/vstr.h"

#define POSTEL_START_WAIT_MS 35000
#define POSTEL_STOP_WAIT_MS  30000

struct postel {
	const char *confdir;
	CFG	   *cfg;
	VSTR	   *pid_path;
	int	    verbose;
};

static _Noreturn void
postel_usage(void)
{
	msg_fatal_status(EX_USAGE,
			 "usage: postel [-c confdir] [-v] "
			 "start|start-fg|stop|reload|status|check|flush|"
			 "set-permissions|tls-report show|tls-report send|"
			 "tls-policy DOMAIN[:PORT]");
}

static pid_t
postel_running(struct postel *p)
{
	pid_t pid = master_pid_check(VSTR_STR(p->pid_path));

	if (pid < 0)
		msg_fatal("pid file %s: %m", VSTR_STR(p->pid_path));
	return pid;
}

/*
 * proxy: tables (the default local_recipient_maps has one) need the
 * proxymap service, and tables listed in proxy_write_maps the proxywrite
 * service; an older master.cf may lack them.
 */
static void
postel_check_proxy_service(struct postel *p, const MASTERCF *mcf,
			   const char *list, const char *svc_param,
			   const char *line)
{
	const char *svc = cfg_get_str(p->cfg, svc_param);

	if (strstr(cfg_get_str(p->cfg, list), "proxy:") == NULL)
		return;
	for (size_t i = 0; i < mastercf_count(mcf); i++) {
		const struct mastercf_service *e = mastercf_at(mcf, i);

		if (e->type == MASTERCF_UNIX && strcmp(e->name, svc) == 0)
			return;
	}
	msg_warn("master.cf has no %s unix service, but main.cf uses proxy: "
		 "tables (see %s): their lookups will fail; add "
		 "\"%s unix %s\"",
		 svc, list, svc, line);
}

static void
postel_check_proxymap(struct postel *p, const MASTERCF *mcf)
{
	postel_check_proxy_service(p, mcf, "proxy_read_maps",
				   "proxymap_service_name",
				   "- - n - - proxymap");
	postel_check_proxy_service(p, mcf, "proxy_write_maps",
				   "proxywrite_service_name",
				   "- - n - 1 proxymap");
}

static void
postel_check(struct postel *p)
{
	VSTR	 *why = vstr_alloc(100);
	VSTR	 *path = vstr_alloc(100);
	MASTERCF *mcf;

	if (cfg_check(p->cfg, why) < 0)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	vstr_sprintf(path, "%s/master.cf", p->confdir);
	if ((mcf = mastercf_open(VSTR_STR(path), p->cfg, why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	/* Warnings only, as in Postfix: the system still starts. */
	(void)cfg_compat_check(p->cfg, mcf, VSTR_STR(path));
	for (size_t i = 0; i < mastercf_count(mcf); i++) {
		const struct mastercf_service *e = mastercf_at(mcf, i);

		if (e->command[0] == '/')
			vstr_strcpy(path, e->command);
		else
			vstr_sprintf(path, "%s/%s",
				     cfg_get_str(p->cfg, "daemon_directory"),
				     e->command);
		if (access(VSTR_STR(path), X_OK) < 0)
			msg_warn("master.cf line %d: service %s/%s: "
				 "program %s: %m",
				 e->line, e->name, mastercf_type_name(e->type),
				 VSTR_STR(path));
	}
	postel_check_proxymap(p, mcf);
	admin_dkim_check(p->cfg, mcf);
	mastercf_free(mcf);
	if (admin_queue_setup(p->cfg, why) < 0)
		msg_fatal_status(strstr(VSTR_STR(why), "unknown")
				     ? EX_NOUSER
				     : EX_CANTCREAT,
				 "%s", VSTR_STR(why));
	vstr_free(path);
	vstr_free(why);
}

static void
postel_master_argv(struct postel *p, char **argv, bool foreground, VSTR *prog)
{
	int n = 0;

	vstr_sprintf(prog, "%s/master",
		     cfg_get_str(p->cfg, "daemon_directory"));
	argv[n++] = VSTR_STR(prog);
	argv[n++] = "-c";
	argv[n++] = (char *)p->confdir;
	if (foreground)
		argv[n++] = "-d";
	for (int i = 0; i < p->verbose && i < 3; i++)
		argv[n++] = "-v";
	argv[n] = NULL;
}

static void
postel_refuse_running(struct postel *p)
{
	pid_t pid = postel_running(p);

	if (pid > 0)
		msg_fatal("the Postel mail system is already running (pid %ld)",
			  (long)pid);
}

static int
postel_start(struct postel *p)
{
	char	 *argv[10];
	VSTR	 *prog = vstr_alloc(100);
	long long deadline;
	pid_t	  pid;
	int	  status;

	postel_check(p);
	postel_refuse_running(p);
	postel_master_argv(p, argv, false, prog);
	msg_info("starting the Postel mail system (version %s)",
		 cfg_get_str(p->cfg, "mail_version"));
	if ((pid = fork()) < 0)
		msg_fatal("fork: %m");
	if (pid == 0) {
		execv(argv[0], argv);
		msg_fatal_status(EX_UNAVAILABLE, "exec %s: %m", argv[0]);
	}
	/* master's first process exits once the detached one is ready. */
	deadline = (long long)POSTEL_START_WAIT_MS;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if ((deadline -= 50) <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			msg_fatal_status(EX_UNAVAILABLE,
					 "%s did not start "
					 "within %d seconds",
					 argv[0], POSTEL_START_WAIT_MS / 1000);
		}
		poll(NULL, 0, 50);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		msg_fatal_status(EX_UNAVAILABLE,
				 "%s did not start (see the "
				 "log for why)",
				 argv[0]);
	if (postel_running(p) <= 0)
		msg_fatal_status(EX_UNAVAILABLE,
				 "master started but does not "
				 "hold %s",
				 VSTR_STR(p->pid_path));
	vstr_free(prog);
	return 0;
}

static _Noreturn void
postel_start_fg(struct postel *p)
{
	char *argv[10];
	VSTR *prog = vstr_alloc(100);

	postel_check(p);
	postel_refuse_running(p);
	postel_master_argv(p, argv, true, prog);
	execv(argv[0], argv);
	msg_fatal_status(EX_UNAVAILABLE, "exec %s: %m", argv[0]);
}

static pid_t
postel_need_running(struct postel *p)
{
	pid_t pid = postel_running(p);

	if (pid == 0) {
		msg_error("the Postel mail system is not running");
		exit(1);
	}
	return pid;
}

static int
postel_stop(struct postel *p)
{
	pid_t	  pid = postel_need_running(p);
	long long waited = 0;

	msg_info("stopping the Postel mail system");
	if (kill(pid, SIGTERM) < 0)
		msg_fatal("kill %ld: %m", (long)pid);
	/* The lock goes when master exits, after its children are gone. */
	while (postel_running(p) > 0) {
		if ((waited += 50) > POSTEL_STOP_WAIT_MS)
			msg_fatal_status(EX_TEMPFAIL,
					 "master pid %ld did not "
					 "stop within %d seconds",
					 (long)pid, POSTEL_STOP_WAIT_MS / 1000);
		poll(NULL, 0, 50);
	}
	return 0;
}

static int
postel_reload(struct postel *p)
{
	pid_t pid = postel_need_running(p);

	msg_info("refreshing the Postel mail system");
	if (kill(pid, SIGHUP) < 0)
		msg_fatal("kill %ld: %m", (long)pid);
	return 0;
}

static int
postel_status(struct postel *p)
{
	pid_t pid = postel_running(p);

	if (pid == 0) {
		msg_info("the Postel mail system is not running");
		return 1;
	}
	msg_info("the Postel mail system is running: PID: %ld", (long)pid);
	return 0;
}

static int
postel_flush(struct postel *p)
{
	static const char requests[] = { IPC_TRIGGER_FLUSH_DEAD,
					 IPC_TRIGGER_SCAN_ALL,
					 IPC_TRIGGER_SCAN_DEFERRED };
	VSTR		 *path = vstr_alloc(100);

	postel_need_running(p);
	/* As postfix flush (postqueue -f): purge the fast flush logs too. */
	if (flush_purge(p->cfg, path) != FLUSH_STAT_OK)
		msg_warn("cannot purge the fast flush logs: %s",
			 VSTR_STR(path));
	vstr_sprintf(path, "%s/public/%s",
		     cfg_get_str(p->cfg, "queue_directory"),
		     cfg_get_str(p->cfg, "qmgr_service_name"));
	for (size_t i = 0; i < sizeof(requests); i++)
		if (ipc_trigger(VSTR_STR(path), requests[i], 10000) < 0)
			msg_fatal_status(EX_UNAVAILABLE, "cannot reach %s: %m",
					 VSTR_STR(path));
	vstr_free(path);
	return 0;
}

/* The tlsrpt service's socket: root (or mail_owner) may reach private/. */
#define POSTEL_TLSRPT_WAIT_MS 600000 /* a send may take long */

static int
postel_tls_report(struct postel *p, const char *what)
{
	ATTR	   *req = attr_alloc();
	ATTR	   *rep = attr_alloc();
	VSTR	   *path = vstr_alloc(100);
	VSTR	   *why = vstr_alloc(100);
	const char *text;
	long long   status = 1;

	if (strcmp(what, "show") != 0 && strcmp(what, "send") != 0)
		postel_usage();
	postel_need_running(p);
	vstr_sprintf(path, "%s/private/tlsrpt",
		     cfg_get_str(p->cfg, "queue_directory"));
	attr_put_str(req, "request", what);
	if (ipc_call(VSTR_STR(path), req, rep, POSTEL_TLSRPT_WAIT_MS, why) < 0)
		msg_fatal_status(EX_UNAVAILABLE, "cannot reach %s: %s",
				 VSTR_STR(path), VSTR_STR(why));
	text = attr_get_str(rep, "text");
	if (attr_get_int(rep, "status", &status) < 0 || text == NULL)
		msg_fatal_status(EX_PROTOCOL, "%s: malformed reply",
				 VSTR_STR(path));
	if (status != 0)
		msg_error("%s", text);
	else
		fputs(text, stdout);
	attr_free(req);
	attr_free(rep);
	vstr_free(path);
	vstr_free(why);
	return status == 0 ? 0 : EX_UNAVAILABLE;
}

/* Run a program (no shell) and wait for it; its exit status or -1. */
static int
postel_run(char *const argv[])
{
	pid_t pid;
	int   status;

	if ((pid = fork()) < 0)
		msg_fatal("fork: %m");
	if (pid == 0) {
		execv(argv[0], argv);
		msg_warn("exec %s: %m", argv[0]);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
postel_make_accounts(struct postel *p)
{
	const char *owner = cfg_get_str(p->cfg, "mail_owner");
	const char *group = cfg_get_str(p->cfg, "setgid_group");
	const char *shell = access("/usr/sbin/nologin", X_OK) == 0
				? "/usr/sbin/nologin"
				: "/bin/false";

	if (getgrnam(group) == NULL) {
		char *argv[] = { "/usr/sbin/groupadd", "--system",
				 (char *)group, NULL };

		if (postel_run(argv) != 0)
			msg_fatal_status(EX_NOUSER,
					 "setgid_group %s: groupadd "
					 "failed",
					 group);
		msg_info("created group %s", group);
	}
	if (getpwnam(owner) == NULL) {
		/* Its own group, like Postfix's postfix:postfix. */
		bool  have_group = getgrnam(owner) != NULL;
		char *argv[] = { "/usr/sbin/useradd",
				 "--system",
				 "--no-create-home",
				 "--home-dir",
				 "/nonexistent",
				 "--shell",
				 (char *)shell,
				 have_group ? "--gid" : "--user-group",
				 (char *)owner,
				 have_group ? (char *)owner : NULL,
				 NULL };

		if (postel_run(argv) != 0)
			msg_fatal_status(EX_NOUSER,
					 "mail_owner %s: useradd "
					 "failed",
					 owner);
		msg_info("created user %s", owner);
	}
}

static void
postel_setgid_commands(struct postel *p)
{
	static const char *const names[] = { "postdrop", "postelqueue" };
	VSTR			*path = vstr_alloc(100);
	gid_t			 gid;
	int			 fd;

	if (user_group_lookup(cfg_get_str(p->cfg, "setgid_group"), &gid) < 0)
		msg_fatal_status(EX_NOUSER, "setgid_group %s: unknown group",
				 cfg_get_str(p->cfg, "setgid_group"));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct stat st;

		vstr_sprintf(path, "%s/%s",
			     cfg_get_str(p->cfg, "command_directory"),
			     names[i]);
		fd = open(VSTR_STR(path), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ENOENT)
				msg_warn("%s: %m", VSTR_STR(path));
			continue;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			msg_warn("%s: not a regular file; left alone",
				 VSTR_STR(path));
		} else if (fchown(fd, 0, gid) < 0 || fchmod(fd, 02755) < 0) {
			msg_warn("%s: set owner root:%ld mode 2755: %m",
				 VSTR_STR(path), (long)gid);
		} else if ((st.st_mode & 07777) != 02755 || st.st_uid != 0
			   || st.st_gid != gid) {
			msg_info("fixed %s: owner root:%ld mode 2755",
				 VSTR_STR(path), (long)gid);
		}
		close(fd);
	}
	vstr_free(path);
}

static int
postel_set_permissions(struct postel *p)
{
	VSTR *why = vstr_alloc(100);

	if (geteuid() == 0)
		postel_make_accounts(p);
	if (admin_queue_setup(p->cfg, why) < 0)
		msg_fatal_status(EX_CANTCREAT, "%s", VSTR_STR(why));
	if (geteuid() == 0)
		postel_setgid_commands(p);
	vstr_free(why);
	return 0;
}

int
main(int argc, char **argv)
{
	struct postel p = { 0 };
	const char   *opt_c = NULL;
	const char   *cmd;
	VSTR	     *why;
	int	      ch;
	int	      ret;

	msg_set_progname("postel");
	while ((ch = getopt(argc, argv, "c:v")) != -1) {
		switch (ch) {
		case 'c':
			opt_c = optarg;
			break;
		case 'v':
			msg_verbose++;
			p.verbose++;
			break;
		default:
			postel_usage();
		}
	}
	/* tls-report and tls-policy take one argument, and need it. */
	if (argc - optind < 1 || argc - optind > 2
	    || (argc - optind == 2 && strcmp(argv[optind], "tls-report") != 0
		&& strcmp(argv[optind], "tls-policy") != 0)
	    || (argc - optind == 1
		&& (strcmp(argv[optind], "tls-report") == 0
		    || strcmp(argv[optind], "tls-policy") == 0)))
		postel_usage();
	cmd = argv[optind];
	p.confdir = cfg_confdir_from_env(opt_c);
	why = vstr_alloc(100);
	if ((p.cfg = cfg_open(p.confdir, why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	maillog_init(p.cfg, "postel", MAILLOG_STDERR);
	p.pid_path = vstr_alloc(100);
	master_pid_path(cfg_get_str(p.cfg, "queue_directory"),
			cfg_get_str(p.cfg, "process_id_directory"), p.pid_path);

	if (strcmp(cmd, "check") == 0) {
		postel_check(&p);
		ret = 0;
	} else if (strcmp(cmd, "start") == 0) {
		ret = postel_start(&p);
	} else if (strcmp(cmd, "start-fg") == 0) {
		postel_start_fg(&p);
	} else if (strcmp(cmd, "stop") == 0) {
		ret = postel_stop(&p);
	} else if (strcmp(cmd, "reload") == 0) {
		ret = postel_reload(&p);
	} else if (strcmp(cmd, "status") == 0) {
		ret = postel_status(&p);
	} else if (strcmp(cmd, "flush") == 0) {
		ret = postel_flush(&p);
	} else if (strcmp(cmd, "tls-report") == 0) {
		ret = postel_tls_report(&p, argv[optind + 1]);
	} else if (strcmp(cmd, "set-permissions") == 0) {
		ret = postel_set_permissions(&p);
	} else if (strcmp(cmd, "tls-policy") == 0) {
		ret = admin_tls_policy(p.cfg, argv[optind + 1]);
	} else {
		msg_error("unknown command: %s", cmd);
		postel_usage();
	}
	vstr_free(p.pid_path);
	vstr_free(why);
	cfg_free(p.cfg);
	return ret;
}
