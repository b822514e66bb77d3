/*
 * fuzz_dict_query - libFuzzer target for util/dict_query: the % expander
 * of query templates, result_format and the LDAP escaping.
 *
 * The input is "template\nkey\nvalue": the template is expanded for the
 * key (verbatim and LDAP-escaped) and used as result_format for the
 * value.  Invariants: a suppressed or failed expansion leaves the output
 * as it was; "%s" escaped for LDAP holds no * ( ) or NUL and every '\' is
 * followed by two hex digits; expansion_limit is never exceeded.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/dict_query.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

static void
fuzz_quiet(enum msg_level level, const char *text)
{
	(void)level;
	(void)text;
}

/* The next line of [*pp, end) as a C string (NULs end it early). */
static char *
fuzz_line(const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp;
	const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));

	if (nl == NULL)
		nl = end;
	*pp = nl < end ? nl + 1 : end;
	return mystrndup((const char *)p, (size_t)(nl - p));
}

static void
fuzz_check_ldap(const VSTR *out)
{
	const char *s = VSTR_STR(out);
	size_t	    i;

	for (i = 0; i < VSTR_LEN(out); i++) {
		if (s[i] == '*' || s[i] == '(' || s[i] == ')' || s[i] == 0)
			abort();
		if (s[i] == '\\') {
			if (i + 2 >= VSTR_LEN(out)
			    || !isxdigit((unsigned char)s[i + 1])
			    || !isxdigit((unsigned char)s[i + 2]))
				abort();
			i += 2;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	       init;
	const uint8_t	      *p = data;
	const uint8_t	      *end = data + size;
	VSTR		      *out;
	VSTR		      *why;
	char		      *tmpl;
	char		      *key;
	char		      *value;
	struct dict_query_conf qc;
	size_t		       count = 0;
	int		       ret;
	int		       i;

	if (!init) {
		msg_output_add(fuzz_quiet);
		init = 1;
	}
	if (size > 4096)
		return 0;
	tmpl = fuzz_line(&p, end);
	key = fuzz_line(&p, end);
	value = mystrndup((const char *)p, (size_t)(end - p));
	out = vstr_alloc(64);
	why = vstr_alloc(64);

	vstr_strcpy(out, "x");
	ret = dict_query_expand(out, tmpl, key, NULL, NULL, why);
	if (ret <= 0 && strcmp(VSTR_STR(out), "x") != 0)
		abort();
	vstr_reset(out);
	ret = dict_query_expand(out, tmpl, key, dict_query_quote_ldap, NULL,
				why);
	if (ret < 0 && VSTR_LEN(out) != 0)
		abort();
	vstr_reset(out);
	if (dict_query_expand(out, "%s", key, dict_query_quote_ldap, NULL, why)
	    != 1)
		abort();
	fuzz_check_ldap(out);

	/* The template as result_format, three values, a limit of two. */
	memset(&qc, 0, sizeof(qc));
	qc.result_format = tmpl;
	qc.expansion_limit = 2;
	vstr_reset(out);
	for (i = 0; i < 3; i++) {
		ret = dict_query_result(&qc, out, &count, key, value,
					strlen(value));
		if (ret < 0 && i < 2)
			abort();
		if (count > 2)
			abort();
	}

	vstr_free(out);
	vstr_free(why);
	myfree(tmpl);
	myfree(key);
	myfree(value);
	return 0;
}
