/*
 * flush_log - names and contents of the fast flush logfiles.  See flush.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <string.h>

#include "flush/flush.h"
#include "util/qid.h"

int
flush_log_name(const char *site, VSTR *name)
{
	size_t len = strlen(site);

	if (len == 0 || len > FLUSH_NAME_MAX)
		return -1;
	vstr_reset(name);
	for (const char *cp = site; *cp; cp++) {
		unsigned char c = (unsigned char)*cp;

		vstr_addch(name, isalnum(c) ? (char)tolower(c) : '_');
	}
	return 0;
}

void
flush_log_path(const char *name, VSTR *path)
{
	/* FNV-1a: spreads similar names over the 16 subfolders. */
	unsigned int h = 2166136261u;

	for (const unsigned char *cp = (const unsigned char *)name; *cp; cp++)
		h = (h ^ *cp) * 16777619u;
	vstr_sprintf(path, "%s/%c/%s", FLUSH_DIR, FLUSH_HASH_DIGITS[h & 0xf],
		     name);
}

size_t
flush_log_parse(const char *buf, size_t len, flush_log_fn fn, void *ctx)
{
	char   id[QID_MAXLEN + 1];
	size_t bad = 0;

	while (len > 0) {
		const char *nl = memchr(buf, '\n', len);
		size_t	    n;

		if (nl == NULL) {
			bad++; /* a torn last append */
			break;
		}
		n = (size_t)(nl - buf);
		if (n > 0 && n <= QID_MAXLEN) {
			memcpy(id, buf, n);
			id[n] = 0;
			if (strlen(id) == n && qid_valid(id))
				fn(ctx, id);
			else
				bad++;
		} else {
			bad++;
		}
		len -= n + 1;
		buf = nl + 1;
	}
	return bad;
}
