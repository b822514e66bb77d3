# smtpd: the SMTP server against real clients (smtplib, swaks, raw sockets)
# with the real cleanup service behind it.
# SPDX-License-Identifier: ISC
import os
import re
import smtplib
import socket
import subprocess

import pytest

from conftest import bin_path, free_port, proc_alive, wait_for
from queuefile import QueueFile, queue_files


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Smtpd:
    """A started instance with smtpd on 127.0.0.1:port and cleanup."""

    def __init__(self, instance, workdir, main=None, smtpd_args=""):
        self.instance = instance
        self.port = free_port()
        self.maillog = os.path.join(workdir, "maillog")
        settings = {
            "myhostname": "mx.test",
            "mydomain": "test",
            "mydestination": "mx.test, local.test",
            "local_recipient_maps": "",
            "maillog_file": self.maillog,
            "smtpd_error_sleep_time": "0",
            "message_size_limit": "100000",
        }
        settings.update(main or {})
        instance.write_config(main=settings, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "127.0.0.1:%d inet n - y - - smtpd %s" % (self.port, smtpd_args),
            "cleanup unix - - n - 0 cleanup",
            "flush unix n - n 1000 0 flush",
        ])
        instance.start()
        self.queue = instance.queue

    def connect(self, source="127.0.0.1"):
        return Client(self.port, source)

    def smtp(self, source="127.0.0.1"):
        s = smtplib.SMTP(timeout=20, source_address=(source, 0))
        s.connect("127.0.0.1", self.port)
        return s

    def incoming(self):
        """Queue files in incoming/, without cleanup's temporary files
        (t<pid>.<n>, not queue IDs: docs/QUEUE.md)."""
        return [p for p in queue_files(self.queue, "incoming")
                if not re.match(r"t\d+\.\d+$", os.path.basename(p))]

    def log(self):
        return read_text(self.maillog)

    def wait_log(self, text, timeout=10):
        return wait_for(lambda: text in self.log(), timeout=timeout)


class Client:
    """A hand-written SMTP client: raw bytes out, reply lines in."""

    def __init__(self, port, source="127.0.0.1"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20,
                                             source_address=(source, 0))
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode()

    def reply(self):
        """One whole (possibly multi-line) reply as a list of lines."""
        lines = [self.line()]
        while lines[-1][3:4] == "-":
            lines.append(self.line())
        return lines

    def code(self):
        return int(self.reply()[-1][:3])

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.reply()

    def closed(self):
        try:
            return self.sock.recv(100) == b""
        except (ConnectionResetError, socket.timeout):
            return True

    def close(self):
        self.sock.close()


@pytest.fixture
def smtpd(instance, workdir):
    return Smtpd(instance, workdir)


def send_message(c, sender, rcpts, content, ehlo="client.test"):
    """Full transaction with DATA; content is raw (already dot-stuffed)."""
    assert c.cmd("EHLO " + ehlo)[-1].startswith("250")
    assert c.cmd("MAIL FROM:<%s>" % sender)[0].startswith("250")
    for r in rcpts:
        assert c.cmd("RCPT TO:<%s>" % r)[0].startswith("250")
    assert c.cmd("DATA")[0].startswith("354")
    c.send(content)
    return c.reply()[0]


def queued_file(smtpd, reply):
    assert reply.startswith("250 2.0.0 Ok: queued as "), reply
    qid = reply.rsplit(" ", 1)[1]
    path = os.path.join(smtpd.queue, "incoming", qid)
    assert os.path.exists(path), (reply, smtpd.incoming())
    return QueueFile(path)


# --- greeting, EHLO, simple commands ---------------------------------------

def test_smtpd_greets_and_announces_extensions(smtpd):
    c = smtpd.connect()
    assert c.greeting == ["220 mx.test ESMTP Postel"]
    lines = c.cmd("EHLO client.test")
    assert lines[0] == "250-mx.test"
    keywords = [l[4:] for l in lines[1:]]
    assert keywords == ["PIPELINING", "SIZE 100000", "VRFY", "ETRN",
                        "ENHANCEDSTATUSCODES", "8BITMIME", "DSN",
                        "SMTPUTF8", "CHUNKING"]
    assert lines[-1] == "250 CHUNKING"
    assert c.cmd("HELO client.test") == ["250 mx.test"]
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    assert c.cmd("RSET") == ["250 2.0.0 Ok"]
    assert c.cmd("VRFY postmaster") == ["250 2.0.0 postmaster".replace("250", "252")]
    # local.test is not in fast_flush_domains ($relay_domains, empty).
    assert c.cmd("ETRN local.test") == ["459 <local.test>: service unavailable"]
    assert c.cmd("HELP")[0].startswith("214-")
    assert c.cmd("XYZZY") == ["502 5.5.2 Error: command not recognized"]
    assert c.cmd("QUIT") == ["221 2.0.0 Bye"]
    assert c.closed()


def test_smtpd_sequence_and_syntax_errors(smtpd):
    c = smtpd.connect()
    assert c.cmd("RCPT TO:<u@mx.test>") == ["503 5.5.1 Error: need MAIL command"]
    assert c.cmd("DATA") == ["503 5.5.1 Error: need RCPT command"]
    assert c.cmd("EHLO") == ["501 5.5.4 Syntax: EHLO hostname"]
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL TO:<a@b.test>") == ["501 5.5.4 Syntax: MAIL FROM:<address>"]
    assert c.cmd("MAIL FROM:<a@@b>")[0].startswith("501 5.1.7 ")
    assert c.cmd("MAIL FROM:<a@client.test>") == ["250 2.1.0 Ok"]
    assert c.cmd("MAIL FROM:<a@client.test>") == ["503 5.5.1 Error: nested MAIL command"]
    assert c.cmd("DATA") == ["554 5.5.1 Error: no valid recipients"]
    assert c.cmd("RCPT TO:<u@@mx.test>")[0].startswith("501 5.1.3 ")
    assert c.cmd("MAIL FROM:<a@client.test> FOO=BAR")[0].startswith("503")
    c.cmd("QUIT")


def test_smtpd_vrfy_disabled(instance, workdir):
    s = Smtpd(instance, workdir, main={"disable_vrfy_command": "yes"})
    c = s.connect()
    lines = c.cmd("EHLO client.test")
    assert "250-VRFY" not in lines
    assert c.cmd("VRFY u") == ["502 5.5.1 VRFY command is disabled"]
    c.cmd("QUIT")


# --- queuing ------------------------------------------------------------------

BODY = (b"Subject: hello\r\nFrom: <a@client.test>\r\nTo: <u@mx.test>\r\n"
        b"Message-ID: <1@client.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        b"\r\nline one\r\n..leading dot\r\n\r\nlast line\r\n")


@pytest.mark.parametrize("rcpt", ["u@mx.test", "someone@remote.example"])
def test_smtpd_queues_mail_from_mynetworks_byte_exact(smtpd, rcpt):
    s = smtpd.smtp()
    s.ehlo("client.test")
    s.mail("a@client.test")
    code, _ = s.rcpt(rcpt)
    assert code == 250
    code, msg = s.data(BODY)
    assert code == 250, msg
    s.quit()
    qf = queued_file(smtpd, "250 " + msg.decode())
    assert qf.sender == "a@client.test"
    assert qf.rcpt_addrs == [rcpt]
    head, body = qf.header_and_body()
    # smtplib dot-stuffs; the queue file holds what the client meant.
    assert body == BODY.partition(b"\r\n\r\n")[2]
    names = [n.lower() for n, _ in qf.headers()]
    assert names[0] == "received"
    assert "from client.test" in qf.header("Received")
    assert "127.0.0.1" in qf.header("Received")
    assert qf.header("Subject") == "hello"
    assert qf.header("Message-ID") == "<1@client.test>"
    # The admin's view agrees: postelcat finds it by queue ID.
    qid = os.path.basename(qf.path)
    cat = [bin_path("postelcat"), "-c", smtpd.instance.confdir]
    env = subprocess.run(cat + ["-e", "-q", qid], capture_output=True,
                         check=True, timeout=30).stdout.decode()
    assert "sender: a@client.test\n" in env
    assert "recipient: %s\n" % rcpt in env
    raw_body = subprocess.run(cat + ["-r", "-b", "-q", qid], capture_output=True,
                              check=True, timeout=30).stdout
    assert raw_body == body
    raw_head = subprocess.run(cat + ["-r", "-h", "-q", qid], capture_output=True,
                              check=True, timeout=30).stdout
    assert raw_head.startswith(b"Received: from client.test (localhost [127.0.0.1])")
    assert b"\r\nSubject: hello\r\n" in raw_head


@pytest.mark.needs("swaks")
def test_smtpd_swaks_and_logs(smtpd):
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port",
                        str(smtpd.port), "--from", "a@client.test", "--to",
                        "u@mx.test", "--helo", "client.test",
                        "--body", "hi from swaks"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 Ok: queued as" in r.stdout
    assert len(smtpd.incoming()) == 1
    assert smtpd.wait_log("disconnect from localhost[127.0.0.1] ehlo=1 "
                          "mail=1 rcpt=1 data=1 quit=1 commands=5")
    log = smtpd.log()
    assert "connect from localhost[127.0.0.1]" in log
    qid = os.path.basename(smtpd.incoming()[0])
    assert "%s: client=localhost[127.0.0.1]" % qid in log


def test_smtpd_every_250_has_its_queue_file(smtpd):
    c = smtpd.connect()
    c.cmd("EHLO client.test")
    for i in range(20):
        assert c.cmd("MAIL FROM:<a@client.test>")[0].startswith("250")
        assert c.cmd("RCPT TO:<u@mx.test>")[0].startswith("250")
        assert c.cmd("DATA")[0].startswith("354")
        c.send(b"Subject: %d\r\n\r\nbody %d\r\n.\r\n" % (i, i))
        qf = queued_file(smtpd, c.reply()[0])
        assert qf.header("Subject") == str(i)
    c.cmd("QUIT")
    assert len(smtpd.incoming()) == 20


def test_smtpd_dsn_parameters_reach_the_queue_file(smtpd):
    c = smtpd.connect()
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@client.test> RET=HDRS ENVID=abc+2Bdef")[0] \
        .startswith("250")
    assert c.cmd("RCPT TO:<u@mx.test> NOTIFY=SUCCESS,FAILURE "
                 "ORCPT=rfc822;orig@mx.test")[0].startswith("250")
    assert c.cmd("DATA")[0].startswith("354")
    c.send(b"Subject: dsn\r\n\r\nx\r\n.\r\n")
    qf = queued_file(smtpd, c.reply()[0])
    assert qf.envid == "abc+def"
    assert qf.ret is not None
    r = qf.recipients[0]
    assert r["addr"] == "u@mx.test"
    assert r["orcpt"] is not None and "orig@mx.test" in r["orcpt"]
    assert r["notify"] != 0
    c.cmd("QUIT")


# --- smuggling ----------------------------------------------------------------

@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r.\r", b"\r\n.\n",
                                      b"\n.\r\n", b"\r.\r\n"])
def test_smtpd_smuggled_end_of_data_is_content(smtpd, fake_end):
    c = smtpd.connect()
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@client.test>")
    c.cmd("RCPT TO:<u@mx.test>")
    assert c.cmd("DATA")[0].startswith("354")
    c.send(b"Subject: outer\r\n\r\nouter body" + fake_end +
           b"MAIL FROM:<evil@client.test>\r\nRCPT TO:<victim@mx.test>\r\n"
           b"DATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n")
    reply = c.reply()[0]
    qf = queued_file(smtpd, reply)
    assert c.cmd("QUIT") == ["221 2.0.0 Bye"]
    assert len(smtpd.incoming()) == 1
    assert qf.rcpt_addrs == ["u@mx.test"]
    _, body = qf.header_and_body()
    assert b"MAIL FROM:<evil@client.test>\r\n" in body
    # No bare CR or LF survives.
    assert b"\r" not in body.replace(b"\r\n", b"")
    assert b"\n" not in body.replace(b"\r\n", b"")


def test_smtpd_bare_newline_reject_mode(instance, workdir):
    s = Smtpd(instance, workdir, main={
        "smtpd_forbid_bare_newline": "reject",
        "smtpd_forbid_bare_newline_exclusions": "127.0.0.2"})
    c = s.connect()
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@client.test>")
    c.cmd("RCPT TO:<u@mx.test>")
    c.cmd("DATA")
    c.send(b"Subject: x\r\n\r\nbare\nlf\r\n.\r\n")
    assert c.reply() == ["550 5.5.2 Error: bare <CR> or <LF> received"]
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    c.cmd("QUIT")
    assert s.incoming() == []
    # An excluded client is normalised instead.
    c = s.connect(source="127.0.0.2")
    reply = send_message(c, "a@client.test", ["u@mx.test"],
                         b"Subject: x\r\n\r\nbare\nlf\r\n.\r\n")
    qf = queued_file(s, reply)
    assert qf.header_and_body()[1] == b"bare\r\nlf\r\n"


# --- limits -------------------------------------------------------------------

def test_smtpd_long_command_line_is_refused_and_session_continues(smtpd):
    c = smtpd.connect()
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<" + "a" * 10000 + "@client.test>") == \
        ["500 5.5.2 Error: line too long"]
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    reply = send_message(c, "a@client.test", ["u@mx.test"],
                         b"Subject: after\r\n\r\nok\r\n.\r\n")
    queued_file(smtpd, reply)
    c.cmd("QUIT")


def test_smtpd_declared_size_too_big(smtpd):
    c = smtpd.connect()
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@client.test> SIZE=100001") == \
        ["552 5.3.4 Message size exceeds fixed limit"]
    assert c.cmd("MAIL FROM:<a@client.test> SIZE=1000")[0].startswith("250")
    c.cmd("QUIT")


def test_smtpd_actual_size_too_big(smtpd):
    c = smtpd.connect()
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 200 + b".\r\n"
    reply = send_message(c, "a@client.test", ["u@mx.test"], big)
    assert reply == "552 5.3.4 Message size exceeds fixed limit"
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    c.cmd("QUIT")
    assert smtpd.incoming() == []


def test_smtpd_too_many_recipients(instance, workdir):
    s = Smtpd(instance, workdir, main={"smtpd_recipient_limit": "3"})
    c = s.connect()
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@client.test>")
    for i in range(3):
        assert c.cmd("RCPT TO:<u%d@mx.test>" % i)[0].startswith("250")
    assert c.cmd("RCPT TO:<u9@mx.test>") == ["452 4.5.3 Error: too many recipients"]
    c.cmd("DATA")
    c.send(b"Subject: r\r\n\r\nx\r\n.\r\n")
    qf = queued_file(s, c.reply()[0])
    assert len(qf.recipients) == 3
    c.cmd("QUIT")


def test_smtpd_too_many_errors_disconnects_then_serves_next_client(instance, workdir):
    s = Smtpd(instance, workdir, main={"smtpd_hard_error_limit": "5",
                                       "smtpd_soft_error_limit": "2"})
    c = s.connect()
    replies = [c.cmd("BOGUS %d" % i)[0] for i in range(5)]
    assert all(r.startswith("502") for r in replies)
    assert c.reply() == ["421 4.7.0 mx.test Error: too many errors"]
    assert c.closed()
    assert s.wait_log("too many errors after UNKNOWN from localhost[127.0.0.1]")
    c = s.connect()
    reply = send_message(c, "a@client.test", ["u@mx.test"],
                         b"Subject: next\r\n\r\nx\r\n.\r\n")
    queued_file(s, reply)
    c.cmd("QUIT")


def test_smtpd_timeout(instance, workdir):
    s = Smtpd(instance, workdir, main={"smtpd_timeout": "1s"})
    c = s.connect()
    c.cmd("EHLO client.test")
    assert c.reply() == ["421 4.4.2 mx.test Error: timeout exceeded"]
    assert s.wait_log("timeout after EHLO from localhost[127.0.0.1]")


# --- pipelining and BDAT --------------------------------------------------------

def test_smtpd_pipelining_replies_in_order(smtpd):
    c = smtpd.connect()
    c.cmd("EHLO client.test")
    c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<u@mx.test>\r\n"
           b"RCPT TO:<bad@@x>\r\nRCPT TO:<v@mx.test>\r\nDATA\r\n")
    assert c.reply()[0] == "250 2.1.0 Ok"
    assert c.reply()[0] == "250 2.1.5 Ok"
    assert c.reply()[0].startswith("501 5.1.3")
    assert c.reply()[0] == "250 2.1.5 Ok"
    assert c.reply()[0].startswith("354")
    c.send(b"Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n")
    qf = queued_file(smtpd, c.reply()[0])
    assert qf.rcpt_addrs == ["u@mx.test", "v@mx.test"]
    assert c.reply() == ["221 2.0.0 Bye"]


def test_smtpd_bdat_chunks_pipelined(smtpd):
    c = smtpd.connect()
    c.cmd("EHLO client.test")
    part1 = b"Subject: chunks\r\n\r\nfirst "
    part2 = b"second\r\nthird line\r\n"
    c.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<u@mx.test>\r\n" +
           b"BDAT %d\r\n" % len(part1) + part1 +
           b"BDAT %d LAST\r\n" % len(part2) + part2 + b"QUIT\r\n")
    assert c.reply()[0] == "250 2.1.0 Ok"
    assert c.reply()[0] == "250 2.1.5 Ok"
    assert c.reply()[0] == "250 2.0.0 Ok: %d bytes" % len(part1)
    qf = queued_file(smtpd, c.reply()[0])
    assert qf.header_and_body()[1] == b"first second\r\nthird line\r\n"
    assert c.reply() == ["221 2.0.0 Bye"]


def test_smtpd_bdat_errors(smtpd):
    c = smtpd.connect()
    c.cmd("EHLO client.test")
    # Without a transaction the chunk is read and refused.
    c.send(b"BDAT 6\r\nQUIT\r\nNOOP\r\n")
    assert c.reply()[0] == "503 5.5.1 Error: need RCPT command"
    assert c.reply()[0] == "250 2.0.0 Ok"
    c.cmd("MAIL FROM:<a@client.test>")
    c.cmd("RCPT TO:<u@mx.test>")
    c.send(b"BDAT 3\r\nabc")
    assert c.reply()[0] == "250 2.0.0 Ok: 3 bytes"
    assert c.cmd("DATA")[0] == "503 5.5.1 Error: DATA after BDAT"
    assert c.cmd("BDAT x") == ["501 5.5.4 Syntax: BDAT count [LAST]"]
    assert c.cmd("RSET") == ["250 2.0.0 Ok"]
    c.cmd("QUIT")
    assert smtpd.incoming() == []


# --- durability -------------------------------------------------------------------

def cleanup_pids(instance):
    pids = []
    for pid in instance.children():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
        except FileNotFoundError:
            continue
        if os.path.basename(argv0) == b"cleanup":
            pids.append(pid)
    return pids


def test_smtpd_cleanup_killed_mid_data_gives_4xx_and_no_file(smtpd):
    c = smtpd.connect()
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@client.test>")
    c.cmd("RCPT TO:<u@mx.test>")
    assert c.cmd("DATA")[0].startswith("354")
    c.send(b"Subject: half\r\n\r\n" + b"y" * 40000 + b"\r\n")
    # Kill only once cleanup has taken the envelope (its temporary file
    # exists): before that the connection still waits in the listener's
    # backlog and a fresh cleanup would rightly serve it.
    incoming = os.path.join(smtpd.queue, "incoming")
    assert wait_for(lambda: os.listdir(incoming))
    pids = wait_for(lambda: cleanup_pids(smtpd.instance))
    assert pids
    for pid in pids:
        os.kill(pid, 9)
    assert wait_for(lambda: not any(map(proc_alive, pids)))
    c.send(b"z" * 40000 + b"\r\n.\r\n")
    reply = c.reply()[0]
    assert reply[0] == "4", reply
    assert smtpd.incoming() == []
    assert c.cmd("QUIT") == ["221 2.0.0 Bye"]


# --- policy and logs ------------------------------------------------------------

def test_smtpd_relay_refused_outside_mynetworks_and_logged(instance, workdir):
    smtpd = Smtpd(instance, workdir, main={"mynetworks": "127.0.0.1/32"})
    c = smtpd.connect(source="127.0.0.2")
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@client.test>")[0] == "250 2.1.0 Ok"
    reply = c.cmd("RCPT TO:<x@remote.example>")[0]
    assert reply[:3] in ("454", "554") and "Relay access denied" in reply
    assert c.cmd("RCPT TO:<u@mx.test>")[0] == "250 2.1.5 Ok"
    c.cmd("QUIT")
    assert smtpd.wait_log("disconnect from unknown[127.0.0.2] ehlo=1 mail=1 "
                          "rcpt=1/2 quit=1 commands=4/5")
    log = smtpd.log()
    assert ("NOQUEUE: reject: RCPT from unknown[127.0.0.2]: %s; "
            "from=<a@client.test> to=<x@remote.example> proto=ESMTP "
            "helo=<client.test>" % reply) in log
    assert "connect from unknown[127.0.0.2]" in log


def test_smtpd_lost_connection_mid_data_is_logged(smtpd):
    c = smtpd.connect()
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@client.test>")
    c.cmd("RCPT TO:<u@mx.test>")
    c.cmd("DATA")
    c.send(b"Subject: gone\r\n\r\npartial")
    c.close()
    # Postfix's form: the content bytes received so far.
    assert smtpd.wait_log("lost connection after DATA (24 bytes) from "
                          "localhost[127.0.0.1]")
    assert smtpd.wait_log("data=0/1")
    assert smtpd.incoming() == []


def test_smtpd_8bitmime_and_smtputf8_content_byte_exact(smtpd):
    c = smtpd.connect()
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<\u00e4@client.test>")[0].startswith("553 5.6.7")
    assert c.cmd("MAIL FROM:<\u00e4@client.test> SMTPUTF8 BODY=8BITMIME") == \
        ["250 2.1.0 Ok"]
    assert c.cmd("RCPT TO:<\u00fc@mx.test>") == ["250 2.1.5 Ok"]
    assert c.cmd("DATA")[0].startswith("354")
    body = "gr\u00fc\u00dfe \u2603\r\n".encode() + bytes(range(0x80, 0x100)) + b"\r\n"
    c.send(b"Subject: 8bit\r\n\r\n" + body + b".\r\n")
    qf = queued_file(smtpd, c.reply()[0])
    assert qf.sender == "\u00e4@client.test"
    assert qf.rcpt_addrs == ["\u00fc@mx.test"]
    assert qf.header_and_body()[1] == body
    c.cmd("QUIT")


def test_smtpd_connect_reject_without_delay(instance, workdir):
    s = Smtpd(instance, workdir, main={"smtpd_delay_reject": "no",
                                       "smtpd_client_restrictions": "reject"})
    c = s.connect()
    assert c.greeting == ["220 mx.test ESMTP Postel"]
    c.cmd("EHLO client.test")
    reply = c.cmd("MAIL FROM:<a@client.test>")[0]
    assert reply.startswith("554 5.7.1 ")
    assert c.cmd("QUIT") == ["221 2.0.0 Bye"]
    assert s.wait_log("NOQUEUE: reject: CONNECT from localhost[127.0.0.1]: "
                      + reply)
