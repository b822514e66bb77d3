"""local(8) end to end: SMTP -> smtpd -> cleanup -> qmgr -> local, with
real accounts made by useradd (homes under the test's folder).

Covers Maildir and mbox byte for byte, mbox locking against a concurrent
fcntl writer, aliases (lists, commands, files, :include:), .forward,
user+ext, sysexits mapping (75 defers, 67 bounces), mailbox_size_limit
(5.2.2), unknown users (550 5.1.1 at RCPT), alias loops and over-large
expansions, and the uid that files and commands run with.

SPDX-License-Identifier: ISC
"""
import fcntl
import os
import pwd
import re
import secrets
import smtplib
import subprocess
import time

import pytest

from conftest import bin_path, free_port, run_cmd, wait_for

pytestmark = [pytest.mark.needs("useradd"),
              pytest.mark.needs("root")]

HOST = "mail.test.invalid"


@pytest.fixture
def users(workdir):
    """make(tag) -> pwd entry of a fresh account with a home in workdir."""
    made = []
    os.chmod(workdir, 0o755)

    def make(tag):
        name = "pl%s%s" % (tag, secrets.token_hex(3))
        home = os.path.join(workdir, "home", name)
        os.makedirs(os.path.dirname(home), exist_ok=True)
        subprocess.run(["useradd", "-m", "-d", home, "-s", "/bin/sh", "-U",
                        name], check=True, capture_output=True)
        made.append(name)
        return pwd.getpwnam(name)

    yield make
    for name in made:
        subprocess.run(["userdel", "-r", "-f", name], capture_output=True)


class Mta:
    def __init__(self, instance, workdir):
        self.inst = instance
        self.workdir = workdir
        self.port = free_port()
        self.spool = os.path.join(workdir, "mail")
        os.makedirs(self.spool, exist_ok=True)
        os.chmod(self.spool, 0o1777)
        self.aliases = os.path.join(workdir, "aliases")

    def start(self, aliases="", extra_services=(), **main):
        with open(self.aliases, "w") as f:
            f.write(aliases)
        r = run_cmd(["postelalias", "-c", self.inst.confdir,
                     "hash:" + self.aliases])
        cfg = {"myhostname": HOST, "mydestination": "$myhostname",
               "alias_maps": "hash:" + self.aliases,
               "alias_database": "hash:" + self.aliases,
               "mail_spool_directory": self.spool,
               "recipient_delimiter": "+",
               "minimal_backoff_time": "300s", "queue_run_delay": "300s",
               "maillog_file": ""}
        cfg.update(main)
        self.inst.write_config(main=cfg, services=[
            "127.0.0.1:%d inet n - y - - smtpd" % self.port,
            "proxymap unix - - n - - proxymap",
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "local unix - n n - - local",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ] + list(extra_services))
        assert r.returncode == 0, r.stderr
        self.inst.start(foreground=True)
        assert wait_for(self.listening, 10), self.inst.read_log()

    def listening(self):
        try:
            smtplib.SMTP("127.0.0.1", self.port, timeout=2).quit()
            return True
        except OSError:
            return False

    def send(self, rcpts, body, sender="sender@example.org"):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.sendmail(sender, rcpts, body)

    def log(self):
        return self.inst.read_log()

    def wait_status(self, rcpt, status="sent", timeout=20):
        pat = re.compile(r"to=<%s>.*status=%s" % (re.escape(rcpt), status))
        assert wait_for(lambda: pat.search(self.log()), timeout), self.log()
        return [l for l in self.log().splitlines() if pat.search(l)][-1]


@pytest.fixture
def mta(instance, workdir):
    return Mta(instance, workdir)


BODY = (b"From: a@example.org\r\nTo: u@" + HOST.encode() +
        b"\r\nSubject: hi\r\nMessage-ID: <t1@example.org>\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n"
        b"hello\r\nFrom the start\r\n")


def rcpt(user, ext=None):
    return "%s%s@%s" % (user, "+" + ext if ext else "", HOST)


def message_after_headers(data):
    """The part that local copied from the queue (after its own lines)."""
    return data[data.index(b"From: a@example.org"):]


def maildir_files(home, sub="Maildir"):
    new = os.path.join(home, sub, "new")
    if not os.path.isdir(new):
        return []
    return [os.path.join(new, f) for f in sorted(os.listdir(new))]


def test_local_maildir_delivery_is_byte_exact(mta, users):
    u = users("md")
    mta.start(home_mailbox="Maildir/")
    to = rcpt(u.pw_name)
    mta.send([to], BODY)
    mta.wait_status(to)
    files = maildir_files(u.pw_dir)
    assert len(files) == 1
    data = open(files[0], "rb").read()
    assert data.startswith(b"Return-Path: <sender@example.org>\n"
                           b"Delivered-To: " + to.encode() + b"\n")
    # Own header lines of the MTA (Received:) come before the original.
    assert message_after_headers(data).endswith(
        b"Subject: hi\nMessage-ID: <t1@example.org>\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\n\nhello\nFrom the start\n")
    st = os.stat(files[0])
    assert (st.st_uid, st.st_gid) == (u.pw_uid, u.pw_gid)
    assert os.listdir(os.path.join(u.pw_dir, "Maildir", "tmp")) == []
    assert "relay=local" in mta.wait_status(to)


def test_local_mbox_delivery_quotes_from_and_ends_blank(mta, users):
    u = users("mb")
    mta.start()
    to = rcpt(u.pw_name)
    mta.send([to], BODY)
    mta.wait_status(to)
    path = os.path.join(mta.spool, u.pw_name)
    data = open(path, "rb").read()
    assert re.match(rb"From sender@example\.org  \w{3} \w{3} [ \d]\d "
                    rb"\d\d:\d\d:\d\d \d{4}\n", data)
    first, rest = data.split(b"\n", 1)
    assert rest.startswith(b"Return-Path: <sender@example.org>\n"
                           b"Delivered-To: " + to.encode() + b"\n")
    assert message_after_headers(rest).endswith(
        b"\n\nhello\n>From the start\n\n")
    st = os.stat(path)
    assert st.st_uid == u.pw_uid and (st.st_mode & 0o777) == 0o600
    assert not os.path.exists(path + ".lock")


def test_local_mbox_lock_holds_against_concurrent_writer(mta, users):
    u = users("lk")
    mta.start()
    path = os.path.join(mta.spool, u.pw_name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.fchown(fd, u.pw_uid, u.pw_gid)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    to = rcpt(u.pw_name)
    mta.send([to], BODY)
    # Proves an absence: while we hold the lock nothing is written.
    time.sleep(2.5)
    os.write(fd, b"From other  Mon Nov 23 10:00:00 2026\nSubject: mine\n\nx\n\n")
    assert os.fstat(fd).st_size == len(
        b"From other  Mon Nov 23 10:00:00 2026\nSubject: mine\n\nx\n\n")
    fcntl.lockf(fd, fcntl.LOCK_UN)
    os.close(fd)
    mta.wait_status(to)
    data = open(path, "rb").read()
    assert data.startswith(b"From other ")
    assert data.count(b"\nFrom sender@example.org ") == 1


def test_local_aliases_lists_commands_files_includes(mta, users, workdir):
    a, b = users("aa"), users("ab")
    nobody = pwd.getpwnam("nobody")
    out = os.path.join(workdir, "out")
    os.makedirs(out)
    os.chmod(out, 0o1777)
    inc = os.path.join(workdir, "staff.inc")
    with open(inc, "w") as f:
        f.write("%s\n" % b.pw_name)
    cmd_out = os.path.join(out, "cmd")
    aliases = ("team: %s, %s\n"
               "runcmd: \"|id -u > %s; echo $RECIPIENT $EXTENSION >> %s\"\n"
               "tofile: %s/file.mbox\n"
               "staff: :include:%s\n" % (a.pw_name, b.pw_name, cmd_out,
                                         cmd_out, out, inc))
    mta.start(aliases=aliases, home_mailbox="Maildir/")
    mta.send([rcpt("team"), rcpt("runcmd", "x1"), rcpt("tofile"),
              rcpt("staff")], BODY)
    for r in (rcpt("team"), rcpt("runcmd", "x1"), rcpt("tofile"),
              rcpt("staff")):
        mta.wait_status(r)
    # The list was re-injected as one new message.
    assert wait_for(lambda: len(maildir_files(b.pw_dir)) == 2, 20), mta.log()
    assert wait_for(lambda: len(maildir_files(a.pw_dir)) == 1, 20)
    data = open(maildir_files(a.pw_dir)[0], "rb").read()
    assert b"Delivered-To: " + rcpt("team").encode() in data
    lines = open(cmd_out).read().split("\n")
    assert lines[0] == str(nobody.pw_uid)
    assert lines[1] == "%s x1" % rcpt("runcmd", "x1")
    st = os.stat(os.path.join(out, "file.mbox"))
    assert st.st_uid == nobody.pw_uid
    assert b"\n>From the start\n" in open(os.path.join(out, "file.mbox"),
                                          "rb").read()


def test_local_forward_and_extension(mta, users, workdir):
    u, v = users("fw"), users("fv")
    os.makedirs(os.path.join(workdir, "pub"))
    os.chmod(os.path.join(workdir, "pub"), 0o1777)
    out = os.path.join(workdir, "pub", "fwdout")
    with open(os.path.join(u.pw_dir, ".forward"), "w") as f:
        f.write("\\%s, \"|id -u > %s\"\n" % (u.pw_name, out))
    os.chown(os.path.join(u.pw_dir, ".forward"), u.pw_uid, u.pw_gid)
    with open(os.path.join(v.pw_dir, ".forward+lists"), "w") as f:
        f.write("%s\n" % u.pw_name)
    os.chown(os.path.join(v.pw_dir, ".forward+lists"), v.pw_uid, v.pw_gid)
    mta.start(home_mailbox="Maildir/")
    mta.send([rcpt(u.pw_name)], BODY)
    mta.wait_status(rcpt(u.pw_name))
    assert len(maildir_files(u.pw_dir)) == 1
    assert wait_for(lambda: os.path.exists(out) and open(out).read(), 10)
    assert open(out).read().strip() == str(u.pw_uid)
    # v+lists@ uses ~v/.forward+lists, which forwards to u.
    mta.send([rcpt(v.pw_name, "lists")], BODY)
    mta.wait_status(rcpt(v.pw_name, "lists"))
    assert wait_for(lambda: len(maildir_files(u.pw_dir)) == 2, 20), mta.log()
    assert maildir_files(v.pw_dir) == []
    # Plain v+other@ has no .forward+other: v's own Maildir.
    mta.send([rcpt(v.pw_name, "other")], BODY)
    mta.wait_status(rcpt(v.pw_name, "other"))
    assert len(maildir_files(v.pw_dir)) == 1


def test_local_command_exit_75_defers_and_67_bounces(mta, users):
    mta.start(aliases='soft: "|exit 75"\nhard: "|exit 67"\n')
    mta.send([rcpt("soft"), rcpt("hard")], BODY)
    line = mta.wait_status(rcpt("soft"), "deferred")
    assert "dsn=4.3.0" in line
    line = mta.wait_status(rcpt("hard"), "bounced")
    assert "dsn=5.1.1" in line and "status 67" in line


def test_local_mailbox_size_limit_bounces_522(mta, users):
    u = users("sz")
    mta.start(mailbox_size_limit="1000")
    big = BODY + b"x" * 900 + b"\r\n"
    mta.send([rcpt(u.pw_name)], big)
    line = mta.wait_status(rcpt(u.pw_name), "bounced")
    assert "dsn=5.2.2" in line


def test_local_unknown_user_rejected_at_rcpt(mta, users):
    users("kn")
    mta.start()
    with smtplib.SMTP("127.0.0.1", mta.port, timeout=10) as s:
        s.ehlo("client.example")
        s.mail("sender@example.org")
        code, msg = s.rcpt("no-such-user-x@" + HOST)
    assert code == 550 and b"5.1.1" in msg


def test_local_alias_loop_and_huge_expansion_bounce(mta, users):
    many = ", ".join("m%d@example.net" % i for i in range(1100))
    mta.start(aliases="loopa: loopb\nloopb: loopa\nhuge: %s\n" % many)
    mta.send([rcpt("loopa")], BODY)
    line = mta.wait_status(rcpt("loopa"), "bounced", 30)
    assert "dsn=5.4.6" in line and "forwarding loop" in line
    mta.send([rcpt("huge")], BODY)
    line = mta.wait_status(rcpt("huge"), "bounced")
    assert "exceeds" in line


def test_local_files_and_commands_restricted_in_forward(mta, users, workdir):
    u = users("rs")
    with open(os.path.join(u.pw_dir, ".forward"), "w") as f:
        f.write('"|true"\n')
    mta.start(allow_mail_to_commands="alias")
    mta.send([rcpt(u.pw_name)], BODY)
    line = mta.wait_status(rcpt(u.pw_name), "bounced")
    assert "dsn=5.7.1" in line and "restricted" in line


def test_local_owner_alias_becomes_sender_of_expanded_list(mta, users):
    a = users("ow")
    mta.start(aliases="mylist: %s, \\%s\nowner-mylist: %s\n"
              % (a.pw_name, a.pw_name, a.pw_name), home_mailbox="Maildir/")
    mta.send([rcpt("mylist")], BODY)
    mta.wait_status(rcpt("mylist"))
    assert re.search(r"forwarded to 1 recipient as \w+, "
                     r"from=<owner-mylist@%s>" % re.escape(HOST), mta.log())
    # \user went straight to the mailbox; the list copy comes second.
    assert wait_for(lambda: len(maildir_files(a.pw_dir)) == 2, 20), mta.log()
    heads = [open(f, "rb").read().split(b"\n")[0]
             for f in maildir_files(a.pw_dir)]
    assert sorted(heads) == sorted([b"Return-Path: <sender@example.org>",
                                    b"Return-Path: <owner-mylist@%s>"
                                    % HOST.encode()])


def test_local_mailbox_command_gets_environment(mta, users, workdir):
    u = users("mc")
    pub = os.path.join(workdir, "pub")
    os.makedirs(pub)
    os.chmod(pub, 0o1777)
    out = os.path.join(pub, "env")
    mta.start(mailbox_command="env > %s; id -u >> %s; cat >> %s"
              % (out, out, out))
    mta.send([rcpt(u.pw_name, "tag")], BODY)
    mta.wait_status(rcpt(u.pw_name, "tag"))
    text = open(out).read()
    env = dict(l.split("=", 1) for l in text.split("\n") if "=" in l
               and not l.startswith(("From", "Return", "Delivered",
                                     "Message", "Date", "Subject", "To",
                                     "Received")))
    assert env["USER"] == u.pw_name and env["HOME"] == u.pw_dir
    assert env["EXTENSION"] == "tag" and env["SENDER"] == "sender@example.org"
    assert env["RECIPIENT"] == rcpt(u.pw_name, "tag")
    assert env["PATH"] == "/usr/bin:/bin"
    assert "\n%d\nFrom sender@example.org  " % u.pw_uid in text


def test_local_luser_relay_takes_unknown_users(mta, users):
    u = users("lr")
    mta.start(luser_relay="%s" % u.pw_name, local_recipient_maps="",
              home_mailbox="Maildir/")
    mta.send([rcpt("nosuchuser")], BODY)
    mta.wait_status(rcpt("nosuchuser"))
    assert wait_for(lambda: len(maildir_files(u.pw_dir)) == 1, 20), mta.log()


def test_local_command_time_limit_kills_and_bounces(mta, users):
    mta.start(aliases='slow: "|sleep 30"\n', command_time_limit="2s")
    start = time.time()
    mta.send([rcpt("slow")], BODY)
    line = mta.wait_status(rcpt("slow"), "bounced", 20)
    assert "time limit" in line and time.time() - start < 15


class RecordingSink:
    """aiosmtpd handler that keeps every envelope it is handed."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 Ok"


def test_local_own_address_literal_is_delivered_locally(mta, users):
    # Finding 4 of the security review: smtpd accepts user@[own-ip] as
    # local; qmgr must deliver it locally too, not relay it to relayhost
    # (or back to this host in a loop).
    from aiosmtpd.controller import Controller
    u = users("lit")
    handler = RecordingSink()
    sink_port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=sink_port)
    ctl.start()
    try:
        mta.start(home_mailbox="Maildir/",
                  relayhost="[127.0.0.1]:%d" % sink_port,
                  extra_services=["smtp unix - - n - - smtp"])
        to = "%s@[127.0.0.1]" % u.pw_name
        mta.send([to], BODY)
        line = mta.wait_status(to)
        assert "relay=local" in line, line
        files = maildir_files(u.pw_dir)
        assert len(files) == 1, mta.log()
        with open(files[0], "rb") as f:
            assert b"hello" in f.read()
        assert os.stat(files[0]).st_uid == u.pw_uid
    finally:
        ctl.stop()
    assert handler.envelopes == []


def test_local_foreign_address_literal_needs_relay_permission(mta, users):
    # The other half of finding 4: a literal that is not this host's is a
    # remote destination, accepted only from clients allowed to relay.
    u = users("lit")
    mta.start(mynetworks="192.0.2.0/24")
    with smtplib.SMTP("127.0.0.1", mta.port, timeout=10) as s:
        s.ehlo("client.example")
        s.mail("sender@example.org")
        code, msg = s.rcpt("%s@[192.0.2.77]" % u.pw_name)
        # smtpd_relay_restrictions ends in defer_unauth_destination (454).
        assert code == 454 and b"Relay access denied" in msg, (code, msg)
        code, msg = s.rcpt("%s@[127.0.0.1]" % u.pw_name)
        assert code == 250, (code, msg)
