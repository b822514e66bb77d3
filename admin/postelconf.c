/*
 * postelconf - show and edit main.cf and master.cf, like postconf(1).
 *
 * Reading: every parameter (-p, the default), the ones named, only those
 * set in main.cf (-n) or the defaults (-d), as "name = value" or the value
 * alone (-h), raw or expanded (-x); master.cf entries (-M), their fields
 * (-F) and their -o parameters (-P); the texts of delivery status
 * notifications (-t).  Editing (-e, bare name=value, -X, -#, -M, -F and
 * -P with name=value, -MX, -M#, -PX) rewrites the file as text: the
 * setting or service and its continuation lines are replaced, commented
 * out or removed, every other byte stays as it was, new settings go at
 * the end.  A new file is written next to the old one, fsync()ed and
 * renamed over it; a file that would not parse is never written.
 *
 * Errors go to stderr as "postelconf: fatal: ..." with sysexits codes:
 * EX_USAGE for bad usage, EX_CONFIG for a bad configuration file (naming
 * file:line), EX_IOERR when a file cannot be read or written.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "util/cfg.h"
#include "util/cfg_compat.h"
#include "util/dsn.h"
#include "util/mastercf.h"
#include "util/mastercf_edit.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/param.h"
#include "util/strutil.h"
#include "util/vstr.h"

#define CONF_FILE_MAX (16 * 1024 * 1024)

/*
 * Reasons for fatal errors live in one static string: reachable at exit,
 * so that leak checkers stay quiet when msg_fatal ends the process.
 */
static VSTR *conf_why;
static VSTR *conf_msg;	  /* bad_usage() text */
static VSTR *conf_master; /* path of master.cf, for open_master() */

/* Which file or table an invocation is about. */
enum conf_target {
	TARGET_MAIN,	  /* main.cf (-p) */
	TARGET_MASTER,	  /* -M: whole entries */
	TARGET_FIELDS,	  /* -F */
	TARGET_PARAMS,	  /* -P */
	TARGET_TEMPLATES, /* -t */
};

struct conf_opts {
	const char	*confdir;
	bool		 value_only;	/* -h */
	bool		 expand;	/* -x */
	bool		 edit;		/* -e */
	bool		 remove;	/* -X */
	bool		 show_set;	/* -n */
	bool		 show_defaults; /* -d */
	bool		 comment;	/* -# */
	enum conf_target target;
};

/* One physical line of a file being edited. */
struct conf_line {
	const char *text;
	size_t	    len; /* without the newline */
	bool	    newline;
};

struct conf_file {
	char		 *path;
	VSTR		 *data;
	struct conf_line *line;
	size_t		  count;
	bool		  exists;
	mode_t		  mode;
};

static _Noreturn void
usage(void)
{
	msg_fatal_status(EX_USAGE,
			 "usage: postelconf [-c config_dir] "
			 "[-p] [-d | -n] [-h] [-x] [name ...] "
			 "| [-e] name=value ... | -X name ... | -# name ... "
			 "| -M [-x] [name/type[=entry] ...] "
			 "| -MX name/type ... | -M# name/type ... "
			 "| -F [-hx] [name/type/field[=value] ...] "
			 "| -P [-hx] [name/type/param[=value] ...] "
			 "| -PX name/type/param ... | -t [-x] [template ...]");
}

/*
 * Unused and obsolete names in main.cf and master.cf's -o options, as
 * postel check reports them.  A master.cf that cannot be read is the
 * business of postelconf -M and postel check: main.cf is then checked
 * on its own.
 */
static void
warn_unused(const CFG *cfg, const char *confdir)
{
	VSTR	 *path = vstr_alloc(100);
	VSTR	 *why = vstr_alloc(100);
	MASTERCF *mcf;

	vstr_sprintf(path, "%s/master.cf", confdir);
	mcf = mastercf_open(VSTR_STR(path), cfg, why);
	(void)cfg_compat_check(cfg, mcf, VSTR_STR(path));
	mastercf_free(mcf);
	vstr_free(path);
	vstr_free(why);
}

static CFG *
open_main(const char *confdir)
{
	VSTR *why = conf_why;
	CFG  *cfg = cfg_open(confdir, why);

	if (cfg == NULL)
		msg_fatal_status(str_has_prefix(VSTR_STR(why), "open ")
					 || str_has_prefix(VSTR_STR(why),
							   "read ")
				     ? EX_IOERR
				     : EX_CONFIG,
				 "%s", VSTR_STR(why));
	return cfg;
}

static _Noreturn void __attribute__((format(printf, 1, 2)))
bad_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vstr_reset(conf_msg);
	vstr_vsprintf_append(conf_msg, fmt, ap);
	va_end(ap);
	msg_fatal_status(EX_USAGE, "%s", VSTR_STR(conf_msg));
}

/* ---- reading ---- */

static void
print_value(const struct conf_opts *opts, const CFG *cfg, const char *name,
	    const char *raw, VSTR *buf)
{
	const char *value = raw;

	if (opts->expand) {
		VSTR *why = conf_why;

		if (cfg_expand(cfg, raw, buf, why) < 0)
			msg_fatal_status(EX_CONFIG, "parameter %s: %s", name,
					 VSTR_STR(why));
		value = VSTR_STR(buf);
	}
	if (opts->value_only)
		printf("%s\n", value);
	else if (*value)
		printf("%s = %s\n", name, value);
	else
		printf("%s =\n", name);
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Table names plus names set in main.cf, sorted, without duplicates. */
static const char **
all_names(const CFG *cfg, bool table, bool set, size_t *count)
{
	size_t			ntable = 0;
	const struct param_def *defs = param_table(&ntable);
	size_t			nset = cfg_count(cfg);
	const char **names = mymalloc_array(ntable + nset + 1, sizeof(*names));
	size_t	     n = 0;
	size_t	     i;
	size_t	     out;

	if (table)
		for (i = 0; i < ntable; i++)
			names[n++] = defs[i].name;
	if (set)
		for (i = 0; i < nset; i++)
			names[n++] = cfg_name_at(cfg, i);
	qsort(names, n, sizeof(*names), compare_names);
	for (i = out = 0; i < n; i++)
		if (out == 0 || strcmp(names[out - 1], names[i]) != 0)
			names[out++] = names[i];
	*count = out;
	return names;
}

static int
show_params(const struct conf_opts *opts, CFG *cfg, char **args, int nargs)
{
	VSTR	    *buf = vstr_alloc(256);
	const char **names = NULL;
	size_t	     count;
	size_t	     i;

	if (nargs > 0) {
		count = (size_t)nargs;
	} else if (opts->show_set) {
		names = all_names(cfg, false, true, &count);
	} else {
		names = all_names(cfg, true, !opts->show_defaults, &count);
	}
	for (i = 0; i < count; i++) {
		const char *name = names ? names[i] : args[i];
		const char *raw;

		if (opts->show_defaults) {
			raw = cfg_get_default(cfg, name);
		} else if (opts->show_set) {
			raw = cfg_line(cfg, name) > 0 ? cfg_get_raw(cfg, name)
						      : NULL;
			if (raw == NULL && names == NULL)
				continue; /* named but not in main.cf */
		} else {
			raw = cfg_get_raw(cfg, name);
			if (raw == NULL)
				raw = cfg_get_default(cfg, name);
		}
		if (raw == NULL) {
			msg_warn("%s: unknown parameter", name);
			continue;
		}
		print_value(opts, cfg, name, raw, buf);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	myfree(names);
	vstr_free(buf);
	return EX_OK;
}

/* ---- text files being edited ---- */

/* Index the physical lines of file->data. */
static void
conf_file_split(struct conf_file *file)
{
	const char *cp = VSTR_STR(file->data);
	const char *end = VSTR_END(file->data);
	size_t	    cap = 0;

	file->line = myfree(file->line);
	file->count = 0;
	while (cp < end) {
		const char *eol = memchr(cp, '\n', (size_t)(end - cp));

		if (file->count == cap) {
			cap = cap ? cap * 2 : 64;
			file->line = myrealloc_array(file->line, cap,
						     sizeof(*file->line));
		}
		file->line[file->count].text = cp;
		file->line[file->count].len = eol ? (size_t)(eol - cp)
						  : (size_t)(end - cp);
		file->line[file->count].newline = eol != NULL;
		file->count++;
		cp = eol ? eol + 1 : end;
	}
}

static void
conf_file_load(struct conf_file *file, const char *path, bool must_exist)
{
	struct stat st;
	ssize_t	    got;
	int	    fd;

	file->path = mystrdup(path);
	file->data = vstr_alloc(4096);
	file->line = NULL;
	file->count = 0;
	file->exists = false;
	file->mode = 0644;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT && !must_exist)
			return;
		msg_fatal_status(EX_IOERR, "open %s: %m", path);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		msg_fatal_status(EX_IOERR, "%s: not a regular file", path);
	file->exists = true;
	file->mode = st.st_mode & 07777;
	vstr_set_limit(file->data, CONF_FILE_MAX);
	for (;;) {
		if (vstr_space(file->data, 8192) < 0)
			msg_fatal_status(EX_IOERR, "%s: file too large", path);
		got = read(fd, VSTR_END(file->data), 8192);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			msg_fatal_status(EX_IOERR, "read %s: %m", path);
		if (got == 0)
			break;
		vstr_set_len(file->data, VSTR_LEN(file->data) + (size_t)got);
	}
	close(fd);
	conf_file_split(file);
}

static void
conf_file_free(struct conf_file *file)
{
	myfree(file->path);
	vstr_free(file->data);
	myfree(file->line);
}

/* Blank or comment line: neither starts nor ends a logical line. */
static bool
conf_line_skip(const struct conf_line *ln)
{
	size_t i = 0;

	while (i < ln->len && isspace((unsigned char)ln->text[i]))
		i++;
	return i == ln->len || ln->text[i] == '#';
}

static bool
conf_line_start(const struct conf_line *ln)
{
	return !conf_line_skip(ln) && !isspace((unsigned char)ln->text[0]);
}

/* Last physical line of the logical line starting at `start`. */
static size_t
conf_entry_end(const struct conf_file *file, size_t start)
{
	size_t last = start;
	size_t j;

	for (j = start + 1; j < file->count; j++) {
		if (conf_line_skip(&file->line[j]))
			continue;
		if (conf_line_start(&file->line[j]))
			break;
		last = j;
	}
	return last;
}

/* The first `n` words of a logical line start, joined by '/'. */
static void
conf_entry_key(const struct conf_line *ln, int nwords, VSTR *key)
{
	size_t i = 0;
	int    w;

	vstr_reset(key);
	for (w = 0; w < nwords; w++) {
		size_t start;

		while (i < ln->len && isspace((unsigned char)ln->text[i]))
			i++;
		start = i;
		while (i < ln->len && !isspace((unsigned char)ln->text[i])
		       && (nwords > 1 || ln->text[i] != '='))
			i++;
		if (w > 0)
			vstr_addch(key, '/');
		vstr_memcat(key, ln->text + start, i - start);
	}
}

/*
 * Find entries whose key matches; return the index of the first line of the
 * last match (the one in effect) or -1.  All matches are flagged in `hit`.
 */
static long
conf_find(const struct conf_file *file, const char *key, int nwords, bool *hit)
{
	VSTR  *k = vstr_alloc(64);
	long   found = -1;
	size_t i;

	for (i = 0; i < file->count; i++) {
		if (!conf_line_start(&file->line[i]))
			continue;
		conf_entry_key(&file->line[i], nwords, k);
		if (strcmp(VSTR_STR(k), key) == 0) {
			size_t end = conf_entry_end(file, i);
			size_t j;

			for (j = i; j <= end; j++)
				hit[j] = true;
			found = (long)i;
		}
	}
	vstr_free(k);
	return found;
}

/* Write `text` to path atomically: temp file, fsync, rename, fsync dir. */
static void
conf_write(const char *path, const VSTR *text, mode_t mode)
{
	VSTR	   *tmp = vstr_alloc(256);
	VSTR	   *dir = vstr_alloc(256);
	const char *slash;
	int	    fd;

	vstr_sprintf(tmp, "%s.postelconf.%ld", path, (long)getpid());
	fd = open(VSTR_STR(tmp),
		  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		msg_fatal_status(EX_IOERR, "create %s: %m", VSTR_STR(tmp));
	if (fchmod(fd, mode) < 0)
		msg_warn("chmod %s: %m", VSTR_STR(tmp));
	if (write_full(fd, VSTR_STR(text), VSTR_LEN(text), -1) < 0) {
		(void)unlink(VSTR_STR(tmp));
		msg_fatal_status(EX_IOERR, "write %s: %m", VSTR_STR(tmp));
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		(void)unlink(VSTR_STR(tmp));
		msg_fatal_status(EX_IOERR, "write %s: %m", VSTR_STR(tmp));
	}
	if (rename(VSTR_STR(tmp), path) < 0) {
		(void)unlink(VSTR_STR(tmp));
		msg_fatal_status(EX_IOERR, "rename %s to %s: %m", VSTR_STR(tmp),
				 path);
	}
	slash = strrchr(path, '/');
	if (slash != NULL)
		vstr_memcpy(dir, path,
			    slash == path ? 1 : (size_t)(slash - path));
	else
		vstr_strcpy(dir, ".");
	fd = open(VSTR_STR(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	vstr_free(tmp);
	vstr_free(dir);
}

/*
 * Copy the file without the flagged lines, with the replacement (if any)
 * where the entry in effect started (replace_at).
 */
static void
conf_rebuild(const struct conf_file *file, const bool *drop, long replace_at,
	     const char *replacement, VSTR *out)
{
	size_t i;

	for (i = 0; i < file->count; i++) {
		if ((long)i == replace_at && replacement != NULL) {
			vstr_strcat(out, replacement);
			vstr_addch(out, '\n');
		}
		if (drop[i])
			continue;
		vstr_memcat(out, file->line[i].text, file->line[i].len);
		if (file->line[i].newline)
			vstr_addch(out, '\n');
	}
}

static void
conf_apply(struct conf_file *file, const char *key, int nwords,
	   const char *replacement)
{
	bool *drop = mycalloc(file->count + 1, sizeof(*drop));
	VSTR *out = vstr_alloc(VSTR_LEN(file->data) + 256);
	long  at = conf_find(file, key, nwords, drop);

	/*
	 * Only the entry in effect is replaced in place; earlier duplicates
	 * go, so that the file says the value once.
	 */
	conf_rebuild(file, drop, at, replacement, out);
	if (at < 0 && replacement != NULL) {
		if (VSTR_LEN(out) > 0 && VSTR_END(out)[-1] != '\n')
			vstr_addch(out, '\n');
		vstr_strcat(out, replacement);
		vstr_addch(out, '\n');
	}
	/* Re-index the edited text so that the next edit sees it. */
	vstr_memcpy(file->data, VSTR_STR(out), VSTR_LEN(out));
	conf_file_split(file);
	myfree(drop);
	vstr_free(out);
}

/*
 * Comment out every entry with this key: '#' before each of its physical
 * lines, so that no continuation line is left to join the line above.
 * Returns how many entries there were.
 */
static size_t
conf_comment(struct conf_file *file, const char *key, int nwords)
{
	bool  *hit = mycalloc(file->count + 1, sizeof(*hit));
	VSTR  *out = vstr_alloc(VSTR_LEN(file->data) + 256);
	size_t found = 0;
	size_t i;

	(void)conf_find(file, key, nwords, hit);
	for (i = 0; i < file->count; i++) {
		if (hit[i] && conf_line_start(&file->line[i]))
			found++;
		if (hit[i] && !conf_line_skip(&file->line[i]))
			vstr_addch(out, '#');
		vstr_memcat(out, file->line[i].text, file->line[i].len);
		if (file->line[i].newline)
			vstr_addch(out, '\n');
	}
	vstr_memcpy(file->data, VSTR_STR(out), VSTR_LEN(out));
	conf_file_split(file);
	myfree(hit);
	vstr_free(out);
	return found;
}

/* Parse the edited main.cf before writing it: never write a broken file. */
static void
check_main_text(const struct conf_file *file)
{
	VSTR *why = conf_why;
	CFG  *cfg = cfg_open_buffer(NULL, file->path, VSTR_STR(file->data),
				    VSTR_LEN(file->data), why);

	if (cfg == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	cfg_free(cfg);
}

static int
edit_main(const struct conf_opts *opts, char **args, int nargs)
{
	struct conf_file file;
	VSTR		*path = vstr_alloc(256);
	VSTR		*line = vstr_alloc(256);
	CFG		*cfg;
	int		 i;

	vstr_sprintf(path, "%s/main.cf", opts->confdir);
	/* Refuse to edit a file we cannot parse: its lines would be lost. */
	cfg = open_main(opts->confdir);
	cfg_free(cfg);
	conf_file_load(&file, VSTR_STR(path), opts->remove || opts->comment);
	for (i = 0; i < nargs; i++) {
		const char *arg = args[i];
		const char *eq = strchr(arg, '=');
		size_t	    name_len;
		char	   *name;
		char	   *value;

		if (opts->comment) {
			if (eq != NULL
			    || !mastercf_edit_name_ok(arg, strlen(arg)))
				bad_usage("bad parameter name: \"%s\"", arg);
			if (conf_comment(&file, arg, 1) == 0)
				msg_warn("%s: %s is not set there", file.path,
					 arg);
			continue;
		}
		if (opts->remove) {
			if (eq != NULL
			    || !mastercf_edit_name_ok(arg, strlen(arg)))
				bad_usage("bad parameter name: "
					  "\"%s\"",
					  arg);
			conf_apply(&file, arg, 1, NULL);
			continue;
		}
		if (eq == NULL)
			bad_usage("missing '=' in \"%s\"", arg);
		name = mystrndup(arg, (size_t)(eq - arg));
		str_trim(name);
		name_len = strlen(name);
		if (!mastercf_edit_name_ok(name, name_len))
			bad_usage("bad parameter name in \"%s\"", arg);
		value = mystrdup(eq + 1);
		if (strchr(value, '\n') != NULL)
			bad_usage("parameter %s: value holds a "
				  "newline",
				  name);
		if (param_lookup(name) == NULL)
			msg_warn("%s: unknown parameter", name);
		vstr_reset(line);
		if (*str_trim(value))
			vstr_sprintf(line, "%s = %s", name, str_trim(value));
		else
			vstr_sprintf(line, "%s =", name);
		conf_apply(&file, name, 1, VSTR_STR(line));
		myfree(name);
		myfree(value);
	}
	check_main_text(&file);
	conf_write(file.path, file.data, file.exists ? file.mode : 0644);
	conf_file_free(&file);
	vstr_free(path);
	vstr_free(line);
	return EX_OK;
}

/* ---- master.cf ---- */

/* Split "name/type"; the type must be known. */
static void
split_service_key(const char *key, size_t len, VSTR *name,
		  enum mastercf_type *type)
{
	const char *slash = memrchr(key, '/', len);
	char	   *tword;

	if (slash == NULL || slash == key || (size_t)(slash - key) + 1 == len)
		bad_usage("bad service \"%.*s\": use "
			  "name/type",
			  (int)len, key);
	tword = mystrndup(slash + 1, len - (size_t)(slash - key) - 1);
	if (mastercf_type_parse(tword, type) < 0)
		bad_usage("bad service type \"%s\"", tword);
	myfree(tword);
	vstr_memcpy(name, key, (size_t)(slash - key));
}

static MASTERCF *open_master(const char *confdir, const CFG *cfg);
static void	 master_print(const struct conf_opts *opts, const CFG *cfg,
			      const char *path, const struct mastercf_service *svc);

static int
master_show(const struct conf_opts *opts, char **args, int nargs)
{
	CFG	 *cfg = open_main(opts->confdir);
	MASTERCF *m = open_master(opts->confdir, cfg);
	VSTR	 *name = vstr_alloc(64);
	size_t	  i;
	int	  a;

	if (nargs == 0) {
		for (i = 0; i < mastercf_count(m); i++)
			master_print(opts, cfg, VSTR_STR(conf_master),
				     mastercf_at(m, i));
	}
	for (a = 0; a < nargs; a++) {
		enum mastercf_type	       type;
		const struct mastercf_service *svc;

		split_service_key(args[a], strlen(args[a]), name, &type);
		if ((svc = mastercf_find(m, VSTR_STR(name), type)) != NULL)
			master_print(opts, cfg, VSTR_STR(conf_master), svc);
		else
			msg_warn("%s: no such service in %s", args[a],
				 VSTR_STR(conf_master));
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	mastercf_free(m);
	cfg_free(cfg);
	vstr_free(name);
	return EX_OK;
}

static int
master_edit(const struct conf_opts *opts, char **args, int nargs)
{
	struct conf_file file;
	VSTR		*path = vstr_alloc(256);
	VSTR		*why = conf_why;
	VSTR		*name = vstr_alloc(64);
	VSTR		*key = vstr_alloc(64);
	CFG		*cfg = open_main(opts->confdir);
	MASTERCF	*m;
	int		 a;

	vstr_sprintf(path, "%s/master.cf", opts->confdir);
	conf_file_load(&file, VSTR_STR(path), opts->remove || opts->comment);
	if ((m = mastercf_open_buffer(file.path, VSTR_STR(file.data),
				      VSTR_LEN(file.data), cfg, why))
	    == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	m = mastercf_free(m);
	for (a = 0; a < nargs; a++) {
		const char	  *arg = args[a];
		const char	  *eq = strchr(arg, '=');
		enum mastercf_type type;

		if (opts->remove || opts->comment) {
			if (eq != NULL)
				bad_usage("-M%s takes name/type, "
					  "not \"%s\"",
					  opts->remove ? "X" : "#", arg);
			split_service_key(arg, strlen(arg), name, &type);
			vstr_sprintf(key, "%s/%s", VSTR_STR(name),
				     mastercf_type_name(type));
			if (opts->remove)
				conf_apply(&file, VSTR_STR(key), 2, NULL);
			else if (conf_comment(&file, VSTR_STR(key), 2) == 0)
				msg_warn("%s: no service %s", file.path,
					 VSTR_STR(key));
			continue;
		}
		if (eq == NULL)
			bad_usage("missing '=' in \"%s\"", arg);
		split_service_key(arg, (size_t)(eq - arg), name, &type);
		vstr_sprintf(key, "%s/%s", VSTR_STR(name),
			     mastercf_type_name(type));
		/* The entry must parse and be the service it is stored as. */
		m = mastercf_open_buffer("entry", eq + 1, strlen(eq + 1), cfg,
					 why);
		if (m == NULL)
			bad_usage("bad master.cf entry for %s: "
				  "%s",
				  VSTR_STR(key), VSTR_STR(why));
		if (mastercf_count(m) != 1
		    || mastercf_find(m, VSTR_STR(name), type) == NULL)
			bad_usage("the entry for %s must "
				  "describe %s and nothing else",
				  VSTR_STR(key), VSTR_STR(key));
		conf_apply(&file, VSTR_STR(key), 2, mastercf_at(m, 0)->raw);
		m = mastercf_free(m);
	}
	if ((m = mastercf_open_buffer(file.path, VSTR_STR(file.data),
				      VSTR_LEN(file.data), cfg, why))
	    == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	mastercf_free(m);
	conf_write(file.path, file.data, file.exists ? file.mode : 0644);
	conf_file_free(&file);
	cfg_free(cfg);
	vstr_free(path);
	vstr_free(name);
	vstr_free(key);
	return EX_OK;
}

/* ---- master.cf fields (-F) and -o parameters (-P) ---- */

/* The configuration in effect and master.cf, or a fatal error. */
static MASTERCF *
open_master(const char *confdir, const CFG *cfg)
{
	VSTR	 *why = conf_why;
	MASTERCF *m;

	vstr_sprintf(conf_master, "%s/master.cf", confdir);
	if ((m = mastercf_open(VSTR_STR(conf_master), cfg, why)) == NULL)
		msg_fatal_status(strncmp(VSTR_STR(why), "open ", 5) == 0
				     ? EX_IOERR
				     : EX_CONFIG,
				 "%s", VSTR_STR(why));
	return m;
}

/* A service's entry as words; raw text was parsed once, so it parses. */
static void
service_words(const char *path, const struct mastercf_service *svc,
	      struct mastercf_edit *e)
{
	if (mastercf_edit_parse(svc->raw, e, conf_why) < 0)
		msg_fatal_status(EX_CONFIG, "%s:%d: %s", path, svc->line,
				 VSTR_STR(conf_why));
}

/* -x: $name of main.cf replaced, other $-forms (pipe's) kept. */
static const char *
expand_known(const struct conf_opts *opts, const CFG *cfg, const char *what,
	     const char *text, VSTR *buf)
{
	if (!opts->expand)
		return text;
	vstr_reset(buf);
	if (cfg_expand_known(cfg, text, buf, conf_why) < 0)
		msg_fatal_status(EX_CONFIG, "%s: %s", what, VSTR_STR(conf_why));
	return VSTR_STR(buf);
}

static void
print_setting(const struct conf_opts *opts, const char *key, const char *value)
{
	if (opts->value_only)
		printf("%s\n", value);
	else if (*value)
		printf("%s = %s\n", key, value);
	else
		printf("%s =\n", key);
}

/* Patterns from the command line; none means everything. */
struct conf_patterns {
	struct mastercf_arg *arg;
	int		     count;
	bool		    *used;
};

static void
patterns_parse(struct conf_patterns *p, char **args, int nargs)
{
	int i;

	p->count = nargs;
	p->arg = mycalloc((size_t)nargs + 1, sizeof(*p->arg));
	p->used = mycalloc((size_t)nargs + 1, sizeof(*p->used));
	for (i = 0; i < nargs; i++) {
		if (strchr(args[i], '=') != NULL)
			bad_usage("\"%s\": printing takes "
				  "service/type/name patterns; to edit, "
				  "give only name=value arguments",
				  args[i]);
		if (mastercf_arg_parse(args[i], true, &p->arg[i], conf_why) < 0)
			bad_usage("%s", VSTR_STR(conf_why));
	}
}

static bool
patterns_match(struct conf_patterns *p, const char *service, const char *type,
	       const char *name)
{
	bool hit = p->count == 0;
	int  i;

	for (i = 0; i < p->count; i++)
		if (mastercf_arg_match(p->arg[i].service, service)
		    && mastercf_arg_match(p->arg[i].type, type)
		    && mastercf_arg_match(p->arg[i].name, name)) {
			p->used[i] = hit = true;
		}
	return hit;
}

static void
patterns_free(struct conf_patterns *p, const char *path)
{
	int i;

	for (i = 0; i < p->count; i++) {
		if (!p->used[i])
			msg_warn("%s: no match for %s/%s/%s", path,
				 p->arg[i].service, p->arg[i].type,
				 p->arg[i].name);
		mastercf_arg_free(&p->arg[i]);
	}
	myfree(p->arg);
	myfree(p->used);
}

static int
master_items_show(const struct conf_opts *opts, char **args, int nargs)
{
	CFG		    *cfg = open_main(opts->confdir);
	MASTERCF	    *m = open_master(opts->confdir, cfg);
	const char	    *path = VSTR_STR(conf_master);
	VSTR		    *key;
	VSTR		    *value;
	VSTR		    *buf;
	struct conf_patterns pat;
	size_t		     i;
	size_t		     j;
	int		     f;

	patterns_parse(&pat, args, nargs);
	key = vstr_alloc(128);
	value = vstr_alloc(128);
	buf = vstr_alloc(128);
	for (i = 0; i < mastercf_count(m); i++) {
		const struct mastercf_service *svc = mastercf_at(m, i);
		const char	    *type = mastercf_type_name(svc->type);
		struct mastercf_edit e;

		service_words(path, svc, &e);
		if (opts->target == TARGET_FIELDS) {
			for (f = 0; f < MASTERCF_EDIT_FIELDS; f++) {
				const char *fname = mastercf_edit_field_name(f);

				if (!patterns_match(&pat, svc->name, type,
						    fname))
					continue;
				mastercf_edit_field(&e, f, value);
				vstr_sprintf(key, "%s/%s/%s", svc->name, type,
					     fname);
				print_setting(opts, VSTR_STR(key),
					      expand_known(opts, cfg,
							   VSTR_STR(key),
							   VSTR_STR(value),
							   buf));
			}
		}
		for (j = 0; opts->target == TARGET_PARAMS && j < e.count; j++) {
			const struct mastercf_edit_item *it = &e.item[j];

			/* Only the last of duplicates counts, once. */
			if (it->word != NULL
			    || mastercf_edit_get_param(&e, it->name)
				   != it->value
			    || !patterns_match(&pat, svc->name, type, it->name))
				continue;
			vstr_sprintf(key, "%s/%s/%s", svc->name, type,
				     it->name);
			print_setting(opts, VSTR_STR(key),
				      expand_known(opts, cfg, VSTR_STR(key),
						   it->value, buf));
		}
		mastercf_edit_free(&e);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	patterns_free(&pat, path);
	mastercf_free(m);
	cfg_free(cfg);
	vstr_free(key);
	vstr_free(value);
	vstr_free(buf);
	return EX_OK;
}

/* The logical line of the entry starting at `start`, continuation joined. */
static void
conf_entry_text(const struct conf_file *file, size_t start, VSTR *out)
{
	size_t end = conf_entry_end(file, start);
	size_t j;

	vstr_reset(out);
	for (j = start; j <= end; j++) {
		if (conf_line_skip(&file->line[j]))
			continue;
		if (VSTR_LEN(out) > 0)
			vstr_addch(out, ' ');
		vstr_memcat(out, file->line[j].text, file->line[j].len);
	}
}

/* One -F or -P edit (or -PX removal) of one service's entry. */
static void
master_item_edit(const struct conf_opts *opts, struct conf_file *file,
		 const char *arg)
{
	struct mastercf_arg  a;
	struct mastercf_edit e;
	enum mastercf_type   type;
	VSTR		    *key = vstr_alloc(64);
	VSTR		    *text = vstr_alloc(256);
	bool		    *hit = mycalloc(file->count + 1, sizeof(*hit));
	long		     at;
	int		     f = -1;

	if (mastercf_arg_parse(arg, false, &a, conf_why) < 0)
		bad_usage("%s", VSTR_STR(conf_why));
	if (opts->remove && a.value != NULL)
		bad_usage("-PX takes service/type/parameter, not \"%s\"", arg);
	if (!opts->remove && a.value == NULL)
		bad_usage("missing '=' in \"%s\"", arg);
	if (mastercf_type_parse(a.type, &type) < 0)
		bad_usage("bad service type \"%s\" in \"%s\"", a.type, arg);
	if (opts->target == TARGET_FIELDS
	    && (f = mastercf_edit_field_index(a.name)) < 0)
		bad_usage("unknown master.cf field \"%s\" (service, type, "
			  "private, unprivileged, chroot, wakeup, "
			  "process_limit, command)",
			  a.name);
	vstr_sprintf(key, "%s/%s", a.service, mastercf_type_name(type));
	if ((at = conf_find(file, VSTR_STR(key), 2, hit)) < 0) {
		if (opts->remove) {
			msg_warn("%s: no service %s", file->path,
				 VSTR_STR(key));
			goto out;
		}
		bad_usage("%s: no service %s", file->path, VSTR_STR(key));
	}
	conf_entry_text(file, (size_t)at, text);
	if (mastercf_edit_parse(VSTR_STR(text), &e, conf_why) < 0)
		msg_fatal_status(EX_CONFIG, "%s:%ld: %s: %s", file->path,
				 at + 1, VSTR_STR(key), VSTR_STR(conf_why));
	if (opts->remove) {
		(void)mastercf_edit_del_param(&e, a.name);
	} else if (opts->target == TARGET_FIELDS) {
		if (mastercf_edit_set_field(&e, f, a.value, conf_why) < 0)
			msg_fatal_status(EX_USAGE, "%s:%ld: %s: %s", file->path,
					 at + 1, VSTR_STR(key),
					 VSTR_STR(conf_why));
	} else if (mastercf_edit_set_param(&e, a.name, a.value, conf_why) < 0) {
		msg_fatal_status(EX_USAGE, "%s:%ld: %s: %s", file->path, at + 1,
				 VSTR_STR(key), VSTR_STR(conf_why));
	}
	vstr_reset(text);
	mastercf_edit_render(&e, text);
	mastercf_edit_free(&e);
	conf_apply(file, VSTR_STR(key), 2, VSTR_STR(text));
out:
	mastercf_arg_free(&a);
	myfree(hit);
	vstr_free(key);
	vstr_free(text);
}

static int
master_items_edit(const struct conf_opts *opts, char **args, int nargs)
{
	struct conf_file file;
	VSTR		*path = vstr_alloc(256);
	CFG		*cfg = open_main(opts->confdir);
	MASTERCF	*m;
	int		 a;

	vstr_sprintf(path, "%s/master.cf", opts->confdir);
	conf_file_load(&file, VSTR_STR(path), true);
	if ((m = mastercf_open_buffer(file.path, VSTR_STR(file.data),
				      VSTR_LEN(file.data), cfg, conf_why))
	    == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(conf_why));
	mastercf_free(m);
	for (a = 0; a < nargs; a++)
		master_item_edit(opts, &file, args[a]);
	/* The result must still be a good master.cf (no duplicates...). */
	if ((m = mastercf_open_buffer(file.path, VSTR_STR(file.data),
				      VSTR_LEN(file.data), cfg, conf_why))
	    == NULL)
		msg_fatal_status(EX_CONFIG,
				 "%s (after the edit; %s not changed)",
				 VSTR_STR(conf_why), file.path);
	mastercf_free(m);
	conf_write(file.path, file.data, file.mode);
	conf_file_free(&file);
	cfg_free(cfg);
	vstr_free(path);
	return EX_OK;
}

/* -M: one entry on one line; with -x, main.cf's $names expanded. */
static void
master_print(const struct conf_opts *opts, const CFG *cfg, const char *path,
	     const struct mastercf_service *svc)
{
	struct mastercf_edit	  e;
	struct mastercf_edit_item expanded;
	VSTR			 *line;
	VSTR			 *buf;
	size_t			  i;
	int			  f;

	if (!opts->expand) {
		printf("%s\n", svc->raw);
		return;
	}
	line = vstr_alloc(256);
	buf = vstr_alloc(128);
	service_words(path, svc, &e);
	for (f = 0; f < 7; f++)
		vstr_sprintf_append(line, "%s%s", f ? " " : "", e.field[f]);
	for (i = 0; i < e.count; i++) {
		const struct mastercf_edit_item *it = &e.item[i];

		if (it->word != NULL) {
			vstr_sprintf_append(line, " %s",
					    expand_known(opts, cfg, svc->name,
							 it->word, buf));
			continue;
		}
		expanded.word = NULL;
		expanded.name = it->name;
		expanded.value = (char *)expand_known(opts, cfg, it->name,
						      it->value, buf);
		vstr_addch(line, ' ');
		mastercf_edit_render_option(&expanded, line);
	}
	printf("%s\n", VSTR_STR(line));
	mastercf_edit_free(&e);
	vstr_free(line);
	vstr_free(buf);
}

/* ---- -t: the texts of delivery status notifications ---- */

static int
templates_show(const struct conf_opts *opts, char **args, int nargs)
{
	size_t			   count;
	const struct dsn_template *t = dsn_templates(&count);
	CFG			  *cfg = open_main(opts->confdir);
	VSTR			  *text = vstr_alloc(1024);
	bool			  *used = mycalloc((size_t)nargs + 1, 1);
	size_t			   i;
	int			   a;

	if (*cfg_get_str(cfg, "bounce_template_file"))
		msg_warn("bounce_template_file is not supported; the bounce "
			 "service uses the built-in texts shown here");
	for (i = 0; i < count; i++) {
		bool want = nargs == 0;

		for (a = 0; a < nargs; a++)
			if (strcmp(args[a], t[i].name) == 0)
				want = used[a] = true;
		if (!want)
			continue;
		vstr_reset(text);
		if (opts->expand)
			dsn_template_expand(t[i].text,
					    cfg_get_str(cfg, "mail_name"),
					    cfg_get_str(cfg, "myhostname"),
					    false, text);
		else
			vstr_strcpy(text, t[i].text);
		printf("%s = <<EOF\n"
		       "Charset: %s\n"
		       "From: %s\n"
		       "Subject: %s\n"
		       "Postmaster-Subject: %s\n"
		       "\n"
		       "%s"
		       "EOF\n",
		       t[i].name, t[i].charset, t[i].from, t[i].subject,
		       t[i].postmaster_subject, VSTR_STR(text));
		if (i + 1 < count && nargs == 0)
			printf("\n");
	}
	for (a = 0; a < nargs; a++)
		if (!used[a])
			msg_warn("%s: unknown template (Postel has "
				 "failure_template, delay_template and "
				 "success_template)",
				 args[a]);
	if (fflush(stdout) != 0 || ferror(stdout))
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	myfree(used);
	vstr_free(text);
	cfg_free(cfg);
	return EX_OK;
}

int
main(int argc, char **argv)
{
	struct conf_opts opts = { 0 };
	const char	*opt_c = NULL;
	char **overrides = mycalloc((size_t)argc + 1, sizeof(*overrides));
	int    noverrides = 0;
	bool   assignments = false;
	bool   editing;
	int    ntargets = 0;
	enum conf_target target;
	CFG		*cfg;
	int		 ch;
	int		 i;
	int		 ret;

	msg_set_progname("postelconf");
	msg_stderr_enable(true);
	conf_why = vstr_alloc(128);
	conf_msg = vstr_alloc(128);
	conf_master = vstr_alloc(128);
	opts.target = TARGET_MAIN;
	while ((ch = getopt(argc, argv, "#c:dehno:pxFMPtX")) != -1) {
		switch (ch) {
		case '#':
			opts.comment = true;
			break;
		case 'c':
			opt_c = optarg;
			break;
		case 'd':
			opts.show_defaults = true;
			break;
		case 'e':
			opts.edit = true;
			break;
		case 'h':
			opts.value_only = true;
			break;
		case 'n':
			opts.show_set = true;
			break;
		case 'o':
			overrides[noverrides++] = optarg;
			break;
		case 'p':
		case 'F':
		case 'M':
		case 'P':
		case 't':
			target = ch == 'p'   ? TARGET_MAIN
				 : ch == 'F' ? TARGET_FIELDS
				 : ch == 'M' ? TARGET_MASTER
				 : ch == 'P' ? TARGET_PARAMS
					     : TARGET_TEMPLATES;
			if (ntargets++ > 0 && target != opts.target)
				bad_usage("-p, -M, -F, -P and -t exclude "
					  "each other");
			opts.target = target;
			break;
		case 'x':
			opts.expand = true;
			break;
		case 'X':
			opts.remove = true;
			break;
		default:
			usage();
		}
	}
	argv += optind;
	argc -= optind;
	opts.confdir = cfg_confdir_from_env(opt_c);
	for (i = 0; i < argc; i++)
		if (strchr(argv[i], '=') != NULL)
			assignments = true;
	if (opts.show_set && opts.show_defaults)
		usage();
	if (opts.remove && opts.comment)
		bad_usage("-X and -# exclude each other");
	editing = opts.remove || opts.comment || opts.edit || assignments;
	if (opts.target != TARGET_MAIN) {
		/* -n, -d and -o are about main.cf parameters only. */
		if (opts.show_set || opts.show_defaults || noverrides > 0)
			usage();
		if (editing && (opts.value_only || opts.expand))
			usage();
		if (editing && argc == 0)
			usage();
	}
	switch (opts.target) {
	case TARGET_MASTER:
		if (opts.value_only)
			usage();
		ret = editing ? master_edit(&opts, argv, argc)
			      : master_show(&opts, argv, argc);
		myfree(overrides);
		return ret;
	case TARGET_FIELDS:
	case TARGET_PARAMS:
		if (opts.comment
		    || (opts.remove && opts.target != TARGET_PARAMS))
			bad_usage("-%s does not go with -F; edit fields "
				  "with -F service/type/field=value",
				  opts.comment ? "#" : "X");
		ret = editing ? master_items_edit(&opts, argv, argc)
			      : master_items_show(&opts, argv, argc);
		myfree(overrides);
		return ret;
	case TARGET_TEMPLATES:
		if (editing || opts.value_only)
			bad_usage("-t only prints the built-in texts "
				  "(template names or nothing as "
				  "arguments)");
		ret = templates_show(&opts, argv, argc);
		myfree(overrides);
		return ret;
	case TARGET_MAIN:
		break;
	}
	if (editing) {
		if (argc == 0 || opts.show_set || opts.show_defaults
		    || opts.value_only || opts.expand || noverrides > 0
		    || ((opts.remove || opts.comment)
			&& (opts.edit || assignments)))
			usage();
		ret = edit_main(&opts, argv, argc);
		myfree(overrides);
		return ret;
	}
	if (opts.show_defaults) {
		/* Defaults only: main.cf must not influence the output. */
		VSTR *why = conf_why;

		cfg = cfg_open_buffer(opts.confdir, "defaults", "", 0, why);
	} else {
		cfg = open_main(opts.confdir);
	}
	for (i = 0; i < noverrides; i++)
		if (cfg_set_from_arg(cfg, overrides[i]) < 0)
			bad_usage("bad -o argument \"%s\": use "
				  "name=value",
				  overrides[i]);
	if (!opts.show_defaults) {
		VSTR *why = conf_why;

		/* Like postconf: report, but still show what is there. */
		if (cfg_check(cfg, why) < 0)
			msg_warn("%s", VSTR_STR(why));
		warn_unused(cfg, opts.confdir);
	}
	ret = show_params(&opts, cfg, argv, argc);
	cfg_free(cfg);
	myfree(overrides);
	return ret;
}
