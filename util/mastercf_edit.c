/*
 * mastercf_edit - one master.cf entry as editable words, and the
 * service/type/name arguments of postelconf -F and -P.  See
 * mastercf_edit.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "util/mastercf.h"
#include "util/mastercf_edit.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

static const char *const mastercf_edit_names[MASTERCF_EDIT_FIELDS] = {
	"service", "type",   "private",	      "unprivileged",
	"chroot",  "wakeup", "process_limit", "command",
};

/*
 * Next word as written: a run of non-space bytes, or a "{ ... }" group
 * with its braces (nested braces allowed).  NULL at the end; NULL with
 * *bad for an unbalanced brace.
 */
static char *
mastercf_edit_word(const char **cpp, bool *bad)
{
	const char *cp = *cpp;
	const char *start;

	while (isspace((unsigned char)*cp))
		cp++;
	if (*cp == 0) {
		*cpp = cp;
		return NULL;
	}
	start = cp;
	if (*cp == '{') {
		int level = 1;

		for (cp++; *cp && level > 0; cp++) {
			if (*cp == '{')
				level++;
			else if (*cp == '}')
				level--;
		}
		if (level > 0) {
			*bad = true;
			return NULL;
		}
	} else {
		while (*cp && !isspace((unsigned char)*cp))
			cp++;
	}
	*cpp = cp;
	return mystrndup(start, (size_t)(cp - start));
}

/* Trim white space at both ends, in place. */
static void
mastercf_edit_trim(char *text)
{
	const char *start = str_trim(text);

	memmove(text, start, strlen(start) + 1);
}

/* The text of a word: a group without its braces and inner white space. */
static char *
mastercf_edit_unbrace(const char *word)
{
	size_t len = strlen(word);
	char  *text;

	if (word[0] != '{' || len < 2 || word[len - 1] != '}')
		return mystrdup(word);
	text = mystrndup(word + 1, len - 2);
	mastercf_edit_trim(text);
	return text;
}

bool
mastercf_edit_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_'
		    && name[i] != '-' && name[i] != '.')
			return false;
	return true;
}

/* Remove item `at`. */
static void
mastercf_edit_drop(struct mastercf_edit *e, size_t at)
{
	myfree(e->item[at].word);
	myfree(e->item[at].name);
	myfree(e->item[at].value);
	memmove(e->item + at, e->item + at + 1,
		(e->count - at - 1) * sizeof(*e->item));
	e->count--;
}

static struct mastercf_edit_item *
mastercf_edit_add(struct mastercf_edit *e, size_t at)
{
	e->item = myrealloc_array(e->item, e->count + 1, sizeof(*e->item));
	memmove(e->item + at + 1, e->item + at,
		(e->count - at) * sizeof(*e->item));
	e->count++;
	memset(&e->item[at], 0, sizeof(e->item[at]));
	return &e->item[at];
}

/* "name=value" or "name = value" into an item; -1 if malformed. */
static int
mastercf_edit_option(struct mastercf_edit_item *it, const char *text)
{
	const char *eq = strchr(text, '=');
	const char *end;

	if (eq == NULL)
		return -1;
	for (end = eq; end > text && isspace((unsigned char)end[-1]); end--)
		/* void */;
	if (!mastercf_edit_name_ok(text, (size_t)(end - text)))
		return -1;
	it->name = mystrndup(text, (size_t)(end - text));
	it->value = mystrdup(eq + 1);
	mastercf_edit_trim(it->value);
	return 0;
}

int
mastercf_edit_parse(const char *line, struct mastercf_edit *e, VSTR *why)
{
	const char *cp = line;
	char	   *word;
	bool	    bad = false;
	bool	    options = true;
	bool	    arg_next = false;
	int	    i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < 7; i++) {
		const char *start;

		while (isspace((unsigned char)*cp))
			cp++;
		start = cp;
		while (*cp && !isspace((unsigned char)*cp))
			cp++;
		if (cp == start) {
			vstr_sprintf(why, "missing %s field (need 8 fields)",
				     mastercf_edit_names[i]);
			goto bad;
		}
		e->field[i] = mystrndup(start, (size_t)(cp - start));
	}
	while ((word = mastercf_edit_word(&cp, &bad)) != NULL) {
		char			  *text = mastercf_edit_unbrace(word);
		struct mastercf_edit_item *it;

		/* The same option rule as util/mastercf.c. */
		if (e->count > 0 && options && arg_next) {
			arg_next = false;
		} else if (e->count > 0 && options
			   && (text[0] != '-' || strcmp(text, "--") == 0)) {
			options = false;
		} else if (e->count > 0 && options
			   && (strcmp(text, "-n") == 0
			       || strcmp(text, "-t") == 0
			       || strcmp(text, "-s") == 0)) {
			arg_next = true;
		}
		it = mastercf_edit_add(e, e->count);
		if (e->count > 1 && options && !arg_next && text[0] == '-'
		    && text[1] == 'o') {
			char *opt;

			if (text[2] != 0) {
				opt = mystrdup(text + 2);
			} else {
				char *next = mastercf_edit_word(&cp, &bad);

				if (next == NULL) {
					myfree(word);
					myfree(text);
					vstr_strcpy(why,
						    bad ? "missing '}' in "
							  "command arguments"
							: "-o without "
							  "name=value");
					goto bad;
				}
				opt = mastercf_edit_unbrace(next);
				myfree(next);
			}
			myfree(word);
			if (mastercf_edit_option(it, opt) < 0) {
				vstr_sprintf(why,
					     "bad -o argument \"%s\" (need "
					     "name=value)",
					     opt);
				myfree(opt);
				myfree(text);
				goto bad;
			}
			myfree(opt);
		} else {
			it->word = word;
		}
		myfree(text);
	}
	if (bad) {
		vstr_strcpy(why, "missing '}' in command arguments");
		goto bad;
	}
	if (e->count == 0) {
		vstr_strcpy(why, "missing command name");
		goto bad;
	}
	return 0;
bad:
	mastercf_edit_free(e);
	return -1;
}

void
mastercf_edit_free(struct mastercf_edit *e)
{
	size_t i;
	int    f;

	for (f = 0; f < 7; f++)
		e->field[f] = myfree(e->field[f]);
	for (i = 0; i < e->count; i++) {
		myfree(e->item[i].word);
		myfree(e->item[i].name);
		myfree(e->item[i].value);
	}
	e->item = myfree(e->item);
	e->count = 0;
}

/*
 * "-o { name = value }" for a value that is empty or holds white space;
 * any other value is one word "name=value" (braces in it are harmless
 * there: only a word that starts with '{' is a group).
 */
static bool
mastercf_edit_needs_braces(const char *value)
{
	const char *cp;

	if (*value == 0)
		return true;
	for (cp = value; *cp; cp++)
		if (isspace((unsigned char)*cp))
			return true;
	return false;
}

void
mastercf_edit_render_option(const struct mastercf_edit_item *it, VSTR *out)
{
	if (mastercf_edit_needs_braces(it->value))
		vstr_sprintf_append(out, "-o { %s = %s }", it->name, it->value);
	else
		vstr_sprintf_append(out, "-o %s=%s", it->name, it->value);
}

void
mastercf_edit_render(const struct mastercf_edit *e, VSTR *out)
{
	size_t i;
	int    f;

	/* Single spaces between fields, as postelconf -M prints them. */
	for (f = 0; f < 7; f++) {
		if (f > 0)
			vstr_addch(out, ' ');
		vstr_strcat(out, e->field[f]);
	}
	for (i = 0; i < e->count; i++) {
		const struct mastercf_edit_item *it = &e->item[i];

		if (it->word != NULL) {
			vstr_addch(out, ' ');
			vstr_strcat(out, it->word);
		} else {
			vstr_strcat(out, "\n  ");
			mastercf_edit_render_option(it, out);
		}
	}
}

int
mastercf_edit_field_index(const char *name)
{
	int i;

	for (i = 0; i < MASTERCF_EDIT_FIELDS; i++)
		if (strcmp(name, mastercf_edit_names[i]) == 0)
			return i;
	return -1;
}

const char *
mastercf_edit_field_name(int index)
{
	return index >= 0 && index < MASTERCF_EDIT_FIELDS
		   ? mastercf_edit_names[index]
		   : NULL;
}

void
mastercf_edit_field(const struct mastercf_edit *e, int index, VSTR *out)
{
	size_t i;

	vstr_reset(out);
	if (index < MASTERCF_EDIT_COMMAND) {
		vstr_strcpy(out, e->field[index]);
		return;
	}
	for (i = 0; i < e->count; i++) {
		if (e->item[i].word == NULL)
			continue;
		if (VSTR_LEN(out) > 0)
			vstr_addch(out, ' ');
		vstr_strcat(out, e->item[i].word);
	}
}

/* "-", or digits (at most INT_MAX) with an optional '?' when `query`. */
static bool
mastercf_edit_number_ok(const char *value, bool query)
{
	size_t	  len = strlen(value);
	long long v = 0;
	size_t	  i;

	if (strcmp(value, "-") == 0)
		return true;
	if (query && len > 1 && value[len - 1] == '?')
		len--;
	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)value[i]))
			return false;
		v = v * 10 + (value[i] - '0');
		if (v > INT_MAX)
			return false;
	}
	return true;
}

static int
mastercf_edit_set_command(struct mastercf_edit *e, const char *value, VSTR *why)
{
	struct mastercf_edit parsed;
	VSTR		    *line = vstr_alloc(64);
	size_t		     i;
	size_t		     keep = 0;
	int		     ret;

	/* Parse "- - - - - - - value" so that words follow the same rules. */
	vstr_sprintf(line, "x unix - - - - - %s", value);
	ret = mastercf_edit_parse(VSTR_STR(line), &parsed, why);
	vstr_free(line);
	if (ret < 0)
		return -1;
	for (i = 0; i < parsed.count; i++)
		if (parsed.item[i].word == NULL) {
			mastercf_edit_free(&parsed);
			vstr_strcpy(why, "the command field takes no -o "
					 "options; set them with -P");
			return -1;
		}
	if (parsed.item[0].word[0] == '-') {
		mastercf_edit_free(&parsed);
		vstr_sprintf(why, "bad command name \"%s\"", value);
		return -1;
	}
	/* Keep the -o items, in their order, right after the command name. */
	for (i = 0; i < e->count; i++) {
		if (e->item[i].word != NULL) {
			myfree(e->item[i].word);
			continue;
		}
		e->item[keep++] = e->item[i];
	}
	e->count = keep;
	for (i = 0; i < parsed.count; i++) {
		struct mastercf_edit_item *it;

		it = mastercf_edit_add(e, i == 0 ? 0 : keep + i);
		it->word = parsed.item[i].word;
		parsed.item[i].word = NULL;
	}
	mastercf_edit_free(&parsed);
	return 0;
}

int
mastercf_edit_set_field(struct mastercf_edit *e, int index, const char *value,
			VSTR *why)
{
	enum mastercf_type type;
	const char	  *cp;

	if (index < 0 || index >= MASTERCF_EDIT_FIELDS) {
		vstr_strcpy(why, "unknown field");
		return -1;
	}
	if (*value == 0 || strchr(value, '\n') != NULL) {
		vstr_sprintf(why, "bad %s value: empty or multi-line",
			     mastercf_edit_names[index]);
		return -1;
	}
	if (index == MASTERCF_EDIT_COMMAND)
		return mastercf_edit_set_command(e, value, why);
	for (cp = value; *cp; cp++)
		if (!isgraph((unsigned char)*cp)) {
			vstr_sprintf(why, "bad %s value \"%s\": one word",
				     mastercf_edit_names[index], value);
			return -1;
		}
	switch (index) {
	case 0:
		if (value[0] == '#') {
			vstr_sprintf(why, "bad service name \"%s\"", value);
			return -1;
		}
		break;
	case 1:
		if (mastercf_type_parse(value, &type) < 0) {
			vstr_sprintf(why,
				     "bad type value \"%s\" (inet, unix, "
				     "unix-dgram, fifo, pass)",
				     value);
			return -1;
		}
		break;
	case 2:
	case 3:
	case 4:
		if (strcmp(value, "y") != 0 && strcmp(value, "n") != 0
		    && strcmp(value, "-") != 0) {
			vstr_sprintf(why, "bad %s value \"%s\" (y, n, -)",
				     mastercf_edit_names[index], value);
			return -1;
		}
		break;
	case 5:
	case 6:
		if (!mastercf_edit_number_ok(value, index == 5)) {
			vstr_sprintf(why, "bad %s value \"%s\" (%s)",
				     mastercf_edit_names[index], value,
				     index == 5 ? "seconds, N?, or -"
						: "a number or -");
			return -1;
		}
		break;
	}
	myfree(e->field[index]);
	e->field[index] = mystrdup(value);
	return 0;
}

const char *
mastercf_edit_get_param(const struct mastercf_edit *e, const char *name)
{
	const char *value = NULL;
	size_t	    i;

	for (i = 0; i < e->count; i++)
		if (e->item[i].word == NULL
		    && strcmp(e->item[i].name, name) == 0)
			value = e->item[i].value;
	return value;
}

/* Braces in a value must pair up, or the entry would not read back. */
static bool
mastercf_edit_balanced(const char *value)
{
	int level = 0;

	for (; *value; value++) {
		if (*value == '{')
			level++;
		else if (*value == '}' && --level < 0)
			return false;
	}
	return level == 0;
}

int
mastercf_edit_set_param(struct mastercf_edit *e, const char *name,
			const char *value, VSTR *why)
{
	char  *v;
	size_t i;
	long   last = -1;

	if (!mastercf_edit_name_ok(name, strlen(name))) {
		vstr_sprintf(why, "bad parameter name \"%s\"", name);
		return -1;
	}
	if (strchr(value, '\n') != NULL || !mastercf_edit_balanced(value)) {
		vstr_sprintf(why,
			     "parameter %s: the value holds a newline or "
			     "unbalanced braces",
			     name);
		return -1;
	}
	v = mystrdup(value);
	mastercf_edit_trim(v);
	for (i = 0; i < e->count; i++)
		if (e->item[i].word == NULL
		    && strcmp(e->item[i].name, name) == 0)
			last = (long)i;
	if (last < 0) {
		struct mastercf_edit_item *it;
		size_t			   at = 1;

		/* After the last -o, else right after the command name. */
		for (i = 1; i < e->count; i++)
			if (e->item[i].word == NULL)
				at = i + 1;
		it = mastercf_edit_add(e, at);

		it->name = mystrdup(name);
		it->value = v;
		return 0;
	}
	myfree(e->item[last].value);
	e->item[last].value = v;
	/* Earlier duplicates go, so that the entry says it once. */
	for (i = (size_t)last; i-- > 0;)
		if (e->item[i].word == NULL
		    && strcmp(e->item[i].name, name) == 0)
			mastercf_edit_drop(e, i);
	return 0;
}

size_t
mastercf_edit_del_param(struct mastercf_edit *e, const char *name)
{
	size_t removed = 0;
	size_t i = 0;

	while (i < e->count) {
		if (e->item[i].word == NULL
		    && strcmp(e->item[i].name, name) == 0) {
			mastercf_edit_drop(e, i);
			removed++;
			continue;
		}
		i++;
	}
	return removed;
}

/* ---- service/type/name[=value] ---- */

static bool
mastercf_arg_part_ok(const char *part, bool wild)
{
	const char *cp;

	if (*part == 0)
		return false;
	if (wild && strcmp(part, "*") == 0)
		return true;
	for (cp = part; *cp; cp++)
		if (!isgraph((unsigned char)*cp) || *cp == '*' || *cp == '=')
			return false;
	return true;
}

int
mastercf_arg_parse(const char *text, bool wild, struct mastercf_arg *a,
		   VSTR *why)
{
	const char *eq = strchr(text, '=');
	const char *end = eq ? eq : text + strlen(text);
	const char *slash2;
	const char *slash1;
	char	   *key;
	char	   *cp;

	memset(a, 0, sizeof(*a));
	while (end > text && isspace((unsigned char)end[-1]))
		end--;
	while (text < end && isspace((unsigned char)*text))
		text++;
	key = mystrndup(text, (size_t)(end - text));
	if ((slash2 = strrchr(key, '/')) == NULL) {
		vstr_sprintf(why, "bad argument \"%s\": use service/type/name",
			     key);
		myfree(key);
		return -1;
	}
	for (slash1 = slash2; slash1 > key && slash1[-1] != '/'; slash1--)
		/* void */;
	if (slash1 == key) {
		vstr_sprintf(why, "bad argument \"%s\": use service/type/name",
			     key);
		myfree(key);
		return -1;
	}
	a->service = mystrndup(key, (size_t)(slash1 - 1 - key));
	a->type = mystrndup(slash1, (size_t)(slash2 - slash1));
	a->name = mystrdup(slash2 + 1);
	myfree(key);
	if (!mastercf_arg_part_ok(a->service, wild)
	    || !mastercf_arg_part_ok(a->type, wild)
	    || !mastercf_arg_part_ok(a->name, wild)) {
		vstr_sprintf(why,
			     "bad argument \"%s/%s/%s\": empty part, "
			     "white space or a misplaced '*'",
			     a->service, a->type, a->name);
		mastercf_arg_free(a);
		return -1;
	}
	if (eq != NULL) {
		a->value = mystrdup(eq + 1);
		for (cp = a->value; *cp; cp++)
			if (*cp == '\n') {
				vstr_sprintf(why,
					     "%s/%s/%s: the value holds a "
					     "newline",
					     a->service, a->type, a->name);
				mastercf_arg_free(a);
				return -1;
			}
		mastercf_edit_trim(a->value);
	}
	return 0;
}

void
mastercf_arg_free(struct mastercf_arg *a)
{
	a->service = myfree(a->service);
	a->type = myfree(a->type);
	a->name = myfree(a->name);
	a->value = myfree(a->value);
}

bool
mastercf_arg_match(const char *pattern, const char *text)
{
	return strcmp(pattern, "*") == 0 || strcmp(pattern, text) == 0;
}
