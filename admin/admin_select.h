/*
 * admin_select - queue message selectors and the streaming queue walk
 * shared by postelqueue (-p, -j), postelsuper (-d -h -H -r -e -f) and
 * postelqshape.
 *
 * Selectors (all given ones must match, AND):
 *
 *	--recipient-domain D	a pending recipient's domain is D
 *				(case-insensitive); ".D" matches D's
 *				subdomains but not D itself
 *	--sender ADDR		the envelope sender is ADDR (case-insensitive);
 *				"@D" matches every sender in domain D, "<>"
 *				(or "") the null sender
 *	--older-than DURATION	arrived more than DURATION ago
 *	--younger-than DURATION	arrived less than DURATION ago
 *	--reason REGEX		a pending recipient's latest delay reason
 *				(from the defer log) matches REGEX, a PCRE2
 *				(Perl-compatible) regular expression,
 *				case-insensitive, at most 1024 bytes, each
 *				match bounded by ADMIN_SEL_MATCH_LIMIT
 *
 * A DURATION uses Postfix's time units: a number with s (seconds), m
 * (minutes), h (hours), d (days) or w (weeks); a bare number is seconds.
 * Each selector option may be given once.  The age is the message's
 * arrival time (its T record) against the time the command started.
 *
 * admin_sel_option() takes one long option (name without "--") and its
 * value.  admin_env_read() reads a queue file's envelope (up to the M
 * record: size, arrival, sender, pending recipients) from an open file;
 * admin_env_reasons() adds each pending recipient's latest delay reason
 * from queue_directory/defer/X/ID.  admin_sel_match() tests a message.
 *
 * admin_walk() calls fn for every queue ID in one queue folder
 * ("deferred" walks its hashed subfolders), streaming: names are read
 * in batches of at most ADMIN_WALK_BATCH, each batch sorted by queue ID
 * (so a folder with fewer names is listed in arrival order), which bounds
 * the memory at one batch whatever the queue size.  fn may rename or
 * unlink the file it is given, but must not create names in the folder
 * being walked.  Names that are not queue IDs are skipped.
 *
 * Errors: admin_sel_option and admin_env_read return -1 with `why`;
 * admin_walk returns -1 with errno when the folder cannot be read
 * (ENOENT is an empty folder: 0).  Nothing logs or exits.
 *
 * Ownership: an ADMIN_SEL and an ADMIN_ENV belong to the caller (free
 * with admin_sel_free / admin_env_free); strings given to fn are
 * borrowed for the call.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef ADMIN_ADMIN_SELECT_H
#define ADMIN_ADMIN_SELECT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/vstr.h"

#define ADMIN_WALK_BATCH      65536 /* names read, sorted and handled at once */
#define ADMIN_ENV_TEXT_MAX    4096  /* envelope record bound */
#define ADMIN_SEL_REGEX_MAX   1024  /* --reason length bound */
#define ADMIN_SEL_MATCH_LIMIT 1000000 /* PCRE2 match limit per reason */

typedef struct admin_sel {
	char	 *rcpt_domain; /* lowercase, or NULL */
	char	 *sender;      /* lowercase: address, "@domain", "" */
	bool	  have_sender;
	long long older_than; /* seconds, or -1 */
	long long younger_than;
	bool	  have_reason;
	void	 *reason;	/* pcre2_code */
	void	 *reason_match; /* pcre2_match_data */
	void	 *reason_mctx;	/* pcre2_match_context */
	long long now;		/* reference time */
} ADMIN_SEL;

typedef struct admin_env {
	long long arrival;
	long long size;
	bool	  forced_expire; /* the queue file's owner execute bit */
	VSTR	 *sender;
	size_t	  nrcpt;
	size_t	  cap;
	char	**rcpt;
	char	**reason; /* latest delay reason per recipient, or NULL */
} ADMIN_ENV;

/* The long options, for getopt_long (flag/val left to the caller). */
extern const char *const admin_sel_names[];

void admin_sel_init(ADMIN_SEL *sel, long long now);
void admin_sel_free(ADMIN_SEL *sel);
int  admin_sel_option(ADMIN_SEL *sel, const char *name, const char *value,
		      VSTR *why);
bool admin_sel_active(const ADMIN_SEL *sel);
bool admin_sel_needs_reasons(const ADMIN_SEL *sel);
bool admin_sel_match(const ADMIN_SEL *sel, const ADMIN_ENV *env);
/* Parse a DURATION as above: 0, or -1 with why. */
int admin_sel_duration(const char *text, long long *secs, VSTR *why);

ADMIN_ENV *admin_env_alloc(void);
void	   admin_env_reset(ADMIN_ENV *env);
void	   admin_env_free(ADMIN_ENV *env);
int	   admin_env_read(int fd, ADMIN_ENV *env, VSTR *why);
/* Open path for reading without touching its atime when allowed. */
int  admin_env_open(const char *path);
void admin_env_reasons(const char *top, const char *id, ADMIN_ENV *env);

int admin_walk(const char *dirpath,
	       void (*fn)(void *ctx, const char *dirpath, const char *id),
	       void *ctx);

#endif
