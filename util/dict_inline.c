/*
 * dict_inline - inline:{ key=value, { key = text with spaces }, ... }
 * tables given in the table name itself.
 *
 * Items are separated by commas or white space; an item in braces may hold
 * spaces and commas, and white space around its '=' is dropped.  Errors:
 * open fails with why for missing outer braces, an unbalanced brace or an
 * item without '='.  Duplicate keys warn, the first value stays.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

struct inline_ctx {
	DICT *dict;
	VSTR *why;
	int   failed;
};

static void
inline_item(const char *item, size_t len, void *ctx)
{
	struct inline_ctx *ic = ctx;
	char		  *copy;
	char		  *text;
	char		  *eq;
	char		  *key;
	char		  *value;

	if (ic->failed)
		return;
	copy = mystrndup(item, len);
	text = copy;
	if (*text == '{') {
		size_t n = strlen(text);

		if (n < 2 || text[n - 1] != '}') {
			vstr_sprintf(ic->why, "%s: bad item \"%s\"",
				     ic->dict->spec, copy);
			ic->failed = 1;
			myfree(copy);
			return;
		}
		text[n - 1] = 0;
		text++;
	}
	if ((eq = strchr(text, '=')) == NULL) {
		vstr_sprintf(ic->why, "%s: missing '=' in \"%s\"",
			     ic->dict->spec, text);
		ic->failed = 1;
		myfree(copy);
		return;
	}
	*eq = 0;
	key = str_trim(text);
	value = str_trim(eq + 1);
	if (*key == 0) {
		vstr_sprintf(ic->why, "%s: empty key before '='",
			     ic->dict->spec);
		ic->failed = 1;
	} else {
		if (ic->dict->flags & DICT_FLAG_FOLD)
			str_lower(key);
		dict_mem_put(ic->dict, key, value, NULL);
	}
	myfree(copy);
}

DICT *
dict_inline_open(const char *name, int flags, VSTR *why)
{
	DICT		 *d = dict_mem_create("inline", name, flags);
	size_t		  len = strlen(name);
	char		 *inner;
	struct inline_ctx ic = { d, why, 0 };

	while (len > 0 && isspace((unsigned char)name[len - 1]))
		len--;
	while (isspace((unsigned char)*name)) {
		name++;
		len--;
	}
	if (len < 2 || name[0] != '{' || name[len - 1] != '}') {
		vstr_sprintf(why, "%s: expected inline:{ key=value, ... }",
			     d->spec);
		dict_close(d);
		errno = EINVAL;
		return NULL;
	}
	inner = mystrndup(name + 1, len - 2);
	if (dict_list_split(inner, inline_item, &ic, why) < 0)
		ic.failed = 1;
	myfree(inner);
	if (ic.failed) {
		dict_close(d);
		errno = EINVAL;
		return NULL;
	}
	return d;
}
