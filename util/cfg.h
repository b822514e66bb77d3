/*
 * cfg - main.cf with Postfix semantics.
 *
 * Syntax: "name = value" lines; a line starting with white space continues
 * the previous one; '#' starts a comment only at the start of a line (after
 * optional white space); blank lines are ignored; the last setting of a name
 * wins.  Values expand $name, ${name}, $(name), ${name?text} (text when name
 * is non-empty), ${name:text} (text when name is empty), the Postfix 3
 * brace forms ${name?{text}}, ${name:{text}}, ${name?{set}:{empty}}, and
 * "$$" as "$", nested; an unknown and unset name expands to "".  Expansion
 * is lazy and cached per CFG.
 *
 * Precedence: cfg_override() (master.cf -o, command line) > main.cf >
 * default from util/param_table.c (or a default computed at run time for
 * config_directory, myhostname and mydomain).
 *
 * Errors: cfg_open / cfg_open_buffer / cfg_check / cfg_expand return NULL or
 * -1 and put "file:line: reason" in `why`.  The typed getters are meant for
 * daemons that cannot run with a bad value: they msg_fatal_status(EX_CONFIG)
 * naming the parameter (and main.cf:line when it comes from main.cf).  An
 * expansion loop found by a getter is fatal and names the loop.
 *
 * Ownership: a CFG is the caller's, released with cfg_free() (returns NULL).
 * Every returned `const char *` is borrowed from the CFG and stays valid
 * until cfg_free() or the next cfg_override() / cfg_set_from_arg().
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_CFG_H
#define UTIL_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

typedef struct CFG CFG;

/* Compiled-in configuration folder (independent of PREFIX). */
#define CFG_DEFAULT_CONFDIR "/etc/postel"

/*
 * Read confdir/main.cf.  A missing main.cf is not an error (all defaults);
 * any other open/read error or a syntax error returns NULL with why set.
 */
CFG *cfg_open(const char *confdir, VSTR *why);

/*
 * Parse main.cf text from memory; `name` is used in messages ("main.cf").
 * confdir may be NULL (cfg_confdir() then returns CFG_DEFAULT_CONFDIR).
 */
CFG *cfg_open_buffer(const char *confdir, const char *name, const char *buf,
		     size_t len, VSTR *why);
CFG *cfg_free(CFG *cfg);

const char *cfg_confdir(const CFG *cfg);
const char *cfg_path(const CFG *cfg); /* confdir/main.cf */

/* -c DIR if given, else $MAIL_CONFIG if non-empty, else /etc/postel. */
const char *cfg_confdir_from_env(const char *opt_c);
/* The same without -c. */
const char *cfg_default_confdir(void);

/* name=value overrides win over main.cf. */
void cfg_override(CFG *cfg, const char *name, const char *value);
int  cfg_set_from_arg(CFG *cfg, const char *name_eq_value); /* -1 bad */

/* Text as set (override or main.cf), unexpanded; NULL if not set. */
const char *cfg_get_raw(const CFG *cfg, const char *name);
/* Unexpanded default (table or computed); NULL for an unknown name. */
const char *cfg_get_default(const CFG *cfg, const char *name);
/*
 * Unexpanded text in effect: raw if set, else default.  This and the
 * cfg_get_* getters below take only names that util/param_table.c
 * declares: any other name is a programming error (msg_panic), so that a
 * typo cannot silently read "" or 0.  A getter of the wrong type panics
 * too.
 */
const char *cfg_get_text(const CFG *cfg, const char *name);
/* main.cf line of the setting, 0 if not set there (or overridden). */
int cfg_line(const CFG *cfg, const char *name);

/* Expanded value; default if unset. */
const char *cfg_get_str(const CFG *cfg, const char *name);
long long   cfg_get_int(const CFG *cfg, const char *name);
bool cfg_get_bool(const CFG *cfg, const char *name); /* yes/no/true/false */
long long cfg_get_time(const CFG *cfg, const char *name); /* seconds */
long long cfg_get_size(const CFG *cfg, const char *name); /* k/m/g ok */

/*
 * Expand $name forms in arbitrary text against this CFG (no caching of the
 * text itself).  0, or -1 with why naming the expansion loop.
 */
int cfg_expand(const CFG *cfg, const char *text, VSTR *out, VSTR *why);

/*
 * Like cfg_expand, but $name forms whose name is neither a known parameter
 * nor set in main.cf/overrides are copied unchanged (for command arguments
 * such as pipe's ${recipient}).
 */
int cfg_expand_known(const CFG *cfg, const char *text, VSTR *out, VSTR *why);

/*
 * Validate every set parameter (type, bounds, expansion loops; a
 * per-transport name like its default_ parameter).  Names no program
 * knows are reported by cfg_compat_unused() (util/cfg_compat.h), which
 * also sees master.cf.  0, or -1 with why = "main.cf:LINE: parameter
 * NAME: reason" for the first bad one.
 */
int cfg_check(const CFG *cfg, VSTR *why);

/*
 * Per-transport parameters, Postfix's <transport>_<suffix> families for
 * the suffixes a program reads ("destination_concurrency_limit",
 * "destination_recipient_limit"): the value set for <transport>_<suffix>
 * (main.cf or override), else that name's table default when the table
 * declares it (smtp_, local_), else default_<suffix>.  A suffix outside
 * the families is a programming error (msg_panic); a bad value is fatal
 * like the other getters.
 */
long long cfg_get_transport_int(const CFG *cfg, const char *transport,
				const char *suffix);

/*
 * When name is <transport>_<suffix> of a family, the length of
 * <transport> (> 0); else 0.
 */
size_t cfg_transport_prefix_len(const char *name);

/* Typed value parsers without side effects: 0, or -1 with why. */
int
cfg_parse_time(const char *text, int default_unit, long long *secs, VSTR *why);
int cfg_parse_size(const char *text, long long *bytes, VSTR *why);
int cfg_parse_bool(const char *text, bool *value);

/* Names set in main.cf, each once, in order of first appearance. */
size_t	    cfg_count(const CFG *cfg);
const char *cfg_name_at(const CFG *cfg, size_t i);

#endif
