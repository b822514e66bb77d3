/*
 * qid - queue IDs.  See qid.h for the format and why it is ordered.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "util/qid.h"

#define QID_SEC_LEN   6
#define QID_USEC_LEN  4
#define QID_TIME_BASE 52
#define QID_INO_BASE  51

/* Digits and consonants in ASCII order: lexicographic = numeric order. */
static const char qid_alphabet[] =
    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";

/* Value of one digit, or -1 when the character is not in the alphabet. */
static int
qid_digit(int ch)
{
	const char *cp;

	if (ch == 0)
		return -1;
	cp = strchr(qid_alphabet, ch);
	return cp ? (int)(cp - qid_alphabet) : -1;
}

/* Fixed-width encoding, most significant digit first. */
static void
qid_encode_fixed(char *out, size_t width, uint64_t val, unsigned base)
{
	size_t i;

	for (i = width; i > 0; i--) {
		out[i - 1] = qid_alphabet[val % base];
		val /= base;
	}
}

/* Decode len digits of base; -1 on a bad digit or overflow. */
static int
qid_decode(const char *in, size_t len, unsigned base, uint64_t *val)
{
	uint64_t v = 0;
	size_t	 i;
	int	 d;

	for (i = 0; i < len; i++) {
		d = qid_digit((unsigned char)in[i]);
		if (d < 0 || (unsigned)d >= base)
			return -1;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return -1;
		v = v * base + (uint64_t)d;
	}
	*val = v;
	return 0;
}

int
qid_make(VSTR *out, const struct timeval *tv, ino_t ino)
{
	char	 buf[QID_MAXLEN + 1];
	char	 ino_buf[QID_INO_MAXLEN];
	size_t	 n = 0;
	uint64_t v = (uint64_t)ino;

	/* 52^6 seconds reach the year 2594; refuse what would not sort. */
	if (tv->tv_sec < 0 || (uint64_t)tv->tv_sec >= 19770609664ULL
	    || tv->tv_usec < 0 || tv->tv_usec >= 1000000) {
		errno = EINVAL;
		return -1;
	}
	qid_encode_fixed(buf, QID_SEC_LEN, (uint64_t)tv->tv_sec, QID_TIME_BASE);
	qid_encode_fixed(buf + QID_SEC_LEN, QID_USEC_LEN, (uint64_t)tv->tv_usec,
			 QID_TIME_BASE);
	buf[QID_TIME_LEN] = QID_SEP;
	do {
		ino_buf[n++] = qid_alphabet[v % QID_INO_BASE];
		v /= QID_INO_BASE;
	} while (v > 0);
	for (size_t i = 0; i < n; i++)
		buf[QID_TIME_LEN + 1 + i] = ino_buf[n - 1 - i];
	return vstr_memcpy(out, buf, QID_TIME_LEN + 1 + n);
}

bool
qid_valid(const char *qid)
{
	struct timeval tv;
	ino_t	       ino;

	return qid_time(qid, &tv) == 0 && qid_inode(qid, &ino) == 0;
}

int
qid_time(const char *qid, struct timeval *tv)
{
	uint64_t sec;
	uint64_t usec;

	if (strnlen(qid, QID_TIME_LEN + 1) < QID_TIME_LEN + 1
	    || qid[QID_TIME_LEN] != QID_SEP
	    || qid_decode(qid, QID_SEC_LEN, QID_TIME_BASE, &sec) < 0
	    || qid_decode(qid + QID_SEC_LEN, QID_USEC_LEN, QID_TIME_BASE, &usec)
		   < 0
	    || usec >= 1000000) {
		errno = EINVAL;
		return -1;
	}
	tv->tv_sec = (time_t)sec;
	tv->tv_usec = (suseconds_t)usec;
	return 0;
}

int
qid_inode(const char *qid, ino_t *ino)
{
	const char *ip;
	size_t	    len;
	uint64_t    v;

	if (strnlen(qid, QID_TIME_LEN + 1) < QID_TIME_LEN + 1
	    || qid[QID_TIME_LEN] != QID_SEP) {
		errno = EINVAL;
		return -1;
	}
	ip = qid + QID_TIME_LEN + 1;
	len = strnlen(ip, QID_INO_MAXLEN + 1);
	/* A leading zero would give one file two names. */
	if (len == 0 || len > QID_INO_MAXLEN || (len > 1 && ip[0] == '0')
	    || qid_decode(ip, len, QID_INO_BASE, &v) < 0
	    || (uint64_t)(ino_t)v != v) {
		errno = EINVAL;
		return -1;
	}
	*ino = (ino_t)v;
	return 0;
}

/* Borrowed result is buf; NULL (EINVAL) for a string that is no queue ID. */
const char *
qid_hash_dir(const char *qid, char buf[QID_HASH_LEN + 1])
{
	if (!qid_valid(qid)) {
		errno = EINVAL;
		return NULL;
	}
	buf[0] = qid[QID_TIME_LEN - 1];
	buf[1] = 0;
	return buf;
}
