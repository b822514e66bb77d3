/*
 * smtpd_fake - a session's world in memory, for the smtpd unit tests and
 * the smtpd fuzzer: client bytes from a buffer (handed out in pieces of
 * at most `piece` bytes), replies into a VSTR, a policy engine keyed on
 * the recipient's local part ("reject", "defer", "discard", "hold"), and a
 * cleanup service that collects the content and answers with a
 * made-up queue ID.  Everything is static: include it in one file.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef TESTS_UNIT_SMTPD_FAKE_H
#define TESTS_UNIT_SMTPD_FAKE_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smtpd/smtpd.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

struct fake {
	const char *in;
	size_t	    in_len;
	size_t	    in_pos;
	size_t	    piece;	    /* 0: everything at once */
	size_t	    first_piece;    /* the first read only */
	bool	    timeout_at_end; /* ETIMEDOUT instead of EOF */
	VSTR	   *out;
	int	    writes;
	int	    sleeps;
	bool	    mark_sleeps; /* each sleep writes "<sleep>" to out */
	VSTR	   *content;	 /* of the last message */
	VSTR	   *sender;
	int	    nrcpt;
	int	    flags;
	int	    begins, finishes, aborts, queued;
	bool	    fail_begin;
	bool	    lose_cleanup; /* writes fail */
	VSTR	   *req;	  /* filter, client, helo of the last begin */
	const char *finish_reply; /* cleanup refuses with this reply */
};

struct CLEANUP_CLIENT {
	struct fake *f;
	bool	     lost;
};

static ssize_t
fake_read(void *io, void *buf, size_t len, int timeout_ms)
{
	struct fake *f = io;
	size_t	     n = f->in_len - f->in_pos;

	(void)timeout_ms;
	if (n == 0) {
		if (f->timeout_at_end) {
			errno = ETIMEDOUT;
			return -1;
		}
		return 0;
	}
	if (n > len)
		n = len;
	if (f->piece && n > f->piece)
		n = f->piece;
	if (f->first_piece && f->in_pos == 0 && n > f->first_piece)
		n = f->first_piece;
	memcpy(buf, f->in + f->in_pos, n);
	f->in_pos += n;
	return (ssize_t)n;
}

static int
fake_write(void *io, const void *buf, size_t len, int timeout_ms)
{
	struct fake *f = io;

	(void)timeout_ms;
	f->writes++;
	vstr_memcat(f->out, buf, len);
	return 0;
}

static void
fake_sleep(int seconds)
{
	(void)seconds;
}

static struct fake *fake_current;

static void
fake_sleep_count(int seconds)
{
	(void)seconds;
	if (fake_current) {
		fake_current->sleeps++;
		if (fake_current->mark_sleeps)
			vstr_strcat(fake_current->out, "<sleep>");
	}
}

static int
fake_check(void *ctx, enum smtpd_check_stage stage,
	   const struct smtpd_check_facts *facts,
	   struct smtpd_check_result	  *res)
{
	const char *r = facts->recipient;

	(void)ctx;
	res->action = SMTPD_ACT_OK;
	if (stage != SMTPD_CHECK_RCPT || r == NULL)
		return 0;
	if (strncmp(r, "reject", 6) == 0) {
		res->action = SMTPD_ACT_REJECT;
		vstr_sprintf(res->reply,
			     "554 5.7.1 <%s>: Recipient address "
			     "rejected",
			     r);
	} else if (strncmp(r, "defer", 5) == 0) {
		res->action = SMTPD_ACT_DEFER;
		vstr_sprintf(res->reply, "450 4.7.1 <%s>: try later", r);
	} else if (strncmp(r, "discard", 7) == 0) {
		res->action = SMTPD_ACT_DISCARD;
	} else if (strncmp(r, "hold", 4) == 0) {
		res->action = SMTPD_ACT_HOLD;
	} else if (strncmp(r, "filter", 6) == 0 && res->filter) {
		vstr_sprintf(res->filter, "scan:[127.0.0.1]:%s", r + 6);
	}
	return 0;
}

static bool
fake_mynetworks(void *ctx, const char *addr)
{
	(void)ctx;
	return strcmp(addr, "127.0.0.1") == 0;
}

static CLEANUP_CLIENT *
fake_begin(void *ctx, const struct cleanup_req *req, VSTR *why)
{
	struct fake    *f = ctx;
	CLEANUP_CLIENT *cc;

	f->begins++;
	if (f->fail_begin) {
		vstr_strcpy(why, "fake: no cleanup");
		return NULL;
	}
	vstr_reset(f->content);
	vstr_strcpy(f->sender, req->sender);
	f->nrcpt = (int)req->nrcpt;
	f->flags = req->flags;
	vstr_sprintf(f->req,
		     "filter=%s client=%s[%s]:%s helo=%s proto=%s "
		     "override=%d",
		     req->filter ? req->filter : "-",
		     req->client_name ? req->client_name : "-",
		     req->client_addr ? req->client_addr : "-",
		     req->client_port ? req->client_port : "-",
		     req->helo ? req->helo : "-",
		     req->protocol ? req->protocol : "-",
		     req->receive_override);
	cc = mycalloc(1, sizeof(*cc));
	cc->f = f;
	return cc;
}

static int
fake_cwrite(CLEANUP_CLIENT *cc, const void *data, size_t len)
{
	if (cc->f->lose_cleanup)
		cc->lost = true;
	if (cc->lost)
		return -1;
	vstr_memcat(cc->f->content, data, len);
	return 0;
}

static int
fake_finish(CLEANUP_CLIENT *cc, struct cleanup_result *res)
{
	struct fake *f = cc->f;
	int	     ret = 0;

	f->finishes++;
	if (cc->lost || f->lose_cleanup) {
		res->status = CLEANUP_TEMPFAIL;
		snprintf(res->reply, sizeof(res->reply),
			 "451 4.3.0 Error: queue file write error");
		ret = -1;
	} else if (f->finish_reply) {
		res->status = CLEANUP_REJECT;
		snprintf(res->reply, sizeof(res->reply), "%s", f->finish_reply);
	} else {
		f->queued++;
		res->status = CLEANUP_OK;
		snprintf(res->queue_id, sizeof(res->queue_id), "FAKE%d",
			 f->queued);
		snprintf(res->reply, sizeof(res->reply),
			 "250 2.0.0 Ok: queued as FAKE%d", f->queued);
	}
	myfree(cc);
	return ret;
}

static void
fake_abort(CLEANUP_CLIENT *cc)
{
	cc->f->aborts++;
	myfree(cc);
}

static const struct smtpd_hooks fake_hooks = {
	.read = fake_read,
	.write = fake_write,
	.sleep = fake_sleep,
	.check = fake_check,
	.mynetworks = fake_mynetworks,
	.cleanup_begin = fake_begin,
	.cleanup_write = fake_cwrite,
	.cleanup_finish = fake_finish,
	.cleanup_abort = fake_abort,
};

static void
fake_params(struct smtpd_params *par)
{
	memset(par, 0, sizeof(*par));
	par->myhostname = "mx.test";
	par->banner = "mx.test ESMTP Postel";
	par->timeout = 300;
	par->recipient_limit = 1000;
	par->soft_error_limit = 10;
	par->hard_error_limit = 20;
	par->error_sleep = 1;
	par->junk_limit = 100;
	par->size_limit = 10240000;
	par->line_limit = 2048;
}

static void
fake_init(struct fake *f, const char *in, size_t len)
{
	memset(f, 0, sizeof(*f));
	f->in = in;
	f->in_len = len;
	f->out = vstr_alloc(1024);
	f->content = vstr_alloc(1024);
	f->sender = vstr_alloc(64);
	f->req = vstr_alloc(64);
}

static void
fake_done(struct fake *f)
{
	vstr_free(f->out);
	vstr_free(f->content);
	vstr_free(f->sender);
	vstr_free(f->req);
}

/* Run a whole session over `in` with the given parameters. */
static void
fake_session(struct fake *f, const struct smtpd_params *par, const char *addr)
{
	struct smtpd_hooks hooks = fake_hooks;
	struct smtpd_peer  peer = { .name = "client.test",
				    .addr = addr,
				    .port = "1025" };
	SMTPD_STATE	  *st;

	fake_current = f;
	hooks.sleep = fake_sleep_count;
	st = smtpd_state_create(par, &hooks, f, f, &peer);
	smtpd_session(st);
	smtpd_state_free(st);
	fake_current = NULL;
}

#endif
