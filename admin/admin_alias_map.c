/*
 * admin_alias_map - common body of postelmap, postelalias and newaliases.
 * See admin_alias_map.h; the man pages postelmap(1) and postelalias(1)
 * describe the behaviour.
 *
 * Duplicate keys while building follow postmap: a warning naming
 * file:line and the first value stays; -r replaces silently, -w keeps
 * the first silently.  Malformed source lines get a warning naming
 * file:line and are skipped; the build still succeeds.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "admin/admin_alias_map.h"
#include "admin/admin_map_msg.h"
#include "util/cfg.h"
#include "util/dict.h"
#include "util/dict_alias_parse.h"
#include "util/dict_src.h"
#include "util/lline.h"
#include "util/map_files.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

#define DICT_DUP_FLAGS (DICT_FLAG_DUP_REPLACE | DICT_FLAG_DUP_IGNORE)

enum map_op {
	OP_BUILD,
	OP_QUERY,	/* -q */
	OP_DELETE,	/* -d */
	OP_DUMP,	/* -s */
	OP_INCREMENTAL, /* -i */
};

struct map_opts {
	enum admin_map_kind kind;
	enum map_op	    op;
	const char	   *key;      /* -q / -d */
	const char	   *def_type; /* default_database_type */
	int		    flags;    /* DICT_FLAG_* */
	bool		    files;    /* -F: values are files, stored base64 */
	int		    msg;      /* -b, -h, -m: ADMIN_MAP_MSG_* */
	bool		    as_root;  /* -o: keep root privileges */
	bool		    own_perm; /* -p: default permissions, not the
				       * source's */
	size_t		    header_limit;  /* header_size_limit */
	long long	    nesting_limit; /* mime_nesting_limit */
};

static void
map_usage(enum admin_map_kind kind)
{
	if (kind == ADMIN_MAP_NEWALIASES)
		msg_fatal_status(EX_USAGE,
				 "usage: newaliases [-c config_dir] [-v]");
	if (kind == ADMIN_MAP_ALIAS)
		msg_fatal_status(EX_USAGE,
				 "usage: postelalias [-Nfinoprvw] "
				 "[-c config_dir] [-q key | -d key | -s] "
				 "[type:]file ...");
	msg_fatal_status(EX_USAGE,
			 "usage: postelmap [-FNbfhimnoprvw] [-c config_dir] "
			 "[-q key | -d key | -s] [type:]file ...");
}

/* "type:file" as given, or the default type prefixed. */
static char *
map_spec(const struct map_opts *o, const char *arg)
{
	VSTR *spec = vstr_alloc(64);

	if (strchr(arg, ':') != NULL && arg[0] != '/' && arg[0] != '.')
		vstr_strcpy(spec, arg);
	else
		vstr_sprintf(spec, "%s:%s", o->def_type, arg);
	return vstr_export(spec);
}

static const char *
map_name(const char *spec)
{
	return strchr(spec, ':') + 1;
}

/*
 * Reasons for fatal errors live here, reachable until exit, so that a
 * fatal exit leaves no leak for the sanitizer build to report.
 */
static VSTR *map_why;

static VSTR *
map_why_buf(void)
{
	if (map_why == NULL)
		map_why = vstr_alloc(128);
	return map_why;
}

/*
 * While a table is being written, postpone the signals that would end the
 * process, as postmap does: the temporary file is then always either
 * renamed into place or removed.  Unblocking delivers what arrived.
 */
static void
map_signals(int block)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPIPE);
	sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static DICT *
map_open(const char *spec, int flags)
{
	VSTR *why = map_why_buf();
	DICT *d;

	if ((d = dict_open(spec, flags, why)) == NULL)
		msg_fatal_status(errno == ENOENT ? EX_NOINPUT : EX_CONFIG, "%s",
				 VSTR_STR(why));
	return d;
}

static void
map_commit(DICT *d)
{
	if (dict_commit(d) < 0)
		msg_fatal_status(EX_IOERR, "%s: cannot publish the table: %m",
				 dict_spec(d));
}

/*
 * Feed the logical lines of a source text into d.  `name` names the
 * source in messages.  Returns the number of entries stored.
 */
static size_t
map_load(const struct map_opts *o, DICT *d, const char *name, const char *text,
	 size_t len)
{
	LLINE	    src;
	VSTR	   *line = vstr_alloc(256);
	VSTR	   *akey = vstr_alloc(64);
	VSTR	   *aval = vstr_alloc(256);
	VSTR	   *b64 = vstr_alloc(256);
	VSTR	   *why = map_why_buf();
	const char *old;
	char	   *key;
	char	   *value;
	int	    lineno;
	int	    ret;
	size_t	    count = 0;

	lline_init(&src, name, text, len, 0, NULL);
	while ((ret = lline_next(&src, line, &lineno, why)) > 0) {
		if (o->kind == ADMIN_MAP_POSTMAP) {
			dict_src_split(VSTR_STR(line), &key, &value);
			if (*value == 0) {
				msg_warn("%s:%d: expected format: key "
					 "whitespace value; line ignored",
					 name, lineno);
				continue;
			}
		} else {
			if (dict_alias_parse_line(VSTR_STR(line), akey, aval,
						  why)
			    < 0) {
				msg_warn("%s:%d: %s; line ignored", name,
					 lineno, VSTR_STR(why));
				continue;
			}
			key = VSTR_STR(akey);
			value = VSTR_STR(aval);
		}
		/* -F: the files' contents, base64, instead of their names. */
		if (o->files) {
			if (map_files_encode(value, b64, why) < 0) {
				dict_discard(d);
				msg_fatal_status(EX_DATAERR, "%s:%d: %s", name,
						 lineno, VSTR_STR(why));
			}
			value = VSTR_STR(b64);
		}
		if (!(o->flags & DICT_DUP_FLAGS)) {
			ret = dict_lookup(d, key, &old);
			if (ret > 0) {
				msg_warn("%s:%d: duplicate entry: \"%s\"", name,
					 lineno, key);
				continue;
			}
		}
		if (dict_update(d, key, value) < 0) {
			if (errno == ENAMETOOLONG) {
				msg_warn("%s:%d: key too long; line ignored",
					 name, lineno);
				continue;
			}
			vstr_sprintf(why,
				     "%s:%d: cannot store \"%s\" in %s: "
				     "%m",
				     name, lineno, key, dict_spec(d));
			dict_discard(d);
			msg_fatal_status(EX_IOERR, "%s", VSTR_STR(why));
		}
		count++;
	}
	if (ret < 0) {
		/* map_check() saw the same text, so this is a bug. */
		msg_panic("%s", VSTR_STR(why));
	}
	vstr_free(line);
	vstr_free(akey);
	vstr_free(aval);
	explicit_bzero(VSTR_STR(b64), VSTR_LEN(b64));
	vstr_free(b64);
	return count;
}

/*
 * Refuse a source that cannot be read to its end (NUL bytes, huge lines)
 * before a table is opened, so that nothing half-built is left behind.
 */
static void
map_check(const char *name, const char *text, size_t len)
{
	LLINE src;
	VSTR *line = vstr_alloc(256);
	VSTR *why = map_why_buf();
	int   lineno;
	int   ret;

	lline_init(&src, name, text, len, 0, NULL);
	while ((ret = lline_next(&src, line, &lineno, why)) > 0)
		/* void */;
	vstr_free(line);
	if (ret < 0)
		msg_fatal_status(EX_DATAERR, "%s", VSTR_STR(why));
}

static void
map_read_stream(int fd, const char *name, VSTR *buf)
{
	ssize_t n;

	vstr_reset(buf);
	for (;;) {
		if (VSTR_LEN(buf) > DICT_SRC_FILE_MAX)
			msg_fatal_status(EX_DATAERR,
					 "%s: input larger than %d "
					 "bytes",
					 name, DICT_SRC_FILE_MAX);
		vstr_space(buf, 65536);
		n = read(fd, VSTR_END(buf), 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			msg_fatal_status(EX_IOERR, "read %s: %m", name);
		if (n == 0)
			break;
		vstr_set_len(buf, VSTR_LEN(buf) + (size_t)n);
	}
}

/*
 * New table files get the source's group/other read bits, or with -p the
 * default mode 0644.  They belong to whoever built them (see map_as_owner).
 */
static void
map_fix_new_file(const struct map_opts *o, const char *dbpath,
		 const struct stat *src)
{
	mode_t mode = o->own_perm ? 0644
				  : (mode_t)(0600 | (src->st_mode & 0044));

	if (chmod(dbpath, mode) < 0)
		msg_warn("chmod %s: %m", dbpath);
}

/*
 * As postmap does, root builds a table from a source file that another
 * user owns with that user's privileges (effective IDs, restored after),
 * so that root never writes where the user controls the path; -o keeps
 * root.  Returns whether privileges were dropped.
 */
static bool
map_as_owner(const struct map_opts *o, const char *name, const struct stat *src)
{
	if (o->as_root || geteuid() != 0 || src->st_uid == 0)
		return false;
	if (setgroups(0, NULL) < 0 || setegid(src->st_gid) < 0
	    || seteuid(src->st_uid) < 0)
		msg_fatal_status(EX_OSERR,
				 "%s: cannot take the owner's privileges "
				 "(uid %ld gid %ld): %m",
				 name, (long)src->st_uid, (long)src->st_gid);
	return true;
}

static void
map_as_root(const char *name)
{
	if (seteuid(0) < 0 || setegid(0) < 0)
		msg_fatal_status(EX_OSERR,
				 "%s: cannot get root privileges back: %m",
				 name);
}

static int
map_build(const struct map_opts *o, const char *spec)
{
	const char *name = map_name(spec);
	VSTR	   *buf = vstr_alloc(4096);
	VSTR	   *why = map_why_buf();
	VSTR	   *dbpath = vstr_alloc(128);
	struct stat src;
	struct stat st;
	int	    existed;
	bool	    dropped;
	DICT	   *d;

	if (stat(name, &src) < 0)
		msg_fatal_status(EX_NOINPUT, "stat %s: %m", name);
	dropped = map_as_owner(o, name, &src);
	if (dict_src_read_file(name, buf, why) < 0)
		msg_fatal_status(errno == ENOENT ? EX_NOINPUT : EX_IOERR, "%s",
				 VSTR_STR(why));
	vstr_sprintf(dbpath, "%s.%s", name,
		     strncmp(spec, "lmdb:", 5) == 0 ? "lmdb" : "db");
	existed = stat(VSTR_STR(dbpath), &st) == 0;
	map_check(name, VSTR_STR(buf), VSTR_LEN(buf));
	map_signals(1);
	d = map_open(spec, o->flags | DICT_FLAG_CREATE);
	(void)map_load(o, d, name, VSTR_STR(buf), VSTR_LEN(buf));
	map_commit(d);
	dict_close(d);
	map_signals(0);
	if (!existed)
		map_fix_new_file(o, VSTR_STR(dbpath), &src);
	if (dropped)
		map_as_root(name);
	vstr_free(buf);
	vstr_free(dbpath);
	return 0;
}

/* -F: the decoded value (the files' contents), or NULL (a warning). */
static char *
map_files_value(const char *key, const char *value)
{
	VSTR *out = vstr_alloc(4096);

	if (map_files_decode(value, out, map_why_buf()) < 0) {
		msg_warn("table entry \"%s\": %s", key, VSTR_STR(map_why));
		vstr_free(out);
		return NULL;
	}
	return vstr_export(out);
}

static void
map_print(const struct map_opts *o, const char *key, const char *value)
{
	const char *p;

	if (o->kind == ADMIN_MAP_POSTMAP && o->files) {
		char *text = map_files_value(key, value);

		if (text) {
			printf("%s\t%s\n", key, text);
			myfree(text);
		}
		return;
	}
	if (o->kind == ADMIN_MAP_POSTMAP) {
		printf("%s\t%s\n", key, value);
		return;
	}
	/* Quote names that would not read back as one alias name. */
	if (key[strcspn(key, " \t:\"\\#")] == 0) {
		printf("%s: %s\n", key, value);
		return;
	}
	putchar('"');
	for (p = key; *p; p++) {
		if (*p == '"' || *p == '\\')
			putchar('\\');
		putchar(*p);
	}
	printf("\": %s\n", value);
}

/* -b/-h/-m: look up the keys a message yields, print "key<TAB>value". */
struct map_msg_query {
	DICT **dicts;
	int    count;
	int    found;
};

static int
map_msg_lookup(void *ctx, const char *key, size_t len)
{
	struct map_msg_query *q = ctx;
	const char	     *value;
	int		      i;
	int		      ret;

	(void)len;
	for (i = 0; i < q->count; i++) {
		ret = dict_lookup(q->dicts[i], key, &value);
		if (ret < 0 && errno == ENAMETOOLONG)
			return 0; /* dict_lookup warned; as no match */
		if (ret < 0)
			msg_fatal_status(EX_TEMPFAIL,
					 "%s: table lookup problem",
					 dict_spec(q->dicts[i]));
		if (ret > 0) {
			printf("%s\t%s\n", key, value);
			q->found = 1;
			break;
		}
	}
	return 0;
}

static int
map_query(const struct map_opts *o, char **specs, int count)
{
	DICT	  **dicts = mycalloc((size_t)count, sizeof(DICT *));
	const char *value;
	char	   *line = NULL;
	size_t	    cap = 0;
	ssize_t	    n;
	int	    found = 0;
	int	    i;
	int	    ret;

	for (i = 0; i < count; i++)
		dicts[i] = map_open(specs[i], o->flags);
	if (o->msg != 0) {
		struct map_msg_query q = { dicts, count, 0 };

		if (admin_map_msg_keys(stdin, o->msg, o->header_limit,
				       o->nesting_limit, map_msg_lookup, &q,
				       map_why_buf())
		    < 0)
			msg_fatal_status(EX_DATAERR, "%s", VSTR_STR(map_why));
		found = q.found;
	} else if (strcmp(o->key, "-") != 0) {
		for (i = 0; i < count && !found; i++) {
			ret = dict_lookup(dicts[i], o->key, &value);
			if (ret < 0)
				msg_fatal_status(EX_TEMPFAIL,
						 "%s: table "
						 "lookup problem",
						 dict_spec(dicts[i]));
			if (ret > 0 && o->files) {
				char *text = map_files_value(o->key, value);

				/* As postmap -Fq: the contents, then a newline. */
				if (text)
					printf("%s\n", text);
				myfree(text);
				found = text != NULL;
			} else if (ret > 0) {
				printf("%s\n", value);
				found = 1;
			}
		}
	} else {
		while ((n = getline(&line, &cap, stdin)) > 0) {
			while (n > 0 && strchr("\r\n", line[n - 1]) != NULL)
				line[--n] = 0;
			for (i = 0; i < count; i++) {
				ret = dict_lookup(dicts[i], line, &value);
				if (ret < 0)
					msg_fatal_status(EX_TEMPFAIL,
							 "%s: table lookup "
							 "problem",
							 dict_spec(dicts[i]));
				if (ret > 0) {
					map_print(o, line, value);
					found = 1;
					break;
				}
			}
		}
		free(line);
	}
	for (i = 0; i < count; i++)
		dict_close(dicts[i]);
	myfree(dicts);
	if (fflush(stdout) != 0)
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	return found ? 0 : 1;
}

static int
map_delete(const struct map_opts *o, char **specs, int count)
{
	DICT *d;
	int   found = 0;
	int   i;
	int   ret;

	for (i = 0; i < count; i++) {
		/* Deleting never creates a table: it must exist already. */
		dict_close(map_open(specs[i], o->flags));
		map_signals(1);
		d = map_open(specs[i], o->flags | DICT_FLAG_WRITE);
		if ((ret = dict_delete(d, o->key)) < 0) {
			vstr_sprintf(map_why_buf(),
				     "%s: cannot delete "
				     "\"%s\": %m",
				     dict_spec(d), o->key);
			dict_discard(d);
			msg_fatal_status(EX_IOERR, "%s", VSTR_STR(map_why));
		}
		if (ret > 0)
			found = 1;
		map_commit(d);
		dict_close(d);
		map_signals(0);
	}
	return found ? 0 : 1;
}

static int
map_dump(const struct map_opts *o, char **specs, int count)
{
	DICT	   *d;
	const char *key;
	const char *value;
	int	    i;
	int	    ret;

	for (i = 0; i < count; i++) {
		d = map_open(specs[i], o->flags);
		for (ret = dict_first(d, &key, &value); ret > 0;
		     ret = dict_next(d, &key, &value))
			map_print(o, key, value);
		if (ret < 0) {
			int  saved = errno;
			char spec[512];

			/* Closed before the exit, which must not leave it open. */
			snprintf(spec, sizeof(spec), "%s", dict_spec(d));
			dict_close(d);
			errno = saved;
			msg_fatal_status(saved == EOPNOTSUPP ? EX_USAGE
							     : EX_TEMPFAIL,
					 "%s: cannot list the table: %m", spec);
		}
		dict_close(d);
	}
	if (fflush(stdout) != 0)
		msg_fatal_status(EX_IOERR, "write standard output: %m");
	return 0;
}

static int
map_incremental(const struct map_opts *o, const char *spec)
{
	VSTR *buf = vstr_alloc(4096);
	DICT *d;

	map_read_stream(0, "standard input", buf);
	map_check("standard input", VSTR_STR(buf), VSTR_LEN(buf));
	map_signals(1);
	d = map_open(spec, o->flags | DICT_FLAG_WRITE);
	(void)map_load(o, d, "standard input", VSTR_STR(buf), VSTR_LEN(buf));
	map_commit(d);
	dict_close(d);
	map_signals(0);
	vstr_free(buf);
	return 0;
}

/* Split $alias_database into specs (braces are not expected here). */
struct spec_list {
	char **items;
	int    count;
};

static void
map_collect(const char *item, size_t len, void *ctx)
{
	struct spec_list *sl = ctx;

	sl->items = myrealloc_array(sl->items, (size_t)sl->count + 1,
				    sizeof(char *));
	sl->items[sl->count++] = mystrndup(item, len);
}

int
admin_alias_map_main(int argc, char **argv, enum admin_map_kind kind)
{
	struct map_opts	 o = { .kind = kind,
			       .op = OP_BUILD,
			       .def_type = "hash",
			       .flags = DICT_FLAG_FOLD };
	const char	*opt_c = NULL;
	const char	*progname;
	struct spec_list sl = { NULL, 0 };
	VSTR		*why = map_why_buf();
	CFG		*cfg;
	char	       **specs;
	int		 nspecs;
	int		 ch;
	int		 i;
	int		 status = 0;

	progname = kind == ADMIN_MAP_POSTMAP ? "postelmap"
		   : kind == ADMIN_MAP_ALIAS ? "postelalias"
					     : "newaliases";
	msg_set_progname(progname);
	while (
	    (ch = getopt(argc, argv,
			 kind == ADMIN_MAP_NEWALIASES ? "c:v"
			 : kind == ADMIN_MAP_ALIAS    ? "c:d:fiNnopq:rsuvw"
						   : "bc:d:FfhimNnopq:rsuUvw"))
	    != -1) {
		switch (ch) {
		case 'c':
			opt_c = optarg;
			break;
		case 'd':
		case 'q':
			if (o.op != OP_BUILD)
				map_usage(kind);
			o.op = ch == 'd' ? OP_DELETE : OP_QUERY;
			o.key = optarg;
			break;
		case 's':
		case 'i':
			if (o.op != OP_BUILD)
				map_usage(kind);
			o.op = ch == 's' ? OP_DUMP : OP_INCREMENTAL;
			break;
		case 'F':
			o.files = true;
			break;
		case 'b':
			o.msg |= ADMIN_MAP_MSG_BODY;
			break;
		case 'h':
			o.msg |= ADMIN_MAP_MSG_HEADER;
			break;
		case 'm':
			o.msg |= ADMIN_MAP_MSG_MIME;
			break;
		case 'o':
			o.as_root = true;
			break;
		case 'p':
			o.own_perm = true;
			break;
		case 'u':
			/* Refused: accepting it would change nothing. */
			msg_fatal_status(EX_USAGE,
					 "-u is not supported: Postel's tables "
					 "have no UTF-8 mode to turn off (no "
					 "smtputf8_enable); keys and values are "
					 "stored as bytes and folded to lower "
					 "case in ASCII only");
		case 'U':
			msg_fatal_status(EX_USAGE,
					 "-U is not supported: Postel's tables "
					 "have no UTF-8 mode (no "
					 "smtputf8_enable) that -b or -h "
					 "queries could turn on; keys are "
					 "compared as bytes");
		case 'f':
			o.flags &= ~DICT_FLAG_FOLD;
			break;
		case 'N':
			o.flags |= DICT_FLAG_NUL;
			break;
		case 'n':
			o.flags &= ~DICT_FLAG_NUL;
			break;
		case 'r':
			o.flags |= DICT_FLAG_DUP_REPLACE;
			o.flags &= ~DICT_FLAG_DUP_IGNORE;
			break;
		case 'w':
			o.flags |= DICT_FLAG_DUP_IGNORE;
			o.flags &= ~DICT_FLAG_DUP_REPLACE;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			map_usage(kind);
		}
	}
	if (o.msg != 0 && (o.op != OP_QUERY || strcmp(o.key, "-") != 0))
		msg_fatal_status(EX_USAGE, "-b, -h and -m work only with "
					   "\"-q -\" (the message on standard "
					   "input)");
	if (o.msg == ADMIN_MAP_MSG_MIME)
		msg_fatal_status(EX_USAGE, "-m needs -b or -h: it changes "
					   "how they read the message");
	if (o.files && o.msg != 0)
		msg_fatal_status(EX_USAGE, "-F does not go with -b or -h");
	if ((cfg = cfg_open(cfg_confdir_from_env(opt_c), why)) == NULL)
		msg_fatal_status(EX_CONFIG, "%s", VSTR_STR(why));
	o.header_limit = (size_t)cfg_get_size(cfg, "header_size_limit");
	o.nesting_limit = cfg_get_int(cfg, "mime_nesting_limit");
	/* proxy: tables reach the running system's proxymap. */
	dict_configure(cfg);
	if (*cfg_get_str(cfg, "default_database_type"))
		o.def_type = cfg_get_str(cfg, "default_database_type");

	if (kind == ADMIN_MAP_NEWALIASES) {
		if (optind != argc)
			map_usage(kind);
		if (dict_list_split(cfg_get_str(cfg, "alias_database"),
				    map_collect, &sl, why)
		    < 0)
			msg_fatal_status(EX_CONFIG, "alias_database: %s",
					 VSTR_STR(why));
		kind = o.kind = ADMIN_MAP_ALIAS;
		for (i = 0; i < sl.count; i++) {
			char *spec = map_spec(&o, sl.items[i]);

			status = map_build(&o, spec);
			myfree(spec);
		}
	} else {
		if (optind == argc)
			map_usage(kind);
		nspecs = argc - optind;
		specs = mymalloc_array((size_t)nspecs, sizeof(char *));
		for (i = 0; i < nspecs; i++)
			specs[i] = map_spec(&o, argv[optind + i]);
		switch (o.op) {
		case OP_QUERY:
			status = map_query(&o, specs, nspecs);
			break;
		case OP_DELETE:
			status = map_delete(&o, specs, nspecs);
			break;
		case OP_DUMP:
			status = map_dump(&o, specs, nspecs);
			break;
		case OP_INCREMENTAL:
			if (nspecs != 1)
				map_usage(kind);
			status = map_incremental(&o, specs[0]);
			break;
		case OP_BUILD:
			for (i = 0; i < nspecs && status == 0; i++)
				status = map_build(&o, specs[i]);
			break;
		}
		for (i = 0; i < nspecs; i++)
			myfree(specs[i]);
		myfree(specs);
	}
	for (i = 0; i < sl.count; i++)
		myfree(sl.items[i]);
	myfree(sl.items);
	cfg_free(cfg);
	map_why = vstr_free(map_why);
	return status;
}
