# daemon_timeout: the skeleton's watchdog ends a daemon process that is
# stuck on one client (single skeleton) for longer than daemon_timeout.
# SPDX-License-Identifier: ISC
import os
import time

from conftest import read_greeting, service_path, wait_for

ECHO = service_path("echo_service")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def test_daemon_timeout_ends_a_process_stuck_on_one_client(instance, workdir):
    # echo_service waits up to 60 s for a silent client: the watchdog
    # ends the process long before that, and says why.
    logfile = os.path.join(workdir, "maillog")
    instance.write_config(
        main={"maillog_file": logfile, "daemon_timeout": "1s"},
        services=["postlog unix-dgram n - n - 1 postlogd",
                  "echo unix - - n - 1 " + ECHO + " log"])
    instance.start()
    with instance.connect_unix("echo") as s:
        s.settimeout(20)
        read_greeting(s)
        s.sendall(b"still here\n")
        assert s.recv(100) == b"still here\n"
        start = time.monotonic()
        assert s.recv(100) == b""
        assert time.monotonic() - start < 15
    assert wait_for(lambda: "fatal: watchdog timeout: a request took longer "
                    "than daemon_timeout (1s)" in read(logfile)), read(logfile)


def test_a_client_within_daemon_timeout_is_served_and_the_process_reused(
        instance, workdir):
    logfile = os.path.join(workdir, "maillog")
    instance.write_config(
        main={"maillog_file": logfile, "daemon_timeout": "3s"},
        services=["postlog unix-dgram n - n - 1 postlogd",
                  "echo unix - - n - 1 " + ECHO])
    instance.start()
    pids = []
    for _ in range(2):
        with instance.connect_unix("echo") as s:
            s.settimeout(20)
            pids.append(read_greeting(s))
            time.sleep(0.5)
            s.sendall(b"x\n")
            assert s.recv(100) == b"x\n"
    # Two clients that each took well under 3 s in one process: the
    # alarm of the first was cancelled, not left to fire in the second.
    time.sleep(3)
    with instance.connect_unix("echo") as s:
        s.settimeout(20)
        pids.append(read_greeting(s))
    assert pids[0] == pids[1] == pids[2], pids
    assert "watchdog timeout" not in read(logfile)
