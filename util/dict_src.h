/*
 * dict_src - logical lines of a table source file (postmap(1) rules).
 *
 * A logical line starts with non-white-space text; a line that starts with
 * white space continues it (the newline is dropped, the continuation's text
 * is appended as is).  Empty lines, white-space-only lines and lines whose
 * first non-white-space character is '#' are ignored anywhere, also between
 * a line and its continuation.  A trailing CR before the newline is
 * dropped.  A continuation line with nothing to continue gets a msg_warn
 * naming name:line and is skipped.
 *
 * Errors: dict_src_next returns -1 with why = "name:line: reason" for a NUL
 * byte or a logical line longer than DICT_SRC_LINE_MAX.
 *
 * Ownership: the reader borrows the caller's buffer; it allocates nothing.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DICT_SRC_H
#define UTIL_DICT_SRC_H

#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

#define DICT_SRC_LINE_MAX	(1024 * 1024)
#define DICT_SRC_FILE_MAX	(64 * 1024 * 1024)

/*
 * Read a whole regular file into buf (at most DICT_SRC_FILE_MAX bytes).
 * 0, or -1 with errno and why naming the file.
 */
int	dict_src_read_file(const char *path, VSTR *buf, VSTR *why);

typedef struct DICT_SRC {
	const char *name;		/* for messages */
	const char *buf;
	size_t	len;
	size_t	pos;
	int	lineno;			/* physical lines consumed */
} DICT_SRC;

void	dict_src_init(DICT_SRC *src, const char *name, const char *buf,
		              size_t len);

/* 1: line holds a logical line that starts at *lineno; 0: end; -1: why */
int	dict_src_next(DICT_SRC *src, VSTR *line, int *lineno, VSTR *why);

/*
 * Split "key whitespace value" in place: key and value are trimmed; value
 * is "" when the line has only a key.  Returns 0.
 */
int	dict_src_split(char *line, char **key, char **value);

#endif
