"""sqlite: tables (sqlite_table(5) configuration files): postelmap -q KEY
and -q -, result_format, domain and expansion_limit, quoting that keeps a
key inside its SQL string, the database opened read-only, errors (no
file, bad SQL, a locked database) as table errors, and a real delivery
with virtual domains, mailboxes and aliases in SQLite.

SPDX-License-Identifier: ISC
"""
import os
import pwd
import re
import secrets
import smtplib
import sqlite3
import subprocess

import pytest

from conftest import free_port, run_cmd, wait_for, wait_smtp

EX_TEMPFAIL = 75


def make_db(workdir):
    path = os.path.join(workdir, "mail.sqlite")
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE domains (domain TEXT);
        CREATE TABLE mailboxes (local TEXT, domain TEXT, maildir TEXT);
        CREATE TABLE aliases (address TEXT, goto TEXT);
        INSERT INTO domains VALUES ('lite.test');
        INSERT INTO mailboxes VALUES ('ann', 'lite.test', 'lite.test/ann/'),
                                     ('ben', 'lite.test', 'lite.test/ben/');
        INSERT INTO aliases VALUES ('all@lite.test', 'ann@lite.test'),
                                   ('all@lite.test', 'ben@lite.test'),
                                   ('o''neil@lite.test', 'ben@lite.test');
    """)
    db.commit()
    db.close()
    os.chmod(path, 0o644)
    return path


def write_cf(workdir, name, dbpath, query, extra=""):
    path = os.path.join(workdir, name + ".cf")
    with open(path, "w") as f:
        f.write("dbpath = %s\nquery = %s\n%s" % (dbpath, query, extra))
    return path


def query(key, cf, *args, input=None):
    return run_cmd(["postelmap"] + list(args) + ["-q", key, "sqlite:" + cf],
                   input=input)


def test_sqlite_postelmap_query_and_stdin(workdir):
    db = make_db(workdir)
    cf = write_cf(workdir, "aliases", db,
                  "SELECT goto FROM aliases\n  WHERE address = '%s'")
    r = query("All@Lite.test", cf)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ann@lite.test,ben@lite.test\n"
    # A quote in the key is doubled: the key stays one SQL string.
    r = query("o'neil@lite.test", cf)
    assert (r.returncode, r.stdout) == (0, "ben@lite.test\n"), r.stderr
    r = query("x'or'1'='1@lite.test", cf)
    assert (r.returncode, r.stdout) == (1, ""), r.stderr
    r = query("-", cf, input="nobody@lite.test\nall@lite.test\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "all@lite.test\tann@lite.test,ben@lite.test\n"


def test_sqlite_injection_through_local_part_finds_nothing(workdir):
    db = make_db(workdir)
    cf = write_cf(workdir, "mbox", db,
                  "SELECT maildir FROM mailboxes\n"
                  "  WHERE local = '%u' AND domain = '%d'")
    assert query("ann@lite.test", cf).stdout == "lite.test/ann/\n"
    r = query("a'or'1'='1@lite.test", cf)
    assert (r.returncode, r.stdout) == (1, ""), r.stderr
    # Unquoted, the same key would match every mailbox.
    rows = sqlite3.connect(db).execute(
        "SELECT maildir FROM mailboxes WHERE local = 'a'or'1'='1' "
        "AND domain = 'lite.test'").fetchall()
    assert len(rows) == 2


def test_sqlite_result_format_domain_and_limit(workdir):
    db = make_db(workdir)
    cf = write_cf(workdir, "fmt", db,
                  "SELECT goto FROM aliases WHERE address = '%s'",
                  "result_format = smtp:[%d] for %U\n"
                  "domain = lite.test\n")
    r = query("all@lite.test", cf)
    assert r.stdout == "smtp:[lite.test] for all,smtp:[lite.test] for all\n"
    # Outside the domain list, or not user@domain: not even asked.
    assert query("all@other.test", cf).returncode == 1
    assert query("lite.test", cf).returncode == 1
    limited = write_cf(workdir, "lim", db,
                       "SELECT goto FROM aliases WHERE address = '%s'",
                       "expansion_limit = 1\n")
    r = query("o'neil@lite.test", limited)
    assert r.returncode == 0 and r.stdout == "ben@lite.test\n", r.stderr
    r = query("all@lite.test", limited)
    assert r.returncode == EX_TEMPFAIL, (r.stdout, r.stderr)
    assert "expansion_limit" in r.stderr


def test_sqlite_errors_are_table_errors(workdir):
    db = make_db(workdir)
    missing = write_cf(workdir, "missing", os.path.join(workdir, "no.db"),
                       "SELECT goto FROM aliases WHERE address = '%s'")
    r = query("all@lite.test", missing)
    assert r.returncode == EX_TEMPFAIL, (r.stdout, r.stderr)
    assert "sqlite:" + missing in r.stderr and "no.db" in r.stderr
    bad = write_cf(workdir, "bad", db,
                   "SELECT goto FROM nosuchtable WHERE address = '%s'")
    r = query("all@lite.test", bad)
    assert r.returncode == EX_TEMPFAIL, (r.stdout, r.stderr)
    assert "sqlite:" + bad in r.stderr and "nosuchtable" in r.stderr
    unknown = write_cf(workdir, "unknown", db, "SELECT 1",
                       "where_field = address\n")
    r = query("all@lite.test", unknown)
    assert r.returncode != 0 and r.returncode != EX_TEMPFAIL
    assert 'unknown parameter "where_field"' in r.stderr


def test_sqlite_locked_database_is_a_table_error(workdir):
    db = make_db(workdir)
    cf = write_cf(workdir, "aliases", db,
                  "SELECT goto FROM aliases WHERE address = '%s'")
    holder = sqlite3.connect(db, isolation_level=None, timeout=0,
                             check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        r = query("all@lite.test", cf)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.returncode == EX_TEMPFAIL, (r.stdout, r.stderr)
    assert "locked" in r.stderr
    assert query("all@lite.test", cf).returncode == 0


def test_sqlite_database_is_opened_read_only(workdir):
    db = make_db(workdir)
    cf = write_cf(workdir, "writer", db,
                  "INSERT INTO domains VALUES ('%s') RETURNING domain")
    r = query("evil.test", cf)
    assert r.returncode == EX_TEMPFAIL, (r.stdout, r.stderr)
    assert "readonly" in r.stderr or "read-only" in r.stderr, r.stderr
    rows = sqlite3.connect(db).execute("SELECT domain FROM domains")
    assert [d for (d,) in rows] == ["lite.test"]


@pytest.fixture
def vaccount():
    name = "sqv%s" % secrets.token_hex(3)
    subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-U", name],
                   check=True, capture_output=True)
    yield pwd.getpwnam(name)
    subprocess.run(["userdel", "-f", name], capture_output=True)


BODY = (b"From: s@example.org\r\nSubject: lite\r\n"
        b"Message-ID: <lite1@example.org>\r\n"
        b"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\nvia SQLite\r\n")


@pytest.mark.needs("root", "useradd")
def test_sqlite_virtual_delivery(instance, workdir, vaccount):
    os.chmod(workdir, 0o755)
    db = make_db(workdir)
    maps = {
        "virtual_mailbox_domains": write_cf(
            workdir, "domains", db,
            "SELECT domain FROM domains WHERE domain = '%s'"),
        "virtual_mailbox_maps": write_cf(
            workdir, "mailboxes", db,
            "SELECT maildir FROM mailboxes "
            "WHERE local = '%u' AND domain = '%d'"),
        "virtual_alias_maps": write_cf(
            workdir, "aliases", db,
            "SELECT goto FROM aliases WHERE address = '%s'"),
    }
    maps = {k: "proxy:sqlite:" + v for k, v in maps.items()}
    base = os.path.join(workdir, "vmail")
    os.makedirs(os.path.join(base, "lite.test"))
    os.chown(os.path.join(base, "lite.test"), vaccount.pw_uid,
             vaccount.pw_gid)
    port = free_port()
    main = {"myhostname": "mx.test.invalid", "mydestination": "",
            "proxy_read_maps": " ".join(maps.values()),
            "virtual_uid_maps": "static:%d" % vaccount.pw_uid,
            "virtual_gid_maps": "static:%d" % vaccount.pw_gid,
            "virtual_mailbox_base": base, "virtual_minimum_uid": "100",
            "smtpd_error_sleep_time": "0",
            "minimal_backoff_time": "300s", "queue_run_delay": "300s"}
    main.update(maps)
    instance.write_config(main=main, services=[
        "127.0.0.1:%d inet n - y - - smtpd" % port,
        "qmgr unix n - n 300 1 qmgr",
        "cleanup unix n - n - 0 cleanup",
        "proxymap unix - - n - - proxymap",
        "virtual unix - n n - - virtual",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
    ])
    instance.start(foreground=True)
    wait_smtp(instance, port)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail("s@example.org")
        code, msg = s.docmd("RCPT TO:<a'or'1'='1@lite.test>")
        assert code == 550, (code, msg)
        for good in ("all@lite.test", "o'neil@lite.test"):
            code, msg = s.docmd("RCPT TO:<%s>" % good)
            assert code == 250, (good, code, msg, instance.read_log())
        code, msg = s.data(BODY)
        assert code == 250, (code, msg)
    for who in ("ann", "ben"):
        rx = re.compile(r"to=<%s@lite\.test>.*relay=virtual.*status=sent"
                        % who)
        assert wait_for(lambda: rx.search(instance.read_log()), 30), \
            instance.read_log()
        new = os.path.join(base, "lite.test", who, "new")
        files = os.listdir(new)
        assert len(files) == 1, (who, files)
        data = open(os.path.join(new, files[0]), "rb").read()
        assert data.endswith(b"\n\nvia SQLite\n")
