/*
 * fuzz_policy_reply - libFuzzer target for util/policy's reply parser
 * (what a check_policy_service server sends back to smtpd).
 *
 * The input is parsed whole, then fed as a stream grows (every prefix
 * length a reader could hold), as policy_query's reader does.  Beyond
 * "no crash, no leak, no UB": a complete reply's length is within the
 * input and POLICY_REPLY_MAX, it ends in an empty line, and its action
 * is non-empty, printable, without leading or trailing blanks; a prefix
 * never decides differently from the whole input once the whole reply
 * is in it; the request encoder never lets a value end a request.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/policy.h"
#include "util/vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_action(const VSTR *a)
{
	const char *s = VSTR_STR(a);
	size_t	    len = VSTR_LEN(a);

	if (len == 0 || strlen(s) != len || s[0] == ' ' || s[0] == '\t'
	    || s[len - 1] == ' ' || s[len - 1] == '\t')
		abort();
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] < ' ' && s[i] != '\t') || s[i] == 127)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	VSTR	   *action = vstr_alloc(64);
	VSTR	   *why = vstr_alloc(64);
	VSTR	   *req = vstr_alloc(64);
	char	   *val;
	int	    whole = policy_reply_parse(buf, size, action, why);

	if (whole > 0) {
		if ((size_t)whole > size || whole > POLICY_REPLY_MAX
		    || buf[whole - 1] != '\n')
			abort();
		check_action(action);
	}
	/* Growing prefixes, as the reader sees them (bounded work). */
	for (size_t n = 0; n <= size && n < 512; n++) {
		int rc = policy_reply_parse(buf, n, action, why);

		if (rc > 0) {
			check_action(action);
			if (whole != rc)
				abort();
			break;
		}
		if (rc < 0 && whole >= 0 && (size_t)whole <= n)
			abort();
	}
	/* Whatever a value holds, the request stays one line. */
	val = malloc(size + 1);
	memcpy(val, data, size);
	val[size] = 0;
	policy_request_add(req, "sender", val);
	if (memchr(VSTR_STR(req), '\n', VSTR_LEN(req) - 1) != NULL
	    || VSTR_STR(req)[VSTR_LEN(req) - 1] != '\n')
		abort();
	free(val);
	vstr_free(action);
	vstr_free(why);
	vstr_free(req);
	return 0;
}
