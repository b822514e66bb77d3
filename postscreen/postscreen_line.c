/*
 * postscreen_line - command line classification.  See postscreen_line.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "postscreen/postscreen_line.h"

static const struct psc_verb_def {
	const char   *name;
	enum psc_verb id;
} psc_verbs[] = {
	{ "EHLO", PSC_VERB_EHLO }, { "HELO", PSC_VERB_HELO },
	{ "MAIL", PSC_VERB_MAIL }, { "RCPT", PSC_VERB_RCPT },
	{ "DATA", PSC_VERB_DATA }, { "BDAT", PSC_VERB_BDAT },
	{ "RSET", PSC_VERB_RSET }, { "NOOP", PSC_VERB_NOOP },
	{ "QUIT", PSC_VERB_QUIT }, { "VRFY", PSC_VERB_VRFY },
	{ "ETRN", PSC_VERB_ETRN }, { "STARTTLS", PSC_VERB_STARTTLS },
	{ "AUTH", PSC_VERB_AUTH }, { "HELP", PSC_VERB_HELP },
};

#define PSC_NVERBS (sizeof(psc_verbs) / sizeof(psc_verbs[0]))

static bool
psc_blank(int ch)
{
	return ch == ' ' || ch == '\t';
}

const char *
psc_verb_name(enum psc_verb verb)
{
	size_t i;

	for (i = 0; i < PSC_NVERBS; i++)
		if (psc_verbs[i].id == verb)
			return psc_verbs[i].name;
	return "";
}

/* Is word[0..len) one of the list's words? */
static bool
psc_list_has(const char *list, const char *word, size_t len)
{
	const char *cp = list;
	size_t	    n;

	if (list == NULL || len == 0)
		return false;
	while (*cp) {
		while (*cp == ' ' || *cp == '\t' || *cp == ',' || *cp == '\n')
			cp++;
		for (n = 0; cp[n] && cp[n] != ' ' && cp[n] != '\t'
			    && cp[n] != ',' && cp[n] != '\n';
		     n++)
			/* void */;
		if (n == len && strncasecmp(cp, word, len) == 0)
			return true;
		cp += n;
	}
	return false;
}

/* A message header line: a field name of printable non-colon octets. */
static bool
psc_header_like(const char *verb, size_t len)
{
	size_t i;

	if (len < 2 || verb[len - 1] != ':')
		return false;
	for (i = 0; i + 1 < len; i++)
		if (verb[i] <= ' ' || verb[i] > '~' || verb[i] == ':')
			return false;
	return true;
}

enum psc_line_status
psc_line_next(const char *buf, size_t len, const char *forbidden,
	      PSC_LINE *line)
{
	const char *nl;
	const char *end;
	const char *cp;
	size_t	    i;

	memset(line, 0, sizeof(*line));
	nl = memchr(buf, '\n', len < PSC_LINE_MAX ? len : PSC_LINE_MAX);
	if (nl == NULL)
		return len >= PSC_LINE_MAX ? PSC_LINE_TOO_LONG : PSC_LINE_MORE;
	line->consumed = (size_t)(nl - buf) + 1;
	line->pending = len - line->consumed;
	end = nl;
	if (end > buf && end[-1] == '\r')
		end--;
	else
		line->bare_newline = true;
	while (end > buf && (psc_blank(end[-1]) || end[-1] == '\r'))
		end--;
	for (cp = buf; cp < end && psc_blank(*cp); cp++)
		/* void */;
	line->verb = cp;
	while (cp < end && !psc_blank(*cp))
		cp++;
	line->verb_len = (size_t)(cp - line->verb);
	while (cp < end && psc_blank(*cp))
		cp++;
	line->arg = cp;
	line->arg_len = (size_t)(end - cp);
	if (line->verb_len == 0) {
		line->verb_id = PSC_VERB_EMPTY;
		return PSC_LINE_OK;
	}
	line->verb_id = PSC_VERB_UNKNOWN;
	for (i = 0; i < PSC_NVERBS; i++)
		if (strlen(psc_verbs[i].name) == line->verb_len
		    && strncasecmp(psc_verbs[i].name, line->verb,
				   line->verb_len)
			   == 0) {
			line->verb_id = psc_verbs[i].id;
			break;
		}
	line->non_smtp = psc_list_has(forbidden, line->verb, line->verb_len)
			 || (line->verb_id == PSC_VERB_UNKNOWN
			     && psc_header_like(line->verb, line->verb_len));
	return PSC_LINE_OK;
}

void
psc_line_escape(VSTR *out, const char *buf, size_t len, size_t max_out)
{
	char   esc[8];
	size_t i;
	size_t n;

	vstr_reset(out);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		esc[1] = 0;
		switch (ch) {
		case '\\':
			memcpy(esc, "\\\\", 3);
			break;
		case '\r':
			memcpy(esc, "\\r", 3);
			break;
		case '\n':
			memcpy(esc, "\\n", 3);
			break;
		case '\t':
			memcpy(esc, "\\t", 3);
			break;
		case '\b':
			memcpy(esc, "\\b", 3);
			break;
		case '\f':
			memcpy(esc, "\\f", 3);
			break;
		case '\v':
			memcpy(esc, "\\v", 3);
			break;
		case '\a':
			memcpy(esc, "\\a", 3);
			break;
		default:
			if (ch >= ' ' && ch <= '~') {
				esc[0] = (char)ch;
			} else {
				esc[0] = '\\';
				esc[1] = (char)('0' + ((ch >> 6) & 7));
				esc[2] = (char)('0' + ((ch >> 3) & 7));
				esc[3] = (char)('0' + (ch & 7));
				esc[4] = 0;
			}
			break;
		}
		n = strlen(esc);
		if (VSTR_LEN(out) + n > max_out)
			break;
		vstr_memcat(out, esc, n);
	}
}

int
psc_line_addr(const char *arg, size_t len, const char *prefix, VSTR *out,
	      size_t max)
{
	size_t plen = strlen(prefix);
	size_t i;
	size_t start;
	size_t stop;

	vstr_reset(out);
	if (len < plen || strncasecmp(arg, prefix, plen) != 0)
		return -1;
	for (i = plen; i < len && psc_blank(arg[i]); i++)
		/* void */;
	if (i < len && arg[i] == '<') {
		start = i + 1;
		for (stop = start; stop < len && arg[stop] != '>'; stop++)
			/* void */;
	} else {
		start = i;
		for (stop = start; stop < len && !psc_blank(arg[stop]); stop++)
			/* void */;
	}
	for (i = start; i < stop && VSTR_LEN(out) < max; i++)
		vstr_addch(out, isprint((unsigned char)arg[i]) ? arg[i] : '?');
	return 0;
}
