/*
 * mymalloc - memory allocation that never returns NULL.  See mymalloc.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdlib.h>
#include <string.h>

#include "util/msg.h"
#include "util/mymalloc.h"

static void *
mymalloc_check(void *ptr, size_t len)
{
	if (ptr == NULL && len != 0)
		msg_fatal("out of memory allocating %zu bytes", len);
	return ptr;
}

void *
mymalloc(size_t len)
{
	return mymalloc_check(malloc(len ? len : 1), len ? len : 1);
}

void *
mycalloc(size_t n, size_t size)
{
	if (size != 0 && n > (size_t)-1 / size)
		msg_fatal("allocation overflow: %zu x %zu bytes", n, size);
	return mymalloc_check(calloc(n ? n : 1, size ? size : 1), 1);
}

void *
mymalloc_array(size_t n, size_t size)
{
	if (size != 0 && n > (size_t)-1 / size)
		msg_fatal("allocation overflow: %zu x %zu bytes", n, size);
	return mymalloc(n * size);
}

void *
myrealloc(void *ptr, size_t len)
{
	return mymalloc_check(realloc(ptr, len ? len : 1), len ? len : 1);
}

void *
myrealloc_array(void *ptr, size_t n, size_t size)
{
	if (size != 0 && n > (size_t)-1 / size)
		msg_fatal("allocation overflow: %zu x %zu bytes", n, size);
	return myrealloc(ptr, n * size);
}

char *
mystrdup(const char *str)
{
	return mymemdup(str, strlen(str) + 1);
}

char *
mystrndup(const char *str, size_t len)
{
	const char *end = memchr(str, 0, len);
	size_t	    n = end ? (size_t)(end - str) : len;
	char	   *copy;

	if (n == (size_t)-1)
		msg_fatal("allocation overflow in mystrndup");
	copy = mymalloc(n + 1);
	memcpy(copy, str, n);
	copy[n] = 0;
	return copy;
}

void *
mymemdup(const void *data, size_t len)
{
	void *copy = mymalloc(len);

	if (len)
		memcpy(copy, data, len);
	return copy;
}

void *
myfree(void *ptr)
{
	free(ptr);
	return NULL;
}
