/*
 * map_files - file contents in table values (see map_files.h).
 *
 * Files are read whole with O_NOFOLLOW unset on purpose: admins keep
 * their certificates behind symlinks (Let's Encrypt's live/ folder).
 * The encoding is the RFC 4648 base64 of the SASL code, one line, with
 * padding, so that every table type can store it.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/map_files.h"
#include "util/mymalloc.h"
#include "util/sasl.h"
#include "util/strutil.h"

/* Append the contents of path to buf; 0, or -1 (why). */
static int
map_files_read(const char *path, VSTR *buf, VSTR *why)
{
	int	fd;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		vstr_sprintf(why, "open %s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (VSTR_LEN(buf) > MAP_FILES_MAX) {
			vstr_sprintf(why, "%s: more than %d bytes in one value",
				     path, MAP_FILES_MAX);
			close(fd);
			return -1;
		}
		vstr_space(buf, 65536);
		n = read(fd, VSTR_END(buf), 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			vstr_sprintf(why, "read %s: %s", path, strerror(errno));
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

int
map_files_encode(const char *value, VSTR *out, VSTR *why)
{
	VSTR *buf = vstr_alloc(4096);
	char *copy = mystrdup(value);
	char *cp = copy;
	char *file;
	int   nfiles = 0;
	int   ret = 0;

	vstr_reset(out);
	while (ret == 0 && (file = str_token(&cp, ", \t\r\n")) != NULL) {
		ret = map_files_read(file, buf, why);
		nfiles++;
	}
	if (ret == 0 && nfiles == 0) {
		vstr_strcpy(why, "no file names in the value");
		ret = -1;
	}
	if (ret == 0)
		sasl_proto_base64_encode(out, VSTR_STR(buf), VSTR_LEN(buf));
	/* The files usually hold private keys. */
	explicit_bzero(VSTR_STR(buf), VSTR_LEN(buf));
	vstr_free(buf);
	myfree(copy);
	return ret;
}

int
map_files_decode(const char *value, VSTR *out, VSTR *why)
{
	size_t len;

	value += strspn(value, " \t\r\n");
	len = strlen(value);
	while (len > 0 && strchr(" \t\r\n", value[len - 1]) != NULL)
		len--;
	if (len == 0 || sasl_proto_base64_decode(out, value, len) < 0) {
		vstr_reset(out);
		vstr_sprintf(why, "malformed BASE64 value: %.40s%s", value,
			     len > 40 ? "..." : "");
		return -1;
	}
	return 0;
}
