"""LMTP delivery through the smtp client in LMTP mode (master.cf service
"lmtp") to unix: next hops: first into an aiosmtpd LMTP server on a unix
socket (per-recipient replies after DATA, connection reuse), then into a
real Dovecot LMTP server that the test starts with its own config
(Debian dovecot-core + dovecot-lmtpd; skipped when not installed).

SPDX-License-Identifier: ISC
"""
import asyncio
import os
import pwd
import re
import secrets
import smtplib
import subprocess
import threading
import time

import pytest

from conftest import free_port, wait_for, wait_smtp

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


DOVECOT_CONF = """
base_dir = %(w)s/run
state_dir = %(w)s/state
log_path = %(w)s/dovecot.log
protocols = lmtp
auth_username_format = %%n
ssl = no
first_valid_uid = %(uid)d
last_valid_uid = %(uid)d
mail_location = maildir:~/Maildir
mail_plugins = quota
passdb {
  driver = passwd-file
  args = %(w)s/users
}
userdb {
  driver = passwd-file
  args = %(w)s/users
}
service lmtp {
  unix_listener %(w)s/lmtp.sock {
    mode = 0666
  }
}
service anvil {
  chroot =
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
plugin {
  quota = maildir:User quota
}
"""


@pytest.mark.needs("dovecot", "dovecot_lmtp", "useradd")
@pytest.mark.skipif(os.geteuid() != 0, reason="dovecot's users need root")
def test_lmtp_into_dovecot_fetch_and_bounces(instance, workdir):
    os.chmod(workdir, 0o755)
    w = os.path.join(workdir, "dovecot")
    os.makedirs(w)
    name = "pd%s" % secrets.token_hex(3)
    subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-U", name],
                   check=True, capture_output=True)
    proc = None
    try:
        pw = pwd.getpwnam(name)
        homes = os.path.join(w, "homes")
        os.makedirs(homes)
        for u in ("alice", "tiny"):
            os.makedirs(os.path.join(homes, u))
            os.chown(os.path.join(homes, u), pw.pw_uid, pw.pw_gid)
        with open(os.path.join(w, "users"), "w") as f:
            f.write("alice:{PLAIN}x:%d:%d::%s/alice::\n"
                    % (pw.pw_uid, pw.pw_gid, homes))
            f.write("tiny:{PLAIN}x:%d:%d::%s/tiny::"
                    "userdb_quota_rule=*:storage=1\n"
                    % (pw.pw_uid, pw.pw_gid, homes))
        conf = os.path.join(w, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(DOVECOT_CONF % {"w": w, "uid": pw.pw_uid})
        proc = subprocess.Popen(["dovecot", "-F", "-c", conf],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        sock = os.path.join(w, "lmtp.sock")
        assert wait_for(lambda: os.path.exists(sock), 10), \
            proc.stderr.read1(4096) if proc.poll() is not None else "no socket"
        port = free_port()
        start_mta(instance, port, "unix:" + sock)
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
            r = subprocess.run(["doveadm", "-c", conf, "fetch", "-u",
                                "alice", "text", "ALL"],
                               capture_output=True, timeout=20)
            return r.stdout.decode(errors="replace")

        # The message, then the bounce for tiny and nobody-here, both
        # delivered back to alice (the sender) through LMTP.
        assert wait_for(lambda: "hello lmtp" in fetch()
                        and "Undelivered Mail" in fetch(), 30), \
            fetch() + log()
        out = fetch()
        assert "tiny@lmtp.test" in out and "nobody-here@lmtp.test" in out
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        subprocess.run(["userdel", "-f", name], capture_output=True)
