/*
 * rec - the queue file record stream.  See rec.h for the format, the error
 * conventions and ownership; docs/QUEUE.md for what each record means.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/rec.h"

#define REC_BUFSIZE (64 * 1024)
#define REC_HDR_MAX 5 /* type + 4 varint bytes */

/* Where in the layout a stream is; see the table in rec.h. */
enum rec_section {
	REC_SEC_START, /* expecting S */
	REC_SEC_ENV,   /* envelope */
	REC_SEC_CONT,  /* after M */
	REC_SEC_XTRA,  /* after X */
	REC_SEC_END,   /* after E */
};

#define REC_SEEN_T  (1 << 0)
#define REC_SEEN_F  (1 << 1)
#define REC_SEEN_V  (1 << 2)
#define REC_SEEN_K  (1 << 3)
#define REC_SEEN_I  (1 << 4)
#define REC_PEND_O  (1 << 5) /* O/P/N wait for their R */
#define REC_PEND_P  (1 << 6)
#define REC_PEND_N  (1 << 7)
#define REC_PENDING (REC_PEND_O | REC_PEND_P | REC_PEND_N)

struct rec_layout {
	enum rec_section section;
	unsigned	 seen;
};

struct REC_WRITER {
	int		  fd;
	int		  err;	  /* sticky errno, 0 while healthy */
	off_t		  offset; /* file offset of buf[0] */
	size_t		  buf_len;
	off_t		  last_offset; /* offset of the last record put */
	struct rec_layout layout;
	struct rec_size	  size;
	VSTR		 *cont;	   /* content waiting for a full chunk */
	VSTR		 *scratch; /* rec_putf formatting */
	REC_TAP_FN	  tap;	   /* sees every content byte, or NULL */
	void		 *tap_ctx;
	unsigned char	  buf[REC_BUFSIZE];
};

/* What rec_content_get reads next. */
enum rec_content_phase {
	REC_CP_START,	/* S record not read yet */
	REC_CP_PREPEND, /* H records in the extracted section */
	REC_CP_CONTENT, /* C records */
	REC_CP_DONE,	/* X after the content seen: the end */
};

struct REC_CONTENT {
	REC_READER	      *r;
	enum rec_content_phase phase;
	off_t		       want_offset; /* caller's content offset, or -1 */
	struct rec_size	       size;
	bool		       first; /* next record starts its section */
	int		       err;   /* sticky errno after a failure */
	VSTR		      *why;
};

struct REC_READER {
	int		  fd;
	int		  err;	   /* sticky errno after a failure */
	off_t		  buf_off; /* file offset of buf[0] */
	size_t		  buf_len;
	size_t		  pos; /* next unread byte in buf */
	bool		  eof;
	off_t		  rec_offset; /* offset of the last record read */
	struct rec_layout layout;
	VSTR		 *why;
	unsigned char	  buf[REC_BUFSIZE];
};

const char *
rec_type_name(int type)
{
	switch (type) {
	case REC_TYPE_SIZE:
		return "size";
	case REC_TYPE_TIME:
		return "time";
	case REC_TYPE_FROM:
		return "sender";
	case REC_TYPE_ENVID:
		return "envid";
	case REC_TYPE_RET:
		return "ret";
	case REC_TYPE_ATTR:
		return "attribute";
	case REC_TYPE_ORIG:
		return "original recipient";
	case REC_TYPE_ORCPT:
		return "orcpt";
	case REC_TYPE_NOTIFY:
		return "notify";
	case REC_TYPE_RCPT:
		return "recipient";
	case REC_TYPE_DONE:
		return "done recipient";
	case REC_TYPE_MESG:
		return "content start";
	case REC_TYPE_CONT:
		return "content";
	case REC_TYPE_XTRA:
		return "extracted start";
	case REC_TYPE_MSGID:
		return "message-id";
	case REC_TYPE_PREPEND:
		return "prepended header";
	case REC_TYPE_END:
		return "end";
	default:
		return NULL;
	}
}

/* Once-only envelope/extracted records and the bit that remembers them. */
static unsigned
rec_once_bit(int type)
{
	switch (type) {
	case REC_TYPE_TIME:
		return REC_SEEN_T;
	case REC_TYPE_FROM:
		return REC_SEEN_F;
	case REC_TYPE_ENVID:
		return REC_SEEN_V;
	case REC_TYPE_RET:
		return REC_SEEN_K;
	case REC_TYPE_MSGID:
		return REC_SEEN_I;
	case REC_TYPE_ORIG:
		return REC_PEND_O;
	case REC_TYPE_ORCPT:
		return REC_PEND_P;
	case REC_TYPE_NOTIFY:
		return REC_PEND_N;
	default:
		return 0;
	}
}

/*
 * The layout checker shared by reader and writer: 0 when type may come
 * next (and the state advances), -1 with *why set when it may not.
 */
static int
rec_layout_next(struct rec_layout *st, int type, const char **why)
{
	unsigned bit = rec_once_bit(type);

	if (rec_type_name(type) == NULL) {
		*why = "unknown record type";
		return -1;
	}
	switch (st->section) {
	case REC_SEC_START:
		if (type != REC_TYPE_SIZE) {
			*why = "first record is not the size record";
			return -1;
		}
		st->section = REC_SEC_ENV;
		return 0;
	case REC_SEC_ENV:
		switch (type) {
		case REC_TYPE_TIME:
		case REC_TYPE_FROM:
		case REC_TYPE_ENVID:
		case REC_TYPE_RET:
		case REC_TYPE_ORIG:
		case REC_TYPE_ORCPT:
		case REC_TYPE_NOTIFY:
			if (st->seen & bit) {
				*why = "duplicate envelope record";
				return -1;
			}
			st->seen |= bit;
			return 0;
		case REC_TYPE_ATTR:
			return 0;
		case REC_TYPE_RCPT:
		case REC_TYPE_DONE:
			st->seen &= ~REC_PENDING;
			return 0;
		case REC_TYPE_MESG:
			if ((st->seen & (REC_SEEN_T | REC_SEEN_F))
			    != (REC_SEEN_T | REC_SEEN_F)) {
				*why = "content before arrival time and sender";
				return -1;
			}
			if (st->seen & REC_PENDING) {
				*why = "recipient options without recipient";
				return -1;
			}
			st->section = REC_SEC_CONT;
			return 0;
		default:
			*why = "record not allowed in the envelope";
			return -1;
		}
	case REC_SEC_CONT:
		if (type == REC_TYPE_CONT)
			return 0;
		if (type == REC_TYPE_XTRA) {
			st->section = REC_SEC_XTRA;
			return 0;
		}
		*why = "record not allowed in the content";
		return -1;
	case REC_SEC_XTRA:
		if (type == REC_TYPE_ATTR || type == REC_TYPE_PREPEND)
			return 0;
		if (type == REC_TYPE_MSGID) {
			if (st->seen & bit) {
				*why = "duplicate message-id record";
				return -1;
			}
			st->seen |= bit;
			return 0;
		}
		if (type == REC_TYPE_END) {
			st->section = REC_SEC_END;
			return 0;
		}
		*why = "record not allowed in the extracted section";
		return -1;
	case REC_SEC_END:
	default:
		*why = "record after the end record";
		return -1;
	}
}

/* "sec usec": 1-12 digits, one space, 1-6 digits; no signs, no blanks. */
static int
rec_time_ok(const char *data, size_t len)
{
	size_t i = 0;
	size_t start;

	for (start = i; i < len && data[i] >= '0' && data[i] <= '9'; i++)
		;
	if (i == start || i - start > 12 || i == len || data[i++] != ' ')
		return -1;
	for (start = i; i < len && data[i] >= '0' && data[i] <= '9'; i++)
		;
	if (i == start || i - start > 6 || i != len)
		return -1;
	return 0;
}

/*
 * One complete header field with its final CRLF: a name of printable
 * characters but ':', then ':', then lines that end in CRLF, each line after
 * the first starting with SP or HTAB (a fold).  No bare CR or LF and no other
 * control character, so a reader can put it above the content as it is.
 */
int
rec_prepend_ok(const char *data, size_t len)
{
	size_t i = 0;

	while (i < len && data[i] != ':') {
		if ((unsigned char)data[i] <= ' '
		    || (unsigned char)data[i] >= 127)
			return -1;
		i++;
	}
	if (i == 0 || i == len)
		return -1;
	for (; i < len; i++) {
		unsigned char ch = (unsigned char)data[i];

		if (ch == '\r') {
			if (i + 1 >= len || data[i + 1] != '\n')
				return -1;
			i++;
			/* The last CRLF ends the field; any other folds. */
			if (i + 1 < len && data[i + 1] != ' '
			    && data[i + 1] != '\t')
				return -1;
			continue;
		}
		if ((ch < ' ' && ch != '\t') || ch == 127)
			return -1;
	}
	return len >= 2 && data[len - 2] == '\r' && data[len - 1] == '\n' ? 0
									  : -1;
}

/* Payload rules per type; 0 or -1 with *why. */
static int
rec_payload_ok(int type, const char *data, size_t len, const char **why)
{
	struct rec_size size;
	char		tbuf[4];
	unsigned long	bits;
	char	       *end;

	if (type != REC_TYPE_CONT && memchr(data, 0, len) != NULL) {
		*why = "NUL byte in a text record";
		return -1;
	}
	switch (type) {
	case REC_TYPE_SIZE:
		if (rec_size_parse(data, len, &size) < 0) {
			*why = "malformed size record";
			return -1;
		}
		return 0;
	case REC_TYPE_MESG:
	case REC_TYPE_XTRA:
	case REC_TYPE_END:
		if (len != 0) {
			*why = "marker record with a payload";
			return -1;
		}
		return 0;
	case REC_TYPE_TIME:
		if (rec_time_ok(data, len) < 0) {
			*why = "malformed time record";
			return -1;
		}
		return 0;
	case REC_TYPE_RCPT:
	case REC_TYPE_DONE:
		if (len == 0) {
			*why = "empty recipient record";
			return -1;
		}
		return 0;
	case REC_TYPE_RET:
		if (!(len == 4
		      && (memcmp(data, "FULL", 4) == 0
			  || memcmp(data, "HDRS", 4) == 0))) {
			*why = "malformed RET record";
			return -1;
		}
		return 0;
	case REC_TYPE_NOTIFY:
		if (len == 0 || len > 2 || data[0] < '0' || data[0] > '9') {
			*why = "malformed NOTIFY record";
			return -1;
		}
		memcpy(tbuf, data, len);
		tbuf[len] = 0;
		bits = strtoul(tbuf, &end, 10);
		if (*end || bits == 0 || bits > 15
		    || ((bits & REC_NOTIFY_NEVER)
			&& bits != REC_NOTIFY_NEVER)) {
			*why = "malformed NOTIFY record";
			return -1;
		}
		return 0;
	case REC_TYPE_ATTR:
		if (len == 0 || data[0] == '='
		    || memchr(data, '=', len) == NULL) {
			*why = "malformed attribute record";
			return -1;
		}
		return 0;
	case REC_TYPE_PREPEND:
		if (rec_prepend_ok(data, len) < 0) {
			*why = "malformed prepended header record";
			return -1;
		}
		return 0;
	default:
		return 0;
	}
}

/* S payload: REC_SIZE_FIELDS zero-padded decimals separated by spaces. */
int
rec_size_format(VSTR *out, const struct rec_size *size)
{
	const off_t vals[REC_SIZE_FIELDS] = {
		size->content_offset,
		size->extract_offset,
		size->message_size,
		size->rcpt_count,
	};
	int i;

	vstr_reset(out);
	for (i = 0; i < REC_SIZE_FIELDS; i++) {
		if (vals[i] < 0) {
			errno = EINVAL;
			return -1;
		}
		if (vstr_sprintf_append(out, "%s%0*jd", i ? " " : "",
					REC_SIZE_WIDTH, (intmax_t)vals[i])
		    < 0)
			return -1;
	}
	if (VSTR_LEN(out) != REC_SIZE_LEN) {
		errno = ERANGE;
		return -1;
	}
	return 0;
}

int
rec_size_parse(const char *data, size_t len, struct rec_size *size)
{
	off_t  vals[REC_SIZE_FIELDS];
	size_t pos = 0;
	int    i;
	int    j;

	if (len != REC_SIZE_LEN) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < REC_SIZE_FIELDS; i++) {
		if (i > 0 && data[pos++] != ' ') {
			errno = EINVAL;
			return -1;
		}
		vals[i] = 0;
		for (j = 0; j < REC_SIZE_WIDTH; j++, pos++) {
			if (data[pos] < '0' || data[pos] > '9') {
				errno = EINVAL;
				return -1;
			}
			/* 15 digits always fit in a 64-bit off_t. */
			vals[i] = vals[i] * 10 + (data[pos] - '0');
		}
	}
	size->content_offset = vals[0];
	size->extract_offset = vals[1];
	size->message_size = vals[2];
	size->rcpt_count = vals[3];
	return 0;
}

/* Writer. */

/* pwrite every byte of iov[0..n-1] at off, retrying short writes. */
static int
rec_pwritev_all(int fd, off_t off, struct iovec *iov, int n)
{
	ssize_t done;

	while (n > 0) {
		done = pwritev(fd, iov, n, off);
		if (done < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (done == 0) {
			errno = EIO;
			return -1;
		}
		off += done;
		while (n > 0 && (size_t)done >= iov->iov_len) {
			done -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + done;
			iov->iov_len -= (size_t)done;
		}
	}
	return 0;
}

/* Write the buffer, then (optionally) a large payload in the same call. */
static int
rec_writer_drain(REC_WRITER *w, const void *extra, size_t extra_len)
{
	struct iovec iov[2];
	int	     n = 0;

	if (w->err) {
		errno = w->err;
		return -1;
	}
	if (w->buf_len) {
		iov[n].iov_base = w->buf;
		iov[n++].iov_len = w->buf_len;
	}
	if (extra_len) {
		iov[n].iov_base = (void *)extra;
		iov[n++].iov_len = extra_len;
	}
	if (n && rec_pwritev_all(w->fd, w->offset, iov, n) < 0) {
		w->err = errno ? errno : EIO;
		return -1;
	}
	w->offset += (off_t)(w->buf_len + extra_len);
	w->buf_len = 0;
	return 0;
}

static size_t
rec_varint(unsigned char *out, size_t len)
{
	size_t n = 0;

	do {
		out[n] = (unsigned char)(len & 0x7f);
		len >>= 7;
		if (len)
			out[n] |= 0x80;
		n++;
	} while (len);
	return n;
}

/* Append one record to the stream without looking at pending content. */
static int
rec_put_raw(REC_WRITER *w, int type, const void *data, size_t len)
{
	unsigned char hdr[REC_HDR_MAX];
	size_t	      hlen;
	const char   *why;

	if (w->err) {
		errno = w->err;
		return -1;
	}
	if (len > REC_LEN_MAX)
		msg_panic("rec_put: %s record of %zu bytes",
			  rec_type_name(type) ? rec_type_name(type) : "?", len);
	if (rec_layout_next(&w->layout, type, &why) < 0)
		msg_panic("rec_put: type 0x%02x: %s", (unsigned)type & 0xff,
			  why);
	hdr[0] = (unsigned char)type;
	hlen = 1 + rec_varint(hdr + 1, len);
	if (REC_BUFSIZE - w->buf_len < hlen && rec_writer_drain(w, NULL, 0) < 0)
		return -1;
	w->last_offset = w->offset + (off_t)w->buf_len;
	memcpy(w->buf + w->buf_len, hdr, hlen);
	w->buf_len += hlen;
	if (len <= REC_BUFSIZE - w->buf_len) {
		if (len)
			memcpy(w->buf + w->buf_len, data, len);
		w->buf_len += len;
	} else if (rec_writer_drain(w, data, len) < 0) {
		return -1;
	}
	switch (type) {
	case REC_TYPE_MESG:
		w->size.content_offset = w->last_offset;
		break;
	case REC_TYPE_XTRA:
		w->size.extract_offset = w->last_offset;
		break;
	case REC_TYPE_CONT:
	case REC_TYPE_PREPEND:
		w->size.message_size += (off_t)len;
		break;
	case REC_TYPE_RCPT:
	case REC_TYPE_DONE:
		w->size.rcpt_count++;
		break;
	}
	return 0;
}

static int
rec_put_pending_content(REC_WRITER *w)
{
	int ret = 0;

	if (VSTR_LEN(w->cont)) {
		ret = rec_put_raw(w, REC_TYPE_CONT, VSTR_STR(w->cont),
				  VSTR_LEN(w->cont));
		vstr_reset(w->cont);
	}
	return ret;
}

REC_WRITER *
rec_writer_create(int fd)
{
	REC_WRITER     *w = mycalloc(1, sizeof(*w));
	struct rec_size zero = { 0, 0, 0, 0 };

	w->fd = fd;
	w->cont = vstr_alloc(REC_CONT_CHUNK);
	w->scratch = vstr_alloc(256);
	/* Placeholder; rec_writer_finish rewrites it with the real values. */
	if (rec_size_format(w->scratch, &zero) < 0)
		msg_panic("rec_writer_create: size record format");
	(void)rec_put_raw(w, REC_TYPE_SIZE, VSTR_STR(w->scratch),
			  VSTR_LEN(w->scratch));
	return w;
}

REC_WRITER *
rec_writer_free(REC_WRITER *w)
{
	if (w) {
		vstr_free(w->cont);
		vstr_free(w->scratch);
		myfree(w);
	}
	return NULL;
}

int
rec_put(REC_WRITER *w, int type, const void *data, size_t len)
{
	if (type == REC_TYPE_CONT)
		return rec_put_content(w, data, len);
	if (rec_put_pending_content(w) < 0)
		return -1;
	return rec_put_raw(w, type, data, len);
}

int
rec_putf(REC_WRITER *w, int type, const char *fmt, ...)
{
	va_list ap;
	int	ret;

	vstr_reset(w->scratch);
	va_start(ap, fmt);
	ret = vstr_vsprintf_append(w->scratch, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -1;
	return rec_put(w, type, VSTR_STR(w->scratch), VSTR_LEN(w->scratch));
}

/*
 * Content arrives in whatever pieces the caller has (lines, socket reads);
 * it leaves in REC_CONT_CHUNK records so readers make few, large reads.
 */
int
rec_put_content(REC_WRITER *w, const void *data, size_t len)
{
	const char *cp = data;
	size_t	    room;

	if (w->err) {
		errno = w->err;
		return -1;
	}
	if (w->layout.section == REC_SEC_ENV
	    && rec_put_raw(w, REC_TYPE_MESG, "", 0) < 0)
		return -1;
	if (w->layout.section != REC_SEC_CONT)
		msg_panic("rec_put_content: not in the content section");
	if (w->tap && len > 0)
		w->tap(w->tap_ctx, data, len);
	while (len > 0) {
		if (VSTR_LEN(w->cont) == 0 && len >= REC_CONT_CHUNK) {
			if (rec_put_raw(w, REC_TYPE_CONT, cp, REC_CONT_CHUNK)
			    < 0)
				return -1;
			cp += REC_CONT_CHUNK;
			len -= REC_CONT_CHUNK;
			continue;
		}
		room = REC_CONT_CHUNK - VSTR_LEN(w->cont);
		if (room > len)
			room = len;
		vstr_memcat(w->cont, cp, room);
		cp += room;
		len -= room;
		if (VSTR_LEN(w->cont) == REC_CONT_CHUNK
		    && rec_put_pending_content(w) < 0)
			return -1;
	}
	return 0;
}

void
rec_writer_tap(REC_WRITER *w, REC_TAP_FN fn, void *ctx)
{
	w->tap = fn;
	w->tap_ctx = ctx;
}

int
rec_flush(REC_WRITER *w)
{
	if (rec_put_pending_content(w) < 0)
		return -1;
	return rec_writer_drain(w, NULL, 0);
}

/* Close the layout, write everything, and rewrite S in place. */
int
rec_writer_finish(REC_WRITER *w)
{
	if (rec_put_pending_content(w) < 0)
		return -1;
	if (w->layout.section == REC_SEC_ENV
	    && rec_put_raw(w, REC_TYPE_MESG, "", 0) < 0)
		return -1;
	if (w->layout.section == REC_SEC_CONT
	    && rec_put_raw(w, REC_TYPE_XTRA, "", 0) < 0)
		return -1;
	if (rec_put_raw(w, REC_TYPE_END, "", 0) < 0
	    || rec_writer_drain(w, NULL, 0) < 0)
		return -1;
	if (rec_size_format(w->scratch, &w->size) < 0) {
		w->err = errno;
		return -1;
	}
	if (pwrite(w->fd, VSTR_STR(w->scratch), VSTR_LEN(w->scratch),
		   REC_SIZE_PAYLOAD_OFFSET)
	    != (ssize_t)VSTR_LEN(w->scratch)) {
		w->err = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

off_t
rec_writer_last_offset(const REC_WRITER *w)
{
	return w->last_offset;
}

void
rec_writer_size(const REC_WRITER *w, struct rec_size *size)
{
	*size = w->size;
}

/* Reader. */

REC_READER *
rec_reader_create(int fd, off_t offset)
{
	REC_READER *r = mycalloc(1, sizeof(*r));

	r->fd = fd;
	r->buf_off = offset;
	r->rec_offset = offset;
	r->why = vstr_alloc(64);
	r->layout.section = REC_SEC_START;
	return r;
}

REC_READER *
rec_reader_free(REC_READER *r)
{
	if (r) {
		vstr_free(r->why);
		myfree(r);
	}
	return NULL;
}

const char *
rec_reader_why(const REC_READER *r)
{
	return VSTR_STR(r->why);
}

off_t
rec_reader_offset(const REC_READER *r)
{
	return r->rec_offset;
}

/*
 * Continue reading at offset, where a record of type (M or X, taken from
 * the S record) is expected: lets the queue manager skip the content.
 */
int
rec_reader_seek(REC_READER *r, off_t offset, int type)
{
	if (offset < 0 || (type != REC_TYPE_MESG && type != REC_TYPE_XTRA)) {
		errno = EINVAL;
		return -1;
	}
	r->buf_off = offset;
	r->buf_len = r->pos = 0;
	r->eof = false;
	r->err = 0;
	vstr_reset(r->why);
	if (type == REC_TYPE_MESG) {
		r->layout.section = REC_SEC_ENV;
		r->layout.seen = REC_SEEN_T | REC_SEEN_F;
	} else {
		r->layout.section = REC_SEC_CONT;
		r->layout.seen = 0;
	}
	return 0;
}

static int rec_malformed(REC_READER *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
rec_malformed(REC_READER *r, const char *fmt, ...)
{
	va_list ap;

	vstr_sprintf(r->why, "offset %jd: ", (intmax_t)r->rec_offset);
	va_start(ap, fmt);
	(void)vstr_vsprintf_append(r->why, fmt, ap);
	va_end(ap);
	r->err = EBADMSG;
	errno = EBADMSG;
	return -1;
}

/* Refill so that unread bytes start at buf[0]; -1 on read error. */
static int
rec_fill(REC_READER *r)
{
	ssize_t n;

	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->buf_len - r->pos);
		r->buf_off += (off_t)r->pos;
		r->buf_len -= r->pos;
		r->pos = 0;
	}
	while (!r->eof && r->buf_len < REC_BUFSIZE) {
		n = pread(r->fd, r->buf + r->buf_len, REC_BUFSIZE - r->buf_len,
			  r->buf_off + (off_t)r->buf_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r->err = errno;
			vstr_sprintf(r->why, "read at offset %jd: %s",
				     (intmax_t)(r->buf_off + (off_t)r->buf_len),
				     strerror(errno));
			return -1;
		}
		if (n == 0)
			r->eof = true;
		r->buf_len += (size_t)n;
	}
	return 0;
}

int
rec_get(REC_READER *r, int *type, VSTR *data, size_t maxlen)
{
	size_t	    len = 0;
	size_t	    avail;
	size_t	    want;
	unsigned    shift;
	int	    i;
	int	    t;
	const char *why;

	if (r->err) {
		errno = r->err;
		return -1;
	}
	vstr_reset(data);
	if (maxlen == 0 || maxlen > REC_LEN_MAX)
		maxlen = REC_LEN_MAX;
	if (r->buf_len - r->pos < REC_HDR_MAX && rec_fill(r) < 0)
		return -1;
	r->rec_offset = r->buf_off + (off_t)r->pos;
	avail = r->buf_len - r->pos;
	if (avail == 0) {
		if (r->layout.section == REC_SEC_END)
			return 0;
		return rec_malformed(r, "file ends before the end record");
	}
	t = r->buf[r->pos];
	if (rec_type_name(t) == NULL)
		return rec_malformed(r, "unknown record type 0x%02x",
				     (unsigned)t);
	/* Minimal varint: at most 4 bytes, no trailing zero byte. */
	for (i = 1, shift = 0;; i++, shift += 7) {
		if ((size_t)i >= avail)
			return rec_malformed(r,
					     "file ends inside a %s "
					     "record header",
					     rec_type_name(t));
		if (i > 4)
			return rec_malformed(r, "record length longer than "
						"4 bytes");
		len |= (size_t)(r->buf[r->pos + i] & 0x7f) << shift;
		if ((r->buf[r->pos + i] & 0x80) == 0)
			break;
	}
	if (i > 1 && r->buf[r->pos + i] == 0)
		return rec_malformed(r, "non-minimal record length");
	if (len > maxlen)
		return rec_malformed(r, "%s record length %zu past bound %zu",
				     rec_type_name(t), len, maxlen);
	if (rec_layout_next(&r->layout, t, &why) < 0)
		return rec_malformed(r, "%s record: %s", rec_type_name(t), why);
	r->pos += (size_t)i + 1;
	/* Copy as bytes arrive: a lying length costs no memory up front. */
	while (VSTR_LEN(data) < len) {
		if (r->pos == r->buf_len && rec_fill(r) < 0)
			return -1;
		avail = r->buf_len - r->pos;
		if (avail == 0)
			return rec_malformed(r, "file ends inside a %s record",
					     rec_type_name(t));
		want = len - VSTR_LEN(data);
		if (want > avail)
			want = avail;
		if (vstr_memcat(data, r->buf + r->pos, want) < 0)
			return rec_malformed(r,
					     "%s record longer than the "
					     "caller's buffer limit",
					     rec_type_name(t));
		r->pos += want;
	}
	if (rec_payload_ok(t, VSTR_STR(data), len, &why) < 0)
		return rec_malformed(r, "%s", why);
	*type = t;
	return 1;
}

/* Content reader: H records first, then C records; see rec.h. */

REC_CONTENT *
rec_content_create(int fd, off_t content_offset)
{
	REC_CONTENT *c = mycalloc(1, sizeof(*c));

	c->r = rec_reader_create(fd, 0);
	c->phase = REC_CP_START;
	c->want_offset = content_offset;
	c->why = vstr_alloc(64);
	return c;
}

REC_CONTENT *
rec_content_free(REC_CONTENT *c)
{
	if (c) {
		rec_reader_free(c->r);
		vstr_free(c->why);
		myfree(c);
	}
	return NULL;
}

const char *
rec_content_why(const REC_CONTENT *c)
{
	return VSTR_STR(c->why);
}

static int rec_content_bad(REC_CONTENT *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
rec_content_bad(REC_CONTENT *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vstr_reset(c->why);
	(void)vstr_vsprintf_append(c->why, fmt, ap);
	va_end(ap);
	c->err = EBADMSG;
	errno = EBADMSG;
	return -1;
}

/* rec_get failed (-1) or hit E where content was expected (0). */
static int
rec_content_read_error(REC_CONTENT *c, int got)
{
	if (got == 0)
		return rec_content_bad(c, "no content end");
	vstr_strcpy(c->why, rec_reader_why(c->r));
	c->err = errno ? errno : EIO;
	errno = c->err;
	return -1;
}

/* Read S and go to the X record, where the H records are. */
static int
rec_content_start(REC_CONTENT *c, VSTR *data)
{
	int type;
	int got;

	if ((got = rec_get(c->r, &type, data, REC_SIZE_LEN)) <= 0)
		return rec_content_read_error(c, got);
	/* The layout check let only an S record through. */
	if (rec_size_parse(VSTR_STR(data), VSTR_LEN(data), &c->size) < 0)
		return rec_content_bad(c, "malformed size record");
	if (c->want_offset >= 0 && c->want_offset != c->size.content_offset)
		return rec_content_bad(c,
				       "content offset %jd does not match the "
				       "size record (%jd)",
				       (intmax_t)c->want_offset,
				       (intmax_t)c->size.content_offset);
	if (c->size.content_offset <= 0
	    || c->size.extract_offset <= c->size.content_offset)
		return rec_content_bad(c, "size record without content and "
					  "extracted offsets");
	(void)rec_reader_seek(c->r, c->size.extract_offset, REC_TYPE_XTRA);
	c->phase = REC_CP_PREPEND;
	c->first = true;
	return 0;
}

int
rec_content_get(REC_CONTENT *c, int *type, VSTR *data, size_t maxlen)
{
	int got;
	int t;

	if (c->err) {
		errno = c->err;
		return -1;
	}
	if (c->phase == REC_CP_START && rec_content_start(c, data) < 0)
		return -1;
	while (c->phase != REC_CP_DONE) {
		if ((got = rec_get(c->r, &t, data, maxlen)) <= 0)
			return rec_content_read_error(c, got);
		if (c->first) {
			c->first = false;
			if (t
			    != (c->phase == REC_CP_PREPEND ? REC_TYPE_XTRA
							   : REC_TYPE_MESG))
				return rec_content_bad(
				    c,
				    "offset %jd: no %s record where the "
				    "size record says",
				    (intmax_t)rec_reader_offset(c->r),
				    c->phase == REC_CP_PREPEND ? "extracted "
								 "start"
							       : "content "
								 "start");
			continue;
		}
		if (c->phase == REC_CP_PREPEND) {
			if (t == REC_TYPE_PREPEND) {
				*type = t;
				return 1;
			}
			if (t == REC_TYPE_END) {
				(void)rec_reader_seek(c->r,
						      c->size.content_offset,
						      REC_TYPE_MESG);
				c->phase = REC_CP_CONTENT;
				c->first = true;
			}
			continue;
		}
		/* The layout check lets only C or X follow M. */
		if (t == REC_TYPE_XTRA) {
			c->phase = REC_CP_DONE;
			break;
		}
		*type = t;
		return 1;
	}
	vstr_reset(data);
	return 0;
}

/*
 * In-place "recipient done"; idempotent, never touches other bytes.  The
 * offset must lie in the envelope (between S and the content offset that
 * S gives), so a stray offset can never flip a byte of the message.
 */
int
rec_mark_done(int fd, off_t offset)
{
	char		sbuf[REC_SIZE_LEN];
	struct rec_size size;
	char		ch;
	ssize_t		n;

	while ((n = pread(fd, sbuf, sizeof(sbuf), REC_SIZE_PAYLOAD_OFFSET)) < 0
	       && errno == EINTR)
		;
	if (n < 0)
		return -1;
	if (n != (ssize_t)sizeof(sbuf)
	    || rec_size_parse(sbuf, sizeof(sbuf), &size) < 0
	    || offset < REC_SIZE_PAYLOAD_OFFSET + REC_SIZE_LEN
	    || offset >= size.content_offset) {
		errno = EINVAL;
		return -1;
	}
	while ((n = pread(fd, &ch, 1, offset)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -1;
	if (n == 0 || (ch != REC_TYPE_RCPT && ch != REC_TYPE_DONE)) {
		errno = EINVAL;
		return -1;
	}
	if (ch == REC_TYPE_DONE)
		return 0;
	ch = REC_TYPE_DONE;
	while ((n = pwrite(fd, &ch, 1, offset)) < 0 && errno == EINTR)
		;
	if (n != 1) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

/* Walk the whole file and cross-check the S record against it. */
int
rec_check_file(int fd, VSTR *why)
{
	REC_READER     *r = rec_reader_create(fd, 0);
	VSTR	       *data = vstr_alloc(256);
	struct rec_size want = { 0, 0, 0, 0 };
	struct rec_size got = { 0, 0, 0, 0 };
	int		type;
	int		ret;
	int		saved;

	while ((ret = rec_get(r, &type, data, REC_LEN_MAX)) > 0) {
		switch (type) {
		case REC_TYPE_SIZE:
			(void)rec_size_parse(VSTR_STR(data), VSTR_LEN(data),
					     &want);
			break;
		case REC_TYPE_MESG:
			got.content_offset = rec_reader_offset(r);
			break;
		case REC_TYPE_XTRA:
			got.extract_offset = rec_reader_offset(r);
			break;
		case REC_TYPE_CONT:
		case REC_TYPE_PREPEND:
			got.message_size += (off_t)VSTR_LEN(data);
			break;
		case REC_TYPE_RCPT:
		case REC_TYPE_DONE:
			got.rcpt_count++;
			break;
		}
	}
	if (ret < 0) {
		saved = errno;
		vstr_strcpy(why, rec_reader_why(r));
	} else if (memcmp(&want, &got, sizeof(want)) != 0) {
		saved = EBADMSG;
		vstr_sprintf(why,
			     "size record (%jd %jd %jd %jd) does not "
			     "match the file (%jd %jd %jd %jd)",
			     (intmax_t)want.content_offset,
			     (intmax_t)want.extract_offset,
			     (intmax_t)want.message_size,
			     (intmax_t)want.rcpt_count,
			     (intmax_t)got.content_offset,
			     (intmax_t)got.extract_offset,
			     (intmax_t)got.message_size,
			     (intmax_t)got.rcpt_count);
		ret = -1;
	} else {
		vstr_reset(why);
		saved = 0;
	}
	rec_reader_free(r);
	vstr_free(data);
	errno = saved;
	return ret;
}
