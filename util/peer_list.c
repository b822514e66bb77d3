/*
 * peer_list - host and network lists.  See peer_list.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/peer_list.h"
#include "util/strutil.h"

/* addr (numeric) inside net/len?  -1 when the pattern is not a network. */
static int
peer_list_match_net(const char *pattern, const unsigned char *a, int afam)
{
	char	      buf[INET6_ADDRSTRLEN + 8];
	unsigned char net[16];
	const char   *slash;
	size_t	      len;
	long	      bits;
	int	      fam;
	int	      max;
	char	     *end;

	if (*pattern == '[') {
		const char *close = strchr(pattern, ']');

		if (close == NULL)
			return -1;
		len = (size_t)(close - pattern - 1);
		if (len >= sizeof(buf))
			return -1;
		memcpy(buf, pattern + 1, len);
		buf[len] = 0;
		slash = close[1] == '/' ? close + 1 : close[1] ? NULL : "";
		if (slash == NULL)
			return -1;
	} else {
		slash = strchr(pattern, '/');
		len = slash ? (size_t)(slash - pattern) : strlen(pattern);
		if (len >= sizeof(buf))
			return -1;
		memcpy(buf, pattern, len);
		buf[len] = 0;
		if (slash == NULL)
			slash = "";
	}
	if (inet_pton(AF_INET, buf, net) == 1) {
		fam = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, net) == 1) {
		fam = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	bits = max;
	if (*slash == '/') {
		bits = strtol(slash + 1, &end, 10);
		if (*end != 0 || end == slash + 1 || bits < 0 || bits > max)
			return -1;
	}
	if (fam != afam)
		return 0;
	for (long i = 0; i < bits; i += 8) {
		unsigned char mask = bits - i >= 8
					 ? 0xff
					 : (unsigned char)(0xff
							   << (8 - (bits - i)));

		if ((a[i / 8] & mask) != (net[i / 8] & mask))
			return 0;
	}
	return 1;
}

/* Does host name `name` match the name word `pattern`? */
static bool
peer_list_match_name(const char *pattern, const char *name, bool parent_matches)
{
	size_t plen = strlen(pattern);
	size_t nlen = strlen(name);

	if (*pattern == '.') /* subdomains only */
		return nlen > plen
		       && strcasecmp(name + nlen - plen, pattern) == 0;
	if (strcasecmp(name, pattern) == 0)
		return true;
	return parent_matches && nlen > plen + 1 && name[nlen - plen - 1] == '.'
	       && strcasecmp(name + nlen - plen, pattern) == 0;
}

bool
peer_list_match(const char *list, const char *name, const char *addr,
		bool parent_matches)
{
	unsigned char a[16];
	int	      afam = AF_UNSPEC;
	char	     *copy;
	char	     *cp;
	char	     *word;
	bool	      result = false;

	if (inet_pton(AF_INET, addr, a) == 1)
		afam = AF_INET;
	else if (inet_pton(AF_INET6, addr, a) == 1)
		afam = AF_INET6;
	cp = copy = mystrdup(list);
	while ((word = str_token(&cp, STR_SEP_LIST)) != NULL) {
		bool negate = false;
		int  m;

		while (*word == '!') {
			negate = !negate;
			word++;
		}
		if (*word == '/' || strchr(word, ':') != NULL
		    || strchr(word, '[') != NULL) {
			/* A network, a table or a file. */
			m = afam == AF_UNSPEC
				? 0
				: peer_list_match_net(word, a, afam);
		} else if (*word != 0
			   && strspn(word, "0123456789./") == strlen(word)) {
			m = afam == AF_UNSPEC
				? 0
				: peer_list_match_net(word, a, afam);
		} else if (*word != 0) {
			m = name != NULL
			    && peer_list_match_name(word, name, parent_matches);
		} else {
			continue;
		}
		if (m < 0) {
			if (msg_verbose)
				msg_info("host list: ignoring \"%s\"", word);
			continue;
		}
		if (m == 1) {
			result = !negate;
			break;
		}
	}
	myfree(copy);
	return result;
}
