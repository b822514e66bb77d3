/*
 * rec - the queue file record stream.
 *
 * A queue file is a sequence of records: one type byte, the payload length
 * as a minimal unsigned LEB128 varint (1 to 4 bytes, so at most 2^28 - 1),
 * and the payload.  The layout is fixed (docs/QUEUE.md has the full table):
 *
 *	S			size record, always first, fixed width
 *	T F [V] [K] A*		arrival time, sender, ENVID, RET, attributes
 *	([O] [P] [N] R|D)*	per recipient: original address, ORCPT,
 *				NOTIFY, then the address ('D' once done)
 *	M C*			content marker, then content chunks
 *	X (I|A|H)*		extracted-information marker, Message-ID,
 *				attrs, header fields to prepend
 *	E			end; nothing may follow
 *
 * T, F and the section markers occur exactly once.  Envelope and extracted
 * payloads never contain NUL bytes (readers use them as C strings); content
 * chunks carry any byte.  An H payload is one complete header field as it
 * is delivered (CRLF line ends, folded lines start with SP or HTAB, final
 * CRLF included); at delivery the H fields come before the first content
 * byte, first H record topmost.  They live after X because cleanup learns
 * them only once the content is written (DKIM, SPF, DMARC results).  The
 * S message size counts C and H payloads: the size as delivered.  The S payload is ASCII, fixed width, so cleanup
 * can write a placeholder and pwrite the real values at commit; the type
 * byte of a recipient record is overwritten in place ('R' -> 'D') by the
 * queue manager so a crash never repeats delivered recipients.
 *
 * Writer: rec_writer_create() buffers a placeholder S record; rec_put*
 * append through a 64 KiB buffer (large writes); the writer tracks the
 * content offsets, sizes and recipient count itself; rec_writer_finish()
 * appends E, flushes and rewrites S in place.  The caller fsyncs.  I/O
 * errors are sticky: after one, every call returns -1 with that errno, so a
 * caller may check only rec_writer_finish().  Out-of-layout puts are bugs
 * and panic.
 *
 * Reader: rec_get() returns 1 (one record), 0 (clean EOF after E) or -1:
 * errno EBADMSG for a malformed file (rec_reader_why() says why: bad type,
 * bad length, length past the bound, truncated, record out of layout) or
 * the errno of a failed read.  It reads with pread from its own offset, so
 * the fd's file position is not used.  It never crashes on any input.
 *
 * Content reader: rec_content_create(fd, content_offset) reads the S record
 * (content_offset, from S earlier, is cross-checked unless it is -1);
 * rec_content_get() then yields the message as delivered, one piece per
 * call: every H record in file order, then every C chunk.  It returns 1
 * (one piece, *type says H or C), 0 (end of content) or -1 as rec_get
 * does, rec_content_why() saying why.  This is the only way content is
 * read: nobody walks C records by hand.
 *
 * rec_prepend_ok(data, len): 0 when data is a well-formed H payload, -1
 * when not; cleanup checks a field with it before writing it.
 *
 * rec_mark_done(fd, offset) turns the recipient record at offset (from
 * rec_writer_last_offset or rec_reader_offset) from 'R' into 'D' with a
 * one-byte pwrite, only within the envelope of a committed file; it does
 * not fsync.  0, or -1 with errno (EINVAL: not a recipient record).
 *
 * Ownership: REC_WRITER / REC_READER belong to the caller and are freed by
 * rec_writer_free / rec_reader_free (they do not close the fd);
 * rec_reader_why() is borrowed until the next rec_get().  REC_CONTENT is the
 * caller's too (rec_content_free; the fd stays open).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_REC_H
#define UTIL_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/vstr.h"

/* Record types; docs/QUEUE.md describes each payload. */
#define REC_TYPE_SIZE	 'S' /* content/extract offsets, size, nrcpt */
#define REC_TYPE_TIME	 'T' /* arrival time "sec usec" */
#define REC_TYPE_FROM	 'F' /* envelope sender, empty for <> */
#define REC_TYPE_ENVID	 'V' /* DSN ENVID, xtext-decoded */
#define REC_TYPE_RET	 'K' /* DSN RET: "FULL" or "HDRS" */
#define REC_TYPE_ATTR	 'A' /* name=value */
#define REC_TYPE_ORIG	 'O' /* original recipient before rewriting */
#define REC_TYPE_ORCPT	 'P' /* DSN ORCPT "type;address" */
#define REC_TYPE_NOTIFY	 'N' /* DSN NOTIFY bits, decimal */
#define REC_TYPE_RCPT	 'R' /* recipient still to deliver */
#define REC_TYPE_DONE	 'D' /* recipient done (was 'R') */
#define REC_TYPE_MESG	 'M' /* start of content, empty */
#define REC_TYPE_CONT	 'C' /* content bytes, any */
#define REC_TYPE_XTRA	 'X' /* start of extracted information, empty */
#define REC_TYPE_MSGID	 'I' /* Message-ID header value */
#define REC_TYPE_PREPEND 'H' /* header field delivered above the content */
#define REC_TYPE_END	 'E' /* end of file, empty */

#define REC_LEN_MAX		((1U << 28) - 1) /* 4 varint bytes */
#define REC_CONT_CHUNK		(64 * 1024) /* content record size used by writer */
#define REC_SIZE_FIELDS		4
#define REC_SIZE_WIDTH		15 /* digits per S field */
#define REC_SIZE_LEN		(REC_SIZE_FIELDS * (REC_SIZE_WIDTH + 1) - 1)
#define REC_SIZE_PAYLOAD_OFFSET 2 /* 'S' + one varint byte */

/* DSN NOTIFY bits (RFC 3461); 0 means "not given". */
#define REC_NOTIFY_NEVER   (1 << 0)
#define REC_NOTIFY_SUCCESS (1 << 1)
#define REC_NOTIFY_FAILURE (1 << 2)
#define REC_NOTIFY_DELAY   (1 << 3)

/* The values of the S record. */
struct rec_size {
	off_t content_offset; /* offset of the M record */
	off_t extract_offset; /* offset of the X record */
	off_t message_size;   /* sum of C and H payload lengths */
	off_t rcpt_count;     /* R plus D records */
};

typedef struct REC_WRITER  REC_WRITER;
typedef struct REC_READER  REC_READER;
typedef struct REC_CONTENT REC_CONTENT;

REC_WRITER *rec_writer_create(int fd);
REC_WRITER *rec_writer_free(REC_WRITER *w);
int	    rec_put(REC_WRITER *w, int type, const void *data, size_t len);
int	    rec_putf(REC_WRITER *w, int type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int   rec_put_content(REC_WRITER *w, const void *data, size_t len);
int   rec_flush(REC_WRITER *w);
int   rec_writer_finish(REC_WRITER *w);
off_t rec_writer_last_offset(const REC_WRITER *w);
void  rec_writer_size(const REC_WRITER *w, struct rec_size *size);

/*
 * From now on hand every content byte put to fn(ctx, ...) as well, in
 * the pieces the caller put (NULL: stop): cleanup's DKIM signer sees
 * exactly what the file will hold.
 */
typedef void (*REC_TAP_FN)(void *ctx, const void *data, size_t len);
void rec_writer_tap(REC_WRITER *w, REC_TAP_FN fn, void *ctx);

REC_READER *rec_reader_create(int fd, off_t offset);
REC_READER *rec_reader_free(REC_READER *r);
int	    rec_get(REC_READER *r, int *type, VSTR *data, size_t maxlen);
off_t	    rec_reader_offset(const REC_READER *r);
const char *rec_reader_why(const REC_READER *r);
int	    rec_reader_seek(REC_READER *r, off_t offset, int type);

REC_CONTENT *rec_content_create(int fd, off_t content_offset);
REC_CONTENT *rec_content_free(REC_CONTENT *c);
int rec_content_get(REC_CONTENT *c, int *type, VSTR *data, size_t maxlen);
const char *rec_content_why(const REC_CONTENT *c);

int	    rec_prepend_ok(const char *data, size_t len);
int	    rec_mark_done(int fd, off_t offset);
int	    rec_size_format(VSTR *out, const struct rec_size *size);
int	    rec_size_parse(const char *data, size_t len, struct rec_size *size);
int	    rec_check_file(int fd, VSTR *why);
const char *rec_type_name(int type);

#endif
