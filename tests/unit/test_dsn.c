/*
 * test_dsn - the DSN builder against golden files, and its defences.
 *
 * Each tests/unit/data/dsn/<name>.in describes one notification (one
 * "key value" per line, recipient keys after "rcpt", the original
 * message after a line "content"); <name>.ref is the expected message
 * with LF line ends (the builder's CRLF are turned into LF for the
 * comparison, after checking there is no bare CR or LF).  Run with
 * DSN_GOLDEN_WRITE=1 to rewrite the .ref files after a deliberate change.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "util/addr.h"
#include "util/dsn.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

#define MAX_RCPT 8
#define MAX_STR	 64

struct dsn_case {
	struct dsn_request req;
	struct dsn_rcpt	   rcpts[MAX_RCPT];
	char		  *strs[MAX_STR];
	size_t		   nstr;
	VSTR		  *content;
};

static void
data_path(char *buf, size_t len, const char *name, const char *ext)
{
	char  dir[512];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", __FILE__);
	slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = 0;
	snprintf(buf, len, "%s/data/dsn/%s.%s", dir, name, ext);
}

static const char *
keep(struct dsn_case *c, const char *s)
{
	assert_true(c->nstr < MAX_STR);
	return c->strs[c->nstr++] = mystrdup(s);
}

static void
case_load(struct dsn_case *c, const char *name)
{
	char		 path[600], line[2048], *val;
	struct dsn_rcpt *r = NULL;
	bool		 in_content = false;
	FILE		*fp;
	size_t		 len;

	memset(c, 0, sizeof(*c));
	c->content = vstr_alloc(1024);
	c->req.rcpts = c->rcpts;
	c->req.size_limit = 50000;
	data_path(path, sizeof(path), name, "in");
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		len = strcspn(line, "\n");
		line[len] = 0;
		if (in_content) {
			vstr_memcat(c->content, line, len);
			vstr_strcat(c->content, "\r\n");
			continue;
		}
		if (line[0] == '#' || line[0] == 0)
			continue;
		if (strcmp(line, "content") == 0) {
			in_content = true;
			continue;
		}
		val = strchr(line, ' ');
		assert_non_null(val);
		*val++ = 0;
		if (strcmp(line, "kind") == 0)
			c->req.kind = strcmp(val, "failed") == 0
					  ? DSN_KIND_FAILED
				      : strcmp(val, "delayed") == 0
					  ? DSN_KIND_DELAYED
					  : DSN_KIND_SUCCESS;
		else if (strcmp(line, "myhostname") == 0)
			c->req.myhostname = keep(c, val);
		else if (strcmp(line, "mail_name") == 0)
			c->req.mail_name = keep(c, val);
		else if (strcmp(line, "queue_id") == 0)
			c->req.queue_id = keep(c, val);
		else if (strcmp(line, "sender") == 0)
			c->req.sender = keep(c, strcmp(val, "<>") ? val : "");
		else if (strcmp(line, "to") == 0)
			c->req.to = keep(c, val);
		else if (strcmp(line, "envid") == 0)
			c->req.envid = keep(c, val);
		else if (strcmp(line, "boundary") == 0)
			c->req.boundary = keep(c, val);
		else if (strcmp(line, "arrival") == 0)
			c->req.arrival = atoll(val);
		else if (strcmp(line, "now") == 0)
			c->req.now = atoll(val);
		else if (strcmp(line, "will_retry_until") == 0)
			c->req.will_retry_until = atoll(val);
		else if (strcmp(line, "ret") == 0)
			c->req.ret = strcmp(val, "full") == 0	? ADDR_RET_FULL
				     : strcmp(val, "hdrs") == 0 ? ADDR_RET_HDRS
								: ADDR_RET_NONE;
		else if (strcmp(line, "size_limit") == 0)
			c->req.size_limit = (size_t)atoll(val);
		else if (strcmp(line, "postmaster_copy") == 0)
			c->req.postmaster_copy = atoi(val) != 0;
		else if (strcmp(line, "rcpt") == 0) {
			assert_true(c->req.nrcpt < MAX_RCPT);
			r = &c->rcpts[c->req.nrcpt++];
			r->addr = keep(c, val);
		} else {
			assert_non_null(r);
			if (strcmp(line, "orig") == 0)
				r->orig = keep(c, val);
			else if (strcmp(line, "orcpt") == 0)
				r->orcpt = keep(c, val);
			else if (strcmp(line, "action") == 0)
				r->action = keep(c, val);
			else if (strcmp(line, "status") == 0)
				r->status = keep(c, val);
			else if (strcmp(line, "remote_mta") == 0)
				r->remote_mta = keep(c, val);
			else if (strcmp(line, "diag_type") == 0)
				r->diag_type = keep(c, val);
			else if (strcmp(line, "reply") == 0)
				/* "\r" and "\n" stand for hostile bytes */
				r->reply = keep(c, val);
			else if (strcmp(line, "last_attempt") == 0)
				r->last_attempt = atoll(val);
			else
				fail_msg("%s: unknown key %s", name, line);
		}
	}
	fclose(fp);
	if (in_content) {
		c->req.content = VSTR_STR(c->content);
		c->req.content_len = VSTR_LEN(c->content);
	}
}

static void
case_free(struct dsn_case *c)
{
	size_t i;

	for (i = 0; i < c->nstr; i++)
		myfree(c->strs[i]);
	vstr_free(c->content);
}

/* Every CR is followed by LF and every LF preceded by CR. */
static void
assert_crlf_only(const VSTR *v)
{
	size_t i;

	for (i = 0; i < VSTR_LEN(v); i++) {
		if (VSTR_STR(v)[i] == '\r')
			assert_true(i + 1 < VSTR_LEN(v)
				    && VSTR_STR(v)[i + 1] == '\n');
		if (VSTR_STR(v)[i] == '\n')
			assert_true(i > 0 && VSTR_STR(v)[i - 1] == '\r');
	}
}

static void
golden(const char *name)
{
	struct dsn_case c;
	VSTR	       *out = vstr_alloc(4096), *lf = vstr_alloc(4096);
	char		path[600];
	FILE	       *fp;
	char		buf[4096];
	size_t		n, i;
	VSTR	       *ref = vstr_alloc(4096);

	case_load(&c, name);
	/* The .in cannot hold raw CR/LF: "\r" "\n" escapes in replies. */
	for (i = 0; i < c.req.nrcpt; i++) {
		char *p = (char *)c.rcpts[i].reply;

		while (p && (p = strstr(p, "\\r\\n")) != NULL) {
			p[0] = '\r';
			p[1] = '\n';
			memmove(p + 2, p + 4, strlen(p + 4) + 1);
		}
	}
	dsn_build(out, &c.req);
	assert_crlf_only(out);
	for (i = 0; i < VSTR_LEN(out); i++)
		if (VSTR_STR(out)[i] != '\r')
			vstr_addch(lf, VSTR_STR(out)[i]);
	data_path(path, sizeof(path), name, "ref");
	if (getenv("DSN_GOLDEN_WRITE")) {
		fp = fopen(path, "w");
		assert_non_null(fp);
		fwrite(VSTR_STR(lf), 1, VSTR_LEN(lf), fp);
		fclose(fp);
	}
	fp = fopen(path, "r");
	assert_non_null(fp);
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		vstr_memcat(ref, buf, n);
	fclose(fp);
	if (VSTR_LEN(ref) != VSTR_LEN(lf)
	    || memcmp(VSTR_STR(ref), VSTR_STR(lf), VSTR_LEN(lf)) != 0) {
		fprintf(stderr, "---- got %s:\n%s----\n", name, VSTR_STR(lf));
		fail_msg("%s: output differs from %s", name, path);
	}
	case_free(&c);
	vstr_free(out);
	vstr_free(lf);
	vstr_free(ref);
}

static void
test_dsn_golden_failed_full(void **state)
{
	(void)state;
	golden("failed_full");
}

static void
test_dsn_golden_failed_hdrs(void **state)
{
	(void)state;
	golden("failed_hdrs");
}

static void
test_dsn_golden_failed_too_big(void **state)
{
	(void)state;
	golden("failed_too_big");
}

static void
test_dsn_golden_delayed(void **state)
{
	(void)state;
	golden("delayed");
}

static void
test_dsn_golden_success(void **state)
{
	(void)state;
	golden("success");
}

static void
test_dsn_golden_hostile_reply(void **state)
{
	(void)state;
	golden("hostile");
}

static void
test_dsn_golden_postmaster_copy(void **state)
{
	(void)state;
	golden("postmaster_copy");
}

static void
test_dsn_date_is_rfc5322_utc(void **state)
{
	VSTR *v = vstr_alloc(64);

	(void)state;
	dsn_format_date(v, 0);
	assert_string_equal(VSTR_STR(v), "Thu, 1 Jan 1970 00:00:00 +0000");
	vstr_reset(v);
	dsn_format_date(v, 1795429011);
	assert_string_equal(VSTR_STR(v), "Mon, 23 Nov 2026 10:16:51 +0000");
	vstr_free(v);
}

static void
test_dsn_subject_per_kind(void **state)
{
	(void)state;
	assert_string_equal(dsn_subject(DSN_KIND_FAILED),
			    "Undelivered Mail Returned to Sender");
	assert_string_equal(dsn_subject(DSN_KIND_DELAYED),
			    "Delayed Mail (still being retried)");
	assert_string_equal(dsn_subject(DSN_KIND_SUCCESS),
			    "Successful Mail Delivery Report");
}

/* A header section bigger than the limit is cut at a line end. */
static void
test_dsn_headers_cut_at_line_end(void **state)
{
	struct dsn_rcpt	   r = { .addr = "b@example.org",
				 .action = "failed",
				 .status = "5.0.0",
				 .reply = "no" };
	struct dsn_request req = {
		.kind = DSN_KIND_FAILED,
		.myhostname = "h",
		.mail_name = "P",
		.queue_id = "Q",
		.sender = "a@example.com",
		.to = "a@example.com",
		.boundary = "B",
		.rcpts = &r,
		.nrcpt = 1,
		.size_limit = 30,
		.content = "Subject: one\r\nX-Long: two three\r\n\r\nbody\r\n",
	};
	VSTR *out = vstr_alloc(1024);

	(void)state;
	req.content_len = strlen(req.content);
	dsn_build(out, &req);
	assert_crlf_only(out);
	assert_non_null(strstr(VSTR_STR(out), "text/rfc822-headers\r\n\r\n"
					      "Subject: one\r\n\r\n--B--\r\n"));
	assert_null(strstr(VSTR_STR(out), "X-Long"));
	vstr_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dsn_golden_failed_full),
		cmocka_unit_test(test_dsn_golden_failed_hdrs),
		cmocka_unit_test(test_dsn_golden_failed_too_big),
		cmocka_unit_test(test_dsn_golden_delayed),
		cmocka_unit_test(test_dsn_golden_success),
		cmocka_unit_test(test_dsn_golden_hostile_reply),
		cmocka_unit_test(test_dsn_golden_postmaster_copy),
		cmocka_unit_test(test_dsn_date_is_rfc5322_utc),
		cmocka_unit_test(test_dsn_subject_per_kind),
		cmocka_unit_test(test_dsn_headers_cut_at_line_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
