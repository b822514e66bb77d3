/*
 * header_addrs - rewrite the addresses in one header field (see
 * header_addrs.h).
 *
 * Errors: -1 when the caller's function fails.  Nothing dies but the
 * allocators.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util/addr.h"
#include "util/header_addrs.h"
#include "util/vstr.h"

static const char *const header_addrs_names[] = {
	"From",
	"Sender",
	"Reply-To",
	"To",
	"Cc",
	"Bcc",
	"Resent-From",
	"Resent-Sender",
	"Resent-Reply-To",
	"Resent-To",
	"Resent-Cc",
	"Resent-Bcc",
	"Errors-To",
	"Return-Receipt-To",
	"Disposition-Notification-To",
};

bool
header_addrs_field(const char *name, size_t len)
{
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	for (size_t i = 0;
	     i < sizeof(header_addrs_names) / sizeof(*header_addrs_names); i++)
		if (strlen(header_addrs_names[i]) == len
		    && strncasecmp(header_addrs_names[i], name, len) == 0)
			return true;
	return false;
}

/* Characters that may stand next to an address in an address list. */
static bool
header_addrs_edge(char ch)
{
	return ch == 0 || strchr("<>,;: \t\r\n()", ch) != NULL;
}

static const char *
header_addrs_find(const char *text, size_t from, const char *addr)
{
	size_t	    alen = strlen(addr);
	const char *hit;

	for (hit = strstr(text + from, addr); hit; hit = strstr(hit + 1, addr))
		if (hit > text && hit[-1] == '<' && hit[alen] == '>')
			return hit;
	for (hit = strstr(text + from, addr); hit; hit = strstr(hit + 1, addr))
		if ((hit == text || header_addrs_edge(hit[-1]))
		    && header_addrs_edge(hit[alen]))
			return hit;
	return NULL;
}

int
header_addrs_rewrite(VSTR *field, size_t name_len, HEADER_ADDR_FN fn, void *ctx)
{
	ADDR_LIST *list = addr_list_alloc();
	VSTR	  *repl = vstr_alloc(64);
	VSTR	  *out = vstr_alloc(VSTR_LEN(field) + 64);
	size_t	   from = name_len + 1;
	int	   ret = 0;

	if (from > VSTR_LEN(field))
		from = VSTR_LEN(field);
	addr_parse_header(list, VSTR_STR(field) + from, VSTR_LEN(field) - from);
	for (size_t i = 0; i < list->count; i++) {
		const char *addr = VSTR_STR(list->addrs[i]->addr);
		const char *text = VSTR_STR(field);
		const char *hit;
		int	    rc;

		if (*addr == 0)
			continue;
		vstr_reset(repl);
		if ((rc = fn(ctx, addr, repl)) < 0) {
			ret = -1;
			break;
		}
		if (rc == 0
		    || (hit = header_addrs_find(text, from, addr)) == NULL)
			continue;
		vstr_memcpy(out, text, (size_t)(hit - text));
		vstr_memcat(out, VSTR_STR(repl), VSTR_LEN(repl));
		from = VSTR_LEN(out);
		vstr_strcat(out, hit + strlen(addr));
		vstr_memcpy(field, VSTR_STR(out), VSTR_LEN(out));
	}
	addr_list_free(list);
	vstr_free(repl);
	vstr_free(out);
	return ret;
}
