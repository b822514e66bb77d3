# Milters on SMTP mail (smtpd_milters): smtpd runs connect, HELO, MAIL,
# RCPT, DATA and unknown commands through each milter as the client
# sends them and answers with the milter's verdict; cleanup runs the
# content stages on the same connections.  Peers: the python3-milter test
# milter of test_milter.py (tests/integration/milter_peer.py), Debian's
# OpenDKIM and Debian's rspamd (its proxy worker in milter mode, started
# by the test with a throw-away configuration).  A real SMTP client
# (smtplib) talks to a real instance; mail is checked at an aiosmtpd sink
# and in the log.
#
# SPDX-License-Identifier: ISC
import base64
import os
import shutil
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import free_port, missing_module, wait_for
from test_milter import MSG, Garbage, Peer, Sink, header_of

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None

pytestmark = pytest.mark.needs("aiosmtpd", "pymilter")

CRLF_MSG = MSG.replace(b"\n", b"\r\n")


class Site:
    """smtpd -> cleanup -> qmgr -> smtp -> sink, with smtpd_milters."""

    def __init__(self, instance, workdir, milters, main=None, smtpd_opts="",
                 before_start=None):
        self.instance = instance
        self.sink = Sink()
        self.sink_port = free_port()
        self.ctl = Controller(self.sink, hostname="127.0.0.1",
                              port=self.sink_port)
        self.ctl.start()
        self.port = free_port()
        self.maillog = os.path.join(workdir, "maillog")
        settings = {
            "myhostname": "mta.example.com",
            "mydomain": "example.com",
            "mydestination": "",
            "relayhost": "[127.0.0.1]:%d" % self.sink_port,
            "mynetworks": "127.0.0.0/8",
            "maillog_file": self.maillog,
            "smtpd_error_sleep_time": "0",
            "smtp_connect_timeout": "5s",
            "smtpd_milters": milters,
            "milter_connect_timeout": "5s",
            "milter_command_timeout": "5s",
            "milter_content_timeout": "5s",
        }
        settings.update(main or {})
        instance.write_config(main=settings, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            ("127.0.0.1:%d inet n - y - - smtpd" % self.port) + smtpd_opts,
            "cleanup unix n - y - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
        if os.geteuid() == 0:
            instance.set_permissions()
        if before_start:
            before_start()
        instance.start()
        assert wait_for(lambda: _listening(self.port), 20), self.log()

    def client(self):
        c = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
        return c

    def send(self, data=CRLF_MSG, rcpts=("you@remote.test",),
             sender="me@example.com", mail_options=()):
        """One transaction; the (code, text) of the final reply."""
        c = self.client()
        try:
            c.ehlo("client.test")
            code, text = c.mail(sender, list(mail_options))
            if code != 250:
                return code, text
            ok = 0
            for r in rcpts:
                code, text = c.rcpt(r)
                ok += code == 250
            if not ok:
                return code, text
            return c.data(data)
        finally:
            try:
                c.quit()
            except (smtplib.SMTPException, OSError):
                pass

    def relayed(self, count=1, timeout=30):
        assert wait_for(lambda: len(self.sink.messages) >= count, timeout), \
            self.log()
        return self.sink.messages[count - 1]

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=30):
        assert wait_for(lambda: text in self.log(), timeout), self.log()

    def close(self):
        self.ctl.stop()


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def site(instance, workdir):
    made = []

    def make(milters, **kw):
        s = Site(instance, workdir, milters, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


@pytest.fixture
def peer(workdir):
    made = []

    def make(action, **kw):
        p = Peer(workdir, action, **kw)
        made.append(p)
        return p
    yield make
    for p in made:
        p.stop()


def fresh(p):
    """Forget what the milter saw while the site started (port probes)."""
    time.sleep(0.3)
    try:
        os.remove(p.record)
    except FileNotFoundError:
        pass


def stages_of(p):
    return [e["stage"] for e in p.events()]


# ---------------------------------------------------------------------------
# the conversation

def test_smtpd_milter_sees_each_command_with_macros(site, peer):
    p = peer("none")
    s = site(p.spec, main={
        "milter_connect_macros": "j {daemon_name} v _ {client_addr} "
                                 "{client_name} {client_port}",
        "milter_rcpt_macros": "{rcpt_addr} {rcpt_host} {rcpt_mailer}",
        "milter_mail_macros": "{mail_addr} {mail_host} {mail_mailer}"})
    fresh(p)
    code, text = s.send(mail_options=("SIZE=200", "BODY=8BITMIME"))
    assert code == 250, text
    qid = text.decode().split("queued as ")[-1].strip()
    s.relayed()
    ev = [e for e in p.events() if e["stage"] not in ("close", "abort")]
    stages = [e["stage"] for e in ev]
    assert stages[:5] == ["connect", "helo", "mail", "rcpt", "data"], stages
    assert stages[-3:] == ["eoh", "body", "eom"], stages
    host, addr, macros = ev[0]["values"]
    assert "127.0.0.1" in addr
    assert macros["j"] == "mta.example.com"
    assert macros["{daemon_name}"] == "mta.example.com"
    assert macros["v"] == "Postel"
    assert macros["{client_addr}"] == "127.0.0.1"
    assert macros["{client_port}"].isdigit()
    assert macros["_"].endswith("[127.0.0.1]")
    assert ev[1]["values"][0] == "client.test"
    mail = ev[2]["values"]
    assert mail[0] == "<me@example.com>"
    assert mail[1] == ["SIZE=200", "BODY=8BITMIME"], mail
    assert mail[2]["{mail_addr}"] == "me@example.com"
    assert mail[2]["{mail_host}"] == "example.com"
    rcpt = ev[3]["values"]
    assert rcpt[0] == "<you@remote.test>"
    assert rcpt[1]["{rcpt_addr}"] == "you@remote.test"
    assert rcpt[1]["{rcpt_host}"] == "remote.test"
    assert rcpt[1]["{rcpt_mailer}"] == "smtp"
    # cleanup's end of message: the queue ID smtpd's client was told
    assert ev[-1]["values"][0]["i"] == qid
    assert stages.count("connect") == 1


def test_smtpd_milter_skipped_stages_are_not_sent(site, peer):
    p = peer("addheader", skip="hello,envrcpt,header,body")
    s = site(p.spec)
    fresh(p)
    code, _ = s.send()
    assert code == 250
    _, _, content = s.relayed()
    stages = stages_of(p)
    for skipped in ("helo", "rcpt", "header", "body"):
        assert skipped not in stages, stages
    assert "mail" in stages and "eom" in stages
    assert "X-Milter-peer: added by peer" in header_of(content)


def test_smtpd_milter_session_with_two_messages_and_rset(site, peer):
    """The connection survives cleanup's content stages: a second
    message (after RSET) in the same SMTP session is milter'ed too."""
    p = peer("addheader")
    s = site(p.spec)
    fresh(p)
    c = s.client()
    try:
        c.ehlo("client.test")
        for n in range(2):
            assert c.mail("me@example.com")[0] == 250
            assert c.rcpt("you@remote.test")[0] == 250
            if n == 0:
                assert c.rset()[0] == 250
                assert c.mail("me@example.com")[0] == 250
                assert c.rcpt("you@remote.test")[0] == 250
            assert c.data(CRLF_MSG)[0] == 250
    finally:
        c.quit()
    for n in (1, 2):
        _, _, content = s.relayed(n)
        assert "X-Milter-peer: added by peer" in header_of(content)
    assert wait_for(lambda: "close" in stages_of(p), 10)
    stages = stages_of(p)
    assert stages.count("connect") == 1, stages
    assert stages.count("eom") == 2, stages
    assert "abort" in stages, stages


# ---------------------------------------------------------------------------
# verdicts at each command

REPLIES = {
    "reject": (550, "5.7.1 Command rejected"),
    "tempfail": (451, "4.7.1 Service unavailable - try again later"),
    "custom": (554, "5.7.9 refused at %s\n5.7.9 second line"),
}


@pytest.mark.parametrize("verdict", ["reject", "tempfail", "custom"])
@pytest.mark.parametrize("stage", ["connect", "helo", "mail", "rcpt",
                                   "data", "unknown"])
def test_smtpd_milter_verdict_at_command(site, peer, stage, verdict):
    p = peer("%s@%s" % (verdict, stage))
    s = site(p.spec)
    fresh(p)
    code, text = REPLIES[verdict]
    if "%s" in text:
        text = text % stage
    c = s.client()
    try:
        got = {}
        got["helo"] = c.ehlo("client.test")
        got["mail"] = got["connect"] = c.mail("me@example.com")
        if got["mail"][0] == 250:
            got["rcpt"] = c.rcpt("bad@remote.test")
            if stage == "rcpt":
                assert c.rcpt("good@remote.test")[0] == 250
            got["data"] = c.docmd("DATA")
            if got["data"][0] == 354:
                c.send(CRLF_MSG + b".\r\n")
                c.getreply()
        got["unknown"] = c.docmd("XYZZY")
        assert got[stage] == (code, text.encode()), got
    finally:
        c.close()
    where = {"connect": "CONNECT", "helo": "EHLO", "mail": "MAIL",
             "rcpt": "RCPT", "data": "DATA", "unknown": "UNKNOWN"}[stage]
    s.wait_log("milter-reject: %s from " % where)
    if stage == "rcpt":
        # only the refused recipient: the message went to the other one
        _, rcpts, _ = s.relayed()
        assert rcpts == ["good@remote.test"]
    elif stage in ("unknown", "helo"):
        pass  # refuses only that command
    else:
        time.sleep(1)
        assert s.sink.messages == []


@pytest.mark.parametrize("rcpt_rej", [False, True])
def test_smtpd_milter_recipient_refused_by_smtpd(site, peer, rcpt_rej):
    """A recipient smtpd refuses itself is sent only to a milter that
    negotiated SMFIP_RCPT_REJ, with {rcpt_mailer} error; the message
    goes on to the other recipient either way."""
    p = peer("none", extra=["--rcpt-rej"] if rcpt_rej else [])
    s = site(p.spec, main={"smtpd_recipient_restrictions":
                           "check_recipient_access inline:{ "
                           "nobody@remote.test=REJECT }, permit"})
    fresh(p)
    code, _ = s.send(rcpts=("nobody@remote.test", "you@remote.test"))
    assert code == 250
    _, rcpts, _ = s.relayed()
    assert rcpts == ["you@remote.test"]
    seen = [e["values"] for e in p.events() if e["stage"] == "rcpt"]
    if rcpt_rej:
        assert [v[0] for v in seen] == ["<nobody@remote.test>",
                                        "<you@remote.test>"], seen
        assert seen[0][1]["{rcpt_mailer}"] == "error"
        assert seen[1][1]["{rcpt_mailer}"] == "smtp"
    else:
        assert [v[0] for v in seen] == ["<you@remote.test>"], seen


def test_smtpd_milter_reject_at_first_bdat(site, peer):
    """With BDAT the data stage is the first chunk: its reply is the
    milter's, the chunk is read and dropped, the session goes on."""
    s = site(peer("reject@data").spec)
    sock = socket.create_connection(("127.0.0.1", s.port), 30)
    f = sock.makefile("rb")

    def reply():
        lines = []
        while True:
            line = f.readline()
            assert line, lines
            lines.append(line)
            if line[3:4] == b" ":
                return lines
    try:
        reply()
        sock.sendall(b"EHLO client.test\r\n")
        assert b"CHUNKING" in b"".join(reply())
        sock.sendall(b"MAIL FROM:<me@example.com>\r\n")
        assert reply()[0].startswith(b"250")
        sock.sendall(b"RCPT TO:<you@remote.test>\r\n")
        assert reply()[0].startswith(b"250")
        sock.sendall(b"BDAT %d LAST\r\n" % len(CRLF_MSG) + CRLF_MSG)
        assert reply() == [b"550 5.7.1 Command rejected\r\n"]
        sock.sendall(b"NOOP\r\n")
        assert reply()[0].startswith(b"250")
    finally:
        sock.close()
    s.wait_log("milter-reject: BDAT from ")
    time.sleep(1)
    assert s.sink.messages == []


def test_smtpd_milter_off_with_receive_override_no_milters(site, peer):
    """receive_override_options=no_milters on the smtpd service (a
    content filter's re-injection listener): no milter conversation."""
    p = peer("reject@mail")
    s = site(p.spec,
             smtpd_opts=" -o receive_override_options=no_milters")
    fresh(p)
    assert s.send()[0] == 250
    s.relayed()
    assert "mail" not in stages_of(p) and "connect" not in stages_of(p)


def test_smtpd_milter_discard_at_mail(site, peer):
    s = site(peer("discard@mail").spec)
    code, _ = s.send()
    assert code == 250
    s.wait_log("milter-discard: MAIL from ")
    s.wait_log("discard")
    time.sleep(1)
    assert s.sink.messages == []


def test_smtpd_milter_accept_at_mail_skips_the_message(site, peer):
    p = peer("accept@mail")
    s = site(p.spec)
    fresh(p)
    assert s.send()[0] == 250
    s.relayed()
    assert "eom" not in stages_of(p) and "rcpt" not in stages_of(p)


# ---------------------------------------------------------------------------
# end of message (cleanup's part on smtpd's connections)

def test_smtpd_milter_reject_at_end_of_message(site, peer):
    s = site(peer("reject").spec)
    code, text = s.send()
    assert (code, text) == (550, b"5.7.1 message refused by test milter")
    s.wait_log("milter-reject: END-OF-MESSAGE from ")
    time.sleep(1)
    assert s.sink.messages == []


def test_smtpd_milter_tempfail_at_end_of_message(site, peer):
    s = site(peer("tempfail").spec)
    code, _ = s.send()
    assert code == 451
    time.sleep(1)
    assert s.sink.messages == []


def test_smtpd_milter_discard_at_end_of_message(site, peer):
    s = site(peer("discard").spec)
    assert s.send()[0] == 250
    s.wait_log("milter-discard: END-OF-MESSAGE")
    time.sleep(1)
    assert s.sink.messages == []


@pytest.mark.parametrize("action,check", [
    ("addheader", lambda m: "X-Milter-peer: added by peer"
     in header_of(m[2])),
    ("insheader", lambda m: header_of(m[2]).startswith(
        "X-Milter-Top: inserted\r\n")),
    ("chgheader", lambda m: "Subject: changed subject" in header_of(m[2])),
    ("delheader", lambda m: "X-Remove-Me" not in header_of(m[2])),
    ("replbody", lambda m: m[2].endswith(b"\r\n\r\nreplaced body line\r\n")),
    ("chgfrom", lambda m: m[0] == "changed@example.com"),
])
def test_smtpd_milter_modification(site, peer, action, check):
    s = site(peer(action).spec)
    assert s.send()[0] == 250
    m = s.relayed()
    assert check(m), m


def test_smtpd_milter_multiline_reply_at_end_of_message(site, peer):
    s = site(peer("reject_multiline").spec)
    code, text = s.send()
    assert (code, text) == (550, b"5.7.0 first line\n5.7.0 second line")


def test_smtpd_milter_quarantine_holds_smtp_mail(site, peer, instance):
    s = site(peer("quarantine").spec)
    code, text = s.send()
    assert code == 250, text
    s.wait_log("milter-hold: END-OF-MESSAGE from ")
    assert "suspicious content" in s.log()
    held = os.path.join(instance.queue, "hold")
    assert wait_for(lambda: any(files for _, _, files in os.walk(held)),
                    30), s.log()
    assert s.sink.messages == []


def test_smtpd_milter_add_recipient_with_esmtp_args(site, peer):
    s = site(peer("addrcpt_par").spec)
    assert s.send()[0] == 250
    wait_for(lambda: sum(len(m[1]) for m in s.sink.messages) >= 2, 30)
    rcpts = sorted(r for m in s.sink.messages for r in m[1])
    assert rcpts == ["added2@remote.test", "you@remote.test"], s.log()


def test_smtpd_milter_add_and_delete_recipients(site, peer):
    s = site("%s, %s" % (peer("addrcpt", tag="one").spec,
                         peer("delrcpt", tag="two").spec))
    assert s.send(rcpts=("you@remote.test", "gone@remote.test"))[0] == 250
    wait_for(lambda: sum(len(m[1]) for m in s.sink.messages) >= 2, 30)
    time.sleep(1)
    rcpts = sorted(r for m in s.sink.messages for r in m[1])
    assert rcpts == ["added@remote.test", "you@remote.test"], s.log()


def test_smtpd_two_milters_in_a_row_second_sees_first_ones_changes(site,
                                                                   peer):
    first = peer("chgheader", tag="one")
    second = peer("addheader", tag="two")
    s = site("%s, %s" % (first.spec, second.spec))
    assert s.send()[0] == 250
    _, _, content = s.relayed()
    head = header_of(content)
    assert "Subject: changed subject" in head
    assert "X-Milter-two: added by two" in head
    seen = [e["values"] for e in second.events() if e["stage"] == "header"]
    assert ["Subject", "changed subject"] in seen, seen
    # both saw the SMTP commands, each on its own connection
    for p in (first, second):
        assert "mail" in stages_of(p) and "rcpt" in stages_of(p)


# ---------------------------------------------------------------------------
# broken milters

def broken(peer, kind):
    if kind == "down":
        return "inet:127.0.0.1:%d" % free_port(), None
    if kind == "hung":
        return peer("hang").spec, None
    g = Garbage()
    return "inet:127.0.0.1:%d" % g.port, g


@pytest.mark.parametrize("kind", ["down", "hung", "garbage"])
def test_smtpd_broken_milter_default_tempfail(site, peer, kind):
    spec, g = broken(peer, kind)
    s = site(spec, main={"milter_default_action": "tempfail",
                         "milter_command_timeout": "2s"})
    try:
        code, text = s.send()
        assert code == 451, (code, text)
        s.wait_log("milter %s: " % spec)
        s.wait_log("default_action=tempfail")
        time.sleep(1)
        assert s.sink.messages == []
    finally:
        if g:
            g.close()


@pytest.mark.parametrize("kind", ["down", "hung", "garbage"])
def test_smtpd_broken_milter_default_accept(site, peer, kind):
    spec, g = broken(peer, kind)
    s = site(spec, main={"milter_default_action": "accept",
                         "milter_command_timeout": "2s"})
    try:
        code, text = s.send()
        assert code == 250, (code, text)
        _, _, content = s.relayed()
        assert "Subject: milter test" in header_of(content)
        s.wait_log("milter %s: " % spec)
        assert "default_action=accept" in s.log()
    finally:
        if g:
            g.close()


def test_smtpd_milter_late_reply_after_content_timeout_is_not_misread(
        site, peer):
    """cleanup gives up on a milter at end of message; the reply the
    milter sends later must not become the answer to smtpd's next
    command on the same connection: the milter counts as failed for the
    rest of the session and gets its default action."""
    p = peer("slow_reject")
    s = site(p.spec, main={"milter_default_action": "accept",
                           "milter_content_timeout": "2s"})
    c = s.client()
    try:
        c.ehlo("client.test")
        for n in range(2):
            assert c.mail("me@example.com") == (250, b"2.1.0 Ok"), n
            assert c.rcpt("you@remote.test")[0] == 250
            code, text = c.data(CRLF_MSG)
            assert code == 250, (n, code, text)
    finally:
        c.quit()
    s.relayed(2)
    s.wait_log("milter %s: " % p.spec)
    assert "late refusal" not in s.log()


def test_smtpd_broken_milter_default_reject(site, peer):
    spec, _ = broken(peer, "down")
    s = site(spec, main={"milter_default_action": "reject"})
    code, text = s.send()
    assert (code, text) == (550, b"5.7.1 Command rejected")
    s.wait_log("default_action=reject")


# ---------------------------------------------------------------------------
# OpenDKIM in smtpd_milters

@pytest.mark.needs("opendkim", "dkimpy", "dnslib", "openssl")
def test_opendkim_signs_smtp_mail_as_smtpd_milter(site, workdir):
    import dkim
    from dnsserver import DNSServer, query
    key = os.path.join(workdir, "dkim.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", key,
                    "-pkeyopt", "rsa_keygen_bits:2048"], check=True,
                   capture_output=True, timeout=60)
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True, timeout=60).stdout
    txt = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    os.chmod(key, 0o600)
    port = free_port()
    conf = os.path.join(workdir, "opendkim.conf")
    with open(conf, "w") as f:
        f.write("Mode s\nSyslog no\nDomain example.com\nSelector sel\n"
                "KeyFile %s\nSocket inet:%d@127.0.0.1\nPidFile %s\n"
                "Canonicalization relaxed/simple\nBackground no\n"
                "UserID root\nRequireSafeKeys no\n"
                "InternalHosts 127.0.0.0/8\n"
                % (key, port, os.path.join(workdir, "opendkim.pid")))
    proc = subprocess.Popen(["opendkim", "-x", conf, "-f"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: _listening(port), 20), \
            proc.stdout.read1(4096) if proc.poll() is not None else ""
        with DNSServer() as dns:
            dns.add("sel._domainkey.example.com", "TXT", txt)
            s = site("inet:127.0.0.1:%d" % port,
                     main={"smtpd_mail_auth_role": "none"})
            assert s.send()[0] == 250
            _, _, content = s.relayed()
            assert b"DKIM-Signature:" in content, content

            def lookup(name, timeout=5):
                if isinstance(name, bytes):
                    name = name.decode()
                reply = query(dns.address, name, "TXT")
                for rr in reply.rr:
                    return b"".join(rr.rdata.data)
                return None
            assert dkim.verify(content, dnsfunc=lookup), content
    finally:
        proc.kill()
        proc.wait(timeout=10)


# ---------------------------------------------------------------------------
# rspamd: Debian's rspamd with its proxy worker in milter mode (self_scan,
# no Redis), a throw-away configuration in a temporary folder, its DNS
# pointed at the loopback DNS server; started once for the module

GTUBE = (b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*"
         b"C.34X")

RSPAMD_CONF = """\
.include "$CONFDIR/common.conf"
options {
  pidfile = "$RUNDIR/rspamd.pid";
  dns { nameserver = ["%(dns)s"]; timeout = 1s; retransmits = 1; }
  local_addrs = ["192.0.2.255/32"];
  url_tld = "${SHAREDIR}/effective_tld_names.dat";
  control_socket = "$DBDIR/rspamd.sock mode=0600";
  cache_file = "$DBDIR/symbols.cache";
  history_file = "$DBDIR/rspamd.history";
  tempdir = "%(tmp)s";
}
logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "info"; }
worker "rspamd_proxy" {
  bind_socket = "127.0.0.1:%(port)d";
  milter = yes;
  upstream "local" { default = yes; self_scan = yes; }
  timeout = 120s;
  count = 1;
  spam_header = "X-Spam";
  reject_message = "Spam message rejected";
}
"""


class Rspamd:
    def __init__(self, top, dns):
        self.top = top
        self.port = free_port()
        for d in ("db", "run", "log", "tmp", "local/local.d",
                  "local/override.d"):
            os.makedirs(os.path.join(top, d), exist_ok=True)
        self.conf = os.path.join(top, "rspamd.conf")
        with open(self.conf, "w") as f:
            f.write(RSPAMD_CONF % {"dns": dns, "port": self.port,
                                   "tmp": os.path.join(top, "tmp")})
        # the headers rspamd adds through the milter, for every client
        with open(os.path.join(top, "local/local.d/milter_headers.conf"),
                  "w") as f:
            f.write('use = ["x-spamd-result", "x-rspamd-queue-id"];\n'
                    "skip_local = false;\nskip_authenticated = false;\n")
        # nothing that fetches from the network
        for m in ("fuzzy_check", "rbl", "asn", "rspamd_update", "neural",
                  "dcc", "phishing", "url_redirector"):
            with open(os.path.join(top, "local/override.d/%s.conf" % m),
                      "w") as f:
                f.write("enabled = false;\n")
        self.log = os.path.join(top, "log", "rspamd.log")
        self.proc = None
        self.start()

    @property
    def spec(self):
        return "inet:127.0.0.1:%d" % self.port

    def start(self):
        top = self.top
        self.proc = subprocess.Popen(
            ["rspamd", "-c", self.conf, "-f", "-i",
             "--var", "DBDIR=" + os.path.join(top, "db"),
             "--var", "RUNDIR=" + os.path.join(top, "run"),
             "--var", "LOGDIR=" + os.path.join(top, "log"),
             "--var", "LOCAL_CONFDIR=" + os.path.join(top, "local")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        up = wait_for(lambda: _listening(self.port)
                      or self.proc.poll() is not None, 120)
        if not up or self.proc.poll() is not None:
            self.stop()
            pytest.fail("rspamd did not come up: %s" % self.read_log()[-4000:],
                        pytrace=False)

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            out = self.proc.stdout.read1(65536) if self.proc else b""
            return out.decode(errors="replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc:
            self.proc.stdout.close()
        self.proc = None


@pytest.fixture(scope="module")
def rspamd(tmp_path_factory):
    from conftest import require
    require("rspamd", "dnslib")
    from dnsserver import DNSServer
    with DNSServer() as dns:
        r = Rspamd(str(tmp_path_factory.mktemp("rspamd")), dns.address)
        try:
            yield r
        finally:
            r.stop()


@pytest.mark.needs("rspamd", "dnslib")
def test_rspamd_rejects_gtube_at_data(site, rspamd):
    s = site(rspamd.spec)
    msg = CRLF_MSG + GTUBE + b"\r\n"
    code, text = s.send(data=msg)
    assert code == 554, (code, text, rspamd.read_log()[-3000:])
    assert b"Gtube pattern" in text or b"Spam message rejected" in text, \
        text
    s.wait_log("milter-reject: END-OF-MESSAGE from ")
    time.sleep(1)
    assert s.sink.messages == []


@pytest.mark.needs("rspamd", "dnslib")
def test_rspamd_adds_its_headers_to_clean_mail(site, rspamd):
    s = site(rspamd.spec)
    code, text = s.send()
    assert code == 250, (code, text)
    _, _, content = s.relayed()
    head = header_of(content)
    assert "X-Spamd-Result: default: False" in head, head
    assert "X-Rspamd-Queue-Id:" in head, head


@pytest.mark.needs("rspamd", "dnslib")
def test_rspamd_stopped_gets_the_default_action(site, rspamd):
    rspamd.stop()
    try:
        s = site(rspamd.spec, main={"milter_default_action": "tempfail"})
        code, text = s.send()
        assert code == 451, (code, text)
        s.wait_log("milter %s: " % rspamd.spec)
        s.wait_log("default_action=tempfail")
        assert s.sink.messages == []
    finally:
        rspamd.start()


# ---------------------------------------------------------------------------
# TLS macros

@pytest.mark.needs("openssl")
def test_smtpd_milter_gets_tls_macros_after_starttls(site, peer,
                                                    tmp_path_factory):
    import ssl
    from tlscerts import CA
    folder = str(tmp_path_factory.mktemp("pki"))
    os.chmod(folder, 0o755)
    ca = CA(folder)
    leaf = ca.issue("mx-rsa", ["mx.test", "localhost"])
    p = peer("none")
    s = site(p.spec, main={
        "smtpd_tls_security_level": "may",
        "smtpd_tls_chain_files": leaf[2],
        "milter_mail_macros": "{mail_addr} {tls_version} {cipher}"})
    fresh(p)
    c = s.client()
    try:
        c.ehlo("client.test")
        ctx = ssl.create_default_context(cafile=ca.cert)
        ctx.check_hostname = False
        c.starttls(context=ctx)
        c.ehlo("client.test")
        version = c.sock.version()
        cipher = c.sock.cipher()[0]
        assert c.mail("me@example.com")[0] == 250
        assert c.rcpt("you@remote.test")[0] == 250
        assert c.data(CRLF_MSG)[0] == 250
    finally:
        c.quit()
    mail = [e for e in p.events() if e["stage"] == "mail"][0]["values"][2]
    assert mail["{tls_version}"] == version, mail
    assert mail["{cipher}"] == cipher, mail


def _helo_macros(p):
    """The macros of the last HELO/EHLO the milter saw."""
    helos = [e for e in p.events() if e["stage"] == "helo"]
    assert helos, p.events()
    return helos[-1]["values"][1]


@pytest.mark.needs("openssl")
def test_smtpd_milter_gets_client_certificate_names(site, peer,
                                                   tmp_path_factory):
    # Postfix's default milter_helo_macros carry {cert_subject} and
    # {cert_issuer}: the CNs of a client certificate whose chain verified,
    # sent with the EHLO after STARTTLS.
    import ssl
    from tlscerts import CA
    folder = str(tmp_path_factory.mktemp("pki"))
    os.chmod(folder, 0o755)
    ca = CA(folder)
    leaf = ca.issue("mx-rsa", ["mx.test", "localhost"])
    client = ca.issue("client", ["client.example.test"])
    p = peer("none")
    s = site(p.spec, main={
        "smtpd_tls_security_level": "may",
        "smtpd_tls_chain_files": leaf[2],
        "smtpd_tls_ask_ccert": "yes",
        "smtpd_tls_CAfile": ca.cert})

    def session(cert):
        fresh(p)
        ctx = ssl.create_default_context(cafile=ca.cert)
        ctx.check_hostname = False
        if cert:
            ctx.load_cert_chain(cert[1], cert[0])
        c = s.client()
        try:
            c.ehlo("client.test")
            c.starttls(context=ctx)
            c.ehlo("client.test")
            assert c.mail("me@example.com")[0] == 250
            c.rset()
        finally:
            c.quit()
        return _helo_macros(p)

    got = session(client)
    assert got.get("{cert_subject}") == "client.example.test", got
    assert got.get("{cert_issuer}") == "Postel Test CA", got
    assert got.get("{tls_version}"), got
    got = session(None)
    assert "{cert_subject}" not in got and "{cert_issuer}" not in got, got
    assert got.get("{tls_version}"), got


@pytest.mark.needs("saslpasswd2", "sasl_sasldb", "sasl_mechs")
@pytest.mark.filterwarnings("ignore:Requiring AUTH")
def test_smtpd_milter_gets_auth_macros_after_sasl_login(site, peer, instance,
                                                       workdir):
    # Postfix's default milter_mail_macros: {auth_type}, {auth_authen} and,
    # with MAIL FROM AUTH=, {auth_author}.
    import pwd
    from test_sasl import PASSWORD, USER, make_sasldb
    p = peer("none")
    s = site(p.spec, main={
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_tls_auth_only": "no",
        "cyrus_sasl_config_path": make_sasldb(workdir, instance.queue,
                                              realm="mta.example.com")},
        before_start=lambda: os.geteuid() == 0 and os.chown(
            os.path.join(instance.queue, "etc", "sasldb2"),
            pwd.getpwnam("postel").pw_uid, pwd.getpwnam("postel").pw_gid))
    fresh(p)
    c = s.client()
    try:
        c.ehlo("client.test")
        c.user, c.password = USER, PASSWORD
        assert c.auth("PLAIN", c.auth_plain)[0] == 235
        assert c.mail("me@example.com")[0] == 250
        c.rset()
        assert c.mail("me@example.com", ["AUTH=<other@example.com>"])[0] \
            == 250
        c.rset()
    finally:
        c.quit()
    mails = [e["values"][2] for e in p.events() if e["stage"] == "mail"]
    assert len(mails) == 2, p.events()
    for m in mails:
        assert m.get("{auth_type}") == "PLAIN", m
        assert m.get("{auth_authen}") == USER, m
    assert "{auth_author}" not in mails[0], mails[0]
    # As Postfix: the AUTH= value as the client sent it.
    assert mails[1].get("{auth_author}") == "<other@example.com>", mails[1]
