#!/usr/bin/python3
"""Relay benchmark: Postel against Postfix on this machine, one run.

Both MTAs get the same workload from Postfix's smtp-source (20 sessions,
10,000 messages of 5 KiB, one recipient; then the same with 5 recipients)
and relay everything to Postfix's smtp-sink on loopback.  Postfix and its
tools come from Debian's postfix package, fetched with `apt-get download`
into bench/.cache and unpacked there with `dpkg -x`; nothing is installed
and /etc/postfix is never read or written.  Each MTA runs as a throw-away
instance under a temporary folder, as root, with its own config, queue and
log file (maillog_file through its postlogd), chroot off for both, fsync
durability as shipped (both fsync every queue file before 250).

Measured per MTA and phase (see bench/README.md for the method):
  accepted msgs/s   messages / wall time of smtp-source
  delivered msgs/s  messages / (start of smtp-source .. sink counted all)
  CPU seconds       utime+stime (+cutime+cstime) of the MTA's process tree
  peak RSS          largest sum of VmRSS over the tree, sampled every 100 ms
  (peak PSS is also reported: the same sum with shared pages divided up)

With --dkim rsa,ed25519 Postel also runs once per listed algorithm with
one DKIM signature per message (a fresh RSA-2048 or Ed25519 key, signing
table static:), and the report puts the cost per message next to the
unsigned Postel run.

With --postscreen each MTA also has postscreen in front of smtpd on a
second port (an empty postscreen_access_list, so every connection goes
through the postscreen cache: PASS OLD after the warm-up); after the
two phases above, rounds of the same workload alternate between the
plain port and the postscreen port, and the report puts the extra CPU
per connection next to the plain figures.

Usage: /usr/bin/python3 bench/bench.py [--quick] [--messages N] [--build DIR]
       [--only postel|postfix] [--dkim rsa,ed25519] [--postscreen]
Must run as root.  Prints a table and writes bench/results.json.

SPDX-License-Identifier: ISC
"""
import argparse
import glob
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CACHE = os.path.join(HERE, ".cache")
PF_ROOT = os.path.join(CACHE, "root")
PF_LIB = os.path.join(PF_ROOT, "usr", "lib", "postfix")
PF_SBIN = os.path.join(PF_ROOT, "usr", "sbin")
PF_DAEMONS = os.path.join(PF_LIB, "sbin")
PAGE = os.sysconf("SC_PAGE_SIZE")
HZ = os.sysconf("SC_CLK_TCK")
SENDER = "bench@sender.example.org"
RCPT = "rcpt@dest.example.com"
PHASE_TIMEOUT = 300          # seconds per phase, delivery included
WARMUP = 40                  # messages sent before the measured phases

# --postscreen: postscreen in front of smtpd.  The clients all come from
# 127.0.0.1, inside mynetworks, so the default access list
# (permit_mynetworks) would allow-list them and skip every test; an empty
# list sends each connection through the cache.  The warm-up's first
# connections wait out the greet wait and pass (PASS NEW); every measured
# connection is then found in the cache (PASS OLD) and handed to smtpd.
BENCH_POSTSCREEN = {
    "postscreen_access_list": "",
    "postscreen_greet_wait": "1s",
    "postscreen_cache_map": "btree:$TOP/data/postscreen_cache",
}
PS_ROUNDS = 8                # plain/postscreen rounds per phase


def log(text):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), text), flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.recv(512)
                return True
        except OSError:
            time.sleep(0.1)
    return False


# ---------------------------------------------------------------------------
# Postfix from Debian's package, unpacked, never installed.

def fetch_postfix():
    """Download and unpack postfix into bench/.cache (once)."""
    os.makedirs(CACHE, exist_ok=True)
    debs = sorted(glob.glob(os.path.join(CACHE, "postfix_*.deb")))
    if not debs:
        log("apt-get download postfix")
        subprocess.run(["apt-get", "download", "postfix"], cwd=CACHE,
                       check=True, stdout=subprocess.DEVNULL)
        debs = sorted(glob.glob(os.path.join(CACHE, "postfix_*.deb")))
    stamp = os.path.join(PF_ROOT, ".unpacked")
    deb = os.path.basename(debs[-1])
    if not os.path.exists(stamp) or open(stamp).read() != deb:
        shutil.rmtree(PF_ROOT, ignore_errors=True)
        subprocess.run(["dpkg", "-x", debs[-1], PF_ROOT], check=True)
        with open(stamp, "w") as f:
            f.write(deb)
    return deb


def ensure_accounts():
    """Postfix needs user postfix and group postdrop (created if missing)."""
    if subprocess.run(["getent", "group", "postdrop"],
                      stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["groupadd", "--system", "postdrop"], check=True)
    if subprocess.run(["getent", "passwd", "postfix"],
                      stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "postfix"], check=True)


def pf_env():
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C",
           "LD_LIBRARY_PATH": PF_LIB}
    return env


# ---------------------------------------------------------------------------
# The two instances.

COMMON_MAIN = {
    "myhostname": "mta.bench.invalid",
    "mydestination": "",
    "mynetworks": "127.0.0.0/8",
    "inet_interfaces": "127.0.0.1",
    "inet_protocols": "ipv4",
    "smtp_connect_timeout": "5s",
    "alias_maps": "",
    "alias_database": "",
}


def write_cf(path, main):
    with open(path, "w") as f:
        for k, v in main.items():
            f.write("%s = %s\n" % (k, v))


class Mta:
    name = None

    def __init__(self, top, port, sink_port, postscreen=None, ps_port=None):
        # postscreen: None (smtpd listens on port), or a dict of main.cf
        # settings for postscreen, which hands the clients that pass to
        # smtpd through the `pass` service.  postscreen listens on ps_port,
        # next to smtpd on port; without ps_port it takes port itself.
        self.postscreen = postscreen
        self.ps_port = ps_port
        if postscreen is not None and ps_port is None:
            self.name += "+postscreen"
        self.top = os.path.join(top, self.name)
        self.conf = os.path.join(self.top, "etc")
        self.queue = os.path.join(self.top, "spool")
        self.data = os.path.join(self.top, "data")
        self.maillog = os.path.join(self.top, "maillog")
        self.port = port
        self.sink_port = sink_port
        self.proc = None
        self.extra_main = {}     # more main.cf settings, set before setup()
        self.start_prefix = []   # argv run in front of the master command
        os.makedirs(self.conf)
        os.chmod(self.top, 0o755)

    def front_services(self):
        """The master.cf lines for the SMTP port (and what postscreen needs)."""
        smtpd = "127.0.0.1:%d inet n - n - - smtpd" % self.port
        if self.postscreen is None:
            return [smtpd]
        lines = ["127.0.0.1:%d inet n - n - 1 postscreen"
                 % (self.ps_port or self.port),
                 "smtpd pass - - n - - smtpd"]
        if self.ps_port:
            lines.insert(0, smtpd)
        if self.postscreen.get("postscreen_dnsbl_sites"):
            lines.append("dnsblog unix - - n - 0 dnsblog")
        return lines

    def main_settings(self, main):
        """main.cf with the postscreen settings and extra_main added."""
        if self.postscreen is not None:
            main.update({k: v.replace("$TOP", self.top)
                         for k, v in self.postscreen.items()})
        main.update(self.extra_main)
        return main

    def root_pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc is None:
            return
        self.stop_cmd()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None
        # Nothing that names this instance's folder may outlive it.
        for pid in proc_pids():
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if self.top.encode() in cmd:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def queue_empty(self):
        for sub in ("incoming", "active", "deferred", "hold"):
            for _dirpath, _dirs, files in os.walk(os.path.join(self.queue, sub)):
                if files:
                    return False
        return True

    def deferred(self):
        n = 0
        for _d, _s, files in os.walk(os.path.join(self.queue, "deferred")):
            n += len(files)
        return n


class Postfix(Mta):
    name = "postfix"

    def setup(self):
        data = self.data
        main = dict(COMMON_MAIN)
        main.update({
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": data,
            "meta_directory": self.conf,
            "shlib_directory": PF_LIB,
            "daemon_directory": PF_DAEMONS,
            "command_directory": PF_SBIN,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "relayhost": "[127.0.0.1]:%d" % self.sink_port,
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.top,
            "import_environment": "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ "
                                  "LANG=C LD_LIBRARY_PATH=" + PF_LIB,
            "biff": "no",
        })
        write_cf(os.path.join(self.conf, "main.cf"), self.main_settings(main))
        # Debian's master.cf minus the pipe examples, chroot off.
        services = self.front_services() + [
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "proxywrite unix - - n - 1 proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "local unix - n n - - local",
            "virtual unix - n n - - virtual",
            "lmtp unix - - n - - lmtp",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write("\n".join(services) + "\n")
        shutil.copy(os.path.join(PF_ROOT, "usr", "share", "postfix",
                                 "dynamicmaps.cf"), self.conf)
        # What `postfix check` would create: the queue folders.
        pf = (int(subprocess.check_output(["id", "-u", "postfix"])),
              int(subprocess.check_output(["id", "-g", "postfix"])))
        pd = int(subprocess.check_output(["getent", "group", "postdrop"])
                 .split(b":")[2])
        os.makedirs(self.queue)
        os.chmod(self.queue, 0o755)
        for sub in ("active", "bounce", "corrupt", "defer", "deferred",
                    "flush", "hold", "incoming", "private", "saved", "trace"):
            p = os.path.join(self.queue, sub)
            os.mkdir(p, 0o700)
            os.chown(p, *pf)
        for sub, mode in (("maildrop", 0o730), ("public", 0o710)):
            p = os.path.join(self.queue, sub)
            os.mkdir(p)
            os.chown(p, pf[0], pd)
            os.chmod(p, mode)
        os.mkdir(os.path.join(self.queue, "pid"), 0o755)
        os.mkdir(data, 0o700)
        os.chown(data, *pf)

    def start(self):
        env = pf_env()
        env["MAIL_CONFIG"] = self.conf
        self.errlog = open(os.path.join(self.top, "master.stderr"), "w")
        self.proc = subprocess.Popen(
            self.start_prefix +
            [os.path.join(PF_DAEMONS, "master"), "-d", "-c", self.conf],
            env=env, stdin=subprocess.DEVNULL, stdout=self.errlog,
            stderr=self.errlog)

    def stop_cmd(self):
        try:
            os.kill(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


class Postel(Mta):
    metrics = True
    name = "postel"

    def __init__(self, top, port, sink_port, build, dkim=None,
                 postscreen=None, ps_port=None):
        # dkim: None (unsigned), "rsa" or "ed25519": one signature each.
        self.dkim = dkim
        self.name = "postel+" + dkim if dkim else "postel"
        super().__init__(top, port, sink_port, postscreen, ps_port)
        self.build = build

    def dkim_settings(self):
        """A fresh key, texthash tables, and the main.cf settings."""
        key = os.path.join(self.top, "dkim-%s.pem" % self.dkim)
        opts = (["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
                if self.dkim == "rsa" else ["-algorithm", "ED25519"])
        subprocess.run(["openssl", "genpkey"] + opts + ["-out", key],
                       check=True, capture_output=True, timeout=60)
        os.chmod(key, 0o600)
        table = os.path.join(self.top, "dkim_keys")
        with open(table, "w") as f:
            f.write("bench sender.example.org:bench:%s\n" % key)
        # static: every message is signed, whatever its From: says.
        return {"dkim_signing_table": "static:bench",
                "dkim_key_table": "texthash:" + table}

    def setup(self):
        main = dict(COMMON_MAIN)
        main.update({
            "queue_directory": self.queue,
            "daemon_directory": os.path.join(self.build, "libexec"),
            "command_directory": os.path.join(self.build, "bin"),
            "relayhost": "[127.0.0.1]:%d" % self.sink_port,
            "maillog_file": self.maillog,
        })
        # As installed: data_directory exists, so master makes the
        # metrics table and every process counts into it (--no-metrics:
        # without, for the cost of counting).
        if self.metrics:
            main["data_directory"] = self.data
        if self.dkim:
            main.update(self.dkim_settings())
        write_cf(os.path.join(self.conf, "main.cf"), self.main_settings(main))
        # conf/master.cf's services a relay uses, chroot off.
        services = self.front_services() + [
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write("\n".join(services) + "\n")
        self.postel("set-permissions")
        # A folder for postscreen's cache, owned by the mail owner.
        os.mkdir(self.data, 0o700)
        owner = pwd.getpwnam("postel")
        os.chown(self.data, owner.pw_uid, owner.pw_gid)
        if self.dkim:
            # cleanup reads the key as mail_owner (postel-auth(7)).
            owner = pwd.getpwnam("postel")
            os.chown(os.path.join(self.top, "dkim-%s.pem" % self.dkim),
                     owner.pw_uid, owner.pw_gid)

    def postel(self, *args):
        r = subprocess.run([os.path.join(self.build, "bin", "postel"),
                            "-c", self.conf] + list(args),
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("postel %s: %s" % (" ".join(args), r.stderr))
        return r

    def start(self):
        self.errlog = open(os.path.join(self.top, "master.stderr"), "w")
        self.proc = subprocess.Popen(
            self.start_prefix +
            [os.path.join(self.build, "bin", "postel"), "-c", self.conf,
             "start-fg"],
            stdin=subprocess.DEVNULL, stdout=self.errlog, stderr=self.errlog)

    def stop_cmd(self):
        subprocess.run([os.path.join(self.build, "bin", "postel"), "-c",
                        self.conf, "stop"], capture_output=True, timeout=60)


# ---------------------------------------------------------------------------
# /proc accounting of an MTA's process tree.

def proc_pids():
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def read_stat(pid):
    """(ppid, cpu ticks incl. reaped children, own ticks, comm) or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            head, tail = f.read().rsplit(")", 1)
    except (OSError, ValueError):
        return None
    fields = tail.split()
    # fields[0] is state (field 3); utime..cstime are fields 14..17.
    own = int(fields[11]) + int(fields[12])
    return (int(fields[1]), own + int(fields[13]) + int(fields[14]), own,
            head.split("(", 1)[-1])


def tree_stats(root):
    """{pid: read_stat(pid)} for root and all its descendants."""
    stats = {}
    for pid in proc_pids():
        s = read_stat(pid)
        if s is not None:
            stats[pid] = s
    members, todo = {}, [root]
    kids = {}
    for pid, st in stats.items():
        kids.setdefault(st[0], []).append(pid)
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in members:
            members[pid] = stats[pid]
            todo.extend(kids.get(pid, []))
    return members


def tree(root):
    """{pid: cpu_ticks} for root and all its descendants."""
    return {pid: st[1] for pid, st in tree_stats(root).items()}


def cpu_seconds(root):
    """CPU of everything root and its descendants ever used.

    A process that exits is reaped by its parent (master, a member), and
    the kernel adds its times to the parent's cutime/cstime, so the sum
    over the live tree of utime+stime+cutime+cstime never loses time.
    """
    return sum(tree(root).values()) / HZ


def mem_of(pid, pss):
    try:
        if pss:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
            return 0
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class Sampler(threading.Thread):
    """Every 100 ms: sum of RSS over the tree; every 1 s also PSS.

    It also remembers each process's own CPU ticks as last seen, for an
    approximate per-daemon breakdown (a process that exits loses at most
    its last 100 ms; the totals come from cpu_seconds, not from this).
    """

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root = root
        self.first = {pid: st[2] for pid, st in tree_stats(root).items()}
        self.last = {}
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_procs = 0
        self.stop_ev = threading.Event()

    def run(self):
        n = 0
        while not self.stop_ev.is_set():
            stats = tree_stats(self.root)
            for pid, st in stats.items():
                self.last[pid] = (st[3], st[2])
            pids = list(stats)
            self.peak_procs = max(self.peak_procs, len(pids))
            self.peak_rss = max(self.peak_rss,
                                sum(mem_of(p, False) for p in pids))
            if n % 10 == 0:
                self.peak_pss = max(self.peak_pss,
                                    sum(mem_of(p, True) for p in pids))
            n += 1
            self.stop_ev.wait(0.1)

    def stop(self):
        self.stop_ev.set()
        self.join()

    def breakdown(self):
        """{daemon name: CPU seconds} over the sampled window."""
        by = {}
        for pid, (comm, ticks) in self.last.items():
            by[comm] = by.get(comm, 0) + ticks - self.first.get(pid, 0)
        return {k: round(v / HZ, 2) for k, v in
                sorted(by.items(), key=lambda kv: -kv[1]) if v > 0}


# ---------------------------------------------------------------------------
# smtp-sink and smtp-source.

class Sink:
    """smtp-sink with -c; a thread follows its "mesg=N" counter."""

    def __init__(self, port):
        self.port = port
        self.count = 0
        self.done_at = None
        self.target = None
        self.proc = subprocess.Popen(
            [os.path.join(PF_SBIN, "smtp-sink"), "-u", "postfix", "-c",
             "127.0.0.1:%d" % port, "1024"],
            env=pf_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.follow, daemon=True)
        self.thread.start()

    def follow(self):
        pat = re.compile(rb"mesg=(\d+)")
        tail = b""
        while True:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return
            tail = (tail + chunk)[-4096:]
            found = pat.findall(tail)
            if found:
                with self.lock:
                    self.count = int(found[-1])
                    if (self.target and self.done_at is None
                            and self.count >= self.target):
                        self.done_at = time.monotonic()

    def expect(self, target):
        with self.lock:
            self.target = target
            self.done_at = None
            if self.count >= target:
                self.done_at = time.monotonic()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_phase(mta, sink, messages, rcpts, sessions, size, port=None):
    """One smtp-source run against mta (its port unless another is
    given); returns the figures."""
    base = sink.count
    sink.expect(base + messages)
    sampler = Sampler(mta.root_pid())
    sampler.start()
    cpu0 = cpu_seconds(mta.root_pid())
    argv = [os.path.join(PF_SBIN, "smtp-source"), "-s", str(sessions),
            "-m", str(messages), "-l", str(size), "-f", SENDER, "-t", RCPT]
    if rcpts > 1:
        argv += ["-r", str(rcpts)]
    argv.append("127.0.0.1:%d" % (port or mta.port))
    t0 = time.monotonic()
    src = subprocess.run(argv, env=pf_env(), capture_output=True, text=True,
                         timeout=PHASE_TIMEOUT)
    t_accept = time.monotonic() - t0
    if src.returncode != 0:
        log("smtp-source exit %d: %s" % (src.returncode, src.stderr.strip()[-500:]))
    deadline = t0 + PHASE_TIMEOUT
    while time.monotonic() < deadline:
        with sink.lock:
            done = sink.done_at
        if done is not None and mta.queue_empty():
            break
        time.sleep(0.05)
    with sink.lock:
        done = sink.done_at
        got = sink.count - base
    t_end = time.monotonic()
    cpu1 = cpu_seconds(mta.root_pid())
    sampler.stop()
    res = {
        "messages": messages, "recipients": rcpts, "sessions": sessions,
        "size": size,
        "source_rc": src.returncode,
        "accept_seconds": round(t_accept, 3),
        "accepted_per_s": round(messages / t_accept, 1),
        "sink_messages": got,
        "deferred": mta.deferred(),
        "delivered_seconds": round(done - t0, 3) if done else None,
        "delivered_per_s": round(messages / (done - t0), 1) if done else None,
        "cpu_seconds": round(cpu1 - cpu0, 2),
        "cpu_ms_per_msg": round(1000 * (cpu1 - cpu0) / messages, 3),
        "peak_rss_mb": round(sampler.peak_rss / 2**20, 1),
        "peak_pss_mb": round(sampler.peak_pss / 2**20, 1),
        "peak_procs": sampler.peak_procs,
        "processes_seen": len(sampler.last),
        "cpu_by_daemon": sampler.breakdown(),
        "window_seconds": round(t_end - t0, 3),
        "loadavg_after": os.getloadavg()[0],
    }
    return res


def bench_mta(mta, args):
    mta.setup()
    sink = Sink(mta.sink_port)
    if not wait_port(mta.sink_port):
        raise RuntimeError("smtp-sink did not start")
    mta.start()
    results = []
    try:
        if not wait_port(mta.port):
            raise RuntimeError("%s did not start: %s" % (
                mta.name, open(mta.errlog.name).read()[-2000:]))
        # Warm-up: a few messages so that every daemon has started once.
        run_phase(mta, sink, WARMUP, 1, 4, args.size)
        time.sleep(1)
        for rcpts in (1, 5):
            log("%s: %d messages, %d recipient(s), %d sessions"
                % (mta.name, args.messages, rcpts, args.sessions))
            load = os.getloadavg()[0]
            r = run_phase(mta, sink, args.messages, rcpts, args.sessions,
                          args.size)
            r["mta"] = mta.name
            r["loadavg_before"] = load
            log(json.dumps(r))
            results.append(r)
            time.sleep(2)
        if mta.ps_port:
            results += postscreen_rounds(mta, sink, args)
    finally:
        mta.stop()
        sink.stop()
    # The log should hold one status=sent line per recipient delivered.
    sent = 0
    try:
        with open(mta.maillog, errors="replace") as f:
            sent = sum(1 for line in f if "status=sent" in line)
    except OSError:
        pass
    expected = WARMUP + sum(args.messages * r for r in (1, 5))
    if mta.ps_port:
        expected += WARMUP + 2 * sum(ps_round_size(args) * PS_ROUNDS * r
                                     for r in (1, 5))
    signed = 0
    if getattr(mta, "dkim", None):
        # Proof that the signing runs signed: one log line per signature.
        with open(mta.maillog, errors="replace") as f:
            signed = sum(1 for line in f
                         if "DKIM-Signature field added" in line)
        log("%s: %d of %d messages signed" % (
            mta.name, signed, WARMUP + 2 * args.messages))
    # With postscreen: how many connections passed how.
    passes = {"CONNECT": 0, "PASS NEW": 0, "PASS OLD": 0}
    if mta.postscreen is not None:
        with open(mta.maillog, errors="replace") as f:
            for line in f:
                for k in passes:
                    if "postscreen[" in line and (": %s [" % k in line or
                                                  ": %s from [" % k in line):
                        passes[k] += 1
        # Postfix looks a client up in the cache only when it has no other
        # connection in postscreen at that moment; the others are handed
        # on with the results in memory, without a PASS line.
        log("%s: %d CONNECT, %d PASS NEW, %d PASS OLD lines "
            "(%d connections measured, %d in the warm-up)"
            % (mta.name, passes["CONNECT"], passes["PASS NEW"],
               passes["PASS OLD"], 2 * ps_round_size(args) * PS_ROUNDS,
               WARMUP))
    for r in results:
        r["postscreen"] = mta.postscreen is not None
        r["ps_connect"] = passes["CONNECT"]
        r["pass_new"] = passes["PASS NEW"]
        r["pass_old"] = passes["PASS OLD"]
        r["maillog_status_sent"] = sent
        r["status_sent_expected"] = expected
        r["dkim"] = getattr(mta, "dkim", None)
        r["dkim_signed"] = signed
    log("%s: %d of %d status=sent lines in its log" % (mta.name, sent,
                                                       expected))
    return results


def ps_round_size(args):
    return max(1, args.messages // PS_ROUNDS)


def postscreen_rounds(mta, sink, args):
    """The same workload on the plain port and on the postscreen port of
    one instance, in alternating rounds (plain first, then postscreen
    first, ...), so that other load on the machine falls on both sides
    alike.  Returns one summed result per side and recipient count."""
    log("%s: warming postscreen's cache on port %d" % (mta.name, mta.ps_port))
    run_phase(mta, sink, WARMUP, 1, 4, args.size, port=mta.ps_port)
    time.sleep(1)
    per = ps_round_size(args)
    out = []
    for rcpts in (1, 5):
        log("%s: %d rounds of %d messages, %d recipient(s), on the plain "
            "and the postscreen port in turn" % (mta.name, PS_ROUNDS, per,
                                                 rcpts))
        runs = {"plain": [], "postscreen": []}
        load = os.getloadavg()[0]
        for n in range(PS_ROUNDS):
            order = [("plain", mta.port), ("postscreen", mta.ps_port)]
            if n % 2:
                order.reverse()
            for side, port in order:
                runs[side].append(run_phase(mta, sink, per, rcpts,
                                            args.sessions, args.size,
                                            port=port))
                time.sleep(1)
        for side, rs in runs.items():
            msgs = sum(r["messages"] for r in rs)
            acc = sum(r["accept_seconds"] for r in rs)
            dl = [r["delivered_seconds"] for r in rs]
            cpu = sum(r["cpu_seconds"] for r in rs)
            own = sum(r["cpu_by_daemon"].get("postscreen", 0) for r in rs)
            by_daemon = {}
            for r in rs:
                for k, v in r["cpu_by_daemon"].items():
                    by_daemon[k] = round(by_daemon.get(k, 0) + v, 2)
            res = {
                "mta": "%s:alt-%s" % (mta.name, side),
                "rounds": len(rs), "messages": msgs, "recipients": rcpts,
                "sessions": args.sessions, "size": args.size,
                "source_rc": max(r["source_rc"] for r in rs),
                "accept_seconds": round(acc, 3),
                "accepted_per_s": round(msgs / acc, 1),
                "sink_messages": sum(r["sink_messages"] for r in rs),
                "delivered_seconds": None if None in dl else round(sum(dl), 3),
                "delivered_per_s": None if None in dl else
                round(msgs / sum(dl), 1),
                "cpu_seconds": round(cpu, 2),
                "cpu_ms_per_msg": round(1000 * cpu / msgs, 3),
                "postscreen_cpu_seconds": round(own, 2),
                "cpu_by_daemon": dict(sorted(by_daemon.items(),
                                             key=lambda kv: -kv[1])),
                "peak_pss_mb": max(r["peak_pss_mb"] for r in rs),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                "loadavg_before": load,
                "loadavg_after": os.getloadavg()[0],
                "per_round_cpu_ms_per_msg": [r["cpu_ms_per_msg"] for r in rs],
            }
            log(json.dumps(res))
            out.append(res)
    return out


def ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def report(results, args, deb, load_start):
    by = {(r["mta"], r["recipients"]): r for r in results}
    rows = [("accepted msgs/s", "accepted_per_s", True),
            ("delivered msgs/s", "delivered_per_s", True),
            ("MTA CPU seconds", "cpu_seconds", False),
            ("peak RSS MiB", "peak_rss_mb", False),
            ("peak PSS MiB", "peak_pss_mb", False)]
    out = []
    out.append("%d messages x %d bytes, %d sessions, %s, load at start %.2f"
               % (args.messages, args.size, args.sessions, deb, load_start))
    for rcpts in (1, 5):
        pe, pf = by.get(("postel", rcpts)), by.get(("postfix", rcpts))
        if not pe or not pf:
            continue
        out.append("")
        out.append("%d recipient(s)/message  %12s %12s %8s %s" % (
            rcpts, "Postel", "Postfix", "ratio", "(better)"))
        for label, key, higher in rows:
            r = ratio(pe[key], pf[key])
            better = "" if r is None else (
                "Postel" if (r > 1) == higher and r != 1 else
                ("equal" if r == 1 else "Postfix"))
            out.append("  %-22s %12s %12s %8s %s" % (
                label, pe[key], pf[key], r, better))
    # DKIM signing: each signed Postel run next to the unsigned one.
    for alg in args.dkim:
        for rcpts in (1, 5):
            base, signed = by.get(("postel", rcpts)), \
                by.get(("postel+" + alg, rcpts))
            if not base or not signed:
                continue
            out.append("")
            out.append("%d recipient(s)/message  %12s %12s %8s" % (
                rcpts, "unsigned", "+" + alg, "ratio"))
            for label, key, _ in rows[:3] + [("MTA CPU ms/msg",
                                             "cpu_ms_per_msg", False)]:
                out.append("  %-22s %12s %12s %8s" % (
                    label, base[key], signed[key],
                    ratio(signed[key], base[key])))
            out.append("  %-22s %12s %12s" % (
                "signing CPU ms/msg", "",
                round(signed["cpu_ms_per_msg"] - base["cpu_ms_per_msg"], 3)))
            out.append("  %-22s %12s %12s" % (
                "messages signed", "", signed["dkim_signed"]))
    if args.postscreen:
        out += postscreen_report(by)
    return "\n".join(out)


def postscreen_report(by):
    """Each MTA's postscreen port next to its plain port (alternating
    rounds on one instance): the CPU a connection costs more (smtp-source
    makes one connection per message)."""
    out = []
    for rcpts in (1, 5):
        cols = []
        for mta in ("postfix", "postel"):
            plain, ps = by.get((mta + ":alt-plain", rcpts)), \
                by.get((mta + ":alt-postscreen", rcpts))
            if plain and ps:
                cols.append((mta, plain, ps))
        if not cols:
            continue
        out.append("")
        out.append("postscreen, %d recipient(s)/message, %d connections "
                   "each side in %d alternating rounds" % (
                       rcpts, cols[0][1]["messages"], cols[0][1]["rounds"]))
        head = "  %-26s" % ""
        for mta, _, _ in cols:
            head += " %9s %11s %6s" % (mta.capitalize(), "+postscreen",
                                        "ratio")
        out.append(head)

        def row(label, fn, show_ratio=True):
            text = "  %-26s" % label
            for _, plain, ps in cols:
                a, b = fn(plain), fn(ps)
                text += " %9s %11s %6s" % (
                    "" if a is None else a, b,
                    ratio(b, a) if show_ratio and a is not None else "")
            return text

        out.append(row("accepted msgs/s", lambda r: r["accepted_per_s"]))
        out.append(row("delivered msgs/s", lambda r: r["delivered_per_s"]))
        out.append(row("MTA CPU ms/connection",
                       lambda r: r["cpu_ms_per_msg"]))
        out.append(row("  range over the rounds", lambda r: "%s-%s" % (
            min(r["per_round_cpu_ms_per_msg"]),
            max(r["per_round_cpu_ms_per_msg"])), False))
        out.append(row("peak PSS MiB", lambda r: r["peak_pss_mb"]))
        text = "  %-26s" % "postscreen cost ms/conn"
        for _, plain, ps in cols:
            text += " %9s %11s %6s" % (
                "", round(ps["cpu_ms_per_msg"] - plain["cpu_ms_per_msg"], 3),
                "")
        out.append(text)
        text = "  %-26s" % "postscreen's own ms/conn"
        for _, plain, ps in cols:
            text += " %9s %11s %6s" % (
                "", round(1000 * ps["postscreen_cpu_seconds"] /
                          ps["messages"], 3), "")
        out.append(text)
    for rcpts in (1, 5):
        pf = [by.get(("postfix:alt-plain", rcpts)),
              by.get(("postfix:alt-postscreen", rcpts))]
        pe = [by.get(("postel:alt-plain", rcpts)),
              by.get(("postel:alt-postscreen", rcpts))]
        if None in pf + pe:
            continue
        cf = pf[1]["cpu_ms_per_msg"] - pf[0]["cpu_ms_per_msg"]
        ce = pe[1]["cpu_ms_per_msg"] - pe[0]["cpu_ms_per_msg"]
        out.append("  %d rcpt, Postel/Postfix: postscreen cost per "
                   "connection %s, postscreen's own CPU %s"
                   % (rcpts, ratio(ce, cf) if cf > 0 else "n/a",
                      ratio(pe[1]["postscreen_cpu_seconds"],
                            pf[1]["postscreen_cpu_seconds"])))
    counts = sorted({(r["mta"].split(":")[0], r["ps_connect"], r["pass_new"],
                      r["pass_old"]) for r in by.values()
                     if r.get("postscreen")})
    for mta, c, pn, po in counts:
        out.append("  %s: postscreen logged %d CONNECT, %d PASS NEW, %d "
                   "PASS OLD (warm-up included)" % (mta, c, pn, po))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="1,000 messages instead of 10,000")
    ap.add_argument("--messages", type=int, default=None)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--size", type=int, default=5120)
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="Postel build folder (default: build/)")
    ap.add_argument("--only", choices=("postel", "postfix"))
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary folder (logs, queues)")
    ap.add_argument("--json", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--dkim", default="",
                    help="also run Postel signing every message, once per "
                    "algorithm listed: rsa (RSA-2048), ed25519")
    ap.add_argument("--no-metrics", action="store_true",
                    help="run Postel without its metrics table (no "
                    "data_directory), to measure what counting costs")
    ap.add_argument("--postscreen", action="store_true",
                    help="also run each MTA with postscreen in front of "
                    "smtpd and report its cost per connection")
    args = ap.parse_args()
    Postel.metrics = not args.no_metrics
    args.dkim = [a for a in args.dkim.replace(",", " ").split() if a]
    if any(a not in ("rsa", "ed25519") for a in args.dkim):
        sys.exit("bench.py: --dkim takes rsa and/or ed25519")
    if args.messages is None:
        args.messages = 1000 if args.quick else 10000
    if os.geteuid() != 0:
        sys.exit("bench.py: must run as root (both MTAs start as root)")
    if not os.path.exists(os.path.join(args.build, "libexec", "smtpd")):
        sys.exit("bench.py: no Postel build in %s (run make)" % args.build)
    if args.postscreen and args.only != "postfix" and not os.path.exists(
            os.path.join(args.build, "libexec", "postscreen")):
        sys.exit("bench.py: no postscreen in %s/libexec (run make)"
                 % args.build)
    deb = fetch_postfix()
    ensure_accounts()
    load_start = os.getloadavg()[0]
    log("load average %.2f; %s" % (load_start, deb))
    top = tempfile.mkdtemp(prefix="postel-bench-")
    os.chmod(top, 0o755)
    results = []
    try:
        ps = BENCH_POSTSCREEN if args.postscreen else None
        if args.only != "postel":
            results += bench_mta(Postfix(top, free_port(), free_port(),
                                         postscreen=ps,
                                         ps_port=ps and free_port()), args)
        if args.only != "postfix":
            results += bench_mta(Postel(top, free_port(), free_port(),
                                        os.path.abspath(args.build),
                                        postscreen=ps,
                                        ps_port=ps and free_port()), args)
            for alg in args.dkim:
                results += bench_mta(Postel(top, free_port(), free_port(),
                                            os.path.abspath(args.build),
                                            dkim=alg), args)
    finally:
        if args.keep:
            log("kept %s" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    text = report(results, args, deb, load_start)
    print(text)
    with open(args.json, "w") as f:
        json.dump({"deb": deb, "load_start": load_start,
                   "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                   "nproc": os.cpu_count(), "results": results,
                   "table": text}, f, indent=1)


if __name__ == "__main__":
    main()
