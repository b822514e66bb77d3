/*
 * Unit tests for master's logic without its main(): service entries to
 * child argv, endpoints, master_service_disable, the children's
 * environment, and spawning on demand through a real event loop (unix and
 * pass services).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "master/master.h"
#include "util/cfg.h"
#include "util/mastercf.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

struct fixture {
	struct master m;
	MASTERCF     *mcf;
	char	      dir[64];
};

static CFG *
fixture_cfg(const char *text)
{
	VSTR *why = vstr_alloc(10);
	CFG *cfg = cfg_open_buffer("/etc/postel", "main.cf", text, strlen(text),
				   why);

	if (cfg == NULL)
		fail_msg("main.cf: %s", VSTR_STR(why));
	vstr_free(why);
	return cfg;
}

static MASTERCF *
fixture_mcf(const CFG *cfg, const char *text)
{
	VSTR	 *why = vstr_alloc(10);
	MASTERCF *mcf = mastercf_open_buffer("master.cf", text, strlen(text),
					     cfg, why);

	if (mcf == NULL)
		fail_msg("master.cf: %s", VSTR_STR(why));
	vstr_free(why);
	return mcf;
}

static void
fixture_init(struct fixture *f, const char *maincf, const char *mastercf)
{
	memset(f, 0, sizeof(*f));
	f->m.confdir = "/etc/postel";
	f->m.cfg = fixture_cfg(maincf);
	f->m.events = events_alloc();
	f->m.envp = master_spawn_environ(f->m.cfg);
	f->mcf = fixture_mcf(f->m.cfg, mastercf);
}

static void
fixture_done(struct fixture *f)
{
	struct master_serv *serv;

	f->m.stopping = true;
	while ((serv = f->m.services) != NULL) {
		f->m.services = serv->next;
		master_service_stop(serv);
		master_service_free(serv);
	}
	master_spawn_kill_all(&f->m, SIGKILL);
	while (f->m.nprocs > 0) {
		master_spawn_reap(&f->m);
		poll(NULL, 0, 10);
	}
	mastercf_free(f->mcf);
	cfg_free(f->m.cfg);
	master_spawn_environ_free(f->m.envp);
	events_free(f->m.events);
}

static void
test_master_service_builds_the_documented_child_argv(void **state)
{
	struct fixture	    f;
	struct master_serv *serv;
	VSTR		   *joined = vstr_alloc(100);

	(void)state;
	fixture_init(&f, "queue_directory = /q\ndaemon_directory = /d\n",
		     "sub inet n - y - 3 smtpd -v -o a=b extra "
		     "$queue_directory\n"
		     "lcl unix - n n 60? - /abs/local\n");
	f.m.foreground = true;
	serv = master_service_create(&f.m, mastercf_at(f.mcf, 0));
	for (char **cpp = serv->argv; *cpp; cpp++)
		vstr_sprintf_append(joined, "%s%s",
				    cpp == serv->argv ? "" : " ", *cpp);
	assert_string_equal(VSTR_STR(joined),
			    "smtpd -c /etc/postel -n sub "
			    "-t inet -C -l -o a=b -v -- extra /q");
	assert_string_equal(serv->command, "/d/smtpd");
	assert_null(serv->path);
	assert_int_equal(serv->maxproc, 3);
	master_service_free(serv);

	serv = master_service_create(&f.m, mastercf_at(f.mcf, 1));
	assert_string_equal(serv->command, "/abs/local");
	assert_string_equal(serv->path, "/q/private/lcl");
	assert_string_equal(serv->argv[7], "-P");
	assert_int_equal(serv->wakeup, 60);
	assert_true(serv->wakeup_conditional);
	master_service_free(serv);
	vstr_free(joined);
	fixture_done(&f);
}

static void
test_master_endpoint_changes_with_inet_interfaces(void **state)
{
	CFG	 *a = fixture_cfg("inet_interfaces = all\n");
	CFG	 *b = fixture_cfg("inet_interfaces = loopback-only\n");
	MASTERCF *mcf = fixture_mcf(a, "smtp inet n - n - - smtpd\n"
				       "x unix n - n - - x\n");
	VSTR	 *ea = vstr_alloc(10);
	VSTR	 *eb = vstr_alloc(10);

	(void)state;
	master_listen_endpoint(a, mastercf_at(mcf, 0), ea);
	master_listen_endpoint(b, mastercf_at(mcf, 0), eb);
	assert_string_not_equal(VSTR_STR(ea), VSTR_STR(eb));
	master_listen_endpoint(a, mastercf_at(mcf, 1), ea);
	master_listen_endpoint(b, mastercf_at(mcf, 1), eb);
	assert_string_equal(VSTR_STR(ea), VSTR_STR(eb));
	assert_non_null(strstr(VSTR_STR(ea), "/public/x"));
	vstr_free(ea);
	vstr_free(eb);
	mastercf_free(mcf);
	cfg_free(a);
	cfg_free(b);
}

static void
test_master_listen_split_accepts_the_postfix_forms(void **state)
{
	VSTR *host = vstr_alloc(10);
	VSTR *port = vstr_alloc(10);

	(void)state;
	assert_int_equal(master_listen_split("smtp", host, port), 0);
	assert_string_equal(VSTR_STR(host), "");
	assert_string_equal(VSTR_STR(port), "smtp");
	assert_int_equal(master_listen_split("127.0.0.1:2525", host, port), 0);
	assert_string_equal(VSTR_STR(host), "127.0.0.1");
	assert_string_equal(VSTR_STR(port), "2525");
	assert_int_equal(master_listen_split("[::1]:587", host, port), 0);
	assert_string_equal(VSTR_STR(host), "::1");
	assert_string_equal(VSTR_STR(port), "587");
	assert_int_equal(master_listen_split("::1:25", host, port), -1);
	assert_int_equal(master_listen_split("[::1]", host, port), -1);
	assert_int_equal(master_listen_split("[]:25", host, port), -1);
	assert_int_equal(master_listen_split("host:", host, port), -1);
	assert_int_equal(master_listen_split("", host, port), -1);
	vstr_free(host);
	vstr_free(port);
}

static void
test_master_service_disable_matches_name_type_or_type(void **state)
{
	CFG *cfg = fixture_cfg("master_service_disable = smtp/inet, fifo\n");
	MASTERCF *mcf = fixture_mcf(cfg, "smtp inet n - n - - smtpd\n"
					 "smtp unix - - n - - smtp\n"
					 "pickup fifo n - n - - pickup\n");

	(void)state;
	assert_true(master_service_disabled(cfg, mastercf_at(mcf, 0)));
	assert_false(master_service_disabled(cfg, mastercf_at(mcf, 1)));
	assert_true(master_service_disabled(cfg, mastercf_at(mcf, 2)));
	mastercf_free(mcf);
	cfg_free(cfg);
}

static void
test_master_children_get_only_imported_environment(void **state)
{
	CFG   *cfg = fixture_cfg("import_environment = TZ HOME_NOT_SET "
				   "LANG=C\n");
	char **envp;

	(void)state;
	setenv("TZ", "UTC", 1);
	setenv("SECRET_TOKEN", "x", 1);
	unsetenv("HOME_NOT_SET");
	envp = master_spawn_environ(cfg);
	assert_string_equal(envp[0], "TZ=UTC");
	assert_string_equal(envp[1], "LANG=C");
	assert_null(envp[2]);
	master_spawn_environ_free(envp);
	cfg_free(cfg);
}

/*
 * A real spawn through the event loop (no SIGCHLD handling here) for a
 * service of the given type (a stream socket in private/).
 */
static void
spawn_one_child_per_waiting_client(const char *type)
{
	struct fixture	    f;
	struct master_serv *serv;
	char		    maincf[256];
	char		    queue[] = "/tmp/test_master.XXXXXX";
	char		    path[128];
	struct sockaddr_un  sun = { .sun_family = AF_UNIX };
	struct passwd	   *pw = NULL;
	struct stat	    st;
	int		    client;
	char		    entry[128];

	assert_non_null(mkdtemp(queue));
	snprintf(path, sizeof(path), "%s/private", queue);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(maincf, sizeof(maincf), "queue_directory = %s\n", queue);
	/* As root, master creates the socket as mail_owner (nobody here). */
	if (geteuid() == 0) {
		pw = getpwnam("nobody");
		assert_non_null(pw);
		assert_int_equal(chmod(queue, 0755), 0);
		assert_int_equal(chown(path, pw->pw_uid, pw->pw_gid), 0);
		snprintf(maincf, sizeof(maincf),
			 "queue_directory = %s\n"
			 "mail_owner = nobody\n",
			 queue);
	}
	/* true stands in for a daemon that never reports "busy". */
	snprintf(entry, sizeof(entry), "svc %s - - n - 2 /bin/true\n", type);
	fixture_init(&f, maincf, entry);
	serv = master_service_create(&f.m, mastercf_at(f.mcf, 0));
	assert_string_equal(serv->argv[6], type); /* -t TYPE */
	f.m.services = serv;
	assert_int_equal(master_service_start(serv), 0);
	assert_int_equal(lstat(serv->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0666);
	if (pw != NULL)
		assert_int_equal(st.st_uid, pw->pw_uid);
	/* master is root again afterwards. */
	assert_int_equal(geteuid(), pw != NULL ? 0 : geteuid());
	assert_true(serv->watching);
	assert_int_equal(serv->total, 0);

	client = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", serv->path);
	assert_int_equal(connect(client, (struct sockaddr *)&sun, sizeof(sun)),
			 0);
	events_run_once(f.m.events, 1000);
	/* One child, counted idle: the listener is out of the loop. */
	assert_int_equal(serv->total, 1);
	assert_int_equal(serv->avail, 1);
	assert_false(serv->watching);
	events_run_once(f.m.events, 50);
	assert_int_equal(serv->total, 1);
	close(client);
	snprintf(path, sizeof(path), "%s", serv->path);
	fixture_done(&f);
	unlink(path);
	snprintf(path, sizeof(path), "%s/private", queue);
	rmdir(path);
	rmdir(queue);
}

static void
test_master_spawns_one_child_per_waiting_client(void **state)
{
	(void)state;
	spawn_one_child_per_waiting_client("unix");
}

/* A pass service is a unix stream listener as far as master goes. */
static void
test_master_pass_service_listens_and_spawns_like_unix(void **state)
{
	(void)state;
	spawn_one_child_per_waiting_client("pass");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_master_service_builds_the_documented_child_argv),
		cmocka_unit_test(
		    test_master_endpoint_changes_with_inet_interfaces),
		cmocka_unit_test(
		    test_master_listen_split_accepts_the_postfix_forms),
		cmocka_unit_test(
		    test_master_service_disable_matches_name_type_or_type),
		cmocka_unit_test(
		    test_master_children_get_only_imported_environment),
		cmocka_unit_test(
		    test_master_spawns_one_child_per_waiting_client),
		cmocka_unit_test(
		    test_master_pass_service_listens_and_spawns_like_unix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
