/*
 * sys_defs - project-wide compile-time rules.
 *
 * Included by the core util headers, hence after the system headers of any
 * file that follows the convention "system headers first".  It poisons the
 * unbounded string functions: use VSTR (util/vstr.h) or snprintf with a
 * truncation check instead.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_SYS_DEFS_H
#define UTIL_SYS_DEFS_H

#include <string.h>
#include <stdio.h>

#pragma GCC poison strcpy strcat sprintf vsprintf strncpy gets

#endif
