# A Dovecot site as postel-dovecot(7) walks through it.
#
# smtpd_sasl_type = dovecot: a submission-style smtpd, chrooted (master.cf
# chroot column y), authenticates through a real Dovecot's auth socket at
# queue_directory/private/auth, reached inside the chroot as
# "private/auth" the way Debian's Postfix does.  Logins succeed and fail
# as Dovecot's passwd-file says, with smtplib and swaks; relaying needs
# the login; Dovecot stopped gives 454 and a log line naming the socket.
# Local mail goes to Dovecot's LMTP listener at private/dovecot-lmtp
# (mailbox_transport), owned by mail_owner as the auth socket is.
#
# One Dovecot and one Postel instance per module (Dovecot is heavy).
#
# SPDX-License-Identifier: ISC
import base64
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import tempfile

import pytest

from conftest import Instance, free_port, wait_for, wait_smtp
from dovecot_peer import Dovecot
from tlscerts import CA

pytestmark = [
    pytest.mark.filterwarnings("ignore:Requiring AUTH"),
    pytest.mark.needs("root", "dovecot", "dovecot_lmtp", "useradd",
                      "openssl")]

USERS = {"alice": ("s3cret-Pw", None), "bob": ("b0b-pass", None)}


class Site:
    """A started Postel instance whose smtpd asks Dovecot."""

    def __init__(self, workdir, smtpd_main=None):
        self.instance = Instance(workdir)
        self.ca = CA(os.path.join(workdir, "ca"))
        key, cert, _ = self.ca.issue("mx", ["mx.test"])
        self.port = free_port()
        self.inet_port = free_port()
        self.auth_port = free_port()
        self.maillog = os.path.join(workdir, "maillog")
        main = {
            "myhostname": "mx.test",
            "mydomain": "test",
            "mydestination": "mx.test",
            "local_recipient_maps": "",
            "mynetworks": "192.0.2.0/24",
            "maillog_file": self.maillog,
            "smtpd_error_sleep_time": "0",
            "smtpd_tls_auth_only": "no",
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "dovecot",
            "smtpd_sasl_path": "private/auth",
            "alias_maps": "",
            "mailbox_transport": "lmtp:unix:private/dovecot-lmtp",
            # STARTTLS, asking for client certificates from the test CA.
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": cert,
            "smtpd_tls_key_file": key,
            "smtpd_tls_ask_ccert": "yes",
            "smtpd_tls_CAfile": self.ca.cert,
        }
        main.update(smtpd_main or {})
        self.instance.write_config(main=main, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            # Port 587's settings, as conf/master.cf's submission entry.
            "127.0.0.1:%d inet n - y - - smtpd "
            "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
            % self.port,
            # The same, asking Dovecot over TCP.
            "127.0.0.1:%d inet n - y - - smtpd "
            "-o smtpd_sasl_path=inet:127.0.0.1:%d"
            % (self.inet_port, self.auth_port),
            "cleanup unix - - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "local unix - n n - - local",
            "lmtp unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
        ])
        # The queue folders first: Dovecot's listener goes into private/.
        self.instance.set_permissions()
        self.auth_socket = os.path.join(self.instance.queue, "private",
                                        "auth")
        self.lmtp_socket = os.path.join(self.instance.queue, "private",
                                        "dovecot-lmtp")

    def start(self):
        self.instance.start()
        wait_smtp(self.instance, self.port)

    def smtp(self):
        return smtplib.SMTP("127.0.0.1", self.port, timeout=30)

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


@pytest.fixture(scope="module")
def site():
    workdir = tempfile.mkdtemp(prefix="postel-dovecot-")
    os.chmod(workdir, 0o755)
    s = Site(workdir)
    dovecot = None
    try:
        # auth_debug: Dovecot logs each AUTH request's fields.
        dovecot = Dovecot(os.path.join(workdir, "dovecot"), USERS,
                          auth_socket=s.auth_socket,
                          lmtp_socket=s.lmtp_socket, lmtp_owner="postel",
                          auth_port=s.auth_port,
                          extra_conf="auth_debug = yes\n")
        s.dovecot = dovecot
        s.start()
        yield s
    finally:
        try:
            s.instance.cleanup()
        finally:
            if dovecot is not None:
                dovecot.stop()
            shutil.rmtree(workdir, ignore_errors=True)


def auth_mechs(s):
    code, _ = s.ehlo("client.test")
    assert code == 250
    return set((s.esmtp_features.get("auth") or "").upper().split())


def test_dovecot_sasl_smtpd_is_chrooted(site):
    # The whole point of private/auth: smtpd reaches it inside its jail.
    with site.smtp() as s:
        s.ehlo("client.test")
        s.quit()
    roots = set()
    for pid in site.instance.children():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"smtpd" not in f.read():
                    continue
            roots.add(os.readlink("/proc/%d/root" % pid))
        except OSError:
            continue
    assert os.path.realpath(site.instance.queue) in roots, roots


def test_dovecot_sasl_ehlo_lists_dovecots_mechanisms(site):
    with site.smtp() as s:
        assert auth_mechs(s) == {"PLAIN", "LOGIN"}


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_dovecot_sasl_login_succeeds_per_passwd_file(site, mech):
    with site.smtp() as s:
        s.ehlo("client.test")
        s.user, s.password = "alice", USERS["alice"][0]
        code, text = s.auth(mech, getattr(s, "auth_" + mech.lower()))
        assert code == 235, text
        assert b"2.7.0" in text


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_dovecot_sasl_wrong_password_is_535(site, mech):
    with site.smtp() as s:
        s.ehlo("client.test")
        s.user, s.password = "alice", "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.auth(mech, getattr(s, "auth_" + mech.lower()))
        assert e.value.smtp_code == 535
        assert b"5.7.8" in e.value.smtp_error
    assert wait_for(lambda: "SASL %s authentication failed" % mech
                    in site.log()), site.log()


def test_dovecot_sasl_over_inet_host_port(site):
    with smtplib.SMTP("127.0.0.1", site.inet_port, timeout=30) as s:
        assert auth_mechs(s) == {"PLAIN", "LOGIN"}
        s.user, s.password = "bob", "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.auth("LOGIN", s.auth_login)
        s.login("bob", USERS["bob"][0])


def test_dovecot_sasl_unknown_user_is_535(site):
    with site.smtp() as s:
        s.ehlo("client.test")
        s.user, s.password = "mallory", "whatever"
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.auth("PLAIN", s.auth_plain)
        assert e.value.smtp_code == 535


def test_dovecot_sasl_relay_only_after_auth(site):
    with site.smtp() as s:
        s.ehlo("client.test")
        s.mail("alice@mx.test")
        code, text = s.rcpt("carol@remote.test")
        assert code == 554, text
    with site.smtp() as s:
        s.login("bob", USERS["bob"][0])
        s.sendmail("bob@mx.test", ["carol@remote.test"],
                   b"Subject: t\r\n\r\nhi\r\n")
    assert wait_for(lambda: "sasl_username=bob" in site.log()), site.log()


def test_dovecot_site_submission_to_local_user_lands_in_dovecot(site):
    # alice submits on 587 after AUTH; bob's copy goes local ->
    # mailbox_transport -> Dovecot LMTP -> bob's Maildir.
    token = "site-%s" % os.urandom(4).hex()
    with site.smtp() as s:
        s.login("alice", USERS["alice"][0])
        s.sendmail("alice@mx.test", ["bob@mx.test"],
                   ("Subject: %s\r\n\r\nhi bob\r\n" % token).encode())
    rx = re.compile(r"to=<bob@mx\.test>.*relay=private/dovecot-lmtp\[unix\]"
                    r".*status=sent")
    assert wait_for(lambda: rx.search(site.log()), 30), site.log()
    assert token in site.dovecot.fetch("bob", "hdr", "SUBJECT", token)


def auth_requests(site):
    """The AUTH lines Dovecot's auth_debug logged, as field lists."""
    return [line.split("client in: ", 1)[1].split("\t")
            for line in site.dovecot.log().splitlines()
            if "client in: AUTH\t" in line]


def new_auth_request(site, before):
    assert wait_for(lambda: len(auth_requests(site)) > before, 10), \
        site.dovecot.log()
    return auth_requests(site)[before]


def test_dovecot_sasl_request_names_the_session(site):
    before = len(auth_requests(site))
    with site.smtp() as s:
        s.login("alice", USERS["alice"][0])
        lport = s.sock.getpeername()[1]
        rport = s.sock.getsockname()[1]
    fields = new_auth_request(site, before)
    assert fields[2] == "PLAIN"
    for want in ("service=smtp", "nologin", "lip=127.0.0.1",
                 "rip=127.0.0.1", "lport=%d" % lport, "rport=%d" % rport):
        assert want in fields, fields
    # Plain text: neither secured nor a certificate.
    assert "secured" not in fields and "valid-client-cert" not in fields


def test_dovecot_sasl_under_tls_is_secured(site):
    ctx = ssl.create_default_context(cafile=site.ca.cert)
    ctx.check_hostname = False
    before = len(auth_requests(site))
    with site.smtp() as s:
        s.ehlo("client.test")
        assert s.starttls(context=ctx)[0] == 220
        s.login("alice", USERS["alice"][0])
    fields = new_auth_request(site, before)
    assert "secured" in fields and "valid-client-cert" not in fields, fields


def test_dovecot_sasl_verified_client_cert_is_passed_on(site):
    key, cert, _ = site.ca.issue("client", ["client.test"])
    ctx = ssl.create_default_context(cafile=site.ca.cert)
    ctx.check_hostname = False
    ctx.load_cert_chain(cert, key)
    before = len(auth_requests(site))
    with site.smtp() as s:
        s.ehlo("client.test")
        assert s.starttls(context=ctx)[0] == 220
        s.login("bob", USERS["bob"][0])
    fields = new_auth_request(site, before)
    assert "secured" in fields and "valid-client-cert" in fields, fields


def test_dovecot_sasl_login_with_initial_response_by_hand(site):
    # AUTH PLAIN with the response on the command line (resp=) and
    # AUTH LOGIN through two CONT rounds, on the wire.
    with site.smtp() as s:
        s.ehlo("client.test")
        resp = base64.b64encode(b"\0alice\0" + USERS["alice"][0].encode())
        assert s.docmd("AUTH PLAIN " + resp.decode())[0] == 235
    with site.smtp() as s:
        s.ehlo("client.test")
        code, challenge = s.docmd("AUTH LOGIN")
        assert code == 334 and base64.b64decode(challenge) == b"Username:"
        code, challenge = s.docmd(base64.b64encode(b"bob").decode())
        assert code == 334 and base64.b64decode(challenge) == b"Password:"
        code, _ = s.docmd(base64.b64encode(USERS["bob"][0].encode()).decode())
        assert code == 235


@pytest.mark.needs("swaks")
@pytest.mark.parametrize("mech,password,ok", [
    ("PLAIN", "s3cret-Pw", True), ("LOGIN", "s3cret-Pw", True),
    ("PLAIN", "nope", False)])
def test_dovecot_sasl_swaks(site, mech, password, ok):
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(site.port),
         "--ehlo", "client.test", "--from", "alice@mx.test",
         "--to", "dave@remote.test", "--auth", mech, "--auth-user",
         "alice", "--auth-password", password, "--quit-after", "RCPT"],
        capture_output=True, text=True, timeout=60)
    if ok:
        assert r.returncode == 0, r.stdout + r.stderr
        assert "235 2.7.0 Authentication successful" in r.stdout
        assert "250 2.1.5" in r.stdout
    else:
        assert r.returncode != 0
        assert "535 5.7.8" in r.stdout, r.stdout


def test_dovecot_sasl_unreachable_is_454_and_logged(site):
    site.dovecot.halt()
    try:
        with site.smtp() as s:
            # Without a mechanism list, EHLO leaves AUTH out...
            assert auth_mechs(s) == set()
            # ... and AUTH tries again, then says "later".
            resp = base64.b64encode(b"\0alice\0s3cret-Pw").decode()
            code, text = s.docmd("AUTH PLAIN " + resp)
            assert code == 454, text
            assert b"4.7.0" in text
            assert s.noop()[0] == 250
        assert wait_for(lambda: "cannot connect to Dovecot auth socket "
                        "private/auth" in site.log()), site.log()
    finally:
        site.dovecot.start()
    # Back: the next session logs in again.
    with site.smtp() as s:
        s.login("alice", USERS["alice"][0])
