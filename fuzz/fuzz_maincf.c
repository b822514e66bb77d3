/*
 * fuzz_maincf - libFuzzer target for util/cfg's main.cf parser and
 * parameter expansion.
 *
 * Any input either fails to parse with a "main.cf:LINE: " reason, or
 * parses to settings that (a) survive being written back as one
 * "name = value" line each and parsed again, and (b) expand without
 * crashing: every set name and every table parameter is expanded with
 * cfg_expand (errors allowed), and where that works cfg_get_str must agree.
 * cfg_check runs over the lot.  Warnings are swallowed.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/cfg.h"
#include "util/cfg_compat.h"
#include "util/msg.h"
#include "util/param.h"
#include "util/vstr.h"

static void
fuzz_quiet(enum msg_level level, const char *text)
{
	(void)level;
	(void)text;
}

static void
fuzz_expand_name(const CFG *cfg, const char *name, VSTR *text, VSTR *out,
		 VSTR *why)
{
	vstr_sprintf(text, "${%s}", name);
	/* cfg_get_str takes table names only (others are a panic). */
	if (cfg_expand(cfg, VSTR_STR(text), out, why) == 0
	    && param_lookup(name) != NULL
	    && strcmp(cfg_get_str(cfg, name), VSTR_STR(out)) != 0)
		abort();
	(void)cfg_expand_known(cfg, VSTR_STR(text), out, why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		init;
	VSTR		       *why = vstr_alloc(64);
	VSTR		       *text = vstr_alloc(64);
	VSTR		       *out = vstr_alloc(64);
	VSTR		       *again = vstr_alloc(256);
	CFG		       *cfg;
	CFG		       *cfg2;
	size_t			count;
	const struct param_def *defs = param_table(&count);
	size_t			i;

	if (!init) {
		msg_output_add(fuzz_quiet);
		init = 1;
	}
	cfg = cfg_open_buffer(NULL, "main.cf", (const char *)data, size, why);
	if (cfg == NULL) {
		if (strncmp(VSTR_STR(why), "main.cf:", 8) != 0)
			abort();
		goto out;
	}
	for (i = 0; i < cfg_count(cfg); i++)
		vstr_sprintf_append(again, "%s = %s\n", cfg_name_at(cfg, i),
				    cfg_get_raw(cfg, cfg_name_at(cfg, i)));
	cfg2 = cfg_open_buffer(NULL, "again", VSTR_STR(again), VSTR_LEN(again),
			       why);
	if (cfg2 == NULL || cfg_count(cfg2) != cfg_count(cfg))
		abort();
	for (i = 0; i < cfg_count(cfg); i++) {
		const char *name = cfg_name_at(cfg, i);

		if (strcmp(name, cfg_name_at(cfg2, i)) != 0
		    || strcmp(cfg_get_raw(cfg, name), cfg_get_raw(cfg2, name)))
			abort();
	}
	cfg_free(cfg2);
	for (i = 0; i < cfg_count(cfg); i++)
		fuzz_expand_name(cfg, cfg_name_at(cfg, i), text, out, why);
	for (i = 0; i < count; i++)
		fuzz_expand_name(cfg, defs[i].name, text, out, why);
	(void)cfg_check(cfg, why);
	(void)cfg_compat_check(cfg, NULL, "master.cf");
	cfg_override(cfg, "myhostname", "fuzz.example");
	(void)cfg_check(cfg, why);
	cfg_free(cfg);
out:
	vstr_free(why);
	vstr_free(text);
	vstr_free(out);
	vstr_free(again);
	return 0;
}
