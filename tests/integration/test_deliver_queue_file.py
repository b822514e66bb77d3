"""Finding 14: local, virtual and pipe run as root and open the queue file
that a delivery request names.  Played as qmgr with
tests/services/deliver_send, a request that names another queue than
active/, an ID that is not a queue ID, or a file that the mail system does
not own is deferred with a reason that says why, and nothing of the file
reaches the recipient.

SPDX-License-Identifier: ISC
"""
import os
import pwd
import subprocess

import pytest

from conftest import BUILD, run_cmd, wait_for

SERVICES = os.path.join(BUILD, "tests", "services")
QWRITE = os.path.join(SERVICES, "qwrite")
DSEND = os.path.join(SERVICES, "deliver_send")

SCRIPT = """#!/bin/sh
cat > "%(out)s/$1"
"""

# Queue IDs in util/qid syntax (10 time digits, 'z', inode digits).
QID_OK, QID_INCOMING, QID_FOREIGN = ("0000000000z1", "0000000000z2",
                                     "0000000000z3")


@pytest.fixture
def agents(instance, workdir):
    assert os.geteuid() == 0, "this test needs root: local and pipe run as root"
    os.chmod(workdir, 0o755)
    out = os.path.join(workdir, "out")
    os.makedirs(out)
    os.chmod(out, 0o1777)
    script = os.path.join(workdir, "deliver.sh")
    with open(script, "w") as f:
        f.write(SCRIPT % {"out": out})
    os.chmod(script, 0o755)
    instance.write_config(main={
        "myhostname": "mx.test.invalid", "mydestination": "$myhostname",
        "alias_maps": "", "maillog_file": "",
        "virtual_mailbox_base": out,
        "virtual_mailbox_maps": "inline:{ v@v.test=v/ }",
        "virtual_uid_maps": "static:65534",
        "virtual_gid_maps": "static:65534"},
        services=[
            "local unix - n n - - local",
            "virtual unix - n n - - virtual",
            "mypipe unix - n n - - pipe user=nobody argv=%s ${queue_id}"
            % script,
        ])
    instance.start(foreground=True)
    assert wait_for(lambda: all(
        os.path.exists(instance.unix_path(s))
        for s in ("local", "virtual", "mypipe")), 10), instance.read_log()
    return out


def write_queue_file(instance, queue, qid, owner):
    folder = os.path.join(instance.queue, queue)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, qid)
    subprocess.run([QWRITE, path, "-f", "s@example.org",
                    "-r", "nosuchuser@mx.test.invalid"],
                   input=b"Subject: secret\n\nthe secret body\n",
                   check=True, timeout=10)
    os.chown(path, owner, -1)
    return path


def deliver(instance, service, qid, queue="active"):
    r = subprocess.run(
        [DSEND, "-q", queue, "-T", service, instance.unix_path(service),
         instance.queue, "mx.test.invalid", qid],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    fields = r.stdout.splitlines()[0].split("\t")
    return dict(action=fields[2], dsn=fields[3], reply=fields[7])


@pytest.mark.parametrize("service", ["local", "virtual", "mypipe"])
def test_delivery_agent_reads_only_mail_owned_files_in_active(
        instance, agents, service):
    r = run_cmd(["postelconf", "-c", instance.confdir, "-h", "mail_owner"])
    assert r.returncode == 0, r.stderr
    owner = pwd.getpwnam(r.stdout.strip()).pw_uid
    write_queue_file(instance, "active", QID_OK, owner)
    write_queue_file(instance, "incoming", QID_INCOMING, owner)
    write_queue_file(instance, "active", QID_FOREIGN,
                     pwd.getpwnam("nobody").pw_uid)

    # A queue qmgr never delivers from: refused before it is opened.
    st = deliver(instance, service, QID_INCOMING, queue="incoming")
    assert (st["action"], st["dsn"]) == ("deferred", "4.3.0"), st
    assert "bad queue name in delivery request" in st["reply"], st

    # A file in active/ that somebody else owns.
    st = deliver(instance, service, QID_FOREIGN)
    assert (st["action"], st["dsn"]) == ("deferred", "4.3.0"), st
    assert "not by the mail system owner" in st["reply"], st

    # An ID that walks out of active/ (the file exists there).
    st = deliver(instance, service, "../incoming/" + QID_INCOMING)
    assert st["action"] == "deferred", st
    assert "queue" in st["reply"], st

    # The control: the same request for a proper file is read.
    st = deliver(instance, service, QID_OK)
    assert "queue" not in st["reply"], st
    if service == "mypipe":
        assert st["action"] == "sent", st
        delivered = os.listdir(agents)
        assert delivered == [QID_OK], delivered
        with open(os.path.join(agents, QID_OK)) as f:
            assert "the secret body" in f.read()
