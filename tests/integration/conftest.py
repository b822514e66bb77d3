# Shared fixtures for Postel's integration tests.
#
# Every test that starts a server stops it; every wait is bounded.  Instance
# folders live in a world-traversable temporary folder so that daemons that
# drop privileges to mail_owner can still reach their queue.
#
# SPDX-License-Identifier: ISC
import functools
import glob
import importlib
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
SAN = os.environ.get("POSTEL_SAN", "0") == "1"


# ---------------------------------------------------------------------------
# The build must be complete: a missing program fails the whole run at once,
# naming it, instead of each module skipping its tests.  The expected names
# follow the Makefile's layout rules, read from the source tree.

def expected_programs():
    """Paths under BUILD that `make all` and the test services produce."""
    want = []
    for src in sorted(glob.glob(os.path.join(REPO, "*", "*.c"))):
        folder, name = os.path.basename(os.path.dirname(src)), \
            os.path.basename(src)[:-2]
        if folder in ("admin", "sendmail"):
            # Helpers, as the Makefile's CMD_MAIN_SRC filter has them.
            if not name.startswith(folder + "_") and \
                    not name.startswith("admin_") and \
                    not name.startswith("postdrop_"):
                want.append(os.path.join(BIN, name))
        elif folder == name:
            want.append(os.path.join(LIBEXEC, name))
    for src in sorted(glob.glob(os.path.join(REPO, "tests", "services",
                                             "*.c"))):
        want.append(os.path.join(BUILD, "tests", "services",
                                 os.path.basename(src)[:-2]))
    want += [os.path.join(BIN, "newaliases"), os.path.join(BIN, "mailq")]
    return want


def pytest_sessionstart(session):
    missing = [p for p in expected_programs()
               if not os.access(p, os.X_OK)]
    if missing:
        pytest.exit("the build is incomplete (run make all and the test "
                    "services first): missing %s" % ", ".join(missing),
                    returncode=3)


# ---------------------------------------------------------------------------
# Tools and modules from Debian packages.  mk/deps.sh installs them; each
# is checked once per session, and a test that needs a missing one FAILS
# naming the package (never skips): `@pytest.mark.needs("swaks_tls")`, on
# a test or as a module's pytestmark, or require("swaks_tls") in a body.

def tool_path(name):
    """A packaged program's path, also from the sbin folders that an
    ordinary user's PATH leaves out on Debian (saslpasswd2, useradd)."""
    path = os.environ.get("PATH", os.defpath) + ":/usr/sbin:/sbin"
    return shutil.which(name, path=path) or name


def _which(name):
    return lambda: os.path.isabs(tool_path(name))


def _path(path):
    return lambda: os.path.exists(path)


def _sasl_plugin(name):
    return lambda: bool(glob.glob("/usr/lib/*/sasl2/lib%s.so*" % name)) \
        or bool(glob.glob("/usr/lib/sasl2/lib%s.so*" % name))


def _perl_module(name):
    def check():
        try:
            return subprocess.run(["perl", "-M" + name, "-e", "1"],
                                  capture_output=True,
                                  timeout=30).returncode == 0
        except FileNotFoundError:
            return False
    return check


def _py_module(name):
    def check():
        try:
            importlib.import_module(name)
            return True
        except ImportError:
            return False
    return check


def _swaks_supports(feature):
    """swaks --support says "=== FEATURE supported" for what it can do."""
    try:
        r = subprocess.run(["swaks", "--support"], capture_output=True,
                           text=True, timeout=30)
    except FileNotFoundError:
        return False
    return "=== %s supported" % feature in r.stdout + r.stderr


# name: (what is missing, Debian package, check)
DEPENDENCIES = {
    # Not a package: accounts, chroot and privilege drops need root, as
    # the installed system has it; .ci/run runs the suite as root.
    "root": ("root privileges (run the suite as root, as .ci/run does)",
             None, lambda: os.geteuid() == 0),
    "openssl": ("the openssl command", "openssl", _which("openssl")),
    "gnu_time": ("GNU time (/usr/bin/time -f %M: peak memory)", "time",
                 _path("/usr/bin/time")),
    "nginx": ("nginx", "nginx", _which("nginx")),
    "swaks": ("swaks", "swaks", _which("swaks")),
    "swaks_tls": ("swaks TLS support", "libnet-ssleay-perl",
                  lambda: _swaks_supports("TLS")),
    "testssl": ("testssl.sh", "testssl.sh", _which("testssl")),
    "testssl_hexdump": ("hexdump, which testssl.sh needs", "bsdextrautils",
                        _which("hexdump")),
    "testssl_dig": ("dig, which testssl.sh needs", "dnsutils",
                    _which("dig")),
    "testssl_ps": ("ps, which testssl.sh needs", "procps", _which("ps")),
    "db_dump": ("db5.3_dump", "db5.3-util", _which("db5.3_dump")),
    "mdb_dump": ("mdb_dump", "lmdb-utils", _which("mdb_dump")),
    "saslpasswd2": ("saslpasswd2", "sasl2-bin", _which("saslpasswd2")),
    "sasl_sasldb": ("the Cyrus SASL sasldb plugin", "libsasl2-modules-db",
                    _sasl_plugin("sasldb")),
    "sasl_mechs": ("the Cyrus SASL PLAIN/LOGIN/CRAM-MD5/SCRAM plugins",
                   "libsasl2-modules",
                   lambda: all(_sasl_plugin(m)() for m in
                               ("plain", "login", "crammd5", "scram"))),
    "dovecot": ("dovecot, doveadm and the quota plugin", "dovecot-core",
                lambda: _which("dovecot")() and _which("doveadm")()
                and _path("/usr/lib/dovecot/modules/"
                          "lib10_quota_plugin.so")()),
    "dovecot_lmtp": ("dovecot's LMTP server", "dovecot-lmtpd",
                     _path("/usr/lib/dovecot/lmtp")),
    "dovecot_lda": ("dovecot's delivery agent dovecot-lda", "dovecot-core",
                    _path("/usr/lib/dovecot/dovecot-lda")),
    "pflogsumm": ("pflogsumm", "pflogsumm", _which("pflogsumm")),
    "pflogsumm_date_calc": ("Perl Date::Calc, which pflogsumm needs",
                            "libdate-calc-perl", _perl_module("Date::Calc")),
    "aiosmtpd": ("the Python module aiosmtpd", "python3-aiosmtpd",
                 _py_module("aiosmtpd")),
    "dnslib": ("the Python module dnslib", "python3-dnslib",
               _py_module("dnslib")),
    "dkimpy": ("the Python module dkim (dkimpy)", "python3-dkim",
               _py_module("dkim")),
    "nacl": ("the Python module nacl, for dkimpy's Ed25519", "python3-nacl",
             _py_module("nacl")),
    "authres": ("the Python module authres", "python3-authres",
                _py_module("authres")),
    "spf_engine": ("the Python module spf_engine, policyd-spf's engine",
                   "python3-spf-engine", _py_module("spf_engine")),
    "dnspython": ("the Python module dns (dnspython)", "python3-dnspython",
                  _py_module("dns.resolver")),
    "opendkim": ("opendkim", "opendkim", _which("opendkim")),
    "pymilter": ("the Python module Milter (pymilter)", "python3-milter",
                 _py_module("Milter")),
    "rspamd": ("rspamd", "rspamd", _which("rspamd")),
    "opendkim_tools": ("opendkim-testmsg", "opendkim-tools",
                       _which("opendkim-testmsg")),
    "publicsuffix": ("the public suffix list", "publicsuffix",
                     _path("/usr/share/publicsuffix/"
                           "public_suffix_list.dat")),
    "runuser": ("runuser", "util-linux", _which("runuser")),
    "useradd": ("useradd and userdel", "passwd",
                lambda: _which("useradd")() and _which("userdel")()),
    "readelf": ("readelf", "binutils", _which("readelf")),
    "postsrsd": ("postsrsd", "postsrsd", _path("/usr/sbin/postsrsd")),
    "postgresql": ("PostgreSQL's initdb and pg_ctl", "postgresql",
                   lambda: bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))),
    "slapd": ("slapd and slapadd", "slapd",
              lambda: _which("slapd")() and _which("slapadd")()),
    "ldap_utils": ("ldapsearch", "ldap-utils", _which("ldapsearch")),
    "fail2ban_regex": ("fail2ban-regex and its shipped postfix filter",
                       "fail2ban",
                       lambda: _which("fail2ban-regex")() and _path(
                           "/etc/fail2ban/filter.d/postfix.conf")()),
    "haproxy": ("haproxy", "haproxy", _which("haproxy")),
    "prometheus_client": ("the Python module prometheus_client",
                          "python3-prometheus-client",
                          _py_module("prometheus_client.parser")),
    "prometheus": ("the prometheus server", "prometheus",
                   _path("/usr/bin/prometheus")),
    # make deb: dpkg-buildpackage (dpkg-dev) runs debhelper's dh; the
    # package is checked with lintian.
    "dpkg_dev": ("dpkg-buildpackage", "dpkg-dev",
                 _which("dpkg-buildpackage")),
    "debhelper": ("debhelper's dh", "debhelper", _which("dh")),
    "lintian": ("lintian", "lintian", _which("lintian")),
}


@functools.lru_cache(maxsize=None)
def dependency_problem(name):
    """None when dependency `name` is present, else the failure text."""
    what, package, check = DEPENDENCIES[name]
    if check():
        return None
    if package is None:
        return "this test needs %s" % what
    return "missing %s: install %s (make deps)" % (what, package)


def require(*names):
    """Fail the calling test unless every named dependency is present."""
    problems = [p for p in map(dependency_problem, names) if p]
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


def missing_module(dependency):
    """The ImportError to raise when a test module cannot import a Python
    module: its collection then fails naming the package."""
    return ImportError(dependency_problem(dependency)
                       or "cannot import %s" % dependency)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs(*names): Debian-packaged tools the test needs "
        "(conftest.DEPENDENCIES); a missing one fails the test")


def pytest_runtest_setup(item):
    names = []
    for mark in item.iter_markers(name="needs"):
        names.extend(mark.args)
    if names:
        require(*names)


class ContentSink:
    """aiosmtpd handler for a relay sink: keeps each message's bytes as
    received (original_content, so SMTPUTF8 and 8-bit data stay as
    sent)."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content or envelope.content)
        return "250 2.0.0 Ok"


def bin_path(name):
    """Path of a built command (build/bin/NAME)."""
    return os.path.join(BIN, name)


def run_cmd(args, check=False, input=None, env=None, timeout=60):
    """Run a built command; args[0] is a command name under build/bin."""
    argv = [bin_path(args[0])] + list(args[1:])
    return subprocess.run(argv, input=input, capture_output=True, text=True,
                          env=env, timeout=timeout, check=check)


def stage_commands(workdir, names):
    """Copy built commands into workdir/bin (mode 0755) and return that
    folder: a program run as another user (runuser -u nobody) must be
    reachable by that user, and the clone's build/ may sit in a folder
    only its owner can enter (root's home, a mktemp -d).  Point
    command_directory there and `postel set-permissions` gives postdrop
    its setgid group as it would in an installed system."""
    folder = os.path.join(workdir, "bin")
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o755)
    for name in names:
        shutil.copy(bin_path(name), os.path.join(folder, name))
        os.chmod(os.path.join(folder, name), 0o755)
    return folder


def maillog(inst):
    """What postlogd wrote so far to inst.maillog (the test's
    maillog_file), or "" before its first line."""
    try:
        with open(inst.maillog) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def close_listener(sock):
    """Close a listening socket that a thread may be blocked in accept()
    on.  close() alone leaves that accept() waiting on the old socket, so
    the port keeps listening for the rest of the run and the thread may
    later answer somebody else's connection; shutdown() first wakes it
    with an error and frees the port."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


_ports_given = set()


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on host and that this run has
    not handed out before. The kernel may offer the same ephemeral port to
    two binds in a row once the first socket is closed, so a test asking
    for two ports could get one port twice (master.cf then holds a
    duplicate service)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("free_port: no unused port in 200 tries")


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


def wait_smtp(instance, port, timeout=10):
    """Wait until an SMTP server answers on 127.0.0.1:port (a greeting and
    QUIT), failing with the instance's log after timeout seconds."""
    import smtplib

    def up():
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=2).quit()
            return True
        except OSError:
            return False
    assert wait_for(up, timeout), instance.read_log()


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
            # postel check makes it (mail_owner, 0700); never the host's.
            "data_directory": os.path.join(workdir, "data"),
            "daemon_directory": LIBEXEC,
            "command_directory": BIN,
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            # No test reaches a real DNS server: inbound mail gets SPF
            # (and DKIM/DMARC) lookups; a test with DNS sets its own.
            "dns_nameservers": "127.0.0.1:9",
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
        # The pid file exists before the listeners: wait for both.
        assert wait_for(lambda: "daemon started" in self.read_log()
                        or self.fg.poll() is not None), self.read_log()
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
        """postel reload; with a foreground master, also wait until master
        logged that the reload is done."""
        done = "reload -- configuration"
        before = self.read_log().count(done)
        r = self.postel("reload")
        assert r.returncode == 0, r.stderr
        if self.fg is not None:
            assert wait_for(lambda: self.read_log().count(done) > before), \
                self.read_log()

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

    def connect_unix_when_listening(self, name, private=True, timeout=10):
        """connect_unix, retried until master listens on the socket.

        master binds a service socket (the name appears) and then
        listens; a connect between the two is refused.  Tests that wait
        for a socket master adds on reload use this, with a deadline.
        """
        def attempt():
            try:
                return self.connect_unix(name, private, timeout)
            except ConnectionRefusedError:
                return None
        s = wait_for(attempt, timeout=timeout)
        assert s, "nothing listens on %s" % self.unix_path(name, private)
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
