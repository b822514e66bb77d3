"""check_policy_service: Postfix's SMTP Access Policy Delegation.

A real instance asks policy servers that the tests run on loopback:

- a Python server that records every request (attributes, connection)
  and answers by the recipient's local part, so each access(5) action a
  policy server may return is seen from the SMTP client and the sink;
- one that accepts and never answers, one that answers garbage: the
  default action (451 4.3.5) after smtpd_policy_service_timeout, logged;
- Debian's policyd-spf (postfix-policyd-spf-python, fetched with
  `apt-get download` and unpacked with `dpkg -x` into tests/.cache, run
  with /usr/bin/python3 on python3-spf-engine).  policyd-spf speaks on
  stdin/stdout (Postfix runs it as a `spawn` service, which Postel's
  master does not have), so the test puts it behind a loopback TCP
  listener that forks one policyd-spf per connection, its stdin and
  stdout being the connection, exactly what spawn does.  pyspf resolves
  through dnspython's default resolver, which reads /etc/resolv.conf
  and has no environment override: the listener starts policyd-spf
  through a two-line prelude that replaces dns.resolver.default_resolver
  with one whose only server is the tests' loopback DNS server
  (dnsserver.py), then runs the unchanged policyd-spf script.

SPDX-License-Identifier: ISC
"""
import glob
import hashlib
import json
import os
import pwd
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pytest

from conftest import (Instance, bin_path, close_listener, free_port,
                      missing_module, wait_for, wait_smtp)
from dnsserver import DNSServer
from test_sasl import PASSWORD, USER, make_sasldb
from tlscerts import CA, der, spki_der

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None

pytestmark = pytest.mark.needs("dnslib", "aiosmtpd", "spf_engine",
                               "dnspython", "openssl", "saslpasswd2",
                               "sasl_sasldb", "sasl_mechs")

OUTSIDE = "127.0.0.5"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CACHE = os.path.join(REPO, "tests", ".cache")

# Every attribute Postfix sends, in its order (compatibility_level and
# mail_version came with Postfix 3.8).
POSTFIX_ATTRS = [
    "request", "protocol_state", "protocol_name", "helo_name", "queue_id",
    "sender", "recipient", "recipient_count", "client_address",
    "client_name", "reverse_client_name", "instance", "sasl_method",
    "sasl_username", "sasl_sender", "size", "ccert_subject", "ccert_issuer",
    "ccert_fingerprint", "ccert_pubkey_fingerprint", "encryption_protocol",
    "encryption_cipher", "encryption_keysize", "etrn_domain", "stress",
    "client_port", "policy_context", "server_address", "server_port",
    "compatibility_level", "mail_version",
]

# Recipient local part -> the policy server's action at RCPT.
ACTIONS = {
    "ok": "OK",
    "dunno": "DUNNO",
    "reject": "REJECT go away",
    "code5": "550 5.7.9 custom refusal",
    "code4": "450 4.7.9 come back later",
    "dip": "DEFER_IF_PERMIT not yet",
    "dir": "DEFER_IF_REJECT maybe later",
    "prepend": "PREPEND X-Policy: tagged by the policy server",
    "hold": "HOLD kept for review",
    "discard": "DISCARD dropped",
    "redirect": "REDIRECT elsewhere@dest.test",
}


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos),
                              envelope.original_content or envelope.content))
        return "250 2.0.0 Ok"


class PolicyServer:
    """Records requests; mode "answer", "hang" or "garbage"."""

    def __init__(self, mode="answer"):
        self.mode = mode
        self.requests = []  # (connection number, {name: value})
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.stop = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                n = self.connections
            threading.Thread(target=self.serve, args=(c, n),
                             daemon=True).start()

    def action(self, req):
        if req.get("protocol_state") != "RCPT":
            return "DUNNO"
        local = req.get("recipient", "").split("@")[0]
        return ACTIONS.get(local.split("+")[0], "DUNNO")

    def serve(self, c, n):
        buf = b""
        with c:
            while True:
                try:
                    data = c.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\n\n" in buf:
                    raw, buf = buf.split(b"\n\n", 1)
                    req = dict(line.split("=", 1) for line in
                               raw.decode().split("\n"))
                    with self.lock:
                        self.requests.append((n, req))
                    if self.mode == "hang":
                        continue
                    if self.mode == "garbage":
                        c.sendall(b"this is not a policy reply\n\n")
                        continue
                    c.sendall(("action=%s\n\n" % self.action(req)).encode())

    def close(self):
        self.stop = True
        close_listener(self.sock)


def policyd_spf_root():
    """Debian's postfix-policyd-spf-python, unpacked once into CACHE."""
    root = os.path.join(CACHE, "policyd-spf")
    script = os.path.join(root, "usr", "bin", "policyd-spf")
    if os.path.exists(script):
        return root
    os.makedirs(CACHE, exist_ok=True)
    debs = glob.glob(os.path.join(CACHE, "postfix-policyd-spf-python_*.deb"))
    if not debs:
        r = subprocess.run(["apt-get", "download",
                            "postfix-policyd-spf-python"], cwd=CACHE,
                           capture_output=True, text=True)
        debs = glob.glob(os.path.join(CACHE,
                                      "postfix-policyd-spf-python_*.deb"))
        assert debs, ("apt-get download postfix-policyd-spf-python "
                      "failed: %s" % r.stderr)
    subprocess.run(["dpkg", "-x", sorted(debs)[-1], root], check=True)
    return root


PRELUDE = """\
import runpy, sys, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv[1]]
r.port = int(sys.argv[2])
dns.resolver.default_resolver = r
sys.argv = [sys.argv[3]] + sys.argv[4:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


class SpawnListener:
    """What Postfix's spawn does: one policyd-spf per connection."""

    def __init__(self, argv):
        self.argv = argv
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.children = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            p = subprocess.Popen(self.argv, stdin=c.fileno(),
                                 stdout=c.fileno(), stderr=subprocess.DEVNULL)
            c.close()
            self.children.append(p)

    def close(self):
        close_listener(self.sock)
        for p in self.children:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def dns():
    with DNSServer() as d:
        d.add("spfpass.test", "TXT", "v=spf1 ip4:%s -all" % OUTSIDE)
        d.add("spffail.test", "TXT", "v=spf1 ip4:192.0.2.1 -all")
        yield d


@pytest.fixture(scope="module")
def mta(dns):
    handler = Sink()
    sink_port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=sink_port)
    ctl.start()
    rec = PolicyServer()
    hang = PolicyServer("hang")
    garbage = PolicyServer("garbage")
    root = policyd_spf_root()
    workdir = tempfile.mkdtemp(prefix="postel-test-")
    os.chmod(workdir, 0o755)
    pki = os.path.join(workdir, "pki")
    ca = CA(pki)
    chain = ca.issue("mx", ["mx.local.test", "localhost"])[2]
    os.chmod(pki, 0o755)
    conf = os.path.join(workdir, "policyd-spf.conf")
    with open(conf, "w") as f:
        # Debian's defaults, but 127.0.0.0/8 is not skipped (the tests'
        # clients are on loopback).
        f.write("debugLevel = 1\nTestOnly = 1\nHELO_reject = Fail\n"
                "Mail_From_reject = Fail\nPermError_reject = False\n"
                "TempError_Defer = False\nskip_addresses = 192.0.2.255/32\n")
    dns_host, dns_port = dns.address.split(":")
    spf = SpawnListener(["/usr/bin/python3", "-c", PRELUDE, dns_host,
                         dns_port, os.path.join(root, "usr", "bin",
                                                "policyd-spf"), conf])
    inst = Instance(workdir)
    inst.rec, inst.hang, inst.garbage, inst.spf = rec, hang, garbage, spf
    inst.sink = handler
    inst.ca = ca
    inst.maillog = os.path.join(workdir, "maillog")
    ports = {k: free_port() for k in
             ("main", "stages", "hang", "garbage", "limit", "spf",
              "ccert")}
    inst.ports = ports
    p = "check_policy_service,inet:127.0.0.1:%d"
    stages = p % rec.port
    inst.write_config(main={
        "myhostname": "mx.local.test",
        "mydomain": "local.test",
        "mydestination": "",
        "mynetworks": "127.0.0.1/32",
        "relay_domains": "dest.test",
        "local_recipient_maps": "",
        "relayhost": "[127.0.0.1]:%d" % sink_port,
        "dns_nameservers": dns.address,
        "maillog_file": inst.maillog,
        "smtpd_error_sleep_time": "0",
        "spf_enable": "no",
        "cyrus_sasl_config_path": make_sasldb(workdir, inst.queue,
                                              realm="mx.local.test"),
        "smtpd_recipient_restrictions":
            # Postfix's per-service form.
            "check_policy_service { inet:127.0.0.1:%d, timeout=20s, "
            "policy_context=main }, "
            "check_recipient_access inline:{ dir@dest.test=REJECT }, "
            "reject_unauth_destination" % rec.port,
    }, services=[
        "postlog unix-dgram n - n - 1 postlogd",
        # One process: the connection-reuse test sees one smtpd.
        "127.0.0.1:%d inet n - y - 1 smtpd" % ports["main"],
        "127.0.0.1:%d inet n - y - 1 smtpd -o smtpd_delay_reject=no "
        "-o smtpd_client_restrictions=%s -o smtpd_helo_restrictions=%s "
        "-o smtpd_sender_restrictions=%s "
        "-o smtpd_recipient_restrictions=%s,reject_unauth_destination "
        "-o smtpd_data_restrictions=%s "
        "-o smtpd_end_of_data_restrictions=%s "
        "-o smtpd_policy_service_policy_context=stages "
        "-o smtpd_tls_security_level=may -o smtpd_tls_chain_files=%s "
        "-o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=no"
        % ((ports["stages"],) + (stages,) * 6 + (chain,)),
        "127.0.0.1:%d inet n - y - 1 smtpd "
        "-o smtpd_recipient_restrictions=%s,reject_unauth_destination "
        "-o smtpd_policy_service_timeout=2s"
        % (ports["hang"], p % hang.port),
        "127.0.0.1:%d inet n - y - 1 smtpd "
        "-o smtpd_recipient_restrictions=%s,reject_unauth_destination"
        % (ports["garbage"], p % garbage.port),
        "127.0.0.1:%d inet n - y - 1 smtpd "
        "-o smtpd_recipient_restrictions=%s,reject_unauth_destination "
        "-o smtpd_policy_service_request_limit=2 "
        "-o smtpd_policy_service_policy_context=limit"
        % (ports["limit"], stages),
        "127.0.0.1:%d inet n - y - - smtpd "
        "-o smtpd_recipient_restrictions=%s,reject_unauth_destination"
        % (ports["spf"], p % spf.port),
        # Asks for client certificates, trusting the test CA.
        "127.0.0.1:%d inet n - y - 1 smtpd "
        "-o smtpd_recipient_restrictions=%s,reject_unauth_destination "
        "-o smtpd_tls_security_level=may -o smtpd_tls_chain_files=%s "
        "-o smtpd_tls_ask_ccert=yes -o smtpd_tls_CAfile=%s"
        % (ports["ccert"], stages, chain, ca.cert),
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "smtp unix - - n - - smtp",
        "relay unix - - n - - smtp",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
    ])
    if os.geteuid() == 0:
        # mail_owner reads the sasldb (as test_sasl does).
        inst.set_permissions()
        pw = pwd.getpwnam("postel")
        os.chown(os.path.join(inst.queue, "etc", "sasldb2"), pw.pw_uid,
                 pw.pw_gid)
    inst.start()
    for port in ports.values():
        wait_smtp(inst, port)
    yield inst
    inst.cleanup()
    ctl.stop()
    for s in (rec, hang, garbage, spf):
        s.close()
    shutil.rmtree(workdir, ignore_errors=True)


def log(mta):
    with open(mta.maillog, errors="replace") as f:
        return f.read()


def session(port, helo="client.example.test"):
    s = smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=60,
                     source_address=(OUTSIDE, 0))
    s.ehlo()
    return s


def message(mid):
    return ("From: <a@example.org>\r\nTo: <x@dest.test>\r\n"
            "Message-ID: %s\r\nSubject: policy\r\n\r\nbody\r\n" % mid)


def delivered(mta, mid, timeout=20):
    got = wait_for(lambda: [m for m in mta.sink.messages
                            if mid.encode() in m[1]], timeout)
    return got[0] if got else None


def requests_since(server, start):
    with server.lock:
        return list(server.requests[start:])


def test_policy_request_has_every_attribute_at_every_stage(mta):
    start = len(mta.rec.requests)
    mid = "<%s@test>" % uuid.uuid4().hex
    s = session(mta.ports["stages"])
    assert s.mail("s@example.org", ["SIZE=1234"])[0] == 250
    assert s.rcpt("ok@dest.test")[0] == 250
    assert s.rcpt("dunno@dest.test")[0] == 250
    assert s.data(message(mid))[0] == 250
    # A second message in the same session is a new instance.
    assert s.mail("t@example.org")[0] == 250
    assert s.rcpt("dunno@dest.test")[0] == 250
    s.rset()
    s.quit()
    reqs = [r for _, r in requests_since(mta.rec, start)]
    states = [r["protocol_state"] for r in reqs]
    assert states == ["CONNECT", "EHLO", "MAIL", "RCPT", "RCPT", "DATA",
                      "END-OF-MESSAGE", "MAIL", "RCPT"], states
    for r in reqs:
        assert list(r) == POSTFIX_ATTRS, r
        assert r["request"] == "smtpd_access_policy"
        assert r["client_address"] == OUTSIDE
        assert r["server_address"] == "127.0.0.1"
        assert r["server_port"] == str(mta.ports["stages"])
        assert r["policy_context"] == "stages"
        assert r["client_port"].isdigit()
    first = reqs[:7]
    assert len({r["instance"] for r in first}) == 1
    assert reqs[7]["instance"] != first[0]["instance"]
    assert reqs[7]["instance"] == reqs[8]["instance"]
    assert first[0]["helo_name"] == ""
    assert all(r["helo_name"] == "client.example.test" for r in reqs[1:])
    assert first[1]["protocol_name"] == "SMTP"  # EHLO is being checked
    assert all(r["protocol_name"] == "ESMTP" for r in reqs[2:])
    assert first[2]["sender"] == "s@example.org"
    assert first[2]["size"] == "1234"
    assert [r["recipient"] for r in first[3:5]] == ["ok@dest.test",
                                                   "dunno@dest.test"]
    assert [r["recipient_count"] for r in first[3:7]] == ["0", "1", "2",
                                                         "2"]
    assert int(first[6]["size"]) > 50
    assert delivered(mta, mid) is not None


def test_policy_request_after_starttls_names_the_encryption(mta):
    start = len(mta.rec.requests)
    s = session(mta.ports["stages"])
    s.starttls()
    s.ehlo()
    assert s.mail("s@example.org")[0] == 250
    assert s.rcpt("dunno@dest.test")[0] == 250
    s.rset()
    s.quit()
    reqs = [r for _, r in requests_since(mta.rec, start)]
    assert [r["protocol_state"] for r in reqs] == ["CONNECT", "EHLO",
                                                   "EHLO", "MAIL", "RCPT"]
    for r in reqs[:2]:
        assert (r["encryption_protocol"], r["encryption_cipher"],
                r["encryption_keysize"]) == ("", "", "0"), r
    for r in reqs[2:]:
        assert re.match(r"TLSv1\.[23]$", r["encryption_protocol"]), r
        assert r["encryption_cipher"], r
        assert int(r["encryption_keysize"]) >= 128, r
    assert [r["protocol_name"] for r in reqs[3:]] == ["ESMTPS", "ESMTPS"]


def test_policy_request_after_auth_names_the_login(mta):
    start = len(mta.rec.requests)
    s = session(mta.ports["stages"])
    s.user, s.password = USER, PASSWORD
    assert s.auth("PLAIN", s.auth_plain)[0] == 235
    assert s.mail("s@example.org")[0] == 250
    assert s.rcpt("dunno@dest.test")[0] == 250
    s.rset()
    s.quit()
    reqs = [r for _, r in requests_since(mta.rec, start)]
    assert [r["protocol_state"] for r in reqs] == ["CONNECT", "EHLO",
                                                   "MAIL", "RCPT"]
    assert [(r["sasl_method"], r["sasl_username"]) for r in reqs] == [
        ("", ""), ("", ""), ("PLAIN", USER), ("PLAIN", USER)]
    assert all(r["sasl_sender"] == "" for r in reqs), reqs


def test_policy_request_has_sasl_sender_from_mail_auth(mta):
    start = len(mta.rec.requests)
    s = session(mta.ports["stages"])
    s.user, s.password = USER, PASSWORD
    assert s.auth("PLAIN", s.auth_plain)[0] == 235
    assert s.mail("s@example.org", ["AUTH=<other@example.org>"])[0] == 250
    assert s.rcpt("dunno@dest.test")[0] == 250
    s.rset()
    s.quit()
    reqs = [r for _, r in requests_since(mta.rec, start)]
    assert [r["protocol_state"] for r in reqs] == ["CONNECT", "EHLO",
                                                   "MAIL", "RCPT"]
    # As Postfix: the AUTH= value as the client sent it.
    assert [r["sasl_sender"] for r in reqs] == [
        "", "", "<other@example.org>", "<other@example.org>"]


def ccert_requests(mta, cert):
    """A STARTTLS session on the ccert service presenting cert (a
    (key, cert, chain) triple or None); the RCPT request it caused."""
    import ssl
    start = len(mta.rec.requests)
    ctx = ssl.create_default_context(cafile=mta.ca.cert)
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(cert[1], cert[0])
    s = session(mta.ports["ccert"])
    s.starttls(context=ctx)
    s.ehlo()
    assert s.mail("s@example.org")[0] == 250
    assert s.rcpt("dunno@dest.test")[0] == 250
    s.rset()
    s.quit()
    reqs = [r for _, r in requests_since(mta.rec, start)]
    assert [r["protocol_state"] for r in reqs][-1] == "RCPT", reqs
    return reqs[-1]


def fingerprint(data):
    """Postfix's form: colon-separated upper-case hex of the SHA-256."""
    return ":".join("%02X" % b for b in hashlib.sha256(data).digest())


def test_policy_request_names_the_client_certificate(mta):
    cert = mta.ca.issue("client-" + uuid.uuid4().hex[:8],
                        ["client.example.test"])
    r = ccert_requests(mta, cert)
    assert r["ccert_subject"] == "client.example.test", r
    assert r["ccert_issuer"] == "Postel Test CA", r
    assert r["ccert_fingerprint"] == fingerprint(der(cert[1])), r
    assert r["ccert_pubkey_fingerprint"] == fingerprint(spki_der(cert[1])), r
    assert r["ccert_fingerprint"] != r["ccert_pubkey_fingerprint"]


def test_policy_request_untrusted_certificate_has_fingerprints_only(mta):
    # As Postfix: the names only from a verified chain, the fingerprints
    # from any certificate (a policy server may match them itself).
    stranger = CA(os.path.join(mta.ca.folder, "stranger-" +
                               uuid.uuid4().hex[:8]), name="Stranger CA")
    cert = stranger.issue("client", ["client.example.test"])
    r = ccert_requests(mta, cert)
    assert (r["ccert_subject"], r["ccert_issuer"]) == ("", ""), r
    assert r["ccert_fingerprint"] == fingerprint(der(cert[1])), r
    assert r["ccert_pubkey_fingerprint"] == fingerprint(spki_der(cert[1])), r


def test_policy_request_without_client_certificate_has_no_ccert(mta):
    r = ccert_requests(mta, None)
    assert re.match(r"TLSv1\.[23]$", r["encryption_protocol"]), r
    for name in ("ccert_subject", "ccert_issuer", "ccert_fingerprint",
                 "ccert_pubkey_fingerprint"):
        assert r[name] == "", r


def test_policy_connection_is_reused_across_requests_and_sessions(mta):
    start = len(mta.rec.requests)
    for _ in range(2):
        s = session(mta.ports["main"])
        assert s.mail("s@example.org")[0] == 250
        for i in range(3):
            assert s.rcpt("dunno+%d@dest.test" % i)[0] == 250
        s.rset()
        s.quit()
    got = requests_since(mta.rec, start)
    assert [r["policy_context"] for _, r in got] == ["main"] * 6
    conns = [n for n, _ in got]
    assert len(set(conns)) == 1, conns


def test_policy_request_limit_closes_the_connection(mta):
    start = len(mta.rec.requests)
    s = session(mta.ports["limit"])
    assert s.mail("s@example.org")[0] == 250
    for i in range(5):
        assert s.rcpt("dunno+%d@dest.test" % i)[0] == 250
    s.quit()
    conns = [n for n, r in requests_since(mta.rec, start)
             if r["policy_context"] == "limit"]
    assert len(conns) == 5
    # smtpd_policy_service_request_limit = 2: 2 + 2 + 1.
    assert [conns.count(c) for c in sorted(set(conns))] == [2, 2, 1]


@pytest.mark.parametrize("local,code,text", [
    ("ok", 250, None),
    ("dunno", 250, None),
    ("reject", 554, "5.7.1 <reject@dest.test>: Recipient address rejected: "
                    "go away"),
    ("code5", 550, "5.7.9 <code5@dest.test>: Recipient address rejected: "
                   "custom refusal"),
    ("code4", 450, "4.7.9 <code4@dest.test>: Recipient address rejected: "
                   "come back later"),
    ("dip", 450, "4.7.1 <dip@dest.test>: Recipient address rejected: "
                 "not yet"),
    ("dir", 450, "4.7.1 <dir@dest.test>: Recipient address rejected: "
                 "maybe later"),
    ("redirect", 451, "4.3.0 Server configuration error"),
])
def test_policy_action_reply(mta, local, code, text):
    s = session(mta.ports["main"])
    assert s.mail("s@example.org")[0] == 250
    got, reply = s.rcpt("%s@dest.test" % local)
    s.quit()
    assert got == code, reply
    if text:
        assert reply.decode() == text
    if local == "redirect":
        assert wait_for(lambda: "action REDIRECT is not supported"
                        in log(mta))


def test_policy_defer_if_reject_needs_a_later_reject(mta):
    # dir@ is REJECTed by the access table after the policy server:
    # that reject became the 450 above; without DEFER_IF_REJECT the
    # same table's REJECT stands.
    s = session(mta.ports["main"])
    assert s.mail("s@example.org")[0] == 250
    got, reply = s.rcpt("dir@dest.test")
    assert got == 450, reply
    s.quit()
    s = session(mta.ports["stages"])
    assert s.mail("s@example.org")[0] == 250
    assert s.rcpt("dir@dest.test")[0] == 250  # nothing rejects: permitted
    s.quit()


def send_one(mta, rcpt, port=None, sender="s@example.org"):
    mid = "<%s@test>" % uuid.uuid4().hex
    s = session(port or mta.ports["main"])
    assert s.mail(sender)[0] == 250
    code, reply = s.rcpt(rcpt)
    assert code == 250, reply
    code, reply = s.data(message(mid))
    assert code == 250, reply
    s.quit()
    return mid, reply.decode()


def test_policy_prepend_puts_the_field_on_top(mta):
    mid, _ = send_one(mta, "prepend@dest.test")
    got = delivered(mta, mid)
    assert got is not None, log(mta)
    head = got[1].split(b"\r\n\r\n", 1)[0]
    # Above smtpd's Received: (as Postfix); only what cleanup adds at
    # the end of the message (Authentication-Results) goes above it.
    assert b"\r\nX-Policy: tagged by the policy server\r\nReceived: " \
        in head, head
    assert head.count(b"X-Policy:") == 1


def test_policy_hold_keeps_the_message_in_the_hold_queue(mta):
    mid, reply = send_one(mta, "hold@dest.test")
    qid = reply.split()[-1]
    r = subprocess.run([bin_path("postelqueue"), "-c", mta.confdir, "-j"],
                       capture_output=True, text=True)
    held = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    assert any(m["queue_id"] == qid and m["queue_name"] == "hold"
               for m in held), (reply, r.stdout)
    time.sleep(1)
    assert delivered(mta, mid, timeout=0.5) is None


def test_policy_discard_accepts_and_drops(mta):
    mid, _ = send_one(mta, "discard@dest.test")
    assert wait_for(lambda: re.search(r"discard: .*dropped", log(mta)))
    time.sleep(1)
    assert delivered(mta, mid, timeout=0.5) is None


def test_policy_server_that_hangs_gets_the_default_action(mta):
    s = session(mta.ports["hang"])
    assert s.mail("s@example.org")[0] == 250
    t0 = time.monotonic()
    code, reply = s.rcpt("ok@dest.test")
    took = time.monotonic() - t0
    s.quit()
    assert code == 451, reply
    assert reply.decode() == ("4.3.5 <ok@dest.test>: Recipient address "
                              "rejected: Server configuration problem")
    # Two tries (smtpd_policy_service_try_limit) of 2 s each, 1 s apart.
    assert 4 <= took < 30, took
    name = "inet:127.0.0.1:%d" % mta.hang.port
    assert wait_for(lambda: "problem talking to policy server %s: read "
                    "from %s: Connection timed out" % (name, name)
                    in log(mta)), log(mta)
    assert wait_for(lambda: "policy server %s: no usable reply after 2 "
                    "tries; using default action \"451 4.3.5 Server "
                    "configuration problem\"" % name in log(mta)), log(mta)


def test_policy_server_that_sends_garbage_gets_the_default_action(mta):
    s = session(mta.ports["garbage"])
    assert s.mail("s@example.org")[0] == 250
    code, reply = s.rcpt("ok@dest.test")
    s.quit()
    assert code == 451, reply
    name = "inet:127.0.0.1:%d" % mta.garbage.port
    assert wait_for(lambda: "problem talking to policy server %s: reply "
                    "line is not name=value from %s" % (name, name)
                    in log(mta)), log(mta)


def test_policyd_spf_rejects_spf_fail(mta):
    s = session(mta.ports["spf"])
    assert s.mail("s@spffail.test")[0] == 250
    code, reply = s.rcpt("x@dest.test")
    s.quit()
    assert code == 550, reply
    assert reply.decode().startswith("5.7.23 <x@dest.test>: Recipient "
                                     "address rejected: Message rejected "
                                     "due to: SPF fail"), reply


def test_policyd_spf_pass_is_annotated_with_received_spf(mta):
    mid, _ = send_one(mta, "x@dest.test", mta.ports["spf"],
                      "s@spfpass.test")
    got = delivered(mta, mid)
    assert got is not None, log(mta)
    head = got[1].split(b"\r\n\r\n", 1)[0].decode()
    fields = [l for l in head.split("\r\n") if l.startswith("Received-SPF:")]
    assert fields == [
        "Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=%s; "
        "helo=client.example.test; envelope-from=s@spfpass.test; "
        "receiver=dest.test" % OUTSIDE], head
    # policyd-spf's field sits right above smtpd's Received:, as in Postfix.
    assert "\r\n%s\r\nReceived: from client.example.test" % fields[0] \
        in head, head
