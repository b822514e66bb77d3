/*
 * strutil - small string helpers for parsers.
 *
 * str_token: split in place.  Skips leading delimiters, NUL-terminates the
 * token and advances *bufp past it; returns NULL when no token is left.
 * str_trim: strips leading and trailing white space in place and returns the
 * start.  str_to_ll: whole-string decimal conversion, 0 / -1 (EINVAL,
 * ERANGE).  str_lower: ASCII lower case in place.  Nothing here allocates.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_STRUTIL_H
#define UTIL_STRUTIL_H

#include <stdbool.h>

#include "util/sys_defs.h"

char *str_token(char **bufp, const char *delims);
char *str_trim(char *str);
char *str_lower(char *str);
int   str_to_ll(const char *str, long long *value);
bool  str_has_prefix(const char *str, const char *prefix);
bool  str_is_word(const char *str, const char *word);

#define STR_SEP_LIST " \t\r\n," /* Postfix list separators */

#endif
