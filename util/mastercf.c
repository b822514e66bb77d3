/*
 * mastercf - master.cf, the service table.  See mastercf.h.
 *
 * Logical lines are read as in main.cf (util/lline: comment and blank
 * lines skipped, white space at the start continues a line).  The command field is split
 * on white space, except that an argument starting with '{' runs to its
 * matching '}' and loses the braces and the white space just inside them
 * (Postfix 3 syntax for arguments holding spaces, e.g. "-o { a = b c }").
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cfg.h"
#include "util/lline.h"
#include "util/mastercf.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

#define MASTERCF_FILE_MAX (16 * 1024 * 1024)

struct MASTERCF {
	struct mastercf_service **svc;
	size_t			  count;
	size_t			  cap;
};

/* A list of strings under construction. */
struct mastercf_list {
	char **item;
	int    count;
	int    cap;
};

static void
mastercf_list_add(struct mastercf_list *list, char *str)
{
	if (list->count + 1 >= list->cap) {
		list->cap = list->cap ? list->cap * 2 : 8;
		list->item = myrealloc_array(list->item, (size_t)list->cap,
					     sizeof(*list->item));
	}
	list->item[list->count++] = str;
	list->item[list->count] = NULL;
}

static char **
mastercf_list_finish(struct mastercf_list *list)
{
	if (list->item == NULL)
		list->item = mycalloc(1, sizeof(*list->item));
	return list->item;
}

static void
mastercf_list_free(char **items)
{
	char **cp;

	if (items == NULL)
		return;
	for (cp = items; *cp; cp++)
		myfree(*cp);
	myfree(items);
}

static void
mastercf_service_free(struct mastercf_service *svc)
{
	myfree(svc->name);
	myfree(svc->raw);
	mastercf_list_free(svc->argv);
	mastercf_list_free(svc->overrides);
	myfree(svc);
}

MASTERCF *
mastercf_free(MASTERCF *m)
{
	size_t i;

	if (m == NULL)
		return NULL;
	for (i = 0; i < m->count; i++)
		mastercf_service_free(m->svc[i]);
	myfree(m->svc);
	myfree(m);
	return NULL;
}

const char *
mastercf_type_name(enum mastercf_type type)
{
	switch (type) {
	case MASTERCF_INET:
		return "inet";
	case MASTERCF_UNIX:
		return "unix";
	case MASTERCF_UNIX_DGRAM:
		return "unix-dgram";
	case MASTERCF_FIFO:
		return "fifo";
	case MASTERCF_PASS:
		return "pass";
	}
	return "unknown";
}

int
mastercf_type_parse(const char *word, enum mastercf_type *type)
{
	static const enum mastercf_type all[] = {
		MASTERCF_INET, MASTERCF_UNIX, MASTERCF_UNIX_DGRAM,
		MASTERCF_FIFO, MASTERCF_PASS,
	};
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(word, mastercf_type_name(all[i])) == 0) {
			*type = all[i];
			return 0;
		}
	}
	return -1;
}

/*
 * Next argument of the command field: a plain word, or a "{ ... }" group
 * (nested braces allowed).  Returns a new string, NULL at the end, or NULL
 * with *bad set on an unbalanced brace.
 */
static char *
mastercf_next_arg(const char **cpp, bool *bad)
{
	const char *cp = *cpp;
	const char *start;
	char	   *arg;

	while (isspace((unsigned char)*cp))
		cp++;
	if (*cp == 0) {
		*cpp = cp;
		return NULL;
	}
	if (*cp == '{') {
		int	    level = 1;
		const char *end;

		start = ++cp;
		for (; *cp && level > 0; cp++) {
			if (*cp == '{')
				level++;
			else if (*cp == '}')
				level--;
		}
		if (level > 0) {
			*bad = true;
			return NULL;
		}
		end = cp - 1; /* the closing brace */
		while (start < end && isspace((unsigned char)*start))
			start++;
		while (end > start && isspace((unsigned char)end[-1]))
			end--;
		arg = mystrndup(start, (size_t)(end - start));
	} else {
		start = cp;
		while (*cp && !isspace((unsigned char)*cp))
			cp++;
		arg = mystrndup(start, (size_t)(cp - start));
	}
	*cpp = cp;
	return arg;
}

/* "name=value" or "name = value" -> "name=value"; NULL if malformed. */
static char *
mastercf_override(const char *text)
{
	const char *eq = strchr(text, '=');
	const char *name_end;
	const char *value;
	const char *cp;
	VSTR	   *out;

	if (eq == NULL)
		return NULL;
	for (name_end = eq;
	     name_end > text && isspace((unsigned char)name_end[-1]);
	     name_end--)
		/* void */;
	if (name_end == text)
		return NULL;
	for (cp = text; cp < name_end; cp++)
		if (!isalnum((unsigned char)*cp) && *cp != '_' && *cp != '-'
		    && *cp != '.')
			return NULL;
	for (value = eq + 1; isspace((unsigned char)*value); value++)
		/* void */;
	out = vstr_alloc(64);
	vstr_memcat(out, text, (size_t)(name_end - text));
	vstr_addch(out, '=');
	vstr_strcat(out, value);
	return vstr_export(out);
}

static int
mastercf_bool(const char *word, bool defval, bool *value)
{
	if (strcmp(word, "-") == 0)
		*value = defval;
	else if (strcmp(word, "y") == 0)
		*value = true;
	else if (strcmp(word, "n") == 0)
		*value = false;
	else
		return -1;
	return 0;
}

/* Whole-string non-negative int; -1 if not. */
static int
mastercf_int(const char *word, size_t len, int *value)
{
	long long v = 0;
	size_t	  i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)word[i]))
			return -1;
		v = v * 10 + (word[i] - '0');
		if (v > INT_MAX)
			return -1;
	}
	*value = (int)v;
	return 0;
}

/* A service name must be usable as a socket name or address. */
static bool
mastercf_name_ok(const char *name, enum mastercf_type type)
{
	const char *cp;

	for (cp = name; *cp; cp++)
		if (!isgraph((unsigned char)*cp))
			return false;
	if (type != MASTERCF_INET
	    && (strchr(name, '/') != NULL || strcmp(name, ".") == 0
		|| strcmp(name, "..") == 0))
		return false;
	return true;
}

static int
mastercf_default_maxproc(const CFG *cfg, int *value, VSTR *why)
{
	VSTR	   *text;
	const char *raw;
	int	    ret = 0;

	if (cfg == NULL) {
		*value = 100;
		return 0;
	}
	raw = cfg_get_text(cfg, "default_process_limit");
	text = vstr_alloc(16);
	if (cfg_expand(cfg, raw, text, why) < 0
	    || mastercf_int(VSTR_STR(text), VSTR_LEN(text), value) < 0) {
		vstr_sprintf(why, "bad default_process_limit \"%s\"", raw);
		ret = -1;
	}
	vstr_free(text);
	return ret;
}

/* Parse one logical line into a service; NULL with why on error. */
static struct mastercf_service *
mastercf_parse_line(const char *path, int lineno, const char *line,
		    const CFG *cfg, VSTR *why)
{
	struct mastercf_service *svc = mycalloc(1, sizeof(*svc));
	struct mastercf_list	 argv = { 0 };
	struct mastercf_list	 overrides = { 0 };
	char			*field[7] = { 0 };
	const char		*cp = line;
	const char		*start;
	VSTR			*raw = vstr_alloc(strlen(line) + 1);
	VSTR			*expanded = vstr_alloc(64);
	VSTR			*reason = vstr_alloc(64);
	const char		*wp;
	char			*arg;
	bool			 bad = false;
	bool			 ok = false;
	bool			 options = true;
	bool			 arg_next = false;
	int			 i;

	svc->line = lineno;
	for (i = 0; i < 7; i++) {
		while (isspace((unsigned char)*cp))
			cp++;
		start = cp;
		while (*cp && !isspace((unsigned char)*cp))
			cp++;
		if (cp == start) {
			vstr_sprintf(why,
				     "%s:%d: missing command field "
				     "(need 8 fields)",
				     path, lineno);
			goto out;
		}
		field[i] = mystrndup(start, (size_t)(cp - start));
	}
	svc->name = mystrdup(field[0]);
	if (mastercf_type_parse(field[1], &svc->type) < 0) {
		vstr_sprintf(why,
			     "%s:%d: bad service type \"%s\" (inet, unix, "
			     "unix-dgram, fifo, pass)",
			     path, lineno, field[1]);
		goto out;
	}
	if (!mastercf_name_ok(field[0], svc->type)) {
		vstr_sprintf(why, "%s:%d: bad service name \"%s\"", path,
			     lineno, field[0]);
		goto out;
	}
	if (mastercf_bool(field[2], svc->type != MASTERCF_INET, &svc->private_)
	    < 0) {
		vstr_sprintf(why, "%s:%d: bad private field \"%s\" (y, n, -)",
			     path, lineno, field[2]);
		goto out;
	}
	if (mastercf_bool(field[3], true, &svc->unpriv) < 0) {
		vstr_sprintf(why, "%s:%d: bad unpriv field \"%s\" (y, n, -)",
			     path, lineno, field[3]);
		goto out;
	}
	if (mastercf_bool(field[4], false, &svc->chroot) < 0) {
		vstr_sprintf(why, "%s:%d: bad chroot field \"%s\" (y, n, -)",
			     path, lineno, field[4]);
		goto out;
	}
	wp = field[5];
	if (strcmp(wp, "-") != 0) {
		size_t len = strlen(wp);

		if (len > 0 && wp[len - 1] == '?') {
			svc->wakeup_conditional = true;
			len--;
		}
		if (mastercf_int(wp, len, &svc->wakeup) < 0) {
			vstr_sprintf(why, "%s:%d: bad wakeup field \"%s\"",
				     path, lineno, wp);
			goto out;
		}
	}
	if (strcmp(field[6], "-") == 0) {
		if (mastercf_default_maxproc(cfg, &svc->maxproc, reason) < 0) {
			vstr_sprintf(why, "%s:%d: %s", path, lineno,
				     VSTR_STR(reason));
			goto out;
		}
	} else if (mastercf_int(field[6], strlen(field[6]), &svc->maxproc)
		   < 0) {
		vstr_sprintf(why, "%s:%d: bad maxproc field \"%s\"", path,
			     lineno, field[6]);
		goto out;
	}
	while ((arg = mastercf_next_arg(&cp, &bad)) != NULL) {
		char *ov;

		/*
		 * Like getopt in the daemon: options end at the first word
		 * that is not one, so pipe's "argv=cmd -o x" keeps its -o.
		 * -n, -t and -s take an argument, as in Postfix daemons.
		 */
		if (argv.count > 0 && options && arg_next) {
			arg_next = false;
		} else if (argv.count > 0 && options
			   && (arg[0] != '-' || strcmp(arg, "--") == 0)) {
			options = false;
		} else if (argv.count > 0 && options
			   && (strcmp(arg, "-n") == 0 || strcmp(arg, "-t") == 0
			       || strcmp(arg, "-s") == 0)) {
			arg_next = true;
		}
		if (argv.count > 0 && options && !arg_next && arg[0] == '-'
		    && arg[1] == 'o') {
			char *text;

			if (arg[2] != 0)
				text = mystrdup(arg + 2);
			else
				text = mastercf_next_arg(&cp, &bad);
			myfree(arg);
			if (text == NULL) {
				if (bad)
					break;
				vstr_sprintf(why,
					     "%s:%d: -o without "
					     "name=value",
					     path, lineno);
				goto out;
			}
			ov = mastercf_override(text);
			if (ov == NULL) {
				vstr_sprintf(why,
					     "%s:%d: bad -o argument "
					     "\"%s\" (need name=value)",
					     path, lineno, text);
				myfree(text);
				goto out;
			}
			myfree(text);
			mastercf_list_add(&overrides, ov);
			continue;
		}
		if (cfg != NULL) {
			if (cfg_expand_known(cfg, arg, expanded, reason) < 0) {
				vstr_sprintf(why, "%s:%d: argument \"%s\": %s",
					     path, lineno, arg,
					     VSTR_STR(reason));
				myfree(arg);
				goto out;
			}
			myfree(arg);
			arg = mystrdup(VSTR_STR(expanded));
		}
		mastercf_list_add(&argv, arg);
	}
	if (bad) {
		vstr_sprintf(why, "%s:%d: missing '}' in command arguments",
			     path, lineno);
		goto out;
	}
	if (argv.count == 0) {
		vstr_sprintf(why, "%s:%d: missing command name", path, lineno);
		goto out;
	}
	/* One line, single spaces, as written: for postelconf -M. */
	for (cp = line; *cp;) {
		if (isspace((unsigned char)*cp)) {
			while (isspace((unsigned char)*cp))
				cp++;
			if (*cp && VSTR_LEN(raw) > 0)
				vstr_addch(raw, ' ');
		} else {
			vstr_addch(raw, *cp++);
		}
	}
	ok = true;
out:
	svc->argc = argv.count;
	svc->argv = mastercf_list_finish(&argv);
	svc->command = svc->argv[0];
	svc->noverrides = overrides.count;
	svc->overrides = mastercf_list_finish(&overrides);
	svc->raw = vstr_export(raw);
	vstr_free(expanded);
	vstr_free(reason);
	for (i = 0; i < 7; i++)
		myfree(field[i]);
	if (!ok) {
		mastercf_service_free(svc);
		return NULL;
	}
	return svc;
}

static int
mastercf_add(MASTERCF *m, const char *path, struct mastercf_service *svc,
	     VSTR *why)
{
	const struct mastercf_service *old;

	if ((old = mastercf_find(m, svc->name, svc->type)) != NULL) {
		vstr_sprintf(why,
			     "%s:%d: duplicate service %s/%s (first "
			     "defined at line %d)",
			     path, svc->line, svc->name,
			     mastercf_type_name(svc->type), old->line);
		return -1;
	}
	if (m->count == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->svc = myrealloc_array(m->svc, m->cap, sizeof(*m->svc));
	}
	m->svc[m->count++] = svc;
	return 0;
}

static int
mastercf_finish_line(MASTERCF *m, const char *path, int lineno, VSTR *line,
		     const CFG *cfg, VSTR *why)
{
	struct mastercf_service *svc;

	if ((svc = mastercf_parse_line(path, lineno, VSTR_STR(line), cfg, why))
	    == NULL)
		return -1;
	if (mastercf_add(m, path, svc, why) < 0) {
		mastercf_service_free(svc);
		return -1;
	}
	return 0;
}

MASTERCF *
mastercf_open_buffer(const char *path, const char *buf, size_t len,
		     const CFG *cfg, VSTR *why)
{
	MASTERCF *m = mycalloc(1, sizeof(*m));
	VSTR	 *logical = vstr_alloc(256);
	LLINE	  ll;
	int	  lineno;
	int	  ret;

	lline_init(&ll, path, buf, len, LLINE_JOIN_SPACE, "service");
	while ((ret = lline_next(&ll, logical, &lineno, why)) > 0)
		if (mastercf_finish_line(m, path, lineno, logical, cfg, why)
		    < 0) {
			ret = -1;
			break;
		}
	vstr_free(logical);
	if (ret < 0)
		return mastercf_free(m);
	return m;
}

MASTERCF *
mastercf_open(const char *path, const CFG *cfg, VSTR *why)
{
	VSTR	   *text = vstr_alloc(4096);
	MASTERCF   *m = NULL;
	struct stat st;
	ssize_t	    got;
	int	    fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		vstr_sprintf(why, "open %s: %m", path);
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		vstr_sprintf(why, "%s: not a regular file", path);
		close(fd);
		goto out;
	}
	vstr_set_limit(text, MASTERCF_FILE_MAX);
	for (;;) {
		if (vstr_space(text, 8192) < 0) {
			vstr_sprintf(why, "%s: file too large", path);
			close(fd);
			goto out;
		}
		got = read(fd, VSTR_END(text), 8192);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			vstr_sprintf(why, "read %s: %m", path);
			close(fd);
			goto out;
		}
		if (got == 0)
			break;
		vstr_set_len(text, VSTR_LEN(text) + (size_t)got);
	}
	close(fd);
	m = mastercf_open_buffer(path, VSTR_STR(text), VSTR_LEN(text), cfg,
				 why);
out:
	vstr_free(text);
	return m;
}

size_t
mastercf_count(const MASTERCF *m)
{
	return m->count;
}

const struct mastercf_service *
mastercf_at(const MASTERCF *m, size_t i)
{
	return i < m->count ? m->svc[i] : NULL;
}

const struct mastercf_service *
mastercf_find(const MASTERCF *m, const char *name, enum mastercf_type type)
{
	size_t i;

	for (i = 0; i < m->count; i++)
		if (m->svc[i]->type == type
		    && strcmp(m->svc[i]->name, name) == 0)
			return m->svc[i];
	return NULL;
}
