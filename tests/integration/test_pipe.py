"""pipe(8) end to end: a master.cf pipe service with flags, user= and
argv= ${...} expansion, fed through smtpd -> cleanup -> qmgr
(transport_maps) -> pipe; exit statuses 75 and 67.

SPDX-License-Identifier: ISC
"""
import os
import pwd
import re
import smtplib

import pytest

from conftest import free_port, wait_for, wait_smtp

pytestmark = pytest.mark.needs("root")

SCRIPT = """#!/bin/sh
out=%(out)s
case "$2" in
  soft*) exit 75 ;;
  hard*) exit 67 ;;
esac
{ echo "uid=$(id -u)"; echo "args=$*"; echo "env=$(env | sort | tr '\\n' ' ')"; cat; } > "$out/$2"
"""

BODY = (b"From: a@example.org\r\nSubject: p\r\nMessage-ID: <p1@example.org>\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nFrom here\r\n")


def test_pipe_runs_argv_as_user_with_flags_and_maps_exits(instance, workdir):
    os.chmod(workdir, 0o755)
    nobody = pwd.getpwnam("nobody")
    out = os.path.join(workdir, "out")
    os.makedirs(out)
    os.chmod(out, 0o1777)
    script = os.path.join(workdir, "deliver.sh")
    with open(script, "w") as f:
        f.write(SCRIPT % {"out": out})
    os.chmod(script, 0o755)
    port = free_port()
    instance.write_config(main={
        "myhostname": "mx.test.invalid", "mydestination": "",
        "relay_domains": "pipe.test",
        "transport_maps": "inline:{ pipe.test=mypipe:Pipe.Test }",
        "recipient_delimiter": "+",
        "minimal_backoff_time": "300s", "queue_run_delay": "300s"},
        services=[
            "127.0.0.1:%d inet n - y - - smtpd" % port,
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "mypipe unix - n n - - pipe flags=FRDhu user=nobody "
            "argv=%s ${sender} ${user} ${extension} ${nexthop} ${recipient}"
            % script,
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
    instance.start(foreground=True)

    wait_smtp(instance, port)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("s@example.org", ["Joe+Box@pipe.test", "soft@pipe.test",
                                     "hard@pipe.test"], BODY)
    log = instance.read_log
    rx = re.compile(r"to=<Joe\+Box@pipe\.test>, relay=mypipe.*status=sent")
    assert wait_for(lambda: rx.search(log()), 20), log()
    rx = re.compile(r"to=<soft@pipe\.test>.*dsn=4\.3\.0, status=deferred")
    assert wait_for(lambda: rx.search(log()), 20), log()
    rx = re.compile(r"to=<hard@pipe\.test>.*dsn=5\.1\.1, status=bounced")
    assert wait_for(lambda: rx.search(log()), 20), log()
    data = open(os.path.join(out, "joe"), "rb").read().decode()
    lines = data.split("\n")
    assert lines[0] == "uid=%d" % nobody.pw_uid
    assert lines[1] == "args=s@example.org joe box pipe.test joe+box@pipe.test"
    env = lines[2]
    assert "SENDER" not in env and "HOME=" in env and "USER=nobody" in env
    assert re.match(r"From s@example\.org  ", lines[3])
    assert lines[4] == "Return-Path: <s@example.org>"
    assert lines[5] == "Delivered-To: Joe+Box@pipe.test"
    # No ">" quoting without the > flag.
    assert data.endswith("\n\nFrom here\n")
