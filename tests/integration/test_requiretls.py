# REQUIRETLS (RFC 8689): smtpd offers it only inside TLS and refuses it on
# plain sessions; the flag travels in the queue file; the smtp client
# sends such mail only over DANE-verified TLS to a server that offers
# REQUIRETLS (aiosmtpd sinks extended to advertise it and to record the
# MAIL FROM parameter), else the recipients bounce with 5.7.30 at once;
# the bounce returns headers only and itself requires TLS; a
# "TLS-Required: No" header lets mail through a DANE failure.
# SPDX-License-Identifier: ISC
import email
import email.policy
import os
import smtplib
import ssl

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, syntax

from conftest import free_port, wait_for
from dnsserver import DNSServer
from queuefile import QueueFile
from test_smtp_client import pick_port
from test_smtpd import Smtpd
from test_tls import tls_settings
from test_tls_client import TlsSink, add_mx, log_text, make_env
from tlscerts import CA, spki_der, tlsa_sha256

pytestmark = pytest.mark.needs("openssl", "dnslib", "aiosmtpd")

# sni/REQUIRETLS tests use 127.0.0.6x.
RT1, RT2, RT3 = "127.0.0.62", "127.0.0.63", "127.0.0.64"


class RtSMTP(SMTP):
    """aiosmtpd server that takes the REQUIRETLS MAIL parameter (aiosmtpd
    answers 555 to parameters it does not know) and notes it."""

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg):
        words = (arg or "").split(" ")
        flagged = [w for w in words[1:] if w.upper() == "REQUIRETLS"]
        self.session.requiretls = bool(flagged)
        if flagged:
            arg = " ".join(w for w in words if w.upper() != "REQUIRETLS")
        await super().smtp_MAIL(arg)


class RtController(Controller):
    def factory(self):
        return RtSMTP(self.handler, **self.SMTP_kwargs)


class RtSink(TlsSink):
    """Records, per message, whether MAIL FROM carried REQUIRETLS;
    advertises REQUIRETLS inside TLS when `offer` is set."""

    def __init__(self, offer=True):
        super().__init__()
        self.offer = offer
        self.requiretls = []

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        responses = await super().handle_EHLO(server, session, envelope,
                                              hostname, responses)
        if self.offer and session.ssl is not None:
            responses.insert(len(responses) - 1, "250-REQUIRETLS")
        return responses

    async def handle_DATA(self, server, session, envelope):
        self.requiretls.append(getattr(session, "requiretls", False))
        return await super().handle_DATA(server, session, envelope)


def start_rt_sink(controllers, host, port, cert=None, offer=True):
    handler = RtSink(offer=offer)
    kw = {}
    if cert is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert[1], cert[0])
        kw["tls_context"] = ctx
    c = RtController(handler, hostname=host, port=port, **kw)
    c.start()
    controllers.append(c)
    return handler


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("rtpki"))
    os.chmod(folder, 0o755)
    ca = CA(folder)
    other = CA(os.path.join(folder, "other"), name="Not the DANE key")
    return {
        "ca": ca,
        "mx": ca.issue("mx1", ["mx1.rt.test"]),
        "other": other.issue("other", ["mx1.rt.test"]),
        "rsa": ca.issue("mx-rsa", ["mx.test", "localhost"]),
        "ecdsa": ca.issue("mx-ec", ["mx.test", "localhost"], kind="ec"),
    }


@pytest.fixture
def dns():
    with DNSServer() as d:
        yield d


def tlsa_ee(cert):
    return (3, 1, 1, tlsa_sha256(spki_der(cert[1])))


def dane_mx(dns, domain, host, ip, port, cert):
    """MX + A, and (AD bit) a DANE-EE record for cert at host:port."""
    add_mx(dns, domain, host, ip)
    dns.add("_%d._tcp.%s" % (port, host), "TLSA", tlsa_ee(cert))
    dns.ad = True


@pytest.fixture
def renv(instance, workdir, dns, pki):
    envs = []

    def make(**main):
        main.setdefault("smtp_tls_security_level", "dane")
        e = make_env(instance, workdir, dns, pki, **main)
        envs.append(e)
        return e
    yield make
    for e in envs:
        e.close()


def send(env, dest, port, rcpt, requiretls=True, body=None):
    qid = env.queue([rcpt], body=body)
    opts = ["-R"] if requiretls else []
    return qid, env.send("%s:%d" % (dest, port), [qid], opts=opts)[qid][rcpt]


# smtp client


def test_requiretls_delivered_over_dane_with_mail_parameter(renv, dns, pki):
    env = renv()
    port = pick_port([RT1])
    sink = start_rt_sink(env.controllers, RT1, port, pki["mx"])
    dane_mx(dns, "rt.test", "mx1.rt.test", RT1, port, pki["mx"])
    _, res = send(env, "rt.test", port, "u@rt.test")
    assert res["action"] == "sent", res
    assert sink.tls == [True]
    assert sink.requiretls == [True]
    # Control: an ordinary message to the same server goes without it.
    _, res = send(env, "rt.test", port, "v@rt.test", requiretls=False)
    assert res["action"] == "sent", res
    assert sink.requiretls == [True, False]


def test_requiretls_server_without_starttls_bounces_5730(renv, dns, pki):
    env = renv()
    port = pick_port([RT1])
    sink = start_rt_sink(env.controllers, RT1, port, cert=None)
    dane_mx(dns, "rt.test", "mx1.rt.test", RT1, port, pki["mx"])
    _, res = send(env, "rt.test", port, "u@rt.test")
    assert res["action"] == "bounced", res
    assert res["dsn"] == "5.7.30"
    assert "REQUIRETLS" in res["reply"], res
    assert sink.messages == []


def test_requiretls_server_without_requiretls_bounces_5730(renv, dns, pki):
    env = renv()
    port = pick_port([RT1])
    sink = start_rt_sink(env.controllers, RT1, port, pki["mx"], offer=False)
    dane_mx(dns, "rt.test", "mx1.rt.test", RT1, port, pki["mx"])
    _, res = send(env, "rt.test", port, "u@rt.test")
    assert res["action"] == "bounced", res
    assert res["dsn"] == "5.7.30"
    assert "does not offer REQUIRETLS" in res["reply"], res
    assert sink.messages == []


def test_requiretls_unverified_tls_bounces_5730(renv, dns, pki):
    # TLS and REQUIRETLS offered, but no DANE (and no MTA-STS): the
    # certificate proves nothing.  Also what a relayhost or [literal]
    # next hop gets.
    env = renv(smtp_tls_security_level="may")
    port = pick_port([RT1])
    sink = start_rt_sink(env.controllers, RT1, port, pki["mx"])
    _, res = send(env, "[%s]" % RT1, port, "u@rt.test")
    assert res["action"] == "bounced", res
    assert res["dsn"] == "5.7.30"
    assert "not verified by DANE or MTA-STS" in res["reply"], res
    assert sink.tls == [] and sink.messages == []


def test_requiretls_second_mx_that_qualifies_gets_it(renv, dns, pki):
    env = renv()
    port = pick_port([RT1, RT2])
    plain = start_rt_sink(env.controllers, RT1, port, cert=None)
    good = start_rt_sink(env.controllers, RT2, port, pki["mx"])
    # mx0 (preferred) has no TLS; mx1 has DANE and REQUIRETLS.
    dns.add("rt.test", "MX", (5, "mx0.rt.test"))
    dns.add("mx0.rt.test", "A", RT1)
    dane_mx(dns, "rt.test", "mx1.rt.test", RT2, port, pki["mx"])
    _, res = send(env, "rt.test", port, "u@rt.test")
    assert res["action"] == "sent", res
    assert plain.messages == [] and good.requiretls == [True]


def test_requiretls_unreachable_server_defers(renv, dns, pki):
    env = renv()
    port = pick_port([RT3])
    dane_mx(dns, "rt.test", "mx1.rt.test", RT3, port, pki["mx"])
    _, res = send(env, "rt.test", port, "u@rt.test")
    assert res["action"] == "deferred", res
    assert res["dsn"].startswith("4."), res


NO_HEADER = ("From: sender@client.test\nTo: u@rt.test\nSubject: t\n"
             "TLS-Required: No\n\nhello\n")


def test_tls_required_no_delivers_through_dane_failure(renv, dns, pki):
    env = renv()
    port = pick_port([RT1])
    # The server's certificate is not the one the TLSA record names.
    sink = start_rt_sink(env.controllers, RT1, port, pki["other"])
    dane_mx(dns, "rt.test", "mx1.rt.test", RT1, port, pki["mx"])
    # Control: without the header the DANE failure defers.
    _, res = send(env, "rt.test", port, "u@rt.test", requiretls=False)
    assert res["action"] == "deferred" and res["dsn"] == "4.7.5", res
    qid, res = send(env, "rt.test", port, "u@rt.test", requiretls=False,
                    body=NO_HEADER)
    assert res["action"] == "sent", res
    # Still over TLS: the header relaxes the policy, not the encryption.
    assert sink.tls == [True]
    assert wait_for(lambda: "%s: TLS-Required: No: delivering to "
                    "mx1.rt.test[%s] despite the DANE policy failure"
                    % (qid, RT1) in log_text(env)), log_text(env)


def test_tls_required_no_delivers_when_starttls_missing(renv, dns, pki):
    env = renv()
    port = pick_port([RT1])
    sink = start_rt_sink(env.controllers, RT1, port, cert=None)
    dane_mx(dns, "rt.test", "mx1.rt.test", RT1, port, pki["mx"])
    _, res = send(env, "rt.test", port, "u@rt.test", requiretls=False)
    assert res["action"] == "deferred" and res["dsn"] == "4.7.4", res
    qid, res = send(env, "rt.test", port, "u@rt.test", requiretls=False,
                    body=NO_HEADER)
    assert res["action"] == "sent", res
    assert sink.tls == [False]
    assert wait_for(lambda: "%s: TLS-Required: No: delivering to" % qid
                    in log_text(env)), log_text(env)


def test_tls_required_no_ignored_for_requiretls(renv, dns, pki):
    env = renv()
    port = pick_port([RT1])
    sink = start_rt_sink(env.controllers, RT1, port, pki["other"])
    dane_mx(dns, "rt.test", "mx1.rt.test", RT1, port, pki["mx"])
    _, res = send(env, "rt.test", port, "u@rt.test", body=NO_HEADER)
    assert res["action"] == "bounced" and res["dsn"] == "5.7.30", res
    assert sink.messages == []


# smtpd


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def tsmtpd(instance, workdir, pki):
    return Smtpd(instance, workdir, main=tls_settings(pki))


def test_smtpd_requiretls_only_inside_tls(tsmtpd, pki):
    s = smtplib.SMTP("localhost", tsmtpd.port, timeout=20)
    code, text = s.ehlo("client.test")
    assert code == 250 and b"REQUIRETLS" not in text
    code, text = s.docmd("MAIL FROM:<a@client.test> REQUIRETLS")
    assert code == 530 and text.startswith(b"5.7.10"), text
    s.starttls(context=client_ctx())
    code, text = s.ehlo("client.test")
    assert code == 250 and b"REQUIRETLS" in text, text
    code, text = s.docmd("MAIL FROM:<a@client.test> REQUIRETLS=YES")
    assert code == 501, text
    code, text = s.docmd("MAIL FROM:<a@client.test> REQUIRETLS")
    assert code == 250, text
    s.rcpt("u@mx.test")
    s.data(b"Subject: secret\r\n\r\nhi\r\n")
    s.quit()
    assert wait_for(lambda: tsmtpd.incoming())
    qf = QueueFile(tsmtpd.incoming()[0])
    assert qf.attrs.get("requiretls") == "yes"


def test_smtpd_requiretls_discarded_keyword(instance, workdir, pki):
    srv = Smtpd(instance, workdir, main=tls_settings(
        pki, smtpd_discard_ehlo_keywords="requiretls"))
    s = smtplib.SMTP("localhost", srv.port, timeout=20)
    s.starttls(context=client_ctx())
    code, text = s.ehlo("client.test")
    assert code == 250 and b"REQUIRETLS" not in text
    code, text = s.docmd("MAIL FROM:<a@client.test> REQUIRETLS")
    assert code == 555, text
    s.quit()


# End to end: smtpd -> qmgr -> smtp -> bounce -> the sender's server


def test_requiretls_end_to_end_bounce_headers_only(instance, workdir, dns,
                                                   pki):
    controllers = []
    try:
        plain_port = pick_port([RT1])
        back_port = pick_port([RT2])
        plain = start_rt_sink(controllers, RT1, plain_port, cert=None)
        back = start_rt_sink(controllers, RT2, back_port, pki["mx"])
        # remote.test: no STARTTLS at all; sender.test: DANE + REQUIRETLS.
        dane_mx(dns, "remote.test", "mx1.rt.test", RT1, plain_port,
                pki["mx"])
        dane_mx(dns, "sender.test", "mx2.rt.test", RT2, back_port,
                pki["mx"])
        transport = os.path.join(workdir, "transport")
        with open(transport, "w") as f:
            f.write("remote.test smtp:remote.test:%d\n"
                    "sender.test smtp:sender.test:%d\n"
                    % (plain_port, back_port))
        port = free_port()
        log = os.path.join(workdir, "maillog")
        main = tls_settings(pki, **{
            "myhostname": "mx.test", "mydestination": "",
            "relay_domains": "remote.test",
            "mynetworks": "127.0.0.0/8",
            "transport_maps": "texthash:" + transport,
            "dns_nameservers": dns.address, "maillog_file": log,
            "smtp_tls_security_level": "dane",
            "smtp_connect_timeout": "5s", "smtp_helo_timeout": "5s",
            "minimal_backoff_time": "300s", "queue_run_delay": "300s"})
        instance.write_config(main=main, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "127.0.0.1:%d inet n - n - 1 smtpd" % port,
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "smtp unix - - n - - smtp",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce"])
        instance.start()
        s = smtplib.SMTP("localhost", port, timeout=20)
        s.starttls(context=client_ctx())
        s.ehlo("client.test")
        code, text = s.docmd("MAIL FROM:<alice@sender.test> REQUIRETLS")
        assert code == 250, text
        s.rcpt("bob@remote.test")
        s.data(b"Subject: secret\r\nFrom: alice@sender.test\r\n\r\n"
               b"the secret body\r\n")
        s.quit()
        # The bounce comes back at once (no retry), over REQUIRETLS.
        assert wait_for(lambda: back.messages, timeout=30), \
            open(log).read() if os.path.exists(log) else ""
        assert plain.messages == []
        mail_from, rcpts, content = back.messages[0]
        assert mail_from in ("", "<>") and rcpts == ["alice@sender.test"]
        assert back.requiretls == [True]
        dsn = email.message_from_bytes(content, policy=email.policy.compat32)
        parts = dsn.get_payload()
        assert [p.get_content_type() for p in parts] == [
            "text/plain", "message/delivery-status",
            "text/rfc822-headers"], [p.get_content_type() for p in parts]
        assert b"the secret body" not in content
        assert b"Subject: secret" in content
        text = open(log).read()
        assert "dsn=5.7.30, status=bounced" in text, text
        assert "status=deferred" not in text
    finally:
        for c in controllers:
            c.stop()


def test_requiretls_lmtp_is_final_delivery(instance, workdir, dns):
    # LMTP hands the message to its mailbox: no relay, no 5.7.30.
    import asyncio
    import threading
    from aiosmtpd.lmtp import LMTP
    from test_smtp_client import Env

    seen = []

    class Handler:
        async def handle_DATA(self, srv, session, envelope):
            seen.append(list(envelope.rcpt_tos))
            return "\r\n".join("250 2.0.0 <%s> ok" % r
                               for r in envelope.rcpt_tos)

    port = free_port()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(
        lambda: LMTP(Handler()), "127.0.0.1", port))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    env = Env(instance, workdir, dns,
              services=["lmtp unix - - n - - smtp"])
    try:
        qid = env.queue(["u@lmtp.test"])
        res = env.send("inet:127.0.0.1:%d" % port, [qid],
                       opts=["-R", "-T", "lmtp"],
                       service="lmtp")[qid]["u@lmtp.test"]
        assert res["action"] == "sent", res
        assert seen == [["u@lmtp.test"]]
    finally:
        env.close()
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
