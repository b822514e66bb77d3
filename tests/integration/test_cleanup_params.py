# cleanup parameters that change what is queued, driven through a real
# instance (smtpd + cleanup) with smtplib: automatic BCC, MIME-aware
# header checks, the percent hack and bang paths, canonical_classes.
# Queue files are read with queuefile.py.
# SPDX-License-Identifier: ISC
import os
import smtplib

import pytest

from conftest import free_port, wait_for
from queuefile import QueueFile

NOTIFY_NEVER = 1      # REC_NOTIFY_NEVER


class Site:
    """smtpd on 127.0.0.1 and cleanup; no qmgr, so files stay in incoming/."""

    def __init__(self, instance, workdir, main=None, files=None):
        self.workdir = workdir
        for name, text in (files or {}).items():
            with open(os.path.join(workdir, name), "w") as f:
                f.write(text)
        self.port = free_port()
        self.maillog = os.path.join(workdir, "maillog")
        settings = {
            "myhostname": "mx.example.test",
            "mydomain": "example.test",
            "mydestination": "mx.example.test, example.test",
            "local_recipient_maps": "",
            "relay_domains": "remote.test",
            "maillog_file": self.maillog,
            "smtpd_error_sleep_time": "0",
        }
        settings.update(main or {})
        instance.write_config(main=settings, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "127.0.0.1:%d inet n - n - - smtpd" % self.port,
            "cleanup unix - - n - 0 cleanup",
        ])
        instance.start()
        self.queue = instance.queue

    def path(self, name):
        return os.path.join(self.workdir, name)

    def send(self, sender, rcpts, msg):
        """One message with smtplib; returns (code, text) of the DATA reply."""
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        try:
            s.ehlo("client.test")
            code, text = s.mail(sender)
            assert code == 250, text
            for r in rcpts:
                code, text = s.rcpt(r)
                assert code == 250, (r, text)
            code, text = s.data(msg)
            return code, text.decode()
        finally:
            try:
                s.quit()
            except smtplib.SMTPException:
                pass

    def queued(self, reply):
        code, text = reply
        assert code == 250, reply
        qid = text.rsplit(" ", 1)[1]
        path = os.path.join(self.queue, "incoming", qid)
        assert os.path.exists(path), reply
        return QueueFile(path)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


@pytest.fixture
def site(instance, workdir):
    return lambda main=None, files=None: Site(instance, workdir, main, files)


MSG = (b"From: a@client.test\r\nTo: r@example.test\r\nSubject: hello\r\n"
       b"\r\nplain text\r\n")


def rcpt(q, addr):
    found = [r for r in q.recipients if r["addr"] == addr]
    assert len(found) == 1, q.recipients
    return found[0]


# --- always_bcc, sender_bcc_maps, recipient_bcc_maps -----------------------


def test_bcc_always_sender_and_recipient_copies_without_dsn(site):
    s = site(main={
        "always_bcc": "archive@example.test",
        "sender_bcc_maps": "inline:{ boss@client.test=boss-copy@remote.test, "
                           "@other.test=domain-copy@remote.test }",
        "recipient_bcc_maps": "inline:{ alice@example.test=alice-copy, "
                              "bob@example.test=archive@example.test }",
    })
    q = s.queued(s.send("boss@client.test",
                        ["alice@example.test", "bob@example.test"], MSG))
    # unqualified table results are qualified like envelope addresses;
    # the second archive@ (from bob's entry) is a duplicate and dropped
    assert sorted(q.rcpt_addrs) == sorted([
        "alice@example.test", "bob@example.test",
        "boss-copy@remote.test", "archive@example.test",
        "alice-copy@mx.example.test"])
    for a in ("boss-copy@remote.test", "archive@example.test",
              "alice-copy@mx.example.test"):
        assert rcpt(q, a)["notify"] == NOTIFY_NEVER
    for a in ("alice@example.test", "bob@example.test"):
        assert rcpt(q, a)["notify"] != NOTIFY_NEVER
    # the header says nothing about the copies
    assert b"archive" not in q.content and b"copy" not in q.content

    # sender_bcc_maps: @domain entry, no recipient_bcc match
    q = s.queued(s.send("someone@other.test", ["carol@example.test"], MSG))
    assert sorted(q.rcpt_addrs) == sorted([
        "carol@example.test", "domain-copy@remote.test",
        "archive@example.test"])

    # the null sender gets no sender BCC, always_bcc still applies
    q = s.queued(s.send("<>", ["carol@example.test"], MSG))
    assert sorted(q.rcpt_addrs) == ["archive@example.test",
                                    "carol@example.test"]


def test_bcc_recipient_that_is_also_a_real_recipient_keeps_its_dsn(site):
    s = site(main={"always_bcc": "alice@example.test"})
    q = s.queued(s.send("x@client.test", ["alice@example.test"], MSG))
    assert q.rcpt_addrs == ["alice@example.test"]
    assert rcpt(q, "alice@example.test")["notify"] != NOTIFY_NEVER

