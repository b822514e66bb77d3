"""A throw-away PostgreSQL server for the pgsql: table tests.

Debian's postgresql package: initdb and pg_ctl from
/usr/lib/postgresql/*/bin.  The server refuses to run as root, so it runs
as an unprivileged account made here (useradd) and removed at stop.  Its
data lives in a temporary folder; it listens only on a unix socket in
that folder (listen_addresses empty), with trust authentication for
local connections, so the mail_owner role (and the admin role the test
uses) log in without a password.

    pg = PgsqlPeer(roles=["postel"]); pg.start()
    pg.sql("CREATE TABLE ...")       # as the admin role, database "mail"
    pg.stop(); pg.start()            # the database down and back
    pg.cleanup()                     # stop, remove the folder and account

SPDX-License-Identifier: ISC
"""
import glob
import os
import secrets
import shutil
import subprocess
import tempfile

ADMIN = "pgadmin"
DBNAME = "mail"
PORT = 5432


def pg_bindir():
    """The newest /usr/lib/postgresql/N/bin holding initdb, or None."""
    dirs = [d for d in glob.glob("/usr/lib/postgresql/*/bin")
            if os.path.exists(os.path.join(d, "initdb"))]
    if not dirs:
        return None
    return max(dirs, key=lambda d: int(d.split("/")[-2].split(".")[0]))


def available():
    return pg_bindir() is not None


class PgsqlPeer:
    def __init__(self, roles=()):
        self.bindir = pg_bindir()
        assert self.bindir, "postgresql's initdb not found (make deps)"
        self.roles = list(roles)
        self.user = "pgt%s" % secrets.token_hex(4)
        self.dir = tempfile.mkdtemp(prefix="postel-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "server.log")
        self.made_user = False
        self.initialised = False

    # The socket folder is the host for libpq ("hosts = /dir").
    @property
    def socket_dir(self):
        return self.dir

    def _as_user(self, argv, check=True, timeout=60):
        r = subprocess.run(["runuser", "-u", self.user, "--"] + argv,
                           capture_output=True, text=True, timeout=timeout,
                           cwd=self.dir)
        if check and r.returncode != 0:
            raise AssertionError("%s failed: %s%s\n%s" % (
                argv[0], r.stdout, r.stderr, self.read_log()))
        return r

    def _tool(self, name):
        return os.path.join(self.bindir, name)

    def read_log(self):
        try:
            with open(self.logfile) as f:
                return f.read()
        except OSError:
            return ""

    def _init(self):
        subprocess.run(["useradd", "-M", "-d", self.dir, "-U", self.user],
                       check=True, capture_output=True)
        self.made_user = True
        shutil.chown(self.dir, self.user, self.user)
        self._as_user([self._tool("initdb"), "-D", self.data, "-U", ADMIN,
                       "-A", "trust", "-E", "UTF8", "--locale=C"],
                      timeout=180)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = ''\n"
                    "unix_socket_directories = '%s'\n"
                    "port = %d\nfsync = off\n" % (self.dir, PORT))
        self.initialised = True

    def start(self):
        if not self.initialised:
            self._init()
        self._as_user([self._tool("pg_ctl"), "-D", self.data, "-l",
                       self.logfile, "-w", "-t", "60", "start"], timeout=90)
        if not getattr(self, "db_made", False):
            self.psql("CREATE DATABASE %s" % DBNAME, db="postgres")
            for role in self.roles:
                self.psql("CREATE ROLE %s LOGIN" % role, db="postgres")
            self.db_made = True

    def stop(self):
        if self.initialised and os.path.exists(
                os.path.join(self.data, "postmaster.pid")):
            self._as_user([self._tool("pg_ctl"), "-D", self.data, "-m",
                           "fast", "-w", "-t", "60", "stop"], check=False,
                          timeout=90)

    def psql(self, sql, db=DBNAME):
        """Run sql as the admin role; the output (unaligned, no headers)."""
        r = self._as_user([self._tool("psql"), "-h", self.dir, "-p", str(PORT), "-U",
                           ADMIN, "-d", db, "-v", "ON_ERROR_STOP=1", "-qAt",
                           "-c", sql])
        return r.stdout

    def cleanup(self):
        try:
            self.stop()
        finally:
            if self.made_user:
                subprocess.run(["userdel", "-f", self.user],
                               capture_output=True)
            shutil.rmtree(self.dir, ignore_errors=True)
