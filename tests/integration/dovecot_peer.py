# A throw-away Dovecot (Debian's dovecot-core, dovecot-lmtpd) for the
# Dovecot tests: its own config, base_dir, state and log in a folder; a
# passwd-file as passdb and userdb; the mailboxes (Maildir) of every user
# belong to one system account made for the run (useradd, removed by
# stop()); the quota plugin on, with per-user quota rules.
#
# Listeners, each optional: the auth client socket (smtpd_sasl_type =
# dovecot) at a path the caller names, usually an instance's
# queue_directory/private/auth, owned by mail_owner as Debian sets it up
# for Postfix, and/or on 127.0.0.1:port; LMTP on a unix socket and/or
# 127.0.0.1:port, with STARTTLS when a certificate is given.
#
# Dovecot refuses to run its mail processes as root, hence the account;
# the master runs as root like Debian's.  stop() terminates the master
# (and so every Dovecot process it started) and removes the account.
#
# SPDX-License-Identifier: ISC
import os
import pwd
import secrets
import signal
import subprocess

from conftest import proc_alive, proc_children, tool_path, wait_for

CONF = """
base_dir = %(w)s/run
state_dir = %(w)s/state
log_path = %(w)s/dovecot.log
protocols = lmtp
listen = 127.0.0.1
auth_username_format = %%Ln
auth_mechanisms = plain login
disable_plaintext_auth = no
first_valid_uid = %(uid)d
last_valid_uid = %(uid)d
mail_location = maildir:~/Maildir
mail_plugins = quota
lmtp_rcpt_check_quota = no
%(ssl)s
passdb {
  driver = passwd-file
  args = %(w)s/users
}
userdb {
  driver = passwd-file
  args = %(w)s/users
}
service auth {
%(auth)s
}
service lmtp {
%(lmtp)s
}
service anvil {
  chroot =
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
protocol lda {
  mail_plugins = quota
}
plugin {
  quota = maildir:User quota
  quota_exceeded_message = Quota exceeded (mailbox for user is full)
}
"""


class Dovecot:
    """A running Dovecot.  users: {name: (password, quota rule or None)}."""

    def __init__(self, folder, users, auth_socket=None, auth_owner="postel",
                 lmtp_socket=None, lmtp_port=None, ssl=None,
                 account_user=None, extra_conf="", lmtp_owner=None,
                 auth_port=None):
        self.folder = folder
        self.conf = os.path.join(folder, "dovecot.conf")
        self.auth_socket = auth_socket
        self.lmtp_socket = lmtp_socket
        self.lmtp_port = lmtp_port
        self.auth_port = auth_port
        self.proc = None
        os.makedirs(folder, exist_ok=True)
        os.chmod(folder, 0o755)
        self.account = "pd%s" % secrets.token_hex(3)
        self.homes = os.path.join(folder, "homes")
        # Its home is its Dovecot home too: dovecot-lda started by local(8)
        # without -d takes the user and home from the account.
        subprocess.run([tool_path("useradd"), "-M", "-d",
                        self.home(self.account), "-U", self.account],
                       check=True, capture_output=True)
        if account_user is not None:
            # The account itself as a mail user, for dovecot-lda run by
            # local(8) as that system user.
            users = dict(users)
            users[self.account] = account_user
        try:
            self._configure(users, auth_owner, ssl, extra_conf, lmtp_owner)
            self.start()
        except BaseException:
            self.stop()
            raise

    def _configure(self, users, auth_owner, ssl, extra_conf, lmtp_owner):
        pw = pwd.getpwnam(self.account)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        os.makedirs(self.homes, exist_ok=True)
        os.chmod(self.homes, 0o755)
        lines = []
        for name, (password, quota) in users.items():
            home = self.home(name)
            os.makedirs(home, exist_ok=True)
            os.chown(home, self.uid, self.gid)
            extra = "userdb_quota_rule=*:storage=%s" % quota if quota else ""
            lines.append("%s:{PLAIN}%s:%d:%d::%s::%s\n"
                         % (name, password, self.uid, self.gid, home, extra))
        with open(os.path.join(self.folder, "users"), "w") as f:
            f.writelines(lines)
        auth = ""
        if self.auth_socket:
            auth = ("  unix_listener %s {\n    mode = 0660\n"
                    "    user = %s\n    group = %s\n  }\n"
                    % (self.auth_socket, auth_owner, auth_owner))
        if self.auth_port:
            auth += ("  inet_listener auth-inet {\n    address = 127.0.0.1\n"
                     "    port = %d\n  }\n" % self.auth_port)
        lmtp = ""
        if self.lmtp_socket and lmtp_owner:
            # In the MTA's queue, for its mail_owner only (Debian's way).
            lmtp += ("  unix_listener %s {\n    mode = 0600\n"
                     "    user = %s\n    group = %s\n  }\n"
                     % (self.lmtp_socket, lmtp_owner, lmtp_owner))
        elif self.lmtp_socket:
            lmtp += ("  unix_listener %s {\n    mode = 0666\n  }\n"
                     % self.lmtp_socket)
        if self.lmtp_port:
            lmtp += ("  inet_listener lmtp {\n    address = 127.0.0.1\n"
                     "    port = %d\n  }\n" % self.lmtp_port)
        ssl_conf = "ssl = no"
        if ssl:
            key, cert = ssl
            ssl_conf = ("ssl = yes\nssl_cert = <%s\nssl_key = <%s\n"
                        "ssl_min_protocol = TLSv1.2" % (cert, key))
        with open(self.conf, "w") as f:
            f.write(CONF % {"w": self.folder, "uid": self.uid, "ssl": ssl_conf,
                            "auth": auth, "lmtp": lmtp})
            f.write(extra_conf)
        os.chmod(self.conf, 0o644)
        # dovecot-lda runs as the mail user and logs here too.
        log = os.path.join(self.folder, "dovecot.log")
        open(log, "a").close()
        os.chmod(log, 0o666)

    def home(self, name):
        return os.path.join(self.homes, name)

    def log(self):
        try:
            with open(os.path.join(self.folder, "dovecot.log"),
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def start(self):
        self.proc = subprocess.Popen([tool_path("dovecot"), "-F", "-c",
                                      self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)

        def up():
            if self.proc.poll() is not None:
                return True
            return all(os.path.exists(p) for p in
                       (self.auth_socket, self.lmtp_socket) if p)
        assert wait_for(up, 15) and self.proc.poll() is None, \
            "dovecot did not start: %s %s" % (
                self.proc.stderr.read().decode(errors="replace")
                if self.proc.poll() is not None else "", self.log())

    def halt(self):
        """Stop the Dovecot processes (start() brings them back)."""
        if self.proc is None:
            return
        # The auth and lmtp processes close their clients' connections
        # when they exit, which can be after the master.
        kids = proc_children(self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stderr.close()
        self.proc = None
        # Dovecot's auth process stays while clients are connected: end
        # the processes this Dovecot started, by pid, so it is really down.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in kids:
                if proc_alive(pid):
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
            if wait_for(lambda: not any(map(proc_alive, kids)), 5):
                break
        # The master removes its listeners only on a clean exit.
        for path in (self.auth_socket, self.lmtp_socket):
            if path and os.path.exists(path):
                os.unlink(path)

    def stop(self):
        try:
            self.halt()
        finally:
            subprocess.run([tool_path("userdel"), "-f", self.account],
                           capture_output=True)

    def doveadm(self, *args):
        return subprocess.run([tool_path("doveadm"), "-c", self.conf]
                              + list(args), capture_output=True, timeout=30)

    def fetch(self, user, what="text", *search):
        """doveadm fetch's output for user ("" when it fails); the search
        query words (default ALL)."""
        r = self.doveadm("fetch", "-u", user, what, *(search or ("ALL",)))
        return r.stdout.decode(errors="replace")

    def maildir_messages(self, user):
        """The message files in user's Maildir (new/ and cur/), as bytes."""
        out = []
        for sub in ("new", "cur"):
            folder = os.path.join(self.home(user), "Maildir", sub)
            if os.path.isdir(folder):
                for name in sorted(os.listdir(folder)):
                    with open(os.path.join(folder, name), "rb") as f:
                        out.append(f.read())
        return out
