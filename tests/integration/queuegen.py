"""Generate queue files (docs/QUEUE.md) and defer logs in bulk.

Used by test_select.py, test_qshape.py and bench/queue_select.py to build
large queues without running smtpd/cleanup: each message is committed
the way cleanup does (temporary name, then a rename to its queue ID,
whose inode part comes from the file), straight into the folder asked
for.  A message put into deferred/ gets a retry time (mtime) far in the
future, so a running qmgr leaves it alone until someone makes it due.
A delay reason becomes one "delayed" line per recipient in the
message's defer log (util/bounce_client.h), as the bounce daemon writes.

SPDX-License-Identifier: ISC
"""
import os
import time

DIGITS = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
FAR_FUTURE = 4102444800           # 2100-01-01: never due by itself


def _base(value, radix, width=0):
    text = ""
    while value or not text:
        text = DIGITS[value % radix] + text
        value //= radix
    return text.rjust(width, "0")


def queue_id(sec, usec, ino):
    """SSSSSSUUUUzIIII: seconds and microseconds base 52, inode base 51."""
    return _base(sec, 52, 6) + _base(usec, 52, 4) + "z" + _base(ino, 51)


def hash_dir(qid):
    return qid[9]


def record(rtype, payload):
    """One record: type byte, minimal LEB128 length, payload."""
    out = bytearray(rtype.encode())
    n = len(payload)
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + payload


def queue_file_bytes(sender, rcpts, arrival, body):
    envelope = b"".join(
        [record("T", b"%d %d" % (int(arrival), int(arrival % 1 * 1e6))),
         record("F", sender.encode())] +
        [record("R", r.encode()) for r in rcpts])
    head_len = len(record("S", b"0" * 63))
    content = record("M", b"") + record("C", body)
    moff = head_len + len(envelope)
    xoff = moff + len(content)
    sizes = b" ".join(b"%015d" % v for v in (moff, xoff, len(body), len(rcpts)))
    return (record("S", sizes) + envelope + content + record("X", b"") +
            record("E", b""))


def xtext(text):
    if text == "-":
        return "+2D"
    return "".join(c if "!" <= c <= "~" and c not in "+=" else
                   "".join("+%02X" % b for b in c.encode()) for c in text)


class QueueGen:
    """Writes messages into one instance's queue_directory."""

    def __init__(self, queue, owned=True):
        """owned=False: leave files to the user running this (a bench run
        as root with no daemon reading the queue) and skip the retry time."""
        self.queue = queue
        self.owned = owned
        # Queue folders belong to mail_owner (postel set-permissions).
        st = os.stat(os.path.join(queue, "incoming"))
        self.uid, self.gid = st.st_uid, st.st_gid
        self.seq = 0
        self.usec = 0

    def _dir(self, path):
        if not os.path.isdir(path):
            os.makedirs(path, 0o700, exist_ok=True)
            os.chown(path, self.uid, self.gid)
        return path

    def add(self, folder, sender, rcpts, arrival, reason=None,
            body=b"Subject: generated\r\n\r\nhello\r\n"):
        """Commit one message to folder; returns its queue ID."""
        # Distinct microseconds spread the IDs over the 52 hash folders.
        self.usec = (self.usec + 1) % 1000000
        sec = int(arrival)
        arrival = sec + self.usec / 1e6
        hashc = DIGITS[self.usec % 52]
        base = (self._dir(os.path.join(self.queue, folder, hashc))
                if folder == "deferred"
                else self._dir(os.path.join(self.queue, folder)))
        self.seq += 1
        tmp = os.path.join(base, "t%d.%d" % (os.getpid(), self.seq))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, queue_file_bytes(sender, rcpts, arrival, body))
            ino = os.fstat(fd).st_ino
        finally:
            os.close(fd)
        if self.owned:
            os.chown(tmp, self.uid, self.gid)
        qid = queue_id(sec, self.usec, ino)
        assert hash_dir(qid) == hashc
        path = os.path.join(base, qid)
        os.rename(tmp, path)
        if folder == "deferred" and self.owned:
            os.utime(path, (int(time.time()), FAR_FUTURE))
        if reason is not None:
            self.defer_log(qid, rcpts, reason)
        return qid

    def defer_log(self, qid, rcpts, reason):
        d = self._dir(os.path.join(self.queue, "defer", hash_dir(qid)))
        lines = "".join(
            "%d delayed 4.4.1 0 %s - - - - - %s\n"
            % (int(time.time()), xtext(r), xtext(reason)) for r in rcpts)
        path = os.path.join(d, qid)
        with open(path, "a") as f:
            f.write(lines)
        if self.owned:
            os.chown(path, self.uid, self.gid)


def list_queue(queue, folder):
    """Queue IDs in a folder (deferred: every hash folder)."""
    out = set()
    base = os.path.join(queue, folder)
    for root, _dirs, files in os.walk(base):
        out.update(f for f in files if not f.startswith("t"))
    return out


def snapshot(queue):
    """Every queue file: folder/name -> (mode, mtime), for no-change checks."""
    snap = {}
    for folder in ("incoming", "active", "deferred", "hold", "defer"):
        base = os.path.join(queue, folder)
        for root, _dirs, files in os.walk(base):
            for f in files:
                p = os.path.join(root, f)
                st = os.lstat(p)
                snap[os.path.relpath(p, queue)] = (st.st_mode, st.st_mtime_ns,
                                                   st.st_size)
    return snap
