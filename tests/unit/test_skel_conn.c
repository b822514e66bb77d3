/*
 * Unit tests for util/skel_conn: a socketpair stands in for a client of
 * a multiplexing daemon and a real EVENTS loop drives the server side.
 * Covered: pipelined requests answered in order, a reply left for later
 * (the next frame waits for it, then is served), the close hook at end
 * of file, also while a reply is pending, serve asking to close, a
 * malformed and an oversized frame (with their warnings), the log
 * prefix, and the user pointer.
 *
 * The skeleton is the real one (skel_multi_disconnect) with a private
 * struct that counts connected clients.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/attr.h"
#include "util/events.h"
#include "util/ipc.h"
#include "util/skel_conn.h"
#include "util/skel_priv.h"
#include "util/vstr.h"

struct fixture {
	struct skel_ctx	 ctx;
	struct skel_priv priv;
	IPC_STREAM	*client; /* the client's end */
	SKEL_CONN	*conn;
	SKEL_CONN	*held; /* a request left for later */
	int		 served;
	int		 closed;
	bool		 waiting_at_close;
	void		*user_at_close;
	long long	 last_n;
	bool		 hold_first; /* leave the first request for later */
	int		 fail_at;    /* serve returns -1 on this request */
};

static struct fixture *fx;
static char	       warnings[2048];

static void
capture(enum msg_level level, const char *text)
{
	if (level != MSG_WARN)
		return;
	size_t len = strlen(warnings);

	snprintf(warnings + len, sizeof(warnings) - len, "%s\n", text);
}

static int
echo_serve(SKEL_CONN *conn, const ATTR *req)
{
	ATTR	 *rep;
	long long n = -1;
	int	  ret;

	assert_ptr_equal(skel_conn_ctx(conn), &fx->ctx);
	assert_int_equal(attr_get_int(req, "n", &n), 0);
	fx->last_n = n;
	if (++fx->served == fx->fail_at)
		return -1;
	if (fx->hold_first && fx->served == 1) {
		skel_conn_later(conn);
		assert_true(skel_conn_waiting(conn));
		fx->held = conn;
		return 0;
	}
	rep = attr_alloc();
	attr_put_int(rep, "n", n * 10);
	ret = skel_conn_reply(conn, rep);
	attr_free(rep);
	return ret;
}

static void
echo_close(SKEL_CONN *conn)
{
	fx->closed++;
	fx->waiting_at_close = skel_conn_waiting(conn);
	fx->user_at_close = skel_conn_user(conn);
}

static const struct skel_conn_ops echo_ops = {
	.serve = echo_serve,
	.close = echo_close,
	.frame_max = 256,
	.reply_timeout_ms = 2000,
	.prefix = "T: ",
};

static const struct skel_conn_ops terse_ops = {
	.serve = echo_serve,
	.close = echo_close,
	.frame_max = 256,
	.reply_timeout_ms = 2000,
	.terse = true,
};

static int
setup(void **state)
{
	int sv[2];

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	fx->ctx.events = events_alloc();
	fx->ctx.priv = &fx->priv;
	/* Draining: the last disconnect stops the loop, reports nothing. */
	fx->priv.clients = 1;
	fx->priv.draining = true;
	fx->priv.status_fd = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fx->client = ipc_stream_open(sv[1]);
	warnings[0] = 0;
	msg_output_add(capture);
	*state = (void *)(long)sv[0];
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	msg_output_reset();
	msg_stderr_enable(true);
	if (fx->client)
		fx->client = ipc_stream_close(fx->client);
	fx->ctx.events = events_free(fx->ctx.events);
	free(fx);
	fx = NULL;
	return 0;
}

static void
open_conn(void **state, const struct skel_conn_ops *ops)
{
	fx->conn = skel_conn_open(&fx->ctx, (int)(long)*state, ops,
				  &fx->served);
	assert_non_null(fx->conn);
	assert_ptr_equal(skel_conn_user(fx->conn), &fx->served);
}

/* Run the loop until *counter reaches want or 5 s pass. */
static void
run_until(const int *counter, int want)
{
	long long end = events_now_ms() + 5000;

	while (*counter < want && events_now_ms() < end)
		assert_true(events_run_once(fx->ctx.events, 100) >= 0);
	assert_int_equal(*counter, want);
}

static void
send_n(long long n)
{
	ATTR *a = attr_alloc();

	attr_put_int(a, "n", n);
	assert_int_equal(ipc_stream_send(fx->client, a, 2000), 0);
	attr_free(a);
}

static long long
recv_n(void)
{
	ATTR	 *a = attr_alloc();
	VSTR	 *why = vstr_alloc(32);
	long long n = -1;

	assert_int_equal(ipc_stream_recv(fx->client, a, 2000, why), 0);
	assert_int_equal(attr_get_int(a, "n", &n), 0);
	attr_free(a);
	vstr_free(why);
	return n;
}

static void
client_close(void)
{
	fx->client = ipc_stream_close(fx->client);
}

static void
test_skel_conn_pipelined_then_eof(void **state)
{
	open_conn(state, &echo_ops);
	send_n(1);
	send_n(2);
	send_n(3);
	run_until(&fx->served, 3);
	assert_int_equal(recv_n(), 10);
	assert_int_equal(recv_n(), 20);
	assert_int_equal(recv_n(), 30);
	assert_int_equal(fx->closed, 0);
	client_close();
	run_until(&fx->closed, 1);
	assert_false(fx->waiting_at_close);
	assert_ptr_equal(fx->user_at_close, &fx->served);
	assert_int_equal(fx->priv.clients, 0); /* given back */
	assert_string_equal(warnings, "");     /* EOF is quiet */
}

static void
test_skel_conn_reply_later(void **state)
{
	int rounds = 0;

	fx->hold_first = true;
	open_conn(state, &echo_ops);
	send_n(4);
	send_n(5);
	run_until(&fx->served, 1);
	/* The second request waits for the first reply. */
	while (rounds++ < 5)
		assert_true(events_run_once(fx->ctx.events, 20) >= 0);
	assert_int_equal(fx->served, 1);
	assert_true(skel_conn_waiting(fx->held));
	{
		ATTR *rep = attr_alloc();

		attr_put_int(rep, "n", 44);
		assert_int_equal(skel_conn_reply(fx->held, rep), 0);
		attr_free(rep);
	}
	assert_false(skel_conn_waiting(fx->held));
	/* Served from what was buffered: no new bytes arrive. */
	run_until(&fx->served, 2);
	assert_int_equal(fx->last_n, 5);
	assert_int_equal(recv_n(), 44);
	assert_int_equal(recv_n(), 50);
	client_close();
	run_until(&fx->closed, 1);
	assert_false(fx->waiting_at_close);
}

static void
test_skel_conn_close_while_waiting(void **state)
{
	fx->hold_first = true;
	open_conn(state, &echo_ops);
	send_n(6);
	run_until(&fx->served, 1);
	client_close();
	run_until(&fx->closed, 1);
	/* The hook saw a pending request: the daemon forgets it. */
	assert_true(fx->waiting_at_close);
	assert_int_equal(fx->priv.clients, 0);
}

static void
test_skel_conn_serve_closes(void **state)
{
	fx->fail_at = 2;
	open_conn(state, &echo_ops);
	send_n(7);
	send_n(8);
	send_n(9);
	run_until(&fx->closed, 1);
	assert_int_equal(fx->served, 2); /* the third is never served */
	assert_int_equal(recv_n(), 70);
	assert_int_equal(fx->priv.clients, 0);
	assert_string_equal(warnings, "");
}

static void
test_skel_conn_malformed(void **state)
{
	open_conn(state, &echo_ops);
	send_n(1);
	assert_int_equal(write(ipc_stream_fd(fx->client), "x:bad,", 6), 6);
	run_until(&fx->closed, 1);
	assert_int_equal(fx->served, 1);
	assert_non_null(strstr(warnings, "T: malformed request frame: "));
	assert_non_null(strstr(warnings, "; disconnecting\n"));
}

static void
test_skel_conn_oversized_terse(void **state)
{
	ATTR *a = attr_alloc();
	char  big[400];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	open_conn(state, &terse_ops);
	attr_put_str(a, "big", big);
	assert_int_equal(ipc_stream_send(fx->client, a, 2000), 0);
	attr_free(a);
	run_until(&fx->closed, 1);
	assert_int_equal(fx->served, 0);
	assert_true(strncmp(warnings, "malformed request frame: ", 25) == 0);
	assert_null(strstr(warnings, "disconnecting"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_skel_conn_pipelined_then_eof,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_skel_conn_reply_later,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_skel_conn_close_while_waiting,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_skel_conn_serve_closes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_skel_conn_malformed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_skel_conn_oversized_terse,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
