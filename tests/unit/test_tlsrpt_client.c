/*
 * Unit tests for util/tlsrpt_client: note encoding and the decoder's
 * checks, and a note written to a real Unix socket (the frame arrives,
 * the writer does not wait for an answer; no listener: -1 in time).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/attr.h"
#include "util/ipc.h"
#include "util/tlsrpt_client.h"
#include "util/vstr.h"

static const struct tlsrpt_note note = {
	.domain = "remote.test",
	.policy_type = "tlsa",
	.policy_text = "3 1 1 abcd\n2 0 1 ef01",
	.result = "certificate-not-trusted",
	.detail = "No matching DANE TLSA records",
	.mx_host = "mx1.remote.test",
	.sending_ip = "127.0.0.1",
	.receiving_ip = "127.0.0.51",
};

static void
test_tlsrpt_note_round_trip(void **state)
{
	ATTR		  *a = attr_alloc();
	VSTR		  *why = vstr_alloc(32);
	struct tlsrpt_note n;

	(void)state;
	tlsrpt_note_encode(&note, a);
	assert_int_equal(tlsrpt_note_decode(a, &n, why), 0);
	assert_string_equal(n.domain, note.domain);
	assert_string_equal(n.policy_type, note.policy_type);
	assert_string_equal(n.policy_text, note.policy_text);
	assert_string_equal(n.result, note.result);
	assert_string_equal(n.detail, note.detail);
	assert_string_equal(n.mx_host, note.mx_host);
	assert_string_equal(n.sending_ip, note.sending_ip);
	assert_string_equal(n.receiving_ip, note.receiving_ip);
	/* Success, no policy text: the optional attributes are absent. */
	tlsrpt_note_encode(&(struct tlsrpt_note){ .domain = "d.test",
						  .policy_type =
						      "no-policy-found",
						  .mx_host = "mx.d.test" },
			   a);
	assert_int_equal(tlsrpt_note_decode(a, &n, why), 0);
	assert_null(n.result);
	assert_null(n.policy_text);
	attr_free(a);
	vstr_free(why);
}

static void
decode_bad(const char *name, const char *value, const char *want)
{
	ATTR		  *a = attr_alloc();
	ATTR		  *b = attr_alloc();
	VSTR		  *why = vstr_alloc(32);
	struct tlsrpt_note n;

	tlsrpt_note_encode(&note, a);
	/* Copy with name replaced (or dropped when value is NULL). */
	for (size_t i = 0; i < attr_count(a); i++) {
		size_t	    len;
		const char *v = attr_value_at(a, i, &len);

		if (strcmp(attr_name_at(a, i), name) != 0)
			attr_put_data(b, attr_name_at(a, i), v, len);
	}
	if (value)
		attr_put_str(b, name, value);
	assert_int_equal(tlsrpt_note_decode(b, &n, why), -1);
	if (strstr(VSTR_STR(why), want) == NULL)
		fail_msg("%s=%s: \"%s\" lacks \"%s\"", name,
			 value ? value : "(none)", VSTR_STR(why), want);
	attr_free(a);
	attr_free(b);
	vstr_free(why);
}

static void
test_tlsrpt_note_decode_refusals(void **state)
{
	(void)state;
	decode_bad("request", "show", "not a note");
	decode_bad("domain", NULL, "domain");
	decode_bad("domain", "", "domain");
	decode_bad("domain", "a b", "domain");
	decode_bad("domain", "a!b", "domain");
	decode_bad("policy_type", "dane", "policy_type");
	decode_bad("policy_type", NULL, "policy_type");
	decode_bad("result", "ok", "result");
	decode_bad("policy_text", "a\rb", "policy_text");
	decode_bad("mx_host", NULL, "mx_host");
	decode_bad("mx_host", "a\nb", "mx_host");
	decode_bad("detail", "a\nb", "detail");
}

static void
test_tlsrpt_client_note_over_a_socket(void **state)
{
	char		   dir[] = "/tmp/test_tlsrpt_client.XXXXXX";
	VSTR		  *path = vstr_alloc(64);
	VSTR		  *why = vstr_alloc(64);
	ATTR		  *got = attr_alloc();
	struct tlsrpt_note n;
	int		   lfd, cfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	vstr_sprintf(path, "%s/tlsrpt", dir);
	/* Nobody listens: refused at once. */
	assert_int_equal(tlsrpt_client_note(VSTR_STR(path), &note, 200, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "connect to"));
	lfd = ipc_listen_unix(VSTR_STR(path), 0600, 8);
	assert_true(lfd >= 0);
	/* The note is written before anyone accepts: fire and forget. */
	assert_int_equal(tlsrpt_client_note(VSTR_STR(path), &note, 200, why),
			 0);
	cfd = ipc_accept(lfd);
	assert_true(cfd >= 0);
	assert_int_equal(ipc_recv(cfd, got, TLSRPT_NOTE_MAX, 1000, why), 0);
	assert_int_equal(tlsrpt_note_decode(got, &n, why), 0);
	assert_string_equal(n.result, "certificate-not-trusted");
	close(cfd);
	close(lfd);
	attr_free(got);
	assert_int_equal(harness_rmtree(dir), 0);
	vstr_free(path);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlsrpt_note_round_trip),
		cmocka_unit_test(test_tlsrpt_note_decode_refusals),
		cmocka_unit_test(test_tlsrpt_client_note_over_a_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
