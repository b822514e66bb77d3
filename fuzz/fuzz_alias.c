/*
 * fuzz_alias - libFuzzer target for util/dict_alias_parse (aliases(5)
 * lines and alias value members) and util/lline's logical lines.
 *
 * Every logical line of the input is parsed as an aliases entry; when it
 * parses, the normalised value must split again into the same number of
 * members with the same raw texts (normalising is idempotent), and every
 * member's text is a non-empty C string.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/dict_alias_parse.h"
#include "util/dict_src.h"
#include "util/lline.h"
#include "util/msg.h"
#include "util/vstr.h"

static void
fuzz_quiet(enum msg_level level, const char *text)
{
	(void)level;
	(void)text;
}

static void
fuzz_entry(const char *line, VSTR *key, VSTR *val, VSTR *val2, VSTR *why)
{
	DICT_ALIAS_MEMBERS *m;
	size_t		    i;

	if (dict_alias_parse_line(line, key, val, why) < 0)
		return;
	if ((m = dict_alias_split(VSTR_STR(val), why)) == NULL || m->count == 0)
		abort();
	vstr_reset(val2);
	for (i = 0; i < m->count; i++) {
		if (m->items[i].text == NULL || *m->items[i].text == 0)
			abort();
		if (i > 0)
			vstr_strcat(val2, ", ");
		vstr_strcat(val2, m->items[i].raw);
	}
	if (strcmp(VSTR_STR(val), VSTR_STR(val2)) != 0)
		abort();
	dict_alias_members_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	    init;
	LLINE		    src;
	VSTR		   *line = vstr_alloc(64);
	VSTR		   *key = vstr_alloc(64);
	VSTR		   *val = vstr_alloc(64);
	VSTR		   *val2 = vstr_alloc(64);
	VSTR		   *why = vstr_alloc(64);
	DICT_ALIAS_MEMBERS *m;
	int		    lineno;

	if (!init) {
		msg_output_add(fuzz_quiet);
		init = 1;
	}
	lline_init(&src, "fuzz", (const char *)data, size, 0, NULL);
	while (lline_next(&src, line, &lineno, why) > 0) {
		fuzz_entry(VSTR_STR(line), key, val, val2, why);
		/* The whole line as a value, too. */
		if ((m = dict_alias_split(VSTR_STR(line), why)) != NULL)
			dict_alias_members_free(m);
	}
	vstr_free(line);
	vstr_free(key);
	vstr_free(val);
	vstr_free(val2);
	vstr_free(why);
	return 0;
}
