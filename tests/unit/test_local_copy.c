/*
 * test_local_copy - how local formats a message (mbox "From " line,
 * Return-Path, Delivered-To, >From quoting), finds Delivered-To loops,
 * splits user+extension, and combines member results.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>

#include "tests/unit/harness.h"
#include "local/local.h"

static struct deliver_request req;

static void
msg_init(struct local_msg *m, const char *content, const char *sender)
{
	memset(m, 0, sizeof(*m));
	m->req = &req;
	m->sender = sender;
	m->content = vstr_alloc(64);
	vstr_strcpy(m->content, content);
}

static void
test_local_copy_mbox_quotes_from_and_adds_envelope_lines(void **state)
{
	struct local_msg m;
	VSTR		*out = vstr_alloc(64);
	const char	*nl;

	(void)state;
	msg_init(&m, "Subject: x\n\nFrom here\nFromage\n From x", "a@b");
	local_copy_format(out, &m, "u@h", LOCAL_COPY_MBOX);
	assert_true(strncmp(VSTR_STR(out), "From a@b  ", 10) == 0);
	nl = strchr(VSTR_STR(out), '\n');
	assert_string_equal(nl + 1,
			    "Return-Path: <a@b>\nDelivered-To: u@h\n"
			    "Subject: x\n\n>From here\nFromage\n From x\n\n");
	vstr_free(out);
	vstr_free(m.content);
}

static void
test_local_copy_maildir_has_no_from_line_or_quoting(void **state)
{
	struct local_msg m;
	VSTR		*out = vstr_alloc(64);

	(void)state;
	msg_init(&m, "Subject: x\n\nFrom here\n", "");
	local_copy_format(out, &m, "u@h", 0);
	assert_string_equal(VSTR_STR(out),
			    "Return-Path: <>\nDelivered-To: u@h\n"
			    "Subject: x\n\nFrom here\n");
	local_copy_format(out, &m, NULL, LOCAL_COPY_FROM);
	assert_true(strncmp(VSTR_STR(out), "From MAILER-DAEMON  ", 20) == 0);
	vstr_free(out);
	vstr_free(m.content);
}

static void
test_local_copy_finds_delivered_to_only_in_header(void **state)
{
	VSTR *c = vstr_alloc(64);

	(void)state;
	vstr_strcpy(c, "Received: x\nDelivered-To:  U@H \nSubject: s\n\n"
		       "Delivered-To: body@h\n");
	assert_true(local_copy_has_delivered_to(c, "u@h"));
	assert_false(local_copy_has_delivered_to(c, "body@h"));
	assert_false(local_copy_has_delivered_to(c, "u@hx"));
	vstr_free(c);
}

static void
test_local_rcpt_split_user_extension_domain(void **state)
{
	LOCAL_STATE	  st = { .delims = "+-" };
	struct local_rcpt rc;

	(void)state;
	local_rcpt_split(&st, "Joe+Lists-x@Example.COM", &rc);
	assert_string_equal(VSTR_STR(rc.local), "joe+lists-x");
	assert_string_equal(VSTR_STR(rc.user), "joe");
	assert_string_equal(VSTR_STR(rc.ext), "lists-x");
	assert_string_equal(rc.delim, "+");
	assert_string_equal(VSTR_STR(rc.domain), "Example.COM");
	local_rcpt_free(&rc);
	/* A leading delimiter is part of the name, not an extension. */
	local_rcpt_split(&st, "+x@h", &rc);
	assert_string_equal(VSTR_STR(rc.user), "+x");
	assert_string_equal(VSTR_STR(rc.ext), "");
	local_rcpt_free(&rc);
}

static void
test_local_rcpt_split_owner_request_special(void **state)
{
	LOCAL_STATE	  st = { .delims = "-", .owner_request = true };
	struct local_rcpt rc;

	(void)state;
	local_rcpt_split(&st, "owner-list@h", &rc);
	assert_string_equal(VSTR_STR(rc.user), "owner-list");
	assert_string_equal(VSTR_STR(rc.ext), "");
	local_rcpt_free(&rc);
	local_rcpt_split(&st, "list-request@h", &rc);
	assert_string_equal(VSTR_STR(rc.user), "list-request");
	local_rcpt_free(&rc);
	st.owner_request = false;
	local_rcpt_split(&st, "list-request@h", &rc);
	assert_string_equal(VSTR_STR(rc.user), "list");
	assert_string_equal(VSTR_STR(rc.ext), "request");
	local_rcpt_free(&rc);
}

static void
test_local_expand_vars_filters_values_not_the_template(void **state)
{
	LOCAL_STATE	  st = { .delims = "+" };
	struct local_user u = { .name = "joe", .home = "/home/joe" };
	struct local_rcpt rc;
	VSTR		 *out = vstr_alloc(16);

	(void)state;
	local_rcpt_split(&st, "joe+a;b`c@h", &rc);
	local_expand_vars("$home/.forward${recipient_delimiter}${extension}",
			  out, &rc, &u, "abcdefghijklmnopqrstuvwxyz/.+");
	assert_string_equal(VSTR_STR(out), "/home/joe/.forward+a_b_c");
	local_rcpt_free(&rc);
	vstr_free(out);
}

static void
test_local_result_deferred_beats_bounced_beats_sent(void **state)
{
	struct local_result r;

	(void)state;
	local_result_init(&r);
	local_result_set(&r, DELIVER_BOUNCED, "5.1.1", "gone");
	local_result_set(&r, DELIVER_SENT, "2.0.0", "ok");
	assert_int_equal(r.action, DELIVER_BOUNCED);
	assert_string_equal(VSTR_STR(r.text), "gone");
	local_result_set(&r, DELIVER_DEFERRED, "4.3.0", "later %d", 75);
	local_result_set(&r, DELIVER_BOUNCED, "5.0.0", "no");
	assert_int_equal(r.action, DELIVER_DEFERRED);
	assert_string_equal(r.dsn, "4.3.0");
	assert_string_equal(VSTR_STR(r.text), "later 75");
	local_result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_local_copy_mbox_quotes_from_and_adds_envelope_lines),
		cmocka_unit_test(
		    test_local_copy_maildir_has_no_from_line_or_quoting),
		cmocka_unit_test(
		    test_local_copy_finds_delivered_to_only_in_header),
		cmocka_unit_test(test_local_rcpt_split_user_extension_domain),
		cmocka_unit_test(test_local_rcpt_split_owner_request_special),
		cmocka_unit_test(
		    test_local_expand_vars_filters_values_not_the_template),
		cmocka_unit_test(
		    test_local_result_deferred_beats_bounced_beats_sent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
