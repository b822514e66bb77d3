/*
 * map_files - table values that carry file contents, as "postmap -F"
 * makes them (tls_server_sni_maps): when a table is built, a value that
 * lists file names (separated by commas or white space) becomes the
 * base64 of the files' contents, concatenated; lookups decode it again.
 *
 * Errors: -1 with the reason in why (the file and errno, or "malformed
 * BASE64 value").  Nothing dies but the allocators.
 *
 * Ownership: out is the caller's; its old contents are replaced.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MAP_FILES_H
#define UTIL_MAP_FILES_H

#include <stddef.h>

#include "util/vstr.h"

/* Largest total of file contents in one value. */
#define MAP_FILES_MAX (1024 * 1024)

/* The files listed in value, read and base64-encoded into out. */
int map_files_encode(const char *value, VSTR *out, VSTR *why);

/*
 * The base64 value (white space around it allowed) decoded into out;
 * 0, or -1 (why) when it is not base64.
 */
int map_files_decode(const char *value, VSTR *out, VSTR *why);

#endif
