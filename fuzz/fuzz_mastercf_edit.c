/*
 * fuzz_mastercf_edit - libFuzzer target for util/mastercf_edit: one
 * master.cf entry as words, and postelconf's service/type/name[=value]
 * arguments.
 *
 * The input's first line is tried as an argument (with and without '*'
 * patterns); the whole input as one entry, which must parse whenever
 * util/mastercf accepts it as one service.  A parsed entry must render to
 * text that parses again to the same fields and -o items, and that
 * util/mastercf accepts whenever it accepted the input; setting and
 * removing a -o item and setting the command keep that true.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mastercf.h"
#include "util/mastercf_edit.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

static void
fuzz_same(const struct mastercf_edit *a, const struct mastercf_edit *b)
{
	size_t i;
	int    f;

	for (f = 0; f < 7; f++)
		if (strcmp(a->field[f], b->field[f]) != 0)
			abort();
	if (a->count != b->count)
		abort();
	for (i = 0; i < a->count; i++) {
		const struct mastercf_edit_item *x = &a->item[i];
		const struct mastercf_edit_item *y = &b->item[i];

		if ((x->word == NULL) != (y->word == NULL))
			abort();
		if (x->word != NULL && strcmp(x->word, y->word) != 0)
			abort();
		if (x->word == NULL
		    && (strcmp(x->name, y->name) != 0
			|| strcmp(x->value, y->value) != 0))
			abort();
	}
}

/* Render e, parse it back, compare; mastercf must accept it if `ok`. */
static void
fuzz_round_trip(const struct mastercf_edit *e, bool ok, VSTR *why)
{
	struct mastercf_edit again;
	VSTR		    *text = vstr_alloc(256);
	MASTERCF	    *m;

	mastercf_edit_render(e, text);
	if (mastercf_edit_parse(VSTR_STR(text), &again, why) < 0)
		abort();
	fuzz_same(e, &again);
	mastercf_edit_free(&again);
	m = mastercf_open_buffer("r", VSTR_STR(text), VSTR_LEN(text), NULL,
				 why);
	if (ok && m == NULL)
		abort();
	mastercf_free(m);
	vstr_free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = mystrndup((const char *)data, size);
	char *nl = strchr(text, '\n');
	char *first = mystrndup(text, nl ? (size_t)(nl - text) : strlen(text));
	VSTR *why = vstr_alloc(64);
	struct mastercf_arg  a;
	struct mastercf_edit e;
	MASTERCF	    *m;
	bool		     ok;
	int		     wild;

	for (wild = 0; wild < 2; wild++) {
		if (mastercf_arg_parse(first, wild, &a, why) == 0) {
			if (!*a.service || !*a.type || !*a.name)
				abort();
			mastercf_arg_free(&a);
		}
	}
	/* One logical line: what lline hands over has no newline. */
	for (nl = text; *nl; nl++)
		if (*nl == '\n')
			*nl = ' ';
	m = mastercf_open_buffer("in", text, strlen(text), NULL, why);
	ok = m != NULL && mastercf_count(m) == 1;
	mastercf_free(m);
	if (mastercf_edit_parse(text, &e, why) < 0) {
		/* What master.cf takes, postelconf must be able to edit. */
		if (ok)
			abort();
	} else {
		fuzz_round_trip(&e, ok, why);
		if (mastercf_edit_set_param(&e, "fuzz_param", first, why) == 0)
			fuzz_round_trip(&e, ok, why);
		(void)mastercf_edit_del_param(&e, "fuzz_param");
		if (mastercf_edit_set_field(&e, MASTERCF_EDIT_COMMAND, first,
					    why)
		    == 0)
			fuzz_round_trip(&e, ok, why);
		if (mastercf_edit_set_field(&e, 5, first, why) == 0)
			fuzz_round_trip(&e, ok, why);
		mastercf_edit_free(&e);
	}
	myfree(text);
	myfree(first);
	vstr_free(why);
	return 0;
}
