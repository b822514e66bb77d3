/*
 * libFuzzer target for util/addr.  The first input byte chooses the
 * command and options; the rest is parsed as a MAIL/RCPT argument, as a
 * header address list, as a bare mailbox and as xtext.  Beyond "never
 * crash", it checks a round trip: the external form of an accepted path,
 * put back in brackets, parses to the same address.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"
#include "util/msg.h"
#include "util/vstr.h"

/* No control byte may leave the parser inside an address. */
static void
check_clean(const ADDR *a)
{
	size_t	      i;
	unsigned char ch;

	for (i = 0; i < VSTR_LEN(a->addr); i++) {
		ch = (unsigned char)VSTR_STR(a->addr)[i];
		if (ch < 32 || ch == 127)
			abort();
	}
	if (VSTR_LEN(a->addr) != strlen(VSTR_STR(a->addr)))
		abort();
}

static void
round_trip(const ADDR_SMTP *res, enum addr_cmd cmd, int opts)
{
	ADDR_SMTP *again = addr_smtp_alloc();
	VSTR	  *arg = vstr_alloc(0);

	vstr_addch(arg, '<');
	vstr_memcat(arg, VSTR_STR(res->addr->addr), VSTR_LEN(res->addr->addr));
	vstr_addch(arg, '>');
	if (res->smtputf8)
		vstr_strcat(arg, " SMTPUTF8");
	opts &= ~ADDR_OPT_NOBRACKETS;
	if (addr_parse_smtp(again, cmd, VSTR_STR(arg), VSTR_LEN(arg), opts)
	    != 0)
		abort();
	if (VSTR_LEN(again->addr->addr) != VSTR_LEN(res->addr->addr)
	    || memcmp(VSTR_STR(again->addr->addr), VSTR_STR(res->addr->addr),
		      VSTR_LEN(res->addr->addr))
		   != 0
	    || VSTR_LEN(again->addr->local) != VSTR_LEN(res->addr->local)
	    || memcmp(VSTR_STR(again->addr->local), VSTR_STR(res->addr->local),
		      VSTR_LEN(res->addr->local))
		   != 0)
		abort();
	vstr_free(arg);
	addr_smtp_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static ADDR_SMTP *res;
	static ADDR_LIST *list;
	static ADDR	 *a;
	static VSTR	 *tmp;
	enum addr_cmd	  cmd;
	int		  opts;
	const char	 *s;
	size_t		  i;

	if (res == NULL) {
		msg_stderr_enable(false);
		res = addr_smtp_alloc();
		list = addr_list_alloc();
		a = addr_alloc();
		tmp = vstr_alloc(0);
	}
	if (len == 0)
		return 0;
	cmd = (buf[0] & 1) ? ADDR_CMD_RCPT : ADDR_CMD_MAIL;
	opts = buf[0] >> 1;
	s = (const char *)buf + 1;
	len--;

	if (addr_parse_smtp(res, cmd, s, len, opts) == 0) {
		if (res->code != 0 || res->addr->flags & ~0x3f)
			abort();
		check_clean(res->addr);
		if (!(res->addr->flags & ADDR_F_NULL))
			round_trip(res, cmd, opts);
	} else if (res->code != 501 && res->code != 553 && res->code != 555) {
		abort();
	}
	addr_parse_header(list, s, len);
	for (i = 0; i < list->count; i++) {
		check_clean(list->addrs[i]);
		addr_relay_tricks(list->addrs[i]);
		addr_lower_domain(list->addrs[i]);
	}
	if (addr_parse_mailbox(a, s, len, opts & 1) == 0) {
		check_clean(a);
		addr_split_ext(VSTR_STR(a->local), "+-", tmp, a->route);
		addr_relay_tricks(a);
	}
	if (addr_xtext_decode(tmp, s, len) == 0) {
		VSTR *enc = vstr_alloc(0);
		VSTR *dec = vstr_alloc(0);

		addr_xtext_encode(enc, VSTR_STR(tmp), VSTR_LEN(tmp));
		if (addr_xtext_decode(dec, VSTR_STR(enc), VSTR_LEN(enc)) != 0
		    || VSTR_LEN(dec) != VSTR_LEN(tmp)
		    || memcmp(VSTR_STR(dec), VSTR_STR(tmp), VSTR_LEN(tmp)))
			abort();
		vstr_free(enc);
		vstr_free(dec);
	}
	return 0;
}
