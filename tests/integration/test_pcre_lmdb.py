# pcre: and lmdb: tables through postelmap (read back with LMDB's own
# mdb_dump), through newaliases, under a concurrent rebuild, and through a
# real delivery: smtpd, cleanup and virtual reading pcre and lmdb tables.
#
# SPDX-License-Identifier: ISC
import os
import pwd
import re
import secrets
import smtplib
import subprocess
import time

import pytest

from conftest import bin_path, free_port, run_cmd, wait_for, wait_smtp


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def cmd(workdir, name, *args, input=None, main=None):
    """Run a table command with a config folder holding main (a dict)."""
    conf = os.path.join(workdir, "conf")
    os.makedirs(conf, exist_ok=True)
    write(os.path.join(conf, "main.cf"),
          "".join("%s = %s\n" % kv for kv in (main or {}).items()))
    return run_cmd([name, "-c", conf] + list(args), input=input)


def mdb_pairs(path):
    """Key/value pairs of an LMDB file (MDB_NOSUBDIR), read by mdb_dump."""
    out = subprocess.run(["mdb_dump", "-n", "-p", path], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    lines = out.split("HEADER=END\n", 1)[1].split("DATA=END")[0].splitlines()
    items = [line[1:] for line in lines]
    return dict(zip(items[0::2], items[1::2]))


@pytest.mark.needs("mdb_dump")
def test_postelmap_builds_lmdb_that_mdb_dump_reads(workdir):
    src = os.path.join(workdir, "virtual")
    write(src, "# virtual\nInfo@Example.COM  joe,\n   ann\n"
               "sales@example.com sam\ninfo@example.com dup\n"
               + "k" * 600 + " too long for LMDB\n")
    r = cmd(workdir, "postelmap", "lmdb:" + src)
    assert r.returncode == 0, r.stderr
    assert "duplicate entry" in r.stderr
    assert "virtual:6: key too long; line ignored" in r.stderr
    assert mdb_pairs(src + ".lmdb") == {"info@example.com": "joe,   ann",
                                        "sales@example.com": "sam"}
    r = cmd(workdir, "postelmap", "-q", "SALES@example.com", "lmdb:" + src)
    assert (r.returncode, r.stdout) == (0, "sam\n")
    assert cmd(workdir, "postelmap", "-q", "x", "lmdb:" + src).returncode == 1
    r = cmd(workdir, "postelmap", "-q", "-", "lmdb:" + src,
            input="nobody\nsales@example.com\n")
    assert (r.returncode, r.stdout) == (0, "sales@example.com\tsam\n")
    r = cmd(workdir, "postelmap", "-s", "lmdb:" + src)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("info@example.com\tjoe,   ann\n"
                        "sales@example.com\tsam\n")
    # -i and -d change the file in place.
    ino = os.stat(src + ".lmdb").st_ino
    r = cmd(workdir, "postelmap", "-i", "lmdb:" + src, input="new@x v\n")
    assert r.returncode == 0, r.stderr
    r = cmd(workdir, "postelmap", "-d", "sales@example.com", "lmdb:" + src)
    assert r.returncode == 0, r.stderr
    assert cmd(workdir, "postelmap", "-d", "sales@example.com",
               "lmdb:" + src).returncode == 1
    assert os.stat(src + ".lmdb").st_ino == ino
    assert mdb_pairs(src + ".lmdb") == {"info@example.com": "joe,   ann",
                                        "new@x": "v"}
    # -N stores the terminating NUL; lookups find both forms.
    r = cmd(workdir, "postelmap", "-N", "lmdb:" + src)
    assert r.returncode == 0, r.stderr
    assert mdb_pairs(src + ".lmdb")["sales@example.com\\00"] == "sam\\00"
    r = cmd(workdir, "postelmap", "-q", "sales@example.com", "lmdb:" + src)
    assert r.stdout == "sam\n"
    # No temporary file is left behind.
    assert sorted(os.listdir(workdir)) == ["conf", "virtual", "virtual.lmdb",
                                           "virtual.lmdb-lock"]
    r = cmd(workdir, "postelmap", "-q", "x", "lmdb:" + src + "-none")
    assert r.returncode == 66
    assert "lmdb:" + src + "-none" in r.stderr


@pytest.mark.needs("mdb_dump")
def test_default_database_type_lmdb_for_postelmap_and_newaliases(workdir):
    src = os.path.join(workdir, "transport")
    write(src, "example.com smtp:[relay.example]\n")
    aliases = os.path.join(workdir, "aliases")
    write(aliases, "postmaster: root\nabuse: postmaster\n")
    main = {"default_database_type": "lmdb", "alias_database": aliases}
    r = cmd(workdir, "postelmap", src, main=main)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(src + ".db")
    assert mdb_pairs(src + ".lmdb") == {"example.com": "smtp:[relay.example]"}
    r = cmd(workdir, "postelmap", "-q", "EXAMPLE.com", src, main=main)
    assert r.stdout == "smtp:[relay.example]\n"
    newaliases = os.path.join(workdir, "newaliases")
    os.symlink(bin_path("postelalias"), newaliases)
    r = subprocess.run([newaliases, "-c", os.path.join(workdir, "conf")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert mdb_pairs(aliases + ".lmdb") == {"postmaster": "root",
                                            "abuse": "postmaster"}
    r = cmd(workdir, "postelalias", "-q", "abuse", aliases, main=main)
    assert r.stdout == "postmaster\n"


def maps_file(pid, path):
    try:
        with open("/proc/%d/maps" % pid) as f:
            return path in f.read()
    except FileNotFoundError:
        return False


def test_lmdb_reader_keeps_its_snapshot_while_postelmap_rebuilds(workdir):
    src = os.path.join(workdir, "map")
    write(src, "key old\ngone here\n")
    assert cmd(workdir, "postelmap", "lmdb:" + src).returncode == 0
    # A long-running reader: postelmap -q - opens the table, then reads
    # keys from its standard input.
    reader = subprocess.Popen(
        [bin_path("postelmap"), "-c", os.path.join(workdir, "conf"),
         "-q", "-", "lmdb:" + src],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: maps_file(reader.pid, src + ".lmdb"))
        reader.stdin.write("key\n")
        reader.stdin.flush()
        write(src, "key new\n")
        # The rebuild does not wait for the reader.
        start = time.monotonic()
        r = cmd(workdir, "postelmap", "lmdb:" + src)
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - start < 10
        r = cmd(workdir, "postelmap", "-q", "key", "lmdb:" + src)
        assert r.stdout == "new\n"
        assert cmd(workdir, "postelmap", "-q", "gone",
                   "lmdb:" + src).returncode == 1
        # The open reader still answers from the table it opened.
        out, _ = reader.communicate("key\ngone\n", timeout=30)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    assert out == "key\told\nkey\told\ngone\there\n"


def test_postelmap_queries_pcre_tables(workdir):
    rx = os.path.join(workdir, "virtual.pcre")
    write(rx, "# rewrite first.last to first\n"
              "/^(\\w+)\\.(\\w+)@example\\.com$/  ${1}@example.net ($2)\n"
              "if /@old\\.example$/\n"
              "!/^postmaster@/ REJECT moved\n"
              "endif\n"
              "/^Case@/i exact case\n")
    r = cmd(workdir, "postelmap", "-q", "Joe.Smith@Example.COM", "pcre:" + rx)
    assert (r.returncode, r.stdout) == (0, "Joe@example.net (Smith)\n")
    r = cmd(workdir, "postelmap", "-q", "-", "pcre:" + rx,
            input="a@old.example\npostmaster@old.example\ncase@x\nCase@x\n")
    assert r.stdout == "a@old.example\tREJECT moved\nCase@x\texact case\n"
    r = cmd(workdir, "postelmap", "-s", "pcre:" + rx)
    assert r.returncode == 64
    write(rx, "/ok/ fine\n/(a)/ $2\n")
    r = cmd(workdir, "postelmap", "-q", "x", "pcre:" + rx)
    assert r.returncode == 78
    assert rx + ":2: $2 out of range" in r.stderr


@pytest.fixture
def account():
    name = "pcl%s" % secrets.token_hex(3)
    subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-U", name],
                   check=True, capture_output=True)
    yield pwd.getpwnam(name)
    subprocess.run(["userdel", "-f", name], capture_output=True)


BODY = ("From: a@example.org\r\nSubject: %s\r\nMessage-ID: <%s@example.org>\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n")


@pytest.mark.needs("useradd")
def test_delivery_through_pcre_and_lmdb_tables(instance, workdir, account):
    os.chmod(workdir, 0o755)
    base = os.path.join(workdir, "vmail")
    os.makedirs(os.path.join(base, "a.test"))
    os.chown(os.path.join(base, "a.test"), account.pw_uid, account.pw_gid)
    mailboxes = os.path.join(workdir, "vmailbox")
    write(mailboxes, "alice@a.test a.test/alice/\nbob@a.test a.test/bob/\n")
    assert cmd(workdir, "postelmap", "lmdb:" + mailboxes).returncode == 0
    aliases = os.path.join(workdir, "valias.pcre")
    write(aliases, "/^([a-z]+)\\.smith@a\\.test$/ ${1}@a.test\n")
    checks = os.path.join(workdir, "header_checks.pcre")
    write(checks, "/^Subject:.*\\bviagra\\b/ REJECT no spam here\n")
    port = free_port()
    instance.write_config(main={
        "myhostname": "mx.test.invalid", "mydestination": "",
        "virtual_mailbox_domains": "a.test",
        "virtual_mailbox_maps": "lmdb:" + mailboxes,
        "virtual_alias_maps": "pcre:" + aliases,
        "header_checks": "pcre:" + checks,
        "virtual_uid_maps": "static:%d" % account.pw_uid,
        "virtual_gid_maps": "static:%d" % account.pw_gid,
        "virtual_mailbox_base": base, "virtual_minimum_uid": "100",
        "minimal_backoff_time": "300s", "queue_run_delay": "300s"},
        services=[
            "127.0.0.1:%d inet n - y - - smtpd" % port,
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "virtual unix - n n - - virtual",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
    instance.start(foreground=True)
    wait_smtp(instance, port)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        # pcre: rewrites alice.smith to alice with $1; lmdb: knows alice.
        s.sendmail("s@example.org", ["alice.smith@a.test", "bob@a.test"],
                   BODY % ("hi", "m1"))
        # Not in the lmdb table yet.
        code, _ = s.docmd("MAIL FROM:<s@example.org>")
        assert code == 250
        code, reply = s.docmd("RCPT TO:<carol@a.test>")
        assert code == 550, reply
        s.docmd("RSET")
        # pcre: header_checks rejects the message.
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("s@example.org", ["bob@a.test"],
                       BODY % ("cheap viagra now", "m2"))
        assert e.value.smtp_code == 550
        assert b"no spam here" in e.value.smtp_error
        # postelmap -i changes the lmdb table under the running smtpd,
        # which sees the new entry at its next lookup.
        r = cmd(workdir, "postelmap", "-i", "lmdb:" + mailboxes,
                input="carol@a.test a.test/carol/\n")
        assert r.returncode == 0, r.stderr
        s.sendmail("s@example.org", ["carol@a.test"], BODY % ("hi", "m3"))
    for who, orig in (("alice@a.test", "alice.smith@a.test"),
                      ("bob@a.test", None), ("carol@a.test", None)):
        rx = re.compile(r"to=<%s>, %srelay=virtual.*status=sent"
                        % (re.escape(who), "orig_to=<%s>, " % re.escape(orig)
                           if orig else ""))
        assert wait_for(lambda: rx.search(instance.read_log()), 20), \
            instance.read_log()
    for user, subject in (("alice", "hi"), ("bob", "hi"), ("carol", "hi")):
        new = os.path.join(base, "a.test", user, "new")
        files = os.listdir(new)
        assert len(files) == 1, (user, files)
        data = open(os.path.join(new, files[0]), "rb").read()
        assert b"Subject: %s\n" % subject.encode() in data
    assert "viagra" not in "".join(
        open(os.path.join(base, "a.test", u, "new", f), errors="replace").read()
        for u in ("alice", "bob", "carol")
        for f in os.listdir(os.path.join(base, "a.test", u, "new")))
