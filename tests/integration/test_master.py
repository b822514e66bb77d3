# master: on-demand spawning, respawn, crash throttle, reload, wakeup
# timers, privilege drop and chroot, clean stop.
# SPDX-License-Identifier: ISC
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest

from conftest import (bin_path, free_port, proc_alive, procs_mentioning,
                      read_greeting, service_path, wait_for)

ECHO = service_path("echo_service")
MULTI = service_path("multi_echo_service")
TRIGGER = service_path("trigger_service")


def echo_line(sock, text=b"ping\n"):
    sock.sendall(text)
    data = b""
    while len(data) < len(text):
        chunk = sock.recv(100)
        assert chunk, "connection closed"
        data += chunk
    return data


def test_master_spawns_a_service_only_when_a_client_connects(instance):
    instance.write_config(services=["echo unix - - n - 2 " + ECHO])
    instance.start()
    assert wait_for(lambda: os.path.exists(instance.unix_path("echo")))
    # Proves an absence: no child appears in this time without a client.
    time.sleep(0.3)
    assert instance.children() == []
    with instance.connect_unix("echo") as s:
        pid = read_greeting(s)
        assert echo_line(s) == b"ping\n"
        assert instance.children() == [pid]


def test_master_respawns_a_child_killed_with_sigkill(instance):
    instance.write_config(services=["echo unix - - n - 2 " + ECHO])
    instance.start()
    with instance.connect_unix("echo") as s:
        first = read_greeting(s)
    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: not proc_alive(first))
    with instance.connect_unix("echo") as s:
        second = read_greeting(s)
        assert echo_line(s) == b"ping\n"
    assert second != first
    assert instance.postel("status").returncode == 0


def test_master_throttles_a_service_that_crashes_at_start(instance):
    instance.write_config(services=[
        "crashy unix - - n - - %s crash" % ECHO,
        "echo unix - - n - - " + ECHO])
    instance.start(foreground=True)
    client = instance.connect_unix("crashy")
    try:
        throttled = wait_for(lambda: "throttling" in instance.read_log(), 5)
        assert throttled, instance.read_log()
        # Proves an absence: no further start while throttled.
        time.sleep(1.5)
        log = instance.read_log()
        # No spin: three failed starts, then silence while throttled.
        assert log.count("killed by signal 6") == 3, log
        assert log.count("keeps failing at start -- throttling it for 60 "
                         "seconds") == 1, log
        assert instance.master_pid()
        # The other services are not affected.
        with instance.connect_unix("echo") as s:
            read_greeting(s)
    finally:
        client.close()


def test_reload_adds_and_removes_services_and_keeps_connections(instance):
    instance.write_config(services=[
        "keep unix - - n - - " + ECHO,
        "old unix - - n - - " + ECHO])
    instance.start()
    keep = instance.connect_unix("keep")
    old = instance.connect_unix("old")
    keep_pid = read_greeting(keep)
    old_pid = read_greeting(old)

    instance.write_config(services=[
        "keep unix - - n - - " + ECHO,
        "new unix - - n - - " + ECHO])
    instance.reload()
    assert wait_for(lambda: os.path.exists(instance.unix_path("new")))
    assert wait_for(lambda: not os.path.exists(instance.unix_path("old")))
    with instance.connect_unix_when_listening("new") as s:
        read_greeting(s)
        assert echo_line(s) == b"ping\n"

    # Both open connections survived the reload and still work.
    assert echo_line(keep, b"still here\n") == b"still here\n"
    assert echo_line(old, b"me too\n") == b"me too\n"
    old.close()
    assert wait_for(lambda: not proc_alive(old_pid)), "removed service's child stayed"
    keep.close()
    # Proves an absence: the unchanged service's child is not stopped.
    time.sleep(0.3)
    assert proc_alive(keep_pid), "an unchanged service's child was stopped"
    with pytest.raises(OSError):
        instance.connect_unix("old")


def test_reload_restarts_a_changed_service_on_the_same_socket(instance):
    instance.write_config(services=["svc unix - - n - 5 " + ECHO])
    instance.start(foreground=True)
    conn = instance.connect_unix("svc")
    first = read_greeting(conn)
    instance.write_config(services=["svc unix - - n - 4 " + ECHO])
    instance.reload()           # returns when master logged it done
    assert "reload: service svc/unix changed" in instance.read_log()
    # The busy old child finishes its client; new clients get a new child.
    with instance.connect_unix("svc") as s:
        second = read_greeting(s)
    assert second != first
    assert echo_line(conn) == b"ping\n"
    conn.close()
    assert wait_for(lambda: not proc_alive(first))


def test_wakeup_timer_triggers_a_trigger_service(instance, workdir):
    ticks = os.path.join(workdir, "ticks")
    tocks = os.path.join(workdir, "tocks")
    instance.write_config(services=[
        "tick unix - - n 1 1 %s %s" % (TRIGGER, ticks),
        "tock unix - - n 1? 1 %s %s" % (TRIGGER, tocks)])
    instance.start()

    def lines(path):
        try:
            with open(path) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    assert wait_for(lambda: len(lines(ticks)) >= 2, 6), lines(ticks)
    assert all(line.startswith("W ") for line in lines(ticks))
    # "1?" wakes the service only after it was used once.
    assert lines(tocks) == []
    with instance.connect_unix("tock") as s:
        s.sendall(b"X")
    assert wait_for(lambda: any(line.startswith("W ") for line in lines(tocks)), 6), \
        lines(tocks)
    assert lines(tocks)[0].startswith("X ")


def read_or_empty(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def test_fifo_service_receives_trigger_bytes_and_wakeups(instance, workdir):
    out = os.path.join(workdir, "fifo.out")
    instance.write_config(services=["pick fifo n - n 1 1 %s %s" % (TRIGGER, out)])
    instance.start()
    fd = os.open(instance.unix_path("pick", private=False), os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"I")
    os.close(fd)
    # The first wakeup goes out as master starts, then one a second.
    lines = lambda: read_or_empty(out).splitlines()
    assert wait_for(lambda: any(l.startswith("I ") for l in lines()), 5), lines()
    assert wait_for(lambda: sum(l.startswith("W ") for l in lines()) >= 2, 5), lines()


def test_unix_dgram_service_gets_each_datagram(instance, workdir):
    out = os.path.join(workdir, "dgram.out")
    instance.write_config(services=["log unix-dgram n - n - 1 %s %s" % (TRIGGER, out)])
    instance.start()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"ab", instance.unix_path("log", private=False))
    assert wait_for(lambda: len(read_or_empty(out).splitlines()) == 2, 5)
    assert [line[0] for line in read_or_empty(out).splitlines()] == ["a", "b"]


def test_reload_after_a_main_cf_change_renews_every_service(instance):
    instance.write_config(services=["echo unix - - n - - " + ECHO])
    instance.start()
    conn = instance.connect_unix("echo")
    first = read_greeting(conn)
    with instance.connect_unix("echo") as s:
        idle = read_greeting(s)
    instance.write_config(main={"max_idle": "200s"})
    instance.reload()
    # The idle child leaves at once, the busy one after its client.
    assert wait_for(lambda: not proc_alive(idle)), "idle child stayed"
    assert proc_alive(first)
    assert echo_line(conn) == b"ping\n"
    conn.close()
    assert wait_for(lambda: not proc_alive(first))
    with instance.connect_unix("echo") as s:
        assert read_greeting(s) not in (first, idle)


def test_multi_service_serves_several_clients_from_one_process(instance):
    instance.write_config(services=["multi unix - - n - 1 " + MULTI])
    instance.start()
    with instance.connect_unix("multi") as a, instance.connect_unix("multi") as b:
        pa = read_greeting(a)
        pb = read_greeting(b)
        assert pa == pb
        assert echo_line(a, b"a\n") == b"a\n"
        assert echo_line(b, b"b\n") == b"b\n"


def test_max_use_override_recycles_the_process(instance):
    instance.write_config(services=["echo unix - - n - 1 %s -o max_use=2" % ECHO])
    instance.start()
    pids = []
    for _ in range(3):
        with instance.connect_unix("echo") as s:
            pids.append(read_greeting(s))
        if len(pids) == 2:
            assert wait_for(lambda: not proc_alive(pids[0]))
    assert pids[0] == pids[1]
    assert pids[2] != pids[0]


def test_stop_leaves_no_process_and_no_pid_file(instance):
    port = free_port()
    instance.write_config(services=[
        "echo unix - - n - - " + ECHO,
        "%d inet n - n - - %s" % (port, ECHO)])
    instance.start()
    master = instance.master_pid()
    with instance.connect_unix("echo") as s, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as t:
        read_greeting(s)
        read_greeting(t)
        assert len(instance.children()) == 2
        r = instance.stop()
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(instance.pid_file)
    assert not proc_alive(master)
    assert procs_mentioning(instance.confdir) == []


@pytest.mark.needs("root")
def test_children_run_as_mail_owner_and_chrooted_when_asked(instance):
    port = free_port()
    instance.write_config(services=[
        "%d inet n - y - - %s" % (port, ECHO),
        "plain unix - - n - - " + ECHO,
        "rooted unix - n n - - " + ECHO])
    instance.start()
    owner = pwd.getpwnam("postel").pw_uid

    def uid_of(pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return [int(x) for x in line.split()[1:]]

    with socket.create_connection(("127.0.0.1", port), timeout=10) as t, \
            instance.connect_unix("plain") as p, instance.connect_unix("rooted") as r:
        jailed = read_greeting(t)
        plain = read_greeting(p)
        rooted = read_greeting(r)
        assert uid_of(jailed) == [owner] * 4
        assert os.readlink("/proc/%d/root" % jailed) == os.path.realpath(instance.queue)
        assert uid_of(plain) == [owner] * 4
        assert os.readlink("/proc/%d/root" % plain) == "/"
        # unpriv=n keeps root (local(8) needs it).
        assert uid_of(rooted) == [0] * 4


def test_children_that_serve_once_and_exit_are_not_taken_for_crashes(instance):
    instance.write_config(services=["echo unix - - n - 1 %s -o max_use=1" % ECHO])
    instance.start(foreground=True)
    pids = set()
    for _ in range(6):
        with instance.connect_unix("echo") as s:
            pids.add(read_greeting(s))
    assert len(pids) == 6
    # Proves an absence: the last exit is not taken for a crash either.
    assert wait_for(lambda: not any(map(proc_alive, pids)))
    time.sleep(0.3)
    assert "throttling" not in instance.read_log()


def test_skeleton_standalone_mode_serves_stdin_and_stdout(instance, workdir):
    import subprocess
    instance.write_config(services=[])
    if os.geteuid() == 0:
        instance.set_permissions()
    r = subprocess.run([ECHO, "-c", instance.confdir, "-S"], input=b"hello\n",
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(b"pid ") and lines[1] == b"hello", r.stdout

    out = os.path.join(workdir, "standalone.out")
    r = subprocess.run([TRIGGER, "-c", instance.confdir, "-S", "--", out],
                       input=b"WI", capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    with open(out) as f:
        assert [line[0] for line in f.read().splitlines()] == ["W", "I"]


def test_a_service_program_run_by_hand_explains_itself(instance):
    import subprocess
    instance.write_config(services=[])
    r = subprocess.run([ECHO, "-c", instance.confdir], capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert "use -S" in r.stderr


def test_multi_service_drains_its_clients_when_retired(instance):
    instance.write_config(services=["multi unix - - n - 1 " + MULTI])
    instance.start(foreground=True)
    a = instance.connect_unix("multi")
    pid = read_greeting(a)
    instance.write_config(services=["multi unix - - n - 2 " + MULTI])
    instance.reload()           # returns when master logged it done
    # Retired: it keeps its client but takes no new one.
    assert echo_line(a, b"still\n") == b"still\n"
    with instance.connect_unix("multi") as b:
        assert read_greeting(b) != pid
    a.close()
    assert wait_for(lambda: not proc_alive(pid))


def test_children_leave_when_master_dies_and_a_stale_pid_file_is_harmless(instance):
    instance.write_config(services=["echo unix - - n - - " + ECHO])
    instance.start()
    master = instance.master_pid()
    busy = instance.connect_unix("echo")
    busy_pid = read_greeting(busy)
    with instance.connect_unix("echo") as s:
        idle_pid = read_greeting(s)
    os.kill(master, signal.SIGKILL)
    assert wait_for(lambda: not proc_alive(master))
    assert wait_for(lambda: not proc_alive(idle_pid)), "orphan kept waiting"
    assert echo_line(busy) == b"ping\n"
    busy.close()
    assert wait_for(lambda: not proc_alive(busy_pid))
    # The pid file is still there, but nobody holds its lock.
    assert os.path.exists(instance.pid_file)
    assert instance.postel("status").returncode == 1
    instance.start()
    with instance.connect_unix("echo") as s:
        read_greeting(s)


# Finding 6 of the security review: master, as root, must not operate on a
# name inside the mail_owner-owned private/ and public/ folders (a symlink
# planted there would redirect a chmod/chown by path).  Endpoints are
# created as mail_owner with their final mode.
PATH_CALLS = ("chmod", "fchmodat", "chown", "lchown", "fchownat")


def test_master_creates_endpoints_without_root_path_operations(instance,
                                                               workdir):
    strace = "/usr/bin/strace"
    assert os.path.exists(strace), "strace (package strace) is missing"
    out = os.path.join(workdir, "dgram.out")
    instance.write_config(services=[
        "echo unix - - n - - " + ECHO,
        "pub unix n - n - - " + ECHO,
        "pick fifo n - n - 1 %s %s" % (TRIGGER, out + ".fifo"),
        "log unix-dgram n - n - 1 %s %s" % (TRIGGER, out)])
    instance.set_permissions()
    trace = os.path.join(workdir, "strace.out")
    # strace follows the detached master: it ends when master stops.
    tracer = subprocess.Popen([strace, "-f", "-qq", "-o", trace, "-e",
                               "trace=" + ",".join(PATH_CALLS),
                               bin_path("postel"), "-c", instance.confdir,
                               "start"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        assert wait_for(instance.master_pid, 20), "master did not start"
        # The pid file exists before the listeners, and strace slows
        # master down (this master logs to syslog, not to a file we can
        # watch): give the endpoints time to appear, then check them.
        wait_for(lambda: endpoints_ok(instance), 20)
        check_endpoints(instance)
    finally:
        instance.stop()
        tracer.wait(timeout=30)
    with open(trace) as f:
        calls = [line for line in f
                 if any("%s(" % c in line for c in PATH_CALLS)
                 and ("/private/" in line or "/public/" in line)]
    assert calls == [], calls


def endpoints_ok(instance):
    try:
        check_endpoints(instance)
    except (AssertionError, OSError):
        return False
    return True


def check_endpoints(instance):
    check_endpoints_in(instance, (("echo", True, 0o666, stat.S_ISSOCK),
                                  ("pub", False, 0o666, stat.S_ISSOCK),
                                  ("pick", False, 0o622, stat.S_ISFIFO),
                                  ("log", False, 0o666, stat.S_ISSOCK)))


def check_endpoints_in(instance, endpoints):
    """Each endpoint has its kind and mode and belongs to mail_owner."""
    owner = pwd.getpwnam("postel") if os.geteuid() == 0 else None
    for name, private, mode, kind in endpoints:
        st = os.lstat(instance.unix_path(name, private))
        assert kind(st.st_mode), name
        assert stat.S_IMODE(st.st_mode) == mode, (name, oct(st.st_mode))
        if owner:
            assert (st.st_uid, st.st_gid) == (owner.pw_uid, owner.pw_gid), name
    with instance.connect_unix("echo") as s:
        assert read_greeting(s) > 0


def test_a_symlink_planted_in_private_never_redirects_master(instance,
                                                             workdir):
    target = os.path.join(workdir, "some-file-copy")
    shutil.copyfile("/etc/hosts", target)
    os.chmod(target, 0o600)
    instance.write_config(services=["qmgr unix n - n - - " + ECHO,
                                    "echo unix - - n - - " + ECHO])
    instance.set_permissions()
    for folder in ("private", "public"):
        link = os.path.join(instance.queue, folder,
                            "qmgr" if folder == "public" else "echo")
        os.symlink(target, link)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postel")
            os.lchown(link, pw.pw_uid, pw.pw_gid)
    before = os.stat(target)
    instance.start()
    after = os.stat(target)
    assert stat.S_IMODE(after.st_mode) == 0o600
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert stat.S_ISSOCK(os.lstat(instance.unix_path("echo")).st_mode)
    assert stat.S_ISSOCK(os.lstat(instance.unix_path("qmgr", False)).st_mode)
    with instance.connect_unix("qmgr", private=False) as s:
        assert read_greeting(s) > 0


def test_endpoints_are_made_under_a_queue_only_root_can_reach(instance,
                                                              workdir):
    # A clone under /root: mail_owner cannot enter the folders above the
    # queue, yet master creates the endpoints as mail_owner.
    locked = os.path.join(workdir, "locked")
    os.makedirs(locked)
    os.chmod(locked, 0o700)
    instance.queue = os.path.join(locked, "spool")
    instance.write_config(main={"queue_directory": instance.queue},
                          services=["echo unix - - n - - " + ECHO,
                                    "log unix-dgram n - n - 1 %s %s" % (
                                        TRIGGER, os.path.join(workdir, "o")),
                                    "pick fifo n - n - 1 %s %s" % (
                                        TRIGGER, os.path.join(workdir, "p"))])
    instance.start()
    check_endpoints_in(instance, (("echo", True, 0o666, stat.S_ISSOCK),
                                  ("log", False, 0o666, stat.S_ISSOCK),
                                  ("pick", False, 0o622, stat.S_ISFIFO)))
    with instance.connect_unix("echo") as s:
        assert read_greeting(s) > 0
