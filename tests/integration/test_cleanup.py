# cleanup: envelope + content in, a durable queue file out.  Driven by
# tests/services/cleanup_send (util/cleanup_client); queue files are read
# with queuefile.py.
# SPDX-License-Identifier: ISC
import os
import pwd
import signal
import subprocess
import time

import pytest

from conftest import procs_mentioning, service_path, wait_for
from queuefile import QueueFile, queue_files

SEND = service_path("cleanup_send")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


@pytest.fixture
def cleanup(instance, workdir):
    """Start an instance with postlog + cleanup; returns a helper."""
    def start(main=None, files=None):
        for name, text in (files or {}).items():
            with open(os.path.join(workdir, name), "w") as f:
                f.write(text)
        logfile = os.path.join(workdir, "maillog")
        conf = {"maillog_file": logfile, "myhostname": "mx.example.test",
                "mydomain": "example.test", "ipc_timeout": "30s"}
        conf.update(main or {})
        instance.write_config(main=conf, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "cleanup unix - - y - 0 cleanup"])
        instance.start()
        assert wait_for(lambda: os.path.exists(instance.unix_path("cleanup")))
        instance.logfile = logfile
        return instance
    return start


def send(inst, message, rcpts, sender="s@example.org", opts=(), timeout=30):
    args = [SEND, "-c", inst.confdir, "-f", sender] + list(opts) + list(rcpts)
    r = subprocess.run(args, input=message, capture_output=True, timeout=timeout)
    line = r.stdout.decode().strip().splitlines()[-1] if r.stdout else ""
    status, qid, reply = (line.split(" ", 2) + ["", "", ""])[:3]
    return int(status) if status else None, qid, reply, r


def smtp_opts():
    return ["-C", "client.example.org", "-A", "192.0.2.7", "-H", "helo.example.org",
            "-P", "ESMTP"]


MSG = (b"Subject: test\r\nFrom: <s@example.org>\r\nTo: r@example.test\r\n"
       b"Message-ID: <abc@example.org>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
       b"\r\nbody line 1\r\n.leading dot\r\nlast\r\n")


def only_file(inst, folder="incoming"):
    files = queue_files(inst.queue, folder)
    assert len(files) == 1, files
    return QueueFile(files[0])


def test_cleanup_queues_envelope_and_content_byte_exact(cleanup):
    inst = cleanup()
    status, qid, reply, r = send(inst, MSG, ["r@example.test"], opts=smtp_opts())
    assert status == 0, r.stderr
    assert reply == "250 2.0.0 Ok: queued as %s" % qid
    path = os.path.join(inst.queue, "incoming", qid)
    st = os.stat(path)
    assert st.st_mode & 0o777 == 0o600
    if os.geteuid() == 0:
        assert st.st_uid == pwd.getpwnam("postel").pw_uid
    q = QueueFile(path)
    assert q.sender == "s@example.org"
    assert q.rcpt_addrs == ["r@example.test"]
    assert q.recipients[0]["orig"] == "r@example.test"
    assert q.attrs["client_address"] == "192.0.2.7"
    assert q.attrs["helo_name"] == "helo.example.org"
    assert q.message_id == "<abc@example.org>"
    # Received first, then the message exactly as sent
    assert q.content.startswith(b"Received: from helo.example.org "
                                b"(client.example.org [192.0.2.7])\r\n"
                                b"\tby mx.example.test (Postel) with ESMTP id "
                                + qid.encode() + b"\r\n\tfor <r@example.test>; ")
    assert q.content.endswith(b"\r\n" + MSG)
    # nothing but the queue file in incoming/
    assert os.listdir(os.path.join(inst.queue, "incoming")) == [qid]
    assert wait_for(lambda: "%s: message-id=<abc@example.org>" % qid
                    in read(inst.logfile))


def test_cleanup_adds_missing_headers_for_local_submission(cleanup):
    inst = cleanup()
    msg = b"Subject: local\r\nBcc: hidden@example.net\r\nReturn-Path: <x@y>\r\n\r\nhi\r\n"
    status, qid, reply, r = send(inst, msg, ["r@example.test"], sender="alice",
                                 opts=["-u", "1000", "-l"])
    assert status == 0, (reply, r.stderr)
    q = only_file(inst)
    assert q.sender == "alice@mx.example.test"   # myorigin = myhostname
    assert q.header("Received").startswith(
        "by mx.example.test (Postel, from userid 1000)\r\n\tid " + qid)
    mid = q.header("Message-ID")
    assert mid.startswith("<") and mid.endswith("." + qid + "@mx.example.test>")
    assert q.message_id == mid
    assert q.header("Date")
    assert q.header("From") == "alice@mx.example.test"
    assert q.header("Return-Path") is None
    assert q.header("Bcc") == "hidden@example.net"   # kept without -t


def test_cleanup_smtp_message_without_headers_gets_none_by_default(cleanup):
    inst = cleanup()
    status, qid, reply, r = send(inst, b"Subject: bare\r\n\r\nx\r\n",
                                 ["r@example.test"], opts=smtp_opts())
    assert status == 0, reply
    q = only_file(inst)
    assert q.header("Message-ID") is None and q.header("Date") is None
    assert q.header("From") is None


def test_cleanup_extract_recipients_and_strip_bcc(cleanup):
    inst = cleanup()
    msg = (b"From: alice\r\nTo: Bob <bob@example.test>, carol\r\n"
           b"Cc: dave@example.net\r\nBcc: eve@example.net\r\n\r\nbody\r\n")
    status, qid, reply, r = send(inst, msg, [], sender="alice",
                                 opts=["-l", "-F", "1", "-u", "1000"])
    assert status == 0, reply
    q = only_file(inst)
    assert sorted(q.rcpt_addrs) == sorted([
        "bob@example.test", "carol@mx.example.test", "dave@example.net",
        "eve@example.net"])
    assert q.header("Bcc") is None
    # header addresses of local clients are qualified
    assert q.header("To") == "Bob <bob@example.test>, carol@mx.example.test"
    assert q.header("From") == "alice@mx.example.test"


def test_cleanup_rewriting_canonical_masquerade_virtual(cleanup, workdir):
    files = {"canonical": "/^old@example\\.test$/ new@example.test\n",
             "virtual": "/^list@example\\.test$/ a@example.net, b@example.net\n"
                        "/^loop1@example\\.test$/ loop2@example.test\n"
                        "/^loop2@example\\.test$/ loop1@example.test\n"}
    inst = cleanup(main={
        "canonical_maps": "regexp:" + os.path.join(workdir, "canonical"),
        "virtual_alias_maps": "regexp:" + os.path.join(workdir, "virtual"),
        "masquerade_domains": "example.org",
    }, files=files)
    status, qid, reply, r = send(inst, MSG, ["list@example.test", "old@example.test"],
                                 sender="s@host.example.org", opts=smtp_opts())
    assert status == 0, reply
    q = only_file(inst)
    assert q.sender == "s@example.org"
    assert [(x["orig"], x["addr"]) for x in q.recipients] == [
        ("list@example.test", "a@example.net"),
        ("list@example.test", "b@example.net"),
        ("old@example.test", "new@example.test")]
    status, qid, reply, r = send(inst, MSG, ["loop1@example.test"], opts=smtp_opts())
    assert status == 1 and reply == "451 4.6.0 Alias expansion error"
    assert len(queue_files(inst.queue)) == 1


HEADER_CHECKS = """/^Subject: reject me/ REJECT go away
/^Subject: hold me/ HOLD held for review
/^Subject: discard me/ DISCARD
/^X-Drop:/ IGNORE
/^X-Old: (.*)/ REPLACE X-New: $1
/^Subject: warn me/ WARN looked odd
"""


def test_cleanup_header_checks_actions(cleanup, workdir):
    inst = cleanup(main={"header_checks": "regexp:" + os.path.join(workdir, "hc")},
                   files={"hc": HEADER_CHECKS})
    base = b"From: s@example.org\r\nX-Drop: yes\r\nX-Old: value\r\n"

    status, qid, reply, r = send(inst, base + b"Subject: reject me\r\n\r\nb\r\n",
                                 ["r@example.test"], opts=smtp_opts())
    assert (status, reply) == (2, "550 5.7.1 go away")
    assert queue_files(inst.queue) == []
    assert wait_for(lambda: "reject: header Subject: reject me from "
                    "client.example.org[192.0.2.7]; from=<s@example.org> "
                    "to=<r@example.test> proto=ESMTP helo=<helo.example.org>: "
                    "5.7.1 go away" in read(inst.logfile)), read(inst.logfile)

    status, qid, reply, r = send(inst, base + b"Subject: discard me\r\n\r\nb\r\n",
                                 ["r@example.test"], opts=smtp_opts())
    assert status == 3 and reply.startswith("250 ")
    assert queue_files(inst.queue) == []

    status, qid, reply, r = send(inst, base + b"Subject: hold me\r\n\r\nb\r\n",
                                 ["r@example.test"], opts=smtp_opts())
    assert status == 0
    assert queue_files(inst.queue) == []
    q = only_file(inst, "hold")
    assert q.header("X-Drop") is None
    assert q.header("X-New") == "value" and q.header("X-Old") is None

    status, qid, reply, r = send(inst, base + b"Subject: warn me\r\n\r\nb\r\n",
                                 ["r@example.test"], opts=smtp_opts())
    assert status == 0
    assert wait_for(lambda: "%s: warning: header Subject: warn me" % qid
                    in read(inst.logfile))


def test_cleanup_body_checks_reject(cleanup, workdir):
    inst = cleanup(main={"body_checks": "regexp:" + os.path.join(workdir, "bc")},
                   files={"bc": "/^bad words$/ REJECT body refused\n"})
    status, qid, reply, r = send(inst, b"Subject: x\r\n\r\nfine\r\nbad words\r\n",
                                 ["r@example.test"], opts=smtp_opts())
    assert (status, reply) == (2, "550 5.7.1 body refused")
    assert queue_files(inst.queue) == []


def test_cleanup_body_checks_ignore_replace_prepend_rewrite_lines(cleanup, workdir):
    rules = ("/^secret/ IGNORE\n"
             "/^old (.*)/ REPLACE new $1\n"
             "/^note/ PREPEND X-Flag: seen\n"
             "/^long/ REPLACE long line cut\n")
    inst = cleanup(main={"body_checks": "regexp:" + os.path.join(workdir, "bc")},
                   files={"bc": rules})
    long_line = b"long" + b"z" * 20000 + b"\r\n"
    body = (b"keep 1\r\nsecret stuff\r\nold value\r\nnote this\r\n"
            + long_line + b"keep 2\r\n")
    status, qid, reply, r = send(inst, b"Subject: x\r\n\r\n" + body,
                                 ["r@example.test"], opts=smtp_opts())
    assert status == 0, reply
    q = only_file(inst)
    assert q.content.endswith(b"\r\n\r\nkeep 1\r\nnew value\r\n"
                              b"X-Flag: seen\r\nnote this\r\n"
                              b"long line cut\r\nkeep 2\r\n")


def test_cleanup_limits(cleanup):
    inst = cleanup(main={"message_size_limit": "20000", "hopcount_limit": "3"})
    big = b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n"
    status, qid, reply, r = send(inst, big * 30, ["r@example.test"], opts=smtp_opts())
    assert (status, reply) == (2, "552 5.3.4 Message size exceeds fixed limit")
    hops = b"Received: a\r\nReceived: b\r\nDelivered-To: c\r\n\r\nx\r\n"
    status, qid, reply, r = send(inst, hops, ["r@example.test"], opts=smtp_opts())
    assert (status, reply) == (2, "554 5.4.6 too many hops")
    assert queue_files(inst.queue) == []


def test_cleanup_large_message_in_large_records(cleanup):
    inst = cleanup()
    body = b"".join(b"line %06d abcdefghijklmnopqrstuvwxyz\r\n" % i
                    for i in range(30000))
    status, qid, reply, r = send(inst, b"Subject: big\r\n\r\n" + body,
                                 ["r@example.test"], opts=smtp_opts())
    assert status == 0, reply
    q = only_file(inst)
    assert q.content.endswith(b"\r\n\r\n" + body)
    assert max(len(p) for t, p in q.records if t == "C") == 65536


def test_cleanup_kill_during_content_leaves_no_queue_file(cleanup, workdir):
    inst = cleanup()
    msgfile = os.path.join(workdir, "msg")
    with open(msgfile, "wb") as f:
        f.write(b"Subject: k\r\n\r\n" + (b"y" * 998 + b"\r\n") * 1000)
    with open(msgfile, "rb") as stdin:
        p = subprocess.Popen([SEND, "-c", inst.confdir, "-f", "s@example.org",
                              "-p", "600000", "-s", "3", "r@example.test"],
                             stdin=stdin, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline().strip() == b"paused"
        incoming = os.path.join(inst.queue, "incoming")
        assert wait_for(lambda: os.listdir(incoming))
        victims = []
        for pid in procs_mentioning(inst.confdir):
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            if argv and os.path.basename(argv[0]) == b"cleanup":
                victims.append(pid)
        assert victims
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert b"451 4.3.0" in out, (out, err)
    names = os.listdir(incoming)
    # a temporary (not a queue ID) may stay until the start-up sweep
    assert names and all(n.startswith("t") and "." in n for n in names), names


def test_cleanup_start_up_removes_only_stale_temporaries(cleanup):
    inst = cleanup()
    incoming = os.path.join(inst.queue, "incoming")
    old = os.path.join(incoming, "t99999.1")
    young = os.path.join(incoming, "t99999.2")
    for path in (old, young):
        with open(path, "w") as f:
            f.write("partial")
    past = time.time() - 7200
    os.utime(old, (past, past))
    # cleanup processes start on demand: a message makes one
    inst.stop()
    inst.start()
    assert wait_for(lambda: os.path.exists(inst.unix_path("cleanup")))
    status, qid, reply, r = send(inst, MSG, ["r@example.test"], opts=smtp_opts())
    assert status == 0, reply
    assert not os.path.exists(old)
    assert os.path.exists(young)
    assert wait_for(lambda: "removed stale temporary file incoming/t99999.1"
                    in read(inst.logfile))
