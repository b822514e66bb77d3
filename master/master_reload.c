/*
 * master_reload - SIGHUP: read main.cf and master.cf again and apply the
 * difference.
 *
 * A service whose master.cf entry is gone is stopped: its listeners close
 * and its children finish their current client, then exit.  A new entry
 * is started.  A changed entry (its text differs, or main.cf changed,
 * which may change anything a daemon reads) gets a new generation: the
 * running children finish and exit, new ones start on demand, and when
 * the endpoint is the same the listeners are handed over, so clients are
 * never refused.  An unchanged service and its children are left alone.
 *
 * Errors: a main.cf or master.cf that does not parse is logged and the
 * running configuration stays in force; a service that cannot start is
 * logged and left out.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "master/master.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_file.h"

#define MASTER_MAINCF_MAX (16 * 1024 * 1024)

int
master_read_maincf(const char *confdir, VSTR *text)
{
	VSTR *path = vstr_alloc(100);
	int   ret;

	vstr_sprintf(path, "%s/main.cf", confdir);
	ret = read_file(VSTR_STR(path), text, MASTER_MAINCF_MAX);
	if (ret < 0 && errno == ENOENT) {
		vstr_reset(text);
		ret = 0;
	}
	vstr_free(path);
	return ret;
}

static struct master_serv *
master_reload_find(struct master *m, const char *name, enum mastercf_type type)
{
	for (struct master_serv *s = m->services; s; s = s->next)
		if (s->type == type && strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static bool
master_reload_wanted(const CFG *cfg, const struct mastercf_service *e)
{
	return !master_service_disabled(cfg, e);
}

/* Stop services that are no longer in master.cf. */
static void
master_reload_remove(struct master *m, const MASTERCF *mcf)
{
	struct master_serv	     **sp = &m->services;
	struct master_serv	      *serv;
	const struct mastercf_service *e;

	while ((serv = *sp) != NULL) {
		e = mastercf_find(mcf, serv->name, serv->type);
		if (e != NULL && master_reload_wanted(m->cfg, e)) {
			sp = &serv->next;
			continue;
		}
		msg_info("reload: service %s/%s removed", serv->name,
			 mastercf_type_name(serv->type));
		*sp = serv->next;
		master_service_stop(serv);
		master_service_free(serv);
	}
}

/* Replace old by a new generation built from e; returns the new one. */
static void
master_reload_replace(struct master *m, struct master_serv *old,
		      const struct mastercf_service *e)
{
	struct master_serv  *serv = master_service_create(m, e);
	struct master_serv **sp;

	master_service_retire(old);
	if (strcmp(old->endpoint, serv->endpoint) == 0) {
		memcpy(serv->listen_fds, old->listen_fds,
		       sizeof(old->listen_fds));
		serv->nlisten = old->nlisten;
		old->nlisten = 0;
	} else {
		master_listen_close(old);
		if (old->path
		    && (serv->path == NULL
			|| strcmp(old->path, serv->path) != 0))
			(void)unlink(old->path);
	}
	for (sp = &m->services; *sp != old; sp = &(*sp)->next)
		/* void */;
	serv->next = old->next;
	*sp = serv;
	master_service_free(old);
	if (master_service_start(serv) < 0) {
		*sp = serv->next;
		master_listen_close(serv);
		master_service_free(serv);
	}
}

void
master_reload(struct master *m)
{
	VSTR	 *why = vstr_alloc(100);
	VSTR	 *text = vstr_alloc(1000);
	CFG	 *old_cfg = m->cfg;
	CFG	 *cfg;
	MASTERCF *mcf;
	bool	  maincf_changed;

	if (master_read_maincf(m->confdir, text) < 0) {
		msg_error("reload: %s/main.cf: %m; keeping the running "
			  "configuration",
			  m->confdir);
		goto out;
	}
	if ((cfg = cfg_open(m->confdir, why)) == NULL) {
		msg_error("reload: %s; keeping the running configuration",
			  VSTR_STR(why));
		goto out;
	}
	m->cfg = cfg;
	if (master_service_load(m, &mcf, why) < 0) {
		msg_error("reload: %s; keeping the running configuration",
			  VSTR_STR(why));
		m->cfg = old_cfg;
		cfg_free(cfg);
		goto out;
	}
	m->envp = master_spawn_environ_free(m->envp);
	m->envp = master_spawn_environ(cfg);
	maincf_changed = VSTR_LEN(text) != VSTR_LEN(m->maincf_text)
			 || memcmp(VSTR_STR(text), VSTR_STR(m->maincf_text),
				   VSTR_LEN(text))
				!= 0;

	if (maincf_changed)
		msg_info("reload: main.cf changed: every service gets new "
			 "processes");
	master_reload_remove(m, mcf);
	for (size_t i = 0; i < mastercf_count(mcf); i++) {
		const struct mastercf_service *e = mastercf_at(mcf, i);
		struct master_serv	      *old;
		struct master_serv	      *serv;

		if (!master_reload_wanted(cfg, e))
			continue;
		old = master_reload_find(m, e->name, e->type);
		if (old != NULL && !maincf_changed
		    && strcmp(old->raw, e->raw) == 0)
			continue;
		if (old != NULL) {
			master_reload_replace(m, old, e);
			if (!maincf_changed)
				msg_info("reload: service %s/%s changed",
					 e->name, mastercf_type_name(e->type));
			continue;
		}
		serv = master_service_create(m, e);
		if (master_service_start(serv) < 0) {
			master_service_free(serv);
			continue;
		}
		serv->next = m->services;
		m->services = serv;
		msg_info("reload: service %s/%s added", e->name,
			 mastercf_type_name(e->type));
	}
	mastercf_free(mcf);
	cfg_free(old_cfg);
	vstr_free(m->maincf_text);
	m->maincf_text = text;
	text = NULL;
	msg_info("reload -- configuration %s", m->confdir);
out:
	vstr_free(text);
	vstr_free(why);
}
