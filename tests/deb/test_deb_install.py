# The Debian package on a Debian 12 host where Postfix is installed: it
# replaces Postfix, makes main.cf and master.cf (not conffiles) that an
# admin's edits survive a reinstall, runs, delivers `mail root` through
# /usr/sbin/sendmail
# to root's mailbox, and `apt purge` leaves no process and no file behind
# except what Debian policy keeps.
#
# This CHANGES THE SYSTEM (installs and removes Postfix, bsd-mailx and
# Postel, starts services), so it is not under tests/integration and
# `make check` never collects it; run it as root on a throw-away Debian 12
# (a VM, a container, or a debootstrap root as INSTALL describes) with
#
#   POSTEL_DEB_TEST=1 POSTEL_DEB=/path/postel_VERSION_amd64.deb \
#       python3 -m pytest -v tests/deb
#
# Without POSTEL_DEB_TEST=1 the module refuses to load (a collection
# error, never a skip).  Needs network access to the Debian mirror.
#
# SPDX-License-Identifier: ISC
import glob
import os
import subprocess
import time

import pytest

if os.environ.get("POSTEL_DEB_TEST") != "1":
    raise RuntimeError("tests/deb installs and purges packages on this "
                       "host: set POSTEL_DEB_TEST=1 to run it (INSTALL, "
                       "\"Checking the package\")")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
MAILBOX = "/var/mail/root"


def the_deb():
    path = os.environ.get("POSTEL_DEB")
    if path is None:
        found = sorted(glob.glob(os.path.join(REPO, "build-deb",
                                              "postel_*.deb")))
        assert found, "no package: run make deb or set POSTEL_DEB"
        path = found[-1]
    return os.path.abspath(path)


def sh(*argv, timeout=600, check=True, input=None):
    r = subprocess.run(argv, capture_output=True, text=True, env=APT_ENV,
                       timeout=timeout, input=input)
    print("$", " ".join(argv), "->", r.returncode)
    print(r.stdout[-4000:], r.stderr[-4000:])
    if check:
        assert r.returncode == 0, (argv, r.stderr[-2000:])
    return r


def status(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                       capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else "not-installed"


def systemd_is_init():
    return os.path.isdir("/run/systemd/system")


def mta_processes():
    """Postel and Postfix processes of this system: those whose root is
    this system's root (or a folder in it, for chrooted daemons) and
    whose program is a Postel or Postfix one.  Processes of a parent
    system, when this runs in a chroot, do not count."""
    me = os.stat("/")
    roots = {(me.st_dev, me.st_ino)}
    for folder in ("/var/spool/postel", "/var/spool/postfix"):
        if os.path.isdir(folder):
            st = os.stat(folder)
            roots.add((st.st_dev, st.st_ino))
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            st = os.stat("/proc/%s/root" % pid)
            if (st.st_dev, st.st_ino) not in roots:
                continue
            exe = os.readlink("/proc/%s/exe" % pid)
        except OSError:
            continue
        if exe.startswith(("/usr/lib/postel/", "/usr/sbin/postel",
                           "/usr/lib/postfix/")):
            found.append((int(pid), exe))
    return found


def wait_until(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail("timed out waiting for " + what)


def test_postel_replaces_postfix_delivers_and_purges_clean():
    deb = the_deb()
    assert os.geteuid() == 0, "must run as root"
    sh("apt-get", "update", "-q")
    # From a host without Postel: an earlier run's configuration (kept
    # by a removal that was not a purge) would be kept, as it should.
    if status("postel") != "not-installed":
        sh("apt-get", "purge", "-y", "-q", "postel")
    # A host with Postfix (Debian's default answers: Internet Site,
    # mailname from the host name) and the bsd-mailx client.
    sh("apt-get", "install", "-y", "-q", "postfix", "bsd-mailx")
    assert status("postfix") == "install ok installed"
    assert os.path.exists("/etc/aliases")

    r = sh("apt-get", "install", "-y", "-q", deb)
    assert "postfix" in r.stdout  # apt names what it removes
    assert status("postel") == "install ok installed"
    # Postfix is removed (its configuration kept, as for any removal).
    assert status("postfix") in ("deinstall ok config-files",
                                 "not-installed")
    assert not os.path.exists("/usr/lib/postfix/sbin/master")
    assert not [p for p in mta_processes() if "postfix" in p[1]]
    assert os.path.realpath("/usr/sbin/sendmail") == "/usr/sbin/sendmail"
    assert os.path.islink("/usr/lib/sendmail")
    assert os.path.realpath("/usr/lib/sendmail") == "/usr/sbin/sendmail"
    # postinst: accounts, setgid helpers, aliases database.
    assert sh("getent", "passwd", "postel").returncode == 0
    assert sh("getent", "group", "postdrop").returncode == 0
    st = os.stat("/usr/sbin/postdrop")
    assert st.st_mode & 0o7777 == 0o2755
    assert os.path.exists("/etc/aliases.db")

    # main.cf and master.cf: made from the templates, not conffiles, and
    # main.cf names the host's mail name (Debian policy 10.7.3: postinst
    # edits no conffile).
    conffiles = sh("dpkg-query", "-W", "-f=${Conffiles}", "postel").stdout
    assert "/etc/postel/aliases" in conffiles
    assert "/etc/postel/main.cf" not in conffiles
    assert "/etc/postel/master.cf" not in conffiles
    mailname = ""
    if os.path.exists("/etc/mailname"):
        with open("/etc/mailname") as f:
            mailname = f.readline().strip()
    with open("/etc/postel/main.cf") as f:
        main_cf = f.read()
    if "." in mailname:
        assert "myhostname = %s\n" % mailname in main_cf
    else:
        # No fully qualified mail name: the template as shipped.
        with open("/usr/share/postel/main.cf.dist") as f:
            assert main_cf == f.read()
    with open("/usr/share/postel/master.cf.dist") as f, \
            open("/etc/postel/master.cf") as g:
        assert f.read() == g.read()
    # An admin's edits survive reinstalling (an upgrade to the same
    # version runs postinst configure with the old version as for any
    # upgrade), and nothing asks.
    with open("/etc/postel/main.cf", "a") as f:
        f.write("# kept by the admin\nmessage_size_limit = 20480000\n")
    with open("/etc/postel/master.cf", "a") as f:
        f.write("# master.cf kept by the admin\n")
    sh("dpkg", "-i", deb)
    assert status("postel") == "install ok installed"
    with open("/etc/postel/main.cf") as f:
        text = f.read()
    assert text == main_cf + \
        "# kept by the admin\nmessage_size_limit = 20480000\n"
    with open("/etc/postel/master.cf") as f:
        assert f.read().endswith("# master.cf kept by the admin\n")
    r = sh("/usr/sbin/postelconf", "-h", "message_size_limit")
    assert r.stdout.strip() == "20480000"
    assert not glob.glob("/etc/postel/*.dpkg-*")
    st = os.stat("/var/lib/postel")
    assert st.st_mode & 0o7777 == 0o700
    assert st.st_uid == int(sh("id", "-u", "postel").stdout)

    if systemd_is_init():
        sh("systemctl", "start", "postel")
        assert sh("systemctl", "is-active", "postel").stdout.strip() \
            == "active"
    else:
        # Without systemd the init script started it through invoke-rc.d.
        if sh("/usr/sbin/postel", "status", check=False).returncode != 0:
            sh("/usr/sbin/postel", "start")
    assert sh("/usr/sbin/postel", "status", check=False).returncode == 0
    assert any(exe == "/usr/lib/postel/master" for _, exe in mta_processes())

    before = os.path.getsize(MAILBOX) if os.path.exists(MAILBOX) else 0
    sh("sh", "-c", "echo hi | mail -s t root")

    def delivered():
        if not os.path.exists(MAILBOX) or os.path.getsize(MAILBOX) <= before:
            return None
        with open(MAILBOX, errors="replace") as f:
            f.seek(before)
            text = f.read()
        return text if "Subject: t" in text and "\nhi\n" in text else None

    text = wait_until("the message in " + MAILBOX, delivered)
    assert "(Postel)" in text or "Postel" in text.split("\n\n", 1)[0]
    print(text)

    sh("apt-get", "purge", "-y", "-q", "postel", "bsd-mailx")
    assert status("postel") == "not-installed"
    wait_until("no Postel process", lambda: not mta_processes(), timeout=30)
    for path in ("/etc/postel", "/var/spool/postel", "/var/lib/postel",
                 "/usr/lib/postel", "/usr/sbin/postel", "/usr/sbin/sendmail",
                 "/usr/lib/sendmail", "/usr/bin/mailq", "/usr/bin/newaliases",
                 "/lib/systemd/system/postel.service", "/etc/init.d/postel",
                 "/etc/logrotate.d/postel"):
        assert not os.path.lexists(path), path
    left = glob.glob("/etc/rc?.d/*postel*")
    assert left == []
    # What stays: the postel user and postdrop group (system accounts
    # are not removed, Debian policy 9.2.2), /etc/aliases and
    # /etc/mailname (every MTA's), root's mailbox.
    assert os.path.exists(MAILBOX)
