/*
 * fuzz_forward - libFuzzer target for local(8)'s .forward handling:
 * local_forward_parse (lines to one alias value), the member splitter it
 * feeds (util/dict_alias_parse), forward_path variable expansion, and
 * the Delivered-To loop scan over the same bytes as message content.
 *
 * Invariants: the parsed value holds no newline or NUL; every member
 * has a non-empty text; expansion never reads past its input.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "local/local.h"
#include "util/dict_alias_parse.h"
#include "util/msg.h"
#include "util/vstr.h"

static void
fuzz_quiet(enum msg_level level, const char *text)
{
	(void)level;
	(void)text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	    init;
	LOCAL_STATE	    st = { .delims = "+-" };
	struct local_user   u = { .name = "joe", .home = "/home/joe" };
	struct local_rcpt   rc;
	DICT_ALIAS_MEMBERS *m;
	VSTR		   *val = vstr_alloc(64), *why = vstr_alloc(64);
	VSTR		   *out = vstr_alloc(64), *text = vstr_alloc(64);

	if (!init) {
		msg_output_add(fuzz_quiet);
		init = 1;
	}
	local_forward_parse((const char *)data, size, val);
	if (memchr(VSTR_STR(val), '\n', VSTR_LEN(val))
	    || strlen(VSTR_STR(val)) != VSTR_LEN(val))
		abort();
	if ((m = dict_alias_split(VSTR_STR(val), why)) != NULL) {
		for (size_t i = 0; i < m->count; i++)
			if (m->items[i].text == NULL || *m->items[i].text == 0)
				abort();
		dict_alias_members_free(m);
	}
	vstr_memcpy(text, data, size);
	vstr_set_len(text, strlen(VSTR_STR(text)));
	local_rcpt_split(&st, VSTR_STR(text), &rc);
	local_expand_vars(VSTR_STR(text), out, &rc, &u, NULL);
	local_expand_vars("$home/.forward${recipient_delimiter}${extension}",
			  out, &rc, &u, "abcdefghijklmnopqrstuvwxyz./");
	(void)local_copy_has_delivered_to(text, "joe@example.com");
	local_rcpt_free(&rc);
	vstr_free(val);
	vstr_free(why);
	vstr_free(out);
	vstr_free(text);
	return 0;
}
