"""postelqshape: the domain x age table of a queue built by the test.

The queue is generated (queuegen) with known recipients, senders and
ages chosen in the middle of their buckets; the expected table is
computed here from qshape(1)'s documented rules (bucket limits, column
widths, the domain column, sorting) and compared with the output line
by line.

SPDX-License-Identifier: ISC
"""
import os
import time

import pytest

from conftest import run_cmd
from queuegen import QueueGen

# (minutes of age, sender, recipients), repeated as given
PLAN = [
    (2.5, "alice@corp.example", ["a@alpha.example", "b@Beta.example"], 7),
    (7.5, "bob@corp.example", ["c@alpha.example"], 5),
    (12.5, "", ["d@gamma.example."], 3),
    (17.5, "news@lists.example", ["e@a.sub.example", "f@b.sub.example"], 4),
    (37.5, "news@lists.example", ["g@c.sub.example", "h@d.sub.example",
                                  "i@e.sub.example"], 2),
    (72.5, "carol@other.example", ["j@beta.example"], 6),
    (150, "carol@other.example", ["k@delta.example"], 6),
    (300, "x@y.example", ["l@epsilon.example"], 1),
    (600, "x@y.example", ["m@zeta.example"], 1),
    (1500, "old@corp.example",
     ["n@a-very-long-domain-name-for-the-column.example"], 2),
    (3000, "old@corp.example", ["o@alpha.example"], 12),
]


def domain_of(addr):
    """qshape: lowercase, after the last @, '..' -> '.', one dot off each end."""
    a = addr.lower()
    if a == "":
        return "MAILER-DAEMON"
    a = a.rpartition("@")[2]
    out, i = "", 0
    while i < len(a):
        out += a[i]
        i += 2 if a[i:i + 2] == ".." else 1
    if len(out) > 1 and out.endswith("."):
        out = out[:-1]
    if len(out) > 1 and out.startswith("."):
        out = out[1:]
    return out


def bucket(minutes, tick, nbuckets, linear):
    m = minutes / tick
    if m < 1:
        return 1
    if linear:
        b = int(m) + 1
    else:
        b, limit = 2, 2
        while limit <= m:
            b, limit = b + 1, limit * 2
    return min(b, nbuckets)


def parent_of(name):
    rest = name[1:] if name.startswith(".") else name
    label, dot, tail = rest.partition(".")
    if not label or not dot or "." not in tail:
        return None
    return "." + tail


def expected_table(by_sender=False, tick=5, nbuckets=10, linear=False,
                   parents=False, min_sub=5, width=80, only=None):
    rows, sub = {}, {}
    total = [0] * (nbuckets + 1)
    for minutes, sender, rcpts, times in PLAN:
        if only is not None and not only(minutes):
            continue
        b = bucket(minutes, tick, nbuckets, linear)
        for _ in range(times):
            for addr in ([sender] if by_sender else rcpts):
                total[0] += 1
                total[b] += 1
                name, child_new = domain_of(addr), False
                while name is not None:
                    new = name not in rows
                    row = rows.setdefault(name, [0] * (nbuckets + 1))
                    row[0] += 1
                    row[b] += 1
                    if child_new:
                        sub[name] = sub.get(name, 0) + 1
                    child_new = new
                    name = parent_of(name) if parents else None
    heads, t = [], 0
    for i in range(nbuckets + 1):
        heads.append("T" if i == 0 else str(t) if i < nbuckets else "%d+" % t)
        if i + 1 < nbuckets:
            t += t if t and not linear else tick
    widths = []
    for i in range(nbuckets + 1):
        n = max(len(str(total[i])), len(heads[i]))
        widths.append(n + 1 if n > 2 else 3)
    dw = max(width - sum(widths), 18)

    def line(name, cells):
        if len(name) > dw:
            name = (".+" + name[len(name) - dw + 2:] if name.startswith(".")
                    else "+" + name[len(name) - dw + 1:])
        return name.rjust(dw) + "".join(
            str(c).rjust(w) for c, w in zip(cells, widths))

    shown = [n for n in rows if not n.startswith(".") or sub.get(n, 0) >= min_sub]
    shown.sort(key=lambda n: (-rows[n][0], len(n), n))
    return [line("", heads), line("TOTAL", total)] + \
        [line(n, rows[n]) for n in shown]


@pytest.fixture
def shaped(instance):
    """An instance (not started: nothing moves the files) whose queue has
    PLAN in deferred/ and the two youngest rows also in incoming/."""
    inst = instance
    inst.write_config(main={"inet_interfaces": "127.0.4.2"}, services=[])
    r = inst.postel("check")
    assert r.returncode == 0, r.stderr
    gen = QueueGen(inst.queue)
    now = time.time()
    for minutes, sender, rcpts, times in PLAN:
        for _ in range(times):
            gen.add("deferred", sender, rcpts, now - minutes * 60)
            if minutes < 10:
                gen.add("incoming", sender, rcpts, now - minutes * 60)
    # a temporary file and a message without pending recipients: skipped
    with open(os.path.join(inst.queue, "incoming", "t1.1"), "w") as f:
        f.write("partial")
    gen.add("hold", "z@z.example", [], now)
    return inst


def qshape(inst, *args):
    r = run_cmd(["postelqshape", "-c", inst.confdir] + list(args))
    assert r.returncode == 0, r.stderr
    return r.stdout.rstrip("\n").split("\n")


def test_default_queues_are_incoming_and_active(shaped):
    got = qshape(shaped)
    assert got == expected_table(only=lambda m: m < 10)
    assert got[0].split() == ["T", "5", "10", "20", "40", "80", "160", "320",
                              "640", "1280", "1280+"]


def test_recipient_domains_of_deferred(shaped):
    got = qshape(shaped, "deferred")
    assert got == expected_table()
    # spot checks against the plan, by hand
    assert got[1].split() == ["TOTAL", "64", "14", "5", "11", "6", "6",
                              "6", "1", "1", "0", "14"]
    alpha = next(l for l in got if l.split()[0] == "alpha.example").split()
    assert alpha[1:] == ["24", "7", "5", "0", "0", "0", "0", "0", "0", "0",
                         "12"]
    # the long domain is cut to fit: '+' and its last characters
    assert any(l.lstrip().startswith("+") and l.split()[0].endswith(
        "for-the-column.example") for l in got)


def test_sender_domains(shaped):
    got = qshape(shaped, "-s", "deferred", "incoming")
    assert got == expected_sender_both()
    assert any(l.split()[0] == "MAILER-DAEMON" for l in got)


def expected_sender_both():
    # deferred + incoming: the rows under 10 minutes count twice
    saved = list(PLAN)
    try:
        PLAN.extend(p for p in saved if p[0] < 10)
        return expected_table(by_sender=True)
    finally:
        PLAN[:] = saved


def test_bucket_options(shaped):
    assert qshape(shaped, "-t", "10", "-b", "5", "deferred") == \
        expected_table(tick=10, nbuckets=5)
    assert qshape(shaped, "-l", "deferred") == expected_table(linear=True)
    got = qshape(shaped, "-l", "-t", "3", "-b", "12", "-w", "120", "deferred")
    assert got == expected_table(linear=True, tick=3, nbuckets=12, width=120)
    assert len(got[0]) == 120
    # qshape ignores a width up to 80 and counts that are not positive
    assert qshape(shaped, "-w", "60", "-b", "0", "deferred") == expected_table()


def test_parent_domains(shaped):
    got = qshape(shaped, "-p", "deferred")
    assert got == expected_table(parents=True)
    assert any(l.split()[0] == ".sub.example" for l in got)
    got = qshape(shaped, "-p", "-m", "6", "deferred")
    assert got == expected_table(parents=True, min_sub=6)
    assert not any(l.split()[0] == ".sub.example" for l in got)


def test_absolute_queue_path_and_errors(shaped):
    assert qshape(shaped, os.path.join(shaped.queue, "deferred")) == \
        expected_table()
    r = run_cmd(["postelqshape", "-c", shaped.confdir, "-b", "ten"])
    assert r.returncode == 64 and "not a number" in r.stderr
    r = run_cmd(["postelqshape", "-c", shaped.confdir, "-x"])
    assert r.returncode == 64 and "usage" in r.stderr
    r = run_cmd(["postelqshape", "-c", shaped.confdir, "nosuchqueue"])
    assert r.returncode == 0
    assert r.stdout.split("\n")[1].split() == ["TOTAL"] + ["0"] * 11
