# The smtp delivery agent against real SMTP sinks (aiosmtpd and small
# scripted servers) on 127.0.1.x, with MX/A records from a loopback DNS
# server.  A test plays qmgr with tests/services/deliver_send (delivery
# requests over private/smtp) for queue files written by
# tests/services/qwrite.  Next hops are "domain:PORT" (MX lookup, then
# PORT on every MX host, as in Postfix) so no test needs port 25.
#
# SPDX-License-Identifier: ISC
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, missing_module, wait_for
from dnsserver import DNSServer

try:
    from aiosmtpd.controller import Controller
except ImportError:
    raise missing_module("aiosmtpd") from None

SERVICES = os.path.join(BUILD, "tests", "services")
QWRITE = os.path.join(SERVICES, "qwrite")
DSEND = os.path.join(SERVICES, "deliver_send")


def pick_port(hosts):
    """A TCP port free on every one of hosts."""
    for _ in range(50):
        s = socket.socket()
        s.bind((hosts[0], 0))
        port = s.getsockname()[1]
        s.close()
        ok = True
        for h in hosts:
            t = socket.socket()
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                t.bind((h, port))
            except OSError:
                ok = False
            t.close()
        if ok:
            return port
    raise RuntimeError("no common free port")


class Sink:
    """aiosmtpd handler: local parts bounce* get 550, defer* get 451."""

    def __init__(self):
        self.sessions = 0
        self.messages = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self.sessions += 1
        session.host_name = hostname
        return "250 %s" % server.hostname

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("bounce"):
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        if local.startswith("defer"):
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content or envelope.content))
        return "250 2.0.0 Ok: queued as SINK%d" % len(self.messages)


class Scripted:
    """A raw TCP server run by a function(conn, server) per connection."""

    def __init__(self, host, port, script):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.script = script
        self.lines = []
        self.chunks = []
        self.conns = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(10)
            self.conns += 1
            try:
                self.script(conn, self)
            except OSError:
                pass
            finally:
                conn.close()

    def read_line(self, conn, buf):
        while b"\n" not in buf[0]:
            data = conn.recv(65536)
            if not data:
                raise OSError("eof")
            self.chunks.append(data)
            buf[0] += data
        line, buf[0] = buf[0].split(b"\n", 1)
        line = line.rstrip(b"\r").decode(errors="replace")
        self.lines.append(line)
        return line

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


class Env:
    def __init__(self, instance, workdir, dns, main=None, services=(),
                 chroot="n"):
        self.instance = instance
        self.workdir = workdir
        self.dns = dns
        self.log = os.path.join(workdir, "maillog")
        self.controllers = []
        self.scripted = []
        self.n = 0
        conf = {"dns_nameservers": dns.address, "maillog_file": self.log,
                "myhostname": "client.test", "smtp_helo_timeout": "5s",
                "smtp_connect_timeout": "5s"}
        conf.update(main or {})
        instance.write_config(
            main=conf,
            services=["postlog unix-dgram n - n - 1 postlogd",
                      "smtp unix - - %s - - smtp" % chroot]
            + list(services))
        instance.start()

    def sink(self, host, port):
        handler = Sink()
        c = Controller(handler, hostname=host, port=port)
        c.start()
        self.controllers.append(c)
        return handler

    def script(self, host, port, fn):
        s = Scripted(host, port, fn)
        self.scripted.append(s)
        return s

    def queue(self, rcpts, sender="sender@client.test", body=None, opts=()):
        """Write active/<ID>; rcpts are addresses or (args..., addr)."""
        self.n += 1
        qid = "T%dQ%d" % (os.getpid(), self.n)
        path = os.path.join(self.instance.queue, "active", qid)
        args = [QWRITE, path, "-f", sender] + list(opts)
        for r in rcpts:
            args += ["-r", r]
        if body is None:
            body = ("From: %s\nTo: %s\nSubject: test %d\n\n"
                    "Hello.\n.leading dot\n..two dots\nend\n"
                    % (sender, rcpts[0], self.n))
        subprocess.run(args, input=body.encode(), check=True, timeout=10)
        os.chmod(path, 0o644)
        return qid

    def send(self, nexthop, qids, opts=(), timeout=60, service="smtp"):
        r = subprocess.run(
            [DSEND] + list(opts) + [self.instance.unix_path(service),
                                    self.instance.queue, nexthop] + list(qids),
            capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, r.stderr
        out = {}
        for line in r.stdout.splitlines():
            f = line.split("\t")
            out.setdefault(f[0], {})[f[1]] = dict(
                action=f[2], dsn=f[3], relay=f[4], diag_type=f[5],
                remote_mta=f[6], reply=f[7])
        return out

    def log_lines(self, qid):
        try:
            with open(self.log) as f:
                return [l for l in f.read().splitlines()
                        if (" %s: to=<" % qid) in l]
        except FileNotFoundError:
            return []

    def close(self):
        for c in self.controllers:
            c.stop()
        for s in self.scripted:
            s.stop()


@pytest.fixture
def dns():
    with DNSServer() as d:
        yield d


@pytest.fixture
def env(instance, workdir, dns):
    e = Env(instance, workdir, dns)
    yield e
    e.close()


H1, H2, H3, DEAD = "127.0.1.2", "127.0.1.3", "127.0.1.4", "127.0.1.9"
LOG_RE = re.compile(
    r" (\S+): to=<([^>]*)>, relay=(\S+), (conn_use=\d+, )?"
    r"delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+, "
    r"dsn=(\d\.\d+\.\d+), status=(sent|deferred|bounced) \((.*)\)$")


def test_smtp_client_relays_by_mx(env, dns):
    port = pick_port([H1])
    sink = env.sink(H1, port)
    dns.add("example.test", "MX", (10, "mx1.example.test"))
    dns.add("mx1.example.test", "A", H1)
    qid = env.queue(["user@example.test"])
    res = env.send("example.test:%d" % port, [qid])[qid]["user@example.test"]
    assert res["action"] == "sent", res
    assert res["dsn"] == "2.0.0"
    assert res["relay"] == "mx1.example.test[%s]:%d" % (H1, port)
    assert res["reply"] == "250 2.0.0 Ok: queued as SINK1"
    assert res["diag_type"] == "smtp" and res["remote_mta"] == "mx1.example.test"
    assert len(sink.messages) == 1
    mail_from, rcpts, content = sink.messages[0]
    assert mail_from == "sender@client.test" and rcpts == ["user@example.test"]
    # Dot-stuffing was undone by the server: the lines arrive as written.
    assert b"\r\n.leading dot\r\n..two dots\r\nend\r\n" in content
    assert content.startswith(b"From: sender@client.test\r\n")
    assert wait_for(lambda: env.log_lines(qid))
    m = LOG_RE.search(env.log_lines(qid)[0])
    assert m, env.log_lines(qid)
    assert m.group(3) == "mx1.example.test[%s]:%d" % (H1, port)
    assert m.group(6) == "sent" and m.group(7) == res["reply"]


def test_smtp_client_mx_preference_order(env, dns):
    port = pick_port([H1, H2])
    low = env.sink(H1, port)
    high = env.sink(H2, port)
    dns.add("pref.test", "MX", (20, "b.pref.test"))
    dns.add("pref.test", "MX", (10, "a.pref.test"))
    dns.add("a.pref.test", "A", H2)
    dns.add("b.pref.test", "A", H1)
    qids = [env.queue(["u%d@pref.test" % i]) for i in range(3)]
    out = env.send("pref.test:%d" % port, qids)
    for q in qids:
        assert list(out[q].values())[0]["action"] == "sent"
    assert len(high.messages) == 3 and low.messages == []


def test_smtp_client_falls_back_past_dead_mx(env, dns):
    port = pick_port([H1, DEAD])
    live = env.sink(H1, port)
    dns.add("fall.test", "MX", (10, "dead.fall.test"))
    dns.add("fall.test", "MX", (20, "live.fall.test"))
    dns.add("dead.fall.test", "A", DEAD)
    dns.add("live.fall.test", "A", H1)
    qid = env.queue(["x@fall.test"])
    res = env.send("fall.test:%d" % port, [qid])[qid]["x@fall.test"]
    assert res["action"] == "sent", res
    assert res["relay"] == "live.fall.test[%s]:%d" % (H1, port)
    assert len(live.messages) == 1


def test_smtp_client_uses_a_record_without_mx(env, dns):
    port = pick_port([H3])
    sink = env.sink(H3, port)
    dns.add("plain.test", "A", H3)
    qid = env.queue(["y@plain.test"])
    res = env.send("plain.test:%d" % port, [qid])[qid]["y@plain.test"]
    assert res["action"] == "sent", res
    assert res["relay"] == "plain.test[%s]:%d" % (H3, port)
    assert len(sink.messages) == 1


def test_smtp_client_bracketed_nexthop_skips_mx(env, dns):
    port = pick_port([H1])
    sink = env.sink(H1, port)
    qid = env.queue(["z@whatever.test"])
    res = env.send("[%s]:%d" % (H1, port), [qid])[qid]["z@whatever.test"]
    assert res["action"] == "sent", res
    assert len(sink.messages) == 1
    assert dns.queries == []


def test_smtp_client_null_mx_bounces_5_1_10(env, dns):
    dns.add("nomail.test", "MX", (0, "."))
    qid = env.queue(["a@nomail.test"])
    res = env.send("nomail.test", [qid])[qid]["a@nomail.test"]
    assert res["action"] == "bounced"
    assert res["dsn"] == "5.1.10"
    assert res["reply"] == "Domain nomail.test does not accept mail (nullMX)"
    assert res["relay"] == "none" and res["diag_type"] == ""
    assert wait_for(lambda: env.log_lines(qid))
    assert "relay=none, " in env.log_lines(qid)[0]
    assert "status=bounced (Domain nomail.test does not accept mail " \
        "(nullMX))" in env.log_lines(qid)[0]


def test_smtp_client_unknown_domain_bounces_and_servfail_defers(env, dns):
    dns.servfail("broken.test")
    q1 = env.queue(["a@nowhere.test"])
    q2 = env.queue(["a@broken.test"])
    r1 = env.send("nowhere.test", [q1])[q1]["a@nowhere.test"]
    r2 = env.send("broken.test", [q2])[q2]["a@broken.test"]
    assert r1["action"] == "bounced" and r1["dsn"] == "5.4.4", r1
    assert "Host or domain name not found" in r1["reply"]
    assert r2["action"] == "deferred" and r2["dsn"] == "4.4.3", r2


def test_smtp_client_per_recipient_results(env, dns):
    port = pick_port([H1])
    sink = env.sink(H1, port)
    dns.add("mix.test", "A", H1)
    qid = env.queue(["ok@mix.test", "bounce@mix.test", "defer@mix.test"])
    out = env.send("mix.test:%d" % port, [qid])[qid]
    assert out["ok@mix.test"]["action"] == "sent"
    b = out["bounce@mix.test"]
    assert b["action"] == "bounced" and b["dsn"] == "5.1.1", b
    assert b["reply"] == ("550 5.1.1 <bounce@mix.test>: Recipient address "
                          "rejected")
    assert b["diag_type"] == "smtp" and b["remote_mta"] == "mix.test"
    d = out["defer@mix.test"]
    assert d["action"] == "deferred" and d["dsn"] == "4.3.0", d
    assert len(sink.messages) == 1 and sink.messages[0][1] == ["ok@mix.test"]
    assert wait_for(lambda: len(env.log_lines(qid)) == 3)
    lines = "\n".join(env.log_lines(qid))
    assert ("status=bounced (host mix.test[%s] said: 550 5.1.1 "
            "<bounce@mix.test>: Recipient address rejected (in reply to "
            "RCPT TO command))" % H1) in lines
    assert "dsn=4.3.0, status=deferred (host mix.test[%s] said: 451" % H1 \
        in lines


def test_smtp_client_4xx_everywhere_defers_with_last_reason(env, dns):
    port = pick_port([H1, DEAD])
    env.sink(H1, port)
    dns.add("soft.test", "MX", (10, "dead.soft.test"))
    dns.add("soft.test", "MX", (20, "mx.soft.test"))
    dns.add("dead.soft.test", "A", DEAD)
    dns.add("mx.soft.test", "A", H1)
    qid = env.queue(["defer-me@soft.test"])
    res = env.send("soft.test:%d" % port, [qid])[qid]["defer-me@soft.test"]
    assert res["action"] == "deferred"
    assert res["reply"].startswith("451 4.3.0"), res


def test_smtp_client_all_mx_dead_defers_with_connect_reason(env, dns):
    port = pick_port([DEAD])
    dns.add("gone.test", "A", DEAD)
    qid = env.queue(["a@gone.test"])
    t0 = time.time()
    res = env.send("gone.test:%d" % port, [qid])[qid]["a@gone.test"]
    assert time.time() - t0 < 10
    assert res["action"] == "deferred" and res["dsn"] == "4.4.1", res
    assert res["reply"] == ("connect to gone.test[%s]:%d: Connection refused"
                            % (DEAD, port))
    assert res["relay"] == "none"


def test_smtp_client_reuses_the_connection(env, dns):
    port = pick_port([H1])
    sink = env.sink(H1, port)
    dns.add("reuse.test", "A", H1)
    qids = [env.queue(["r%d@reuse.test" % i]) for i in range(3)]
    out = env.send("reuse.test:%d" % port, qids, opts=["-w", "200"])
    assert all(list(out[q].values())[0]["action"] == "sent" for q in qids)
    assert len(sink.messages) == 3
    assert sink.sessions == 1
    assert wait_for(lambda: env.log_lines(qids[2]))
    assert "conn_use=3, " in env.log_lines(qids[2])[0]


def test_smtp_client_closes_idle_cached_session(env, dns):
    port = pick_port([H1])
    sink = env.sink(H1, port)
    dns.add("idle.test", "A", H1)
    qids = [env.queue(["r%d@idle.test" % i]) for i in range(2)]
    # smtp_connection_cache_time_limit is 2s: a 3s pause means a new one.
    out = env.send("idle.test:%d" % port, qids, opts=["-w", "3000"])
    assert all(list(out[q].values())[0]["action"] == "sent" for q in qids)
    assert sink.sessions == 2


def test_smtp_client_greeting_timeout_is_bounded(instance, workdir, dns):
    e = Env(instance, workdir, dns, main={"smtp_helo_timeout": "2s"})
    try:
        port = pick_port([H2])

        def mute(conn, server):
            time.sleep(6)       # a server that says nothing (not a wait)

        e.script(H2, port, mute)
        dns.add("slow.test", "A", H2)
        qid = e.queue(["a@slow.test"])
        t0 = time.time()
        res = e.send("slow.test:%d" % port, [qid])[qid]["a@slow.test"]
        assert time.time() - t0 < 5.5
        assert res["action"] == "deferred" and res["dsn"] == "4.4.2", res
        assert res["reply"] == ("conversation with slow.test[%s] timed out "
                                "while receiving the initial server greeting"
                                % H2)
    finally:
        e.close()


def test_smtp_client_421_greeting_tries_next_mx(env, dns):
    port = pick_port([H1, H2])

    def busy(conn, server):
        conn.sendall(b"421 4.3.2 busy, come back later\r\n")

    env.script(H2, port, busy)
    live = env.sink(H1, port)
    dns.add("busy.test", "MX", (10, "busy.busy.test"))
    dns.add("busy.test", "MX", (20, "ok.busy.test"))
    dns.add("busy.busy.test", "A", H2)
    dns.add("ok.busy.test", "A", H1)
    qid = env.queue(["a@busy.test"])
    res = env.send("busy.test:%d" % port, [qid])[qid]["a@busy.test"]
    assert res["action"] == "sent", res
    assert len(live.messages) == 1


def esmtp_script(features, data_reply=b"250 2.0.0 Ok: queued as P1"):
    """A server offering `features`; records lines in server.lines."""
    def run(conn, server):
        buf = [b""]
        conn.sendall(b"220 scripted ESMTP\r\n")
        while True:
            line = server.read_line(conn, buf)
            verb = line[:4].upper()
            if verb in ("EHLO", "LHLO"):
                resp = ["250-scripted"] + ["250-" + f for f in features[:-1]]
                resp.append("250 " + features[-1])
                conn.sendall(("\r\n".join(resp) + "\r\n").encode())
            elif verb == "DATA":
                conn.sendall(b"354 go ahead\r\n")
                while server.read_line(conn, buf) != ".":
                    pass
                conn.sendall(data_reply + b"\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 2.0.0 ok\r\n")
    return run


def test_smtp_client_pipelining_and_dsn_parameters(env, dns):
    port = pick_port([H3])
    srv = env.script(H3, port, esmtp_script(
        ["PIPELINING", "SIZE 10240000", "8BITMIME", "DSN"]))
    dns.add("dsn.test", "A", H3)
    qid = env.queue(["a@dsn.test", "b@dsn.test"], opts=[
        "-V", "env id+1", "-K", "HDRS", "-O", "orig@old.test", "-N", "6"])
    out = env.send("dsn.test:%d" % port, [qid], opts=["-8"])[qid]
    assert out["a@dsn.test"]["action"] == "sent"
    assert out["b@dsn.test"]["action"] == "sent"
    mail = [l for l in srv.lines if l.startswith("MAIL FROM:")][0]
    assert re.match(r"MAIL FROM:<sender@client.test> SIZE=\d+ BODY=8BITMIME "
                    r"RET=HDRS ENVID=env\+20id\+2B1$", mail), mail
    rcpts = [l for l in srv.lines if l.startswith("RCPT TO:")]
    assert rcpts == ["RCPT TO:<a@dsn.test> NOTIFY=SUCCESS,FAILURE "
                     "ORCPT=rfc822;orig@old.test",
                     "RCPT TO:<b@dsn.test>"], rcpts
    # MAIL, both RCPTs and DATA travelled in one write.
    batch = [c for c in srv.chunks if c.startswith(b"MAIL FROM:")][0]
    assert batch.count(b"\r\n") == 4 and batch.endswith(b"DATA\r\n"), batch


def test_smtp_client_smtputf8_needed_but_not_offered_bounces(env, dns):
    port = pick_port([H3])
    srv = env.script(H3, port, esmtp_script(["PIPELINING", "8BITMIME"]))
    dns.add("utf.test", "A", H3)
    qid = env.queue(["j\u00f6rg@utf.test"])
    res = env.send("utf.test:%d" % port, [qid], opts=["-U"])[qid]
    res = list(res.values())[0]
    assert res["action"] == "bounced" and res["dsn"] == "5.6.7", res
    assert "SMTPUTF8 is required, but was not offered" in res["reply"]
    assert not any(l.startswith("MAIL") for l in srv.lines)


def test_smtp_client_speaks_lmtp_as_lmtp_service(instance, workdir, dns):
    e = Env(instance, workdir, dns, services=["lmtp unix - - n - - smtp"])
    try:
        port = pick_port([H1])

        def lmtp(conn, server):
            buf = [b""]
            rcpts = []
            conn.sendall(b"220 lmtp ready\r\n")
            while True:
                line = server.read_line(conn, buf)
                verb = line[:4].upper()
                if verb == "LHLO":
                    conn.sendall(b"250-lmtp\r\n250 PIPELINING\r\n")
                elif verb == "RCPT":
                    rcpts.append(line)
                    conn.sendall(b"250 2.1.5 ok\r\n")
                elif verb == "DATA":
                    conn.sendall(b"354 go\r\n")
                    while server.read_line(conn, buf) != ".":
                        pass
                    for r in rcpts:
                        if "full@" in r:
                            conn.sendall(b"452 4.2.2 mailbox full\r\n")
                        else:
                            conn.sendall(b"250 2.0.0 stored\r\n")
                elif verb == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 2.0.0 ok\r\n")

        srv = e.script(H1, port, lmtp)
        qid = e.queue(["a@lmtp.test", "full@lmtp.test"])
        out = e.send("[%s]:%d" % (H1, port), [qid], service="lmtp")[qid]
        assert out["a@lmtp.test"]["action"] == "sent"
        assert out["full@lmtp.test"]["action"] == "deferred"
        assert out["full@lmtp.test"]["reply"] == "452 4.2.2 mailbox full"
        assert srv.lines[0].startswith("LHLO client.test")
    finally:
        e.close()


def test_smtp_client_mx_session_limit_stops_after_two_sessions(env, dns):
    port = pick_port([H1, H2, H3])

    def busy(conn, server):
        conn.sendall(b"421 4.3.2 busy\r\n")

    servers = [env.script(h, port, busy) for h in (H1, H2, H3)]
    for i, h in enumerate((H1, H2, H3)):
        dns.add("limit.test", "MX", (10 * (i + 1), "mx%d.limit.test" % i))
        dns.add("mx%d.limit.test" % i, "A", h)
    qid = env.queue(["a@limit.test"])
    res = env.send("limit.test:%d" % port, [qid])[qid]["a@limit.test"]
    assert res["action"] == "deferred" and res["dsn"] == "4.3.2", res
    assert res["reply"] == "421 4.3.2 busy"
    assert res["remote_mta"] == "mx1.limit.test"
    assert wait_for(lambda: env.log_lines(qid))
    assert ("status=deferred (host mx1.limit.test[%s] refused to talk to "
            "me: 421 4.3.2 busy)" % H2) in env.log_lines(qid)[0]
    assert [s.conns for s in servers] == [1, 1, 0]


def test_smtp_client_never_sends_control_characters(env, dns):
    port = pick_port([H3])
    srv = env.script(H3, port, esmtp_script(["PIPELINING"]))
    qid = env.queue(["ok@ctl.test", "evil@ctl.test>\r\nRSET\r\nRCPT TO:<x"])
    out = env.send("[%s]:%d" % (H3, port), [qid])[qid]
    assert out["ok@ctl.test"]["action"] == "sent"
    evil = [v for k, v in out.items() if k.startswith("evil")][0]
    assert evil["action"] == "bounced" and evil["dsn"] == "5.1.3"
    assert "RSET" not in srv.lines
    assert [l for l in srv.lines if l.startswith("RCPT")] == \
        ["RCPT TO:<ok@ctl.test>"]


@pytest.mark.needs("root")
def test_smtp_client_works_chrooted(instance, workdir, dns):
    e = Env(instance, workdir, dns, chroot="y")
    try:
        port = pick_port([H1])
        sink = e.sink(H1, port)
        dns.add("jail.test", "MX", (5, "mx.jail.test"))
        dns.add("mx.jail.test", "A", H1)
        qid = e.queue(["a@jail.test"])
        res = e.send("jail.test:%d" % port, [qid])[qid]["a@jail.test"]
        assert res["action"] == "sent", res
        assert len(sink.messages) == 1
    finally:
        e.close()


def test_smtp_client_pipelines_many_recipients_in_batches(env, dns):
    port = pick_port([H3])
    srv = env.script(H3, port, esmtp_script(["PIPELINING"]))
    rcpts = ["recipient-number-%03d@many.test" % i for i in range(300)]
    qid = env.queue(rcpts)
    out = env.send("[%s]:%d" % (H3, port), [qid])[qid]
    assert len(out) == 300
    assert all(v["action"] == "sent" for v in out.values())
    assert [l[9:-1] for l in srv.lines if l.startswith("RCPT")] == rcpts
    # More than one write, none much above the 8 KB batch size.
    batches = [c for c in srv.chunks if b"RCPT TO:" in c]
    assert len(batches) >= 2
    assert all(len(c) < 9000 for c in batches)
