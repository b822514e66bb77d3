/*
 * Unit tests for util/maildrop: envelope round trips, what the writer
 * refuses, and every way a maildrop envelope can be malformed.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/addr.h"
#include "util/maildrop.h"
#include "util/rec.h"
#include "util/vstr.h"

static int
test_fd(void)
{
	int fd = memfd_create("maildrop", 0);

	assert_true(fd >= 0);
	return fd;
}

static MAILDROP_ENV *
sample_env(void)
{
	MAILDROP_ENV *env = maildrop_env_alloc();

	env->uid = 1000;
	env->arrival_sec = 1700000000;
	env->arrival_usec = 42;
	vstr_strcpy(env->sender, "alice");
	vstr_strcpy(env->fullname, "Alice \xc3\x89xample");
	env->extract = true;
	env->envid_given = true;
	vstr_strcpy(env->envid, "id-1");
	env->ret = ADDR_RET_HDRS;
	maildrop_env_add_rcpt(env, "bob@example.com", 0);
	maildrop_env_add_rcpt(env, "carol",
			      ADDR_NOTIFY_SUCCESS | ADDR_NOTIFY_DELAY);
	return env;
}

/* Write env plus content into a fresh memfd; the fd. */
static int
write_file(const MAILDROP_ENV *env, const char *content)
{
	int	    fd = test_fd();
	REC_WRITER *w = rec_writer_create(fd);

	assert_int_equal(maildrop_put_envelope(w, env), 0);
	assert_int_equal(rec_put_content(w, content, strlen(content)), 0);
	assert_int_equal(rec_writer_finish(w), 0);
	rec_writer_free(w);
	return fd;
}

static void
test_maildrop_round_trip(void **state)
{
	MAILDROP_ENV *env = sample_env();
	MAILDROP_ENV *got = maildrop_env_alloc();
	VSTR	     *why = vstr_alloc(10);
	VSTR	     *data = vstr_alloc(10);
	int	      fd = write_file(env, "Subject: x\r\n\r\nhi\r\n");
	REC_READER   *r = rec_reader_create(fd, 0);
	int	      type;

	(void)state;
	assert_int_equal(rec_check_file(fd, why), 0);
	assert_int_equal(maildrop_get_envelope(r, got, why), 0);
	assert_int_equal(got->uid, 1000);
	assert_int_equal(got->arrival_sec, 1700000000);
	assert_int_equal(got->arrival_usec, 42);
	assert_string_equal(VSTR_STR(got->sender), "alice");
	assert_string_equal(VSTR_STR(got->fullname), "Alice \xc3\x89xample");
	assert_true(got->extract);
	assert_true(got->envid_given);
	assert_string_equal(VSTR_STR(got->envid), "id-1");
	assert_int_equal(got->ret, ADDR_RET_HDRS);
	assert_int_equal(got->nrcpt, 2);
	assert_string_equal(got->rcpt[0], "bob@example.com");
	assert_int_equal(got->notify[0], 0);
	assert_string_equal(got->rcpt[1], "carol");
	assert_int_equal(got->notify[1],
			 ADDR_NOTIFY_SUCCESS | ADDR_NOTIFY_DELAY);
	/* The reader stops after M: content comes next. */
	assert_int_equal(rec_get(r, &type, data, 0), 1);
	assert_int_equal(type, REC_TYPE_CONT);
	assert_string_equal(VSTR_STR(data), "Subject: x\r\n\r\nhi\r\n");
	rec_reader_free(r);
	close(fd);
	maildrop_env_free(env);
	maildrop_env_free(got);
	vstr_free(why);
	vstr_free(data);
}

static void
test_maildrop_minimal_envelope(void **state)
{
	MAILDROP_ENV *env = maildrop_env_alloc();
	MAILDROP_ENV *got = maildrop_env_alloc();
	VSTR	     *why = vstr_alloc(10);
	int	      fd;
	REC_READER   *r;

	(void)state;
	env->uid = 0;
	fd = write_file(env, "");
	r = rec_reader_create(fd, 0);
	assert_int_equal(maildrop_get_envelope(r, got, why), 0);
	assert_int_equal(got->uid, 0);
	assert_int_equal(VSTR_LEN(got->sender), 0);
	assert_int_equal(VSTR_LEN(got->fullname), 0);
	assert_false(got->extract);
	assert_false(got->envid_given);
	assert_int_equal(got->nrcpt, 0);
	rec_reader_free(r);
	close(fd);
	maildrop_env_free(env);
	maildrop_env_free(got);
	vstr_free(why);
}

static void
test_maildrop_writer_refuses_control_characters(void **state)
{
	static const char *const bad[] = { "a\r\nRCPT TO:<x>", "tab\there",
					   "(no uid)", "del\x7f" };
	int			 fd = test_fd();

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		MAILDROP_ENV *env = sample_env();
		REC_WRITER   *w = rec_writer_create(fd);

		if (i == 2)
			env->uid = -1; /* no uid: refused too */
		else if (i == 1)
			vstr_strcpy(env->fullname, bad[i]);
		else
			maildrop_env_add_rcpt(env, bad[i], 0);
		errno = 0;
		assert_int_equal(maildrop_put_envelope(w, env), -1);
		assert_int_equal(errno, EINVAL);
		rec_writer_free(w);
		maildrop_env_free(env);
	}
	close(fd);
	assert_false(maildrop_text_ok("x", MAILDROP_TEXT_MAX + 1));
	assert_true(maildrop_text_ok("\xc3\xa9t\xc3\xa9", 5));
}

/* Hand-made record (payload < 128 bytes). */
static void
put_raw(int fd, int type, const char *data)
{
	unsigned char hdr[2] = { (unsigned char)type,
				 (unsigned char)strlen(data) };

	assert_int_equal(write(fd, hdr, 2), 2);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
}

static const char zero_size[] =
    "000000000000000 000000000000000 000000000000000 000000000000000";

static void
expect_bad(const char *const *recs, const char *why_text)
{
	int	      fd = test_fd();
	MAILDROP_ENV *env = maildrop_env_alloc();
	VSTR	     *why = vstr_alloc(10);
	REC_READER   *r;

	put_raw(fd, 'S', zero_size);
	for (size_t i = 0; recs[i]; i++)
		put_raw(fd, recs[i][0], recs[i] + 1);
	r = rec_reader_create(fd, 0);
	errno = 0;
	assert_int_equal(maildrop_get_envelope(r, env, why), -1);
	assert_int_equal(errno, EBADMSG);
	if (strstr(VSTR_STR(why), why_text) == NULL)
		fail_msg("why \"%s\" lacks \"%s\"", VSTR_STR(why), why_text);
	rec_reader_free(r);
	close(fd);
	maildrop_env_free(env);
	vstr_free(why);
}

static void
test_maildrop_reader_rejects_malformed_envelopes(void **state)
{
	(void)state;
	expect_bad((const char *[]){ "T1 0", "Fa", "M", NULL }, "no uid");
	expect_bad((const char *[]){ "T1 0", "Fa", "Auid=1", "Auid=1", "M",
				     NULL },
		   "duplicate uid");
	expect_bad((const char *[]){ "T1 0", "Fa", "Auid=-1", "M", NULL },
		   "malformed uid");
	expect_bad((const char *[]){ "T1 0", "Fa", "Auid=1x", "M", NULL },
		   "malformed uid");
	expect_bad((const char *[]){ "T1 0", "Fa", "Auid=1", "Aextract=no", "M",
				     NULL },
		   "malformed extract");
	expect_bad((const char *[]){ "T1 0", "Fa", "Auid=1", "Afullname=", "M",
				     NULL },
		   "malformed fullname");
	expect_bad((const char *[]){ "T1 0", "Fa", "Auid=1", "Aclient=x", "M",
				     NULL },
		   "unknown attribute");
	expect_bad((const char *[]){ "T1 0", "Fa\tb", "Auid=1", "M", NULL },
		   "control character");
	expect_bad((const char *[]){ "T1 0", "Fa", "Auid=1", "Rx\ny", "M",
				     NULL },
		   "control character");
	expect_bad((const char *[]){ "T1 0", "Fa", "Auid=1", "Ox", "Rx", "M",
				     NULL },
		   "not allowed in a maildrop");
	expect_bad((const char *[]){ "T1 0", "Fa", "Auid=1", "Dx", "M", NULL },
		   "not allowed in a maildrop");
	expect_bad((const char *[]){ "T1 0", "Fa", "Auid=1", NULL },
		   "file ends");
	expect_bad((const char *[]){ "Fa", "Auid=1", "M", NULL },
		   "content before arrival time");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maildrop_round_trip),
		cmocka_unit_test(test_maildrop_minimal_envelope),
		cmocka_unit_test(
		    test_maildrop_writer_refuses_control_characters),
		cmocka_unit_test(
		    test_maildrop_reader_rejects_malformed_envelopes),
	};

	return cmocka_run_group_tests_name("maildrop", tests, NULL, NULL);
}
