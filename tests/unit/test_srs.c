/*
 * test_srs - Sender Rewriting Scheme: forward and reverse against
 * addresses that postsrsd 1.10 produced with the same secret and clock
 * (so the two agree byte for byte), SRS0 -> SRS1, case folding, expiry,
 * secret rotation, malformed addresses, the secret file and the
 * exclusion list.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/srs.h"

/* postsrsd -s FILE -d srs.test with "tops3cr3t" in FILE, at this time. */
#define NOW    ((time_t)1796681547)
#define SECRET "tops3cr3t"
#define DAY    86400

static SRS *
srs_new(void)
{
	SRS *srs = srs_create("srs.test", 4, 21LL * DAY);

	srs_add_secret(srs, SECRET, strlen(SECRET));
	return srs;
}

static void
expect_forward(SRS *srs, const char *in, const char *want)
{
	VSTR *out = vstr_alloc(16), *why = vstr_alloc(16);

	assert_int_equal(srs_forward(srs, in, NOW, out, why), 1);
	assert_string_equal(VSTR_STR(out), want);
	vstr_free(out);
	vstr_free(why);
}

/* srs_reverse's return, with the result or reason in buf. */
static int
reverse(SRS *srs, const char *in, time_t now, char *buf, size_t len)
{
	VSTR *out = vstr_alloc(16), *why = vstr_alloc(16);
	int   rc = srs_reverse(srs, in, now, out, why);

	snprintf(buf, len, "%s", rc > 0 ? VSTR_STR(out) : VSTR_STR(why));
	vstr_free(out);
	vstr_free(why);
	return rc;
}

static void
test_srs_forward_matches_postsrsd(void **state)
{
	SRS *srs = srs_new();

	(void)state;
	expect_forward(srs, "alice@origin.test",
		       "SRS0=up8J=J2=origin.test=alice@srs.test");
	expect_forward(srs, "Bob.Smith@Example.COM",
		       "SRS0=UEoE=J2=Example.COM=Bob.Smith@srs.test");
	srs_free(srs);
}

static void
test_srs_forward_srs0_and_srs1_become_srs1_as_postsrsd(void **state)
{
	SRS *srs = srs_new();

	(void)state;
	expect_forward(srs, "SRS0=abcd=XY=orig.test=joe@fwd1.test",
		       "SRS1=wAZV=fwd1.test==abcd=XY=orig.test=joe@srs.test");
	expect_forward(srs,
		       "SRS1=wxyz=fwd1.test==abcd=XY=orig.test=joe@fwd2.test",
		       "SRS1=wAZV=fwd1.test==abcd=XY=orig.test=joe@srs.test");
	srs_free(srs);
}

static void
test_srs_forward_leaves_own_domain_and_bad_addresses(void **state)
{
	SRS  *srs = srs_new();
	VSTR *out = vstr_alloc(16), *why = vstr_alloc(16);

	(void)state;
	assert_int_equal(srs_forward(srs, "x@SRS.test", NOW, out, why), 0);
	assert_int_equal(srs_forward(srs, "nodomain", NOW, out, why), 0);
	assert_int_equal(srs_forward(srs, "@x.test", NOW, out, why), 0);
	assert_int_equal(srs_forward(srs, "x@", NOW, out, why), 0);
	assert_int_equal(srs_forward(srs, "SRS1=abc@x.test", NOW, out, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "malformed SRS1"));
	/* The tail of an SRS1 address starts with a separator. */
	assert_int_equal(srs_forward(srs, "SRS1=wAZV=fwd1.test=abc=d@x.test",
				     NOW, out, why),
			 -1);
	vstr_free(out);
	vstr_free(why);
	srs_free(srs);
}

static void
test_srs_reverse_decodes_postsrsd_addresses_in_any_case(void **state)
{
	SRS *srs = srs_new();
	char buf[256];

	(void)state;
	assert_int_equal(reverse(srs, "SRS0=up8J=J2=origin.test=alice@srs.test",
				 NOW, buf, sizeof(buf)),
			 1);
	assert_string_equal(buf, "alice@origin.test");
	/* Hash compared without case, as the scheme allows. */
	assert_int_equal(reverse(srs, "srs0=UP8j=j2=ORIGIN.test=alice@x", NOW,
				 buf, sizeof(buf)),
			 1);
	assert_string_equal(buf, "alice@ORIGIN.test");
	assert_int_equal(
	    reverse(srs, "SRS1=wAZV=fwd1.test==abcd=XY=orig.test=joe@srs.test",
		    NOW, buf, sizeof(buf)),
	    1);
	assert_string_equal(buf, "SRS0=abcd=XY=orig.test=joe@fwd1.test");
	srs_free(srs);
}

static void
test_srs_reverse_refuses_forged_hash_and_expired_stamp(void **state)
{
	SRS *srs = srs_new();
	char buf[256];

	(void)state;
	assert_int_equal(reverse(srs, "SRS0=AAAA=J2=origin.test=alice@srs.test",
				 NOW, buf, sizeof(buf)),
			 -1);
	assert_string_equal(buf, "bad SRS hash");
	/* The same address changed in its user part. */
	assert_int_equal(reverse(srs,
				 "SRS0=up8J=J2=origin.test=mallory@srs.test",
				 NOW, buf, sizeof(buf)),
			 -1);
	/* 21 days later it still holds, 22 days later it has expired. */
	assert_int_equal(reverse(srs, "SRS0=up8J=J2=origin.test=alice@srs.test",
				 NOW + 21 * DAY, buf, sizeof(buf)),
			 1);
	assert_int_equal(reverse(srs, "SRS0=up8J=J2=origin.test=alice@srs.test",
				 NOW + 22 * DAY, buf, sizeof(buf)),
			 -1);
	assert_string_equal(buf, "SRS address has expired");
	srs_free(srs);
}

static void
test_srs_reverse_rejects_malformed_and_ignores_plain(void **state)
{
	static const char *const bad[] = {
		"SRS0=@x",
		"SRS0=up8J@x",
		"SRS0=up8J=J2@x",
		"SRS0=up8J=J2=origin.test@x",
		"SRS0=up8J=J2=origin.test=@x",
		"SRS0==J2=origin.test=alice@x",
		"SRS0=up8J=J=origin.test=alice@x",
		"SRS0=up8J=J2X=origin.test=alice@x",
		"SRS0=up8J=1!=origin.test=alice@x",
		"SRS0=up8=J2=origin.test=alice@x",
		"SRS0=up8JJ=J2=origin.test=alice@x",
		"SRS1=wAZV@x",
		"SRS1=wAZV=fwd1.test@x",
		"SRS1==fwd1.test==abcd@x",
		"SRS1=wAZV=fwd1.test=abcd=XY=orig.test=joe@x",
	};
	SRS *srs = srs_new();
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (reverse(srs, bad[i], NOW, buf, sizeof(buf)) != -1)
			fail_msg("%s was accepted: %s", bad[i], buf);
	assert_int_equal(reverse(srs, "alice@x", NOW, buf, sizeof(buf)), 0);
	assert_int_equal(reverse(srs, "SRS2=a=b=c=d@x", NOW, buf, sizeof(buf)),
			 0);
	assert_int_equal(reverse(srs, "SRS0", NOW, buf, sizeof(buf)), 0);
	assert_true(srs_is_srs("srs0+x@y"));
	assert_true(srs_is_srs("SRS1-x@y"));
	assert_false(srs_is_srs("SRS0x@y"));
	srs_free(srs);
}

static void
test_srs_secret_file_first_signs_all_verify(void **state)
{
	char  path[] = "/tmp/test_srs.XXXXXX";
	int   fd = mkstemp(path);
	SRS  *old = srs_new(), *srs = srs_create("srs.test", 4, 21LL * DAY);
	VSTR *why = vstr_alloc(16), *out = vstr_alloc(16);
	char  buf[256];
	static const char text[] = "n3w-secret\r\n\n" SECRET "\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
			 (ssize_t)(sizeof(text) - 1));
	close(fd);
	assert_int_equal(srs_load_secrets(srs, path, why), 0);
	/* An address made with the old (second) secret still verifies. */
	assert_int_equal(reverse(srs, "SRS0=up8J=J2=origin.test=alice@srs.test",
				 NOW, buf, sizeof(buf)),
			 1);
	/* New addresses are signed with the first one only. */
	assert_int_equal(srs_forward(srs, "alice@origin.test", NOW, out, why),
			 1);
	assert_string_not_equal(VSTR_STR(out),
				"SRS0=up8J=J2=origin.test=alice@srs.test");
	assert_int_equal(reverse(old, VSTR_STR(out), NOW, buf, sizeof(buf)),
			 -1);
	unlink(path);
	srs_free(old);
	srs_free(srs);
	vstr_free(why);
	vstr_free(out);
}

static void
test_srs_secret_file_missing_or_empty_is_an_error(void **state)
{
	char  path[] = "/tmp/test_srs.XXXXXX";
	int   fd = mkstemp(path);
	SRS  *srs = srs_create("srs.test", 4, 21LL * DAY);
	VSTR *why = vstr_alloc(16);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\n\r\n", 3), 3);
	close(fd);
	assert_int_equal(srs_load_secrets(srs, path, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "holds no secret"));
	assert_non_null(strstr(VSTR_STR(why), path));
	unlink(path);
	assert_int_equal(srs_load_secrets(srs, path, why), -1);
	assert_non_null(strstr(VSTR_STR(why), "cannot open"));
	srs_free(srs);
	vstr_free(why);
}

static void
test_srs_open_is_fatal_naming_the_secret_file(void **state)
{
	VSTR *why = vstr_alloc(16);
	CFG  *cfg = cfg_open_buffer(NULL, "main.cf", "", 0, why);
	SRS  *srs = NULL;

	(void)state;
	assert_non_null(cfg);
	assert_null(srs_open(cfg)); /* srs_domain empty: off */
	cfg_override(cfg, "srs_domain", "srs.test");
	cfg_override(cfg, "srs_secret_file", "/nonexistent/srs.secret");
	EXPECT_FATAL(srs = srs_open(cfg), "/nonexistent/srs.secret");
	assert_null(srs);
	cfg_free(cfg);
	vstr_free(why);
}

static void
test_srs_exclude_domains_and_lists(void **state)
{
	SRS *srs = srs_new();

	(void)state;
	srs_set_exclude(srs, "example.com, .sub.test hash:/x");
	assert_true(srs_excluded(srs, "EXAMPLE.com"));
	assert_false(srs_excluded(srs, "a.example.com"));
	assert_true(srs_excluded(srs, "a.sub.test"));
	assert_false(srs_excluded(srs, "sub.test"));
	assert_false(srs_excluded(srs, "x"));
	assert_true(srs_domain_listed("a, b c", "c"));
	assert_false(srs_domain_listed("", "c"));
	srs_free(srs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_srs_forward_matches_postsrsd),
		cmocka_unit_test(
		    test_srs_forward_srs0_and_srs1_become_srs1_as_postsrsd),
		cmocka_unit_test(
		    test_srs_forward_leaves_own_domain_and_bad_addresses),
		cmocka_unit_test(
		    test_srs_reverse_decodes_postsrsd_addresses_in_any_case),
		cmocka_unit_test(
		    test_srs_reverse_refuses_forged_hash_and_expired_stamp),
		cmocka_unit_test(
		    test_srs_reverse_rejects_malformed_and_ignores_plain),
		cmocka_unit_test(test_srs_secret_file_first_signs_all_verify),
		cmocka_unit_test(
		    test_srs_secret_file_missing_or_empty_is_an_error),
		cmocka_unit_test(test_srs_open_is_fatal_naming_the_secret_file),
		cmocka_unit_test(test_srs_exclude_domains_and_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
