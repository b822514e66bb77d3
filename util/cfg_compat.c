/*
 * cfg_compat - unused and legacy main.cf / master.cf names.  See
 * cfg_compat.h.
 *
 * The references ($name forms) are collected once from every main.cf
 * value and every master.cf entry as written; the lists are as long as
 * the files, so a linear search is enough.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util/cfg.h"
#include "util/cfg_compat.h"
#include "util/mastercf.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/param.h"
#include "util/vstr.h"

struct cfg_compat_refs {
	char **name;
	size_t count;
	size_t cap;
};

/* The legacy names and the parameter that replaces each. */
static const struct cfg_compat_legacy {
	const char *name;
	const char *modern;
} cfg_compat_legacy[] = {
	{ "postscreen_blacklist_action", "postscreen_denylist_action" },
	{ "postscreen_dnsbl_whitelist_threshold",
	  "postscreen_dnsbl_allowlist_threshold" },
	{ "postscreen_whitelist_interfaces",
	  "postscreen_allowlist_interfaces" },
	{ "smtp_enforce_tls", "smtp_tls_security_level" },
	{ "smtp_tls_enforce_peername", "smtp_tls_security_level" },
	{ "smtp_use_tls", "smtp_tls_security_level" },
	{ "smtpd_enforce_tls", "smtpd_tls_security_level" },
	{ "smtpd_use_tls", "smtpd_tls_security_level" },
};

#define CFG_COMPAT_NLEGACY \
	(sizeof(cfg_compat_legacy) / sizeof(cfg_compat_legacy[0]))

static bool
cfg_compat_name_char(int ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

static bool
cfg_compat_refs_has(const struct cfg_compat_refs *refs, const char *name,
		    size_t len)
{
	size_t i;

	for (i = 0; i < refs->count; i++)
		if (strlen(refs->name[i]) == len
		    && memcmp(refs->name[i], name, len) == 0)
			return true;
	return false;
}

/* Add every name that text refers to as $name, ${name...} or $(name...). */
static void
cfg_compat_refs_scan(struct cfg_compat_refs *refs, const char *text)
{
	const char *cp;

	for (cp = text; cp != NULL && (cp = strchr(cp, '$')) != NULL;) {
		const char *name = cp + 1;
		const char *end;

		if (*name == '$') { /* "$$" is a literal '$' */
			cp = name + 1;
			continue;
		}
		if (*name == '{' || *name == '(')
			name++;
		for (end = name; cfg_compat_name_char(*end); end++)
			/* void */;
		if (end > name
		    && !cfg_compat_refs_has(refs, name, (size_t)(end - name))) {
			if (refs->count == refs->cap) {
				refs->cap = refs->cap ? refs->cap * 2 : 16;
				refs->name = myrealloc_array(refs->name,
							     refs->cap,
							     sizeof(
								 *refs->name));
			}
			refs->name[refs->count++] =
			    mystrndup(name, (size_t)(end - name));
		}
		/* Nested forms (${a?$b}) are found by going on after '$'. */
		cp++;
	}
}

static const struct cfg_compat_legacy *
cfg_compat_legacy_find(const char *name)
{
	size_t i;

	for (i = 0; i < CFG_COMPAT_NLEGACY; i++)
		if (strcmp(cfg_compat_legacy[i].name, name) == 0)
			return &cfg_compat_legacy[i];
	return NULL;
}

/* Is name, set somewhere, read by some program? */
static bool
cfg_compat_used(const char *name, const MASTERCF *mcf,
		const struct cfg_compat_refs *refs)
{
	size_t plen;
	size_t i;

	if (param_lookup(name) != NULL
	    || cfg_compat_refs_has(refs, name, strlen(name)))
		return true;
	if ((plen = cfg_transport_prefix_len(name)) == 0)
		return false;
	if (mcf == NULL)
		return true;
	for (i = 0; i < mastercf_count(mcf); i++) {
		const char *svc = mastercf_at(mcf, i)->name;

		if (strlen(svc) == plen && strncmp(svc, name, plen) == 0)
			return true;
	}
	return false;
}

/* One setting: where is "PATH, line N" or "" ; opt is "" or "-o ". */
static size_t
cfg_compat_one(const char *where, const char *opt, const char *name,
	       const char *value, const MASTERCF *mcf,
	       const struct cfg_compat_refs *refs)
{
	const struct cfg_compat_legacy *leg;

	if (!cfg_compat_used(name, mcf, refs)) {
		msg_warn("%s%sunused parameter: %s%s=%s", where,
			 *where ? ": " : "", opt, name, value);
		return 1;
	}
	if ((leg = cfg_compat_legacy_find(name)) != NULL) {
		msg_warn("%s%sobsolete parameter: %s%s=%s: use %s instead",
			 where, *where ? ": " : "", opt, name, value,
			 leg->modern);
		return 1;
	}
	return 0;
}

size_t
cfg_compat_check(const CFG *cfg, const MASTERCF *mcf, const char *mcf_path)
{
	struct cfg_compat_refs refs = { 0 };
	VSTR		      *where = vstr_alloc(100);
	size_t		       warned = 0;
	size_t		       i;
	int		       j;

	for (i = 0; i < cfg_count(cfg); i++)
		cfg_compat_refs_scan(&refs,
				     cfg_get_raw(cfg, cfg_name_at(cfg, i)));
	for (i = 0; mcf != NULL && i < mastercf_count(mcf); i++)
		cfg_compat_refs_scan(&refs, mastercf_at(mcf, i)->raw);

	for (i = 0; i < cfg_count(cfg); i++) {
		const char *name = cfg_name_at(cfg, i);
		int	    line = cfg_line(cfg, name);

		/* Overridden on the command line: not main.cf's to report. */
		if (line == 0)
			continue;
		vstr_sprintf(where, "%s, line %d", cfg_path(cfg), line);
		warned += cfg_compat_one(VSTR_STR(where), "", name,
					 cfg_get_raw(cfg, name), mcf, &refs);
	}
	for (i = 0; mcf != NULL && i < mastercf_count(mcf); i++) {
		const struct mastercf_service *e = mastercf_at(mcf, i);

		for (j = 0; j < e->noverrides; j++) {
			const char *eq = strchr(e->overrides[j], '=');
			char	   *name;

			if (eq == NULL)
				continue; /* mastercf refuses these */
			name = mystrndup(e->overrides[j],
					 (size_t)(eq - e->overrides[j]));
			vstr_sprintf(where, "%s, line %d", mcf_path, e->line);
			warned += cfg_compat_one(VSTR_STR(where), "-o ", name,
						 eq + 1, mcf, &refs);
			myfree(name);
		}
	}
	for (i = 0; i < refs.count; i++)
		myfree(refs.name[i]);
	myfree(refs.name);
	vstr_free(where);
	return warned;
}

/* Where a setting came from, for the daemons' warnings. */
static void
cfg_compat_origin(const CFG *cfg, const char *name, VSTR *out)
{
	int line = cfg_line(cfg, name);

	if (line > 0)
		vstr_sprintf(out, "%s, line %d: ", cfg_path(cfg), line);
	else
		vstr_reset(out);
}

const char *
cfg_compat_tls_level(const CFG *cfg, enum cfg_compat_side side, bool warn)
{
	bool	    server = side == CFG_COMPAT_SMTPD;
	const char *modern = server ? "smtpd_tls_security_level"
				    : "smtp_tls_security_level";
	const char *use = server ? "smtpd_use_tls" : "smtp_use_tls";
	const char *enforce = server ? "smtpd_enforce_tls" : "smtp_enforce_tls";
	const char *level = cfg_get_str(cfg, modern);
	const char *legacy = NULL;
	bool	    moot = *level != 0;
	VSTR	   *origin;

	if (moot) {
		/* The modern name wins; a legacy one set beside it is moot. */
		if (cfg_get_raw(cfg, enforce) != NULL)
			legacy = enforce;
		else if (cfg_get_raw(cfg, use) != NULL)
			legacy = use;
	} else if (cfg_get_bool(cfg, enforce)) {
		legacy = enforce;
		level = !server
				&& cfg_get_bool(cfg,
						"smtp_tls_enforce_peername")
			    ? "verify"
			    : "encrypt";
	} else if (cfg_get_bool(cfg, use)) {
		legacy = use;
		level = "may";
	}
	if (warn && legacy != NULL) {
		origin = vstr_alloc(64);
		cfg_compat_origin(cfg, legacy, origin);
		if (moot)
			msg_warn("%sobsolete parameter %s=%s is ignored: %s "
				 "is set",
				 VSTR_STR(origin), legacy,
				 cfg_get_raw(cfg, legacy), modern);
		else
			msg_warn("%sobsolete parameter %s=%s: using %s = %s; "
				 "set %s instead",
				 VSTR_STR(origin), legacy,
				 cfg_get_raw(cfg, legacy), modern, level,
				 modern);
		vstr_free(origin);
	}
	return level;
}

const char *
cfg_compat_renamed(const CFG *cfg, const char *modern, const char *legacy,
		   bool warn)
{
	VSTR *origin;

	if (cfg_get_raw(cfg, modern) != NULL
	    || cfg_get_raw(cfg, legacy) == NULL)
		return modern;
	if (warn) {
		origin = vstr_alloc(64);
		cfg_compat_origin(cfg, legacy, origin);
		msg_warn("%sobsolete parameter %s=%s: use %s instead",
			 VSTR_STR(origin), legacy, cfg_get_raw(cfg, legacy),
			 modern);
		vstr_free(origin);
	}
	return legacy;
}
