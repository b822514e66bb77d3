/*
 * ipc - sockets, timed I/O and attribute frames between Postel processes.
 *
 * Internal services listen on Unix-domain stream sockets under private/
 * and public/ (DESIGN.md section 4).  A request and its reply are each one
 * attribute frame (util/attr.h).  A trigger is a single byte written to a
 * service's socket (or fifo) with no reply; the IPC_TRIGGER_* bytes below
 * are the ones services understand (docs/IPC.md).
 *
 * Timeouts are in milliseconds and bound the whole operation, not each
 * system call: IPC_WAIT_FOREVER (any negative value) waits without limit,
 * 0 never blocks (fails with ETIMEDOUT if the operation cannot complete
 * at once).  Descriptors may be blocking or non-blocking: every wait is a
 * poll() and short reads/writes, EINTR and EAGAIN are handled here.
 * Sockets are read and written with MSG_DONTWAIT, so even a blocking
 * socket never waits past the deadline; a blocking pipe or fifo can (a
 * large write waits for room), so make those non-blocking when the
 * timeout matters.
 *
 * Errors: every function returns -1 (or NULL) with errno set: ETIMEDOUT
 * for an expired timeout, EPIPE/ECONNRESET for a vanished peer, EMSGSIZE
 * for a frame above the cap, EPROTO for a malformed frame.  A clean end of
 * file before the first byte of a frame gives errno 0 and why "connection
 * closed"; one in the middle of a frame gives EPROTO and why "truncated
 * frame".  Functions taking a `why` VSTR (may be NULL) also put a reason
 * there.  Nothing here logs or exits (but allocation failures die), and
 * a socket write never raises SIGPIPE (MSG_NOSIGNAL; a pipe write can).
 *
 * Ownership: returned descriptors and IPC_STREAMs are the caller's.
 * Listening and connected sockets are close-on-exec; ipc_accept() returns
 * close-on-exec descriptors too.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_IPC_H
#define UTIL_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/attr.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

#define IPC_WAIT_FOREVER (-1)

/*
 * A deadline for a sequence of calls sharing one timeout_ms (-1: none),
 * and the timeout left of it for the next call (0 once it has passed).
 */
long long ipc_deadline(int timeout_ms);
int	  ipc_left_ms(long long deadline);

/* One-byte trigger requests (as Postfix's qmgr/pickup/flush triggers). */
#define IPC_TRIGGER_WAKEUP	  'W' /* something new: look (pickup, qmgr) */
#define IPC_TRIGGER_SCAN_INCOMING 'I' /* qmgr: scan incoming/ now */
#define IPC_TRIGGER_SCAN_DEFERRED 'D' /* qmgr: scan deferred/ now */
#define IPC_TRIGGER_SCAN_ALL	  'A' /* qmgr: ignore backoff times */
#define IPC_TRIGGER_FLUSH_DEAD	  'F' /* qmgr: forget dead destinations */

/*
 * Sockets.  ipc_listen_unix() removes a stale socket or a symlink at path
 * (but refuses, EEXIST, when something else is there), binds with the
 * final mode set by the umask (no window with a looser mode, no chmod by
 * path; the mode cannot carry bits above 0777) and listens.
 * ipc_listen_inet() takes a numeric IPv4/IPv6 address or a host name
 * ("[::1]" brackets allowed), or NULL/"" / "all" for every address
 * (dual-stack "::" when IPv6 works, else 0.0.0.0), and a port number or
 * service name; it sets SO_REUSEADDR.
 */
int ipc_listen_unix(const char *path, int mode, int backlog);
int ipc_connect_unix(const char *path, int timeout_ms);
int ipc_listen_inet(const char *host, const char *port, int backlog);
/*
 * Resolve host and port (a number or service name) and connect to each
 * address in turn until one answers, all within the one timeout (no
 * address is tried once it is up).  The descriptor returned is
 * non-blocking and close-on-exec.  -1 with errno ETIMEDOUT when the time
 * ran out waiting for an address, else the last address's connect error;
 * when the name does not resolve, EHOSTUNREACH (or the system's errno
 * for EAI_SYSTEM) and *gai_error (may be NULL) the getaddrinfo() code for
 * gai_strerror(); *gai_error is 0 otherwise.
 */
int ipc_connect_inet(const char *host, const char *port, int timeout_ms,
		     int *gai_error);
/* accept(), retrying EINTR/ECONNABORTED; close-on-exec; fd or -1. */
int ipc_accept(int listen_fd);

/*
 * One-shot frames on a descriptor that carries nothing else buffered.
 * ipc_recv reads exactly one frame and never a byte past it (it reads the
 * short length prefix a byte at a time), so the descriptor can be handed
 * on afterwards; use an IPC_STREAM for many frames.  max bounds the frame
 * payload (0 = ATTR_FRAME_MAX; never above it).
 */
int ipc_send(int fd, const ATTR *a, int timeout_ms);
int ipc_recv(int fd, ATTR *a, size_t max, int timeout_ms, VSTR *why);
/* Connect, send req, receive one reply, close.  0 / -1 + errno + why. */
int ipc_call(const char *path, const ATTR *req, ATTR *reply, int timeout_ms,
	     VSTR *why);
/* Write one byte to a Unix stream socket or a fifo; no reply.  0 / -1. */
int ipc_trigger(const char *path, int byte, int timeout_ms);

int fd_set_nonblock(int fd, bool on);
int fd_set_cloexec(int fd, bool on);
/*
 * Loop until len bytes moved.  write_full returns len or -1 (errno, e.g.
 * ETIMEDOUT, EPIPE); read_full returns len, or fewer at end of file
 * (0 = EOF before any byte), or -1.
 */
ssize_t write_full(int fd, const void *buf, size_t len, int timeout_ms);
ssize_t read_full(int fd, void *buf, size_t len, int timeout_ms);

/*
 * A buffered frame stream over one connection carrying many frames in
 * each direction.  Reads are large (IPC_STREAM_BUFSIZE) and bytes that
 * arrive after one frame stay buffered for the next; the memory held is
 * bounded by the frame cap plus the buffer.  The stream owns fd from
 * ipc_stream_open() on and closes it in ipc_stream_close() (returns NULL).
 */
typedef struct IPC_STREAM IPC_STREAM;

#define IPC_STREAM_BUFSIZE (64 * 1024)

IPC_STREAM *ipc_stream_open(int fd);
IPC_STREAM *ipc_stream_close(IPC_STREAM *st);
int	    ipc_stream_fd(const IPC_STREAM *st);
/* Frame payload cap for receiving (0 = ATTR_FRAME_MAX). */
void ipc_stream_set_max(IPC_STREAM *st, size_t max);
/* Encode and write one frame fully (one write for the whole frame). */
int ipc_stream_send(IPC_STREAM *st, const ATTR *a, int timeout_ms);
/* Read one frame, waiting up to timeout_ms.  0 / -1 (see errors above). */
int ipc_stream_recv(IPC_STREAM *st, ATTR *a, int timeout_ms, VSTR *why);

/*
 * Event-loop use (non-blocking fd): when the fd is readable call
 * ipc_stream_fill() once, then ipc_stream_next() until it returns 0.
 * ipc_stream_fill: bytes read (> 0), 0 at end of file, -1 (EAGAIN when
 * nothing was there).  ipc_stream_next: 1 a frame was decoded into a,
 * 0 more bytes are needed, -1 malformed or oversized (the stream is then
 * unusable: close it).  ipc_stream_buffered() tells whether undecoded
 * bytes are waiting (after a frame, check before sleeping).
 */
ssize_t ipc_stream_fill(IPC_STREAM *st);
int	ipc_stream_next(IPC_STREAM *st, ATTR *a, VSTR *why);
size_t	ipc_stream_buffered(const IPC_STREAM *st);

/*
 * Pass descriptors over a Unix stream socket (SCM_RIGHTS) with one byte
 * 'M'; the receiver reads exactly that byte, so frames that follow stay
 * on the socket (use the stream's fd with nothing buffered).  At most
 * IPC_FDS_MAX.  Received descriptors are close-on-exec and the
 * receiver's.  0 / -1 (EPROTO: no or wrong byte, truncated control).
 */
#define IPC_FDS_MAX 16
int ipc_send_fds(int fd, const int *fds, size_t n, int timeout_ms);
int ipc_recv_fds(int fd, int *fds, size_t max, size_t *n, int timeout_ms);

#endif
