/*
 * libFuzzer target for the fast flush logfile reader and the site to
 * file name mapping (flush/flush_log.c): arbitrary bytes as a log, and as
 * a site.  The reader must return, never crash; every ID it hands over
 * is a valid queue ID taken from one line of the input, and the lines it
 * accepts plus those it counts as bad never exceed the lines given.  A
 * site name maps to a name of letters, digits and '_' only, so a log can
 * never be outside flush/H/.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flush/flush.h"
#include "util/qid.h"
#include "util/vstr.h"

struct fuzz_ctx {
	size_t accepted;
};

static void
fuzz_id(void *ctx, const char *queue_id)
{
	struct fuzz_ctx *c = ctx;

	if (!qid_valid(queue_id) || strlen(queue_id) > QID_MAXLEN)
		abort();
	c->accepted++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ctx c = { 0 };
	size_t		lines = 0;
	size_t		bad;
	char	       *site;
	VSTR	       *name;
	VSTR	       *path;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (size > 0 && data[size - 1] != '\n')
		lines++;
	bad = flush_log_parse((const char *)data, size, fuzz_id, &c);
	if (c.accepted + bad != lines)
		abort();

	site = malloc(size + 1);
	if (site == NULL)
		return 0;
	memcpy(site, data, size);
	site[size] = 0;
	name = vstr_alloc(64);
	path = vstr_alloc(64);
	if (flush_log_name(site, name) == 0) {
		for (const char *cp = VSTR_STR(name); *cp; cp++)
			if (!(islower((unsigned char)*cp)
			      || isdigit((unsigned char)*cp) || *cp == '_'))
				abort();
		if (VSTR_LEN(name) == 0 || VSTR_LEN(name) > FLUSH_NAME_MAX)
			abort();
		flush_log_path(VSTR_STR(name), path);
		if (strncmp(VSTR_STR(path), "flush/", 6) != 0
		    || strchr(VSTR_STR(path) + 8, '/') != NULL)
			abort();
	}
	vstr_free(name);
	vstr_free(path);
	free(site);
	return 0;
}
