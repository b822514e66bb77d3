/*
 * xforward - the XFORWARD SMTP extension (Postfix's XFORWARD_README):
 * a content filter or proxy tells the next MTA about the original client.
 *
 * Server side: xforward_update() parses the arguments of one XFORWARD
 * command ("NAME=mail.example ADDR=192.0.2.1 ...", values in xtext) into
 * the transaction's XFORWARD; several commands add up until
 * xforward_reset().  "[UNAVAILABLE]" and "[TEMPUNAVAIL]" leave a value
 * unknown (NULL), as does a NAME that is not a host name.  Values are
 * checked: ADDR an IPv4/IPv6 address ("IPv6:" prefix dropped), PORT a
 * number up to 65535, SOURCE LOCAL or REMOTE, every value at most
 * XFORWARD_VALUE_MAX bytes once decoded and free of control characters.
 *
 * Client side: xforward_item() appends one " ATTR=value" item, xtext
 * encoded, or "[UNAVAILABLE]" when the value is NULL or empty.
 *
 * Errors: xforward_update returns 0, or -1 with a complete SMTP reply
 * (501 5.5.4 ...) in `reply`; a failed command changes nothing.
 *
 * Ownership: XFORWARD is the caller's (xforward_free returns NULL); the
 * values are owned by it and borrowed until the next update or reset.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_XFORWARD_H
#define UTIL_XFORWARD_H

#include <stdbool.h>

#include "util/vstr.h"

#define XFORWARD_VALUE_MAX   255 /* bytes of one decoded value */
#define XFORWARD_UNAVAILABLE "[UNAVAILABLE]"
#define XFORWARD_TEMPUNAVAIL "[TEMPUNAVAIL]"
/* What the server announces after "250-XFORWARD". */
#define XFORWARD_ATTRS "NAME ADDR PROTO HELO SOURCE PORT IDENT"

enum xforward_attr {
	XFORWARD_NAME,
	XFORWARD_ADDR,
	XFORWARD_PORT,
	XFORWARD_PROTO,
	XFORWARD_HELO,
	XFORWARD_IDENT,
	XFORWARD_SOURCE,
	XFORWARD_COUNT,
};

typedef struct XFORWARD {
	char *value[XFORWARD_COUNT]; /* NULL: unknown or not given */
	bool  given[XFORWARD_COUNT]; /* named in an XFORWARD command */
	bool  active;		     /* an XFORWARD command succeeded */
} XFORWARD;

XFORWARD *xforward_alloc(void);
XFORWARD *xforward_free(XFORWARD *xf);
void	  xforward_reset(XFORWARD *xf);
int	  xforward_update(XFORWARD *xf, const char *args, VSTR *reply);
/* "NAME", "ADDR", ... */
const char *xforward_attr_name(enum xforward_attr attr);
void	    xforward_item(VSTR *line, const char *attr, const char *value);

#endif
