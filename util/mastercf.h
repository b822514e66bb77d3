/*
 * mastercf - master.cf, the service table, with Postfix semantics.
 *
 * One service per logical line, eight fields: service type private unpriv
 * chroot wakeup maxproc command+args.  '-' selects a field's default; a
 * line starting with white space continues the previous one; '#' starts a
 * comment only at the start of a line.  In the command arguments,
 * "-o name=value" and "-o { name = value }" are moved out of argv into
 * overrides (unexpanded: the daemon expands them in its own CFG).  Other
 * arguments have $name / ${name} expanded from main.cf when name is a known
 * parameter or set in main.cf; other $-forms (pipe's ${recipient}) are kept.
 * The pair (name, type) must be unique.
 *
 * Defaults for '-': private y (n for inet), unpriv y, chroot n, wakeup 0,
 * maxproc = default_process_limit (100 without a CFG); maxproc 0 means no
 * limit.  "60?" sets wakeup
 * 60 and wakeup_conditional.
 *
 * Errors: mastercf_open / mastercf_open_buffer return NULL with
 * why = "path:line: reason" (duplicate entries name both lines).
 *
 * Ownership: a MASTERCF is the caller's, released with mastercf_free()
 * (returns NULL); services and their strings are borrowed from it.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MASTERCF_H
#define UTIL_MASTERCF_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

typedef struct CFG CFG;

enum mastercf_type {
	MASTERCF_INET,
	MASTERCF_UNIX,
	MASTERCF_UNIX_DGRAM,
	MASTERCF_FIFO,
	MASTERCF_PASS,
};

struct mastercf_service {
	char		  *name; /* "smtp", "127.0.0.1:2525", ... */
	enum mastercf_type type;
	bool		   private_; /* '-' defaults: y (n for inet) */
	bool		   unpriv;   /* '-' default y */
	bool		   chroot;   /* '-' default n (Postfix 3 default) */
	int		   wakeup;   /* seconds, 0 = none */
	bool		   wakeup_conditional; /* "60?" */
	int		   maxproc;	       /* 0: no limit */
	char		  *command;	       /* argv[0], e.g. "smtpd" */
	char		 **argv; /* command + args, NULL-terminated */
	int		   argc;
	char		 **overrides; /* "name=value" from -o, NULL-ended */
	int		   noverrides;
	int		   line; /* line number in master.cf */
	/* The entry as written, on one line, single spaces, unexpanded. */
	char *raw;
};

typedef struct MASTERCF MASTERCF;

MASTERCF *mastercf_open(const char *path, const CFG *cfg, VSTR *why);
/* Parse from memory; `path` is used in messages. cfg may be NULL. */
MASTERCF *mastercf_open_buffer(const char *path, const char *buf, size_t len,
			       const CFG *cfg, VSTR *why);
MASTERCF *mastercf_free(MASTERCF *m);

size_t			       mastercf_count(const MASTERCF *m);
const struct mastercf_service *mastercf_at(const MASTERCF *m, size_t i);
const struct mastercf_service *
mastercf_find(const MASTERCF *m, const char *name, enum mastercf_type type);

/* "inet", "unix", "unix-dgram", "fifo", "pass". */
const char *mastercf_type_name(enum mastercf_type type);
/* The reverse; 0, or -1 for an unknown type word. */
int mastercf_type_parse(const char *word, enum mastercf_type *type);

#endif
