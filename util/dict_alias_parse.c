/*
 * dict_alias_parse - aliases(5) entries and alias value members.  See
 * dict_alias_parse.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "util/dict_alias_parse.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

/* Skip a quoted string starting at p ('"'); NULL when it is unterminated. */
static const char *
alias_skip_quote(const char *p)
{
	for (p++; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Copy a "quoted" string's content without quotes and backslashes. */
static char *
alias_unquote(const char *text, size_t len)
{
	VSTR  *out = vstr_alloc(len);
	size_t i;

	if (len >= 2 && text[0] == '"' && text[len - 1] == '"') {
		text++;
		len -= 2;
		for (i = 0; i < len; i++) {
			if (text[i] == '\\' && i + 1 < len)
				i++;
			vstr_addch(out, text[i]);
		}
	} else
		vstr_memcpy(out, text, len);
	return vstr_export(out);
}

static char *
alias_trim_dup(const char *start, const char *end)
{
	while (start < end && isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	return mystrndup(start, (size_t)(end - start));
}

/* Is the whole text one quoted string? */
static int
alias_is_quoted(const char *text)
{
	const char *end;

	return text[0] == '"' && (end = alias_skip_quote(text)) != NULL
	       && *end == 0;
}

/*
 * The address of an address member: the text inside <> if any, with
 * (comments) removed and white space trimmed.  "" when nothing is left.
 */
static char *
alias_address(const char *raw)
{
	VSTR	   *out = vstr_alloc(strlen(raw));
	const char *p;
	const char *q;
	const char *lt = NULL;
	const char *gt = NULL;
	int	    depth = 0;
	char	   *res;

	for (p = raw; *p; p++) {
		if (*p == '"' && depth == 0) {
			if ((q = alias_skip_quote(p)) == NULL)
				break;
			p = q - 1;
		} else if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && *p == '<' && lt == NULL)
			lt = p;
		else if (depth == 0 && *p == '>' && lt != NULL && gt == NULL)
			gt = p;
	}
	if (lt && gt) {
		raw = lt + 1;
		p = gt;
	} else
		p = raw + strlen(raw);
	for (depth = 0; raw < p; raw++) {
		if (*raw == '"' && depth == 0) {
			q = alias_skip_quote(raw);
			if (q == NULL || q > p)
				q = p;
			vstr_memcat(out, raw, (size_t)(q - raw));
			raw = q - 1;
		} else if (*raw == '(')
			depth++;
		else if (*raw == ')' && depth > 0)
			depth--;
		else if (depth == 0)
			vstr_addch(out, *raw);
	}
	res = alias_trim_dup(VSTR_STR(out), VSTR_END(out));
	vstr_free(out);
	return res;
}

static int
alias_classify(DICT_ALIAS_MEMBER *m, VSTR *why)
{
	const char *raw = m->raw;
	char	   *inner = NULL;
	const char *t = raw;
	char	   *path;

	if (alias_is_quoted(raw)) {
		inner = alias_unquote(raw, strlen(raw));
		t = inner;
	}
	if (*t == '|') {
		m->kind = DICT_ALIAS_COMMAND;
		m->text = alias_trim_dup(t + 1, t + strlen(t));
		if (*m->text == 0) {
			vstr_sprintf(why, "empty command in \"%s\"", raw);
			goto fail;
		}
	} else if (*t == '/') {
		m->kind = DICT_ALIAS_FILE;
		m->text = mystrdup(t);
	} else if (strncasecmp(t, ":include:", 9) == 0) {
		m->kind = DICT_ALIAS_INCLUDE;
		path = alias_trim_dup(t + 9, t + strlen(t));
		m->text = alias_unquote(path, strlen(path));
		myfree(path);
		if (*m->text == 0) {
			vstr_sprintf(why, "missing path in \"%s\"", raw);
			goto fail;
		}
	} else {
		m->kind = DICT_ALIAS_ADDRESS;
		m->text = alias_address(raw);
		if (*m->text == 0) {
			vstr_sprintf(why, "empty address in \"%s\"", raw);
			goto fail;
		}
	}
	myfree(inner);
	return 0;
fail:
	myfree(inner);
	return -1;
}

static void
alias_add(DICT_ALIAS_MEMBERS *ms, char *raw)
{
	if ((ms->count & (ms->count - 1)) == 0)
		ms->items = myrealloc_array(ms->items,
					    ms->count ? ms->count * 2 : 1,
					    sizeof(*ms->items));
	ms->items[ms->count].kind = DICT_ALIAS_ADDRESS;
	ms->items[ms->count].text = NULL;
	ms->items[ms->count].raw = raw;
	ms->count++;
}

DICT_ALIAS_MEMBERS *
dict_alias_split(const char *value, VSTR *why)
{
	DICT_ALIAS_MEMBERS *ms = mycalloc(1, sizeof(*ms));
	const char	   *p = value;
	const char	   *start = value;
	int		    angle = 0;
	int		    paren = 0;
	char		   *raw;
	size_t		    i;

	for (;; p++) {
		if (*p == '"') {
			const char *q = alias_skip_quote(p);

			if (q == NULL) {
				vstr_sprintf(why,
					     "unterminated quoted string "
					     "in \"%s\"",
					     start);
				return dict_alias_members_free(ms);
			}
			p = q - 1;
		} else if (*p == '\\' && p[1])
			p++;
		else if (*p == '(')
			paren++;
		else if (*p == ')') {
			if (paren == 0) {
				vstr_sprintf(why, "unbalanced ')'");
				return dict_alias_members_free(ms);
			}
			paren--;
		} else if (*p == '<' && paren == 0)
			angle++;
		else if (*p == '>' && paren == 0) {
			if (angle == 0) {
				vstr_sprintf(why, "unbalanced '>'");
				return dict_alias_members_free(ms);
			}
			angle--;
		} else if (*p == 0 || (*p == ',' && angle == 0 && paren == 0)) {
			if (*p == 0 && (angle || paren)) {
				vstr_sprintf(why, "unbalanced '%c'",
					     angle ? '<' : '(');
				return dict_alias_members_free(ms);
			}
			raw = alias_trim_dup(start, p);
			if (*raw)
				alias_add(ms, raw);
			else
				myfree(raw);
			if (*p == 0)
				break;
			start = p + 1;
		}
	}
	for (i = 0; i < ms->count; i++)
		if (alias_classify(&ms->items[i], why) < 0)
			return dict_alias_members_free(ms);
	return ms;
}

DICT_ALIAS_MEMBERS *
dict_alias_members_free(DICT_ALIAS_MEMBERS *ms)
{
	size_t i;

	if (ms) {
		for (i = 0; i < ms->count; i++) {
			myfree(ms->items[i].text);
			myfree(ms->items[i].raw);
		}
		myfree(ms->items);
		myfree(ms);
	}
	return NULL;
}

int
dict_alias_parse_line(const char *line, VSTR *key, VSTR *value, VSTR *why)
{
	const char	   *p = line;
	const char	   *end;
	char		   *name;
	DICT_ALIAS_MEMBERS *ms;
	size_t		    i;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '"') {
		if ((end = alias_skip_quote(p)) == NULL) {
			vstr_sprintf(why, "unterminated quoted alias name");
			return -1;
		}
		name = alias_unquote(p, (size_t)(end - p));
		p = end;
		while (isspace((unsigned char)*p))
			p++;
	} else {
		end = p + strcspn(p, ":");
		name = alias_trim_dup(p, end);
		p = end;
		if (*p == ':' && name[strcspn(name, " \t")] != 0) {
			vstr_sprintf(why, "white space in alias name \"%s\"",
				     name);
			myfree(name);
			return -1;
		}
	}
	if (*p != ':') {
		vstr_sprintf(why, "need name: value, found no ':'");
		myfree(name);
		return -1;
	}
	if (*name == 0) {
		vstr_sprintf(why, "empty alias name");
		myfree(name);
		return -1;
	}
	if (strlen(p + 1) > DICT_ALIAS_VALUE_MAX) {
		vstr_sprintf(why, "alias value longer than %d bytes",
			     DICT_ALIAS_VALUE_MAX);
		myfree(name);
		return -1;
	}
	if ((ms = dict_alias_split(p + 1, why)) == NULL) {
		myfree(name);
		return -1;
	}
	if (ms->count == 0) {
		vstr_sprintf(why, "alias \"%s\" has no value", name);
		dict_alias_members_free(ms);
		myfree(name);
		return -1;
	}
	vstr_strcpy(key, name);
	vstr_reset(value);
	for (i = 0; i < ms->count; i++) {
		if (i > 0)
			vstr_strcat(value, ", ");
		vstr_strcat(value, ms->items[i].raw);
	}
	dict_alias_members_free(ms);
	myfree(name);
	return 0;
}
