#!/usr/bin/python3
"""postscreen: the same scenario against Debian's Postfix and Postel.

Each MTA runs as a throw-away instance (bench.py's classes: its own
config, queue and log folders under a temporary folder, chroot off) with
postscreen on a loopback port in front of smtpd (master.cf `pass`
service), dnsblog for the DNSBL queries, and relayhost = an smtp-sink.
A DNS server on loopback (tests/integration/dnsserver.py, on port 53 of
127.0.53.1) serves two zones:

  bl.test  lists 127.0.0.4 (answer 127.0.0.2); site bl.test=127.0.0.[2..11]*2
  wl.test  lists 127.0.0.5 (answer 127.0.0.2); site wl.test*-2

postscreen_access_list is a cidr table (permit 127.0.0.6, reject
127.0.0.7); every other setting the scenario relies on is in PS_MAIN.

Postel is pointed at the DNS server with dns_nameservers.  Postfix's
dnsblog asks the libc resolver, which reads /etc/resolv.conf only, so
Postfix's master runs under `unshare -m` with a resolv.conf naming
127.0.53.1 bind-mounted over /etc/resolv.conf inside that private mount
namespace: the system's file and every other process are untouched.

Two groups of steps, each on its own pair of instances, one client at
a time (each its own loopback address).  "early" (PS_MAIN: DNSBL sites,
cidr access list, deep tests off):

  clean      127.0.0.2  waits for the banner, sends a mail     PASS NEW
  clean      127.0.0.2  again, sends a mail                    PASS OLD
  twice      127.0.0.9  two connections at once, two mails     PASS NEW, PASS OLD
  pregreet   127.0.0.3  EHLO before the banner, then MAIL/RCPT PREGREET, 550 5.5.1
  dnsbl      127.0.0.4  listed in bl.test, MAIL/RCPT           DNSBL rank 2, 550 5.7.1
  allowlist  127.0.0.5  listed in wl.test (weight -2), mail    PASS NEW
  permit     127.0.0.6  postscreen_access_list permit, mail    ALLOWLISTED
  deny       127.0.0.7  postscreen_access_list reject          DENYLISTED, 550 5.3.2
  hangup     127.0.0.8  hangs up during the greet wait         HANGUP

"deep" (PS_DEEP: the pipelining, non-SMTP command and bare newline tests
on, empty access list, no DNSBL):

  clean      127.0.0.2  EHLO, MAIL, RCPT                       450 4.3.2, PASS NEW
  clean      127.0.0.2  again, sends a mail                    PASS OLD
  pipelining 127.0.0.3  EHLO and MAIL in one write             COMMAND PIPELINING, 550
  http       127.0.0.4  GET / HTTP/1.0                         NON-SMTP COMMAND, 521
  bare LF    127.0.0.5  EHLO ending in a bare LF               BARE NEWLINE, 550
  hangup     127.0.0.8  hangs up during the greet wait         HANGUP

After each client the log is read until it has been quiet for a moment;
the lines of postscreen and dnsblog are printed with ports, times and
paths normalised ("postfix/postscreen[123]: CONNECT from [127.0.0.2]:
40512 to ..." becomes "postscreen: CONNECT from [127.0.0.2]:PORT to
[127.0.0.1]:PORT").  Also compared: the SMTP reply codes each client
got, the full text of every rejection, whether the banner came at once
or after the greet wait, and the EHLO keywords of postscreen's own SMTP
engine.

Usage (as root, after make; Postfix is fetched into bench/.cache as
bench.py does):

    /usr/bin/python3 bench/postscreen_compare.py --mta postfix|postel|both

With --mta both the two MTAs' lines are compared step by step and the
script exits 1 when a step differs, printing every difference; 0 when
every step gave the same lines.  --group early|deep runs one group.
--all-lines also prints the SMTP dialogue and the other daemons' lines
(smtpd, cleanup, qmgr, smtp), never compared.

SPDX-License-Identifier: ISC
"""
import argparse
import difflib
import os
import re
import shutil
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import bench  # noqa: E402  (bench/bench.py: instances, sink, Postfix)

DNS_HOST = "127.0.53.1"
HELO = "client.test"
SENDER = "sender@sender.example.org"
RCPT = "rcpt@dest.example.com"
QUIET = 1.5          # seconds without a new log line that end a step
STEP_LIMIT = 30      # seconds at most per step
COMPARED = ("postscreen", "dnsblog")
# Lines of those two programs whose time depends on when the process
# started, not on the client: shown and compared as notes only.
NOTE_RE = re.compile(r"^cache \S+ full cleanup: ")

# The postscreen settings; $TOP is the instance's folder.  Both MTAs get
# exactly these (Postfix at compatibility_level 3.6, so it logs the new
# ALLOWLISTED/DENYLISTED words).
PS_MAIN = {
    "postscreen_greet_wait": "2s",
    "postscreen_greet_action": "enforce",
    "postscreen_dnsbl_sites": "bl.test=127.0.0.[2..11]*2 wl.test*-2",
    "postscreen_dnsbl_threshold": "1",
    "postscreen_dnsbl_allowlist_threshold": "-1",
    "postscreen_dnsbl_action": "enforce",
    "postscreen_access_list": "cidr:$TOP/etc/postscreen_access.cidr",
    "postscreen_denylist_action": "enforce",
    "postscreen_cache_map": "btree:$TOP/data/postscreen_cache",
}
ACCESS_CIDR = "127.0.0.6 permit\n127.0.0.7 reject\n"

# The second group: the deep protocol tests, on an instance of their own
# (with them on, a new client is not handed to smtpd after the greet
# wait: it talks to postscreen's engine and must come back).
PS_DEEP = {
    "postscreen_greet_wait": "2s",
    "postscreen_greet_action": "enforce",
    "postscreen_access_list": "",
    "postscreen_pipelining_enable": "yes",
    "postscreen_non_smtp_command_enable": "yes",
    "postscreen_non_smtp_command_action": "drop",
    "postscreen_bare_newline_enable": "yes",
    "postscreen_bare_newline_action": "enforce",
    "postscreen_cache_map": "btree:$TOP/data/postscreen_cache",
}


def log(text):
    print("[pscompare %s] %s" % (time.strftime("%H:%M:%S"), text),
          flush=True)


# ---------------------------------------------------------------------------
# DNS on port 53 of a loopback address (Postfix's resolver cannot be told
# another port).

def start_dns(host):
    import dnsserver

    class Port53(dnsserver.DNSServer):
        def start(self):
            udp = dnsserver._UDPServer((self.host, 53), dnsserver._UDPHandler)
            try:
                tcp = dnsserver._TCPServer((self.host, 53),
                                           dnsserver._TCPHandler)
            except OSError:
                udp.server_close()
                raise
            self.port = 53
            import threading
            for srv in (udp, tcp):
                srv.dns = self
                t = threading.Thread(target=srv.serve_forever,
                                     kwargs={"poll_interval": 0.1},
                                     daemon=True)
                t.start()
                self._servers.append(srv)
                self._threads.append(t)
            return self

    dns = Port53(host)
    dns.add("4.0.0.127.bl.test", "A", "127.0.0.2")
    dns.add("5.0.0.127.wl.test", "A", "127.0.0.2")
    try:
        return dns.start()
    except OSError as e:
        sys.exit("postscreen_compare.py: cannot serve DNS on %s:53: %s"
                 % (host, e))


# ---------------------------------------------------------------------------
# SMTP clients.

class Client:
    """A raw SMTP client from one loopback address; keeps a transcript."""

    def __init__(self, src, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15,
                                             source_address=(src, 0))
        self.buf = b""
        self.t0 = time.monotonic()
        self.transcript = []     # (what was sent, [reply lines], seconds)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        text, self.buf = self.buf.split(b"\n", 1)
        return text.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self, sent):
        """Read one whole reply (through its last line "NNN ...")."""
        lines = []
        try:
            while True:
                text = self.line()
                lines.append(text)
                if len(text) < 4 or text[3] != "-":
                    break
        except (EOFError, OSError) as e:
            lines.append("(%s)" % e)
        self.transcript.append((sent, lines, time.monotonic() - self.t0))
        return lines

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def cmd(self, text):
        self.send(text)
        return self.reply(text)

    def close(self):
        self.sock.close()


def code(lines):
    return lines[-1][:3] if lines else ""


def banner(c):
    """The banner: postscreen's 220- teaser, then 220 from smtpd or from
    postscreen's own engine.  One reply as far as the client can tell."""
    return c.reply("(connect)")


def session(c, mail=True):
    """EHLO, MAIL, RCPT, and DATA when RCPT was accepted, then QUIT."""
    c.cmd("EHLO " + HELO)
    c.cmd("MAIL FROM:<%s>" % SENDER)
    r = c.cmd("RCPT TO:<%s>" % RCPT)
    if mail and code(r) == "250":
        if code(c.cmd("DATA")) == "354":
            c.send("From: <%s>\r\nTo: <%s>\r\nSubject: postscreen compare\r\n"
                   "\r\nbody\r\n." % (SENDER, RCPT))
            c.reply("(message)")
    c.cmd("QUIT")
    c.close()


def step_clean(port, src="127.0.0.2"):
    c = Client(src, port)
    banner(c)
    session(c)
    return c


def step_pregreet(port, src="127.0.0.3"):
    c = Client(src, port)
    c.send("EHLO " + HELO)          # before the banner
    # Postfix sends no last banner line to a client that spoke early: its
    # "220-" teaser runs straight into the EHLO reply.  A "220 " line
    # here (then the EHLO reply) shows up as a difference.
    if code(c.reply("(connect) EHLO " + HELO)) == "220":
        c.reply("EHLO " + HELO)
    c.cmd("MAIL FROM:<%s>" % SENDER)
    c.cmd("RCPT TO:<%s>" % RCPT)
    c.cmd("QUIT")
    c.close()
    return c


def step_concurrent(port, src="127.0.0.9"):
    """A new client opens a second connection while its first is still
    in the greet wait: Postfix tests both (it looks at the cache only for
    a client's sole connection)."""
    c1 = Client(src, port)
    time.sleep(0.2)
    c2 = Client(src, port)
    banner(c1)
    banner(c2)
    session(c1)
    session(c2)
    c1.transcript += c2.transcript
    return c1


def step_deep_clean(port, src="127.0.0.2"):
    """A new client that passes the deep tests: postscreen's engine
    answers, RCPT gets 450 (come back later), PASS NEW."""
    c = Client(src, port)
    banner(c)
    session(c, mail=False)
    return c


def step_pipelining(port, src="127.0.0.3"):
    """EHLO and MAIL in one write after the banner (no PIPELINING was
    offered)."""
    c = Client(src, port)
    banner(c)
    c.send("EHLO %s\r\nMAIL FROM:<%s>" % (HELO, SENDER))
    c.reply("EHLO " + HELO)
    c.reply("MAIL FROM:<%s>" % SENDER)
    c.cmd("RCPT TO:<%s>" % RCPT)
    c.cmd("QUIT")
    c.close()
    return c


def step_non_smtp(port, src="127.0.0.4"):
    """An HTTP request after the banner (non_smtp_command_action drop)."""
    c = Client(src, port)
    banner(c)
    c.cmd("GET / HTTP/1.0")
    c.close()
    return c


def step_bare_newline(port, src="127.0.0.5"):
    """A command ended by a bare LF, then MAIL and RCPT."""
    c = Client(src, port)
    banner(c)
    c.sock.sendall(("EHLO %s\n" % HELO).encode())
    c.reply("EHLO %s (bare LF)" % HELO)
    c.cmd("MAIL FROM:<%s>" % SENDER)
    c.cmd("RCPT TO:<%s>" % RCPT)
    c.cmd("QUIT")
    c.close()
    return c


def step_hangup(port, src="127.0.0.8"):
    c = Client(src, port)
    time.sleep(0.5)                 # inside the greet wait
    c.close()
    return c


EARLY_STEPS = [
    ("clean client, first time (PASS NEW, mail relayed)",
     lambda p: step_clean(p), True),
    ("clean client again (PASS OLD, mail relayed)",
     lambda p: step_clean(p), True),
    ("new client, two connections at once (PASS NEW, PASS OLD)",
     step_concurrent, True),
    ("pregreet client (PREGREET, 550 5.5.1 at RCPT)",
     step_pregreet, False),
    ("DNSBL-listed client (DNSBL rank, 550 5.7.1 at RCPT)",
     lambda p: step_clean(p, "127.0.0.4"), False),
    ("allow-listed by DNSBL weight -2 (PASS NEW, mail relayed)",
     lambda p: step_clean(p, "127.0.0.5"), True),
    ("postscreen_access_list permit (ALLOWLISTED, mail relayed)",
     lambda p: step_clean(p, "127.0.0.6"), True),
    ("postscreen_access_list reject (DENYLISTED, 550 5.3.2 at RCPT)",
     lambda p: step_clean(p, "127.0.0.7"), False),
    ("client hangs up in the greet wait (HANGUP)",
     step_hangup, False),
]

DEEP_STEPS = [
    ("new client, deep tests passed (PASS NEW, 450 at RCPT)",
     step_deep_clean, False),
    ("the same client again (PASS OLD, mail relayed)",
     lambda p: step_clean(p), True),
    ("pipelining client (COMMAND PIPELINING, refused at RCPT)",
     step_pipelining, False),
    ("HTTP request (NON-SMTP COMMAND, 521, dropped)",
     step_non_smtp, False),
    ("bare newline (BARE NEWLINE, refused at RCPT)",
     step_bare_newline, False),
    ("client hangs up in the greet wait (HANGUP)",
     step_hangup, False),
]

# (name, main.cf settings, steps)
GROUPS = [("early", PS_MAIN, EARLY_STEPS), ("deep", PS_DEEP, DEEP_STEPS)]


# ---------------------------------------------------------------------------
# The log.

LOG_RE = re.compile(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ "
                    r"(?:[^/\s]+/)?([\w.-]+)\[\d+\]: (.*)$")


def normalise(line, mta):
    """(program, text) with ports, times, paths and queue ids replaced."""
    m = LOG_RE.match(line)
    if not m:
        return ("?", line)
    prog, text = m.group(1), m.group(2)
    text = text.replace(mta.top, "TOP")
    text = re.sub(r"\]:\d+", "]:PORT", text)
    text = re.sub(r"127\.0\.0\.1:%d\b" % mta.port, "127.0.0.1:PORT", text)
    text = re.sub(r"\bafter \d+(\.\d+)?\b", "after T", text)
    text = re.sub(r"^[0-9A-F]{6,}:", "QUEUEID:", text)
    return (prog, text)


class LogReader:
    def __init__(self, path):
        self.path = path
        self.offset = 0

    def new_lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].decode("utf-8", "replace").splitlines()

    def settle(self, quiet=QUIET, limit=STEP_LIMIT):
        """Lines written until the log has been quiet for `quiet` s."""
        lines = []
        deadline = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() < deadline:
            got = self.new_lines()
            if got:
                lines += got
                last = time.monotonic()
            elif time.monotonic() - last >= quiet:
                break
            time.sleep(0.1)
        return lines


def listening(port):
    """Is 127.0.0.1:port listening?  (/proc, so postscreen sees no probe.)"""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        for row in f.readlines()[1:]:
            cols = row.split()
            if cols[1] == want and cols[3] == "0A":
                return True
    return False


# ---------------------------------------------------------------------------
# One MTA through the scenario.

def make_mta(which, top, build, resolv, settings):
    port, sink_port = bench.free_port(), bench.free_port()
    if which == "postfix":
        mta = bench.Postfix(top, port, sink_port, postscreen=settings)
        # Postfix's resolver reads /etc/resolv.conf only: a private mount
        # namespace where that file names the loopback DNS server.
        mta.start_prefix = ["unshare", "-m", "--propagation", "private",
                            "sh", "-c",
                            'mount --bind "$0" /etc/resolv.conf && exec "$@"',
                            resolv]
    else:
        mta = bench.Postel(top, port, sink_port, build, postscreen=settings)
        mta.extra_main = {"dns_nameservers": "%s:53" % DNS_HOST}
    mta.extra_main["mynetworks"] = "127.0.0.0/8"
    return mta


def run_mta(which, args, top, resolv, settings, steps):
    mta = make_mta(which, top, os.path.abspath(args.build), resolv,
                   settings)
    mta.setup()
    with open(os.path.join(mta.conf, "postscreen_access.cidr"), "w") as f:
        f.write(ACCESS_CIDR)
    sink = bench.Sink(mta.sink_port)
    if not bench.wait_port(mta.sink_port):
        raise RuntimeError("smtp-sink did not start")
    reader = LogReader(mta.maillog)
    mta.start()
    results = []
    try:
        deadline = time.monotonic() + 20
        while not listening(mta.port) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not listening(mta.port):
            raise RuntimeError("%s did not start: %s" % (
                which, open(mta.errlog.name).read()[-2000:]))
        startup = reader.settle(quiet=0.5, limit=5)
        for title, fn, relays in steps:
            before = sink.count
            t0 = time.monotonic()
            try:
                c = fn(mta.port)
                transcript = c.transcript
            except OSError as e:
                transcript = [("(connect)", ["(%s)" % e], 0)]
            took = time.monotonic() - t0
            if relays:
                deadline = time.monotonic() + 15
                while sink.count <= before and time.monotonic() < deadline:
                    time.sleep(0.05)
            lines = reader.settle()
            results.append({
                "title": title,
                "seconds": took,
                "relayed": sink.count - before,
                "transcript": transcript,
                "engine": not relays,
                "lines": [normalise(x, mta) for x in lines],
            })
    finally:
        mta.stop()
        sink.stop()
    return {"startup": [normalise(x, mta) for x in startup],
            "steps": results}


def compared(step, notes=False):
    """The step's postscreen and dnsblog lines (notes=True: the note lines
    instead)."""
    return ["%s: %s" % (prog, text) for prog, text in step["lines"]
            if prog in COMPARED and bool(NOTE_RE.match(text)) == notes]


def replies(step):
    """What is compared of the transcript: every reply's code, the whole
    last line of a rejection (4xx/5xx), whether the banner came at once
    or after the greet wait, and, where postscreen's own SMTP engine
    answered (no mail relayed), the EHLO keywords it offered."""
    out = []
    for sent, lines, secs in step["transcript"]:
        c = code(lines)
        last = lines[-1] if lines else ""
        text = "%s -> %s" % (sent.split(":")[0],
                             last if c[:1] in ("4", "5") else c)
        if sent.startswith("(connect)") and c:
            text += " (%s)" % ("at once" if secs < 1.0 else
                               "after the greet wait")
        out.append(text)
        if step["engine"] and "EHLO" in sent and c == "250":
            ehlo = [x[4:] for x in lines if x[:3] == "250"]
            out.append("   EHLO keywords: %s" % " ".join(ehlo[1:]))
    return out


def show(which, res, all_lines):
    print("=" * 72)
    print("%s" % which)
    for n, step in enumerate(res["steps"], 1):
        print("-- step %d: %s (%.1f s, %d relayed)" % (
            n, step["title"], step["seconds"], step["relayed"]))
        if all_lines:
            for sent, lines, _secs in step["transcript"]:
                print("   >>> %s" % sent)
                for text in lines:
                    print("   <<< %s" % text)
        else:
            for r in replies(step):
                print("   smtp  %s" % r)
        for prog, text in step["lines"]:
            if prog in COMPARED or all_lines:
                print("   %s: %s" % (prog, text))


def compare(a, b):
    """Differences between the two runs, as text (empty when none), and
    the differences in note lines (never a failure)."""
    out, notes = [], []
    for n, (sa, sb) in enumerate(zip(a["steps"], b["steps"]), 1):
        for what, la, lb in (("log", compared(sa), compared(sb)),
                             ("smtp", replies(sa), replies(sb))):
            if la != lb:
                out.append("step %d (%s), %s lines differ:" % (
                    n, sa["title"], what))
                out += ["  " + d for d in difflib.unified_diff(
                    la, lb, "postfix", "postel", lineterm="", n=10)][2:]
        if compared(sa, True) != compared(sb, True):
            notes.append("step %d (%s): postfix %s, postel %s" % (
                n, sa["title"], compared(sa, True) or "-",
                compared(sb, True) or "-"))
        if sa["relayed"] != sb["relayed"]:
            out.append("step %d (%s): postfix relayed %d, postel %d" % (
                n, sa["title"], sa["relayed"], sb["relayed"]))
    return "\n".join(out), "\n".join(notes)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mta", choices=("postfix", "postel", "both"),
                    default="both")
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="Postel build folder (default: build/)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary folder (configs, logs)")
    ap.add_argument("--all-lines", action="store_true",
                    help="also print smtpd, cleanup, qmgr... lines")
    ap.add_argument("--group", choices=("early", "deep", "all"),
                    default="all", help="which group of steps (default all)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("postscreen_compare.py: must run as root")
    want = ["postfix", "postel"] if args.mta == "both" else [args.mta]
    for prog in ("postscreen", "dnsblog"):
        if "postel" in want and not os.path.exists(
                os.path.join(args.build, "libexec", prog)):
            sys.exit("postscreen_compare.py: no %s in %s/libexec "
                     "(run make)" % (prog, args.build))
    if "postfix" in want:
        log("Postfix from %s" % bench.fetch_postfix())
        bench.ensure_accounts()
    top = tempfile.mkdtemp(prefix="postel-pscompare-")
    os.chmod(top, 0o755)
    resolv = os.path.join(top, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver %s\noptions timeout:2 attempts:1\n" % DNS_HOST)
    os.chmod(resolv, 0o644)
    dns = start_dns(DNS_HOST)
    runs = {}
    groups = [g for g in GROUPS if args.group in ("all", g[0])]
    try:
        for group, settings, steps in groups:
            gtop = os.path.join(top, group)
            os.mkdir(gtop)
            os.chmod(gtop, 0o755)
            for which in want:
                log("%s, %s tests: %d steps" % (which, group, len(steps)))
                runs[(group, which)] = run_mta(which, args, gtop, resolv,
                                               settings, steps)
                show("%s, %s tests" % (which, group), runs[(group, which)],
                     args.all_lines)
    finally:
        dns.stop()
        if args.keep:
            log("kept %s" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    if len(want) == 2:
        failed = False
        for group, _settings, _steps in groups:
            diff, notes = compare(runs[(group, "postfix")],
                                  runs[(group, "postel")])
            print("=" * 72)
            if notes:
                print("%s tests, notes (not compared: cache clean-up lines "
                      "are logged when postscreen starts):" % group)
                print(notes)
            if diff:
                print("%s tests: DIFFERENT (postfix -, postel +):" % group)
                print(diff)
                failed = True
            else:
                print("%s tests: SAME: every step gave the same postscreen/"
                      "dnsblog lines and SMTP replies" % group)
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
