/*
 * harness - shared helpers for cmocka unit tests.  See harness.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>

#include "tests/unit/harness.h"

jmp_buf harness_jmp;
char	harness_fatal_text[4096];

void
harness_fatal_hook(enum msg_level level, const char *text)
{
	(void)level;
	snprintf(harness_fatal_text, sizeof(harness_fatal_text), "%s", text);
	longjmp(harness_jmp, 1);
}
