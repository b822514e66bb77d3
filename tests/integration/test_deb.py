# make deb: the Debian package is built from a copy of the tree (the
# checkout stays as it was), lintian finds no error in it, and what
# dpkg-deb shows is what a host's MTA package must have: the
# mail-transport-agent relations, every program `make install` installs
# (the lists come from the Makefile, so a new daemon or command is
# checked without a change here), the Debian layout compiled into the
# defaults, the conffiles (main.cf and master.cf are not: they ship as
# templates in /usr/share/postel), the systemd unit, the init script, the
# logrotate file and the maintainer scripts.
#
# Installing the package changes the system; that check is
# tests/deb/test_deb_install.py, run only by hand with POSTEL_DEB_TEST=1
# (INSTALL, "Checking the package").
#
# SPDX-License-Identifier: ISC
import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import REPO

pytestmark = pytest.mark.needs("dpkg_dev", "debhelper")


def git_status():
    return subprocess.run(["git", "status", "--porcelain", "--ignored=no"],
                          cwd=REPO, capture_output=True, text=True,
                          check=True).stdout


def makefile_list(name):
    """A variable of the Makefile (CMDS, DAEMONS), expanded by make."""
    rule = "print-list:\n\t@echo $(%s)\n" % name
    r = subprocess.run(["make", "-s", "--no-print-directory", "-f", "Makefile",
                        "-f", "-", "print-list"], cwd=REPO, input=rule,
                       capture_output=True, text=True, check=True)
    return r.stdout.split()


def test_changelog_must_name_the_version_file_release(workdir):
    """VERSION is the one place; a changelog naming another release stops
    the build before anything is copied."""
    r = subprocess.run(["sh", "mk/deb.sh", workdir, "9.9.9"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "VERSION says 9.9.9 but debian/changelog's top entry is" \
        in r.stderr
    assert os.listdir(workdir) == []
    with open(os.path.join(REPO, "VERSION")) as f:
        version = f.read().strip()
    r = subprocess.run(["dpkg-parsechangelog", "-l", "debian/changelog",
                        "-S", "Version"], cwd=REPO, capture_output=True,
                       text=True, check=True)
    assert r.stdout.strip() == version


@pytest.fixture(scope="module")
def deb():
    """Build the package once into a temporary DEB_DIR; yields a dict
    with the .deb, its control fields, its file list and the extracted
    control and data trees."""
    out = tempfile.mkdtemp(prefix="postel-deb-")
    before = git_status()
    try:
        r = subprocess.run(["nice", "make", "-s", "deb", "DEB_DIR=" + out],
                           cwd=REPO, capture_output=True, text=True,
                           timeout=900)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert git_status() == before, "make deb changed the checkout"
        with open(os.path.join(REPO, "VERSION")) as f:
            version = f.read().strip()
        arch = subprocess.run(["dpkg", "--print-architecture"],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
        path = os.path.join(out, "postel_%s_%s.deb" % (version, arch))
        assert os.path.isfile(path), os.listdir(out)
        assert not os.path.exists(os.path.join(out, "src"))
        info = {"path": path, "version": version, "arch": arch, "dir": out}
        fields = subprocess.run(["dpkg-deb", "-f", path], capture_output=True,
                                text=True, check=True).stdout
        info["fields"] = dict(l.split(": ", 1) for l in fields.splitlines()
                              if ": " in l and not l.startswith(" "))
        listing = subprocess.run(["dpkg-deb", "-c", path], capture_output=True,
                                 text=True, check=True).stdout
        info["files"] = {}
        for line in listing.splitlines():
            mode, _owner, _size, _date, _time, name = line.split(None, 5)
            target = None
            if " -> " in name:
                name, target = name.split(" -> ", 1)
            info["files"][name.lstrip(".")] = (mode, target)
        info["control"] = os.path.join(out, "control")
        info["data"] = os.path.join(out, "data")
        subprocess.run(["dpkg-deb", "-e", path, info["control"]], check=True)
        subprocess.run(["dpkg-deb", "-x", path, info["data"]], check=True)
        yield info
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.mark.needs("lintian")
def test_lintian_reports_no_error(deb):
    r = subprocess.run(["lintian", "--pedantic", "--display-info", deb["path"]],
                       capture_output=True, text=True, timeout=600)
    print(r.stdout)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert errors == []
    # lintian exits 0 without errors (warnings do not change that).
    assert r.returncode == 0, r.stderr


def test_relations_are_a_debian_mta(deb):
    f = deb["fields"]
    assert f["Package"] == "postel"
    assert f["Version"] == deb["version"]
    assert f["Architecture"] == deb["arch"]
    for field in ("Provides", "Conflicts", "Replaces"):
        words = [w.strip() for w in f[field].split(",")]
        assert "mail-transport-agent" in words, (field, f[field])
    depends = [w.strip().split()[0] for w in f["Depends"].split(",")]
    assert "adduser" in depends
    assert any(w.startswith("libc6") for w in depends)


def test_programs_where_debian_mtas_put_them(deb):
    files = deb["files"]
    cmds = makefile_list("CMDS")
    daemons = makefile_list("DAEMONS")
    assert "sendmail" in cmds and "master" in daemons
    for cmd in cmds:
        mode, _ = files["/usr/sbin/" + cmd]
        assert mode.startswith("-rwxr-xr-x"), (cmd, mode)
    for daemon in daemons:
        mode, _ = files["/usr/lib/postel/" + daemon]
        assert mode.startswith("-rwxr-xr-x"), (daemon, mode)
    # The names every MTA answers to.
    assert files["/usr/lib/sendmail"] == ("lrwxrwxrwx", "../sbin/sendmail")
    for name in ("mailq", "newaliases"):
        mode, target = files["/usr/bin/" + name]
        assert mode.startswith("l") and target == "../sbin/" + name
        assert os.path.exists(os.path.join(deb["data"], "usr/bin", name))
    # Every man page of the tree, compressed.
    for page in glob.glob(os.path.join(REPO, "man", "man*", "*.[0-9]")):
        sec = page.rsplit(".", 1)[1]
        name = "/usr/share/man/man%s/%s.gz" % (sec, os.path.basename(page))
        assert name in files, name
    for name in ("mailq.1.gz", "newaliases.1.gz"):
        assert "/usr/share/man/man1/" + name in files
    # Nothing under /usr/local or a libexec folder.
    assert not [n for n in files if n.startswith(("/usr/local", "/usr/libexec"))]


def test_compiled_defaults_follow_the_debian_layout(deb):
    data = deb["data"]
    # postinst makes /etc/postel/main.cf and master.cf from the templates.
    conf = os.path.join(deb["dir"], "etc")
    os.makedirs(conf, exist_ok=True)
    for name in ("main.cf", "master.cf"):
        shutil.copy(os.path.join(data, "usr/share/postel", name + ".dist"),
                    os.path.join(conf, name))
    r = subprocess.run([os.path.join(data, "usr/sbin/postelconf"),
                        "-c", conf,
                        "daemon_directory", "command_directory",
                        "queue_directory", "data_directory", "mail_version",
                        "mail_owner", "setgid_group"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "daemon_directory = /usr/lib/postel",
        "command_directory = /usr/sbin",
        "queue_directory = /var/spool/postel",
        "data_directory = /var/lib/postel",
        "mail_version = " + deb["version"],
        "mail_owner = postel",
        "setgid_group = postdrop",
    ]


def test_conffiles_unit_init_script_and_logrotate(deb):
    with open(os.path.join(deb["control"], "conffiles")) as f:
        conffiles = f.read().split()
    assert sorted(conffiles) == ["/etc/init.d/postel",
                                 "/etc/logrotate.d/postel",
                                 "/etc/postel/aliases"]
    files = deb["files"]
    # main.cf and master.cf are the admin's, not conffiles (postinst sets
    # myhostname in main.cf): the package ships templates, equal to the
    # tree's, and postinst makes the files only when they are missing.
    assert not [n for n in files if n.startswith("/etc/postel/")
                and n not in ("/etc/postel/", "/etc/postel/aliases")]
    for name in ("main.cf", "master.cf"):
        mode, _ = files["/usr/share/postel/%s.dist" % name]
        assert mode.startswith("-rw-r--r--"), (name, mode)
        with open(os.path.join(REPO, "conf", name)) as f, \
                open(os.path.join(deb["data"], "usr/share/postel",
                                  name + ".dist")) as g:
            assert f.read() == g.read(), name
    with open(os.path.join(deb["control"], "postinst")) as f:
        postinst = f.read()
    for line in ("if [ ! -e /etc/postel/main.cf ]; then",
                 "cp /usr/share/postel/main.cf.dist /etc/postel/main.cf",
                 "if [ ! -e /etc/postel/master.cf ]; then",
                 "cp /usr/share/postel/master.cf.dist /etc/postel/master.cf"):
        assert line in postinst, line
    # Data, not configuration: the Grafana dashboard.
    assert "/usr/share/postel/grafana-postel.json" in files
    assert "/etc/postel/postel.service" not in files
    with open(os.path.join(deb["data"], "lib/systemd/system/postel.service")) as f:
        unit = f.read().splitlines()
    for line in ("Type=forking", "PIDFile=/var/spool/postel/pid/master.pid",
                 "ExecStartPre=/usr/sbin/postel check",
                 "ExecStart=/usr/sbin/postel start",
                 "ExecReload=/usr/sbin/postel reload",
                 "ExecStop=/usr/sbin/postel stop",
                 "WantedBy=multi-user.target"):
        assert line in unit, line
    with open(os.path.join(deb["data"], "etc/logrotate.d/postel")) as f:
        rotate = f.read()
    assert "/var/log/postel.log {" in rotate and "copytruncate" in rotate
    init = os.path.join(deb["data"], "etc/init.d/postel")
    assert os.access(init, os.X_OK)
    r = subprocess.run(["sh", "-n", init], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_maintainer_scripts(deb):
    ctl = deb["control"]
    for name in ("postinst", "prerm", "postrm"):
        path = os.path.join(ctl, name)
        assert os.access(path, os.X_OK), name
        r = subprocess.run(["sh", "-n", path], capture_output=True, text=True)
        assert r.returncode == 0, (name, r.stderr)
    with open(os.path.join(ctl, "postinst")) as f:
        postinst = f.read()
    for word in ("adduser --system", "addgroup --system --quiet postdrop",
                 "postel set-permissions", "newaliases", "/etc/mailname",
                 "deb-systemd-helper", "update-rc.d postel",
                 "invoke-rc.d --skip-systemd-native postel"):
        assert word in postinst, word
    with open(os.path.join(ctl, "prerm")) as f:
        prerm = f.read()
    assert "/usr/sbin/postel stop" in prerm
    with open(os.path.join(ctl, "postrm")) as f:
        postrm = f.read()
    assert "rm -rf /var/spool/postel /var/lib/postel /etc/postel" in postrm
    # Only on purge: the removal is inside the purge branch.
    purge = postrm.index("purge)")
    assert purge < postrm.index("rm -rf /var/spool/postel")
    assert postrm.index("rm -rf /var/spool/postel") < postrm.index(";;", purge)
