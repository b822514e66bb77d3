# The LMTP client reads lmtp_X where the SMTP client reads smtp_X
# (Postfix's rule): checked mechanically over the smtp/ sources and the
# parameter table, then by behaviour against an aiosmtpd LMTP server on
# 127.0.0.1 (the LHLO name, SASL AUTH with lmtp_sasl_* while the smtp_sasl_*
# settings say otherwise).  STARTTLS into Dovecot's LMTP is in
# test_lmtp_dovecot.py.
#
# SPDX-License-Identifier: ISC
import asyncio
import os
import re
import smtplib
import threading

import pytest

from conftest import REPO, free_port, run_cmd, wait_for, wait_smtp

SMTP_DIR = os.path.join(REPO, "smtp")
# smtp_X names with no LMTP twin, read only when the service is not lmtp.
SMTP_ONLY = {"smtp_never_send_ehlo", "smtp_always_send_ehlo",
             "smtp_tls_wrappermode",
             # TLS-RPT reports on SMTP to MX hosts, never on LMTP.
             "smtp_tls_report_enable",
             # MTA-STS protects MX delivery: LMTP never applies it.
             "smtp_mta_sts_enable", "smtp_mta_sts_fetch_timeout"}
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def twins():
    with open(os.path.join(SMTP_DIR, "smtp_param.c")) as f:
        text = f.read()
    return dict(re.findall(r'\{\s*"(smtp_\w+)",\s*"(lmtp_\w+)"\s*\}', text))


def defaults():
    r = run_cmd(["postelconf", "-d"])
    assert r.returncode == 0, r.stderr
    return dict(line.split(" = ", 1) if " = " in line
                else (line.rstrip(" ="), "")
                for line in r.stdout.splitlines())


def test_lmtp_every_smtp_parameter_read_goes_through_its_twin():
    table = twins()
    seen = set()
    for name in sorted(os.listdir(SMTP_DIR)):
        if not name.endswith(".c") or name == "smtp_param.c":
            continue
        with open(os.path.join(SMTP_DIR, name)) as f:
            text = COMMENT.sub(" ", f.read())
        for m in re.finditer(r'"(smtp_[A-Za-z0-9_]+)"', text):
            param = m.group(1)
            before = text[max(0, m.start() - 40):m.start()]
            mapped = re.search(r'(\bP|\bsmtp_param|\bsmtp_conf_time)\s*\('
                               r'[^()"]*$', before)
            if mapped:
                assert param in table, \
                    "%s: %s is read through smtp_param but has no twin" \
                    % (name, param)
                seen.add(param)
            else:
                assert param in SMTP_ONLY, \
                    "%s: %s is read without smtp_param: LMTP would read " \
                    "the SMTP value" % (name, param)
    # Every twin is in use, and every SMTP-only name really is SMTP's.
    assert seen == set(table), set(table) ^ seen


def test_lmtp_twins_are_declared_with_postfix_defaults():
    table = twins()
    d = defaults()
    assert table["smtp_helo_name"] == "lmtp_lhlo_name"
    assert table["smtp_helo_timeout"] == "lmtp_lhlo_timeout"
    for smtp, lmtp in table.items():
        assert smtp in d and lmtp in d, (smtp, lmtp)
        if lmtp == "lmtp_connect_timeout":
            # Postfix: LMTP connects without a time limit.
            assert d[lmtp] == "0s"
        else:
            assert d[lmtp] == d[smtp].replace("$smtp_", "$lmtp_"), \
                (lmtp, d[lmtp], d[smtp])


class LmtpServer:
    """aiosmtpd LMTP on 127.0.0.1:port; records (LHLO name, login, rcpts);
    with users, AUTH PLAIN/LOGIN over plain text."""

    def __init__(self, port, users=None):
        from aiosmtpd.lmtp import LMTP
        from aiosmtpd.smtp import AuthResult
        self.seen = []
        server = self

        class Handler:
            async def handle_DATA(self, srv, session, envelope):
                login = session.auth_data.login if session.authenticated \
                    else None
                server.seen.append((session.host_name, login,
                                    list(envelope.rcpt_tos)))
                return "\r\n".join("250 2.0.0 <%s> ok" % r
                                   for r in envelope.rcpt_tos)

        def authenticator(srv, session, envelope, mechanism, data):
            ok = users is not None and \
                users.get(data.login.decode()) == data.password.decode()
            return AuthResult(success=ok, handled=False, auth_data=data)

        kwargs = {}
        if users is not None:
            kwargs = {"authenticator": authenticator,
                      "auth_require_tls": False}
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(self.loop.create_server(
            lambda: LMTP(Handler(), **kwargs), "127.0.0.1", port))
        self.thread = threading.Thread(target=self.loop.run_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def start(instance, lmtp_port, main):
    port = free_port()
    settings = {
        "myhostname": "mx.test.invalid", "mydestination": "",
        "relay_domains": "lmtp.test",
        "transport_maps": "inline:{ lmtp.test=lmtp:inet:127.0.0.1:%d }"
        % lmtp_port,
        "minimal_backoff_time": "300s", "queue_run_delay": "300s"}
    settings.update(main)
    instance.write_config(main=settings, services=[
        "127.0.0.1:%d inet n - y - - smtpd" % port,
        "qmgr unix n - n 300 1 qmgr",
        "cleanup unix n - n - 0 cleanup",
        "lmtp unix - - n - 1 smtp",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
    ])
    instance.start(foreground=True)
    wait_smtp(instance, port)
    return port


BODY = b"From: a@example.org\r\nSubject: twin\r\n\r\nhello\r\n"


@pytest.mark.needs("aiosmtpd")
def test_lmtp_lhlo_name_is_lmtp_lhlo_name(instance):
    lmtp_port = free_port()
    srv = LmtpServer(lmtp_port)
    try:
        port = start(instance, lmtp_port, {
            "smtp_helo_name": "smtp-name.invalid",
            "lmtp_lhlo_name": "lhlo-name.invalid"})
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("s@example.org", ["u@lmtp.test"], BODY)
        rx = re.compile(r"to=<u@lmtp\.test>.*status=sent")
        assert wait_for(lambda: rx.search(instance.read_log()), 20), \
            instance.read_log()
        assert srv.seen == [("lhlo-name.invalid", None, ["u@lmtp.test"])]
    finally:
        srv.stop()


@pytest.mark.needs("aiosmtpd", "sasl_mechs")
def test_lmtp_sasl_auth_with_lmtp_sasl_parameters(instance):
    # smtp_sasl_* would not authenticate at all (disabled, no plain text);
    # the lmtp_sasl_* twins log in with PLAIN over the local connection.
    lmtp_port = free_port()
    srv = LmtpServer(lmtp_port, users={"deliver": "s3cret"})
    try:
        port = start(instance, lmtp_port, {
            "smtp_sasl_auth_enable": "no",
            "lmtp_sasl_auth_enable": "yes",
            "lmtp_sasl_password_maps":
                "inline:{ [127.0.0.1]:%d=deliver:s3cret }" % lmtp_port,
            "lmtp_sasl_security_options": "noanonymous"})
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("s@example.org", ["v@lmtp.test"], BODY)
        rx = re.compile(r"to=<v@lmtp\.test>.*status=sent")
        assert wait_for(lambda: rx.search(instance.read_log()), 20), \
            instance.read_log()
        assert srv.seen == [("mx.test.invalid", b"deliver",
                             ["v@lmtp.test"])]
    finally:
        srv.stop()


@pytest.mark.needs("aiosmtpd", "sasl_mechs")
def test_lmtp_sasl_wrong_password_defers(instance):
    lmtp_port = free_port()
    srv = LmtpServer(lmtp_port, users={"deliver": "s3cret"})
    try:
        port = start(instance, lmtp_port, {
            "lmtp_sasl_auth_enable": "yes",
            "lmtp_sasl_password_maps":
                "inline:{ [127.0.0.1]:%d=deliver:wrong }" % lmtp_port,
            "lmtp_sasl_security_options": "noanonymous"})
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("s@example.org", ["w@lmtp.test"], BODY)
        rx = re.compile(r"to=<w@lmtp\.test>.*status=deferred.*"
                        r"SASL authentication failed")
        assert wait_for(lambda: rx.search(instance.read_log()), 20), \
            instance.read_log()
        assert srv.seen == []
    finally:
        srv.stop()
