# SASL AUTH: smtpd against a sasldb made with saslpasswd2 (PLAIN, LOGIN,
# CRAM-MD5 through Cyrus), the relay and sender-login policies that use
# the login, and the smtp client's AUTH against an aiosmtpd sink.
# SPDX-License-Identifier: ISC
import base64
import hashlib
import hmac
import os
import pwd
import re
import smtplib
import subprocess

import pytest

from conftest import free_port, require, tool_path, wait_for

SASLPASSWD2 = tool_path("saslpasswd2")

pytestmark = [
    pytest.mark.filterwarnings("ignore:Requiring AUTH"),
    pytest.mark.needs("saslpasswd2", "sasl_sasldb", "sasl_mechs", "openssl")]

USER = "alice"
PASSWORD = "s3cret-Pw"


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def make_sasldb(workdir, queue, realm="mx.test", users=((USER, PASSWORD),),
                mechs="PLAIN LOGIN CRAM-MD5"):
    """A Cyrus smtpd.conf in workdir/sasl (read before the chroot; returns
    the folder) and a sasldb where the chrooted smtpd reads it: in
    queue/etc, named /etc/sasldb2 from inside the chroot (INSTALL)."""
    folder = os.path.join(workdir, "sasl")
    os.makedirs(folder, exist_ok=True)
    os.makedirs(os.path.join(queue, "etc"), exist_ok=True)
    db = os.path.join(queue, "etc", "sasldb2")
    # Unprivileged instances run without chroot and use the real path.
    db_in_jail = "/etc/sasldb2" if os.geteuid() == 0 else db
    for user, password in users:
        r = subprocess.run([SASLPASSWD2, "-f", db, "-p", "-c", "-u", realm,
                            user], input=password.encode(),
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
    with open(os.path.join(folder, "smtpd.conf"), "w") as f:
        f.write("pwcheck_method: auxprop\n"
                "auxprop_plugin: sasldb\n"
                "sasldb_path: %s\n"
                "mech_list: %s\n" % (db_in_jail, mechs))
    return folder


class SaslServer:
    """A started instance: smtpd on 127.0.0.1:port with AUTH enabled."""

    def __init__(self, instance, workdir, main=None, smtpd_args="",
                 mechs="PLAIN LOGIN CRAM-MD5"):
        self.port = free_port()
        self.maillog = os.path.join(workdir, "maillog")
        folder = make_sasldb(workdir, instance.queue, mechs=mechs)
        settings = {
            "myhostname": "mx.test",
            "mydomain": "test",
            "mydestination": "mx.test",
            "local_recipient_maps": "",
            "mynetworks": "192.0.2.0/24",
            "maillog_file": self.maillog,
            "smtpd_error_sleep_time": "0",
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_tls_auth_only": "no",
            "cyrus_sasl_config_path": folder,
        }
        settings.update(main or {})
        instance.write_config(main=settings, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "127.0.0.1:%d inet n - y - - smtpd %s" % (self.port, smtpd_args),
            "cleanup unix - - n - 0 cleanup",
        ])
        if os.geteuid() == 0:
            # The daemons run as mail_owner and must read the database;
            # set-permissions makes the account on a fresh machine.
            instance.set_permissions()
            pw = pwd.getpwnam("postel")
            os.chown(os.path.join(instance.queue, "etc", "sasldb2"),
                     pw.pw_uid, pw.pw_gid)
        instance.start()
        self.queue = instance.queue

    def smtp(self):
        return smtplib.SMTP("127.0.0.1", self.port, timeout=20)

    def log(self):
        return read_text(self.maillog)

    def wait_log(self, text, timeout=10):
        return wait_for(lambda: text in self.log(), timeout=timeout)


@pytest.fixture
def server(instance, workdir):
    return SaslServer(instance, workdir)


def auth_mechs(s):
    code, _ = s.ehlo("client.test")
    assert code == 250
    return set((s.esmtp_features.get("auth") or "").upper().split())


def test_sasl_ehlo_lists_the_plugin_mechanisms(server):
    with server.smtp() as s:
        assert auth_mechs(s) == {"PLAIN", "LOGIN", "CRAM-MD5"}


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_sasl_login_with_each_mechanism(server, mech):
    with server.smtp() as s:
        s.ehlo("client.test")
        s.user, s.password = USER, PASSWORD
        code, text = s.auth(mech, getattr(s, "auth_" + mech.lower()
                                          .replace("-", "_")))
        assert code == 235, text
        assert b"2.7.0" in text


def test_sasl_wrong_password_is_535_5_7_8(server):
    with server.smtp() as s:
        s.ehlo("client.test")
        s.user, s.password = USER, "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.auth("PLAIN", s.auth_plain)
        assert e.value.smtp_code == 535
        assert b"5.7.8" in e.value.smtp_error
    assert server.wait_log("SASL PLAIN authentication failed")


def test_sasl_authenticated_client_relays_and_is_logged(server):
    with server.smtp() as s:
        s.login(USER, PASSWORD)
        s.sendmail("alice@mx.test", ["bob@remote.test"],
                   b"Subject: t\r\n\r\nhi\r\n")
    assert server.wait_log("sasl_method=")
    line = [ln for ln in server.log().splitlines() if "sasl_method=" in ln]
    assert "sasl_username=alice" in line[0]


def test_sasl_unauthenticated_relay_is_refused(server):
    with server.smtp() as s:
        s.ehlo("client.test")
        s.mail("alice@mx.test")
        code, text = s.rcpt("bob@remote.test")
        assert code in (454, 554), text
        assert b"Relay access denied" in text


def test_sasl_auth_garbage_and_cancel(server):
    with server.smtp() as s:
        s.ehlo("client.test")
        assert s.docmd("AUTH PLAIN !!!!")[0] == 501
        assert s.docmd("AUTH NOPE")[0] == 504
        code, _ = s.docmd("AUTH LOGIN")
        assert code == 334
        assert s.docmd("*")[0] == 501
        # Still usable afterwards.
        s.user, s.password = USER, PASSWORD
        assert s.auth("PLAIN", s.auth_plain)[0] == 235
        assert s.docmd("AUTH PLAIN")[0] == 503


def test_sasl_mail_from_auth_parameter_accepted(server):
    with server.smtp() as s:
        s.login(USER, PASSWORD)
        code, _ = s.docmd("MAIL FROM:<alice@mx.test> AUTH=<>")
        assert code == 250


def test_sasl_cram_md5_by_hand(server):
    with server.smtp() as s:
        s.ehlo("client.test")
        code, challenge = s.docmd("AUTH CRAM-MD5")
        assert code == 334
        nonce = base64.b64decode(challenge)
        digest = hmac.new(PASSWORD.encode(), nonce, hashlib.md5).hexdigest()
        answer = base64.b64encode(("%s %s" % (USER, digest)).encode())
        assert s.docmd(answer.decode())[0] == 235


def test_sasl_scram_sha_256_with_server_signature(instance, workdir):
    srv = SaslServer(instance, workdir, mechs="SCRAM-SHA-256 PLAIN")
    with srv.smtp() as s:
        mechs = auth_mechs(s)
        assert "SCRAM-SHA-256" in mechs, mechs
        cnonce = base64.b64encode(os.urandom(18)).decode()
        bare = "n=%s,r=%s" % (USER, cnonce)
        code, text = s.docmd("AUTH SCRAM-SHA-256 " +
                             base64.b64encode(("n,," + bare).encode())
                             .decode())
        assert code == 334, text
        first = base64.b64decode(text).decode()
        f = dict(kv.split("=", 1) for kv in first.split(","))
        assert f["r"].startswith(cnonce)
        salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(),
                                     base64.b64decode(f["s"]), int(f["i"]))
        ckey = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        skey = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        final_bare = "c=biws,r=" + f["r"]
        msg = ",".join([bare, first, final_bare]).encode()
        csig = hmac.new(hashlib.sha256(ckey).digest(), msg,
                        hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(ckey, csig))
        final = final_bare + ",p=" + base64.b64encode(proof).decode()
        code, text = s.docmd(base64.b64encode(final.encode()).decode())
        # The server proves itself too (RFC 5802 v=), as a last 334.
        assert code == 334, text
        ssig = hmac.new(skey, msg, hashlib.sha256).digest()
        assert base64.b64decode(text).decode() == \
            "v=" + base64.b64encode(ssig).decode()
        code, text = s.docmd("")
        assert code == 235, text


def test_sasl_failures_end_the_session_after_the_limit(instance, workdir):
    srv = SaslServer(instance, workdir,
                     main={"smtpd_sasl_auth_failure_limit": "2"})
    with srv.smtp() as s:
        s.ehlo("client.test")
        bad = base64.b64encode(b"\0alice\0nope").decode()
        assert s.docmd("AUTH PLAIN " + bad)[0] == 535
        code, text = s.docmd("AUTH PLAIN " + bad)
        assert code == 535
        code, text = s.getreply()
        assert code == 421, text
    assert srv.wait_log("too many failed authentications")


def test_sasl_failed_auth_counts_toward_the_error_delay(instance, workdir):
    # As in Postfix a failed AUTH is a session error: once the count
    # reaches smtpd_soft_error_limit every reply waits.
    import time
    srv = SaslServer(instance, workdir,
                     main={"smtpd_error_sleep_time": "1s",
                           "smtpd_soft_error_limit": "1"})
    with srv.smtp() as s:
        s.ehlo("client.test")
        bad = base64.b64encode(b"\0alice\0nope").decode()
        t0 = time.monotonic()
        assert s.docmd("AUTH PLAIN " + bad)[0] == 535
        assert time.monotonic() - t0 < 0.9
        t0 = time.monotonic()
        assert s.docmd("AUTH PLAIN " + bad)[0] == 535
        assert time.monotonic() - t0 >= 0.9


def test_sasl_auth_refused_before_tls_with_auth_only(instance, workdir):
    srv = SaslServer(instance, workdir, main={"smtpd_tls_auth_only": "yes"})
    with srv.smtp() as s:
        assert auth_mechs(s) == set()
        code, text = s.docmd("AUTH PLAIN " +
                             base64.b64encode(b"\0alice\0" +
                                              PASSWORD.encode()).decode())
        assert code == 538, text
        assert b"5.7.11" in text


def test_sasl_not_offered_when_disabled(instance, workdir):
    srv = SaslServer(instance, workdir,
                     main={"smtpd_sasl_auth_enable": "no"})
    with srv.smtp() as s:
        assert auth_mechs(s) == set()
        assert s.docmd("AUTH PLAIN")[0] == 503


def test_sasl_submission_style_service_refuses_unauthenticated(instance,
                                                                workdir):
    # conf/master.cf's submission entry, without the TLS requirement
    # (test_tls covers that half).
    srv = SaslServer(instance, workdir, smtpd_args=(
        "-o smtpd_client_restrictions=permit_sasl_authenticated,reject "
        "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject "
        "-o smtpd_delay_reject=yes"))
    with srv.smtp() as s:
        s.ehlo("client.test")
        s.mail("alice@mx.test")
        code, _ = s.rcpt("bob@remote.test")
        assert code == 554
    with srv.smtp() as s:
        s.login(USER, PASSWORD)
        s.mail("alice@mx.test")
        code, _ = s.rcpt("bob@remote.test")
        assert code == 250


def test_sasl_sender_login_mismatch_refused(instance, workdir):
    maps = "inline:{ alice@mx.test=alice, boss@mx.test=bob }"
    srv = SaslServer(instance, workdir, main={
        "smtpd_sender_login_maps": maps,
        "smtpd_sender_restrictions": "reject_sender_login_mismatch",
    })
    with srv.smtp() as s:
        s.login(USER, PASSWORD)
        s.mail("boss@mx.test")
        code, text = s.rcpt("bob@remote.test")
        assert code == 553, text
        assert b"not owned by user alice" in text
        s.rset()
        s.mail("alice@mx.test")
        code, text = s.rcpt("bob@remote.test")
        assert code == 250, text
    with srv.smtp() as s:
        s.ehlo("client.test")
        s.mail("alice@mx.test")
        code, text = s.rcpt("x@mx.test")
        assert code == 553, text
        assert b"not logged in" in text


# -- the smtp client ------------------------------------------------------

RELAY = "127.0.1.5"


def auth_sink(password=PASSWORD):
    """A test_smtp_client Sink whose server wants AUTH and records every
    attempt (aiosmtpd is imported here: the server half of this module
    does not need it)."""
    from aiosmtpd.smtp import AuthResult
    from test_smtp_client import Sink

    class AuthSink(Sink):
        def __init__(self):
            super().__init__()
            self.password = password
            self.attempts = []

        def authenticator(self, server, session, envelope, mechanism, data):
            login = data.login.decode() if data.login else ""
            pw = data.password.decode() if data.password else ""
            self.attempts.append((mechanism, login, pw))
            ok = login == USER and pw == self.password
            # aiosmtpd 1.4 answers nothing unless handled=False is given.
            return AuthResult(success=ok, handled=False)

    return AuthSink()


@pytest.fixture
def client_env(instance, workdir):
    require("aiosmtpd", "dnslib")
    from aiosmtpd.controller import Controller
    from dnsserver import DNSServer
    from test_smtp_client import Env, pick_port
    envs = []

    def make(main=None, password=PASSWORD):
        port = pick_port([RELAY])
        maps = os.path.join(workdir, "sasl_passwd")
        with open(maps, "w") as f:
            f.write("[%s]:%d %s:%s\n" % (RELAY, port, USER, PASSWORD))
        conf = {"smtp_sasl_auth_enable": "yes",
                "smtp_sasl_password_maps": "texthash:" + maps}
        conf.update(main or {})
        dns = DNSServer()
        dns.__enter__()
        e = Env(instance, workdir, dns, main=conf)
        e.dns_server = dns
        envs.append(e)
        handler = auth_sink(password)
        c = Controller(handler, hostname=RELAY, port=port,
                       authenticator=handler.authenticator,
                       auth_require_tls=False, auth_required=True)
        c.start()
        e.controllers.append(c)
        return e, handler, "[%s]:%d" % (RELAY, port)
    yield make
    for e in envs:
        e.close()
        e.dns_server.__exit__(None, None, None)


def test_sasl_client_sends_no_password_over_plaintext(client_env):
    env, sink, nexthop = client_env()
    qid = env.queue(["u@remote.test"])
    res = env.send(nexthop, [qid])[qid]["u@remote.test"]
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.0"
    assert "SASL authentication failed" in res["reply"] or \
        "no mechanism" in str(res), res
    assert sink.attempts == [] and sink.messages == []


def test_sasl_client_authenticates_when_the_admin_allows_plaintext(
        client_env):
    env, sink, nexthop = client_env(
        main={"smtp_sasl_security_options": "noanonymous"})
    qid = env.queue(["u@remote.test"])
    res = env.send(nexthop, [qid])[qid]["u@remote.test"]
    assert res["action"] == "sent", res
    assert [(a[1], a[2]) for a in sink.attempts] == [(USER, PASSWORD)]
    assert len(sink.messages) == 1


def test_sasl_client_wrong_password_defers(client_env):
    env, sink, nexthop = client_env(
        main={"smtp_sasl_security_options": "noanonymous"},
        password="other")
    qid = env.queue(["u@remote.test"])
    res = env.send(nexthop, [qid])[qid]["u@remote.test"]
    assert res["action"] == "deferred", res
    assert res["dsn"] == "4.7.0", res
    assert "535" in res["reply"], res
    assert sink.messages == []
    # The password never shows up in the log, read once the deferral has
    # been logged (postlogd writes the file asynchronously).
    assert wait_for(lambda: any("status=deferred" in l
                                for l in env.log_lines(qid))), \
        "no deferral logged for %s" % qid
    with open(env.log) as f:
        log = f.read()
    assert PASSWORD not in log


# -- with TLS -----------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from tlscerts import CA
    folder = str(tmp_path_factory.mktemp("pki"))
    os.chmod(folder, 0o755)
    ca = CA(folder)
    return {"ca": ca, "rsa": ca.issue("mx-rsa",
                                      ["mx.test", "localhost", RELAY])}


def tls_ctx(pki):
    import ssl
    ctx = ssl.create_default_context(cafile=pki["ca"].cert)
    ctx.check_hostname = False
    return ctx


def test_sasl_auth_only_after_starttls(instance, workdir, pki):
    srv = SaslServer(instance, workdir, main={
        "smtpd_tls_auth_only": "yes",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_chain_files": pki["rsa"][2]})
    with srv.smtp() as s:
        s.ehlo("client.test")
        assert s.has_extn("starttls")
        assert not s.has_extn("auth")
        assert s.docmd("AUTH PLAIN")[0] == 538
        s.starttls(context=tls_ctx(pki))
        assert auth_mechs(s) == {"PLAIN", "LOGIN", "CRAM-MD5"}
        s.user, s.password = USER, PASSWORD
        assert s.auth("PLAIN", s.auth_plain)[0] == 235
        s.sendmail("alice@mx.test", ["bob@remote.test"],
                   b"Subject: t\r\n\r\nhi\r\n")
    assert srv.wait_log("sasl_username=alice")


def test_sasl_plaintext_and_tls_security_options(instance, workdir, pki):
    srv = SaslServer(instance, workdir, main={
        "smtpd_sasl_security_options": "noanonymous, noplaintext",
        "smtpd_sasl_tls_security_options": "noanonymous",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_chain_files": pki["rsa"][2]})
    with srv.smtp() as s:
        assert auth_mechs(s) == {"CRAM-MD5"}
        assert s.docmd("AUTH PLAIN")[0] == 504
        assert s.has_extn("starttls")
        s.starttls(context=tls_ctx(pki))
        assert auth_mechs(s) == {"PLAIN", "LOGIN", "CRAM-MD5"}
        s.user, s.password = USER, PASSWORD
        assert s.auth("LOGIN", s.auth_login)[0] == 235


def tls_client_env(client_env, pki, main):
    import ssl
    from aiosmtpd.controller import Controller
    env, sink, nexthop = client_env(main=main)
    # Replace the plain sink by one that offers STARTTLS and wants AUTH
    # only inside TLS.
    old = env.controllers.pop()
    old.stop()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki["rsa"][1], pki["rsa"][0])
    port = int(nexthop.rsplit(":", 1)[1])
    c = Controller(sink, hostname=RELAY, port=port, tls_context=ctx,
                   require_starttls=True, auth_require_tls=True,
                   authenticator=sink.authenticator, auth_required=True)
    c.start()
    env.controllers.append(c)
    return env, sink, nexthop


def test_sasl_client_authenticates_only_over_tls(client_env, pki):
    env, sink, nexthop = tls_client_env(client_env, pki, {
        "smtp_tls_security_level": "encrypt",
        "smtp_sasl_tls_security_options": "noanonymous"})
    qid = env.queue(["u@remote.test"])
    res = env.send(nexthop, [qid])[qid]["u@remote.test"]
    assert res["action"] == "sent", res
    assert [(a[1], a[2]) for a in sink.attempts] == [(USER, PASSWORD)]
    assert len(sink.messages) == 1


def test_sasl_client_plaintext_relay_gets_no_credentials(client_env, pki):
    # Same relay, TLS off on our side: no AUTH outside TLS, so nothing
    # secret is sent (the relay then refuses the mail itself).
    env, sink, nexthop = tls_client_env(client_env, pki, {
        "smtp_tls_security_level": "none",
        "smtp_sasl_tls_security_options": "noanonymous"})
    qid = env.queue(["u@remote.test"])
    res = env.send(nexthop, [qid])[qid]["u@remote.test"]
    assert res["action"] != "sent", res
    assert sink.attempts == [] and sink.messages == []


def queued_received(server):
    """The Received: header of the one message in incoming/."""
    from queuefile import QueueFile, queue_files
    files = [p for p in queue_files(server.queue, "incoming")
             if not re.match(r"t\d+\.\d+$", os.path.basename(p))]
    assert len(files) == 1, files
    return QueueFile(files[0]).header("Received")


@pytest.mark.parametrize("setting", ["yes", "no"])
def test_sasl_authenticated_header_names_the_login(instance, workdir,
                                                   setting):
    server = SaslServer(instance, workdir, main={
        "smtpd_sasl_authenticated_header": setting})
    with server.smtp() as s:
        s.login(USER, PASSWORD)
        s.sendmail("alice@mx.test", ["bob@mx.test"],
                   b"Subject: t\r\n\r\nhi\r\n")
    received = queued_received(server)
    assert "(Authenticated sender: alice)" in received if setting == "yes" \
        else "Authenticated sender" not in received, received
