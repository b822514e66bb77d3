# proxymap(8) and the chrooted smtpd of the shipped master.cf: local users
# found through proxy:unix:passwd.byname from inside the chroot, tables not
# listed in proxy_read_maps refused, and smtpd's root is the queue.  Then
# the client's kept connection (many requests on one, made again when
# proxymap let it go), database tables (socketmap:, against the test's
# socketmap server, which counts connections) kept open by proxymap, and
# the proxywrite service with proxy_write_maps.
# SPDX-License-Identifier: ISC
import os
import pwd
import secrets
import smtplib
import subprocess
import time

import pytest

from conftest import (REPO, bin_path, free_port, proc_children, run_cmd,
                      wait_for)
from socketmap_peer import SocketmapServer


def shipped_lines(*names):
    """The conf/master.cf entries (with continuation lines) of names."""
    entries = []
    with open(os.path.join(REPO, "conf", "master.cf")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t":
                if entries:
                    entries[-1] += " " + line.strip()
                continue
            entries.append(line.strip())
    out = []
    for e in entries:
        words = e.split()
        if (words[0], words[1]) in names:
            out.append(e)
    assert len(out) == len(names), (names, out)
    return out


def start_chrooted_smtpd(instance, workdir, **main):
    """The shipped smtp and proxymap lines; smtp moved to a free port."""
    port = free_port()
    smtp, proxymap = shipped_lines(("smtp", "inet"), ("proxymap", "unix"))
    smtp = smtp.replace("smtp", "127.0.0.1:%d" % port, 1)
    settings = {"myhostname": "mx.test", "mydomain": "test",
                "mydestination": "mx.test", "alias_maps": "",
                "maillog_file": os.path.join(workdir, "maillog"),
                "smtpd_error_sleep_time": "0"}
    settings.update(main)
    instance.write_config(main=settings, services=[
        "postlog unix-dgram n - n - 1 postlogd", smtp, proxymap,
        "cleanup unix - - n - 0 cleanup"])
    instance.start()
    return port


def maillog(workdir):
    try:
        with open(os.path.join(workdir, "maillog")) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def rcpt(port, address):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail("sender@example.org")
        return s.rcpt(address)


def test_shipped_master_cf_chroots_smtpd_and_runs_proxymap(instance,
                                                           workdir):
    port = start_chrooted_smtpd(instance, workdir)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.test")

        def smtpd_pid():
            for pid in instance.children():
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if b"smtpd" in f.read().split(b"\0")[0]:
                        return pid
            return None
        pid = wait_for(smtpd_pid, 10)
        assert pid, "no smtpd child"
        root = os.readlink("/proc/%d/root" % pid)
        if os.geteuid() == 0:
            assert root == os.path.realpath(instance.queue)
        else:
            # Unprivileged instances run without chroot (DESIGN.md 2).
            assert root == "/"


def test_chrooted_smtpd_checks_local_users_through_proxymap(instance,
                                                            workdir):
    port = start_chrooted_smtpd(instance, workdir)
    unknown = "nosuch%s" % secrets.token_hex(4)
    code, msg = rcpt(port, "%s@mx.test" % unknown)
    assert code == 550 and b"5.1.1" in msg, (code, msg, maillog(workdir))
    code, msg = rcpt(port, "root@mx.test")
    assert code == 250, (code, msg, maillog(workdir))
    # proxymap did the lookup: it ran, outside the chroot.
    assert any(b"proxymap" in open("/proc/%d/cmdline" % p, "rb").read()
               for p in instance.children() if os.path.exists("/proc/%d" % p))


def test_proxymap_refuses_a_table_not_in_proxy_read_maps(instance, workdir):
    table = os.path.join(workdir, "access")
    with open(table, "w") as f:
        f.write("someone@mx.test OK\n")
    port = start_chrooted_smtpd(
        instance, workdir,
        local_recipient_maps="proxy:texthash:" + table,
        proxy_read_maps="proxy:unix:passwd.byname")
    code, msg = rcpt(port, "someone@mx.test")
    # The table cannot be used: smtpd defers rather than guessing.
    assert code == 451, (code, msg)
    assert wait_for(lambda: "request for unapproved table" in
                    maillog(workdir), 10), maillog(workdir)
    assert "proxy:texthash:%s in main.cf:proxy_read_maps" % table in \
        maillog(workdir)


def test_proxymap_serves_a_listed_file_table(instance, workdir):
    table = os.path.join(workdir, "users")
    with open(table, "w") as f:
        f.write("listed@mx.test OK\n")
    port = start_chrooted_smtpd(
        instance, workdir,
        local_recipient_maps="proxy:texthash:" + table)
    assert rcpt(port, "Listed@mx.test")[0] == 250
    code, msg = rcpt(port, "other@mx.test")
    assert code == 550 and b"5.1.1" in msg


def test_postelmap_queries_through_a_running_proxymap(instance, workdir):
    start_chrooted_smtpd(instance, workdir)
    r = run_cmd(["postelmap", "-c", instance.confdir, "-q", "root",
                 "proxy:unix:passwd.byname"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("root:x:0:0:"), r.stdout


def test_chrooted_smtpd_names_its_client_from_the_jail_copy_of_etc_hosts(
        instance, workdir):
    # `postel check` keeps /etc/hosts, resolv.conf, nsswitch.conf, services
    # and localtime in queue_directory/etc for the chrooted smtpd.
    port = start_chrooted_smtpd(instance, workdir)
    for name in ("hosts", "resolv.conf", "nsswitch.conf", "localtime"):
        if os.path.exists("/etc/" + name):
            assert os.path.exists(os.path.join(instance.queue, "etc", name))
    rcpt(port, "root@mx.test")
    assert wait_for(lambda: "connect from localhost[127.0.0.1]" in
                    maillog(workdir), 10), maillog(workdir)


def test_postel_check_warns_when_proxy_tables_have_no_proxymap(instance):
    # An older master.cf without the proxymap line: say so at check time,
    # rather than only when smtpd defers every local recipient.
    instance.write_config(main={"mydestination": "mx.test"},
                          services=["cleanup unix - - n - 0 cleanup"])
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    assert "master.cf has no proxymap unix service" in r.stderr, r.stderr
    instance.write_config(services=["cleanup unix - - n - 0 cleanup",
                                    "proxymap unix - - n - - proxymap"])
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    assert "proxymap" not in r.stderr, r.stderr


# -- kept connections, proxywrite, database tables kept open ---------------

def start_proxymap(instance, workdir, proxymap_args="", maxproc="-", **main):
    """An instance running only the shipped proxymap and proxywrite lines
    (proxymap's maxproc and -o options as given)."""
    proxymap, proxywrite = shipped_lines(("proxymap", "unix"),
                                         ("proxywrite", "unix"))
    words = proxymap.split()
    words[6] = maxproc
    proxymap = " ".join(words) + (" " + proxymap_args if proxymap_args
                                  else "")
    settings = {"mydestination": "mx.test",
                "maillog_file": os.path.join(workdir, "maillog")}
    settings.update(main)
    instance.write_config(main=settings, services=[
        "postlog unix-dgram n - n - 1 postlogd", proxymap, proxywrite,
        "cleanup unix - - n - 0 cleanup"])
    instance.start()


@pytest.fixture(scope="module")
def sockmap():
    server = SocketmapServer({"users": {
        "u%d@x.test" % i: "mailbox%d" % i for i in range(20)} | {
        "temp@x.test": ("TEMP", "database is down")}})
    yield server
    server.stop()


@pytest.fixture
def counted(sockmap):
    sockmap.reset_counts()
    return sockmap


def postelmap(instance, *args, input=None):
    return run_cmd(["postelmap", "-c", instance.confdir] + list(args),
                   input=input)


def test_proxy_client_keeps_its_connection_to_proxymap(instance, workdir,
                                                       counted):
    # Each proxymap process serves one client connection and exits: the
    # socketmap server sees one connection only if every request of the
    # client travelled on the same one.
    spec = "proxy:" + counted.spec("users")
    start_proxymap(instance, workdir, proxymap_args="-o max_use=1",
                   proxy_read_maps=spec)
    keys = ["u%d@x.test" % i for i in range(20)] + ["nobody@x.test"]
    r = postelmap(instance, "-q", "-", spec,
                  input="".join(k + "\n" for k in keys))
    assert r.returncode == 0, (r.stderr, maillog(workdir))
    assert r.stdout.count("\tmailbox") == 20, r.stdout
    assert len(counted.requests) == 21
    assert counted.connections == 1, counted.connections


def test_proxymap_keeps_database_tables_open_across_clients(instance,
                                                            workdir, counted):
    spec = "proxy:" + counted.spec("users")
    start_proxymap(instance, workdir, maxproc="1", proxy_read_maps=spec)
    for i in range(4):
        r = postelmap(instance, "-q", "u%d@x.test" % i, spec)
        assert r.stdout == "mailbox%d\n" % i, (r.stderr, maillog(workdir))
    # One proxymap process, one socketmap connection for all four clients.
    assert len(counted.requests) == 4
    assert counted.connections == 1, counted.connections


def test_proxy_client_reconnects_when_proxymap_let_it_go(instance, workdir,
                                                         counted):
    # proxymap lets a client go after 1 s of silence; the client (ipc_idle
    # 60s from main.cf) still holds the connection and must notice it is
    # gone, connect again and send the request once more.
    spec = "proxy:" + counted.spec("users")
    start_proxymap(instance, workdir, proxymap_args="-o ipc_idle=1s",
                   proxy_read_maps=spec, ipc_idle="60s")
    p = subprocess.Popen([bin_path("postelmap"), "-c", instance.confdir,
                          "-q", "-", spec], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        p.stdin.write("u1@x.test\n")
        p.stdin.flush()
        assert wait_for(lambda: len(counted.requests) == 1, 10)
        time.sleep(2.5)
        p.stdin.write("u2@x.test\n")
        p.stdin.close()
        p.wait(30)
        out, err = p.stdout.read(), p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, (err, maillog(workdir))
    assert out == "u1@x.test\tmailbox1\nu2@x.test\tmailbox2\n", (out, err)
    # Quietly: an idle client is not an error.
    assert "read request" not in maillog(workdir), maillog(workdir)


def test_proxy_table_error_is_retry_never_not_found(instance, workdir,
                                                    counted):
    spec = "proxy:" + counted.spec("users")
    start_proxymap(instance, workdir, proxy_read_maps=spec)
    r = postelmap(instance, "-q", "temp@x.test", spec)
    assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
    assert "lookup failed" in r.stderr, r.stderr
    assert wait_for(lambda: "TEMP database is down" in maillog(workdir), 10)


def chown_to_mail_owner(*paths):
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam("postel")
    for p in paths:
        os.chown(p, pw.pw_uid, pw.pw_gid)


def make_btree(instance, workdir, name, text):
    folder = os.path.join(workdir, "tables")
    os.makedirs(folder, exist_ok=True)
    src = os.path.join(folder, name)
    with open(src, "w") as f:
        f.write(text)
    r = postelmap(instance, "btree:" + src)
    assert r.returncode == 0, r.stderr
    chown_to_mail_owner(folder, src + ".db")
    return "btree:" + src


def test_shipped_master_cf_runs_one_proxywrite_process():
    (line,) = shipped_lines(("proxywrite", "unix"))
    assert line.split() == ["proxywrite", "unix", "-", "-", "n", "-", "1",
                            "proxymap"], line


def test_proxywrite_updates_and_deletes_listed_tables(instance, workdir):
    instance.write_config(main={"mydestination": "mx.test"}, services=[])
    if os.geteuid() == 0:
        instance.set_permissions()  # mail_owner exists before chown
    table = make_btree(instance, workdir, "cache", "old value\n")
    start_proxymap(instance, workdir, proxy_write_maps="proxy:" + table,
                   proxy_read_maps="proxy:" + table)
    r = postelmap(instance, "-i", "proxy:" + table,
                  input="new@x.test fresh\nold replaced\n")
    assert r.returncode == 0, (r.stderr, maillog(workdir))
    # postelmap's rules hold through proxy: a duplicate keeps its value.
    assert 'duplicate entry: "old"' in r.stderr, r.stderr
    # The change is published: the table itself says so at once.
    r = postelmap(instance, "-q", "new@x.test", table)
    assert r.stdout == "fresh\n", (r.stdout, r.stderr)
    r = postelmap(instance, "-q", "old", table)
    assert r.stdout == "value\n", (r.stdout, r.stderr)
    r = postelmap(instance, "-i", "-r", "proxy:" + table,
                  input="old replaced\n")
    assert r.returncode == 0, (r.stderr, maillog(workdir))
    r = postelmap(instance, "-q", "old", table)
    assert r.stdout == "replaced\n", (r.stdout, r.stderr)
    r = postelmap(instance, "-i", "-w", "proxy:" + table,
                  input="old ignored\n")
    assert r.returncode == 0, (r.stderr, maillog(workdir))
    r = postelmap(instance, "-q", "old", table)
    assert r.stdout == "replaced\n", (r.stdout, r.stderr)
    r = postelmap(instance, "-d", "new@x.test", "proxy:" + table)
    assert r.returncode == 0, (r.stderr, maillog(workdir))
    r = postelmap(instance, "-q", "new@x.test", table)
    assert r.returncode == 1, (r.stdout, r.stderr)
    r = postelmap(instance, "-d", "new@x.test", "proxy:" + table)
    assert r.returncode == 1, (r.stdout, r.stderr)


def test_proxywrite_refuses_tables_not_in_proxy_write_maps(instance,
                                                           workdir):
    instance.write_config(main={"mydestination": "mx.test"}, services=[])
    if os.geteuid() == 0:
        instance.set_permissions()
    listed = make_btree(instance, workdir, "listed", "k v\n")
    other = make_btree(instance, workdir, "other", "k v\n")
    # Readable through proxymap is not writable through proxywrite.
    start_proxymap(instance, workdir, proxy_write_maps="proxy:" + listed,
                   proxy_read_maps="proxy:%s proxy:%s" % (listed, other))
    r = postelmap(instance, "-i", "proxy:" + other, input="k changed\n")
    assert r.returncode != 0, r.stdout
    assert "not listed in proxy_write_maps" in r.stderr, r.stderr
    assert wait_for(lambda: "to approve this table for read-write access, "
                    "list proxy:%s in main.cf:proxy_write_maps" % other
                    in maillog(workdir), 10), maillog(workdir)
    r = postelmap(instance, "-q", "k", other)
    assert r.stdout == "v\n"


def frame(pairs):
    def ns(b):
        return b"%d:%s," % (len(b), b)
    return ns(b"".join(ns(k) + ns(v) for k, v in pairs))


def test_read_only_proxymap_refuses_updates_on_its_socket(instance, workdir):
    # A compromised chrooted daemon talking to proxymap directly cannot
    # write, even to a table proxymap serves for reading.
    instance.write_config(main={"mydestination": "mx.test"}, services=[])
    if os.geteuid() == 0:
        instance.set_permissions()
    table = make_btree(instance, workdir, "ro", "k v\n")
    start_proxymap(instance, workdir, proxy_read_maps="proxy:" + table,
                   proxy_write_maps="proxy:" + table)
    s = instance.connect_unix_when_listening("proxymap")
    try:
        s.sendall(frame([(b"request", b"update"),
                         (b"table", table.encode()), (b"flags", b"0"),
                         (b"key", b"k"), (b"value", b"evil")]))
        reply = s.recv(4096)
    finally:
        s.close()
    assert b"6:status,1:4," in reply, reply
    assert b"read-only" in reply, reply
    r = postelmap(instance, "-q", "k", table)
    assert r.stdout == "v\n"


def test_postel_check_warns_when_proxy_write_maps_has_no_proxywrite(
        instance):
    instance.write_config(main={"mydestination": "mx.test",
                                "proxy_write_maps": "proxy:btree:/x/cache"},
                          services=["cleanup unix - - n - 0 cleanup",
                                    "proxymap unix - - n - - proxymap"])
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    assert "master.cf has no proxywrite unix service" in r.stderr, r.stderr
    assert "proxy_write_maps" in r.stderr, r.stderr
    instance.write_config(services=["cleanup unix - - n - 0 cleanup",
                                    "proxymap unix - - n - - proxymap",
                                    "proxywrite unix - - n - 1 proxymap"])
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    assert "proxy" not in r.stderr, r.stderr
