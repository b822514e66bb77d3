# postelcat(1): queue file display, lookup by queue ID, malformed files.
#
# SPDX-License-Identifier: ISC
import os
import random
import shutil
import subprocess

from conftest import bin_path, wait_for

SERVICES = [
    "pickup unix n - y 60 1 pickup",
    "cleanup unix n - y - 0 cleanup",
]
BODY = b"line one\r\n\r\n..and a dot line\r\n\ttab\x01\xff\r\n"


def postelcat(instance, *args):
    return subprocess.run([bin_path("postelcat"), "-c", instance.confdir]
                          + list(args), capture_output=True, timeout=30)


def queued(instance):
    instance.write_config(main={"myhostname": "host.example.com"},
                          services=SERVICES)
    instance.start(foreground=True)
    assert wait_for(lambda: os.path.exists(
        instance.unix_path("pickup", private=False)))
    r = subprocess.run([bin_path("sendmail"), "-C", instance.confdir, "-i",
                        "-f", "s@example.com", "r@example.com"],
                       input=b"Subject: cat\n\n" + BODY.replace(b"\r\n",
                                                                b"\n"),
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    incoming = os.path.join(instance.queue, "incoming")
    def ids():
        return [n for n in os.listdir(incoming) if "." not in n]
    assert wait_for(ids), instance.read_log()
    qid = ids()[0]
    return qid, os.path.join(incoming, qid)


def test_postelcat_q_prints_envelope_and_byte_exact_body(instance):
    qid, _ = queued(instance)
    r = postelcat(instance, "-q", qid)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode("utf-8", "replace")
    for banner in ("ENVELOPE RECORDS", "MESSAGE CONTENTS",
                   "HEADER EXTRACTED", "MESSAGE FILE END"):
        assert "*** %s %s ***\n" % (banner, qid) in out
    assert "sender: s@example.com\n" in out
    assert "recipient: r@example.com\n" in out
    assert "message_arrival_time: " in out
    assert "\nSubject: cat\n" in out and "\r" not in out.split("MESSAGE")[1]
    r = postelcat(instance, "-r", "-b", "-q", qid)
    assert r.stdout == BODY
    whole = postelcat(instance, "-r", "-q", qid).stdout
    assert whole.endswith(b"Subject: cat\r\n\r\n" + BODY) or \
        b"\r\n\r\n" + BODY in whole


def test_postelcat_sections(instance):
    qid, _ = queued(instance)
    head = postelcat(instance, "-h", "-q", qid).stdout.decode()
    assert "*** PRIMARY MESSAGE HEADER %s ***" % qid in head
    assert "Subject: cat" in head and "line one" not in head
    assert "ENVELOPE" not in head
    body = postelcat(instance, "-b", "-q", qid).stdout.decode("latin-1")
    assert "*** MESSAGE BODY %s ***" % qid in body
    assert "Subject" not in body and "..and a dot line\n" in body
    env = postelcat(instance, "-e", "-q", qid).stdout.decode()
    assert "sender: s@example.com" in env and "Subject" not in env


def test_postelcat_finds_ids_in_every_queue(instance):
    qid, path = queued(instance)
    instance.stop()
    for where in ("hold", "deferred/" + qid[9], "corrupt", "active"):
        folder = os.path.join(instance.queue, where)
        os.makedirs(folder, exist_ok=True)
        dest = os.path.join(folder, qid)
        shutil.move(path, dest)
        r = postelcat(instance, "-e", "-q", qid)
        assert r.returncode == 0, (where, r.stderr)
        assert b"sender: s@example.com" in r.stdout
        path = dest
    os.unlink(path)
    r = postelcat(instance, "-q", qid)
    assert r.returncode == 1 and b"no such message" in r.stderr
    r = postelcat(instance, "-q", "../../etc/passwd")
    assert r.returncode == 1 and b"not a queue ID" in r.stderr


def test_postelcat_reports_malformed_files_and_never_crashes(instance):
    qid, path = queued(instance)
    with open(path, "rb") as f:
        data = f.read()
    bad = os.path.join(instance.workdir, "bad")
    cases = [data[:len(data) // 2], data[:-1], data + b"E\x00",
             b"", b"S\x05hello", bytes([0x43]) + data[1:]]
    rng = random.Random(7)
    for _ in range(40):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        cases.append(bytes(mutated))
    for case in cases:
        with open(bad, "wb") as f:
            f.write(case)
        r = subprocess.run([bin_path("postelcat"), bad],
                           capture_output=True, timeout=10)
        assert r.returncode in (0, 1), (case, r.returncode, r.stderr)
        if r.returncode == 1:
            assert b"malformed queue file" in r.stderr
            assert r.stdout == b""
    with open(bad, "wb") as f:
        f.write(data[:len(data) // 2])
    r = subprocess.run([bin_path("postelcat"), bad], capture_output=True)
    assert r.returncode == 1
    assert b"bad: malformed queue file: offset" in r.stderr
    r = subprocess.run([bin_path("postelcat"), "/nonexistent"],
                       capture_output=True)
    assert r.returncode == 1 and b"/nonexistent" in r.stderr
