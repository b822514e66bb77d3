/*
 * mymalloc - memory allocation that never returns NULL.
 *
 * Every allocator here either returns usable memory or logs a fatal error
 * ("out of memory") and exits: callers never check for NULL.  Size
 * arithmetic is overflow-checked (mymalloc_array).  The caller owns what is
 * returned and releases it with myfree(), which returns NULL so that
 * `p = myfree(p);` clears the pointer in one line.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MYMALLOC_H
#define UTIL_MYMALLOC_H

#include <stddef.h>

#include "util/sys_defs.h"

void *mymalloc(size_t len);
void *mycalloc(size_t n, size_t size);
void *mymalloc_array(size_t n, size_t size);
void *myrealloc(void *ptr, size_t len);
void *myrealloc_array(void *ptr, size_t n, size_t size);
char *mystrdup(const char *str);
char *mystrndup(const char *str, size_t len);
void *mymemdup(const void *data, size_t len);
void *myfree(void *ptr);

#endif
