# pickup(8): maildrop/ -> cleanup -> incoming/, and what it refuses.
#
# SPDX-License-Identifier: ISC
import os
import socket
import subprocess

import pytest

from conftest import bin_path, wait_for

PICKUP = "pickup unix n - y 60 1 pickup"
CLEANUP = "cleanup unix n - y - 0 cleanup"


def configure(instance, services):
    instance.write_config(main={"myhostname": "host.example.com",
                                "mydomain": "example.com"},
                          services=services)
    instance.set_permissions()


def drop(instance, body=b"Subject: t\n\nhello\n", args=("u@example.com",)):
    r = subprocess.run([bin_path("sendmail"), "-C", instance.confdir]
                       + list(args), input=body, capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr


def listing(instance, queue):
    """Queue IDs in a folder (cleanup's temporary t<pid>.<n> files are
    left out, except in maildrop/ where the tests plant one)."""
    names = os.listdir(os.path.join(instance.queue, queue))
    return sorted(n for n in names if queue == "maildrop" or "." not in n)


def wake_pickup(instance):
    path = instance.unix_path("pickup", private=False)
    assert wait_for(lambda: os.path.exists(path))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(instance.unix_path("pickup", private=False))
    s.sendall(b"W")
    s.close()


def started(instance):
    instance.start(foreground=True)
    assert wait_for(lambda: os.path.exists(
        instance.unix_path("pickup", private=False)))


def test_pickup_queues_maildrop_file_and_logs_uid_and_sender(instance):
    configure(instance, [PICKUP, CLEANUP])
    started(instance)
    drop(instance, args=("-f", "alice", "u@example.com"))
    assert wait_for(lambda: listing(instance, "incoming")), instance.read_log()
    qid = listing(instance, "incoming")[0]
    assert wait_for(lambda: "postel/pickup: %s: uid=%d from=<alice>"
                    % (qid, os.getuid()) in instance.read_log()), \
        instance.read_log()
    assert wait_for(lambda: listing(instance, "maildrop") == [])


@pytest.mark.needs("root")
def test_pickup_sets_aside_and_logs_a_file_with_the_wrong_owner(instance):
    configure(instance, [PICKUP, CLEANUP])
    drop(instance, args=("-f", "mallory@example.com", "u@example.com"))
    name = listing(instance, "maildrop")[0]
    os.chown(os.path.join(instance.queue, "maildrop", name), 4242, -1)
    instance.start(foreground=True)
    wake_pickup(instance)
    assert wait_for(lambda: listing(instance, "corrupt") == [name]), \
        instance.read_log()
    log = instance.read_log()
    assert "uid=%d from=<mallory@example.com>" % os.getuid() in log
    assert "wrong owner (file uid=4242)" in log
    assert listing(instance, "maildrop") == []
    assert listing(instance, "incoming") == []


def test_pickup_sets_aside_malformed_and_linked_files(instance):
    configure(instance, [PICKUP, CLEANUP])
    drop(instance)
    good = listing(instance, "maildrop")[0]
    md = os.path.join(instance.queue, "maildrop")
    # A truncated copy under another valid queue ID.
    bad = good[:-1] + ("B" if good[-1] != "B" else "C")
    with open(os.path.join(md, good), "rb") as f:
        data = f.read()
    with open(os.path.join(md, bad), "wb") as f:
        f.write(data[:len(data) // 2])
    # A hard link to the good file: two names, never trusted.
    linked = good[:-1] + ("D" if good[-1] != "D" else "F")
    os.link(os.path.join(md, good), os.path.join(md, linked))
    instance.start(foreground=True)
    wake_pickup(instance)
    assert wait_for(lambda: bad in listing(instance, "corrupt")
                    and listing(instance, "maildrop") == []), \
        instance.read_log()
    log = instance.read_log()
    assert "malformed maildrop file" in log
    assert "links; moved to corrupt/" in log


def test_pickup_keeps_the_file_until_cleanup_has_queued_it(instance):
    # No cleanup service: pickup must leave the file where it is.
    configure(instance, [PICKUP])
    started(instance)
    drop(instance)
    assert wait_for(lambda: "will retry" in instance.read_log()), \
        instance.read_log()
    name = listing(instance, "maildrop")
    assert len(name) == 1 and listing(instance, "incoming") == []
    # With cleanup back, the next wake-up queues it and only then
    # removes the maildrop copy.
    instance.write_config(services=[PICKUP, CLEANUP])
    instance.reload()
    assert wait_for(lambda: os.path.exists(instance.unix_path("cleanup",
                                                              private=False)))
    wake_pickup(instance)
    assert wait_for(lambda: listing(instance, "maildrop") == []), \
        instance.read_log()
    assert len(listing(instance, "incoming")) == 1


def test_pickup_ignores_temporary_files(instance):
    configure(instance, [PICKUP, CLEANUP])
    tmp = os.path.join(instance.queue, "maildrop", "t123.456")
    with open(tmp, "wb") as f:
        f.write(b"half written")
    instance.start(foreground=True)
    wake_pickup(instance)
    drop(instance)
    assert wait_for(lambda: listing(instance, "incoming")), instance.read_log()
    # pickup removes its copy only after cleanup answered.
    assert wait_for(lambda: listing(instance, "maildrop") == ["t123.456"])
    assert listing(instance, "corrupt") == []


def test_pickup_returns_what_cleanup_rejects_for_good_to_the_sender(instance):
    # postdrop refuses what is over message_size_limit at submission:
    # lower the limit only after the mail is in maildrop/, as an admin
    # may while submissions wait there.
    configure(instance, [PICKUP, CLEANUP])
    drop(instance, body=b"Subject: big\n\n" + b"y" * 5000 + b"\n",
         args=("-f", "alice@example.org", "u@example.com"))
    drop(instance, body=b"Subject: small\n\nok\n")
    drop(instance, body=b"Subject: big too\n\n" + b"z" * 5000 + b"\n",
         args=("-f", "<>", "u@example.com"))
    instance.write_config(main={"message_size_limit": "3000"})
    started(instance)
    wake_pickup(instance)
    # The small one, and a notification for the big one from alice; the
    # one from <> is told to nobody.  Nothing is set aside.
    assert wait_for(lambda: len(listing(instance, "incoming")) == 2
                    and listing(instance, "maildrop") == []), \
        instance.read_log()
    assert listing(instance, "corrupt") == []
    log = instance.read_log()
    assert "rejected: 552 5.3.4" in log and "not returned to the null sender" in log
    envs = [subprocess.run([bin_path("postelcat"), "-c", instance.confdir,
                            "-e", "-q", q], capture_output=True, text=True,
                           timeout=30).stdout
            for q in listing(instance, "incoming")]
    [dsn_env] = [e for e in envs if "recipient: alice@example.org\n" in e]
    assert "sender: \n" in dsn_env
    [qid] = [q for q, e in zip(listing(instance, "incoming"), envs) if e == dsn_env]
    body = subprocess.run([bin_path("postelcat"), "-c", instance.confdir, "-r",
                           "-q", qid], capture_output=True, timeout=30).stdout
    assert b"report-type=delivery-status" in body
    assert b"Final-Recipient: rfc822; u@example.com" in body
    assert b"Status: 5.3.4" in body and b"Action: failed" in body
