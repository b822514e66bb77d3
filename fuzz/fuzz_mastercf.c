/*
 * fuzz_mastercf - libFuzzer target for util/mastercf's master.cf parser.
 *
 * Any input either fails with a "master.cf:LINE: " reason or yields
 * services whose fields hold their invariants (NULL-terminated argv and
 * overrides of the stated lengths, argv[0] == command, each override with
 * a '='), that can be found again by name and type, and whose one-line
 * form (raw) parses again to the same service.  The input is parsed with
 * and without a main.cf for $name expansion.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/cfg.h"
#include "util/mastercf.h"
#include "util/msg.h"
#include "util/vstr.h"

static const char main_cf[] = "myhostname = fuzz.example\n"
			      "user_param = $myhostname-x\n"
			      "default_process_limit = 9\n";

static void
fuzz_check(const MASTERCF *m, const CFG *cfg, VSTR *why)
{
	size_t i;

	for (i = 0; i < mastercf_count(m); i++) {
		const struct mastercf_service *s = mastercf_at(m, i);
		const struct mastercf_service *t;
		MASTERCF		      *m2;
		int			       j;

		if (s->argc < 1 || s->argv[s->argc] != NULL
		    || s->overrides[s->noverrides] != NULL
		    || s->command != s->argv[0] || s->maxproc < 0
		    || s->wakeup < 0)
			abort();
		for (j = 0; j < s->argc; j++)
			if (s->argv[j] == NULL)
				abort();
		for (j = 0; j < s->noverrides; j++)
			if (strchr(s->overrides[j], '=') == NULL)
				abort();
		if (mastercf_find(m, s->name, s->type) != s)
			abort();
		m2 = mastercf_open_buffer("raw", s->raw, strlen(s->raw), cfg,
					  why);
		if (m2 == NULL || mastercf_count(m2) != 1)
			abort();
		t = mastercf_at(m2, 0);
		if (strcmp(t->name, s->name) != 0 || t->type != s->type
		    || t->private_ != s->private_ || t->unpriv != s->unpriv
		    || t->chroot != s->chroot || t->wakeup != s->wakeup
		    || t->maxproc != s->maxproc || t->argc != s->argc
		    || t->noverrides != s->noverrides)
			abort();
		mastercf_free(m2);
	}
}

static void
fuzz_quiet(enum msg_level level, const char *text)
{
	(void)level;
	(void)text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static CFG *cfg;
	VSTR	   *why = vstr_alloc(64);
	MASTERCF   *m;

	if (cfg == NULL) {
		msg_output_add(fuzz_quiet);
		cfg = cfg_open_buffer(NULL, "main.cf", main_cf,
				      sizeof(main_cf) - 1, why);
	}
	m = mastercf_open_buffer("master.cf", (const char *)data, size, NULL,
				 why);
	if (m == NULL && strncmp(VSTR_STR(why), "master.cf:", 10) != 0)
		abort();
	if (m != NULL)
		fuzz_check(m, NULL, why);
	mastercf_free(m);
	m = mastercf_open_buffer("master.cf", (const char *)data, size, cfg,
				 why);
	if (m == NULL && strncmp(VSTR_STR(why), "master.cf:", 10) != 0)
		abort();
	if (m != NULL)
		fuzz_check(m, cfg, why);
	mastercf_free(m);
	vstr_free(why);
	return 0;
}
