# Shared fixtures for Postel's integration tests.
#
# Every test that starts a server stops it; every wait is bounded.  Instance
# folders live in a world-traversable temporary folder so that daemons that
# drop privileges to mail_owner can still reach their queue.
#
# SPDX-License-Identifier: ISC
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("POSTEL_BUILD", os.path.join(REPO, "build"))
BIN = os.path.join(BUILD, "bin")
LIBEXEC = os.path.join(BUILD, "libexec")


def bin_path(name):
    """Path of a built command (build/bin/NAME)."""
    return os.path.join(BIN, name)


def run_cmd(args, check=False, input=None, env=None, timeout=60):
    """Run a built command; args[0] is a command name under build/bin."""
    argv = [bin_path(args[0])] + list(args[1:])
    return subprocess.run(argv, input=input, capture_output=True, text=True,
                          env=env, timeout=timeout, check=check)


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on host."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture
def workdir():
    """A fresh folder, mode 0755, removed after the test."""
    path = tempfile.mkdtemp(prefix="postel-test-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------
# A Postel instance: config folder, queue and master, in a workdir.

SERVICES = os.path.join(BUILD, "tests", "services")


def service_path(name):
    """Path of a test service program (build/tests/services/NAME)."""
    return os.path.join(SERVICES, name)


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll predicate until it returns a true value or timeout seconds pass."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def proc_alive(pid):
    """True when pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def proc_children(ppid):
    """Live (non-zombie) processes whose parent is ppid."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] != "Z" and int(fields[1]) == ppid:
            kids.append(int(entry))
    return kids


def procs_mentioning(text):
    """Live processes whose command line contains text."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if text in cmdline and proc_alive(int(entry)):
            found.append(int(entry))
    return found


class Instance:
    """A throw-away Postel instance under workdir.

    etc/ holds main.cf and master.cf, spool/ is queue_directory; daemons
    come from build/libexec, commands from build/bin, test services are
    named by absolute path in master.cf.  start() runs `postel start`
    (background) or, with foreground=True, `postel start-fg` with master's
    log lines (stderr) in log_path.  Teardown always stops it and kills
    whatever still mentions the config folder.
    """

    def __init__(self, workdir):
        self.workdir = workdir
        self.confdir = os.path.join(workdir, "etc")
        self.queue = os.path.join(workdir, "spool")
        self.log_path = os.path.join(workdir, "master.log")
        self.fg = None
        os.makedirs(self.confdir, exist_ok=True)
        self.main = {
            "queue_directory": self.queue,
            "daemon_directory": LIBEXEC,
            "command_directory": BIN,
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
        }
        self.services = []

    # -- configuration ---------------------------------------------------
    def write_config(self, main=None, services=None):
        """Write main.cf (self.main updated by main) and master.cf."""
        if main:
            self.main.update(main)
        if services is not None:
            self.services = list(services)
        with open(os.path.join(self.confdir, "main.cf"), "w") as f:
            for name, value in self.main.items():
                f.write("%s = %s\n" % (name, value))
        with open(os.path.join(self.confdir, "master.cf"), "w") as f:
            f.write("# service type private unpriv chroot wakeup maxproc command\n")
            for line in self.services:
                f.write(line + "\n")

    # -- commands ----------------------------------------------------------
    def postel(self, *args, timeout=60):
        return run_cmd(["postel", "-c", self.confdir] + list(args),
                       timeout=timeout)

    def set_permissions(self):
        r = self.postel("set-permissions")
        assert r.returncode == 0, r.stderr

    def start(self, foreground=False):
        if os.geteuid() == 0:
            self.set_permissions()
        if not foreground:
            r = self.postel("start")
            assert r.returncode == 0, r.stderr
            return r
        self.log = open(self.log_path, "w")
        self.fg = subprocess.Popen(
            [bin_path("postel"), "-c", self.confdir, "start-fg"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        assert wait_for(lambda: self.master_pid() or self.fg.poll() is not None), \
            "master did not start"
        assert self.master_pid(), self.read_log()
        return None

    def read_log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        r = self.postel("stop")
        if self.fg is not None:
            try:
                self.fg.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.fg.kill()
                self.fg.wait(timeout=5)
            self.fg = None
            self.log.close()
        return r

    def reload(self):
        r = self.postel("reload")
        assert r.returncode == 0, r.stderr

    # -- inspection --------------------------------------------------------
    @property
    def pid_file(self):
        return os.path.join(self.queue, "pid", "master.pid")

    def master_pid(self):
        """Pid of the running master (from the pid file), or None."""
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid and proc_alive(pid) else None

    def children(self):
        pid = self.master_pid()
        return proc_children(pid) if pid else []

    def unix_path(self, name, private=True):
        return os.path.join(self.queue, "private" if private else "public", name)

    def connect_unix(self, name, private=True, timeout=10):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.unix_path(name, private))
        return s

    def cleanup(self):
        try:
            if self.master_pid():
                self.stop()
        finally:
            if self.fg is not None:
                self.fg.kill()
                self.fg.wait(timeout=5)
                self.log.close()
            import signal
            for pid in procs_mentioning(self.confdir):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def instance(workdir):
    """An Instance (not started) that is always stopped at teardown."""
    inst = Instance(workdir)
    yield inst
    inst.cleanup()


def read_greeting(sock):
    """Read "pid N\\n" from an echo service and return N."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(100)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"pid "), data
    return int(data.split()[1])
