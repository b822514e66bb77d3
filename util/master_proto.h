/*
 * master_proto - the contract between master and the services it spawns.
 *
 * Descriptors a child inherits (docs/MASTER.md has the full story):
 *   MASTER_LISTEN_FD (3)	the service's endpoint: a listening stream
 *				socket (inet, unix), a datagram socket
 *				(unix-dgram) or a FIFO opened read-write;
 *   MASTER_STATUS_FD (4)	the child's end of the service's status
 *				channel, a SOCK_SEQPACKET socketpair;
 *   MASTER_XLISTEN_FD (5..)	further listeners of the same service when
 *				master passes "-s N" with N > 1 (an inet
 *				service bound to several addresses).
 *
 * Status channel: each record is one packet holding a struct master_status
 * (the child's pid and MASTER_STAT_TAKEN or MASTER_STAT_AVAIL), so records
 * never interleave.  Master owns the other end; when master exits, dies, or
 * retires the service's children (reload, service removed or changed) it
 * closes that end and every child sees end-of-file on fd 4: it finishes the
 * client at hand and exits.  Nothing else travels on the channel.
 *
 * Child argv: <command> -c CONFDIR -n SERVICE -t TYPE [-s NLISTEN] [-C]
 * [-P] [-l] [-v]... [-o name=value]... [-- extra args from master.cf].
 * -C: chroot=y in master.cf; -P: unpriv=n (the child keeps root); -l: copy
 * log lines to standard error (master runs in the foreground).
 *
 * Pid file: queue_directory/pid/master.pid holds master's pid and carries
 * an exclusive fcntl() write lock for master's whole life, so a stale file
 * never fools anyone: "running" means "the lock is held".
 *
 * Errors: functions return 0 / -1 with errno, except where noted.  Nothing
 * here allocates except master_pid_path's VSTR growth.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MASTER_PROTO_H
#define UTIL_MASTER_PROTO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/sys_defs.h"
#include "util/vstr.h"

#define MASTER_LISTEN_FD  3
#define MASTER_STATUS_FD  4
#define MASTER_XLISTEN_FD 5
#define MASTER_MAX_LISTEN 64 /* listeners per service */

#define MASTER_STAT_TAKEN 1 /* busy with a client */
#define MASTER_STAT_AVAIL 2 /* ready for another */

/* The one-byte requests of trigger services. */
#define MASTER_TRIG_WAKEUP 'W' /* timer: look for work */

struct master_status {
	int32_t pid;
	int32_t status; /* MASTER_STAT_* */
};

/* Master side: fds[0] master's end (nonblocking), fds[1] the children's. */
int master_status_pair(int fds[2]);

/* Child side: send one record; EPIPE when master has gone. */
int master_status_send(int fd, int status);

/*
 * Master side: read one record.  1 and the record, 0 at end-of-file, -1
 * with errno (EAGAIN when nothing is pending, EPROTO for a short record).
 */
int master_status_recv(int fd, struct master_status *rec);

/* Child side: true when master has closed its end (never blocks). */
bool master_status_gone(int fd);

/*
 * $process_id_directory/master.pid into `path`; a relative pid_dir (the
 * default "pid") is taken under queue_dir.
 */
void master_pid_path(const char *queue_dir, const char *pid_dir, VSTR *path);

/*
 * Master side: open, lock and fill the pid file; returns the open
 * descriptor (keep it for the process's life).  -1 with errno EAGAIN and
 * *holder set when another process holds the lock, or another errno.
 */
int master_pid_lock(const char *path, pid_t *holder);

/* The pid holding the lock, 0 when nobody does (or no file), -1 error. */
pid_t master_pid_check(const char *path);

#endif
