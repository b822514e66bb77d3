# maillog_file: the postlog service is the single writer of the log file;
# master, chrooted daemons and commands all reach it.
# SPDX-License-Identifier: ISC
import os
import re

from conftest import read_greeting, service_path, wait_for

ECHO = service_path("echo_service")
LINE = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [\w./-]+\[\d+\]: ")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def test_maillog_file_collects_lines_from_master_and_chrooted_daemons(instance, workdir):
    logfile = os.path.join(workdir, "maillog")
    instance.write_config(
        main={"maillog_file": logfile, "syslog_name": "postel-t",
              "myhostname": "mx.test"},
        services=["postlog unix-dgram n - n - 1 postlogd",
                  "echo unix - - y - - %s log" % ECHO])
    instance.start()
    with instance.connect_unix("echo") as s:
        pid = read_greeting(s)
        s.sendall(b"hello from the jail\n")
        assert s.recv(100) == b"hello from the jail\n"
    assert wait_for(lambda: "hello from the jail" in read(logfile))
    r = instance.postel("stop")
    assert r.returncode == 0, r.stderr
    text = read(logfile)
    lines = text.splitlines()
    assert lines and all(LINE.match(l) for l in lines), text
    assert any(" mx.test postel-t/master[" in l and "daemon started" in l
               for l in lines), text
    echo = [l for l in lines if "echo: hello from the jail" in l]
    assert len(echo) == 1 and ("[%d]: " % pid) in echo[0], text
    st = os.stat(logfile)
    assert st.st_mode & 0o777 == 0o600


def test_postlog_service_name_names_the_socket_programs_log_to(instance, workdir):
    logfile = os.path.join(workdir, "maillog")
    instance.write_config(
        main={"maillog_file": logfile, "postlog_service_name": "mylog"},
        services=["mylog unix-dgram n - n - 1 postlogd",
                  "echo unix - - y - - %s log" % ECHO])
    instance.start()
    assert os.path.exists(os.path.join(instance.queue, "public", "mylog"))
    assert not os.path.exists(os.path.join(instance.queue, "public",
                                           "postlog"))
    with instance.connect_unix("echo") as s:
        read_greeting(s)
        s.sendall(b"through mylog\n")
        assert s.recv(100) == b"through mylog\n"
    assert wait_for(lambda: "echo: through mylog" in read(logfile)), \
        read(logfile)
    assert "daemon started" in read(logfile)
