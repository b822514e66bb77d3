/*
 * dict_texthash - texthash: tables, a postmap(1)-format text file read into
 * memory at open time.
 *
 * Errors: open fails with why ("file:line: reason") for unreadable files,
 * NUL bytes and overlong lines; a line without a value gets a msg_warn
 * naming file:line and is skipped, a duplicate key warns and the first
 * value stays (as postmap does).  Lookups never fail.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/dict_src.h"
#include "util/lline.h"
#include "util/msg.h"
#include "util/vstr.h"

DICT *
dict_texthash_open_buffer(const char *name, const char *text, size_t len,
			  int flags, VSTR *why)
{
	DICT *d = dict_mem_create("texthash", name, flags);
	LLINE src;
	VSTR *line = vstr_alloc(256);
	VSTR *where = vstr_alloc(64);
	char *key;
	char *value;
	int   lineno;
	int   ret;

	lline_init(&src, name, text, len, 0, NULL);
	while ((ret = lline_next(&src, line, &lineno, why)) > 0) {
		dict_src_split(VSTR_STR(line), &key, &value);
		if (*value == 0) {
			msg_warn("%s:%d: expected format: key whitespace "
				 "value; line ignored",
				 name, lineno);
			continue;
		}
		if (strlen(key) > DICT_KEY_MAX) {
			msg_warn("%s:%d: key longer than %d bytes; line "
				 "ignored",
				 name, lineno, DICT_KEY_MAX);
			continue;
		}
		if (flags & DICT_FLAG_FOLD) {
			char *cp;

			for (cp = key; *cp; cp++)
				if (*cp >= 'A' && *cp <= 'Z')
					*cp = (char)(*cp - 'A' + 'a');
		}
		vstr_sprintf(where, "%s:%d", name, lineno);
		dict_mem_put(d, key, value, VSTR_STR(where));
	}
	vstr_free(line);
	vstr_free(where);
	if (ret < 0) {
		dict_close(d);
		errno = EINVAL;
		return NULL;
	}
	return d;
}

DICT *
dict_texthash_open(const char *name, int flags, VSTR *why)
{
	return dict_src_open_file(name, flags, dict_texthash_open_buffer, why);
}
