/*
 * dict_alias_parse - aliases(5) syntax: entries and the members of a value.
 *
 * An aliases file holds logical lines (util/lline.h rules: '#' comment
 * lines, continuation lines start with white space) of the form
 *   name: member, member, ...
 * where name may be quoted ("a b": ...) and each member is
 *   address            user, user@domain, "quoted local"@domain,
 *                      Name <user@domain> (the part in <> is used),
 *                      \user (kept as written: no further aliasing)
 *   |command           or "|command with spaces"
 *   /path/to/file      or "/path with spaces"
 *   :include:/path     a file holding more members
 * Members are separated by commas outside quotes, <> and (comments).
 *
 * Errors: dict_alias_parse_line and dict_alias_split return -1 / NULL with
 * why holding the reason (no file name: callers add "file:line: ").
 *
 * Ownership: DICT_ALIAS_MEMBERS and every text in it are the caller's,
 * released with dict_alias_members_free (returns NULL).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_DICT_ALIAS_PARSE_H
#define UTIL_DICT_ALIAS_PARSE_H

#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

enum dict_alias_kind {
	DICT_ALIAS_ADDRESS, /* text: the address */
	DICT_ALIAS_COMMAND, /* text: command after '|', unquoted */
	DICT_ALIAS_FILE,    /* text: absolute path, unquoted */
	DICT_ALIAS_INCLUDE, /* text: :include: path, unquoted */
};

typedef struct DICT_ALIAS_MEMBER {
	enum dict_alias_kind kind;
	char		    *text;
	char		    *raw; /* the member as written, trimmed */
} DICT_ALIAS_MEMBER;

typedef struct DICT_ALIAS_MEMBERS {
	DICT_ALIAS_MEMBER *items;
	size_t		   count;
} DICT_ALIAS_MEMBERS;

/* Split an alias value (right-hand side) into members; empty members skip. */
DICT_ALIAS_MEMBERS *dict_alias_split(const char *value, VSTR *why);
DICT_ALIAS_MEMBERS *dict_alias_members_free(DICT_ALIAS_MEMBERS *m);

/*
 * Parse one logical line "name: value".  key gets the name (unquoted, not
 * case-folded), value the normalised right-hand side: the raw members
 * joined with ", ".  0, or -1 with why (missing colon, empty name, no
 * members, or a member error).
 */
int dict_alias_parse_line(const char *line, VSTR *key, VSTR *value, VSTR *why);

/* Longest value accepted (bytes); longer lines fail with why. */
#define DICT_ALIAS_VALUE_MAX (1024 * 1024)

#endif
