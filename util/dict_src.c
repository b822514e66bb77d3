/*
 * dict_src - reading and splitting table source files.  See dict_src.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/dict_src.h"
#include "util/lline.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

int
dict_src_split(char *line, char **key, char **value)
{
	char *p = line;
	char *end;

	while (isspace((unsigned char)*p))
		p++;
	*key = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	if (*p)
		*p++ = 0;
	while (isspace((unsigned char)*p))
		p++;
	*value = p;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		*--end = 0;
	return 0;
}

int
dict_src_read_file(const char *path, VSTR *buf, VSTR *why)
{
	int	    fd;
	struct stat st;
	ssize_t	    n;

	vstr_reset(buf);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		vstr_sprintf(why, "open %s: %m", path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		vstr_sprintf(why, "fstat %s: %m", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		vstr_sprintf(why, "%s: not a regular file", path);
		close(fd);
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		if (VSTR_LEN(buf) >= DICT_SRC_FILE_MAX) {
			vstr_sprintf(why, "%s: file larger than %d bytes", path,
				     DICT_SRC_FILE_MAX);
			close(fd);
			return -1;
		}
		vstr_space(buf, 65536);
		n = read(fd, VSTR_END(buf), 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			vstr_sprintf(why, "read %s: %m", path);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		vstr_set_len(buf, VSTR_LEN(buf) + (size_t)n);
	}
	close(fd);
	return 0;
}

DICT *
dict_src_open_file(const char *name, int flags, DICT_SRC_OPEN_FN open_buffer,
		   VSTR *why)
{
	VSTR *buf = vstr_alloc(4096);
	DICT *d = NULL;

	if (dict_src_read_file(name, buf, why) == 0)
		d = open_buffer(name, VSTR_STR(buf), VSTR_LEN(buf), flags, why);
	vstr_free(buf);
	return d;
}

/* An open if: its rule index, and its line for "if without endif". */
struct dict_src_block {
	size_t rule;
	int    lineno;
};

int
dict_src_rules(const char *name, const char *text, size_t len,
	       DICT_SRC_RULE_FN rule, DICT_SRC_ENDIF_FN endif, void *ctx,
	       VSTR *why)
{
	LLINE		       src;
	VSTR		      *line = vstr_alloc(256);
	VSTR		      *where = vstr_alloc(64);
	struct dict_src_block *stack = NULL;
	size_t		       depth = 0;
	size_t		       cap = 0;
	size_t		       count = 0;
	int		       lineno;
	int		       ret;
	int		       kind;

	lline_init(&src, name, text, len, 0, NULL);
	while ((ret = lline_next(&src, line, &lineno, why)) > 0) {
		vstr_sprintf(where, "%s:%d", name, lineno);
		if ((kind = rule(ctx, VSTR_STR(line), lineno, VSTR_STR(where),
				 why))
		    < 0) {
			ret = -1;
			break;
		}
		if (kind == DICT_SRC_ENDIF) {
			if (depth == 0) {
				vstr_sprintf(why, "%s: endif without if",
					     VSTR_STR(where));
				ret = -1;
				break;
			}
			endif(ctx, stack[--depth].rule, count);
		} else if (kind == DICT_SRC_IF) {
			if (depth == cap) {
				cap = cap ? cap * 2 : 8;
				stack = myrealloc_array(stack, cap,
							sizeof(*stack));
			}
			stack[depth].rule = count;
			stack[depth++].lineno = lineno;
		}
		count++;
	}
	if (ret == 0 && depth > 0) {
		vstr_sprintf(why, "%s:%d: if without endif", name,
			     stack[depth - 1].lineno);
		ret = -1;
	}
	myfree(stack);
	vstr_free(line);
	vstr_free(where);
	return ret;
}
