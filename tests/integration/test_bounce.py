# bounce, defer and trace services: per-message logs and RFC 3464
# notifications injected through cleanup; the error, retry and discard
# transports.  Driven by tests/services/bounce_send (util/bounce_client,
# util/deliver_proto) and tests/services/cleanup_send; queue files are
# read with queuefile.py and the DSNs checked with Python's email package.
# SPDX-License-Identifier: ISC
import email
import email.policy
import os
import subprocess

import pytest

from conftest import service_path, wait_for
from queuefile import QueueFile, queue_files

SEND = service_path("cleanup_send")
BOUNCE = service_path("bounce_send")

MSG = (b"Subject: lunch\r\nFrom: <alice@example.org>\r\nTo: bob@remote.test\r\n"
       b"Message-ID: <orig-1@example.org>\r\n"
       b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
       b"\r\nAre you free on Friday?\r\n")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


@pytest.fixture
def bounce(instance, workdir):
    """An instance with postlog, cleanup, bounce/defer/trace, error,
    retry and discard (no qmgr: queue files stay in incoming/)."""
    def start(main=None):
        logfile = os.path.join(workdir, "maillog")
        conf = {"maillog_file": logfile, "myhostname": "mx.example.test",
                "mydomain": "example.test", "myorigin": "example.test",
                "ipc_timeout": "30s"}
        conf.update(main or {})
        instance.write_config(main=conf, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "cleanup unix - - y - 0 cleanup",
            "bounce unix - - y - 0 bounce",
            "defer unix - - y - 0 bounce",
            "trace unix - - y - 0 bounce",
            "error unix - - y - - error",
            "retry unix - - y - - error",
            "discard unix - - y - - discard"])
        instance.start()
        for svc in ("cleanup", "bounce", "defer", "trace", "error", "discard"):
            assert wait_for(lambda: os.path.exists(instance.unix_path(svc)))
        instance.logfile = logfile
        return instance
    return start


def inject(inst, sender="alice@example.org", rcpts=("bob@remote.test",),
           message=MSG, opts=()):
    args = [SEND, "-c", inst.confdir, "-f", sender] + list(opts) + list(rcpts)
    r = subprocess.run(args, input=message, capture_output=True, timeout=30)
    status, qid, _ = r.stdout.decode().split(" ", 2)
    assert status == "0", r.stdout
    return qid


def bsend(inst, *args):
    r = subprocess.run([BOUNCE, "-c", inst.confdir] + list(args),
                       capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode() + r.stderr.decode()


def new_files(inst, known):
    return [f for f in queue_files(inst.queue) if os.path.basename(f) not in known]


def log_path(inst, service, qid):
    for sub in os.listdir(os.path.join(inst.queue, service)):
        p = os.path.join(inst.queue, service, sub, qid)
        if os.path.exists(p):
            return p
    return None


def parse_dsn(qf):
    return email.message_from_bytes(qf.content, policy=email.policy.compat32)


def test_bounce_failed_recipient_gets_rfc3464_dsn(bounce):
    inst = bounce()
    qid = inject(inst, rcpts=("bob@remote.test", "carol@remote.test"),
                 opts=["-O", "rfc822;Bob@Remote.test", "-N", "4"])
    rc, out = bsend(inst, "-r", "mx.remote.test", "-d", "smtp",
                    "-o", "Bob@Remote.test", "-P", "rfc822;Bob@Remote.test",
                    "append", "bounce", qid, "bob@remote.test", "bounced",
                    "5.1.1", "550 5.1.1 <bob@remote.test>: user unknown")
    assert rc == 0, out
    path = log_path(inst, "bounce", qid)
    assert path and "bob@remote.test" in read(path)
    rc, out = bsend(inst, "flush", "bounce", "incoming", qid)
    assert rc == 0, out
    # The log is gone once the notification is committed.
    assert log_path(inst, "bounce", qid) is None
    files = new_files(inst, {qid})
    assert len(files) == 1
    qf = QueueFile(files[0])
    assert qf.sender == ""
    assert qf.rcpt_addrs == ["alice@example.org"]
    msg = parse_dsn(qf)
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg["From"].startswith("MAILER-DAEMON@mx.example.test")
    assert msg["To"] == "alice@example.org"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "message/rfc822"]
    assert "bob@remote.test" in parts[0].get_payload()
    status = parts[1].get_payload()   # [per-message, per-recipient...]
    assert status[0]["Reporting-MTA"] == "dns; mx.example.test"
    assert status[0]["X-Postel-Queue-ID"] == qid
    assert status[0]["Arrival-Date"]
    assert len(status) == 2
    r = status[1]
    assert r["Final-Recipient"] == "rfc822; bob@remote.test"
    assert r["Original-Recipient"] == "rfc822; Bob@Remote.test"
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.1"
    assert r["Remote-MTA"] == "dns; mx.remote.test"
    assert r["Diagnostic-Code"] == "smtp; 550 5.1.1 <bob@remote.test>: user unknown"
    returned = parts[2].get_payload()[0]
    assert returned["Message-ID"] == "<orig-1@example.org>"
    assert "Are you free on Friday?" in returned.get_payload()
    assert wait_for(lambda: "%s: sender non-delivery notification: %s"
                    % (qid, os.path.basename(files[0])) in read(inst.logfile))


def test_bounce_big_message_returns_headers_only(bounce):
    inst = bounce()
    # cleanup_send has no RET option, so exercise the other reason for
    # returning headers only: a message above bounce_size_limit.
    qid = inject(inst, message=MSG + b"Friday!!\r\n" * 100)
    inst.stop()
    inst.write_config(main={"bounce_size_limit": "500"})
    inst.start()
    assert wait_for(lambda: os.path.exists(inst.unix_path("bounce")))
    rc, out = bsend(inst, "append", "bounce", qid, "bob@remote.test",
                    "bounced", "5.0.0", "mail delivery disabled")
    assert rc == 0, out
    rc, out = bsend(inst, "flush", "bounce", "incoming", qid)
    assert rc == 0, out
    msg = parse_dsn(QueueFile(new_files(inst, {qid})[0]))
    parts = msg.get_payload()
    assert parts[2].get_content_type() == "text/rfc822-headers"
    assert "Friday" not in parts[2].get_payload()
    assert "Subject: lunch" in parts[2].get_payload()
    assert parts[1].get_payload()[1]["Diagnostic-Code"] == \
        "x-unix; mail delivery disabled"


def test_bounce_null_sender_failure_bounces_to_nobody(bounce):
    inst = bounce()
    qid = inject(inst, sender="")
    rc, out = bsend(inst, "append", "bounce", qid, "bob@remote.test",
                    "bounced", "5.1.1", "550 no such user")
    assert rc == 0, out
    rc, out = bsend(inst, "flush", "bounce", "incoming", qid)
    assert rc == 0, out
    assert new_files(inst, {qid}) == []
    assert log_path(inst, "bounce", qid) is None
    assert wait_for(lambda: "%s: sender is the null sender: non-delivery "
                    "notification discarded" % qid in read(inst.logfile))


def test_bounce_null_sender_double_bounce_to_postmaster(bounce):
    inst = bounce({"notify_classes": "resource, software, 2bounce"})
    qid = inject(inst, sender="")
    rc, out = bsend(inst, "append", "bounce", qid, "bob@remote.test",
                    "bounced", "5.1.1", "550 no such user")
    assert rc == 0, out
    rc, out = bsend(inst, "flush", "bounce", "incoming", qid)
    assert rc == 0, out
    files = new_files(inst, {qid})
    assert len(files) == 1
    qf = QueueFile(files[0])
    assert qf.sender == "double-bounce@example.test"
    assert qf.rcpt_addrs[0].startswith("postmaster")
    assert parse_dsn(qf).get_payload()[2].get_content_type() == \
        "text/rfc822-headers"
    # A failure of that double bounce is dropped, never sent again.
    qid2 = os.path.basename(files[0])
    rc, out = bsend(inst, "append", "bounce", qid2, qf.rcpt_addrs[0],
                    "bounced", "5.1.1", "550 no postmaster")
    assert rc == 0, out
    rc, out = bsend(inst, "flush", "bounce", "incoming", qid2)
    assert rc == 0, out
    assert new_files(inst, {qid, qid2}) == []


def test_bounce_delay_warning_keeps_defer_log(bounce):
    inst = bounce()
    qid = inject(inst)
    for reply in ("connect to mx.remote.test[192.0.2.1]:25: Connection refused",
                  "451 4.7.1 greylisted"):
        rc, out = bsend(inst, "-r", "mx.remote.test", "-d", "smtp",
                        "append", "defer", qid, "bob@remote.test",
                        "deferred", "4.7.1", reply)
        assert rc == 0, out
    rc, out = bsend(inst, "flush", "delay", "incoming", qid)
    assert rc == 0, out
    assert log_path(inst, "defer", qid) is not None
    msg = parse_dsn(QueueFile(new_files(inst, {qid})[0]))
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    recip = msg.get_payload()[1].get_payload()[1]
    assert recip["Action"] == "delayed"
    assert recip["Status"] == "4.7.1"
    # Only the latest reason per recipient is reported.
    assert recip["Diagnostic-Code"] == "smtp; 451 4.7.1 greylisted"
    assert recip["Will-Retry-Until"]


def mark_done(inst, qid, addr):
    """Flip a recipient record from R to D, as qmgr does."""
    path = os.path.join(inst.queue, "incoming", qid)
    with open(path, "r+b") as f:
        raw = f.read()
        rec = b"R" + bytes([len(addr)]) + addr.encode()
        at = raw.index(rec)
        f.seek(at)
        f.write(b"D")


def test_bounce_delay_warning_leaves_out_done_recipients(bounce):
    inst = bounce()
    qid = inject(inst, rcpts=("bob@remote.test", "carol@remote.test"))
    for rcpt in ("bob@remote.test", "carol@remote.test"):
        rc, out = bsend(inst, "append", "defer", qid, rcpt, "deferred",
                        "4.4.1", "connection timed out")
        assert rc == 0, out
    mark_done(inst, qid, "bob@remote.test")
    rc, out = bsend(inst, "flush", "delay", "incoming", qid)
    assert rc == 0, out
    msg = parse_dsn(QueueFile(new_files(inst, {qid})[0]))
    recips = msg.get_payload()[1].get_payload()[1:]
    assert [r["Final-Recipient"] for r in recips] == ["rfc822; carol@remote.test"]


def test_bounce_success_notice_for_notify_success(bounce):
    inst = bounce()
    qid = inject(inst, opts=["-N", "2"])
    rc, out = bsend(inst, "-N", "2", "-r", "mx.remote.test",
                    "append", "trace", qid, "bob@remote.test", "sent",
                    "2.0.0", "250 2.0.0 Ok: queued as X")
    assert rc == 0, out
    rc, out = bsend(inst, "flush", "trace", "incoming", qid)
    assert rc == 0, out
    msg = parse_dsn(QueueFile(new_files(inst, {qid})[0]))
    assert msg["Subject"] == "Successful Mail Delivery Report"
    recip = msg.get_payload()[1].get_payload()[1]
    assert recip["Action"] == "relayed"
    assert recip["Status"] == "2.0.0"
    assert log_path(inst, "trace", qid) is None


def test_bounce_notify_never_suppresses_dsn(bounce):
    inst = bounce()
    qid = inject(inst)
    rc, out = bsend(inst, "-N", "1", "append", "bounce", qid,
                    "bob@remote.test", "bounced", "5.1.1", "550 no")
    assert rc == 0, out
    rc, out = bsend(inst, "flush", "bounce", "incoming", qid)
    assert rc == 0, out
    assert new_files(inst, {qid}) == []


def test_bounce_flush_of_missing_queue_file_fails_and_keeps_log(bounce):
    inst = bounce()
    qid = inject(inst)
    rc, out = bsend(inst, "append", "bounce", qid, "bob@remote.test",
                    "bounced", "5.1.1", "550 no")
    assert rc == 0, out
    rc, out = bsend(inst, "flush", "bounce", "active", qid)
    assert rc == 1 and "error:" in out
    assert log_path(inst, "bounce", qid) is not None


def test_error_transport_bounces_with_nexthop_text(bounce):
    inst = bounce()
    rc, out = bsend(inst, "deliver", "error", "3Q9BXk7zR4",
                    "5.1.1 mailbox unavailable", "alice@example.org",
                    "bob@remote.test", "carol@remote.test")
    assert rc == 0, out
    assert out.splitlines() == ["bounced 5.1.1 mailbox unavailable"] * 2
    assert wait_for(lambda: "to=<bob@remote.test>, relay=none" in read(inst.logfile))
    log = read(inst.logfile)
    assert "dsn=5.1.1, status=bounced (mailbox unavailable)" in log


def test_retry_transport_defers(bounce):
    inst = bounce()
    rc, out = bsend(inst, "deliver", "retry", "3Q9BXk7zR4",
                    "4.3.2 try again later", "alice@example.org",
                    "bob@remote.test")
    assert rc == 0, out
    assert out.splitlines() == ["deferred 4.3.2 try again later"]
    assert wait_for(lambda: "status=deferred (try again later)" in read(inst.logfile))


def test_discard_transport_reports_sent(bounce):
    inst = bounce()
    rc, out = bsend(inst, "deliver", "discard", "3Q9BXk7zR4",
                    "spam trap", "alice@example.org", "bob@remote.test")
    assert rc == 0, out
    assert out.splitlines() == ["sent 2.0.0 discarded: spam trap"]
    assert wait_for(lambda: "dsn=2.0.0, status=sent (discarded: spam trap)"
                    in read(inst.logfile))
