"""Queue selectors of postelqueue -p/-j and postelsuper, postelsuper -n,
-e, -f and -p, against a generated queue of 10,000 messages with qmgr
running.

The messages are written by queuegen (deferred/ with a retry time far in
the future, every tenth in hold/), so qmgr takes none of them until a
command makes one due; domains, senders, ages and delay reasons follow a
fixed pattern and the expected selection is computed here from that
pattern, independently of the C code.

SPDX-License-Identifier: ISC
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import Instance, bin_path, run_cmd, service_path, wait_for
from queuefile import QueueFile
from queuegen import QueueGen, list_queue, snapshot

N = 10000
DOMAINS = ["alpha.example", "beta.example", "gamma.example",
           "sub.delta.example", "delta.example"]
SENDERS = ["news@lists.example", "alice@corp.example", "bob@corp.example",
           "", "Carol@Other.example"]
AGES = [30 * 60, 3 * 3600, 2 * 86400, 10 * 86400]
REASONS = [None,
           "connect to mx.alpha.example[192.0.2.1]:25: Connection refused",
           "conversation with mx.beta.example timed out while receiving "
           "the initial server greeting",
           "host mx.gamma.example said: 452 4.2.2 Mailbox full"]


def message_spec(i):
    rcpts = ["u%d@%s" % (i, DOMAINS[i % 5])]
    if i % 7 == 0:
        rcpts.append("w%d@%s" % (i, DOMAINS[(i + 2) % 5].upper()))
    return {"folder": "hold" if i % 10 == 9 else "deferred",
            "sender": SENDERS[(i // 5) % 5], "rcpts": rcpts,
            "age": AGES[(i // 25) % 4], "reason": REASONS[(i // 100) % 4]}


def postelqueue(inst, *args):
    return run_cmd(["postelqueue", "-c", inst.confdir] + list(args),
                   timeout=120)


def postelsuper(inst, *args, input=None):
    return run_cmd(["postelsuper", "-c", inst.confdir] + list(args),
                   input=input, timeout=120)


def json_ids(inst, *sel):
    r = postelqueue(inst, "-j", *sel)
    assert r.returncode == 0, r.stderr
    return {json.loads(line)["queue_id"] for line in r.stdout.splitlines()}


# -- the independent model of each selector ---------------------------------

def dom(addr):
    return addr.rpartition("@")[2].lower()


def sel_domain(d):
    d = d.lower()
    if d.startswith("."):
        return lambda m: any(dom(r).endswith(d) for r in m["rcpts"])
    return lambda m: any(dom(r) == d for r in m["rcpts"])


def sel_sender(s):
    s = s.lower()
    if s in ("<>", ""):
        return lambda m: m["sender"] == ""
    if s.startswith("@"):
        return lambda m: "@" in m["sender"] and dom(m["sender"]) == s[1:]
    return lambda m: m["sender"].lower() == s


def sel_older(secs):
    return lambda m: m["age"] > secs


def sel_younger(secs):
    return lambda m: m["age"] < secs


def sel_reason(regex):
    rx = re.compile(regex, re.I)
    return lambda m: m["reason"] is not None and rx.search(m["reason"])


CASES = [
    (["--recipient-domain", "beta.example"], [sel_domain("beta.example")]),
    (["--recipient-domain", ".delta.example"], [sel_domain(".delta.example")]),
    (["--recipient-domain", "DELTA.example"], [sel_domain("delta.example")]),
    (["--sender", "@corp.example"], [sel_sender("@corp.example")]),
    (["--sender", "carol@other.example"], [sel_sender("carol@other.example")]),
    (["--sender", "<>"], [sel_sender("<>")]),
    (["--older-than", "1d"], [sel_older(86400)]),
    (["--younger-than", "1h"], [sel_younger(3600)]),
    (["--older-than", "2h", "--younger-than", "1w"],
     [sel_older(7200), sel_younger(7 * 86400)]),
    (["--reason", "connection REFUSED"], [sel_reason("connection refused")]),
    (["--reason", "timed out|mailbox"], [sel_reason("timed out|mailbox")]),
    (["--recipient-domain", "alpha.example", "--sender", "@corp.example",
      "--older-than", "2h", "--younger-than", "5d", "--reason",
      "refused|timed out"],
     [sel_domain("alpha.example"), sel_sender("@corp.example"),
      sel_older(7200), sel_younger(5 * 86400),
      sel_reason("refused|timed out")]),
]


@pytest.fixture(scope="module")
def queue10k():
    """A started instance (qmgr, fake transports, bounce services) with
    N generated messages; yields (inst, {qid: spec})."""
    # Not under pytest's 0700 tmp: mail_owner reads the script.
    workdir = tempfile.mkdtemp(prefix="postel-select-")
    os.chmod(workdir, 0o755)
    inst = Instance(workdir)
    script = os.path.join(workdir, "script")
    results = os.path.join(workdir, "results")
    with open(script, "w") as f:
        # DSNs (to the senders) stay queued so the tests can read them.
        f.write("@corp.example deferred 4.2.0 451 later\n")
    os.chmod(script, 0o644)
    fake = service_path("fake_transport")
    inst.results = results
    inst.write_config(
        main={"queue_run_delay": "3600s", "minimal_backoff_time": "3600s",
              "maximal_backoff_time": "4000s", "myhostname": "mx.test.invalid",
              "mydestination": "", "maillog_file": "",
              "inet_interfaces": "127.0.4.1"},
        services=["qmgr unix n - n 300 1 qmgr",
                  "smtp unix - - n - - %s %s %s" % (fake, script, results),
                  "cleanup unix n - n - 0 cleanup",
                  "bounce unix - - n - 0 bounce",
                  "defer unix - - n - 0 bounce",
                  "trace unix - - n - 0 bounce"])
    try:
        inst.start(foreground=True)
        gen = QueueGen(inst.queue)
        now = time.time()
        msgs = {}
        for i in range(N):
            m = message_spec(i)
            qid = gen.add(m["folder"], m["sender"], m["rcpts"],
                          now - m["age"], reason=m["reason"])
            msgs[qid] = m
        # qmgr is up and idle: wake it so it scans (and must leave them).
        r = postelqueue(inst, "-i", next(q for q, m in msgs.items()
                                         if m["folder"] == "deferred"))
        assert r.returncode == 0, r.stderr
        yield inst, msgs
        log = inst.read_log()
        assert "AddressSanitizer" not in log and "runtime error:" not in log
    finally:
        inst.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


def expected(msgs, preds, folders=("deferred", "hold")):
    return {q for q, m in msgs.items()
            if m["folder"] in folders and all(p(m) for p in preds)}


def test_generated_queue_is_in_place(queue10k):
    inst, msgs = queue10k
    # The one made due above went through qmgr: delivered to the fake
    # transport and removed.  Take it out of the model.
    due = next(q for q, m in msgs.items() if m["folder"] == "deferred")
    assert wait_for(lambda: "%s: removed" % due in inst.read_log(), 20), \
        inst.read_log()[-3000:]
    del msgs[due]
    assert list_queue(inst.queue, "deferred") == expected(msgs, [], ("deferred",))
    assert list_queue(inst.queue, "hold") == expected(msgs, [], ("hold",))
    assert len(msgs) == N - 1


@pytest.mark.parametrize("args,preds", CASES,
                         ids=[" ".join(c[0]) for c in CASES])
def test_selector_picks_exact_set(queue10k, args, preds):
    inst, msgs = queue10k
    want = expected(msgs, preds)
    assert want, "a case that selects nothing proves little"
    assert want != set(msgs)
    before = snapshot(inst.queue)
    assert json_ids(inst, *args) == want
    # postelqueue -p lists the same messages
    r = postelqueue(inst, "-p", *args)
    assert r.returncode == 0, r.stderr
    listed = {line.split()[0].rstrip("*!") for line in r.stdout.splitlines()
              if re.match(r"^[0-9A-Za-z]+[ *!]", line)
              and not line.startswith("-")}
    assert listed == want
    assert r.stdout.rstrip().endswith("in %d Request%s." %
                                      (len(want), "" if len(want) == 1 else "s"))
    # -n: the would-be set on stdout, and nothing changed
    r = postelsuper(inst, "-n", "-d", "ALL", *args)
    assert r.returncode == 0, r.stderr
    assert set(r.stdout.split()) == want
    assert "Would delete: %d message" % len(want) in r.stderr
    r = postelsuper(inst, "-n", "-h", "ALL", *args)
    assert r.returncode == 0, r.stderr
    # hold/ is not a source of -h
    assert set(r.stdout.split()) == expected(msgs, preds, ("deferred",))
    assert snapshot(inst.queue) == before


def test_selector_errors_are_usage_errors(queue10k):
    inst, _ = queue10k
    for args in (["--older-than", "3y"], ["--reason", "("],
                 ["--sender", "@"], ["--recipient-domain", "a@b"],
                 ["--older-than", "1h", "--older-than", "2h"]):
        r = postelqueue(inst, "-p", *args)
        assert r.returncode == 64, (args, r.stderr)
        r = postelsuper(inst, "-n", "-d", "ALL", *args)
        assert r.returncode == 64, (args, r.stderr)
    r = postelqueue(inst, "-f", "--sender", "a@b")
    assert r.returncode == 64 and "with -p or -j" in r.stderr
    r = postelsuper(inst, "-p", "--sender", "a@b")
    assert r.returncode == 64


def unchanged_except(before, after, touched):
    """Every file not belonging to a touched queue ID is as it was."""
    def keep(snap):
        return {k: v for k, v in snap.items()
                if os.path.basename(k) not in touched}
    return keep(before) == keep(after)


def test_hold_acts_on_exact_set(queue10k):
    inst, msgs = queue10k
    sel = ["--sender", "@corp.example", "--reason", "mailbox full"]
    preds = [sel_sender("@corp.example"), sel_reason("mailbox full")]
    want = expected(msgs, preds, ("deferred",))
    before = snapshot(inst.queue)
    r = postelsuper(inst, "-h", "ALL", *sel, "deferred")
    assert r.returncode == 0, r.stderr
    assert "Placed on hold: %d messages" % len(want) in r.stderr
    for q in want:
        msgs[q]["folder"] = "hold"
    assert list_queue(inst.queue, "hold") == expected(msgs, [], ("hold",))
    assert list_queue(inst.queue, "deferred") == expected(msgs, [], ("deferred",))
    assert unchanged_except(before, snapshot(inst.queue), want)


def test_delete_acts_on_exact_set(queue10k):
    inst, msgs = queue10k
    sel = ["--recipient-domain", "gamma.example", "--younger-than", "1h",
           "--reason", "refused"]
    want = expected(msgs, [sel_domain("gamma.example"), sel_younger(3600),
                           sel_reason("refused")])
    before = snapshot(inst.queue)
    r = postelsuper(inst, "-d", "ALL", *sel)
    assert r.returncode == 0, r.stderr
    assert "Deleted: %d messages" % len(want) in r.stderr
    for q in want:
        del msgs[q]
        assert not os.path.exists(os.path.join(inst.queue, "defer", q[9], q))
    assert list_queue(inst.queue, "hold") == expected(msgs, [], ("hold",))
    assert list_queue(inst.queue, "deferred") == expected(msgs, [], ("deferred",))
    assert unchanged_except(before, snapshot(inst.queue), want)


def delivered(inst, qids):
    log = inst.read_log()
    return all("%s: removed" % q in log for q in qids)


def test_release_and_requeue_act_on_exact_set(queue10k):
    inst, msgs = queue10k
    # -H: held mail from carol to beta.example, older than a day
    sel = ["--sender", "carol@other.example", "--recipient-domain",
           "beta.example", "--older-than", "1d"]
    want_h = expected(msgs, [sel_sender("carol@other.example"),
                             sel_domain("beta.example"), sel_older(86400)],
                      ("hold",))
    # -r: deferred bounces (<>) to alpha.example younger than 4 hours
    sel_r = ["--sender", "<>", "--recipient-domain", "alpha.example",
             "--younger-than", "4h"]
    want_r = expected(msgs, [sel_sender("<>"), sel_domain("alpha.example"),
                             sel_younger(4 * 3600)], ("deferred",))
    assert want_h and want_r
    before = snapshot(inst.queue)
    r = postelsuper(inst, "-H", "ALL", *sel)
    assert r.returncode == 0, r.stderr
    assert "Released from hold: %d messages" % len(want_h) in r.stderr
    r = postelsuper(inst, "-r", "ALL", *sel_r)
    assert r.returncode == 0, r.stderr
    assert "Requeued: %d messages" % len(want_r) in r.stderr
    # qmgr delivers exactly those (the fake transport sends them)
    assert wait_for(lambda: delivered(inst, want_h | want_r), 60), \
        inst.read_log()[-3000:]
    sent = {(line.split()[3], line.split()[6]) for line in open(inst.results)
            if line.split()[7] == "sent"}
    for q in want_h | want_r:
        assert {(q, rcpt) for rcpt in msgs[q]["rcpts"]} <= sent
        del msgs[q]
    assert list_queue(inst.queue, "hold") == expected(msgs, [], ("hold",))
    assert list_queue(inst.queue, "deferred") == expected(msgs, [], ("deferred",))
    assert unchanged_except(before, snapshot(inst.queue), want_h | want_r)


def dsn_for(inst, sender):
    """The queued DSN (from <> to sender), as a QueueFile, or None."""
    for q in list_queue(inst.queue, "deferred") | list_queue(inst.queue, "incoming"):
        for folder in ("deferred/%s" % q[9], "incoming"):
            path = os.path.join(inst.queue, folder, q)
            if not os.path.exists(path):
                continue
            qf = QueueFile(path)
            if qf.sender == "" and qf.rcpt_addrs == [sender]:
                return qf
    return None


def test_force_expire_bounces_at_next_attempt(queue10k):
    inst, msgs = queue10k
    qid = next(q for q, m in sorted(msgs.items())
               if m["folder"] == "deferred" and m["sender"] == "alice@corp.example")
    hid = next(q for q, m in sorted(msgs.items())
               if m["folder"] == "hold" and m["sender"] == "bob@corp.example")
    r = postelsuper(inst, "-e", qid)
    assert r.returncode == 0, r.stderr
    assert "%s: forced to expire" % qid in r.stderr
    # -j shows the mark on that message only; it stays deferred
    r = postelqueue(inst, "-j", "--sender", "alice@corp.example")
    flags = {json.loads(l)["queue_id"]: json.loads(l)["forced_expire"]
             for l in r.stdout.splitlines()}
    assert flags[qid] is True
    assert [q for q, f in flags.items() if f] == [qid]
    assert qid in list_queue(inst.queue, "deferred")
    # the next delivery attempt returns it
    r = postelqueue(inst, "-i", qid)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: "%s: removed" % qid in inst.read_log(), 20), \
        inst.read_log()[-3000:]
    assert "%s: from=<alice@corp.example>, status=expired, returned to sender" \
        % qid in inst.read_log()
    assert wait_for(lambda: dsn_for(inst, "alice@corp.example"), 20), \
        inst.read_log()[-3000:]
    dsn = dsn_for(inst, "alice@corp.example")
    assert b"message is administratively expired" in dsn.content
    # nothing was delivered for it
    assert not any(line.split()[3] == qid for line in open(inst.results))
    # -f: a held message is released and returned at once
    r = postelsuper(inst, "-f", hid)
    assert r.returncode == 0, r.stderr
    assert "Released from hold: 1 message" in r.stderr
    assert wait_for(lambda: "%s: removed" % hid in inst.read_log(), 20), \
        inst.read_log()[-3000:]
    assert "%s: from=<bob@corp.example>, status=expired, returned to sender" \
        % hid in inst.read_log()
    assert wait_for(lambda: dsn_for(inst, "bob@corp.example"), 20)
    del msgs[qid], msgs[hid]


def test_purge_removes_old_temporary_files(queue10k):
    inst, msgs = queue10k
    old = time.time() - 2 * 86400
    paths = {}
    for name, folder, age in (("old_in", "incoming", old),
                              ("new_in", "incoming", time.time()),
                              ("old_def", "deferred/B", old),
                              ("old_hold", "hold", old)):
        p = os.path.join(inst.queue, folder, "t4242.%s" % name)
        with open(p, "w") as f:
            f.write("partial")
        os.utime(p, (age, age))
        paths[name] = p
    r = postelsuper(inst, "-n", "-p")
    assert r.returncode == 0, r.stderr
    assert set(r.stdout.split()) == {os.path.relpath(paths[n], inst.queue)
                                     for n in ("old_in", "old_def", "old_hold")}
    assert all(os.path.exists(p) for p in paths.values())
    before = {q for q in list_queue(inst.queue, "deferred")}
    r = postelsuper(inst, "-p")
    assert r.returncode == 0, r.stderr
    assert "Removed temporary files: 3 messages" in r.stderr
    assert os.path.exists(paths["new_in"])
    assert not any(os.path.exists(paths[n]) for n in ("old_in", "old_def", "old_hold"))
    assert list_queue(inst.queue, "deferred") == before
    os.unlink(paths["new_in"])


def max_rss_kb(argv, workdir):
    """Run argv under GNU time; its peak resident set size in KiB.  (The
    rusage of a child forked by Python counts Python's own pages.)"""
    out = os.path.join(workdir, "rss")
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)
    assert r.returncode == 0, (argv, r.stderr)
    with open(out) as f:
        return int(f.read().split()[-1])


@pytest.mark.needs("gnu_time")
def test_memory_does_not_grow_with_the_queue(instance, workdir):
    """Peak RSS with 10,000 messages is that with 1,000 (a memory check,
    not a timing one): listing and selection stream the queue."""
    inst = instance
    inst.write_config(services=[])
    r = inst.postel("check")
    assert r.returncode == 0, r.stderr
    gen = QueueGen(inst.queue)
    now = time.time()
    runs = {
        "list": [bin_path("postelqueue"), "-c", inst.confdir, "-p"],
        "json": [bin_path("postelqueue"), "-c", inst.confdir, "-j",
                 "--reason", "refused"],
        "select": [bin_path("postelsuper"), "-c", inst.confdir, "-n",
                   "-d", "ALL", "--sender", "@corp.example", "--older-than",
                   "1h"],
    }
    rss = {}
    for total in (1000, 10000):
        while gen.seq < total:
            m = message_spec(gen.seq)
            gen.add("hold" if gen.seq % 100 == 0 else "deferred", m["sender"],
                    m["rcpts"], now - m["age"], reason=m["reason"])
        rss[total] = {name: max_rss_kb(argv, workdir)
                      for name, argv in runs.items()}
    print("max RSS KiB", rss)
    for name in runs:
        # Holding 9,000 more messages' IDs alone would add about 400 KiB;
        # runs of the same command differ by up to about 150 KiB.
        assert rss[10000][name] - rss[1000][name] < 256, rss
