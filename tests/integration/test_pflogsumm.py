# pflogsumm (Debian's) reads Postel's maillog_file and counts received,
# delivered, deferred and bounced messages correctly: the log format is
# Postfix's, so operators' tools keep working.
# SPDX-License-Identifier: ISC
import os
import re
import smtplib
import subprocess

import pytest

from conftest import free_port, wait_for
from test_delivery import Sink, sink  # noqa: F401  (fixture)

pytestmark = pytest.mark.needs("pflogsumm", "pflogsumm_date_calc",
                               "aiosmtpd")


def counts(report):
    found = {}
    for what in ("received", "delivered", "deferred", "bounced"):
        m = re.search(r"^\s*(\d+)\s+%s\b" % what, report, re.M)
        found[what] = int(m.group(1)) if m else None
    return found


def test_pflogsumm_counts_postel_traffic(instance, workdir, sink):  # noqa: F811
    maillog = os.path.join(workdir, "maillog")
    port = free_port()
    instance.write_config(
        main={"relayhost": "[127.0.0.1]:%d" % sink.port,
              "myhostname": "mx.test", "mydestination": "",
              "maillog_file": maillog, "smtpd_error_sleep_time": "0",
              "minimal_backoff_time": "300s", "queue_run_delay": "300s"},
        services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "127.0.0.1:%d inet n - y - - smtpd" % port,
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "smtp unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
    instance.start()
    msg = b"Subject: pflogsumm\r\n\r\nhello\r\n"
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("a@client.test", ["ok@remote.test"], msg)
        s.sendmail("a@client.test", ["defer1@remote.test"], msg)
        s.sendmail("", ["bounce1@remote.test"], msg)   # null sender: no DSN

    def log():
        try:
            with open(maillog) as f:
                return f.read()
        except FileNotFoundError:
            return ""
    assert wait_for(lambda: all(x in log() for x in (
        "status=sent", "status=deferred", "status=bounced")), 30), log()
    r = subprocess.run(["pflogsumm", "--syslog-name=postel", maillog],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert counts(r.stdout) == {"received": 3, "delivered": 1,
                                "deferred": 1, "bounced": 1}, r.stdout
