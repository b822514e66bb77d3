# anvil and smtpd's client limits: a real instance with the anvil service,
# real SMTP from several loopback addresses (127.0.0.2 is a different
# client from 127.0.0.4), the connection count, the connection, message,
# recipient, new TLS session and AUTH rates tripping at their limit with
# Postfix's replies and warnings and coming back after anvil_rate_time_unit,
# exempt clients, smtpd carrying on without anvil, and anvil's statistics.
# SPDX-License-Identifier: ISC
import base64
import os
import pwd
import re
import signal
import smtplib
import ssl
import time

import pytest

from conftest import free_port, wait_for
from test_sasl import make_sasldb
from test_smtpd import Client, read_text
from tlscerts import CA, san_environment

ANVIL = "anvil unix - - y - 1 anvil"
UNIT = 3  # anvil_rate_time_unit in the tests, seconds
EXEMPT = "127.0.0.3"


class AnvilSmtpd:
    """A started instance: smtpd on 127.0.0.1:port, cleanup, anvil."""

    def __init__(self, instance, workdir, main=None, anvil=True,
                 sasl=False):
        self.instance = instance
        self.port = free_port()
        self.service = "127.0.0.1:%d" % self.port
        self.maillog = os.path.join(workdir, "maillog")
        settings = {
            "myhostname": "mx.test",
            "mydomain": "test",
            "mydestination": "mx.test",
            "local_recipient_maps": "",
            "maillog_file": self.maillog,
            "smtpd_error_sleep_time": "0",
            "smtpd_peername_lookup": "no",
            "anvil_rate_time_unit": "%ds" % UNIT,
            # The default, $mynetworks, would hold all of 127.0.0.0/8.
            "smtpd_client_event_limit_exceptions": EXEMPT,
        }
        if sasl:
            settings.update({
                "smtpd_sasl_auth_enable": "yes",
                "smtpd_tls_auth_only": "no",
                "cyrus_sasl_config_path": make_sasldb(workdir,
                                                      instance.queue),
            })
        settings.update(san_environment())
        settings.update(main or {})
        self.services = [
            "postlog unix-dgram n - n - 1 postlogd",
            "%s inet n - y - - smtpd" % self.service,
            "cleanup unix - - n - 0 cleanup",
        ] + ([ANVIL] if anvil else [])
        instance.write_config(main=settings, services=self.services)
        if sasl and os.geteuid() == 0:
            instance.set_permissions()
            pw = pwd.getpwnam("postel")
            os.chown(os.path.join(instance.queue, "etc", "sasldb2"),
                     pw.pw_uid, pw.pw_gid)
        instance.start()

    def connect(self, source="127.0.0.2"):
        return Client(self.port, source)

    def log(self):
        return read_text(self.maillog)

    def wait_log(self, pattern, timeout=10):
        return wait_for(lambda: re.search(pattern, self.log()),
                        timeout=timeout)

    def until_greeted(self, source, timeout=UNIT * 4):
        """Connect from source every half second until the greeting is
        220 (the rate unit ran out); the greeting lines, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = self.connect(source)
            greeting = c.greeting
            if greeting[0].startswith("220"):
                c.cmd("QUIT")
                c.close()
                return greeting
            c.close()
            time.sleep(0.5)
        return None


def anvil_pids(instance):
    pids = []
    for pid in instance.children():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
        except FileNotFoundError:
            continue
        if os.path.basename(argv0) == b"anvil":
            pids.append(pid)
    return pids


def too_many_connections(addr):
    return ["421 4.7.0 mx.test Error: too many connections from %s" % addr]


# --- connection count --------------------------------------------------------

def test_anvil_sixth_concurrent_connection_gets_421(instance, workdir):
    srv = AnvilSmtpd(instance, workdir,
                     main={"smtpd_client_connection_count_limit": "5"})
    held = [srv.connect("127.0.0.2") for _ in range(5)]
    try:
        for c in held:
            assert c.greeting[0].startswith("220 mx.test"), c.greeting
        sixth = srv.connect("127.0.0.2")
        assert sixth.greeting == too_many_connections("127.0.0.2")
        assert sixth.closed()
        sixth.close()
        assert srv.wait_log(
            r"smtpd\[\d+\]: warning: Connection concurrency limit exceeded: "
            r"6 from unknown\[127\.0\.0\.2\] for service %s\n"
            % re.escape(srv.service)), srv.log()
        # The exempt address and another client still get in.
        for source in (EXEMPT, "127.0.0.4"):
            c = srv.connect(source)
            assert c.greeting[0].startswith("220 mx.test"), (source,
                                                            c.greeting)
            assert c.cmd("QUIT")[0].startswith("221")
            c.close()
    finally:
        for c in held:
            c.close()
    # The held connections are given back as their sessions end.
    c = wait_for(lambda: srv.until_greeted("127.0.0.2", timeout=1),
                 timeout=15)
    assert c, srv.log()


def test_anvil_exempt_client_is_not_limited(instance, workdir):
    srv = AnvilSmtpd(instance, workdir,
                     main={"smtpd_client_connection_count_limit": "1",
                           "smtpd_client_event_limit_exceptions":
                           "!127.0.0.2, 127.0.0.0/24"})
    held = [srv.connect("127.0.0.5") for _ in range(3)]
    try:
        assert all(c.greeting[0].startswith("220") for c in held)
        first = srv.connect("127.0.0.2")
        second = srv.connect("127.0.0.2")
        assert first.greeting[0].startswith("220")
        assert second.greeting == too_many_connections("127.0.0.2")
        first.close()
        second.close()
    finally:
        for c in held:
            c.close()


# --- rates -------------------------------------------------------------------

def test_anvil_connection_rate_trips_and_resets(instance, workdir):
    srv = AnvilSmtpd(instance, workdir,
                     main={"smtpd_client_connection_rate_limit": "3"})
    # Quick enough to stay inside one unit.
    greetings = []
    for _ in range(4):
        c = srv.connect("127.0.0.2")
        greetings.append(c.greeting)
        if c.greeting[0].startswith("220"):
            c.cmd("QUIT")
        c.close()
    assert all(g[0].startswith("220") for g in greetings[:3]), greetings
    assert greetings[3] == too_many_connections("127.0.0.2")
    assert srv.wait_log(
        r"warning: Connection rate limit exceeded: 4 from "
        r"unknown\[127\.0\.0\.2\] for service %s\n" % re.escape(srv.service)),\
        srv.log()
    # Another client is not affected; the limited one is let in again
    # once its unit has run out.
    c = srv.connect("127.0.0.4")
    assert c.greeting[0].startswith("220")
    c.close()
    assert srv.until_greeted("127.0.0.2"), srv.log()


def mail_from(c, n):
    return c.cmd("MAIL FROM:<s%d@example.org>" % n)[0]


def test_anvil_message_rate_trips_and_resets(instance, workdir):
    srv = AnvilSmtpd(instance, workdir,
                     main={"smtpd_client_message_rate_limit": "2"})
    c = srv.connect("127.0.0.2")
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    assert mail_from(c, 1).startswith("250")
    assert c.cmd("RSET")[0].startswith("250")
    assert mail_from(c, 2).startswith("250")
    assert c.cmd("RSET")[0].startswith("250")
    assert mail_from(c, 3) == "450 4.7.1 Error: too much mail from 127.0.0.2"
    assert srv.wait_log(
        r"warning: Message delivery request rate limit exceeded: 3 from "
        r"unknown\[127\.0\.0\.2\] for service %s\n" % re.escape(srv.service)),\
        srv.log()
    # Counted per client, not per session: a new connection is refused too.
    d = srv.connect("127.0.0.2")
    assert d.cmd("EHLO client.test")[-1].startswith("250")
    assert mail_from(d, 4).startswith("450 4.7.1")
    d.close()
    # After the unit the same session may send mail again.
    assert wait_for(lambda: mail_from(c, 5).startswith("250"),
                    timeout=UNIT * 4, interval=0.5), srv.log()
    c.close()


def test_anvil_recipient_rate_trips_and_resets(instance, workdir):
    srv = AnvilSmtpd(instance, workdir,
                     main={"smtpd_client_recipient_rate_limit": "2"})
    c = srv.connect("127.0.0.2")
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    assert mail_from(c, 1).startswith("250")
    assert c.cmd("RCPT TO:<a@mx.test>")[0].startswith("250")
    assert c.cmd("RCPT TO:<b@mx.test>")[0].startswith("250")
    assert c.cmd("RCPT TO:<c@mx.test>")[0] == \
        "450 4.7.1 Error: too many recipients from 127.0.0.2"
    assert srv.wait_log(
        r"warning: Recipient address rate limit exceeded: 3 from "
        r"unknown\[127\.0\.0\.2\] for service %s\n" % re.escape(srv.service)),\
        srv.log()
    # The accepted two still make a message.
    assert c.cmd("DATA")[0].startswith("354")
    c.send(b"Subject: t\r\n\r\nbody\r\n.\r\n")
    assert c.reply()[0].startswith("250 2.0.0 Ok: queued as")
    assert mail_from(c, 2).startswith("250")
    assert wait_for(
        lambda: c.cmd("RCPT TO:<d@mx.test>")[0].startswith("250"),
        timeout=UNIT * 4, interval=0.5), srv.log()
    c.close()


@pytest.mark.needs("saslpasswd2", "sasl_sasldb", "sasl_mechs")
def test_anvil_auth_rate_trips_and_resets(instance, workdir):
    srv = AnvilSmtpd(instance, workdir, sasl=True,
                     main={"smtpd_client_auth_rate_limit": "2"})
    bad = base64.b64encode(b"\0alice\0wrong").decode()
    c = srv.connect("127.0.0.2")
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    assert c.cmd("AUTH PLAIN " + bad)[0].startswith("535")
    assert c.cmd("AUTH PLAIN " + bad)[0].startswith("535")
    assert c.cmd("AUTH PLAIN " + bad) == \
        ["450 4.7.1 Error: too many AUTH commands from 127.0.0.2"]
    assert srv.wait_log(
        r"warning: AUTH command rate limit exceeded: 3 from "
        r"unknown\[127\.0\.0\.2\] for service %s\n" % re.escape(srv.service)),\
        srv.log()
    c.close()
    # A new unit: the right password works again.
    good = base64.b64encode(b"\0alice\0s3cret-Pw").decode()

    def auth_ok():
        d = srv.connect("127.0.0.2")
        d.cmd("EHLO client.test")
        reply = d.cmd("AUTH PLAIN " + good)[0]
        d.close()
        return reply.startswith("235")
    assert wait_for(auth_ok, timeout=UNIT * 4, interval=0.5), srv.log()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("pki"))
    os.chmod(folder, 0o755)
    ca = CA(folder)
    return {"ca": ca, "mx": ca.issue("mx", ["mx.test", "localhost"])}


def starttls(srv, pki, source="127.0.0.2"):
    """EHLO, STARTTLS; the STARTTLS reply line, after the handshake
    when it was 220."""
    s = smtplib.SMTP("localhost", srv.port, timeout=20,
                     source_address=(source, 0))
    try:
        s.ehlo("client.test")
        ctx = ssl.create_default_context(cafile=pki["ca"].cert)
        ctx.check_hostname = False
        code, text = s.starttls(context=ctx)
        if code == 220:
            assert s.ehlo("client.test")[0] == 250
        return "%d %s" % (code, text.decode())
    except smtplib.SMTPResponseException as e:
        return "%d %s" % (e.smtp_code, e.smtp_error.decode())
    finally:
        s.close()


@pytest.mark.needs("openssl")
def test_anvil_new_tls_session_rate_trips_and_resets(instance, workdir,
                                                     pki):
    srv = AnvilSmtpd(instance, workdir, main={
        "smtpd_client_new_tls_session_rate_limit": "2",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_chain_files": pki["mx"][2],
        # No resumption: every STARTTLS is a new session.
        "smtpd_tls_session_cache_timeout": "0",
    })
    assert starttls(srv, pki).startswith("220")
    assert starttls(srv, pki).startswith("220")
    assert starttls(srv, pki) == \
        "454 4.7.0 Error: too many new TLS sessions from 127.0.0.2"
    assert srv.wait_log(
        r"warning: New TLS session rate limit exceeded: 3 from "
        r"unknown\[127\.0\.0\.2\] for service %s\n" % re.escape(srv.service)),\
        srv.log()
    # Other clients are counted apart.
    assert starttls(srv, pki, "127.0.0.4").startswith("220")
    assert wait_for(lambda: starttls(srv, pki).startswith("220"),
                    timeout=UNIT * 4, interval=0.5), srv.log()


# --- without anvil -----------------------------------------------------------

def send_one(srv, source="127.0.0.2"):
    with smtplib.SMTP(timeout=20, source_address=(source, 0)) as s:
        s.connect("127.0.0.1", srv.port)
        refused = s.sendmail("a@example.org", ["b@mx.test"],
                             b"Subject: t\r\n\r\nbody\r\n")
        assert refused == {}


def test_anvil_killed_mail_still_accepted(instance, workdir):
    srv = AnvilSmtpd(instance, workdir, main={
        "smtpd_client_connection_count_limit": "5",
        "smtpd_client_message_rate_limit": "100"})
    send_one(srv)
    pids = wait_for(lambda: anvil_pids(instance))
    assert pids, "anvil is not running"
    assert srv.wait_log(r"smtpd\[\d+\]: disconnect from "), srv.log()
    assert "private/anvil" not in srv.log()
    # master must not start it again: take it out of master.cf first.
    instance.write_config(services=[s for s in srv.services if s != ANVIL])
    instance.reload()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not anvil_pids(instance)), anvil_pids(instance)
    before = srv.log().count("warning: connect to private/anvil:")
    for _ in range(3):
        send_one(srv)
    assert srv.wait_log(r"smtpd\[\d+\]: warning: connect to private/anvil: ")
    # One warning per session, not one per event.
    count = srv.log().count("warning: connect to private/anvil:") - before
    assert 1 <= count <= 3, srv.log()


def test_smtpd_without_anvil_service_warns_and_serves(instance, workdir):
    srv = AnvilSmtpd(instance, workdir, anvil=False, main={
        "smtpd_client_connection_count_limit": "1"})
    first = srv.connect("127.0.0.2")
    second = srv.connect("127.0.0.2")
    assert first.greeting[0].startswith("220")
    assert second.greeting[0].startswith("220")
    first.close()
    second.close()
    send_one(srv)
    assert srv.wait_log(r"warning: connect to private/anvil: "), srv.log()


def test_smtpd_limits_off_never_ask_anvil(instance, workdir):
    srv = AnvilSmtpd(instance, workdir, anvil=False, main={
        "smtpd_client_connection_count_limit": "0"})
    send_one(srv)
    assert srv.wait_log(r"smtpd\[\d+\]: disconnect from "), srv.log()
    assert "private/anvil" not in srv.log()


# --- statistics --------------------------------------------------------------

WHEN = r"at [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d\n"


def test_anvil_logs_statistics(instance, workdir):
    srv = AnvilSmtpd(instance, workdir, main={
        "anvil_status_update_time": "2s",
        "smtpd_client_connection_count_limit": "10",
        "smtpd_client_message_rate_limit": "10",
        "smtpd_client_recipient_rate_limit": "10"})
    held = [srv.connect("127.0.0.2") for _ in range(3)]
    c = srv.connect("127.0.0.4")
    assert c.cmd("EHLO client.test")[-1].startswith("250")
    assert mail_from(c, 1).startswith("250")
    assert c.cmd("RCPT TO:<a@mx.test>")[0].startswith("250")
    assert c.cmd("RCPT TO:<b@mx.test>")[0].startswith("250")
    ident2 = re.escape("(%s:127.0.0.2)" % srv.service)
    ident4 = re.escape("(%s:127.0.0.4)" % srv.service)
    tag = r"anvil\[\d+\]: statistics: "
    assert srv.wait_log(tag + r"max connection rate 3/%ds for %s %s"
                        % (UNIT, ident2, WHEN)), srv.log()
    log = srv.log()
    assert re.search(tag + r"max connection count 3 for %s %s"
                     % (ident2, WHEN), log), log
    assert re.search(tag + r"max message rate 1/%ds for %s %s"
                     % (UNIT, ident4, WHEN), log), log
    assert re.search(tag + r"max recipient rate 2/%ds for %s %s"
                     % (UNIT, ident4, WHEN), log), log
    assert re.search(tag + r"max cache size 2 " + WHEN, log), log
    # Nothing new happened: the peaks were forgotten, no lines repeat.
    assert "max newtls rate" not in log and "max auth rate" not in log
    count = log.count("statistics: max connection rate")
    time.sleep(4.5)
    assert srv.log().count("statistics: max connection rate") == count
    for h in held:
        h.close()
    c.close()
