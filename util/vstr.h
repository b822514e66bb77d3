/*
 * vstr - growable byte strings.
 *
 * A VSTR holds any bytes (NULs included) and is always NUL-terminated one
 * past its length, so VSTR_STR() is a C string when the content has no NUL.
 * Growth is overflow-checked and dies only through the allocator.  An
 * optional limit (vstr_set_limit) makes appends past it fail with -1 and
 * leave the string unchanged: callers that buffer peer data use it to bound
 * memory.
 *
 * Ownership: vstr_alloc's result is the caller's, released with vstr_free()
 * (which returns NULL).  VSTR_STR() is borrowed until the next change.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_VSTR_H
#define UTIL_VSTR_H

#include <stdarg.h>
#include <stddef.h>

#include "util/sys_defs.h"

typedef struct VSTR {
	char  *data;
	size_t len;
	size_t cap;   /* allocated bytes, > len */
	size_t limit; /* 0: unbounded */
} VSTR;

#define VSTR_STR(v) ((v)->data)
#define VSTR_LEN(v) ((v)->len)
#define VSTR_END(v) ((v)->data + (v)->len)

VSTR *vstr_alloc(size_t init);
VSTR *vstr_free(VSTR *vp);
void  vstr_set_limit(VSTR *vp, size_t limit);
void  vstr_reset(VSTR *vp);
void  vstr_truncate(VSTR *vp, size_t len);
int   vstr_space(VSTR *vp, size_t more);
int   vstr_memcat(VSTR *vp, const void *data, size_t len);
int   vstr_memcpy(VSTR *vp, const void *data, size_t len);
int   vstr_strcat(VSTR *vp, const char *str);
int   vstr_strcpy(VSTR *vp, const char *str);
int   vstr_addch(VSTR *vp, int ch);
int   vstr_sprintf(VSTR *vp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int vstr_sprintf_append(VSTR *vp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int   vstr_vsprintf_append(VSTR *vp, const char *fmt, va_list ap);
void  vstr_erase_front(VSTR *vp, size_t n);
void  vstr_set_len(VSTR *vp, size_t len);
char *vstr_export(VSTR *vp);
void  vstr_lower(VSTR *vp);

#endif
