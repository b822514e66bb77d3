/*
 * dict_src - table source files (postmap(1) rules): read a whole file,
 * split a "key value" line, and the rule-list frame that cidr and regexp
 * tables share.  The logical lines themselves come from util/lline
 * (flags 0: continuations appended as they stand, an orphan continuation
 * warned about and skipped).
 *
 * dict_src_open_file reads a file and hands its text to a table's
 * open_buffer function.  dict_src_rules feeds each logical line to the
 * table's parser, which appends one rule and says whether it opens or
 * closes an if/endif block; dict_src_rules pairs the blocks (endif(ctx,
 * if_rule, endif_rule) with rule indexes counted from 0) and reports
 * "name:line: endif without if" and "if without endif".
 *
 * Errors: dict_src_read_file returns -1 with errno and why naming the file
 * (not a regular file, over DICT_SRC_FILE_MAX bytes, I/O).
 * dict_src_open_file returns NULL with why; dict_src_rules 0 or -1 with
 * why (the parser's message, or a nesting error).
 *
 * Ownership: nothing is allocated; buffers are the caller's.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DICT_SRC_H
#define UTIL_DICT_SRC_H

#include <stddef.h>

#include "util/dict.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

#define DICT_SRC_FILE_MAX (64 * 1024 * 1024)

/*
 * Read a whole regular file into buf (at most DICT_SRC_FILE_MAX bytes).
 * 0, or -1 with errno and why naming the file.
 */
int dict_src_read_file(const char *path, VSTR *buf, VSTR *why);

/*
 * Split "key whitespace value" in place: key and value are trimmed; value
 * is "" when the line has only a key.  Returns 0.
 */
int dict_src_split(char *line, char **key, char **value);

typedef DICT *(*DICT_SRC_OPEN_FN)(const char *name, const char *text,
				  size_t len, int flags, VSTR *why);
DICT *dict_src_open_file(const char *name, int flags,
			 DICT_SRC_OPEN_FN open_buffer, VSTR *why);

enum dict_src_rule {
	DICT_SRC_RULE,	/* an ordinary rule */
	DICT_SRC_IF,	/* opens a block */
	DICT_SRC_ENDIF, /* closes the innermost block */
};

/*
 * Parse one logical line ("where" is "name:line"; the parser may change
 * the line in place) and append it as rule number N (the count of rules
 * appended before); enum dict_src_rule, or -1 with why.
 */
typedef int (*DICT_SRC_RULE_FN)(void *ctx, char *line, int lineno,
				const char *where, VSTR *why);
typedef void (*DICT_SRC_ENDIF_FN)(void *ctx, size_t if_rule, size_t endif_rule);
int dict_src_rules(const char *name, const char *text, size_t len,
		   DICT_SRC_RULE_FN rule, DICT_SRC_ENDIF_FN endif, void *ctx,
		   VSTR *why);

#endif
