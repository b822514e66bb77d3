/*
 * dict_static - static:value tables: every lookup finds the value.
 *
 * "static:{ text with spaces }" drops the braces and the white space just
 * inside them.  Errors: open fails with why for an unbalanced brace.
 * Iteration is not supported.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

typedef struct DICT_STATIC {
	DICT  dict;
	char *value;
} DICT_STATIC;

static int
static_lookup(DICT *d, const char *key, const char **value)
{
	(void)key;
	*value = ((DICT_STATIC *)d)->value;
	return 1;
}

static void
static_close(DICT *d)
{
	myfree(((DICT_STATIC *)d)->value);
}

DICT *
dict_static_open(const char *name, int flags, VSTR *why)
{
	DICT_STATIC *s;
	char	    *value = mystrdup(name);
	char	    *text = value;
	size_t	     len = strlen(text);

	if (*text == '{' || (len > 0 && text[len - 1] == '}')) {
		if (len < 2 || text[0] != '{' || text[len - 1] != '}') {
			vstr_sprintf(why, "static:%s: unbalanced braces", name);
			myfree(value);
			errno = EINVAL;
			return NULL;
		}
		text[len - 1] = 0;
		text = str_trim(text + 1);
	}
	s = (DICT_STATIC *)dict_alloc(sizeof(*s), "static", name, flags);
	s->value = mystrdup(text);
	myfree(value);
	s->dict.lookup = static_lookup;
	s->dict.close = static_close;
	return &s->dict;
}
