# Milters on local submission (non_smtpd_milters, run by cleanup): a test
# milter written with Debian's python3-milter (tests/integration/
# milter_peer.py) performs one action per test; the message goes through
# sendmail -> pickup -> cleanup -> qmgr -> smtp to an aiosmtpd sink, and
# the outcome is checked at the sink, in postelcat and in the log.  The
# milter records what it received, so stages skipped by negotiation can be
# seen not to arrive.  Down, hung and garbage-speaking milters get
# milter_default_action.  OpenDKIM signs as a milter and dkimpy verifies.
#
# SPDX-License-Identifier: ISC
import base64
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import (bin_path, close_listener, free_port, missing_module,
                      wait_for)

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None

pytestmark = pytest.mark.needs("aiosmtpd", "pymilter")

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, where python3-milter lives


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content or envelope.content))
        return "250 2.0.0 Ok"


class Peer:
    """One milter_peer.py process on an inet socket."""

    def __init__(self, workdir, action, skip="", tag="peer", extra=()):
        self.port = free_port()
        self.record = os.path.join(workdir, "milter-%s-%d.jsonl"
                                   % (tag, self.port))
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(HERE, "milter_peer.py"),
             "inet:%d@127.0.0.1" % self.port, self.record, action,
             "--skip", skip, "--tag", tag] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert wait_for(self.listening, timeout=20), "milter did not start"

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        except OSError:
            return False

    @property
    def spec(self):
        return "inet:127.0.0.1:%d" % self.port

    def events(self):
        try:
            with open(self.record) as f:
                return [json.loads(l) for l in f]
        except FileNotFoundError:
            return []

    def stages(self, all=False):
        """Stages received (without libmilter's close unless all)."""
        return [e["stage"] for e in self.events()
                if all or e["stage"] not in ("close", "abort")]

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


class Site:
    def __init__(self, instance, workdir, milters, main=None):
        self.instance = instance
        self.workdir = workdir
        self.sink = Sink()
        self.sink_port = free_port()
        self.ctl = Controller(self.sink, hostname="127.0.0.1",
                              port=self.sink_port)
        self.ctl.start()
        self.maillog = os.path.join(workdir, "maillog")
        settings = {
            "myhostname": "mta.example.com",
            "mydomain": "example.com",
            "mydestination": "",
            "relayhost": "[127.0.0.1]:%d" % self.sink_port,
            "maillog_file": self.maillog,
            "smtp_connect_timeout": "5s",
            "non_smtpd_milters": milters,
            "milter_connect_timeout": "5s",
            "milter_command_timeout": "5s",
            "milter_content_timeout": "5s",
        }
        settings.update(main or {})
        instance.write_config(main=settings, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "pickup unix n - y 60 1 pickup",
            "cleanup unix n - y - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
        instance.start()
        assert wait_for(lambda: os.path.exists(
            instance.unix_path("pickup", private=False)))

    def sendmail(self, data, rcpts=("you@remote.test",),
                 sender="me@example.com"):
        r = subprocess.run([bin_path("sendmail"), "-C",
                            self.instance.confdir, "-i", "-f", sender]
                           + list(rcpts), input=data, capture_output=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        return r

    def relayed(self, count=1, timeout=30):
        assert wait_for(lambda: len(self.sink.messages) >= count, timeout), \
            self.log() + self.queue_state()
        return self.sink.messages[count - 1]

    def queue_state(self):
        """Where each queue file is, with its mtime (a deferred file's
        next attempt), for a failure message: a message that was never
        relayed shows whether qmgr took it."""
        now = time.time()
        lines = ["queue at %.3f:" % now]
        for queue in ("maildrop", "incoming", "active", "deferred", "hold",
                      "corrupt"):
            base = os.path.join(self.instance.queue, queue)
            for root, _, names in os.walk(base):
                for n in names:
                    path = os.path.join(root, n)
                    try:
                        st = os.lstat(path)
                    except OSError:
                        continue
                    lines.append("  %s mtime=%.3f (now%+.3f) uid=%d" % (
                        os.path.relpath(path, self.instance.queue),
                        st.st_mtime, st.st_mtime - now, st.st_uid))
        return "\n".join(lines) + "\n"

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=30):
        assert wait_for(lambda: text in self.log(), timeout), self.log()

    def queue_ids(self, queue):
        path = os.path.join(self.instance.queue, queue)
        if not os.path.isdir(path):
            return []
        out = []
        for root, _, names in os.walk(path):
            out.extend(n for n in names if "." not in n)
        return out

    def postelcat(self, qid):
        r = subprocess.run([bin_path("postelcat"), "-c",
                            self.instance.confdir, "-q", qid],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout.decode("latin-1")

    def close(self):
        self.ctl.stop()


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


MSG = (b"From: Me <me@example.com>\nTo: you@remote.test\n"
       b"Subject: milter test\nX-Remove-Me: please\n\nbody line\n")


def header_of(content):
    return content.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def body_of(content):
    return content.split(b"\r\n\r\n", 1)[1]


# ---------------------------------------------------------------------------
# the conversation

def test_milter_sees_the_whole_local_conversation_with_macros(site, peer):
    p = peer("none")
    s = site(p.spec)
    s.sendmail(MSG)
    s.relayed()
    ev = [e for e in p.events() if e["stage"] != "close"]
    stages = [e["stage"] for e in ev]
    assert stages[:4] == ["connect", "helo", "mail", "rcpt"], stages
    assert stages[-3:] == ["eoh", "body", "eom"], stages
    assert "data" in stages
    connect = ev[0]["values"]
    assert connect[0] == "localhost"
    assert connect[2]["j"] == "mta.example.com"
    assert connect[2]["{daemon_name}"] == "mta.example.com"
    assert connect[2]["v"] == "Postel"
    assert ev[1]["values"][0] == "localhost"
    mail = ev[2]
    assert mail["values"][0] == "<me@example.com>"
    assert mail["values"][2]["{mail_addr}"] == "me@example.com"
    qid = mail["values"][2]["i"]
    assert ev[3]["values"][0] == "<you@remote.test>"
    assert ev[3]["values"][1]["{rcpt_addr}"] == "you@remote.test"
    headers = [e["values"] for e in ev if e["stage"] == "header"]
    names = [h[0] for h in headers]
    assert names[0] == "Received" and "Subject" in names, names
    assert ["Subject", "milter test"] in headers
    assert ev[-1]["values"][0]["i"] == qid
    assert b"body line" in [e for e in ev if e["stage"] == "body"][0][
        "values"][0].encode("latin-1")


def test_receive_override_no_milters_turns_non_smtpd_milters_off(site,
                                                                  peer):
    p = peer("addheader")
    s = site(p.spec, main={"receive_override_options": "no_milters"})
    s.sendmail(MSG)
    _, _, content = s.relayed()
    assert "X-Milter-peer" not in header_of(content)
    assert p.stages() == []


def test_milter_skipped_stages_are_not_sent(site, peer):
    p = peer("addheader", skip="hello,header,body")
    s = site(p.spec)
    s.sendmail(MSG)
    _, _, content = s.relayed()
    stages = p.stages()
    assert "helo" not in stages and "header" not in stages \
        and "body" not in stages, stages
    assert stages[0] == "connect" and stages[-1] == "eom", stages
    assert "X-Milter-peer: added by peer" in header_of(content)


# ---------------------------------------------------------------------------
# one test per modification

def test_milter_add_header(site, peer):
    s = site(peer("addheader").spec)
    s.sendmail(MSG)
    _, _, content = s.relayed()
    head = header_of(content)
    assert head.endswith("X-Milter-peer: added by peer"), head
    assert "queue file rewritten after milter changes" in s.log()


def test_milter_add_folded_header_keeps_crlf_folding(site, peer):
    s = site(peer("addheader_folded").spec)
    s.sendmail(MSG)
    _, _, content = s.relayed()
    assert "X-Folded: first\r\n\tsecond" in header_of(content)


def test_milter_insert_header_on_top(site, peer):
    s = site(peer("insheader").spec)
    s.sendmail(MSG)
    _, _, content = s.relayed()
    assert header_of(content).startswith("X-Milter-Top: inserted\r\n")


def test_milter_change_header(site, peer):
    s = site(peer("chgheader").spec)
    s.sendmail(MSG)
    _, _, content = s.relayed()
    head = header_of(content)
    assert "Subject: changed subject" in head
    assert "milter test" not in head


def test_milter_delete_header(site, peer):
    s = site(peer("delheader").spec)
    s.sendmail(MSG)
    _, _, content = s.relayed()
    assert "X-Remove-Me" not in header_of(content)
    assert "Subject: milter test" in header_of(content)


def test_milter_replace_body(site, peer):
    s = site(peer("replbody").spec)
    s.sendmail(MSG)
    _, _, content = s.relayed()
    assert body_of(content) == b"replaced body line\r\n"


def test_milter_add_recipient(site, peer):
    s = site(peer("addrcpt").spec)
    s.sendmail(MSG)
    wait_for(lambda: sum(len(m[1]) for m in s.sink.messages) >= 2, 30)
    rcpts = sorted(r for m in s.sink.messages for r in m[1])
    assert rcpts == ["added@remote.test", "you@remote.test"], s.log()


def test_milter_add_recipient_with_esmtp_args(site, peer):
    s = site(peer("addrcpt_par").spec)
    s.sendmail(MSG)
    wait_for(lambda: sum(len(m[1]) for m in s.sink.messages) >= 2, 30)
    rcpts = sorted(r for m in s.sink.messages for r in m[1])
    assert rcpts == ["added2@remote.test", "you@remote.test"], s.log()


def test_milter_add_recipient_args_reach_the_queue_file(site, peer):
    """NOTIFY=NEVER of the added recipient is in the queue file (N)."""
    s = site(peer("addrcpt_par").spec, main={"relayhost": "[127.0.0.1]:9",
                                             "defer_transports": "relay smtp"})
    s.sendmail(MSG)
    assert wait_for(lambda: s.queue_ids("deferred") or s.queue_ids("active")
                    or s.queue_ids("incoming"), 30), s.log()
    qid = (s.queue_ids("deferred") or s.queue_ids("active")
           or s.queue_ids("incoming"))[0]
    cat = s.postelcat(qid)
    assert "added2@remote.test" in cat, cat
    assert "dsn_notify_flags: 1" in cat, cat


def test_milter_delete_recipient(site, peer):
    s = site(peer("delrcpt").spec)
    s.sendmail(MSG, rcpts=("you@remote.test", "gone@remote.test"))
    _, rcpts, _ = s.relayed()
    time.sleep(1)
    assert rcpts == ["you@remote.test"]
    assert all("gone@remote.test" not in m[1] for m in s.sink.messages)


def test_milter_change_sender(site, peer):
    s = site(peer("chgfrom").spec)
    s.sendmail(MSG)
    mail_from, _, _ = s.relayed()
    assert mail_from == "changed@example.com"


def test_milter_quarantine_holds_message_with_reason(site, peer):
    s = site(peer("quarantine").spec)
    s.sendmail(MSG)
    assert wait_for(lambda: s.queue_ids("hold"), 30), s.log()
    qid = s.queue_ids("hold")[0]
    s.wait_log("%s: milter-hold: END-OF-MESSAGE from local: milter "
               "inet:127.0.0.1:" % qid)
    assert "suspicious content" in s.log()
    assert "milter_quarantine: inet:127.0.0.1:" in s.postelcat(qid)
    assert "suspicious content" in s.postelcat(qid)
    assert s.sink.messages == []
    # released, the message with its kept reason is delivered normally
    r = subprocess.run([bin_path("postelsuper"), "-c", s.instance.confdir,
                        "-H", qid], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    _, rcpts, _ = s.relayed()
    assert rcpts == ["you@remote.test"]


# ---------------------------------------------------------------------------
# replies

def test_milter_reject_bounces_local_submission(site, peer):
    s = site(peer("reject").spec)
    s.sendmail(MSG)
    s.wait_log("milter-reject: END-OF-MESSAGE from local: 550 5.7.1 "
               "message refused by test milter")
    _, rcpts, content = s.relayed()  # the bounce to the sender
    assert rcpts == ["me@example.com"]
    assert b"message refused by test milter" in content


def test_milter_multiline_reply_code(site, peer):
    s = site(peer("reject_multiline").spec)
    s.sendmail(MSG)
    s.wait_log("550-5.7.0 first line")
    assert "550 5.7.0 second line" in s.log()


def test_milter_reject_at_rcpt(site, peer):
    s = site(peer("reject_rcpt").spec)
    s.sendmail(MSG)
    s.wait_log("milter-reject: RCPT from local: 550 5.7.1 recipient")


def test_milter_tempfail_keeps_mail_in_maildrop(site, peer):
    s = site(peer("tempfail").spec)
    s.sendmail(MSG)
    s.wait_log("milter-reject: END-OF-MESSAGE from local: 451 4.7.1")
    s.wait_log("will retry")
    assert s.queue_ids("maildrop"), s.log()
    assert s.sink.messages == []


def test_milter_discard(site, peer):
    s = site(peer("discard").spec)
    s.sendmail(MSG)
    s.wait_log("milter-discard: END-OF-MESSAGE")
    s.wait_log("discarded")
    time.sleep(1)
    assert s.sink.messages == []
    assert not s.queue_ids("maildrop")


def test_milter_accept_skips_the_rest_for_that_milter(site, peer):
    p = peer("accept")
    s = site(p.spec)
    s.sendmail(MSG)
    s.relayed()


# ---------------------------------------------------------------------------
# several milters

def test_two_milters_in_a_row_second_sees_first_ones_changes(site, peer):
    first = peer("chgheader", tag="one")
    second = peer("addheader", tag="two")
    s = site("%s, %s" % (first.spec, second.spec))
    s.sendmail(MSG)
    _, _, content = s.relayed()
    head = header_of(content)
    assert "Subject: changed subject" in head
    assert "X-Milter-two: added by two" in head
    seen = [e["values"] for e in second.events() if e["stage"] == "header"]
    assert ["Subject", "changed subject"] in seen, seen


def test_milter_header_checks_apply_to_milter_headers(site, peer, workdir):
    checks = os.path.join(workdir, "mhc")
    with open(checks, "w") as f:
        f.write("/^X-Milter-peer:/ REPLACE X-Milter-peer: rewritten\n")
    s = site(peer("addheader").spec,
             main={"milter_header_checks": "regexp:" + checks})
    s.sendmail(MSG)
    _, _, content = s.relayed()
    assert "X-Milter-peer: rewritten" in header_of(content)


def test_milter_braced_settings_and_relative_unix_path(site, workdir,
                                                       instance):
    """{ unix:relative, default_action=accept }: a milter path relative
    to queue_directory, and the per-milter default action (nothing
    listens there)."""
    s = site("{ unix:private/nomilter, default_action=accept, "
             "connect_timeout=2s }",
             main={"milter_default_action": "tempfail"})
    s.sendmail(MSG)
    s.relayed()
    assert "milter unix:private/nomilter: connect to private/nomilter" \
        in s.log()
    assert "default_action=accept" in s.log()


# ---------------------------------------------------------------------------
# broken milters

def down_spec():
    return "inet:127.0.0.1:%d" % free_port()


class Garbage:
    """A TCP server that answers SMFIC_OPTNEG with nonsense."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.stop_flag = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.stop_flag:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                c.recv(1000)
                c.sendall(b"\x00\x00\x00\x05Ogarbage!garbage!")
            except OSError:
                pass
            c.close()

    def close(self):
        self.stop_flag = True
        close_listener(self.sock)


@pytest.mark.parametrize("kind", ["down", "hung", "garbage"])
def test_broken_milter_default_tempfail(site, peer, kind):
    spec, g = broken(peer, kind)
    s = site(spec, main={"milter_default_action": "tempfail",
                         "milter_command_timeout": "2s"})
    s.sendmail(MSG)
    s.wait_log("milter %s: " % spec)
    s.wait_log("default_action=tempfail")
    s.wait_log("will retry")
    assert s.queue_ids("maildrop")
    assert s.sink.messages == []
    if g:
        g.close()


@pytest.mark.parametrize("kind", ["down", "hung", "garbage"])
def test_broken_milter_default_accept(site, peer, kind):
    spec, g = broken(peer, kind)
    s = site(spec, main={"milter_default_action": "accept",
                         "milter_command_timeout": "2s"})
    s.sendmail(MSG)
    _, _, content = s.relayed()
    assert "Subject: milter test" in header_of(content)
    assert "milter %s: " % spec in s.log()
    assert "default_action=accept" in s.log()
    if g:
        g.close()


@pytest.mark.parametrize("kind", ["down", "hung", "garbage"])
def test_broken_milter_default_reject(site, peer, kind):
    spec, g = broken(peer, kind)
    s = site(spec, main={"milter_default_action": "reject",
                         "milter_command_timeout": "2s"})
    s.sendmail(MSG)
    s.wait_log("default_action=reject")
    s.wait_log("550 5.7.1 Command rejected")
    _, rcpts, _ = s.relayed()  # the bounce
    assert rcpts == ["me@example.com"]
    if g:
        g.close()


@pytest.mark.parametrize("kind", ["down", "hung", "garbage"])
def test_broken_milter_default_quarantine(site, peer, kind):
    spec, g = broken(peer, kind)
    s = site(spec, main={"milter_default_action": "quarantine",
                         "milter_command_timeout": "2s"})
    s.sendmail(MSG)
    assert wait_for(lambda: s.queue_ids("hold"), 30), s.log()
    qid = s.queue_ids("hold")[0]
    assert "milter_quarantine: %s: " % spec in s.postelcat(qid)
    assert "default_action=quarantine" in s.log()
    if g:
        g.close()


def broken(peer, kind):
    if kind == "down":
        return down_spec(), None
    if kind == "hung":
        return peer("hang").spec, None
    g = Garbage()
    return "inet:127.0.0.1:%d" % g.port, g


# ---------------------------------------------------------------------------
# OpenDKIM as a signing milter

@pytest.mark.needs("opendkim", "dkimpy", "dnslib", "openssl")
def test_opendkim_signs_local_submission_as_milter(site, workdir):
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
    pidfile = os.path.join(workdir, "opendkim.pid")
    with open(conf, "w") as f:
        f.write("Mode s\nSyslog no\nDomain example.com\nSelector sel\n"
                "KeyFile %s\nSocket inet:%d@127.0.0.1\nPidFile %s\n"
                "Canonicalization relaxed/simple\nBackground no\n"
                "UserID root\nRequireSafeKeys no\n" % (key, port, pidfile))
    proc = subprocess.Popen(["opendkim", "-x", conf, "-f"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: _listening(port), 20), \
            proc.stdout.read1(4096) if proc.poll() is not None else ""
        with DNSServer() as dns:
            dns.add("sel._domainkey.example.com", "TXT", txt)
            s = site("inet:127.0.0.1:%d" % port)
            s.sendmail(MSG)
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


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# the smtpd -> cleanup handoff (content stages of smtpd's milters), played
# by tests/services/cleanup_send as smtpd: it takes the milter through
# connect .. DATA and hands the open connection to cleanup

def handoff(s, p, data=MSG):
    from conftest import service_path
    r = subprocess.run([service_path("cleanup_send"), "-c",
                        s.instance.confdir, "-f", "me@example.com",
                        "-C", "client.test", "-A", "192.0.2.7",
                        "-H", "client.test", "-P", "ESMTP", "-M", p.spec,
                        "you@remote.test"],
                       input=data.replace(b"\n", b"\r\n"),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip()


def test_smtpd_milter_handoff_cleanup_runs_content_stages(site, peer):
    p = peer("addheader")
    s = site("")
    out = handoff(s, p)
    status, qid, reply = out.split(" ", 2)
    assert status == "0" and reply.startswith("250 "), out
    _, _, content = s.relayed()
    assert "X-Milter-peer: added by peer" in header_of(content)
    stages = p.stages(all=True)
    # smtpd's part, then cleanup's on the same connection, then smtpd
    # ends the session (libmilter reports no abort after a whole message)
    assert stages[:5] == ["connect", "helo", "mail", "rcpt", "data"], stages
    assert stages[-3:] == ["body", "eom", "close"], stages
    assert "header" in stages and "eoh" in stages
    eom = [e for e in p.events() if e["stage"] == "eom"][0]
    assert eom["values"][0]["i"] == qid
    # a value smtpd passed in milter_macros
    assert eom["values"][0]["{daemon_name}"] == "smtpd-handoff"
    assert stages.count("connect") == 1


def test_smtpd_milter_handoff_reject_at_end_of_message(site, peer):
    p = peer("reject")
    s = site("")
    out = handoff(s, p)
    assert out.startswith("2 "), out
    assert "550 5.7.1 message refused by test milter" in out
    s.wait_log("milter-reject: END-OF-MESSAGE from client.test[192.0.2.7]")
    assert s.sink.messages == []
