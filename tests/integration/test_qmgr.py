"""qmgr: scheduling, retries, concurrency limits and the crash contract.

Messages are written straight into the queue in the util/rec layout
(docs/QUEUE.md) by write_queue_file(), exactly as cleanup commits them,
and qmgr is woken through public/qmgr.  Deliveries go to
tests/services/fake_transport, which replies per recipient from a script
and records every delivery (times, pid, next hop) in a results file.

SPDX-License-Identifier: ISC
"""
import os
import pwd
import signal
import socket
import time

import pytest

from conftest import proc_alive, service_path, wait_for

ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"


def _digits(value, base, width=None):
    out = ""
    while value:
        out = ALPHABET[value % base] + out
        value //= base
    out = out or "0"
    if width:
        out = out.rjust(width, "0")
    return out


def make_qid(sec, usec, ino):
    return _digits(sec, 52, 6) + _digits(usec, 52, 4) + "z" + _digits(ino, 51)


def _rec(rtype, payload):
    n = len(payload)
    length = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            length.append(b | 0x80)
        else:
            length.append(b)
            break
    return rtype.encode() + bytes(length) + payload


_seq = [0]


def write_queue_file(queue, sender, rcpts, body=b"Subject: test\r\n\r\nhello\r\n",
                     done=(), notify=None, arrival=None):
    """Commit a queue file to incoming/ as cleanup does; returns its ID."""
    now = time.time() if arrival is None else arrival
    sec, usec = int(now), int((now - int(now)) * 1e6)
    env = [_rec("T", b"%d %d" % (sec, usec)), _rec("F", sender.encode()),
           _rec("A", b"rewrite_context=remote")]
    for r in rcpts:
        env.append(_rec("O", r.encode()))
        if notify:
            env.append(_rec("N", str(notify).encode()))
        env.append(_rec("D" if r in done else "R", r.encode()))
    size_len = len(_rec("S", b"0" * 63))
    content_offset = size_len + sum(len(x) for x in env)
    content = _rec("M", b"") + _rec("C", body)
    extract_offset = content_offset + len(content)
    size = b" ".join(b"%015d" % v for v in
                     (content_offset, extract_offset, len(body), len(rcpts)))
    data = _rec("S", size) + b"".join(env) + content + _rec("X", b"") + _rec("E", b"")
    _seq[0] += 1
    tmp = os.path.join(queue, "incoming", "t%d.%d" % (os.getpid(), _seq[0]))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data)
    os.fsync(fd)
    ino = os.fstat(fd).st_ino
    os.close(fd)
    st = os.stat(os.path.join(queue, "incoming"))
    os.chown(tmp, st.st_uid, st.st_gid)
    qid = make_qid(sec, usec, ino)
    os.rename(tmp, os.path.join(queue, "incoming", qid))
    return qid


def trigger(inst, data=b"I"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(inst.unix_path("qmgr", private=False))
    s.sendall(data)
    s.close()


def read_results(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 9:
                    rows.append({"start": int(p[0]), "end": int(p[1]),
                                 "pid": int(p[2]), "qid": p[3],
                                 "transport": p[4], "nexthop": p[5],
                                 "rcpt": p[6], "action": p[7],
                                 "seq": int(p[8])})
    except FileNotFoundError:
        pass
    return rows


def queue_ids(queue, folder):
    out = []
    base = os.path.join(queue, folder)
    for root, _dirs, files in os.walk(base):
        out.extend(f for f in files if not f.startswith("t"))
    return out


def max_overlap(rows):
    """Largest number of deliveries (distinct pid+start) in flight at once."""
    sessions = {(r["pid"], r["start"]): (r["start"], r["end"]) for r in rows}
    events = []
    for start, end in sessions.values():
        events.append((start, 1))
        events.append((end, -1))
    cur = best = 0
    for _t, d in sorted(events, key=lambda e: (e[0], e[1])):
        cur += d
        best = max(best, cur)
    return best


@pytest.fixture
def qmgr_instance(instance, workdir):
    """An instance with qmgr and fake transports smtp, relay and fake2."""
    script = os.path.join(workdir, "script")
    results = os.path.join(workdir, "results")
    with open(script, "w") as f:
        f.write("# all sent\n")
    os.chmod(script, 0o644)
    fake = service_path("fake_transport")
    instance.script = script
    instance.results = results
    instance.write_config(
        main={"minimal_backoff_time": "300s", "maximal_backoff_time": "4000s",
              "queue_run_delay": "300s", "myhostname": "mx.test.invalid",
              "mydestination": "", "maillog_file": ""},
        services=[
            "qmgr unix n - n 300 1 qmgr",
            "smtp unix - - n - - %s %s %s" % (fake, script, results),
            "relay unix - - n - - %s %s %s" % (fake, script, results),
            "fake2 unix - - n - - %s %s %s" % (fake, script, results),
        ])
    yield instance
    # With make SAN=1 the daemons' sanitizer reports land in the log.
    log = instance.read_log()
    assert "AddressSanitizer" not in log and "runtime error:" not in log, log


def set_script(inst, text):
    tmp = inst.script + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, inst.script)


def start(inst):
    inst.start(foreground=True)


def test_qmgr_delivers_and_removes(qmgr_instance):
    inst = qmgr_instance
    start(inst)
    ids = [write_queue_file(inst.queue, "a@example.org",
                            ["x%d@example.com" % i, "y%d@example.net" % i])
           for i in range(3)]
    trigger(inst)
    assert wait_for(lambda: len(read_results(inst.results)) >= 6, 15), inst.read_log()
    assert wait_for(lambda: not queue_ids(inst.queue, "incoming")
                    and not queue_ids(inst.queue, "active"), 10)
    rows = read_results(inst.results)
    assert sorted(r["rcpt"] for r in rows) == sorted(
        ["x%d@example.com" % i for i in range(3)] + ["y%d@example.net" % i for i in range(3)])
    assert {r["nexthop"] for r in rows} == {"example.com", "example.net"}
    assert all(r["transport"] == "smtp" for r in rows)
    assert wait_for(lambda: all("%s: removed" % q in inst.read_log() for q in ids), 5)
    log = inst.read_log()
    for q in ids:
        assert "%s: from=<a@example.org>, size=" % q in log
        assert "nrcpt=2 (queue active)" in log


def test_qmgr_skips_done_recipients(qmgr_instance):
    inst = qmgr_instance
    start(inst)
    write_queue_file(inst.queue, "a@example.org",
                     ["done@example.com", "todo@example.com"],
                     done=("done@example.com",))
    trigger(inst)
    assert wait_for(lambda: not queue_ids(inst.queue, "incoming")
                    and not queue_ids(inst.queue, "active"), 10), inst.read_log()
    assert [r["rcpt"] for r in read_results(inst.results)] == ["todo@example.com"]


def test_qmgr_defers_with_backoff_then_flush_delivers(qmgr_instance):
    inst = qmgr_instance
    set_script(inst, "* deferred 4.2.0 451 4.2.0 try again later\n")
    start(inst)
    qid = write_queue_file(inst.queue, "a@example.org", ["u@example.com"])
    before = time.time()
    trigger(inst)
    deferred = os.path.join(inst.queue, "deferred", qid[9], qid)
    assert wait_for(lambda: os.path.exists(deferred), 10), inst.read_log()
    st = os.stat(deferred)
    # next attempt = now + minimal_backoff_time (the age is below it)
    assert before + 290 <= st.st_mtime <= time.time() + 310
    assert not queue_ids(inst.queue, "active")
    # An ordinary deferred scan leaves it alone: its time has not come.
    # qmgr reads its triggers in order, so once a message queued after
    # the 'D' is done, that scan is over.
    trigger(inst, b"D")
    barrier = write_queue_file(inst.queue, "a@example.org",
                               ["barrier@example.com"])
    trigger(inst)
    assert wait_for(lambda: os.path.exists(os.path.join(
        inst.queue, "deferred", barrier[9], barrier)), 10), inst.read_log()
    assert os.path.exists(deferred)
    assert [r["rcpt"] for r in read_results(inst.results)] == \
        ["u@example.com", "barrier@example.com"]
    # postelqueue -f: 'A' (all, ignoring the retry time) and 'F'.
    set_script(inst, "")
    trigger(inst, b"FA")
    assert wait_for(lambda: "%s: removed" % qid in inst.read_log(), 10), inst.read_log()
    rows = [r for r in read_results(inst.results)
            if r["rcpt"] == "u@example.com"]
    assert [r["action"] for r in rows] == ["deferred", "sent"]
    assert not os.path.exists(deferred)


def test_qmgr_deferred_retry_when_due(qmgr_instance):
    inst = qmgr_instance
    inst.write_config(main={"minimal_backoff_time": "1s",
                            "maximal_backoff_time": "1s",
                            "queue_run_delay": "1s"})
    set_script(inst, "* deferred 4.2.0 451 later\n")
    start(inst)
    qid = write_queue_file(inst.queue, "a@example.org", ["u@example.com"])
    trigger(inst)
    assert wait_for(lambda: len(read_results(inst.results)) >= 1, 10)
    set_script(inst, "")
    # the queue_run_delay timer takes it again after the backoff
    assert wait_for(lambda: "%s: removed" % qid in inst.read_log(), 15), inst.read_log()
    assert [r["action"] for r in read_results(inst.results)][-1] == "sent"


def test_qmgr_destination_concurrency_never_exceeded(qmgr_instance):
    inst = qmgr_instance
    inst.write_config(main={"smtp_destination_concurrency_limit": "2",
                            "initial_destination_concurrency": "5"})
    set_script(inst, "delay 300\n")
    start(inst)
    for i in range(8):
        write_queue_file(inst.queue, "a@example.org", ["u%d@slow.example" % i])
    for i in range(4):
        write_queue_file(inst.queue, "a@example.org", ["v%d@other.example" % i])
    trigger(inst)
    assert wait_for(lambda: len(read_results(inst.results)) >= 12, 20), inst.read_log()
    rows = read_results(inst.results)
    slow = [r for r in rows if r["nexthop"] == "slow.example"]
    other = [r for r in rows if r["nexthop"] == "other.example"]
    assert max_overlap(slow) == 2
    assert max_overlap(other) <= 2
    # the connection of a finished delivery carried the next request
    assert max(r["seq"] for r in slow) > 1
    # fairness: the other destination did not wait for all of slow.example
    assert min(r["start"] for r in other) < max(r["start"] for r in slow)


def test_qmgr_recipient_limit_groups_recipients(qmgr_instance):
    inst = qmgr_instance
    inst.write_config(main={"smtp_destination_recipient_limit": "2"})
    set_script(inst, "delay 30\n")    # distinct start times per request
    start(inst)
    write_queue_file(inst.queue, "a@example.org",
                     ["r%d@example.com" % i for i in range(5)])
    trigger(inst)
    assert wait_for(lambda: len(read_results(inst.results)) >= 5, 10), inst.read_log()
    rows = read_results(inst.results)
    sessions = {}
    for r in rows:
        sessions.setdefault((r["pid"], r["start"]), []).append(r["rcpt"])
    assert sorted(len(v) for v in sessions.values()) == [1, 2, 2]


def test_qmgr_transport_maps_and_relayhost(qmgr_instance):
    inst = qmgr_instance
    inst.write_config(main={
        "transport_maps": "inline:{ special.example=fake2:[127.0.0.9]:2525, "
                          "user@plain.example=relay: }",
        "relayhost": "[127.0.0.7]:2526",
        "relay_domains": "relayed.example"})
    start(inst)
    write_queue_file(inst.queue, "a@example.org",
                     ["a@special.example", "b@sub.relayed.example",
                      "c@elsewhere.example", "user@plain.example"])
    trigger(inst)
    assert wait_for(lambda: len(read_results(inst.results)) >= 4, 10), inst.read_log()
    got = {r["rcpt"]: (r["transport"], r["nexthop"]) for r in read_results(inst.results)}
    assert got["a@special.example"] == ("fake2", "[127.0.0.9]:2525")
    assert got["b@sub.relayed.example"] == ("relay", "[127.0.0.7]:2526")
    assert got["c@elsewhere.example"] == ("smtp", "[127.0.0.7]:2526")
    assert got["user@plain.example"] == ("relay", "[127.0.0.7]:2526")


def test_qmgr_missing_transport_defers(qmgr_instance):
    inst = qmgr_instance
    inst.write_config(main={"default_transport": "nosuch"})
    start(inst)
    qid = write_queue_file(inst.queue, "a@example.org", ["u@example.com"])
    trigger(inst)
    deferred = os.path.join(inst.queue, "deferred", qid[9], qid)
    assert wait_for(lambda: os.path.exists(deferred), 10), inst.read_log()
    log = inst.read_log()
    assert "status=deferred (mail transport nosuch unavailable" in log
    assert "transport nosuch unavailable for 60s" in log


def test_qmgr_corrupt_file_moves_to_corrupt(qmgr_instance):
    inst = qmgr_instance
    start(inst)
    qid = make_qid(int(time.time()), 1, 12345)
    path = os.path.join(inst.queue, "incoming", qid)
    with open(path, "wb") as f:
        f.write(b"garbage")
    st = os.stat(os.path.join(inst.queue, "incoming"))
    os.chown(path, st.st_uid, st.st_gid)
    trigger(inst)
    assert wait_for(lambda: os.path.exists(os.path.join(inst.queue, "corrupt", qid)), 10), \
        inst.read_log()


def test_qmgr_kill9_during_delivery_loses_nothing(qmgr_instance):
    """kill -9 qmgr while deliveries are in flight: active/ files go back
    to incoming/ at the next start and every recipient is delivered."""
    inst = qmgr_instance
    set_script(inst, "delay 400\n")
    start(inst)
    rcpts = []
    for i in range(30):
        r = "k%d@d%d.example" % (i, i % 3)
        rcpts.append(r)
        write_queue_file(inst.queue, "a@example.org", [r])
    trigger(inst)
    assert wait_for(lambda: queue_ids(inst.queue, "active"), 10)
    pids = [p for p in inst.children()
            if open("/proc/%d/comm" % p).read().strip() == "qmgr"]
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)
    assert wait_for(lambda: not proc_alive(pids[0]))
    assert queue_ids(inst.queue, "active"), "nothing was in flight"
    set_script(inst, "")
    # master starts a new qmgr on the next trigger; it recovers active/
    assert wait_for(lambda: (trigger(inst) or True) and
                    not queue_ids(inst.queue, "active")
                    and not queue_ids(inst.queue, "incoming")
                    and not queue_ids(inst.queue, "deferred"), 30, 0.5), inst.read_log()
    delivered = [r["rcpt"] for r in read_results(inst.results) if r["action"] == "sent"]
    assert set(delivered) == set(rcpts)


@pytest.fixture
def bounce_instance(qmgr_instance):
    """qmgr_instance plus cleanup and the bounce/defer/trace services."""
    inst = qmgr_instance
    inst.write_config(services=inst.services + [
        "cleanup unix n - n - 0 cleanup",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
    ])
    yield inst


def test_qmgr_bounce_returns_dsn_to_sender(bounce_instance):
    inst = bounce_instance
    set_script(inst, "bad@ bounced 5.1.1 550 5.1.1 no such user\n")
    start(inst)
    qid = write_queue_file(inst.queue, "sender@example.org",
                           ["bad@example.com", "good@example.com"])
    trigger(inst)
    assert wait_for(lambda: "%s: removed" % qid in inst.read_log(), 15), inst.read_log()
    # The DSN is a new message from <> delivered to the sender.
    assert wait_for(lambda: any(r["rcpt"] == "sender@example.org"
                                for r in read_results(inst.results)), 15), inst.read_log()
    rows = read_results(inst.results)
    assert sorted((r["rcpt"], r["action"]) for r in rows if r["qid"] == qid) == \
        [("bad@example.com", "bounced"), ("good@example.com", "sent")]
    assert wait_for(lambda: "from=<>" in inst.read_log(), 15), \
        inst.read_log()


def test_qmgr_expires_after_maximal_queue_lifetime(bounce_instance):
    inst = bounce_instance
    inst.write_config(main={"maximal_queue_lifetime": "0"})
    set_script(inst, "slow@ deferred 4.4.1 connect to x: Connection refused\n")
    start(inst)
    qid = write_queue_file(inst.queue, "sender@example.org", ["slow@example.com"])
    trigger(inst)
    assert wait_for(lambda: "%s: removed" % qid in inst.read_log(), 15), inst.read_log()
    log = inst.read_log()
    assert "%s: from=<sender@example.org>, status=expired, returned to sender" % qid in log
    assert wait_for(lambda: any(r["rcpt"] == "sender@example.org"
                                for r in read_results(inst.results)), 15), inst.read_log()


def postelsuper(inst, *args, input=None):
    from conftest import run_cmd
    return run_cmd(["postelsuper", "-c", inst.confdir] + list(args), input=input)


def _deferred_message(inst):
    set_script(inst, "* deferred 4.2.0 451 later\n")
    start(inst)
    qid = write_queue_file(inst.queue, "a@example.org", ["u@example.com"])
    trigger(inst)
    deferred = os.path.join(inst.queue, "deferred", qid[9], qid)
    assert wait_for(lambda: os.path.exists(deferred), 10), inst.read_log()
    return qid, deferred


def test_postelsuper_hold_and_release(qmgr_instance):
    inst = qmgr_instance
    qid, deferred = _deferred_message(inst)
    r = postelsuper(inst, "-h", qid)
    assert r.returncode == 0, r.stderr
    assert "Placed on hold: 1 message" in r.stderr
    held = os.path.join(inst.queue, "hold", qid)
    assert os.path.exists(held) and not os.path.exists(deferred)
    set_script(inst, "")
    trigger(inst, b"FA")          # a flush does not touch hold/
    # Triggers are read in order: once a message queued after the flush
    # is delivered, the flush is over.
    barrier = write_queue_file(inst.queue, "a@example.org",
                               ["barrier@example.com"])
    trigger(inst)
    assert wait_for(lambda: "%s: removed" % barrier in inst.read_log(),
                    10), inst.read_log()
    assert os.path.exists(held)
    assert [r["rcpt"] for r in read_results(inst.results)] == \
        ["u@example.com", "barrier@example.com"]
    r = postelsuper(inst, "-H", "ALL")
    assert r.returncode == 0, r.stderr
    assert "Released from hold: 1 message" in r.stderr
    assert wait_for(lambda: "%s: removed" % qid in inst.read_log(), 10), inst.read_log()
    assert [r["action"] for r in read_results(inst.results)
            if r["rcpt"] == "u@example.com"] == ["deferred", "sent"]


def test_postelsuper_delete_from_stdin(qmgr_instance):
    inst = qmgr_instance
    qid, deferred = _deferred_message(inst)
    r = postelsuper(inst, "-d", "-", input=qid + "\n")
    assert r.returncode == 0, r.stderr
    assert "Deleted: 1 message" in r.stderr
    assert not os.path.exists(deferred)
    assert not os.path.exists(os.path.join(inst.queue, "defer", qid[9], qid))
    r = postelsuper(inst, "-d", qid)
    assert "no such message" in r.stderr


def test_postelsuper_requeue_delivers(qmgr_instance):
    inst = qmgr_instance
    qid, deferred = _deferred_message(inst)
    set_script(inst, "")
    r = postelsuper(inst, "-r", "ALL", "deferred")
    assert r.returncode == 0, r.stderr
    assert "Requeued: 1 message" in r.stderr
    assert wait_for(lambda: "%s: removed" % qid in inst.read_log(), 10), inst.read_log()


def test_postelsuper_structure_check_moves_corrupt(qmgr_instance):
    inst = qmgr_instance
    os.makedirs(os.path.join(inst.queue, "hold"), exist_ok=True)
    start(inst)
    qid = make_qid(int(time.time()), 7, 4242)
    with open(os.path.join(inst.queue, "hold", qid), "wb") as f:
        f.write(b"S\x05junk!")
    r = postelsuper(inst, "-s")
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(inst.queue, "corrupt", qid))
    assert "Moved to corrupt: 1 message" in r.stderr


def test_qmgr_dead_destination_cools_off(qmgr_instance):
    inst = qmgr_instance
    inst.write_config(main={"smtp_destination_concurrency_limit": "2",
                            "initial_destination_concurrency": "2"})
    set_script(inst, "relay none\ndelay 200\n"
                     "dead.example deferred 4.4.1 connect to dead.example: refused\n")
    start(inst)
    ids = [write_queue_file(inst.queue, "a@example.org", ["u%d@dead.example" % i])
           for i in range(10)]
    ok = write_queue_file(inst.queue, "a@example.org", ["u@alive.example"])
    trigger(inst)
    assert wait_for(lambda: len(queue_ids(inst.queue, "deferred")) == 10, 15), inst.read_log()
    assert wait_for(lambda: "%s: removed" % ok in inst.read_log(), 15), \
        inst.read_log()
    tried = [r for r in read_results(inst.results) if r["nexthop"] == "dead.example"]
    # one window of failures kills it: the rest are deferred unseen
    assert 2 <= len(tried) <= 4
    log = inst.read_log()
    assert "destination smtp/dead.example is dead" in log
    assert "status=deferred (delivery temporarily suspended: connect to dead.example: refused)" in log
    # postelqueue -f: forget dead destinations and retry everything
    set_script(inst, "")
    trigger(inst, b"FA")
    assert wait_for(lambda: all("%s: removed" % q in inst.read_log() for q in ids), 15), \
        inst.read_log()


def test_qmgr_delay_warning_sent_once(bounce_instance):
    inst = bounce_instance
    inst.write_config(main={"delay_warning_time": "5s"})
    set_script(inst, "slow@ deferred 4.2.0 451 4.2.0 later\n")
    start(inst)
    qid = write_queue_file(inst.queue, "sender@example.org", ["slow@example.com"],
                           arrival=time.time() - 60)
    trigger(inst)

    def warnings():
        return [r for r in read_results(inst.results) if r["rcpt"] == "sender@example.org"]
    assert wait_for(lambda: len(warnings()) == 1, 15), inst.read_log()
    deferred = os.path.join(inst.queue, "deferred", qid[9], qid)
    assert wait_for(lambda: os.path.exists(deferred), 10)
    # a second failed attempt: no second warning
    trigger(inst, b"A")
    assert wait_for(lambda: len([r for r in read_results(inst.results)
                                 if r["rcpt"] == "slow@example.com"]) == 2, 10)
    assert wait_for(lambda: os.path.exists(deferred), 10)
    # Proves an absence: no second warning arrives in this time.
    time.sleep(1)
    assert len(warnings()) == 1
