/*
 * postdrop_read - check sendmail's stream and write it as a maildrop file.
 * See postdrop_read.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include "sendmail/postdrop_proto.h"
#include "sendmail/postdrop_read.h"
#include "util/addr.h"
#include "util/attr.h"

#define POSTDROP_REC_OVERHEAD 16 /* per envelope record, generously */

/* The state of one stream; every failure records its status and reason. */
struct postdrop_reader {
	const struct postdrop_read_opts *opts;
	MAILDROP_ENV			*env;
	VSTR				*why;
	size_t				 env_bytes;
	unsigned long long		 content_bytes;
	bool				 cr; /* the last content byte was CR */
};

static int
postdrop_bad_input(struct postdrop_reader *rd, const char *what)
{
	vstr_sprintf(rd->why, "malformed input from sendmail: %s", what);
	return EX_DATAERR;
}

/* A text attribute that must pass maildrop_text_ok: 0, or -1 if bad. */
static int
postdrop_text(const ATTR *a, const char *name, bool required,
	      const char **value)
{
	*value = attr_get_str(a, name);
	if (*value == NULL)
		return required ? -1 : 0;
	return maildrop_text_ok(*value, strlen(*value)) ? 0 : -1;
}

static int
postdrop_min_user(struct postdrop_reader *rd, const char *what,
		  const char *addr)
{
	if (rd->opts->allow_min_user || !addr_text_min_user(addr))
		return 0;
	vstr_sprintf(rd->why,
		     "bad %s address: %s: begins with \"-\" "
		     "(allow_min_user = no)",
		     what, addr);
	return EX_NOUSER;
}

static int
postdrop_envelope(struct postdrop_reader *rd, const ATTR *a)
{
	MAILDROP_ENV  *env = rd->env;
	const char    *value;
	long long      num;
	struct timeval tv;
	int	       status;

	if (postdrop_text(a, "sender", true, &value) < 0)
		return postdrop_bad_input(rd, "sender");
	if ((status = postdrop_min_user(rd, "sender", value)) != 0)
		return status;
	vstr_strcpy(env->sender, value);
	if (postdrop_text(a, "fullname", false, &value) < 0)
		return postdrop_bad_input(rd, "fullname");
	if (value != NULL)
		vstr_strcpy(env->fullname, value);
	if (attr_get_int(a, "extract", &num) < 0 || (num != 0 && num != 1))
		return postdrop_bad_input(rd, "extract");
	env->extract = num == 1;
	if (postdrop_text(a, "envid", false, &value) < 0
	    || (value != NULL
		&& (*value == 0 || strlen(value) > ADDR_ENVID_MAX)))
		return postdrop_bad_input(rd, "envid");
	if (value != NULL) {
		env->envid_given = true;
		vstr_strcpy(env->envid, value);
	}
	if (attr_get_int(a, "ret", &num) < 0 || num < ADDR_RET_NONE
	    || num > ADDR_RET_HDRS)
		return postdrop_bad_input(rd, "ret");
	env->ret = (int)num;
	/* Who and when come from the kernel, never from the stream. */
	env->uid = (long long)getuid();
	gettimeofday(&tv, NULL);
	env->arrival_sec = tv.tv_sec;
	env->arrival_usec = tv.tv_usec;
	return 0;
}

static int
postdrop_rcpt(struct postdrop_reader *rd, const ATTR *a)
{
	const char *addr;
	long long   notify;
	int	    status;

	if (postdrop_text(a, "addr", true, &addr) < 0)
		return postdrop_bad_input(rd, "addr");
	if (*addr == 0)
		return postdrop_bad_input(rd, "empty recipient");
	if ((status = postdrop_min_user(rd, "recipient", addr)) != 0)
		return status;
	if (attr_get_int(a, "notify", &notify) < 0 || notify < 0 || notify > 15
	    || ((notify & ADDR_NOTIFY_NEVER) && notify != ADDR_NOTIFY_NEVER))
		return postdrop_bad_input(rd, "notify");
	rd->env_bytes += strlen(addr) + POSTDROP_REC_OVERHEAD;
	if (rd->env_bytes > POSTDROP_ENV_MAX) {
		vstr_sprintf(rd->why,
			     "too many recipients: the envelope "
			     "exceeds %d bytes",
			     POSTDROP_ENV_MAX);
		return EX_DATAERR;
	}
	maildrop_env_add_rcpt(rd->env, addr, (int)notify);
	return 0;
}

/*
 * Content must be in the wire form sendmail writes: every CR followed by
 * LF, every LF preceded by CR.  A bare CR or LF could only come from a
 * stream written by hand; passed on, "x<CR>.<CR>MAIL FROM:..." would let
 * a local user smuggle SMTP commands to a next hop that ends lines there
 * (DESIGN.md section 5).  rd->cr carries a CR that ended the previous
 * frame.
 */
static int
postdrop_content(struct postdrop_reader *rd, REC_WRITER *w, const char *data,
		 size_t len)
{
	long long limit = rd->opts->size_limit;

	for (size_t i = 0; i < len; i++) {
		if (rd->cr != (data[i] == '\n'))
			return postdrop_bad_input(rd, "bare <CR> or <LF> in "
						      "content");
		rd->cr = data[i] == '\r';
	}
	rd->content_bytes += len;
	if (limit > 0 && rd->content_bytes > (unsigned long long)limit) {
		vstr_sprintf(rd->why,
			     "message too large: more than "
			     "message_size_limit (%lld bytes)",
			     limit);
		return EX_DATAERR;
	}
	if (len > 0 && rec_put_content(w, data, len) < 0) {
		vstr_sprintf(rd->why, "write: %s", strerror(errno));
		return EX_TEMPFAIL;
	}
	return 0;
}

/* One frame; 0 to go on, a sysexits code to stop, -1 at {request=end}. */
static int
postdrop_frame(struct postdrop_reader *rd, REC_WRITER *w, const ATTR *frame,
	       bool *envelope_done)
{
	const char *req = attr_get_str(frame, "request");
	const void *data;
	size_t	    len;

	if (req == NULL)
		return postdrop_bad_input(rd, "no request");
	if (strcmp(req, POSTDROP_REQ_ENVELOPE) == 0)
		return rd->env->uid >= 0
			   ? postdrop_bad_input(rd, "second envelope")
			   : postdrop_envelope(rd, frame);
	if (rd->env->uid < 0)
		return postdrop_bad_input(rd, "no envelope");
	if (strcmp(req, POSTDROP_REQ_RCPT) == 0)
		return *envelope_done
			   ? postdrop_bad_input(rd, "recipient after content")
			   : postdrop_rcpt(rd, frame);
	if (!*envelope_done) {
		if (maildrop_put_envelope(w, rd->env) < 0) {
			vstr_sprintf(rd->why, "write: %s", strerror(errno));
			return EX_TEMPFAIL;
		}
		*envelope_done = true;
	}
	if (strcmp(req, POSTDROP_REQ_END) == 0)
		return -1;
	if (strcmp(req, POSTDROP_REQ_DATA) != 0)
		return postdrop_bad_input(rd, "unknown request");
	if ((data = attr_get_data(frame, "data", &len)) == NULL)
		return postdrop_bad_input(rd, "data");
	return postdrop_content(rd, w, data, len);
}

int
postdrop_read(IPC_STREAM *in, REC_WRITER *w, MAILDROP_ENV *env,
	      const struct postdrop_read_opts *opts, VSTR *why)
{
	struct postdrop_reader rd = { .opts = opts, .env = env, .why = why };
	ATTR		      *frame = attr_alloc();
	VSTR		      *io_why = vstr_alloc(64);
	bool		       envelope_done = false;
	int		       status;

	do {
		if (ipc_stream_recv(in, frame, IPC_WAIT_FOREVER, io_why) < 0) {
			vstr_sprintf(why, "input from sendmail: %s",
				     VSTR_LEN(io_why) ? VSTR_STR(io_why)
						      : "unexpected end");
			status = EX_DATAERR;
			break;
		}
	} while ((status = postdrop_frame(&rd, w, frame, &envelope_done)) == 0);
	attr_free(frame);
	vstr_free(io_why);
	if (status > 0)
		return status;
	if (rd.cr)
		return postdrop_bad_input(&rd, "bare <CR> or <LF> in content");
	if (!env->extract && env->nrcpt == 0) {
		vstr_strcpy(why, "no recipients");
		return EX_DATAERR;
	}
	return 0;
}
