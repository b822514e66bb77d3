/*
 * pass_proto - hand an accepted client connection to a master.cf `pass`
 * service (postscreen -> smtpd, as Postfix's postscreen does).
 *
 * The sender connects to the service's Unix stream socket (e.g.
 * "private/smtpd", relative to queue_directory, or an absolute path),
 * sends the client's descriptor with ipc_send_fds() (one byte 'M' carrying
 * SCM_RIGHTS) and then one attribute frame `info`, and closes its end.
 * The receiver (the skeleton of the pass service, util/skel_single.c)
 * reads exactly that: the descriptor, then the frame; the hand-off
 * connection carries nothing else and is closed by the receiver too.
 * docs/IPC.md describes the bytes.
 *
 * info attributes (all optional strings; readers ignore others):
 *	client_addr, client_port	the client as the sender saw it
 *	server_addr, server_port	the local end it connected to
 *	postscreen			"pass-new" | "pass-old"
 * A pass service uses the address attributes when present, else
 * getpeername()/getsockname() of the descriptor (PROXY protocol senders
 * fill them with what the proxy told them).
 *
 * Errors: both return 0, or -1 with errno and a reason in `why` (may be
 * NULL) naming the step that failed: "connect private/smtpd: Connection
 * refused", "connect private/smtpd: listen queue full", "no descriptor
 * received: ...", "info frame: truncated frame".  Nothing here logs.
 *
 * Timing: pass_send never waits longer than timeout_ms in total (the
 * connect is non-blocking; a full listen queue fails at once with
 * EAGAIN instead of being retried), so an event-driven sender can call it
 * from its loop with a short timeout.  Both take IPC_WAIT_FOREVER (any
 * negative value) for no limit.
 *
 * Ownership: pass_send leaves client_fd open (the caller closes its copy;
 * the client connection lives on in the receiver's copy).  pass_recv
 * leaves conn open; on success *client_fd is a new close-on-exec
 * descriptor in blocking mode (as accept() gives one) that is the
 * caller's, and info holds the frame (reset first);
 * on failure nothing is left open and *client_fd is -1.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_PASS_PROTO_H
#define UTIL_PASS_PROTO_H

#include "util/attr.h"
#include "util/sys_defs.h"
#include "util/vstr.h"

/* Largest info frame payload a receiver accepts. */
#define PASS_INFO_MAX (64 * 1024)

int pass_send(const char *path, int client_fd, const ATTR *info, int timeout_ms,
	      VSTR *why);
int pass_recv(int conn, int *client_fd, ATTR *info, int timeout_ms, VSTR *why);

#endif
