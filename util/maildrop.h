/*
 * maildrop - the envelope of a maildrop file (local submissions).
 *
 * postdrop writes maildrop/<ID> files and pickup reads them.  A maildrop
 * file is a queue file (util/rec.h layout, docs/QUEUE.md) whose envelope
 * holds what a local submission says about itself:
 *
 *	T	arrival time (set by postdrop)
 *	F	envelope sender as given (may be unqualified; empty = <>)
 *	A uid=N			submitting real uid (set by postdrop,
 *				never taken from the user); pickup
 *				compares it with the file's owner
 *	A fullname=TEXT		sendmail -F (or $NAME), optional
 *	A extract=yes		sendmail -t: recipients from the headers
 *	V	DSN ENVID (sendmail -V), optional
 *	K	DSN RET (sendmail -R), optional
 *	(N R)*	command-line recipients as given, with NOTIFY (-N)
 *	M C*	content in wire form (CRLF line ends)
 *	X E
 *
 * Envelope text (sender, recipients, full name, ENVID) never holds
 * control characters: maildrop_text_ok() is the one check, used both
 * when writing (postdrop) and when reading (pickup).
 *
 * Errors: maildrop_put_envelope returns 0 / -1 with errno (the writer's
 * sticky error, or EINVAL for text that fails maildrop_text_ok);
 * maildrop_get_envelope returns 0, or -1 with errno EBADMSG and a reason
 * in why for a file that is not a well-formed maildrop file, or the errno
 * of a read error.  Nothing here logs or exits (but allocation dies).
 *
 * Ownership: MAILDROP_ENV is the caller's (maildrop_env_alloc /
 * maildrop_env_free, which returns NULL); its strings belong to it.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MAILDROP_H
#define UTIL_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/rec.h"
#include "util/vstr.h"

#define MAILDROP_TEXT_MAX 1000 /* bytes of one envelope text */

typedef struct MAILDROP_ENV {
	long long uid; /* -1: not set */
	long long arrival_sec;
	long long arrival_usec;
	VSTR	 *sender;
	VSTR	 *fullname; /* empty: none */
	bool	  extract;
	bool	  envid_given;
	VSTR	 *envid;
	int	  ret; /* ADDR_RET_* */
	size_t	  nrcpt;
	size_t	  cap;
	char	**rcpt;
	int	 *notify; /* ADDR_NOTIFY_* bits, 0: none */
} MAILDROP_ENV;

MAILDROP_ENV *maildrop_env_alloc(void);
MAILDROP_ENV *maildrop_env_free(MAILDROP_ENV *env);
void	      maildrop_env_reset(MAILDROP_ENV *env);
void maildrop_env_add_rcpt(MAILDROP_ENV *env, const char *addr, int notify);

/* Printable text without control characters, at most MAILDROP_TEXT_MAX. */
bool maildrop_text_ok(const char *str, size_t len);

/* Write T F A* [V] [K] (N R)*; the caller then writes the content. */
int maildrop_put_envelope(REC_WRITER *w, const MAILDROP_ENV *env);

/*
 * Read records from a fresh reader up to and including M; the next
 * rec_get() returns the first content record.
 */
int maildrop_get_envelope(REC_READER *r, MAILDROP_ENV *env, VSTR *why);

#endif
