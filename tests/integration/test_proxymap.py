# proxymap(8) and the chrooted smtpd of the shipped master.cf: local users
# found through proxy:unix:passwd.byname from inside the chroot, tables not
# listed in proxy_read_maps refused, and smtpd's root is the queue.
# SPDX-License-Identifier: ISC
import os
import secrets
import smtplib

from conftest import REPO, free_port, proc_children, run_cmd, wait_for


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
