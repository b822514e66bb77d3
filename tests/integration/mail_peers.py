# Peers and waits shared by the capture, SRS and tcp_table tests: an
# aiosmtpd sink on a chosen loopback address, a postsrsd 1.x process on
# free ports, a wait for an SMTP server on any address and a wait for a
# Postfix delivery line in a log.
# SPDX-License-Identifier: ISC
import contextlib
import os
import re
import signal
import smtplib
import socket
import subprocess

from conftest import free_port, missing_module, wait_for

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None


def relay_services(smtpd_addr, smtpd_port, *extra):
    """master.cf lines for an instance that receives by SMTP on
    smtpd_addr:smtpd_port, delivers locally and relays by SMTP (no
    chroot, so test folders need no copies), plus the extra lines."""
    return ["%s:%d inet n - n - - smtpd" % (smtpd_addr, smtpd_port),
            "proxymap unix - - n - - proxymap",
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "local unix - n n - - local",
            "smtp unix - - n - - smtp"] + list(extra) + [
            "%s unix - - n - 0 bounce" % name
            for name in ("bounce", "defer", "trace")]


class EnvelopeSink:
    """aiosmtpd handler that keeps every envelope it accepts (mail_from,
    rcpt_tos, original_content); aiosmtpd gives the null sender as
    "<>"."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 2.0.0 Ok"

    def to(self, rcpt):
        return [e for e in self.envelopes if rcpt in e.rcpt_tos]


@contextlib.contextmanager
def smtp_sink(handler, host="127.0.0.1"):
    """Run aiosmtpd with handler on host:free port; handler.port is set."""
    handler.port = free_port(host)
    ctl = Controller(handler, hostname=host, port=handler.port)
    ctl.start()
    try:
        yield handler
    finally:
        ctl.stop()


def smtp_answers(host, port, timeout=10):
    """Wait until an SMTP server greets on host:port; True when it did."""
    def greets():
        try:
            smtplib.SMTP(host, port, timeout=2).quit()
            return True
        except OSError:
            return False
    return wait_for(greets, timeout)


def delivery_line(read_log, rcpt, status="sent", timeout=20):
    """The last "to=<rcpt> ... status=STATUS" line that read_log() shows,
    waiting up to timeout seconds; None when none came."""
    pat = re.compile(r"to=<%s>.*status=%s" % (re.escape(rcpt), status))
    if not wait_for(lambda: pat.search(read_log()), timeout):
        return None
    return [l for l in read_log().splitlines() if pat.search(l)][-1]


@contextlib.contextmanager
def postsrsd(secret_file, domain, folder, host="127.0.0.1"):
    """Debian's postsrsd 1.x with secret_file and domain, its forward and
    reverse tcp_table ports free ones on host: yields {"forward": port,
    "reverse": port}.  Stopped (with the children it forks per
    connection) on exit."""
    fwd, rev = free_port(host), free_port(host)
    proc = subprocess.Popen(
        ["/usr/sbin/postsrsd", "-s", str(secret_file), "-d", domain,
         "-l", host, "-4", "-f", str(fwd), "-r", str(rev), "-t", "60"],
        cwd=str(folder), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True)

    def listening():
        try:
            socket.create_connection((host, rev), 1).close()
            return True
        except OSError:
            return proc.poll() is not None
    try:
        assert wait_for(listening, 10) and proc.poll() is None, \
            proc.stdout.read()
        yield {"forward": fwd, "reverse": rev}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(10)
