/*
 * dict_cidr - cidr: tables with Postfix cidr_table(5) syntax.
 *
 * Rules, tried in file order, first match wins:
 *   network/prefix result      also [ipv6]/prefix, bare address (host)
 *   !network/prefix result     the key is not in the network
 *   if network/prefix ... endif   (also "if !network/prefix") nest freely
 * IPv4 keys match IPv4 rules only, IPv6 keys IPv6 rules only.  A network
 * with host bits set is an error (Postfix only warns).
 *
 * Errors: open fails with why "name:line: reason"; a lookup key that is
 * not an IP address is simply not found.  Values are borrowed from the
 * DICT until it is closed.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/dict_src.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

enum cidr_op {
	CIDR_MATCH,
	CIDR_IF,
	CIDR_ENDIF,
};

typedef struct CIDR_RULE {
	enum cidr_op  op;
	int	      negate;
	int	      family; /* AF_INET or AF_INET6 */
	unsigned char net[16];
	unsigned      prefix;
	char	     *result;
	int	      lineno;
	size_t	      endif;
} CIDR_RULE;

typedef struct DICT_CIDR {
	DICT	   dict;
	CIDR_RULE *rules;
	size_t	   count;
} DICT_CIDR;

/* Parse an address, optionally in brackets; 0 or -1. */
static int
cidr_addr(const char *text, size_t len, int *family, unsigned char *addr)
{
	char buf[INET6_ADDRSTRLEN + 2];

	if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
		text++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = 0;
	if (strchr(buf, ':') != NULL) {
		*family = AF_INET6;
		return inet_pton(AF_INET6, buf, addr) == 1 ? 0 : -1;
	}
	*family = AF_INET;
	return inet_pton(AF_INET, buf, addr) == 1 ? 0 : -1;
}

static int
cidr_in_net(const unsigned char *addr, const unsigned char *net,
	    unsigned prefix)
{
	unsigned      full = prefix / 8;
	unsigned      rest = prefix % 8;
	unsigned char mask;

	if (memcmp(addr, net, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (addr[full] & mask) == (net[full] & mask);
}

/* Parse "[!]network[/prefix]" at *pp; 0 or -1 with why. */
static int
cidr_parse_net(char **pp, CIDR_RULE *rule, const char *where, VSTR *why)
{
	char	     *p = *pp;
	char	     *tok;
	char	     *slash;
	char	     *end;
	size_t	      alen;
	unsigned long prefix;
	unsigned      max;
	unsigned char host[16];
	unsigned      i;

	if (*p == '!') {
		rule->negate = 1;
		p++;
	}
	tok = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	if (*p)
		*p++ = 0;
	*pp = p;
	if (*tok == '[') {
		/* [addr] or [addr]/prefix: the prefix stays outside. */
		if ((end = strchr(tok, ']')) == NULL
		    || (end[1] != 0 && end[1] != '/'))
			alen = 0;
		else
			alen = (size_t)(end - tok) + 1;
		slash = alen && end[1] == '/' ? end + 1 : NULL;
	} else {
		slash = strchr(tok, '/');
		alen = slash ? (size_t)(slash - tok) : strlen(tok);
	}
	if (alen == 0 || cidr_addr(tok, alen, &rule->family, rule->net) < 0) {
		vstr_sprintf(why, "%s: bad network address \"%s\"", where, tok);
		return -1;
	}
	max = rule->family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		rule->prefix = max;
		return 0;
	}
	if (!isdigit((unsigned char)slash[1])) {
		vstr_sprintf(why, "%s: bad prefix length in \"%s\"", where,
			     tok);
		return -1;
	}
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (*end || errno || prefix > max) {
		vstr_sprintf(why, "%s: bad prefix length in \"%s\"", where,
			     tok);
		return -1;
	}
	rule->prefix = (unsigned)prefix;
	memcpy(host, rule->net, sizeof(host));
	for (i = rule->prefix; i < max; i++)
		host[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
	if (memcmp(host, rule->net, max / 8) != 0) {
		vstr_sprintf(why, "%s: non-null host address bits in \"%s\"",
			     where, tok);
		return -1;
	}
	return 0;
}

static int
cidr_parse_line(char *line, CIDR_RULE *rule, const char *where, VSTR *why)
{
	char *p = line;

	memset(rule, 0, sizeof(*rule));
	p = str_trim(p);
	if (str_is_word(p, "endif")) {
		if (p[5]) {
			vstr_sprintf(why, "%s: text after endif", where);
			return -1;
		}
		rule->op = CIDR_ENDIF;
		return 0;
	}
	if (str_is_word(p, "if")) {
		rule->op = CIDR_IF;
		p += 2;
		while (isspace((unsigned char)*p))
			p++;
		if (cidr_parse_net(&p, rule, where, why) < 0)
			return -1;
		while (isspace((unsigned char)*p))
			p++;
		if (*p) {
			vstr_sprintf(why, "%s: text after if network", where);
			return -1;
		}
		return 0;
	}
	rule->op = CIDR_MATCH;
	if (cidr_parse_net(&p, rule, where, why) < 0)
		return -1;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == 0) {
		vstr_sprintf(why, "%s: missing result after network", where);
		return -1;
	}
	rule->result = mystrdup(p);
	return 0;
}

static int
cidr_match(const CIDR_RULE *r, int family, const unsigned char *addr)
{
	if (r->family != family)
		return 0;
	return cidr_in_net(addr, r->net, r->prefix) != r->negate;
}

static int
cidr_lookup(DICT *d, const char *key, const char **value)
{
	DICT_CIDR	*dc = (DICT_CIDR *)d;
	unsigned char	 addr[16];
	int		 family;
	size_t		 i = 0;
	const CIDR_RULE *r;

	if (cidr_addr(key, strlen(key), &family, addr) < 0)
		return 0;
	while (i < dc->count) {
		r = &dc->rules[i];
		if (r->op == CIDR_ENDIF) {
			i++;
		} else if (r->op == CIDR_IF) {
			i = cidr_match(r, family, addr) ? i + 1 : r->endif + 1;
		} else if (cidr_match(r, family, addr)) {
			*value = r->result;
			return 1;
		} else
			i++;
	}
	return 0;
}

static void
cidr_close(DICT *d)
{
	DICT_CIDR *dc = (DICT_CIDR *)d;
	size_t	   i;

	for (i = 0; i < dc->count; i++)
		myfree(dc->rules[i].result);
	myfree(dc->rules);
}

/* dict_src_rules callbacks: append one rule; pair if and endif. */
static int
cidr_add_rule(void *ctx, char *line, int lineno, const char *where, VSTR *why)
{
	DICT_CIDR *dc = ctx;
	CIDR_RULE  rule;

	if (cidr_parse_line(line, &rule, where, why) < 0) {
		myfree(rule.result);
		return -1;
	}
	rule.lineno = lineno;
	if ((dc->count & (dc->count - 1)) == 0)
		dc->rules = myrealloc_array(dc->rules,
					    dc->count ? dc->count * 2 : 1,
					    sizeof(CIDR_RULE));
	dc->rules[dc->count++] = rule;
	return rule.op == CIDR_IF      ? DICT_SRC_IF
	       : rule.op == CIDR_ENDIF ? DICT_SRC_ENDIF
				       : DICT_SRC_RULE;
}

static void
cidr_pair(void *ctx, size_t if_rule, size_t endif_rule)
{
	DICT_CIDR *dc = ctx;

	dc->rules[if_rule].endif = endif_rule;
}

DICT *
dict_cidr_open_buffer(const char *name, const char *text, size_t len, int flags,
		      VSTR *why)
{
	DICT_CIDR *dc;

	dc = (DICT_CIDR *)dict_alloc(sizeof(*dc), "cidr", name, flags);
	dc->dict.lookup = cidr_lookup;
	dc->dict.close = cidr_close;
	if (dict_src_rules(name, text, len, cidr_add_rule, cidr_pair, dc, why)
	    < 0) {
		dict_close(&dc->dict);
		errno = EINVAL;
		return NULL;
	}
	return &dc->dict;
}

DICT *
dict_cidr_open(const char *name, int flags, VSTR *why)
{
	return dict_src_open_file(name, flags, dict_cidr_open_buffer, why);
}
