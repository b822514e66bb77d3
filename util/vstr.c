/*
 * vstr - growable byte strings.  See vstr.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

VSTR *
vstr_alloc(size_t init)
{
	VSTR *vp = mymalloc(sizeof(*vp));

	vp->cap = init < 16 ? 16 : init + 1;
	vp->data = mymalloc(vp->cap);
	vp->data[0] = 0;
	vp->len = 0;
	vp->limit = 0;
	return vp;
}

VSTR *
vstr_free(VSTR *vp)
{
	if (vp) {
		myfree(vp->data);
		myfree(vp);
	}
	return NULL;
}

void
vstr_set_limit(VSTR *vp, size_t limit)
{
	vp->limit = limit;
}

void
vstr_reset(VSTR *vp)
{
	vp->len = 0;
	vp->data[0] = 0;
}

void
vstr_truncate(VSTR *vp, size_t len)
{
	if (len < vp->len) {
		vp->len = len;
		vp->data[len] = 0;
	}
}

/* Make room for `more` bytes plus the terminator; -1 (ENOSPC) past limit. */
int
vstr_space(VSTR *vp, size_t more)
{
	size_t need;
	size_t cap;

	if (more > (size_t)-1 - vp->len - 1)
		msg_fatal("vstr_space: length overflow");
	need = vp->len + more + 1;
	if (vp->limit && need - 1 > vp->limit) {
		errno = ENOSPC;
		return -1;
	}
	if (need <= vp->cap)
		return 0;
	cap = vp->cap;
	while (cap < need)
		cap = cap > (size_t)-1 / 2 ? need : cap * 2;
	vp->data = myrealloc(vp->data, cap);
	vp->cap = cap;
	return 0;
}

int
vstr_memcat(VSTR *vp, const void *data, size_t len)
{
	if (vstr_space(vp, len) < 0)
		return -1;
	if (len)
		memcpy(vp->data + vp->len, data, len);
	vp->len += len;
	vp->data[vp->len] = 0;
	return 0;
}

int
vstr_memcpy(VSTR *vp, const void *data, size_t len)
{
	vstr_reset(vp);
	return vstr_memcat(vp, data, len);
}

int
vstr_strcat(VSTR *vp, const char *str)
{
	return vstr_memcat(vp, str, strlen(str));
}

int
vstr_strcpy(VSTR *vp, const char *str)
{
	vstr_reset(vp);
	return vstr_strcat(vp, str);
}

int
vstr_addch(VSTR *vp, int ch)
{
	char c = (char)ch;

	return vstr_memcat(vp, &c, 1);
}

int
vstr_vsprintf_append(VSTR *vp, const char *fmt, va_list ap)
{
	va_list ap2;
	int	n;
	size_t	room = vp->cap - vp->len;

	va_copy(ap2, ap);
	n = vsnprintf(vp->data + vp->len, room, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		msg_panic("vstr_vsprintf_append: bad format \"%s\"", fmt);
	if ((size_t)n >= room) {
		vp->data[vp->len] = 0;
		if (vstr_space(vp, (size_t)n) < 0)
			return -1;
		n = vsnprintf(vp->data + vp->len, vp->cap - vp->len, fmt, ap);
	} else if (vp->limit && vp->len + (size_t)n > vp->limit) {
		vp->data[vp->len] = 0;
		errno = ENOSPC;
		return -1;
	}
	vp->len += (size_t)n;
	return 0;
}

int
vstr_sprintf_append(VSTR *vp, const char *fmt, ...)
{
	va_list ap;
	int	ret;

	va_start(ap, fmt);
	ret = vstr_vsprintf_append(vp, fmt, ap);
	va_end(ap);
	return ret;
}

int
vstr_sprintf(VSTR *vp, const char *fmt, ...)
{
	va_list ap;
	int	ret;

	vstr_reset(vp);
	va_start(ap, fmt);
	ret = vstr_vsprintf_append(vp, fmt, ap);
	va_end(ap);
	return ret;
}

void
vstr_erase_front(VSTR *vp, size_t n)
{
	if (n >= vp->len) {
		vstr_reset(vp);
		return;
	}
	memmove(vp->data, vp->data + n, vp->len - n);
	vp->len -= n;
	vp->data[vp->len] = 0;
}

/* After writing directly into data[len..cap-1], record the new length. */
void
vstr_set_len(VSTR *vp, size_t len)
{
	if (len >= vp->cap)
		msg_panic("vstr_set_len: %zu past capacity %zu", len, vp->cap);
	vp->len = len;
	vp->data[len] = 0;
}

char *
vstr_export(VSTR *vp)
{
	char *data = vp->data;

	myfree(vp);
	return data;
}

void
vstr_lower(VSTR *vp)
{
	size_t i;

	for (i = 0; i < vp->len; i++)
		vp->data[i] = (char)tolower((unsigned char)vp->data[i]);
}
