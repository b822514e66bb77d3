/*
 * attr - named attribute lists and their binary-safe wire frame.
 *
 * An ATTR is an ordered list of (name, value) pairs.  Names are short
 * C strings; values are arbitrary bytes (NULs included).  Every request and
 * reply between Postel processes is one ATTR encoded as one frame; nobody
 * parses IPC bytes anywhere else (DESIGN.md section 4, STYLE.md item 11).
 *
 * Wire format (netstrings, see docs/IPC.md):
 *
 *	frame   = netstring(payload)
 *	payload = *( netstring(name) netstring(value) )
 *	netstring(x) = <decimal length of x> ":" x ","
 *
 * e.g. {request=wakeup, size=42} is "31:7:request,6:wakeup,4:size,2:42,,".
 * Lengths are decimal without leading zeros ("0" itself is fine) and no
 * sign; a frame payload is at most ATTR_FRAME_MAX bytes; a name is 1 to
 * ATTR_NAME_MAX bytes without NUL; a name appears at most once.  Integers
 * travel as decimal text ("-12"), so any reader can print a frame.
 * attr_decode() fails on anything else: truncated input, bytes after the
 * frame, bad or oversized lengths, a missing ',' or ':', empty, duplicate
 * or NUL-containing names.
 *
 * Putting a name that is already present replaces its value in place (the
 * order of first insertion is kept), so a built list never has duplicates.
 *
 * Errors: only allocation failures die (through mymalloc).  attr_decode
 * returns 0 / -1 and puts a reason in `why` (may be NULL).  The getters
 * return NULL / -1 for a missing name.
 *
 * Ownership: attr_alloc's result is the caller's, released with attr_free()
 * (returns NULL).  Every pointer returned by a getter is borrowed from the
 * ATTR and stays valid until the next put, reset, decode or free on it.
 * Values returned by attr_get_data / attr_get_str are always followed by a
 * NUL byte (not counted in the length).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_ATTR_H
#define UTIL_ATTR_H

#include <stdbool.h>
#include <stddef.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

typedef struct ATTR ATTR;

#define ATTR_FRAME_MAX (16 * 1024 * 1024) /* payload bytes of one frame */
#define ATTR_NAME_MAX  256		  /* bytes of one name */

ATTR *attr_alloc(void);
ATTR *attr_free(ATTR *a);
void  attr_reset(ATTR *a);

/* Add or replace.  A name that is empty, too long or has a NUL is a bug. */
void attr_put_str(ATTR *a, const char *name, const char *value);
void attr_put_data(ATTR *a, const char *name, const void *data, size_t len);
void attr_put_int(ATTR *a, const char *name, long long value);
/* A nested list: its encoded frame is the value (see attr_get_attr). */
void attr_put_attr(ATTR *a, const char *name, const ATTR *value);
/* Remove a name; 0, or -1 when it was not present. */
int attr_del(ATTR *a, const char *name);

/* NULL if missing, or if the value contains a NUL (not a C string). */
const char *attr_get_str(const ATTR *a, const char *name);
/* NULL if missing; *len (may be NULL) gets the value's length. */
const void *attr_get_data(const ATTR *a, const char *name, size_t *len);
/* 0, or -1 when missing or not a whole decimal long long (errno EINVAL). */
int attr_get_int(const ATTR *a, const char *name, long long *value);
/* Decode a nested list put with attr_put_attr; 0 / -1 + why. */
int  attr_get_attr(const ATTR *a, const char *name, ATTR *out, VSTR *why);
bool attr_has(const ATTR *a, const char *name);

/* Iteration in insertion order: i < attr_count(a). */
size_t	    attr_count(const ATTR *a);
const char *attr_name_at(const ATTR *a, size_t i);
const void *attr_value_at(const ATTR *a, size_t i, size_t *len);

/* Append one whole frame to out (out is not reset first). */
void attr_encode(const ATTR *a, VSTR *out);
/* Bytes attr_encode would append. */
size_t attr_encoded_len(const ATTR *a);

/*
 * Replace the content of `a` with exactly one frame held in buf[0..len-1];
 * 0, or -1 with a reason in why (a is then empty).
 */
int attr_decode(const char *buf, size_t len, ATTR *a, VSTR *why);
/* Replace the content of `a` with a frame's payload (no outer netstring). */
int attr_decode_payload(const char *buf, size_t len, ATTR *a, VSTR *why);

/*
 * Parse a netstring length prefix "<digits>:" at buf[0..len-1].  Returns
 * the number of prefix bytes consumed (digits and ':') with *value set,
 * 0 when more bytes are needed to decide, -1 when malformed (not a digit,
 * leading zero, no digits), ATTR_LEN_TOO_BIG when the length is above max.
 * Used by the stream readers in util/ipc.c.
 */
#define ATTR_LEN_TOO_BIG (-2)
int attr_parse_len(const char *buf, size_t len, size_t max, size_t *value);

#endif
