/*
 * fuzz_postdrop - libFuzzer target for the stream setgid postdrop reads:
 * arbitrary bytes as sendmail's attr frames on standard input, run
 * through postdrop_read() exactly as postdrop runs it, into a maildrop
 * file.
 *
 * Invariants: the reader ends with 0 or a sysexits code and a reason;
 * a stream it accepts gives a maildrop file whose envelope reads back as
 * what was accepted (as pickup reads it), with at least one recipient or
 * extract set, and whose content is CRLF wire form: no bare CR or LF
 * ever reaches the queue (security review finding 1).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sysexits.h>
#include <unistd.h>

#include "sendmail/postdrop_read.h"
#include "util/maildrop.h"
#include "util/msg.h"
#include "util/rec.h"
#include "util/vstr.h"

static void
load(int fd, const void *buf, size_t len)
{
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0
	    || (len && pwrite(fd, buf, len, 0) != (ssize_t)len))
		abort();
}

/* Every CR followed by LF and every LF preceded by CR, across records. */
static void
check_wire_form(REC_READER *r, VSTR *data)
{
	bool cr = false;
	int  type;

	while (rec_get(r, &type, data, 0) > 0 && type != REC_TYPE_XTRA) {
		if (type != REC_TYPE_CONT)
			continue;
		for (size_t i = 0; i < VSTR_LEN(data); i++) {
			if (cr != (VSTR_STR(data)[i] == '\n'))
				abort();
			cr = VSTR_STR(data)[i] == '\r';
		}
	}
	if (cr)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static int			       in_fd = -1;
	static int			       out_fd = -1;
	static const struct postdrop_read_opts opts = {
		.allow_min_user = false,
		.size_limit = 4096,
	};
	MAILDROP_ENV *env = maildrop_env_alloc();
	MAILDROP_ENV *back = maildrop_env_alloc();
	VSTR	     *why = vstr_alloc(0);
	VSTR	     *data = vstr_alloc(0);
	IPC_STREAM   *in;
	REC_WRITER   *w;
	REC_READER   *r;
	int	      status;

	if (in_fd < 0) {
		msg_stderr_enable(false);
		in_fd = memfd_create("fuzz_postdrop_in", 0);
		out_fd = memfd_create("fuzz_postdrop_out", 0);
		if (in_fd < 0 || out_fd < 0)
			abort();
	}
	load(in_fd, buf, len);
	load(out_fd, NULL, 0);
	in = ipc_stream_open(dup(in_fd));
	ipc_stream_set_max(in, 64 * 1024);
	w = rec_writer_create(out_fd);
	status = postdrop_read(in, w, env, &opts, why);
	if (status != 0
	    && ((status != EX_DATAERR && status != EX_NOUSER)
		|| VSTR_LEN(why) == 0))
		abort();
	if (status == 0) {
		if (rec_writer_finish(w) < 0)
			abort();
		if (!env->extract && env->nrcpt == 0)
			abort();
		if (rec_check_file(out_fd, why) < 0)
			abort();
		r = rec_reader_create(out_fd, 0);
		if (maildrop_get_envelope(r, back, why) < 0
		    || back->nrcpt != env->nrcpt
		    || back->extract != env->extract
		    || strcmp(VSTR_STR(back->sender), VSTR_STR(env->sender)))
			abort();
		for (size_t i = 0; i < env->nrcpt; i++)
			if (strcmp(back->rcpt[i], env->rcpt[i]) != 0
			    || env->rcpt[i][0] == '-')
				abort();
		check_wire_form(r, data);
		rec_reader_free(r);
	}
	rec_writer_free(w);
	ipc_stream_close(in);
	maildrop_env_free(env);
	maildrop_env_free(back);
	vstr_free(why);
	vstr_free(data);
	return 0;
}
