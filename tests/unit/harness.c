/*
 * harness - shared helpers for cmocka unit tests.  See harness.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>

#include "tests/unit/harness.h"
#include "util/cfg.h"

jmp_buf harness_jmp;
char	harness_fatal_text[4096];

void
harness_fatal_hook(enum msg_level level, const char *text)
{
	(void)level;
	snprintf(harness_fatal_text, sizeof(harness_fatal_text), "%s", text);
	longjmp(harness_jmp, 1);
}

void
harness_dict_expect(DICT *d, const char *key, const char *want)
{
	const char *value = NULL;
	int	    ret = dict_lookup(d, key, &value);

	if (want == NULL) {
		if (ret == 1)
			fail_msg("key \"%s\": expected no match, got \"%s\"",
				 key, value);
		if (ret != 0)
			fail_msg("key \"%s\": expected no match, got ret %d",
				 key, ret);
		return;
	}
	if (ret != 1)
		fail_msg("key \"%s\": expected \"%s\", got ret %d", key, want,
			 ret);
	assert_string_equal(value, want);
}

CFG *
harness_cfg(const char *text)
{
	VSTR *why = vstr_alloc(64);
	CFG  *cfg = cfg_open_buffer(NULL, "main.cf", text, strlen(text), why);

	if (cfg == NULL)
		fail_msg("main.cf: %s", VSTR_STR(why));
	vstr_free(why);
	return cfg;
}

int
harness_rmtree(const char *dir)
{
	char cmd[512];
	int  n = snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);

	if (n < 0 || (size_t)n >= sizeof(cmd) || strchr(dir, '\'') != NULL)
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}
