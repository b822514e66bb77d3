/*
 * postscreen_early - the tests before the SMTP handshake: pregreet (a
 * client that sends anything before the greeting is complete) and the
 * DNSBL score, both within postscreen_greet_wait.
 *
 * postscreen sends the first half of a multi-line greeting (220-TEXT,
 * postscreen_greet_banner) and waits.  Bytes from the client are only
 * peeked at (MSG_PEEK): under "ignore" they stay for smtpd, under
 * "enforce" for postscreen's own SMTP engine.  The DNSBL queries run in
 * parallel (postscreen_dnsbl.h); the wait ends early when the client
 * talked and the DNSBL answers are in, or when the DNSBL score is at or
 * below a negative postscreen_dnsbl_allowlist_threshold.  When the greet
 * wait is over and DNSBL answers are still missing, postscreen waits for
 * them (postscreen_dnsbl_timeout bounds that).
 *
 * Errors: a client that goes away is logged as HANGUP; nothing else
 * fails here.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <sys/socket.h>
#include <time.h>

#include "postscreen/postscreen.h"
#include "postscreen/postscreen_line.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* Bytes of pregreet text looked at; Postfix logs at most 100 of them. */
#define PSC_PEEK_MAX   1024
#define PSC_PREGR_SHOW 100

static void psc_early_timer(EVENTS *ev, void *context);

static void
psc_early_finish(PSC_STATE *state)
{
	PSC	*psc = state->psc;
	unsigned deep;

	events_timer_cancel(psc->ev, psc_early_timer, state);
	if (state->want_read)
		psc_watch(state, false);

	if ((state->flags & PSC_TODO(PSC_TEST_PREGR))
	    && !(state->flags & PSC_FAIL(PSC_TEST_PREGR))
	    && !(state->flags & PSC_PASS(PSC_TEST_PREGR)))
		psc_pass(state, PSC_TEST_PREGR);
	if ((state->flags & PSC_FAIL(PSC_TEST_PREGR))
	    && psc->greet_action == PSC_ACT_IGNORE)
		state->flags &= ~PSC_FAIL(PSC_TEST_PREGR);

	if ((state->flags & PSC_TODO(PSC_TEST_DNSBL))
	    && !(state->flags & PSC_PASS(PSC_TEST_DNSBL))) {
		if (state->dnsbl_score < psc->dnsbl_threshold) {
			psc_pass(state, PSC_TEST_DNSBL);
		} else {
			msg_info("DNSBL rank %d for [%s]:%s",
				 state->dnsbl_score, state->addr, state->port);
			psc_fail(state, PSC_TEST_DNSBL);
			switch (psc->dnsbl_action) {
			case PSC_ACT_DROP:
				vstr_sprintf(
				    state->rcpt_reply,
				    "521 5.7.1 Service unavailable; "
				    "client [%s] blocked using %s\r\n",
				    state->addr,
				    psc_dnsbl_reply_name(psc->dnsbl,
							 state->dnsbl_site
							     ? state->dnsbl_site
							     : ""));
				psc_drop(state, VSTR_STR(state->rcpt_reply));
				return;
			case PSC_ACT_ENFORCE:
				vstr_sprintf(
				    psc->tmp,
				    "550 5.7.1 Service unavailable; "
				    "client [%s] blocked using %s\r\n",
				    state->addr,
				    psc_dnsbl_reply_name(psc->dnsbl,
							 state->dnsbl_site
							     ? state->dnsbl_site
							     : ""));
				psc_enforce(state, VSTR_STR(psc->tmp));
				break;
			case PSC_ACT_IGNORE:
				state->flags &= ~PSC_FAIL(PSC_TEST_DNSBL);
				break;
			}
		}
	}

	/* Deep tests still to do, or a failure to enforce: our engine. */
	deep = state->flags & PSC_DEEP_TESTS;
	if ((state->flags & PSC_FLAG_NOFORWARD)
	    || ((state->flags & PSC_MASK_PASS) >> 8 & deep) != deep)
		psc_smtpd_tests(state);
	else
		psc_conclude(state);
}

/*
 * A DNS allow-listed client (score at or below a negative threshold)
 * skips the other tests: they count as passed until the DNSBL result
 * expires, as in Postfix.
 */
static void
psc_early_allowlist(PSC_STATE *state)
{
	PSC   *psc = state->psc;
	time_t until = time(NULL) + psc->ttl[PSC_TEST_DNSBL];
	int    t;

	if ((state->flags & PSC_MASK_FAIL) != 0
	    || psc->dnsbl_allow_threshold >= 0
	    || state->dnsbl_score > psc->dnsbl_allow_threshold
	    || state->dnsbl_score >= psc->dnsbl_threshold)
		return;
	for (t = 0; t < PSC_TEST_COUNT; t++) {
		if (t == PSC_TEST_DNSBL)
			continue;
		if ((state->flags & PSC_TODO(t))
		    && !(state->flags & PSC_PASS(t)))
			state->flags |= PSC_PASS(t);
		if (state->expire[t] < until)
			state->expire[t] = until;
	}
	state->pregr_done = true;
}

static void
psc_early_dnsbl_done(void *context, int score, const char *site)
{
	PSC_STATE *state = context;

	state->dnsbl_req = NULL;
	state->dnsbl_score = score;
	myfree(state->dnsbl_site);
	state->dnsbl_site = site ? mystrdup(site) : NULL;
	psc_early_allowlist(state);
	if (state->greet_over || state->pregr_done
	    || !(state->flags & PSC_TODO(PSC_TEST_PREGR)))
		psc_early_finish(state);
}

static void
psc_early_timer(EVENTS *ev, void *context)
{
	PSC_STATE *state = context;

	(void)ev;
	state->greet_over = true;
	if (state->dnsbl_req == NULL)
		psc_early_finish(state);
	else if (state->want_read)
		psc_watch(state, false);
}

void
psc_early_read(PSC_STATE *state)
{
	PSC    *psc = state->psc;
	char	buf[PSC_PEEK_MAX];
	ssize_t n;
	VSTR   *text;

	n = recv(state->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0
	    && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		psc_hangup(state);
		return;
	}
	text = vstr_alloc(128);
	psc_line_escape(text, buf, (size_t)n, PSC_PREGR_SHOW);
	psc_delta(psc->tmp, state->start_ms);
	msg_info("PREGREET %zd after %s from [%s]:%s: %s", n,
		 VSTR_STR(psc->tmp), state->addr, state->port, VSTR_STR(text));
	vstr_free(text);
	psc_fail(state, PSC_TEST_PREGR);
	switch (psc->greet_action) {
	case PSC_ACT_DROP:
		psc_drop(state, "521 5.5.1 Protocol error\r\n");
		return;
	case PSC_ACT_ENFORCE:
		psc_enforce(state, "550 5.5.1 Protocol error\r\n");
		break;
	case PSC_ACT_IGNORE:
		break;
	}
	/* The bytes stay where they are; stop looking at them. */
	psc_watch(state, false);
	state->pregr_done = true;
	if (state->dnsbl_req == NULL)
		psc_early_finish(state);
}

void
psc_early_tests(PSC_STATE *state)
{
	PSC *psc = state->psc;

	state->test_name = "tests before SMTP handshake";
	if ((state->flags & PSC_TODO(PSC_TEST_PREGR)) && psc->teaser != NULL
	    && psc_send(state, psc->teaser) < 0) {
		psc_hangup(state);
		return;
	}
	if (state->flags & PSC_TODO(PSC_TEST_DNSBL))
		state->dnsbl_req = psc_dnsbl_request(psc->dnsbl, state->addr,
						     psc_early_dnsbl_done,
						     state);
	if (state->flags & PSC_TODO(PSC_TEST_PREGR)) {
		psc_watch(state, true);
		events_timer(psc->ev, psc_early_timer, state,
			     psc->greet_wait_ms);
	} else if (state->dnsbl_req == NULL) {
		psc_early_finish(state);
	}
}

void
psc_early_cancel(PSC_STATE *state)
{
	PSC *psc = state->psc;

	events_timer_cancel(psc->ev, psc_early_timer, state);
	if (state->dnsbl_req != NULL) {
		psc_dnsbl_cancel(psc->dnsbl, state->dnsbl_req);
		state->dnsbl_req = NULL;
	}
}
