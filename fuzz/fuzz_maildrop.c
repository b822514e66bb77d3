/*
 * libFuzzer target for util/maildrop: arbitrary bytes as a maildrop file,
 * read as pickup does (rec_check_file, then maildrop_get_envelope and the
 * content records).  Neither may crash; an envelope that reads cleanly
 * must survive a round trip through maildrop_put_envelope unchanged.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/maildrop.h"
#include "util/msg.h"
#include "util/rec.h"
#include "util/vstr.h"

static int
load(int fd, const void *buf, size_t len)
{
	if (ftruncate(fd, 0) < 0
	    || (len && pwrite(fd, buf, len, 0) != (ssize_t)len))
		abort();
	return fd;
}

static bool
same_env(const MAILDROP_ENV *a, const MAILDROP_ENV *b)
{
	if (a->uid != b->uid || a->arrival_sec != b->arrival_sec
	    || a->arrival_usec != b->arrival_usec || a->extract != b->extract
	    || a->envid_given != b->envid_given || a->ret != b->ret
	    || a->nrcpt != b->nrcpt
	    || strcmp(VSTR_STR(a->sender), VSTR_STR(b->sender)) != 0
	    || strcmp(VSTR_STR(a->fullname), VSTR_STR(b->fullname)) != 0
	    || strcmp(VSTR_STR(a->envid), VSTR_STR(b->envid)) != 0)
		return false;
	for (size_t i = 0; i < a->nrcpt; i++)
		if (strcmp(a->rcpt[i], b->rcpt[i]) != 0
		    || a->notify[i] != b->notify[i])
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static int    fd = -1;
	static int    fd2 = -1;
	MAILDROP_ENV *env = maildrop_env_alloc();
	MAILDROP_ENV *env2 = maildrop_env_alloc();
	VSTR	     *why = vstr_alloc(0);
	VSTR	     *data = vstr_alloc(0);
	REC_READER   *r;
	REC_WRITER   *w;
	int	      type;
	int	      ret;

	if (fd < 0) {
		msg_stderr_enable(false);
		fd = memfd_create("fuzz_maildrop", 0);
		fd2 = memfd_create("fuzz_maildrop2", 0);
		if (fd < 0 || fd2 < 0)
			abort();
	}
	load(fd, buf, len);
	(void)rec_check_file(fd, why);
	r = rec_reader_create(fd, 0);
	ret = maildrop_get_envelope(r, env, why);
	if (ret < 0 && (errno != EBADMSG || VSTR_LEN(why) == 0))
		abort();
	if (ret == 0) {
		while (rec_get(r, &type, data, 0) > 0)
			;
		/* What was read writes back to the same envelope. */
		load(fd2, NULL, 0);
		w = rec_writer_create(fd2);
		if (maildrop_put_envelope(w, env) < 0
		    || rec_writer_finish(w) < 0)
			abort();
		rec_writer_free(w);
		rec_reader_free(r);
		r = rec_reader_create(fd2, 0);
		if (maildrop_get_envelope(r, env2, why) < 0
		    || !same_env(env, env2))
			abort();
	}
	rec_reader_free(r);
	maildrop_env_free(env);
	maildrop_env_free(env2);
	vstr_free(why);
	vstr_free(data);
	return 0;
}
