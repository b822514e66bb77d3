"""virtual(8) end to end: two hosted domains, mailboxes from
virtual_mailbox_maps under virtual_mailbox_base, owners from
virtual_uid_maps / virtual_gid_maps (accounts made by useradd).

SPDX-License-Identifier: ISC
"""
import os
import pwd
import re
import secrets
import smtplib
import subprocess

import pytest

from conftest import free_port, wait_for, wait_smtp

pytestmark = [pytest.mark.needs("useradd"),
              pytest.mark.needs("root")]


@pytest.fixture
def accounts(workdir):
    made = []

    def make(tag):
        name = "pv%s%s" % (tag, secrets.token_hex(3))
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-U", name],
                       check=True, capture_output=True)
        made.append(name)
        return pwd.getpwnam(name)

    yield make
    for name in made:
        subprocess.run(["userdel", "-f", name], capture_output=True)


BODY = (b"From: a@example.org\r\nSubject: v\r\nMessage-ID: <v1@example.org>\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nFrom here\r\n")


def test_virtual_two_domains_into_maildirs_with_mapped_ids(instance, workdir,
                                                           accounts):
    os.chmod(workdir, 0o755)
    a, b = accounts("a"), accounts("b")
    base = os.path.join(workdir, "vmail")
    for dom, acct in (("a.test", a), ("b.test", b)):
        os.makedirs(os.path.join(base, dom))
        os.chown(os.path.join(base, dom), acct.pw_uid, acct.pw_gid)
    maps = os.path.join(workdir, "vmailbox")
    with open(maps, "w") as f:
        f.write("alice@a.test a.test/alice/\nbob@b.test b.test/bob/\n"
                "carol@b.test b.test/carol.mbox\n")
    uids = os.path.join(workdir, "vuids")
    with open(uids, "w") as f:
        f.write("@a.test %d\n@b.test %d\n" % (a.pw_uid, b.pw_uid))
    gids = os.path.join(workdir, "vgids")
    with open(gids, "w") as f:
        f.write("@a.test %d\n@b.test %d\n" % (a.pw_gid, b.pw_gid))
    port = free_port()
    instance.write_config(main={
        "myhostname": "mx.test.invalid", "mydestination": "",
        "virtual_mailbox_domains": "a.test, b.test",
        "virtual_mailbox_maps": "texthash:" + maps,
        "virtual_uid_maps": "texthash:" + uids,
        "virtual_gid_maps": "texthash:" + gids,
        "virtual_mailbox_base": base, "virtual_minimum_uid": "100",
        "recipient_delimiter": "+",
        "minimal_backoff_time": "300s", "queue_run_delay": "300s"},
        services=[
            "127.0.0.1:%d inet n - y - - smtpd" % port,
            "qmgr unix n - n 300 1 qmgr",
            "cleanup unix n - n - 0 cleanup",
            "virtual unix - n n - - virtual",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
    instance.start(foreground=True)

    wait_smtp(instance, port)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("s@example.org", ["alice+tag@a.test", "bob@b.test",
                                     "carol@b.test"], BODY)
    pat = re.compile(r"to=<carol@b\.test>.*status=sent")
    for who in ("alice\\+tag@a\\.test", "bob@b\\.test", "carol@b\\.test"):
        rx = re.compile(r"to=<%s>, relay=virtual.*status=sent" % who)
        assert wait_for(lambda: rx.search(instance.read_log()), 20), \
            instance.read_log()
    for dom, user, acct in (("a.test", "alice", a), ("b.test", "bob", b)):
        new = os.path.join(base, dom, user, "new")
        files = os.listdir(new)
        assert len(files) == 1
        path = os.path.join(new, files[0])
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (acct.pw_uid, acct.pw_gid)
        data = open(path, "rb").read()
        assert data.startswith(b"Return-Path: <s@example.org>\nDelivered-To: ")
        assert data.endswith(b"\n\nFrom here\n")
    assert pat.search(instance.read_log())
    mbox = open(os.path.join(base, "b.test", "carol.mbox"), "rb").read()
    assert mbox.startswith(b"From s@example.org  ")
    assert mbox.endswith(b"\n\n>From here\n\n")
    assert os.stat(os.path.join(base, "b.test", "carol.mbox")).st_uid == b.pw_uid
