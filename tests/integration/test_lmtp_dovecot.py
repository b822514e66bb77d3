"""LMTP delivery through the smtp client in LMTP mode (master.cf service
"lmtp"): first into an aiosmtpd LMTP server on a unix socket
(per-recipient replies after DATA, connection reuse), then into a real
Dovecot LMTP server (Debian dovecot-core + dovecot-lmtpd, started once for
the module by tests/integration/dovecot_peer.py) the ways a Dovecot site
hands mail over: transport_maps, mailbox_transport = lmtp:unix:...,
lmtp:inet:..., fallback_transport, local_transport and virtual_transport;
with a recipient over its Dovecot quota next to one that is not.

SPDX-License-Identifier: ISC
"""
import asyncio
import os
import re
import smtplib
import shutil
import tempfile
import threading

import pytest

from conftest import free_port, wait_for, wait_smtp
from dovecot_peer import Dovecot
from tlscerts import CA

pytestmark = pytest.mark.needs("aiosmtpd")

BODY = (b"From: a@example.org\r\nSubject: lmtp\r\nMessage-ID: <l1@example.org>\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nhello lmtp\r\n")


def start_mta(instance, port, nexthop):
    instance.write_config(main={
        "myhostname": "mx.test.invalid", "mydestination": "",
        "relay_domains": "lmtp.test",
        "transport_maps": "inline:{ lmtp.test=lmtp:%s }" % nexthop,
        "minimal_backoff_time": "300s", "queue_run_delay": "300s"},
        services=[
            "127.0.0.1:%d inet n - y - - smtpd" % port,
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "lmtp unix - - n - 1 smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
    instance.start(foreground=True)

    wait_smtp(instance, port)


class LmtpSink:
    """aiosmtpd LMTP on a unix socket; local parts full* get 552 after DATA."""

    def __init__(self, path):
        from aiosmtpd.lmtp import LMTP
        self.path = path
        self.messages = []
        self.connections = 0
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.messages.append((envelope.mail_from,
                                      list(envelope.rcpt_tos),
                                      envelope.content))
                return "\r\n".join(
                    "552 5.2.2 <%s> Quota exceeded" % r
                    if r.startswith("full") else "250 2.0.0 <%s> Saved" % r
                    for r in envelope.rcpt_tos)

        class CountingLMTP(LMTP):
            def connection_made(self, transport):
                sink.connections += 1
                super().connection_made(transport)

        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(
            self.loop.create_unix_server(lambda: CountingLMTP(Handler()),
                                         path=path))
        os.chmod(path, 0o666)
        self.thread = threading.Thread(target=self.loop.run_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_lmtp_unix_nexthop_per_recipient_replies(instance, workdir):
    os.chmod(workdir, 0o755)
    path = os.path.join(workdir, "lmtp.sock")
    sink = LmtpSink(path)
    try:
        port = free_port()
        start_mta(instance, port, "unix:" + path)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("s@example.org", ["ok@lmtp.test", "full@lmtp.test"],
                       BODY)
        log = instance.read_log
        rx = re.compile(r"to=<ok@lmtp\.test>, relay=%s\[unix\].*status=sent"
                        % re.escape(path))
        assert wait_for(lambda: rx.search(log()), 20), log()
        rx = re.compile(r"to=<full@lmtp\.test>.*dsn=5\.2\.2, status=bounced")
        assert wait_for(lambda: rx.search(log()), 20), log()
        assert sink.messages[0][1] == ["ok@lmtp.test", "full@lmtp.test"]
        # A second message reuses the cached LMTP session.
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("s@example.org", ["ok2@lmtp.test"], BODY)
        rx = re.compile(r"to=<ok2@lmtp\.test>.*status=sent")
        assert wait_for(lambda: rx.search(log()), 20), log()
        # Reuse lives as long as qmgr keeps its transport connection;
        # across qmgr connections a new LMTP session may be opened.
        assert 1 <= sink.connections <= 2, log()
    finally:
        sink.stop()


# ---------------------------------------------------------------------------
# A real Dovecot, once for the module: LMTP on a unix socket and on a
# 127.0.0.1 port; tiny's quota is 1 KiB.

DOVECOT_USERS = {"alice": ("x", None), "bob": ("x", None),
                 "carol": ("x", None), "dave": ("x", None),
                 "tiny": ("x", "1")}


@pytest.fixture(scope="module")
def dovecot():
    from conftest import require
    require("root", "dovecot", "dovecot_lmtp", "useradd", "openssl")
    folder = tempfile.mkdtemp(prefix="postel-dovecot-")
    os.chmod(folder, 0o755)
    d = None
    try:
        # STARTTLS offered with a certificate for "localhost" from a test
        # CA; clients that do not ask for TLS deliver in plain text.
        ca = CA(os.path.join(folder, "ca"))
        key, cert, _ = ca.issue("lmtp", ["localhost"])
        d = Dovecot(os.path.join(folder, "dovecot"), DOVECOT_USERS,
                    lmtp_socket=os.path.join(folder, "dovecot", "lmtp.sock"),
                    lmtp_port=free_port(), ssl=(key, cert))
        d.ca = ca
        yield d
    finally:
        if d is not None:
            d.stop()
        shutil.rmtree(folder, ignore_errors=True)


def start_site(instance, dovecot, main):
    """smtpd, qmgr, local and the lmtp client; queue/private/dovecot-lmtp
    leads to Dovecot's LMTP socket, as on a Debian Dovecot site where
    Dovecot's listener sits in Postfix's queue."""
    port = free_port()
    settings = {"myhostname": "mx.test", "mydomain": "test",
                "mydestination": "mx.test", "local_recipient_maps": "",
                "alias_maps": "",
                "minimal_backoff_time": "300s", "queue_run_delay": "300s"}
    settings.update(main)
    instance.write_config(main=settings, services=[
        "127.0.0.1:%d inet n - y - - smtpd" % port,
        "qmgr unix n - n 300 1 qmgr",
        "cleanup unix n - n - 0 cleanup",
        "local unix - n n - - local",
        "lmtp unix - - n - - smtp",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
    ])
    instance.set_permissions()
    os.symlink(dovecot.lmtp_socket, instance.unix_path("dovecot-lmtp"))
    instance.start(foreground=True)
    wait_smtp(instance, port)
    return port


def message(token, size=0):
    return (b"From: sender@example.org\r\nSubject: " + token.encode()
            + b"\r\nMessage-ID: <" + token.encode() + b"@example.org>\r\n"
            b"\r\nhello " + token.encode() + b"\r\n"
            + b"x" * size + (b"\r\n" if size else b""))


def in_maildir(dovecot, user, token):
    return any(token.encode() in m for m in dovecot.maildir_messages(user))


def sent_line(instance, rcpt):
    rx = re.compile(r"to=<%s>.*status=sent.*" % re.escape(rcpt))
    found = wait_for(lambda: rx.search(instance.read_log()), 30)
    assert found, instance.read_log()
    return found.group(0)


def test_lmtp_mailbox_transport_unix_into_dovecot_maildir(instance, dovecot):
    port = start_site(instance, dovecot, {
        "mailbox_transport": "lmtp:unix:private/dovecot-lmtp"})
    token = "mbt-%s" % os.urandom(4).hex()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("sender@example.org", ["alice@mx.test"], message(token))
    line = sent_line(instance, "alice@mx.test")
    assert "private/dovecot-lmtp" in line, line
    assert wait_for(lambda: in_maildir(dovecot, "alice", token), 10)
    # Dovecot indexes it: doveadm sees the message too.
    assert token in dovecot.fetch("alice", "hdr", "SUBJECT", token)


def test_lmtp_mailbox_transport_inet_into_dovecot(instance, dovecot):
    port = start_site(instance, dovecot, {
        "mailbox_transport": "lmtp:inet:127.0.0.1:%d" % dovecot.lmtp_port})
    token = "inet-%s" % os.urandom(4).hex()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("sender@example.org", ["bob@mx.test"], message(token))
    line = sent_line(instance, "bob@mx.test")
    assert "relay=127.0.0.1[127.0.0.1]:%d" % dovecot.lmtp_port in line, line
    assert wait_for(lambda: in_maildir(dovecot, "bob", token), 10)


def test_lmtp_fallback_transport_takes_unknown_users(instance, dovecot):
    # carol has no system account: local hands her to fallback_transport.
    port = start_site(instance, dovecot, {
        "fallback_transport": "lmtp:unix:private/dovecot-lmtp"})
    token = "fb-%s" % os.urandom(4).hex()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("sender@example.org", ["carol@mx.test"], message(token))
    sent_line(instance, "carol@mx.test")
    assert wait_for(lambda: in_maildir(dovecot, "carol", token), 10)


def test_lmtp_local_transport_quota_bounces_one_delivers_other(instance,
                                                                dovecot):
    # Both recipients in one LMTP transaction; Dovecot answers each after
    # DATA: dave's copy is saved, tiny's is over quota (552 5.2.2).
    port = start_site(instance, dovecot, {
        "local_transport": "lmtp:unix:private/dovecot-lmtp"})
    token = "quota-%s" % os.urandom(4).hex()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("dave@mx.test", ["dave@mx.test", "tiny@mx.test"],
                   message(token, 6000))
    log = instance.read_log
    rx = re.compile(r"to=<tiny@mx\.test>.*dsn=5\.2\.2, status=bounced "
                    r"\(.*Quota exceeded \(mailbox for user is full\)")
    assert wait_for(lambda: rx.search(log()), 30), log()
    sent_line(instance, "dave@mx.test")
    assert wait_for(lambda: in_maildir(dovecot, "dave", token), 10)
    assert not in_maildir(dovecot, "tiny", token)
    # The DSN goes back to dave through LMTP as well, with Dovecot's text.
    assert wait_for(lambda: any(
        b"Undelivered Mail" in m and b"Quota exceeded" in m
        and token.encode() in m
        for m in dovecot.maildir_messages("dave")), 30), log()


def test_lmtp_virtual_transport_into_dovecot(instance, dovecot):
    port = start_site(instance, dovecot, {
        "virtual_mailbox_domains": "virt.test",
        "virtual_mailbox_maps": "inline:{ bob@virt.test=bob/ }",
        "virtual_transport": "lmtp:unix:private/dovecot-lmtp"})
    token = "virt-%s" % os.urandom(4).hex()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("sender@example.org", ["bob@virt.test"], message(token))
        # Not in virtual_mailbox_maps: refused at RCPT, never reaches LMTP.
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            s.sendmail("sender@example.org", ["nobody@virt.test"],
                       message(token))
    sent_line(instance, "bob@virt.test")
    assert wait_for(lambda: in_maildir(dovecot, "bob", token), 10)


def test_lmtp_into_dovecot_fetch_and_bounces(instance, workdir, dovecot):
    # transport_maps to Dovecot's socket by absolute path.
    port = free_port()
    start_mta(instance, port, "unix:" + dovecot.lmtp_socket)
    big = BODY + b"x" * 4000 + b"\r\n"
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("alice@lmtp.test", ["alice@lmtp.test"], BODY)
        s.sendmail("alice@lmtp.test", ["tiny@lmtp.test",
                                       "nobody-here@lmtp.test"], big)
    log = instance.read_log
    rx = re.compile(r"to=<alice@lmtp\.test>.*status=sent")
    assert wait_for(lambda: rx.search(log()), 20), log()
    rx = re.compile(r"to=<tiny@lmtp\.test>.*dsn=5\.2\.2, status=bounced")
    assert wait_for(lambda: rx.search(log()), 20), log()
    rx = re.compile(r"to=<nobody-here@lmtp\.test>.*dsn=5\.1\.1, "
                    r"status=bounced")
    assert wait_for(lambda: rx.search(log()), 20), log()

    def fetch():
        return dovecot.fetch("alice", "text", "ALL")

    # The message, then the bounce for tiny and nobody-here, both
    # delivered back to alice (the sender) through LMTP.
    assert wait_for(lambda: "hello lmtp" in fetch()
                    and "Undelivered Mail" in fetch()
                    and "nobody-here@lmtp.test" in fetch(), 30), \
        fetch() + log()
    out = fetch()
    assert "tiny@lmtp.test" in out and "nobody-here@lmtp.test" in out


def test_lmtp_starttls_encrypt_into_dovecot(instance, dovecot):
    # lmtp_tls_security_level, not smtp_tls_security_level, rules the LMTP
    # client: encrypt over the unix socket (no name to verify there).
    port = start_site(instance, dovecot, {
        "mailbox_transport": "lmtp:unix:private/dovecot-lmtp",
        "smtp_tls_security_level": "none",
        "lmtp_tls_security_level": "encrypt",
        "lmtp_tls_loglevel": "1"})
    token = "tls-%s" % os.urandom(4).hex()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("sender@example.org", ["alice@mx.test"], message(token))
    sent_line(instance, "alice@mx.test")
    log = instance.read_log()
    assert re.search(r"TLS connection established to "
                     r"private/dovecot-lmtp\[unix\]", log), log
    assert wait_for(lambda: in_maildir(dovecot, "alice", token), 10)


def test_lmtp_starttls_verify_against_test_ca(instance, dovecot):
    port = start_site(instance, dovecot, {
        "mailbox_transport": "lmtp:inet:localhost:%d" % dovecot.lmtp_port,
        "lmtp_host_lookup": "native",
        "lmtp_tls_security_level": "verify",
        "lmtp_tls_CAfile": dovecot.ca.cert,
        "lmtp_tls_loglevel": "1"})
    token = "verify-%s" % os.urandom(4).hex()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("sender@example.org", ["bob@mx.test"], message(token))
    sent_line(instance, "bob@mx.test")
    log = instance.read_log()
    assert re.search(r"Verified TLS connection established to "
                     r"localhost\[127\.0\.0\.1\]:%d" % dovecot.lmtp_port,
                     log), log
    assert wait_for(lambda: in_maildir(dovecot, "bob", token), 10)


def test_lmtp_starttls_verify_fails_without_the_ca(instance, dovecot):
    # The same without lmtp_tls_CAfile: not verified, so deferred.  The
    # smtp_ twin given the CA does not count for LMTP.
    port = start_site(instance, dovecot, {
        "mailbox_transport": "lmtp:inet:localhost:%d" % dovecot.lmtp_port,
        "lmtp_host_lookup": "native",
        "lmtp_tls_security_level": "verify",
        "smtp_tls_CAfile": dovecot.ca.cert})
    token = "noca-%s" % os.urandom(4).hex()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("sender@example.org", ["carol@mx.test"], message(token))
    rx = re.compile(r"to=<carol@mx\.test>.*status=deferred.*"
                    r"Server certificate not verified")
    assert wait_for(lambda: rx.search(instance.read_log()), 30), \
        instance.read_log()
    assert not in_maildir(dovecot, "carol", token)
