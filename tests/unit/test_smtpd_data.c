/*
 * Unit tests for smtpd_data: the dot/bare-newline filter on its own (with
 * every possible split of the input) and DATA/BDAT through a session.
 *
 * SPDX-License-Identifier: ISC
 */
#include "tests/unit/harness.h"
#include "tests/unit/smtpd_fake.h"

/*
 * Filter `in` fed in pieces of `piece` bytes (0 = whole); returns the
 * output, sets *consumed and *end.
 */
static VSTR *
filter_in_pieces(const char *in, size_t len, bool dots, size_t piece,
		 size_t *consumed, bool *end, bool *bare)
{
	struct smtpd_filter f;
	VSTR		   *out = vstr_alloc(100);
	size_t		    pos = 0;

	smtpd_filter_init(&f, dots);
	*end = false;
	while (pos < len && !*end) {
		size_t n = piece && len - pos > piece ? piece : len - pos;

		pos += smtpd_filter(&f, in + pos, n, out, end);
	}
	*consumed = pos;
	*bare = f.bare_seen;
	return out;
}

/* The same result for every split size. */
static void
expect_filter(const char *in, bool dots, const char *want, bool want_end,
	      size_t want_consumed, bool want_bare)
{
	size_t len = strlen(in);

	for (size_t piece = 0; piece <= len; piece++) {
		size_t consumed;
		bool   end;
		bool   bare;
		VSTR  *out = filter_in_pieces(in, len, dots, piece, &consumed,
					      &end, &bare);

		if (strcmp(VSTR_STR(out), want) != 0 || end != want_end
		    || consumed != want_consumed || bare != want_bare)
			fail_msg("input \"%s\" piece %zu: got \"%s\" end %d "
				 "consumed %zu bare %d",
				 in, piece, VSTR_STR(out), end, consumed, bare);
		vstr_free(out);
	}
}

static void
test_smtpd_data_end_of_data_only_after_crlf(void **state)
{
	(void)state;
	expect_filter("a\r\n.\r\nMAIL", true, "a\r\n", true, 6, false);
	expect_filter(".\r\n", true, "", true, 3, false);
	expect_filter("a\r\n.\r\n", true, "a\r\n", true, 6, false);
}

static void
test_smtpd_data_dot_unstuffing(void **state)
{
	(void)state;
	expect_filter("..x\r\n...\r\nx.y\r\n.\r\n", true, ".x\r\n..\r\nx.y\r\n",
		      true, 18, false);
	expect_filter(".x\r\n.\r\n", true, "x\r\n", true, 7, false);
}

static void
test_smtpd_data_smuggling_sequences_are_content(void **state)
{
	(void)state;
	/* \n.\n */
	expect_filter("a\n.\nMAIL\r\n", true, "a\r\n\r\nMAIL\r\n", false, 10,
		      true);
	/* \r.\r */
	expect_filter("a\r.\rMAIL\r\n", true, "a\r\n\r\nMAIL\r\n", false, 10,
		      true);
	/* \r\n.\n */
	expect_filter("a\r\n.\nMAIL\r\n", true, "a\r\n\r\nMAIL\r\n", false, 11,
		      true);
	/* \n.\r\n: the line before the dot did not end in CRLF */
	expect_filter("a\n.\r\nMAIL\r\n", true, "a\r\n\r\nMAIL\r\n", false, 11,
		      true);
	/* \r.\r\n */
	expect_filter("a\r.\r\nb\r\n", true, "a\r\n\r\nb\r\n", false, 8, true);
	/* ... but a real end afterwards still ends */
	expect_filter("a\n.\r\n.\r\nX", true, "a\r\n\r\n", true, 8, true);
}

static void
test_smtpd_data_bare_newlines_become_crlf(void **state)
{
	(void)state;
	expect_filter("a\nb\rc\r\r\nd\r\n.\r\n", true,
		      "a\r\nb\r\nc\r\n\r\nd\r\n", true, 14, true);
	expect_filter("a\r\nb\r\n", false, "a\r\nb\r\n", false, 6, false);
	expect_filter("a\nb", false, "a\r\nb", false, 3, true);
	/* BDAT: no dot handling at all */
	expect_filter(".\r\n..\r\n", false, ".\r\n..\r\n", false, 7, false);
}

#define RUN(f, par, text) \
	do { \
		fake_init((f), (text), sizeof(text) - 1); \
		fake_session((f), (par), "127.0.0.1"); \
	} while (0)

static void
test_smtpd_data_bare_newline_reject(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	static const char   in[] =
	    "EHLO c\r\nMAIL FROM:<a@c.test>\r\n"
	    "RCPT TO:<u@mx.test>\r\nDATA\r\na\nb\r\n.\r\nNOOP\r\n";

	(void)state;
	fake_params(&par);
	par.bare_reject = true;
	RUN(&f, &par, in);
	assert_non_null(
	    strstr(VSTR_STR(f.out),
		   "<CR><LF>\r\n550 5.5.2 Error: "
		   "bare <CR> or <LF> received\r\n250 2.0.0 Ok\r\n"));
	assert_int_equal(f.queued, 0);
	assert_int_equal(f.aborts, 1);
	fake_done(&f);

	/* An excluded client is normalised. */
	struct smtpd_hooks hooks = fake_hooks;
	struct smtpd_peer  peer = { .name = "c",
				    .addr = "127.0.0.1",
				    .port = "1",
				    .bare_normalize = true };
	SMTPD_STATE	  *st;

	fake_init(&f, in, sizeof(in) - 1);
	st = smtpd_state_create(&par, &hooks, &f, &f, &peer);
	smtpd_session(st);
	smtpd_state_free(st);
	assert_int_equal(f.queued, 1);
	assert_string_equal(VSTR_STR(f.content), "a\r\nb\r\n");
	fake_done(&f);
}

static void
test_smtpd_data_large_message_streams(void **state)
{
	struct smtpd_params par;
	struct fake	    f;
	size_t		    body = 1000000;
	char		   *in = mymalloc(body + 200);
	size_t		    len;

	(void)state;
	fake_params(&par);
	len = (size_t)snprintf(in, 200,
			       "EHLO c\r\nMAIL FROM:<a@c.test>\r\n"
			       "RCPT TO:<u@mx.test>\r\nDATA\r\n");
	for (size_t i = 0; i < body; i += 100) {
		memset(in + len, 'x', 98);
		memcpy(in + len + 98, "\r\n", 2);
		len += 100;
	}
	memcpy(in + len, ".\r\nQUIT\r\n", 9);
	len += 9;
	fake_init(&f, in, len);
	f.piece = 7777;
	fake_session(&f, &par, "127.0.0.1");
	assert_int_equal(f.queued, 1);
	assert_int_equal(VSTR_LEN(f.content), body);
	assert_non_null(strstr(VSTR_STR(f.out), "queued as FAKE1\r\n221 "));
	fake_done(&f);
	myfree(in);
}

static void
test_smtpd_data_bdat_last_line_gets_crlf(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	RUN(&f, &par,
	    "EHLO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<u@mx.test>\r\n"
	    "BDAT 3 LAST\r\nabc");
	assert_string_equal(VSTR_STR(f.content), "abc\r\n");
	fake_done(&f);
	RUN(&f, &par,
	    "EHLO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<u@mx.test>\r\n"
	    "BDAT 2\r\na\rBDAT 1 LAST\r\n\nQUIT\r\n");
	assert_string_equal(VSTR_STR(f.content), "a\r\n");
	assert_int_equal(f.queued, 1);
	fake_done(&f);
}

static void
test_smtpd_data_bdat_failed_chunk_refuses_the_rest(void **state)
{
	struct smtpd_params par;
	struct fake	    f;

	(void)state;
	fake_params(&par);
	par.size_limit = 5;
	RUN(&f, &par,
	    "EHLO c\r\nMAIL FROM:<a@c.test>\r\nRCPT TO:<u@mx.test>\r\n"
	    "BDAT 8\r\n01234567BDAT 2 LAST\r\nabRSET\r\n");
	assert_non_null(strstr(VSTR_STR(f.out),
			       "552 5.3.4 Message size "
			       "exceeds fixed limit\r\n503 5.5.1 Error: a "
			       "previous BDAT chunk failed; send RSET\r\n"
			       "250 2.0.0 Ok\r\n"));
	assert_int_equal(f.queued, 0);
	fake_done(&f);
}

static void
quiet(enum msg_level level, const char *text)
{
	(void)level;
	(void)text;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smtpd_data_end_of_data_only_after_crlf),
		cmocka_unit_test(test_smtpd_data_dot_unstuffing),
		cmocka_unit_test(
		    test_smtpd_data_smuggling_sequences_are_content),
		cmocka_unit_test(test_smtpd_data_bare_newlines_become_crlf),
		cmocka_unit_test(test_smtpd_data_bare_newline_reject),
		cmocka_unit_test(test_smtpd_data_large_message_streams),
		cmocka_unit_test(test_smtpd_data_bdat_last_line_gets_crlf),
		cmocka_unit_test(
		    test_smtpd_data_bdat_failed_chunk_refuses_the_rest),
	};

	msg_output_reset();
	msg_output_add(quiet);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
