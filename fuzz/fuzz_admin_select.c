/*
 * fuzz_admin_select - libFuzzer target for admin/admin_select: the
 * selector options of postelqueue and postelsuper (names and values as
 * an admin types them, DURATION and REGEX included) and a match against
 * an envelope built from the same input.
 *
 * Input: NUL-separated fields, taken in pairs (option name, value), the
 * last field also the sender and every field a recipient with itself as
 * delay reason.
 *
 * Invariants: no crash or leak; a rejected option leaves the selector as
 * it was (a repeated accepted one is refused); an accepted duration is
 * never negative.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_select.h"
#include "util/mymalloc.h"

#define FIELDS_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	  *buf;
	char	  *fields[FIELDS_MAX];
	size_t	   nf = 0;
	ADMIN_SEL  sel;
	ADMIN_ENV *env;
	VSTR	  *why;
	long long  secs;

	if (size > 4096)
		return 0;
	buf = mymalloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = 0;
	for (char *cp = buf; nf < FIELDS_MAX && cp <= buf + size;
	     cp += strlen(cp) + 1)
		fields[nf++] = cp;
	why = vstr_alloc(64);
	admin_sel_init(&sel, 1000000);
	for (size_t i = 0; i + 1 < nf; i += 2) {
		bool before = admin_sel_active(&sel);

		if (admin_sel_option(&sel, fields[i], fields[i + 1], why) < 0
		    && admin_sel_active(&sel) != before)
			abort();
		if (admin_sel_option(&sel, fields[i], fields[i + 1], why) == 0)
			abort(); /* a second time is always refused */
		if (admin_sel_duration(fields[i + 1], &secs, why) == 0
		    && secs < 0)
			abort();
	}
	env = admin_env_alloc();
	env->arrival = 999000;
	vstr_strcpy(env->sender, fields[nf - 1]);
	env->cap = nf;
	env->rcpt = mycalloc(nf, sizeof(*env->rcpt));
	env->reason = mycalloc(nf, sizeof(*env->reason));
	for (size_t i = 0; i < nf; i++) {
		env->rcpt[i] = mystrdup(fields[i]);
		env->reason[i] = mystrdup(fields[i]);
	}
	env->nrcpt = nf;
	(void)admin_sel_match(&sel, env);
	admin_env_free(env);
	admin_sel_free(&sel);
	vstr_free(why);
	myfree(buf);
	return 0;
}
