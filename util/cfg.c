/*
 * cfg - main.cf with Postfix semantics.  See cfg.h.
 *
 * A CFG keeps one record per name it has seen: the main.cf text and line,
 * an override, a computed default, and the cached expansion.  The getters
 * take a const CFG but fill the cache: the records live behind a pointer,
 * so caching needs no casts.  Expansion recurses through names; a name that
 * is being expanded when it is met again is a loop, reported with the chain
 * of names that led to it.  Expanded values are bounded (CFG_VALUE_MAX) so
 * that "a = $b$b, b = $c$c, ..." cannot eat the machine.
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
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "util/cfg.h"
#include "util/lline.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/mynetworks.h"
#include "util/param.h"
#include "util/strutil.h"
#include "util/vstr.h"

#define CFG_FILE_MAX  (16 * 1024 * 1024) /* largest main.cf read */
#define CFG_VALUE_MAX (1024 * 1024)	 /* largest expanded value */
#define CFG_DEPTH_MAX 200		 /* expansion recursion */

struct cfg_var {
	char	       *name;
	size_t		name_len;
	char	       *file_value; /* main.cf text, or NULL */
	int		file_line;
	char	       *over_value;	  /* override text, or NULL */
	char	       *computed_default; /* computed default, or NULL */
	char	       *expanded;	  /* cached expansion, or NULL */
	bool		expanding;	  /* on the current expansion path */
	struct cfg_var *hnext;		  /* hash chain */
	size_t		index;		  /* in cfg_vars.var */
};

struct cfg_vars {
	struct cfg_var **bucket; /* hash index, nbucket a power of 2 */
	size_t		 nbucket;
	struct cfg_var **var;
	size_t		 count;
	size_t		 cap;
	size_t		*file_order; /* indexes of names set in main.cf */
	size_t		 file_count;
	VSTR		*chain; /* names on the expansion path */
	VSTR		*why;	/* scratch for the fatal getters */
	VSTR		*tname; /* cfg_get_transport_int's name */
	int		 depth;
};

struct CFG {
	char		*confdir;
	char		*path; /* for messages: confdir/main.cf */
	struct cfg_vars *vars;
};

/* How an expansion treats $name forms whose name nobody defined. */
enum cfg_unknown {
	CFG_UNKNOWN_EMPTY, /* Postfix: expand to "" */
	CFG_UNKNOWN_KEEP,  /* copy the $-form unchanged */
};

static int cfg_expand_text(const CFG *, const char *, size_t, VSTR *, VSTR *,
			   enum cfg_unknown);

/* Name characters allowed in main.cf and in $name. */
static bool
cfg_name_char(int ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

static bool
cfg_setting_name_char(int ch)
{
	return cfg_name_char(ch) || ch == '-' || ch == '.';
}

/* FNV-1a: names are short and trusted enough; the table only grows. */
static size_t
cfg_hash(const char *name, size_t len)
{
	size_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	return h;
}

static struct cfg_var *
cfg_find_var(const CFG *cfg, const char *name, size_t len)
{
	struct cfg_vars *vs = cfg->vars;
	struct cfg_var	*var;

	if (vs->nbucket == 0)
		return NULL;
	for (var = vs->bucket[cfg_hash(name, len) & (vs->nbucket - 1)];
	     var != NULL; var = var->hnext)
		if (var->name_len == len && memcmp(var->name, name, len) == 0)
			return var;
	return NULL;
}

static void
cfg_rehash(struct cfg_vars *vs)
{
	size_t i;

	vs->nbucket = vs->nbucket ? vs->nbucket * 2 : 64;
	myfree(vs->bucket);
	vs->bucket = mycalloc(vs->nbucket, sizeof(*vs->bucket));
	for (i = 0; i < vs->count; i++) {
		struct cfg_var *var = vs->var[i];
		size_t		b = cfg_hash(var->name, var->name_len)
			   & (vs->nbucket - 1);

		var->hnext = vs->bucket[b];
		vs->bucket[b] = var;
	}
}

static struct cfg_var *
cfg_add_var(const CFG *cfg, const char *name, size_t len)
{
	struct cfg_vars *vs = cfg->vars;
	struct cfg_var	*var = cfg_find_var(cfg, name, len);

	if (var != NULL)
		return var;
	if (vs->count == vs->cap) {
		vs->cap = vs->cap ? vs->cap * 2 : 32;
		vs->var = myrealloc_array(vs->var, vs->cap, sizeof(*vs->var));
		vs->file_order = myrealloc_array(vs->file_order, vs->cap,
						 sizeof(*vs->file_order));
	}
	var = mycalloc(1, sizeof(*var));
	var->name = mystrndup(name, len);
	var->name_len = strlen(var->name);
	var->index = vs->count;
	vs->var[vs->count++] = var;
	if (vs->count > vs->nbucket) {
		cfg_rehash(vs);
	} else {
		size_t b = cfg_hash(name, len) & (vs->nbucket - 1);

		var->hnext = vs->bucket[b];
		vs->bucket[b] = var;
	}
	return var;
}

static void
cfg_flush_cache(CFG *cfg)
{
	size_t i;

	for (i = 0; i < cfg->vars->count; i++) {
		struct cfg_var *var = cfg->vars->var[i];

		var->expanded = myfree(var->expanded);
		var->computed_default = myfree(var->computed_default);
	}
}

static CFG *
cfg_new(const char *confdir, const char *path)
{
	CFG *cfg = mycalloc(1, sizeof(*cfg));

	cfg->confdir = mystrdup(confdir ? confdir : CFG_DEFAULT_CONFDIR);
	cfg->path = mystrdup(path);
	cfg->vars = mycalloc(1, sizeof(*cfg->vars));
	cfg->vars->chain = vstr_alloc(64);
	cfg->vars->why = vstr_alloc(64);
	cfg->vars->tname = vstr_alloc(64);
	return cfg;
}

CFG *
cfg_free(CFG *cfg)
{
	size_t i;

	if (cfg == NULL)
		return NULL;
	for (i = 0; i < cfg->vars->count; i++) {
		struct cfg_var *var = cfg->vars->var[i];

		myfree(var->name);
		myfree(var->file_value);
		myfree(var->over_value);
		myfree(var->computed_default);
		myfree(var->expanded);
		myfree(var);
	}
	myfree(cfg->vars->var);
	myfree(cfg->vars->bucket);
	myfree(cfg->vars->file_order);
	vstr_free(cfg->vars->chain);
	vstr_free(cfg->vars->why);
	vstr_free(cfg->vars->tname);
	myfree(cfg->vars);
	myfree(cfg->confdir);
	myfree(cfg->path);
	myfree(cfg);
	return NULL;
}

/* Record one logical line "name = value"; -1 with why on a syntax error. */
static int
cfg_parse_setting(CFG *cfg, const char *line, size_t len, int lineno, VSTR *why)
{
	const char	*cp = line;
	const char	*end = line + len;
	const char	*name;
	size_t		 name_len;
	struct cfg_var	*var;
	struct cfg_vars *vs = cfg->vars;

	name = cp;
	while (cp < end && cfg_setting_name_char(*cp))
		cp++;
	name_len = (size_t)(cp - name);
	while (cp < end && isspace((unsigned char)*cp))
		cp++;
	if (name_len == 0) {
		vstr_sprintf(why, "%s:%d: missing parameter name", cfg->path,
			     lineno);
		return -1;
	}
	if (cp == end || *cp != '=') {
		if (cp < end && !isspace((unsigned char)*cp)
		    && cp == name + name_len)
			vstr_sprintf(why,
				     "%s:%d: bad character in parameter "
				     "name",
				     cfg->path, lineno);
		else
			vstr_sprintf(why,
				     "%s:%d: missing '=' after parameter "
				     "name \"%.*s\"",
				     cfg->path, lineno, (int)name_len, name);
		return -1;
	}
	cp++;
	while (cp < end && isspace((unsigned char)*cp))
		cp++;
	while (end > cp && isspace((unsigned char)end[-1]))
		end--;
	var = cfg_add_var(cfg, name, name_len);
	if (var->file_value == NULL)
		vs->file_order[vs->file_count++] = var->index;
	myfree(var->file_value);
	var->file_value = mystrndup(cp, (size_t)(end - cp));
	var->file_line = lineno;
	return 0;
}

/* Each logical line of main.cf (util/lline) is one setting. */
static int
cfg_parse(CFG *cfg, const char *buf, size_t len, VSTR *why)
{
	VSTR *logical = vstr_alloc(256);
	LLINE ll;
	int   lineno;
	int   ret;

	lline_init(&ll, cfg->path, buf, len, LLINE_JOIN_SPACE, "setting");
	while ((ret = lline_next(&ll, logical, &lineno, why)) > 0)
		if (cfg_parse_setting(cfg, VSTR_STR(logical), VSTR_LEN(logical),
				      lineno, why)
		    < 0) {
			ret = -1;
			break;
		}
	vstr_free(logical);
	return ret;
}

CFG *
cfg_open_buffer(const char *confdir, const char *name, const char *buf,
		size_t len, VSTR *why)
{
	CFG *cfg = cfg_new(confdir, name);

	if (cfg_parse(cfg, buf, len, why) < 0)
		return cfg_free(cfg);
	return cfg;
}

CFG *
cfg_open(const char *confdir, VSTR *why)
{
	VSTR	   *path = vstr_alloc(256);
	VSTR	   *text = vstr_alloc(4096);
	CFG	   *cfg = NULL;
	struct stat st;
	int	    fd;
	ssize_t	    got;

	vstr_sprintf(path, "%s/main.cf", confdir);
	if ((fd = open(VSTR_STR(path), O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			cfg = cfg_new(confdir, VSTR_STR(path));
		else
			vstr_sprintf(why, "open %s: %m", VSTR_STR(path));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		vstr_sprintf(why, "%s: not a regular file", VSTR_STR(path));
		close(fd);
		goto out;
	}
	vstr_set_limit(text, CFG_FILE_MAX);
	for (;;) {
		if (vstr_space(text, 8192) < 0) {
			vstr_sprintf(why, "%s: file too large", VSTR_STR(path));
			close(fd);
			goto out;
		}
		got = read(fd, VSTR_END(text), 8192);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			vstr_sprintf(why, "read %s: %m", VSTR_STR(path));
			close(fd);
			goto out;
		}
		if (got == 0)
			break;
		vstr_set_len(text, VSTR_LEN(text) + (size_t)got);
	}
	close(fd);
	cfg = cfg_open_buffer(confdir, VSTR_STR(path), VSTR_STR(text),
			      VSTR_LEN(text), why);
out:
	vstr_free(path);
	vstr_free(text);
	return cfg;
}

const char *
cfg_confdir(const CFG *cfg)
{
	return cfg->confdir;
}

const char *
cfg_path(const CFG *cfg)
{
	return cfg->path;
}

const char *
cfg_confdir_from_env(const char *opt_c)
{
	const char *env;

	if (opt_c != NULL && *opt_c != 0)
		return opt_c;
	if ((env = getenv("MAIL_CONFIG")) != NULL && *env != 0)
		return env;
	return CFG_DEFAULT_CONFDIR;
}

const char *
cfg_default_confdir(void)
{
	return cfg_confdir_from_env(NULL);
}

void
cfg_override(CFG *cfg, const char *name, const char *value)
{
	struct cfg_var *var = cfg_add_var(cfg, name, strlen(name));

	myfree(var->over_value);
	var->over_value = mystrdup(value);
	cfg_flush_cache(cfg);
}

int
cfg_set_from_arg(CFG *cfg, const char *name_eq_value)
{
	const char *eq = strchr(name_eq_value, '=');
	char	   *name;
	char	   *value;
	char	   *trimmed;
	const char *cp;

	if (eq == NULL)
		return -1;
	name = mystrndup(name_eq_value, (size_t)(eq - name_eq_value));
	trimmed = str_trim(name);
	if (*trimmed == 0) {
		myfree(name);
		return -1;
	}
	for (cp = trimmed; *cp; cp++) {
		if (!cfg_setting_name_char(*cp)) {
			myfree(name);
			return -1;
		}
	}
	value = mystrdup(eq + 1);
	cfg_override(cfg, trimmed, str_trim(value));
	myfree(value);
	myfree(name);
	return 0;
}

const char *
cfg_get_raw(const CFG *cfg, const char *name)
{
	struct cfg_var *var = cfg_find_var(cfg, name, strlen(name));

	if (var == NULL)
		return NULL;
	return var->over_value ? var->over_value : var->file_value;
}

int
cfg_line(const CFG *cfg, const char *name)
{
	struct cfg_var *var = cfg_find_var(cfg, name, strlen(name));

	if (var == NULL || var->over_value != NULL || var->file_value == NULL)
		return 0;
	return var->file_line;
}

/* The system host name, made fully qualified with .localdomain. */
static void
cfg_system_hostname(VSTR *out)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0 || host[0] == 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = 0;
	vstr_strcpy(out, host);
	if (strchr(host, '.') == NULL)
		vstr_strcat(out, ".localdomain");
}

/* Expand the value of a name into a cached string; NULL + why on error. */
static const char *cfg_expand_name(const CFG *, const char *, size_t, VSTR *);

/*
 * mynetworks when main.cf does not set it: from mynetworks_style and the
 * addresses of inet_interfaces (util/mynetworks.c).  A bad style is
 * reported and the safest style, host, is used.
 */
static void
cfg_mynetworks_default(const CFG *cfg, VSTR *out)
{
	VSTR	   *why = vstr_alloc(64);
	const char *style = cfg_expand_name(cfg, "mynetworks_style", 16, why);
	const char *ifs = cfg_expand_name(cfg, "inet_interfaces", 15, why);
	const char *protos = cfg_expand_name(cfg, "inet_protocols", 14, why);

	if (style == NULL || ifs == NULL || protos == NULL) {
		msg_warn("mynetworks: %s", VSTR_STR(why));
		style = style ? style : "host";
		ifs = ifs ? ifs : "all";
		protos = protos ? protos : "all";
	}
	if (mynetworks_compute(style, ifs, protos, out, why) < 0) {
		msg_warn("%s: using mynetworks_style = host", VSTR_STR(why));
		if (mynetworks_compute("host", ifs, protos, out, why) < 0)
			msg_warn("mynetworks: %s", VSTR_STR(why));
	}
	vstr_free(why);
}

const char *
cfg_get_default(const CFG *cfg, const char *name)
{
	const struct param_def *def = param_lookup(name);
	struct cfg_var	       *var;
	VSTR		       *buf;

	if (def == NULL)
		return NULL;
	if (strcmp(name, "config_directory") != 0
	    && strcmp(name, "myhostname") != 0 && strcmp(name, "mydomain") != 0
	    && strcmp(name, "mynetworks") != 0)
		return def->defval;
	var = cfg_add_var(cfg, name, strlen(name));
	if (var->computed_default != NULL)
		return var->computed_default;
	buf = vstr_alloc(64);
	if (strcmp(name, "config_directory") == 0) {
		vstr_strcpy(buf, cfg->confdir);
	} else if (strcmp(name, "myhostname") == 0) {
		cfg_system_hostname(buf);
	} else if (strcmp(name, "mynetworks") == 0) {
		cfg_mynetworks_default(cfg, buf);
	} else {
		VSTR	   *why = vstr_alloc(64);
		const char *host;
		const char *dot;

		/* mydomain follows the myhostname in effect, set or not. */
		host = cfg_expand_name(cfg, "myhostname", 10, why);
		if (host == NULL)
			host = "";
		vstr_free(why);
		if ((dot = strchr(host, '.')) != NULL && dot[1] != 0)
			vstr_strcpy(buf, dot + 1);
		else
			vstr_strcpy(buf, "localdomain");
	}
	var->computed_default = vstr_export(buf);
	return var->computed_default;
}

/* Text in effect for any name, user-defined ones included. */
static const char *
cfg_text(const CFG *cfg, const char *name)
{
	const char *text = cfg_get_raw(cfg, name);

	if (text == NULL)
		text = cfg_get_default(cfg, name);
	return text ? text : "";
}

/*
 * Reading a name that util/param_table.c does not declare is a bug in the
 * caller (a typo would otherwise read "" or 0 for ever).
 */
static const struct param_def *
cfg_known(const char *func, const char *name)
{
	const struct param_def *def = param_lookup(name);

	if (def == NULL)
		msg_panic("%s: parameter \"%s\" is not in util/param_table.c",
			  func, name);
	return def;
}

const char *
cfg_get_text(const CFG *cfg, const char *name)
{
	(void)cfg_known("cfg_get_text", name);
	return cfg_text(cfg, name);
}

static const char *
cfg_expand_name(const CFG *cfg, const char *name, size_t len, VSTR *why)
{
	struct cfg_vars *vs = cfg->vars;
	struct cfg_var	*var = cfg_find_var(cfg, name, len);
	const char	*text;
	VSTR		*out;
	size_t		 chain_len;
	int		 ret;

	if (var != NULL && var->expanded != NULL)
		return var->expanded;
	if (var == NULL) {
		char *tmp = mystrndup(name, len);
		bool  known = param_lookup(tmp) != NULL;

		myfree(tmp);
		if (!known)
			return ""; /* unknown and unset */
		var = cfg_add_var(cfg, name, len);
	}
	chain_len = VSTR_LEN(vs->chain);
	if (var->expanding) {
		vstr_sprintf(why, "expansion loop: %s -> %s",
			     VSTR_STR(vs->chain), var->name);
		return NULL;
	}
	if (vs->depth >= CFG_DEPTH_MAX) {
		vstr_sprintf(why, "parameter %s: expansion nested too deeply",
			     var->name);
		return NULL;
	}
	if (chain_len > 0)
		vstr_strcat(vs->chain, " -> ");
	vstr_strcat(vs->chain, var->name);
	/* Mark first: a computed default (mydomain) may expand other names. */
	var->expanding = true;
	vs->depth++;
	text = cfg_text(cfg, var->name);
	out = vstr_alloc(strlen(text) + 1);
	ret = cfg_expand_text(cfg, text, strlen(text), out, why,
			      CFG_UNKNOWN_EMPTY);
	vs->depth--;
	var->expanding = false;
	vstr_truncate(vs->chain, chain_len);
	if (ret < 0) {
		vstr_free(out);
		return NULL;
	}
	var->expanded = vstr_export(out);
	return var->expanded;
}

/* Is name known to the table or set in this CFG? */
static bool
cfg_name_defined(const CFG *cfg, const char *name, size_t len)
{
	struct cfg_var *var = cfg_find_var(cfg, name, len);
	char	       *tmp;
	bool		known;

	if (var != NULL && (var->file_value || var->over_value))
		return true;
	tmp = mystrndup(name, len);
	known = param_lookup(tmp) != NULL;
	myfree(tmp);
	return known;
}

/* Append, failing past CFG_VALUE_MAX. */
static int
cfg_append(VSTR *out, const char *data, size_t len, VSTR *why)
{
	if (VSTR_LEN(out) + len > CFG_VALUE_MAX) {
		vstr_sprintf(why, "expanded value longer than %d bytes",
			     CFG_VALUE_MAX);
		return -1;
	}
	vstr_memcat(out, data, len);
	return 0;
}

/*
 * Find the bracket that closes the one before cp (open/close given),
 * counting nested pairs of the same kind; NULL if unbalanced.
 */
static const char *
cfg_find_close(const char *cp, const char *end, int open, int close)
{
	int level = 1;

	for (; cp < end; cp++) {
		if (*cp == open)
			level++;
		else if (*cp == close && --level == 0)
			return cp;
	}
	return NULL;
}

/* Skip white space within [cp, end). */
static const char *
cfg_skip_space(const char *cp, const char *end)
{
	while (cp < end && isspace((unsigned char)*cp))
		cp++;
	return cp;
}

/*
 * The conditional part of ${name?...} or ${name:...}, from the operator
 * `op` to the closing bracket `stop`.  Plain forms: ${x?text} gives text
 * when x is non-empty, ${x:text} when x is empty.  Postfix 3 brace forms:
 * ${x?{text}}, ${x:{text}} and ${x?{when set}:{when empty}}, where the
 * text may hold ':' and '?' and loses its braces.
 */
static int
cfg_expand_cond(const CFG *cfg, const char *op, const char *stop, bool set,
		VSTR *out, VSTR *why, enum cfg_unknown unknown)
{
	const char *cp = cfg_skip_space(op + 1, stop);
	const char *close;
	const char *colon;
	const char *alt;
	const char *alt_close;

	if (cp == stop || *cp != '{') {
		if ((*op == '?') != set)
			return 0;
		return cfg_expand_text(cfg, op + 1, (size_t)(stop - op - 1),
				       out, why, unknown);
	}
	if ((close = cfg_find_close(cp + 1, stop, '{', '}')) == NULL) {
		vstr_sprintf(why, "missing '}' in conditional expansion");
		return -1;
	}
	colon = cfg_skip_space(close + 1, stop);
	if (colon == stop) {
		if ((*op == '?') != set)
			return 0;
		return cfg_expand_text(cfg, cp + 1, (size_t)(close - cp - 1),
				       out, why, unknown);
	}
	alt = *colon == ':' ? cfg_skip_space(colon + 1, stop) : stop;
	if (*op != '?' || alt == stop || *alt != '{'
	    || (alt_close = cfg_find_close(alt + 1, stop, '{', '}')) == NULL
	    || cfg_skip_space(alt_close + 1, stop) != stop) {
		vstr_sprintf(why, "bad conditional expansion: use "
				  "${name?{text}:{text}}");
		return -1;
	}
	if (set)
		return cfg_expand_text(cfg, cp + 1, (size_t)(close - cp - 1),
				       out, why, unknown);
	return cfg_expand_text(cfg, alt + 1, (size_t)(alt_close - alt - 1), out,
			       why, unknown);
}

static int
cfg_expand_text(const CFG *cfg, const char *text, size_t len, VSTR *out,
		VSTR *why, enum cfg_unknown unknown)
{
	const char	*cp = text;
	const char	*end = text + len;
	struct cfg_vars *vs = cfg->vars;
	int		 ret = 0;

	if (vs->depth >= CFG_DEPTH_MAX) {
		vstr_sprintf(why, "expansion nested too deeply");
		return -1;
	}
	vs->depth++;
	while (cp < end && ret == 0) {
		const char *dollar = memchr(cp, '$', (size_t)(end - cp));
		const char *name;
		size_t	    name_len;
		const char *value;

		if (dollar == NULL) {
			ret = cfg_append(out, cp, (size_t)(end - cp), why);
			break;
		}
		if ((ret = cfg_append(out, cp, (size_t)(dollar - cp), why)) < 0)
			break;
		cp = dollar + 1;
		if (cp < end && *cp == '$') { /* $$ is one $ */
			ret = cfg_append(out, "$", 1, why);
			cp++;
		} else if (cp < end && (*cp == '{' || *cp == '(')) {
			int	    open = *cp;
			int	    close = open == '{' ? '}' : ')';
			const char *stop = cfg_find_close(cp + 1, end, open,
							  close);
			const char *op;

			if (stop == NULL) {
				vstr_sprintf(why, "missing '%c' after \"$%c\"",
					     close, open);
				ret = -1;
				break;
			}
			name = cp + 1;
			for (op = name; op < stop && cfg_name_char(*op); op++)
				/* void */;
			name_len = (size_t)(op - name);
			if (name_len == 0
			    || (op < stop && *op != '?' && *op != ':')) {
				vstr_sprintf(why,
					     "bad parameter name in "
					     "\"$%c%.*s%c\"",
					     open, (int)(stop - name), name,
					     close);
				ret = -1;
				break;
			}
			if (unknown == CFG_UNKNOWN_KEEP
			    && !cfg_name_defined(cfg, name, name_len)) {
				ret = cfg_append(out, dollar,
						 (size_t)(stop + 1 - dollar),
						 why);
				cp = stop + 1;
				continue;
			}
			if ((value = cfg_expand_name(cfg, name, name_len, why))
			    == NULL) {
				ret = -1;
				break;
			}
			if (op == stop) {
				ret = cfg_append(out, value, strlen(value),
						 why);
			} else {
				ret = cfg_expand_cond(cfg, op, stop,
						      *value != 0, out, why,
						      unknown);
			}
			cp = stop + 1;
		} else if (cp < end && cfg_name_char(*cp)) {
			name = cp;
			while (cp < end && cfg_name_char(*cp))
				cp++;
			name_len = (size_t)(cp - name);
			if (unknown == CFG_UNKNOWN_KEEP
			    && !cfg_name_defined(cfg, name, name_len)) {
				ret = cfg_append(out, dollar,
						 (size_t)(cp - dollar), why);
				continue;
			}
			if ((value = cfg_expand_name(cfg, name, name_len, why))
			    == NULL) {
				ret = -1;
				break;
			}
			ret = cfg_append(out, value, strlen(value), why);
		} else {
			/* A lone '$' stands for itself. */
			ret = cfg_append(out, "$", 1, why);
		}
	}
	vs->depth--;
	return ret;
}

int
cfg_expand(const CFG *cfg, const char *text, VSTR *out, VSTR *why)
{
	vstr_reset(out);
	return cfg_expand_text(cfg, text, strlen(text), out, why,
			       CFG_UNKNOWN_EMPTY);
}

int
cfg_expand_known(const CFG *cfg, const char *text, VSTR *out, VSTR *why)
{
	vstr_reset(out);
	return cfg_expand_text(cfg, text, strlen(text), out, why,
			       CFG_UNKNOWN_KEEP);
}

/* "main.cf:12: parameter x" or "parameter x" for messages. */
static void
cfg_where(const CFG *cfg, const char *name, VSTR *where)
{
	int line = cfg_line(cfg, name);

	if (line > 0)
		vstr_sprintf(where, "%s:%d: parameter %s", cfg->path, line,
			     name);
	else
		vstr_sprintf(where, "parameter %s", name);
}

/* Allocates nothing, so that tests that catch the fatal error leak nothing. */
_Noreturn static void
cfg_fatal(const CFG *cfg, const char *name, const char *reason)
{
	int line = cfg_line(cfg, name);

	if (line > 0)
		msg_fatal_status(EX_CONFIG, "%s:%d: parameter %s: %s",
				 cfg->path, line, name, reason);
	msg_fatal_status(EX_CONFIG, "parameter %s: %s", name, reason);
}

const char *
cfg_get_str(const CFG *cfg, const char *name)
{
	VSTR	   *why = cfg->vars->why;
	const char *value;

	(void)cfg_known("cfg_get_str", name);
	value = cfg_expand_name(cfg, name, strlen(name), why);

	if (value == NULL)
		cfg_fatal(cfg, name, VSTR_STR(why));
	return value;
}

int
cfg_parse_bool(const char *text, bool *value)
{
	if (strcasecmp(text, "yes") == 0 || strcasecmp(text, "true") == 0)
		*value = true;
	else if (strcasecmp(text, "no") == 0 || strcasecmp(text, "false") == 0)
		*value = false;
	else
		return -1;
	return 0;
}

/* Leading decimal digits; -1 on none or overflow. */
static int
cfg_parse_number(const char *text, long long *value, const char **rest)
{
	long long   v = 0;
	const char *cp = text;

	if (!isdigit((unsigned char)*cp))
		return -1;
	for (; isdigit((unsigned char)*cp); cp++) {
		if (v > (LLONG_MAX - (*cp - '0')) / 10)
			return -1;
		v = v * 10 + (*cp - '0');
	}
	*value = v;
	*rest = cp;
	return 0;
}

static long long
cfg_unit_scale(int unit)
{
	switch (unit) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	case 'w':
		return 7 * 86400;
	}
	return 0;
}

int
cfg_parse_time(const char *text, int default_unit, long long *secs, VSTR *why)
{
	long long   v;
	long long   scale;
	const char *rest;
	int	    unit;

	if (cfg_parse_number(text, &v, &rest) < 0) {
		vstr_sprintf(why, "bad time value \"%s\"", text);
		return -1;
	}
	unit = *rest ? tolower((unsigned char)*rest) : default_unit;
	if ((scale = cfg_unit_scale(unit)) == 0 || (*rest && rest[1])) {
		vstr_sprintf(why, "bad time value \"%s\" (units: s m h d w)",
			     text);
		return -1;
	}
	if (v > LLONG_MAX / scale) {
		vstr_sprintf(why, "time value \"%s\" too large", text);
		return -1;
	}
	*secs = v * scale;
	return 0;
}

int
cfg_parse_size(const char *text, long long *bytes, VSTR *why)
{
	long long   v;
	long long   scale = 1;
	const char *rest;

	if (cfg_parse_number(text, &v, &rest) < 0) {
		vstr_sprintf(why, "bad size value \"%s\"", text);
		return -1;
	}
	if (*rest) {
		switch (tolower((unsigned char)*rest)) {
		case 'k':
			scale = 1024;
			break;
		case 'm':
			scale = 1024 * 1024;
			break;
		case 'g':
			scale = 1024 * 1024 * 1024;
			break;
		default:
			scale = 0;
		}
		if (scale == 0 || rest[1]) {
			vstr_sprintf(why,
				     "bad size value \"%s\" (suffixes: "
				     "k m g)",
				     text);
			return -1;
		}
	}
	if (v > LLONG_MAX / scale) {
		vstr_sprintf(why, "size value \"%s\" too large", text);
		return -1;
	}
	*bytes = v * scale;
	return 0;
}

/* The unit a bare number means: the unit letter ending the default. */
static int
cfg_time_unit(const struct param_def *def)
{
	size_t len;
	int    last;

	if (def == NULL || (len = strlen(def->defval)) == 0)
		return 's';
	last = def->defval[len - 1];
	return cfg_unit_scale(last) ? last : 's';
}

/*
 * Convert an expanded value to the parameter's type and check its bounds.
 * 0, or -1 with why = reason.  STR values always pass.
 */
static int
cfg_convert(const struct param_def *def, const char *value, long long *num,
	    VSTR *why)
{
	long long v = 0;
	bool	  b;

	if (def == NULL)
		return 0;
	switch (def->type) {
	case PARAM_STR:
		return 0;
	case PARAM_BOOL:
		if (cfg_parse_bool(value, &b) < 0) {
			vstr_sprintf(why,
				     "bad boolean value \"%s\" (use yes "
				     "or no)",
				     value);
			return -1;
		}
		v = b;
		break;
	case PARAM_INT:
		if (str_to_ll(value, &v) < 0) {
			vstr_sprintf(why, "bad numerical value \"%s\"", value);
			return -1;
		}
		break;
	case PARAM_TIME:
		if (cfg_parse_time(value, cfg_time_unit(def), &v, why) < 0)
			return -1;
		break;
	case PARAM_SIZE:
		if (cfg_parse_size(value, &v, why) < 0)
			return -1;
		break;
	}
	if ((def->min != 0 || def->max != 0)
	    && (v < def->min || v > def->max)) {
		if (def->max == LLONG_MAX)
			vstr_sprintf(why,
				     "value \"%s\" is below the minimum "
				     "%lld",
				     value, def->min);
		else
			vstr_sprintf(why,
				     "value \"%s\" is out of range "
				     "[%lld, %lld]",
				     value, def->min, def->max);
		return -1;
	}
	*num = v;
	return 0;
}

static long long
cfg_get_typed(const CFG *cfg, const char *name, enum param_type type)
{
	const struct param_def *def = cfg_known("cfg_get_typed", name);
	const char	       *value = cfg_get_str(cfg, name);
	VSTR		       *why = cfg->vars->why;
	long long		v = 0;

	if (def->type != type)
		msg_panic("parameter %s is a %s, read as a %s", name,
			  param_type_name(def->type), param_type_name(type));
	if (cfg_convert(def, value, &v, why) < 0)
		cfg_fatal(cfg, name, VSTR_STR(why));
	return v;
}

long long
cfg_get_int(const CFG *cfg, const char *name)
{
	return cfg_get_typed(cfg, name, PARAM_INT);
}

bool
cfg_get_bool(const CFG *cfg, const char *name)
{
	return cfg_get_typed(cfg, name, PARAM_BOOL) != 0;
}

long long
cfg_get_time(const CFG *cfg, const char *name)
{
	return cfg_get_typed(cfg, name, PARAM_TIME);
}

long long
cfg_get_size(const CFG *cfg, const char *name)
{
	return cfg_get_typed(cfg, name, PARAM_SIZE);
}

/*
 * Postfix derives per-transport parameters from master.cf service names
 * (relay_destination_concurrency_limit, ...).  Only the families that a
 * program reads are listed, each with the parameter that gives its
 * default, so a family member is validated like that parameter.
 */
static const struct cfg_family {
	const char *suffix;  /* without the leading '_' */
	const char *defname; /* default_<suffix> */
} cfg_families[] = {
	{ "destination_concurrency_limit",
	  "default_destination_concurrency_limit" },
	{ "destination_recipient_limit",
	  "default_destination_recipient_limit" },
};

#define CFG_NFAMILIES (sizeof(cfg_families) / sizeof(cfg_families[0]))

static const struct cfg_family *
cfg_family_of(const char *name, size_t *prefix_len)
{
	size_t len = strlen(name);
	size_t i;

	for (i = 0; i < CFG_NFAMILIES; i++) {
		size_t slen = strlen(cfg_families[i].suffix);

		if (len > slen + 1 && name[len - slen - 1] == '_'
		    && strcmp(name + len - slen, cfg_families[i].suffix) == 0) {
			*prefix_len = len - slen - 1;
			return &cfg_families[i];
		}
	}
	return NULL;
}

size_t
cfg_transport_prefix_len(const char *name)
{
	size_t prefix_len = 0;

	if (cfg_family_of(name, &prefix_len) == NULL)
		return 0;
	/* default_destination_concurrency_limit is the default, no family. */
	if (prefix_len == 7 && strncmp(name, "default", 7) == 0)
		return 0;
	return prefix_len;
}

long long
cfg_get_transport_int(const CFG *cfg, const char *transport, const char *suffix)
{
	const struct cfg_family *fam = NULL;
	const struct param_def	*def;
	VSTR	   *name = cfg->vars->tname; /* no allocation: may be fatal */
	VSTR	   *why = cfg->vars->why;
	const char *value;
	long long   v = 0;
	size_t	    i;

	for (i = 0; i < CFG_NFAMILIES && fam == NULL; i++)
		if (strcmp(cfg_families[i].suffix, suffix) == 0)
			fam = &cfg_families[i];
	if (fam == NULL)
		msg_panic("cfg_get_transport_int: no per-transport family "
			  "\"%s\"",
			  suffix);
	def = cfg_known("cfg_get_transport_int", fam->defname);
	if (def->type != PARAM_INT)
		msg_panic("cfg_get_transport_int: %s is a %s", fam->defname,
			  param_type_name(def->type));
	vstr_sprintf(name, "%s_%s", transport, suffix);
	if (param_lookup(VSTR_STR(name)) != NULL) {
		v = cfg_get_int(cfg, VSTR_STR(name));
	} else if (cfg_get_raw(cfg, VSTR_STR(name)) != NULL) {
		value = cfg_expand_name(cfg, VSTR_STR(name), VSTR_LEN(name),
					why);
		if (value == NULL || cfg_convert(def, value, &v, why) < 0)
			cfg_fatal(cfg, VSTR_STR(name), VSTR_STR(why));
	} else {
		v = cfg_get_int(cfg, fam->defname);
	}
	return v;
}

int
cfg_check(const CFG *cfg, VSTR *why)
{
	struct cfg_vars *vs = cfg->vars;
	VSTR		*reason = vstr_alloc(64);
	VSTR		*where = vstr_alloc(64);
	size_t		 i;
	int		 ret = 0;

	for (i = 0; i < vs->count && ret == 0; i++) {
		struct cfg_var	       *var = vs->var[i];
		const struct param_def *def = param_lookup(var->name);
		const char	       *value;
		long long		num;

		if (var->file_value == NULL && var->over_value == NULL)
			continue;
		/* A per-transport name is checked like its default. */
		if (def == NULL && cfg_transport_prefix_len(var->name) > 0) {
			size_t plen;

			def = param_lookup(
			    cfg_family_of(var->name, &plen)->defname);
		}
		value = cfg_expand_name(cfg, var->name, strlen(var->name),
					reason);
		if (value == NULL
		    || cfg_convert(def, value, &num, reason) < 0) {
			cfg_where(cfg, var->name, where);
			vstr_sprintf(why, "%s: %s", VSTR_STR(where),
				     VSTR_STR(reason));
			ret = -1;
		}
	}
	vstr_free(reason);
	vstr_free(where);
	return ret;
}

size_t
cfg_count(const CFG *cfg)
{
	return cfg->vars->file_count;
}

const char *
cfg_name_at(const CFG *cfg, size_t i)
{
	if (i >= cfg->vars->file_count)
		return NULL;
	return cfg->vars->var[cfg->vars->file_order[i]]->name;
}
