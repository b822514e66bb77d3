"""pgsql: tables against a real PostgreSQL server (pgsql_peer.py): virtual
domains, mailboxes and aliases read through proxy:pgsql: by a chrooted
smtpd, cleanup, qmgr and virtual(8); SQL injection attempts in a
recipient find nothing; the database stopped means 451 at RCPT and a
deferred (never bounced) message, delivered by a flush once it is back;
postelmap -q KEY and -q - against the server.

SPDX-License-Identifier: ISC
"""
import os
import pwd
import re
import secrets
import smtplib
import subprocess
import time

import pytest

from conftest import bin_path, free_port, run_cmd, wait_for, wait_smtp
from pgsql_peer import PgsqlPeer

# The server runs as an account the test makes: root is needed.
pytestmark = pytest.mark.needs("root", "postgresql", "runuser", "useradd")

MAIL_OWNER = "postel"


@pytest.fixture(scope="module")
def pg():
    peer = PgsqlPeer(roles=[MAIL_OWNER])
    try:
        peer.start()
        peer.psql(
            "CREATE TABLE domains (domain text PRIMARY KEY);"
            "CREATE TABLE mailboxes (local text, domain text, maildir text);"
            "CREATE TABLE aliases (address text, goto text);"
            "INSERT INTO domains VALUES ('pg.test');"
            "INSERT INTO mailboxes VALUES"
            " ('alice', 'pg.test', 'pg.test/alice/'),"
            " ('bob', 'pg.test', 'pg.test/bob/');"
            "INSERT INTO aliases VALUES"
            " ('team@pg.test', 'alice@pg.test'),"
            " ('team@pg.test', 'bob@pg.test'),"
            " ('boss@pg.test', 'bob@pg.test');"
            "GRANT SELECT ON domains, mailboxes, aliases TO %s;" % MAIL_OWNER)
        yield peer
    finally:
        peer.cleanup()


def write_cf(workdir, pg, name, query, extra=""):
    path = os.path.join(workdir, name + ".cf")
    with open(path, "w") as f:
        f.write("# %s for the test\n"
                "hosts = %s\n"
                "user = %s\n"
                "dbname = mail\n"
                "retry_interval = 1\n"
                "query = %s\n%s" % (name, pg.socket_dir, MAIL_OWNER, query,
                                    extra))
    return path


def table_files(workdir, pg):
    return {
        "domains": write_cf(workdir, pg, "domains",
                            "SELECT domain FROM domains\n"
                            "  WHERE domain = '%s'"),
        # %u and %d separately: without quoting the injection below would
        # make the WHERE clause true for every mailbox of the domain.
        "mailboxes": write_cf(workdir, pg, "mailboxes",
                              "SELECT maildir FROM mailboxes\n"
                              "  WHERE local = '%u' AND domain = '%d'"),
        "aliases": write_cf(workdir, pg, "aliases",
                            "SELECT goto FROM aliases WHERE address = '%s'"),
    }


def test_postelmap_queries_pgsql(pg, workdir):
    cf = table_files(workdir, pg)
    r = run_cmd(["postelmap", "-q", "Alice@PG.test",
                 "pgsql:" + cf["mailboxes"]])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "pg.test/alice/\n"
    # Several rows are joined with ",".
    r = run_cmd(["postelmap", "-q", "team@pg.test", "pgsql:" + cf["aliases"]])
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.strip().split(",")) == ["alice@pg.test",
                                                   "bob@pg.test"]
    r = run_cmd(["postelmap", "-q", "nobody@pg.test",
                 "pgsql:" + cf["mailboxes"]])
    assert r.returncode == 1 and r.stdout == "", (r.stdout, r.stderr)
    r = run_cmd(["postelmap", "-q", "-", "pgsql:" + cf["mailboxes"]],
                input="bob@pg.test\nnone@pg.test\nalice@pg.test\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("bob@pg.test\tpg.test/bob/\n"
                        "alice@pg.test\tpg.test/alice/\n")


def test_postelmap_pgsql_injection_finds_nothing(pg, workdir):
    cf = table_files(workdir, pg)
    for key in ("a'or'1'='1@pg.test", "a\\'or'1'='1@pg.test",
                "x' OR local<>'@pg.test"):
        r = run_cmd(["postelmap", "-q", key, "pgsql:" + cf["mailboxes"]])
        assert r.returncode == 1 and r.stdout == "", (key, r.stdout,
                                                      r.stderr)
    # The same query without quoting would have matched: proof that the
    # test key is a real injection.
    rows = pg.psql("SELECT maildir FROM mailboxes WHERE local = "
                   "'a'or'1'='1' AND domain = 'pg.test'")
    assert rows.split() == ["pg.test/alice/", "pg.test/bob/"]


def test_pgsql_unknown_parameter_fails_the_open(pg, workdir):
    cf = write_cf(workdir, pg, "old", "SELECT 1",
                  "select_field = goto\ntable = aliases\n")
    r = run_cmd(["postelmap", "-q", "x@pg.test", "pgsql:" + cf])
    assert r.returncode != 0
    assert 'unknown parameter "select_field"' in r.stderr, r.stderr


def test_pgsql_failover_past_a_dead_host(pg, workdir):
    """Unix socket folders are tried before other servers (Postfix's
    order), so a dead socket folder listed after a live URI server is
    tried first by every lookup: each logs it and still answers."""
    dead = os.path.join(workdir, "nodb")
    os.mkdir(dead)
    live = "postgresql:///mail?host=%s" % pg.socket_dir
    cf = write_cf(workdir, pg, "fo",
                  "SELECT maildir FROM mailboxes WHERE local = '%u'")
    text = open(cf).read().replace("hosts = %s" % pg.socket_dir,
                                   "hosts = %s, unix:%s" % (live, dead))
    with open(cf, "w") as f:
        f.write(text)
    for _ in range(3):
        r = run_cmd(["postelmap", "-q", "alice@pg.test", "pgsql:" + cf])
        assert r.returncode == 0, r.stderr
        assert r.stdout == "pg.test/alice/\n"
        assert "connect to unix:%s: " % dead in r.stderr, r.stderr
        assert live not in r.stderr, r.stderr


@pytest.fixture
def vaccount():
    name = "pgv%s" % secrets.token_hex(3)
    subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-U", name],
                   check=True, capture_output=True)
    yield pwd.getpwnam(name)
    subprocess.run(["userdel", "-f", name], capture_output=True)


BODY = (b"From: s@example.org\r\nSubject: pg\r\nMessage-ID: <pg1@example.org>\r\n"
        b"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\nvia PostgreSQL\r\n")


def start_instance(instance, workdir, pg, acct):
    cf = table_files(workdir, pg)
    base = os.path.join(workdir, "vmail")
    os.makedirs(os.path.join(base, "pg.test"))
    os.chown(os.path.join(base, "pg.test"), acct.pw_uid, acct.pw_gid)
    maps = {name: "proxy:pgsql:" + path for name, path in cf.items()}
    port = free_port()
    instance.write_config(main={
        "myhostname": "mx.test.invalid", "mydestination": "",
        "virtual_mailbox_domains": maps["domains"],
        "virtual_mailbox_maps": maps["mailboxes"],
        "virtual_alias_maps": maps["aliases"],
        "proxy_read_maps": " ".join(maps.values()),
        "virtual_uid_maps": "static:%d" % acct.pw_uid,
        "virtual_gid_maps": "static:%d" % acct.pw_gid,
        "virtual_mailbox_base": base, "virtual_minimum_uid": "100",
        "smtpd_sender_restrictions":
            "check_sender_access inline:{ hold@example.org=HOLD }",
        "smtpd_error_sleep_time": "0",
        "minimal_backoff_time": "300s", "queue_run_delay": "300s"},
        services=[
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
    return port, base


def deferred_ids(instance):
    top = os.path.join(instance.queue, "deferred")
    return [f for _, _, files in os.walk(top) for f in files]


def maildir_files(base, user):
    new = os.path.join(base, "pg.test", user, "new")
    return [os.path.join(new, f) for f in os.listdir(new)] \
        if os.path.isdir(new) else []


def test_proxy_pgsql_virtual_delivery_and_injection(pg, instance, workdir,
                                                    vaccount):
    os.chmod(workdir, 0o755)
    port, base = start_instance(instance, workdir, pg, vaccount)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail("s@example.org")
        for bad in ("<a'or'1'='1@pg.test>",
                    "<\"x' OR local<>'\"@pg.test>",
                    "<\"a\\\\'or'1'='1\"@pg.test>"):
            code, msg = s.docmd("RCPT TO:" + bad)
            assert code == 550 and b"5.1.1" in msg, (bad, code, msg)
        code, msg = s.rcpt("nobody@pg.test")
        assert code == 550, (code, msg)
        for good in ("alice@pg.test", "team@pg.test"):
            code, msg = s.rcpt(good)
            assert code == 250, (good, code, msg, instance.read_log())
        code, msg = s.data(BODY)
        assert code == 250, (code, msg)
    # team@ expands to alice and bob through virtual_alias_maps; alice
    # gets one copy (duplicates are removed).
    for who in ("alice", "bob"):
        rx = re.compile(r"to=<%s@pg\.test>.*relay=virtual.*status=sent"
                        % who)
        assert wait_for(lambda: rx.search(instance.read_log()), 30), \
            instance.read_log()
    for who in ("alice", "bob"):
        files = maildir_files(base, who)
        assert len(files) == 1, (who, files)
        data = open(files[0], "rb").read()
        assert data.endswith(b"\n\nvia PostgreSQL\n")
        assert os.stat(files[0]).st_uid == vaccount.pw_uid


def test_pgsql_down_is_451_and_deferral_then_delivery(pg, instance,
                                                      workdir, vaccount):
    os.chmod(workdir, 0o755)
    port, base = start_instance(instance, workdir, pg, vaccount)
    # A message queued while the database is up, kept on hold.
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("hold@example.org", ["boss@pg.test"], BODY)
    hold = os.path.join(instance.queue, "hold")
    assert wait_for(lambda: os.listdir(hold), 10), instance.read_log()
    pg.stop()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.ehlo("client.test")
            s.mail("s@example.org")
            code, msg = s.rcpt("alice@pg.test")
            assert code == 451 and b"4.3.0" in msg, (code, msg)
        # Released while the database is down: deferred, never bounced.
        r = run_cmd(["postelsuper", "-c", instance.confdir, "-H", "ALL"])
        assert r.returncode == 0, r.stderr
        # qmgr's resolver cannot read virtual_mailbox_domains: the
        # recipient is deferred and the message moves to deferred/.
        assert wait_for(lambda: deferred_ids(instance), 30), \
            instance.read_log()
        assert wait_for(lambda: "table pgsql:" in instance.read_log(), 15), \
            instance.read_log()
        # ...and logs it as every deferral is logged.
        rx = re.compile(r"to=<bob@pg\.test>, orig_to=<boss@pg\.test>, "
                        r"relay=none, .*dsn=4\.3\.0, "
                        r"status=deferred \(address resolver failure\)")
        assert wait_for(lambda: rx.search(instance.read_log()), 10), \
            instance.read_log()
        assert "status=bounced" not in instance.read_log()
        assert maildir_files(base, "bob") == []
    finally:
        pg.start()
    # proxymap's kept connection is dead now: it reconnects, once, after
    # the host's retry_interval (1 s here) has passed.
    time.sleep(1.5)
    r = instance.postel("flush")
    assert r.returncode == 0, r.stderr
    rx = re.compile(r"to=<bob@pg\.test>.*relay=virtual.*status=sent")
    assert wait_for(lambda: rx.search(instance.read_log()), 30), \
        instance.read_log()
    assert len(maildir_files(base, "bob")) == 1
    assert "status=bounced" not in instance.read_log()
    assert deferred_ids(instance) == []


def test_pgsql_connection_reused_and_closed_after_idle_interval(pg, workdir):
    # The result is the server process of the connection that answered.
    cf = write_cf(workdir, pg, "pid",
                  "SELECT pg_backend_pid()::text WHERE '%s' <> ''",
                  "idle_interval = 1\n")
    p = subprocess.Popen([bin_path("postelmap"), "-q", "-", "pgsql:" + cf],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    p.stdin.write("a@x\nb@x\n")
    p.stdin.flush()
    time.sleep(2.5)
    p.stdin.write("c@x\n")
    p.stdin.close()
    out = p.stdout.read()
    err = p.stderr.read()
    assert p.wait(timeout=30) == 0, err
    pids = [line.split("\t")[1] for line in out.splitlines()]
    assert len(pids) == 3, out
    assert pids[0] == pids[1], "the connection was not reused"
    assert pids[2] != pids[1], "the idle connection was not closed"


def test_pgsql_lost_connection_is_reopened_once(pg, workdir):
    cf = write_cf(workdir, pg, "pid",
                  "SELECT pg_backend_pid()::text WHERE '%s' <> ''")
    p = subprocess.Popen([bin_path("postelmap"), "-q", "-", "pgsql:" + cf],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        p.stdin.write("a@x\n")
        p.stdin.flush()
        time.sleep(0.5)
        # The server restarts under the open connection.
        pg.stop()
    finally:
        pg.start()
    p.stdin.write("b@x\n")
    p.stdin.close()
    out = p.stdout.read()
    err = p.stderr.read()
    assert p.wait(timeout=30) == 0, err
    pids = [line.split("\t")[1] for line in out.splitlines()]
    assert len(pids) == 2 and pids[0] != pids[1], (out, err)
    assert "lost connection" in err and "reconnecting" in err, err
