/*
 * qid - queue IDs: short, unique, file-name safe and time-ordered.
 *
 * A queue ID is the arrival time and the queue file's inode number, in the
 * spirit of Postfix's long queue IDs:
 *
 *	SSSSSSUUUUzIII...
 *
 * SSSSSS is the seconds since the epoch in 6 digits of base 52, UUUU the
 * microseconds in 4 digits of base 52, 'z' a separator, and III... the inode
 * number in base 51 (1 to 12 digits, no leading zeros).  The base-52
 * alphabet is 0-9 and the consonants B-Z, b-z without vowels (no words in
 * IDs), in ASCII order, so that IDs made at increasing times sort in that
 * order byte for byte.  The base-51 alphabet is the same without 'z', which
 * therefore never occurs in the inode part and marks where it begins.
 * Uniqueness: two files that exist at once never share an inode number, and
 * an inode reused later comes with another time.
 *
 * Deferred and log folders are hashed one level deep by the last time
 * digit (microseconds modulo 52), which spreads files evenly.
 *
 * Errors: qid_make and qid_time return 0 or -1 (errno EINVAL); qid_valid is
 * a predicate.  Nothing here logs or allocates except through the VSTR.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_QID_H
#define UTIL_QID_H

#include <stdbool.h>
#include <sys/time.h>
#include <sys/types.h>

#include "util/vstr.h"

#define QID_TIME_LEN   10 /* seconds + microseconds digits */
#define QID_SEP	       'z'
#define QID_INO_MAXLEN 12 /* 51^11 < 2^64 <= 51^12 */
#define QID_MAXLEN     (QID_TIME_LEN + 1 + QID_INO_MAXLEN)
#define QID_HASH_LEN   1 /* hashed subfolder name length */

int	    qid_make(VSTR *out, const struct timeval *tv, ino_t ino);
bool	    qid_valid(const char *qid);
int	    qid_time(const char *qid, struct timeval *tv);
int	    qid_inode(const char *qid, ino_t *ino);
const char *qid_hash_dir(const char *qid, char buf[QID_HASH_LEN + 1]);

#endif
