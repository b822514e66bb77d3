/*
 * cleanup_checks - header_checks and body_checks.
 *
 * A header field (folded lines joined with a newline, as Postfix passes
 * them) or a body line is looked up in the regexp tables; the result's
 * first word is the action: REJECT [text], DISCARD [text], HOLD [text],
 * WARN [text], IGNORE, REPLACE text, PREPEND text, FILTER
 * transport:nexthop (the message goes to that after-queue content filter;
 * the last FILTER wins); OK and DUNNO do nothing.  Unknown actions are logged and ignored, as Postfix does.
 *
 * Errors: cleanup_check returns the action; a table read error defers
 * the message (cleanup_fail) and returns CLEANUP_ACT_NONE.
 *
 * Ownership: cleanup_parse_action's *text points into value.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cleanup/cleanup.h"
#include "util/msg.h"

static const struct {
	const char	*name;
	enum cleanup_act act;
} cleanup_actions[] = {
	{ "REJECT", CLEANUP_ACT_REJECT },   { "DISCARD", CLEANUP_ACT_DISCARD },
	{ "HOLD", CLEANUP_ACT_HOLD },	    { "WARN", CLEANUP_ACT_WARN },
	{ "IGNORE", CLEANUP_ACT_IGNORE },   { "REPLACE", CLEANUP_ACT_REPLACE },
	{ "PREPEND", CLEANUP_ACT_PREPEND }, { "OK", CLEANUP_ACT_NONE },
	{ "DUNNO", CLEANUP_ACT_NONE },	    { "FILTER", CLEANUP_ACT_FILTER },
};

#define CLEANUP_FILTER_MAX 255 /* bytes of a transport:nexthop */

bool
cleanup_filter_ok(const char *value, size_t len)
{
	size_t i;

	if (len == 0 || len > CLEANUP_FILTER_MAX || value[0] == ':'
	    || memchr(value, ':', len) == NULL)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)value[i] < 33
		    || (unsigned char)value[i] > 126)
			return false;
	return true;
}

/* Returns the action, or -1 for an unknown one; *text is the rest. */
enum cleanup_act
cleanup_parse_action(const char *value, const char **text)
{
	size_t len, i;

	value += strspn(value, " \t");
	len = strcspn(value, " \t");
	*text = value + len + strspn(value + len, " \t");
	for (i = 0; i < sizeof(cleanup_actions) / sizeof(cleanup_actions[0]);
	     i++)
		if (strlen(cleanup_actions[i].name) == len
		    && strncasecmp(value, cleanup_actions[i].name, len) == 0)
			return cleanup_actions[i].act;
	return (enum cleanup_act) - 1;
}

/* Printable, bounded copy of peer text for a log line. */
static void
cleanup_log_text(VSTR *out, const char *text, size_t len)
{
	size_t i;

	if (len > 200)
		len = 200;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		vstr_addch(out, ch < 32 || ch > 126 ? ' ' : ch);
	}
}

/*
 * Postfix's format:
 *   QID: reject: header Subject: x from host[addr]; from=<s> to=<r>
 *	  proto=ESMTP helo=<h>: 5.7.1 text
 */
void
cleanup_log_action(const CLEANUP_STATE *st, const char *action,
		   const char *what, const char *text, size_t len,
		   const char *reply)
{
	VSTR *line = vstr_alloc(300);

	cleanup_log_text(line, text, len);
	if (st->client_addr)
		vstr_sprintf_append(line, " from %s[%s];",
				    st->client_name ? st->client_name
						    : "unknown",
				    st->client_addr);
	else
		vstr_strcat(line, " from local;");
	vstr_sprintf_append(line, " from=<%s> to=<%s>", st->sender,
			    st->first_rcpt ? st->first_rcpt : "");
	if (st->protocol)
		vstr_sprintf_append(line, " proto=%s", st->protocol);
	if (st->helo)
		vstr_sprintf_append(line, " helo=<%s>", st->helo);
	msg_info("%s: %s: %s %s%s%s", VSTR_STR(st->qid), action, what,
		 VSTR_STR(line), reply ? ": " : "", reply ? reply : "");
	vstr_free(line);
}

int
cleanup_check(CLEANUP_STATE *st, DICT_LIST *maps, const char *what,
	      const char *text, size_t len, VSTR *result)
{
	const char	*value, *rest;
	enum cleanup_act act;
	VSTR		*key;
	size_t		 i;
	int		 ret;

	if (maps == NULL)
		return CLEANUP_ACT_NONE;
	/* The lookup key: folding CRLFs become newlines, no NUL bytes. */
	key = vstr_alloc(len + 1);
	for (i = 0; i < len; i++) {
		if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
			continue;
		vstr_addch(key, text[i] ? text[i] : ' ');
	}
	if (VSTR_LEN(key) > DICT_KEY_MAX - 1)
		vstr_truncate(key, DICT_KEY_MAX - 1);
	ret = dict_list_lookup(maps, VSTR_STR(key), &value);
	vstr_free(key);
	if (ret < 0) {
		cleanup_fail(st, CLEANUP_TEMPFAIL,
			     "451 4.3.0 Error: %s_checks lookup failure", what);
		return CLEANUP_ACT_NONE;
	}
	if (ret == 0)
		return CLEANUP_ACT_NONE;
	act = cleanup_parse_action(value, &rest);
	vstr_strcpy(result, rest);
	switch ((int)act) {
	case CLEANUP_ACT_REJECT:
		if (*rest == 0)
			vstr_strcpy(result, "message content rejected");
		if (!(rest[0] >= '4' && rest[0] <= '5' && rest[1] == '.')) {
			vstr_strcpy(result, "5.7.1 ");
			vstr_strcat(result,
				    *rest ? rest : "message content rejected");
		}
		cleanup_log_action(st, "reject", what, text, len,
				   VSTR_STR(result));
		cleanup_fail(st,
			     VSTR_STR(result)[0] == '4' ? CLEANUP_TEMPFAIL
							: CLEANUP_REJECT,
			     "%s %s",
			     VSTR_STR(result)[0] == '4' ? "451" : "550",
			     VSTR_STR(result));
		break;
	case CLEANUP_ACT_DISCARD:
		cleanup_log_action(st, "discard", what, text, len,
				   *rest ? rest : NULL);
		st->discard = true;
		break;
	case CLEANUP_ACT_HOLD:
		cleanup_log_action(st, "hold", what, text, len,
				   *rest ? rest : NULL);
		st->hold = true;
		break;
	case CLEANUP_ACT_WARN:
		cleanup_log_action(st, "warning", what, text, len,
				   *rest ? rest : NULL);
		break;
	case CLEANUP_ACT_FILTER:
		/* Not final; the last FILTER wins (Postfix). */
		if (!cleanup_filter_ok(rest, strlen(rest))) {
			msg_warn("%s: %s_checks: bad FILTER action \"%.100s\":"
				 " need transport:nexthop",
				 VSTR_STR(st->qid), what, rest);
		} else {
			cleanup_log_action(st, "filter", what, text, len, rest);
			vstr_strcpy(st->filter, rest);
		}
		act = CLEANUP_ACT_NONE;
		break;
	case CLEANUP_ACT_IGNORE:
	case CLEANUP_ACT_NONE:
		break;
	case CLEANUP_ACT_REPLACE:
	case CLEANUP_ACT_PREPEND:
		if (*rest == 0) {
			msg_warn("%s: %s_checks: %s without text: ignored",
				 VSTR_STR(st->qid), what,
				 act == CLEANUP_ACT_REPLACE ? "REPLACE"
							    : "PREPEND");
			act = CLEANUP_ACT_NONE;
		}
		break;
	default:
		msg_warn("%s: %s_checks: unknown action \"%.50s\": ignored",
			 VSTR_STR(st->qid), what, value);
		act = CLEANUP_ACT_NONE;
		break;
	}
	return act;
}
