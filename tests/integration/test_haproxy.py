# The PROXY protocol behind Debian's haproxy: smtpd and postscreen with
# smtpd_upstream_proxy_protocol / postscreen_upstream_proxy_protocol =
# haproxy see the address haproxy was connected from (a client bound to
# 127.0.0.42), in the log, the Received header, access maps and
# postscreen's tests; a connection without a valid header is dropped
# without a greeting.
#
# One haproxy per module (mode tcp, a generated haproxy.cfg in a temporary
# folder): frontends on 127.0.0.41 forward with send-proxy (v1) and
# send-proxy-v2 to fixed ports on 127.0.0.1 where each test's instance
# listens (haproxy connects to its backend per client connection, so the
# instance may change between tests).
# SPDX-License-Identifier: ISC
import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile

import pytest

from conftest import ContentSink, free_port, missing_module, tool_path, \
    wait_for

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None

pytestmark = pytest.mark.needs("haproxy")

PROXY_ADDR = "127.0.0.41"   # haproxy's frontends
CLIENT = "127.0.0.42"       # the client behind haproxy
OTHER = "127.0.0.43"        # another one, not in any access map
SMTPD_PORT = free_port()    # smtpd with smtpd_upstream_proxy_protocol
PSC_PORT = free_port()      # postscreen with its own setting


def _listening(addr, port):
    """Does something listen on addr:port (IPv4, /proc/net/tcp)?"""
    a = [int(x) for x in addr.split(".")]
    want = "%02X%02X%02X%02X:%04X" % (a[3], a[2], a[1], a[0], port)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return True
    return False


class HAProxy:
    """haproxy in the foreground (-db) with three frontends."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="postel-haproxy-")
        self.v1 = free_port(PROXY_ADDR)
        self.v2 = free_port(PROXY_ADDR)
        self.ps = free_port(PROXY_ADDR)
        cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("global\n"
                    "    maxconn 64\n"
                    "    nbthread 1\n"
                    "defaults\n"
                    "    mode tcp\n"
                    "    timeout connect 5s\n"
                    "    timeout client 60s\n"
                    "    timeout server 60s\n")
            for name, port, send, target in (
                    ("v1", self.v1, "send-proxy", SMTPD_PORT),
                    ("v2", self.v2, "send-proxy-v2", SMTPD_PORT),
                    ("ps", self.ps, "send-proxy-v2", PSC_PORT)):
                f.write("frontend f_%s\n"
                        "    bind %s:%d\n"
                        "    default_backend b_%s\n"
                        "backend b_%s\n"
                        "    server s1 127.0.0.1:%d %s\n"
                        % (name, PROXY_ADDR, port, name, name, target, send))
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([tool_path("haproxy"), "-db", "-f", cfg],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        up = wait_for(lambda: self.proc.poll() is not None or all(
            _listening(PROXY_ADDR, p) for p in (self.v1, self.v2, self.ps)))
        if not up or self.proc.poll() is not None:
            self.stop()
            pytest.fail("haproxy did not start: %s" % self.read_log())

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def haproxy():
    hp = HAProxy()
    yield hp
    hp.stop()


@pytest.fixture
def sink():
    handler = ContentSink()
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    handler.port = port
    yield handler
    ctl.stop()


def read_log(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Mta:
    """An instance whose smtpd (or postscreen and smtpd) expects haproxy's
    header, relaying to a sink when one is given."""

    def __init__(self, instance, workdir, main=None, sink=None,
                 postscreen=False, pass_args=""):
        self.maillog = os.path.join(workdir, "maillog")
        settings = {
            "myhostname": "mx.test",
            "mydomain": "test",
            "mydestination": "mx.test",
            "local_recipient_maps": "",
            "maillog_file": self.maillog,
            "smtpd_error_sleep_time": "0",
            "mynetworks": "127.0.0.99/32",
            "relay_domains": "remote.test",
            "smtpd_upstream_proxy_timeout": "2s",
        }
        services = [
            "postlog unix-dgram n - n - 1 postlogd",
            "cleanup unix - - n - 0 cleanup",
            "anvil unix - - n - 1 anvil",
        ]
        if postscreen:
            settings.update({
                "postscreen_upstream_proxy_protocol": "haproxy",
                "postscreen_upstream_proxy_timeout": "2s",
                "postscreen_greet_wait": "1s",
                "data_directory": os.path.join(workdir, "data"),
            })
            services += [
                "127.0.0.1:%d inet n - n - 1 postscreen" % PSC_PORT,
                "smtpd pass - - n - - smtpd %s" % pass_args,
            ]
        else:
            settings["smtpd_upstream_proxy_protocol"] = "haproxy"
            services.append("127.0.0.1:%d inet n - n - - smtpd" % SMTPD_PORT)
        if sink is not None:
            settings.update({
                "relayhost": "[127.0.0.1]:%d" % sink.port,
                "minimal_backoff_time": "300s",
                "queue_run_delay": "300s",
            })
            services += [
                "qmgr unix n - n 300 1 qmgr",
                "smtp unix - - n - - smtp",
                "relay unix - - n - - smtp",
                "bounce unix - - n - 0 bounce",
                "defer unix - - n - 0 bounce",
                "trace unix - - n - 0 bounce",
            ]
        settings.update(main or {})
        instance.write_config(main=settings, services=services)
        instance.start()
        port = PSC_PORT if postscreen else SMTPD_PORT
        assert wait_for(lambda: _listening("127.0.0.1", port)), \
            instance.read_log()

    def log(self):
        return read_log(self.maillog)

    def wait_log(self, pattern, timeout=10):
        found = wait_for(lambda: re.search(pattern, self.log(), re.M),
                         timeout=timeout)
        assert found, "no %r in maillog:\n%s" % (pattern, self.log())
        return found


def through(port, source=CLIENT):
    """smtplib client connected from source to a haproxy frontend."""
    s = smtplib.SMTP(timeout=20, source_address=(source, 0))
    code, msg = s.connect(PROXY_ADDR, port)
    assert code == 220, msg
    return s


def direct(source=CLIENT, port=SMTPD_PORT):
    return socket.create_connection(("127.0.0.1", port), timeout=20,
                                    source_address=(source, 0))


def read_all(sock, timeout=20):
    """Everything the server sends until it closes (bounded)."""
    sock.settimeout(timeout)
    data = b""
    while len(data) < 65536:
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


MSG = (b"From: a@client.test\r\nTo: b@remote.test\r\nSubject: proxied\r\n"
       b"\r\nhello through haproxy\r\n")


# --- smtpd behind haproxy ------------------------------------------------

@pytest.mark.parametrize("version", ["v1", "v2"])
def test_haproxy_client_address_is_logged_and_in_received(
        haproxy, instance, workdir, sink, version):
    mta = Mta(instance, workdir, sink=sink)
    s = through(getattr(haproxy, version))
    s.ehlo("client.test")
    s.sendmail("a@client.test", ["b@remote.test"], MSG)
    s.quit()
    # The client haproxy was told about, named for that address (no
    # name: 127.0.0.42 has none, haproxy's 127.0.0.1 is "localhost").
    mta.wait_log(r"smtpd\[\d+\]: connect from unknown\[127\.0\.0\.42\]$")
    assert not re.search(r"connect from \S*\[127\.0\.0\.(1|41)\]",
                         mta.log()), mta.log()
    mta.wait_log(r"disconnect from unknown\[127\.0\.0\.42\] ehlo=1 "
                 r"mail=1 rcpt=1 data=1 quit=1 commands=5")
    assert wait_for(lambda: sink.messages, timeout=30), mta.log()
    received = sink.messages[0].split(b"\r\n\r\n")[0]
    assert re.search(rb"Received: from client\.test \(unknown "
                     rb"\[127\.0\.0\.42\]\)", received), received


def test_haproxy_access_map_sees_the_proxied_client(haproxy, instance,
                                                     workdir):
    access = os.path.join(workdir, "access")
    with open(access, "w") as f:
        f.write("127.0.0.42 REJECT proxied client refused\n")
    os.chmod(access, 0o644)
    mta = Mta(instance, workdir, main={
        "smtpd_client_restrictions": "check_client_access texthash:"
                                     + access})
    for port in (haproxy.v1, haproxy.v2):
        s = through(port)
        s.ehlo("client.test")
        s.mail("a@client.test")
        code, msg = s.rcpt("u@mx.test")
        assert code == 554, msg
        assert b"Client host rejected: proxied client refused" in msg, msg
        s.quit()
    mta.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.42\]: "
                 r"554 5\.7\.1 <unknown\[127\.0\.0\.42\]>: Client host "
                 r"rejected: proxied client refused")
    # Another client through the same haproxy is not in the map.
    s = through(haproxy.v2, source=OTHER)
    s.ehlo("client.test")
    s.mail("a@client.test")
    assert s.rcpt("u@mx.test")[0] == 250
    s.quit()


def test_haproxy_anvil_counts_the_proxied_client(haproxy, instance,
                                                workdir):
    mta = Mta(instance, workdir, main={
        "smtpd_client_connection_rate_limit": "1"})
    s = through(haproxy.v2)
    s.quit()
    # All come from haproxy's 127.0.0.1: only 127.0.0.42 is over its limit.
    s = smtplib.SMTP(timeout=20, source_address=(CLIENT, 0))
    code, msg = s.connect(PROXY_ADDR, haproxy.v1)
    assert code == 421, msg
    assert msg == b"4.7.0 mx.test Error: too many connections from " \
        b"127.0.0.42", msg
    s.close()
    mta.wait_log(r"warning: Connection rate limit exceeded: 2 from "
                 r"unknown\[127\.0\.0\.42\] for service ")
    s = through(haproxy.v2, source=OTHER)
    assert s.ehlo("client.test")[0] == 250
    s.quit()


def test_haproxy_direct_connection_without_header_is_dropped(
        haproxy, instance, workdir):
    mta = Mta(instance, workdir)
    # A client that waits for a greeting gets none: closed at the limit.
    c = direct()
    assert read_all(c) == b""
    c.close()
    mta.wait_log(r"warning: haproxy read: timeout error$")
    mta.wait_log(r"smtpd\[\d+\]: connect from unknown\[unknown\]$")
    mta.wait_log(r"disconnect from unknown\[unknown\] commands=0/0$")
    # One that talks SMTP first is closed at once, unanswered.
    c = direct()
    c.sendall(b"EHLO client.test\r\n")
    assert read_all(c) == b""
    c.close()
    mta.wait_log(r"warning: haproxy read: unrecognized protocol header: E$")
    assert not re.search(r"connect from \S*\[127\.0\.0\.42\]", mta.log())
    # The smtpd processes still serve proxied clients.
    s = through(haproxy.v2)
    assert s.ehlo("client.test")[0] == 250
    s.quit()


@pytest.mark.parametrize("header,why", [
    (b"PROXY TCP4 127.0.0.42 127.0.0.1 99999 25\r\n",
     r"bad or missing client port: PROXY TCP4 127\.0\.0\.42 127\.0\.0\.1 "
     r"99999 25\\r\\n"),
    (b"PROXY TCP4 127.0.0.42 127.0.0.1 1234 25\n",
     r"LF without CR: PROXY TCP4 "),
    (b"PROXY UNKNOWN\r\n", r"PROXY UNKNOWN refused"),
    (b"\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x0c" + bytes(12),
     r"unsupported network protocol \(only TCP over IPv4 or IPv6\): "
     r"\\r\\n\\r\\n\\x00\\r\\nQUIT\\n!\\x12"),
])
def test_haproxy_garbage_header_is_dropped(haproxy, instance, workdir,
                                           header, why):
    mta = Mta(instance, workdir)
    c = direct()
    c.sendall(header + b"EHLO client.test\r\n")
    assert read_all(c) == b""
    c.close()
    mta.wait_log(r"warning: haproxy read: " + why)
    assert "connect from unknown[127.0.0.42]" not in mta.log()


def test_haproxy_header_in_pieces_and_pipelined_smtp(haproxy, instance,
                                                     workdir):
    """The header may come in pieces; the SMTP right behind it in the
    same segment is the client's, untouched."""
    import time
    mta = Mta(instance, workdir)
    c = direct(source=OTHER)
    c.sendall(b"PROXY TCP6 2001:db8::42 2001:db8::25 ")
    time.sleep(0.2)
    c.sendall(b"40000 25\r\nEHLO client.test\r\n")
    c.settimeout(20)
    data = b""
    while b"250 " not in data:
        chunk = c.recv(4096)
        assert chunk, data
        data += chunk
    assert data.startswith(b"220 mx.test"), data
    c.sendall(b"QUIT\r\n")
    read_all(c)
    c.close()
    mta.wait_log(r"connect from unknown\[2001:db8::42\]$")


def test_haproxy_v2_local_health_check_is_served_as_the_real_peer(
        haproxy, instance, workdir):
    """haproxy's check-send-proxy with send-proxy-v2 sends this LOCAL
    header (checked against Debian's haproxy 2.6): no client address in
    it, so the connection's own applies, as in Postfix."""
    mta = Mta(instance, workdir)
    c = direct(source=OTHER)
    c.sendall(b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00")
    c.settimeout(20)
    data = b""
    while b"\r\n" not in data:
        chunk = c.recv(4096)
        assert chunk, mta.log()
        data += chunk
    assert data.startswith(b"220 mx.test"), data
    c.sendall(b"QUIT\r\n")
    read_all(c)
    c.close()
    mta.wait_log(r"connect from \S+\[127\.0\.0\.43\]$")


# --- postscreen behind haproxy --------------------------------------------

def test_haproxy_postscreen_uses_and_hands_over_the_proxied_client(
        haproxy, instance, workdir):
    mta = Mta(instance, workdir, postscreen=True,
              pass_args="-o smtpd_upstream_proxy_protocol=haproxy")
    s = smtplib.SMTP(timeout=20, source_address=(CLIENT, 0))
    code, msg = s.connect(PROXY_ADDR, haproxy.ps)
    assert code == 220, msg
    assert s.ehlo("client.test")[0] == 250
    s.quit()
    mta.wait_log(r"postscreen\[\d+\]: CONNECT from \[127\.0\.0\.42\]:\d+ "
                 r"to \[127\.0\.0\.41\]:%d$" % haproxy.ps)
    mta.wait_log(r"PASS NEW \[127\.0\.0\.42\]:\d+$")
    mta.wait_log(r"smtpd\[\d+\]: connect from unknown\[127\.0\.0\.42\]$")
    # smtpd behind postscreen reads no header, as with Postfix.
    mta.wait_log(r"warning: ignoring non-empty smtpd_upstream_proxy_protocol "
                 r"setting behind postscreen$")
    assert not re.search(r"(CONNECT|connect) from \S*\[127\.0\.0\.1\]",
                         mta.log()), mta.log()


def test_haproxy_postscreen_access_list_and_missing_header(
        haproxy, instance, workdir):
    acl = os.path.join(workdir, "psc_access")
    with open(acl, "w") as f:
        f.write("127.0.0.42/32 reject\n")
    os.chmod(acl, 0o644)
    mta = Mta(instance, workdir, postscreen=True, main={
        "postscreen_access_list": "permit_mynetworks, cidr:" + acl,
        "postscreen_denylist_action": "drop"})
    c = socket.create_connection((PROXY_ADDR, haproxy.ps), timeout=20,
                                 source_address=(CLIENT, 0))
    assert read_all(c).startswith(b"521 5.3.2"), mta.log()
    c.close()
    mta.wait_log(r"DENYLISTED \[127\.0\.0\.42\]:\d+$")
    # Straight to postscreen, without the header: nothing, then closed.
    c = direct(port=PSC_PORT)
    assert read_all(c) == b""
    c.close()
    mta.wait_log(r"postscreen\[\d+\]: warning: haproxy read: time limit "
                 r"exceeded$")
