# The postel command: start, start-fg, stop, reload, status, check,
# set-permissions.
# SPDX-License-Identifier: ISC
import grp
import os
import pwd
import signal
import stat
import subprocess

import pytest

from conftest import (LIBEXEC, bin_path, proc_alive, read_greeting,
                      run_cmd, service_path, wait_for)

ECHO = service_path("echo_service")
EX_CONFIG = 78

QUEUE_LAYOUT = {
    # folder: (mode, owner, group) as root; see postel(1)
    "maildrop": (0o730, "postel", "postdrop"),
    "public": (0o710, "postel", "postdrop"),
    "private": (0o700, "postel", None),
    "incoming": (0o700, "postel", None),
    "active": (0o700, "postel", None),
    "deferred": (0o700, "postel", None),
    "hold": (0o700, "postel", None),
    "corrupt": (0o700, "postel", None),
    "bounce": (0o700, "postel", None),
    "defer": (0o700, "postel", None),
    "trace": (0o700, "postel", None),
    "pid": (0o755, "root", "root"),
    "etc": (0o755, "root", "root"),
}


def test_status_is_0_when_running_and_1_when_not(instance):
    instance.write_config(services=["echo unix - - n - - " + ECHO])
    r = instance.postel("status")
    assert r.returncode == 1
    assert "not running" in r.stderr
    instance.start()
    r = instance.postel("status")
    assert r.returncode == 0, r.stderr
    assert "is running: PID: %d" % instance.master_pid() in r.stderr
    instance.stop()
    assert instance.postel("status").returncode == 1


def test_stop_and_reload_when_not_running_exit_1(instance):
    instance.write_config(services=[])
    instance.set_permissions()
    for cmd in ("stop", "reload"):
        r = instance.postel(cmd)
        assert r.returncode == 1
        assert "the Postel mail system is not running" in r.stderr


def test_a_second_start_on_the_same_queue_is_refused(instance):
    instance.write_config(services=["echo unix - - n - - " + ECHO])
    instance.start()
    pid = instance.master_pid()
    r = instance.postel("start")
    assert r.returncode == 1
    assert "the Postel mail system is already running (pid %d)" % pid in r.stderr
    # master itself refuses too, whoever starts it.
    r = subprocess.run([os.path.join(LIBEXEC, "master"), "-d", "-c",
                        instance.confdir], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1
    assert "fatal: the Postel mail system is already running (pid %d)" % pid \
        in r.stderr
    assert instance.master_pid() == pid


def test_start_fg_runs_in_the_foreground_and_stops_on_ctrl_c(instance):
    instance.write_config(services=["echo unix - - n - - " + ECHO])
    instance.start(foreground=True)
    pid = instance.master_pid()
    assert pid == instance.fg.pid  # postel execs master, no extra process
    with instance.connect_unix("echo") as s:
        child = read_greeting(s)
    instance.fg.send_signal(signal.SIGINT)
    assert instance.fg.wait(timeout=15) == 0
    assert not os.path.exists(instance.pid_file)
    assert not proc_alive(child)
    assert wait_for(lambda: "daemon started" in instance.read_log(), 15), \
        instance.read_log()


@pytest.mark.needs("root")
def test_check_creates_queue_folders_with_documented_owners_and_modes(instance):
    instance.write_config(services=[])
    instance.set_permissions()
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    owner = pwd.getpwnam("postel")
    for name, (mode, user, group) in QUEUE_LAYOUT.items():
        st = os.lstat(os.path.join(instance.queue, name))
        assert stat.S_ISDIR(st.st_mode), name
        assert stat.S_IMODE(st.st_mode) == mode, name
        assert st.st_uid == pwd.getpwnam(user).pw_uid, name
        gid = grp.getgrnam(group).gr_gid if group else owner.pw_gid
        assert st.st_gid == gid, name


def test_check_repairs_a_wrong_mode_and_a_missing_folder(instance):
    instance.write_config(services=[])
    instance.set_permissions()
    incoming = os.path.join(instance.queue, "incoming")
    os.chmod(incoming, 0o777)
    os.rmdir(os.path.join(instance.queue, "hold"))
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(incoming).st_mode) == 0o700
    assert "fixed %s" % incoming in r.stderr
    assert os.path.isdir(os.path.join(instance.queue, "hold"))
    assert "created %s" % os.path.join(instance.queue, "hold") in r.stderr


def test_check_refuses_a_symlink_in_place_of_a_queue_folder(instance, workdir):
    instance.write_config(services=[])
    instance.set_permissions()
    active = os.path.join(instance.queue, "active")
    os.rmdir(active)
    os.symlink(workdir, active)
    r = instance.postel("check")
    assert r.returncode != 0
    assert active in r.stderr


def test_check_names_the_bad_parameter_and_master_cf_line(instance):
    instance.write_config(main={"max_use": "lots"}, services=[])
    r = instance.postel("check")
    assert r.returncode == EX_CONFIG
    assert "max_use" in r.stderr

    instance.main.pop("max_use")
    instance.write_config(services=["echo unix - - n - - " + ECHO,
                                    "broken nosuchtype - - n - - " + ECHO])
    r = instance.postel("check")
    assert r.returncode == EX_CONFIG
    assert "master.cf:3" in r.stderr


def test_check_and_start_warn_about_a_misspelled_parameter(instance):
    # main.cf: the Instance settings, then the misspelled name.
    instance.write_config(main={"mesage_size_limit": "1"},
                          services=["echo unix - - n - - " + ECHO])
    line = list(instance.main).index("mesage_size_limit") + 1
    warning = ("postel: warning: %s/main.cf, line %d: unused parameter: "
               "mesage_size_limit=1" % (instance.confdir, line))
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    assert warning in r.stderr
    r = instance.start()
    assert warning in r.stderr
    r = run_cmd(["postelconf", "-c", instance.confdir, "-n"])
    assert r.returncode == 0, r.stderr
    assert ("postelconf: warning: %s/main.cf, line %d: unused parameter: "
            "mesage_size_limit=1" % (instance.confdir, line)) in r.stderr
    assert "mesage_size_limit = 1" in r.stdout


def test_check_warns_about_an_unused_master_cf_option_only(instance):
    # A user-defined name that a -o value refers to is used; so is a
    # per-transport name of a master.cf service.  A misspelled -o is not.
    instance.write_config(
        main={"mua_client_restrictions": "permit_sasl_authenticated, reject",
              "relay_destination_concurrency_limit": "5"},
        services=["echo unix - - n - - " + ECHO,
                  "relay unix - - n - - " + ECHO +
                  " -o smtpd_client_restrictions=$mua_client_restrictions"
                  " -o smtpd_tls_securty_level=encrypt"])
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    assert ("postel: warning: %s/master.cf, line 3: unused parameter: "
            "-o smtpd_tls_securty_level=encrypt" % instance.confdir) \
        in r.stderr
    assert "mua_client_restrictions" not in r.stderr
    assert "relay_destination_concurrency_limit" not in r.stderr
    assert r.stderr.count("unused parameter") == 1, r.stderr


def test_check_warns_about_a_missing_service_program(instance):
    instance.write_config(services=["ghost unix - - n - - no-such-daemon"])
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    assert "no-such-daemon" in r.stderr and "line 2" in r.stderr


def test_start_refuses_to_run_with_a_broken_config(instance):
    instance.write_config(services=["broken nosuchtype - - n - - " + ECHO])
    r = instance.postel("start")
    assert r.returncode == EX_CONFIG
    assert instance.master_pid() is None


def test_start_reports_an_endpoint_that_cannot_be_opened(instance):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        instance.write_config(services=["%d inet n - n - - %s" % (port, ECHO)])
        r = instance.postel("start")
    assert r.returncode != 0
    assert str(port) in r.stderr
    assert instance.master_pid() is None


@pytest.mark.needs("root")
def test_set_permissions_creates_accounts_and_setgid_bits(instance, workdir):
    bindir = os.path.join(workdir, "bin")
    os.mkdir(bindir)
    postdrop = os.path.join(bindir, "postdrop")
    with open(postdrop, "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(postdrop, 0o755)
    instance.write_config(main={"command_directory": bindir}, services=[])
    r = instance.postel("set-permissions")
    assert r.returncode == 0, r.stderr
    pw = pwd.getpwnam("postel")
    assert pw.pw_dir == "/nonexistent"
    assert pw.pw_shell in ("/usr/sbin/nologin", "/bin/false")
    st = os.stat(postdrop)
    assert stat.S_IMODE(st.st_mode) == 0o2755
    assert st.st_uid == 0 and st.st_gid == grp.getgrnam("postdrop").gr_gid


def test_usage_error_exits_64():
    r = subprocess.run([bin_path("postel"), "frobnicate"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 64
    assert "usage" in r.stderr


def test_shipped_configuration_passes_check(instance):
    repo_conf = os.path.join(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))), "conf")
    with open(os.path.join(repo_conf, "master.cf")) as f:
        master_cf = f.read()
    with open(os.path.join(repo_conf, "main.cf")) as f:
        main_cf = f.read()
    with open(os.path.join(instance.confdir, "master.cf"), "w") as f:
        f.write(master_cf)
    with open(os.path.join(instance.confdir, "main.cf"), "w") as f:
        f.write(main_cf)
        f.write("queue_directory = %s\n" % instance.queue)
    r = instance.postel("check")
    assert r.returncode == 0, r.stderr
    names = {line.split()[0] + "/" + line.split()[1]
             for line in master_cf.splitlines()
             if line and not line[0].isspace() and not line.startswith("#")}
    for want in ("smtp/inet", "submission/inet", "smtps/inet", "pickup/unix",
                 "cleanup/unix", "qmgr/unix", "bounce/unix", "defer/unix",
                 "trace/unix", "smtp/unix", "relay/unix", "local/unix",
                 "virtual/unix", "lmtp/unix", "error/unix", "retry/unix",
                 "discard/unix", "postlog/unix-dgram", "proxymap/unix"):
        assert want in names, want
