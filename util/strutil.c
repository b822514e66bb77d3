/*
 * strutil - small string helpers for parsers.  See strutil.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/strutil.h"

char *
str_token(char **bufp, const char *delims)
{
	char *start = *bufp + strspn(*bufp, delims);
	char *end;

	if (*start == 0) {
		*bufp = start;
		return NULL;
	}
	end = start + strcspn(start, delims);
	if (*end)
		*end++ = 0;
	*bufp = end;
	return start;
}

char *
str_trim(char *str)
{
	char *end;

	while (isspace((unsigned char)*str))
		str++;
	end = str + strlen(str);
	while (end > str && isspace((unsigned char)end[-1]))
		*--end = 0;
	return str;
}

char *
str_lower(char *str)
{
	char *cp;

	for (cp = str; *cp; cp++)
		*cp = (char)tolower((unsigned char)*cp);
	return str;
}

int
str_to_ll(const char *str, long long *value)
{
	char	 *end;
	long long v;

	if (*str == 0 || isspace((unsigned char)*str)) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtoll(str, &end, 10);
	if (errno == ERANGE)
		return -1;
	if (*end != 0) {
		errno = EINVAL;
		return -1;
	}
	*value = v;
	return 0;
}

bool
str_has_prefix(const char *str, const char *prefix)
{
	return strncmp(str, prefix, strlen(prefix)) == 0;
}

bool
str_is_word(const char *str, const char *word)
{
	size_t n = strlen(word);

	return strncasecmp(str, word, n) == 0
	       && (str[n] == 0 || isspace((unsigned char)str[n]));
}
