# Hardening of the submission paths (issue 9, security review findings 1,
# 5, 7, 12 and 15): bare CR/LF smuggling through local submission, sendmail
# option parsing and alternate configuration folders, addresses that look
# like command options, queue space and size bounds, and smtpd's behaviour
# with smtpd_peername_lookup = no or an unserved cleanup socket.
#
# Every test drives the real programs: smtplib or a raw socket client
# against smtpd, the real sendmail and postdrop commands, and a raw-socket
# SMTP server as the next hop that records the exact bytes it receives.
#
# SPDX-License-Identifier: ISC
import os
import shutil
import socket
import subprocess
import threading
import time

from conftest import bin_path, free_port, wait_for
from queuefile import QueueFile
from test_qmgr import _rec, make_qid, trigger, write_queue_file
from test_smtpd import Client, Smtpd

SAN = os.environ.get("POSTEL_SAN") == "1"
# A fatal exit leaves memory behind on purpose; LeakSanitizer must not turn
# the sysexits code into 1 (commands run directly by the test only).
SAN_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0") if SAN else None

SMUGGLE = (b"Subject: smuggle\r\n\r\nx\r.\rMAIL FROM:<spoof@evil.test>\r"
           b"RCPT TO:<victim@victim.test>\rDATA\rforged\r.\r"
           b"y\n.\nMAIL FROM:<spoof2@evil.test>\nend\r\n")


def netstring(data):
    return b"%d:%s," % (len(data), data)


def frame(**attrs):
    return netstring(b"".join(netstring(k.encode()) + netstring(v)
                              for k, v in attrs.items()))


def postdrop_stream(content, sender=b"a@example.com",
                    rcpt=b"b@example.com"):
    """What sendmail writes on postdrop's standard input, by hand."""
    return (frame(request=b"envelope", sender=sender, extract=b"0",
                  ret=b"0")
            + frame(request=b"rcpt", addr=rcpt, notify=b"0")
            + frame(request=b"data", data=content)
            + frame(request=b"end"))


def write_maildrop_file(queue, content, sender=b"a@example.com",
                        rcpt=b"b@example.com"):
    """A maildrop file (util/maildrop.h) written without postdrop."""
    now = time.time()
    sec, usec = int(now), int((now - int(now)) * 1e6)
    env = [_rec("T", b"%d %d" % (sec, usec)), _rec("F", sender),
           _rec("A", b"uid=%d" % os.getuid()), _rec("R", rcpt)]
    size_len = len(_rec("S", b"0" * 63))
    content_offset = size_len + sum(len(x) for x in env)
    body = _rec("M", b"") + _rec("C", content)
    size = b" ".join(b"%015d" % v for v in (
        content_offset, content_offset + len(body), len(content), 1))
    data = (_rec("S", size) + b"".join(env) + body + _rec("X", b"")
            + _rec("E", b""))
    tmp = os.path.join(queue, "maildrop", "t%d.hand" % os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    ino = os.fstat(fd).st_ino
    os.close(fd)
    os.rename(tmp, os.path.join(queue, "maildrop", make_qid(sec, usec, ino)))


class RawSink:
    """A next-hop SMTP server on a raw socket that keeps the exact bytes.

    No PIPELINING, so the client goes in lock step; DATA ends at
    <CR><LF>.<CR><LF> only.  commands lists every command line received,
    data every DATA content as bytes (dot-stuffing kept)."""

    def __init__(self):
        self.port = free_port()
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", self.port))
        self.srv.listen(5)
        self.srv.settimeout(0.2)
        self.commands = []
        self.data = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                conn, _ = self.srv.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(30)
                try:
                    self.session(conn)
                except (OSError, EOFError):
                    pass

    def session(self, conn):
        buf = b""

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            text, _, buf = buf.partition(b"\r\n")
            return text

        conn.sendall(b"220 sink.test ESMTP\r\n")
        while True:
            cmd = line()
            self.commands.append(cmd)
            verb = cmd[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 sink.test\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                while b"\r\n.\r\n" not in b"\r\n" + buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        raise EOFError
                    buf += chunk
                end = (b"\r\n" + buf).index(b"\r\n.\r\n")
                self.data.append(buf[:end])
                buf = buf[end + 3:]
                conn.sendall(b"250 2.0.0 Ok: queued as SINK%d\r\n"
                             % len(self.data))
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    def close(self):
        self.stop = True
        self.thread.join(timeout=5)
        self.srv.close()


def assert_clean_wire(data):
    """Only CRLF line ends, no smuggled end of data."""
    assert b"\r.\r" not in data and b"\n.\n" not in data, data
    assert data.count(b"\r") == data.count(b"\r\n") == data.count(b"\n"), \
        data


def relay_instance(instance, sink, services_extra=()):
    instance.write_config(
        main={"relayhost": "[127.0.0.1]:%d" % sink.port,
              "myhostname": "mta.test.invalid", "mydomain": "test.invalid",
              "mydestination": "", "maillog_file":
              os.path.join(instance.workdir, "maillog"),
              "minimal_backoff_time": "300s", "queue_run_delay": "300s",
              "smtp_connect_timeout": "5s"},
        services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "smtp unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ] + list(services_extra))
    instance.start()
    assert wait_for(lambda: os.path.exists(
        instance.unix_path("pickup", private=False)))
    return instance


def maillog(instance):
    try:
        with open(os.path.join(instance.workdir, "maillog"),
                  errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def maildrop(instance):
    return os.listdir(os.path.join(instance.queue, "maildrop"))


# --- finding 1: bare CR/LF through local submission -------------------------

def test_postdrop_refuses_a_hand_written_stream_with_bare_cr_or_lf(instance):
    sink = RawSink()
    try:
        relay_instance(instance, sink)
        for content in (SMUGGLE, b"a\r\nb\rc\r\n", b"a\nb\r\n",
                        b"a\r\nb\r"):
            r = subprocess.run([bin_path("postdrop"), "-c", instance.confdir],
                               input=postdrop_stream(content),
                               capture_output=True, timeout=30,
                               env=SAN_ENV)
            assert r.returncode == 65, (content, r.stderr)
            assert b"bare <CR> or <LF> in content" in r.stderr
            assert maildrop(instance) == []
        # The same bytes through sendmail become ordinary lines.
        r = subprocess.run([bin_path("sendmail"), "-C", instance.confdir,
                            "-i", "-f", "a@example.com", "b@example.com"],
                           input=SMUGGLE, capture_output=True, timeout=30,
                           env=SAN_ENV)
        assert r.returncode == 0, r.stderr
        assert wait_for(lambda: sink.data, timeout=30), maillog(instance)
        time.sleep(0.5)
        assert len(sink.data) == 1
        assert_clean_wire(sink.data[0])
        assert b"\r\nx\r\n..\r\nMAIL FROM:<spoof@evil.test>\r\n" \
            in sink.data[0]
        assert [c for c in sink.commands if c.startswith(b"MAIL")] == \
            [b"MAIL FROM:<a@example.com>"]
    finally:
        sink.close()


def test_cleanup_normalises_bare_cr_lf_from_a_maildrop_file(instance):
    # pickup + cleanup only: the queue file stays in incoming/ to be read.
    instance.write_config(main={"myhostname": "mta.test.invalid"}, services=[
        "pickup unix n - n 60 1 pickup",
        "cleanup unix n - n - 0 cleanup"])
    instance.start()
    assert wait_for(lambda: os.path.exists(
        instance.unix_path("pickup", private=False)))
    write_maildrop_file(instance.queue, SMUGGLE)
    trigger_pickup(instance)
    incoming = os.path.join(instance.queue, "incoming")
    assert wait_for(lambda: [n for n in os.listdir(incoming)
                             if "." not in n], timeout=20)
    name = [n for n in os.listdir(incoming) if "." not in n][0]
    content = QueueFile(os.path.join(incoming, name)).content
    assert_clean_wire(content)
    assert content.endswith(b"\r\n\r\nx\r\n.\r\nMAIL FROM:<spoof@evil.test>"
                            b"\r\nRCPT TO:<victim@victim.test>\r\nDATA\r\n"
                            b"forged\r\n.\r\ny\r\n.\r\n"
                            b"MAIL FROM:<spoof2@evil.test>\r\nend\r\n")


def trigger_pickup(instance):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(instance.unix_path("pickup", private=False))
    s.sendall(b"W")
    s.close()


def test_maildrop_file_with_bare_cr_lf_reaches_next_hop_as_lines(instance):
    sink = RawSink()
    try:
        relay_instance(instance, sink)
        write_maildrop_file(instance.queue, SMUGGLE)
        trigger_pickup(instance)
        assert wait_for(lambda: sink.data, timeout=30), maillog(instance)
        time.sleep(0.5)
        assert len(sink.data) == 1
        assert_clean_wire(sink.data[0])
        assert [c for c in sink.commands if c.startswith(b"MAIL")] == \
            [b"MAIL FROM:<a@example.com>"]
    finally:
        sink.close()


def test_smtp_client_sends_bare_cr_lf_of_a_queue_file_as_lines(instance):
    # A queue file written past cleanup: the client is the last defence.
    sink = RawSink()
    try:
        relay_instance(instance, sink)
        write_queue_file(instance.queue, "a@example.com",
                         ["b@example.com"], body=SMUGGLE)
        trigger(instance)
        assert wait_for(lambda: sink.data, timeout=30), maillog(instance)
        time.sleep(0.5)
        assert len(sink.data) == 1
        assert_clean_wire(sink.data[0])
        assert sink.data[0].endswith(
            b"\r\nx\r\n..\r\nMAIL FROM:<spoof@evil.test>\r\n"
            b"RCPT TO:<victim@victim.test>\r\nDATA\r\nforged\r\n..\r\n"
            b"y\r\n..\r\nMAIL FROM:<spoof2@evil.test>\r\nend\r\n")
        assert [c for c in sink.commands if c.startswith(b"MAIL")] == \
            [b"MAIL FROM:<a@example.com>"]
    finally:
        sink.close()


# --- finding 15: smtpd as a site configures it -------------------------------

def test_smtpd_peername_lookup_no_serves_and_logs_unknown(instance, workdir):
    smtpd = Smtpd(instance, workdir, main={"smtpd_peername_lookup": "no"})
    s = smtpd.smtp()
    try:
        assert s.ehlo("client.test")[0] == 250
        assert s.mail("a@client.test")[0] == 250
        assert s.rcpt("u@mx.test")[0] == 250
        code, reply = s.data(b"Subject: t\r\n\r\nhello\r\n")
        assert code == 250, reply
    finally:
        s.quit()
    assert smtpd.wait_log("connect from unknown[127.0.0.1]"), smtpd.log()
    assert smtpd.wait_log("client=unknown[127.0.0.1]"), smtpd.log()
    assert "signal" not in smtpd.log()
    assert len(smtpd.incoming()) == 1


def test_smtpd_answers_451_at_once_when_cleanup_is_not_served(instance,
                                                              workdir):
    # master keeps cleanup's socket, but the program fails at every start
    # (throttled): connections to it are never accepted.
    port = free_port()
    instance.write_config(main={
        "myhostname": "mx.test", "mydestination": "mx.test",
        "local_recipient_maps": "", "smtpd_error_sleep_time": "0",
        "smtpd_recipient_limit": "5000",
        "maillog_file": os.path.join(workdir, "maillog")}, services=[
        "postlog unix-dgram n - n - 1 postlogd",
        "127.0.0.1:%d inet n - n - - smtpd" % port,
        "cleanup unix - - n - 0 /bin/false"])
    instance.start()
    # One recipient, then an envelope larger than a socket buffer.
    for nrcpt in (1, 4000):
        c = Client(port)
        c.cmd("EHLO client.test")
        assert c.cmd("MAIL FROM:<a@client.test>")[0].startswith("250")
        c.send(b"".join(b"RCPT TO:<%s%d@mx.test>\r\n" % (b"u" * 58, i)
                        for i in range(nrcpt)))
        for i in range(nrcpt):
            assert c.reply()[0].startswith("250")
        c.sock.settimeout(60)
        start = time.monotonic()
        reply = c.cmd("DATA")
        took = time.monotonic() - start
        assert reply[0].startswith("451 4.3.0"), reply
        assert took < 15, took
        assert c.cmd("QUIT")[0].startswith("221")
        c.close()
    assert wait_for(lambda: "did not answer" in read(
        os.path.join(workdir, "maillog"))), read(os.path.join(workdir,
                                                              "maillog"))
    assert "cannot reach the cleanup service" in read(
        os.path.join(workdir, "maillog"))
    # With the service gone from master.cf the socket goes too: at once.
    instance.write_config(services=instance.services[:-1])
    instance.reload()
    assert wait_for(lambda: not os.path.exists(instance.unix_path(
        "cleanup"))), os.listdir(os.path.join(instance.queue, "private"))
    c = Client(port)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@client.test>")
    c.cmd("RCPT TO:<u@mx.test>")
    start = time.monotonic()
    assert c.cmd("DATA")[0].startswith("451 4.3.0")
    assert time.monotonic() - start < 15
    c.close()


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


# --- finding 7: addresses that look like command options ---------------------

def test_smtpd_refuses_addresses_beginning_with_dash(instance, workdir):
    smtpd = Smtpd(instance, workdir)
    s = smtpd.smtp()
    try:
        s.ehlo("client.test")
        for sender in ("-oQ/tmp/x@client.test", '"-oQ/tmp/x"@client.test',
                       "-f@client.test"):
            code, reply = s.mail(sender)
            assert (code, reply[:5]) == (501, b"5.1.7"), (sender, reply)
            assert b"Bad sender address syntax" in reply
        assert s.mail("a@client.test")[0] == 250
        for rcpt in ("-oProxyCommand=x@mx.test", '"-x"@mx.test',
                     '"\\-x"@mx.test'):
            code, reply = s.rcpt(rcpt)
            assert (code, reply[:5]) == (501, b"5.1.3"), (rcpt, reply)
            assert b"Bad recipient address syntax" in reply
        assert s.rcpt("a-b@mx.test")[0] == 250
        assert s.data(b"Subject: t\r\n\r\nx\r\n")[0] == 250
    finally:
        s.quit()


def test_smtpd_allow_min_user_yes_accepts_them(instance, workdir):
    smtpd = Smtpd(instance, workdir, main={"allow_min_user": "yes"})
    s = smtpd.smtp()
    try:
        s.ehlo("client.test")
        assert s.mail("-x@client.test")[0] == 250
        assert s.rcpt("-y@mx.test")[0] == 250
    finally:
        s.quit()


def sendmail_cmd(instance, args, data=b"Subject: t\n\nx\n", prog=None,
                 user=None):
    argv = [prog or bin_path("sendmail")] + list(args)
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    return subprocess.run(argv, input=data, capture_output=True, timeout=30,
                          env=SAN_ENV)


def test_sendmail_and_postdrop_refuse_addresses_beginning_with_dash(instance):
    instance.write_config(services=[])
    instance.set_permissions()
    conf = ["-C", instance.confdir]
    r = sendmail_cmd(instance, conf + ["-f", "-oQ@example.com",
                                       "u@example.com"])
    assert r.returncode == 67 and b"bad sender address" in r.stderr, r
    r = sendmail_cmd(instance, conf + ["--", "-oQ@example.com"])
    assert r.returncode == 67 and b"bad recipient address" in r.stderr, r
    r = sendmail_cmd(instance, conf + ["-bs"],
                     b"HELO x\r\nMAIL FROM:<-a@example.com>\r\n"
                     b"MAIL FROM:<a@example.com>\r\n"
                     b"RCPT TO:<-b@example.com>\r\nQUIT\r\n")
    assert b"501 5.1.7 Bad sender address syntax" in r.stdout, r.stdout
    assert b"501 5.1.3 Bad recipient address syntax" in r.stdout, r.stdout
    for sender, rcpt in ((b"-a@example.com", b"b@example.com"),
                         (b"a@example.com", b"-b@example.com"),
                         (b"a@example.com", b'"-b"@example.com')):
        r = subprocess.run([bin_path("postdrop"), "-c", instance.confdir],
                           input=postdrop_stream(b"x\r\n", sender, rcpt),
                           capture_output=True, timeout=30,
                           env=SAN_ENV)
        assert r.returncode == 67, r.stderr
        assert b'begins with "-"' in r.stderr
    assert maildrop(instance) == []


# --- finding 5: sendmail options and alternate configuration folders ----------

def evil_config(workdir):
    """A configuration folder whose command_directory holds a "postdrop"
    that leaves a marker file when anyone runs it."""
    evil = os.path.join(workdir, "evil")
    os.makedirs(evil)
    os.chmod(evil, 0o777)
    marker = os.path.join(evil, "ran")
    with open(os.path.join(evil, "main.cf"), "w") as f:
        f.write("command_directory = %s\nqueue_directory = %s\n"
                % (evil, evil))
    for name in ("postdrop", "postelqueue"):
        path = os.path.join(evil, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\necho \"$0 $*\" >> %s\ncat >/dev/null\n"
                    % marker)
        os.chmod(path, 0o755)
    return evil, marker


def test_sendmail_options_end_at_the_first_recipient(instance, workdir):
    instance.write_config(services=[])
    instance.set_permissions()
    evil, marker = evil_config(workdir)
    r = sendmail_cmd(instance, ["-C", instance.confdir, "u@example.com",
                                "-C", evil])
    assert r.returncode == 67, r
    assert b"bad recipient address syntax: -C" in r.stderr, r.stderr
    r = sendmail_cmd(instance, ["-C", instance.confdir, "u@example.com",
                                "-bp"])
    assert r.returncode == 67 and b"-bp" in r.stderr, r
    assert not os.path.exists(marker)
    assert maildrop(instance) == []


def test_sendmail_runs_no_program_of_an_unlisted_config_folder(instance,
                                                               workdir):
    # nobody must reach the programs: stage copies in the workdir (0755).
    stage = os.path.join(workdir, "stage")
    os.makedirs(stage)
    for name in ("sendmail", "postdrop"):
        shutil.copy(bin_path(name), os.path.join(stage, name))
        os.chmod(os.path.join(stage, name), 0o755)
    evil, marker = evil_config(workdir)
    assert not os.path.exists("/etc/postel/main.cf") or \
        evil not in open("/etc/postel/main.cf").read()
    for args in (["-C", evil, "u@example.com"], ["-C", evil, "-bp"]):
        r = sendmail_cmd(instance, args, prog=os.path.join(stage,
                                                           "sendmail"),
                         user="nobody")
        assert not os.path.exists(marker), (args, r, open(marker).read())
    # root may use any folder, as in Postfix.
    r = sendmail_cmd(instance, ["-C", evil, "u@example.com"],
                     prog=os.path.join(stage, "sendmail"))
    assert r.returncode == 0, r
    assert os.path.exists(marker)


# --- finding 12: queue space and size bounds ---------------------------------

def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_smtpd_452_when_the_queue_file_system_is_short_of_space(instance,
                                                               workdir):
    # queue_minfree above what the test file system has free.
    minfree = free_bytes(workdir) * 2 + (1 << 30)
    smtpd = Smtpd(instance, workdir, main={"queue_minfree": str(minfree)})
    s = smtpd.smtp()
    try:
        s.ehlo("client.test")
        code, reply = s.mail("a@client.test")
        assert (code, reply) == (452, b"4.3.1 Insufficient system storage")
    finally:
        s.quit()
    assert smtpd.wait_log("NOQUEUE: reject: MAIL from localhost[127.0.0.1]"
                          ": 452 4.3.1 Insufficient system storage"), \
        smtpd.log()
    assert smtpd.wait_log("not enough free space in the queue file system")


def test_smtpd_452_when_declared_size_does_not_fit(instance, workdir):
    # Room for mail in general, not for this SIZE= (all of it: more than
    # half, however much other programs write or free meanwhile).
    free = free_bytes(workdir)
    smtpd = Smtpd(instance, workdir, main={"message_size_limit": "0"})
    s = smtpd.smtp()
    try:
        s.ehlo("client.test")
        code, reply = s.mail("a@client.test", ["SIZE=%d" % free])
        assert (code, reply) == (452, b"4.3.1 Insufficient system storage")
        code, reply = s.mail("a@client.test", ["SIZE=1000"])
        assert code == 250, reply
    finally:
        s.quit()


def test_postdrop_refuses_too_big_messages_and_a_full_queue(instance,
                                                           workdir):
    instance.write_config(services=[],
                          main={"message_size_limit": "10000"})
    instance.set_permissions()
    big = b"Subject: big\n\n" + (b"x" * 99 + b"\n") * 200
    r = sendmail_cmd(instance, ["-C", instance.confdir, "u@example.com"],
                     big)
    assert r.returncode == 65, r
    assert b"message too large" in r.stderr and b"10000" in r.stderr
    assert maildrop(instance) == []
    # A hand-written stream with endless recipients is bounded too.
    stream = (frame(request=b"envelope", sender=b"a@example.com",
                    extract=b"0", ret=b"0")
              + b"".join(frame(request=b"rcpt", addr=b"%0900d@example.com"
                               % i, notify=b"0") for i in range(6000)))
    r = subprocess.run([bin_path("postdrop"), "-c", instance.confdir],
                       input=stream, capture_output=True, timeout=60,
                       env=SAN_ENV)
    assert r.returncode == 65 and b"envelope exceeds" in r.stderr, r
    assert maildrop(instance) == []
    small = b"Subject: small\n\nhi\n"
    r = sendmail_cmd(instance, ["-C", instance.confdir, "u@example.com"],
                     small)
    assert r.returncode == 0, r
    assert len(maildrop(instance)) == 1
    os.unlink(os.path.join(instance.queue, "maildrop",
                           maildrop(instance)[0]))
    instance.write_config(main={"queue_minfree": str(
        free_bytes(workdir) * 2 + (1 << 30))})
    r = sendmail_cmd(instance, ["-C", instance.confdir, "u@example.com"],
                     small)
    assert r.returncode == 75, r
    assert b"not enough free space in the queue file system" in r.stderr
    assert maildrop(instance) == []


def test_sendmail_t_header_recipient_beginning_with_dash_is_returned(
        instance):
    instance.write_config(main={"myhostname": "mta.test.invalid"}, services=[
        "pickup unix n - n 60 1 pickup",
        "cleanup unix n - n - 0 cleanup"])
    instance.start(foreground=True)
    assert wait_for(lambda: os.path.exists(
        instance.unix_path("pickup", private=False)))
    r = sendmail_cmd(instance, ["-C", instance.confdir, "-t", "-f",
                                "alice@example.org"],
                     b"To: bob@example.org, -oProxyCommand=x@example.org\n"
                     b"Subject: t\n\nhi\n")
    assert r.returncode == 0, r
    incoming = os.path.join(instance.queue, "incoming")
    assert wait_for(lambda: maildrop(instance) == [] and
                    [n for n in os.listdir(incoming) if "." not in n],
                    timeout=20), instance.read_log()
    text = ("rejected: 550 5.1.3 <-oProxyCommand=x@example.org>: Bad "
            "recipient address syntax")
    assert wait_for(lambda: text in instance.read_log()), instance.read_log()
    # Only the notification to the sender was queued.
    [name] = [n for n in os.listdir(incoming) if "." not in n]
    q = QueueFile(os.path.join(incoming, name))
    assert [r["addr"] for r in q.recipients] == ["alice@example.org"]
    assert q.sender == ""
