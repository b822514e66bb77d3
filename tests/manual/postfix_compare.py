#!/usr/bin/python3
"""Manual check (not in CI): the issue 11 integration scenarios against
Debian's Postfix.

Postfix is Debian's package, fetched and unpacked by bench/bench.py's
functions (apt-get download + dpkg -x into bench/.cache, LD_LIBRARY_PATH,
its own config and queue folders, `master -d`, chroot off, loopback
ports).  The peers are the integration tests' own, imported from their
modules: the recording/hanging/garbage policy servers and Debian's
policyd-spf behind a spawn-like listener (test_policy.py), the
python3-milter test milter (milter_peer.py, test_milter.py), OpenDKIM,
rspamd (test_smtpd_milter.py) and the aiosmtpd XFORWARD content filter
(test_content_filter.py).  The milter modules come from --peers (default:
this tree's tests/integration) so the check can run before they are
merged.

For every scenario the script prints what a user of Postfix observes
(SMTP reply, fields at the sink, the log line) in one line, to be set
beside what Postel's tests assert; tests/manual/README.md holds the
comparison.  Must run as root (Postfix's master, like bench.py).

Usage: /usr/bin/python3 tests/manual/postfix_compare.py
       [--only policy,smtpd_milter,local_milter,dkim,rspamd,filter]
       [--peers DIR] [--json PATH] [--keep]

SPDX-License-Identifier: ISC
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "bench"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import bench  # noqa: E402
from conftest import free_port, wait_for  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

PYTHON = "/usr/bin/python3"
RESULTS = []
LOG_WAIT = 15        # seconds for a log line or a delivery


def result(group, name, **seen):
    """Record and print one scenario's Postfix outcome."""
    RESULTS.append({"group": group, "scenario": name, **seen})
    print("%-14s %-32s %s" % (group, name, json.dumps(seen)), flush=True)


class Sink:
    def __init__(self):
        self.messages = []  # (mail_from, rcpts, content)
        self.port = free_port()
        self.ctl = Controller(self, hostname="127.0.0.1", port=self.port)
        self.ctl.start()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content or envelope.content))
        return "250 2.0.0 Ok"

    def stop(self):
        self.ctl.stop()


def head(content):
    return content.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def fields(content, *names):
    out = []
    for line in head(content).replace("\r\n\t", "\t").split("\r\n"):
        if line.split(":", 1)[0].lower() in [n.lower() for n in names]:
            out.append(line)
    return out


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


class Postfix(bench.Postfix):
    """bench.py's throw-away Postfix plus extra main.cf settings and
    master.cf services (Postfix uses the last of repeated main.cf names)."""

    def __init__(self, top, sink, main, services):
        self.extra_main = main
        self.extra_services = services
        super().__init__(top, free_port(), sink.port)

    def setup(self):
        super().setup()
        # Postfix's sendmail starts postdrop with export_environment
        # only: the unpacked libraries must be named there too.
        self.write_main(export_environment="TZ MAIL_CONFIG LANG "
                        "LD_LIBRARY_PATH=" + bench.PF_LIB,
                        **self.extra_main)
        with open(os.path.join(self.conf, "master.cf"), "a") as f:
            f.write("\n".join(self.extra_services) + "\n")

    def write_main(self, **kw):
        """Set main.cf names (bench.py's settings stay unless named)."""
        path = os.path.join(self.conf, "main.cf")
        main = {}
        with open(path) as f:
            for line in f:
                k, _, v = line.partition("=")
                main[k.strip()] = v.strip()
        main.update(kw)
        bench.write_cf(path, main)

    def set_main(self, **kw):
        """Change main.cf settings and reload (SIGHUP to master -d)."""
        self.write_main(**kw)
        os.kill(self.proc.pid, signal.SIGHUP)
        time.sleep(2)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_since(self, mark):
        return self.log()[mark:]

    def wait_log(self, pattern, mark=0, timeout=LOG_WAIT):
        m = wait_for(lambda: re.search(pattern, self.log_since(mark)),
                     timeout)
        return m.group(0) if m else None

    def cmd(self, name, *args, stdin=None):
        env = bench.pf_env()
        env["MAIL_CONFIG"] = self.conf
        # sendmail names its folder -C, the others -c
        flag = "-C" if name == "sendmail" else "-c"
        return subprocess.run([os.path.join(bench.PF_SBIN, name), flag,
                               self.conf] + list(args), env=env,
                              input=stdin, capture_output=True, timeout=60)

    def queue_files(self, sub):
        out = []
        for _d, _s, files in os.walk(os.path.join(self.queue, sub)):
            out.extend(files)
        return out


def start_postfix(top, sink, main, services, ports):
    pf = Postfix(top, sink, main, services)
    pf.setup()
    pf.start()
    for p in [pf.port] + list(ports):
        if not wait_for(lambda: listening(p), 30):
            raise RuntimeError("postfix did not listen on %d: %s"
                               % (p, pf.log()[-3000:]))
    return pf


def lines_with(text, *needles):
    """Log lines holding every needle, without the syslog prefix."""
    return [l[l.find("]: ") + 3:] for l in text.splitlines()
            if all(n in l for n in needles)]


# ---------------------------------------------------------------------------
# (1) policy delegation

def run_policy(top, sink, peers):
    import test_policy as tp
    from dnsserver import DNSServer
    rec, hang, garbage = (tp.PolicyServer(), tp.PolicyServer("hang"),
                          tp.PolicyServer("garbage"))
    dns = DNSServer()
    dns.__enter__()
    spf = None
    pf = None
    try:
        dns.add("spfpass.test", "TXT", "v=spf1 ip4:%s -all" % tp.OUTSIDE)
        dns.add("spffail.test", "TXT", "v=spf1 ip4:192.0.2.1 -all")
        root = tp.policyd_spf_root()
        conf = os.path.join(top, "policyd-spf.conf")
        os.makedirs(top, exist_ok=True)
        with open(conf, "w") as f:
            f.write("debugLevel = 1\nTestOnly = 1\nHELO_reject = Fail\n"
                    "Mail_From_reject = Fail\nPermError_reject = False\n"
                    "TempError_Defer = False\n"
                    "skip_addresses = 192.0.2.255/32\n")
        h, p = dns.address.split(":")
        spf = tp.SpawnListener([PYTHON, "-c", tp.PRELUDE, h, p, os.path.join(
            root, "usr", "bin", "policyd-spf"), conf])
        ports = {k: free_port() for k in ("main", "stages", "hang",
                                          "garbage", "spf")}
        cps = "check_policy_service,inet:127.0.0.1:%d"
        st = cps % rec.port
        main = {
            "myhostname": "mx.local.test", "mydomain": "local.test",
            "mynetworks": "127.0.0.1/32", "relay_domains": "dest.test",
            "smtpd_error_sleep_time": "0",
            "smtpd_recipient_restrictions":
                "check_policy_service { inet:127.0.0.1:%d, timeout=20s, "
                "policy_context=main }, check_recipient_access "
                "inline:{ dir@dest.test=REJECT }, reject_unauth_destination"
                % rec.port,
        }
        services = [
            "127.0.0.1:%d inet n - n - 1 smtpd" % ports["main"],
            "127.0.0.1:%d inet n - n - 1 smtpd -o smtpd_delay_reject=no "
            "-o smtpd_client_restrictions=%s -o smtpd_helo_restrictions=%s "
            "-o smtpd_sender_restrictions=%s "
            "-o smtpd_recipient_restrictions=%s,reject_unauth_destination "
            "-o smtpd_data_restrictions=%s "
            "-o smtpd_end_of_data_restrictions=%s "
            "-o smtpd_policy_service_policy_context=stages"
            % ((ports["stages"],) + (st,) * 6),
            "127.0.0.1:%d inet n - n - 1 smtpd "
            "-o smtpd_recipient_restrictions=%s,reject_unauth_destination "
            "-o smtpd_policy_service_timeout=2s" % (ports["hang"],
                                                   cps % hang.port),
            "127.0.0.1:%d inet n - n - 1 smtpd "
            "-o smtpd_recipient_restrictions=%s,reject_unauth_destination"
            % (ports["garbage"], cps % garbage.port),
            "127.0.0.1:%d inet n - n - - smtpd "
            "-o smtpd_recipient_restrictions=%s,reject_unauth_destination"
            % (ports["spf"], cps % spf.port),
        ]
        pf = start_postfix(top, sink, main, services, ports.values())
        time.sleep(1)  # the start-up probes' CONNECT requests

        def session(port):
            s = smtplib.SMTP("127.0.0.1", port, timeout=60,
                             local_hostname="client.example.test",
                             source_address=(tp.OUTSIDE, 0))
            s.ehlo()
            return s

        # attributes per stage
        start = len(rec.requests)
        mid = "<%s@test>" % uuid.uuid4().hex
        s = session(ports["stages"])
        s.mail("s@example.org", ["SIZE=1234"])
        s.rcpt("ok@dest.test")
        s.rcpt("dunno@dest.test")
        s.data(tp.message(mid))
        s.mail("t@example.org")
        s.rcpt("dunno@dest.test")
        s.rset()
        s.quit()
        wait_for(lambda: len(rec.requests) - start >= 9, 5)
        reqs = [r for _, r in rec.requests[start:]]
        result("policy", "stages", states=[r["protocol_state"]
                                          for r in reqs])
        result("policy", "attribute order",
               same_as_POSTFIX_ATTRS=all(list(r) == tp.POSTFIX_ATTRS
                                         for r in reqs),
               missing=sorted(set(tp.POSTFIX_ATTRS) - set(reqs[0])),
               extra=sorted(set(reqs[0]) - set(tp.POSTFIX_ATTRS)))
        result("policy", "attribute values",
               recipient_count=[r["recipient_count"] for r in reqs[:7]],
               protocol_name=[r["protocol_name"] for r in reqs[:3]],
               helo_name=[r["helo_name"] for r in reqs[:2]],
               size_at_mail=reqs[2]["size"],
               size_at_eom=reqs[6]["size"],
               instance_changes=reqs[7]["instance"] != reqs[0]["instance"],
               instances=[r["instance"] for r in reqs],
               context=reqs[0]["policy_context"],
               compatibility_level=reqs[0].get("compatibility_level"),
               mail_version=reqs[0].get("mail_version"))
        # connection reuse: two sessions, 3 RCPTs each, one connection
        start = len(rec.requests)
        for _ in range(2):
            s = session(ports["main"])
            s.mail("s@example.org")
            for i in range(3):
                s.rcpt("dunno+%d@dest.test" % i)
            s.rset()
            s.quit()
        conns = [n for n, _ in rec.requests[start:]]
        result("policy", "connection reuse", requests=len(conns),
               connections=len(set(conns)))
        # reply actions
        for local in ("ok", "dunno", "reject", "code5", "code4", "dip",
                      "dir", "redirect"):
            mark = len(pf.log())
            s = session(ports["main"])
            s.mail("s@example.org")
            code, reply = s.rcpt("%s@dest.test" % local)
            s.quit()
            seen = {"reply": "%d %s" % (code, reply.decode())}
            if local == "redirect":
                seen["log"] = pf.wait_log(r"[^\n]*(redirect|REDIRECT)[^\n]*",
                                          mark, 5)
            result("policy", "action " + local, **seen)
        for local in ("prepend", "hold", "discard"):
            mark = len(pf.log())
            mid = "<%s@test>" % uuid.uuid4().hex
            s = session(ports["main"])
            s.mail("s@example.org")
            s.rcpt("%s@dest.test" % local)
            code, reply = s.data(tp.message(mid))
            s.quit()
            got = wait_for(lambda: [m for m in sink.messages
                                    if mid.encode() in m[2]],
                           8 if local == "prepend" else 3)
            seen = {"reply": code,
                    "delivered": bool(got),
                    "log": pf.wait_log(r"[^\n]*(hold|discard|prepend)"
                                       r"[^\n]*", mark, 5)}
            if got:
                h = head(got[0][2]).split("\r\n")
                i = [n for n, l in enumerate(h) if l.startswith("X-Policy")]
                seen["field"] = h[i[0]] if i else None
                seen["next_field"] = h[i[0] + 1][:30] if i else None
            if local == "hold":
                seen["hold_queue_files"] = len(pf.queue_files("hold"))
            result("policy", "action " + local, **seen)
        # hanging and garbage policy servers
        mark = len(pf.log())
        s = session(ports["hang"])
        s.mail("s@example.org")
        t0 = time.monotonic()
        code, reply = s.rcpt("ok@dest.test")
        took = time.monotonic() - t0
        s.quit()
        result("policy", "hanging server", reply="%d %s" % (code,
                                                          reply.decode()),
               seconds=round(took, 1),
               log=[l for l in lines_with(pf.log_since(mark), "")
                    if "policy" in l or "warning" in l])
        mark = len(pf.log())
        s = session(ports["garbage"])
        s.mail("s@example.org")
        code, reply = s.rcpt("ok@dest.test")
        s.quit()
        time.sleep(1)
        result("policy", "garbage server", reply="%d %s" % (code,
                                                          reply.decode()),
               log=[l for l in lines_with(pf.log_since(mark), "")
                    if "policy" in l or "warning" in l])
        # policyd-spf
        s = session(ports["spf"])
        s.mail("s@spffail.test")
        code, reply = s.rcpt("x@dest.test")
        s.quit()
        result("policy", "policyd-spf fail", reply="%d %s" % (
            code, reply.decode()))
        mid = "<%s@test>" % uuid.uuid4().hex
        s = session(ports["spf"])
        s.mail("s@spfpass.test")
        s.rcpt("x@dest.test")
        code, _ = s.data(tp.message(mid))
        s.quit()
        got = wait_for(lambda: [m for m in sink.messages
                                if mid.encode() in m[2]], LOG_WAIT)
        h = head(got[0][2]).split("\r\n") if got else []
        i = [n for n, l in enumerate(h) if l.startswith("Received-SPF:")]
        result("policy", "policyd-spf pass", reply=code,
               field=h[i[0]] if i else None,
               next_field=h[i[0] + 1][:40] if i else None)
    finally:
        if pf:
            pf.stop()
        for srv in (rec, hang, garbage, spf):
            if srv:
                srv.close()
        dns.__exit__(None, None, None)


# ---------------------------------------------------------------------------
# (2) milters

class Peer:
    """milter_peer.py on a port chosen in advance (the listener's -o)."""

    def __init__(self, peers, top, port, action, tag="peer", skip=""):
        self.port = port
        self.record = os.path.join(top, "milter-%s-%d.jsonl" % (tag, port))
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(peers, "milter_peer.py"),
             "inet:%d@127.0.0.1" % port, self.record, action, "--skip",
             skip, "--tag", tag], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        if not wait_for(lambda: listening(port)
                        or self.proc.poll() is not None, 30) \
                or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("milter_peer.py did not start on %d" % port)
        time.sleep(0.3)
        try:
            os.remove(self.record)  # forget the start-up probe
        except FileNotFoundError:
            pass

    def stages(self):
        try:
            with open(self.record) as f:
                return [json.loads(l)["stage"] for l in f]
        except FileNotFoundError:
            return []

    def events(self):
        try:
            with open(self.record) as f:
                return [json.loads(l) for l in f]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


MSG = (b"From: Me <me@example.com>\r\nTo: you@remote.test\r\n"
       b"Subject: milter test\r\nX-Remove-Me: please\r\n\r\nbody line\r\n")

VERDICT_STAGES = ["connect", "helo", "mail", "rcpt", "data", "unknown"]
EOM_ACTIONS = ["reject", "reject_multiline", "tempfail", "discard",
               "accept", "addheader", "addheader_folded", "insheader",
               "chgheader", "delheader", "replbody", "addrcpt",
               "addrcpt_par", "delrcpt", "chgfrom", "quarantine"]


def verdict_session(port, stage):
    """test_smtpd_milter_verdict_at_command's conversation."""
    try:
        c = smtplib.SMTP("127.0.0.1", port, timeout=60)
    except smtplib.SMTPConnectError as e:
        return {"greeting": "%d %s" % (e.smtp_code, e.smtp_error.decode())}
    got = {}
    try:
        got["helo"] = c.ehlo("client.test")
        got["mail"] = got["connect"] = c.mail("me@example.com")
        if got["mail"][0] == 250:
            got["rcpt"] = c.rcpt("bad@remote.test")
            if stage == "rcpt":
                got["rcpt2"] = c.rcpt("good@remote.test")
            got["data"] = c.docmd("DATA")
            if got["data"][0] == 354:
                c.send(MSG + b".\r\n")
                got["eom"] = c.getreply()
        got["unknown"] = c.docmd("XYZZY")
    except smtplib.SMTPServerDisconnected:
        got["disconnected"] = True
    finally:
        c.close()
    return {k: "%d %s" % (v[0], v[1].decode()) if isinstance(v, tuple)
            else v for k, v in got.items()}


def send(port, rcpts=("you@remote.test",), data=MSG,
         sender="me@example.com"):
    try:
        c = smtplib.SMTP("127.0.0.1", port, timeout=60)
    except smtplib.SMTPConnectError as e:
        return "greeting %d %s" % (e.smtp_code, e.smtp_error.decode())
    try:
        c.ehlo("client.test")
        code, text = c.mail(sender)
        if code != 250:
            return "%d %s" % (code, text.decode())
        for r in rcpts:
            code, text = c.rcpt(r)
        code, text = c.data(data)
        return "%d %s" % (code, text.decode())
    except smtplib.SMTPException as e:
        return "exception %r" % (e,)
    finally:
        try:
            c.quit()
        except (smtplib.SMTPException, OSError):
            pass


def sink_view(m, top=False):
    """A relayed message as the milter tests look at it."""
    out = {"from": m[0], "to": m[1],
           "fields": fields(m[2], "Subject", "X-Milter-peer", "X-Milter-two",
                            "X-Folded", "X-Milter-Top", "X-Remove-Me"),
           "body": m[2].split(b"\r\n\r\n", 1)[1].decode("latin-1")[:40]}
    if top:
        out["first_field"] = head(m[2]).split("\r\n")[0]
    return out


def garbage_on(cls, port):
    """test_milter.Garbage (nonsense to SMFIC_OPTNEG) moved to the port
    the listener's smtpd_milters names."""
    g = cls()
    g.sock.close()  # its accept thread ends
    g.sock = socket.socket()
    g.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    g.sock.bind(("127.0.0.1", port))
    g.sock.listen(5)
    threading.Thread(target=g.run, daemon=True).start()
    return g


def run_smtpd_milter(top, sink, peers):
    from test_milter import Garbage
    ports = {}
    peer_ports = {}
    services = []
    scen = []
    for stage in VERDICT_STAGES:
        for verdict in ("reject", "tempfail", "custom"):
            scen.append(("verdict %s@%s" % (verdict, stage),
                         "%s@%s" % (verdict, stage), "tempfail"))
    for a in EOM_ACTIONS:
        scen.append(("eom " + a, a, "tempfail"))
    scen.append(("skip helo,header", "addheader", "tempfail"))
    scen.append(("two milters", "two", "tempfail"))
    scen.append(("add+del rcpt", "adddel", "tempfail"))
    for kind in ("down", "hung", "garbage"):
        for dflt in ("tempfail", "accept", "reject", "quarantine"):
            scen.append(("%s milter default=%s" % (kind, dflt), kind, dflt))
    for name, action, dflt in scen:
        ports[name] = free_port()
        peer_ports[name] = [free_port(), free_port()]
        milters = ",".join("inet:127.0.0.1:%d" % p for p in (
            peer_ports[name] if action in ("two", "adddel")
            else peer_ports[name][:1]))
        services.append("127.0.0.1:%d inet n - n - - smtpd "
                        "-o smtpd_milters=%s -o milter_default_action=%s"
                        % (ports[name], milters, dflt))
    main = {"myhostname": "mta.example.com", "mydomain": "example.com",
            "smtpd_error_sleep_time": "0",
            "milter_connect_timeout": "5s", "milter_command_timeout": "2s",
            "milter_content_timeout": "5s"}
    pf = start_postfix(top, sink, main, services, ports.values())
    time.sleep(2)  # the start-up probes' log lines
    try:
        for name, action, dflt in scen:
            port = ports[name]
            pp = peer_ports[name]
            mark = len(pf.log())
            n0 = len(sink.messages)
            started = []
            g = None
            try:
                if action == "two":
                    started = [Peer(peers, top, pp[0], "chgheader", "one"),
                               Peer(peers, top, pp[1], "addheader", "two")]
                elif action == "adddel":
                    started = [Peer(peers, top, pp[0], "addrcpt", "one"),
                               Peer(peers, top, pp[1], "delrcpt", "two")]
                elif action == "hung":
                    started = [Peer(peers, top, pp[0], "hang")]
                elif action == "garbage":
                    g = garbage_on(Garbage, pp[0])
                elif action != "down":
                    started = [Peer(peers, top, pp[0], action,
                                    skip="hello,header"
                                    if name.startswith("skip") else "")]
                seen = {}
                if name.startswith("verdict"):
                    seen["replies"] = verdict_session(port,
                                                      action.split("@")[1])
                elif action == "adddel":
                    seen["reply"] = send(port, ("you@remote.test",
                                                "gone@remote.test"))
                else:
                    seen["reply"] = send(port)
                ok = ("replies" in seen and "250" in str(seen)) or \
                    seen.get("reply", "").startswith("250")
                wait_for(lambda: len(sink.messages) > n0, 6 if ok else 1)
                time.sleep(0.5)
                got = sink.messages[n0:]
                seen["sink"] = [sink_view(m, action == "insheader")
                                for m in got]
                seen["log"] = [l for l in lines_with(pf.log_since(mark), "")
                               if "milter" in l.lower() or "warning" in l
                               or "hold" in l or "discard" in l][:5]
                if action == "quarantine" or dflt == "quarantine":
                    seen["hold_queue_files"] = len(pf.queue_files("hold"))
                if name.startswith("skip") and started:
                    seen["milter_saw"] = sorted(set(started[0].stages()))
                if action == "two":
                    seen["second_saw_subject"] = [
                        e["values"] for e in started[1].events()
                        if e["stage"] == "header"
                        and e["values"][0] == "Subject"]
                result("smtpd_milter", name, **seen)
            except (RuntimeError, OSError, smtplib.SMTPException) as e:
                result("smtpd_milter", name, error=repr(e))
            finally:
                for p in started:
                    p.stop()
                if g:
                    g.close()
    finally:
        pf.stop()


def run_local_milter(top, sink, peers):
    """non_smtpd_milters: Postfix's sendmail -> postdrop -> pickup ->
    cleanup.  One instance, main.cf changed and reloaded per scenario."""
    mport = free_port()
    main = {"myhostname": "mta.example.com", "mydomain": "example.com",
            "non_smtpd_milters": "inet:127.0.0.1:%d" % mport,
            "milter_connect_timeout": "5s", "milter_command_timeout": "2s",
            "milter_content_timeout": "5s"}
    pf = start_postfix(top, sink, main, [], [])
    try:
        for action in ("addheader", "chgheader", "replbody", "addrcpt",
                       "chgfrom", "quarantine", "reject",
                       "reject_multiline", "tempfail", "discard",
                       "down default=accept", "down default=tempfail",
                       "down default=reject", "down default=quarantine"):
            mark = len(pf.log())
            n0 = len(sink.messages)
            p = None
            if action.startswith("down"):
                pf.set_main(milter_default_action=action.split("=")[1])
            else:
                p = Peer(peers, top, mport, action)
            try:
                r = pf.cmd("sendmail", "-f", "me@example.com",
                           "you@remote.test", stdin=MSG.replace(b"\r\n",
                                                                b"\n"))
                wait_for(lambda: len(sink.messages) > n0, 8)
                time.sleep(1)
                got = sink.messages[n0:]
                seen = {"sendmail_exit": r.returncode,
                        "sink": [{"from": m[0], "to": m[1],
                                  "fields": fields(m[2], "Subject",
                                                   "X-Milter-peer"),
                                  "body": m[2].split(b"\r\n\r\n", 1)[1]
                                  .decode("latin-1")[:40]}
                                 for m in got],
                        "log": [l for l in lines_with(pf.log_since(mark), "")
                                if "milter" in l.lower() or "hold" in l
                                or "discard" in l or "bounce" in l][:4],
                        "hold": len(pf.queue_files("hold")),
                        "maildrop": len(pf.queue_files("maildrop"))}
                if action == "reject":
                    seen["bounce_text"] = [
                        l for l in (got[0][2].decode("latin-1").split("\n")
                                    if got else [])
                        if "refused" in l][:2]
                result("local_milter", action, **seen)
            finally:
                if p:
                    p.stop()
                # a tempfailed message stays in maildrop; pickup would
                # retry it under the next scenario's milter
                for d, _s, files in os.walk(os.path.join(pf.queue,
                                                         "maildrop")):
                    for f in files:
                        os.remove(os.path.join(d, f))
                if action.startswith("down"):
                    pf.set_main(milter_default_action="tempfail")
    finally:
        pf.stop()


def opendkim(top, port, key):
    conf = os.path.join(top, "opendkim.conf")
    with open(conf, "w") as f:
        f.write("Mode s\nSyslog no\nDomain example.com\nSelector sel\n"
                "KeyFile %s\nSocket inet:%d@127.0.0.1\nPidFile %s\n"
                "Canonicalization relaxed/simple\nBackground no\n"
                "UserID root\nRequireSafeKeys no\n"
                "InternalHosts 127.0.0.0/8\n"
                % (key, port, os.path.join(top, "opendkim.pid")))
    proc = subprocess.Popen(["opendkim", "-x", conf, "-f"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if not wait_for(lambda: listening(port), 20):
        proc.kill()
        proc.wait()
        raise RuntimeError("opendkim did not start")
    return proc


def run_dkim(top, sink, peers):
    import dkim
    from dnsserver import DNSServer, query
    os.makedirs(top, exist_ok=True)
    key = os.path.join(top, "dkim.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", key,
                    "-pkeyopt", "rsa_keygen_bits:2048"], check=True,
                   capture_output=True, timeout=60)
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True, timeout=60).stdout
    os.chmod(key, 0o600)
    mport = free_port()
    sport = free_port()
    proc = opendkim(top, mport, key)
    pf = None
    try:
        with DNSServer() as dns:
            dns.add("sel._domainkey.example.com", "TXT",
                    "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode())

            def lookup(name, timeout=5):
                if isinstance(name, bytes):
                    name = name.decode()
                for rr in query(dns.address, name, "TXT").rr:
                    return b"".join(rr.rdata.data)
                return None
            main = {"myhostname": "mta.example.com",
                    "mydomain": "example.com",
                    "non_smtpd_milters": "inet:127.0.0.1:%d" % mport}
            pf = start_postfix(top, sink, main, [
                "127.0.0.1:%d inet n - n - - smtpd -o smtpd_milters="
                "inet:127.0.0.1:%d" % (sport, mport)], [sport])
            for how in ("smtpd_milters", "non_smtpd_milters"):
                n0 = len(sink.messages)
                if how == "smtpd_milters":
                    reply = send(sport)
                else:
                    r = pf.cmd("sendmail", "-f", "me@example.com",
                               "you@remote.test",
                               stdin=MSG.replace(b"\r\n", b"\n"))
                    reply = "sendmail exit %d" % r.returncode
                ok = wait_for(lambda: len(sink.messages) > n0, LOG_WAIT)
                content = sink.messages[-1][2] if ok else b""
                result("dkim", "opendkim " + how, reply=reply,
                       signed=b"DKIM-Signature:" in content,
                       dkimpy_verifies=bool(content) and dkim.verify(
                           content, dnsfunc=lookup))
    finally:
        if pf:
            pf.stop()
        proc.kill()
        proc.wait(timeout=10)


def run_rspamd(top, sink, peers):
    if not shutil.which("rspamd"):
        result("rspamd", "all", skipped="rspamd is not installed")
        return
    import test_smtpd_milter as tsm
    from dnsserver import DNSServer
    os.makedirs(top, exist_ok=True)
    pf = None
    with DNSServer() as dns:
        r = tsm.Rspamd(os.path.join(top, "rspamd"), dns.address)
        try:
            port = free_port()
            main = {"myhostname": "mta.example.com",
                    "mydomain": "example.com",
                    "milter_command_timeout": "2s"}
            pf = start_postfix(top, sink, main, [
                "127.0.0.1:%d inet n - n - - smtpd -o smtpd_milters=%s "
                "-o milter_default_action=tempfail" % (port, r.spec)],
                [port])
            gtube = MSG.replace(b"body line", tsm.GTUBE)
            mark = len(pf.log())
            result("rspamd", "GTUBE", reply=send(port, data=gtube),
                   log=lines_with(pf.log_since(mark), "milter-reject"))
            n0 = len(sink.messages)
            reply = send(port)
            wait_for(lambda: len(sink.messages) > n0, LOG_WAIT)
            got = sink.messages[n0:]
            result("rspamd", "clean message", reply=reply,
                   fields=[f[:60] for f in fields(
                       got[0][2], "X-Spamd-Result", "X-Rspamd-Queue-Id",
                       "X-Spam")] if got else None)
            r.stop()
            mark = len(pf.log())
            reply = send(port)
            time.sleep(1)
            result("rspamd", "rspamd stopped", reply=reply,
                   log=[l for l in lines_with(pf.log_since(mark), "")
                        if "milter" in l][:4])
        finally:
            if pf:
                pf.stop()
            r.stop()


# ---------------------------------------------------------------------------
# (3) after-queue content filter

def run_filter(top, sink, peers):
    import test_content_filter as tcf
    ports = {k: free_port() for k in ("smtp", "reinject", "filter",
                                      "down_smtp", "down_filter")}
    handler = tcf.Filter()
    handler.reinject_port = ports["reinject"]
    ctl = tcf.start_filter(handler, ports["filter"])
    ctl2 = None
    pf = None
    try:
        main = {"myhostname": tcf.HOST, "mynetworks": "127.0.0.0/8",
                "smtpd_recipient_restrictions": "permit_mynetworks, reject",
                "minimal_backoff_time": "300s", "queue_run_delay": "300s"}
        services = [
            "127.0.0.1:%d inet n - n - - smtpd -o content_filter="
            "scan:[127.0.0.1]:%d" % (ports["smtp"], ports["filter"]),
            "127.0.0.1:%d inet n - n - - smtpd -o content_filter="
            "scan:[127.0.0.1]:%d" % (ports["down_smtp"],
                                     ports["down_filter"]),
            "127.0.0.1:%d inet n - n - - smtpd -o content_filter= "
            "-o receive_override_options=no_unknown_recipient_checks,"
            "no_header_body_checks -o smtpd_authorized_xforward_hosts="
            "127.0.0.0/8 -o smtpd_client_restrictions= "
            "-o smtpd_helo_restrictions= -o smtpd_sender_restrictions= "
            "-o smtpd_recipient_restrictions=permit_mynetworks,reject"
            % ports["reinject"],
            "scan unix - - n - 10 smtp -o smtp_send_xforward_command=yes",
        ]
        pf = start_postfix(top, sink, main, services,
                           [ports["smtp"], ports["down_smtp"],
                            ports["reinject"]])
        n0 = len(sink.messages)
        tcf.send(ports["smtp"], "x@example.com")
        wait_for(lambda: len(sink.messages) > n0, 30)
        m = sink.messages[n0] if len(sink.messages) > n0 else None
        log = pf.log()
        data = m[2] if m else b""
        top_rcvd = data[data.find(b"Received:"):].split(b"\r\nReceived:",
                                                        1)[0]
        result("filter", "header and XFORWARD",
               fields=fields(data, "X-Filtered"),
               xforward_at_filter=handler.received[:1],
               top_received=top_rcvd.decode("latin-1").replace("\r\n", " "),
               log=lines_with(log, "orig_client"),
               to_lines=[l[:90] for l in lines_with(log, "to=<x@")])
        # filter down -> deferred; back -> delivered after a flush
        mark = len(pf.log())
        n0 = len(sink.messages)
        tcf.send(ports["down_smtp"], "y@example.com")
        line = pf.wait_log(r"[^\n]*to=<y@example.com>[^\n]*deferred"
                           r"[^\n]*", mark, 30)
        queued = pf.cmd("postqueue", "-p").stdout.decode()
        h2 = tcf.Filter()
        h2.reinject_port = ports["reinject"]
        ctl2 = tcf.start_filter(h2, ports["down_filter"])
        pf.cmd("postqueue", "-f")
        wait_for(lambda: len(sink.messages) > n0, 30)
        got = sink.messages[n0:]
        result("filter", "filter down then back", deferred_log=line,
               in_queue="y@example.com" in queued,
               after_flush=[{"to": g[1], "fields": fields(g[2],
                                                          "X-Filtered")}
                            for g in got])
    finally:
        if pf:
            pf.stop()
        ctl.stop()
        if ctl2:
            ctl2.stop()


GROUPS = {"policy": run_policy, "smtpd_milter": run_smtpd_milter,
          "local_milter": run_local_milter, "dkim": run_dkim,
          "rspamd": run_rspamd, "filter": run_filter}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(GROUPS))
    ap.add_argument("--peers", default=os.path.join(REPO, "tests",
                                                    "integration"),
                    help="folder with milter_peer.py, test_milter.py and "
                    "test_smtpd_milter.py")
    ap.add_argument("--json", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("postfix_compare.py must run as root (Postfix's master)")
    peers = os.path.abspath(args.peers)
    if peers not in sys.path:
        sys.path.append(peers)
    deb = bench.fetch_postfix()
    bench.ensure_accounts()
    print("Postfix from %s; peers from %s" % (deb, peers), flush=True)
    tmp = tempfile.mkdtemp(prefix="postfix-compare-")
    os.chmod(tmp, 0o755)
    sink = Sink()
    failed = []
    try:
        for name in args.only.split(","):
            try:
                GROUPS[name](os.path.join(tmp, name), sink, peers)
            except Exception as e:  # report and go on with the next group
                failed.append(name)
                result(name, "ERROR", error=repr(e))
    finally:
        sink.stop()
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(RESULTS, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
