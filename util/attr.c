/*
 * attr - named attribute lists and their netstring frame.  See attr.h.
 *
 * Entries live in an array in insertion order; a small open-addressing
 * hash of entry indexes makes lookups and the duplicate check of the
 * decoder O(1), so a 16 MB frame of tiny attributes decodes in linear
 * time.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

typedef struct ATTR_ENTRY {
	char  *name;  /* NUL-terminated */
	char  *value; /* len bytes plus a NUL */
	size_t len;
} ATTR_ENTRY;

struct ATTR {
	ATTR_ENTRY *ent;
	size_t	    count;
	size_t	    cap;
	size_t	   *slot;  /* entry index + 1; 0 = empty */
	size_t	    nslot; /* power of two, > 2 * count */
};

/* Decimal digits of the largest payload length we accept, plus one. */
#define ATTR_LEN_DIGITS_MAX 20

static uint64_t
attr_hash(const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	size_t	 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Slot holding name, or the empty slot where it would go. */
static size_t
attr_slot_find(const ATTR *a, const char *name, size_t len)
{
	size_t		  mask = a->nslot - 1;
	size_t		  i = (size_t)attr_hash(name, len) & mask;
	const ATTR_ENTRY *e;

	for (;;) {
		if (a->slot[i] == 0)
			return i;
		e = a->ent + a->slot[i] - 1;
		if (strncmp(e->name, name, len) == 0 && e->name[len] == 0)
			return i;
		i = (i + 1) & mask;
	}
}

static void
attr_rehash(ATTR *a, size_t nslot)
{
	size_t i;

	myfree(a->slot);
	a->slot = mycalloc(nslot, sizeof(*a->slot));
	a->nslot = nslot;
	for (i = 0; i < a->count; i++) {
		const ATTR_ENTRY *e = a->ent + i;

		a->slot[attr_slot_find(a, e->name, strlen(e->name))] = i + 1;
	}
}

static ATTR_ENTRY *
attr_lookup(const ATTR *a, const char *name)
{
	size_t i = attr_slot_find(a, name, strlen(name));

	return a->slot[i] ? a->ent + a->slot[i] - 1 : NULL;
}

ATTR *
attr_alloc(void)
{
	ATTR *a = mycalloc(1, sizeof(*a));

	a->nslot = 16;
	a->slot = mycalloc(a->nslot, sizeof(*a->slot));
	return a;
}

void
attr_reset(ATTR *a)
{
	size_t i;

	for (i = 0; i < a->count; i++) {
		myfree(a->ent[i].name);
		myfree(a->ent[i].value);
	}
	a->count = 0;
	memset(a->slot, 0, a->nslot * sizeof(*a->slot));
}

ATTR *
attr_free(ATTR *a)
{
	if (a) {
		attr_reset(a);
		myfree(a->ent);
		myfree(a->slot);
		myfree(a);
	}
	return NULL;
}

static char *
attr_value_dup(const void *data, size_t len)
{
	char *v;

	if (len == (size_t)-1)
		msg_panic("attr: value length overflow");
	v = mymalloc(len + 1);
	if (len)
		memcpy(v, data, len);
	v[len] = 0;
	return v;
}

/*
 * Append a new entry at slot `si` (from attr_slot_find, known empty).
 * The caller has validated the name.
 */
static void
attr_append(ATTR *a, size_t si, const char *name, size_t name_len,
	    const void *data, size_t len)
{
	ATTR_ENTRY *e;

	if (a->count == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->ent = myrealloc_array(a->ent, a->cap, sizeof(*a->ent));
	}
	e = a->ent + a->count++;
	e->name = mystrndup(name, name_len);
	e->value = attr_value_dup(data, len);
	e->len = len;
	a->slot[si] = a->count;
	if (a->count * 2 >= a->nslot)
		attr_rehash(a, a->nslot * 2);
}

static void
attr_check_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > ATTR_NAME_MAX)
		msg_panic("attr: bad attribute name length %zu", len);
}

void
attr_put_data(ATTR *a, const char *name, const void *data, size_t len)
{
	size_t name_len;
	size_t si;
	char  *old;

	attr_check_name(name);
	name_len = strlen(name);
	si = attr_slot_find(a, name, name_len);
	if (a->slot[si] == 0) {
		attr_append(a, si, name, name_len, data, len);
		return;
	}
	/* Copy first: data may point into the value being replaced. */
	old = a->ent[a->slot[si] - 1].value;
	a->ent[a->slot[si] - 1].value = attr_value_dup(data, len);
	a->ent[a->slot[si] - 1].len = len;
	myfree(old);
}

void
attr_put_str(ATTR *a, const char *name, const char *value)
{
	attr_put_data(a, name, value, strlen(value));
}

void
attr_put_int(ATTR *a, const char *name, long long value)
{
	char buf[32];
	int  n = snprintf(buf, sizeof(buf), "%lld", value);

	if (n < 0 || (size_t)n >= sizeof(buf))
		msg_panic("attr_put_int: snprintf");
	attr_put_data(a, name, buf, (size_t)n);
}

void
attr_put_attr(ATTR *a, const char *name, const ATTR *value)
{
	VSTR *buf = vstr_alloc(attr_encoded_len(value));

	attr_encode(value, buf);
	attr_put_data(a, name, VSTR_STR(buf), VSTR_LEN(buf));
	vstr_free(buf);
}

int
attr_del(ATTR *a, const char *name)
{
	ATTR_ENTRY *e = attr_lookup(a, name);
	size_t	    i;

	if (e == NULL)
		return -1;
	i = (size_t)(e - a->ent);
	myfree(e->name);
	myfree(e->value);
	memmove(e, e + 1, (a->count - i - 1) * sizeof(*e));
	a->count--;
	/* Indexes after i moved: deletion is rare, rebuild the hash. */
	attr_rehash(a, a->nslot);
	return 0;
}

const void *
attr_get_data(const ATTR *a, const char *name, size_t *len)
{
	const ATTR_ENTRY *e = attr_lookup(a, name);

	if (e == NULL)
		return NULL;
	if (len)
		*len = e->len;
	return e->value;
}

const char *
attr_get_str(const ATTR *a, const char *name)
{
	const ATTR_ENTRY *e = attr_lookup(a, name);

	if (e == NULL || memchr(e->value, 0, e->len) != NULL)
		return NULL;
	return e->value;
}

int
attr_get_int(const ATTR *a, const char *name, long long *value)
{
	const char *s = attr_get_str(a, name);

	if (s == NULL) {
		errno = EINVAL;
		return -1;
	}
	return str_to_ll(s, value);
}

int
attr_get_attr(const ATTR *a, const char *name, ATTR *out, VSTR *why)
{
	size_t	    len;
	const char *data = attr_get_data(a, name, &len);

	if (data == NULL) {
		attr_reset(out);
		if (why)
			vstr_sprintf(why, "missing attribute \"%s\"", name);
		errno = EINVAL;
		return -1;
	}
	return attr_decode(data, len, out, why);
}

bool
attr_has(const ATTR *a, const char *name)
{
	return attr_lookup(a, name) != NULL;
}

size_t
attr_count(const ATTR *a)
{
	return a->count;
}

const char *
attr_name_at(const ATTR *a, size_t i)
{
	return i < a->count ? a->ent[i].name : NULL;
}

const void *
attr_value_at(const ATTR *a, size_t i, size_t *len)
{
	if (i >= a->count)
		return NULL;
	if (len)
		*len = a->ent[i].len;
	return a->ent[i].value;
}

static size_t
attr_digits(size_t n)
{
	size_t d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

static size_t
attr_netstring_len(size_t len)
{
	return attr_digits(len) + 1 + len + 1;
}

static size_t
attr_payload_len(const ATTR *a)
{
	size_t total = 0;
	size_t i;

	for (i = 0; i < a->count; i++)
		total += attr_netstring_len(strlen(a->ent[i].name))
			 + attr_netstring_len(a->ent[i].len);
	return total;
}

size_t
attr_encoded_len(const ATTR *a)
{
	return attr_netstring_len(attr_payload_len(a));
}

static void
attr_put_netstring(VSTR *out, const char *data, size_t len)
{
	if (vstr_sprintf_append(out, "%zu:", len) < 0
	    || vstr_memcat(out, data, len) < 0 || vstr_addch(out, ',') < 0)
		msg_panic("attr_encode: output string has a limit");
}

void
attr_encode(const ATTR *a, VSTR *out)
{
	size_t plen = attr_payload_len(a);
	size_t i;

	if (vstr_space(out, attr_netstring_len(plen)) < 0
	    || vstr_sprintf_append(out, "%zu:", plen) < 0)
		msg_panic("attr_encode: output string has a limit");
	for (i = 0; i < a->count; i++) {
		attr_put_netstring(out, a->ent[i].name, strlen(a->ent[i].name));
		attr_put_netstring(out, a->ent[i].value, a->ent[i].len);
	}
	if (vstr_addch(out, ',') < 0)
		msg_panic("attr_encode: output string has a limit");
}

int
attr_parse_len(const char *buf, size_t len, size_t max, size_t *value)
{
	size_t v = 0;
	size_t d;
	size_t i;

	for (i = 0; i < len && i < ATTR_LEN_DIGITS_MAX; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == ':') {
			if (i == 0)
				return -1;
			*value = v;
			return (int)i + 1;
		}
		if (c < '0' || c > '9')
			return -1;
		if (i == 1 && buf[0] == '0')
			return -1; /* leading zero */
		d = (size_t)(c - '0');
		if (d > max || v > (max - d) / 10)
			return ATTR_LEN_TOO_BIG; /* never overflows */
		v = v * 10 + d;
	}
	return i < ATTR_LEN_DIGITS_MAX ? 0 : ATTR_LEN_TOO_BIG;
}

/* Parse one netstring at *pos within buf[0..end-1]; 0 / -1 + why. */
static int
attr_get_netstring(const char *buf, size_t end, size_t *pos, size_t max,
		   const char **data, size_t *len, const char *what, VSTR *why)
{
	int n = attr_parse_len(buf + *pos, end - *pos, max, len);

	if (n <= 0) {
		if (why) {
			if (n == 0)
				vstr_sprintf(why, "truncated %s length", what);
			else if (n == ATTR_LEN_TOO_BIG)
				vstr_sprintf(why,
					     "%s length above limit %zu"
					     " at offset %zu",
					     what, max, *pos);
			else
				vstr_sprintf(why, "bad %s length at offset %zu",
					     what, *pos);
		}
		return -1;
	}
	*pos += (size_t)n;
	if (*len >= end - *pos) {
		if (why)
			vstr_sprintf(why, "truncated %s", what);
		return -1;
	}
	*data = buf + *pos;
	*pos += *len;
	if (buf[*pos] != ',') {
		if (why)
			vstr_sprintf(why, "missing ',' after %s at offset %zu",
				     what, *pos);
		return -1;
	}
	*pos += 1;
	return 0;
}

int
attr_decode_payload(const char *buf, size_t len, ATTR *a, VSTR *why)
{
	size_t	    pos = 0;
	const char *name;
	size_t	    name_len;
	const char *value;
	size_t	    value_len;
	size_t	    si;

	attr_reset(a);
	if (len > ATTR_FRAME_MAX) {
		if (why)
			vstr_sprintf(why, "frame of %zu bytes above limit %d",
				     len, ATTR_FRAME_MAX);
		errno = EMSGSIZE;
		return -1;
	}
	while (pos < len) {
		if (attr_get_netstring(buf, len, &pos, ATTR_NAME_MAX, &name,
				       &name_len, "name", why)
		    < 0)
			goto bad;
		if (name_len == 0 || memchr(name, 0, name_len) != NULL) {
			if (why)
				vstr_sprintf(why, "%s attribute name",
					     name_len ? "NUL in" : "empty");
			goto bad;
		}
		if (pos == len) {
			if (why)
				vstr_sprintf(why,
					     "attribute \"%.*s\" has no"
					     " value",
					     (int)name_len, name);
			goto bad;
		}
		if (attr_get_netstring(buf, len, &pos, ATTR_FRAME_MAX, &value,
				       &value_len, "value", why)
		    < 0)
			goto bad;
		si = attr_slot_find(a, name, name_len);
		if (a->slot[si] != 0) {
			if (why)
				vstr_sprintf(why,
					     "duplicate attribute"
					     " \"%.*s\"",
					     (int)name_len, name);
			goto bad;
		}
		attr_append(a, si, name, name_len, value, value_len);
	}
	return 0;

bad:
	attr_reset(a);
	errno = EPROTO;
	return -1;
}

int
attr_decode(const char *buf, size_t len, ATTR *a, VSTR *why)
{
	size_t plen;
	int    n;

	attr_reset(a);
	n = attr_parse_len(buf, len, ATTR_FRAME_MAX, &plen);
	if (n <= 0) {
		errno = EPROTO;
		if (n == 0) {
			if (why)
				vstr_strcpy(why, "truncated frame length");
		} else if (n == ATTR_LEN_TOO_BIG) {
			if (why)
				vstr_sprintf(why, "frame length above limit %d",
					     ATTR_FRAME_MAX);
			errno = EMSGSIZE;
		} else if (why) {
			vstr_strcpy(why, "bad frame length");
		}
		return -1;
	}
	if (plen >= len - (size_t)n) {
		if (why)
			vstr_strcpy(why, "truncated frame");
		errno = EPROTO;
		return -1;
	}
	if (buf[n + plen] != ',') {
		if (why)
			vstr_strcpy(why, "missing ',' after frame");
		errno = EPROTO;
		return -1;
	}
	if (len - (size_t)n - plen - 1 != 0) {
		if (why)
			vstr_sprintf(why, "%zu bytes left over after frame",
				     len - (size_t)n - plen - 1);
		errno = EPROTO;
		return -1;
	}
	return attr_decode_payload(buf + n, plen, a, why);
}
