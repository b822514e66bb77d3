/*
 * postscreen_line - what a client sent to postscreen, judged without side
 * effects: the first command line in a buffer, the pregreet text as it is
 * logged, and the address of MAIL FROM / RCPT TO.
 *
 * The caller keeps the bytes it read from the client in a bounded buffer
 * and hands them here; psc_line_next() finds the first line (ended by LF,
 * with or without CR), names its verb, and tells the deep tests what they
 * need: whether the line ended in a bare LF, whether it looks like a
 * non-SMTP command (a verb of the forbidden list, or a message header
 * line "Name: ..."), and how many bytes follow it (pipelining).  Nothing
 * here reads the network, logs or allocates except into the caller's
 * VSTRs, so the libFuzzer target (fuzz/fuzz_postscreen.c) and the unit
 * tests (tests/unit/test_postscreen_line.c) drive it directly.
 *
 * Errors: none; every input has a classification.
 * Ownership: PSC_LINE points into the caller's buffer.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef POSTSCREEN_POSTSCREEN_LINE_H
#define POSTSCREEN_POSTSCREEN_LINE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

/* Longest command line postscreen's SMTP engine takes (DESIGN.md 5). */
#define PSC_LINE_MAX 2048

enum psc_verb {
	PSC_VERB_UNKNOWN,
	PSC_VERB_EMPTY, /* an empty or all-blank line */
	PSC_VERB_EHLO,
	PSC_VERB_HELO,
	PSC_VERB_MAIL,
	PSC_VERB_RCPT,
	PSC_VERB_DATA,
	PSC_VERB_BDAT,
	PSC_VERB_RSET,
	PSC_VERB_NOOP,
	PSC_VERB_QUIT,
	PSC_VERB_VRFY,
	PSC_VERB_ETRN,
	PSC_VERB_STARTTLS,
	PSC_VERB_AUTH,
	PSC_VERB_HELP,
};

enum psc_line_status {
	PSC_LINE_MORE,	   /* no complete line yet */
	PSC_LINE_OK,	   /* one line: see PSC_LINE */
	PSC_LINE_TOO_LONG, /* PSC_LINE_MAX bytes without an end */
};

typedef struct PSC_LINE {
	size_t	      consumed;	    /* bytes of the line and its ending */
	const char   *verb;	    /* the first word, as sent */
	size_t	      verb_len;	    /* 0 for an empty line */
	enum psc_verb verb_id;	    /* PSC_VERB_UNKNOWN when not SMTP */
	const char   *arg;	    /* after the verb and blanks */
	size_t	      arg_len;	    /* without trailing blanks and CR */
	bool	      bare_newline; /* ended by LF without CR */
	bool	      non_smtp;	    /* forbidden verb or header-like */
	size_t	      pending;	    /* bytes after the line (pipelining) */
} PSC_LINE;

/*
 * Classify the first line of buf[0..len).  forbidden is a list of verbs
 * (white space or comma separated, case-insensitive), may be NULL.
 */
enum psc_line_status psc_line_next(const char *buf, size_t len,
				   const char *forbidden, PSC_LINE *line);

/* The name of a verb for logs ("EHLO"); "" for UNKNOWN and EMPTY. */
const char *psc_verb_name(enum psc_verb verb);

/*
 * Bytes as Postfix's postscreen logs them: printable ASCII as is, a
 * backslash doubled, \r \n \t \b \f \v \a, other bytes as three octal
 * digits; at most max_out characters of output (whole escapes only).
 */
void psc_line_escape(VSTR *out, const char *buf, size_t len, size_t max_out);

/*
 * The address of "FROM:<addr> ..." or "TO:<addr> ..." (prefix is "FROM:"
 * or "TO:", case-insensitive, blanks allowed after the colon), without
 * the brackets, into out; a missing bracket pair takes the first word.
 * Characters that are not printable are replaced with '?', and at most
 * max bytes are kept.  0, or -1 when arg does not start with prefix.
 */
int psc_line_addr(const char *arg, size_t len, const char *prefix, VSTR *out,
		  size_t max);

#endif
