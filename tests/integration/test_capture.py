"""capture(8): with default_transport and relay_transport = capture,
mail for other domains is kept in capture_directory (a Maildir) with its
envelope on top, mail for this host is still delivered locally, and the
SMTP sink that is the next hop receives nothing; postelcat reads the
captured message.  A capture_directory that cannot be written defers the
mail (nothing is lost).

SPDX-License-Identifier: ISC
"""
import os
import pwd
import smtplib
import subprocess

import pytest

from conftest import ContentSink, bin_path, free_port, run_cmd, wait_for
from mail_peers import (delivery_line, relay_services, smtp_answers,
                        smtp_sink)

pytestmark = [pytest.mark.needs("aiosmtpd"), pytest.mark.needs("root")]

SMTPD_ADDR = "127.0.3.1"
SINK_ADDR = "127.0.3.2"
HOST = "mx.capture.test"


@pytest.fixture(scope="module")
def sink():
    """The next hop that mail would go to without capture."""
    with smtp_sink(ContentSink(), SINK_ADDR) as handler:
        yield handler


class Capture:
    def __init__(self, instance, workdir, sink):
        self.inst = instance
        self.workdir = workdir
        self.sink = sink
        self.port = free_port(SMTPD_ADDR)
        # A parent that does not exist yet: capture makes it.
        self.dir = os.path.join(workdir, "data", "capture")
        self.out = os.path.join(workdir, "out")
        os.makedirs(self.out)
        os.chmod(self.out, 0o1777)
        self.aliases = os.path.join(workdir, "aliases")

    def config(self, **main):
        with open(self.aliases, "w") as f:
            f.write("keeper: %s/local.mbox\n" % self.out)
        r = run_cmd(["postelalias", "-c", self.inst.confdir,
                     "hash:" + self.aliases])
        assert r.returncode == 0, r.stderr
        cfg = {"myhostname": HOST, "mydestination": "$myhostname",
               "mynetworks": "127.0.0.0/8",
               "alias_maps": "hash:" + self.aliases,
               "alias_database": "hash:" + self.aliases,
               "relayhost": "[%s]:%d" % (SINK_ADDR, self.sink.port),
               "default_transport": "capture",
               "relay_transport": "capture",
               "capture_directory": self.dir,
               "minimal_backoff_time": "300s", "queue_run_delay": "300s",
               "maillog_file": ""}
        cfg.update(main)
        self.inst.write_config(main=cfg, services=relay_services(
            SMTPD_ADDR, self.port, "capture unix - n n - - capture"))

    def start(self, **main):
        self.config(**main)
        self.inst.start(foreground=True)
        assert smtp_answers(SMTPD_ADDR, self.port), self.inst.read_log()

    def send(self, rcpts, subject, sender="alice@origin.test"):
        body = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n"
                "Message-ID: <%s@origin.test>\r\n\r\nhello %s\r\n"
                % (sender, ", ".join(rcpts), subject, subject, subject))
        with smtplib.SMTP(SMTPD_ADDR, self.port, timeout=10) as s:
            assert s.sendmail(sender, rcpts, body) == {}

    def log(self):
        return self.inst.read_log()

    def wait_status(self, rcpt, status="sent"):
        line = delivery_line(self.log, rcpt, status)
        assert line, self.log()
        return line

    def captured(self):
        new = os.path.join(self.dir, "new")
        if not os.path.isdir(new):
            return []
        return [os.path.join(new, f) for f in sorted(os.listdir(new))]


@pytest.fixture
def capture(instance, workdir, sink):
    return Capture(instance, workdir, sink)


def envelope(path):
    """(Return-Path value, [X-Original-To values]) from the top lines."""
    sender, rcpts = None, []
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"Return-Path: "):
                sender = line[13:].strip().decode()
            elif line.startswith(b"X-Original-To: "):
                rcpts.append(line[15:].strip().decode())
            else:
                break
    return sender, rcpts


def test_capture_keeps_remote_mail_delivers_local_and_sends_nothing(
        capture, sink):
    sink.messages.clear()
    capture.start()
    remote = ["bob@remote-one.test", "carol@remote-two.test"]
    local = "keeper@" + HOST
    capture.send(remote + [local], "c1")
    for r in remote:
        line = capture.wait_status(r)
        assert "relay=capture" in line and "dsn=2.0.0" in line, line
    capture.wait_status(local)
    # Local mail went to its mailbox as before.
    assert b"hello c1" in open(os.path.join(capture.out, "local.mbox"),
                               "rb").read()
    # The remote recipients are in the capture Maildir, with the envelope.
    files = capture.captured()
    assert files, capture.log()
    seen = []
    for path in files:
        sender, rcpts = envelope(path)
        assert sender == "<alice@origin.test>"
        seen += rcpts
        data = open(path, "rb").read()
        assert b"Subject: c1\n" in data and b"\nhello c1\n" in data
        assert b"\r" not in data
    assert sorted(seen) == sorted(remote)
    assert local not in seen
    # Written as mail_owner, in a private folder; nothing half-written.
    owner = pwd.getpwnam("postel").pw_uid
    st = os.stat(capture.dir)
    assert st.st_uid == owner and st.st_mode & 0o777 == 0o700
    assert all(os.stat(p).st_uid == owner for p in files)
    assert os.listdir(os.path.join(capture.dir, "tmp")) == []
    # Nothing left the host.
    assert sink.messages == []

    # postelcat shows the captured message: envelope and content.
    r = subprocess.run([bin_path("postelcat"), files[0]],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "*** ENVELOPE RECORDS %s ***" % files[0] in out
    assert "sender: alice@origin.test\n" in out
    for rcpt in envelope(files[0])[1]:
        assert "recipient: %s\n" % rcpt in out
    assert "*** MESSAGE CONTENTS" in out and "Subject: c1\n" in out
    r = subprocess.run([bin_path("postelcat"), "-b", files[0]],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.splitlines()[1] == "hello c1", r.stdout

    # The same set-up without capture does send to the sink: it really is
    # where the mail would have gone.
    capture.config(default_transport="smtp", relay_transport="smtp")
    capture.inst.reload()
    capture.send(["dave@remote-one.test"], "c2")
    line = capture.wait_status("dave@remote-one.test")
    assert "relay=%s" % SINK_ADDR in line, line
    assert wait_for(lambda: len(sink.messages) == 1, 10)
    assert b"hello c2" in sink.messages[0]
    assert len(capture.captured()) == len(files)


def test_capture_directory_unwritable_defers_and_keeps_the_mail(
        capture, sink):
    sink.messages.clear()
    # A plain file where the Maildir should be: nothing can be written.
    os.makedirs(os.path.dirname(capture.dir))
    with open(capture.dir, "w") as f:
        f.write("not a folder\n")
    capture.start()
    capture.send(["erin@remote-one.test"], "c3")
    line = capture.wait_status("erin@remote-one.test", "deferred")
    assert "dsn=4.3.0" in line and "cannot capture" in line, line
    r = run_cmd(["postelqueue", "-c", capture.inst.confdir, "-p"])
    assert "erin@remote-one.test" in r.stdout, r.stdout
    assert sink.messages == []
