/*
 * receive_override - parse receive_override_options (see the header).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <strings.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/receive_override.h"
#include "util/strutil.h"

static const struct {
	const char *name;
	int	    bit;
} receive_override_words[] = {
	{ "no_unknown_recipient_checks", RECEIVE_NO_UNKNOWN_RCPT_CHECKS },
	{ "no_header_body_checks", RECEIVE_NO_HEADER_BODY_CHECKS },
	{ "no_milters", RECEIVE_NO_MILTERS },
	{ "no_address_mappings", RECEIVE_NO_ADDRESS_MAPPINGS },
};

int
receive_override_parse(const char *list)
{
	char  *copy = mystrdup(list ? list : "");
	char  *cp = copy;
	char  *word;
	int    bits = 0;
	size_t i, n = sizeof(receive_override_words)
		      / sizeof(receive_override_words[0]);

	while ((word = str_token(&cp, STR_SEP_LIST)) != NULL) {
		for (i = 0; i < n; i++)
			if (strcasecmp(word, receive_override_words[i].name)
			    == 0)
				break;
		if (i < n)
			bits |= receive_override_words[i].bit;
		else
			msg_warn("receive_override_options: unknown option "
				 "\"%.100s\": ignored",
				 word);
	}
	myfree(copy);
	return bits;
}

int
receive_override_bits(const CFG *cfg)
{
	return receive_override_parse(
	    cfg_get_str(cfg, "receive_override_options"));
}
