#!/usr/bin/python3
"""Peak memory and time of postelqueue, postelsuper selections and
postelqshape on a generated queue (default 1,000,000 messages).

    sudo /usr/bin/python3 bench/queue_select.py [--messages N] [--keep]

Builds a throw-away instance folder (no daemon runs), writes N messages
with tests/integration/queuegen.py (deferred/ with a far retry time, one
in a hundred in hold/, a delay reason in the defer log of one in four),
runs each command once under GNU time (/usr/bin/time -f "%M %e"), prints
its peak resident size and elapsed time, and removes the folder unless
--keep is given.  The commands write to /dev/null.

SPDX-License-Identifier: ISC
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from queuegen import QueueGen  # noqa: E402

DOMAINS = ["alpha.example", "beta.example", "gamma.example",
           "sub.delta.example", "delta.example"]
SENDERS = ["news@lists.example", "alice@corp.example", "", "bob@other.example"]
REASON = "connect to mx.alpha.example[192.0.2.1]:25: Connection refused"


def measure(argv, scratch):
    out = os.path.join(scratch, "time.out")
    r = subprocess.run(["/usr/bin/time", "-f", "%M %e", "-o", out] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit("%s failed: %s" % (" ".join(argv), r.stderr[-2000:]))
    with open(out) as f:
        rss, secs = f.read().split()[-2:]
    return int(rss), float(secs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000000)
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    binp = os.path.join(os.path.abspath(args.build), "bin")
    work = tempfile.mkdtemp(prefix="postel-qbench-")
    os.chmod(work, 0o755)
    conf = os.path.join(work, "etc")
    os.makedirs(conf)
    with open(os.path.join(conf, "main.cf"), "w") as f:
        f.write("queue_directory = %s/spool\n" % work)
        f.write("maillog_file =\n")
    open(os.path.join(conf, "master.cf"), "w").close()
    try:
        r = subprocess.run([os.path.join(binp, "postel"), "-c", conf, "check"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("postel check: " + r.stderr)
        gen = QueueGen(os.path.join(work, "spool"), owned=False)
        now = time.time()
        t0 = time.time()
        for i in range(args.messages):
            gen.add("hold" if i % 100 == 99 else "deferred",
                    SENDERS[i % 4], ["u%d@%s" % (i, DOMAINS[i % 5])],
                    now - (i % 1440) * 60,
                    reason=REASON if i % 4 == 0 else None)
        print("generated %d messages in %.0f s" % (args.messages,
                                                    time.time() - t0))
        runs = [
            ("postelqueue -p", ["postelqueue", "-p"]),
            ("postelsuper -n -d ALL --sender @corp.example --older-than 2h "
             "--reason refused",
             ["postelsuper", "-n", "-d", "ALL", "--sender", "@corp.example",
              "--older-than", "2h", "--reason", "refused"]),
            ("postelqshape deferred hold", ["postelqshape", "deferred", "hold"]),
        ]
        for label, argv in runs:
            argv = [os.path.join(binp, argv[0]), "-c", conf] + argv[1:]
            rss, secs = measure(argv, work)
            print("%-80s max RSS %6d KiB  %6.1f s" % (label, rss, secs))
    finally:
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
