/*
 * master_service - turn master.cf entries into running services.
 *
 * A service is created from an entry (strings are copied, so the MASTERCF
 * may be freed), started (listeners, status channel, wakeup timer), and
 * eventually retired (its children are told to finish and exit: master
 * closes the status channel) and stopped (listeners closed too).  Reload
 * replaces a changed service by a new one that inherits the listeners
 * when the endpoint is the same, so no connection is refused meanwhile.
 *
 * Errors: master_service_start / master_service_load return -1 and put a
 * reason in the log or in `why`; nothing here exits after start-up.
 *
 * Ownership: services belong to struct master's list and are released
 * with master_service_free().
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "master/master.h"
#include "util/metrics.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

static char **
master_service_argv(struct master *m, const struct mastercf_service *e)
{
	size_t max = 16 + 2 * (size_t)e->noverrides + (size_t)e->argc
		     + (size_t)m->verbose;
	char **argv = mymalloc_array(max, sizeof(*argv));
	size_t n = 0;
	bool   dashdash = false;

	/* "-s N" is added at spawn time, when the listener count is known. */
	argv[n++] = mystrdup(e->command);
	argv[n++] = mystrdup("-c");
	argv[n++] = mystrdup(m->confdir);
	argv[n++] = mystrdup("-n");
	argv[n++] = mystrdup(e->name);
	argv[n++] = mystrdup("-t");
	argv[n++] = mystrdup(mastercf_type_name(e->type));
	if (e->chroot)
		argv[n++] = mystrdup("-C");
	if (!e->unpriv)
		argv[n++] = mystrdup("-P");
	if (m->foreground)
		argv[n++] = mystrdup("-l");
	for (int i = 0; i < m->verbose; i++)
		argv[n++] = mystrdup("-v");
	for (int i = 0; i < e->noverrides; i++) {
		argv[n++] = mystrdup("-o");
		argv[n++] = mystrdup(e->overrides[i]);
	}
	for (int i = 1; i < e->argc; i++) {
		if (strcmp(e->argv[i], "-v") == 0) {
			argv[n++] = mystrdup("-v");
			continue;
		}
		if (!dashdash) {
			argv[n++] = mystrdup("--");
			dashdash = true;
		}
		argv[n++] = mystrdup(e->argv[i]);
	}
	argv[n] = NULL;
	return argv;
}

struct master_serv *
master_service_create(struct master *m, const struct mastercf_service *e)
{
	struct master_serv *serv = mycalloc(1, sizeof(*serv));
	VSTR		   *buf = vstr_alloc(100);

	serv->master = m;
	serv->name = mystrdup(e->name);
	serv->type = e->type;
	serv->raw = mystrdup(e->raw);
	master_listen_endpoint(m->cfg, e, buf);
	serv->endpoint = mystrdup(VSTR_STR(buf));
	if (e->type != MASTERCF_INET) {
		vstr_sprintf(buf, "%s/%s/%s",
			     cfg_get_str(m->cfg, "queue_directory"),
			     e->private_ ? "private" : "public", e->name);
		serv->path = mystrdup(VSTR_STR(buf));
	}
	if (e->command[0] == '/')
		vstr_strcpy(buf, e->command);
	else
		vstr_sprintf(buf, "%s/%s",
			     cfg_get_str(m->cfg, "daemon_directory"),
			     e->command);
	serv->command = mystrdup(VSTR_STR(buf));
	serv->argv = master_service_argv(m, e);
	serv->maxproc = e->maxproc;
	serv->wakeup = e->wakeup;
	serv->wakeup_conditional = e->wakeup_conditional;
	serv->status_fd[0] = serv->status_fd[1] = -1;
	vstr_free(buf);
	return serv;
}

int
master_service_start(struct master_serv *serv)
{
	struct master *m = serv->master;
	VSTR	      *why = vstr_alloc(100);

	if (serv->nlisten == 0 && master_listen_open(m, serv, why) < 0) {
		msg_error("service %s/%s: %s", serv->name,
			  mastercf_type_name(serv->type), VSTR_STR(why));
		vstr_free(why);
		return -1;
	}
	vstr_free(why);
	if (master_status_pair(serv->status_fd) < 0) {
		msg_error("service %s: status channel: %m", serv->name);
		master_listen_close(serv);
		return -1;
	}
	if (events_watch(m->events, serv->status_fd[0], EVENTS_READ,
			 master_spawn_status_event, serv)
	    < 0)
		msg_fatal("events_watch: %m");
	master_wakeup_start(serv);
	master_spawn_update(serv);
	if (msg_verbose)
		msg_info("service %s/%s started (%s)", serv->name,
			 mastercf_type_name(serv->type), serv->endpoint);
	return 0;
}

/* The current children finish their client and exit; listeners stay. */
void
master_service_retire(struct master_serv *serv)
{
	struct master *m = serv->master;

	master_wakeup_stop(serv);
	master_spawn_detach(serv);
	for (int i = 0; i < serv->nlisten; i++)
		events_unwatch(m->events, serv->listen_fds[i]);
	serv->watching = false;
	if (serv->status_fd[0] >= 0) {
		events_unwatch(m->events, serv->status_fd[0]);
		close(serv->status_fd[0]);
		close(serv->status_fd[1]);
		serv->status_fd[0] = serv->status_fd[1] = -1;
	}
	serv->total = serv->avail = 0;
	metrics_processes(serv->name, 0);
	serv->throttled = false;
	serv->fails = 0;
}

void
master_service_stop(struct master_serv *serv)
{
	master_service_retire(serv);
	master_listen_close(serv);
	/* A removed service's clients get "no such file", not a hang. */
	if (serv->path != NULL && !serv->master->stopping)
		(void)unlink(serv->path);
}

struct master_serv *
master_service_free(struct master_serv *serv)
{
	if (serv == NULL)
		return NULL;
	myfree(serv->name);
	myfree(serv->raw);
	myfree(serv->endpoint);
	myfree(serv->path);
	myfree(serv->command);
	for (char **cpp = serv->argv; *cpp; cpp++)
		myfree(*cpp);
	myfree(serv->argv);
	return myfree(serv);
}

int
master_service_load(struct master *m, MASTERCF **mcf, VSTR *why)
{
	VSTR *path = vstr_alloc(100);

	vstr_sprintf(path, "%s/master.cf", m->confdir);
	*mcf = mastercf_open(VSTR_STR(path), m->cfg, why);
	vstr_free(path);
	return *mcf ? 0 : -1;
}

/* master_service_disable: "name/type" or "type" words, as in Postfix. */
bool
master_service_disabled(const CFG *cfg, const struct mastercf_service *e)
{
	const char *type = mastercf_type_name(e->type);
	char	   *list = mystrdup(cfg_get_str(cfg, "master_service_disable"));
	char	   *cp = list;
	char	   *word;
	char	   *slash;
	bool	    hit = false;

	while (!hit && (word = str_token(&cp, STR_SEP_LIST)) != NULL) {
		if ((slash = strrchr(word, '/')) != NULL) {
			*slash = 0;
			hit = strcmp(word, e->name) == 0
			      && strcmp(slash + 1, type) == 0;
		} else {
			hit = strcmp(word, type) == 0;
		}
	}
	myfree(list);
	return hit;
}
