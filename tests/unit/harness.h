/*
 * harness - shared helpers for cmocka unit tests.
 *
 * EXPECT_FATAL(stmt, text) runs stmt and asserts that it ends in msg_fatal
 * or msg_panic whose message contains text.  The hook longjmps out of the
 * failing call, so leaks in that path are expected and tolerated.
 *
 * harness_dict_expect asserts what a table lookup answers; harness_cfg
 * parses main.cf text;
 * harness_rmtree removes a test's temporary folder.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef TESTS_UNIT_HARNESS_H
#define TESTS_UNIT_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/dict.h"
#include "util/msg.h"

extern jmp_buf harness_jmp;
extern char    harness_fatal_text[4096];

void harness_fatal_hook(enum msg_level level, const char *text);

/* dict_lookup(d, key) finds want, or nothing when want is NULL. */
void harness_dict_expect(DICT *d, const char *key, const char *want);

/* A CFG parsed from main.cf text (asserts that it parses). */
struct CFG;
struct CFG *harness_cfg(const char *text);

/* rm -rf dir (a mkdtemp folder of the test); 0 or -1. */
int harness_rmtree(const char *dir);

#define EXPECT_FATAL(stmt, text) \
	do { \
		msg_fatal_hook_fn old_hook = msg_fatal_hook_set( \
		    harness_fatal_hook); \
		harness_fatal_text[0] = 0; \
		if (setjmp(harness_jmp) == 0) { \
			stmt; \
			msg_fatal_hook_set(old_hook); \
			fail_msg("expected a fatal error containing \"%s\"", \
				 (text)); \
		} \
		msg_fatal_hook_set(old_hook); \
		if (strstr(harness_fatal_text, (text)) == NULL) \
			fail_msg("fatal text \"%s\" lacks \"%s\"", \
				 harness_fatal_text, (text)); \
	} while (0)

#endif
