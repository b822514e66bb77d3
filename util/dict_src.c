/*
 * dict_src - logical lines of a table source file.  See dict_src.h.
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
#include "util/msg.h"
#include "util/vstr.h"

void
dict_src_init(DICT_SRC *src, const char *name, const char *buf, size_t len)
{
	src->name = name;
	src->buf = buf;
	src->len = len;
	src->pos = 0;
	src->lineno = 0;
}

enum src_kind {
	SRC_SKIP,			/* blank or comment */
	SRC_START,			/* non-white-space text */
	SRC_CONT,			/* continuation */
};

/* Classify the physical line at pos without consuming it. */
static enum src_kind
src_peek(const DICT_SRC *src, size_t *end)
{
	const char *p = src->buf + src->pos;
	const char *lim = src->buf + src->len;
	const char *nl = memchr(p, '\n', (size_t)(lim - p));
	const char *q;

	*end = nl ? (size_t)(nl - src->buf) : src->len;
	for (q = p; q < src->buf + *end; q++)
		if (!isspace((unsigned char)*q))
			break;
	if (q == src->buf + *end || *q == '#')
		return SRC_SKIP;
	return q == p ? SRC_START : SRC_CONT;
}

/* Append the physical line [pos, end) minus a trailing CR; consume it. */
static int
src_take(DICT_SRC *src, size_t end, VSTR *line, VSTR *why)
{
	size_t	n = end - src->pos;
	const char *p = src->buf + src->pos;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	src->lineno++;
	src->pos = end < src->len ? end + 1 : end;
	if (memchr(p, 0, n) != NULL) {
		vstr_sprintf(why, "%s:%d: NUL byte in input", src->name,
			     src->lineno);
		return -1;
	}
	if (VSTR_LEN(line) + n > DICT_SRC_LINE_MAX) {
		vstr_sprintf(why, "%s:%d: line longer than %d bytes", src->name,
			     src->lineno, DICT_SRC_LINE_MAX);
		return -1;
	}
	vstr_memcat(line, p, n);
	return 0;
}

int
dict_src_next(DICT_SRC *src, VSTR *line, int *lineno, VSTR *why)
{
	size_t	end;
	enum src_kind kind;

	vstr_reset(line);
	for (;;) {
		if (src->pos >= src->len)
			return 0;
		kind = src_peek(src, &end);
		if (kind == SRC_START)
			break;
		if (kind == SRC_CONT)
			msg_warn("%s:%d: logical line must not start with "
				 "white space; ignored", src->name,
				 src->lineno + 1);
		src->lineno++;
		src->pos = end < src->len ? end + 1 : end;
	}
	if (src_take(src, end, line, why) < 0)
		return -1;
	*lineno = src->lineno;
	while (src->pos < src->len) {
		kind = src_peek(src, &end);
		if (kind == SRC_START)
			break;
		if (kind == SRC_SKIP) {
			src->lineno++;
			src->pos = end < src->len ? end + 1 : end;
			continue;
		}
		if (src_take(src, end, line, why) < 0)
			return -1;
	}
	return 1;
}

int
dict_src_split(char *line, char **key, char **value)
{
	char   *p = line;
	char   *end;

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
	int	fd;
	struct stat st;
	ssize_t	n;

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
