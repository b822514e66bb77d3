# make install: commands, daemons, man pages and configuration land under
# DESTDIR/PREFIX (configuration in /etc/postel, the other files of conf/
# in PREFIX/share/postel), and an admin's existing configuration is never overwritten.
# SPDX-License-Identifier: ISC
import os
import subprocess

from conftest import BUILD, REPO


def install(dest):
    return subprocess.run(["sh", "mk/install.sh", dest, "/usr", BUILD],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_install_honours_destdir_and_keeps_existing_config(workdir):
    r = install(workdir)
    assert r.returncode == 0, r.stderr
    sbin = os.path.join(workdir, "usr/sbin")
    for cmd in ("postel", "postelconf", "postelmap", "postelalias"):
        assert os.access(os.path.join(sbin, cmd), os.X_OK), cmd
    assert os.path.islink(os.path.join(sbin, "newaliases"))
    assert os.access(os.path.join(workdir, "usr/libexec/postel/master"), os.X_OK)
    assert os.path.isfile(os.path.join(workdir, "usr/share/man/man5/postel.conf.5"))
    main_cf = os.path.join(workdir, "etc/postel/main.cf")
    with open(os.path.join(REPO, "conf/main.cf")) as f:
        assert open(main_cf).read() == f.read()
    # Only configuration goes to /etc/postel; the dashboard is data.
    assert sorted(os.listdir(os.path.join(workdir, "etc/postel"))) == [
        "aliases", "main.cf", "master.cf", "postel.logrotate",
        "postel.service"]
    dash = os.path.join(workdir, "usr/share/postel/grafana-postel.json")
    with open(os.path.join(REPO, "conf/grafana-postel.json")) as f:
        assert open(dash).read() == f.read()

    with open(main_cf, "a") as f:
        f.write("myhostname = kept.example\n")
    r = install(workdir)
    assert r.returncode == 0, r.stderr
    assert "kept existing" in r.stdout
    assert "myhostname = kept.example" in open(main_cf).read()
    assert os.path.isfile(main_cf + ".dist")
