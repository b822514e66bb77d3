/*
 * postdrop_read - check sendmail's stream and write it as a maildrop file.
 *
 * postdrop_read() reads the frames of sendmail/postdrop_proto.h from an
 * IPC_STREAM until {request=end}, checks every field (text fields pass
 * maildrop_text_ok, addresses may not begin with "-" unless
 * allow_min_user, content is CRLF wire form without a bare CR or LF,
 * content within size_limit and the envelope within POSTDROP_ENV_MAX),
 * fills env (uid and arrival time come from the kernel, never from the
 * stream) and writes envelope and content records through w.
 *
 * Returns 0 when the stream ended with {request=end}, or a sysexits(3)
 * code with the reason in why: EX_DATAERR malformed or too large,
 * EX_NOUSER an address refused, EX_TEMPFAIL a write through w failed
 * (errno kept).  Nothing is read after a failure; the caller removes the
 * file.  Kept apart from postdrop's main so that a fuzz target can drive
 * exactly what the setgid program runs.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef SENDMAIL_POSTDROP_READ_H
#define SENDMAIL_POSTDROP_READ_H

#include <stdbool.h>

#include "util/ipc.h"
#include "util/maildrop.h"
#include "util/rec.h"
#include "util/vstr.h"

/*
 * The envelope part of a maildrop file has its own bound, beside
 * message_size_limit for the content: twice what a command line holds
 * with Linux's default 8 MiB stack (ARG_MAX 2 MiB), so in practice only
 * a stream written by hand reaches it.
 */
#define POSTDROP_ENV_MAX (4 * 1024 * 1024)

struct postdrop_read_opts {
	bool	  allow_min_user; /* main.cf allow_min_user */
	long long size_limit;	  /* message_size_limit, 0 = none */
};

int postdrop_read(IPC_STREAM *in, REC_WRITER *w, MAILDROP_ENV *env,
		  const struct postdrop_read_opts *opts, VSTR *why);

#endif
