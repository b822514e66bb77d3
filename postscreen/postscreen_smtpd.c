/*
 * postscreen_smtpd - postscreen's own small SMTP engine, for clients that
 * failed a test under "enforce", connected to a non-allow-listed
 * interface, or still have deep protocol tests to do.  It completes the
 * greeting, answers EHLO, HELO, MAIL, RSET, NOOP and QUIT, and refuses
 * every RCPT (logged as NOQUEUE: reject, as Postfix does): with the
 * failed test's reply, or with 450 4.3.2 after the deep tests passed (the
 * client must come back, and is then handed to smtpd).
 *
 * Deep tests, on each command line as postscreen_line.c classifies it:
 * pipelining (more bytes already sent after a command; PIPELINING is not
 * announced while the test is due), non-SMTP command (a forbidden verb
 * or a header-like line) and bare newline (LF without CR).  They pass
 * when the client reaches RCPT without failing them.
 *
 * Limits: postscreen_command_time_limit per command line,
 * postscreen_command_count_limit per session, PSC_LINE_MAX per line.
 *
 * Errors: a client that goes away is logged as HANGUP; nothing else
 * fails.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "postscreen/postscreen.h"
#include "postscreen/postscreen_line.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* Bytes read from the client at a time. */
#define PSC_READ_CHUNK 1024
/* Longest client text shown in a log line. */
#define PSC_SHOW_MAX 100
/* Longest sender, recipient or HELO name kept for logging. */
#define PSC_NAME_MAX 256

static void psc_smtpd_timer(EVENTS *ev, void *context);

/* The reply text without its line ending, for the log. */
static const char *
psc_reply_text(VSTR *out, const char *reply)
{
	size_t len = strcspn(reply, "\r\n");

	vstr_memcpy(out, reply, len);
	return VSTR_STR(out);
}

static const char *
psc_after(const PSC_STATE *state)
{
	return state->last_cmd ? state->last_cmd : "CONNECT";
}

/* A failed deep test: log done by the caller.  -1: session over. */
static int
psc_deep_fail(PSC_STATE *state, int test, enum psc_action action,
	      const char *drop_reply)
{
	psc_fail(state, test);
	switch (action) {
	case PSC_ACT_DROP:
		psc_drop(state, drop_reply);
		return -1;
	case PSC_ACT_ENFORCE:
		psc_enforce(state, "550 5.5.1 Protocol error\r\n");
		break;
	case PSC_ACT_IGNORE:
		/* Not passed either: the test is repeated next time. */
		state->flags &= ~PSC_FAIL(test);
		state->flags &= ~PSC_TODO(test);
		break;
	}
	return 0;
}

static bool
psc_due(const PSC_STATE *state, int test)
{
	return (state->flags & PSC_TODO(test))
	       && !(state->flags & (PSC_FAIL(test) | PSC_PASS(test)));
}

static int
psc_smtpd_deep(PSC_STATE *state, const PSC_LINE *line, const char *verb)
{
	PSC  *psc = state->psc;
	VSTR *text;
	char  peek[PSC_SHOW_MAX];

	if (psc_due(state, PSC_TEST_BARLF) && line->bare_newline) {
		psc_delta(psc->tmp, state->start_ms);
		/* The whole command, as Postfix names it ("EHLO name"). */
		text = vstr_alloc(128);
		psc_line_escape(text, line->verb,
				(size_t)(line->arg + line->arg_len
					 - line->verb),
				PSC_SHOW_MAX);
		msg_info("BARE NEWLINE from [%s]:%s after %s", state->addr,
			 state->port, VSTR_LEN(text) ? VSTR_STR(text) : verb);
		vstr_free(text);
		if (psc_deep_fail(state, PSC_TEST_BARLF, psc->barlf_action,
				  "521 5.5.1 Protocol error\r\n")
		    < 0)
			return -1;
	}
	if (psc_due(state, PSC_TEST_NSMTP) && line->non_smtp) {
		/* The command as sent, without its line ending (Postfix). */
		text = vstr_alloc(128);
		psc_line_escape(text, line->verb,
				(size_t)(line->arg + line->arg_len
					 - line->verb),
				PSC_SHOW_MAX);
		msg_info("NON-SMTP COMMAND from [%s]:%s after %s: %s",
			 state->addr, state->port, psc_after(state),
			 VSTR_STR(text));
		vstr_free(text);
		if (psc_deep_fail(state, PSC_TEST_NSMTP, psc->nsmtp_action,
				  "521 5.7.0 Error: I can break rules, too. "
				  "Goodbye.\r\n")
		    < 0)
			return -1;
	}
	/*
	 * Pipelining: more bytes after this command, already read or still
	 * in the socket, before we replied to it.
	 */
	if (psc_due(state, PSC_TEST_PIPEL)) {
		const char *more = VSTR_STR(state->in) + line->consumed;
		ssize_t	    n = (ssize_t)line->pending;

		if (n == 0) {
			n = recv(state->fd, peek, sizeof(peek),
				 MSG_PEEK | MSG_DONTWAIT);
			more = peek;
		}
		if (n > 0) {
			text = vstr_alloc(128);
			psc_line_escape(text, more, (size_t)n, PSC_SHOW_MAX);
			msg_info("COMMAND PIPELINING from [%s]:%s after %s: %s",
				 state->addr, state->port, verb,
				 VSTR_STR(text));
			vstr_free(text);
			if (psc_deep_fail(state, PSC_TEST_PIPEL,
					  psc->pipel_action,
					  "521 5.5.1 Protocol error\r\n")
			    < 0)
				return -1;
		}
	}
	return 0;
}

static char *
psc_save(const char *text, size_t len)
{
	VSTR  *v = vstr_alloc(len + 1);
	char  *copy;
	size_t i;

	for (i = 0; i < len && i < PSC_NAME_MAX; i++)
		vstr_addch(v,
			   (text[i] > ' ' && text[i] < 0x7f) ? text[i] : '?');
	copy = mystrdup(VSTR_STR(v));
	vstr_free(v);
	return copy;
}

static int
psc_smtpd_rcpt(PSC_STATE *state, const PSC_LINE *line)
{
	PSC  *psc = state->psc;
	VSTR *rcpt;
	int   t;

	if (state->sender == NULL)
		return psc_send(state,
				"503 5.5.1 Error: need MAIL command\r\n");
	/* The deep tests are over when the client got this far. */
	for (t = PSC_TEST_PIPEL; t < PSC_TEST_COUNT; t++)
		if (psc_due(state, t))
			psc_pass(state, t);
	rcpt = vstr_alloc(64);
	if (psc_line_addr(line->arg, line->arg_len, "TO:", rcpt, PSC_NAME_MAX)
	    < 0) {
		vstr_free(rcpt);
		return psc_send(state,
				"501 5.5.4 Syntax: RCPT TO:<address>\r\n");
	}
	msg_info("NOQUEUE: reject: RCPT from [%s]:%s: %s; from=<%s>, to=<%s>, "
		 "proto=%s, helo=<%s>",
		 state->addr, state->port,
		 psc_reply_text(psc->tmp, VSTR_STR(state->rcpt_reply)),
		 state->sender, VSTR_STR(rcpt), state->esmtp ? "ESMTP" : "SMTP",
		 state->helo ? state->helo : "");
	vstr_free(rcpt);
	return psc_send(state, VSTR_STR(state->rcpt_reply));
}

/* One command line: 0 go on, -1 the session is over (state freed). */
static int
psc_smtpd_cmd(PSC_STATE *state, const PSC_LINE *line)
{
	PSC	   *psc = state->psc;
	const char *verb = line->verb_id == PSC_VERB_UNKNOWN
				   || line->verb_id == PSC_VERB_EMPTY
			       ? "UNKNOWN"
			       : psc_verb_name(line->verb_id);
	VSTR	   *addr;
	int	    ret = 0;

	if (++state->ncmds > psc->cmd_count_limit) {
		msg_info("COMMAND COUNT LIMIT from [%s]:%s after %s",
			 state->addr, state->port, psc_after(state));
		vstr_sprintf(state->final_buf,
			     "421 4.7.0 %s Error: too many commands\r\n",
			     psc->hostname);
		psc_drop(state, VSTR_STR(state->final_buf));
		return -1;
	}
	if (psc_smtpd_deep(state, line, verb) < 0)
		return -1;
	myfree(state->last_cmd);
	state->last_cmd = mystrdup(verb);

	switch (line->verb_id) {
	case PSC_VERB_EHLO:
		if (line->arg_len == 0)
			return psc_send(state,
					"501 5.5.4 Syntax: EHLO hostname\r\n");
		myfree(state->helo);
		state->helo = psc_save(line->arg, line->arg_len);
		state->esmtp = true;
		vstr_sprintf(psc->tmp, "250-%s\r\n", psc->hostname);
		if (!psc_due(state, PSC_TEST_PIPEL))
			vstr_strcat(psc->tmp, "250-PIPELINING\r\n");
		vstr_strcat(psc->tmp, "250-SIZE\r\n250-ENHANCEDSTATUSCODES\r\n"
				      "250-8BITMIME\r\n250 DSN\r\n");
		ret = psc_send(state, VSTR_STR(psc->tmp));
		break;
	case PSC_VERB_HELO:
		if (line->arg_len == 0)
			return psc_send(state, "501 Syntax: HELO hostname\r\n");
		myfree(state->helo);
		state->helo = psc_save(line->arg, line->arg_len);
		state->esmtp = false;
		vstr_sprintf(psc->tmp, "250 %s\r\n", psc->hostname);
		ret = psc_send(state, VSTR_STR(psc->tmp));
		break;
	case PSC_VERB_MAIL:
		if (state->sender != NULL)
			return psc_send(state,
					"503 5.5.1 Error: nested MAIL command\r\n");
		addr = vstr_alloc(64);
		if (psc_line_addr(line->arg, line->arg_len, "FROM:", addr,
				  PSC_NAME_MAX)
		    < 0) {
			vstr_free(addr);
			return psc_send(state, "501 5.5.4 Syntax: MAIL "
					       "FROM:<address>\r\n");
		}
		state->sender = mystrdup(VSTR_STR(addr));
		vstr_free(addr);
		ret = psc_send(state, "250 2.1.0 Ok\r\n");
		break;
	case PSC_VERB_RCPT:
		ret = psc_smtpd_rcpt(state, line);
		break;
	case PSC_VERB_DATA:
	case PSC_VERB_BDAT:
		ret = psc_send(state, state->sender == NULL
					  ? "503 5.5.1 Error: need RCPT "
					    "command\r\n"
					  : "554 5.5.1 Error: no valid "
					    "recipients\r\n");
		break;
	case PSC_VERB_RSET:
		state->sender = myfree(state->sender);
		ret = psc_send(state, "250 2.0.0 Ok\r\n");
		break;
	case PSC_VERB_NOOP:
		ret = psc_send(state, "250 2.0.0 Ok\r\n");
		break;
	case PSC_VERB_QUIT:
		psc_drop(state, "221 2.0.0 Bye\r\n");
		return -1;
	case PSC_VERB_VRFY:
		ret = psc_send(state, "502 5.5.1 VRFY command is disabled\r\n");
		break;
	case PSC_VERB_AUTH:
		ret = psc_send(state, "503 5.5.1 Error: authentication not "
				      "enabled\r\n");
		break;
	case PSC_VERB_EMPTY:
		ret = psc_send(state, "500 5.5.2 Error: bad syntax\r\n");
		break;
	case PSC_VERB_ETRN:
	case PSC_VERB_STARTTLS:
	case PSC_VERB_HELP:
	case PSC_VERB_UNKNOWN:
		ret = psc_send(state, "502 5.5.2 Error: command not "
				      "recognized\r\n");
		break;
	}
	if (ret < 0) {
		psc_hangup(state);
		return -1;
	}
	return 0;
}

void
psc_smtpd_read(PSC_STATE *state)
{
	PSC		    *psc = state->psc;
	PSC_LINE	     line;
	enum psc_line_status st;
	ssize_t		     n;

	if (vstr_space(state->in, PSC_READ_CHUNK) < 0) {
		psc_hangup(state);
		return;
	}
	n = read(state->fd, VSTR_END(state->in), PSC_READ_CHUNK);
	if (n < 0
	    && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		psc_hangup(state);
		return;
	}
	vstr_set_len(state->in, VSTR_LEN(state->in) + (size_t)n);
	while ((st = psc_line_next(VSTR_STR(state->in), VSTR_LEN(state->in),
				   psc->forbidden, &line))
	       == PSC_LINE_OK) {
		if (psc_smtpd_cmd(state, &line) < 0)
			return;
		vstr_erase_front(state->in, line.consumed);
		events_timer(psc->ev, psc_smtpd_timer, state, psc->cmd_time_ms);
	}
	if (st == PSC_LINE_TOO_LONG) {
		msg_info("COMMAND LENGTH LIMIT from [%s]:%s after %s",
			 state->addr, state->port, psc_after(state));
		vstr_sprintf(state->final_buf,
			     "521 5.5.2 %s Error: command too long\r\n",
			     psc->hostname);
		psc_drop(state, VSTR_STR(state->final_buf));
	}
}

static void
psc_smtpd_timer(EVENTS *ev, void *context)
{
	PSC_STATE *state = context;
	PSC	  *psc = state->psc;

	(void)ev;
	msg_info("COMMAND TIME LIMIT from [%s]:%s after %s", state->addr,
		 state->port, psc_after(state));
	vstr_sprintf(state->final_buf,
		     "421 4.4.2 %s Error: timeout exceeded\r\n", psc->hostname);
	psc_drop(state, VSTR_STR(state->final_buf));
}

void
psc_smtpd_tests(PSC_STATE *state)
{
	PSC *psc = state->psc;

	state->in_smtpd = true;
	state->test_name = "tests after SMTP handshake";
	state->flags |= PSC_FLAG_NOFORWARD;
	vstr_sprintf(psc->tmp, "220 %s\r\n", psc->banner);
	if (psc_send(state, VSTR_STR(psc->tmp)) < 0) {
		psc_hangup(state);
		return;
	}
	psc_watch(state, true);
	events_timer(psc->ev, psc_smtpd_timer, state, psc->cmd_time_ms);
}

void
psc_smtpd_cancel(PSC_STATE *state)
{
	events_timer_cancel(state->psc->ev, psc_smtpd_timer, state);
}
