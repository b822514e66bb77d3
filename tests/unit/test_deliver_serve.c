/*
 * test_deliver_serve - the delivery agents' shared request loop: a bad
 * request gets a whole-request failure, each recipient gets the agent's
 * status with the agent's relay name, and a queue file that cannot be
 * read defers everybody without calling the agent.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/attr.h"
#include "util/cfg.h"
#include "util/deliver_serve.h"
#include "util/vstr.h"

static int calls;

static void
fake_rcpt(struct skel_ctx *ctx, const struct deliver_request *req, size_t i,
	  VSTR *content, struct deliver_status *st, VSTR *text)
{
	(void)ctx;
	(void)content;
	calls++;
	vstr_sprintf(text, "done %zu for %s", i, req->rcpts[i].addr);
	deliver_status_set(st, i == 0 ? DELIVER_SENT : DELIVER_BOUNCED,
			   i == 0 ? "2.0.0" : "5.1.1", VSTR_STR(text),
			   "ignored");
}

static void
make_request(ATTR *in, const char *queue_name)
{
	struct deliver_rcpt rcpts[] = {
		{ .addr = "a@example.org", .offset = 10 },
		{ .addr = "b@example.org", .offset = 20 },
	};
	struct deliver_request req = {
		.queue_name = queue_name,
		.queue_id = "0000000000z1",
		.transport = "fake",
		.nexthop = "example.org",
		.sender = "s@example.org",
		.rcpts = rcpts,
		.nrcpt = 2,
	};

	assert_int_equal(deliver_request_encode(&req, in), 0);
}

static void
test_deliver_serve_bad_request_fails_the_whole_request(void **state)
{
	struct skel_ctx	      ctx = { .service = "fake" };
	struct deliver_status st[1];
	ATTR		     *in = attr_alloc(), *out = attr_alloc();
	VSTR		     *why = vstr_alloc(64);

	(void)state;
	calls = 0;
	attr_put_str(in, "request", "nonsense");
	deliver_serve_rcpts(&ctx,
			    &(const struct deliver_serve_ops){
				.rcpt = fake_rcpt },
			    in, out);
	assert_int_equal(deliver_reply_decode(out, st, 1, why), -1);
	assert_int_equal(calls, 0);
	attr_free(in);
	attr_free(out);
	vstr_free(why);
}

static void
test_deliver_serve_calls_the_agent_per_recipient(void **state)
{
	struct skel_ctx	      ctx = { .service = "fake" };
	struct deliver_status st[2];
	ATTR		     *in = attr_alloc(), *out = attr_alloc();
	VSTR		     *why = vstr_alloc(64);

	(void)state;
	calls = 0;
	make_request(in, "active");
	deliver_serve_rcpts(&ctx,
			    &(const struct deliver_serve_ops){
				.relay = "none", .rcpt = fake_rcpt },
			    in, out);
	assert_int_equal(deliver_reply_decode(out, st, 2, why), 0);
	assert_int_equal(calls, 2);
	assert_int_equal(st[0].action, DELIVER_SENT);
	assert_string_equal(st[0].reply, "done 0 for a@example.org");
	assert_string_equal(st[0].relay, "none");
	assert_int_equal(st[1].action, DELIVER_BOUNCED);
	assert_string_equal(st[1].dsn, "5.1.1");
	assert_string_equal(st[1].reply, "done 1 for b@example.org");

	/* No relay named: the master.cf service name, as pipe logs it. */
	deliver_serve_rcpts(&ctx,
			    &(const struct deliver_serve_ops){
				.rcpt = fake_rcpt },
			    in, out);
	assert_int_equal(deliver_reply_decode(out, st, 2, why), 0);
	assert_string_equal(st[1].relay, "fake");
	attr_free(in);
	attr_free(out);
	vstr_free(why);
}

static void
test_deliver_serve_unreadable_content_defers_everybody(void **state)
{
	static const char     main_cf[] = "queue_directory = /nonexistent\n";
	struct skel_ctx	      ctx = { .service = "fake" };
	struct deliver_status st[2];
	ATTR		     *in = attr_alloc(), *out = attr_alloc();
	VSTR		     *why = vstr_alloc(64);

	(void)state;
	ctx.cfg = cfg_open_buffer(NULL, "main.cf", main_cf, sizeof(main_cf) - 1,
				  why);
	assert_non_null(ctx.cfg);
	ctx.queue_owner = getuid();
	calls = 0;
	make_request(in, "incoming");
	deliver_serve_rcpts(&ctx,
			    &(const struct deliver_serve_ops){
				.relay = "fake",
				.content = true,
				.rcpt = fake_rcpt },
			    in, out);
	assert_int_equal(deliver_reply_decode(out, st, 2, why), 0);
	assert_int_equal(calls, 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(st[i].action, DELIVER_DEFERRED);
		assert_string_equal(st[i].dsn, "4.3.0");
		assert_string_equal(st[i].reply,
				    "bad queue name in delivery request");
	}
	/* The right queue, but no such file. */
	make_request(in, "active");
	deliver_serve_rcpts(&ctx,
			    &(const struct deliver_serve_ops){
				.relay = "fake",
				.content = true,
				.rcpt = fake_rcpt },
			    in, out);
	assert_int_equal(deliver_reply_decode(out, st, 2, why), 0);
	assert_int_equal(calls, 0);
	assert_non_null(strstr(st[1].reply,
			       "open queue file "
			       "/nonexistent/active/0000000000z1"));
	cfg_free(ctx.cfg);
	attr_free(in);
	attr_free(out);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_deliver_serve_bad_request_fails_the_whole_request),
		cmocka_unit_test(
		    test_deliver_serve_calls_the_agent_per_recipient),
		cmocka_unit_test(
		    test_deliver_serve_unreadable_content_defers_everybody),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
