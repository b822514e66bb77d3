/*
 * param - the one table of configuration parameters.
 *
 * Every main.cf parameter Postel knows is declared exactly once, in
 * util/param_table.c: name, type, default text (Postfix syntax, may hold
 * $name), bounds and a one-line description.  Daemons and commands read
 * values through util/cfg.h; this module only describes them.
 *
 * Bounds: for PARAM_INT, PARAM_TIME (in seconds) and PARAM_SIZE (in bytes);
 * min == max == 0 means "no bounds", max == LLONG_MAX "no upper bound".
 * A PARAM_TIME default ends in its unit letter (s m h d w): a bare number
 * given by the admin is read in that unit, as Postfix does.
 *
 * Defaults that must be computed at run time (config_directory, myhostname,
 * mydomain) are "" here and resolved by util/cfg.c, keyed by name.
 *
 * Errors: none; lookups return NULL for unknown names.  Everything returned
 * points into static storage and is never freed.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_PARAM_H
#define UTIL_PARAM_H

#include <stddef.h>

#include "util/sys_defs.h"

/* The compile-time installation prefix; the Makefile defines it. */
#ifndef POSTEL_PREFIX
#define POSTEL_PREFIX "/usr/local"
#endif
/* Where the daemons are installed (make DAEMON_DIR=..., the Debian
 * package uses /usr/lib/postel); the default of daemon_directory. */
#ifndef POSTEL_DAEMON_DIR
#define POSTEL_DAEMON_DIR POSTEL_PREFIX "/libexec/postel"
#endif
/* The release, from the VERSION file; the default of mail_version. */
#ifndef POSTEL_VERSION
#define POSTEL_VERSION "unknown"
#endif

enum param_type {
	PARAM_STR,
	PARAM_INT,
	PARAM_BOOL,
	PARAM_TIME,
	PARAM_SIZE,
};

struct param_def {
	const char     *name;
	enum param_type type;
	const char     *defval;	  /* Postfix-style text, may hold $name */
	long long	min, max; /* bounds; 0,0 = none */
	const char     *doc;	  /* one-line description */
};

/* The definition of name, or NULL if Postel has no such parameter. */
const struct param_def *param_lookup(const char *name);

/* The whole table, sorted by name; *count receives its length. */
const struct param_def *param_table(size_t *count);

/* "string", "integer", "boolean", "time", "size". */
const char *param_type_name(enum param_type type);

#endif
