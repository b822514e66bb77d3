# master.cf `pass` services: smtpd behind a descriptor hand-off, as
# Postfix's postscreen hands clients to smtpd.  The instance has no inet
# smtpd at all; the test plays postscreen: it accepts the client's TCP
# connection itself on a loopback port, connects to QUEUE/private/smtpd
# and sends the accepted socket (socket.send_fds, the one byte "M"
# carrying it) followed by one attribute frame of info (docs/IPC.md).
# The client then talks SMTP with smtpd through the very connection it
# opened, and the mail is relayed to an aiosmtpd sink.
# SPDX-License-Identifier: ISC
import os
import re
import signal
import smtplib
import socket
import threading

import pytest

from conftest import (ContentSink, close_listener, free_port, maillog,
                      missing_module, proc_alive, run_cmd, wait_for)

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None

pytestmark = pytest.mark.needs("aiosmtpd")


def netstring(data):
    return b"%d:%s," % (len(data), data)


def frame(info):
    """One attribute frame (util/attr.h) holding info (str -> str)."""
    payload = b"".join(netstring(k.encode()) + netstring(v.encode())
                       for k, v in info.items())
    return netstring(payload)


@pytest.fixture(scope="module")
def sink():
    handler = ContentSink()
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    handler.port = port
    yield handler
    ctl.stop()


class PolicyServer:
    """A check_policy_service peer that records each request's attributes
    and answers DUNNO (how the test sees server_address/server_port)."""

    def __init__(self):
        self.requests = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                buf = b""
                try:
                    while True:
                        while b"\n\n" not in buf:
                            chunk = conn.recv(4096)
                            if not chunk:
                                raise EOFError
                            buf += chunk
                        req, buf = buf.split(b"\n\n", 1)
                        self.requests.append(dict(
                            line.decode().split("=", 1)
                            for line in req.split(b"\n") if b"=" in line))
                        conn.sendall(b"action=DUNNO\n\n")
                except (EOFError, OSError):
                    pass

    def close(self):
        close_listener(self.sock)
        self.thread.join(timeout=10)


class PassMta:
    """A started instance whose smtpd is only a `pass` service."""

    def __init__(self, instance, workdir, sink, chroot="n", maxproc="-",
                 smtpd_args="", main=None):
        self.instance = instance
        self.maillog = os.path.join(workdir, "maillog")
        instance.maillog = self.maillog
        settings = {
            "myhostname": "mx.pass.test",
            "mydomain": "pass.test",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "local_recipient_maps": "",
            "relayhost": "[127.0.0.1]:%d" % sink.port,
            "maillog_file": self.maillog,
            "smtpd_error_sleep_time": "0",
            "smtp_connect_timeout": "5s",
        }
        settings.update(main or {})
        self.entry = "smtpd pass - - %s - %s smtpd%s" % (
            chroot, maxproc, " " + smtpd_args if smtpd_args else "")
        instance.write_config(main=settings, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            self.entry,
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
        # Foreground: the daemons' stderr (sanitizer reports with make
        # SAN=1) lands in master.log, which close() checks.
        instance.start(foreground=True)
        self.path = instance.unix_path("smtpd")
        # The front door: the test accepts clients here itself.
        self.front = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.front.bind(("127.0.0.1", 0))
        self.front.listen(16)
        self.front.settimeout(10)
        self.front_port = self.front.getsockname()[1]
        sink.messages.clear()

    def close(self):
        close_listener(self.front)
        log = self.instance.read_log()
        assert "AddressSanitizer" not in log, log
        assert "runtime error:" not in log, log

    def hand_off_socket(self):
        """A connection to the pass service, once master listens there."""
        def attempt():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            try:
                s.connect(self.path)
                return s
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                return None
        s = wait_for(attempt, timeout=10)
        assert s, "nothing listens on %s\n%s" % (self.path, self.log())
        return s

    def connect(self, info=None, source="127.0.0.1"):
        """Open a client connection, accept it on the front door, hand
        the accepted socket to smtpd; returns the client's socket."""
        client = socket.create_connection(("127.0.0.1", self.front_port),
                                          timeout=20,
                                          source_address=(source, 0))
        accepted, _ = self.front.accept()
        with accepted:
            # As postscreen, an event loop, has it.
            accepted.setblocking(False)
            s = self.hand_off_socket()
            socket.send_fds(s, [b"M"], [accepted.fileno()])
            s.sendall(frame(info or {}))
            s.close()
        return client

    def smtp(self, info=None, source="127.0.0.1"):
        return HandedSMTP(self.connect(info, source))

    def log(self):
        return maillog(self.instance)

    def wait_log(self, text, timeout=10):
        return wait_for(lambda: text in self.log(), timeout=timeout)

    def smtpd_pids(self):
        """Pids of smtpd processes that logged a connect, in order."""
        return [int(p) for p in re.findall(r"smtpd\[(\d+)\]: connect from",
                                           self.log())]


class HandedSMTP(smtplib.SMTP):
    """smtplib over a socket that is already connected."""

    def __init__(self, sock):
        self._handed = sock
        super().__init__("127.0.0.1", 25, timeout=20)

    def _get_socket(self, host, port, timeout):
        return self._handed


# chroot=y needs root (CI runs the suite as root).
CHROOTS = ["n", "y"] if os.geteuid() == 0 else ["n"]


def send_mail(smtp, rcpt, subject):
    smtp.ehlo("client.pass.test")
    smtp.sendmail("sender@pass.test", [rcpt],
                  b"From: sender@pass.test\r\nTo: " + rcpt.encode()
                  + b"\r\nSubject: " + subject.encode()
                  + b"\r\n\r\nhanded off\r\n")
    smtp.quit()


@pytest.mark.parametrize("chroot", CHROOTS)
def test_pass_smtpd_serves_a_handed_off_client_and_relays_its_mail(
        instance, workdir, sink, chroot):
    mta = PassMta(instance, workdir, sink, chroot=chroot)
    try:
        smtp = mta.smtp()
        send_mail(smtp, "rcpt@dest.test", "pass %s" % chroot)
        assert wait_for(lambda: sink.messages, timeout=20), mta.log()
        assert b"Subject: pass %s" % chroot.encode() in sink.messages[0]
        # Logged as a direct connection would be.
        assert mta.wait_log("connect from localhost[127.0.0.1]"), mta.log()
        assert mta.wait_log("disconnect from localhost[127.0.0.1]"), \
            mta.log()
        log = mta.log()
        assert "type pass is not supported" not in log
        assert "bad hand-off" not in log, log
        # postelconf -M shows the service as master.cf has it.
        r = run_cmd(["postelconf", "-c", instance.confdir, "-M"])
        assert r.returncode == 0, r.stderr
        assert re.search(r"^smtpd\s+pass\s+-\s+-\s+%s\s" % chroot, r.stdout,
                         re.M), r.stdout
    finally:
        mta.close()


def test_pass_info_names_the_client_and_server(instance, workdir, sink):
    policy = PolicyServer()
    mta = PassMta(instance, workdir, sink, main={
        "smtpd_recipient_restrictions":
            "check_policy_service inet:127.0.0.1:%d, permit_mynetworks, "
            "reject_unauth_destination" % policy.port,
    })
    try:
        info = {"client_addr": "127.0.0.9", "client_port": "4711",
                "server_addr": "127.0.0.1", "server_port": "25",
                "postscreen": "pass-new"}
        smtp = mta.smtp(info)
        send_mail(smtp, "rcpt@dest.test", "info")
        assert wait_for(lambda: sink.messages, timeout=20), mta.log()
        # The connection came from 127.0.0.1; the hand-off says 127.0.0.9.
        assert mta.wait_log("connect from "), mta.log()
        assert re.search(r"connect from [^\s\[]+\[127\.0\.0\.9\]",
                         mta.log()), mta.log()
        assert "[127.0.0.1]" not in mta.log().split("connect from", 1)[1] \
            .split("\n", 1)[0]
        assert b"[127.0.0.9]" in sink.messages[0], sink.messages[0]
        assert policy.requests, mta.log()
        req = policy.requests[-1]
        assert req["client_address"] == "127.0.0.9", req
        assert req["client_port"] == "4711", req
        assert req["server_address"] == "127.0.0.1", req
        assert req["server_port"] == "25", req

        # A value that is no address is logged and the connection's used.
        smtp = mta.smtp({"client_addr": "not-an-address\x01"})
        smtp.ehlo("client.pass.test")
        smtp.quit()
        assert mta.wait_log("bad client_addr \"not-an-address?\""), \
            mta.log()
        assert mta.wait_log("connect from localhost[127.0.0.1]"), mta.log()
    finally:
        mta.close()
        policy.close()


def test_bad_hand_off_is_logged_and_the_process_serves_the_next(
        instance, workdir, sink):
    # One process, recycled after two clients: the bad hand-offs must not
    # end it, nor count as clients.
    mta = PassMta(instance, workdir, sink, maxproc="1",
                  smtpd_args="-o max_use=2")
    try:
        # An info frame without a descriptor.
        s = mta.hand_off_socket()
        s.sendall(frame({"client_addr": "127.0.0.1"}))
        s.close()
        assert mta.wait_log("bad hand-off on the pass socket: no "
                            "descriptor received: data without a "
                            "descriptor"), mta.log()
        # Garbage, then a connection closed at once.
        s = mta.hand_off_socket()
        s.sendall(b"EHLO hello\r\n")
        s.close()
        mta.hand_off_socket().close()
        assert mta.wait_log("no descriptor received: connection closed"), \
            mta.log()
        # A descriptor with a truncated frame: the client is dropped.
        client = socket.create_connection(("127.0.0.1", mta.front_port),
                                          timeout=20)
        accepted, _ = mta.front.accept()
        s = mta.hand_off_socket()
        socket.send_fds(s, [b"M"], [accepted.fileno()])
        s.sendall(b"31:7:request")
        s.close()
        accepted.close()
        assert mta.wait_log("info frame: truncated frame"), mta.log()
        assert client.recv(100) == b"", "the dropped client was served"
        client.close()
        assert mta.log().count("bad hand-off") == 4, mta.log()

        # The same process serves the next good hand-offs.
        for n in range(3):
            smtp = mta.smtp()
            smtp.ehlo("client.pass.test")
            smtp.quit()
            assert wait_for(lambda: len(mta.smtpd_pids()) == n + 1), \
                mta.log()
        pids = mta.smtpd_pids()
        bad = re.findall(r"smtpd\[(\d+)\]: warning: service smtpd: bad "
                         r"hand-off", mta.log())
        assert len(set(bad)) == 1, mta.log()
        # max_use=2 counts the two served clients only.
        assert pids[0] == pids[1] == int(bad[0]), mta.log()
        assert pids[2] != pids[1], mta.log()
    finally:
        mta.close()


def test_master_supervises_the_pass_service(instance, workdir, sink):
    mta = PassMta(instance, workdir, sink, maxproc="2")
    try:
        # Process limit: two clients are served, the third waits in the
        # listen queue until one of the two leaves.
        first = mta.smtp()
        second = mta.smtp()
        third = mta.connect()
        third.settimeout(1)
        with pytest.raises(socket.timeout):
            third.recv(100)
        assert len(mta.smtpd_pids()) == 2, mta.log()
        first.quit()
        third.settimeout(20)
        assert third.recv(100).startswith(b"220 "), mta.log()
        third.close()
        second.quit()

        # A killed smtpd is replaced: the next hand-off is served.
        pids = set(mta.smtpd_pids())
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: not any(proc_alive(p) for p in pids))
        smtp = mta.smtp()
        send_mail(smtp, "rcpt@dest.test", "after kill")
        assert wait_for(lambda: sink.messages, timeout=20), mta.log()
        assert mta.smtpd_pids()[-1] not in pids, mta.log()

        # Reload keeps the pass service.
        instance.reload()
        smtp = mta.smtp()
        smtp.ehlo("client.pass.test")
        smtp.quit()
        assert wait_for(lambda: len(mta.smtpd_pids()) == 5), mta.log()
    finally:
        mta.close()
